// The Command queue (IHI 0070 chapter 4, 7.1). Commands are consumed in order when software
// writes CMDQ_PROD (or enables the queue, or acknowledges a command error): synchronously,
// so a CMD_SYNC completes as soon as it is consumed and every earlier command has taken effect.
// An error stops consumption with CMDQ_CONS.RD on the offending command, CMDQ_CONS.ERR set and
// GERROR.CMDQ_ERR activated; acknowledging the error restarts consumption at that command
// (re-fetched, so software may fix it in place), 7.1.

import { CFGI_ALL_RANGE as CFGI_ALL_RANGE_IMPORT, COMMAND_SIZE, Opcode as OpcodeImport, opcodeName, reservedBits } from '../../formats/smmuv3/commands.js';
import { CmdqError as CmdqErrorImport, Gerror as GerrorImport } from '../../formats/smmuv3/registers.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { BusPort } from './bus-port.js';
import type { Configuration } from './configuration.js';
import type { Interrupts } from './interrupts.js';
import type { SmmuV3Parameters } from './parameters.js';
import { QueueRegisters } from './queue-registers.js';
import { TlbRegime as TlbRegimeImport, type Tlb } from './tlb.js';

// Local copies of imported constants, read on every command: V8 folds a module constant's
// properties into optimized code, not an import's.
const Opcode = OpcodeImport;
const CmdqError = CmdqErrorImport;
const Gerror = GerrorImport;
const TlbRegime = TlbRegimeImport;
const CFGI_ALL_RANGE = CFGI_ALL_RANGE_IMPORT;
const ACCESS_OK = AccessStatus.Ok;

const ERR_SHIFT = 24;
const ERR_MASK = 0x7f << ERR_SHIFT;
const TWO_20 = 0x10_0000;
/** CMD_PRI_RESP.Resp to the PCIe PRG Response Code: ResponseFailure, InvalidRequest, Success. */
const PRI_RESPONSE_CODES = [0xf, 0x1, 0x0];
/** Where CMD_CFGI_ALL (CMD_CFGI_STE_RANGE with Range 31) is counted: after the 256 opcodes. */
const CFGI_ALL_INDEX = 256;

/** What the Command queue needs from the rest of the SMMU. */
export interface CommandQueueHooks {
  /** CR0ACK.CMDQEN. */
  enabled(): boolean;
  /** CR0ACK.SMMUEN: ATC_INV, PRI_RESP and prefetches are IGNORED while it is 0. */
  smmuEnabled(): boolean;
  /** SMMU_CR2.E2H (the EL2 TLBI commands act on EL2 or EL2-E2H entries by it). */
  e2h(): boolean;
  /** Sends an ATS Invalidation Request; false when no completion will ever come. */
  invalidateAtc(sid: number, pasid: number, global: boolean, addressHi: number, addressLo: number, sizeLog2: number): boolean;
  /** Sends a PRG Response. */
  pageResponse(sid: number, pasid: number, prgIndex: number, code: number): void;
  /** Prefetches the STE (and, for stage-1-only streams, the CD) of a stream. */
  prefetch(sid: number, ssv: boolean, ssid: number): void;
}

export interface CommandQueueStats {
  errors: { ill: number; abt: number; atcInvSync: number };
  syncs: number;
  atcInvalidations: number;
  atcInvalidationFailures: number;
  priResponses: number;
}

export class CommandQueue {
  readonly regs: QueueRegisters;
  readonly stats: CommandQueueStats = {
    errors: { ill: 0, abt: 0, atcInvSync: 0 },
    syncs: 0,
    atcInvalidations: 0,
    atcInvalidationFailures: 0,
    priResponses: 0,
  };
  /** An ATS invalidation since the last CMD_SYNC got no completion (3.9.1.4). */
  atcFailed = false;
  private readonly reserved: Uint32Array;
  private readonly implemented: Uint8Array;
  /** Commands consumed by opcode, CMD_CFGI_ALL at index CFGI_ALL_INDEX; and the indexes in the order first consumed. */
  private readonly consumed = new Float64Array(CFGI_ALL_INDEX + 1);
  private readonly consumedOrder: number[] = [];
  private processing = false;
  private signal = 0;

