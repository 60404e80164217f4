// The Arm SMMUv3 model (IHI 0070), one Non-secure programming interface: wires the units
// together and exposes the test-bench interface — the register frame (`mmio`, two 64 KiB
// pages), inbound transactions (`translate`, and the DMA port), PCIe ATS and PRI in both
// directions, a tracer and statistics. Software meets it only through registers, memory and
// interrupts. Register updates (CR0 -> CR0ACK, IRQ_CTRL -> IRQ_CTRLACK, GBPA.Update) complete
// at once, and commands are consumed when CMDQ_PROD is written.

import { eventName } from '../../formats/smmuv3/records.js';
import { Cr0Layout, Gerror, Reg as RegImport } from '../../formats/smmuv3/registers.js';
import type { AtsInvalidationTarget, PageRequest, PageRequestSink, PageResponseCodeValue, PageResponseTarget } from '../../devices/pcie/ats.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import { SystemBus } from '../../sim/system-bus.js';
import type { CacheCounters } from '../caches/tag-cache.js';
import { BusPort } from './bus-port.js';
import { CommandQueue } from './command-queue.js';
import { Configuration } from './configuration.js';
import { EventQueue } from './event-queue.js';
import { Interrupts, IrqSource, type MsiConfig, type SmmuV3InterruptLines } from './interrupts.js';
import { idRegisters, resolveParameters, type IdRegisters, type SmmuV3Options, type SmmuV3Parameters } from './parameters.js';
import { PriQueue, PriRequest } from './pri-queue.js';
import type { QueueRegisters } from './queue-registers.js';
import { RegisterFile, type RegisterWords } from './register-file.js';
import type { SmmuV3Tracer } from './trace.js';
import { SmmuResult, SmmuTransaction, TransactionKind, type TransactionKindValue } from './transaction.js';
import { Translator } from './translate.js';
import { WalkMemory } from './walk-memory.js';

// Local copies of imported constants, read on every register access: V8 folds a module constant's
// properties into optimized code, not an import's.
const Reg = RegImport;

const CR0_SMMUEN = 1 << Cr0Layout.SMMUEN.lsb;
const CR0_PRIQEN = 1 << Cr0Layout.PRIQEN.lsb;
const CR0_EVENTQEN = 1 << Cr0Layout.EVENTQEN.lsb;
const CR0_CMDQEN = 1 << Cr0Layout.CMDQEN.lsb;
const CR0_ATSCHK = 1 << Cr0Layout.ATSCHK.lsb;
const GBPA_UPDATE = 0x8000_0000;
/** GBPA fields: MemAttr, MTCFG, ALLOCCFG, SHCFG, PRIVCFG, INSTCFG, ABORT. */
const GBPA_FIELDS = 0x001f_3f1f;
/** CR1: QUEUE_* (guarded by the queue enables) and TABLE_* (guarded by SMMUEN). */
const CR1_QUEUE = 0x3f;
const CR1_TABLE = 0xfc0;
const PAGE1 = 0x10000;

export interface SmmuV3Config extends SmmuV3Options {
  /** The physical memory the SMMU's structures live in (tools and tests reach it directly). */
  memory: PhysicalMemory;
  /** Where the SMMU's own accesses go (tables, queues, MSIs); defaults to a bus over `memory` alone. */
  bus?: SystemBus;
  /** Wired interrupt outputs; each is optional. */
  interrupts?: SmmuV3InterruptLines;
}

/** A transaction as a plain object, for the convenience form of `translate`. */
export interface SmmuTransactionInit {
  sid: number;
  address: bigint;
  /** A SubstreamID (PCIe PASID): present means SSV == 1. */
  ssid?: number;
  write?: boolean;
  /** An instruction fetch (InD). */
  instruction?: boolean;
  privileged?: boolean;
  kind?: TransactionKindValue;
}

/** PCIe requester (RID and segment) of a StreamID, for ATS invalidations and PRG responses. */
export interface PcieRequester {
  rid: number;
  segment: number;
}

export interface SmmuV3CacheStatistics {
  hits: number;
  misses: number;
  hitRate: number;
  fills: number;
  evictions: number;
  invalidations: number;
  entries: number;
}

