// The Renesas IPMMU-VMSA of R-Car Gen3/Gen4, as one instance of the SoC's IPMMU tree:
//
//   master ── micro-TLB n ── cache IPMMU (its TLB) ─┐
//   master ── micro-TLB m ── cache IPMMU (its TLB) ─┼── root IPMMU-MM (context banks, main
//                                                   │   TLB, table walks, fault interrupt)
//
// A cache IPMMU (one per bus-master group; `root` given) holds the micro-TLB registers of its
// masters (IMUCTR(n): enable and the context, TTSEL) and its own copy of each context's IMCTR
// (enable, flush of its TLB). The root (no `root`) holds the context banks that translation
// uses (IMTTBCR, IMTTLBR0/IMTTUBR0, IMMAIR0), walks the tables, records faults in the context's
// IMSTR/IMELAR/IMEUAR and raises the interrupt. A root may have micro-TLBs of its own.
//
// A transaction from micro-TLB n: IMUCTR(n).MMUEN = 0 -> `utlbDisabled` policy; TTSEL names a
// context beyond the bank count -> aborted; the context disabled (IMCTR.MMUEN 0 in the root or
// in this cache IPMMU) -> `contextDisabled` policy. Otherwise this IPMMU's TLB, then the root's,
// then a walk of the root's tables fill in the translation; a lookup matching two entries is a
// multiple-hit fault; the leaf's permissions are checked (stage-2 S2AP; stage-1 AP with the
// transaction's privilege). A fault is recorded in the root's context bank and the transaction
// is aborted: a faulting write writes nothing, a faulting read returns no data.
//
// Registers are 32 bits wide and take 32-bit accesses only; other sizes, and offsets that hold
// no register, read as zero and ignore writes. Reset values are zero. Flushes complete at once:
// IMCTR.FLUSH and IMUCTR.FLUSH read back as 0. IMSTR clears the bits written as 0 (both drivers
// clear it by writing 0); clearing every error bit also clears IMELAR/IMEUAR (Linux: "the error
// address register must be read before, otherwise its value will be 0"). A fault while IMSTR
// still holds one ORs its kind into IMSTR and keeps the first address and level.
//
// Hot path: `translatePage` takes page numbers and leaves its results in fields; it allocates
// nothing and uses no BigInt. `translate` is the BigInt API for tools and tests.

import { permits } from '../../formats/arm-lpae/index.js';
import {
  ContextReg,
  contextRegisterOffset,
  ControlReg,
  controlRegisterOffset,
  CONTEXT_BANK_SIZE,
  Imctr,
  Imsauxctlr,
  Imstr,
  ImstrErrorCode,
  Imuasid,
  Imuctr,
  imuctrOffset,
  registerWindowSize,
  ttselMask,
} from '../../formats/ipmmu-vmsa/index.js';
import { InterruptLine } from '../../sim/irq.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { VmsaFault, VmsaWalker } from '../arm-lpae/walker.js';
import { ContextBank, newFaultCounters, type IpmmuContextCounters, type IpmmuFaultCounters } from './context-bank.js';
import { IpmmuDmaPort } from './dma-port.js';
import { resolveIpmmuParameters, type IpmmuVmsaOptions, type IpmmuVmsaParameters } from './parameters.js';
import { IpmmuTlb, type IpmmuTlbCounters } from './tlb.js';
import type { IpmmuTracer } from './trace.js';
import { IpmmuWalkMemory } from './walk-memory.js';

/** What became of a transaction (translatePage's result). */
export const IpmmuOutcome = {
  /** Translated: the physical page is in `outputPage`. */
  Translated: 0,
  /** Not translated (micro-TLB or context disabled, policy 'bypass'): `outputPage` is the input page. */
  Bypassed: 1,
  /** A fault was recorded in the root's context bank (kind in `faultKind`); the transaction is aborted. */
  Fault: 2,
  /** Ended with an error and no record: no usable micro-TLB or context, or policy 'abort'. */
  Aborted: 3,
} as const;
export type IpmmuOutcomeValue = (typeof IpmmuOutcome)[keyof typeof IpmmuOutcome];

