// The DMA API over the IOMMU core, after Linux's drivers/iommu/dma-iommu.c (and dma-direct
// for untranslated devices): streaming mappings of single buffers and scatter-gather lists,
// and coherent allocations. A device whose current domain is a DMA domain gets IOVAs from
// the domain's IOVA allocator, mapped with the IOMMU core; unmapping invalidates at once in a
// strict ('dma') domain, or through a flush queue in a lazy ('dma-fq') domain. A device with
// no IOMMU, or in an identity domain, uses physical addresses as DMA addresses.
//
// Page-table pages an unmap puts on the gather's freelist (allocated from kernel.pages) are
// freed, as in Linux, by whoever performs the invalidation that makes them unreachable: the
// driver's iotlbSync in strict mode; in lazy mode the driver never sees them, they move into
// the flush-queue entry and this layer frees them after the flush.

import { hex } from '../../sim/u64.js';
import { DomainType, IotlbGather, Prot, type DomainTypeValue, type IommuDomain } from '../core/types.js';
import type { Device } from '../driver-model/device.js';
import type { Kernel } from '../kernel/kernel.js';
import { OutOfMemoryError } from '../kernel/page-allocator.js';
import { DEFAULT_FQ_SIZE, DEFAULT_FQ_TIMEOUT_CYCLES, FlushQueue, type FlushReason } from './flush-queue.js';
import { IovaAllocator, IovaError, type IovaStats } from './iova-allocator.js';
import { DmaDirection, DmaMappingError, type DmaApi, type DmaDirectionValue, type DmaStats, type MappedSg, type SgEntry } from './types.js';

export interface DmaOptions {
  /** Flush-queue entries per lazy domain (default 256, Linux IOVA_DEFAULT_FQ_SIZE). */
  fqSize?: number;
  /** Flush-queue timeout in simulated cycles (default 10 ms at DMA_CYCLES_PER_MS). */
  fqTimeoutCycles?: number;
  /** Do not try 32-bit IOVAs first for PCI devices (Linux iommu.forcedac). */
  forceDac?: boolean;
}

/** Per-domain counters of the DMA layer. */
export interface DmaDomainStats {
  domain: string;
  type: DomainTypeValue;
  /** True when unmaps go through a flush queue. */
  lazy: boolean;
  /** Map and unmap operations (single buffers, scatter-gather lists, coherent buffers). */
  mapped: number;
  unmapped: number;
  /** Mappings that failed (IOVA space exhausted or the driver could not map). */
  mapFailures: number;
  /** iotlbSync calls made by strict unmaps. */
  syncs: number;
  fqFlushes: Record<FlushReason, number>;
  fqEntriesFlushed: number;
  /** Average entries released per flush (0 before the first flush). */
  entriesPerFlush: number;
  /** Entries waiting in the flush queue now. */
  fqPending: number;
  /** IOVA cache hits / (hits + misses) of cacheable allocations (0 before any). */
  iovaCacheHitRate: number;
  iova: IovaStats;
}

/** The DMA layer's state for one DMA domain (Linux iommu_dma_cookie). */
interface DmaCookie {
  readonly domain: IommuDomain;
  readonly iovad: IovaAllocator;
  readonly granule: number;
  readonly shift: bigint;
  readonly fq: FlushQueue | null;
  /** Reused by every unmap of the domain. */
  readonly gather: IotlbGather;
  readonly counters: { mapped: number; unmapped: number; mapFailures: number; syncs: number };
}

/** A coherent allocation, to check freeCoherent's arguments. */
interface CoherentBuffer {
  paddr: bigint;
  size: number;
}

/** Linux's default when a device sets no dma_parms (dma_get_max_seg_size). */
const DEFAULT_MAX_SEGMENT = 0x1_0000;
const MASK_64 = (1n << 64n) - 1n;
const MASK_32 = 0xffff_ffffn;