export interface SmmuV3Statistics {
  requests: { untranslated: number; translated: number; atsTranslation: number; bypassed: number };
  /** Faults and errors detected, by event name (recorded or not). */
  faults: Record<string, number>;
  events: { written: number; overflowed: number; discarded: number; aborts: number };
  caches: { tlb: SmmuV3CacheStatistics; ste: SmmuV3CacheStatistics; cd: SmmuV3CacheStatistics; l1std: SmmuV3CacheStatistics; l1cd: SmmuV3CacheStatistics };
  walks: { stage1: number; stage2: number; steFetches: number; cdFetches: number };
  /** Commands consumed, by name. */
  commands: Record<string, number>;
  commandErrors: { ill: number; abt: number; atcInvSync: number };
  ats: { atcInvalidations: number; atcInvalidationFailures: number; priResponses: number };
  pageRequests: { received: number; queued: number; discarded: number; overflows: number; autoResponses: number };
  interrupts: { eventq: number; priq: number; cmdqSync: number; gerror: number; sev: number; msisSent: number; msiAborts: number };
  memory: { reads: number; writes: number };
  illegalRegisterAccesses: number;
}

export class SmmuV3 implements MmioDevice, PageRequestSink {
  readonly params: SmmuV3Parameters;
  readonly ids: IdRegisters;
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  readonly interrupts: Interrupts;
  readonly eventQueue: EventQueue;
  readonly priQueue: PriQueue;
  readonly commandQueue: CommandQueue;
  readonly configuration: Configuration;
  readonly translator: Translator;
  /** Where CMD_ATC_INV sends Invalidation Requests (the PCIe host bridge); null: ATS is not supported beyond the SMMU. */
  atcTarget: AtsInvalidationTarget | null = null;
  /** Where CMD_PRI_RESP and automatic responses send PRG Responses. */
  priTarget: PageResponseTarget | null = null;
  /** The PCIe requester of a StreamID (3.2: StreamID[15:0] is the RequesterID); settable by the platform. */
  requesterOf: (sid: number) => PcieRequester = (sid) => ({ rid: sid & 0xffff, segment: sid >>> 16 });
  /** The StreamID of a PCIe requester; the inverse of `requesterOf`. */
  streamIdOf: (rid: number, segment: number) => number = (rid, segment) => ((segment << 16) | rid) >>> 0;
  /** The register frame, as a bus master sees it: offsets from the base of Page 0. */
  readonly mmio: {
    read(offset: number, size: 4 | 8): bigint;
    write(offset: number, size: 4 | 8, value: bigint): void;
    read32(offset: number): number;
    write32(offset: number, value: number): void;
  };

  // Registers owned here.
  private cr0 = 0;
  private cr0ack = 0;
  private cr1 = 0;
  private cr2 = 0;
  private gbpa = 0;
  private readonly strtab = { baseLo: 0, baseHi: 0, cfg: 0 };
  private readonly regs = { cr0ack: 0, cr2: 0, gbpa: 0 };
  private readonly steContext = { e2h: false };
  private readonly port: BusPort;
  private readonly walkMemories: WalkMemory[];
  private readonly registers: RegisterFile;
  private readonly scratchTxn = new SmmuTransaction();
  private readonly scratchPri = new PriRequest();
  private itag = 0;

