// Decoded configuration structures: the Stream Table Entry (IHI 0070 5.2) and the Context
// Descriptor (5.4), with the validity rules of 5.2.2 (SteIllegal) and 5.4.2 (CdIllegal) for the
// Non-secure programming interface of this implementation (VMSAv8-64 tables only, Terminate
// stall model). Decoding is a cold path (once per configuration-cache fill); translation reads
// the decoded fields.

import { stage1WalkConfig, stage2WalkConfig, type Stage1Fields, type Stage2Fields, type VmsaImplementation } from '../arm-lpae/walk-config.js';
import type { VmsaWalkConfig } from '../arm-lpae/walker.js';
import { OAS_BITS } from '../../formats/smmuv3/registers.js';
import type { SmmuV3Capabilities } from './parameters.js';

/** The StreamWorld (5.2 STRW, 3.17): the translation regime that tags TLB entries. */
export const StreamWorld = {
  /** NS-EL1: stage 1 tagged with ASID and VMID, stage 2 with VMID. */
  El1: 0,
  /** NS-EL2: one VA range (TTB0), no ASID, no VMID. */
  El2: 1,
  /** NS-EL2-E2H: two VA ranges, ASID, no VMID. */
  El2E2h: 2,
} as const;
export type StreamWorldValue = (typeof StreamWorld)[keyof typeof StreamWorld];
export const STREAM_WORLD_NAMES: readonly string[] = ['NS-EL1', 'NS-EL2', 'NS-EL2-E2H'];

/** Register state an STE's interpretation depends on (5.2 STRW, 6.3.12). */
export interface SteContext {
  e2h: boolean;
}

/** The words of an STE and of a CD that decoding reads (the rest is IGNORED or RES0 to this implementation). */
const STE_DECODED_WORDS = 8;
const CD_DECODED_WORDS = 6;

/** A decoded STE. Reused: `decode` overwrites every field. */
export class StreamConfig {
  /** Why the STE is ILLEGAL, in words (for traces), or '' (a valid STE). */
  illegal = '';
  /** STE.Config: 0b0xx abort, 0b100 bypass, 0b1x1 stage 1, 0b11x stage 2. */
  config = 0;
  s1 = false;
  s2 = false;
  bypass = false;
  abort = false;
  // stage 1
  s1Fmt = 0;
  /** S1ContextPtr as halves (address bits [55:6]). */
  ctxHi = 0;
  ctxLo = 0;
  s1CdMax = 0;
  s1Dss = 0;
  streamWorld: StreamWorldValue = StreamWorld.El1;
  // ATS and PRI
  /** Effective EATS: 0b00 when ATS is not implemented, the STE bypasses, or EATS is reserved. */
  eats = 0;
  ppar = false;
  // attribute overrides
  privCfg = 0;
  instCfg = 0;
  // stage 2
  vmid = 0;
  s2ttbHi = 0;
  s2ttbLo = 0;
  s2affd = false;
  s2r = false;
  /** The stage 2 walk configuration (`s2WalkStorage` once decoded), or null. */
  s2Walk: VmsaWalkConfig | null = null;
  /** Where decoding writes the stage 2 walk configuration: decoding allocates nothing. */
  readonly s2WalkStorage: VmsaWalkConfig = newWalkConfig();
  /** What the fields were last decoded from (see ConfigDecoder.decodeSte). */
  readonly source = new Uint32Array(STE_DECODED_WORDS);
  sourceE2h = false;
  sourceDecoder: ConfigDecoder | null = null;
}

/** A decoded CD. Reused: `decode` overwrites every field. */
export class ContextConfig {
  /** Why the CD is ILLEGAL, in words, or ''. */
  illegal = '';
  asid = 0;
  /** Walk configurations of TTB0 and TTB1; null when the range is disabled (EPDx, or TTB1 at EL2). */
  walk0: VmsaWalkConfig | null = null;
  walk1: VmsaWalkConfig | null = null;
  ttb0Hi = 0;
  ttb0Lo = 0;
  ttb1Hi = 0;
  ttb1Lo = 0;
  tbi0 = false;
  tbi1 = false;
  pan = false;
  /** Fault configuration (5.5): A abort (else RAZ/WI), R record. */
  a = true;
  r = true;
  affd = false;
  /** Non-global entries are tagged with the ASID; at EL2 (no ASIDs) everything is global. */
  asidTagged = true;
  /** Where decoding writes the walk configurations of TTB0 and TTB1. */
  readonly walk0Storage: VmsaWalkConfig = newWalkConfig();
  readonly walk1Storage: VmsaWalkConfig = newWalkConfig();
  /** What the fields were last decoded from (see ConfigDecoder.decodeCd). */
  readonly source = new Uint32Array(CD_DECODED_WORDS);
  sourceWorld = -1;
  sourceDecoder: ConfigDecoder | null = null;
}