export class IommuDmaApi implements DmaApi {
  readonly stats: DmaStats = { mapped: 0, unmapped: 0, syncs: 0, flushes: 0 };
  readonly fqSize: number;
  readonly fqTimeoutCycles: number;
  readonly forceDac: boolean;
  private readonly cookies = new Map<IommuDomain, DmaCookie>();
  private readonly masks = new WeakMap<Device, bigint>();
  private readonly maxSegments = new WeakMap<Device, number>();
  /** Live direct mappings per device: DMA address to the sizes mapped there (for error checks). */
  private readonly direct = new WeakMap<Device, Map<bigint, number[]>>();
  private readonly coherent = new WeakMap<Device, Map<bigint, CoherentBuffer>>();

  constructor(
    private readonly kernel: Kernel,
    options: DmaOptions = {},
  ) {
    this.fqSize = options.fqSize ?? DEFAULT_FQ_SIZE;
    this.fqTimeoutCycles = options.fqTimeoutCycles ?? DEFAULT_FQ_TIMEOUT_CYCLES;
    this.forceDac = options.forceDac ?? false;
    if (!Number.isInteger(this.fqSize) || this.fqSize < 1) throw new RangeError(`DMA flush-queue size must be a positive integer, not ${this.fqSize}`);
    if (!(this.fqTimeoutCycles > 0) || !Number.isFinite(this.fqTimeoutCycles)) throw new RangeError(`DMA flush-queue timeout must be a positive number of cycles, not ${this.fqTimeoutCycles}`);
  }

  // ---- device parameters -------------------------------------------------------------------

  setMask(dev: Device, mask: bigint): void {
    if (mask < 0xfffn || mask > MASK_64 || (mask & (mask + 1n)) !== 0n) {
      throw new DmaMappingError(`${dev.name}: DMA mask ${hex(mask)} is not 2^n - 1 with 12 <= n <= 64`);
    }
    this.masks.set(dev, mask);
  }

  getMask(dev: Device): bigint {
    return this.masks.get(dev) ?? MASK_64;
  }

  /** Longest DMA segment mapSg merges into (Linux dma_set_max_seg_size; default 64 KiB). */
  setMaxSegmentSize(dev: Device, bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw new DmaMappingError(`${dev.name}: maximum segment size must be a positive integer, not ${bytes}`);
    this.maxSegments.set(dev, bytes);
  }

  getMaxSegmentSize(dev: Device): number {
    return this.maxSegments.get(dev) ?? DEFAULT_MAX_SEGMENT;
  }

  // ---- streaming mappings ------------------------------------------------------------------

  mapSingle(dev: Device, paddr: bigint, size: number, dir: DmaDirectionValue): bigint {
    checkBuffer(dev, 'mapSingle', paddr, size);
    const prot = this.prot(dev, dir, 'mapSingle');
    const cookie = this.cookieFor(dev);
    if (cookie === null) {
      this.checkDirect(dev, 'mapSingle', paddr, size);
      this.recordDirect(dev, paddr, size);
      this.stats.mapped++;
      return paddr;
    }
    const dma = this.mapRange(dev, cookie, paddr, size, prot);
    this.stats.mapped++;
    cookie.counters.mapped++;
    return dma;
  }

  unmapSingle(dev: Device, dmaAddress: bigint, size: number, dir: DmaDirectionValue): void {
    checkBuffer(dev, 'unmapSingle', dmaAddress, size);
    this.prot(dev, dir, 'unmapSingle');
    const cookie = this.cookieFor(dev);
    if (cookie === null) {
      this.forgetDirect(dev, 'unmapSingle', dmaAddress, size);
    } else {
      this.unmapRange(dev, cookie, dmaAddress, size, 'unmapSingle');
      cookie.counters.unmapped++;
    }
    this.stats.unmapped++;
  }

