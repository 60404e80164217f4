// The device status field (VIRTIO 1.3 section 2.1 "Device Status Field"): one byte that the
// driver sets bit by bit as it initialises the device (section 3.1), and that the device
// clears on reset and extends with DEVICE_NEEDS_RESET when it fails.

export const DeviceStatus = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  /** Only with VIRTIO_F_SUSPEND. */
  SUSPEND: 16,
  /** Set by the device: it needs a reset to recover from an error. */
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

const NAMES: readonly [number, string][] = [
  [DeviceStatus.ACKNOWLEDGE, 'ACKNOWLEDGE'],
  [DeviceStatus.DRIVER, 'DRIVER'],
  [DeviceStatus.FEATURES_OK, 'FEATURES_OK'],
  [DeviceStatus.DRIVER_OK, 'DRIVER_OK'],
  [DeviceStatus.SUSPEND, 'SUSPEND'],
  [DeviceStatus.DEVICE_NEEDS_RESET, 'DEVICE_NEEDS_RESET'],
  [DeviceStatus.FAILED, 'FAILED'],
];

/** "ACKNOWLEDGE|DRIVER|FEATURES_OK", in the order a driver sets them; "0" for a reset device. */
export function describeStatus(status: number): string {
  const names = NAMES.filter(([bit]) => (status & bit) !== 0).map(([, name]) => name);
  const unknown = status & ~NAMES.reduce((m, [bit]) => m | bit, 0) & 0xff;
  if (unknown !== 0) names.push(`0x${unknown.toString(16)}`);
  return names.length === 0 ? '0' : names.join('|');
}