/** Why a transaction was aborted without a fault record. */
export interface IpmmuAbortCounters {
  /** The requester's id is not a micro-TLB of this IPMMU. */
  invalidUtlb: number;
  /** Micro-TLB disabled and `utlbDisabled` is 'abort'. */
  utlbDisabled: number;
  /** IMUCTR.TTSEL names a context the IPMMU does not have. */
  invalidContext: number;
  /** Context disabled and `contextDisabled` is 'abort'. */
  contextDisabled: number;
}

export interface IpmmuUtlbCounters {
  utlb: number;
  /** Transactions issued through the micro-TLB. */
  transactions: number;
  /** Bytes moved by the transactions that completed (reads and writes). */
  bytes: number;
  /** Transactions that faulted or were aborted. */
  rejected: number;
}

export interface IpmmuVmsaStatistics {
  name: string;
  role: 'root' | 'cache';
  /** Transactions that entered through this IPMMU's micro-TLBs. */
  transactions: number;
  translated: number;
  bypassed: number;
  faulted: number;
  aborted: number;
  aborts: IpmmuAbortCounters;
  /** Faults recorded in this IPMMU's context banks (root only), all contexts together. */
  faults: IpmmuFaultCounters;
  /** IMUCTR.FLUSH writes. */
  microTlbFlushes: number;
  tlb: IpmmuTlbCounters & { capacity: number; occupancy: number };
  /** Per context: this IPMMU's view (translations entering here, its TLB, its flushes; walks and faults at the root). */
  contexts: (IpmmuContextCounters & { context: number })[];
  /** Micro-TLBs that saw traffic. */
  utlbs: IpmmuUtlbCounters[];
}

export interface IpmmuVmsaConfig extends IpmmuVmsaOptions {
  name?: string;
  /** Where the root's table walks read descriptors. */
  memory: PhysicalMemory;
  /** Where translated (and bypassed) transactions go. */
  bus: SystemBus;
  /** A cache IPMMU's root (its renesas,ipmmu-main); absent for the root itself. */
  root?: IpmmuVmsa;
  /** The root's fault interrupt output; created when not given. */
  irq?: InterruptLine;
}

/** A translation asked through the BigInt API. */
export interface IpmmuTranslation {
  outcome: 'translated' | 'bypassed' | 'fault' | 'aborted';
  /** The physical address (translated and bypassed transactions). */
  address: bigint | null;
  /** The IMSTR bit of a fault (Imstr.TF, PF, ABORT or MHIT), 0 otherwise. */
  fault: number;
}

const PAGES_PER_4G = 0x10_0000;

// Hot-path constants as module locals: a namespace re-export is a getter under some loaders.
const UTLB_MMUEN = Imuctr.MMUEN;
const TTSEL_SHIFT = Imuctr.TTSEL_SHIFT;
const CTX_MMUEN = Imctr.MMUEN;
const MHIT = Imstr.MHIT;
const PF = Imstr.PF;
const allows = permits;

export class IpmmuVmsa implements MmioDevice {
  readonly name: string;
  readonly parameters: IpmmuVmsaParameters;
  /** The root IPMMU (this one for a root). */
  readonly root: IpmmuVmsa;
  /** The fault interrupt (asserted by a root only). */
  readonly irq: InterruptLine;
  /** Where this IPMMU's masters send DMA (requester deviceId = micro-TLB number). */
  readonly port: IpmmuDmaPort;
  readonly bus: SystemBus;
  /** Bytes of the register window. */
  readonly registerWindowSize: number;
  tracer: IpmmuTracer | null = null;

  // ---- results of the last translatePage ------------------------------------------------
  /** Physical page of a translated or bypassed transaction. */
  outputPage = 0;
  /** The IMSTR bit of a fault. */
  faultKind = 0;