  /**
   * Maps a scatter-gather list into one contiguous IOVA range, each entry starting at a
   * granule boundary, and merges entries that meet in IOVA space into segments (Linux
   * iommu_dma_map_sg and __finalise_sg). Direct mappings give one segment per entry.
   */
  mapSg(dev: Device, entries: readonly SgEntry[], dir: DmaDirectionValue): MappedSg {
    if (entries.length === 0) throw new DmaMappingError(`${dev.name}: mapSg: the scatter-gather list is empty`);
    for (const e of entries) checkBuffer(dev, 'mapSg', e.paddr, e.length);
    const prot = this.prot(dev, dir, 'mapSg');
    const kept = entries.map((e) => ({ paddr: e.paddr, length: e.length }));
    const cookie = this.cookieFor(dev);
    if (cookie === null) {
      for (const e of kept) this.checkDirect(dev, 'mapSg', e.paddr, e.length);
      for (const e of kept) this.recordDirect(dev, e.paddr, e.length);
      this.stats.mapped++;
      return { segments: kept.map((e) => ({ dmaAddress: e.paddr, length: e.length })), entries: kept };
    }

    const g = cookie.granule;
    const gmask = BigInt(g - 1);
    let total = 0;
    for (const e of kept) total += alignUp(Number(e.paddr & gmask) + e.length, g);
    const pages = total / g;
    const pfn = this.allocIova(dev, cookie, pages);
    const base = BigInt(pfn) << cookie.shift;
    let iova = base;
    try {
      for (const e of kept) {
        const off = e.paddr & gmask;
        const len = alignUp(Number(off) + e.length, g);
        this.kernel.iommu.map(cookie.domain, iova, e.paddr - off, BigInt(len), prot);
        iova += BigInt(len);
      }
    } catch (err) {
      if (iova > base) this.unmapNow(cookie, base, Number(iova - base));
      cookie.iovad.free(pfn, pages);
      cookie.counters.mapFailures++;
      throw new DmaMappingError(`${dev.name}: mapSg of ${kept.length} entries at IOVA ${hex(base)} failed: ${(err as Error).message}`);
    }

    // Merge entries that continue the previous one in IOVA space (Linux __finalise_sg).
    const maxSeg = this.getMaxSegmentSize(dev);
    const segments: { dmaAddress: bigint; length: number }[] = [];
    let cur: { dmaAddress: bigint; length: number } | null = null;
    let dma = base;
    for (const e of kept) {
      const off = Number(e.paddr & gmask);
      const iovaLen = alignUp(off + e.length, g);
      if (cur !== null && off === 0 && maxSeg - cur.length >= e.length) {
        cur.length += e.length;
      } else {
        cur = { dmaAddress: dma + BigInt(off), length: e.length };
        segments.push(cur);
      }
      dma += BigInt(iovaLen);
      if (off + e.length < iovaLen) cur = null; // ends inside a granule: the next cannot join
    }
    this.stats.mapped++;
    cookie.counters.mapped++;
    return { segments, entries: kept };
  }

  unmapSg(dev: Device, mapped: MappedSg, dir: DmaDirectionValue): void {
    this.prot(dev, dir, 'unmapSg');
    const entries = mapped.entries;
    if (entries.length === 0 || mapped.segments.length === 0) throw new DmaMappingError(`${dev.name}: unmapSg: the mapped list is empty`);
    for (const e of entries) checkBuffer(dev, 'unmapSg', e.paddr, e.length);
    const cookie = this.cookieFor(dev);
    if (cookie === null) {
      // Check every entry before forgetting any, so that a bad list changes nothing.
      const live = this.direct.get(dev);
      for (const e of entries) {
        if (!(live?.get(e.paddr)?.includes(e.length) ?? false)) {
          throw new DmaMappingError(`${dev.name}: unmapSg: ${hex(e.paddr)} (+${e.length}) is not mapped`);
        }
      }
      for (const e of entries) this.forgetDirect(dev, 'unmapSg', e.paddr, e.length);
    } else {
      // One contiguous IOVA range from the first segment's granule, as long as the entries need.
      const g = cookie.granule;
      const gmask = BigInt(g - 1);
      const first = mapped.segments[0].dmaAddress;
      if ((first & gmask) !== (entries[0].paddr & gmask)) {
        throw new DmaMappingError(`${dev.name}: unmapSg: segment ${hex(first)} does not belong to entry ${hex(entries[0].paddr)}`);
      }
      let total = 0;
      for (const e of entries) total += alignUp(Number(e.paddr & gmask) + e.length, g);
      this.unmapRange(dev, cookie, first & ~gmask, total, 'unmapSg');
      cookie.counters.unmapped++;
    }
    this.stats.unmapped++;
  }

