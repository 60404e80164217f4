// Running a hypervisor scenario's steps on a machine that booted Xen. Steps act as the
// hypervisor's toolstack does (create, destroy and reboot guests, assign devices, populate and
// change their memory) and as the guests' own kernels would (allocate guest-physical buffers,
// write them with the guest's CPU, program their passed-through DMA engines through the
// registers the P2M maps). Every guest access goes through its P2M; every DMA through the
// IPMMU. Faults are what the hypervisor decoded and attributed (domain, candidate devices).
//
// Names: guests by the scenario's name (`dom0` is the hardware domain); a reboot keeps the
// name and gets a new domain. Buffers belong to one domain; after it is destroyed or rebooted
// their names still give the addresses they had, so that a scenario can aim a device at them.

import { DOMID_IO, GuestMemoryFault, P2mType, type DtDevice, type Xen, type XenDomain, type XenIommuFault } from '../../hyp/xen/index.js';
import type { DtNode } from '../../formats/devicetree/tree.js';
import { regions } from '../../os/of/address.js';
import type { Machine, MachineDmaEngine } from '../../platform/machine/machine.js';
import { noDma, type HypervisorInput } from '../../report/hypervisor.js';
import type { DeviceReport, DmaCounts, WorkloadReport } from '../../report/types.js';
import { hex } from '../../sim/u64.js';
import { failStep } from '../errors.js';
import { expectFaultCount, Expectations } from '../expectations.js';
import { dataStream, type ByteStream } from '../memory.js';
import { formatSize, type AddressExpr, type DataSpec } from '../values.js';
import { busRegisters, EngineDriver, guestRegisters, type EngineOutcome } from './engine-driver.js';
import { compareStreamWith, GuestAllocator, machineView, viewStream, writeStreamTo, type CpuView } from './guest-memory.js';
import { DOM0, NOBODY, QUARANTINE, type FaultKind, type XenAddress, type XenDeviceCheck, type XenFaultsCheck, type XenMemoryCheck, type XenStep } from './schema.js';
import { runGuestWorkload } from './workload.js';

/** A domain steps act in: a guest by its scenario name, or dom0. */
export interface GuestRecord {
  name: string;
  domain: XenDomain;
  /** Its kernel's page allocator over its RAM. */
  allocator: GuestAllocator;
}

/** A buffer a domain allocated in its RAM. */
export interface GuestBuffer {
  name: string;
  domain: XenDomain;
  gpa: bigint;
  size: bigint;
  /** The machine frame of each of its pages when it was allocated. */
  frames: number[];
}

export interface XenSessionOptions {
  machine: Machine;
  xen: Xen;
  /** The default seed of workloads. */
  seed: bigint;
  /** Workload progress. */
  progress: (step: XenStep, done: number, total: number) => void;
}

/** describeImstr's words for each fault kind of the schema. */
const KIND_WORDS: Readonly<Record<FaultKind, string>> = {
  translation: 'translation fault',
  permission: 'permission fault',
  'walk-abort': 'page table walk abort',
  'multiple-hits': 'multiple TLB hits',
};

export function describeXenFault(f: XenIommuFault): string {
  const who = f.devices.length === 0 ? 'no device' : f.devices.length === 1 ? f.devices[0] : `one of ${f.devices.join(', ')}`;
  return `${f.kinds.join(', ')} at IPA ${hex(f.address)} in ${f.domain?.label ?? 'no domain'} (context ${f.context} of ${f.iommu}; ${who})`;
}

export class XenSession {
  readonly machine: Machine;
  readonly xen: Xen;
  readonly guests = new Map<string, GuestRecord>();
  readonly buffers = new Map<string, GuestBuffer>();
  /** Every domain of the run, in the order it appeared. */
  readonly domains: XenDomain[] = [];
  /** Every fault of the run, in order. */
  readonly faults: XenIommuFault[] = [];
  readonly workloads: WorkloadReport[] = [];
  readonly expectations = new Expectations();
  readonly driver: EngineDriver;
  private readonly dma = new Map<XenDomain, DmaCounts>();
  private readonly deviceDma = new Map<string, DmaCounts>();
  private readonly contextPeaks = new Map<string, number>();
  /** Faults since the last `expect faults` check. */
  private window: XenIommuFault[] = [];

