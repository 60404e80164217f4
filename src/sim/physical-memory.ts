// Sparse, page-granular physical memory covering the full 64-bit address space.
// Frames are allocated on first write; unbacked memory reads as zero. Address ranges can be
// marked to answer with an access fault or with poisoned (corrupted) data, so that the models'
// architected responses to those conditions can be exercised.

import { bswap32, hex, lo32, hi32, join64, MASK64 } from './u64.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export type AccessSize = 1 | 2 | 4 | 8;
export type Endianness = 'little' | 'big';

/** Outcome of a memory access, as the fabric reports it to the requester. */
export const enum AccessStatus {
  Ok = 0,
  /** A PMA/PMP-style violation: the access did not happen. */
  AccessFault = 1,
  /** The access happened but the data carries an uncorrectable-error (poison) indication. */
  DataCorruption = 2,
}

export interface MemoryCounters {
  reads: number;
  writes: number;
}

interface MarkedRange {
  start: bigint;
  end: bigint; // exclusive
  status: AccessStatus.AccessFault | AccessStatus.DataCorruption;
}

export class MemoryError extends Error {}

const WORDS_PER_PAGE = PAGE_SIZE / 4;
/** What a page without data reads as (readInPlace); never written. */
const ZERO_PAGE = new Uint32Array(WORDS_PER_PAGE);
const FRAME_CACHE = 256;
const hostIsLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
if (!hostIsLittleEndian) throw new MemoryError('iommu-lab needs a little-endian host');
/** Burst copies up to this length use a byte loop, longer ones a typed-array copy. */
const SHORT_COPY = 256;

export class PhysicalMemory {
  /** Byte order of the public read/write accessors. */
  readonly endianness: Endianness;
  /** Accesses made through any accessor (one per call, whatever its size). */
  readonly counters: MemoryCounters = { reads: 0, writes: 0 };
  /** High half of the most recent read64() result; read64 returns the low half. */
  hi = 0;

  private readonly frames = new Map<number, Uint32Array>();
  private marks: MarkedRange[] = [];
  private markedPages: Set<number> | null = null;
  // A direct-mapped cache of frame lookups: table walks touch a few pages over and over.
  private readonly cachedPpn = new Float64Array(FRAME_CACHE).fill(-1);
  private readonly cachedFrame: (Uint32Array | null)[] = new Array<Uint32Array | null>(FRAME_CACHE).fill(null);
  // Byte views of frames for burst copies, cached the same way (a view is made once per frame
  // and slot fill, not per access); only frames that exist are cached.
  private readonly cachedBytesPpn = new Float64Array(FRAME_CACHE).fill(-1);
  private readonly cachedBytes: (Uint8Array | null)[] = new Array<Uint8Array | null>(FRAME_CACHE).fill(null);

  constructor(options: { endianness?: Endianness } = {}) {
    this.endianness = options.endianness ?? 'little';
  }

  // ---- public accessors (BigInt addresses and values) ----------------------------------

  /** Reads `size` bytes at `addr` (naturally aligned) as an unsigned integer. */
  read(addr: bigint, size: AccessSize): bigint {
    this.checkAligned(addr, size);
    const ppn = Number(addr >> 12n);
    const offset = Number(addr & 0xfffn);
    this.counters.reads++;
    let value: bigint;
    if (size === 8) {
      value = join64(this.peek32(ppn, offset + 4), this.peek32(ppn, offset));
      if (this.endianness === 'big') value = join64(bswap32(lo32(value)), bswap32(hi32(value)));
    } else {
      const word = this.peek32(ppn, offset & ~3);
      const shift = (offset & 3) * 8;
      let v = size === 4 ? word : (word >>> shift) & (size === 2 ? 0xffff : 0xff);
      if (this.endianness === 'big') v = size === 4 ? bswap32(v) : size === 2 ? ((v & 0xff) << 8) | (v >>> 8) : v;
      value = BigInt(v >>> 0);
    }
    return value;
  }