  // ---- coherent allocations ----------------------------------------------------------------

  allocCoherent(dev: Device, size: number): { paddr: bigint; dmaAddress: bigint } {
    checkBuffer(dev, 'allocCoherent', 0n, size);
    const cookie = this.cookieFor(dev);
    const g = cookie?.granule ?? 4096;
    const bytes = alignUp(size, g);
    const count = bytes / 4096;
    let first: number;
    try {
      first = this.kernel.pages.allocPages(count, g / 4096);
    } catch (e) {
      if (e instanceof OutOfMemoryError) throw new DmaMappingError(`${dev.name}: allocCoherent of ${size} bytes: ${e.message}`);
      throw e;
    }
    const paddr = BigInt(first) << 12n;
    let dmaAddress = paddr;
    try {
      if (cookie === null) {
        this.checkDirect(dev, 'allocCoherent', paddr, bytes);
      } else {
        dmaAddress = this.mapRange(dev, cookie, paddr, bytes, Prot.READ | Prot.WRITE | this.cacheProt(dev));
        cookie.counters.mapped++;
      }
    } catch (e) {
      this.kernel.pages.freePages(first, count);
      throw e;
    }
    let buffers = this.coherent.get(dev);
    if (buffers === undefined) this.coherent.set(dev, (buffers = new Map()));
    buffers.set(dmaAddress, { paddr, size });
    this.stats.mapped++;
    return { paddr, dmaAddress };
  }

  /**
   * Unmaps and frees a coherent buffer. In a lazy domain the pages are freed at once while
   * the IOVA waits for the flush, as in Linux: a stale IOTLB entry can still reach them.
   */
  freeCoherent(dev: Device, size: number, paddr: bigint, dmaAddress: bigint): void {
    const buffers = this.coherent.get(dev);
    const buf = buffers?.get(dmaAddress);
    if (buffers === undefined || buf === undefined || buf.paddr !== paddr || buf.size !== size) {
      throw new DmaMappingError(`${dev.name}: freeCoherent: no coherent buffer of ${size} bytes at ${hex(paddr)} / DMA ${hex(dmaAddress)}`);
    }
    const cookie = this.cookieFor(dev);
    const g = cookie?.granule ?? 4096;
    const bytes = alignUp(size, g);
    if (cookie !== null) {
      this.unmapRange(dev, cookie, dmaAddress, bytes, 'freeCoherent');
      cookie.counters.unmapped++;
    }
    buffers.delete(dmaAddress);
    this.kernel.pages.freePages(Number(paddr >> 12n), bytes / 4096);
    this.stats.unmapped++;
  }

  // ---- domains, statistics, control --------------------------------------------------------

  /** The DMA layer's counters for `domain`, or null if it never mapped through it. */
  domainStats(domain: IommuDomain): DmaDomainStats | null {
    const c = this.cookies.get(domain);
    return c === undefined ? null : cookieStats(c);
  }

  /** Counters of every domain the DMA layer has used, in first-use order. */
  allDomainStats(): DmaDomainStats[] {
    return [...this.cookies.values()].map(cookieStats);
  }

