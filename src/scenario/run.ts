// Running a scenario: build the machine its platform and config describe, boot the kernel,
// then execute the steps in order through the kernel's own interfaces (IOMMU core, DMA API,
// the DMA-engine driver). A VM guest platform (riscv-virt-vfio-guest) builds a host + guest
// pair instead (the host riscv-virt-vfio-host, config.virtio-iommu.backend choosing whether the
// host's IOMMU backs the guest's virtio-iommu) and the steps run on the guest's kernel. A hypervisor scenario boots Xen instead and runs its steps through
// the hypervisor and its guests (xen/session.ts). The first step that fails stops the run;
// either way the result carries a report of everything that happened until then.
//
//   const loaded = loadScenario('isolation.yaml');
//   const { report, error } = new ScenarioRunner(loaded).run();
//   if (error !== null) console.error(error.message); // file:line: steps[4] "label": reason

import { ParameterError } from '../hw/riscv-iommu/parameters.js';
import { ParameterError as SmmuV3ParameterError } from '../hw/smmuv3/parameters.js';
import { ParameterError as VirtioIommuParameterError, type ReservedRegion } from '../hw/virtio-iommu/index.js';
import { ResvMemSubtype } from '../formats/virtio-iommu/probe.js';
import { IpmmuParameterError } from '../hw/ipmmu-vmsa/index.js';
import { XenError, type Xen } from '../hyp/xen/index.js';
import { IommuError, Prot as CoreProt, DomainType, type IommuDomain } from '../os/core/types.js';
import { DmaMappingError, type DmaDirectionValue } from '../os/dma/types.js';
import type { Device } from '../os/driver-model/device.js';
import { dmaEngineOf, type DmaEngineChannel, type DmaEngineResult } from '../os/drivers/dma-engine/index.js';
import { RiscvIommuError } from '../os/drivers/riscv-iommu/index.js';
import { VirtioIommuError } from '../os/drivers/virtio-iommu/index.js';
import type { Kernel } from '../os/kernel/kernel.js';
import { OutOfMemoryError } from '../os/kernel/page-allocator.js';
import { HostBackendError } from '../hyp/kvm/index.js';
import { Machine, MachineError, type MachineOptions } from '../platform/machine/machine.js';
import { BUILTIN_PAIR, isBuiltinPairGuest, loadBuiltinPair, VirtualMachinePair, VmError, type VirtualMachinePairOptions } from '../platform/vm/index.js';
import { collectReport } from '../report/collect.js';
import type { Report, StepReport, WorkloadReport } from '../report/types.js';
import { hex } from '../sim/u64.js';
import type { DeviceTree } from '../formats/devicetree/tree.js';
import { findDevice, unknownDevice } from './devices.js';
import { at, failStep, ScenarioError, StepFailure, stepName } from './errors.js';
import { expectFaultCount, Expectations } from './expectations.js';
import { FaultCollector, formatCause, formatFault } from './faults.js';
import type { LoadedScenario, ScenarioSource } from './load.js';
import { compareStream, dataStream, memoryStream, writeStream, type ByteStream } from './memory.js';
import { loadPlatform, type PlatformTree } from './platform.js';
import type { FaultsCheck, MemoryCheck, Scenario, Step, TranslationCheck, VirtioReservedRegion } from './schema.js';
import { formatAddressExpr, formatSize, MAX_ADDRESS, type AddressExpr, type DataSpec } from './values.js';
import { runWorkload, type WorkloadStep } from './workload.js';
import type { XenStep } from './xen/schema.js';
import { XenSession } from './xen/session.js';

export interface RunOptions {
  /** Replaces the scenario's platform (the CLI's --platform). */
  platform?: PlatformTree;
  /** Replaces the scenario's seed, the default seed of its workloads (the CLI's --seed). */
  seed?: bigint;
  /** Reports workload progress (buffers done of total). */
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  step: number;
  label: string | null;
  done: number;
  total: number;
}

export interface RunResult {
  report: Report;
  /** The failing step, or null when every step ran and every expectation held. */
  error: ScenarioError | null;
}

export interface Buffer {
  name: string;
  paddr: bigint;
  size: bigint;
  /** First page and page count, to give the memory back. */
  firstPage: number;
  pages: number;
}

