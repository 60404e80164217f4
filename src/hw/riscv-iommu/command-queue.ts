// The command queue (specification section "Command-Queue (CQ)"): software produces 16-byte
// commands; a write to cqt makes the IOMMU execute them up to the tail before the write
// returns, unless the queue stops on an error (cmd_ill, cqmf, cmd_to) or waits (an IOFENCE.C
// behind outstanding ATS invalidations, or an ATS.INVAL with no free ITAG).

import { COMMAND_SIZE, Opcode, RESERVED } from '../../formats/riscv-iommu/commands.js';
import { MessageCode } from '../../formats/riscv-iommu/records.js';
import { InterruptCause } from '../../formats/riscv-iommu/registers.js';
import { AccessStatus, type PhysicalMemory } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import type { Clock, ScheduledEvent } from '../../sim/clock.js';
import { bswap32, join64 } from '../../sim/u64.js';
import type { TagCache } from '../caches/tag-cache.js';
import type { DeviceContext, ProcessContext } from './contexts.js';
import type { Interrupts } from './interrupts.js';
import type { Iotlb } from './iotlb.js';
import { smallPage } from './page-number.js';
import type { PcieMessage } from './pcie-messages.js';
import type { QueueBase } from './queue-base.js';
import type { IommuState } from './state.js';

/** Commands, in the order of `COMMAND_NAMES`. */
const Command = { IotinvalVma: 0, IotinvalGvma: 1, IofenceC: 2, IodirInvalDdt: 3, IodirInvalPdt: 4, AtsInval: 5, AtsPrgr: 6 } as const;
export const COMMAND_NAMES = ['IOTINVAL.VMA', 'IOTINVAL.GVMA', 'IOFENCE.C', 'IODIR.INVAL_DDT', 'IODIR.INVAL_PDT', 'ATS.INVAL', 'ATS.PRGR'] as const;

export interface CommandQueueStats {
  illegal: number;
  memoryFaults: number;
  timeouts: number;
  /** IOFENCE.C requests to make earlier reads/writes globally visible. */
  orderingRequests: { reads: number; writes: number };
  invalidationRequestsSent: number;
  invalidationCompletions: number;
  unexpectedCompletions: number;
}

/** A 64-bit reserved-bit mask as [low word, high word], derived from the format's masks. */
function halves(mask: bigint): [number, number] {
  return [Number(mask & 0xffffffffn) >>> 0, Number(mask >> 32n) >>> 0];
}
const R_IOTINVAL0 = halves(RESERVED.iotinval0);
const R_IOTINVAL1 = halves(RESERVED.iotinval1);
const R_IOFENCE0 = halves(RESERVED.iofence0);
const R_IOFENCE1 = halves(RESERVED.iofence1);
const R_IODIR0 = halves(RESERVED.iodir0);
const R_ATS0 = halves(RESERVED.ats0);

interface Itag {
  busy: boolean;
  rid: number;
  segment: number | null;
  completions: number;
  timer: ScheduledEvent | null;
}

interface PendingFence {
  pr: boolean;
  pw: boolean;
  av: boolean;
  wsi: boolean;
  /** Completion write target: page number and byte offset. */
  page: number;
  offset: number;
  data: number;
}

export class CommandQueue {
  enabled = false; // cqen
  interruptEnable = false; // cie
  on = false; // cqon
  memoryFault = false; // cqmf
  timeout = false; // cmd_to
  illegal = false; // cmd_ill
  fenceWireInterrupt = false; // fence_w_ip
  /** Commands executed, indexed like COMMAND_NAMES. */
  readonly executed = new Float64Array(COMMAND_NAMES.length);
  readonly stats: CommandQueueStats = {
    illegal: 0,
    memoryFaults: 0,
    timeouts: 0,
    orderingRequests: { reads: 0, writes: 0 },
    invalidationRequestsSent: 0,
    invalidationCompletions: 0,
    unexpectedCompletions: 0,
  };

  private readonly itags: Itag[];
  /** An ATS.INVAL fetched while every ITAG was busy: the queue stalls until one frees. */
  private blockedInvalidation: PcieMessage | null = null;
  /** An IOFENCE.C waiting for outstanding invalidations to complete or time out. */
  private waitingFence: PendingFence | null = null;
  /** Set when an invalidation timed out; reported by the next IOFENCE.C. */
  private timedOut = false;
  private processing = false;
  /** The command being executed: [w0 low, w0 high, w1 low, w1 high]. */
  private readonly cmd = new Uint32Array(4);
  private readonly fence: PendingFence = { pr: false, pw: false, av: false, wsi: false, page: 0, offset: 0, data: 0 };

