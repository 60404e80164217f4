// The virtio-mmio transport driver (VIRTIO 1.3 section 4.2; after Linux's
// drivers/virtio/virtio_mmio.c): binds device-tree nodes compatible with "virtio,mmio"
// (`reg`, and `interrupts` for the device's wire), checks MagicValue, Version 2 and the
// device id (0: an empty placeholder slot, bound without a device and without an error,
// 4.2.3.1.1), and drives the registers of 4.2.2 with 32-bit accesses. Without an interrupt
// in the device tree the device is polled.

import { VIRTIO_MMIO_COMPATIBLE, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VirtioMmio } from '../../../formats/virtio/mmio.js';
import { virtioDeviceName } from '../../../formats/virtio/device-ids.js';
import type { DtNode } from '../../../formats/devicetree/tree.js';
import { hex } from '../../../sim/u64.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';
import type { VirtioBus } from './bus.js';
import { VirtioDevice } from './device.js';
import { VirtioError } from './errors.js';
import { readFeatureWords, RegisterWindow, writeFeatureWords } from './registers.js';
import type { ConnectResult, VirtioInterruptMode, VirtioTransport } from './transport.js';

/** Register reads while waiting for a queue reset to complete. */
const QUEUE_RESET_POLLS = 1000;

export class MmioTransport implements VirtioTransport {
  readonly kind = 'virtio-mmio';
  readonly deviceId: number;
  readonly interruptMode: VirtioInterruptMode;

  constructor(
    private readonly kernel: Kernel,
    private readonly node: DtNode,
    private readonly name: string,
    readonly regs: RegisterWindow,
  ) {
    this.deviceId = regs.read32(VirtioMmio.DEVICE_ID);
    this.interruptMode = node.has('interrupts') || node.has('interrupts-extended') ? 'wired' : 'polled';
  }

  connect(vdev: VirtioDevice): ConnectResult {
    if (this.interruptMode !== 'wired') return 'ok';
    try {
      if (!this.kernel.irq.request(this.node, 0, () => vdev.handleInterrupt(), this.name)) return { defer: 'waiting for its interrupt controller' };
    } catch (e) {
      return { error: (e as Error).message };
    }
    return 'ok';
  }

  getStatus(): number {
    return this.regs.read32(VirtioMmio.STATUS) & 0xff;
  }

  setStatus(status: number): void {
    this.regs.write32(VirtioMmio.STATUS, status & 0xff);
  }

  reset(): void {
    this.regs.write32(VirtioMmio.STATUS, 0);
    // 2.4.2: the reset is complete when the status reads 0 (this model's device resets at once).
    if (this.getStatus() !== 0) throw new VirtioError(`${this.name}: the device status reads ${this.getStatus()} after a reset`);
  }

  getFeatures(): bigint {
    return readFeatureWords(this.regs, VirtioMmio.DEVICE_FEATURES_SEL, VirtioMmio.DEVICE_FEATURES);
  }

  setFeatures(features: bigint): void {
    writeFeatureWords(this.regs, VirtioMmio.DRIVER_FEATURES_SEL, VirtioMmio.DRIVER_FEATURES, features);
  }

  generation(): number {
    return this.regs.read32(VirtioMmio.CONFIG_GENERATION);
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    const at = VirtioMmio.CONFIG + offset;
    return size === 4 ? this.regs.read32(at) : size === 2 ? this.regs.read16(at) : this.regs.read8(at);
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    const at = VirtioMmio.CONFIG + offset;
    if (size === 4) this.regs.write32(at, value);
    else if (size === 2) this.regs.write16(at, value);
    else this.regs.write8(at, value);
  }

  queueMaxSize(index: number): number {
    this.regs.write32(VirtioMmio.QUEUE_SEL, index);
    return this.regs.read32(VirtioMmio.QUEUE_SIZE_MAX);
  }