  private readonly banks: ContextBank[];
  private readonly imuctr: Uint32Array;
  private readonly imuasid: Uint32Array;
  private imsctlr = 0;
  private imsauxctlr = 0;
  private readonly tlb: IpmmuTlb;
  private readonly walker = new VmsaWalker();
  private readonly walkMemory: IpmmuWalkMemory;
  private readonly ttselField: number;
  // Counters (numbers and typed arrays: nothing allocated per transaction).
  private transactions = 0;
  private translated = 0;
  private bypassed = 0;
  private faulted = 0;
  private aborted = 0;
  private readonly aborts: IpmmuAbortCounters = { invalidUtlb: 0, utlbDisabled: 0, invalidContext: 0, contextDisabled: 0 };
  private microTlbFlushes = 0;
  private readonly utlbTransactions: Float64Array;
  private readonly utlbBytes: Float64Array;
  private readonly utlbRejected: Float64Array;

  constructor(config: IpmmuVmsaConfig) {
    this.parameters = resolveIpmmuParameters(config);
    this.name = config.name ?? 'ipmmu';
    this.root = config.root?.root ?? this;
    this.bus = config.bus;
    this.irq = config.irq ?? new InterruptLine(`${this.name}.irq`);
    const layout = this.parameters.layout;
    if (this.root !== this && this.root.parameters.layout.contexts < layout.contexts) {
      throw new RangeError(`${this.name}: a cache IPMMU with ${layout.contexts} contexts cannot select contexts its root ${this.root.name} lacks (${this.root.parameters.layout.contexts})`);
    }
    this.banks = Array.from({ length: layout.contexts }, (_, i) => new ContextBank(i));
    this.imuctr = new Uint32Array(layout.utlbs);
    this.imuasid = new Uint32Array(layout.utlbs);
    this.utlbTransactions = new Float64Array(layout.utlbs);
    this.utlbBytes = new Float64Array(layout.utlbs);
    this.utlbRejected = new Float64Array(layout.utlbs);
    this.ttselField = (1 << layout.ttselBits) - 1;
    this.tlb = new IpmmuTlb(this.parameters.tlbSets, this.parameters.tlbWays);
    this.walkMemory = new IpmmuWalkMemory(config.memory, this.walker);
    this.registerWindowSize = registerWindowSize(layout);
    this.port = new IpmmuDmaPort(this);
  }

  get isRoot(): boolean {
    return this.root === this;
  }

  /** Returns to the reset state: registers zero, TLB empty, interrupt low (counters are kept). */
  reset(): void {
    for (const b of this.banks) b.reset();
    this.imuctr.fill(0);
    this.imuasid.fill(0);
    this.imsctlr = this.imsauxctlr = 0;
    this.tlb.clear();
    if (this.isRoot) this.updateIrq();
  }

  // ---- translation -------------------------------------------------------------------------

