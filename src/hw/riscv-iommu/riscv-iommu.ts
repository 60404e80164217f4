// The RISC-V IOMMU model: wires the units together and exposes the test-bench interface —
// registers (`mmio`), inbound transactions (`translate`, `bridge`), PCIe messages in both
// directions, and statistics. Software meets it only through `mmio`, memory and interrupts.

import { Cause, MessageCode, Ttyp } from '../../formats/riscv-iommu/records.js';
import { Igs, InterruptCause } from '../../formats/riscv-iommu/registers.js';
import { Clock } from '../../sim/clock.js';
import type { InterruptLine } from '../../sim/irq.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import { SystemBus } from '../../sim/system-bus.js';
import { TagCache } from '../caches/tag-cache.js';
import { CommandQueue } from './command-queue.js';
import type { DeviceContext, ProcessContext } from './contexts.js';
import { DebugInterface } from './debug-interface.js';
import { FaultQueue } from './fault-queue.js';
import { Hpm } from './hpm.js';
import { Interrupts } from './interrupts.js';
import { IoBridge } from './io-bridge.js';
import { Iotlb } from './iotlb.js';
import { smallPage } from './page-number.js';
import { PageRequestQueue } from './page-request-queue.js';
import { resolveParameters, type RiscvIommuOptions, type RiscvIommuParameters } from './parameters.js';
import type { PcieMessage } from './pcie-messages.js';
import { QueueBase } from './queue-base.js';
import { RegisterFile } from './register-file.js';
import { IommuState } from './state.js';
import { TableReader } from './table-reader.js';
import type { WalkTracer } from './trace.js';
import { Translator } from './translate.js';
import { TranslationRequest, TranslationResponse, type RequestKindValue } from './transaction.js';

export interface RiscvIommuConfig extends RiscvIommuOptions {
  /** The physical memory holding the in-memory structures. */
  memory: PhysicalMemory;
  /** Where the IOMMU's own writes go (queues, MSIs); defaults to a bus over `memory` alone. */
  bus?: SystemBus;
  /** Simulated time (HPM cycles, timeouts, busy handshakes); a private clock by default. */
  clock?: Clock;
  /** Wired-interrupt outputs, one per vector; created when not given. */
  wires?: InterruptLine[];
}

/** A transaction as a plain object, for the convenience form of `translate`. */
export interface TranslationRequestInit {
  deviceId: number;
  iova: bigint;
  processId?: number;
  privileged?: boolean;
  kind?: RequestKindValue;
  write?: boolean;
  execute?: boolean;
  cxl?: boolean;
}

export interface RiscvIommuStatistics {
  requests: { untranslated: number; translated: number; atsTranslation: number; debug: number };
  iotlb: { hits: number; misses: number; hitRate: number; fills: number; evictions: number; invalidations: number; entries: number };
  deviceContextCache: { hits: number; misses: number; hitRate: number; evictions: number; invalidations: number };
  processContextCache: { hits: number; misses: number; hitRate: number; evictions: number; invalidations: number };
  walks: { deviceDirectory: number; processDirectory: number; firstStage: number; secondStage: number };
  memory: { reads: number; writes: number };
  faults: { detected: Record<number, number>; recorded: number; dropped: number; overflows: number };
  commands: Record<string, number>;
  pageRequests: { received: number; queued: number; autoResponses: number };
  interrupts: { msisSent: number; msiFaults: number };
  msi: { translations: number; mrifStores: number; notices: number };
  registerAborts: number;
}

export class RiscvIommu implements MmioDevice {
  readonly params: RiscvIommuParameters;
  readonly state: IommuState;
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  readonly clock: Clock;
  readonly interrupts: Interrupts;
  readonly hpm: Hpm;
  readonly faultQueue: FaultQueue;
  readonly commandQueue: CommandQueue;
  readonly pageRequestQueue: PageRequestQueue;
  readonly debug: DebugInterface;
  readonly translator: Translator;
  readonly bridge: IoBridge;
  readonly caches: { deviceContexts: TagCache<DeviceContext>; processContexts: TagCache<ProcessContext>; iotlb: Iotlb };
  /**
   * The register file, as a bus master sees it: offsets from the register page base.
   * `read32`/`write32` are the same 4-byte accesses without BigInt, for tight loops.
   */
  readonly mmio: {
    read(offset: number, size: 4 | 8): bigint;
    write(offset: number, size: 4 | 8, value: bigint): void;
    read32(offset: number): number;
    write32(offset: number, value: number): void;
  };