  activateQueue(index: number, size: number, desc: bigint, driver: bigint, device: bigint): string | null {
    const r = this.regs;
    r.write32(VirtioMmio.QUEUE_SEL, index);
    if (r.read32(VirtioMmio.QUEUE_READY) !== 0) return 'the queue is already in use (QueueReady reads 1)';
    r.write32(VirtioMmio.QUEUE_SIZE, size);
    write64(r, VirtioMmio.QUEUE_DESC_LOW, desc);
    write64(r, VirtioMmio.QUEUE_DRIVER_LOW, driver);
    write64(r, VirtioMmio.QUEUE_DEVICE_LOW, device);
    r.write32(VirtioMmio.QUEUE_READY, 1);
    return r.read32(VirtioMmio.QUEUE_READY) === 1 ? null : 'the device did not enable it (QueueReady reads 0)';
  }

  resetQueue(index: number): boolean {
    const r = this.regs;
    r.write32(VirtioMmio.QUEUE_SEL, index);
    r.write32(VirtioMmio.QUEUE_RESET, 1);
    for (let i = 0; i < QUEUE_RESET_POLLS; i++) {
      if (r.read32(VirtioMmio.QUEUE_RESET) === 0) return r.read32(VirtioMmio.QUEUE_READY) === 0;
    }
    return false;
  }

  notify(index: number): void {
    this.regs.write32(VirtioMmio.QUEUE_NOTIFY, index);
  }

  takeInterruptStatus(): number {
    const status = this.regs.read32(VirtioMmio.INTERRUPT_STATUS) & 3;
    if (status !== 0) this.regs.write32(VirtioMmio.INTERRUPT_ACK, status);
    return status;
  }
}

function write64(r: RegisterWindow, low: number, value: bigint): void {
  r.write32(low, Number(value & 0xffff_ffffn));
  r.write32(low + 4, Number((value >> 32n) & 0xffff_ffffn));
}

/** The virtio-mmio kernel driver of `bus`. */
export function createVirtioMmioDriver(bus: VirtioBus): Driver {
  return {
    name: 'virtio-mmio',
    compatible: [VIRTIO_MMIO_COMPATIBLE],
    probe(dev: Device, kernel: Kernel): ProbeResult {
      // A deferred probe comes back here: keep the device (and its interrupt) from last time.
      if (dev.driverData instanceof VirtioDevice) return bus.probe(dev.driverData);
      const node = dev.node as DtNode;
      let regs: RegisterWindow;
      try {
        const { base, size } = region(node);
        regs = new RegisterWindow(kernel, base, Number(size));
      } catch (e) {
        return { error: `could not map the registers: ${(e as Error).message}` };
      }
      const magic = regs.read32(VirtioMmio.MAGIC_VALUE);
      if (magic !== VIRTIO_MMIO_MAGIC) return { error: `wrong MagicValue ${hex(magic, 8)} (expected ${hex(VIRTIO_MMIO_MAGIC, 8)})` };
      const version = regs.read32(VirtioMmio.VERSION);
      if (version !== VIRTIO_MMIO_VERSION) return { error: version === 1 ? 'legacy virtio-mmio (Version 1) is not supported' : `unknown virtio-mmio Version ${version}` };
      const transport = new MmioTransport(kernel, node, dev.name, regs);
      if (transport.deviceId === 0) {
        kernel.log.info(dev.name, 'virtio-mmio slot without a device (DeviceID 0)');
        return 'bound';
      }
      kernel.log.info(dev.name, `virtio-mmio at ${hex(regs.base)}: ${virtioDeviceName(transport.deviceId)} (device id ${transport.deviceId}), vendor ${hex(regs.read32(VirtioMmio.VENDOR_ID), 8)}`);
      const vdev = new VirtioDevice(kernel, dev, transport);
      const connected = transport.connect(vdev);
      if (connected !== 'ok') return connected;
      dev.driverData = vdev;
      return bus.probe(vdev);
    },
    remove(dev: Device): void {
      if (dev.driverData instanceof VirtioDevice) bus.remove(dev.driverData);
    },
  };
}