  /**
   * Translates a transaction of micro-TLB `utlb` to input page `page` (byte `offset` in it, for
   * the fault address), a write or a read, privileged or not (the stage-1 format's AP tells them
   * apart). Returns an IpmmuOutcome; the output page is left in `outputPage`, a fault's kind in
   * `faultKind`.
   */
  translatePage(utlb: number, page: number, offset: number, write: boolean, privileged: boolean): IpmmuOutcomeValue {
    this.transactions++;
    const p = this.parameters;
    if (!(utlb >= 0 && utlb < this.imuctr.length) || (utlb | 0) !== utlb) return this.abort(-1, 'invalidUtlb');
    this.utlbTransactions[utlb]++;
    const uctr = this.imuctr[utlb];
    if ((uctr & UTLB_MMUEN) === 0) {
      if (this.tracer !== null) this.tracer.step(`${this.name}: micro-TLB ${utlb} is disabled (IMUCTR.MMUEN 0): ${p.utlbDisabled}`);
      return p.utlbDisabled === 'bypass' ? this.bypass(page) : this.abort(utlb, 'utlbDisabled');
    }
    const context = (uctr >>> TTSEL_SHIFT) & this.ttselField;
    const root = this.root;
    if (context >= root.banks.length) {
      if (this.tracer !== null) this.tracer.step(`${this.name}: micro-TLB ${utlb} selects context ${context}, which ${root.name} does not have`);
      return this.abort(utlb, 'invalidContext');
    }
    const bank = root.banks[context];
    if ((bank.imctr & CTX_MMUEN) === 0 || (this !== root && (this.banks[context].imctr & CTX_MMUEN) === 0)) {
      if (this.tracer !== null) this.tracer.step(`${this.name}: micro-TLB ${utlb} -> context ${context}, disabled (IMCTR.MMUEN 0): ${p.contextDisabled}`);
      return p.contextDisabled === 'bypass' ? this.bypass(page) : this.abort(utlb, 'contextDisabled');
    }
    const counters = this.banks[context].counters;
    counters.translations++;
    if (this.tracer !== null) this.tracer.step(`${this.name}: micro-TLB ${utlb} -> context ${context}`);

    // This IPMMU's TLB, then (for a cache IPMMU) the root's main TLB.
    const hits = this.tlb.lookup(context, page);
    if (hits > 1) return this.fault(utlb, context, MHIT, 3 - this.tlb.log2Pages / 9, page, offset);
    if (hits === 1) {
      counters.tlbHits++;
      if (this.tracer !== null) this.tracer.step(`${this.name}: TLB hit (2^${this.tlb.log2Pages} pages)`);
      return this.check(utlb, context, this.tlb.outputPage, this.tlb.perms, 3 - this.tlb.log2Pages / 9, page, offset, write, privileged);
    }
    counters.tlbMisses++;
    if (this !== root) {
      const rootCounters = bank.counters;
      const rootHits = root.tlb.lookup(context, page);
      if (rootHits > 1) return this.fault(utlb, context, MHIT, 3 - root.tlb.log2Pages / 9, page, offset);
      if (rootHits === 1) {
        rootCounters.tlbHits++;
        if (this.tracer !== null) this.tracer.step(`${root.name}: main TLB hit (2^${root.tlb.log2Pages} pages)`);
        this.tlb.insert(context, page, root.tlb.outputPage, root.tlb.log2Pages, root.tlb.perms);
        return this.check(utlb, context, root.tlb.outputPage, root.tlb.perms, 3 - root.tlb.log2Pages / 9, page, offset, write, privileged);
      }
      rootCounters.tlbMisses++;
    }
    return this.walk(utlb, context, page, offset, write, privileged);
  }

  /** The BigInt API: one transaction of micro-TLB `utlb` at `address` (tools and tests). */
  translate(request: { utlb: number; address: bigint; write?: boolean; privileged?: boolean }): IpmmuTranslation {
    const page = Number(request.address >> 12n);
    const offset = Number(request.address & 0xfffn);
    const outcome = this.translatePage(request.utlb, page, offset, request.write ?? false, request.privileged ?? false);
    const address = outcome === IpmmuOutcome.Translated || outcome === IpmmuOutcome.Bypassed ? BigInt(this.outputPage) * 4096n + BigInt(offset) : null;
    const names = ['translated', 'bypassed', 'fault', 'aborted'] as const;
    return { outcome: names[outcome], address, fault: outcome === IpmmuOutcome.Fault ? this.faultKind : 0 };
  }

  /** Bytes a completed transaction of micro-TLB `utlb` moved (the DMA port counts them). */
  countBytes(utlb: number, bytes: number): void {
    this.utlbBytes[utlb] += bytes;
  }

  /** Whether micro-TLB `utlb` is enabled, and the context it selects (register view, for tools). */
  utlbState(utlb: number): { enabled: boolean; context: number } {
    const v = this.imuctr[utlb] ?? 0;
    return { enabled: (v & Imuctr.MMUEN) !== 0, context: (v >>> Imuctr.TTSEL_SHIFT) & this.ttselField };
  }

  /** The translations this IPMMU's TLB holds (inspection; no counters change). */
  tlbEntries(): ReturnType<IpmmuTlb['entries']> {
    return this.tlb.entries();
  }