/** Whether `source` holds w[at..at+source.length). */
function sameWords(source: Uint32Array, w: Uint32Array, at: number): boolean {
  for (let i = 0; i < source.length; i++) if (source[i] !== w[at + i]) return false;
  return true;
}

/** Copies w[at..at+source.length) into `source` (without a subarray view, which would allocate). */
function copyWords(source: Uint32Array, w: Uint32Array, at: number): void {
  for (let i = 0; i < source.length; i++) source[i] = w[at + i];
}

/** A walk configuration to be overwritten by a decode. */
function newWalkConfig(): VmsaWalkConfig {
  return {
    stage: 1,
    granuleLog2: 12,
    inputBits: 0,
    startLevel: 0,
    concatenated: 1,
    outputBits: 0,
    bigEndian: false,
    hardwareAccessFlag: false,
    hardwareDirty: false,
    hierarchicalPermissionsDisabled: false,
    largePhysicalAddresses: false,
    singlePrivilegeLevel: false,
    writeExecuteNever: false,
    xnx: false,
  };
}

/** Marks a decoded STE ILLEGAL, saying why. */
function illegalSte(out: StreamConfig, why: string): StreamConfig {
  out.illegal = why;
  return out;
}

/** Marks a decoded CD ILLEGAL, saying why. */
function illegalCd(out: ContextConfig, why: string): ContextConfig {
  out.illegal = why;
  return out;
}

/** The number of significant bits of an address held as halves (0 for address 0). */
function bitLength(hi: number, lo: number): number {
  if (hi !== 0) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(lo);
}

/** What the model implements, in the form the VMSAv8-64 walk configuration helpers take. */
function vmsaImplementation(c: SmmuV3Capabilities): VmsaImplementation {
  const granules: (12 | 14 | 16)[] = [];
  if (c.gran4K) granules.push(12);
  if (c.gran16K) granules.push(14);
  if (c.gran64K) granules.push(16);
  return { paBits: c.oasBits, granules, smallTables: c.stt, largeVa: c.vaBits === 52, maxIpaBits: c.oasBits, txszOutOfRange: 'invalid' };
}

export class ConfigDecoder {
  private readonly impl: VmsaImplementation;
  // The fields handed to the walk configuration helpers, reused: decoding allocates nothing.
  private readonly s1Fields: Stage1Fields = {
    txsz: 0,
    tg: 0,
    tgField: 0,
    ips: 0,
    bigEndian: false,
    hardwareAccessFlag: false,
    hardwareDirty: false,
    hierarchicalPermissionsDisabled: false,
    singlePrivilegeLevel: false,
    writeExecuteNever: false,
  };
  private readonly s2Fields: Stage2Fields = { t0sz: 0, sl0: 0, tg: 0, ps: 0, bigEndian: false, hardwareAccessFlag: false, hardwareDirty: false };

  constructor(private readonly caps: SmmuV3Capabilities) {
    this.impl = vmsaImplementation(caps);
  }

  /** IAS = OAS: this implementation has no VMSAv8-32 tables (3.4). */
  get iasBits(): number {
    return this.caps.oasBits;
  }

  /**
   * Decodes the STE whose 16 words are `w[at..at+15]` (little-endian doublewords as halves)
   * into `out`, applying SteIllegal (5.2.2). Decoding is a function of the words, SMMU_CR2.E2H
   * and the capabilities only, so an `out` last decoded by this decoder from the same words
   * and E2H already holds the result: a re-fetch after an invalidation skips the work.
   */
  decodeSte(w: Uint32Array, at: number, ctx: SteContext, out: StreamConfig): StreamConfig {
    if (out.sourceDecoder === this && out.sourceE2h === ctx.e2h && sameWords(out.source, w, at)) return out;
    this.decodeSteFields(w, at, ctx, out);
    copyWords(out.source, w, at);
    out.sourceE2h = ctx.e2h;
    out.sourceDecoder = this;
    return out;
  }

