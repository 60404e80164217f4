// Locating the configuration of a transaction (IHI 0070 3.3.2, 5.1 - 5.4): the STE of a
// StreamID through a linear or 2-level Stream table, and the CD of a SubstreamID through a
// linear or 2-level CD table, with the configuration caches in front of them. Every cache is
// set-associative and counted; an STE or CD is cached in whatever state it was fetched (ILLEGAL
// ones too, 5.2.1), a failed fetch caches nothing. Invalidation follows the CMD_CFGI_* scopes
// (4.3): the STE and the CDs fetched through it are indexed by StreamID; CDs by StreamID and
// CD table index; level-1 descriptors by their table index.

import { EventType } from '../../formats/smmuv3/records.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import { TagCache } from '../caches/tag-cache.js';
import { pageAddress, type BusPort, type PageAddress } from './bus-port.js';
import { ConfigDecoder, ContextConfig, StreamConfig, type SteContext } from './config.js';
import type { SmmuV3Parameters } from './parameters.js';
import type { SmmuV3Tracer } from './trace.js';

/** A level-1 descriptor as cached: the level-2 table it points at, or invalid. */
class L1Descriptor {
  valid = false;
  /** L1STD.Span (STEs in the level-2 array: 2^(span-1)); 0 for an L1CD. */
  span = 0;
  /** Level-2 table address as halves (bits above the descriptor's field cleared). */
  hi = 0;
  lo = 0;
}

const TWO_20 = 0x10_0000;
const TWO_32 = 4294967296;

/** Tag of a CD (or L1CD) cached for StreamID `sid` at table index `index` (20 bits). */
function cdTag(sid: number, index: number): number {
  return (sid >>> 0) * TWO_20 + index;
}

/** STRTAB_BASE and STRTAB_BASE_CFG as the register file holds them. */
export interface StreamTableRegisters {
  baseLo: number;
  baseHi: number;
  cfg: number;
}

/**
 * Translates the IPA of a CD or L1CD fetch through stage 2 (CLASS == CD). Returns true with the
 * PA in `out`, or false after recording the stage-2 fault.
 */