  constructor(config: SmmuV3Config) {
    const params = resolveParameters(config);
    const c = params.capabilities;
    this.params = params;
    this.ids = idRegisters(params);
    this.memory = config.memory;
    this.bus = config.bus ?? new SystemBus(config.memory);
    this.port = new BusPort(this.bus);
    this.interrupts = new Interrupts(this.port, config.interrupts ?? {}, c.msi, c.pri, c.oasBits);
    this.eventQueue = new EventQueue(c.eventqLog2Max, c.oasBits, this.port, this.interrupts, () => (this.cr0ack & CR0_EVENTQEN) !== 0);
    this.priQueue = new PriQueue(
      c.priqLog2Max,
      c.oasBits,
      this.port,
      this.interrupts,
      {
        enabled: () => (this.cr0ack & (CR0_PRIQEN | CR0_SMMUEN)) === (CR0_PRIQEN | CR0_SMMUEN),
        respond: (sid, pasid, prgIndex, code) => this.sendPageResponse(sid, pasid, prgIndex, code),
        ppar: (sid) => this.ppar(sid),
      },
      c.pps,
    );
    this.walkMemories = [new WalkMemory(this.port), new WalkMemory(this.port), new WalkMemory(this.port)];
    let translator: Translator | null = null;
    this.configuration = new Configuration(params, this.port, this.strtab, this.steContext, (ste, page, offset, out) => (translator as Translator).translateCdAddress(ste, page, offset, out));
    translator = new Translator(params, this.regs, this.configuration, this.eventQueue, this.walkMemories[0], this.walkMemories[1], this.walkMemories[2]);
    this.translator = translator;
    this.commandQueue = new CommandQueue(params, this.port, this.interrupts, this.configuration, translator.tlb, {
      enabled: () => (this.cr0ack & CR0_CMDQEN) !== 0,
      smmuEnabled: () => (this.cr0ack & CR0_SMMUEN) !== 0,
      e2h: () => (this.cr2 & 1) !== 0,
      invalidateAtc: (sid, pasid, global, hi, lo, sizeLog2) => this.sendAtcInvalidation(sid, pasid, global, hi, lo, sizeLog2),
      pageResponse: (sid, pasid, prgIndex, code) => this.sendPageResponse(sid, pasid, prgIndex, code),
      prefetch: (sid, ssv, ssid) => this.prefetch(sid, ssv, ssid),
    });
    // Acknowledging CMDQ_ERR restarts command consumption (7.1).
    this.interrupts.onAcknowledge = (bits) => {
      if ((bits & Gerror.CMDQ_ERR) !== 0) this.commandQueue.process();
    };
    const words: RegisterWords = {
      readWord: (offset) => this.readWord(offset),
      writeWord: (offset, value) => this.writeWord(offset, value),
      writeDouble: (offset, lo, hi) => this.writeDouble(offset, lo, hi),
    };
    this.registers = new RegisterFile(words);
    this.mmio = {
      read: (offset, size) => this.registers.read(offset, size),
      write: (offset, size, value) => this.registers.write(offset, size, value),
      read32: (offset) => this.registers.readWord(offset),
      write32: (offset, value) => this.registers.writeWord(offset, value),
    };
    this.reset();
  }

  /** Returns the model to its reset state: registers, queues and empty caches. */
  reset(): void {
    this.cr0 = this.cr0ack = this.cr1 = this.cr2 = 0;
    // GBPA: Update resets to 0; ABORT to the IMPLEMENTATION DEFINED choice; SHCFG to "use incoming".
    this.gbpa = (this.params.gbpaAbortAtReset ? 1 << 20 : 0) | (1 << 12);
    this.strtab.baseLo = this.strtab.baseHi = this.strtab.cfg = 0;
    this.interrupts.reset();
    this.eventQueue.reset();
    this.priQueue.reset();
    this.commandQueue.reset();
    this.configuration.invalidateAll();
    this.translator.tlb.clear();
    this.sync();
  }

  // ---- MmioDevice ---------------------------------------------------------------------------

  mmioRead(offset: number, size: MmioSize): bigint {
    return this.registers.read(offset, size);
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    this.registers.write(offset, size, value);
  }

  mmioRead32(offset: number): number {
    return this.registers.readWord(offset);
  }

  mmioWrite32(offset: number, value: number): void {
    this.registers.writeWord(offset, value);
  }

  // ---- inbound traffic ------------------------------------------------------------------------

