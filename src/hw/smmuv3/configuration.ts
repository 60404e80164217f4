// Locating the configuration of a transaction (IHI 0070 3.3.2, 5.1 - 5.4): the STE of a
// StreamID through a linear or 2-level Stream table, and the CD of a SubstreamID through a
// linear or 2-level CD table, with the configuration caches in front of them. Every cache is
// set-associative and counted; an STE or CD is cached in whatever state it was fetched (ILLEGAL
// ones too, 5.2.1), a failed fetch caches nothing. Invalidation follows the CMD_CFGI_* scopes
// (4.3): the STE and the CDs fetched through it are indexed by StreamID; CDs by StreamID and
// CD table index; level-1 descriptors by their table index.

import { EventType as EventTypeImport } from '../../formats/smmuv3/records.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import { TagCache } from '../caches/tag-cache.js';
import { pageAddress, type BusPort, type PageAddress } from './bus-port.js';
import { ConfigDecoder, ContextConfig, StreamConfig, type SteContext } from './config.js';
import type { SmmuV3Parameters } from './parameters.js';
import { Pool } from './pool.js';
import type { SmmuV3Tracer } from './trace.js';

// Local copies of imported constants, read on every lookup: V8 folds a module constant's
// properties into optimized code, not an import's.
const EventType = EventTypeImport;
const ACCESS_OK = AccessStatus.Ok;

/** A level-1 descriptor as cached: the level-2 table it points at, or invalid. */
class L1Descriptor {
  valid = false;
  /** L1STD.Span (STEs in the level-2 array: 2^(span-1)); 0 for an L1CD. */
  span = 0;
  /** Level-2 table address as a page number and offset (bits above the descriptor's field cleared). */
  page = 0;
  offset = 0;
}

const TWO_20 = 0x10_0000;
const TWO_32 = 4294967296;
/** 2^n, n = 0..64, as exact doubles. */
const POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** n);
/** 2^n - 1 for n = 0..31, as 32-bit integers. */
const LOW_MASK = Int32Array.from({ length: 32 }, (_, n) => 2 ** n - 1);

/** Tag of a CD (or L1CD) cached for StreamID `sid` at table index `index` (20 bits). */
function cdTag(sid: number, index: number): number {
  return (sid >>> 0) * TWO_20 + index;
}

/** The halves of cdTag(sid, index), which the caches also take: a tag above 2^31 passed whole would be boxed. */
function cdTagHi(sid: number): number {
  return sid >>> 12;
}

function cdTagLo(sid: number, index: number): number {
  return (sid << 20) | index;
}

/** STRTAB_BASE and STRTAB_BASE_CFG as the register file holds them. */
export interface StreamTableRegisters {
  baseLo: number;
  baseHi: number;
  cfg: number;
}

/**
 * Translates the IPA of a CD or L1CD fetch (page number and offset) through stage 2 (CLASS ==
 * CD). Returns true with the PA in `out`, or false after recording the stage-2 fault.
 */
export type CdAddressTranslator = (ste: StreamConfig, ipaPage: number, offset: number, out: PageAddress) => boolean;

export interface ConfigurationStats {
  steFetches: number;
  cdFetches: number;
  l1stdFetches: number;
  l1cdFetches: number;
}

export class Configuration {
  readonly steCache: TagCache<StreamConfig>;
  readonly cdCache: TagCache<ContextConfig>;
  readonly l1stdCache: TagCache<L1Descriptor>;
  readonly l1cdCache: TagCache<L1Descriptor>;
  readonly decoder: ConfigDecoder;
  readonly stats: ConfigurationStats = { steFetches: 0, cdFetches: 0, l1stdFetches: 0, l1cdFetches: 0 };
  tracer: SmmuV3Tracer | null = null;

  /** The failure of the last lookup: an event type (0 when it succeeded). */
  fault = 0;
  /** Fetch address of an F_STE_FETCH / F_CD_FETCH, as halves. */
  fetchHi = 0;
  fetchLo = 0;
  /** Why the STE or CD is ILLEGAL, or why the StreamID is out of range (for traces). */
  reason = '';

