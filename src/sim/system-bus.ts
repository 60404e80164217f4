// The system interconnect seen by bus masters (an IOMMU writing its queues and MSIs, a
// device's translated DMA): an access goes to an MMIO region if one claims the address,
// otherwise to RAM, where fault and poison marks apply.
//
// Bursts (readBurst/writeBurst) are the transactions of DMA masters: 1..4096 bytes inside
// one 4 KiB page, any byte alignment. To RAM a burst is one transfer with one mark check over
// its whole range. A burst to a page that an MMIO region touches is split into naturally
// aligned accesses of at most 8 bytes, so device registers only ever see ordinary accesses.

import { MmioBus, type MmioSize } from './mmio.js';
import { AccessStatus, PhysicalMemory } from './physical-memory.js';
import { MASK64, TWO_32 } from './u64.js';

/** Whether a burst of `length` bytes at byte `pageOffset` of a page stays in the page. */
function burstFits(pageOffset: number, length: number): boolean {
  return length >= 1 && pageOffset + length <= 4096 && Number.isInteger(length);
}

/** The largest naturally aligned access of at most 8 bytes at `address` that fits `remaining`. */
function pieceSize(address: number, remaining: number): MmioSize {
  let size = 8;
  while (size > remaining || (address & (size - 1)) !== 0) size >>= 1;
  return size as MmioSize;
}

export class SystemBus {
  readonly mmio: MmioBus;

  // The pages MMIO regions touch, as plain page numbers (first and last page of each region),
  // rebuilt when regions are added: the routing check of every access costs no BigInt.
  private mmioIndexed = 0;
  private mmioFirstPage = new Float64Array(0);
  private mmioLastPage = new Float64Array(0);

  constructor(
    readonly memory: PhysicalMemory,
    mmio?: MmioBus,
  ) {
    this.mmio = mmio ?? new MmioBus();
  }

  /** Whether an MMIO region overlaps page `ppn` (then accesses to it are routed one by one). */
  touchesMmio(ppn: number): boolean {
    const n = this.mmio.all.length;
    if (n === 0) return false;
    if (n !== this.mmioIndexed) this.indexMmio();
    const first = this.mmioFirstPage;
    const last = this.mmioLastPage;
    for (let i = 0; i < n; i++) if (ppn >= first[i] && ppn <= last[i]) return true;
    return false;
  }

  /** A 32-bit write to physical page `ppn`, byte `offset`; little-endian in RAM. */
  write32(ppn: number, offset: number, value: number): AccessStatus {
    if (this.touchesMmio(ppn)) {
      return this.mmioAccess(ppn, offset, 4, BigInt(value >>> 0), true).status;
    }
    const status = this.memory.check(ppn, offset, 4);
    if (status === AccessStatus.AccessFault) return status;
    this.memory.write32(ppn, offset, value);
    return status;
  }

  /** A 64-bit write given as halves; little-endian in RAM. */
  write64(ppn: number, offset: number, lo: number, hi: number): AccessStatus {
    if (this.touchesMmio(ppn)) {
      return this.mmioAccess(ppn, offset, 8, BigInt(hi >>> 0) * BigInt(TWO_32) + BigInt(lo >>> 0), true).status;
    }
    const status = this.memory.check(ppn, offset, 8);
    if (status === AccessStatus.AccessFault) return status;
    this.memory.write64(ppn, offset, lo, hi);
    return status;
  }

  /** A 32-bit read; the value is returned in `result.value`. */
  read32(ppn: number, offset: number, result: { value: number; status: AccessStatus }): void {
    if (this.touchesMmio(ppn)) {
      const r = this.mmioAccess(ppn, offset, 4, 0n, false);
      result.value = Number(r.value & 0xffff_ffffn);
      result.status = r.status;
      return;
    }
    result.status = this.memory.check(ppn, offset, 4);
    result.value = result.status === AccessStatus.AccessFault ? 0 : this.memory.read32(ppn, offset);
  }

  /** A device-sized access by physical address (cold path: tools and DMA engines). */
  access(addr: bigint, size: MmioSize, write: boolean, value = 0n): { status: AccessStatus; value: bigint } {
    const region = this.mmio.find(addr);
    if (region !== undefined) {
      const offset = Number(addr - region.base);
      if (write) {
        region.device.mmioWrite(offset, size, value);
        return { status: AccessStatus.Ok, value: 0n };
      }
      return { status: AccessStatus.Ok, value: region.device.mmioRead(offset, size) };
    }
    const status = this.memory.check(Number(addr >> 12n), Number(addr & 0xfffn), size);
    if (status === AccessStatus.AccessFault) return { status, value: 0n };
    if (write) {
      this.memory.write(addr, size, value);
      return { status, value: 0n };
    }
    return { status, value: this.memory.read(addr, size) };
  }