  /**
   * Translates a transaction (or ATS Translation Request) the way the SMMU handles inbound
   * traffic, recording events as it goes. With a reusable SmmuTransaction and `into` this
   * allocates nothing; the plain-object form is for tests and tools.
   */
  translate(request: SmmuTransaction | SmmuTransactionInit, into?: SmmuResult): SmmuResult {
    const r = into ?? new SmmuResult();
    let t: SmmuTransaction;
    // Told apart by a field only an SmmuTransaction has (cheaper than instanceof on a hot path).
    if ('addressLo' in request) {
      t = request;
    } else {
      t = this.scratchTxn;
      t.sid = request.sid;
      t.address = request.address;
      t.ssv = request.ssid !== undefined;
      t.ssid = request.ssid ?? 0;
      t.write = request.write ?? false;
      t.instruction = request.instruction ?? false;
      t.privileged = request.privileged ?? false;
      t.kind = request.kind ?? TransactionKind.Untranslated;
    }
    return this.translator.translate(t, r);
  }

  /** PageRequestSink: a PCIe Page Request (or Stop Marker) from an endpoint (chapter 8). */
  pageRequest(request: PageRequest): void {
    const r = this.scratchPri;
    r.sid = this.streamIdOf(request.rid, request.segment);
    r.ssv = request.pasid !== null && this.params.capabilities.ssidBits > 0;
    r.ssid = r.ssv ? (request.pasid as number) : 0;
    r.priv = r.ssv && request.privileged;
    r.exec = r.ssv && request.exec;
    r.read = request.read;
    r.write = request.write;
    r.last = request.last;
    r.prgIndex = request.groupIndex & 0x1ff;
    r.addrHi = Number((request.address >> 32n) & 0xffff_ffffn);
    r.addrLo = Number(request.address & 0xffff_f000n);
    this.priQueue.receive(r);
  }

  /** Attaches (or with null detaches) a tracer that observes every structure fetch and decision. */
  setTracer(tracer: SmmuV3Tracer | null): void {
    this.configuration.tracer = tracer;
    this.translator.tracer = tracer;
    for (const m of this.walkMemories) m.tracer = tracer;
  }

  statistics(): SmmuV3Statistics {
    const t = this.translator.stats;
    const rate = (h: number, m: number) => (h + m === 0 ? 0 : h / (h + m));
    const cache = (k: CacheCounters, entries: number): SmmuV3CacheStatistics => ({
      hits: k.hits,
      misses: k.misses,
      hitRate: rate(k.hits, k.misses),
      fills: k.fills,
      evictions: k.evictions,
      invalidations: k.invalidations,
      entries,
    });
    const cfg = this.configuration;
    const e = this.eventQueue.stats;
    const p = this.priQueue.stats;
    const cq = this.commandQueue.stats;
    const irq = this.interrupts.counters;
    const faults: Record<string, number> = {};
    for (const [type, n] of t.faults) faults[eventName(type)] = n;
    return {
      requests: { untranslated: t.requests[0], translated: t.requests[1], atsTranslation: t.requests[2], bypassed: t.bypassed },
      faults,
      events: { written: e.written, overflowed: e.overflowed, discarded: e.discarded, aborts: e.aborts },
      caches: {
        tlb: cache(this.translator.tlb.counters, this.translator.tlb.occupancy),
        ste: cache(cfg.steCache.counters, cfg.steCache.occupancy),
        cd: cache(cfg.cdCache.counters, cfg.cdCache.occupancy),
        l1std: cache(cfg.l1stdCache.counters, cfg.l1stdCache.occupancy),
        l1cd: cache(cfg.l1cdCache.counters, cfg.l1cdCache.occupancy),
      },
      walks: { stage1: t.stage1Walks, stage2: t.stage2Walks, steFetches: cfg.stats.steFetches, cdFetches: cfg.stats.cdFetches },
      commands: Object.fromEntries(this.commandQueue.byName),
      commandErrors: { ...cq.errors },
      ats: { atcInvalidations: cq.atcInvalidations, atcInvalidationFailures: cq.atcInvalidationFailures, priResponses: cq.priResponses },
      pageRequests: { received: p.received, queued: p.queued, discarded: p.discarded, overflows: p.overflows, autoResponses: p.autoResponses },
      interrupts: { ...irq.wired, msisSent: irq.msisSent, msiAborts: irq.msiAborts },
      memory: { reads: this.port.reads, writes: this.port.writes },
      illegalRegisterAccesses: this.registers.illegal,
    };
  }