  private readonly stePool = new Pool(() => new StreamConfig());
  private readonly cdPool = new Pool(() => new ContextConfig());
  private readonly l1Pool = new Pool(() => new L1Descriptor());
  private readonly addr: PageAddress = { page: 0, offset: 0 };
  private readonly cdAddr: PageAddress = { page: 0, offset: 0 };
  // The STE and the CD found last, valid while their cache is unchanged (its `version`): the
  // entry is then still the most recently used one, so finding it again is exactly a cache hit.
  private lastSid = -1;
  private lastSte: StreamConfig | null = null;
  /** lastSid when the STE found last is a valid bypass STE, else NaN (equal to no StreamID). */
  private lastBypassSid = NaN;
  private lastSteVersion = -1;
  private lastSteCfg = -1;
  private lastCdTagHi = -1;
  private lastCdTagLo = -1;
  private lastCd: ContextConfig | null = null;
  private lastCdVersion = -1;

  constructor(
    private readonly params: SmmuV3Parameters,
    private readonly port: BusPort,
    private readonly strtab: StreamTableRegisters,
    private readonly steContext: SteContext,
    private readonly translateCdAddress: CdAddressTranslator,
  ) {
    const g = params.caches;
    this.steCache = new TagCache(g.ste.sets, g.ste.ways);
    this.cdCache = new TagCache(g.cd.sets, g.cd.ways);
    this.l1stdCache = new TagCache(g.l1std.sets, g.l1std.ways);
    this.l1cdCache = new TagCache(g.l1cd.sets, g.l1cd.ways);
    this.decoder = new ConfigDecoder(params.capabilities);
  }

  // ---- Stream table ---------------------------------------------------------------------

  /** The effective STRTAB_BASE_CFG.LOG2SIZE: capped at IDR1.SIDSIZE (6.3.25). */
  get log2size(): number {
    return Math.min(this.strtab.cfg & 0x3f, this.params.capabilities.sidBits);
  }

  /** Whether the Stream table is 2-level: FMT == 0b01 with ST_LEVEL support; other values behave as linear. */
  get twoLevel(): boolean {
    return this.params.capabilities.twoLevelStreamTable && ((this.strtab.cfg >>> 16) & 3) === 1;
  }

  /** The effective SPLIT: 6, 8 or 10; other values behave as 6 (6.3.25). */
  get split(): number {
    const s = (this.strtab.cfg >>> 6) & 0x1f;
    return s === 8 || s === 10 ? s : 6;
  }

  /**
   * The STE of `sid`: from the STE cache, or fetched and decoded (and cached). On failure
   * returns null with `fault` set: C_BAD_STREAMID (out of range or an invalid level-1
   * descriptor, 5.1.1) or F_STE_FETCH (an external abort or an address beyond the OAS, 3.4.3
   * choice 5). An ILLEGAL STE is returned (check `illegal`).
   */
  stream(sid: number): StreamConfig | null {
    this.fault = 0;
    const cache = this.steCache;
    let cached: StreamConfig;
    // With STRTAB_BASE_CFG unchanged too, the StreamID is still in range.
    if (sid === this.lastSid && cache.version === this.lastSteVersion && this.strtab.cfg === this.lastSteCfg) {
      cache.counters.hits++;
      cached = this.lastSte as StreamConfig;
    } else {
      const log2 = this.log2size;
      if (sid >= POW2[log2]) return this.streamIdFault(`StreamID ${sid} >= 2^${log2}`);
      const found = cache.lookup(sid);
      if (found === undefined) return this.fetchStream(sid, log2);
      cached = found;
      this.lastSid = sid;
      this.lastBypassSid = cached.bypass && cached.illegal === '' ? sid : NaN;
      this.lastSte = cached;
      this.lastSteVersion = cache.version;
      this.lastSteCfg = this.strtab.cfg;
    }
    if (this.tracer !== null) this.tracer.step(`STE of StreamID ${sid}: configuration cache hit`);
    return cached;
  }

  /**
   * stream(sid) in the case the translator handles in short: a hit on the STE found last (the
   * memo of stream()), a valid STE with Config bypass. Then counts the hit as stream() does
   * (without a tracer) and returns true; otherwise does nothing and returns false.
   */
  hitLastBypass(sid: number): boolean {
    const cache = this.steCache;
    if (sid !== this.lastBypassSid || cache.version !== this.lastSteVersion || this.strtab.cfg !== this.lastSteCfg) return false;
    this.fault = 0;
    cache.counters.hits++;
    return true;
  }

