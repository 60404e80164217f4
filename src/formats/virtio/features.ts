// Feature bits (VIRTIO 1.3 section 2.2 "Feature Bits" and chapter 6 "Reserved Feature Bits").
// Bits 0-23, 41, 42 and 50-127 belong to the device type; 24-40 and 43 extend the queue and
// negotiation mechanisms (the transport implements them); 44-49 and 128 up are reserved.
// Feature words cross the register interfaces as 32-bit halves selected by a select register.

/** Device-independent feature bit numbers. */
export const VirtioFeature = {
  /** Legacy only: notify when the available ring runs empty. */
  NOTIFY_ON_EMPTY: 24,
  /** Legacy only: any descriptor layout. */
  ANY_LAYOUT: 27,
  INDIRECT_DESC: 28,
  EVENT_IDX: 29,
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  RING_PACKED: 34,
  IN_ORDER: 35,
  ORDER_PLATFORM: 36,
  SR_IOV: 37,
  NOTIFICATION_DATA: 38,
  NOTIF_CONFIG_DATA: 39,
  RING_RESET: 40,
  ADMIN_VQ: 41,
  SUSPEND: 43,
} as const;

/** The mask of feature bit `bit`. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** Whether `features` has bit `bit` set. */
export function hasFeature(features: bigint, bit: number): boolean {
  return ((features >> BigInt(bit)) & 1n) === 1n;
}

/** Bits 0-23, 41, 42 and 50-127: those a device type defines. */
export const DEVICE_TYPE_FEATURES: bigint = ((1n << 24n) - 1n) | featureBit(41) | featureBit(42) | (((1n << 78n) - 1n) << 50n);

/** Bits 24-40 and 43: extensions of the queue and feature negotiation mechanisms. */
export const TRANSPORT_FEATURES: bigint = (((1n << 17n) - 1n) << 24n) | featureBit(43);

/** The 32-bit word `select` (0: bits 0-31, 1: bits 32-63, ...) of a feature set. */
export function featureWord(features: bigint, select: number): number {
  if (select < 0 || select > 3) return 0; // no feature bit is defined above 127
  return Number((features >> BigInt(32 * select)) & 0xffff_ffffn);
}

/** `features` with word `select` replaced by `value`. */
export function withFeatureWord(features: bigint, select: number, value: number): bigint {
  const shift = BigInt(32 * select);
  return (features & ~(0xffff_ffffn << shift)) | (BigInt(value >>> 0) << shift);
}

/** Names of the device-independent bits in `features`, and the numbers of the others. */
export function describeFeatures(features: bigint): string {
  const names = new Map<number, string>(Object.entries(VirtioFeature).map(([name, bit]) => [bit, name]));
  const out: string[] = [];
  for (let bit = 0; bit < 128; bit++) if (hasFeature(features, bit)) out.push(names.get(bit) ?? String(bit));
  return out.length === 0 ? 'none' : out.join(' ');
}