  constructor(
    readonly q: QueueBase,
    private readonly state: IommuState,
    private readonly memory: PhysicalMemory,
    private readonly bus: SystemBus,
    private readonly clock: Clock,
    private readonly interrupts: Interrupts,
    private readonly caches: {
      dc: TagCache<DeviceContext>;
      pc: TagCache<ProcessContext>;
      iotlb: Iotlb;
    },
    private readonly send: (msg: PcieMessage) => void,
  ) {
    this.itags = Array.from({ length: state.params.invalidationTags }, () => ({ busy: false, rid: 0, segment: null, completions: 0, timer: null }));
  }

  reset(): void {
    this.q.reset();
    this.enabled = this.interruptEnable = this.on = false;
    this.memoryFault = this.timeout = this.illegal = this.fenceWireInterrupt = false;
    for (const t of this.itags) this.freeItag(t);
    this.blockedInvalidation = null;
    this.waitingFence = null;
    this.timedOut = false;
  }

  /** Commands executed, by name (only those executed at least once). */
  get byName(): Map<string, number> {
    const m = new Map<string, number>();
    COMMAND_NAMES.forEach((name, i) => {
      if (this.executed[i] !== 0) m.set(name, this.executed[i]);
    });
    return m;
  }

  // ---- registers ------------------------------------------------------------------------

  readCsr(): number {
    return (
      (this.enabled ? 1 : 0) |
      (this.interruptEnable ? 2 : 0) |
      (this.memoryFault ? 1 << 8 : 0) |
      (this.timeout ? 1 << 9 : 0) |
      (this.illegal ? 1 << 10 : 0) |
      (this.fenceWireInterrupt ? 1 << 11 : 0) |
      (this.on ? 1 << 16 : 0) |
      (this.q.busy ? 1 << 17 : 0)
    );
  }

  writeCsr(value: number): void {
    if (this.q.busy) return; // UNSPECIFIED while busy: the write is dropped
    this.interruptEnable = (value & 2) !== 0;
    if ((value & (1 << 8)) !== 0) this.memoryFault = false;
    if ((value & (1 << 9)) !== 0) this.timeout = false;
    if ((value & (1 << 10)) !== 0) this.illegal = false;
    if ((value & (1 << 11)) !== 0) this.fenceWireInterrupt = false;
    const en = (value & 1) !== 0;
    if (en !== this.enabled) {
      this.enabled = en;
      if (en) {
        this.q.control(() => {
          this.q.head = 0;
          this.illegal = this.timeout = this.memoryFault = this.fenceWireInterrupt = false;
          this.on = true;
          this.process();
        });
      } else if (this.waitingFence !== null) {
        // A fence waiting on invalidations keeps the queue active (busy) until it resolves.
        this.q.busy = true;
      } else {
        this.q.control(() => {
          this.on = false;
        });
      }
    } else {
      this.process(); // clearing an error bit resumes command processing
    }
    // cip is set while cie is 1 and an error bit or fence_w_ip is 1 (§ ipsr, § Command-Queue):
    // setting cie with one of them pending sets cip.
    if (this.errorPending()) this.interrupts.raise(InterruptCause.CQ);
  }

  writeBase(value: bigint): void {
    if (this.q.busy || this.on) return; // UNSPECIFIED while active: the write is dropped
    this.q.writeBase(value);
    this.q.tail = 0;
  }

  writeTail(value: number): void {
    this.q.tail = this.q.wrap(value);
    this.process();
  }

  /** Whether the conditions behind ipsr.cip still hold. */
  errorPending(): boolean {
    return this.interruptEnable && (this.fenceWireInterrupt || this.illegal || this.timeout || this.memoryFault);
  }

  get outstandingInvalidations(): number {
    return this.itags.filter((t) => t.busy).length;
  }

  // ---- ATS invalidation completions (from devices) ---------------------------------------