  /** A miss in the STE cache: the STE fetched (through an L1STD) and decoded into the cache. */
  private fetchStream(sid: number, log2: number): StreamConfig | null {
    const oas = this.params.capabilities.oasBits;
    let page: number;
    let offset: number;
    // StreamIDs are unsigned and below 2^32 (checked against 2^LOG2SIZE above).
    if (this.twoLevel) {
      const split = this.split;
      const l1Index = sid >>> split;
      const l1 = this.l1std(l1Index, Math.max(0, log2 - split));
      if (l1 === null) return null;
      if (!l1.valid) return this.streamIdFault(`L1STD ${l1Index} has Span ${l1.span}`);
      if (l1.span > split + 1) return this.streamIdFault(`L1STD ${l1Index} Span ${l1.span} exceeds SPLIT + 1`);
      const l2Index = sid & LOW_MASK[split];
      if (l2Index >= POW2[l1.span - 1]) return this.streamIdFault(`StreamID ${sid} is beyond the ${2 ** (l1.span - 1)} STEs of L1STD ${l1Index}`);
      // Inside the level-2 array, which is aligned to its size: no carry beyond bit 55.
      const byte = l1.offset + l2Index * 64;
      page = l1.page + (byte >>> 12);
      offset = byte & 4095;
    } else {
      const base = pageAddress(this.strtab.baseHi, this.strtab.baseLo, 56, Math.max(6, 6 + log2), this.addr);
      const byte = base.offset + sid * 64;
      page = base.page + (byte < TWO_32 ? byte >>> 12 : Math.floor(byte / 4096));
      offset = byte & 4095;
    }
    if (page >= POW2[oas - 12]) return this.fetchFault(page, offset);
    this.stats.steFetches++;
    const status = this.port.read(page, offset, 8);
    if (this.tracer !== null) this.tracer.fetch('ste', 0, page, offset, this.port.readWords(8), 8, status, false);
    if (status !== ACCESS_OK) return this.fetchFault(page, offset);
    const ste = this.stePool.take();
    this.decoder.decodeSte(this.port.block, this.port.blockAt, this.steContext, ste);
    const displaced = this.steCache.insert(sid, ste);
    if (displaced !== undefined) this.stePool.give(displaced);
    return ste;
  }

  private l1std(index: number, l1Log2: number): L1Descriptor | null {
    const cached = this.l1stdCache.lookup(index);
    if (cached !== undefined) return cached;
    // The L1 table holds MAX(1, 2^(LOG2SIZE - SPLIT)) descriptors and is aligned to its size (6.3.25).
    const base = pageAddress(this.strtab.baseHi, this.strtab.baseLo, 56, Math.max(6, 3 + l1Log2), this.addr);
    const byte = base.offset + index * 8;
    const page = base.page + (byte >>> 12);
    const offset = byte & 4095;
    if (page >= POW2[this.params.capabilities.oasBits - 12]) return this.fetchFault(page, offset);
    this.stats.l1stdFetches++;
    const status = this.port.readDword(page, offset);
    if (this.tracer !== null) this.tracer.fetch('l1std', 0, page, offset, this.port.words, 1, status, false);
    if (status !== ACCESS_OK) return this.fetchFault(page, offset);
    const w = this.port.words;
    const d = this.l1Pool.take();
    d.span = w[0] & 0x1f;
    d.valid = d.span !== 0 && d.span <= 11;
    // L2Ptr[N:0] are treated as zero, N = 5 + (Span - 1): the array is aligned to its size (5.1).
    const alignLog2 = d.valid ? 6 + d.span - 1 : 6;
    const a = pageAddress(w[1] & 0x00ff_ffff, w[0] & 0xffff_ffc0, 56, alignLog2, this.cdAddr);
    d.page = a.page;
    d.offset = a.offset;
    const displaced = this.l1stdCache.insert(index, d);
    if (displaced !== undefined) this.l1Pool.give(displaced);
    return d;
  }

  private streamIdFault(reason: string): null {
    this.fault = EventType.C_BAD_STREAMID;
    this.reason = reason;
    return null;
  }

  private fetchFault(page: number, offset: number): null {
    this.fault = EventType.F_STE_FETCH;
    this.setFetch(page, offset);
    return null;
  }

  private setFetch(page: number, offset: number): void {
    const hi = Math.floor(page / TWO_20);
    this.fetchHi = hi;
    this.fetchLo = (page - hi * TWO_20) * 4096 + offset;
  }

  // ---- CD tables --------------------------------------------------------------------------

