// The device configuration space of the IOMMU device (VIRTIO 1.2/1.3 section 5.13.4 "Device
// configuration layout"): little-endian fields, 40 bytes.
//
//   le64 page_size_mask; le64 input_range.start; le64 input_range.end;
//   le32 domain_range.start; le32 domain_range.end; le32 probe_size; u8 bypass; u8 reserved[3]

/** Byte offsets of the configuration fields. */
export const VirtioIommuConfigOffset = {
  pageSizeMask: 0,
  inputRangeStart: 8,
  inputRangeEnd: 16,
  domainRangeStart: 24,
  domainRangeEnd: 28,
  probeSize: 32,
  bypass: 36,
  reserved: 37,
} as const;

export const VIRTIO_IOMMU_CONFIG_SIZE = 40;

export interface VirtioIommuConfig {
  /** Page sizes the device can map; the lowest set bit is the granule. */
  pageSizeMask: bigint;
  /** Inclusive IOVA range the device translates (meaningful with INPUT_RANGE). */
  inputRange: { start: bigint; end: bigint };
  /** Inclusive range of domain ids (meaningful with DOMAIN_RANGE). */
  domainRange: { start: number; end: number };
  /** Size of the properties buffer of a PROBE request (meaningful with PROBE). */
  probeSize: number;
  /** 1: endpoints not attached to a domain bypass translation (meaningful with BYPASS_CONFIG). */
  bypass: number;
}

/** The configuration space image of `config`. */
export function encodeConfig(config: VirtioIommuConfig): Uint8Array {
  const bytes = new Uint8Array(VIRTIO_IOMMU_CONFIG_SIZE);
  const view = new DataView(bytes.buffer);
  const o = VirtioIommuConfigOffset;
  view.setBigUint64(o.pageSizeMask, config.pageSizeMask, true);
  view.setBigUint64(o.inputRangeStart, config.inputRange.start, true);
  view.setBigUint64(o.inputRangeEnd, config.inputRange.end, true);
  view.setUint32(o.domainRangeStart, config.domainRange.start, true);
  view.setUint32(o.domainRangeEnd, config.domainRange.end, true);
  view.setUint32(o.probeSize, config.probeSize, true);
  view.setUint8(o.bypass, config.bypass);
  return bytes;
}

/** The fields of a configuration space image (at least VIRTIO_IOMMU_CONFIG_SIZE bytes). */
export function decodeConfig(bytes: Uint8Array): VirtioIommuConfig {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = VirtioIommuConfigOffset;
  return {
    pageSizeMask: view.getBigUint64(o.pageSizeMask, true),
    inputRange: { start: view.getBigUint64(o.inputRangeStart, true), end: view.getBigUint64(o.inputRangeEnd, true) },
    domainRange: { start: view.getUint32(o.domainRangeStart, true), end: view.getUint32(o.domainRangeEnd, true) },
    probeSize: view.getUint32(o.probeSize, true),
    bypass: view.getUint8(o.bypass),
  };
}

/** The page granule a page_size_mask describes: its least significant set bit (0n if none). */
export function pageGranule(pageSizeMask: bigint): bigint {
  return pageSizeMask & -pageSizeMask;
}
