// Virtio device types (VIRTIO 1.3 chapter 5 "Device Types", the Device ID table). Device ID 0
// is reserved (a virtio-mmio placeholder slot with no device behind it).

export const VirtioDeviceId = {
  NET: 1,
  BLOCK: 2,
  CONSOLE: 3,
  ENTROPY: 4,
  BALLOON_TRADITIONAL: 5,
  IO_MEMORY: 6,
  RPMSG: 7,
  SCSI: 8,
  P9: 9,
  MAC80211_WLAN: 10,
  RPROC_SERIAL: 11,
  CAIF: 12,
  BALLOON: 13,
  GPU: 16,
  RTC: 17,
  INPUT: 18,
  SOCKET: 19,
  CRYPTO: 20,
  SIGNAL_DISTRIBUTION: 21,
  PSTORE: 22,
  IOMMU: 23,
  MEMORY: 24,
  SOUND: 25,
  FILE_SYSTEM: 26,
  PMEM: 27,
  RPMB: 28,
  MAC80211_HWSIM: 29,
  VIDEO_ENCODER: 30,
  VIDEO_DECODER: 31,
  SCMI: 32,
  NITRO_SECURE_MODULE: 33,
  I2C: 34,
  WATCHDOG: 35,
  CAN: 36,
  PARAMETER_SERVER: 38,
  AUDIO_POLICY: 39,
  BLUETOOTH: 40,
  GPIO: 41,
  RDMA: 42,
  CAMERA: 43,
  ISM: 44,
  SPI: 45,
  TEE: 46,
  CPU_BALLOON: 47,
  MEDIA: 48,
  USB: 49,
} as const;

const NAMES = new Map<number, string>(Object.entries(VirtioDeviceId).map(([name, id]) => [id, name.toLowerCase().replace(/_/g, '-')]));

/** "iommu" for 23; "device type N" for ids the table does not name. */
export function virtioDeviceName(id: number): string {
  return NAMES.get(id) ?? `device type ${id}`;
}
