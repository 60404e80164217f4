// An MSI-X table and pending bit array behind a BAR (PCIe Base Specification 7.7.2 "MSI-X
// Capability and Table Structure"; PCI Local Bus 3.0 section 6.8.2): per vector a 16-byte
// entry {Message Address (low, high), Message Data, Vector Control (bit 0: Mask)}, and one
// pending bit per vector. A message for a masked vector (or while the function is masked)
// sets its pending bit instead; it is sent when the vector is unmasked. Entries start
// masked. The PciFunction's MSI-X capability says where the table and the PBA are and holds
// MSI-X Enable and Function Mask; `host` reads those and performs the memory write.
//
// Accesses: 32-bit reads and writes of table fields, 64-bit accesses of the address pair;
// the PBA is read-only. Other accesses read as 0 and are ignored.

import type { MmioDevice, MmioSize } from '../../sim/mmio.js';

export const MSIX_ENTRY_SIZE = 16;
const VECTOR_CONTROL_MASK = 1;

/** What the table needs from its function. */
export interface MsixHost {
  /** MSI-X Enable, and Function Mask, of the function's MSI-X capability. */
  readonly msixEnabled: boolean;
  readonly msixFunctionMasked: boolean;
  /** Performs the message: a 32-bit memory write of `data` at `address` (needs Bus Master Enable). */
  sendMsi(address: bigint, data: number): void;
}

export interface MsixCounters {
  sent: number;
  /** Messages held pending because their vector or the function was masked. */
  pended: number;
}

export class MsixTable implements MmioDevice {
  readonly counters: MsixCounters = { sent: 0, pended: 0 };
  host: MsixHost | null = null;
  /** Per vector: address low, address high, data, vector control. */
  private readonly entries: Uint32Array;
  private readonly pending: Uint8Array;

  constructor(
    readonly vectors: number,
    /** Offset of the PBA in the same BAR (after the table). */
    readonly pbaOffset: number,
  ) {
    this.entries = new Uint32Array(vectors * 4);
    this.pending = new Uint8Array(vectors);
    this.reset();
  }

  /** Every vector masked, no message pending (the state after a function reset). */
  reset(): void {
    this.entries.fill(0);
    for (let v = 0; v < this.vectors; v++) this.entries[v * 4 + 3] = VECTOR_CONTROL_MASK;
    this.pending.fill(0);
  }

  /** Signals vector `vector`: sent now, or left pending while masked. False when MSI-X is disabled or the vector does not exist. */
  signal(vector: number): boolean {
    const host = this.host;
    if (host === null || !host.msixEnabled || vector < 0 || vector >= this.vectors) return false;
    if (host.msixFunctionMasked || (this.entries[vector * 4 + 3] & VECTOR_CONTROL_MASK) !== 0) {
      if (this.pending[vector] === 0) this.counters.pended++;
      this.pending[vector] = 1;
      return true;
    }
    this.send(vector);
    return true;
  }

  /** Sends the pending messages whose vectors are no longer masked (after an unmask). */
  deliverPending(): void {
    const host = this.host;
    if (host === null || !host.msixEnabled || host.msixFunctionMasked) return;
    for (let v = 0; v < this.vectors; v++) {
      if (this.pending[v] === 1 && (this.entries[v * 4 + 3] & VECTOR_CONTROL_MASK) === 0) {
        this.pending[v] = 0;
        this.send(v);
      }
    }
  }

  isPending(vector: number): boolean {
    return this.pending[vector] === 1;
  }

  // ---- MmioDevice --------------------------------------------------------------------------

  mmioRead32(offset: number): number {
    if ((offset & 3) !== 0) return 0;
    if (offset < this.vectors * MSIX_ENTRY_SIZE) return this.entries[offset >>> 2];
    const bit = (offset - this.pbaOffset) * 8;
    if (offset < this.pbaOffset || bit >= this.vectors) return 0;
    let word = 0;
    for (let i = 0; i < 32 && bit + i < this.vectors; i++) if (this.pending[bit + i] === 1) word |= 1 << i;
    return word >>> 0;
  }

  mmioWrite32(offset: number, value: number): void {
    if ((offset & 3) !== 0 || offset >= this.vectors * MSIX_ENTRY_SIZE) return;
    const index = offset >>> 2;
    this.entries[index] = (index & 3) === 3 ? value & VECTOR_CONTROL_MASK : value >>> 0;
    if ((index & 3) === 3 && (value & VECTOR_CONTROL_MASK) === 0) this.deliverPending();
  }

  mmioRead(offset: number, size: MmioSize): bigint {
    if (size === 4) return BigInt(this.mmioRead32(offset));
    if (size === 8 && (offset & 7) === 0) return (BigInt(this.mmioRead32(offset + 4)) << 32n) | BigInt(this.mmioRead32(offset));
    return 0n;
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (size === 4) this.mmioWrite32(offset, Number(value & 0xffff_ffffn));
    else if (size === 8 && (offset & 7) === 0) {
      this.mmioWrite32(offset, Number(value & 0xffff_ffffn));
      this.mmioWrite32(offset + 4, Number((value >> 32n) & 0xffff_ffffn));
    }
  }

  private send(vector: number): void {
    const e = vector * 4;
    this.counters.sent++;
    (this.host as MsixHost).sendMsi((BigInt(this.entries[e + 1]) << 32n) | BigInt(this.entries[e]), this.entries[e + 2]);
  }
}