export interface DmaMapping {
  name: string;
  device: Device;
  dma: bigint;
  paddr: bigint;
  size: number;
  direction: DmaDirectionValue;
  /** After dma-unmap the name still denotes the (now stale) DMA address. */
  unmapped: boolean;
}

export interface NamedDomain {
  name: string;
  domain: IommuDomain;
  device: Device;
  type: 'paging' | 'identity' | 'blocked';
}

export { StepFailure } from './errors.js';

/** Errors of the kernel's interfaces that mean "the step was refused", not "a bug". */
function isRefusal(e: unknown): e is Error {
  return e instanceof StepFailure || e instanceof IommuError || e instanceof DmaMappingError || e instanceof RiscvIommuError || e instanceof VirtioIommuError || e instanceof OutOfMemoryError || e instanceof XenError;
}

export class ScenarioRunner {
  readonly scenario: Scenario;
  readonly source: ScenarioSource;
  /** The machine (on a VM guest platform: the host's, whose memory, clock and IOMMU are the real ones). */
  readonly machine: Machine;
  /** On a VM guest platform, the host + guest pair (booted when built); the steps run on its guest. */
  readonly vm: VirtualMachinePair | null = null;
  readonly platform: PlatformTree;
  readonly seed: bigint;
  private bootedKernel: Kernel | null = null;
  private xenSession: XenSession | null = null;
  private collector: FaultCollector | null = null;
  readonly buffers = new Map<string, Buffer>();
  readonly mappings = new Map<string, DmaMapping>();
  readonly domains = new Map<string, NamedDomain>();
  private readonly stepReports: StepReport[];
  private readonly workloads: WorkloadReport[] = [];
  private readonly expectations = new Expectations();

  /** Builds the machine (errors in the platform or the config are thrown as ScenarioErrors). */
  constructor(
    loaded: LoadedScenario,
    private readonly options: RunOptions = {},
  ) {
    const { scenario, source } = loaded;
    this.scenario = scenario;
    this.source = source;
    this.seed = options.seed ?? scenario.seed;
    const steps: readonly (Step | XenStep)[] = scenario.hypervisor?.steps ?? scenario.steps;
    this.stepReports = steps.map((s) => ({ index: s.index, kind: s.kind, label: s.label, line: source.locate(['steps', s.index]), status: 'not run', summary: '' }));
    const platformLine = source.locate(['platform']);
    this.platform = options.platform ?? loadPlatform(scenario.platform, source.dir, (m) => new ScenarioError([`${at(source.file, platformLine)}platform: ${m}`]));
    const guest = isBuiltinPairGuest(this.platform.tree);
    if (!guest && scenario.config.virtioIommu.backend !== undefined) {
      throw new ScenarioError([`${at(source.file, source.locate(['config', 'virtio-iommu', 'backend']))}config.virtio-iommu.backend: chooses what backs a VM guest's virtio-iommu; ${this.platform.description} is not a VM guest (use platform: ${BUILTIN_PAIR.guest})`]);
    }
    try {
      if (guest) {
        this.vm = new VirtualMachinePair(loadBuiltinPair().host, this.platform.tree, pairOptions(scenario));
        this.machine = this.vm.host;
      } else {
        this.machine = new Machine(this.platform.tree, machineOptions(scenario));
      }
    } catch (e) {
      if (e instanceof VmError || e instanceof HostBackendError) throw new ScenarioError([`${at(source.file, platformLine)}platform: ${e.message}`]);
      if (e instanceof ParameterError) throw new ScenarioError([`${at(source.file, source.locate(['config', 'riscv-iommu']))}config.riscv-iommu: ${e.message}`]);
      if (e instanceof SmmuV3ParameterError) throw new ScenarioError([`${at(source.file, source.locate(['config', 'smmuv3']))}config.smmuv3: ${e.message}`]);
      if (e instanceof VirtioIommuParameterError) throw new ScenarioError([`${at(source.file, source.locate(['config', 'virtio-iommu']))}config.virtio-iommu: ${e.message}`]);
      if (e instanceof IpmmuParameterError) throw new ScenarioError([`${at(source.file, source.locate(['config', 'ipmmu']))}config.ipmmu: ${e.message}`]);
      if (e instanceof MachineError) throw new ScenarioError([`${at(source.file, platformLine)}platform: ${e.message}`]);
      throw e;
    }
    // The scenario's steps are for a kernel or for a hypervisor: the platform must boot that.
    const boots = this.machine.hypervisor;
    if (scenario.hypervisor !== null && boots !== scenario.hypervisor.kind) {
      throw new ScenarioError([`${at(source.file, source.locate(['hypervisor']))}hypervisor: ${this.platform.description} boots a kernel, not Xen (its /chosen has no xen,xen-bootargs); hypervisor scenarios run on a Xen platform such as rcar-gen3-xen`]);
    }
    if (scenario.hypervisor === null && boots !== null) {
      throw new ScenarioError([`${at(source.file, platformLine)}platform: ${this.platform.description} boots the Xen hypervisor, not a kernel: its steps are hypervisor steps (add \`hypervisor: xen\` to the scenario)`]);
    }
  }