  /** Writes the low `size` bytes of `value` at `addr` (naturally aligned). */
  write(addr: bigint, size: AccessSize, value: bigint): void {
    this.checkAligned(addr, size);
    const ppn = Number(addr >> 12n);
    const offset = Number(addr & 0xfffn);
    this.counters.writes++;
    let v = value & MASK64;
    if (size === 8) {
      if (this.endianness === 'big') v = join64(bswap32(lo32(v)), bswap32(hi32(v)));
      this.poke32(ppn, offset, lo32(v));
      this.poke32(ppn, offset + 4, hi32(v));
      return;
    }
    let small = Number(v & (size === 4 ? 0xffff_ffffn : size === 2 ? 0xffffn : 0xffn));
    if (this.endianness === 'big') small = size === 4 ? bswap32(small) : size === 2 ? ((small & 0xff) << 8) | (small >>> 8) : small;
    if (size === 4) {
      this.poke32(ppn, offset, small);
      return;
    }
    const shift = (offset & 3) * 8;
    const mask = (size === 2 ? 0xffff : 0xff) << shift;
    const word = this.peek32(ppn, offset & ~3);
    this.poke32(ppn, offset & ~3, ((word & ~mask) | (small << shift)) >>> 0);
  }

  /** Copies bytes out of memory (no marks are consulted; a tool accessor). */
  readBytes(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let ppn = Number(addr >> 12n);
    let off = Number(addr & 0xfffn);
    for (let done = 0; done < length; ) {
      const n = Math.min(length - done, PAGE_SIZE - off);
      this.copyOut(ppn, off, out, done, n);
      done += n;
      ppn++;
      off = 0;
    }
    return out;
  }

  /** Copies bytes into memory (no marks are consulted; a tool accessor). */
  writeBytes(addr: bigint, bytes: Uint8Array): void {
    let ppn = Number(addr >> 12n);
    let off = Number(addr & 0xfffn);
    for (let done = 0; done < bytes.length; ) {
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      this.copyIn(ppn, off, bytes, done, n);
      done += n;
      ppn++;
      off = 0;
    }
  }

  /**
   * Copies `length` bytes of page `ppn` from byte `pageOffset` into `into[offset..)`: a bus
   * master's burst read. The range must lie inside the page. No marks are consulted (the
   * system bus checks them); a page without data reads as zeros. Counts as one read.
   */
  readInto(ppn: number, pageOffset: number, into: Uint8Array, offset: number, length: number): void {
    this.checkInPage(pageOffset, length);
    this.counters.reads++;
    this.copyOut(ppn, pageOffset, into, offset, length);
  }

  /**
   * Copies `length` bytes of `from[offset..)` into page `ppn` from byte `pageOffset`: a bus
   * master's burst write. The range must lie inside the page; no marks are consulted. A page
   * without data gets a frame only if a byte written is not zero (memory stays sparse).
   * Counts as one write.
   */
  writeFrom(ppn: number, pageOffset: number, from: Uint8Array, offset: number, length: number): void {
    this.checkInPage(pageOffset, length);
    this.counters.writes++;
    this.copyIn(ppn, pageOffset, from, offset, length);
  }

  // ---- fault and poison marks ----------------------------------------------------------

  /** Accesses that touch [start, start+length) fail with an access fault. */
  markAccessFault(start: bigint, length: bigint): void {
    this.addMark(start, length, AccessStatus.AccessFault);
  }

  /** Reads that touch [start, start+length) return data flagged as corrupted. */
  markDataCorruption(start: bigint, length: bigint): void {
    this.addMark(start, length, AccessStatus.DataCorruption);
  }

  /** Removes every mark. */
  clearMarks(): void {
    this.marks = [];
    this.markedPages = null;
  }

  /**
   * The status an access of `size` bytes at page `ppn`, byte `offset` would get.
   * Costs one comparison when nothing is marked.
   */
  check(ppn: number, offset: number, size: number): AccessStatus {
    if (this.markedPages === null) return AccessStatus.Ok;
    return this.checkSlow(ppn, offset, size);
  }

  // ---- fast internal accessors (page number + byte offset, 32-bit halves) ---------------

  /** Reads the little-endian 32-bit word at byte `offset` (4-aligned) of page `ppn`. */
  read32(ppn: number, offset: number): number {
    this.counters.reads++;
    return this.peek32(ppn, offset);
  }