  private walk(utlb: number, context: number, page: number, offset: number, write: boolean, privileged: boolean): IpmmuOutcomeValue {
    const root = this.root;
    const bank = root.banks[context];
    const p = root.parameters;
    const config = bank.walkConfig((root.imsauxctlr & Imsauxctlr.S2PTE) !== 0, p.paBits, p.ipaBits);
    if (typeof config === 'string') {
      if (this.tracer !== null) this.tracer.step(`${root.name}: context ${context} cannot be walked: ${config}`);
      return this.fault(utlb, context, Imstr.TF, 0, page, offset);
    }
    const walker = root.walker;
    const memory = root.walkMemory;
    memory.tracer = this.tracer;
    memory.context = context;
    bank.counters.walks++;
    const result = walker.walk(config, memory, bank.tableHi, bank.tableLo, page, false);
    bank.counters.descriptorReads += walker.descriptorReads;
    if (result !== VmsaFault.None) {
      // A descriptor read that failed is a walk abort; every other walk fault (invalid or
      // reserved descriptor, address size, Access flag) is a translation fault.
      const kind = result === VmsaFault.ExternalAbort ? Imstr.ABORT : Imstr.TF;
      return this.fault(utlb, context, kind, walker.faultLevel, page, offset);
    }
    const log2Pages = walker.leafLog2 - 12;
    root.tlb.insert(context, page, walker.outputPage, log2Pages, walker.permissions);
    if (this !== root) this.tlb.insert(context, page, walker.outputPage, log2Pages, walker.permissions);
    if (this.tracer !== null) this.tracer.step(`${root.name}: walk of context ${context}: level ${walker.leafLevel} leaf, output page 0x${walker.outputPage.toString(16)}`);
    return this.check(utlb, context, walker.outputPage, walker.permissions, walker.leafLevel, page, offset, write, privileged);
  }

  private check(utlb: number, context: number, outputPage: number, perms: number, level: number, page: number, offset: number, write: boolean, privileged: boolean): IpmmuOutcomeValue {
    if (!allows(perms, privileged, !write, write, false)) {
      if (this.tracer !== null) this.tracer.step(`${this.root.name}: the leaf does not permit a ${write ? 'write' : 'read'}`);
      return this.fault(utlb, context, PF, level, page, offset);
    }
    this.outputPage = outputPage;
    this.translated++;
    return IpmmuOutcome.Translated;
  }

  private bypass(page: number): IpmmuOutcomeValue {
    this.outputPage = page;
    this.bypassed++;
    return IpmmuOutcome.Bypassed;
  }

  private abort(utlb: number, why: keyof IpmmuAbortCounters): IpmmuOutcomeValue {
    this.aborts[why]++;
    this.aborted++;
    if (utlb >= 0) this.utlbRejected[utlb]++;
    return IpmmuOutcome.Aborted;
  }

  /** Records a fault of `kind` (an IMSTR bit) in the root's bank `context`. */
  private fault(utlb: number, context: number, kind: number, level: number, page: number, offset: number): IpmmuOutcomeValue {
    this.faulted++;
    this.utlbRejected[utlb]++;
    this.faultKind = kind;
    const root = this.root;
    const bank = root.banks[context];
    const f = bank.counters.faults;
    if (kind === Imstr.TF) f.translation++;
    else if (kind === Imstr.PF) f.permission++;
    else if (kind === Imstr.ABORT) f.walkAbort++;
    else f.multipleHits++;
    if ((bank.imstr & Imstr.ERRORS) !== 0) {
      f.whilePending++;
      bank.imstr |= kind;
    } else {
      const code = kind === Imstr.PF ? ImstrErrorCode.AccessPermission : kind === Imstr.TF ? ImstrErrorCode.TlbFormat : ImstrErrorCode.None;
      bank.imstr = kind | (code << Imstr.ERRCODE_SHIFT) | ((level & 3) << Imstr.ERRLVL_SHIFT);
      bank.imelar = ((page % PAGES_PER_4G) * 4096 + offset) >>> 0;
      bank.imeuar = Math.floor(page / PAGES_PER_4G) >>> 0;
    }
    if (this.tracer !== null) this.tracer.step(`${root.name}: context ${context} fault, IMSTR 0x${bank.imstr.toString(16)}`);
    root.updateIrq();
    return IpmmuOutcome.Fault;
  }

  private updateIrq(): void {
    let level = false;
    for (const b of this.banks) {
      if ((b.imctr & Imctr.INTEN) !== 0 && (b.imstr & Imstr.ERRORS) !== 0) {
        level = true;
        break;
      }
    }
    this.irq.set(level);
  }

