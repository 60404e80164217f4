// The interface between a DMA master and whatever sits upstream of it: an IOMMU's IO bridge,
// a PCIe host bridge, or the system bus itself. A request carries the requester's identity
// (the device id the IOMMU sees, an optional PASID, the privilege flag) and answers with a
// status; the data of a successful read is left in the port's `value` field, so that a
// transfer loop allocates nothing but the BigInts of its addresses and data.

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

export const DMA_PORT_STATUS_NAMES: Readonly<Record<DmaPortStatusValue, string>> = {
  [DmaPortStatus.Ok]: 'ok',
  [DmaPortStatus.Aborted]: 'aborted',
  [DmaPortStatus.BusError]: 'bus-error',
  [DmaPortStatus.Poisoned]: 'poisoned',
};

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
  ) {}
}

export interface DmaPort {
  /** The data of the most recent successful read. */
  readonly value: bigint;
  /** A `size`-byte read at `address` (naturally aligned); the data is left in `value`. */
  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue;
  /** A `size`-byte write of the low bytes of `data` at `address` (naturally aligned). */
  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue;
}

/** Whether `address` is naturally aligned for a `size`-byte access (the fabric splits nothing). */
export function dmaAligned(address: bigint, size: MmioSize): boolean {
  return address >= 0n && (Number(address & 7n) & (size - 1)) === 0;
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

  private access(address: bigint, size: MmioSize, write: boolean, data: bigint): DmaPortStatusValue {
    if (!dmaAligned(address, size) || address + BigInt(size) > 1n << 64n) {
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
}
