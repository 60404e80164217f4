// A minimal machine for DMA API tests: a kernel booted from a DTB built here, with a fake
// IOMMU registered with the core. The fake's domains keep a reference map of what is mapped
// (4 KiB IOVA page -> physical page, prot), record every sync and full flush, keep a stale
// set of pages unmapped since the last invalidation (what an IOTLB could still hold), and
// allocate one "page-table page" per 2 MiB region from kernel.pages, handed back on the
// gather's freelist when the region empties and freed by iotlbSync, like a real driver.

import { writeDtb } from '../../src/formats/dtb/index.js';
import { DeviceTree, DtNode, encodeStrings, encodeU32s } from '../../src/formats/devicetree/index.js';
import { IommuDomain, type DomainOps, type DomainTypeValue, type IommuInstance, type IotlbGather } from '../../src/os/core/types.js';
import type { IommuPolicy } from '../../src/os/core/iommu-core.js';
import type { DmaOptions } from '../../src/os/dma/dma-api.js';
import { IommuDmaApi } from '../../src/os/dma/dma-api.js';
import { Device, type Driver } from '../../src/os/driver-model/device.js';
import { Kernel } from '../../src/os/kernel/kernel.js';
import { Clock } from '../../src/sim/clock.js';
import { Hart } from '../../src/sim/hart.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';

const IOMMU_PHANDLE = 1;
export const RAM_BASE = 0x8000_0000n;
export const RAM_SIZE = 0x1000_0000n; // 256 MiB

export interface SyncRecord {
  start: number;
  end: number;
  freelist: number[];
}

/** Leaf-table span: one table page per 2 MiB of IOVA space (512 4 KiB pages). */
const REGION_PAGES = 512;

export class FakeDomainOps implements DomainOps {
  /** 4 KiB IOVA page -> mapping. */
  readonly mapped = new Map<number, { page: number; prot: number }>();
  /** IOVA pages unmapped since the last invalidation covering them. */
  readonly stale = new Set<number>();
  readonly syncs: SyncRecord[] = [];
  flushAll = 0;
  mapCalls = 0;
  unmapCalls = 0;
  private readonly tables = new Map<number, { page: number; count: number }>();

  constructor(private readonly kernel: Kernel) {}

  attachDev(): string | null {
    return null;
  }

  mapPages(_d: IommuDomain, iovaPage: number, page: number, pageLog2: number, count: number, prot: number): number {
    this.mapCalls++;
    const n = (count * 2 ** pageLog2) / 4096;
    for (let i = 0; i < n; i++) {
      if (this.mapped.has(iovaPage + i)) throw new Error(`fake IOMMU: IOVA page ${(iovaPage + i).toString(16)} mapped twice`);
    }
    for (let i = 0; i < n; i++) {
      this.mapped.set(iovaPage + i, { page: page + i, prot });
      const region = Math.floor((iovaPage + i) / REGION_PAGES);
      let t = this.tables.get(region);
      if (t === undefined) this.tables.set(region, (t = { page: this.kernel.pages.allocPages(1), count: 0 }));
      t.count++;
    }
    return count;
  }

  unmapPages(_d: IommuDomain, iovaPage: number, pageLog2: number, count: number, gather: IotlbGather): number {
    this.unmapCalls++;
    const n = (count * 2 ** pageLog2) / 4096;
    let done = 0;
    for (; done < n; done++) {
      const p = iovaPage + done;
      if (!this.mapped.delete(p)) break;
      this.stale.add(p);
      const region = Math.floor(p / REGION_PAGES);
      const t = this.tables.get(region);
      if (t !== undefined && --t.count === 0) {
        this.tables.delete(region);
        gather.freelist.push(t.page);
      }
    }
    if (done > 0) gather.add(iovaPage, done, pageLog2);
    return done * 4096;
  }

  /** Like a real driver: invalidates, then frees the page-table pages the unmap emptied. */
  iotlbSync(_d: IommuDomain, gather: IotlbGather): void {
    this.syncs.push({ start: gather.start, end: gather.end, freelist: [...gather.freelist] });
    for (let p = gather.start; p < gather.end; p++) this.stale.delete(p);
    for (const page of gather.freelist) this.kernel.pages.freePages(page);
  }

  flushIotlbAll(): void {
    this.flushAll++;
    this.stale.clear();
  }

  iovaToPhys(_d: IommuDomain, iova: bigint): bigint | null {
    const m = this.mapped.get(Number(iova >> 12n));
    return m === undefined ? null : (BigInt(m.page) << 12n) | (iova & 0xfffn);
  }
}

export interface MachineOptions {
  iommu?: Partial<IommuPolicy>;
  dma?: DmaOptions;
  /** Page sizes of the fake's paging domains (log2 bytes); default 4 KiB and 2 MiB. */
  pageSizes?: number[];
  /** Last IOVA of the fake's paging domains; default 2^39 - 1. */
  apertureEnd?: bigint;
  /** Paging domains of the fake cannot flush everything (lazy falls back to strict). */
  noFlushAll?: boolean;
}

export interface Machine {
  kernel: Kernel;
  dma: IommuDmaApi;
  /** A platform device behind the fake IOMMU. */
  dev: Device;
  /** A platform device no IOMMU translates. */
  plain: Device;
  /** Domain ops of every paging domain the fake allocated, in order. */
  domains: { domain: IommuDomain; ops: FakeDomainOps }[];
  /** The ops of `dev`'s default domain. */
  fake: FakeDomainOps;
  instance: IommuInstance;
  /** Adds a PCI function behind the fake IOMMU (through the host bridge's iommu-map). */
  addPci(devfn: number): Device;
}