  /** The IOVA allocator of a DMA domain (created on first use). */
  iovaAllocator(domain: IommuDomain): IovaAllocator {
    return this.cookie(domain).iovad;
  }

  /** Keeps [base, base + size) of a DMA domain's IOVA space out of allocation (MSI windows). */
  reserveIova(domain: IommuDomain, base: bigint, size: bigint): void {
    if (size <= 0n) throw new DmaMappingError(`reserveIova: size must be positive`);
    const c = this.cookie(domain);
    try {
      c.iovad.reserve(Number(base >> c.shift), Number((base + size - 1n) >> c.shift));
    } catch (e) {
      if (e instanceof IovaError) throw new DmaMappingError(`${domain.name}: ${e.message}`);
      throw e;
    }
  }

  /** Flushes every lazy domain's queue now (e.g. before a report); returns entries released. */
  flushQueues(): number {
    let n = 0;
    for (const c of this.cookies.values()) if (c.fq !== null) n += c.fq.flush('explicit');
    return n;
  }

  // ---- internals ---------------------------------------------------------------------------

  /** The cookie of `dev`'s DMA domain, null for direct mapping; throws for other domains. */
  private cookieFor(dev: Device): DmaCookie | null {
    const domain = this.kernel.iommu.domainOf(dev);
    if (domain === null || domain.type === DomainType.Identity) return null;
    if (domain.type !== DomainType.Dma && domain.type !== DomainType.DmaFq) {
      throw new DmaMappingError(`${dev.name} is attached to ${domain.name} (${domain.type}): the DMA API maps only through DMA domains`);
    }
    return this.cookie(domain);
  }

  private cookie(domain: IommuDomain): DmaCookie {
    const existing = this.cookies.get(domain);
    if (existing !== undefined) return existing;
    if (domain.type !== DomainType.Dma && domain.type !== DomainType.DmaFq) throw new DmaMappingError(`${domain.name} (${domain.type}) is not a DMA domain`);
    // The IOVA granule is the domain's smallest page; page frame 0 is never handed out, so
    // that DMA address 0 stays invalid (Linux iommu_dma_init_domain).
    const log2 = domain.pageSizes[0] ?? 12;
    const granule = 2 ** log2;
    const shift = BigInt(log2);
    const { start, end } = domain.geometry;
    const startPfn = Math.max(1, Number((start + BigInt(granule) - 1n) >> shift));
    const endPfn = Number(((end + 1n) >> shift) - 1n);
    if (endPfn < startPfn) throw new DmaMappingError(`${domain.name}: the aperture ${hex(start)}..${hex(end)} holds no IOVA page`);
    const iovad = new IovaAllocator({ startPfn, endPfn, granule });
    const log = this.kernel.log;
    let lazy = domain.type === DomainType.DmaFq;
    if (lazy && domain.ops.flushIotlbAll === undefined) {
      log.warn('dma', `${domain.name}: the driver cannot flush the whole IOTLB; falling back to strict invalidation`);
      lazy = false;
    }
    const fq = lazy
      ? new FlushQueue(
          this.kernel.clock,
          { size: this.fqSize, timeoutCycles: this.fqTimeoutCycles },
          {
            invalidate: () => {
              this.kernel.iommu.flushIotlbAll(domain);
              this.stats.flushes++;
            },
            release: (pfn, pages, freelist) => {
              this.freePageTables(freelist);
              iovad.free(pfn, pages);
            },
          },
        )
      : null;
    const cookie: DmaCookie = {
      domain,
      iovad,
      granule,
      shift,
      fq,
      gather: new IotlbGather(),
      counters: { mapped: 0, unmapped: 0, mapFailures: 0, syncs: 0 },
    };
    this.cookies.set(domain, cookie);
    log.info(
      'dma',
      `${domain.name}: IOVA space ${hex(BigInt(startPfn) << shift)}..${hex(end)}, ${granule / 1024} KiB granule, ` +
        (fq === null ? 'strict invalidation' : `flush queue of ${this.fqSize} entries, timeout ${this.fqTimeoutCycles} cycles`),
    );
    return cookie;
  }