  constructor(private readonly options: XenSessionOptions) {
    this.machine = options.machine;
    this.xen = options.xen;
    this.xen.iommu.faultObservers.push((f) => {
      this.faults.push(f);
      this.window.push(f);
    });
    const dom0 = this.xen.dom0;
    if (dom0 !== null) {
      this.domains.push(dom0);
      this.guests.set(DOM0, { name: DOM0, domain: dom0, allocator: new GuestAllocator(dom0.ram) });
    }
    this.driver = new EngineDriver(this.xen.clock, () => this.xen.poll());
    this.sampleContexts();
  }

  /** Runs one step; returns its one-line summary. */
  execute(step: XenStep): string {
    const xen = this.xen;
    switch (step.kind) {
      case 'guest': {
        const existing = this.guests.get(step.name);
        if (existing !== undefined && existing.domain.state !== 'dead') failStep(`guest ${step.name} exists already (${existing.domain.label})`);
        const devices = step.devices.map((ref) => this.node(ref).path);
        const d = xen.createDomain({ name: step.name, memoryMiB: step.memoryMiB, devices });
        this.addGuest(step.name, d);
        return `${d.label}: ${step.memoryMiB} MiB of RAM${devices.length === 0 ? '' : `, ${devices.join(', ')} passed through`}${this.contextWords(d)}`;
      }
      case 'assign': {
        const g = this.guest(step.guest);
        const node = this.node(step.device);
        xen.assignDevice(g.domain, node.path);
        return `${node.path} assigned to ${g.domain.label}${this.contextWords(g.domain)}`;
      }
      case 'deassign': {
        const g = this.guest(step.guest);
        const node = this.node(step.device);
        xen.deassignDevice(g.domain, node.path);
        return `${node.path} taken from ${g.domain.label}: ${this.ownerWords(xen.device(node.path))}`;
      }
      case 'alloc':
        return this.alloc(step);
      case 'write': {
        const g = this.guest(step.guest);
        const address = this.resolve(step.address, g);
        writeStreamTo(g.domain.memory, address, Number(step.length), this.stream(step.data, step.length));
        return `${g.domain.label}'s CPU wrote ${formatSize(step.length)} at GPA ${hex(address)}`;
      }
      case 'populate': {
        const g = this.guest(step.guest);
        const gpa = this.frameAddress(step.gpa, g);
        xen.populatePhysmap(g.domain, Number(gpa >> 12n), Number(step.size >> 12n), step.access === 'rw' ? P2mType.RamRw : P2mType.RamRo);
        return `${g.domain.label}: ${formatSize(step.size)} of RAM at GPA ${hex(gpa)} (${step.access})`;
      }
      case 'protect': {
        const g = this.guest(step.guest);
        const gpa = this.frameAddress(step.gpa, g);
        const first = Number(gpa >> 12n);
        const count = Number(step.size >> 12n);
        for (let i = 0; i < count; i++) {
          const e = g.domain.p2m.lookup(first + i);
          if (e === null || e.type === P2mType.MmioDirect) failStep(`GPA ${hex(BigInt(first + i) << 12n)} of ${g.domain.label} is ${e === null ? 'not mapped' : 'device registers'}, not RAM`);
        }
        g.domain.p2m.setType(first, count, step.access === 'rw' ? P2mType.RamRw : P2mType.RamRo);
        return `${g.domain.label}: ${formatSize(step.size)} at GPA ${hex(gpa)} now ${step.access === 'ro' ? 'read-only' : 'read/write'}`;
      }
      case 'release': {
        const g = this.guest(step.guest);
        const gpa = this.frameAddress(step.gpa, g);
        const released = xen.decreaseReservation(g.domain, Number(gpa >> 12n), Number(step.size >> 12n));
        return `${g.domain.label}: ${formatSize(BigInt(released) << 12n)} of RAM at GPA ${hex(gpa)} given back`;
      }
      case 'dma':
        return this.dmaStep(step);
      case 'workload':
        return this.workload(step);
      case 'destroy': {
        const g = this.guest(step.guest);
        const devices = [...g.domain.devices].map((d) => d.path);
        xen.destroyDomain(g.domain);
        return `${g.domain.label} destroyed${devices.length === 0 ? '' : `; ${devices.join(', ')} ${xen.quarantine ? 'quarantined' : 'released'}`}`;
      }
      case 'reboot': {
        const g = this.guest(step.guest);
        const old = g.domain.label;
        const d = xen.rebootDomain(g.domain);
        this.addGuest(step.guest, d);
        return `${old} destroyed; ${d.label} created from the same configuration${this.contextWords(d)}`;
      }
      case 'advance':
        xen.clock.advance(step.cycles);
        return `${step.cycles} cycles passed`;
      case 'expect':
        return this.expect(step.memory, step.faults, step.device);
    }
  }

