// A virtio device on the virtio-mmio transport, version 2 (VIRTIO 1.3 section 4.2): the
// register block of 4.2.2 in front of a VirtioDeviceCore, and one wired interrupt whose level
// is (InterruptStatus != 0) (4.2.3.4).
//
// Register access rules the specification leaves to the device, as modelled:
//  - control registers (below 0x100) answer only aligned 32-bit accesses: other accesses
//    read as 0 and are ignored when written (the driver MUST use 32-bit accesses);
//  - reads of write-only registers return 0, writes to read-only registers are ignored;
//  - the configuration space (0x100 up) takes 8-, 16- and 32-bit accesses at any offset
//    (an 8-byte access is two 32-bit ones, low word first); outside the model's
//    configuration space it reads as 0;
//  - there are no shared memory regions: SHMLen and SHMBase read as all ones (4.2.2).

import type { DmaPort } from '../../devices/dma-port.js';
import { DmaRequester } from '../../devices/dma-port.js';
import { VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VirtioMmio, VirtioMmioInterrupt } from '../../formats/virtio/mmio.js';
import { VIRTIO_PCI_VENDOR } from '../../formats/virtio/pci.js';
import type { InterruptLine } from '../../sim/irq.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import { VirtioDeviceCore, type NotificationSink } from './core.js';
import type { VirtioDeviceModel } from './device.js';
import type { VirtioTransportParameters } from './parameters.js';

export interface VirtioMmioTransportOptions extends VirtioTransportParameters {
  name?: string;
  model: VirtioDeviceModel;
  /** The device's upstream DMA port (the system bus, or an IOMMU's port). */
  port: DmaPort;
  /** The device id upstream sees on its requests (the IOMMU's stream / device id). */
  deviceId?: number;
  /** The interrupt wire (a PLIC or GIC input). */
  irq: InterruptLine;
  /** VendorID register (4.2.2 leaves it to the implementation). Default 0x1af4, the virtio PCI vendor id. */
  vendorId?: number;
  /** Size of the register window (default 0x200: the registers and 256 bytes of configuration space). */
  regionSize?: number;
}

export class VirtioMmioTransport implements MmioDevice, NotificationSink {
  readonly core: VirtioDeviceCore;
  readonly irq: InterruptLine;
  readonly vendorId: number;
  readonly regionSize: number;
  readonly requester: DmaRequester;
  /** Control-register accesses that were not aligned 32-bit accesses. */
  badAccesses = 0;
  private interruptStatus = 0;

  constructor(o: VirtioMmioTransportOptions) {
    this.irq = o.irq;
    this.vendorId = o.vendorId ?? VIRTIO_PCI_VENDOR;
    this.regionSize = o.regionSize ?? 0x200;
    this.requester = new DmaRequester(o.deviceId ?? 0);
    this.core = new VirtioDeviceCore({ ...o, name: o.name ?? 'virtio-mmio', requester: this.requester }, this);
  }

  /** InterruptStatus as the driver would read it. */
  get pendingInterrupts(): number {
    return this.interruptStatus;
  }

  // ---- NotificationSink --------------------------------------------------------------------

  usedBufferNotification(): void {
    this.raise(VirtioMmioInterrupt.USED_BUFFER);
  }

  configChangeNotification(): void {
    this.raise(VirtioMmioInterrupt.CONFIG_CHANGE);
  }

  deviceReset(): void {
    this.interruptStatus = 0;
    this.irq.set(false);
  }

  // ---- MmioDevice --------------------------------------------------------------------------

  mmioRead32(offset: number): number {
    if (offset >= VirtioMmio.CONFIG) return this.core.readConfig(offset - VirtioMmio.CONFIG, 4);
    if ((offset & 3) !== 0) {
      this.badAccesses++;
      return 0;
    }
    return this.readRegister(offset) >>> 0;
  }

  mmioWrite32(offset: number, value: number): void {
    if (offset >= VirtioMmio.CONFIG) {
      this.core.writeConfig(offset - VirtioMmio.CONFIG, 4, value >>> 0);
      return;
    }
    if ((offset & 3) !== 0) {
      this.badAccesses++;
      return;
    }
    this.writeRegister(offset, value >>> 0);
  }