  // ---- PCIe messages out ----------------------------------------------------------------------

  private sendAtcInvalidation(sid: number, pasid: number, global: boolean, hi: number, lo: number, sizeLog2: number): boolean {
    // Without a connected Root Complex ATS is not supported beyond the SMMU: the command is IGNORED (4.5).
    if (this.atcTarget === null) return true;
    const { rid, segment } = this.requesterOf(sid);
    const itag = this.itag;
    this.itag = (this.itag + 1) % 32;
    return this.atcTarget.invalidateAtc({
      rid,
      segment,
      pasid: pasid < 0 ? null : pasid,
      global,
      address: (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0),
      sizeLog2,
      itag,
    });
  }

  private sendPageResponse(sid: number, pasid: number, prgIndex: number, code: number): void {
    if (this.priTarget === null) return;
    const { rid, segment } = this.requesterOf(sid);
    this.priTarget.pageResponse({ rid, segment, pasid: pasid < 0 ? null : pasid, groupIndex: prgIndex, code: code as PageResponseCodeValue });
  }

  /** STE.PPAR of a stream for PRI overflow auto-responses, -1 without a valid STE (8.1). */
  private ppar(sid: number): number {
    if ((this.cr0ack & CR0_SMMUEN) === 0) return -1;
    const ste = this.configuration.stream(sid);
    if (ste === null || ste.illegal !== '') return -1;
    return ste.ppar ? 1 : 0;
  }

  /** CMD_PREFETCH_*: the STE, and the CD of a stage-1-only stream; errors are silent (4.2). */
  private prefetch(sid: number, ssv: boolean, ssid: number): void {
    const ste = this.configuration.stream(sid);
    if (ste === null || ste.illegal !== '' || !ste.s1 || ste.s2) return;
    const substreams = this.params.capabilities.ssidBits !== 0 && ste.s1CdMax !== 0;
    const index = substreams && ssv ? ssid : 0;
    if (substreams && index >= 2 ** ste.s1CdMax) return;
    this.configuration.context(ste, sid, index);
  }

  // ---- registers -------------------------------------------------------------------------------

  /** Copies register state the translation reads into its views. */
  private sync(): void {
    this.regs.cr0ack = this.cr0ack;
    this.regs.cr2 = this.cr2;
    this.regs.gbpa = this.gbpa;
    this.steContext.e2h = (this.cr2 & 1) !== 0;
  }

  private get queuesEnabled(): boolean {
    return ((this.cr0 | this.cr0ack) & (CR0_CMDQEN | CR0_EVENTQEN | CR0_PRIQEN)) !== 0;
  }

  private get smmuEnabled(): boolean {
    return ((this.cr0 | this.cr0ack) & CR0_SMMUEN) !== 0;
  }

