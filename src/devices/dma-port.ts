// The interface between a DMA master and whatever sits upstream of it: an IOMMU's IO bridge,
// a PCIe host bridge, or the system bus itself. A request carries the requester's identity
// (the device id the IOMMU sees, an optional PASID, the privilege flag) and answers with a
// status.
//
// Two kinds of request:
//  - read/write: one naturally aligned access of 1, 2, 4 or 8 bytes, the data as a bigint
//    (a read's data is left in the port's `value`). MSIs and register-like accesses use them.
//  - readBurst/writeBurst: one bus transaction (a PCIe memory request TLP, an AXI burst) of
//    1..4096 bytes at any byte address, carried in a caller's Uint8Array. A transaction never
//    crosses a 4 KiB boundary (PCIe Base Specification, "requests must not cross a 4-KB
//    boundary", section 2.2.7 in 4.0 and later; AXI bursts have the same rule), so an IOMMU
//    translates it once. A transaction that would cross one comes from a broken master: it
//    is refused as a BusError without reaching the IOMMU or the target.

import type { MmioSize } from '../sim/mmio.js';
import { AccessStatus } from '../sim/physical-memory.js';
import type { SystemBus } from '../sim/system-bus.js';

/** What the upstream answers to one DMA access. */
export const DmaPortStatus = {
  Ok: 0,
  /** The IOMMU faulted the request: a read completes with an error, a write is dropped. */
  Aborted: 1,
  /** The target (or the fabric) rejected the access: a PMA/PMP-style violation, a misaligned or master-aborted request. */
  BusError: 2,
  /** The read completed but its data is flagged as corrupted (a poisoned completion). */
  Poisoned: 3,
} as const;
export type DmaPortStatusValue = (typeof DmaPortStatus)[keyof typeof DmaPortStatus];

/**
 * Who issues a request. Mutable and meant to be reused by a master for all its requests.
 * `deviceId` is the id the IOMMU sees: a platform device's stream/device id, or a PCIe
 * requester id (bus << 8 | devfn), possibly with the segment in bits 23:16.
 */
export class DmaRequester {
  constructor(
    public deviceId = 0,
    /** Whether the request carries a PASID (PCIe PASID prefix / RISC-V process_id). */
    public pasidValid = false,
    public pasid = 0,
    /** Privileged-mode request (meaningful with a PASID). */
    public privileged = false,
    /** PCIe AT = Translated: the address came from an ATS Translation Completion. */
    public translated = false,
  ) {}
}

export interface DmaPort {
  /** The data of the most recent successful read. */
  readonly value: bigint;
  /** A `size`-byte read at `address` (naturally aligned); the data is left in `value`. */
  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue;
  /** A `size`-byte write of the low bytes of `data` at `address` (naturally aligned). */
  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue;
  /**
   * One read transaction of `length` (1..4096) bytes at `address`, not crossing a 4 KiB
   * boundary; the data lands in `into[offset..offset+length)`. With Poisoned the data is
   * there but flagged; with other errors the contents of that range are undefined.
   */
  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue;
  /** One write transaction of `from[offset..offset+length)` at `address` (same rules as readBurst). */
  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue;
}

/**
 * Whether a `size`-byte access at `address` is well formed: inside the 64-bit space and
 * naturally aligned (the fabric splits nothing), which also keeps its last byte in that space.
 */
export function dmaAligned(address: bigint, size: MmioSize): boolean {
  return address >= 0n && address <= MAX_ADDRESS && (Number(address & 7n) & (size - 1)) === 0;
}

/**
 * Whether a transaction of `length` bytes at `address` is well formed: 1..4096 bytes (an
 * integer), inside the 64-bit space, not crossing a 4 KiB boundary.
 */
export function burstValid(address: bigint, length: number): boolean {
  return address >= 0n && address <= MAX_ADDRESS && length >= 1 && Number(address & 0xfffn) + length <= 4096 && Number.isInteger(length);
}

const MAX_ADDRESS = (1n << 64n) - 1n;
/** Addresses below 2^53 convert to a number exactly; pages below 2^41 make such addresses. */
const EXACT_LIMIT = 1n << 53n;
const EXACT_PAGES = 2 ** 41;

// Page helpers for the per-access paths of DMA ports. In V8 `Number(address & 0xfffn)` (a
// small mask, then a conversion) allocates nothing, so page offsets are taken that way; a
// shift (`address >> 12n`) or building an address from several BigInts allocates each time,
// so these go through an exact double instead (every address below 2^53, in practice).

/** The 4 KiB page number of `address` (0 <= address < 2^64). */
export function dmaPage(address: bigint): number {
  return address < EXACT_LIMIT ? Math.floor(Number(address) / 4096) : Number(address >> 12n);
}

/** The byte address of `offset` (0..4095) in 4 KiB page `page`, as one BigInt. */
export function dmaAddress(page: number, offset: number): bigint {
  return page < EXACT_PAGES ? BigInt(page * 4096 + offset) : (BigInt(page) << 12n) | BigInt(offset);
}

/**
 * A master that no IOMMU translates: its addresses are physical addresses on the system bus.
 * The requester identity is ignored. Misaligned accesses and accesses outside the 64-bit
 * space are bus errors (never JavaScript exceptions).
 */
export class DirectDmaPort implements DmaPort {
  value = 0n;
  readonly counters = { reads: 0, writes: 0, errors: 0 };

  constructor(readonly bus: SystemBus) {}

  read(_requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.counters.reads++;
    return this.access(address, size, false, 0n);
  }

  write(_requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.counters.writes++;
    return this.access(address, size, true, data);
  }

  readBurst(_requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.reads++;
    if (!burstValid(address, length)) return this.error(DmaPortStatus.BusError);
    const s = this.bus.readBurst(address, length, into, offset);
    if (s === AccessStatus.AccessFault) return this.error(DmaPortStatus.BusError);
    if (s === AccessStatus.DataCorruption) return this.error(DmaPortStatus.Poisoned);
    return DmaPortStatus.Ok;
  }

  writeBurst(_requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.writes++;
    if (!burstValid(address, length)) return this.error(DmaPortStatus.BusError);
    // Poison marks only flag read data: a write under one completes.
    if (this.bus.writeBurst(address, length, from, offset) === AccessStatus.AccessFault) return this.error(DmaPortStatus.BusError);
    return DmaPortStatus.Ok;
  }

  private error(s: DmaPortStatusValue): DmaPortStatusValue {
    this.counters.errors++;
    return s;
  }

  private access(address: bigint, size: MmioSize, write: boolean, data: bigint): DmaPortStatusValue {
    if (!dmaAligned(address, size)) {
      this.counters.errors++;
      return DmaPortStatus.BusError;
    }
    const r = this.bus.access(address, size, write, data);
    if (r.status === AccessStatus.AccessFault) {
      this.counters.errors++;
      return DmaPortStatus.BusError;
    }
    if (!write) this.value = r.value;
    if (r.status === AccessStatus.DataCorruption && !write) {
      this.counters.errors++;
      return DmaPortStatus.Poisoned;
    }
    return DmaPortStatus.Ok;
  }
}

/** The port of a master not wired to anything yet: every access is a bus error. */
export class UnconnectedDmaPort implements DmaPort {
  readonly value = 0n;

  read(): DmaPortStatusValue {
    return DmaPortStatus.BusError;
  }

  write(): DmaPortStatusValue {
    return DmaPortStatus.BusError;
  }

  readBurst(): DmaPortStatusValue {
    return DmaPortStatus.BusError;
  }

  writeBurst(): DmaPortStatusValue {
    return DmaPortStatus.BusError;
  }
}
