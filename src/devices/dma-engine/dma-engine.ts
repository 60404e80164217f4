// The iommu-lab DMA engine: a memory-to-memory DMA master (register map in registers.ts).
// A transfer moves data through the engine's upstream DmaPort in beats: each beat is the
// largest naturally aligned access of at most 8 bytes that fits the remaining length and the
// alignment of the addresses involved, so 8-byte aligned buffers move in 8-byte accesses.
// The engine stops at the first access its upstream does not complete (an IOMMU abort, a bus
// error, poisoned data) and reports it in STATUS and ERROR_ADDRESS.
//
// Timing is a parameter: with `bytesPerCycle` 0 (the default) a transfer runs to completion
// inside the register write that starts it; otherwise it is spread over simulated time, one
// burst of `burstBytes` per Clock event, each taking ceil(burst / bytesPerCycle) cycles.

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
  /** Bytes moved per clock event in timed mode (default 64). */
  burstBytes?: number;
}

export interface DmaEngineCounters {
  /** Bytes written (copy, fill) or read (read-verify) by completed beats. */
  bytes: number;
  /** Transfers that completed without error. */
  transfers: number;
  /** Transfers that ended with an error (including software aborts). */
  errors: number;
  /** Accesses issued upstream. */
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
  private pattern = 0n;
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
    if (!Number.isInteger(this.burstBytes) || this.burstBytes < 8) throw new RangeError(`${this.name}: burstBytes must be an integer >= 8`);
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
    this.pattern = this.fill;
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
    if (this.bytesPerCycle === 0) this.run(Number.POSITIVE_INFINITY);
    else this.scheduleBurst();
  }

  private scheduleBurst(): void {
    const burst = Math.min(this.burstBytes, this.length - this.progress);
    const cycles = Math.max(1, Math.ceil(burst / this.bytesPerCycle));
    this.event = (this.clock as Clock).schedule(cycles, () => {
      this.event = null;
      if (this.run(this.burstBytes) && this.busy) this.scheduleBurst();
    });
  }

  /** Moves up to `budget` bytes; returns false when the transfer ended (completed or failed). */
  private run(budget: number): boolean {
    let moved = 0;
    while (this.progress < this.length) {
      if (moved >= budget) return true;
      const n = this.beat();
      if (n === 0) return false;
      moved += n;
    }
    this.finish(ErrorCause.None, 0n, false);
    return false;
  }

  /** One access (or read-write pair); returns the bytes moved, 0 when the transfer failed. */
  private beat(): number {
    const remaining = this.length - this.progress;
    const port = this.port;
    const r = this.requester;
    const srcLow = Number(this.src & 7n);
    const dstLow = Number(this.dst & 7n);
    const low = this.op === Operation.Copy ? srcLow | dstLow : this.op === Operation.Fill ? dstLow : srcLow;
    let size = 8;
    while (size > remaining || (low & (size - 1)) !== 0) size >>= 1;
    const sz = size as MmioSize;
    if (this.op !== Operation.Fill) {
      this.counters.reads++;
      const s = port.read(r, this.src, sz);
      if (s !== DmaPortStatus.Ok) return this.fail(s, this.src, false);
      if (this.op === Operation.ReadVerify && port.value !== this.patternAt(srcLow, size)) {
        this.finish(ErrorCause.Mismatch, this.src, false);
        return 0;
      }
    }
    if (this.op !== Operation.ReadVerify) {
      const data = this.op === Operation.Copy ? port.value : this.patternAt(dstLow, size);
      this.counters.writes++;
      const s = port.write(r, this.dst, sz, data);
      if (s !== DmaPortStatus.Ok) return this.fail(s, this.dst, true);
    }
    this.src += BigInt(size);
    this.dst += BigInt(size);
    this.progress += size;
    this.counters.bytes += size;
    return size;
  }

  private patternAt(byte: number, size: number): bigint {
    const bits = BigInt(size * 8);
    return (this.pattern >> BigInt(byte * 8)) & ((1n << bits) - 1n);
  }

  private fail(s: DmaPortStatusValue, address: bigint, write: boolean): number {
    this.finish(CAUSE_OF_STATUS[s], address, write);
    return 0;
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
