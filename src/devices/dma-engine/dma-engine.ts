// The iommu-lab DMA engine: a memory-to-memory DMA master (register map in registers.ts).
// A transfer moves data through the engine's upstream DmaPort in transactions, as a real
// master issues bus transactions (PCIe memory request TLPs, AXI bursts): each transaction
// moves min(remaining length, burstBytes, bytes to the next 4 KiB boundary of the source
// (copy, read-verify), bytes to the next 4 KiB boundary of the destination (copy, fill)), at
// any byte alignment, and never crosses a 4 KiB boundary (PCIe Base Specification: requests
// must not cross a 4-KB boundary, section 2.2.7 in 4.0 and later), so an IOMMU translates each
// one once. A copy reads a transaction into the engine's staging buffer and writes it out;
// a fill writes the pattern; a read-verify reads and compares. The engine stops at the first
// transaction its upstream does not complete (an IOMMU abort, a bus error, poisoned data) or
// at the first byte that does not match, and reports it in STATUS, ERROR_ADDRESS and PROGRESS.
//
// Timing is a parameter: with `bytesPerCycle` 0 (the default) a transfer runs to completion
// inside the register write that starts it; otherwise it is spread over simulated time, one
// transaction per Clock event, each taking ceil(bytes / bytesPerCycle) cycles.

import type { Clock, ScheduledEvent } from '../../sim/clock.js';
import { InterruptLine } from '../../sim/irq.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import { hi32, join64, lo32 } from '../../sim/u64.js';
import { DmaPortStatus, DmaRequester, type DmaPort, type DmaPortStatusValue } from '../dma-port.js';
import {
  Control,
  CONTROL_STATE_MASK,
  DMA_ENGINE_ID,
  DMA_ENGINE_VERSION,
  DmaEngineReg as Reg,
  ErrorCause,
  Operation,
  PASID_MASK,
  Status,
  type ErrorCauseValue,
} from './registers.js';

/** STATUS.CAUSE for each upstream answer that ends a transfer. */
const CAUSE_OF_STATUS: Readonly<Record<DmaPortStatusValue, ErrorCauseValue>> = {
  [DmaPortStatus.Ok]: ErrorCause.None,
  [DmaPortStatus.Aborted]: ErrorCause.Aborted,
  [DmaPortStatus.BusError]: ErrorCause.BusError,
  [DmaPortStatus.Poisoned]: ErrorCause.Poisoned,
};

export interface DmaEngineOptions {
  name?: string;
  /** Where the engine's DMA goes; may be replaced before the first transfer (late wiring). */
  port: DmaPort;
  /** The device id the engine's requests carry (an IOMMU device id or PCIe requester id). */
  deviceId?: number;
  /** The completion interrupt output; created when not given. */
  irq?: InterruptLine;
  /** Needed when bytesPerCycle > 0. */
  clock?: Clock;
  /** Throughput in bytes per cycle; 0 moves a whole transfer at once. */
  bytesPerCycle?: number;
  /**
   * The largest transaction (bytes moved per clock event in timed mode): a power of two,
   * 8..4096 (default 64, a cache line; PCIe Max_Payload_Size is 128..4096).
   */
  burstBytes?: number;
}

export interface DmaEngineCounters {
  /** Bytes written (copy, fill) by completed transactions, or verified (read-verify). */
  bytes: number;
  /** Transfers that completed without error. */
  transfers: number;
  /** Transfers that ended with an error (including software aborts). */
  errors: number;
  /** Transactions issued upstream. */
  reads: number;
  writes: number;
}

export class DmaEngine implements MmioDevice {
  readonly name: string;
  readonly irq: InterruptLine;
  /** The identity the engine's requests carry (deviceId; PASID and PRIV follow CONTROL). */
  readonly requester: DmaRequester;
  port: DmaPort;
  readonly counters: DmaEngineCounters = { bytes: 0, transfers: 0, errors: 0, reads: 0, writes: 0 };

