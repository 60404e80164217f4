// A Xen-style hypervisor on Arm that passes devices through to guests with the IOMMU sharing
// each domain's P2M (xen/arch/arm, xen/drivers/passthrough). It boots from the same firmware a
// kernel does (device tree, CPU view of memory and registers, clock, the CPU's interrupt pins)
// and reuses the kernel's platform code for what Xen on Arm also shares with Linux: reading the
// device tree, RAM (its heap), interrupt controllers and their drivers (`irqchips`, the GIC
// drivers by default: pluggable). Everything IOMMU is its own: the framework (iommu/), the
// IOMMU drivers (`iommuDrivers`, the IPMMU-VMSA by default) and the domains (domain/).
//
// Boot: the system domain dom_io (quarantine) is created; the device tree is walked in order,
// IOMMU nodes probed and devices with `iommus` added to their IOMMU (a probe or an add that
// must wait is retried when an IOMMU registers); then dom0, the hardware domain, is built
// direct-mapped (gfn = mfn) with every device the hypervisor does not own and that is not
// marked `xen,passthrough`: those are assigned to dom0, and their registers mapped into its P2M.
// Guests are created with RAM at GUEST_RAM0_BASE and their passthrough devices assigned (their
// registers mapped 1:1), destroyed (devices deassigned into quarantine before any memory is
// freed, the IOMMU context given back, P2M and RAM freed) and rebooted (destroyed and created
// again from the same configuration, with a new domain id as Xen gives).
//
// Interrupts are taken at safe points: `poll()` (after DMA, between operations).

import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import type { Driver } from '../../os/driver-model/device.js';
import { gicV2Driver } from '../../os/drivers/irqchip/gic-v2.js';
import { gicV3Driver } from '../../os/drivers/irqchip/gic-v3.js';
import type { Firmware } from '../../os/kernel/firmware.js';
import type { IoMem } from '../../os/kernel/iomem.js';
import type { InterruptSubsystem } from '../../os/kernel/irq.js';
import { Kernel } from '../../os/kernel/kernel.js';
import type { KernelLog } from '../../os/kernel/log.js';
import type { PageAllocator } from '../../os/kernel/page-allocator.js';
import { regions } from '../../os/of/address.js';
import type { Clock } from '../../sim/clock.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { DOMID_IO, GUEST_RAM0_BASE, XenDomain, type DomainConfig, type DomainKind, type RamExtent } from './domain/domain.js';
import { P2mType, type P2mTypeValue } from './domain/p2m.js';
import { XenError } from './errors.js';
import { isEnabled, XenIommu } from './iommu/framework.js';
import type { DtDevice, XenIommuDriver, XenIommuFault, XenIommuInstanceReport } from './iommu/types.js';
import { ipmmuVmsaXenDriver } from './ipmmu-vmsa/driver.js';

export interface XenOptions {
  /** Interrupt-controller drivers (default the GICv2 and GICv3 drivers). */
  irqchips?: readonly Driver[];
  /** IOMMU drivers (default the IPMMU-VMSA driver). */
  iommuDrivers?: readonly XenIommuDriver[];
  /** dom0's RAM in MiB (default 16). */
  dom0MemoryMiB?: number;
  /** Quarantine devices no domain owns in dom_io (default true). */
  quarantine?: boolean;
  /** IPA size of P2Ms (default 40; an IOMMU driver may restrict it further). */
  p2mIpaBits?: number;
  /** Machine (PA) size (default 40, R-Car). */
  paBits?: number;
}

/** Nodes that are never devices of a domain. */
const NOT_DEVICES = ['cpus', 'chosen', 'aliases', 'reserved-memory', 'memory'];
const SIMPLE_BUSES = ['simple-bus', 'simple-mfd', 'arm,amba-bus'];
const MIB_PAGES = 256;

export interface XenDomainReport {
  id: number;
  name: string;
  kind: DomainKind;
  state: string;
  ramPages: number;
  devices: string[];
  /** The IOMMU contexts it holds: root IOMMU and context number. */
  contexts: { iommu: string; context: number }[];
  iommuFlushes: number;
  iommuFaults: number;
  p2mTablePages: number;
  p2mSplits: number;
}

export interface XenStatistics {
  domains: XenDomainReport[];
  iommu: {
    driver: string | null;
    instances: XenIommuInstanceReport[];
    assignments: number;
    deassignments: number;
    quarantined: number;
    flushes: number;
    faults: number;
    deferrals: number;
  };
  heap: { totalPages: number; allocatedPages: number; freePages: number };
}

