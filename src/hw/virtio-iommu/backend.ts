// The host side of a virtio-iommu device: the way a VMM mirrors the guest's requests onto a
// real IOMMU (QEMU's virtio-iommu notifies VFIO, which maps guest DMA into the host kernel's
// unmanaged domain of the assigned device). The device calls the backend while it processes
// a request, before it writes the status, so that a mapping is live in the host when the
// guest sees OK, and gone when the guest sees an UNMAP or DETACH complete.
//
// Contract:
//  - attach(endpoint, domain, bypass) comes before any map of a domain the backend has not
//    seen; a bypass domain never gets mappings.
//  - When the last endpoint of a domain leaves (DETACH, ATTACH elsewhere, device reset), the
//    domain ceases to exist (5.13.6.4): the device first unmaps each of its remaining
//    mappings, then detaches the endpoint, so the backend sees an empty domain go.
//  - Addresses and sizes are bytes; `size` is a multiple of the granule. `flags` are the MAP
//    flags (MapFlag: READ, WRITE, MMIO).

/** A backend's answer; the device turns failures into the request's status. */
export type VirtioIommuBackendResult =
  | 'ok'
  /** Out of resources: status NOMEM. */
  | 'nomem'
  /** The host cannot do this (two endpoints it cannot put in one domain, say): status UNSUPP. */
  | 'unsupported'
  /** Anything else: status DEVERR. */
  | 'failed';

export interface VirtioIommuBackend {
  attach(endpoint: number, domain: number, bypass: boolean): VirtioIommuBackendResult;
  detach(endpoint: number, domain: number): VirtioIommuBackendResult;
  map(domain: number, iova: bigint, physical: bigint, size: bigint, flags: number): VirtioIommuBackendResult;
  unmap(domain: number, iova: bigint, size: bigint): VirtioIommuBackendResult;
}