  /**
   * Handles an "Invalidation Completion" message. Returns false (and changes nothing) when it
   * does not match an outstanding request: an ITAG not in use, or a different requester.
   */
  invalidationCompletion(msg: PcieMessage): boolean {
    const vector = Number(msg.payload & 0xffffffffn);
    const count = Number((msg.payload >> 32n) & 7n);
    if (vector === 0) {
      this.stats.unexpectedCompletions++;
      return false;
    }
    for (let i = 0; i < 32; i++) {
      if (((vector >>> i) & 1) === 0) continue;
      const t = this.itags[i];
      if (t === undefined || !t.busy || t.rid !== msg.rid || (t.segment !== null && t.segment !== msg.segment)) {
        this.stats.unexpectedCompletions++;
        return false;
      }
    }
    this.stats.invalidationCompletions++;
    for (let i = 0; i < 32; i++) {
      if (((vector >>> i) & 1) === 0) continue;
      const t = this.itags[i];
      // A device may split its answer over several completions; CC says how many (0 means 8).
      t.completions = (t.completions + 1) & 7;
      if (t.completions === count) this.freeItag(t);
    }
    this.resume();
    return true;
  }

  /** Forces the ITAGs in `vector` to time out now (a test bench's stand-in for the timer). */
  expireInvalidations(vector: number): void {
    for (let i = 0; i < this.itags.length; i++) {
      if (((vector >>> i) & 1) !== 0 && this.itags[i].busy) this.timeoutItag(this.itags[i]);
    }
  }

  // ---- command processing -----------------------------------------------------------------

  /** Executes commands from cqh up to cqt, until the queue stops or waits. */
  process(): void {
    if (this.processing) return; // a command's side effects may re-enter through interrupts
    this.processing = true;
    try {
      while (
        this.on &&
        this.enabled &&
        !this.memoryFault &&
        !this.illegal &&
        !this.timeout &&
        this.waitingFence === null &&
        this.blockedInvalidation === null &&
        this.q.head !== this.q.tail
      ) {
        if (!this.executeOne()) break;
        this.q.head = this.q.next(this.q.head);
      }
    } finally {
      this.processing = false;
    }
  }

  /** Executes the command at the head. Returns false if the head must not advance. */
  private executeOne(): boolean {
    const q = this.q;
    const ppn = q.entryPage(q.head, COMMAND_SIZE);
    const off = q.entryOffset(q.head, COMMAND_SIZE);
    // The command's two doublewords, as 32-bit halves (fctl.BE byte order).
    if (!this.fetch(ppn, off, 0) || !this.fetch(ppn, off + 8, 2)) {
      this.stats.memoryFaults++;
      this.setError('cqmf');
      return false;
    }
    const w = this.cmd;
    const opcode = w[0] & 0x7f;
    const func3 = (w[0] >>> 7) & 7;
    switch (opcode) {
      case Opcode.IOTINVAL:
        return this.iotinval(func3, w[0], w[1], w[2], w[3]);
      case Opcode.IOFENCE:
        return this.iofence(func3, w[0], w[1], w[2], w[3]);
      case Opcode.IODIR:
        return this.iodir(func3, w[0], w[1], w[2], w[3]);
      case Opcode.ATS:
        return this.ats(func3, w[0], w[1], w[2], w[3]);
      default:
        return this.illegalCommand();
    }
  }

  private iotinval(func3: number, lo0: number, hi0: number, lo1: number, hi1: number): boolean {
    const st = this.state;
    if ((lo0 & R_IOTINVAL0[0]) !== 0 || (hi0 & R_IOTINVAL0[1]) !== 0 || (lo1 & R_IOTINVAL1[0]) !== 0 || (hi1 & R_IOTINVAL1[1]) !== 0) {
      return this.illegalCommand();
    }
    const nl = (hi0 & 4) !== 0;
    const s = (lo1 & 0x200) !== 0;
    if ((nl && !st.nl) || (s && !st.rangeInval)) return this.illegalCommand();
    const av = (lo0 & 0x400) !== 0;
    const pscv = (hi0 & 1) !== 0;
    const gv = (hi0 & 2) !== 0;
    const pscid = lo0 >>> 12;
    const gscid = (hi0 >>> 12) & 0xffff;
    const addrPage = smallPage((hi1 & 0x3fffffff) * 4194304 + (lo1 >>> 10));
    const rangeLog2 = av ? napotLog2Pages(addrPage, s) : -1;
    if (func3 === 0) {
      // IOTINVAL.VMA: first-stage (and combined) translations; NL adds non-leaf entries,
      // which this IOTLB holds only as part of leaf translations.
      this.caches.iotlb.invalidateVma(gv, gscid, pscv ? pscid : -1, addrPage, rangeLog2);
      this.count(Command.IotinvalVma);
      return true;
    }
    if (func3 === 1) {
      if (pscv) return this.illegalCommand();
      // IOTINVAL.GVMA: with GV=0 the address is ignored; AV=0 drops the whole VM.
      this.caches.iotlb.invalidateGvma(gv ? gscid : -1, addrPage, gv ? rangeLog2 : -1);
      this.count(Command.IotinvalGvma);
      return true;
    }
    return this.illegalCommand();
  }