  private readonly clock: Clock | null;
  private readonly bytesPerCycle: number;
  private readonly burstBytes: number;

  // Registers
  private control = 0;
  private status = 0;
  private source = 0n;
  private destination = 0n;
  private length = 0;
  private pasid = 0;
  private fill = 0n;
  private errorAddress = 0n;
  private progress = 0;

  // The running transfer, latched at START.
  private op = 0;
  private src = 0n;
  private dst = 0n;
  /** Low 12 bits of src and dst (their offsets in the 4 KiB page), kept as numbers. */
  private srcOff = 0;
  private dstOff = 0;
  /** Fill/read-verify data: byte i is pattern byte (i mod 8), for burstBytes + 8 bytes. */
  private readonly patternBytes: Uint8Array;
  private patternOf = -1n; // the pattern patternBytes holds (-1: none yet)
  /** Where a copy's data waits between its read and its write. */
  private readonly staging: Uint8Array;
  private event: ScheduledEvent | null = null;

  constructor(options: DmaEngineOptions) {
    this.name = options.name ?? 'dma-engine';
    this.port = options.port;
    this.requester = new DmaRequester(options.deviceId ?? 0);
    this.irq = options.irq ?? new InterruptLine(`${this.name}.irq`);
    this.clock = options.clock ?? null;
    this.bytesPerCycle = options.bytesPerCycle ?? 0;
    this.burstBytes = options.burstBytes ?? 64;
    if (!(this.bytesPerCycle >= 0)) throw new RangeError(`${this.name}: bytesPerCycle must be >= 0, not ${this.bytesPerCycle}`);
    if (this.bytesPerCycle > 0 && this.clock === null) throw new RangeError(`${this.name}: a timed engine (bytesPerCycle > 0) needs a clock`);
    const b = this.burstBytes;
    if (!Number.isInteger(b) || b < 8 || b > 4096 || (b & (b - 1)) !== 0) throw new RangeError(`${this.name}: burstBytes must be a power of two between 8 and 4096, not ${b}`);
    this.staging = new Uint8Array(b);
    this.patternBytes = new Uint8Array(b + 8);
  }

  get busy(): boolean {
    return (this.status & Status.BUSY) !== 0;
  }

  /** Returns to the reset state (counters too); a running transfer is dropped without completion. */
  reset(): void {
    if (this.event !== null) this.clock?.cancel(this.event);
    this.event = null;
    this.control = this.status = this.length = this.pasid = this.progress = 0;
    this.source = this.destination = this.fill = this.errorAddress = 0n;
    const c = this.counters;
    c.bytes = c.transfers = c.errors = c.reads = c.writes = 0;
    this.updateIrq();
  }

  // ---- registers ------------------------------------------------------------------------

  mmioRead(offset: number, size: MmioSize): bigint {
    if (size === 4 && (offset & 3) === 0) return BigInt(this.readWord(offset));
    if (size === 8 && (offset & 7) === 0) return join64(this.readWord(offset + 4), this.readWord(offset));
    return 0n;
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (size === 4 && (offset & 3) === 0) {
      this.writeWord(offset, lo32(value));
    } else if (size === 8 && (offset & 7) === 0) {
      // A 64-bit register written whole; CONTROL/STATUS pairs are written low word first.
      this.writeWord(offset, lo32(value));
      this.writeWord(offset + 4, hi32(value));
    }
  }

  mmioRead32(offset: number): number {
    return (offset & 3) === 0 ? this.readWord(offset) : 0;
  }

  mmioWrite32(offset: number, value: number): void {
    if ((offset & 3) === 0) this.writeWord(offset, value >>> 0);
  }