  private readonly reader: TableReader;
  private readonly registers: RegisterFile;
  private readonly messageListeners: ((msg: PcieMessage) => void)[] = [];
  private readonly scratchResponse = new TranslationResponse();
  private readonly scratchRequest = new TranslationRequest();

  constructor(config: RiscvIommuConfig) {
    const params = resolveParameters(config);
    this.params = params;
    this.memory = config.memory;
    this.bus = config.bus ?? new SystemBus(config.memory);
    this.clock = config.clock ?? new Clock();
    const state = new IommuState(params);
    this.state = state;
    this.interrupts = new Interrupts(state, this.bus, params.interruptVectorBits, config.wires);
    this.hpm = new Hpm(params.capabilities.HPM, params.hpmCounters, params.hpmCounterBits, params.hpmMaxEventId, this.clock, this.interrupts);
    this.reader = new TableReader(this.memory, state);
    const c = params.caches;
    this.caches = {
      deviceContexts: new TagCache<DeviceContext>(c.deviceContexts.sets, c.deviceContexts.ways),
      processContexts: new TagCache<ProcessContext>(c.processContexts.sets, c.processContexts.ways),
      iotlb: new Iotlb(c.iotlb.sets, c.iotlb.ways),
    };
    const queue = () => new QueueBase(state, this.clock, params.controlBusyCycles);
    this.faultQueue = new FaultQueue(queue(), state, this.bus, this.interrupts);
    this.translator = new Translator(state, this.reader, this.hpm, this.faultQueue, this.caches.deviceContexts, this.caches.processContexts, this.caches.iotlb);
    const send = (msg: PcieMessage): void => {
      for (const l of this.messageListeners) l(msg);
    };
    this.commandQueue = new CommandQueue(
      queue(),
      state,
      this.memory,
      this.bus,
      this.clock,
      this.interrupts,
      { dc: this.caches.deviceContexts, pc: this.caches.processContexts, iotlb: this.caches.iotlb },
      send,
    );
    this.pageRequestQueue = new PageRequestQueue(queue(), state, this.bus, this.interrupts, this.faultQueue, this.translator, send);
    this.debug = new DebugInterface(params.capabilities.DBG, this.translator);
    this.bridge = new IoBridge(this.translator, this.bus, params.mrifBigEndianMsis, (req, cause) => {
      this.faultQueue.report(cause, req.kind === 0 ? Ttyp.UntranslatedWrite : Ttyp.TranslatedWrite, req.deviceId, req.pidValid, req.processId, req.privileged, req.iovaHi, req.iovaLo, 0, 0, this.translator.lastDtf);
    });

    const interrupts = this.interrupts;
    interrupts.enabled = (cause) =>
      cause === InterruptCause.CQ
        ? this.commandQueue.interruptEnable
        : cause === InterruptCause.FQ
          ? this.faultQueue.interruptEnable
          : cause === InterruptCause.PQ
            ? this.pageRequestQueue.interruptEnable
            : true;
    interrupts.stillPending = (cause) =>
      cause === InterruptCause.CQ ? this.commandQueue.errorPending() : cause === InterruptCause.FQ ? this.faultQueue.errorPending() : cause === InterruptCause.PQ ? this.pageRequestQueue.errorPending() : false;
    interrupts.onMsiFault = (address) => {
      const hi = Number(address >> 32n) >>> 0;
      const lo = Number(address & 0xffffffffn) >>> 0;
      this.faultQueue.report(Cause.MsiWriteAccessFault, Ttyp.None, 0, false, 0, false, hi, lo, 0, 0, false);
    };

    this.registers = new RegisterFile(
      {
        state,
        cq: this.commandQueue,
        fq: this.faultQueue,
        pq: this.pageRequestQueue,
        interrupts,
        hpm: this.hpm,
        debug: this.debug,
        readDdtp: () => this.readDdtp(),
        writeDdtp: (v) => this.writeDdtp(v),
        readFctl: () => (state.be ? 1 : 0) | (state.wsi ? 2 : 0) | (state.gxl ? 4 : 0),
        writeFctl: (v) => this.writeFctl(v),
      },
      params.abortReadValue,
    );
    this.mmio = {
      read: (offset, size) => this.registers.read(offset, size),
      write: (offset, size, value) => this.registers.write(offset, size, value),
      read32: (offset) => this.registers.readWord(offset),
      write32: (offset, value) => this.registers.writeWord(offset, value),
    };
    this.reset();
  }