  private iodir(func3: number, lo0: number, hi0: number, lo1: number, hi1: number): boolean {
    if ((lo0 & R_IODIR0[0]) !== 0 || (hi0 & R_IODIR0[1]) !== 0 || lo1 !== 0 || hi1 !== 0) return this.illegalCommand();
    const dv = (hi0 & 2) !== 0;
    const did = hi0 >>> 8;
    const pid = lo0 >>> 12;
    // DID may be no wider than the implementation supports, nor than the directory mode indexes.
    if (dv && (did >= 2 ** this.state.params.deviceIdBits || !this.state.deviceIdFits(did))) return this.illegalCommand();
    const { dc, pc } = this.caches;
    if (func3 === 0) {
      if (pid !== 0) return this.illegalCommand(); // PID is reserved for INVAL_DDT
      if (!dv) {
        dc.clear();
        pc.clear();
      } else {
        dc.invalidateTag(did);
        pc.invalidateWhere((tag) => Math.floor(tag / 1048576) === did);
      }
      this.count(Command.IodirInvalDdt);
      return true;
    }
    if (func3 === 1) {
      if (!dv) return this.illegalCommand();
      const st = this.state;
      const pidBits = st.pd20 ? 20 : st.pd17 ? 17 : 8;
      if (pid >= 2 ** pidBits) return this.illegalCommand();
      pc.invalidateTag(did * 1048576 + pid);
      this.count(Command.IodirInvalPdt);
      return true;
    }
    return this.illegalCommand();
  }

  private iofence(func3: number, lo0: number, hi0: number, lo1: number, hi1: number): boolean {
    if ((lo0 & R_IOFENCE0[0]) !== 0 || (hi0 & R_IOFENCE0[1]) !== 0 || (lo1 & R_IOFENCE1[0]) !== 0 || (hi1 & R_IOFENCE1[1]) !== 0 || func3 !== 0) {
      return this.illegalCommand();
    }
    const wsi = (lo0 & 0x800) !== 0;
    if (wsi && !this.state.wsi) return this.illegalCommand(); // WSI is reserved without wired interrupts
    const fence = this.fence;
    fence.av = (lo0 & 0x400) !== 0;
    fence.wsi = wsi;
    fence.pr = (lo0 & 0x1000) !== 0;
    fence.pw = (lo0 & 0x2000) !== 0;
    fence.data = hi0;
    // ADDR[63:2] sits in bits 61:0 of the second doubleword: page = bits 61:10, offset = bits 9:0 << 2.
    fence.page = (hi1 & 0x3fffffff) * 4194304 + (lo1 >>> 10);
    fence.offset = (lo1 << 2) & 0xffc;
    if (this.outstandingInvalidations > 0) {
      this.waitingFence = fence; // cqh stays on the fence until the invalidations resolve
      return false;
    }
    return this.completeFence(fence);
  }

  /** Completes an IOFENCE.C; false if it stopped the queue (timeout or memory fault). */
  private completeFence(f: PendingFence): boolean {
    if (this.timedOut) {
      this.timedOut = false;
      this.stats.timeouts++;
      this.setError('cmd_to');
      return false;
    }
    if (f.pr) this.stats.orderingRequests.reads++;
    if (f.pw) this.stats.orderingRequests.writes++;
    if (f.av) {
      const data = this.state.be ? bswap32(f.data) : f.data;
      const ok = this.state.inPas(f.page) && this.bus.write32(f.page, f.offset, data) !== AccessStatus.AccessFault;
      if (!ok) {
        this.stats.memoryFaults++;
        this.setError('cqmf');
        return false;
      }
    }
    if (f.wsi && !this.fenceWireInterrupt) {
      this.fenceWireInterrupt = true;
      this.interrupts.raise(InterruptCause.CQ);
    }
    this.count(Command.IofenceC);
    return true;
  }