  private decodeSteFields(w: Uint32Array, at: number, ctx: SteContext, out: StreamConfig): StreamConfig {
    const c = this.caps;
    const w0 = w[at];
    const w1 = w[at + 1];
    const w2 = w[at + 2];
    const w3 = w[at + 3];
    const w4 = w[at + 4];
    const w5 = w[at + 5];
    const w6 = w[at + 6];
    const w7 = w[at + 7];
    out.illegal = '';
    out.config = (w0 >>> 1) & 7;
    out.abort = (out.config & 4) === 0;
    out.bypass = out.config === 4;
    out.s1 = !out.abort && (out.config & 1) !== 0;
    out.s2 = !out.abort && (out.config & 2) !== 0;
    out.s1Fmt = (w0 >>> 4) & 3;
    out.ctxLo = (w0 & 0xffff_ffc0) >>> 0;
    out.ctxHi = w1 & 0x00ff_ffff;
    out.s1CdMax = w1 >>> 27;
    out.s1Dss = w2 & 3;
    out.ppar = ((w2 >>> 18) & 1) !== 0;
    const s1stalld = ((w2 >>> 27) & 1) !== 0;
    const eats = (w2 >>> 28) & 3;
    const strw = w2 >>> 30;
    out.privCfg = (w3 >>> 16) & 3;
    out.instCfg = (w3 >>> 18) & 3;
    out.vmid = w4 & 0xffff;
    out.s2affd = ((w5 >>> 21) & 1) !== 0;
    out.s2r = ((w5 >>> 26) & 1) !== 0;
    out.s2ttbLo = (w6 & 0xffff_fff0) >>> 0;
    out.s2ttbHi = w7 & 0x00ff_ffff;
    out.s2Walk = null;
    out.eats = 0;
    out.streamWorld = StreamWorld.El1;

    if ((w0 & 1) === 0) return illegalSte(out, 'STE.V is 0');
    // Config 0b0xx (abort, or reserved behaving as abort) and bypass need nothing else.
    if (out.abort) return out;
    if (out.s1 && !c.stage1) return illegalSte(out, 'stage 1 is enabled but not implemented (IDR0.S1P == 0)');
    if (out.s2 && !c.stage2) return illegalSte(out, 'stage 2 is enabled but not implemented (IDR0.S2P == 0)');

    // ATS: EATS is IGNORED without ATS and for bypass; 0b10 (split-stage) is not implemented
    // (IDR0.NS1ATS == 1); 0b11 (DPT) is reserved without DPT and behaves as 0b00.
    if (c.ats && !out.bypass) {
      if (eats === 2) return illegalSte(out, 'STE.EATS selects split-stage ATS, which is not implemented (IDR0.NS1ATS == 1)');
      out.eats = eats === 1 ? 1 : 0;
    }

    // StreamWorld: STRW is used for stage-1-only streams when HYP is implemented (IgnoreSTESTRW).
    const strwUsed = c.stage1 && c.hyp && out.config === 5;
    if (strwUsed) {
      if ((strw & 1) !== 0) return illegalSte(out, `STE.STRW ${strw} is reserved`);
      if (strw === 2) out.streamWorld = ctx.e2h ? StreamWorld.El2E2h : StreamWorld.El2;
    }

    // S2VMID tags the stream's TLB entries unless stage 2 is not implemented or the StreamWorld is EL2 (IgnoreSTES2VMID).
    if (c.stage2 && out.streamWorld === StreamWorld.El1 && !out.bypass && !c.vmid16 && (out.vmid & 0xff00) !== 0) {
      return illegalSte(out, 'STE.S2VMID[15:8] is not zero without 16-bit VMIDs');
    }

    if (out.s1) {
      // The Terminate-only stall model (IDR0.STALL_MODEL == 0b01) makes S1STALLD ILLEGAL.
      if (s1stalld) return illegalSte(out, 'STE.S1STALLD is 1 but stalls are not supported (IDR0.STALL_MODEL == 0b01)');
      if (c.ssidBits !== 0 && out.s1CdMax > c.ssidBits) return illegalSte(out, `STE.S1CDMax ${out.s1CdMax} exceeds IDR1.SSIDSIZE ${c.ssidBits}`);
      if (c.ssidBits !== 0 && out.s1CdMax !== 0 && !c.twoLevelCdTable && (out.s1Fmt === 1 || out.s1Fmt === 2)) {
        return illegalSte(out, 'STE.S1Fmt selects a 2-level CD table, which is not implemented (IDR0.CD2L == 0)');
      }
      // S1ContextPtr beyond the OAS (a PA) or the IAS (an IPA) is ILLEGAL (3.4.3, choices 1 and 2a).
      if (bitLength(out.ctxHi, out.ctxLo) > (out.s2 ? this.iasBits : c.oasBits)) return illegalSte(out, 'STE.S1ContextPtr is out of range of the ' + (out.s2 ? 'IAS' : 'OAS'));
    }

    if (out.s2) {
      if (((w5 >>> 25) & 1) !== 0) return illegalSte(out, 'STE.S2S is 1 but stalls are not supported (IDR0.STALL_MODEL == 0b01)');
      if (((w5 >>> 19) & 1) === 0) return illegalSte(out, 'STE.S2AA64 selects VMSAv8-32 LPAE, which is not implemented (IDR0.TTF)');
      const s2ha = ((w5 >>> 24) & 1) !== 0;
      const s2hd = ((w5 >>> 23) & 1) !== 0;
      if ((s2ha || s2hd) && c.httu === 'none') return illegalSte(out, 'STE.S2HA/S2HD set but HTTU is not implemented');
      if (s2hd && c.httu === 'access') return illegalSte(out, 'STE.S2HD set but only Access flag updates are implemented (IDR0.HTTU == 0b01)');
      const endi = ((w5 >>> 20) & 1) !== 0;
      if (c.ttEndian === 'little' && endi) return illegalSte(out, 'STE.S2ENDI selects big-endian tables, not supported (IDR0.TTENDIAN)');
      if (c.ttEndian === 'big' && !endi) return illegalSte(out, 'STE.S2ENDI selects little-endian tables, not supported (IDR0.TTENDIAN)');
      const ps = (w5 >>> 16) & 7;
      const f = this.s2Fields;
      f.t0sz = w5 & 0x3f;
      f.sl0 = (w5 >>> 6) & 3;
      f.tg = (w5 >>> 14) & 3;
      f.ps = ps;
      f.bigEndian = endi;
      f.hardwareAccessFlag = s2ha;
      f.hardwareDirty = s2hd;
      const walk = stage2WalkConfig(f, this.impl, out.s2WalkStorage);
      if (typeof walk === 'string') return illegalSte(out, `stage 2: ${walk}`);
      if (bitLength(out.s2ttbHi, out.s2ttbLo) > walk.outputBits) return illegalSte(out, 'STE.S2TTB is out of range of the effective STE.S2PS');
      out.s2Walk = walk;
    }
    return out;
  }

