// The registers of one circular queue (IHI 0070 3.5, 6.3.26 - 6.3.29, 6.3.33, 6.3.95 - 6.3.98):
// the base register (LOG2SIZE, ADDR, allocation hint), and the producer and consumer index
// registers, each an index, a wrap flag at bit LOG2SIZE and, for some, a flag at bit 31.

import { pageAddress, type PageAddress } from './bus-port.js';

/** Bits of a *_BASE register the model stores: LOG2SIZE[4:0], ADDR[55:5] (low half), RA/WA[62]. */
const BASE_LO_MASK = 0xffff_ffff;
const BASE_HI_MASK = 0x40ff_ffff;

export class QueueRegisters {
  baseLo = 0;
  baseHi = 0;
  /** PROD and CONS as stored: index and wrap flag, plus bit 31 (OVFLG / OVACKFLG) or ERR. */
  prod = 0;
  cons = 0;
  private readonly scratch: PageAddress = { page: 0, offset: 0 };

  constructor(
    /** IDR1.CMDQS / EVENTQS / PRIQS. */
    readonly maxLog2: number,
    /** Bytes per entry: 16 or 32. */
    readonly entrySize: number,
    private readonly oasBits: number,
  ) {}

  reset(): void {
    this.baseLo = this.baseHi = this.prod = this.cons = 0;
  }

  writeBaseLo(value: number): void {
    this.baseLo = value & BASE_LO_MASK;
  }

  writeBaseHi(value: number): void {
    this.baseHi = value & BASE_HI_MASK;
  }

  /** The effective queue size: LOG2SIZE capped at the implemented maximum. */
  get log2size(): number {
    return Math.min(this.baseLo & 0x1f, this.maxLog2);
  }

  /** Mask of the index and wrap flag bits for the current size. */
  get pointerMask(): number {
    return (2 << this.log2size) - 1;
  }

  /**
   * The address of entry `index`: ADDR[55:5] truncated to the OAS and aligned to the larger of
   * the queue size and 32 bytes (6.3.26), plus index * entry size.
   */
  entryAddress(index: number): PageAddress {
    const size = this.entrySize * 2 ** this.log2size;
    const align = Math.max(5, Math.log2(size));
    const a = pageAddress(this.baseHi, this.baseLo & ~0x1f, this.oasBits, align, this.scratch);
    const byte = a.offset + index * this.entrySize;
    a.page += Math.floor(byte / 4096);
    a.offset = byte % 4096;
    return a;
  }

  /** Whether the queue holds no entries (indexes and wrap flags equal). */
  get empty(): boolean {
    return ((this.prod ^ this.cons) & this.pointerMask) === 0;
  }

  /** Whether the queue is full (indexes equal, wrap flags different). */
  get full(): boolean {
    return ((this.prod ^ this.cons) & this.pointerMask) === 1 << this.log2size;
  }

  /** The index (without wrap flag) of a pointer. */
  index(pointer: number): number {
    return pointer & ((1 << this.log2size) - 1);
  }

  /** A pointer advanced by one entry, wrapping and toggling the wrap flag. */
  next(pointer: number): number {
    return (pointer + 1) & this.pointerMask;
  }
}
