// The simulated operating system's kernel: it boots from firmware (a device tree and the
// processor's view of memory, registers, time and interrupts), finds RAM, creates devices
// from the device tree, binds drivers to them, and offers the IOMMU core, the DMA API and
// interrupt handling to drivers and workloads.

import { readDtb } from '../../formats/dtb/index.js';
import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import type { Clock } from '../../sim/clock.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { DEFAULT_POLICY, IommuCore, type IommuPolicy } from '../core/iommu-core.js';
import { IommuDmaApi, type DmaOptions } from '../dma/dma-api.js';
import type { DmaApi } from '../dma/types.js';
import { Device, type Driver } from '../driver-model/device.js';
import { DriverModel } from '../driver-model/driver-model.js';
import { regions } from '../of/address.js';
import type { Firmware } from './firmware.js';
import { IoMem } from './iomem.js';
import { InterruptSubsystem } from './irq.js';
import { KernelLog } from './log.js';
import { PageAllocator } from './page-allocator.js';

export interface KernelOptions {
  /** Default-domain policy (translated or passthrough, strict or lazy). */
  iommu?: Partial<IommuPolicy>;
  /** DMA API tuning: flush-queue size and timeout (cycles) of lazy domains. */
  dma?: DmaOptions;
  /** Drivers to register, in addition to none: the platform chooses them. */
  drivers?: readonly Driver[];
}

/** Buses whose children become platform devices (Linux of_default_bus_match_table). */
const SIMPLE_BUSES = ['simple-bus', 'simple-mfd', 'isa', 'arm,amba-bus'];

export class Kernel {
  readonly dt: DeviceTree;
  readonly log: KernelLog;
  readonly clock: Clock;
  /** The CPU's loads and stores to RAM. */
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  readonly pages: PageAllocator;
  readonly irq: InterruptSubsystem;
  readonly iommu: IommuCore;
  readonly dma: DmaApi;
  readonly drivers: DriverModel;

  constructor(
    readonly firmware: Firmware,
    options: KernelOptions = {},
  ) {
    this.clock = firmware.clock;
    this.log = new KernelLog(firmware.clock);
    this.dt = readDtb(firmware.dtb, { file: 'firmware.dtb' });
    this.memory = firmware.memory;
    this.bus = firmware.bus;
    this.pages = new PageAllocator(firmware.memory);
    this.irq = new InterruptSubsystem(this.dt, firmware.hart, this.log);
    this.iommu = new IommuCore(this.dt, this.log, { ...DEFAULT_POLICY, ...options.iommu });
    this.dma = new IommuDmaApi(this, options.dma);
    this.drivers = new DriverModel(this);
    this.iommu.onRegister = () => this.drivers.probeAll();
    this.setUpMemory();
    for (const d of options.drivers ?? []) this.drivers.drivers.push(d);
  }

  /** Creates the platform devices of the device tree and probes everything. */
  boot(): void {
    this.log.info('kernel', `booting on ${this.dt.root.string('model') ?? this.dt.root.string('compatible') ?? 'an unnamed machine'}`);
    for (const node of this.platformDeviceNodes()) this.drivers.devices.push(new Device(deviceName(node), 'platform', node));
    this.drivers.probeAll();
    this.poll();
    for (const d of this.drivers.deferred) this.log.warn(d.name, `still deferred after boot: ${d.reason}`);
  }

  /** Maps device registers at [base, base + size) for CPU access. */
  ioremap(base: bigint, size: bigint): IoMem {
    return new IoMem(this.bus, base, size);
  }

  /** Takes pending interrupts (called between operations, as a CPU would between instructions). */
  poll(): number {
    return this.irq.poll();
  }

  /** Adds a device (a bus driver enumerating its children, such as PCI). */
  addDevice(dev: Device): void {
    this.drivers.add(dev);
  }

  /** RAM from /memory nodes, minus /memreserve/ entries and /reserved-memory children. */
  private setUpMemory(): void {
    for (const node of this.dt.root.children) {
      if (node.string('device_type') !== 'memory') continue;
      for (const r of regions(node)) this.pages.addRange(r.base, r.size);
    }
    for (const r of this.dt.reservations) this.pages.reserve(r.address, r.size);
    const reserved = this.dt.find('/reserved-memory');
    for (const child of reserved?.children ?? []) for (const r of regions(child)) this.pages.reserve(r.base, r.size);
    const s = this.pages.stats;
    if (s.totalPages === 0) this.log.error('kernel', 'no usable RAM: the device tree has no /memory node (device_type = "memory") with a reg, so nothing can be allocated');
    else this.log.info('kernel', `memory: ${s.totalPages} pages (${(s.totalPages * 4) / 1024} MiB) available`);
  }

  /** Nodes that become platform devices: enabled children of the root and of simple buses. */
  private platformDeviceNodes(): DtNode[] {
    const out: DtNode[] = [];
    const visit = (bus: DtNode): void => {
      for (const node of bus.children) {
        if (!enabled(node) || !node.has('compatible')) continue;
        if (node.string('device_type') === 'memory' || node.name === 'cpus' || node.name === 'chosen' || node.name === 'aliases') continue;
        out.push(node);
        if ((node.strings('compatible') ?? []).some((c) => SIMPLE_BUSES.includes(c))) visit(node);
      }
    };
    visit(this.dt.root);
    return out;
  }
}

export function enabled(node: DtNode): boolean {
  const s = node.string('status');
  return s === undefined || s === 'okay' || s === 'ok';
}

/** Linux-style device name: "10001000.iommu" for /soc/iommu@10001000. */
export function deviceName(node: DtNode): string {
  const unit = node.unitAddress;
  return unit === undefined ? node.baseName : `${unit}.${node.baseName}`;
}
