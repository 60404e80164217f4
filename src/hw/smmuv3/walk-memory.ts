// How the SMMU's translation table walks reach their descriptors (IHI 0070 3.3, 3.13): by
// physical address through the system bus, or, for a stage 1 walk of a nested stream, by IPA
// translated through stage 2 first (a stage 2 fault there is reported by the caller with
// CLASS == TT). Every access is traced and counted. Two SMMU rules the walker does not know are
// applied here:
//  - CD.AFFD / STE.S2AFFD (Access Flag Fault Disable) without hardware Access flag management:
//    a descriptor with AF == 0 behaves as if AF were 1. Descriptors are handed to the walker
//    with AF set (bit 10 is IGNORED in Table descriptors, so only leaves are affected).
//  - The descriptor address must be within the OAS (3.4.3): the walker checks output and table
//    addresses against the stage's output size, which this implementation caps at the OAS.

import { AccessStatus } from '../../sim/physical-memory.js';
import type { DescriptorMemory } from '../arm-lpae/walker.js';
import type { BusPort } from './bus-port.js';
import type { SmmuTracedStructure, SmmuV3Tracer } from './trace.js';

// Local copies of imported constants, read on every descriptor access: V8 folds a module constant's
// properties into optimized code, not an import's.
const ACCESS_OK = AccessStatus.Ok;
const ACCESS_FAULT = AccessStatus.AccessFault;

const PAGES_PER_4G = 0x10_0000;
/** AF (bit 10) as stored little-endian, and as stored big-endian (byte 1 of the low word lands in byte 2 of the high word). */
const AF_LE_LO = 1 << 10;
const AF_BE_HI = 1 << 18;

/** Translates the IPA of a stage 1 table descriptor to a PA (stage 2, CLASS == TT). */
export interface TableAddressTranslator {
  /** Returns false after preparing the stage 2 fault; otherwise leaves the PA in page/offset. */
  translateTableAddress(ipaHi: number, ipaLo: number, write: boolean): boolean;
  page: number;
  offset: number;
}

export class WalkMemory implements DescriptorMemory {
  lo = 0;
  hi = 0;
  swapped = false;
  /** Physical page and offset of the last descriptor access (an F_WALK_EABT's FetchAddr). */
  page = 0;
  offset = 0;
  /** The last access failed because stage 2 faulted on the descriptor's IPA. */
  stage2Fault = false;
  tracer: SmmuV3Tracer | null = null;

  // Per walk.
  private structure: SmmuTracedStructure = 's1tt';
  private affd = false;
  private bigEndian = false;
  private nested: TableAddressTranslator | null = null;
  private level: () => number = () => -1;

  constructor(private readonly port: BusPort) {}

  /** Prepares a walk: which stage, AFFD emulation, descriptor endianness, and the stage 2 for nested walks. */
  begin(structure: SmmuTracedStructure, affd: boolean, bigEndian: boolean, nested: TableAddressTranslator | null, level: () => number): void {
    this.structure = structure;
    this.affd = affd;
    this.bigEndian = bigEndian;
    this.nested = nested;
    this.level = level;
    this.stage2Fault = false;
  }

  read64(addressHi: number, addressLo: number): boolean {
    // A physical address and nothing to trace, in short (the walker inlines this).
    if (this.nested !== null || this.tracer !== null) return this.readLocated(addressHi, addressLo);
    const page = addressHi * PAGES_PER_4G + (addressLo >>> 12);
    const offset = addressLo & 0xfff;
    this.page = page;
    this.offset = offset;
    if (this.port.readDword(page, offset) !== ACCESS_OK) return false;
    const w = this.port.words;
    this.lo = w[0];
    this.hi = w[1];
    if (this.affd) this.applyAffd();
    return true;
  }

  /** read64() of a nested walk (the address an IPA) or a traced one. */
  private readLocated(addressHi: number, addressLo: number): boolean {
    if (!this.locate(addressHi, addressLo, false)) return false;
    const status = this.port.readDword(this.page, this.offset);
    const w = this.port.words;
    if (this.tracer !== null) this.tracer.fetch(this.structure, this.level(), this.page, this.offset, w, 1, status, false);
    if (status !== ACCESS_OK) return false;
    this.lo = w[0];
    this.hi = w[1];
    this.applyAffd();
    return true;
  }

  cas64(addressHi: number, addressLo: number, expectLo: number, expectHi: number, newLo: number, newHi: number): boolean {
    if (!this.locate(addressHi, addressLo, true)) return false;
    const w = this.port.words;
    const status = this.port.readDword(this.page, this.offset);
    if (status !== ACCESS_OK) {
      if (this.tracer !== null) this.tracer.fetch(this.structure, this.level(), this.page, this.offset, w, 1, status, true);
      return false;
    }
    this.lo = w[0];
    this.hi = w[1];
    this.applyAffd();
    this.swapped = this.lo >>> 0 === expectLo >>> 0 && this.hi >>> 0 === expectHi >>> 0;
    if (!this.swapped) return true;
    w[0] = newLo;
    w[1] = newHi;
    const wrote = this.port.write(this.page, this.offset, 1);
    if (this.tracer !== null) this.tracer.fetch(this.structure, this.level(), this.page, this.offset, w, 1, wrote, true);
    return wrote !== ACCESS_FAULT;
  }

  private locate(addressHi: number, addressLo: number, write: boolean): boolean {
    if (this.nested !== null) {
      if (!this.nested.translateTableAddress(addressHi, addressLo, write)) {
        this.stage2Fault = true;
        return false;
      }
      this.page = this.nested.page;
      this.offset = this.nested.offset;
      return true;
    }
    this.page = addressHi * PAGES_PER_4G + (addressLo >>> 12);
    this.offset = addressLo & 0xfff;
    return true;
  }

  private applyAffd(): void {
    if (!this.affd) return;
    if (this.bigEndian) this.hi = (this.hi | AF_BE_HI) >>> 0;
    else this.lo = (this.lo | AF_LE_LO) >>> 0;
  }
}