function node(name: string, props: Record<string, Uint8Array>): DtNode {
  const n = new DtNode(name);
  for (const [k, v] of Object.entries(props)) n.set(k, v);
  return n;
}

const u32 = (...cells: number[]): Uint8Array => encodeU32s(cells);
const str = (...s: string[]): Uint8Array => encodeStrings(s);

function machineDtb(): Uint8Array {
  const tree = new DeviceTree();
  const root = tree.root;
  root.set('#address-cells', u32(2));
  root.set('#size-cells', u32(2));
  root.set('model', str('dma-api test machine'));
  root.set('compatible', str('test,machine'));
  root.addChild(node('memory@80000000', { device_type: str('memory'), reg: u32(0, 0x8000_0000, 0, Number(RAM_SIZE)) }));
  root.addChild(node('iommu@10000000', { compatible: str('test,fake-iommu'), reg: u32(0, 0x1000_0000, 0, 0x1000), '#iommu-cells': u32(1), phandle: u32(IOMMU_PHANDLE) }));
  root.addChild(node('dma@20000000', { compatible: str('test,dma-master'), reg: u32(0, 0x2000_0000, 0, 0x1000), iommus: u32(IOMMU_PHANDLE, 7) }));
  root.addChild(node('dma@30000000', { compatible: str('test,dma-master'), reg: u32(0, 0x3000_0000, 0, 0x1000) }));
  root.addChild(node('pcie@40000000', { compatible: str('test,pcie-host'), reg: u32(0, 0x4000_0000, 0, 0x1000), 'iommu-map': u32(0, IOMMU_PHANDLE, 0x100, 0x10000) }));
  return writeDtb(tree);
}

export function makeMachine(options: MachineOptions = {}): Machine {
  const memory = new PhysicalMemory();
  const firmware = { dtb: machineDtb(), memory, bus: new SystemBus(memory), clock: new Clock(), hart: new Hart(0, null) };
  const driver: Driver = { name: 'test-dma', compatible: ['test,dma-master'], probe: () => 'bound' };
  const kernel = new Kernel(firmware, { iommu: options.iommu, dma: options.dma, drivers: [driver] });
  const domains: { domain: IommuDomain; ops: FakeDomainOps }[] = [];
  const iommuNode = kernel.dt.find('/iommu@10000000');
  if (iommuNode === undefined) throw new Error('no iommu node');
  const pageSizes = options.pageSizes ?? [12, 21];
  const apertureEnd = options.apertureEnd ?? (1n << 39n) - 1n;
  const instance: IommuInstance = {
    name: 'fake-iommu',
    node: iommuNode,
    device: new Device('10000000.iommu', 'platform', iommuNode),
    ops: {
      ofXlate: () => null,
      probeDevice: () => null,
      domainAllocPaging: (_dev: Device, type: DomainTypeValue) => {
        const ops = new FakeDomainOps(kernel);
        const domainOps: DomainOps = options.noFlushAll === true ? { ...bindAll(ops), flushIotlbAll: undefined } : bindAll(ops);
        const domain = new IommuDomain(type, domainOps, instance, pageSizes, { start: 0n, end: apertureEnd }, `fake-${type}-${domains.length}`);
        domains.push({ domain, ops });
        return domain;
      },
      identityDomain: new IommuDomain('identity', { attachDev: () => null }, null, [], { start: 0n, end: 0n }, 'fake-identity'),
      blockedDomain: new IommuDomain('blocked', { attachDev: () => null }, null, [], { start: 0n, end: 0n }, 'fake-blocked'),
    },
  };
  kernel.iommu.register(instance);
  kernel.boot();
  const dev = kernel.drivers.find((d) => d.name === '20000000.dma');
  const plain = kernel.drivers.find((d) => d.name === '30000000.dma');
  if (dev === undefined || plain === undefined || dev.state !== 'bound' || plain.state !== 'bound') throw new Error('test devices did not bind');
  const bridge = kernel.dt.find('/pcie@40000000');
  if (bridge === undefined) throw new Error('no host bridge');
  const addPci = (devfn: number): Device => {
    const f = new Device(`0000:00:${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`, 'pci', null, {
      segment: 0,
      bus: 0,
      devfn,
      vendor: 0x1234,
      device: 0x5678,
      classCode: 0,
      bars: [],
      hostBridge: bridge,
    });
    const r = kernel.iommu.configure(f);
    if (r !== true) throw new Error(`configure failed: ${JSON.stringify(r)}`);
    return f;
  };
  const fake = domains.find((d) => d.domain === kernel.iommu.domainOf(dev))?.ops ?? new FakeDomainOps(kernel);
  return { kernel, dma: kernel.dma as IommuDmaApi, dev, plain, domains, fake, instance, addPci };
}

/** The ops as a plain object of bound methods (so they can be overridden per domain). */
function bindAll(ops: FakeDomainOps): DomainOps {
  return {
    attachDev: () => ops.attachDev(),
    mapPages: (d, i, p, l, c, prot) => ops.mapPages(d, i, p, l, c, prot),
    unmapPages: (d, i, l, c, g) => ops.unmapPages(d, i, l, c, g),
    iotlbSync: (d, g) => ops.iotlbSync(d, g),
    flushIotlbAll: () => ops.flushIotlbAll(),
    iovaToPhys: (d, iova) => ops.iovaToPhys(d, iova),
  };
}