  /** Returns the model to its reset state: registers, queues, and empty caches. */
  reset(): void {
    this.state.reset();
    this.interrupts.reset();
    this.hpm.reset();
    this.faultQueue.reset();
    this.commandQueue.reset();
    this.pageRequestQueue.reset();
    this.debug.reset();
    this.caches.deviceContexts.clear();
    this.caches.processContexts.clear();
    this.caches.iotlb.flush();
  }

  // ---- MmioDevice (so the model can be mapped on a bus) ------------------------------------

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

  // ---- inbound transactions -----------------------------------------------------------------

  /**
   * Translates a transaction. With a reusable `TranslationRequest` and `into`, this allocates
   * nothing; with a plain object it is convenient for tests and tools.
   */
  translate(request: TranslationRequest | TranslationRequestInit, into?: TranslationResponse): TranslationResponse {
    const rsp = into ?? new TranslationResponse();
    let req: TranslationRequest;
    // Told apart by a field only a TranslationRequest has: V8 does not inline this `instanceof`.
    if ('iovaLo' in request) {
      req = request;
    } else {
      req = this.scratchRequest;
      req.deviceId = request.deviceId;
      req.iova = request.iova;
      req.pidValid = request.processId !== undefined;
      req.processId = request.processId ?? 0;
      req.privileged = request.privileged ?? false;
      req.kind = request.kind ?? 0;
      req.write = request.write ?? false;
      req.execute = request.execute ?? false;
      req.cxl = request.cxl ?? false;
    }
    this.translator.translate(req, rsp);
    return rsp;
  }

  /** Observes every PCIe message the IOMMU sends (invalidation requests, PRG responses). */
  onMessage(listener: (msg: PcieMessage) => void): void {
    this.messageListeners.push(listener);
  }

  /**
   * Delivers a PCIe message from a device: a Page Request (or Stop Marker), or an Invalidation
   * Completion. Returns false for a completion that matches no outstanding request, or for a
   * message the IOMMU does not accept.
   */
  receiveMessage(msg: PcieMessage): boolean {
    if (msg.code === MessageCode.PageRequest) {
      if (!this.state.ats) return false;
      this.pageRequestQueue.receive(msg);
      return true;
    }
    if (msg.code === MessageCode.InvalidationCompletion) {
      if (!this.state.ats) return false;
      // An Invalidation Completion is an inbound transaction that needs DC.tc.EN_ATS.
      const did = ((msg.segment ?? 0) << 16) | msg.rid;
      const dc = this.translator.messageRequester(did, false, 0, false, MessageCode.InvalidationCompletion);
      if (dc === null) return false;
      if (!dc.enAts) {
        this.faultQueue.report(Cause.TransactionTypeDisallowed, Ttyp.PcieMessage, did, false, 0, false, 0, MessageCode.InvalidationCompletion, 0, 0, dc.dtf);
        return false;
      }
      return this.commandQueue.invalidationCompletion(msg);
    }
    return false;
  }

  /** Attaches (or with null detaches) a tracer that observes every implicit access and step. */
  setTracer(tracer: WalkTracer | null): void {
    this.reader.tracer = tracer;
  }

  /** Implicit memory accesses made so far (reads and writes of in-memory structures). */
  get implicitAccesses(): { reads: number; writes: number } {
    return { reads: this.reader.reads, writes: this.reader.writes };
  }