export type CdAddressTranslator = (ste: StreamConfig, ipaHi: number, ipaLo: number, out: PageAddress) => boolean;

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

  private readonly stePool: StreamConfig[] = [];
  private readonly cdPool: ContextConfig[] = [];
  private readonly l1Pool: L1Descriptor[] = [];
  private readonly addr: PageAddress = { page: 0, offset: 0 };
  private readonly cdAddr: PageAddress = { page: 0, offset: 0 };

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
    const log2 = this.log2size;
    if (sid >= 2 ** log2) return this.streamIdFault(`StreamID ${sid} >= 2^${log2}`);
    const cached = this.steCache.lookup(sid);
    if (cached !== undefined) {
      if (this.tracer !== null) this.tracer.step(`STE of StreamID ${sid}: configuration cache hit`);
      return cached;
    }
    const oas = this.params.capabilities.oasBits;
    let page: number;
    let offset: number;
    if (this.twoLevel) {
      const split = this.split;
      const l1Index = Math.floor(sid / 2 ** split);
      const l1 = this.l1std(l1Index, Math.max(0, log2 - split));
      if (l1 === null) return null;
      if (!l1.valid) return this.streamIdFault(`L1STD ${l1Index} has Span ${l1.span}`);
      if (l1.span > split + 1) return this.streamIdFault(`L1STD ${l1Index} Span ${l1.span} exceeds SPLIT + 1`);
      const l2Index = sid % 2 ** split;
      if (l2Index >= 2 ** (l1.span - 1)) return this.streamIdFault(`StreamID ${sid} is beyond the ${2 ** (l1.span - 1)} STEs of L1STD ${l1Index}`);
      const byte = l1.lo + l2Index * 64;
      const a = this.fetchAddress(l1.hi + Math.floor(byte / TWO_32), byte % TWO_32, 0);
      if (a === null) return null;
      page = a.page;
      offset = a.offset;
    } else {
      const bytes = 64 * 2 ** log2;
      const base = pageAddress(this.strtab.baseHi, this.strtab.baseLo, 56, Math.max(6, Math.log2(bytes)), this.addr);
      const byte = base.offset + sid * 64;
      page = base.page + Math.floor(byte / 4096);
      offset = byte % 4096;
      if (page >= 2 ** (oas - 12)) return this.fetchFault(page, offset);
    }
    this.stats.steFetches++;
    const status = this.port.read(page, offset, 8);
    if (this.tracer !== null) this.tracer.fetch('ste', 0, page, offset, this.port.words, 8, status, false);
    if (status !== AccessStatus.Ok) return this.fetchFault(page, offset);
    const ste = this.stePool.pop() ?? new StreamConfig();
    this.decoder.decodeSte(this.port.words, 0, this.steContext, ste);
    const displaced = this.steCache.insert(sid, ste);
    if (displaced !== undefined) this.stePool.push(displaced);
    return ste;
  }

  private l1std(index: number, l1Log2: number): L1Descriptor | null {
    const cached = this.l1stdCache.lookup(index);
    if (cached !== undefined) return cached;
    // The L1 table holds MAX(1, 2^(LOG2SIZE - SPLIT)) descriptors and is aligned to its size (6.3.25).
    const base = pageAddress(this.strtab.baseHi, this.strtab.baseLo, 56, Math.max(6, 3 + l1Log2), this.addr);
    const byte = base.offset + index * 8;
    const page = base.page + Math.floor(byte / 4096);
    const offset = byte % 4096;
    if (page >= 2 ** (this.params.capabilities.oasBits - 12)) return this.fetchFault(page, offset);
    this.stats.l1stdFetches++;
    const status = this.port.read(page, offset, 1);
    if (this.tracer !== null) this.tracer.fetch('l1std', 0, page, offset, this.port.words, 1, status, false);
    if (status !== AccessStatus.Ok) return this.fetchFault(page, offset);
    const w = this.port.words;
    const d = this.l1Pool.pop() ?? new L1Descriptor();
    d.span = w[0] & 0x1f;
    d.valid = d.span !== 0 && d.span <= 11;
    // L2Ptr[N:0] are treated as zero, N = 5 + (Span - 1): the array is aligned to its size (5.1).
    const alignLog2 = d.valid ? 6 + d.span - 1 : 6;
    const a = pageAddress(w[1] & 0x00ff_ffff, w[0] & 0xffff_ffc0, 56, alignLog2, this.cdAddr);
    d.hi = Math.floor(a.page / TWO_20);
    d.lo = (a.page % TWO_20) * 4096 + a.offset;
    const displaced = this.l1stdCache.insert(index, d);
    if (displaced !== undefined) this.l1Pool.push(displaced);
    return d;
  }

  /** The page address of hi:lo, or null with F_STE_FETCH when it is beyond the OAS. */
  private fetchAddress(hi: number, lo: number, alignLog2: number): PageAddress | null {
    const a = pageAddress(hi, lo, 56, alignLog2, this.addr);
    if (a.page >= 2 ** (this.params.capabilities.oasBits - 12)) return this.fetchFault(a.page, a.offset);
    return a;
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
    this.fetchHi = Math.floor(page / TWO_20);
    this.fetchLo = (page % TWO_20) * 4096 + offset;
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
    const tag = cdTag(sid, index);
    const cached = this.cdCache.lookup(tag);
    if (cached !== undefined) {
      if (this.tracer !== null) this.tracer.step(`CD ${index} of StreamID ${sid}: configuration cache hit`);
      return cached;
    }
    const c = this.params.capabilities;
    const multiple = c.ssidBits !== 0 && ste.s1CdMax !== 0;
    const twoLevel = multiple && (ste.s1Fmt === 1 || ste.s1Fmt === 2);
    let hi: number;
    let lo: number;
    if (twoLevel) {
      const l2Bits = ste.s1Fmt === 1 ? 6 : 10;
      const l1Index = Math.floor(index / 2 ** l2Bits);
      const l1 = this.l1cd(ste, sid, l1Index);
      if (l1 === null) return null;
      if (!l1.valid) {
        this.fault = EventType.C_BAD_SUBSTREAMID;
        this.reason = `L1CD ${l1Index} has V == 0`;
        return null;
      }
      const byte = l1.lo + (index % 2 ** l2Bits) * 64;
      hi = l1.hi + Math.floor(byte / TWO_32);
      lo = byte % TWO_32;
    } else {
      // A linear table of 2^S1CDMax CDs, aligned to its size (5.2 S1Fmt).
      const align = multiple ? 6 + ste.s1CdMax : 6;
      const a = pageAddress(ste.ctxHi, ste.ctxLo, 56, align, this.addr);
      const byte = a.offset + index * 64;
      const page = a.page + Math.floor(byte / 4096);
      hi = Math.floor(page / TWO_20);
      lo = (page % TWO_20) * 4096 + (byte % 4096);
    }
    const pa = this.cdFetchAddress(ste, hi, lo);
    if (pa === null) return null;
    this.stats.cdFetches++;
    const status = this.port.read(pa.page, pa.offset, 8);
    if (this.tracer !== null) this.tracer.fetch('cd', 0, pa.page, pa.offset, this.port.words, 8, status, false);
    if (status !== AccessStatus.Ok) {
      this.fault = EventType.F_CD_FETCH;
      this.setFetch(pa.page, pa.offset);
      return null;
    }
    const cd = this.cdPool.pop() ?? new ContextConfig();
    this.decoder.decodeCd(this.port.words, 0, ste, cd);
    const displaced = this.cdCache.insert(tag, cd);
    if (displaced !== undefined) this.cdPool.push(displaced);
    return cd;
  }

  private l1cd(ste: StreamConfig, sid: number, index: number): L1Descriptor | null {
    const tag = cdTag(sid, index);
    const cached = this.l1cdCache.lookup(tag);
    if (cached !== undefined) return cached;
    const l2Bits = ste.s1Fmt === 1 ? 6 : 10;
    // The L1 table of MAX(1, 2^(S1CDMax - l2Bits)) descriptors is aligned to its size.
    const align = Math.max(3, 3 + ste.s1CdMax - l2Bits);
    const a = pageAddress(ste.ctxHi, ste.ctxLo, 56, align, this.addr);
    const byte = a.offset + index * 8;
    const page = a.page + Math.floor(byte / 4096);
    const pa = this.cdFetchAddress(ste, Math.floor(page / TWO_20), (page % TWO_20) * 4096 + (byte % 4096));
    if (pa === null) return null;
    this.stats.l1cdFetches++;
    const status = this.port.read(pa.page, pa.offset, 1);
    if (this.tracer !== null) this.tracer.fetch('l1cd', 0, pa.page, pa.offset, this.port.words, 1, status, false);
    if (status !== AccessStatus.Ok) {
      this.fault = EventType.F_CD_FETCH;
      this.setFetch(pa.page, pa.offset);
      return null;
    }
    const w = this.port.words;
    const d = this.l1Pool.pop() ?? new L1Descriptor();
    d.valid = (w[0] & 1) !== 0;
    d.span = 0;
    // L2Ptr holds bits [55:12]; a 64 KiB level-2 table is 64 KiB aligned (5.2 S1Fmt).
    const l2 = pageAddress(w[1] & 0x00ff_ffff, w[0] & 0xffff_f000, 56, l2Bits + 6, this.cdAddr);
    d.hi = Math.floor(l2.page / TWO_20);
    d.lo = (l2.page % TWO_20) * 4096 + l2.offset;
    // An L2Ptr out of range of the OAS (stage 1 only) or IAS (nested) is C_BAD_SUBSTREAMID (3.4.3).
    if (d.valid && l2.page >= 2 ** (this.decoder.iasBits - 12)) d.valid = false;
    const displaced = this.l1cdCache.insert(tag, d);
    if (displaced !== undefined) this.l1Pool.push(displaced);
    return d;
  }

  /** The PA of a CD-table address: itself (stage 1 only) or translated through stage 2. */
  private cdFetchAddress(ste: StreamConfig, hi: number, lo: number): PageAddress | null {
    if (ste.s2) {
      if (!this.translateCdAddress(ste, hi, lo, this.cdAddr)) {
        this.fault = -1;
        return null;
      }
      return this.cdAddr;
    }
    const a = pageAddress(hi, lo, 56, 0, this.cdAddr);
    if (a.page >= 2 ** (this.params.capabilities.oasBits - 12)) {
      this.fault = EventType.F_CD_FETCH;
      this.setFetch(a.page, a.offset);
      return null;
    }
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