  private readWord(offset: number): number {
    switch (offset) {
      case Reg.ID:
        return DMA_ENGINE_ID;
      case Reg.VERSION:
        return DMA_ENGINE_VERSION;
      case Reg.CONTROL:
        return this.control;
      case Reg.STATUS:
        return this.status;
      case Reg.SOURCE:
        return lo32(this.source);
      case Reg.SOURCE + 4:
        return hi32(this.source);
      case Reg.DESTINATION:
        return lo32(this.destination);
      case Reg.DESTINATION + 4:
        return hi32(this.destination);
      case Reg.LENGTH:
        return this.length;
      case Reg.PASID:
        return this.pasid;
      case Reg.FILL:
        return lo32(this.fill);
      case Reg.FILL + 4:
        return hi32(this.fill);
      case Reg.ERROR_ADDRESS:
        return lo32(this.errorAddress);
      case Reg.ERROR_ADDRESS + 4:
        return hi32(this.errorAddress);
      case Reg.PROGRESS:
        return this.progress;
      case Reg.BYTES:
        return this.counters.bytes >>> 0;
      case Reg.BYTES + 4:
        return Math.floor(this.counters.bytes / 0x1_0000_0000) >>> 0;
      case Reg.TRANSFERS:
        return this.counters.transfers >>> 0;
      case Reg.ERRORS:
        return this.counters.errors >>> 0;
      default:
        return 0;
    }
  }

  private writeWord(offset: number, v: number): void {
    switch (offset) {
      case Reg.CONTROL:
        this.writeControl(v);
        return;
      case Reg.STATUS:
        // DONE and ERROR are write-1-to-clear; the rest is read-only.
        this.status &= ~(v & (Status.DONE | Status.ERROR));
        this.updateIrq();
        return;
      case Reg.SOURCE:
        this.source = join64(hi32(this.source), v);
        return;
      case Reg.SOURCE + 4:
        this.source = join64(v, lo32(this.source));
        return;
      case Reg.DESTINATION:
        this.destination = join64(hi32(this.destination), v);
        return;
      case Reg.DESTINATION + 4:
        this.destination = join64(v, lo32(this.destination));
        return;
      case Reg.LENGTH:
        this.length = v >>> 0;
        return;
      case Reg.PASID:
        this.pasid = v & PASID_MASK;
        return;
      case Reg.FILL:
        this.fill = join64(hi32(this.fill), v);
        return;
      case Reg.FILL + 4:
        this.fill = join64(v, lo32(this.fill));
        return;
      default:
        return; // read-only or unimplemented
    }
  }

  private writeControl(v: number): void {
    this.control = v & CONTROL_STATE_MASK;
    this.updateIrq();
    if ((v & Control.ABORT) !== 0 && this.busy) this.finish(ErrorCause.SoftwareAbort, this.op === Operation.Fill ? this.dst : this.src, false); // the next access it would have made
    else if ((v & Control.START) !== 0 && !this.busy) this.start();
  }

  // ---- transfers --------------------------------------------------------------------------

  private start(): void {
    this.op = (this.control & Control.OP_MASK) >>> Control.OP_SHIFT;
    this.src = this.source;
    this.dst = this.destination;
    this.srcOff = Number(this.src & 0xfffn);
    this.dstOff = Number(this.dst & 0xfffn);
    if (this.fill !== this.patternOf) {
      // Byte i of the buffer is pattern byte (i mod 8): a transaction at address A takes its
      // data from offset (A mod 8).
      const p = this.patternBytes;
      for (let i = 0; i < 8; i++) p[i] = Number((this.fill >> BigInt(8 * i)) & 0xffn);
      for (let i = 8; i < p.length; i++) p[i] = p[i & 7];
      this.patternOf = this.fill;
    }
    this.progress = 0;
    this.errorAddress = 0n;
    this.status = Status.BUSY;
    const r = this.requester;
    r.pasidValid = (this.control & Control.PV) !== 0;
    r.pasid = this.pasid;
    r.privileged = (this.control & Control.PRIV) !== 0;
    this.updateIrq();
    if (this.op !== Operation.Copy && this.op !== Operation.Fill && this.op !== Operation.ReadVerify) {
      this.finish(ErrorCause.InvalidOperation, 0n, false);
      return;
    }
    if (this.bytesPerCycle === 0) this.run();
    else this.schedule();
  }