  statistics(): RiscvIommuStatistics {
    const t = this.translator.stats;
    const rate = (h: number, m: number) => (h + m === 0 ? 0 : h / (h + m));
    const cache = (c: TagCache<unknown>) => ({
      hits: c.counters.hits,
      misses: c.counters.misses,
      hitRate: rate(c.counters.hits, c.counters.misses),
      evictions: c.counters.evictions,
      invalidations: c.counters.invalidations,
    });
    const tl = this.caches.iotlb.counters;
    const fq = this.faultQueue.stats;
    return {
      requests: { untranslated: t.requests[0], translated: t.requests[1], atsTranslation: t.requests[2], debug: t.debugRequests },
      iotlb: {
        hits: t.iotlbHits,
        misses: t.iotlbMisses,
        hitRate: rate(t.iotlbHits, t.iotlbMisses),
        fills: tl.fills,
        evictions: tl.evictions,
        invalidations: tl.invalidations,
        entries: this.caches.iotlb.occupancy,
      },
      deviceContextCache: cache(this.caches.deviceContexts),
      processContextCache: cache(this.caches.processContexts),
      walks: { deviceDirectory: t.ddtWalks, processDirectory: t.pdtWalks, firstStage: t.firstStageWalks, secondStage: t.secondStageWalks },
      memory: { reads: this.reader.reads, writes: this.reader.writes },
      faults: { detected: Object.fromEntries(t.faults), recorded: fq.recorded, dropped: fq.dropped, overflows: fq.overflows },
      commands: Object.fromEntries(this.commandQueue.byName),
      pageRequests: {
        received: this.pageRequestQueue.stats.received,
        queued: this.pageRequestQueue.stats.queued,
        autoResponses: [...this.pageRequestQueue.stats.autoResponses.values()].reduce((a, b) => a + b, 0),
      },
      interrupts: { msisSent: this.interrupts.msisSent, msiFaults: this.interrupts.msiFaults },
      msi: { translations: t.msiTranslations, mrifStores: this.bridge.mrif.msisStored, notices: this.bridge.mrif.noticesSent },
      registerAborts: this.registers.aborted,
    };
  }

  // ---- global registers ---------------------------------------------------------------------

  private readDdtp(): bigint {
    const st = this.state;
    return BigInt(st.mode) | (st.ddtpBusy ? 16n : 0n) | (BigInt(st.ddtPpn) << 10n);
  }

  /**
   * ddtp: the mode must be one the implementation supports; directory modes may only be
   * entered from Off or Bare (other transitions are UNSPECIFIED: the write is ignored).
   */
  private writeDdtp(value: bigint): void {
    const st = this.state;
    if (st.ddtpBusy) return;
    const mode = Number(value & 0xfn);
    const supported = mode <= 1 || mode - 1 <= this.params.maxDirectoryLevels;
    if (!supported) return; // WARL: an unsupported mode keeps the current value
    if (mode >= 2 && st.mode >= 2) return;
    st.mode = mode;
    st.ddtPpn = smallPage(Number((value >> 10n) & ((1n << 44n) - 1n)) % st.ppnLimit);
    if (this.params.controlBusyCycles > 0) {
      st.ddtpBusy = true;
      this.clock.schedule(this.params.controlBusyCycles, () => {
        st.ddtpBusy = false;
      });
    }
  }

  /**
   * fctl: BE is writable when both endiannesses are supported, WSI when both interrupt
   * methods are, GXL when so parameterised. Changing features while the IOMMU is not Off or
   * a queue is active is UNSPECIFIED: such writes are ignored.
   */
  private writeFctl(value: number): void {
    const st = this.state;
    const cq = this.commandQueue;
    const fq = this.faultQueue;
    const pq = this.pageRequestQueue;
    if (st.mode !== 0 || cq.enabled || cq.on || fq.enabled || fq.on || pq.enabled || pq.on) return;
    if (st.bothEndian) st.be = (value & 1) !== 0;
    if (st.igs === Igs.BOTH) {
      st.wsi = (value & 2) !== 0;
      this.interrupts.updateWires();
    }
    if (this.params.gxlWritable) st.gxl = (value & 4) !== 0;
  }
}
