// Errors the virtio-iommu driver raises where no status can carry them: a request queue the
// device stops answering or breaks, and batched requests that failed, found at a sync point.

export class VirtioIommuError extends Error {}