  /**
   * A burst read of `length` (1..4096) bytes at `addr`, inside one 4 KiB page, into
   * `into[offset..offset+length)`. RAM: AccessFault if a fault mark touches the range (nothing
   * is read), DataCorruption if a poison mark does (the data is read). A page with MMIO is
   * read in naturally aligned accesses of at most 8 bytes. A burst that leaves its page, is
   * empty or longer than a page is refused as an AccessFault.
   */
  readBurst(addr: bigint, length: number, into: Uint8Array, offset: number): AccessStatus {
    if (addr < 0n || addr > MASK64) return AccessStatus.AccessFault;
    return this.readBurstAt(Number(addr >> 12n), Number(addr & 0xfffn), length, into, offset);
  }

  /** A burst write: the counterpart of readBurst, from `from[offset..offset+length)`. */
  writeBurst(addr: bigint, length: number, from: Uint8Array, offset: number): AccessStatus {
    if (addr < 0n || addr > MASK64) return AccessStatus.AccessFault;
    return this.writeBurstAt(Number(addr >> 12n), Number(addr & 0xfffn), length, from, offset);
  }

  /** readBurst by page number and byte offset (no BigInt). */
  readBurstAt(ppn: number, pageOffset: number, length: number, into: Uint8Array, offset: number): AccessStatus {
    if (!burstFits(pageOffset, length)) return AccessStatus.AccessFault;
    if (this.touchesMmio(ppn)) return this.splitBurst(ppn, pageOffset, length, into, offset, false);
    const status = this.memory.check(ppn, pageOffset, length);
    if (status === AccessStatus.AccessFault) return status;
    this.memory.readInto(ppn, pageOffset, into, offset, length);
    return status;
  }

  /** writeBurst by page number and byte offset (no BigInt); under a poison mark the data is written and the status says DataCorruption, as for access(). */
  writeBurstAt(ppn: number, pageOffset: number, length: number, from: Uint8Array, offset: number): AccessStatus {
    if (!burstFits(pageOffset, length)) return AccessStatus.AccessFault;
    if (this.touchesMmio(ppn)) return this.splitBurst(ppn, pageOffset, length, from, offset, true);
    const status = this.memory.check(ppn, pageOffset, length);
    if (status === AccessStatus.AccessFault) return status;
    this.memory.writeFrom(ppn, pageOffset, from, offset, length);
    return status;
  }

  /**
   * A burst to a page with MMIO, as the fabric would carry it to a register target: naturally
   * aligned pieces of at most 8 bytes, each an ordinary access (a piece outside every region
   * goes to RAM). A fault mark on any RAM piece refuses the whole burst before any piece is
   * performed (cold path).
   */
  private splitBurst(ppn: number, pageOffset: number, length: number, data: Uint8Array, offset: number, write: boolean): AccessStatus {
    const page = BigInt(ppn) << 12n;
    for (let done = 0; done < length; ) {
      const size = pieceSize(pageOffset + done, length - done);
      if (this.mmio.find(page + BigInt(pageOffset + done)) === undefined && this.memory.check(ppn, pageOffset + done, size) === AccessStatus.AccessFault) {
        return AccessStatus.AccessFault;
      }
      done += size;
    }
    let result = AccessStatus.Ok;
    for (let done = 0; done < length; ) {
      const size = pieceSize(pageOffset + done, length - done);
      const at = offset + done;
      let value = 0n;
      if (write) for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(data[at + i]);
      const r = this.access(page + BigInt(pageOffset + done), size, write, value);
      if (r.status === AccessStatus.DataCorruption) result = AccessStatus.DataCorruption;
      if (!write) {
        let v = r.value;
        for (let i = 0; i < size; i++) {
          data[at + i] = Number(v & 0xffn);
          v >>= 8n;
        }
      }
      done += size;
    }
    return result;
  }

  private indexMmio(): void {
    const regions = this.mmio.all;
    this.mmioFirstPage = new Float64Array(regions.length);
    this.mmioLastPage = new Float64Array(regions.length);
    regions.forEach((r, i) => {
      this.mmioFirstPage[i] = Number(r.base >> 12n);
      this.mmioLastPage[i] = Number((r.base + r.size - 1n) >> 12n);
    });
    this.mmioIndexed = regions.length;
  }

  private mmioAccess(ppn: number, offset: number, size: MmioSize, value: bigint, write: boolean) {
    return this.access((BigInt(ppn) << 12n) + BigInt(offset), size, write, value);
  }
}
