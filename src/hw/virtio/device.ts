// The contract between a virtio device model (what the device does: an IOMMU, a block device,
// a test echo device) and the transport that puts it on a bus (virtio-mmio or virtio-pci).
// The transport owns the device status, feature negotiation, the virtqueues in guest memory
// and the interrupts (VIRTIO 1.3 chapter 2 "Basic Facilities of a Virtio Device"); the model
// sees negotiated features, its configuration space and validated descriptor chains.

import type { DeviceVirtqueue } from './virtqueue.js';

export interface VirtioDeviceModel {
  /** The virtio device id (chapter 5 "Device Types"), e.g. 23 for IOMMU. */
  readonly deviceId: number;
  /**
   * Device-specific feature bits offered (bits 0-23, 41, 42, 50-127); the transport adds
   * the reserved-range bits it implements (VERSION_1, EVENT_IDX, INDIRECT_DESC, ...).
   */
  readonly deviceFeatures: bigint;
  /** Maximum size of each virtqueue (a power of two up to 32768); the index is the queue number. */
  readonly queueMaxSizes: readonly number[];
  /** Size in bytes of the device configuration space (little-endian fields). */
  readonly configSize: number;
  /** A driver read of the configuration space; `offset + size` is within configSize. */
  readConfig(offset: number, size: 1 | 2 | 4): number;
  /** A driver write of the configuration space; `offset + size` is within configSize. */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  /** The driver set FEATURES_OK with `features`; return false to refuse (FEATURES_OK then reads back clear). */
  acceptFeatures(features: bigint): boolean;
  /** DRIVER_OK was set: the device is live. */
  start(context: VirtioDeviceContext): void;
  /** The driver notified queue `index` (available buffers). */
  queueNotified(index: number): void;
  /** The device was reset (status 0): drop all state. */
  reset(): void;
  /** Queue `index` was reset on its own (VIRTIO_F_RING_RESET): drop what the model kept of it. */
  queueReset?(index: number): void;
}

export interface VirtioDeviceContext {
  /** Negotiated features. */
  readonly features: bigint;
  /** The device-side view of an enabled queue, or null. */
  queue(index: number): DeviceVirtqueue | null;
  /** Unrecoverable error: set DEVICE_NEEDS_RESET and send a configuration change notification. */
  needsReset(reason: string): void;
  /** Configuration space changed: configuration change notification. */
  configChanged(): void;
}
