// The virtio-pci modern transport driver (VIRTIO 1.3 section 4.1; after Linux's
// drivers/virtio/virtio_pci_modern.c and virtio_pci_modern_dev.c): binds PCI functions of
// vendor 0x1AF4 with device ids 0x1040-0x107f (the device id minus 0x1040 is the virtio
// device id, 4.1.2), finds the virtio structures through the vendor-specific capabilities,
// maps them from the BARs the PCI host driver assigned, and drives the common configuration
// with accesses of each field's width.
//
// Interrupts: MSI-X when the function has it (at least two vectors) and the platform has an
// MSI controller; vector 0 carries configuration changes and each queue gets its own vector
// when the table is large enough (otherwise the queues share vector 1). Otherwise the device
// is polled through its ISR byte: this kernel does not route PCI INTx (interrupt-map).

import { CommonCfg, VIRTIO_PCI_MODERN_BASE, VIRTIO_PCI_MODERN_LAST, VIRTIO_PCI_VENDOR } from '../../../formats/virtio/pci.js';
import { virtioDeviceName } from '../../../formats/virtio/device-ids.js';
import { hex } from '../../../sim/u64.js';
import type { Device, Driver, PciMatch, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { pciConfigOf, type PciFunctionConfig } from '../pci/host-ecam.js';
import type { VirtioBus } from './bus.js';
import { VirtioDevice } from './device.js';
import { VirtioError } from './errors.js';
import { readVirtioPciCapabilities, type VirtioPciCapabilities, type VirtioPciStructure } from './pci-capabilities.js';
import { readFeatureWords, RegisterWindow, writeFeatureWords } from './registers.js';
import type { ConnectResult, VirtioInterruptMode, VirtioTransport } from './transport.js';

/** MSI-X capability id and its fields (PCI Local Bus 3.0 section 6.8.2). */
const PCI_CAP_ID_MSIX = 0x11;
const MSIX_CONTROL = 2;
const MSIX_TABLE = 4;
const MSIX_ENABLE = 0x8000;
const MSIX_FUNCTION_MASK = 0x4000;
/** Fields before queue_reset: what a 1.0 device's common configuration holds. */
const COMMON_CFG_MIN = CommonCfg.QUEUE_RESET;
const QUEUE_RESET_POLLS = 1000;

interface MsixSetup {
  cap: number;
  vectors: number;
  table: RegisterWindow;
}

export class PciModernTransport implements VirtioTransport {
  readonly kind = 'virtio-pci';
  readonly deviceId: number;
  readonly interruptMode: VirtioInterruptMode;
  readonly numQueues: number;
  /** The notification address of each queue, as an offset in the notification window. */
  readonly notifyOffsets: number[] = [];
  private vdev: VirtioDevice | null = null;
  /** MSI-X table entries already programmed with an MSI of the kernel. */
  private readonly programmed = new Set<number>();

  constructor(
    private readonly kernel: Kernel,
    private readonly name: string,
    private readonly cfg: PciFunctionConfig,
    readonly caps: VirtioPciCapabilities,
    private readonly common: RegisterWindow,
    private readonly notifyWindow: RegisterWindow,
    private readonly isr: RegisterWindow,
    private readonly deviceCfg: RegisterWindow | null,
    pciDevice: number,
    private readonly msix: MsixSetup | null,
  ) {
    this.deviceId = pciDevice - VIRTIO_PCI_MODERN_BASE;
    this.numQueues = common.read16(CommonCfg.NUM_QUEUES);
    this.interruptMode = msix !== null ? 'msix' : 'polled';
  }

  connect(vdev: VirtioDevice): ConnectResult {
    this.vdev = vdev;
    const m = this.msix;
    if (m === null) return 'ok';
    try {
      this.program(0, () => vdev.handleConfigInterrupt(), 'config');
    } catch (e) {
      return { error: (e as Error).message };
    }
    const control = this.cfg.read16(m.cap + MSIX_CONTROL);
    this.cfg.write16(m.cap + MSIX_CONTROL, (control | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK);
    return 'ok';
  }

  getStatus(): number {
    return this.common.read8(CommonCfg.DEVICE_STATUS);
  }

  setStatus(status: number): void {
    this.common.write8(CommonCfg.DEVICE_STATUS, status);
  }

  reset(): void {
    this.common.write8(CommonCfg.DEVICE_STATUS, 0);
    // 4.1.4.3.2: wait for device_status to read 0 (this model's device resets at once).
    if (this.getStatus() !== 0) throw new VirtioError(`${this.name}: device_status reads ${this.getStatus()} after a reset`);
    // A reset unmaps every event (4.1.5.1.2.1): map configuration changes to vector 0 again.
    if (this.msix !== null) {
      this.common.write16(CommonCfg.CONFIG_MSIX_VECTOR, 0);
      if (this.common.read16(CommonCfg.CONFIG_MSIX_VECTOR) !== 0) throw new VirtioError(`${this.name}: the device could not map configuration changes to MSI-X vector 0`);
    }
  }

  getFeatures(): bigint {
    return readFeatureWords(this.common, CommonCfg.DEVICE_FEATURE_SELECT, CommonCfg.DEVICE_FEATURE);
  }

  setFeatures(features: bigint): void {
    writeFeatureWords(this.common, CommonCfg.DRIVER_FEATURE_SELECT, CommonCfg.DRIVER_FEATURE, features);
  }

  generation(): number {
    return this.common.read8(CommonCfg.CONFIG_GENERATION);
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    const w = this.configWindow(offset, size);
    return size === 4 ? w.read32(offset) : size === 2 ? w.read16(offset) : w.read8(offset);
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    const w = this.configWindow(offset, size);
    if (size === 4) w.write32(offset, value);
    else if (size === 2) w.write16(offset, value);
    else w.write8(offset, value);
  }

  queueMaxSize(index: number): number {
    if (index >= this.numQueues) return 0;
    this.common.write16(CommonCfg.QUEUE_SELECT, index);
    return this.common.read16(CommonCfg.QUEUE_SIZE);
  }

  activateQueue(index: number, size: number, desc: bigint, driver: bigint, device: bigint): string | null {
    const c = this.common;
    c.write16(CommonCfg.QUEUE_SELECT, index);
    if (c.read16(CommonCfg.QUEUE_ENABLE) !== 0) return 'the queue is already enabled';
    c.write16(CommonCfg.QUEUE_SIZE, size);
    if (this.msix !== null) {
      const vector = this.queueVector(index);
      c.write16(CommonCfg.QUEUE_MSIX_VECTOR, vector);
      if (c.read16(CommonCfg.QUEUE_MSIX_VECTOR) !== vector) return `the device could not map it to MSI-X vector ${vector}`;
    }
    write64(c, CommonCfg.QUEUE_DESC, desc);
    write64(c, CommonCfg.QUEUE_DRIVER, driver);
    write64(c, CommonCfg.QUEUE_DEVICE, device);
    const offset = c.read16(CommonCfg.QUEUE_NOTIFY_OFF) * this.caps.notify.multiplier;
    // 4.1.4.4.1: the notification address must lie in the notification structure.
    if (offset + 2 > this.caps.notify.length) return `its notification offset ${offset} is outside the notification structure (${this.caps.notify.length} bytes)`;
    this.notifyOffsets[index] = offset;
    c.write16(CommonCfg.QUEUE_ENABLE, 1);
    return c.read16(CommonCfg.QUEUE_ENABLE) === 1 ? null : 'the device did not enable it (queue_enable reads 0)';
  }

  resetQueue(index: number): boolean {
    const c = this.common;
    c.write16(CommonCfg.QUEUE_SELECT, index);
    c.write16(CommonCfg.QUEUE_RESET, 1);
    for (let i = 0; i < QUEUE_RESET_POLLS; i++) {
      if (c.read16(CommonCfg.QUEUE_RESET) === 0) return c.read16(CommonCfg.QUEUE_ENABLE) === 0;
    }
    return false;
  }

  notify(index: number): void {
    this.notifyWindow.write16(this.notifyOffsets[index] ?? 0, index);
  }

  takeInterruptStatus(): number {
    return this.isr.read8(0) & 3;
  }

  /** Queue `index`'s vector: its own when the table has one per queue, otherwise vector 1 for all. */
  private queueVector(index: number): number {
    const m = this.msix as MsixSetup;
    const vdev = this.vdev as VirtioDevice;
    if (m.vectors >= this.numQueues + 1) {
      this.program(index + 1, () => vdev.handleQueueInterrupt(index), `vq${index}`);
      return index + 1;
    }
    this.program(1, () => vdev.handleQueuesInterrupt(), 'queues');
    return 1;
  }

  /** Points MSI-X table entry `entry` at a new MSI of the kernel (once per entry). */
  private program(entry: number, handler: () => void, what: string): void {
    if (this.programmed.has(entry)) return;
    const msi = this.kernel.irq.allocMsi(handler, `${this.name}-${what}`);
    if (msi === null) throw new VirtioError(`${this.name}: no MSI controller for MSI-X vector ${entry}`);
    const t = (this.msix as MsixSetup).table;
    const at = entry * 16;
    t.write32(at, Number(msi.address & 0xffff_ffffn));
    t.write32(at + 4, Number(msi.address >> 32n));
    t.write32(at + 8, msi.data);
    t.write32(at + 12, 0); // unmasked
    this.programmed.add(entry);
  }

  private configWindow(offset: number, size: number): RegisterWindow {
    const w = this.deviceCfg;
    if (w === null) throw new VirtioError(`${this.name}: the device has no device-specific configuration`);
    if (offset < 0 || offset + size > w.size) throw new VirtioError(`${this.name}: configuration access at ${offset} (+${size}) is beyond its ${w.size} bytes`);
    return w;
  }
}

function write64(r: RegisterWindow, low: number, value: bigint): void {
  r.write32(low, Number(value & 0xffff_ffffn));
  r.write32(low + 4, Number((value >> 32n) & 0xffff_ffffn));
}

/** Every modern virtio device id, 0x1040..0x107f. */
const MODERN_IDS: readonly PciMatch[] = Array.from({ length: VIRTIO_PCI_MODERN_LAST - VIRTIO_PCI_MODERN_BASE + 1 }, (_, i) => ({ vendor: VIRTIO_PCI_VENDOR, device: VIRTIO_PCI_MODERN_BASE + i }));

/** The virtio-pci kernel driver of `bus`. */
export function createVirtioPciDriver(bus: VirtioBus): Driver {
  return {
    name: 'virtio-pci',
    pci: MODERN_IDS,
    probe(dev: Device, kernel: Kernel): ProbeResult {
      if (dev.driverData instanceof VirtioDevice) return bus.probe(dev.driverData);
      const fn = dev.pci;
      if (fn === null) return { error: 'not a PCI function' };
      let cfg: PciFunctionConfig;
      try {
        cfg = pciConfigOf(kernel, dev);
      } catch (e) {
        return { error: (e as Error).message };
      }
      const caps = readVirtioPciCapabilities(cfg);
      if ('error' in caps) return caps;
      const map = (s: VirtioPciStructure, what: string, minimum: number): RegisterWindow => {
        const bar = fn.bars.find((b) => b.index === s.bar);
        if (bar === undefined) throw new VirtioError(`the ${what} structure is in BAR${s.bar}, which is not assigned`);
        if (s.length < minimum) throw new VirtioError(`the ${what} structure is ${s.length} bytes, fewer than ${minimum}`);
        if (BigInt(s.offset) + BigInt(s.length) > bar.size) throw new VirtioError(`the ${what} structure (${hex(s.offset)} +${hex(s.length)}) does not fit BAR${s.bar}`);
        return new RegisterWindow(kernel, bar.base + BigInt(s.offset), Math.min(s.length, 0x1000));
      };
      let transport: PciModernTransport;
      try {
        const msix = msixSetup(kernel, dev, cfg);
        transport = new PciModernTransport(
          kernel,
          dev.name,
          cfg,
          caps,
          map(caps.common, 'common configuration', COMMON_CFG_MIN),
          map(caps.notify, 'notification', 2),
          map(caps.isr, 'ISR', 1),
          caps.device === null ? null : map(caps.device, 'device configuration', 0),
          fn.device,
          msix,
        );
      } catch (e) {
        return { error: (e as Error).message };
      }
      const irq = transport.interruptMode === 'msix' ? 'MSI-X' : 'polled (no MSI-X or no MSI controller; INTx is not routed)';
      kernel.log.info(dev.name, `virtio-pci ${virtioDeviceName(transport.deviceId)} (device id ${transport.deviceId}), ${transport.numQueues} queues, interrupts ${irq}`);
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

/** The function's MSI-X table, mapped, when MSI-X can be used (two vectors or more, an MSI controller); null otherwise. */
function msixSetup(kernel: Kernel, dev: Device, cfg: PciFunctionConfig): MsixSetup | null {
  const cap = cfg.findCapability(PCI_CAP_ID_MSIX);
  if (cap === 0 || !kernel.irq.hasMsi) return null;
  const vectors = (cfg.read16(cap + MSIX_CONTROL) & 0x7ff) + 1;
  if (vectors < 2) return null;
  const table = cfg.read32(cap + MSIX_TABLE);
  const bar = dev.pci?.bars.find((b) => b.index === (table & 7));
  if (bar === undefined) throw new VirtioError(`the MSI-X table is in BAR${table & 7}, which is not assigned`);
  return { cap, vectors, table: new RegisterWindow(kernel, bar.base + BigInt(table & ~7), vectors * 16) };
}