  // ---- registers -----------------------------------------------------------------------------

  mmioRead(offset: number, size: MmioSize): bigint {
    return size === 4 && (offset & 3) === 0 ? BigInt(this.read32(offset)) : 0n;
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (size === 4 && (offset & 3) === 0) this.write32(offset, Number(value & 0xffff_ffffn));
  }

  mmioRead32(offset: number): number {
    return (offset & 3) === 0 ? this.read32(offset) : 0;
  }

  mmioWrite32(offset: number, value: number): void {
    if ((offset & 3) === 0) this.write32(offset, value >>> 0);
  }

  /** A register's value as the driver reads it. */
  read32(offset: number): number {
    const layout = this.parameters.layout;
    const context = this.contextAt(offset);
    if (context >= 0) {
      const b = this.banks[context];
      const reg = offset - contextRegisterOffset(layout, context, 0);
      switch (reg) {
        case ContextReg.IMCTR:
          return b.imctr >>> 0;
        case ContextReg.IMCAAR:
          return b.imcaar >>> 0;
        case ContextReg.IMTTBCR:
          return b.imttbcr >>> 0;
        case ContextReg.IMBUSCR:
          return b.imbuscr >>> 0;
        case ContextReg.IMTTLBR0:
          return b.imttlbr0 >>> 0;
        case ContextReg.IMTTUBR0:
          return b.imttubr0 >>> 0;
        case ContextReg.IMTTLBR1:
          return b.imttlbr1 >>> 0;
        case ContextReg.IMTTUBR1:
          return b.imttubr1 >>> 0;
        case ContextReg.IMSTR:
          return this.isRoot ? b.imstr >>> 0 : 0;
        case ContextReg.IMMAIR0:
          return b.immair0 >>> 0;
        case ContextReg.IMMAIR1:
          return b.immair1 >>> 0;
        case ContextReg.IMELAR:
          return this.isRoot ? b.imelar >>> 0 : 0;
        case ContextReg.IMEUAR:
          return this.isRoot ? b.imeuar >>> 0 : 0;
        default:
          return 0;
      }
    }
    const utlb = this.utlbAt(offset);
    if (utlb >= 0) {
      const reg = offset - imuctrOffset(layout, utlb);
      return reg === 0 ? this.imuctr[utlb] : reg === 8 ? this.imuasid[utlb] : 0;
    }
    if (offset === controlRegisterOffset(layout, ControlReg.IMSCTLR)) return this.imsctlr >>> 0;
    if (offset === controlRegisterOffset(layout, ControlReg.IMSAUXCTLR)) return this.imsauxctlr >>> 0;
    return 0;
  }

  /** A register write as the driver makes it. */
  write32(offset: number, value: number): void {
    const layout = this.parameters.layout;
    const context = this.contextAt(offset);
    if (context >= 0) {
      this.writeContext(context, offset - contextRegisterOffset(layout, context, 0), value >>> 0);
      return;
    }
    const utlb = this.utlbAt(offset);
    if (utlb >= 0) {
      const reg = offset - imuctrOffset(layout, utlb);
      if (reg === 0) {
        this.imuctr[utlb] = value & (Imuctr.MMUEN | ttselMask(layout) | Imuctr.FIXADD_MASK | Imuctr.FIXADDEN);
        if ((value & Imuctr.FLUSH) !== 0) this.microTlbFlushes++;
        if (this.tracer !== null) this.tracer.step(`${this.name}: IMUCTR(${utlb}) = 0x${(value >>> 0).toString(16)}`);
      } else if (reg === 8) {
        this.imuasid[utlb] = value & (Imuasid.ASID0_MASK | Imuasid.ASID8_MASK);
      }
      return;
    }
    if (offset === controlRegisterOffset(layout, ControlReg.IMSCTLR)) {
      this.imsctlr = value >>> 0;
    } else if (offset === controlRegisterOffset(layout, ControlReg.IMSAUXCTLR)) {
      this.imsauxctlr = value >>> 0;
      for (const b of this.banks) b.invalidateConfig();
    }
  }

