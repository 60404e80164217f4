// Mistakes of whoever sets a host backend up (a guest memory table that overlaps itself, an
// endpoint with no host device, a host device no IOMMU translates). The backend's request
// path never throws: it answers with a result code the device turns into a status.

export class HostBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostBackendError';
  }
}
