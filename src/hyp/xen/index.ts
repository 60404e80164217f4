// A Xen-style hypervisor: domains with their P2M (shared as is with the IOMMU), the IOMMU
// framework (drivers, device-tree devices, assignment, quarantine) and the IPMMU-VMSA driver.

export { Xen, type XenOptions, type XenStatistics, type XenDomainReport } from './xen.js';
export { XenDomain, DOMID_IO, GUEST_RAM0_BASE, type DomainConfig, type DomainKind, type DomainState, type RamExtent, type DomainCounters } from './domain/domain.js';
export { P2m, P2mType, type P2mTypeValue, type P2mEntry, type P2mCounters } from './domain/p2m.js';
export { GuestMemory } from './domain/guest-memory.js';
export { XenIommu, type AddDeviceResult, type XenIommuCounters } from './iommu/framework.js';
export { DtDevice, type IommuFwspec, type XenIommuOps, type XenIommuDriver, type XenIommuDriverInstance, type XenProbeResult, type XenIommuFault, type XenIommuInstanceReport } from './iommu/types.js';
export { ipmmuVmsaXenDriver, IPMMU_MAX_P2M_IPA_BITS } from './ipmmu-vmsa/driver.js';
export { XenError, GuestMemoryFault } from './errors.js';
