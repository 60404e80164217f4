// The IO bridge: carries a device's DMA through the IOMMU and on to the system bus
// (specification section "Aborting transactions"). It also performs what an MSI page-table
// entry in MRIF mode asks for (AIA "MSI PTE, MRIF mode"): a 32-bit MSI write becomes a
// pending bit set in the memory-resident interrupt file, followed by the notice MSI.
//
// Requests come in two forms: single accesses of at most 8 bytes (read/write, data as a
// bigint) and bursts (readBurst/writeBurst): one transaction of up to 4096 bytes that stays
// inside one 4 KiB page, translated ONCE at its start address, as an IOMMU translates one
// PCIe memory request. Either form is aborted if it crosses a page boundary (the bridge does
// not split requests). Read data that the system bus flags as corrupted completes with
// Poisoned (the data is delivered).

import { Cause } from '../../formats/riscv-iommu/records.js';
import type { MmioSize } from '../../sim/mmio.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { bswap32 } from '../../sim/u64.js';
import type { Translator } from './translate.js';
import { ResponseStatus, TranslationResponse, type TranslationRequest } from './transaction.js';

export const DmaStatus = {
  Ok: 0,
  /** The IOMMU faulted the transaction: a read completes with an error, a write is dropped. */
  Aborted: 1,
  /** The target rejected the access (a PMA/PMP-style violation at the system bus). */
  BusError: 2,
  /** A write to an MRIF page that is not an MSI the IOMMU can store: accepted and discarded. */
  Discarded: 3,
  /** A read completed, but the system bus flagged its data as corrupted (a poisoned completion). */
  Poisoned: 4,
} as const;
export type DmaStatusValue = (typeof DmaStatus)[keyof typeof DmaStatus];

export interface MrifStats {
  msisStored: number;
  discarded: number;
  noticesSent: number;
  noticeFaults: number;
}

export class IoBridge {
  readonly response = new TranslationResponse();
  readonly mrif: MrifStats = { msisStored: 0, discarded: 0, noticesSent: 0, noticeFaults: 0 };
  /** Value of the last successful read. */
  value = 0n;

  constructor(
    private readonly translator: Translator,
    private readonly bus: SystemBus,
    private readonly mrifBigEndian: boolean,
    private readonly reportFault: (req: TranslationRequest, cause: number) => void,
  ) {}

  /** A DMA read of `size` bytes at the request's address; the data is left in `value`. */
  read(req: TranslationRequest, size: MmioSize): DmaStatusValue {
    req.write = false;
    return this.access(req, size, 0n);
  }

  /** A DMA write of `size` bytes. */
  write(req: TranslationRequest, size: MmioSize, data: bigint): DmaStatusValue {
    req.write = true;
    return this.access(req, size, data);
  }

  private access(req: TranslationRequest, size: MmioSize, data: bigint): DmaStatusValue {
    const rsp = this.response;
    this.translator.translate(req, rsp);
    if (rsp.status !== ResponseStatus.Success) return DmaStatus.Aborted;
    const offset = req.iovaLo & 0xfff;
    if (offset + size > 4096) return DmaStatus.Aborted; // the bridge splits DMA at page boundaries
    if (rsp.isMrif) return this.mrifAccess(req, size, offset, data);
    const r = this.bus.access(rsp.address(offset), size, req.write, data);
    if (r.status === AccessStatus.AccessFault) return DmaStatus.BusError;
    this.value = r.value;
    return r.status === AccessStatus.DataCorruption && !req.write ? DmaStatus.Poisoned : DmaStatus.Ok;
  }

  /**
   * A DMA read transaction of `length` bytes at the request's address, translated once; the
   * data lands in `into[offset..offset+length)`. An MRIF page reads as zeros.
   */
  readBurst(req: TranslationRequest, length: number, into: Uint8Array, offset: number): DmaStatusValue {
    req.write = false;
    const pageOffset = this.translateBurst(req, length);
    if (pageOffset < 0) return DmaStatus.Aborted;
    const rsp = this.response;
    if (rsp.isMrif) {
      into.fill(0, offset, offset + length);
      return DmaStatus.Ok;
    }
    const s = this.bus.readBurstAt(rsp.ppn, pageOffset, length, into, offset);
    return s === AccessStatus.AccessFault ? DmaStatus.BusError : s === AccessStatus.DataCorruption ? DmaStatus.Poisoned : DmaStatus.Ok;
  }

