// The translation procedure (IHI 0070 chapter 15, 3.3, 3.4, 3.9, 3.12, 5.5, 13.7): what the
// SMMU does with one inbound transaction or ATS Translation Request. In order:
//   SMMUEN == 0: GBPA decides (bypass or abort); ATS traffic is refused.
//   ATS Translated traffic with ATSCHK == 0 passes with an address-size check only.
//   The STE (C_BAD_STREAMID, F_STE_FETCH, C_BAD_STE; Config abort is silent), then EATS checks
//   for ATS traffic, then StreamID/SubstreamID rules (C_BAD_SUBSTREAMID, F_STREAM_DISABLED,
//   S1DSS), the CD (F_CD_FETCH, C_BAD_CD, stage 2 faults with CLASS == CD), the TLB, and the
//   walks: stage 1 (through stage 2 for nested streams, CLASS == TT) and stage 2 of the IPA.
// Translation-related faults follow CD.A/R and STE.S2R (5.5); every other fault aborts and is
// recorded. ATS Translation Requests never record events (SMMU_CR2.REC_CFG_ATS is not
// implemented): faults become R == W == 0 completions, configuration errors Completer Aborts.

import { Perm as PermImport, permits } from '../../formats/arm-lpae/attributes.js';
import { EventClass as EventClassImport, EventType as EventTypeImport } from '../../formats/smmuv3/records.js';
import { VMSA_FAULT_NAMES, VmsaFault as VmsaFaultImport, VmsaWalker, type VmsaWalkConfig } from '../arm-lpae/walker.js';
import type { PageAddress } from './bus-port.js';
import { StreamWorld as StreamWorldImport, type ContextConfig, type StreamConfig } from './config.js';
import type { Configuration } from './configuration.js';
import type { EventQueue, EventRecord } from './event-queue.js';
import type { SmmuV3Parameters } from './parameters.js';
import { Tlb, TlbRegime as TlbRegimeImport, type TlbFill } from './tlb.js';
import type { SmmuV3Tracer } from './trace.js';
import { AtsResult as AtsResultImport, Outcome as OutcomeImport, TransactionKind as TransactionKindImport, type SmmuResult, type SmmuTransaction } from './transaction.js';
import type { TableAddressTranslator, WalkMemory } from './walk-memory.js';

// Local copies of imported constants, read on every transaction: V8 folds a module constant's
// properties into optimized code, not an import's.
const Perm = PermImport;
const EventClass = EventClassImport;
const EventType = EventTypeImport;
const VmsaFault = VmsaFaultImport;
const StreamWorld = StreamWorldImport;
const TlbRegime = TlbRegimeImport;
const AtsResult = AtsResultImport;
const Outcome = OutcomeImport;
const TransactionKind = TransactionKindImport;

const TWO_20 = 0x10_0000;
const ALL_PERMS = Perm.PrivRead | Perm.PrivWrite | Perm.PrivExec | Perm.UnprivRead | Perm.UnprivWrite | Perm.UnprivExec;

/** Register state the translation reads. */
export interface TranslationRegisters {
  /** SMMU_CR0ACK (the effective enables). */
  cr0ack: number;
  cr2: number;
  gbpa: number;
}

export interface TranslationStats {
  /** Transactions by kind: untranslated, translated, ATS requests. */
  requests: [number, number, number];
  /** Faults and errors detected, by event type (recorded or not). */
  faults: Map<number, number>;
  stage1Walks: number;
  stage2Walks: number;
  bypassed: number;
}

/** The fault a walk stage ended with, as an event type. */
function eventOfWalkFault(fault: number): number {
  switch (fault) {
    case VmsaFault.Translation:
      return EventType.F_TRANSLATION;
    case VmsaFault.AddressSize:
      return EventType.F_ADDR_SIZE;
    case VmsaFault.AccessFlag:
      return EventType.F_ACCESS;
    case VmsaFault.Permission:
      return EventType.F_PERMISSION;
    default:
      return EventType.F_WALK_EABT;
  }
}

/** 2^n, n = 0..64, as exact doubles. */
const POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** n);
const INV_POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** -n);
/** 2^n - 1 for n = 0..31, as 32-bit integers. */
const LOW_MASK = Int32Array.from({ length: 32 }, (_, n) => 2 ** n - 1);

/** Whether the address hi:lo has bits at or above `bits`. */
function beyond(hi: number, lo: number, bits: number): boolean {
  if (bits >= 64) return false;
  if (bits >= 32) return hi >>> 0 >= POW2[bits - 32];
  return hi !== 0 || lo >>> 0 >= POW2[bits];
}

/** Whether bits [top:from] of hi:lo all equal `bit` (0 or 1; top <= 63; true when from > top). */
function bitsEqual(hi: number, lo: number, from: number, top: number, bit: number): boolean {
  if (from > top) return true;
  // XOR with all-ones when the bits must be ones: the bits checked must then all be zero.
  const flip = -bit;
  if (from < 32) {
    const msb = top < 31 ? top : 31;
    if (((lo ^ flip) & (LOW_MASK[from] ^ (msb === 31 ? -1 : LOW_MASK[msb + 1]))) !== 0) return false;
    if (top < 32) return true;
    from = 32;
  }
  const lsb = from - 32;
  const msb = top - 32;
  return ((hi ^ flip) & (LOW_MASK[lsb] ^ (msb === 31 ? -1 : LOW_MASK[msb + 1]))) === 0;
}