export class Xen {
  /** The platform layer shared with the kernel: device tree, heap, interrupt controllers. */
  readonly host: Kernel;
  readonly dt: DeviceTree;
  readonly log: KernelLog;
  readonly clock: Clock;
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  /** Machine frames for P2M tables and domain RAM. */
  readonly heap: PageAllocator;
  readonly irq: InterruptSubsystem;
  readonly iommu: XenIommu;
  readonly quarantine: boolean;
  readonly paBits: number;
  readonly domains = new Map<number, XenDomain>();
  /** The quarantine domain (DOMID_IO). */
  readonly domIo: XenDomain;
  dom0: XenDomain | null = null;
  /** IPA size of new P2Ms (p2m_ipa_bits). */
  p2mIpaBits: number;
  private readonly dom0MemoryMiB: number;
  private nextDomainId = 1;
  private booted = false;

  constructor(firmware: Firmware, options: XenOptions = {}) {
    this.host = new Kernel(firmware, { drivers: options.irqchips ?? [gicV2Driver, gicV3Driver] });
    this.dt = this.host.dt;
    this.log = this.host.log;
    this.clock = this.host.clock;
    this.memory = this.host.memory;
    this.bus = this.host.bus;
    this.heap = this.host.pages;
    this.irq = this.host.irq;
    this.quarantine = options.quarantine ?? true;
    this.paBits = options.paBits ?? 40;
    this.p2mIpaBits = options.p2mIpaBits ?? 40;
    this.dom0MemoryMiB = options.dom0MemoryMiB ?? 16;
    this.iommu = new XenIommu(this, options.iommuDrivers ?? [ipmmuVmsaXenDriver]);
    this.domIo = this.newDomain(DOMID_IO, 'dom_io', 'system', { name: 'dom_io' });
  }

  /** Probes interrupt controllers and IOMMUs, adds devices to their IOMMU and builds dom0. */
  boot(): void {
    if (this.booted) throw new XenError('the hypervisor has booted already');
    this.booted = true;
    this.host.boot();
    this.log.info('xen', `Xen on ${this.dt.root.string('model') ?? 'an unnamed machine'}: ${this.heap.stats.totalPages} pages of RAM, P2M IPA ${this.p2mIpaBits} bits`);
    for (const node of this.deviceNodes()) {
      if (this.iommu.claims(node)) this.iommu.probe(node);
      else if (node.has('iommus')) this.iommu.addDtDevice(node);
    }
    for (const w of this.iommu.waiting) this.log.warn('iommu', `${w.node.path}: still waiting after boot: ${w.reason}`);
    this.buildDom0();
  }

  /** Takes pending interrupts (IOMMU faults); returns how many were handled. */
  poll(): number {
    return this.host.poll();
  }

  /** Maps device registers for the hypervisor's drivers. */
  ioremap(base: bigint, size: bigint): IoMem {
    return this.host.ioremap(base, size);
  }

  /** An IOMMU can translate IPAs of `bits` bits at most (p2m_restrict_ipa_bits). */
  restrictP2mIpaBits(bits: number): void {
    if (bits >= this.p2mIpaBits) return;
    const wider = [...this.domains.values()].filter((d) => d.p2m.ipaBits > bits);
    if (wider.length > 0) this.log.warn('xen', `P2M IPA restricted to ${bits} bits after ${wider.map((d) => d.label).join(', ')} were created wider`);
    this.p2mIpaBits = bits;
    this.log.info('xen', `P2M IPA restricted to ${bits} bits`);
  }

  /** The hypervisor's record of the device at `path`; XenError when no node is there. */
  device(path: string): DtDevice {
    const node = this.dt.find(path);
    if (node === undefined) throw new XenError(`no device-tree node ${path}`);
    return this.iommu.device(node);
  }

  /** Creates a guest with its RAM and passthrough devices (XEN_DOMCTL_createdomain, then assign_device for each). */
  createDomain(config: DomainConfig): XenDomain {
    this.requireBooted();
    const d = this.newDomain(this.nextDomainId++, config.name, 'guest', config);
    try {
      this.populateRam(d, Number(GUEST_RAM0_BASE >> 12n), (config.memoryMiB ?? 16) * MIB_PAGES, false);
      for (const path of config.devices ?? []) this.assignDevice(d, path);
    } catch (e) {
      this.destroyDomain(d);
      throw e;
    }
    this.log.info('xen', `${d.label}: created with ${d.ramPages} pages of RAM${d.devices.size > 0 ? `, devices ${[...d.devices].map((x) => x.path).join(', ')}` : ''}`);
    return d;
  }

