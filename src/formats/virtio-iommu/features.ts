// virtio-iommu identity and feature bits (VIRTIO 1.2/1.3 section 5.13 "IOMMU Device":
// 5.13.1 Device ID, 5.13.2 Virtqueues, 5.13.3 Feature bits).

/** Virtio device id of the IOMMU device (5.13.1). */
export const VIRTIO_IOMMU_DEVICE_ID = 23;

/** Virtqueue numbers (5.13.2). */
export const VirtioIommuQueue = {
  Request: 0,
  Event: 1,
} as const;

/** Device-specific feature bit numbers (5.13.3). */
export const VirtioIommuFeature = {
  /** `input_range` describes the IOVA range the device translates. */
  InputRange: 0,
  /** `domain_range` describes the domain ids the device supports. */
  DomainRange: 1,
  /** MAP and UNMAP requests are available. */
  MapUnmap: 2,
  /** Legacy: endpoints not attached to a domain bypass translation (superseded by BypassConfig). */
  Bypass: 3,
  /** The PROBE request is available. */
  Probe: 4,
  /** The MAP flag MMIO is available. */
  Mmio: 5,
  /** `bypass` in the configuration space selects bypass for unattached endpoints; ATTACH may create bypass domains. */
  BypassConfig: 6,
} as const;
export type VirtioIommuFeatureBit = (typeof VirtioIommuFeature)[keyof typeof VirtioIommuFeature];

export const VIRTIO_IOMMU_FEATURE_NAMES: Readonly<Record<number, string>> = {
  0: 'INPUT_RANGE',
  1: 'DOMAIN_RANGE',
  2: 'MAP_UNMAP',
  3: 'BYPASS',
  4: 'PROBE',
  5: 'MMIO',
  6: 'BYPASS_CONFIG',
};

/** The feature mask with the given bits set. */
export function featureMask(...featureBits: readonly number[]): bigint {
  let mask = 0n;
  for (const bit of featureBits) mask |= 1n << BigInt(bit);
  return mask;
}

/** Every feature bit this specification version defines for the IOMMU device. */
export const VIRTIO_IOMMU_KNOWN_FEATURES = featureMask(0, 1, 2, 3, 4, 5, 6);

/** Names of the IOMMU feature bits set in `features` (other bits are ignored), for logs and reports. */
export function describeVirtioIommuFeatures(features: bigint): string[] {
  const names: string[] = [];
  for (let bit = 0; bit <= 6; bit++) if (((features >> BigInt(bit)) & 1n) === 1n) names.push(VIRTIO_IOMMU_FEATURE_NAMES[bit]);
  return names;
}