  private writeContext(context: number, reg: number, value: number): void {
    const b = this.banks[context];
    switch (reg) {
      case ContextReg.IMCTR: {
        // Cache IPMMUs implement the common fields only (VA64 and the rest are root-only).
        b.imctr = (value & ~Imctr.FLUSH & (this.isRoot ? 0xffff_ffff : Imctr.COMMON_MASK)) >>> 0;
        if ((value & Imctr.FLUSH) !== 0) {
          b.counters.flushes++;
          b.counters.entriesFlushed += this.tlb.flushContext(context);
          if (this.tracer !== null) this.tracer.step(`${this.name}: context ${context} TLB flushed`);
        }
        if (this.isRoot) this.updateIrq();
        return;
      }
      case ContextReg.IMCAAR:
        b.imcaar = value;
        return;
      case ContextReg.IMTTBCR:
        b.imttbcr = value;
        b.invalidateConfig();
        return;
      case ContextReg.IMBUSCR:
        b.imbuscr = value;
        return;
      case ContextReg.IMTTLBR0:
        b.imttlbr0 = value;
        return;
      case ContextReg.IMTTUBR0:
        b.imttubr0 = value;
        return;
      case ContextReg.IMTTLBR1:
        b.imttlbr1 = value;
        return;
      case ContextReg.IMTTUBR1:
        b.imttubr1 = value;
        return;
      case ContextReg.IMSTR:
        if (!this.isRoot) return;
        b.imstr = (b.imstr & value) >>> 0;
        if ((b.imstr & Imstr.ERRORS) === 0) {
          b.imstr = 0;
          b.imelar = 0;
          b.imeuar = 0;
        }
        this.updateIrq();
        return;
      case ContextReg.IMMAIR0:
        b.immair0 = value;
        return;
      case ContextReg.IMMAIR1:
        b.immair1 = value;
        return;
      default:
        return; // IMELAR, IMEUAR are read-only; the rest of the bank holds nothing
    }
  }

  /** The context whose bank holds `offset`, or -1. */
  private contextAt(offset: number): number {
    const layout = this.parameters.layout;
    for (let c = 0; c < this.banks.length; c++) {
      const base = contextRegisterOffset(layout, c, 0);
      if (offset >= base && offset < base + CONTEXT_BANK_SIZE) return c;
    }
    return -1;
  }

  /** The micro-TLB whose IMUCTR/IMUASID pair holds `offset`, or -1. */
  private utlbAt(offset: number): number {
    const layout = this.parameters.layout;
    for (let u = 0; u < this.imuctr.length; u++) {
      const base = imuctrOffset(layout, u);
      if (offset >= base && offset < base + 16) return u;
    }
    return -1;
  }

  // ---- statistics ----------------------------------------------------------------------------

  statistics(): IpmmuVmsaStatistics {
    const faults = newFaultCounters();
    for (const b of this.banks) {
      const f = b.counters.faults;
      faults.translation += f.translation;
      faults.permission += f.permission;
      faults.walkAbort += f.walkAbort;
      faults.multipleHits += f.multipleHits;
      faults.whilePending += f.whilePending;
    }
    const utlbs: IpmmuUtlbCounters[] = [];
    for (let u = 0; u < this.imuctr.length; u++) {
      if (this.utlbTransactions[u] > 0) utlbs.push({ utlb: u, transactions: this.utlbTransactions[u], bytes: this.utlbBytes[u], rejected: this.utlbRejected[u] });
    }
    return {
      name: this.name,
      role: this.isRoot ? 'root' : 'cache',
      transactions: this.transactions,
      translated: this.translated,
      bypassed: this.bypassed,
      faulted: this.faulted,
      aborted: this.aborted,
      aborts: { ...this.aborts },
      faults,
      microTlbFlushes: this.microTlbFlushes,
      tlb: { ...this.tlb.counters, capacity: this.tlb.capacity, occupancy: this.tlb.occupancy },
      contexts: this.banks.map((b) => ({ context: b.index, ...b.counters, faults: { ...b.counters.faults } })),
      utlbs,
    };
  }
}