  get kernel(): Kernel {
    if (this.bootedKernel === null) throw new Error(this.xenSession === null ? 'the scenario has not run' : 'a hypervisor scenario boots Xen, not a kernel');
    return this.bootedKernel;
  }

  /** A hypervisor scenario's session: its guests, buffers and faults (after run()). */
  get session(): XenSession {
    if (this.xenSession === null) throw new Error(this.bootedKernel === null ? 'the scenario has not run' : 'a kernel scenario has no hypervisor');
    return this.xenSession;
  }

  get xen(): Xen {
    return this.session.xen;
  }

  /** Every fault reported so far. */
  get faults(): FaultCollector {
    if (this.collector === null) throw new Error(this.xenSession === null ? 'the scenario has not run' : "a hypervisor scenario's faults are the session's (runner.session.faults)");
    return this.collector;
  }

  /** Boots the kernel (or the hypervisor) and runs every step; stops at the first failing one. */
  run(): RunResult {
    if (this.bootedKernel !== null || this.xenSession !== null) throw new Error('a ScenarioRunner runs its scenario once');
    if (this.scenario.hypervisor !== null) return this.runHypervisor(this.scenario.hypervisor.steps);
    const started = performance.now();
    const kernel = this.vm?.guest ?? this.machine.boot();
    this.bootedKernel = kernel;
    const faults = new FaultCollector(this.vm === null ? [kernel] : [kernel, this.vm.hostKernel]);
    this.collector = faults;
    const error = this.runSteps(this.scenario.steps, (step) => {
      const summary = this.execute(step);
      this.poll();
      return summary;
    });
    const report = collectReport({
      scenario: { name: this.scenario.name, description: this.scenario.description, file: this.source.file, platform: this.describePlatform(), seed: this.seed },
      machine: this.machine,
      kernel,
      ...(this.vm === null ? {} : { iommus: this.vm.iommus }),
      steps: this.stepReports,
      expectations: this.expectations.counts(),
      workloads: this.workloads,
      faults: faults.all,
      failure: failureOf(error),
      wallMs: performance.now() - started,
    });
    return { report, error };
  }

  /** Boots Xen and runs a hypervisor scenario's steps. */
  private runHypervisor(steps: readonly XenStep[]): RunResult {
    const started = performance.now();
    let xen: Xen;
    try {
      xen = this.machine.bootXen();
    } catch (e) {
      if (e instanceof XenError) throw new ScenarioError([`${at(this.source.file, this.source.locate(['config', 'xen']))}config.xen: the hypervisor does not boot: ${e.message}`]);
      throw e;
    }
    const session = new XenSession({ machine: this.machine, xen, seed: this.seed, progress: (step, done, total) => this.options.onProgress?.({ step: step.index, label: step.label, done, total }) });
    this.xenSession = session;
    const error = this.runSteps(steps, (step) => {
      const summary = session.execute(step);
      session.afterStep();
      return summary;
    });
    const report = collectReport({
      scenario: { name: this.scenario.name, description: this.scenario.description, file: this.source.file, platform: this.platform.description, seed: this.seed },
      machine: this.machine,
      kernel: null,
      hypervisor: session.reportInput(),
      steps: this.stepReports,
      expectations: session.expectations.counts(),
      workloads: session.workloads,
      faults: [],
      failure: failureOf(error),
      wallMs: performance.now() - started,
    });
    return { report, error };
  }