  /** Schedules the next transaction, which takes ceil(bytes / bytesPerCycle) cycles (at least 1). */
  private schedule(): void {
    const cycles = Math.max(1, Math.ceil(this.nextLength() / this.bytesPerCycle));
    this.event = (this.clock as Clock).schedule(cycles, this.onEvent);
  }

  /** The clock event of timed mode: the transaction scheduled, then the next one (or the end). */
  private readonly onEvent = (): void => {
    this.event = null;
    if (this.progress < this.length && !this.transaction()) return;
    if (!this.busy) return;
    if (this.progress >= this.length) this.finish(ErrorCause.None, 0n, false);
    else this.schedule();
  };

  /** Runs the whole transfer (untimed mode). */
  private run(): void {
    while (this.progress < this.length) if (!this.transaction()) return;
    this.finish(ErrorCause.None, 0n, false);
  }

  /**
   * The size of the next transaction: min(remaining, burstBytes, bytes to the next 4 KiB
   * boundary of each address the operation uses); 0 when the transfer is complete.
   */
  private nextLength(): number {
    let n = Math.min(this.length - this.progress, this.burstBytes);
    if (this.op !== Operation.Fill) n = Math.min(n, 4096 - this.srcOff);
    if (this.op !== Operation.ReadVerify) n = Math.min(n, 4096 - this.dstOff);
    return n;
  }

  /**
   * One transaction (a read and a write for a copy); returns false when the transfer failed
   * (it is then finished), true when it may go on (it finishes when progress reaches length).
   */
  private transaction(): boolean {
    const n = this.nextLength();
    const port = this.port;
    const r = this.requester;
    const op = this.op;
    if (op !== Operation.Fill) {
      this.counters.reads++;
      const s = port.readBurst(r, this.src, n, this.staging, 0);
      if (s !== DmaPortStatus.Ok) return this.fail(s, this.src, false);
      if (op === Operation.ReadVerify) {
        const data = this.staging;
        const expected = this.patternBytes;
        const phase = this.srcOff & 7;
        for (let i = 0; i < n; i++) {
          if (data[i] !== expected[phase + i]) {
            // The bytes before the first mismatch were verified.
            this.progress += i;
            this.counters.bytes += i;
            this.finish(ErrorCause.Mismatch, this.src + BigInt(i), false);
            return false;
          }
        }
      }
    }
    if (op !== Operation.ReadVerify) {
      this.counters.writes++;
      const s = op === Operation.Copy ? port.writeBurst(r, this.dst, n, this.staging, 0) : port.writeBurst(r, this.dst, n, this.patternBytes, this.dstOff & 7);
      if (s !== DmaPortStatus.Ok) return this.fail(s, this.dst, true);
    }
    const step = BigInt(n);
    if (op !== Operation.Fill) {
      this.src += step;
      this.srcOff = (this.srcOff + n) & 0xfff;
    }
    if (op !== Operation.ReadVerify) {
      this.dst += step;
      this.dstOff = (this.dstOff + n) & 0xfff;
    }
    this.progress += n;
    this.counters.bytes += n;
    return true;
  }

  private fail(s: DmaPortStatusValue, address: bigint, write: boolean): false {
    this.finish(CAUSE_OF_STATUS[s], address, write);
    return false;
  }

  private finish(cause: ErrorCauseValue, address: bigint, write: boolean): void {
    if (this.event !== null) {
      this.clock?.cancel(this.event);
      this.event = null;
    }
    if (cause === ErrorCause.None) {
      this.status = Status.DONE;
      this.counters.transfers++;
    } else {
      this.status = Status.DONE | Status.ERROR | (cause << Status.CAUSE_SHIFT) | (write ? Status.ERR_WRITE : 0);
      this.errorAddress = address;
      this.counters.errors++;
    }
    this.updateIrq();
  }

  private updateIrq(): void {
    this.irq.set((this.control & Control.IE) !== 0 && (this.status & Status.DONE) !== 0);
  }
}
