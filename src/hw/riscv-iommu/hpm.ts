// Hardware performance monitor (specification sections iocountovf, iocountinh,
// iohpmcycles, iohpmctr1-31, iohpmevt1-31): a free-running cycle counter driven by the
// simulated clock and up to 31 event counters with device/process/GSCID/PSCID filters.

import { HPM_EVENT_SUPPORTS_IDT1 } from '../../formats/riscv-iommu/records.js';
import { InterruptCause } from '../../formats/riscv-iommu/registers.js';
import type { Clock, ScheduledEvent } from '../../sim/clock.js';
import type { Interrupts } from './interrupts.js';

interface EventSelector {
  eventId: number;
  dmask: boolean;
  pidPscid: number;
  didGscid: number;
  pvPscv: boolean;
  dvGscv: boolean;
  idt: boolean;
  of: boolean;
  /** DID_GSCID comparison mask (DMASK partial matching applied). */
  matchMask: number;
}

export class Hpm {
  /** Bit e is set when some enabled counter counts event e (hot-path pre-check). */
  active = 0;

  private readonly counters: number; // programmable counters implemented
  private readonly ctrLo: Uint32Array;
  private readonly ctrHi: Uint32Array;
  private readonly hiMask: number; // mask of implemented high-half bits
  private readonly selectors: EventSelector[];
  private inhibit = 0;

  // Cycle counter: value = base + (now - since) while counting.
  private readonly cycleBits: number;
  private cycleBase = 0n;
  private cycleSince = 0;
  private cycleOf = false;
  private overflowEvent: ScheduledEvent | null = null;

  constructor(
    readonly implemented: boolean,
    counters: number,
    counterBits: number,
    private readonly maxEventId: number,
    private readonly clock: Clock,
    private readonly interrupts: Interrupts,
  ) {
    this.counters = implemented ? counters : 0;
    this.ctrLo = new Uint32Array(32);
    this.ctrHi = new Uint32Array(32);
    this.hiMask = counterBits >= 64 ? 0xffffffff : counterBits <= 32 ? 0 : (2 ** (counterBits - 32) - 1) >>> 0;
    this.cycleBits = Math.min(counterBits, 63);
    this.selectors = Array.from({ length: 32 }, () => ({
      eventId: 0,
      dmask: false,
      pidPscid: 0,
      didGscid: 0,
      pvPscv: false,
      dvGscv: false,
      idt: false,
      of: false,
      matchMask: 0xffffff,
    }));
  }

  reset(): void {
    this.ctrLo.fill(0);
    this.ctrHi.fill(0);
    for (const s of this.selectors) Object.assign(s, { eventId: 0, dmask: false, pidPscid: 0, didGscid: 0, pvPscv: false, dvGscv: false, idt: false, of: false, matchMask: 0xffffff });
    this.inhibit = 0;
    this.cycleBase = 0n;
    this.cycleSince = this.clock.now;
    this.cycleOf = false;
    this.active = 0;
    this.scheduleCycleOverflow();
  }

  // ---- counting --------------------------------------------------------------------------

  /** Counts one occurrence of `event` for a transaction with the given identity. */
  count(event: number, pv: boolean, pid: number, pscv: boolean, pscid: number, did: number, gv: boolean, gscid: number): void {
    if ((this.active & (1 << event)) === 0) return;
    for (let n = 1; n <= this.counters; n++) {
      const s = this.selectors[n];
      if (s.eventId !== event || (this.inhibit & (1 << n)) !== 0) continue;
      if (!s.idt) {
        if (s.pvPscv && (!pv || s.pidPscid !== pid)) continue;
        if (s.dvGscv && (s.didGscid & s.matchMask) !== (did & s.matchMask)) continue;
      } else {
        if (!HPM_EVENT_SUPPORTS_IDT1[event]) continue;
        if (s.pvPscv && (!pscv || s.pidPscid !== pscid)) continue;
        if (s.dvGscv && (!gv || (s.didGscid & s.matchMask) !== (gscid & s.matchMask))) continue;
      }
      this.increment(n);
    }
  }

  private increment(n: number): void {
    const lo = (this.ctrLo[n] + 1) >>> 0;
    this.ctrLo[n] = lo;
    if (lo !== 0) return;
    const hi = (this.ctrHi[n] + 1) & this.hiMask;
    this.ctrHi[n] = hi >>> 0;
    if (hi !== 0) return;
    // Unsigned overflow: latch OF; an interrupt only on its 0 -> 1 edge.
    const s = this.selectors[n];
    if (!s.of) {
      s.of = true;
      this.interrupts.raise(InterruptCause.HPM);
    }
  }

  // ---- registers ------------------------------------------------------------------------

