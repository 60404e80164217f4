// A host and a guest on one simulated machine: the host a Machine with a physical IOMMU, the
// guest a second kernel with a virtio-iommu whose requests a VFIO-style host backend mirrors
// onto the physical IOMMU (or, without the backend, translates itself).

export { VirtualMachinePair, type VirtualMachinePairOptions, type VmVirtioIommuOptions, type AssignedDevice, type Translator } from './vm-pair.js';
export { HostMachine } from './host-machine.js';
export { EndpointIdPort } from './endpoint-id-port.js';
export { describeGuest, checkMemoryLayout, type GuestDescription, type GuestAssignment, type GuestPlic, type GuestVirtioIommu } from './guest-tree.js';
export { builtinVirtualMachinePair, loadBuiltinPair, isBuiltinPairGuest, BUILTIN_PAIR, BUILTIN_GUEST_COMPATIBLE } from './builtin.js';
export { VmError } from './errors.js';
