// The registers of one circular queue (IHI 0070 3.5, 6.3.26 - 6.3.29, 6.3.33, 6.3.95 - 6.3.98):
// the base register (LOG2SIZE, ADDR, allocation hint), and the producer and consumer index
// registers, each an index, a wrap flag at bit LOG2SIZE and, for some, a flag at bit 31.

import { pageAddress, type PageAddress } from './bus-port.js';

/** Bits of a *_BASE register the model stores: LOG2SIZE[4:0], ADDR[55:5] (low half), RA/WA[62]. */
const BASE_LO_MASK = 0xffff_ffff;
const BASE_HI_MASK = 0x40ff_ffff;

export class QueueRegisters {
  /** The base register as stored (written through writeBaseLo/writeBaseHi). */
  private lo = 0;
  private hi = 0;
  /** The effective LOG2SIZE and the masks it gives, kept with the base register. */
  private log2 = 0;
  private indexMask = 0;
  private pointerBits = 1;
  /** PROD and CONS as stored: index and wrap flag, plus bit 31 (OVFLG / OVACKFLG) or ERR. */
  prod = 0;
  cons = 0;
  private readonly scratch: PageAddress = { page: 0, offset: 0 };
  /** The address of entry 0, kept with the base register. */
  private readonly base: PageAddress = { page: 0, offset: 0 };

  constructor(
    /** IDR1.CMDQS / EVENTQS / PRIQS. */
    readonly maxLog2: number,
    /** Bytes per entry: 16 or 32. */
    readonly entrySize: number,
    private readonly oasBits: number,
  ) {}

  reset(): void {
    this.prod = this.cons = 0;
    this.writeBaseLo(0);
    this.writeBaseHi(0);
  }

  get baseLo(): number {
    return this.lo;
  }

  get baseHi(): number {
    return this.hi;
  }

  writeBaseLo(value: number): void {
    this.lo = value & BASE_LO_MASK;
    this.log2 = Math.min(this.lo & 0x1f, this.maxLog2);
    this.indexMask = (1 << this.log2) - 1;
    this.pointerBits = (2 << this.log2) - 1;
    this.rebase();
  }

  writeBaseHi(value: number): void {
    this.hi = value & BASE_HI_MASK;
    this.rebase();
  }

  /** ADDR[55:5] truncated to the OAS and aligned to the larger of the queue size and 32 bytes (6.3.26). */
  private rebase(): void {
    pageAddress(this.hi, this.lo & ~0x1f, this.oasBits, Math.max(5, Math.log2(this.entrySize) + this.log2), this.base);
  }

  /** The effective queue size: LOG2SIZE capped at the implemented maximum. */
  get log2size(): number {
    return this.log2;
  }

  /** Mask of the index and wrap flag bits for the current size. */
  get pointerMask(): number {
    return this.pointerBits;
  }

  /** The address of entry `index`: the base plus index * entry size. */
  entryAddress(index: number): PageAddress {
    const base = this.base;
    // Below 2^24 bytes (2^19 entries of 32 bytes): exact 32-bit arithmetic.
    const byte = base.offset + index * this.entrySize;
    const a = this.scratch;
    a.page = base.page + (byte >>> 12);
    a.offset = byte & 4095;
    return a;
  }

  /** Whether the queue holds no entries (indexes and wrap flags equal). */
  get empty(): boolean {
    return ((this.prod ^ this.cons) & this.pointerBits) === 0;
  }

  /** Whether the queue is full (indexes equal, wrap flags different). */
  get full(): boolean {
    return ((this.prod ^ this.cons) & this.pointerBits) === 1 << this.log2;
  }

  /** The index (without wrap flag) of a pointer. */
  index(pointer: number): number {
    return pointer & this.indexMask;
  }

  /** A pointer advanced by one entry, wrapping and toggling the wrap flag. */
  next(pointer: number): number {
    return (pointer + 1) & this.pointerBits;
  }
}