  /** Runs `steps` in order, recording each one's outcome; the first refused step stops the run and is the error. */
  private runSteps<S extends Step | XenStep>(steps: readonly S[], execute: (step: S) => string): ScenarioError | null {
    for (const step of steps) {
      const record = this.stepReports[step.index];
      try {
        record.summary = execute(step);
        record.status = 'ok';
      } catch (e) {
        if (!isRefusal(e)) throw e;
        record.status = 'failed';
        record.summary = e.message;
        return new ScenarioError([`${at(this.source.file, record.line)}${stepName(step.index, step.label)}: ${e.message}`], { index: step.index, label: step.label, line: record.line });
      }
    }
    return null;
  }

  /** "riscv-virt-vfio-guest (built-in), guest of riscv-virt-vfio-host, virtio-iommu backend: host" on a pair. */
  private describePlatform(): string {
    if (this.vm === null) return this.platform.description;
    return `${this.platform.description}, guest of ${BUILTIN_PAIR.host} (built-in), virtio-iommu backend: ${this.vm.backend === null ? 'none' : 'host'}`;
  }

  /** Takes pending interrupts: the kernel's, and on a pair the host's first (its IOMMU's fault records). */
  private poll(): void {
    if (this.vm !== null) this.vm.poll();
    else this.kernel.poll();
  }

  // ---- names ---------------------------------------------------------------------------

  /** The device tree the steps' kernel booted from (on a pair, the guest's). */
  get tree(): DeviceTree {
    return this.vm?.guestTree ?? this.machine.tree;
  }

  device(ref: string): Device {
    const dev = findDevice(this.kernel, this.tree, ref);
    return dev ?? failStep(unknownDevice(this.kernel, ref));
  }

  private channel(dev: Device): DmaEngineChannel {
    try {
      return dmaEngineOf(dev);
    } catch {
      return failStep(`${dev.name} is not a DMA engine with its driver bound (state ${dev.state}${dev.reason === '' ? '' : `: ${dev.reason}`})`);
    }
  }

  private domain(name: string): NamedDomain {
    return this.domains.get(name) ?? failStep(`unknown domain "${name}"${this.domains.size === 0 ? '; no domain step has created one' : `; domains: ${[...this.domains.keys()].join(', ')}`}`);
  }

  /** A physical address: a number, or a buffer name plus offset. */
  resolvePhys(a: AddressExpr): bigint {
    if (a.kind === 'number') return a.value;
    const b = this.buffers.get(a.name);
    if (b !== undefined) return offsetBy(b.paddr, a);
    if (this.mappings.has(a.name)) failStep(`${a.name} is a DMA mapping (a DMA address); a physical address is needed here: name the buffer instead`);
    return failStep(this.unknownSymbol(a.name));
  }

  /** A DMA address (IOVA): a number, a DMA mapping name, or a buffer name (identity), plus offset. */
  resolveDma(a: AddressExpr): bigint {
    if (a.kind === 'number') return a.value;
    const m = this.mappings.get(a.name);
    if (m !== undefined) return offsetBy(m.dma, a);
    const b = this.buffers.get(a.name);
    if (b !== undefined) return offsetBy(b.paddr, a);
    return failStep(this.unknownSymbol(a.name));
  }

  private unknownSymbol(name: string): string {
    const known = [...this.buffers.keys(), ...this.mappings.keys()];
    return `unknown buffer or mapping "${name}"${known.length === 0 ? '' : `; defined so far: ${known.join(', ')}`}`;
  }

  private checkNewName(name: string): void {
    const uses = [this.buffers.has(name) ? 'a buffer' : null, this.mappings.has(name) ? 'a DMA mapping' : null].filter((u) => u !== null);
    if (uses.length > 0) failStep(`the name "${name}" is already used by ${uses[0]}`);
  }

  /** The byte stream of a data specification, `length` bytes long. */
  private stream(spec: DataSpec, length: bigint): ByteStream {
    return dataStream(spec, (spec) => {
      const b = this.buffers.get(spec.name) ?? failStep(this.mappings.has(spec.name) ? `${spec.name} is a DMA mapping; data comes from a buffer` : this.unknownSymbol(spec.name));
      if (spec.offset < 0n || spec.offset + length > b.size) failStep(`${spec.text}: buffer ${b.name} holds ${formatSize(b.size)}; ${formatSize(length)} from offset ${hex(spec.offset)} do not fit`);
      return memoryStream(this.kernel.memory, b.paddr + spec.offset);
    });
  }