  /**
   * The CD at index `index` of the CD table of `ste` (reached through StreamID `sid`). On
   * failure returns null with `fault` set: C_BAD_SUBSTREAMID (an L1CD with V == 0 or an L2Ptr
   * out of range, 3.4.3 choices 3 and 4a), F_CD_FETCH, or the stage-2 fault of a CD fetch
   * through stage 2 (already recorded by the translator; `fault` is its event type). An
   * ILLEGAL CD is returned (check `illegal`).
   */
  context(ste: StreamConfig, sid: number, index: number): ContextConfig | null {
    this.fault = 0;
    const tagHi = cdTagHi(sid);
    const tagLo = cdTagLo(sid, index);
    const cache = this.cdCache;
    let cached: ContextConfig;
    if (tagLo === this.lastCdTagLo && tagHi === this.lastCdTagHi && cache.version === this.lastCdVersion) {
      cache.counters.hits++;
      cached = this.lastCd as ContextConfig;
    } else {
      const found = cache.lookupHalves(tagHi, tagLo);
      if (found === undefined) return this.fetchContext(ste, sid, index, tagHi, tagLo);
      cached = found;
      this.lastCdTagHi = tagHi;
      this.lastCdTagLo = tagLo;
      this.lastCd = cached;
      this.lastCdVersion = cache.version;
    }
    if (this.tracer !== null) this.tracer.step(`CD ${index} of StreamID ${sid}: configuration cache hit`);
    return cached;
  }

  /** A miss in the CD cache: the CD fetched (through an L1CD) and decoded into the cache. */
  private fetchContext(ste: StreamConfig, sid: number, index: number, tagHi: number, tagLo: number): ContextConfig | null {
    const c = this.params.capabilities;
    const multiple = c.ssidBits !== 0 && ste.s1CdMax !== 0;
    const twoLevel = multiple && (ste.s1Fmt === 1 || ste.s1Fmt === 2);
    // `index` is a SubstreamID (below 2^20) inside the table, which is aligned to its size:
    // 32-bit arithmetic, and no carry beyond bit 55.
    let page: number;
    let byte: number;
    if (twoLevel) {
      const l2Bits = ste.s1Fmt === 1 ? 6 : 10;
      const l1Index = index >>> l2Bits;
      const l1 = this.l1cd(ste, sid, l1Index);
      if (l1 === null) return null;
      if (!l1.valid) {
        this.fault = EventType.C_BAD_SUBSTREAMID;
        this.reason = `L1CD ${l1Index} has V == 0`;
        return null;
      }
      page = l1.page;
      byte = l1.offset + (index & LOW_MASK[l2Bits]) * 64;
    } else {
      // A linear table of 2^S1CDMax CDs, aligned to its size (5.2 S1Fmt).
      const align = multiple ? 6 + ste.s1CdMax : 6;
      const a = pageAddress(ste.ctxHi, ste.ctxLo, 56, align, this.addr);
      page = a.page;
      byte = a.offset + index * 64;
    }
    const pa = this.cdFetchAddress(ste, page + (byte >>> 12), byte & 4095);
    if (pa === null) return null;
    this.stats.cdFetches++;
    const status = this.port.read(pa.page, pa.offset, 8);
    if (this.tracer !== null) this.tracer.fetch('cd', 0, pa.page, pa.offset, this.port.readWords(8), 8, status, false);
    if (status !== ACCESS_OK) {
      this.fault = EventType.F_CD_FETCH;
      this.setFetch(pa.page, pa.offset);
      return null;
    }
    const cd = this.cdPool.take();
    this.decoder.decodeCd(this.port.block, this.port.blockAt, ste, cd);
    const displaced = this.cdCache.insertHalves(tagHi, tagLo, cd);
    if (displaced !== undefined) this.cdPool.give(displaced);
    return cd;
  }