export class Translator implements TableAddressTranslator {
  readonly tlb: Tlb;
  readonly stats: TranslationStats = { requests: [0, 0, 0], faults: new Map(), stage1Walks: 0, stage2Walks: 0, bypassed: 0 };
  tracer: SmmuV3Tracer | null = null;
  /** TableAddressTranslator results. */
  page = 0;
  offset = 0;

  private readonly s1Walker = new VmsaWalker();
  private readonly s2Walker = new VmsaWalker();
  /** The stage 2 walker of a table-address translation, apart from the final IPA's. */
  private readonly ttWalker = new VmsaWalker();
  private readonly fill: TlbFill = { regime: 0, vmid: 0, asid: 0, global: false, inputPage: 0, outputPage: 0, log2Pages: 0, perms: 0, level: 0, granuleLog2: 0 };
  // The transaction being translated (for stage 2 faults found while fetching a CD or walking).
  private txn: SmmuTransaction | null = null;
  private res: SmmuResult | null = null;
  private ste: StreamConfig | null = null;
  private pnu = false;
  private ind = false;
  /** CD.PAN of the stage 1 translation under way. */
  private pan = false;
  /**
   * The privilege permissions are checked with: PnU, except in the NS-EL2 StreamWorld, where
   * AP[1] is treated as 1 and PRIV as 1 (13.4.1).
   */
  private permPriv = false;
  /** The SubstreamID bits implemented, as a mask (0 without substreams). */
  private readonly ssidMask: number;
  /** 2^(OAS - 32): an address whose high half reaches it is beyond the OAS. */
  private readonly oasHiLimit: number;
  private readonly s1Level = (): number => this.s1Walker.faultLevel;
  private readonly s2Level = (): number => this.s2Walker.faultLevel;
  private readonly ttLevel = (): number => this.ttWalker.faultLevel;

  constructor(
    private readonly params: SmmuV3Parameters,
    private readonly regs: TranslationRegisters,
    readonly config: Configuration,
    private readonly events: EventQueue,
    private readonly s1Memory: WalkMemory,
    private readonly s2Memory: WalkMemory,
    private readonly ttMemory: WalkMemory,
  ) {
    this.tlb = new Tlb(params.caches.tlb.sets, params.caches.tlb.ways);
    const c = params.capabilities;
    this.ssidMask = c.ssidBits === 0 ? 0 : LOW_MASK[c.ssidBits];
    this.oasHiLimit = POW2[c.oasBits - 32];
  }

  /** Whether the transaction's address has bits at or above the OAS (32 to 52 bits). */
  private beyondOas(t: SmmuTransaction): boolean {
    return t.addressHi >>> 0 >= this.oasHiLimit;
  }

  /** Translates `t`, leaving the result in `r` (reset first). */
  translate(t: SmmuTransaction, r: SmmuResult): SmmuResult {
    // The commonest case in short (DMA through a bypass stream): an untranslated transaction
    // without a SubstreamID, the SMMU enabled, within the OAS, its STE the one found last and
    // Config bypass, no tracer. The same outcome and counts as the procedure below, which would
    // find nothing more to check (the scratch state of a translation is not needed).
    if (t.kind === TransactionKind.Untranslated && !t.ssv && (this.regs.cr0ack & 1) !== 0 && this.tracer === null && !this.beyondOas(t) && this.config.hitLastBypass(t.sid)) {
      this.stats.requests[TransactionKind.Untranslated]++;
      this.stats.bypassed++;
      t.ssid = 0;
      r.passThrough((t.addressHi >>> 0) * TWO_20 + (t.addressLo >>> 12), ALL_PERMS);
      return r;
    }
    r.reset();
    this.stats.requests[t.kind]++;
    this.txn = t;
    this.res = r;
    const ats = t.kind === TransactionKind.AtsRequest;
    const translated = t.kind === TransactionKind.Translated;
    t.ssid = t.ssv ? t.ssid & this.ssidMask : 0;
    this.ste = null;

    // SMMUEN == 0: global bypass attributes (6.3.9.6); ATS is not operational.
    if ((this.regs.cr0ack & 1) === 0) return this.smmuDisabled(t, ats, translated);
    // Translated traffic bypasses unchecked unless ATSCHK (6.3.9.2); an address beyond the OAS is aborted silently (3.9.1.1).
    if (translated && (this.regs.cr0ack & 0x10) === 0) {
      if (this.beyondOas(t)) return this.abort(0);
      return this.pass(t);
    }

    // ---- STE ----------------------------------------------------------------------------
    const ste = this.config.stream(t.sid);
    if (ste === null) return this.streamFault(t, ats, translated);
    this.ste = ste;
    if (ste.illegal !== '') return this.badSte(t, ste, ats, translated);
    if (ste.abort) {
      // Config 0b0xx: abort without an event; ATS requests get UR (5.2 Config).
      this.step('STE.Config aborts the stream');
      if (ats) r.ats = AtsResult.UnsupportedRequest;
      return this.abort(0);
    }
    // PnU and InD after the attribute overrides (13.1.2, 13.7): PRIVCFG for every access,
    // INSTCFG for reads only (writes are always Data). Nothing before needs them.
    this.pnu = ste.privCfg >= 2 ? ste.privCfg === 3 : t.privileged;
    this.permPriv = this.pnu;
    this.ind = !t.write && (ste.instCfg >= 2 ? ste.instCfg === 3 : t.instruction);

    if (translated) {
      // ATSCHK == 1: Translated traffic needs EATS (3.9.1.3).
      if (ste.bypass || ste.eats === 0) return this.abortWith(EventType.F_TRANSL_FORBIDDEN, true);
      if (this.beyondOas(t)) return this.abort(0);
      return this.pass(t);
    }
    if (ats && (ste.bypass || ste.eats === 0)) {
      this.badAtsRequest(t);
      return r;
    }

    // ---- SubstreamIDs and stage 1 configuration (5.2 S1CDMax, S1DSS) -----------------------
    if (!ste.s1) {
      if (t.ssv) return this.substreamFault(t, 'stage 1 is not enabled');
      if (ste.bypass) {
        // Bypass: an input address beyond the OAS is a stage 1 Address Size fault (3.4).
        if (this.beyondOas(t)) return this.translationFault(EventType.F_ADDR_SIZE, false, EventClass.IN, null, 0, 0);
        this.step('STE.Config bypasses the stream');
        if (ats) return this.atsIdentity(t);
        return this.pass(t);
      }
      return this.stage1Bypassed(t, ste);
    }
    return this.substream(t, ste, ats);
  }