  constructor(
    private readonly params: SmmuV3Parameters,
    private readonly port: BusPort,
    private readonly interrupts: Interrupts,
    private readonly config: Configuration,
    private readonly tlb: Tlb,
    private readonly hooks: CommandQueueHooks,
  ) {
    const c = params.capabilities;
    this.regs = new QueueRegisters(c.cmdqLog2Max, COMMAND_SIZE, c.oasBits);
    // Reserved-field masks per opcode as four 32-bit words, and which opcodes this implementation has.
    this.reserved = new Uint32Array(256 * 4);
    this.implemented = new Uint8Array(256);
    for (let op = 0; op < 256; op++) {
      const r = reservedBits(op);
      for (let i = 0; i < 4; i++) this.reserved[op * 4 + i] = Number((r >> BigInt(32 * i)) & 0xffff_ffffn);
    }
    const s1 = [Opcode.CFGI_CD, Opcode.CFGI_CD_ALL, Opcode.TLBI_NH_ALL, Opcode.TLBI_NH_ASID, Opcode.TLBI_NH_VA, Opcode.TLBI_NH_VAA];
    const hyp = [Opcode.TLBI_EL2_ALL, Opcode.TLBI_EL2_ASID, Opcode.TLBI_EL2_VA, Opcode.TLBI_EL2_VAA];
    const s2 = [Opcode.TLBI_S12_VMALL, Opcode.TLBI_S2_IPA];
    const always = [Opcode.PREFETCH_CONFIG, Opcode.PREFETCH_ADDR, Opcode.CFGI_STE, Opcode.CFGI_STE_RANGE, Opcode.TLBI_NSNH_ALL, Opcode.SYNC];
    for (const op of always) this.implemented[op] = 1;
    if (c.stage1) for (const op of s1) this.implemented[op] = 1;
    if (c.hyp) for (const op of hyp) this.implemented[op] = 1;
    if (c.stage2) for (const op of s2) this.implemented[op] = 1;
    if (c.ats) this.implemented[Opcode.ATC_INV] = 1;
    if (c.pri) this.implemented[Opcode.PRI_RESP] = 1;
    // CMD_RESUME and CMD_STALL_TERM are not available with STALL_MODEL == 0b01 (6.3.1); Secure,
    // EL3, VMS and DPT commands have no meaning on the Non-secure queue of this implementation.
  }

  reset(): void {
    this.regs.reset();
    this.atcFailed = false;
  }

  /** Commands consumed, by name ("CMD_TLBI_NH_VA"), in the order each was first consumed. */
  get byName(): Map<string, number> {
    const m = new Map<string, number>();
    for (const i of this.consumedOrder) m.set(i === CFGI_ALL_INDEX ? 'CMD_CFGI_ALL' : opcodeName(i), this.consumed[i]);
    return m;
  }

  /** CMDQ_CONS.ERR. */
  get error(): number {
    return (this.regs.cons & ERR_MASK) >>> ERR_SHIFT;
  }