  /** After each step: interrupts taken, context use sampled. */
  afterStep(): void {
    this.xen.poll();
    this.sampleContexts();
  }

  /** What the report needs of the run. */
  reportInput(): HypervisorInput & { devices: DeviceReport[] } {
    return {
      xen: this.xen,
      domains: [...this.domains, this.xen.domIo],
      dma: this.dma,
      contextPeaks: this.contextPeaks,
      faults: this.faults,
      devices: [...this.deviceDma].map(([name, c]) => ({ name, ...c })),
    };
  }

  // ---- names ---------------------------------------------------------------------------

  /** A running domain by its scenario name. */
  guest(name: string): GuestRecord {
    const g = this.guests.get(name);
    if (g === undefined) {
      const known = [...this.guests.keys()];
      return failStep(`unknown guest "${name}"; ${known.length === 0 ? 'no guest step has created one' : `guests: ${known.join(', ')}`}`);
    }
    if (g.domain.state !== 'running') failStep(`guest ${name} (${g.domain.label}) was destroyed`);
    return g;
  }

  /** A device-tree node by path or label. */
  node(ref: string): DtNode {
    const node = ref.startsWith('/') ? this.machine.tree.find(ref) : this.machine.tree.byLabel(ref);
    if (node === undefined) failStep(`unknown device "${ref}"; DMA engines: ${this.machine.dmaEngines.map((e) => deviceName(e.node)).join(', ')}`);
    return node;
  }

  engine(ref: string): MachineDmaEngine {
    const node = this.node(ref);
    const e = this.machine.dmaEngines.find((x) => x.node === node);
    if (e === undefined) failStep(`${node.path} is not a DMA engine of this machine; DMA engines: ${this.machine.dmaEngines.map((x) => deviceName(x.node)).join(', ')}`);
    return e;
  }

  /**
   * An address as `actor` (a domain's CPU or its device; null: a device on its own) uses it:
   * a number as is; a buffer's name: its guest-physical address (a buffer of `actor`'s own, or
   * any buffer for a device on its own), or with `machine:` where the buffer is in machine
   * memory.
   */
  resolve(a: XenAddress, actor: GuestRecord | null): bigint {
    const e = a.expr;
    if (e.kind === 'number') return e.value;
    const b = this.buffer(e);
    if (a.space === 'machine') {
      if (e.offset < 0n || e.offset >= b.size) failStep(`${e.text}: buffer ${b.name} is ${formatSize(b.size)}; machine addresses are known inside it only`);
      return (BigInt(b.frames[Number(e.offset >> 12n)]) << 12n) | (e.offset & 0xfffn);
    }
    if (actor !== null && b.domain !== actor.domain) {
      const whose = b.domain.state === 'dead' ? `of ${b.domain.label}, which is gone` : `of ${b.domain.label}`;
      failStep(`${b.name} is a buffer ${whose}; ${actor.domain.label} uses its own guest-physical addresses: write a number, or machine:${e.text} for where that buffer is in machine memory`);
    }
    const v = b.gpa + e.offset;
    if (v < 0n) failStep(`${e.text} is below address 0`);
    return v;
  }