  /** SMMUEN == 0: global bypass attributes (6.3.9.6); ATS is not operational. */
  private smmuDisabled(t: SmmuTransaction, ats: boolean, translated: boolean): SmmuResult {
    if (ats) {
      this.badAtsRequest(t);
      return this.res as SmmuResult;
    }
    if (translated) return this.abortWith(EventType.F_TRANSL_FORBIDDEN, true);
    if ((this.regs.gbpa & (1 << 20)) !== 0) {
      this.step('SMMU disabled, GBPA.ABORT: abort');
      return this.abort(0);
    }
    // An input address beyond the OAS is aborted without an event (3.4).
    if (this.beyondOas(t)) return this.abort(0);
    this.step('SMMU disabled: global bypass');
    return this.pass(t);
  }

  /** No STE: C_BAD_STREAMID or F_STE_FETCH, as the configuration lookup found. */
  private streamFault(t: SmmuTransaction, ats: boolean, translated: boolean): SmmuResult {
    const fault = this.config.fault;
    if (ats) return this.completerAbort(fault);
    if (translated) return this.abort(fault);
    if (fault === EventType.C_BAD_STREAMID) {
      if (this.tracer !== null) this.tracer.step(`C_BAD_STREAMID: ${this.config.reason}`);
      // Recorded only when SMMU_CR2.RECINVSID permits (7.3.3).
      if ((this.regs.cr2 & 2) === 0) return this.abort(fault);
      this.beginConfig(fault, t);
      return this.abortRecorded(fault);
    }
    this.beginConfig(EventType.F_STE_FETCH, t);
    this.setFetchAddress(this.config.fetchHi, this.config.fetchLo);
    return this.abortRecorded(EventType.F_STE_FETCH);
  }

  private badSte(t: SmmuTransaction, ste: StreamConfig, ats: boolean, translated: boolean): SmmuResult {
    if (this.tracer !== null) this.tracer.step(`C_BAD_STE: ${ste.illegal}`);
    if (ats) return this.completerAbort(EventType.C_BAD_STE);
    if (translated) return this.abort(EventType.C_BAD_STE);
    this.beginConfig(EventType.C_BAD_STE, t);
    return this.abortRecorded(EventType.C_BAD_STE);
  }

  /** A stream with stage 1: the SubstreamID rules, the CD, then stage 1. */
  private substream(t: SmmuTransaction, ste: StreamConfig, ats: boolean): SmmuResult {
    const c = this.params.capabilities;
    const substreams = c.ssidBits !== 0 && ste.s1CdMax !== 0;
    let index = 0;
    if (!substreams) {
      if (t.ssv) return this.substreamFault(t, c.ssidBits === 0 ? 'substreams are not implemented' : 'STE.S1CDMax is 0');
    } else if (!t.ssv) {
      if (ste.s1Dss === 1) return this.stage1Bypassed(t, ste);
      if (ste.s1Dss !== 2) return this.streamDisabled(t, 'no SubstreamID and STE.S1DSS terminates');
    } else {
      if (t.ssid >= POW2[ste.s1CdMax]) return this.substreamFault(t, `SubstreamID ${t.ssid} >= 2^S1CDMax (${ste.s1CdMax})`);
      if (t.ssid === 0 && ste.s1Dss === 2) return this.streamDisabled(t, 'SubstreamID 0 is reserved by STE.S1DSS == 0b10');
      index = t.ssid;
    }

    // ---- CD -----------------------------------------------------------------------------------
    const cd = this.config.context(ste, t.sid, index);
    if (cd === null) {
      const fault = this.config.fault;
      if (fault === -1) return this.res as SmmuResult; // a stage 2 fault on the CD's IPA: already handled
      if (ats) return this.completerAbort(fault);
      if (fault === EventType.C_BAD_SUBSTREAMID) return this.substreamFault(t, this.config.reason);
      this.beginConfig(EventType.F_CD_FETCH, t);
      this.setFetchAddress(this.config.fetchHi, this.config.fetchLo);
      return this.abortRecorded(EventType.F_CD_FETCH);
    }
    if (cd.illegal !== '') {
      if (this.tracer !== null) this.tracer.step(`C_BAD_CD: ${cd.illegal}`);
      if (ats) return this.completerAbort(EventType.C_BAD_CD);
      this.beginConfig(EventType.C_BAD_CD, t);
      return this.abortRecorded(EventType.C_BAD_CD);
    }
    return this.stage1(t, ste, cd);
  }

