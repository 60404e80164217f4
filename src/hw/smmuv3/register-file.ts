// Access rules of the SMMUv3 register frame (IHI 0070 6.2): aligned 32-bit accesses to any
// 32-bit register or half of a 64-bit register, aligned 64-bit accesses to 64-bit registers.
// For the CONSTRAINED UNPREDICTABLE cases this implementation chooses: an illegal access (a
// size other than 4 or 8 bytes, or misaligned) is RAZ/WI; a 64-bit access to two adjacent
// 32-bit registers behaves as two 32-bit accesses, low address first. Undefined locations in
// Page 0 are RES0, and so are those of Page 1 (one of the two permitted behaviours).

import { REGISTER_FRAME_SIZE as FRAME_SIZE } from '../../formats/smmuv3/registers.js';

/** A local copy: V8 folds a module constant into optimized code, not an import. */
const REGISTER_FRAME_SIZE = FRAME_SIZE;

/** The register state behind the frame, one aligned 32-bit word at a time. */
export interface RegisterWords {
  /** The word at a 4-byte aligned offset (0 for undefined locations). */
  readWord(offset: number): number;
  /** A write of the word at a 4-byte aligned offset (ignored for undefined or read-only locations). */
  writeWord(offset: number, value: number): void;
  /**
   * A 64-bit write to the 64-bit register at an 8-byte aligned offset. Separate from two word
   * writes because guarded registers check their guard once for the whole value.
   */
  writeDouble(offset: number, lo: number, hi: number): void;
}

export class RegisterFile {
  /** Accesses that broke the access rules (RAZ/WI). */
  illegal = 0;

  constructor(private readonly words: RegisterWords) {}

  read(offset: number, size: number): bigint {
    if (!this.valid(offset, size)) {
      this.illegal++;
      return 0n;
    }
    if (size === 4) return BigInt(this.words.readWord(offset) >>> 0);
    const lo = this.words.readWord(offset) >>> 0;
    const hi = this.words.readWord(offset + 4) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  write(offset: number, size: number, value: bigint): void {
    if (!this.valid(offset, size)) {
      this.illegal++;
      return;
    }
    const lo = Number(value & 0xffff_ffffn);
    if (size === 4) return this.words.writeWord(offset, lo);
    this.words.writeDouble(offset, lo, Number((value >> 32n) & 0xffff_ffffn));
  }

  readWord(offset: number): number {
    if (!this.valid(offset, 4)) {
      this.illegal++;
      return 0;
    }
    return this.words.readWord(offset) >>> 0;
  }

  writeWord(offset: number, value: number): void {
    if (!this.valid(offset, 4)) {
      this.illegal++;
      return;
    }
    this.words.writeWord(offset, value >>> 0);
  }

  private valid(offset: number, size: number): boolean {
    return (size === 4 || size === 8) && Number.isInteger(offset) && offset >= 0 && offset + size <= REGISTER_FRAME_SIZE && offset % size === 0;
  }
}