  // ---- steps ---------------------------------------------------------------------------

  /** Runs one step; returns its one-line summary. */
  private execute(step: Step): string {
    const kernel = this.kernel;
    switch (step.kind) {
      case 'alloc': {
        this.checkNewName(step.name);
        // Naturally aligned, as Linux's alloc_pages(order) is: a 2 MiB buffer can be one 2 MiB leaf.
        const pages = Math.ceil(Number(step.size) / 4096);
        let align = 1;
        while (align < pages && align < 1 << 18) align *= 2;
        const first = kernel.pages.allocPages(pages, align);
        const paddr = BigInt(first) << 12n;
        this.buffers.set(step.name, { name: step.name, paddr, size: step.size, firstPage: first, pages });
        if (step.fill.kind !== 'zero') writeStream(kernel.memory, paddr, Number(step.size), this.stream(step.fill, step.size));
        return `${step.name}: ${formatSize(step.size)} at ${hex(paddr)}`;
      }
      case 'write': {
        const address = this.resolvePhys(step.address);
        writeStream(kernel.memory, address, Number(step.length), this.stream(step.data, step.length));
        return `CPU wrote ${formatSize(step.length)} at ${hex(address)}`;
      }
      case 'domain': {
        if (step.name === 'default') failStep('"default" names each device\'s default domain; choose another name');
        const existing = this.domains.get(step.name);
        if (existing !== undefined) failStep(`the domain name "${step.name}" is already used`);
        const dev = this.device(step.device);
        const domain = step.type === 'paging' ? kernel.iommu.domainAlloc(dev) : kernel.iommu.staticDomain(dev, step.type === 'identity' ? DomainType.Identity : DomainType.Blocked);
        this.domains.set(step.name, { name: step.name, domain, device: dev, type: step.type });
        return `${step.name}: ${domain.name} (${domain.type})`;
      }
      case 'attach': {
        const dev = this.device(step.device);
        const current = kernel.iommu.domainOf(dev) ?? failStep(`${dev.name} is not behind an IOMMU`);
        if (step.domain === 'default') {
          const info = kernel.iommu.deviceIommu(dev);
          if (current === info?.group.defaultDomain) return `${dev.name} stays on its default domain ${current.name}`;
          kernel.iommu.detachDevice(current, dev);
          return `${dev.name} back on its default domain ${kernel.iommu.domainOf(dev)?.name}`;
        }
        const d = this.domain(step.domain);
        kernel.iommu.attachDevice(d.domain, dev);
        return `${dev.name} attached to ${d.name} (${d.domain.name})`;
      }
      case 'detach': {
        const dev = this.device(step.device);
        const current = kernel.iommu.domainOf(dev) ?? failStep(`${dev.name} is not behind an IOMMU`);
        const info = kernel.iommu.deviceIommu(dev);
        if (current === info?.group.defaultDomain) failStep(`${dev.name} is on its default domain already: there is nothing to detach`);
        kernel.iommu.detachDevice(current, dev);
        return `${dev.name} back on its default domain ${kernel.iommu.domainOf(dev)?.name}`;
      }
      case 'map': {
        const d = this.pagingDomain(step.domain);
        const iova = this.resolveDma(step.iova);
        const phys = this.resolvePhys(step.phys);
        const prot = (step.prot.includes('r') ? CoreProt.READ : 0) | (step.prot.includes('w') ? CoreProt.WRITE : 0);
        kernel.iommu.map(d.domain, iova, phys, step.size, prot);
        return `${d.name}: ${hex(iova)} -> ${hex(phys)}, ${formatSize(step.size)}, ${step.prot}`;
      }
      case 'unmap': {
        const d = this.pagingDomain(step.domain);
        const iova = this.resolveDma(step.iova);
        const n = kernel.iommu.unmap(d.domain, iova, step.size);
        if (n !== step.size) failStep(`unmapped ${formatSize(n)} of ${formatSize(step.size)} at ${hex(iova)}: the rest was not mapped`);
        return `${d.name}: unmapped ${formatSize(step.size)} at ${hex(iova)}`;
      }
      case 'dma-map': {
        this.checkNewName(step.name);
        const dev = this.device(step.device);
        const paddr = this.resolvePhys(step.buffer);
        const dma = kernel.dma.mapSingle(dev, paddr, Number(step.size), step.direction);
        this.mappings.set(step.name, { name: step.name, device: dev, dma, paddr, size: Number(step.size), direction: step.direction, unmapped: false });
        return `${step.name}: ${hex(paddr)} mapped for ${dev.name} at DMA address ${hex(dma)} (${step.direction})`;
      }
      case 'dma-unmap': {
        const m = this.mappings.get(step.name) ?? failStep(`unknown DMA mapping "${step.name}"${this.mappings.size === 0 ? '' : `; mappings: ${[...this.mappings.keys()].join(', ')}`}`);
        if (m.unmapped) failStep(`DMA mapping "${step.name}" is unmapped already`);
        kernel.dma.unmapSingle(m.device, m.dma, m.size, m.direction);
        m.unmapped = true;
        return `${step.name}: unmapped DMA address ${hex(m.dma)}`;
      }
      case 'dma':
        return this.dma(step);
      case 'advance':
        kernel.clock.advance(step.cycles);
        return `${step.cycles} cycles passed`;
      case 'workload':
        return this.workload(step);
      case 'expect':
        return this.expect(step.memory, step.translation, step.faults);
    }
  }