  // ---- stage 1 ------------------------------------------------------------------------------

  private stage1(t: SmmuTransaction, ste: StreamConfig, cd: ContextConfig): SmmuResult {
    const r = this.res as SmmuResult;
    const hi = t.addressHi >>> 0;
    const lo = t.addressLo >>> 0;
    const bit55 = (hi >>> 23) & 1;
    const walk = bit55 === 1 ? cd.walk1 : cd.walk0;
    const tbi = bit55 === 1 ? cd.tbi1 : cd.tbi0;
    if (walk === null) {
      if (this.tracer !== null) this.tracer.step(`TTB${bit55} is disabled (EPD${bit55}, or unreachable at EL2)`);
      return this.translationFault(EventType.F_TRANSLATION, false, EventClass.IN, cd, 0, 0);
    }
    // VA[AddrTop:inputBits] must all equal VA[55]: AddrTop is 63, or 55 with TBI (3.4.1; the
    // specification's N counts the two ranges' sign bit, N = inputBits + 1).
    if (!bitsEqual(hi, lo, walk.inputBits, tbi ? 55 : 63, bit55)) {
      if (this.tracer !== null) this.tracer.step(`VA is outside the ${walk.inputBits}-bit range of TTB${bit55}`);
      return this.translationFault(EventType.F_TRANSLATION, false, EventClass.IN, cd, 0, 0);
    }
    // TLB key: VA[51:12] and VA[55] (the TTB half); the walk's input page: VA[N-1:12].
    const page52 = (hi & 0xfffff) * TWO_20 + (lo >>> 12);
    const key = page52 + bit55 * 2 ** 40;
    const inputPage = page52 - Math.floor(page52 * INV_POW2[walk.inputBits - 12]) * POW2[walk.inputBits - 12];
    const world = ste.streamWorld;
    const regime = world === StreamWorld.El1 ? TlbRegime.El1 : world === StreamWorld.El2 ? TlbRegime.El2 : TlbRegime.El2E2h;
    const vmid = world === StreamWorld.El1 && this.params.capabilities.stage2 ? ste.vmid : 0;
    const asid = cd.asidTagged ? cd.asid : 0;
    const ats = t.kind === TransactionKind.AtsRequest;
    // A hit that does not permit the access walks again: the leaf may be writable-clean (3.13).
    this.pan = cd.pan;
    this.permPriv = world === StreamWorld.El2 || this.pnu;
    if (this.tlb.lookup(regime, vmid, asid, key) && (ats ? !t.write || permits(this.tlb.perms, this.permPriv, false, true, false) : this.allowed(this.tlb.perms, t))) {
      if (this.tracer !== null) this.tracer.step(`TLB hit (${regime === TlbRegime.El1 ? `VMID ${vmid} ` : ''}ASID ${asid})`);
      return ats ? this.atsGrant(t, this.tlb.perms, this.tlb.outputPage, this.tlb.log2Pages) : this.done(this.tlb.outputPage, this.tlb.log2Pages, this.tlb.perms);
    }

    const ttbHi = bit55 === 1 ? cd.ttb1Hi : cd.ttb0Hi;
    const ttbLo = bit55 === 1 ? cd.ttb1Lo : cd.ttb0Lo;
    this.stats.stage1Walks++;
    this.s1Memory.begin('s1tt', cd.affd && !walk.hardwareAccessFlag, walk.bigEndian, ste.s2 ? this : null, this.s1Level);
    const w = this.s1Walker;
    // A write (or a Translation Request with NW == 0) makes a writable-clean leaf dirty (3.13, 13.7).
    const fault = w.walk(walk, this.s1Memory, ttbHi, ttbLo, inputPage, t.write, this.permPriv);
    if (fault !== VmsaFault.None) {
      if (this.s1Memory.stage2Fault) return r; // a stage 2 fault on a table IPA: already handled
      if (this.tracer !== null) this.tracer.step(`stage 1 ${VMSA_FAULT_NAMES[fault]} at level ${w.faultLevel}`);
      if (fault === VmsaFault.ExternalAbort) return this.walkAbort(t, false, EventClass.TT, this.s1Memory.page, this.s1Memory.offset);
      return this.translationFault(eventOfWalkFault(fault), false, EventClass.IN, cd, 0, 0);
    }
    let perms = w.permissions;
    if (!ats && !this.allowed(perms, t)) {
      this.step('stage 1 Permission fault');
      return this.translationFault(EventType.F_PERMISSION, false, EventClass.IN, cd, 0, 0);
    }
    let outputPage = w.outputPage;
    let log2Pages = w.leafLog2 - 12;
    if (ats && !this.atsAnyAccess(t, perms)) {
      // No access at stage 1: the IPA is not translated at stage 2 (3.9.1.2).
      return this.atsDenied(t);
    }
    if (ste.s2) {
      // Stage 2 of the IPA stage 1 produced.
      if (!this.stage2(t, ste, outputPage, ats)) return r;
      perms &= this.s2Perms;
      outputPage = this.s2Page;
      log2Pages = Math.min(log2Pages, this.s2Log2);
    }
    if (!ats || this.params.atsFillsTlb) {
      const f = this.fill;
      f.regime = regime;
      f.vmid = vmid;
      f.asid = asid;
      f.global = !cd.asidTagged || !w.notGlobal;
      f.inputPage = key;
      f.outputPage = outputPage;
      f.log2Pages = log2Pages;
      f.perms = w.writableClean ? perms & ~(Perm.PrivWrite | Perm.UnprivWrite) : perms;
      f.level = w.leafLevel;
      f.granuleLog2 = walk.granuleLog2;
      this.tlb.insert(f);
    }
    if (ats) return this.atsGrant(t, perms, outputPage, log2Pages);
    if (!this.allowed(perms, t)) {
      // Stage 2 took away what stage 1 granted.
      return this.translationFault(EventType.F_PERMISSION, true, EventClass.IN, null, this.ipaHi(), this.ipaLo());
    }
    return this.done(outputPage, log2Pages, perms);
  }