  /**
   * A DMA write transaction of `from[offset..offset+length)`, translated once. To an MRIF page
   * only a naturally aligned 4-byte write is an MSI the IOMMU stores; any other write there is
   * accepted and discarded.
   */
  writeBurst(req: TranslationRequest, length: number, from: Uint8Array, offset: number): DmaStatusValue {
    req.write = true;
    const pageOffset = this.translateBurst(req, length);
    if (pageOffset < 0) return DmaStatus.Aborted;
    const rsp = this.response;
    if (rsp.isMrif) {
      if (length !== 4 || (pageOffset & 3) !== 0) {
        this.mrif.discarded++;
        return DmaStatus.Discarded;
      }
      const data = (from[offset] | (from[offset + 1] << 8) | (from[offset + 2] << 16) | (from[offset + 3] << 24)) >>> 0;
      return this.mrifAccess(req, 4, pageOffset, BigInt(data));
    }
    return this.bus.writeBurstAt(rsp.ppn, pageOffset, length, from, offset) === AccessStatus.AccessFault ? DmaStatus.BusError : DmaStatus.Ok;
  }

  /** Translates a transaction (once); its offset in the page, or -1 when it is aborted. */
  private translateBurst(req: TranslationRequest, length: number): number {
    this.translator.translate(req, this.response);
    if (this.response.status !== ResponseStatus.Success) return -1;
    const pageOffset = req.iovaLo & 0xfff;
    // The bridge splits DMA at page boundaries: a transaction that crosses one is broken.
    return length >= 1 && pageOffset + length <= 4096 ? pageOffset : -1;
  }

  private mrifAccess(req: TranslationRequest, size: MmioSize, offset: number, data: bigint): DmaStatusValue {
    // Only naturally aligned 32-bit accesses are handled; reads of the page return zero.
    if (size !== 4 || (offset & 3) !== 0) return DmaStatus.Aborted;
    if (!req.write) {
      this.value = 0n;
      return DmaStatus.Ok;
    }
    const rsp = this.response;
    const bigEndian = (offset & 4) !== 0;
    let id = Number(data & 0xffffffffn);
    if (bigEndian) id = bswap32(id);
    // Offsets other than seteipnum_le/_be, big-endian MSIs without support, or identities
    // beyond 2047 are accepted and discarded.
    if ((offset & 0xff8) !== 0 || (bigEndian && !this.mrifBigEndian) || id >= 2048) {
      this.mrif.discarded++;
      return DmaStatus.Discarded;
    }
    // Set pending bit `id`: doubleword pair k = id / 64, even doubleword, little-endian.
    const addr = rsp.mrifAddress + BigInt((id >>> 6) * 16);
    const bit = id & 63;
    const old = this.bus.access(addr, 8, false);
    if (old.status === AccessStatus.AccessFault) {
      this.reportFault(req, Cause.MrifAccessFault);
      return DmaStatus.Aborted;
    }
    if (old.status === AccessStatus.DataCorruption) {
      this.reportFault(req, Cause.MsiMrifDataCorruption);
      return DmaStatus.Aborted;
    }
    const w = this.bus.access(addr, 8, true, old.value | (1n << BigInt(bit)));
    if (w.status === AccessStatus.AccessFault) {
      this.reportFault(req, Cause.MrifAccessFault);
      return DmaStatus.Aborted;
    }
    this.mrif.msisStored++;
    // The notice MSI: NID, zero-extended, written little-endian to NPPN << 12.
    const notice = this.bus.access(rsp.noticeAddress, 4, true, BigInt(rsp.noticeData));
    if (notice.status === AccessStatus.AccessFault) this.mrif.noticeFaults++;
    else this.mrif.noticesSent++;
    return DmaStatus.Ok;
  }
}
