// What the three in-memory queues share (specification chapter "In-memory queue interface"):
// a base register (PPN and LOG2SZ-1), head and tail indices that wrap at the queue size,
// and the busy handshake of their control registers.

import { QueueBaseLayout } from '../../formats/riscv-iommu/registers.js';
import { encode } from '../../formats/bitfield.js';
import type { Clock } from '../../sim/clock.js';
import { smallPage } from './page-number.js';
import type { IommuState } from './state.js';

export class QueueBase {
  ppn = 0;
  log2SizeMinus1 = 0;
  head = 0;
  tail = 0;
  /** busy bit of the control register. */
  busy = false;

  constructor(
    private readonly state: IommuState,
    private readonly clock: Clock,
    private readonly busyCycles: number,
  ) {}

  /** Number of entries (follows the base register), and that minus 1 (the index bits). */
  entries = 2;
  private indexMask = 1;

  reset(): void {
    this.ppn = 0;
    this.setSize(0);
    this.head = 0;
    this.tail = 0;
    this.busy = false;
  }

  readBase(): bigint {
    return encode(QueueBaseLayout, { LOG2SZ_1: this.log2SizeMinus1, PPN: this.ppn });
  }

  /** Writes the base register; the index register owned by software is then reset to 0. */
  writeBase(value: bigint): void {
    this.setSize(Number(value & 0x1fn));
    // PPN is WARL: bits beyond the physical address space do not stick.
    this.ppn = smallPage(Number((value >> 10n) & ((1n << 44n) - 1n)) % this.state.ppnLimit);
  }

  private setSize(log2SizeMinus1: number): void {
    this.log2SizeMinus1 = log2SizeMinus1;
    this.entries = 2 ** (log2SizeMinus1 + 1);
    this.indexMask = this.entries - 1;
  }

  /** An index register value reduced to the queue size (only LOG2SZ-1:0 bits are writable). */
  wrap(value: number): number {
    return ((value >>> 0) & this.indexMask) >>> 0; // a 2^32-entry queue keeps all 32 bits
  }

  /** The index after `index`, wrapping at the end of the queue. */
  next(index: number): number {
    return index + 1 === this.entries ? 0 : index + 1;
  }

  /** Page and byte offset of entry `index` of `entrySize` bytes. */
  entryPage(index: number, entrySize: number): number {
    const byte = index * entrySize;
    return this.ppn + (byte < 4294967296 ? byte >>> 12 : Math.floor(byte / 4096));
  }

  entryOffset(index: number, entrySize: number): number {
    return (index * entrySize) & 4095; // the low bits survive the 32-bit conversion
  }

  isEmpty(): boolean {
    return this.head === this.tail;
  }

  /** Full when the tail is one behind the head: one slot always stays empty. */
  isFull(): boolean {
    return this.next(this.tail) === this.head;
  }

  /**
   * Completes a queue on/off transition, at once or after `busyCycles` of simulated time
   * with `busy` set meanwhile (writes to a busy control register are dropped by the owner).
   */
  control(apply: () => void): void {
    if (this.busyCycles === 0) {
      apply();
      return;
    }
    this.busy = true;
    this.clock.schedule(this.busyCycles, () => {
      this.busy = false;
      apply();
    });
  }
}