  /** A guest-physical address that starts a 4 KiB frame. */
  private frameAddress(a: AddressExpr, g: GuestRecord): bigint {
    const v = this.resolve({ space: 'guest', expr: a }, g);
    if ((v & 0xfffn) !== 0n) failStep(`GPA ${hex(v)} is not 4 KiB-aligned: the P2M maps whole frames`);
    return v;
  }

  private buffer(e: Extract<AddressExpr, { kind: 'symbol' }>): GuestBuffer {
    const b = this.buffers.get(e.name);
    if (b === undefined) failStep(`unknown buffer "${e.name}"${this.buffers.size === 0 ? '' : `; buffers: ${[...this.buffers.keys()].join(', ')}`}`);
    return b;
  }

  private addGuest(name: string, d: XenDomain): void {
    this.guests.set(name, { name, domain: d, allocator: new GuestAllocator(d.ram) });
    this.domains.push(d);
  }

  /** The byte stream of a data specification. */
  private stream(spec: DataSpec, length: bigint): ByteStream {
    return dataStream(spec, (spec) => {
      const b = this.buffer({ kind: 'symbol', name: spec.name, offset: spec.offset, text: spec.text });
      if (b.domain.state !== 'running') failStep(`${spec.text}: the domain of buffer ${b.name}, ${b.domain.label}, is gone`);
      if (spec.offset < 0n || spec.offset + length > b.size) failStep(`${spec.text}: buffer ${b.name} holds ${formatSize(b.size)}; ${formatSize(length)} from offset ${hex(spec.offset)} do not fit`);
      return viewStream(b.domain.memory, b.gpa + spec.offset);
    });
  }

  // ---- steps ---------------------------------------------------------------------------

  private alloc(step: Extract<XenStep, { kind: 'alloc' }>): string {
    const g = this.guest(step.guest);
    if (this.buffers.has(step.name)) failStep(`the name "${step.name}" is already used by a buffer`);
    const pages = Math.ceil(Number(step.size) / 4096);
    const gfn = g.allocator.alloc(pages);
    if (gfn === null) failStep(`${g.domain.label} has no ${pages} free contiguous pages of RAM (${g.allocator.freePages} pages free)`);
    const gpa = BigInt(gfn) << 12n;
    const frames: number[] = [];
    for (let i = 0; i < pages; i++) frames.push(g.domain.p2m.lookup(gfn + i)?.mfn ?? -1);
    this.buffers.set(step.name, { name: step.name, domain: g.domain, gpa, size: step.size, frames });
    writeStreamTo(g.domain.memory, gpa, Number(step.size), this.stream(step.fill, step.size));
    return `${step.name}: ${formatSize(step.size)} at GPA ${hex(gpa)} of ${g.domain.label} (machine ${hex(BigInt(frames[0]) << 12n)})`;
  }