  /** Allocates an IOVA range below the device's mask (Linux iommu_dma_alloc_iova). */
  private allocIova(dev: Device, cookie: DmaCookie, pages: number): number {
    const mask = this.getMask(dev);
    const iovad = cookie.iovad;
    let pfn: number | null = null;
    // Try to give PCI devices a single-address-cycle (32-bit) address first.
    if (dev.pci !== null && mask > MASK_32 && !this.forceDac) pfn = iovad.alloc(pages, Number(MASK_32 >> cookie.shift), false);
    pfn ??= iovad.alloc(pages, Number(mask >> cookie.shift));
    if (pfn === null) {
      cookie.counters.mapFailures++;
      const end = cookie.domain.geometry.end < mask ? cookie.domain.geometry.end : mask;
      throw new DmaMappingError(`${dev.name}: IOVA space of ${cookie.domain.name} exhausted: no free ${pages * cookie.granule}-byte range below ${hex(end)}`);
    }
    return pfn;
  }

  /** Maps [paddr, paddr + size) through the domain; returns the DMA address. */
  private mapRange(dev: Device, cookie: DmaCookie, paddr: bigint, size: number, prot: number): bigint {
    const g = cookie.granule;
    const off = Number(paddr & BigInt(g - 1));
    const len = alignUp(off + size, g);
    const pages = len / g;
    const pfn = this.allocIova(dev, cookie, pages);
    const iova = BigInt(pfn) << cookie.shift;
    try {
      this.kernel.iommu.map(cookie.domain, iova, paddr - BigInt(off), BigInt(len), prot);
    } catch (e) {
      cookie.iovad.free(pfn, pages);
      cookie.counters.mapFailures++;
      throw new DmaMappingError(`${dev.name}: mapping ${hex(paddr)} (+${size}) at IOVA ${hex(iova)} failed: ${(e as Error).message}`);
    }
    return iova + BigInt(off);
  }

  /** Unmaps what mapRange returned: checks the range first, then strict or lazy teardown. */
  private unmapRange(dev: Device, cookie: DmaCookie, dma: bigint, size: number, what: string): void {
    const g = cookie.granule;
    const off = Number(dma & BigInt(g - 1));
    const len = alignUp(off + size, g);
    const pages = len / g;
    const base = dma - BigInt(off);
    const pfn = Number(base >> cookie.shift);
    try {
      cookie.iovad.retire(pfn, pages);
    } catch (e) {
      if (e instanceof IovaError) throw new DmaMappingError(`${dev.name}: ${what} of ${hex(dma)} (+${size}): ${e.message}`);
      throw e;
    }
    if (cookie.fq === null) {
      this.unmapNow(cookie, base, len);
      cookie.iovad.free(pfn, pages);
      return;
    }
    const gather = cookie.gather;
    this.unmapFast(cookie, base, len);
    cookie.fq.push(pfn, pages, gather.freelist);
    gather.reset();
  }

  /** Unmaps and invalidates at once: one iotlbSync, which also frees the emptied page tables. */
  private unmapNow(cookie: DmaCookie, base: bigint, len: number): void {
    const domain = cookie.domain;
    this.unmapFast(cookie, base, len);
    const before = domain.stats.syncs;
    this.kernel.iommu.iotlbSync(domain, cookie.gather);
    const syncs = domain.stats.syncs - before;
    this.stats.syncs += syncs;
    cookie.counters.syncs += syncs;
  }

  private unmapFast(cookie: DmaCookie, base: bigint, len: number): void {
    const unmapped = this.kernel.iommu.unmapFast(cookie.domain, base, BigInt(len), cookie.gather);
    if (unmapped !== BigInt(len)) this.kernel.log.warn('dma', `${cookie.domain.name}: unmapped ${unmapped} of ${len} bytes at ${hex(base)}`);
  }