  private ats(func3: number, lo0: number, hi0: number, lo1: number, hi1: number): boolean {
    if (!this.state.ats || (lo0 & R_ATS0[0]) !== 0 || (hi0 & R_ATS0[1]) !== 0 || func3 > 1) return this.illegalCommand();
    const pv = (hi0 & 1) !== 0;
    const dsv = (hi0 & 2) !== 0;
    const msg: PcieMessage = {
      code: func3 === 0 ? MessageCode.InvalidationRequest : MessageCode.PrgResponse,
      rid: (hi0 >>> 8) & 0xffff,
      segment: dsv ? hi0 >>> 24 : null,
      pasid: pv ? lo0 >>> 12 : null,
      privileged: false,
      execute: false,
      tag: 0,
      payload: join64(hi1, lo1),
    };
    if (func3 === 1) {
      this.count(Command.AtsPrgr);
      this.send(msg);
      return true;
    }
    this.count(Command.AtsInval);
    if (!this.issueInvalidation(msg)) this.blockedInvalidation = msg; // consumed; the queue stalls
    return true;
  }

  /** Sends an invalidation request under a free ITAG; false if none is free. */
  private issueInvalidation(msg: PcieMessage): boolean {
    const i = this.itags.findIndex((t) => !t.busy);
    if (i < 0) return false;
    const t = this.itags[i];
    t.busy = true;
    t.rid = msg.rid;
    t.segment = msg.segment;
    t.completions = 0;
    t.timer = this.clock.schedule(this.state.params.atsInvalidationTimeoutCycles, () => this.timeoutItag(t));
    this.stats.invalidationRequestsSent++;
    this.send({ ...msg, tag: i });
    return true;
  }

  private timeoutItag(t: Itag): void {
    this.freeItag(t);
    this.timedOut = true;
    this.resume();
  }

  private freeItag(t: Itag): void {
    if (t.timer !== null) this.clock.cancel(t.timer);
    t.timer = null;
    t.busy = false;
  }

  /** After ITAGs free up: finish a waiting fence, issue a blocked invalidation, go on. */
  private resume(): void {
    if (this.waitingFence !== null && this.outstandingInvalidations === 0) {
      const fence = this.waitingFence;
      this.waitingFence = null;
      if (this.completeFence(fence)) this.q.head = this.q.next(this.q.head);
      if (this.q.busy && !this.enabled) {
        // The queue was turned off while the fence waited: it turns off now.
        this.q.busy = false;
        this.on = false;
      }
    }
    if (this.waitingFence === null && this.blockedInvalidation !== null) {
      // Taken before it is sent: a device may answer from within the send, re-entering here.
      const blocked = this.blockedInvalidation;
      this.blockedInvalidation = null;
      if (!this.issueInvalidation(blocked)) this.blockedInvalidation = blocked;
    }
    this.process();
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** Reads one command doubleword into cmd[at], cmd[at+1]; false on a memory fault. */
  private fetch(ppn: number, off: number, at: number): boolean {
    if (!this.state.inPas(ppn)) return false;
    if (this.memory.check(ppn, off, 8) !== AccessStatus.Ok) return false;
    const lo = this.memory.read64(ppn, off);
    const hi = this.memory.hi;
    if (this.state.be) {
      this.cmd[at] = bswap32(hi);
      this.cmd[at + 1] = bswap32(lo);
    } else {
      this.cmd[at] = lo;
      this.cmd[at + 1] = hi;
    }
    return true;
  }

  private illegalCommand(): boolean {
    this.stats.illegal++;
    this.setError('cmd_ill');
    return false;
  }

  private setError(bit: 'cmd_ill' | 'cqmf' | 'cmd_to'): void {
    if (bit === 'cmd_ill') this.illegal = true;
    else if (bit === 'cqmf') this.memoryFault = true;
    else this.timeout = true;
    this.interrupts.raise(InterruptCause.CQ);
  }

  private count(command: number): void {
    this.executed[command]++;
  }
}

/**
 * The size of an invalidation's address operand, in log2 pages: one page, or with the
 * address-range extension a NAPOT range encoded by the trailing ones of ADDR[63:12] (the first
 * zero at bit X means 2^(X+1) pages; only the top bit clear covers everything).
 */
export function napotLog2Pages(addrPage: number, s: boolean): number {
  if (!s) return 0;
  let ones = 0;
  let v = addrPage;
  while (ones < 52 && v % 2 === 1) {
    v = Math.floor(v / 2);
    ones++;
  }
  return Math.min(ones + 1, 52);
}
