// The virtio-mmio register layout, version 2 (VIRTIO 1.3 section 4.2.2 "MMIO Device Register
// Layout"). Control registers are 32 bits wide, little-endian, accessed with aligned 32-bit
// accesses; the device-specific configuration space starts at 0x100.

export const VirtioMmio = {
  /** R: 0x74726976, "virt" in little-endian. */
  MAGIC_VALUE: 0x000,
  /** R: 2 (1 was the legacy interface). */
  VERSION: 0x004,
  /** R: the virtio device id (0: placeholder, no device). */
  DEVICE_ID: 0x008,
  VENDOR_ID: 0x00c,
  /** R: feature bits 32*DeviceFeaturesSel .. +31. */
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  /** W: feature bits 32*DriverFeaturesSel .. +31 accepted by the driver. */
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  /** W: the queue the Queue* registers apply to. */
  QUEUE_SEL: 0x030,
  /** R: QueueSizeMax (formerly QueueNumMax): 0 when the queue does not exist. */
  QUEUE_SIZE_MAX: 0x034,
  /** W: QueueSize (formerly QueueNum). */
  QUEUE_SIZE: 0x038,
  /** RW: 1 lets the device use the queue; write 0 to stop. */
  QUEUE_READY: 0x044,
  /** W: available buffer notification (the queue index). */
  QUEUE_NOTIFY: 0x050,
  /** R: pending notifications (InterruptBits). */
  INTERRUPT_STATUS: 0x060,
  /** W: clears InterruptStatus bits. */
  INTERRUPT_ACK: 0x064,
  /** RW: the device status (writing 0 resets the device). */
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
  /** W: shared memory region selector. */
  SHM_SEL: 0x0ac,
  /** R: length of the selected region (all ones: no such region). */
  SHM_LEN_LOW: 0x0b0,
  SHM_LEN_HIGH: 0x0b4,
  /** R: base of the selected region (all ones: no such region). */
  SHM_BASE_LOW: 0x0b8,
  SHM_BASE_HIGH: 0x0bc,
  /** RW: 1 resets the selected queue (VIRTIO_F_RING_RESET). */
  QUEUE_RESET: 0x0c0,
  /** R: changes when the configuration space may have changed. */
  CONFIG_GENERATION: 0x0fc,
  /** Start of the device-specific configuration space. */
  CONFIG: 0x100,
} as const;

export const VIRTIO_MMIO_MAGIC = 0x74726976;
export const VIRTIO_MMIO_VERSION = 2;

/** InterruptStatus / InterruptACK bits (4.2.2, and 4.2.3.4 "Notifications From The Device"). */
export const VirtioMmioInterrupt = {
  USED_BUFFER: 1,
  CONFIG_CHANGE: 2,
} as const;

/** The device tree binding's compatible string (4.2.1 "MMIO Device Discovery"). */
export const VIRTIO_MMIO_COMPATIBLE = 'virtio,mmio';