  private readWord(offset: number): number {
    const i = this.ids;
    const irq = this.interrupts;
    const c = this.params.capabilities;
    if (offset >= PAGE1) return this.readPage1(offset - PAGE1);
    switch (offset) {
      case Reg.IDR0:
        return i.idr0;
      case Reg.IDR1:
        return i.idr1;
      case Reg.IDR2:
        return i.idr2;
      case Reg.IDR3:
        return i.idr3;
      case Reg.IDR4:
        return i.idr4;
      case Reg.IDR5:
        return i.idr5;
      case Reg.IIDR:
        return i.iidr;
      case Reg.AIDR:
        return i.aidr;
      case Reg.CR0:
        return this.cr0;
      case Reg.CR0ACK:
        return this.cr0ack;
      case Reg.CR1:
        return this.cr1;
      case Reg.CR2:
        return this.cr2;
      case Reg.GBPA:
        return this.gbpa;
      case Reg.IRQ_CTRL:
        return irq.irqCtrl;
      case Reg.IRQ_CTRLACK:
        return irq.irqCtrlAck;
      case Reg.GERROR:
        return irq.gerror;
      case Reg.GERRORN:
        return irq.gerrorn;
      case Reg.GERROR_IRQ_CFG0:
      case Reg.GERROR_IRQ_CFG0 + 4:
      case Reg.GERROR_IRQ_CFG1:
      case Reg.GERROR_IRQ_CFG2:
        return c.msi ? readMsi(irq.gerrorCfg, offset - Reg.GERROR_IRQ_CFG0) : 0;
      case Reg.STRTAB_BASE:
        return this.strtab.baseLo;
      case Reg.STRTAB_BASE + 4:
        return this.strtab.baseHi;
      case Reg.STRTAB_BASE_CFG:
        return this.strtab.cfg;
      case Reg.CMDQ_BASE:
        return this.commandQueue.regs.baseLo;
      case Reg.CMDQ_BASE + 4:
        return this.commandQueue.regs.baseHi;
      case Reg.CMDQ_PROD:
        return this.commandQueue.regs.prod;
      case Reg.CMDQ_CONS:
        return this.commandQueue.regs.cons;
      case Reg.EVENTQ_BASE:
        return this.eventQueue.regs.baseLo;
      case Reg.EVENTQ_BASE + 4:
        return this.eventQueue.regs.baseHi;
      case Reg.EVENTQ_IRQ_CFG0:
      case Reg.EVENTQ_IRQ_CFG0 + 4:
      case Reg.EVENTQ_IRQ_CFG1:
      case Reg.EVENTQ_IRQ_CFG2:
        return c.msi ? readMsi(irq.eventq, offset - Reg.EVENTQ_IRQ_CFG0) : 0;
      case Reg.EVENTQ_PROD_PAGE0:
      case Reg.EVENTQ_CONS_PAGE0:
      case Reg.PRIQ_PROD_PAGE0:
      case Reg.PRIQ_CONS_PAGE0:
        return this.params.page0QueueAliases ? this.readPage1(offset) : 0;
    }
    if (!c.pri) return 0;
    switch (offset) {
      case Reg.PRIQ_BASE:
        return this.priQueue.regs.baseLo;
      case Reg.PRIQ_BASE + 4:
        return this.priQueue.regs.baseHi;
      case Reg.PRIQ_IRQ_CFG0:
      case Reg.PRIQ_IRQ_CFG0 + 4:
      case Reg.PRIQ_IRQ_CFG1:
        return c.msi ? readMsi(irq.priq, offset - Reg.PRIQ_IRQ_CFG0) : 0;
      case Reg.PRIQ_IRQ_CFG2:
        return irq.priq.attr & (c.msi ? 0x8000_003f : 0x8000_0000);
    }
    return 0;
  }

  private readPage1(offset: number): number {
    switch (offset) {
      case Reg.EVENTQ_PROD_PAGE0:
        return this.eventQueue.regs.prod;
      case Reg.EVENTQ_CONS_PAGE0:
        return this.eventQueue.regs.cons;
      case Reg.PRIQ_PROD_PAGE0:
        return this.params.capabilities.pri ? this.priQueue.regs.prod : 0;
      case Reg.PRIQ_CONS_PAGE0:
        return this.params.capabilities.pri ? this.priQueue.regs.cons : 0;
    }
    return 0;
  }

  private writeDouble(offset: number, lo: number, hi: number): void {
    // A 64-bit register is written as a whole once its guard allows; other pairs as two words.
    switch (offset) {
      case Reg.GERROR_IRQ_CFG0:
      case Reg.STRTAB_BASE:
      case Reg.CMDQ_BASE:
      case Reg.EVENTQ_BASE:
      case Reg.EVENTQ_IRQ_CFG0:
      case Reg.PRIQ_BASE:
      case Reg.PRIQ_IRQ_CFG0:
        this.writeWord(offset + 4, hi);
        this.writeWord(offset, lo);
        return;
    }
    this.writeWord(offset, lo);
    this.writeWord(offset + 4, hi);
  }

