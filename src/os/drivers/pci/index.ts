export { pciHostEcamDriver, PciHostBridge, pciHostOf, pciConfigOf, pciName, PCI_HOST_ECAM_COMPATIBLE, type PciFunctionConfig } from './host-ecam.js';
export { PciConfigAccess, PCI, PCI_COMMAND, PCI_BASE_ADDRESS, PCI_CAP_ID_EXP, PCI_EXT_CAP_ID_ATS } from './config.js';
export { hostWindows, pciToCpu, type PciHostWindow } from './ranges.js';