  readCounter(n: number): bigint {
    if (n > this.counters) return 0n;
    return (BigInt(this.ctrHi[n]) << 32n) | BigInt(this.ctrLo[n]);
  }

  writeCounter(n: number, value: bigint): void {
    if (n > this.counters) return;
    this.ctrLo[n] = Number(value & 0xffffffffn);
    this.ctrHi[n] = Number((value >> 32n) & 0xffffffffn) & this.hiMask;
  }

  readSelector(n: number): bigint {
    if (n > this.counters) return 0n;
    const s = this.selectors[n];
    return (
      BigInt(s.eventId) |
      (s.dmask ? 1n << 15n : 0n) |
      (BigInt(s.pidPscid) << 16n) |
      (BigInt(s.didGscid) << 36n) |
      (s.pvPscv ? 1n << 60n : 0n) |
      (s.dvGscv ? 1n << 61n : 0n) |
      (s.idt ? 1n << 62n : 0n) |
      (s.of ? 1n << 63n : 0n)
    );
  }

  writeSelector(n: number, value: bigint): void {
    if (n > this.counters) return;
    const s = this.selectors[n];
    const eventId = Number(value & 0x7fffn);
    if (eventId <= this.maxEventId) s.eventId = eventId; // WARL: unsupported ids keep the old value
    s.dmask = ((value >> 15n) & 1n) === 1n;
    s.pidPscid = Number((value >> 16n) & 0xfffffn);
    s.didGscid = Number((value >> 36n) & 0xffffffn);
    s.pvPscv = ((value >> 60n) & 1n) === 1n;
    s.dvGscv = ((value >> 61n) & 1n) === 1n;
    s.idt = ((value >> 62n) & 1n) === 1n;
    s.of = ((value >> 63n) & 1n) === 1n;
    // DMASK: ignore the low bits of DID_GSCID up to and including its lowest 0 bit.
    s.matchMask = s.dmask ? ~((s.didGscid + 1) ^ s.didGscid) & 0xffffff : 0xffffff;
    this.updateActive();
  }

  readInhibit(): number {
    return this.inhibit;
  }

  writeInhibit(value: number): void {
    if (!this.implemented) return;
    const mask = this.counters >= 31 ? 0xffffffff : (2 ** (this.counters + 1) - 1) >>> 0;
    const old = this.inhibit;
    const cycles = this.readCycles();
    this.inhibit = (value & mask) >>> 0;
    if (((old ^ this.inhibit) & 1) !== 0) this.setCycles(cycles);
    this.updateActive();
  }

  readOverflow(): number {
    let v = this.cycleOf ? 1 : 0;
    for (let n = 1; n <= this.counters; n++) if (this.selectors[n].of) v |= 1 << n;
    return v >>> 0;
  }

  readCycles(): bigint {
    if (!this.implemented) return 0n;
    const mask = (1n << BigInt(this.cycleBits)) - 1n;
    const running = (this.inhibit & 1) === 0 ? BigInt(this.clock.now - this.cycleSince) : 0n;
    return (this.cycleBase + running) & mask;
  }

  readCyclesRegister(): bigint {
    return this.readCycles() | (this.cycleOf ? 1n << 63n : 0n);
  }

  writeCyclesRegister(value: bigint): void {
    if (!this.implemented) return;
    this.cycleOf = ((value >> 63n) & 1n) === 1n;
    this.setCycles(value & ((1n << BigInt(this.cycleBits)) - 1n));
  }

  private setCycles(value: bigint): void {
    this.cycleBase = value;
    this.cycleSince = this.clock.now;
    this.scheduleCycleOverflow();
  }

  /** The cycle counter overflows at a known simulated time: schedule that moment. */
  private scheduleCycleOverflow(): void {
    if (this.overflowEvent !== null) this.clock.cancel(this.overflowEvent);
    this.overflowEvent = null;
    if (!this.implemented || (this.inhibit & 1) !== 0) return;
    const remaining = (1n << BigInt(this.cycleBits)) - this.readCycles();
    if (remaining > BigInt(Number.MAX_SAFE_INTEGER - this.clock.now)) return; // beyond simulated time
    this.overflowEvent = this.clock.schedule(Number(remaining), () => {
      this.overflowEvent = null;
      this.setCycles(0n);
      if (!this.cycleOf) {
        this.cycleOf = true;
        this.interrupts.raise(InterruptCause.HPM);
      }
    });
  }

  private updateActive(): void {
    let active = 0;
    for (let n = 1; n <= this.counters; n++) {
      const e = this.selectors[n].eventId;
      if (e !== 0 && e < 31 && (this.inhibit & (1 << n)) === 0) active |= 1 << e;
    }
    this.active = active;
  }
}