  private dmaStep(step: Extract<XenStep, { kind: 'dma' }>): string {
    const engine = this.engine(step.device);
    const actor = step.guest === null ? null : this.guest(step.guest);
    const src = step.src === null ? 0n : this.resolve(step.src, actor);
    const dst = step.dst === null ? 0n : this.resolve(step.dst, actor);
    const length = Number(step.length);
    const base = regions(engine.node)[0].base;
    const regs = actor === null ? busRegisters(this.machine.bus, base) : guestRegisters(actor.domain, base);
    const faultsBefore = this.faults.length;
    let r: EngineOutcome;
    try {
      r = this.driver.transfer(regs, { op: step.op, src, dst, length, pattern: step.pattern });
    } catch (e) {
      if (e instanceof GuestMemoryFault && actor !== null) failStep(`${actor.domain.label}'s driver cannot reach the registers of ${engine.node.path} (${this.ownerWords(this.xen.device(engine.node.path))}): ${e.message}`);
      throw e;
    }
    this.account(actor?.domain ?? null, engine, r);
    this.xen.poll();
    this.expectations.checked++;
    const what = step.op === 'copy' ? `copy of ${formatSize(length)} ${hex(src)} -> ${hex(dst)}` : step.op === 'fill' ? `fill of ${formatSize(length)} at ${hex(dst)}` : `read of ${formatSize(length)} at ${hex(src)}`;
    const by = actor === null ? `${engine.node.path} on its own` : `${engine.node.path} for ${actor.domain.label}`;
    const newFaults = this.faults.slice(faultsBefore);
    const iommuSays = newFaults.length === 0 ? '' : `; IPMMU: ${describeXenFault(newFaults[0])}`;
    if (r.ok) {
      if (step.expect === 'fault') this.expectations.fail(`${what} by ${by}: expected a fault, but the transfer completed (${formatSize(r.bytes)})${iommuSays}`);
      this.expectations.passed++;
      return `${by}: ${what} completed`;
    }
    const failure = `${r.error} at DMA address ${hex(r.errorAddress)} (${r.write ? 'write' : 'read'}) after ${r.bytes} bytes${iommuSays}`;
    if (step.expect === 'ok') this.expectations.fail(`${what} by ${by} failed: ${failure}`);
    this.expectations.passed++;
    return `${by}: ${what} faulted as expected: ${failure}`;
  }

  private workload(step: Extract<XenStep, { kind: 'workload' }>): string {
    const g = this.guest(step.guest);
    const engine = this.engine(step.device);
    if (this.xen.device(engine.node.path).domain !== g.domain) failStep(`${engine.node.path} is not assigned to ${g.domain.label} (${this.ownerWords(this.xen.device(engine.node.path))})`);
    const report = runGuestWorkload(step, {
      machine: this.machine,
      xen: this.xen,
      guest: g,
      engine,
      regs: guestRegisters(g.domain, regions(engine.node)[0].base),
      driver: this.driver,
      seed: step.seed ?? this.options.seed,
      account: (r) => this.account(g.domain, engine, r),
      progress: (done, total) => this.options.progress(step, done, total),
      fail: failStep,
    });
    this.workloads.push(report);
    return `${engine.node.path} in ${g.domain.label}: ${report.buffers} ${step.op} buffers (${formatSize(report.bytes)}), ${report.verified} verified, ${report.invalidationCommands} IPMMU flushes`;
  }

  private account(domain: XenDomain | null, engine: MachineDmaEngine, r: EngineOutcome): void {
    const add = (c: DmaCounts): void => {
      if (r.ok) {
        c.transfers++;
        c.bytes += r.bytes;
      } else if (r.error === 'timeout') c.timeouts++;
      else c.errors++;
    };
    if (domain !== null) {
      const c = this.dma.get(domain) ?? noDma();
      this.dma.set(domain, c);
      add(c);
    }
    const path = engine.node.path;
    const d = this.deviceDma.get(path) ?? noDma();
    this.deviceDma.set(path, d);
    add(d);
  }

  // ---- expectations ----------------------------------------------------------------------

  private expect(memory: XenMemoryCheck | null, faults: XenFaultsCheck | null, device: XenDeviceCheck | null): string {
    const said: string[] = [];
    if (memory !== null) said.push(this.expectMemory(memory));
    if (faults !== null) said.push(this.expectFaults(faults));
    if (device !== null) said.push(this.expectDevice(device));
    return said.join('; ');
  }

  private expectMemory(c: XenMemoryCheck): string {
    this.expectations.checked++;
    const reader = c.guest === null ? null : this.guest(c.guest);
    const address = this.resolve(c.address, reader);
    const view: CpuView = reader === null ? machineView(this.machine.memory) : reader.domain.memory;
    const where = reader === null ? `machine address ${hex(address)}` : `GPA ${hex(address)} of ${reader.domain.label}`;
    const mismatch = compareStreamWith(view, address, Number(c.length), this.stream(c.equals, c.length));
    if (mismatch !== null) {
      const byte = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
      this.expectations.fail(`memory at ${where} + ${hex(mismatch.offset)} is ${byte(mismatch.actual)}, expected ${byte(mismatch.expected)}`);
    }
    this.expectations.passed++;
    return `memory: ${formatSize(c.length)} at ${where} as expected`;
  }