  /** Stage 1 is skipped (STE.Config == 0b110, or S1DSS == 0b01): the input address is the IPA (3.4). */
  private stage1Bypassed(t: SmmuTransaction, ste: StreamConfig): SmmuResult {
    const r = this.res as SmmuResult;
    const ats = t.kind === TransactionKind.AtsRequest;
    if (beyond(t.addressHi, t.addressLo, this.config.decoder.iasBits)) {
      this.step('stage 1 bypassed: input beyond the IAS');
      return this.translationFault(EventType.F_ADDR_SIZE, false, EventClass.IN, null, 0, 0);
    }
    const ipaPage = (t.addressHi >>> 0) * TWO_20 + (t.addressLo >>> 12);
    if (!ste.s2) {
      this.step('stage 1 bypassed (S1DSS), stage 2 disabled');
      if (ats) return this.atsIdentity(t);
      return this.pass(t);
    }
    if (this.tlb.lookup(TlbRegime.Stage2, ste.vmid, 0, ipaPage) && (ats || permits(this.tlb.perms, this.pnu, !t.write, t.write, this.ind))) {
      if (this.tracer !== null) this.tracer.step(`TLB hit (stage 2, VMID ${ste.vmid})`);
      return ats ? this.atsGrant(t, this.tlb.perms, this.tlb.outputPage, this.tlb.log2Pages) : this.done(this.tlb.outputPage, this.tlb.log2Pages, this.tlb.perms);
    }
    if (!this.stage2(t, ste, ipaPage, ats)) return r;
    const perms = this.s2Perms;
    if (!ats || this.params.atsFillsTlb) {
      const f = this.fill;
      f.regime = TlbRegime.Stage2;
      f.vmid = ste.vmid;
      f.asid = 0;
      f.global = true;
      f.inputPage = ipaPage;
      f.outputPage = this.s2Page;
      f.log2Pages = this.s2Log2;
      f.perms = this.s2Walker.writableClean ? perms & ~(Perm.PrivWrite | Perm.UnprivWrite) : perms;
      f.level = this.s2Walker.leafLevel;
      f.granuleLog2 = (ste.s2Walk as VmsaWalkConfig).granuleLog2;
      this.tlb.insert(f);
    }
    if (ats) return this.atsGrant(t, perms, this.s2Page, this.s2Log2);
    if (!permits(perms, this.pnu, !t.write, t.write, this.ind)) {
      this.step('stage 2 Permission fault');
      return this.translationFault(EventType.F_PERMISSION, true, EventClass.IN, null, this.ipaHiOf(ipaPage), this.ipaLoOf(ipaPage, 0));
    }
    return this.done(this.s2Page, this.s2Log2, perms);
  }

  // ---- stage 2 -------------------------------------------------------------------------------

  private s2Page = 0;
  private s2Log2 = 0;
  private s2Perms = 0;
  private lastIpaPage = 0;

  /**
   * Walks stage 2 for IPA page `ipaPage` of the transaction. Leaves the result in s2Page,
   * s2Log2, s2Perms; on a fault records it (CLASS == IN) and returns false.
   */
  private stage2(t: SmmuTransaction, ste: StreamConfig, ipaPage: number, ats: boolean): boolean {
    const walk = ste.s2Walk as VmsaWalkConfig;
    this.lastIpaPage = ipaPage;
    this.stats.stage2Walks++;
    this.s2Memory.begin('s2tt', ste.s2affd && !walk.hardwareAccessFlag, walk.bigEndian, null, this.s2Level);
    const w = this.s2Walker;
    const fault = w.walk(walk, this.s2Memory, ste.s2ttbHi, ste.s2ttbLo, ipaPage, t.write, true);
    if (fault !== VmsaFault.None) {
      if (this.tracer !== null) this.tracer.step(`stage 2 ${VMSA_FAULT_NAMES[fault]} at level ${w.faultLevel}`);
      if (ats) {
        if (fault === VmsaFault.ExternalAbort) this.completerAbort(EventType.F_WALK_EABT);
        else this.atsDenied(t);
        return false;
      }
      if (fault === VmsaFault.ExternalAbort) this.walkAbort(t, true, EventClass.IN, this.s2Memory.page, this.s2Memory.offset);
      else this.translationFault(eventOfWalkFault(fault), true, EventClass.IN, null, this.ipaHiOf(ipaPage), this.ipaLoOf(ipaPage, 0));
      return false;
    }
    this.s2Page = w.outputPage;
    this.s2Log2 = w.leafLog2 - 12;
    this.s2Perms = w.permissions;
    return true;
  }