  private pagingDomain(name: string): NamedDomain {
    const d = this.domain(name);
    if (d.type !== 'paging') failStep(`domain ${name} is ${d.type}: only paging domains map and unmap`);
    return d;
  }

  private dma(step: Extract<Step, { kind: 'dma' }>): string {
    const dev = this.device(step.device);
    const channel = this.channel(dev);
    const length = Number(step.length);
    const options = step.pasid === null ? {} : { pasid: step.pasid };
    const src = step.src === null ? 0n : this.resolveDma(step.src);
    const dst = step.dst === null ? 0n : this.resolveDma(step.dst);
    const faultsBefore = this.faults.all.length;
    let r: DmaEngineResult;
    let what: string;
    if (step.op === 'copy') {
      r = channel.rawCopy(src, dst, length, options);
      what = `copy of ${formatSize(length)} ${hex(src)} -> ${hex(dst)}`;
    } else if (step.op === 'fill') {
      r = channel.rawFill(dst, length, step.pattern, options);
      what = `fill of ${formatSize(length)} at ${hex(dst)}`;
    } else {
      r = channel.rawReadVerify(src, length, step.pattern, options);
      what = `read of ${formatSize(length)} at ${hex(src)}`;
    }
    this.poll();
    this.expectations.checked++;
    const newFaults = this.faults.all.slice(faultsBefore);
    const iommuSays = newFaults.length === 0 ? '' : `; IOMMU fault: cause ${formatCause(newFaults[0].cause, newFaults[0].causeName)}`;
    if (r.ok) {
      // PCIe writes are posted: a function never learns that the IOMMU blocked one.
      const unseen = newFaults.length === 0 ? '' : `, but the IOMMU blocked ${newFaults.length === 1 ? 'a transaction' : `${newFaults.length} transactions`} the device did not see fail (posted writes)${iommuSays}`;
      if (step.expect === 'fault') this.expectations.fail(`${what}: expected a fault, but the transfer completed (${formatSize(r.bytes)})${unseen}`);
      this.expectations.passed++;
      return `${dev.name}: ${what} completed${unseen}`;
    }
    const failure = `${r.error} at DMA address ${hex(r.dmaAddress)} (${r.write ? 'write' : 'read'}) after ${r.bytes} bytes${iommuSays}`;
    if (step.expect === 'ok') this.expectations.fail(`${what} failed: ${failure}`);
    this.expectations.passed++;
    return `${dev.name}: ${what} faulted as expected: ${failure}`;
  }

