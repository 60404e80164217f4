// The Event queue (IHI 0070 3.5.3, 7.2 - 7.4): 32-byte records written at EVENTQ_PROD when the
// queue is writable (enabled, not full, no EVENTQ_ABT_ERR active). A record that finds the queue
// full is lost and toggles EVENTQ_PROD.OVFLG unless an overflow is already unacknowledged (7.4).
// A write that aborts is synchronous: PROD does not advance and EVENTQ_ABT_ERR is raised (7.2.2).
// The queue interrupt fires when the queue goes from empty to non-empty (3.18.2). Records are
// never merged (merging is optional, 7.3.1).

import { EVENT_RECORD_SIZE } from '../../formats/smmuv3/records.js';
import { Gerror } from '../../formats/smmuv3/registers.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { BusPort } from './bus-port.js';
import type { Interrupts } from './interrupts.js';
import { QueueRegisters } from './queue-registers.js';

const OVFLG = 0x8000_0000;

/** One event record being assembled; reused for every event (no allocation per fault). */
export class EventRecord {
  type = 0;
  sid = 0;
  ssv = false;
  ssid = 0;
  /** Bits [79:64]: STAG, or the IMPLEMENTATION DEFINED Reason. */
  stagOrReason = 0;
  stall = false;
  pnu = false;
  ind = false;
  rnw = false;
  s2 = false;
  cls = 0;
  ttrnw = false;
  /** InputAddr[63:0] as halves. */
  inputHi = 0;
  inputLo = 0;
  /** Doubleword 3 as halves: the IPA (bits [55:12]) or FetchAddr (bits [55:3]) in place. */
  addrHi = 0;
  addrLo = 0;
  /** F_BAD_ATS_TREQ: the request's permissions and span in place of PnU/InD/RnW. */
  atsPriv = false;
  atsExec = false;
  atsRead = false;
  atsWrite = false;
  atsSpan = 0;

  /** Starts a record of `type` for a stream; every other field is zero. */
  begin(type: number, sid: number, ssv: boolean, ssid: number): this {
    this.type = type;
    this.sid = sid >>> 0;
    this.ssv = ssv;
    this.ssid = ssv ? ssid : 0;
    this.stagOrReason = 0;
    this.stall = this.pnu = this.ind = this.rnw = this.s2 = this.ttrnw = false;
    this.cls = 0;
    this.inputHi = this.inputLo = this.addrHi = this.addrLo = 0;
    this.atsPriv = this.atsExec = this.atsRead = this.atsWrite = false;
    this.atsSpan = 0;
    return this;
  }

  /** The record as eight 32-bit words, little-endian doublewords (7.3). */
  toWords(w: Uint32Array): void {
    w[0] = ((this.type & 0xff) | (this.ssv ? 1 << 11 : 0) | ((this.ssid & 0xfffff) << 12)) >>> 0;
    w[1] = this.sid >>> 0;
    w[2] = ((this.stagOrReason & 0xffff) | (this.stall ? 0x8000_0000 : 0)) >>> 0;
    w[3] =
      ((this.pnu || this.atsPriv ? 1 << 1 : 0) |
        (this.ind || this.atsExec ? 1 << 2 : 0) |
        (this.rnw || this.atsRead ? 1 << 3 : 0) |
        (this.atsWrite ? 1 << 4 : 0) |
        (this.s2 ? 1 << 7 : 0) |
        ((this.cls & 3) << 8) |
        ((this.atsSpan & 0xf) << 8) |
        (this.ttrnw ? 1 << 12 : 0)) >>>
      0;
    w[4] = this.inputLo >>> 0;
    w[5] = this.inputHi >>> 0;
    w[6] = this.addrLo >>> 0;
    w[7] = this.addrHi >>> 0;
  }
}

export interface EventQueueStats {
  /** Records written to the queue. */
  written: number;
  /** Records lost because the queue was full (each starts or continues an overflow). */
  overflowed: number;
  /** Records discarded because the queue was disabled or in an abort condition. */
  discarded: number;
  /** Writes that aborted (EVENTQ_ABT_ERR). */
  aborts: number;
  /** Records by event type. */
  byType: Map<number, number>;
}

export class EventQueue {
  readonly regs: QueueRegisters;
  readonly record = new EventRecord();
  readonly stats: EventQueueStats = { written: 0, overflowed: 0, discarded: 0, aborts: 0, byType: new Map() };

  constructor(
    maxLog2: number,
    oasBits: number,
    private readonly port: BusPort,
    private readonly interrupts: Interrupts,
    /** The effective EVENTQEN (CR0ACK.EVENTQEN). */
    private readonly enabled: () => boolean,
  ) {
    this.regs = new QueueRegisters(maxLog2, EVENT_RECORD_SIZE, oasBits);
  }

  reset(): void {
    this.regs.reset();
  }

  /** Whether an overflow is unacknowledged (PROD.OVFLG != CONS.OVACKFLG). */
  get overflowed(): boolean {
    return ((this.regs.prod ^ this.regs.cons) & OVFLG) !== 0;
  }

  /** Writes `this.record` if the queue is writable; returns whether it was written. */
  write(): boolean {
    const regs = this.regs;
    this.stats.byType.set(this.record.type, (this.stats.byType.get(this.record.type) ?? 0) + 1);
    if (!this.enabled() || this.interrupts.isActive(Gerror.EVENTQ_ABT_ERR)) {
      this.stats.discarded++;
      return false;
    }
    if (regs.full) {
      this.stats.overflowed++;
      if (!this.overflowed) regs.prod ^= OVFLG;
      return false;
    }
    const at = regs.entryAddress(regs.index(regs.prod));
    this.record.toWords(this.port.words);
    if (this.port.write(at.page, at.offset, 4) === AccessStatus.AccessFault) {
      this.stats.aborts++;
      this.interrupts.raiseGlobalError(Gerror.EVENTQ_ABT_ERR);
      return false;
    }
    const wasEmpty = regs.empty;
    regs.prod = (regs.prod & OVFLG) | regs.next(regs.prod);
    this.stats.written++;
    if (wasEmpty) this.interrupts.eventqInterrupt();
    return true;
  }
}