  /**
   * TableAddressTranslator: stage 2 for the IPA of a stage 1 descriptor (CLASS == TT). Reading
   * needs S2 read permission, a hardware update of the descriptor needs write (7.3.16 TTRnW).
   */
  translateTableAddress(ipaHi: number, ipaLo: number, write: boolean): boolean {
    const ste = this.ste as StreamConfig;
    const t = this.txn as SmmuTransaction;
    const walk = ste.s2Walk as VmsaWalkConfig;
    const ipaPage = ipaHi * TWO_20 + (ipaLo >>> 12);
    const ats = t.kind === TransactionKind.AtsRequest;
    let outputPage: number;
    if (this.tlb.lookup(TlbRegime.Stage2, ste.vmid, 0, ipaPage) && permits(this.tlb.perms, true, !write, write, false)) {
      outputPage = this.tlb.outputPage;
    } else {
      this.stats.stage2Walks++;
      this.ttMemory.begin('s2tt', ste.s2affd && !walk.hardwareAccessFlag, walk.bigEndian, null, this.ttLevel);
      const w = this.ttWalker;
      const fault = w.walk(walk, this.ttMemory, ste.s2ttbHi, ste.s2ttbLo, ipaPage, write, true);
      let event = 0;
      if (fault !== VmsaFault.None) event = eventOfWalkFault(fault);
      else if (!permits(w.permissions, true, !write, write, false)) event = EventType.F_PERMISSION;
      if (event !== 0) {
        if (this.tracer !== null) this.tracer.step(`stage 2 fault translating stage 1 table address: ${VMSA_FAULT_NAMES[fault === VmsaFault.None ? VmsaFault.Permission : fault]}`);
        if (ats) {
          if (event === EventType.F_WALK_EABT) this.completerAbort(event);
          else this.atsDenied(t);
        } else if (event === EventType.F_WALK_EABT) {
          this.walkAbort(t, true, EventClass.TT, this.ttMemory.page, this.ttMemory.offset);
        } else {
          // TTRnW: whether a descriptor read (1) or update (0) faulted (7.3.16).
          this.translationFault(event, true, EventClass.TT, null, ipaHi, ipaLo, event === EventType.F_PERMISSION && !write);
        }
        return false;
      }
      outputPage = w.outputPage;
      const f = this.fill;
      f.regime = TlbRegime.Stage2;
      f.vmid = ste.vmid;
      f.asid = 0;
      f.global = true;
      f.inputPage = ipaPage;
      f.outputPage = w.outputPage;
      f.log2Pages = w.leafLog2 - 12;
      f.perms = w.writableClean ? w.permissions & ~(Perm.PrivWrite | Perm.UnprivWrite) : w.permissions;
      f.level = w.leafLevel;
      f.granuleLog2 = walk.granuleLog2;
      this.tlb.insert(f);
    }
    this.page = outputPage;
    this.offset = ipaLo & 0xfff;
    return true;
  }

  /**
   * The CD fetch address of a nested stream: stage 2 of the CD's IPA (CLASS == CD). Returns
   * false after handling the stage 2 fault (an event, or a CA/denied ATS completion).
   */
  translateCdAddress(ste: StreamConfig, ipaPage: number, offset: number, out: PageAddress): boolean {
    const t = this.txn as SmmuTransaction;
    const walk = ste.s2Walk as VmsaWalkConfig;
    const ats = t.kind === TransactionKind.AtsRequest;
    this.stats.stage2Walks++;
    this.ttMemory.begin('s2tt', ste.s2affd && !walk.hardwareAccessFlag, walk.bigEndian, null, this.ttLevel);
    const w = this.ttWalker;
    const fault = w.walk(walk, this.ttMemory, ste.s2ttbHi, ste.s2ttbLo, ipaPage, false, true);
    let event = 0;
    if (fault !== VmsaFault.None) event = eventOfWalkFault(fault);
    else if (!permits(w.permissions, true, true, false, false)) event = EventType.F_PERMISSION;
    if (event !== 0) {
      if (this.tracer !== null) this.tracer.step(`stage 2 fault translating the CD address: ${VMSA_FAULT_NAMES[fault === VmsaFault.None ? VmsaFault.Permission : fault]}`);
      if (ats) {
        if (event === EventType.F_WALK_EABT) this.completerAbort(event);
        else this.atsDenied(t);
      } else if (event === EventType.F_WALK_EABT) {
        this.walkAbort(t, true, EventClass.CD, this.ttMemory.page, this.ttMemory.offset);
      } else {
        this.translationFault(event, true, EventClass.CD, null, this.ipaHiOf(ipaPage), this.ipaLoOf(ipaPage, offset));
      }
      return false;
    }
    out.page = w.outputPage;
    out.offset = offset;
    return true;
  }