  /** Reads a little-endian 64-bit doubleword: returns the low half, leaves the high half in `hi`. */
  read64(ppn: number, offset: number): number {
    this.counters.reads++;
    const frame = this.frame(ppn);
    if (frame === null) {
      this.hi = 0;
      return 0;
    }
    const index = offset >>> 2;
    this.hi = frame[index + 1];
    return frame[index];
  }

  /**
   * Reads `dwords` little-endian doublewords of page `ppn` in place: counts them as that many
   * read64() calls and returns the page's 32-bit words (zeros for a page without data), which
   * the caller reads and must not modify.
   */
  readInPlace(ppn: number, dwords: number): Uint32Array {
    this.counters.reads += dwords;
    return this.frame(ppn) ?? ZERO_PAGE;
  }

  /** Writes a little-endian 32-bit word at byte `offset` (4-aligned) of page `ppn`. */
  write32(ppn: number, offset: number, value: number): void {
    this.counters.writes++;
    this.poke32(ppn, offset, value);
  }

  /** Writes a little-endian 64-bit doubleword given as halves. */
  write64(ppn: number, offset: number, lo: number, hi: number): void {
    this.counters.writes++;
    let frame = this.frame(ppn);
    if (frame === null) {
      if (lo === 0 && hi === 0) return; // keep memory sparse
      frame = this.newFrame(ppn);
    }
    const index = offset >>> 2;
    frame[index] = lo;
    frame[index + 1] = hi;
  }

  /** Zeroes the 4 KiB page `ppn` (a CPU clearing a page; memory stays sparse). */
  zeroPage(ppn: number): void {
    this.counters.writes++;
    if (this.frames.delete(ppn)) {
      const slot = ppn & (FRAME_CACHE - 1);
      if (this.cachedPpn[slot] === ppn) {
        this.cachedPpn[slot] = -1;
        this.cachedFrame[slot] = null;
      }
      if (this.cachedBytesPpn[slot] === ppn) {
        this.cachedBytesPpn[slot] = -1;
        this.cachedBytes[slot] = null;
      }
    }
  }

  /** Number of 4 KiB frames that hold data. */
  get residentPages(): number {
    return this.frames.size;
  }

  // ---- internals -----------------------------------------------------------------------

  private frame(ppn: number): Uint32Array | null {
    const slot = ppn & (FRAME_CACHE - 1); // low bits survive ToInt32 even above 2^32
    if (this.cachedPpn[slot] === ppn) return this.cachedFrame[slot];
    const frame = this.frames.get(ppn) ?? null;
    if (frame !== null) {
      this.cachedPpn[slot] = ppn;
      this.cachedFrame[slot] = frame;
    }
    return frame;
  }

  /**
   * The frame of page `ppn` as bytes (memory order), or null when the page holds no data.
   * Frames hold little-endian words, so on a little-endian host a byte view of the frame is
   * the memory's bytes.
   */
  private frameBytes(ppn: number): Uint8Array | null {
    const slot = ppn & (FRAME_CACHE - 1);
    if (this.cachedBytesPpn[slot] === ppn) return this.cachedBytes[slot];
    const frame = this.frame(ppn);
    if (frame === null) return null;
    const bytes = new Uint8Array(frame.buffer, frame.byteOffset, PAGE_SIZE);
    this.cachedBytesPpn[slot] = ppn;
    this.cachedBytes[slot] = bytes;
    return bytes;
  }

  /** Uncounted copy out of one page (the range is inside the page). */
  private copyOut(ppn: number, pageOffset: number, into: Uint8Array, offset: number, length: number): void {
    if (!hostIsLittleEndian) {
      for (let i = 0; i < length; i++) {
        const a = pageOffset + i;
        into[offset + i] = (this.peek32(ppn, a & ~3) >>> ((a & 3) * 8)) & 0xff;
      }
      return;
    }
    const bytes = this.frameBytes(ppn);
    if (bytes === null) {
      into.fill(0, offset, offset + length);
    } else if (length <= SHORT_COPY) {
      // A loop beats making a subarray view for the short copies of DMA transactions.
      for (let i = 0; i < length; i++) into[offset + i] = bytes[pageOffset + i];
    } else {
      into.set(bytes.subarray(pageOffset, pageOffset + length), offset);
    }
  }

