// The KVM-style side of a host that runs guests: a VMM's host backend for a guest's
// virtio-iommu (VFIO-style mirroring of the guest's domains and mappings onto the physical
// IOMMU), and the VMM's table of guest RAM.

export { HostIommuBackend, type HostBackendResult, type HostBypassPolicy, type HostIommuBackendOptions, type HostIommuBackendStatistics, type HostIommuGeometry } from './virtio-iommu-backend.js';
export { GuestMemoryMap, type GuestMemoryRegion } from './guest-memory.js';
export { HostBackendError } from './errors.js';
