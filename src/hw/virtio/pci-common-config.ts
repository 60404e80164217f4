// The common configuration structure of a virtio-pci function (VIRTIO 1.3 section 4.1.4.3,
// struct virtio_pci_common_cfg) decoded onto a VirtioDeviceCore, with the MSI-X vector
// fields (4.1.5.1.2).
//
// Reads may be of any size that stays within one dword (reading has no side effect). Writes
// must match a writable field exactly (8-bit device_status, 16-bit selectors and queue
// fields, 32-bit feature words, the 64-bit queue addresses as two 32-bit halves, 4.1.3);
// anything else is ignored and counted. queue_enable=0 is ignored (the driver MUST NOT write it). A vector
// beyond the MSI-X table reads back as VIRTIO_MSI_NO_VECTOR (a mapping failure).

import { CommonCfg, VIRTIO_MSI_NO_VECTOR } from '../../formats/virtio/pci.js';
import type { VirtioDeviceCore } from './core.js';

export class PciCommonConfig {
  /** MSI-X vector of configuration changes, and of each queue. */
  configVector = VIRTIO_MSI_NO_VECTOR;
  readonly queueVectors: Uint16Array;
  /** Accesses that matched no field. */
  badAccesses = 0;

  constructor(
    private readonly core: VirtioDeviceCore,
    /** MSI-X table size (0: no MSI-X). */
    private readonly msixVectors: number,
  ) {
    this.queueVectors = new Uint16Array(core.queues.length).fill(VIRTIO_MSI_NO_VECTOR);
  }

  /** Every event unmapped (on device reset, 4.1.5.1.2.1). */
  reset(): void {
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    this.queueVectors.fill(VIRTIO_MSI_NO_VECTOR);
  }

  /** A read of 1, 2 or 4 bytes (the BAR splits 8-byte accesses into dwords). */
  read(offset: number, size: 1 | 2 | 4): number {
    if ((offset & 3) + size > 4) return this.bad();
    const word = this.dword(offset & ~3) >>> ((offset & 3) * 8);
    return size === 4 ? word >>> 0 : word & (size === 2 ? 0xffff : 0xff);
  }

  /** A write of 1, 2 or 4 bytes (the BAR splits 8-byte accesses into dwords). */
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    const core = this.core;
    const q = core.selectedQueue;
    const key = offset * 16 + size;
    switch (key) {
      case CommonCfg.DEVICE_FEATURE_SELECT * 16 + 4:
        core.deviceFeatureSelect = value >>> 0;
        return;
      case CommonCfg.DRIVER_FEATURE_SELECT * 16 + 4:
        core.driverFeatureSelect = value >>> 0;
        return;
      case CommonCfg.DRIVER_FEATURE * 16 + 4:
        core.writeDriverFeatures(value >>> 0);
        return;
      case CommonCfg.CONFIG_MSIX_VECTOR * 16 + 2:
        this.configVector = this.mapVector(value);
        return;
      case CommonCfg.DEVICE_STATUS * 16 + 1:
        core.writeStatus(value);
        return;
      case CommonCfg.QUEUE_SELECT * 16 + 2:
        core.queueSelect = value & 0xffff;
        return;
      case CommonCfg.QUEUE_SIZE * 16 + 2:
        core.setQueueSize(value & 0xffff);
        return;
      case CommonCfg.QUEUE_MSIX_VECTOR * 16 + 2:
        if (q !== null) this.queueVectors[q.index] = this.mapVector(value);
        return;
      case CommonCfg.QUEUE_ENABLE * 16 + 2:
        if ((value & 0xffff) === 1) core.enableSelectedQueue();
        return;
      case CommonCfg.QUEUE_DESC * 16 + 4:
      case (CommonCfg.QUEUE_DESC + 4) * 16 + 4:
        core.setQueueAddress('desc', offset !== CommonCfg.QUEUE_DESC, value);
        return;
      case CommonCfg.QUEUE_DRIVER * 16 + 4:
      case (CommonCfg.QUEUE_DRIVER + 4) * 16 + 4:
        core.setQueueAddress('driver', offset !== CommonCfg.QUEUE_DRIVER, value);
        return;
      case CommonCfg.QUEUE_DEVICE * 16 + 4:
      case (CommonCfg.QUEUE_DEVICE + 4) * 16 + 4:
        core.setQueueAddress('device', offset !== CommonCfg.QUEUE_DEVICE, value);
        return;
      case CommonCfg.QUEUE_RESET * 16 + 2:
        if ((value & 0xffff) === 1 && q !== null) {
          core.resetSelectedQueue();
          if (!q.enabled) this.queueVectors[q.index] = VIRTIO_MSI_NO_VECTOR;
        }
        return;
      default:
        this.bad(); // read-only fields and mismatched widths
    }
  }

  /** The dword at `offset` (a multiple of 4) as the driver sees it. */
  private dword(offset: number): number {
    const core = this.core;
    const q = core.selectedQueue;
    const exists = q !== null && q.maxSize > 0;
    switch (offset) {
      case CommonCfg.DEVICE_FEATURE_SELECT:
        return core.deviceFeatureSelect;
      case CommonCfg.DEVICE_FEATURE:
        return core.readDeviceFeatures();
      case CommonCfg.DRIVER_FEATURE_SELECT:
        return core.driverFeatureSelect;
      case CommonCfg.DRIVER_FEATURE:
        return core.readDriverFeatures();
      case CommonCfg.CONFIG_MSIX_VECTOR:
        return (this.configVector | (core.queues.length << 16)) >>> 0;
      case CommonCfg.DEVICE_STATUS:
        return (core.deviceStatus | ((core.generation & 0xff) << 8) | (core.queueSelect << 16)) >>> 0;
      case CommonCfg.QUEUE_SIZE: {
        const vector = q === null ? VIRTIO_MSI_NO_VECTOR : this.queueVectors[q.index];
        return ((exists ? q.size : 0) | (vector << 16)) >>> 0;
      }
      case CommonCfg.QUEUE_ENABLE:
        // queue_notify_off: queue i notifies at i * notify_off_multiplier.
        return ((q?.enabled === true ? 1 : 0) | ((exists ? q.index : 0) << 16)) >>> 0;
      case CommonCfg.QUEUE_DESC:
        return q?.descLo ?? 0;
      case CommonCfg.QUEUE_DESC + 4:
        return q?.descHi ?? 0;
      case CommonCfg.QUEUE_DRIVER:
        return q?.driverLo ?? 0;
      case CommonCfg.QUEUE_DRIVER + 4:
        return q?.driverHi ?? 0;
      case CommonCfg.QUEUE_DEVICE:
        return q?.deviceLo ?? 0;
      case CommonCfg.QUEUE_DEVICE + 4:
        return q?.deviceHi ?? 0;
      default:
        // queue_notif_config_data (no NOTIF_CONFIG_DATA), queue_reset (completes at once),
        // the admin queue fields (no ADMIN_VQ), and the rest of the page.
        return 0;
    }
  }

  private mapVector(value: number): number {
    const v = value & 0xffff;
    return v !== VIRTIO_MSI_NO_VECTOR && v < this.msixVectors ? v : VIRTIO_MSI_NO_VECTOR;
  }

  private bad(): number {
    this.badAccesses++;
    return 0;
  }
}