  /** Uncounted copy into one page (the range is inside the page). */
  private copyIn(ppn: number, pageOffset: number, from: Uint8Array, offset: number, length: number): void {
    if (!hostIsLittleEndian) {
      for (let i = 0; i < length; i++) {
        const a = pageOffset + i;
        const shift = (a & 3) * 8;
        const word = this.peek32(ppn, a & ~3);
        this.poke32(ppn, a & ~3, ((word & ~(0xff << shift)) | (from[offset + i] << shift)) >>> 0);
      }
      return;
    }
    let bytes = this.frameBytes(ppn);
    if (bytes === null) {
      let i = 0;
      while (i < length && from[offset + i] === 0) i++;
      if (i === length) return; // keep memory sparse: zeros are what an absent frame reads
      this.newFrame(ppn);
      bytes = this.frameBytes(ppn) as Uint8Array;
    }
    if (length <= SHORT_COPY) {
      for (let i = 0; i < length; i++) bytes[pageOffset + i] = from[offset + i];
    } else {
      bytes.set(from.subarray(offset, offset + length), pageOffset);
    }
  }

  private checkInPage(pageOffset: number, length: number): void {
    if (!(pageOffset >= 0 && length >= 0 && pageOffset + length <= PAGE_SIZE) || !Number.isInteger(pageOffset) || !Number.isInteger(length)) {
      throw new MemoryError(`a burst of ${String(length)} bytes at page offset ${String(pageOffset)} does not fit in one 4 KiB page`);
    }
  }

  private peek32(ppn: number, offset: number): number {
    const frame = this.frame(ppn);
    return frame === null ? 0 : frame[offset >>> 2];
  }

  private poke32(ppn: number, offset: number, value: number): void {
    let frame = this.frame(ppn);
    if (frame === null) {
      if (value === 0) return; // keep memory sparse: zero is what an absent frame reads
      frame = this.newFrame(ppn);
    }
    frame[offset >>> 2] = value;
  }

  private newFrame(ppn: number): Uint32Array {
    const frame = new Uint32Array(WORDS_PER_PAGE);
    this.frames.set(ppn, frame);
    const slot = ppn & (FRAME_CACHE - 1);
    this.cachedPpn[slot] = ppn;
    this.cachedFrame[slot] = frame;
    return frame;
  }

  private checkAligned(addr: bigint, size: AccessSize): void {
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
      throw new MemoryError(`memory access size must be 1, 2, 4 or 8 bytes, not ${String(size)}`);
    }
    if (addr < 0n || addr > MASK64) throw new MemoryError(`address ${hex(addr)} is outside the 64-bit space`);
    if ((addr & BigInt(size - 1)) !== 0n) {
      throw new MemoryError(`${size}-byte access at ${hex(addr)} is not naturally aligned`);
    }
  }

  private addMark(start: bigint, length: bigint, status: MarkedRange['status']): void {
    if (length <= 0n) throw new MemoryError('a marked range needs a positive length');
    const end = start + length;
    this.marks.push({ start, end, status });
    // Page index for quick rejection; huge ranges fall back to a scan of the mark list.
    const pages = (end - 1n >> 12n) - (start >> 12n) + 1n;
    if (this.markedPages === null) this.markedPages = new Set();
    if (pages <= 4096n) {
      for (let p = start >> 12n; p <= (end - 1n) >> 12n; p++) this.markedPages.add(Number(p));
    } else {
      this.markedPages.add(-1); // sentinel: some range is too large to index by page
    }
  }

  private checkSlow(ppn: number, offset: number, size: number): AccessStatus {
    const pages = this.markedPages;
    if (pages === null || (!pages.has(ppn) && !pages.has(-1))) return AccessStatus.Ok;
    const start = BigInt(ppn) * 4096n + BigInt(offset);
    const end = start + BigInt(size);
    let result = AccessStatus.Ok;
    for (const m of this.marks) {
      if (m.start < end && start < m.end) {
        if (m.status === AccessStatus.AccessFault) return AccessStatus.AccessFault;
        result = AccessStatus.DataCorruption;
      }
    }
    return result;
  }
}