  // ---- outcomes ------------------------------------------------------------------------------

  private allowed(perms: number, t: SmmuTransaction): boolean {
    // CD.PAN: a privileged data access to memory that unprivileged accesses may use faults (13.4.1).
    if (this.pan && this.permPriv && !this.ind && (perms & (Perm.UnprivRead | Perm.UnprivWrite)) !== 0) return false;
    // An instruction fetch needs read and execute permission (13.4.1); writes are always Data.
    return permits(perms, this.permPriv, !t.write, t.write, this.ind);
  }

  private done(outputPage: number, log2Pages: number, perms: number): SmmuResult {
    const r = this.res as SmmuResult;
    r.outcome = Outcome.Ok;
    r.outputPage = outputPage;
    r.log2Pages = log2Pages;
    r.perms = perms;
    return r;
  }

  /** No translation: the output address is the input address. */
  private pass(t: SmmuTransaction): SmmuResult {
    const r = this.done((t.addressHi >>> 0) * TWO_20 + (t.addressLo >>> 12), 0, ALL_PERMS);
    r.bypassed = true;
    this.stats.bypassed++;
    return r;
  }

  private abort(event: number): SmmuResult {
    const r = this.res as SmmuResult;
    r.outcome = Outcome.Abort;
    if (event !== 0) {
      r.event = event;
      this.stats.faults.set(event, (this.stats.faults.get(event) ?? 0) + 1);
    }
    return r;
  }

  private abortRecorded(event: number): SmmuResult {
    const r = this.abort(event);
    r.recorded = this.events.write();
    return r;
  }

  /** F_TRANSL_FORBIDDEN-like aborts: InputAddr and RnW recorded. */
  private abortWith(event: number, record: boolean): SmmuResult {
    const t = this.txn as SmmuTransaction;
    if (!record) return this.abort(event);
    if (this.tracer !== null) this.tracer.step(`${event === EventType.F_TRANSL_FORBIDDEN ? 'F_TRANSL_FORBIDDEN' : 'abort'}`);
    // F_TRANSL_FORBIDDEN carries the StreamID, InputAddr and RnW (7.3.8).
    const e = this.events.record.begin(event, t.sid, false, 0);
    e.inputHi = t.addressHi >>> 0;
    e.inputLo = t.addressLo >>> 0;
    e.rnw = !t.write;
    return this.abortRecorded(event);
  }

  private substreamFault(t: SmmuTransaction, why: string): SmmuResult {
    if (this.tracer !== null) this.tracer.step(`C_BAD_SUBSTREAMID: ${why}`);
    if (t.kind === TransactionKind.AtsRequest) return this.completerAbort(EventType.C_BAD_SUBSTREAMID);
    // C_BAD_SUBSTREAMID carries the StreamID and SubstreamID, no SSV (7.3.9).
    this.events.record.begin(EventType.C_BAD_SUBSTREAMID, t.sid, true, t.ssid).ssv = false;
    return this.abortRecorded(EventType.C_BAD_SUBSTREAMID);
  }

  private streamDisabled(t: SmmuTransaction, why: string): SmmuResult {
    if (this.tracer !== null) this.tracer.step(`F_STREAM_DISABLED: ${why}`);
    if (t.kind === TransactionKind.AtsRequest) return this.completerAbort(EventType.F_STREAM_DISABLED);
    // F_STREAM_DISABLED carries the StreamID only (7.3.7).
    this.events.record.begin(EventType.F_STREAM_DISABLED, t.sid, false, 0);
    return this.abortRecorded(EventType.F_STREAM_DISABLED);
  }

  /**
   * A translation-related fault (F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION) at stage 1
   * (s2 false, governed by CD.A/R; without a CD: abort, recorded) or stage 2 (STE.S2R; abort).
   * ATS requests get a Success completion granting nothing (3.9.1.2).
   */
  private translationFault(event: number, s2: boolean, cls: number, cd: ContextConfig | null, ipaHi: number, ipaLo: number, ttrnw = false): SmmuResult {
    const t = this.txn as SmmuTransaction;
    const r = this.res as SmmuResult;
    if (t.kind === TransactionKind.AtsRequest) return this.atsDenied(t);
    const ste = this.ste;
    const record = s2 ? ste === null || ste.s2r : cd === null || cd.r;
    const razwi = !s2 && cd !== null && !cd.a;
    this.abort(event);
    if (razwi) r.outcome = Outcome.RazWi;
    if (!record) return r;
    const e = this.begin(event, t);
    e.s2 = s2;
    e.cls = cls;
    e.ttrnw = ttrnw;
    if (s2) {
      e.addrHi = ipaHi & 0x00ff_ffff;
      e.addrLo = (ipaLo & 0xffff_f000) >>> 0;
    }
    r.recorded = this.events.write();
    return r;
  }

  /** F_WALK_EABT: an external abort on a descriptor fetch or update, FetchAddr = its PA (7.3.12). */
  private walkAbort(t: SmmuTransaction, s2: boolean, cls: number, page: number, offset: number): SmmuResult {
    const e = this.begin(EventType.F_WALK_EABT, t);
    e.s2 = s2;
    e.cls = cls;
    this.setFetchAddress(Math.floor(page / TWO_20), (page % TWO_20) * 4096 + offset);
    return this.abortRecorded(EventType.F_WALK_EABT);
  }

