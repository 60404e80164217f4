// The Renesas IPMMU-VMSA: register layout and device-tree binding, shared by the hardware model
// (src/hw/ipmmu-vmsa) and the Xen-style hypervisor's driver (src/hyp/xen/ipmmu-vmsa). Its
// translation tables are VMSAv8-64 (src/formats/arm-lpae).

export * from './registers.js';
export * from './bindings.js';