  private workload(step: WorkloadStep): string {
    const dev = this.device(step.device);
    const channel = this.channel(dev);
    const seed = step.seed ?? this.seed;
    const report = runWorkload(step, {
      target: this.vm ?? this.machine,
      kernel: this.kernel,
      dev,
      channel,
      seed,
      fail: failStep,
      progress: (done, total) => this.options.onProgress?.({ step: step.index, label: step.label, done, total }),
    });
    this.workloads.push({ ...report, step: step.index, label: step.label });
    return `${dev.name}: ${report.buffers} ${step.op} buffers (${formatSize(report.bytes)}), ${report.verified} verified, ${report.invalidationsPerBuffer.toFixed(2)} invalidation commands per buffer`;
  }

  // ---- expectations ----------------------------------------------------------------------

  private expect(memory: MemoryCheck | null, translation: TranslationCheck | null, faults: FaultsCheck | null): string {
    const said: string[] = [];
    if (memory !== null) said.push(this.expectMemory(memory));
    if (translation !== null) said.push(this.expectTranslation(translation));
    if (faults !== null) said.push(this.expectFaults(faults));
    return said.join('; ');
  }

  private expectMemory(c: MemoryCheck): string {
    this.expectations.checked++;
    const address = this.resolvePhys(c.address);
    const mismatch = compareStream(this.kernel.memory, address, Number(c.length), this.stream(c.equals, c.length));
    if (mismatch !== null) {
      const byte = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
      this.expectations.fail(`memory at ${formatAddressExpr(c.address)} (${hex(address)}) + ${hex(mismatch.offset)} is ${byte(mismatch.actual)}, expected ${byte(mismatch.expected)} (${describeData(c.equals)})`);
    }
    this.expectations.passed++;
    return `memory: ${formatSize(c.length)} at ${hex(address)} as expected`;
  }

  private expectTranslation(c: TranslationCheck): string {
    this.expectations.checked++;
    const d = this.domain(c.domain);
    const iova = this.resolveDma(c.iova);
    const want = c.phys === null ? null : this.resolvePhys(c.phys);
    const got = this.kernel.iommu.iovaToPhys(d.domain, iova);
    const show = (v: bigint | null) => (v === null ? 'unmapped' : hex(v));
    if (got !== want) this.expectations.fail(`${d.name}: ${hex(iova)} translates to ${show(got)}, expected ${show(want)}`);
    this.expectations.passed++;
    return `translation: ${d.name} ${hex(iova)} -> ${show(got)}`;
  }

  private expectFaults(c: FaultsCheck): string {
    this.expectations.checked++;
    const window = this.faults.window;
    this.faults.window = [];
    const dev = c.device === undefined ? null : this.device(c.device);
    const page = c.iova === undefined ? null : this.resolveDma(c.iova) >> 12n;
    const matching = window.filter((f) => (dev === null || f.device === dev.name) && (c.cause === undefined || f.cause === c.cause) && (page === null || f.iova >> 12n === page));
    const filters = [dev === null ? null : `of ${dev.name}`, c.cause === undefined ? null : `with cause ${formatCause(c.cause, window.find((f) => f.cause === c.cause)?.causeName)}`, page === null ? null : `in page ${hex(page << 12n)}`].filter((s) => s !== null).join(' ');
    return expectFaultCount(this.expectations, { window, matching, count: c.count, filters, describe: formatFault });
  }
}

/** The report's failure of a run that stopped at `error`. */
function failureOf(error: ScenarioError | null): Report['outcome']['failure'] {
  return error === null ? null : { step: error.step?.index ?? null, label: error.step?.label ?? null, line: error.step?.line ?? null, message: error.message };
}

function offsetBy(base: bigint, a: Extract<AddressExpr, { kind: 'symbol' }>): bigint {
  const v = base + a.offset;
  if (v < 0n || v > MAX_ADDRESS) failStep(`${a.text} is ${v < 0n ? 'below address 0' : 'beyond 64 bits'}`);
  return v;
}

function describeData(d: DataSpec): string {
  switch (d.kind) {
    case 'zero':
      return 'zero';
    case 'pattern':
      return `pattern ${hex(d.value)}`;
    case 'bytes':
      return `bytes [${[...d.bytes].map((b) => `0x${b.toString(16)}`).join(', ')}]`;
    case 'random':
      return `random ${d.seed}`;
    case 'buffer':
      return `contents of ${d.text}`;
  }
}

