// The device's accesses to guest memory (rings, descriptor tables, buffers) as bus
// transactions through its DMA port. A 64-bit bus address is carried as two 32-bit halves;
// an access is cut at 4 KiB boundaries because a transaction may not cross one (the port
// refuses those). Only the port call needs a bigint address: below 2^53 it is one exact
// conversion, above it the halves are joined.

import { DmaPortStatus, DmaRequester, type DmaPort, type DmaPortStatusValue } from '../../devices/dma-port.js';
import { TWO_32 } from '../../sim/u64.js';

/** Below this high half, hi * 2^32 + lo (+ a small offset) is an exact double. */
const EXACT_HI = 0x1f_ffff;

/** The bus address (hi:lo) + offset. */
export function busAddress(hi: number, lo: number, offset: number): bigint {
  if (hi < EXACT_HI) return BigInt(hi * TWO_32 + lo + offset);
  return (BigInt(hi) << 32n) + BigInt(lo + offset);
}

export class GuestMemory {
  /** Where accesses go (switches with VIRTIO_F_ACCESS_PLATFORM, see parameters.ts). */
  port: DmaPort;
  /** The status of the last access that failed (for error messages). */
  lastError: DmaPortStatusValue = DmaPortStatus.Ok;
  private readonly scratch = new Uint8Array(16);
  private readonly view = new DataView(this.scratch.buffer);

  constructor(
    port: DmaPort,
    readonly requester: DmaRequester = new DmaRequester(),
  ) {
    this.port = port;
  }

  /** Reads `length` bytes at (hi:lo)+offset into `into[at..]`; false on a bus error. */
  read(hi: number, lo: number, offset: number, length: number, into: Uint8Array, at: number): boolean {
    let done = 0;
    while (done < length) {
      const page = (lo + offset + done) % 4096;
      const n = Math.min(length - done, 4096 - page);
      const s = this.port.readBurst(this.requester, busAddress(hi, lo, offset + done), n, into, at + done);
      if (s !== DmaPortStatus.Ok) return this.fail(s);
      done += n;
    }
    return true;
  }

  /** Writes `from[at..at+length)` at (hi:lo)+offset; false on a bus error. */
  write(hi: number, lo: number, offset: number, length: number, from: Uint8Array, at: number): boolean {
    let done = 0;
    while (done < length) {
      const page = (lo + offset + done) % 4096;
      const n = Math.min(length - done, 4096 - page);
      const s = this.port.writeBurst(this.requester, busAddress(hi, lo, offset + done), n, from, at + done);
      if (s !== DmaPortStatus.Ok) return this.fail(s);
      done += n;
    }
    return true;
  }

  /** A little-endian 16-bit field; -1 on a bus error. */
  read16(hi: number, lo: number, offset: number): number {
    return this.read(hi, lo, offset, 2, this.scratch, 0) ? this.view.getUint16(0, true) : -1;
  }

  write16(hi: number, lo: number, offset: number, value: number): boolean {
    this.view.setUint16(0, value, true);
    return this.write(hi, lo, offset, 2, this.scratch, 0);
  }

  /** Writes two little-endian 32-bit words (a used ring element). */
  write32x2(hi: number, lo: number, offset: number, first: number, second: number): boolean {
    this.view.setUint32(0, first, true);
    this.view.setUint32(4, second, true);
    return this.write(hi, lo, offset, 8, this.scratch, 0);
  }

  /**
   * Reads a 16-byte descriptor; on success its fields are in `descAddrLo`, `descAddrHi`,
   * `descLen`, `descFlags` and `descNext`.
   */
  readDescriptor(hi: number, lo: number, offset: number): boolean {
    if (!this.read(hi, lo, offset, 16, this.scratch, 0)) return false;
    const v = this.view;
    this.descAddrLo = v.getUint32(0, true);
    this.descAddrHi = v.getUint32(4, true);
    this.descLen = v.getUint32(8, true);
    this.descFlags = v.getUint16(12, true);
    this.descNext = v.getUint16(14, true);
    return true;
  }

  descAddrLo = 0;
  descAddrHi = 0;
  descLen = 0;
  descFlags = 0;
  descNext = 0;

  private fail(s: DmaPortStatusValue): false {
    this.lastError = s;
    return false;
  }
}

/** "an IOMMU fault" for Aborted, and so on: why a device access failed. */
export function describeDmaStatus(s: DmaPortStatusValue): string {
  switch (s) {
    case DmaPortStatus.Aborted:
      return 'the access was aborted (an IOMMU fault)';
    case DmaPortStatus.BusError:
      return 'a bus error';
    case DmaPortStatus.Poisoned:
      return 'poisoned data';
    default:
      return 'no error';
  }
}