  private expectFaults(c: XenFaultsCheck): string {
    this.expectations.checked++;
    const window = this.window;
    this.window = [];
    const domainMatches = c.guest === undefined ? null : this.domainFilter(c.guest);
    const path = c.device === undefined ? null : this.node(c.device).path;
    // A buffer's name is its guest-physical address, whichever domain it belongs to: faults are in IPAs.
    const page = c.address === undefined ? null : this.resolve({ space: 'guest', expr: c.address }, null) >> 12n;
    const kind = c.kind === undefined ? null : KIND_WORDS[c.kind];
    const matching = window.filter((f) => (domainMatches === null || domainMatches(f.domain)) && (path === null || f.devices.includes(path)) && (kind === null || f.kinds.includes(kind)) && (page === null || f.address >> 12n === page));
    const filters = [c.guest === undefined ? null : `in ${c.guest}`, path === null ? null : `naming ${path}`, kind === null ? null : `(${kind})`, page === null ? null : `in IPA page ${hex(page << 12n)}`].filter((s) => s !== null).join(' ');
    return expectFaultCount(this.expectations, { window, matching, count: c.count, filters, describe: describeXenFault });
  }

  /** Which domains a name in a check stands for: a guest (any of its reboots), dom0, or quarantine. */
  private domainFilter(name: string): (d: XenDomain | null) => boolean {
    if (name === DOM0) return (d) => d?.id === 0;
    if (name === QUARANTINE || name === 'dom_io') return (d) => d?.id === DOMID_IO;
    if (!this.guests.has(name)) failStep(`unknown guest "${name}"; guests: ${[...this.guests.keys()].join(', ')}, or ${QUARANTINE}`);
    return (d) => d !== null && d.kind === 'guest' && d.name === name;
  }

  private expectDevice(c: XenDeviceCheck): string {
    this.expectations.checked++;
    const node = this.node(c.device);
    const dev = this.xen.device(node.path);
    const owner = dev.domain;
    let ok: boolean;
    if (c.assignedTo === NOBODY) ok = owner === null;
    else if (c.assignedTo === QUARANTINE || c.assignedTo === 'dom_io') ok = owner?.id === DOMID_IO;
    else ok = owner !== null && owner === this.guest(c.assignedTo).domain;
    if (!ok) this.expectations.fail(`${node.path} should be assigned to ${c.assignedTo}, but ${this.ownerWords(dev)}`);
    this.expectations.passed++;
    return `device: ${node.path} ${this.ownerWords(dev)}`;
  }

  // ---- words -------------------------------------------------------------------------------

  private ownerWords(dev: DtDevice): string {
    const d = dev.domain;
    if (d === null) return dev.protected ? 'it is assigned to nobody (its DMA is not translated)' : 'it is not behind an IOMMU the hypervisor manages';
    if (d.id === DOMID_IO) return 'it is quarantined (dom_io)';
    return `it is assigned to ${d.label}`;
  }

  private contextWords(d: XenDomain): string {
    const contexts = this.xen.statistics().domains.find((x) => x.id === d.id)?.contexts ?? [];
    return contexts.length === 0 ? '' : `; IOMMU context ${contexts.map((c) => `${c.context} of ${c.iommu}`).join(', ')}`;
  }

  private sampleContexts(): void {
    for (const i of this.xen.iommu.ops?.report() ?? []) {
      if (i.role !== 'root') continue;
      this.contextPeaks.set(i.path, Math.max(this.contextPeaks.get(i.path) ?? 0, i.contexts.length));
    }
  }
}

function deviceName(node: DtNode): string {
  return node.labels[0] === undefined ? node.path : `${node.labels[0]} (${node.path})`;
}