  private freePageTables(freelist: readonly number[]): void {
    for (const page of freelist) this.kernel.pages.freePages(page, 1);
  }

  private prot(dev: Device, dir: DmaDirectionValue, what: string): number {
    switch (dir) {
      case DmaDirection.ToDevice:
        return Prot.READ | this.cacheProt(dev);
      case DmaDirection.FromDevice:
        return Prot.WRITE | this.cacheProt(dev);
      case DmaDirection.Bidirectional:
        return Prot.READ | Prot.WRITE | this.cacheProt(dev);
      default:
        throw new DmaMappingError(`${dev.name}: ${what}: unknown DMA direction ${String(dir)}`);
    }
  }

  /** Coherent masters get cacheable mappings (Linux dma_info_to_prot); `dma-noncoherent` opts out. */
  private cacheProt(dev: Device): number {
    return dev.node?.has('dma-noncoherent') === true ? 0 : Prot.CACHE;
  }

  private checkDirect(dev: Device, what: string, paddr: bigint, size: number): void {
    const mask = this.getMask(dev);
    if (paddr + BigInt(size) - 1n > mask) {
      throw new DmaMappingError(`${dev.name}: ${what}: ${hex(paddr)} (+${size}) is beyond the DMA mask ${hex(mask)} and there is no bounce buffering`);
    }
  }

  private recordDirect(dev: Device, paddr: bigint, size: number): void {
    let live = this.direct.get(dev);
    if (live === undefined) this.direct.set(dev, (live = new Map()));
    const sizes = live.get(paddr);
    if (sizes === undefined) live.set(paddr, [size]);
    else sizes.push(size);
  }

  private forgetDirect(dev: Device, what: string, dma: bigint, size: number): void {
    const live = this.direct.get(dev);
    const sizes = live?.get(dma);
    const i = sizes?.indexOf(size) ?? -1;
    if (live === undefined || sizes === undefined || i < 0) throw new DmaMappingError(`${dev.name}: ${what}: ${hex(dma)} (+${size}) is not mapped`);
    sizes.splice(i, 1);
    if (sizes.length === 0) live.delete(dma);
  }
}

function checkBuffer(dev: Device, what: string, addr: bigint, size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0) throw new DmaMappingError(`${dev.name}: ${what}: size must be a positive whole number of bytes, not ${size}`);
  if (addr < 0n || addr + BigInt(size) - 1n > MASK_64) throw new DmaMappingError(`${dev.name}: ${what}: ${hex(addr)} (+${size}) is not a 64-bit address range`);
}

function alignUp(n: number, granule: number): number {
  return Math.ceil(n / granule) * granule;
}

function cookieStats(c: DmaCookie): DmaDomainStats {
  const iova = c.iovad.stats;
  const fq = c.fq?.stats;
  const flushes = fq === undefined ? 0 : fq.flushes.full + fq.flushes.timeout + fq.flushes.explicit;
  const lookups = iova.cacheHits + iova.cacheMisses;
  return {
    domain: c.domain.name,
    type: c.domain.type,
    lazy: c.fq !== null,
    mapped: c.counters.mapped,
    unmapped: c.counters.unmapped,
    mapFailures: c.counters.mapFailures,
    syncs: c.counters.syncs,
    fqFlushes: fq === undefined ? { full: 0, timeout: 0, explicit: 0 } : { ...fq.flushes },
    fqEntriesFlushed: fq?.entriesFlushed ?? 0,
    entriesPerFlush: flushes === 0 ? 0 : (fq?.entriesFlushed ?? 0) / flushes,
    fqPending: c.fq?.length ?? 0,
    iovaCacheHitRate: lookups === 0 ? 0 : iova.cacheHits / lookups,
    iova,
  };
}