  private writeWord(offset: number, value: number): void {
    const c = this.params.capabilities;
    const irq = this.interrupts;
    if (offset >= PAGE1) return this.writePage1(offset - PAGE1, value);
    switch (offset) {
      case Reg.CR0:
        return this.writeCr0(value);
      case Reg.CR1: {
        // TABLE_* are Guarded by SMMUEN, QUEUE_* by the queue enables (6.3.11); guarded fields ignore writes.
        let mask = 0;
        if (!this.smmuEnabled) mask |= CR1_TABLE;
        if (!this.queuesEnabled) mask |= CR1_QUEUE;
        this.cr1 = (this.cr1 & ~mask) | (value & mask);
        return;
      }
      case Reg.CR2:
        // Read-only while SMMUEN is 1 (6.3.12). E2H is RES0 without HYP; REC_CFG_ATS is not implemented.
        if (this.smmuEnabled) return;
        this.cr2 = value & ((c.hyp ? 1 : 0) | 2 | 4);
        this.sync();
        return;
      case Reg.GBPA:
        // Only a write that sets Update takes effect (SMMUv3.2, 6.3.14.1); the update completes at once.
        if ((value & GBPA_UPDATE) === 0) return;
        this.gbpa = value & GBPA_FIELDS;
        this.sync();
        return;
      case Reg.IRQ_CTRL:
        irq.writeIrqCtrl(value);
        return;
      case Reg.GERRORN:
        irq.writeGerrorn(value);
        return;
      case Reg.GERROR_IRQ_CFG0:
      case Reg.GERROR_IRQ_CFG0 + 4:
      case Reg.GERROR_IRQ_CFG1:
      case Reg.GERROR_IRQ_CFG2:
        if (c.msi && !irq.enabled(IrqSource.Gerror)) writeMsi(irq.gerrorCfg, offset - Reg.GERROR_IRQ_CFG0, value, false);
        return;
      case Reg.STRTAB_BASE:
        if (!this.smmuEnabled) this.strtab.baseLo = (value & 0xffff_ffc0) >>> 0;
        return;
      case Reg.STRTAB_BASE + 4:
        if (!this.smmuEnabled) this.strtab.baseHi = value & 0x40ff_ffff;
        return;
      case Reg.STRTAB_BASE_CFG:
        if (!this.smmuEnabled) this.strtab.cfg = value & (0x7ff | (c.twoLevelStreamTable ? 0x3_0000 : 0));
        return;
      case Reg.CMDQ_BASE:
      case Reg.CMDQ_BASE + 4:
        if (!this.queueEnabled(CR0_CMDQEN)) writeBase(this.commandQueue.regs, offset - Reg.CMDQ_BASE, value);
        return;
      case Reg.CMDQ_PROD: {
        const q = this.commandQueue.regs;
        q.prod = value & q.pointerMask;
        this.commandQueue.process();
        return;
      }
      case Reg.CMDQ_CONS: {
        // Guarded by CMDQEN; the written ERR is ignored (a permitted choice, 6.3.28).
        const q = this.commandQueue.regs;
        if (!this.queueEnabled(CR0_CMDQEN)) q.cons = (q.cons & 0x7f00_0000) | (value & q.pointerMask);
        return;
      }
      case Reg.EVENTQ_BASE:
      case Reg.EVENTQ_BASE + 4:
        if (!this.queueEnabled(CR0_EVENTQEN)) writeBase(this.eventQueue.regs, offset - Reg.EVENTQ_BASE, value);
        return;
      case Reg.EVENTQ_IRQ_CFG0:
      case Reg.EVENTQ_IRQ_CFG0 + 4:
      case Reg.EVENTQ_IRQ_CFG1:
      case Reg.EVENTQ_IRQ_CFG2:
        if (c.msi && !irq.enabled(IrqSource.Eventq)) writeMsi(irq.eventq, offset - Reg.EVENTQ_IRQ_CFG0, value, false);
        return;
      case Reg.EVENTQ_PROD_PAGE0:
      case Reg.EVENTQ_CONS_PAGE0:
      case Reg.PRIQ_PROD_PAGE0:
      case Reg.PRIQ_CONS_PAGE0:
        if (this.params.page0QueueAliases) this.writePage1(offset, value);
        return;
    }
    if (!c.pri) return;
    switch (offset) {
      case Reg.PRIQ_BASE:
      case Reg.PRIQ_BASE + 4:
        // The PRI queue registers are Guarded by the actual PRIQEN, not the effective one (6.3.9.5).
        if (!this.queueEnabled(CR0_PRIQEN)) writeBase(this.priQueue.regs, offset - Reg.PRIQ_BASE, value);
        return;
      case Reg.PRIQ_IRQ_CFG0:
      case Reg.PRIQ_IRQ_CFG0 + 4:
      case Reg.PRIQ_IRQ_CFG1:
        if (c.msi && !irq.enabled(IrqSource.Priq)) writeMsi(irq.priq, offset - Reg.PRIQ_IRQ_CFG0, value, false);
        return;
      case Reg.PRIQ_IRQ_CFG2:
        if (!irq.enabled(IrqSource.Priq)) writeMsi(irq.priq, offset - Reg.PRIQ_IRQ_CFG0, value & (c.msi ? 0x8000_003f : 0x8000_0000), true);
        return;
    }
  }