  mmioRead(offset: number, size: MmioSize): bigint {
    if (offset >= VirtioMmio.CONFIG) {
      const at = offset - VirtioMmio.CONFIG;
      if (size === 8) return (BigInt(this.core.readConfig(at + 4, 4)) << 32n) | BigInt(this.core.readConfig(at, 4));
      return BigInt(this.core.readConfig(at, size));
    }
    if (size !== 4) {
      this.badAccesses++;
      return 0n;
    }
    return BigInt(this.mmioRead32(offset));
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (offset >= VirtioMmio.CONFIG) {
      const at = offset - VirtioMmio.CONFIG;
      if (size === 8) {
        this.core.writeConfig(at, 4, Number(value & 0xffff_ffffn));
        this.core.writeConfig(at + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
      } else {
        this.core.writeConfig(at, size, Number(value & 0xffff_ffffn));
      }
      return;
    }
    if (size !== 4) {
      this.badAccesses++;
      return;
    }
    this.mmioWrite32(offset, Number(value & 0xffff_ffffn));
  }

  // ---- registers ---------------------------------------------------------------------------

  private readRegister(offset: number): number {
    const core = this.core;
    switch (offset) {
      case VirtioMmio.MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
      case VirtioMmio.VERSION:
        return VIRTIO_MMIO_VERSION;
      case VirtioMmio.DEVICE_ID:
        return core.model.deviceId;
      case VirtioMmio.VENDOR_ID:
        return this.vendorId;
      case VirtioMmio.DEVICE_FEATURES:
        return core.readDeviceFeatures();
      case VirtioMmio.QUEUE_SIZE_MAX:
        return core.selectedQueue?.maxSize ?? 0;
      case VirtioMmio.QUEUE_READY:
        return core.selectedQueue?.enabled === true ? 1 : 0;
      case VirtioMmio.INTERRUPT_STATUS:
        return this.interruptStatus;
      case VirtioMmio.STATUS:
        return core.deviceStatus;
      case VirtioMmio.SHM_LEN_LOW:
      case VirtioMmio.SHM_LEN_HIGH:
      case VirtioMmio.SHM_BASE_LOW:
      case VirtioMmio.SHM_BASE_HIGH:
        return 0xffff_ffff;
      case VirtioMmio.QUEUE_RESET:
        return 0; // a queue reset completes inside the write
      case VirtioMmio.CONFIG_GENERATION:
        return core.generation;
      default:
        return 0; // write-only and reserved registers
    }
  }

  private writeRegister(offset: number, value: number): void {
    const core = this.core;
    switch (offset) {
      case VirtioMmio.DEVICE_FEATURES_SEL:
        core.deviceFeatureSelect = value;
        return;
      case VirtioMmio.DRIVER_FEATURES:
        core.writeDriverFeatures(value);
        return;
      case VirtioMmio.DRIVER_FEATURES_SEL:
        core.driverFeatureSelect = value;
        return;
      case VirtioMmio.QUEUE_SEL:
        core.queueSelect = value;
        return;
      case VirtioMmio.QUEUE_SIZE:
        core.setQueueSize(value);
        return;
      case VirtioMmio.QUEUE_READY:
        if ((value & 1) !== 0) core.enableSelectedQueue();
        else core.disableSelectedQueue();
        return;
      case VirtioMmio.QUEUE_NOTIFY:
        core.notify(value & 0xffff);
        return;
      case VirtioMmio.INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.irq.set(this.interruptStatus !== 0);
        return;
      case VirtioMmio.STATUS:
        core.writeStatus(value);
        return;
      case VirtioMmio.QUEUE_DESC_LOW:
        core.setQueueAddress('desc', false, value);
        return;
      case VirtioMmio.QUEUE_DESC_HIGH:
        core.setQueueAddress('desc', true, value);
        return;
      case VirtioMmio.QUEUE_DRIVER_LOW:
        core.setQueueAddress('driver', false, value);
        return;
      case VirtioMmio.QUEUE_DRIVER_HIGH:
        core.setQueueAddress('driver', true, value);
        return;
      case VirtioMmio.QUEUE_DEVICE_LOW:
        core.setQueueAddress('device', false, value);
        return;
      case VirtioMmio.QUEUE_DEVICE_HIGH:
        core.setQueueAddress('device', true, value);
        return;
      case VirtioMmio.QUEUE_RESET:
        if ((value & 1) !== 0) core.resetSelectedQueue();
        return;
      default:
        return; // read-only, SHMSel (no regions) and reserved registers
    }
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.irq.set(true);
  }
}