  /**
   * Decodes the CD whose 16 words are `w[at..at+15]` into `out`, applying CdIllegal (5.4.2)
   * for a CD reached through `ste`. As for an STE, decoding again the same words for the same
   * StreamWorld into the same `out` is skipped.
   */
  decodeCd(w: Uint32Array, at: number, ste: StreamConfig, out: ContextConfig): ContextConfig {
    if (out.sourceDecoder === this && out.sourceWorld === ste.streamWorld && sameWords(out.source, w, at)) return out;
    this.decodeCdFields(w, at, ste, out);
    copyWords(out.source, w, at);
    out.sourceWorld = ste.streamWorld;
    out.sourceDecoder = this;
    return out;
  }

  private decodeCdFields(w: Uint32Array, at: number, ste: StreamConfig, out: ContextConfig): ContextConfig {
    const c = this.caps;
    const w0 = w[at];
    const w1 = w[at + 1];
    const w2 = w[at + 2];
    const w3 = w[at + 3];
    const w4 = w[at + 4];
    const w5 = w[at + 5];
    out.illegal = '';
    out.walk0 = out.walk1 = null;
    out.asid = w1 >>> 16;
    out.ttb0Lo = (w2 & 0xffff_fff0) >>> 0;
    out.ttb0Hi = w3 & 0x00ff_ffff;
    out.ttb1Lo = (w4 & 0xffff_fff0) >>> 0;
    out.ttb1Hi = w5 & 0x00ff_ffff;
    out.tbi0 = ((w1 >>> 6) & 1) !== 0;
    out.tbi1 = ((w1 >>> 7) & 1) !== 0;
    out.pan = ((w1 >>> 8) & 1) !== 0;
    out.affd = ((w1 >>> 3) & 1) !== 0;
    out.r = ((w1 >>> 13) & 1) !== 0;
    out.a = ((w1 >>> 14) & 1) !== 0;
    const el2 = ste.streamWorld === StreamWorld.El2;
    out.asidTagged = !el2;
    if (((w0 >>> 31) & 1) === 0) return illegalCd(out, 'CD.V is 0');
    const s = ((w1 >>> 12) & 1) !== 0;
    if (s) return illegalCd(out, 'CD.S is 1 but stalls are not supported (IDR0.STALL_MODEL == 0b01)');
    if (c.termModel === 'abort-only' && !out.a) return illegalCd(out, 'CD.A is 0 but RAZ/WI termination is not supported (IDR0.TERM_MODEL == 1)');
    // TTB1 is unreachable in the EL2 StreamWorld: EPD1 is effectively 1 (5.4.1).
    const epd0 = ((w0 >>> 14) & 1) !== 0;
    const epd1 = ((w0 >>> 30) & 1) !== 0 || el2;
    const endi = ((w0 >>> 15) & 1) !== 0;
    if (!epd0 || !epd1) {
      if (c.ttEndian === 'little' && endi) return illegalCd(out, 'CD.ENDI selects big-endian tables, not supported (IDR0.TTENDIAN)');
      if (c.ttEndian === 'big' && !endi) return illegalCd(out, 'CD.ENDI selects little-endian tables, not supported (IDR0.TTENDIAN)');
    }
    if (((w1 >>> 9) & 1) === 0) return illegalCd(out, 'CD.AA64 selects VMSAv8-32 LPAE, which is not implemented (IDR0.TTF)');
    const hd = ((w1 >>> 10) & 1) !== 0;
    const ha = ((w1 >>> 11) & 1) !== 0;
    if ((ha || hd) && c.httu === 'none') return illegalCd(out, 'CD.HA/HD set but HTTU is not implemented');
    if (hd && c.httu === 'access') return illegalCd(out, 'CD.HD set but only Access flag updates are implemented (IDR0.HTTU == 0b01)');
    if (!el2 && !c.asid16 && (out.asid & 0xff00) !== 0) return illegalCd(out, 'CD.ASID[15:8] is not zero without 16-bit ASIDs');
    const ips = w1 & 7;
    const ipsBits = Math.min(OAS_BITS[ips], c.oasBits);
    const wxn = ((w1 >>> 4) & 1) !== 0;
    const single = ste.streamWorld === StreamWorld.El2;
    const f = this.s1Fields;
    f.ips = ips;
    f.bigEndian = endi;
    f.hardwareAccessFlag = ha;
    f.hardwareDirty = hd;
    f.singlePrivilegeLevel = single;
    f.writeExecuteNever = wxn;
    if (!epd0) {
      f.txsz = w0 & 0x3f;
      f.tg = (w0 >>> 6) & 3;
      f.tgField = 0;
      f.hierarchicalPermissionsDisabled = c.had && ((w2 >>> 1) & 1) !== 0;
      const walk = stage1WalkConfig(f, this.impl, out.walk0Storage);
      if (typeof walk === 'string') return illegalCd(out, `TTB0: ${walk}`);
      if (bitLength(out.ttb0Hi, out.ttb0Lo) > ipsBits) return illegalCd(out, 'CD.TTB0 is out of range of the effective CD.IPS');
      out.walk0 = walk;
    }
    if (!epd1) {
      f.txsz = (w0 >>> 16) & 0x3f;
      f.tg = (w0 >>> 22) & 3;
      f.tgField = 1;
      f.hierarchicalPermissionsDisabled = c.had && ((w4 >>> 1) & 1) !== 0;
      const walk = stage1WalkConfig(f, this.impl, out.walk1Storage);
      if (typeof walk === 'string') return illegalCd(out, `TTB1: ${walk}`);
      if (bitLength(out.ttb1Hi, out.ttb1Lo) > ipsBits) return illegalCd(out, 'CD.TTB1 is out of range of the effective CD.IPS');
      out.walk1 = walk;
    }
    return out;
  }
}