  /** A configuration-error record: StreamID, SSV and SubstreamID (7.3.3 - 7.3.5, 7.3.10, 7.3.11). */
  private beginConfig(type: number, t: SmmuTransaction): EventRecord {
    return this.events.record.begin(type, t.sid, t.ssv, t.ssid);
  }

  /** A translation-fault record: the stream, InputAddr and the post-override RnW, PnU, InD (7.3.12 - 7.3.16). */
  private begin(type: number, t: SmmuTransaction): EventRecord {
    const e = this.events.record.begin(type, t.sid, t.ssv, t.ssid);
    e.inputHi = t.addressHi >>> 0;
    e.inputLo = t.addressLo >>> 0;
    e.rnw = !t.write;
    e.pnu = this.pnu;
    e.ind = this.ind;
    return e;
  }

  private setFetchAddress(hi: number, lo: number): void {
    const e = this.events.record;
    e.addrHi = hi & 0x00ff_ffff;
    e.addrLo = (lo & 0xffff_fff8) >>> 0;
  }

  private ipaHi(): number {
    return this.ipaHiOf(this.lastIpaPage);
  }

  private ipaLo(): number {
    return this.ipaLoOf(this.lastIpaPage, 0);
  }

  private ipaHiOf(page: number): number {
    return Math.floor(page / TWO_20);
  }

  private ipaLoOf(page: number, offset: number): number {
    return (page - Math.floor(page / TWO_20) * TWO_20) * 4096 + offset;
  }

  // ---- ATS completions -------------------------------------------------------------------------

  /** UR with F_BAD_ATS_TREQ (7.3.6): ATS disabled for the stream, or the SMMU disabled. */
  private badAtsRequest(t: SmmuTransaction): void {
    const r = this.res as SmmuResult;
    this.step('F_BAD_ATS_TREQ: ATS Translation Request refused');
    r.ats = AtsResult.UnsupportedRequest;
    r.outcome = Outcome.Abort;
    r.event = EventType.F_BAD_ATS_TREQ;
    this.stats.faults.set(r.event, (this.stats.faults.get(r.event) ?? 0) + 1);
    const e = this.events.record.begin(EventType.F_BAD_ATS_TREQ, t.sid, t.ssv, t.ssid);
    e.inputHi = t.addressHi >>> 0;
    e.inputLo = (t.addressLo & 0xffff_f000) >>> 0;
    e.atsRead = true;
    e.atsWrite = t.write;
    e.atsExec = t.ssv && t.instruction;
    e.atsPriv = t.ssv && t.privileged;
    e.atsSpan = 1;
    r.recorded = this.events.write();
  }

  /** Completer Abort: a configuration error met by a Translation Request; no event (REC_CFG_ATS not implemented). */
  private completerAbort(event: number): SmmuResult {
    const r = this.abort(event);
    r.ats = AtsResult.CompleterAbort;
    return r;
  }

  /** Success granting nothing (R == W == 0) at the STU size: a translation-related fault. */
  private atsDenied(t: SmmuTransaction): SmmuResult {
    const r = this.res as SmmuResult;
    r.ats = AtsResult.Success;
    r.outcome = Outcome.Ok;
    r.atsRead = r.atsWrite = r.atsExec = false;
    r.atsPriv = t.ssv && t.privileged;
    r.log2Pages = 0;
    return r;
  }

  /** Identity translation with R == W == 1 (stage 1 skipped by S1DSS and stage 2 disabled, 3.9.1.2). */
  private atsIdentity(t: SmmuTransaction): SmmuResult {
    const r = this.pass(t);
    r.ats = AtsResult.Success;
    r.atsRead = true;
    r.atsWrite = true;
    r.atsExec = t.ssv && t.instruction;
    r.atsPriv = t.ssv && t.privileged;
    return r;
  }

  /** Whether permissions grant a Translation Request anything (13.7.1). */
  private atsAnyAccess(t: SmmuTransaction, perms: number): boolean {
    const priv = this.permPriv;
    return permits(perms, priv, true, false, false) || (t.ssv && t.instruction && permits(perms, priv, false, false, true));
  }

  /** The permissions a Translation Completion grants (13.7.1). */
  private atsGrant(t: SmmuTransaction, perms: number, outputPage: number, log2Pages: number): SmmuResult {
    const r = this.done(outputPage, log2Pages, perms);
    const priv = this.permPriv;
    const read = permits(perms, priv, true, false, false);
    r.ats = AtsResult.Success;
    r.atsRead = read;
    r.atsWrite = permits(perms, priv, false, true, false);
    // Exe is granted only when requested (with a PASID) and implies R.
    r.atsExec = t.ssv && t.instruction && read && permits(perms, priv, false, false, true);
    r.atsPriv = t.ssv && t.privileged;
    if (!r.atsRead && !r.atsWrite) return this.atsDenied(t);
    return r;
  }

  /** A trace step with a constant message (messages built from values check `tracer` first: no allocation without one). */
  private step(message: string): void {
    if (this.tracer !== null) this.tracer.step(message);
  }
}
