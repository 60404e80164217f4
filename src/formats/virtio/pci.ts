// Virtio over PCI, modern interface (VIRTIO 1.3 section 4.1 "Virtio Over PCI Bus"): the ids
// that identify a virtio function, the vendor-specific capabilities that locate the virtio
// structures in the BARs, and the layout of those structures.

/** 4.1.2 "PCI Device Discovery": every virtio function has vendor 0x1AF4. */
export const VIRTIO_PCI_VENDOR = 0x1af4;
/** Modern device ids are 0x1040 + the virtio device id, up to 0x107f. */
export const VIRTIO_PCI_MODERN_BASE = 0x1040;
export const VIRTIO_PCI_MODERN_LAST = 0x107f;
/** Transitional (legacy-capable) device ids, 0x1000..0x103f. */
export const VIRTIO_PCI_TRANSITIONAL_FIRST = 0x1000;
export const VIRTIO_PCI_TRANSITIONAL_LAST = 0x103f;

/** The PCI Device ID of a modern virtio function for virtio device `deviceId`. */
export function virtioPciDeviceId(deviceId: number): number {
  return VIRTIO_PCI_MODERN_BASE + deviceId;
}

/** The virtio device id of a modern PCI Device ID, or null outside 0x1040..0x107f. */
export function virtioIdOfPciDevice(pciDevice: number): number | null {
  return pciDevice >= VIRTIO_PCI_MODERN_BASE && pciDevice <= VIRTIO_PCI_MODERN_LAST ? pciDevice - VIRTIO_PCI_MODERN_BASE : null;
}

/** cap_vndr of every virtio structure capability: a vendor-specific capability. */
export const PCI_CAP_ID_VNDR = 0x09;

/** cfg_type (4.1.4 "Virtio Structure PCI Capabilities"). */
export const VirtioPciCapType = {
  COMMON_CFG: 1,
  NOTIFY_CFG: 2,
  ISR_CFG: 3,
  DEVICE_CFG: 4,
  PCI_CFG: 5,
  SHARED_MEMORY_CFG: 8,
  VENDOR_CFG: 9,
} as const;

/** struct virtio_pci_cap: byte offsets from the capability's start. */
export const VirtioPciCap = {
  CAP_VNDR: 0,
  CAP_NEXT: 1,
  CAP_LEN: 2,
  CFG_TYPE: 3,
  BAR: 4,
  ID: 5,
  OFFSET: 8,
  LENGTH: 12,
} as const;
export const VIRTIO_PCI_CAP_SIZE = 16;
/** struct virtio_pci_notify_cap adds le32 notify_off_multiplier. */
export const NOTIFY_OFF_MULTIPLIER = 16;
export const VIRTIO_PCI_NOTIFY_CAP_SIZE = 20;
/** struct virtio_pci_cfg_cap adds u8 pci_cfg_data[4]. */
export const PCI_CFG_DATA = 16;
export const VIRTIO_PCI_CFG_CAP_SIZE = 20;

/** struct virtio_pci_common_cfg (4.1.4.3): field offsets in the common configuration structure. */
export const CommonCfg = {
  DEVICE_FEATURE_SELECT: 0x00,
  DEVICE_FEATURE: 0x04,
  DRIVER_FEATURE_SELECT: 0x08,
  DRIVER_FEATURE: 0x0c,
  CONFIG_MSIX_VECTOR: 0x10,
  NUM_QUEUES: 0x12,
  DEVICE_STATUS: 0x14,
  CONFIG_GENERATION: 0x15,
  QUEUE_SELECT: 0x16,
  QUEUE_SIZE: 0x18,
  QUEUE_MSIX_VECTOR: 0x1a,
  QUEUE_ENABLE: 0x1c,
  QUEUE_NOTIFY_OFF: 0x1e,
  QUEUE_DESC: 0x20,
  QUEUE_DRIVER: 0x28,
  QUEUE_DEVICE: 0x30,
  QUEUE_NOTIF_CONFIG_DATA: 0x38,
  QUEUE_RESET: 0x3a,
  ADMIN_QUEUE_INDEX: 0x3c,
  ADMIN_QUEUE_NUM: 0x3e,
} as const;
export const COMMON_CFG_SIZE = 0x40;

/** Each common-configuration field with its width in bytes, in offset order. */
export const COMMON_CFG_FIELDS: readonly { readonly name: keyof typeof CommonCfg; readonly offset: number; readonly size: 1 | 2 | 4 | 8 }[] = [
  { name: 'DEVICE_FEATURE_SELECT', offset: CommonCfg.DEVICE_FEATURE_SELECT, size: 4 },
  { name: 'DEVICE_FEATURE', offset: CommonCfg.DEVICE_FEATURE, size: 4 },
  { name: 'DRIVER_FEATURE_SELECT', offset: CommonCfg.DRIVER_FEATURE_SELECT, size: 4 },
  { name: 'DRIVER_FEATURE', offset: CommonCfg.DRIVER_FEATURE, size: 4 },
  { name: 'CONFIG_MSIX_VECTOR', offset: CommonCfg.CONFIG_MSIX_VECTOR, size: 2 },
  { name: 'NUM_QUEUES', offset: CommonCfg.NUM_QUEUES, size: 2 },
  { name: 'DEVICE_STATUS', offset: CommonCfg.DEVICE_STATUS, size: 1 },
  { name: 'CONFIG_GENERATION', offset: CommonCfg.CONFIG_GENERATION, size: 1 },
  { name: 'QUEUE_SELECT', offset: CommonCfg.QUEUE_SELECT, size: 2 },
  { name: 'QUEUE_SIZE', offset: CommonCfg.QUEUE_SIZE, size: 2 },
  { name: 'QUEUE_MSIX_VECTOR', offset: CommonCfg.QUEUE_MSIX_VECTOR, size: 2 },
  { name: 'QUEUE_ENABLE', offset: CommonCfg.QUEUE_ENABLE, size: 2 },
  { name: 'QUEUE_NOTIFY_OFF', offset: CommonCfg.QUEUE_NOTIFY_OFF, size: 2 },
  { name: 'QUEUE_DESC', offset: CommonCfg.QUEUE_DESC, size: 8 },
  { name: 'QUEUE_DRIVER', offset: CommonCfg.QUEUE_DRIVER, size: 8 },
  { name: 'QUEUE_DEVICE', offset: CommonCfg.QUEUE_DEVICE, size: 8 },
  { name: 'QUEUE_NOTIF_CONFIG_DATA', offset: CommonCfg.QUEUE_NOTIF_CONFIG_DATA, size: 2 },
  { name: 'QUEUE_RESET', offset: CommonCfg.QUEUE_RESET, size: 2 },
  { name: 'ADMIN_QUEUE_INDEX', offset: CommonCfg.ADMIN_QUEUE_INDEX, size: 2 },
  { name: 'ADMIN_QUEUE_NUM', offset: CommonCfg.ADMIN_QUEUE_NUM, size: 2 },
];

/** ISR status bits (4.1.4.5 "ISR status capability"); reading the ISR byte clears it. */
export const VirtioPciIsr = {
  QUEUE: 1,
  CONFIG: 2,
} as const;

/** config_msix_vector / queue_msix_vector value meaning "no vector" (4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;
/** Largest MSI-X table entry number the vector fields can name. */
export const VIRTIO_MSI_MAX_VECTOR = 0x7ff;