  /**
   * Destroys a domain: its CPU stops, its devices are deassigned (into quarantine: their DMA
   * faults from now on), its IOMMU context is given back, then its P2M and RAM are freed.
   */
  destroyDomain(d: XenDomain): void {
    if (d.state === 'dead') return;
    if (d.kind === 'system') throw new XenError('dom_io cannot be destroyed');
    d.state = 'dying';
    for (const dev of [...d.devices]) this.iommu.deassign(d, dev);
    this.iommu.teardown(d);
    d.p2m.free();
    for (const e of d.ram) this.heap.freePages(e.mfn, e.pages);
    d.ram.length = 0;
    d.state = 'dead';
    this.domains.delete(d.id);
    if (d === this.dom0) this.dom0 = null;
    this.log.info('xen', `${d.label}: destroyed`);
  }

  /** Destroys a guest and creates it again from its configuration (a new domain id). */
  rebootDomain(d: XenDomain): XenDomain {
    if (d.kind !== 'guest') throw new XenError(`${d.label} is not a guest: only guests reboot`);
    const config = d.config;
    this.destroyDomain(d);
    return this.createDomain(config);
  }

  /**
   * Backs `pages` more frames of `d`'s guest-physical space from `gfn` with RAM from the heap
   * (XENMEM_populate_physmap), mapped with `type`; a frame already mapped there is a XenError.
   */
  populatePhysmap(d: XenDomain, gfn: number, pages: number, type: P2mTypeValue = P2mType.RamRw): void {
    this.requireRunning(d);
    for (let i = 0; i < pages; i++) if (d.p2m.lookup(gfn + i) !== null) throw new XenError(`${d.label}: gfn 0x${(gfn + i).toString(16)} is already populated`);
    this.populateRam(d, gfn, pages, false, type);
    this.log.info('xen', `${d.label}: populated ${pages} pages at gfn 0x${gfn.toString(16)} (${type})`);
  }

  /**
   * Gives back the RAM frames of `d` in [gfn, gfn + pages) (XENMEM_decrease_reservation): they
   * are unmapped from the P2M (which flushes the IOMMU TLBs) before the heap gets them back.
   * Frames that are not RAM of `d` are skipped. Returns the frames released.
   */
  decreaseReservation(d: XenDomain, gfn: number, pages: number): number {
    this.requireRunning(d);
    const end = gfn + pages;
    let released = 0;
    const kept: RamExtent[] = [];
    for (const e of d.ram) {
      const from = Math.max(gfn, e.gfn);
      const to = Math.min(end, e.gfn + e.pages);
      if (from >= to) {
        kept.push(e);
        continue;
      }
      d.p2m.unmap(from, to - from);
      this.heap.freePages(e.mfn + (from - e.gfn), to - from);
      released += to - from;
      if (from > e.gfn) kept.push({ gfn: e.gfn, mfn: e.mfn, pages: from - e.gfn });
      if (to < e.gfn + e.pages) kept.push({ gfn: to, mfn: e.mfn + (to - e.gfn), pages: e.gfn + e.pages - to });
    }
    d.ram.splice(0, d.ram.length, ...kept);
    this.log.info('xen', `${d.label}: released ${released} pages at gfn 0x${gfn.toString(16)}`);
    return released;
  }

  /** Passes a device through to `d` (XEN_DOMCTL_assign_device): IOMMU assignment, then its registers mapped 1:1. */
  assignDevice(d: XenDomain, path: string): void {
    this.requireBooted();
    const dev = this.device(path);
    if (!dev.protected) {
      const r = this.iommu.addDtDevice(dev.node);
      if (r !== 'added') throw new XenError(`${path} cannot be added to an IOMMU: ${r === 'no-iommu' ? 'it has no usable iommus property' : 'defer' in r ? r.defer : r.error}`);
    }
    this.iommu.assign(d, dev);
    this.mapIomem(d, dev.node);
  }

  /** Takes a device back from `d` (XEN_DOMCTL_deassign_device): registers unmapped, then IOMMU deassignment. */
  deassignDevice(d: XenDomain, path: string): void {
    const dev = this.device(path);
    if (dev.domain !== d) throw new XenError(`${path} is not assigned to ${d.label}`);
    const windows = d.iomem.get(dev.node) ?? [];
    for (const w of windows) d.p2m.unmap(w.gfn, w.pages);
    d.iomem.delete(dev.node);
    this.iommu.deassign(d, dev);
  }

  /** Faults the IOMMU reported, oldest first. */
  get faults(): readonly XenIommuFault[] {
    return this.iommu.faults;
  }

  statistics(): XenStatistics {
    const instances = this.iommu.ops?.report() ?? [];
    const domains = [...this.domains.values()].map((d) => ({
      id: d.id,
      name: d.name,
      kind: d.kind,
      state: d.state,
      ramPages: d.ramPages,
      devices: [...d.devices].map((x) => x.path),
      contexts: instances.flatMap((i) => i.contexts.filter((c) => c.domain === d.label).map((c) => ({ iommu: i.path, context: c.context }))),
      iommuFlushes: d.counters.iommuFlushes,
      iommuFaults: d.counters.iommuFaults,
      p2mTablePages: d.p2m.tablePages,
      p2mSplits: d.p2m.counters.splits,
    }));
    const c = this.iommu.counters;
    return {
      domains,
      iommu: { driver: this.iommu.ops?.name ?? null, instances, assignments: c.assignments, deassignments: c.deassignments, quarantined: c.quarantined, flushes: c.flushes, faults: c.faults, deferrals: c.deferrals },
      heap: this.heap.stats,
    };
  }