  private writePage1(offset: number, value: number): void {
    switch (offset) {
      case Reg.EVENTQ_PROD_PAGE0: {
        const q = this.eventQueue.regs;
        if (!this.queueEnabled(CR0_EVENTQEN)) q.prod = (value & 0x8000_0000) | (value & q.pointerMask);
        return;
      }
      case Reg.EVENTQ_CONS_PAGE0: {
        const q = this.eventQueue.regs;
        q.cons = (value & 0x8000_0000) | (value & q.pointerMask);
        return;
      }
      case Reg.PRIQ_PROD_PAGE0: {
        const q = this.priQueue.regs;
        if (this.params.capabilities.pri && !this.queueEnabled(CR0_PRIQEN)) q.prod = (value & 0x8000_0000) | (value & q.pointerMask);
        return;
      }
      case Reg.PRIQ_CONS_PAGE0: {
        const q = this.priQueue.regs;
        if (this.params.capabilities.pri) q.cons = (value & 0x8000_0000) | (value & q.pointerMask);
        return;
      }
    }
  }

  /** Whether a queue's enable is 1 in CR0 or CR0ACK (its registers are then read-only). */
  private queueEnabled(bit: number): boolean {
    return ((this.cr0 | this.cr0ack) & bit) !== 0;
  }

  /**
   * CR0: PRIQEN is RES0 without PRI, ATSCHK without ATS, VMW without IDR0.VMW. Every Update
   * completes at once (CR0ACK = CR0), with its side effects: enabling the Command queue starts
   * consumption (6.3.9.3).
   */
  private writeCr0(value: number): void {
    const c = this.params.capabilities;
    const mask = CR0_SMMUEN | CR0_EVENTQEN | CR0_CMDQEN | (c.pri ? CR0_PRIQEN : 0) | (c.ats ? CR0_ATSCHK : 0);
    this.cr0 = value & mask;
    const enabledCmdq = (this.cr0 & ~this.cr0ack & CR0_CMDQEN) !== 0;
    this.cr0ack = this.cr0;
    this.sync();
    if (enabledCmdq) this.commandQueue.process();
  }
}

function writeBase(q: QueueRegisters, half: number, value: number): void {
  if (half === 0) q.writeBaseLo(value);
  else q.writeBaseHi(value);
}

/** *_IRQ_CFG0 (address [55:2], two halves), CFG1 (data), CFG2 (attributes) at offsets 0, 4, 8, 12 from CFG0. */
function readMsi(cfg: MsiConfig, at: number): number {
  switch (at) {
    case 0:
      return cfg.addrLo;
    case 4:
      return cfg.addrHi;
    case 8:
      return cfg.data;
    default:
      return cfg.attr;
  }
}

function writeMsi(cfg: MsiConfig, at: number, value: number, masked: boolean): void {
  switch (at) {
    case 0:
      cfg.addrLo = (value & 0xffff_fffc) >>> 0;
      return;
    case 4:
      cfg.addrHi = value & 0x00ff_ffff;
      return;
    case 8:
      cfg.data = value >>> 0;
      return;
    default:
      cfg.attr = masked ? value >>> 0 : value & 0x3f;
  }
}