/** The machine's parameters from the scenario's config. */
export function machineOptions(s: Scenario): MachineOptions {
  const c = s.config;
  const caches = c.riscvIommu.caches;
  return {
    riscvIommu: {
      capabilities: c.riscvIommu.capabilities,
      ...(c.riscvIommu.directoryLevels === undefined ? {} : { maxDirectoryLevels: c.riscvIommu.directoryLevels }),
      caches: {
        ...(caches.iotlb === undefined ? {} : { iotlb: caches.iotlb }),
        ...(caches.deviceContexts === undefined ? {} : { deviceContexts: caches.deviceContexts }),
        ...(caches.processContexts === undefined ? {} : { processContexts: caches.processContexts }),
      },
    },
    smmuv3: { capabilities: c.smmuv3.capabilities, caches: c.smmuv3.caches },
    ...(c.smmuv3.domainStage === 'auto' ? {} : { smmuv3Driver: { domainStage: c.smmuv3.domainStage } }),
    ipmmu: {
      ...(c.ipmmu.tlb === undefined ? {} : { tlbSets: c.ipmmu.tlb.sets, tlbWays: c.ipmmu.tlb.ways }),
      ...(c.ipmmu.utlbDisabled === undefined ? {} : { utlbDisabled: c.ipmmu.utlbDisabled }),
      ...(c.ipmmu.contextDisabled === undefined ? {} : { contextDisabled: c.ipmmu.contextDisabled }),
    },
    xen: {
      ...(c.xen.quarantine === undefined ? {} : { quarantine: c.xen.quarantine }),
      ...(c.xen.dom0MemoryMiB === undefined ? {} : { dom0MemoryMiB: c.xen.dom0MemoryMiB }),
    },
    virtioIommu: virtioIommuOptions(c.virtioIommu),
    dmaBytesPerCycle: c.dmaEngine.bytesPerCycle,
    ...(c.dmaEngine.burstBytes === undefined ? {} : { dmaBurstBytes: c.dmaEngine.burstBytes }),
    kernel: {
      iommu: { defaultDomain: c.kernel.defaultDomain, strict: c.kernel.invalidation === 'strict' },
      dma: {
        ...(c.kernel.flushQueue.size === undefined ? {} : { fqSize: c.kernel.flushQueue.size }),
        ...(c.kernel.flushQueue.timeout === undefined ? {} : { fqTimeoutCycles: c.kernel.flushQueue.timeout }),
      },
    },
  };
}

/**
 * The pair's options from the scenario's config: the host machine gets the hardware's
 * parameters (RISC-V IOMMU, DMA engines), the guest the kernel options and the virtio-iommu.
 */
export function pairOptions(s: Scenario): VirtualMachinePairOptions {
  const { kernel, virtioIommu, ...host } = machineOptions(s);
  return { backend: s.config.virtioIommu.backend ?? 'none', host, guestKernel: kernel, virtioIommu };
}

function toRegion(r: VirtioReservedRegion): ReservedRegion {
  return { subtype: r.type === 'msi' ? ResvMemSubtype.Msi : ResvMemSubtype.Reserved, start: r.start, end: r.end };
}

/** config.virtio-iommu as the machine's virtio-iommu options: device-wide regions, and regions by endpoint. */
function virtioIommuOptions(v: Scenario['config']['virtioIommu']): NonNullable<MachineOptions['virtioIommu']> {
  const byEndpoint = new Map<number, ReservedRegion[]>();
  for (const r of v.reservedRegions) {
    if (r.endpoint === null) continue;
    const list = byEndpoint.get(r.endpoint) ?? [];
    list.push(toRegion(r));
    byEndpoint.set(r.endpoint, list);
  }
  return {
    ...(v.pageSizeMask === undefined ? {} : { pageSizeMask: v.pageSizeMask }),
    ...(v.inputRange === undefined ? {} : { inputRange: v.inputRange }),
    ...(v.domainRange === undefined ? {} : { domainRange: v.domainRange }),
    ...(v.bypass === undefined ? {} : { bypass: v.bypass }),
    reservedRegions: v.reservedRegions.filter((r) => r.endpoint === null).map(toRegion),
    endpointRegions: [...byEndpoint].map(([endpoint, regions]) => ({ endpoint, regions })),
    driver: v.batching === undefined ? {} : { batching: v.batching },
  };
}