  // ---- internals ------------------------------------------------------------------------------

  private newDomain(id: number, name: string, kind: DomainKind, config: DomainConfig): XenDomain {
    const p2m = { memory: this.memory, heap: this.heap, ipaBits: this.p2mIpaBits, paBits: this.paBits };
    const d = new XenDomain(id, name, kind, config, p2m, (x) => this.iommu.iotlbFlush(x), this.bus);
    this.domains.set(id, d);
    return d;
  }

  /** dom0: direct-mapped RAM and every device the hypervisor neither owns nor keeps for passthrough. */
  private buildDom0(): void {
    const d = this.newDomain(0, 'Domain-0', 'hardware', { name: 'Domain-0', memoryMiB: this.dom0MemoryMiB });
    this.dom0 = d;
    this.populateRam(d, -1, this.dom0MemoryMiB * MIB_PAGES, true);
    for (const node of this.deviceNodes()) {
      if (this.ownedByXen(node) || node.has('xen,passthrough')) continue;
      const dev = this.iommu.device(node);
      if (dev.protected) this.iommu.assign(d, dev);
      this.mapIomem(d, node);
    }
    this.log.info('xen', `${d.label}: built with ${d.ramPages} pages of RAM (1:1), ${d.devices.size} devices behind an IOMMU`);
  }

  /**
   * Backs `pages` of RAM from the heap in 2 MiB runs where it can (superpage mappings), 4 KiB
   * pages otherwise; at `gfn` onwards, or at the machine frames themselves (direct map).
   */
  private populateRam(d: XenDomain, gfn: number, pages: number, direct: boolean, type: P2mTypeValue = P2mType.RamRw): void {
    let done = 0;
    while (done < pages) {
      const run = Math.min(512, pages - done);
      let mfn: number;
      let got = run;
      try {
        mfn = this.heap.allocPages(run, run === 512 ? 512 : 1);
      } catch {
        try {
          mfn = this.heap.allocPages(1, 1);
          got = 1;
        } catch {
          throw new XenError(`${d.label}: out of memory after ${done} of ${pages} pages of RAM`);
        }
      }
      const at = direct ? mfn : gfn + done;
      d.ram.push({ gfn: at, mfn, pages: got });
      d.p2m.map(at, mfn, got, type);
      done += got;
    }
  }

  /** Maps a device's register windows 1:1 into `d`'s P2M (iomem permission, p2m_mmio_direct). */
  private mapIomem(d: XenDomain, node: DtNode): void {
    if (d.iomem.has(node)) return;
    const windows: { gfn: number; pages: number }[] = [];
    for (const r of regions(node)) {
      const first = Number(r.base >> 12n);
      const pages = Number((r.base + r.size + 0xfffn) >> 12n) - first;
      if (pages <= 0) continue;
      d.p2m.map(first, first, pages, P2mType.MmioDirect);
      windows.push({ gfn: first, pages });
    }
    d.iomem.set(node, windows);
  }

  /** Nodes the hypervisor keeps for itself: IOMMUs, interrupt controllers, the CPUs' timer. */
  private ownedByXen(node: DtNode): boolean {
    if (this.iommu.claims(node)) return true;
    if (node.has('interrupt-controller')) return true;
    const bound = this.host.drivers.find((dev) => dev.node === node);
    return bound !== undefined && bound.state === 'bound';
  }

  /** Enabled device nodes in tree order: children of the root and of simple buses. */
  private deviceNodes(): DtNode[] {
    const out: DtNode[] = [];
    const visit = (bus: DtNode): void => {
      for (const node of bus.children) {
        if (!isEnabled(node) || !node.has('compatible')) continue;
        if (node.string('device_type') === 'memory' || NOT_DEVICES.includes(node.baseName)) continue;
        out.push(node);
        if ((node.strings('compatible') ?? []).some((c) => SIMPLE_BUSES.includes(c))) visit(node);
      }
    };
    visit(this.dt.root);
    return out;
  }

  private requireRunning(d: XenDomain): void {
    this.requireBooted();
    if (d.state !== 'running') throw new XenError(`${d.label} is ${d.state}: its memory cannot change`);
  }

  private requireBooted(): void {
    if (!this.booted) throw new XenError('the hypervisor has not booted');
  }
}