  private l1cd(ste: StreamConfig, sid: number, index: number): L1Descriptor | null {
    const tagHi = cdTagHi(sid);
    const tagLo = cdTagLo(sid, index);
    const cached = this.l1cdCache.lookupHalves(tagHi, tagLo);
    if (cached !== undefined) return cached;
    const l2Bits = ste.s1Fmt === 1 ? 6 : 10;
    // The L1 table of MAX(1, 2^(S1CDMax - l2Bits)) descriptors is aligned to its size.
    const align = Math.max(3, 3 + ste.s1CdMax - l2Bits);
    const a = pageAddress(ste.ctxHi, ste.ctxLo, 56, align, this.addr);
    const byte = a.offset + index * 8;
    const pa = this.cdFetchAddress(ste, a.page + (byte >>> 12), byte & 4095);
    if (pa === null) return null;
    this.stats.l1cdFetches++;
    const status = this.port.readDword(pa.page, pa.offset);
    if (this.tracer !== null) this.tracer.fetch('l1cd', 0, pa.page, pa.offset, this.port.words, 1, status, false);
    if (status !== ACCESS_OK) {
      this.fault = EventType.F_CD_FETCH;
      this.setFetch(pa.page, pa.offset);
      return null;
    }
    const w = this.port.words;
    const d = this.l1Pool.take();
    d.valid = (w[0] & 1) !== 0;
    d.span = 0;
    // L2Ptr holds bits [55:12]; a 64 KiB level-2 table is 64 KiB aligned (5.2 S1Fmt).
    const l2 = pageAddress(w[1] & 0x00ff_ffff, w[0] & 0xffff_f000, 56, l2Bits + 6, this.cdAddr);
    d.page = l2.page;
    d.offset = l2.offset;
    // An L2Ptr out of range of the OAS (stage 1 only) or IAS (nested) is C_BAD_SUBSTREAMID (3.4.3).
    if (d.valid && l2.page >= POW2[this.decoder.iasBits - 12]) d.valid = false;
    const displaced = this.l1cdCache.insertHalves(tagHi, tagLo, d);
    if (displaced !== undefined) this.l1Pool.give(displaced);
    return d;
  }

  /** The PA of a CD-table address (below 2^56): itself (stage 1 only) or translated through stage 2. */
  private cdFetchAddress(ste: StreamConfig, page: number, offset: number): PageAddress | null {
    const a = this.cdAddr;
    if (ste.s2) {
      if (!this.translateCdAddress(ste, page, offset, a)) {
        this.fault = -1;
        return null;
      }
      return a;
    }
    if (page >= POW2[this.params.capabilities.oasBits - 12]) {
      this.fault = EventType.F_CD_FETCH;
      this.setFetch(page, offset);
      return null;
    }
    a.page = page;
    a.offset = offset;
    return a;
  }

  // ---- invalidation (4.3) -------------------------------------------------------------------

  /** CMD_CFGI_STE: the STE of `sid` and every CD (and L1CD) fetched through it; with !leaf, its L1STD too. */
  invalidateSte(sid: number, leaf: boolean): void {
    this.steCache.invalidateTag(sid);
    this.invalidateCdsOf(sid, sid);
    if (!leaf && this.twoLevel) this.l1stdCache.invalidateTag(Math.floor(sid / 2 ** this.split));
  }

  /** CMD_CFGI_STE_RANGE: StreamIDs [first, last], their CDs and the L1STDs that locate them. */
  invalidateSteRange(first: number, last: number): void {
    this.steCache.invalidateWhere((t) => t >= first && t <= last);
    this.invalidateCdsOf(first, last);
    const split = this.split;
    const l1First = Math.floor(first / 2 ** split);
    const l1Last = Math.floor(last / 2 ** split);
    this.l1stdCache.invalidateWhere((t) => t >= l1First && t <= l1Last);
  }

  /**
   * CMD_CFGI_CD: the CD at `index` of `sid`'s table; with !leaf, the L1CD that locates it too.
   * The command does not say how the table is split, so both splits' L1CDs are dropped
   * (over-invalidation is permitted, 4.3).
   */
  invalidateCd(sid: number, index: number, leaf: boolean): void {
    this.cdCache.invalidateTag(cdTag(sid, index));
    if (!leaf) {
      this.l1cdCache.invalidateTag(cdTag(sid, Math.floor(index / 64)));
      this.l1cdCache.invalidateTag(cdTag(sid, Math.floor(index / 1024)));
    }
  }

  /** CMD_CFGI_CD_ALL: every CD and L1CD cached for `sid`. */
  invalidateCdAll(sid: number): void {
    this.invalidateCdsOf(sid, sid);
  }

  /** CMD_CFGI_ALL: everything. */
  invalidateAll(): void {
    this.steCache.clear();
    this.cdCache.clear();
    this.l1stdCache.clear();
    this.l1cdCache.clear();
  }

  private invalidateCdsOf(first: number, last: number): void {
    const lo = first * TWO_20;
    const hi = (last + 1) * TWO_20;
    this.cdCache.invalidateWhere((t) => t >= lo && t < hi);
    this.l1cdCache.invalidateWhere((t) => t >= lo && t < hi);
  }
}