  /** Consumes commands while the queue is enabled, not empty and without an active error (4.1.2). */
  process(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      const regs = this.regs;
      const wasFull = regs.full;
      let consumed = 0;
      while (this.hooks.enabled() && !this.interrupts.isActive(Gerror.CMDQ_ERR) && !regs.empty) {
        const at = regs.entryAddress(regs.index(regs.cons));
        if (this.port.read(at.page, at.offset, 2) !== ACCESS_OK) {
          this.fail(CmdqError.Abort);
          break;
        }
        this.signal = 0;
        const b = this.port.block;
        const i = this.port.blockAt;
        const error = this.execute(b[i] >>> 0, b[i + 1] >>> 0, b[i + 2] >>> 0, b[i + 3] >>> 0);
        if (error !== CmdqError.None) {
          this.fail(error);
          break;
        }
        regs.cons = (regs.cons & ERR_MASK) | regs.next(regs.cons);
        consumed++;
        // A CMD_SYNC signals completion once its consumption is observable (4.7.3, 3.18).
        if (this.signal !== 0) this.completeSync();
      }
      // A Command queue leaving full sends a wake-up event with SEV (4.1.2).
      if (wasFull && consumed > 0 && this.params.capabilities.sev) this.interrupts.sendEvent();
    } finally {
      this.processing = false;
    }
  }

  private fail(code: number): void {
    const regs = this.regs;
    regs.cons = (regs.cons & ~ERR_MASK) | (code << ERR_SHIFT);
    if (code === CmdqError.Ill) this.stats.errors.ill++;
    else if (code === CmdqError.Abort) this.stats.errors.abt++;
    else this.stats.errors.atcInvSync++;
    this.interrupts.raiseGlobalError(Gerror.CMDQ_ERR);
  }

  // Decoded CMD_SYNC arguments, used after the command is consumed.
  private syncCs = 0;
  private syncAddrHi = 0;
  private syncAddrLo = 0;
  private syncData = 0;

  private completeSync(): void {
    this.stats.syncs++;
    if (this.syncCs === 1) this.interrupts.cmdSyncInterrupt(this.syncAddrHi, this.syncAddrLo, this.syncData);
    else if (this.syncCs === 2 && this.params.capabilities.sev) this.interrupts.sendEvent();
  }

  /** Executes one command given as four 32-bit words; returns a CmdqError code. */
  private execute(w0: number, w1: number, w2: number, w3: number): number {
    const op = w0 & 0xff;
    const c = this.params.capabilities;
    this.count(op === Opcode.CFGI_STE_RANGE && (w2 & 0x1f) === CFGI_ALL_RANGE ? CFGI_ALL_INDEX : op);
    if (this.implemented[op] === 0) return CmdqError.Ill;
    if (this.params.checkReservedCommandFields) {
      const r = this.reserved;
      const o = op * 4;
      if ((w0 & r[o]) !== 0 || (w1 & r[o + 1]) !== 0 || (w2 & r[o + 2]) !== 0 || (w3 & r[o + 3]) !== 0) return CmdqError.Ill;
    }
    // SSec == 1 is ILLEGAL on the Non-secure Command queue (4.1.6).
    if ((w0 & (1 << 10)) !== 0 && hasSsec(op)) return CmdqError.Ill;
    const sid = w1;
    const ssv = (w0 & (1 << 11)) !== 0;
    const ssid = (w0 >>> 12) & 0xfffff;
    const vmid = w1 & 0xffff;
    const asid = w1 >>> 16;
    const tlb = this.tlb;
    // VMID is matched only when stage 2 is implemented (4.4.2); 8-bit VMIDs/ASIDs leave [15:8] RES0.
    const anyVmid = c.stage2 ? vmid : -1;
    if (this.params.checkReservedCommandFields && ((!c.vmid16 && (vmid & 0xff00) !== 0 && usesVmid(op)) || (!c.asid16 && (asid & 0xff00) !== 0 && usesAsid(op)))) {
      return CmdqError.Ill;
    }
    switch (op) {
      case Opcode.PREFETCH_CONFIG:
      case Opcode.PREFETCH_ADDR:
        if (this.hooks.smmuEnabled()) this.hooks.prefetch(sid, ssv, ssid);
        return CmdqError.None;
      case Opcode.CFGI_STE:
        this.config.invalidateSte(sid, (w2 & 1) !== 0);
        return CmdqError.None;
      case Opcode.CFGI_STE_RANGE: {
        const range = w2 & 0x1f;
        if (range === CFGI_ALL_RANGE) {
          this.config.invalidateAll();
          return CmdqError.None;
        }
        const span = 2 ** (range + 1);
        const first = Math.floor(sid / span) * span;
        this.config.invalidateSteRange(first, first + span - 1);
        return CmdqError.None;
      }
      case Opcode.CFGI_CD:
        this.config.invalidateCd(sid, ssid, (w2 & 1) !== 0);
        return CmdqError.None;
      case Opcode.CFGI_CD_ALL:
        this.config.invalidateCdAll(sid);
        return CmdqError.None;
      case Opcode.TLBI_NH_ALL:
        tlb.invalidate(TlbRegime.El1, anyVmid, -1, false, 0, 0, 0, -1);
        return CmdqError.None;
      case Opcode.TLBI_NH_ASID:
        tlb.invalidate(TlbRegime.El1, anyVmid, asid, true, 0, 0, 0, -1);
        return CmdqError.None;
      case Opcode.TLBI_NH_VA:
        return this.byAddress(TlbRegime.El1, anyVmid, asid, w0, w2, w3, false);
      case Opcode.TLBI_NH_VAA:
        return this.byAddress(TlbRegime.El1, anyVmid, -1, w0, w2, w3, false);
      case Opcode.TLBI_EL2_ALL:
        tlb.invalidate(TlbRegime.El2, -1, -1, false, 0, 0, 0, -1);
        tlb.invalidate(TlbRegime.El2E2h, -1, -1, false, 0, 0, 0, -1);
        return CmdqError.None;
      case Opcode.TLBI_EL2_ASID:
        tlb.invalidate(TlbRegime.El2E2h, -1, asid, true, 0, 0, 0, -1);
        return CmdqError.None;
      case Opcode.TLBI_EL2_VA:
        return this.hooks.e2h() ? this.byAddress(TlbRegime.El2E2h, -1, asid, w0, w2, w3, false) : this.byAddress(TlbRegime.El2, -1, -1, w0, w2, w3, false);
      case Opcode.TLBI_EL2_VAA:
        return this.byAddress(this.hooks.e2h() ? TlbRegime.El2E2h : TlbRegime.El2, -1, -1, w0, w2, w3, false);
      case Opcode.TLBI_S12_VMALL:
        tlb.invalidate(TlbRegime.El1, vmid, -1, false, 0, 0, 0, -1);
        tlb.invalidate(TlbRegime.Stage2, vmid, -1, false, 0, 0, 0, -1);
        return CmdqError.None;
      case Opcode.TLBI_S2_IPA:
        return this.byAddress(TlbRegime.Stage2, vmid, -1, w0, w2, w3, true);
      case Opcode.TLBI_NSNH_ALL:
        tlb.invalidate(TlbRegime.El1, -1, -1, false, 0, 0, 0, -1);
        tlb.invalidate(TlbRegime.Stage2, -1, -1, false, 0, 0, 0, -1);
        return CmdqError.None;
      case Opcode.ATC_INV:
        return this.atcInvalidate(w0, w1, w2, w3);
      case Opcode.PRI_RESP: {
        const resp = (w2 >>> 12) & 3;
        if (resp === 3) return CmdqError.Ill;
        if (!this.hooks.smmuEnabled()) return CmdqError.None;
        this.stats.priResponses++;
        this.hooks.pageResponse(sid, ssv && c.ssidBits > 0 ? ssid : -1, w2 & 0x1ff, PRI_RESPONSE_CODES[resp]);
        return CmdqError.None;
      }
      case Opcode.SYNC: {
        const cs = (w0 >>> 12) & 3;
        if (cs === 3) return CmdqError.Ill;
        // CERROR_ATC_INV_SYNC: an earlier CMD_ATC_INV did not complete (3.9.1.4). The failure
        // is reported once; the re-fetched CMD_SYNC then completes.
        if (this.atcFailed) {
          this.atcFailed = false;
          return CmdqError.AtcInvSync;
        }
        this.signal = 1;
        this.syncCs = cs;
        this.syncData = w1;
        this.syncAddrLo = (w2 & 0xffff_fffc) >>> 0;
        this.syncAddrHi = w3 & 0x00ff_ffff;
        return CmdqError.None;
      }
      default:
        return CmdqError.Ill;
    }
  }

  /**
   * An address-based TLB invalidation (4.4.1.1): one address, or with TG != 0 the range
   * (NUM + 1) * 2^SCALE granules from it, narrowed by the TTL level hint.
   */
  private byAddress(regime: number, vmid: number, asid: number, w0: number, w2: number, w3: number, ipa: boolean): number {
    const tg = (w2 >>> 10) & 3;
    const ttl = (w2 >>> 8) & 3;
    const num = (w0 >>> 12) & 0x1f;
    const scale = (w0 >>> 20) & 0x1f;
    let pages = 1;
    let granule = 0;
    let level = -1;
    // Without IDR3.RIL the range fields are RES0; SCALE[5] is RES0 without IDR5.DS (not implemented).
    const reservedRange = this.params.capabilities.ril ? (w0 >>> 25) & 1 : tg | ttl | num | scale | ((w0 >>> 25) & 1);
    if (reservedRange !== 0 && this.params.checkReservedCommandFields) return CmdqError.Ill;
    if (this.params.capabilities.ril && tg !== 0) {
      if (num === 0 && scale === 0 && ttl === 0) return CmdqError.Ill;
      // TTL == 0b01 with the 16 KiB granule needs 52-bit addresses (IDR5.DS), not implemented.
      if (tg === 2 && ttl === 1) return CmdqError.Ill;
      granule = tg === 1 ? 12 : tg === 2 ? 14 : 16;
      pages = (num + 1) * 2 ** scale * 2 ** (granule - 12);
      if (ttl !== 0) level = ttl;
    }
    let first: number;
    if (ipa) {
      first = (w3 & 0x00ff_ffff) * TWO_20 + (w2 >>> 12);
    } else {
      // The TLB keys VA entries by VA[51:12] and VA[55] (the TTB half).
      first = (w3 & 0xfffff) * TWO_20 + (w2 >>> 12) + ((w3 >>> 23) & 1) * 2 ** 40;
    }
    this.tlb.invalidate(regime, vmid, asid, false, first, pages, granule, level);
    return CmdqError.None;
  }

  /** CMD_ATC_INV (4.5.1): an Invalidation Request for 4 KiB * 2^Size at Address, aligned to its size. */
  private atcInvalidate(w0: number, w1: number, w2: number, w3: number): number {
    const size = w2 & 0x3f;
    if (size > 52) return CmdqError.Ill;
    if (!this.hooks.smmuEnabled()) return CmdqError.None;
    const c = this.params.capabilities;
    // Without substreams SSV == 1 behaves as SSV == 0 (4.5.1).
    const ssv = (w0 & (1 << 11)) !== 0 && c.ssidBits > 0;
    const global = ssv && (w0 & (1 << 9)) !== 0;
    const sizeLog2 = 12 + size;
    let hi = w3 >>> 0;
    let lo = (w2 & 0xffff_f000) >>> 0;
    if (sizeLog2 >= 64) {
      hi = lo = 0;
    } else if (sizeLog2 >= 32) {
      lo = 0;
      hi = hi - (hi % 2 ** (sizeLog2 - 32));
    } else {
      lo = lo - (lo % 2 ** sizeLog2);
    }
    this.stats.atcInvalidations++;
    if (!this.hooks.invalidateAtc(w1, ssv ? (w0 >>> 12) & 0xfffff : -1, global, hi, lo, sizeLog2)) {
      this.stats.atcInvalidationFailures++;
      this.atcFailed = true;
    }
    return CmdqError.None;
  }

  private count(index: number): void {
    if (this.consumed[index]++ === 0) this.consumedOrder.push(index);
  }
}

function hasSsec(op: number): boolean {
  return op === Opcode.PREFETCH_CONFIG || op === Opcode.PREFETCH_ADDR || (op >= Opcode.CFGI_STE && op <= Opcode.CFGI_CD_ALL);
}

function usesVmid(op: number): boolean {
  return op === Opcode.TLBI_NH_ALL || op === Opcode.TLBI_NH_ASID || op === Opcode.TLBI_NH_VA || op === Opcode.TLBI_NH_VAA || op === Opcode.TLBI_S12_VMALL || op === Opcode.TLBI_S2_IPA;
}

function usesAsid(op: number): boolean {
  return op === Opcode.TLBI_NH_ASID || op === Opcode.TLBI_NH_VA || op === Opcode.TLBI_EL2_ASID || op === Opcode.TLBI_EL2_VA;
}
