// Command queue entries of the Arm SMMUv3 (IHI 0070, chapter 4): 16 bytes, little-endian,
// the opcode in bits [7:0]. Layouts use absolute bit numbers of the 128-bit command (bit 64
// is bit 0 of the second doubleword). Encoders are for drivers and tests; `decodeCommand`
// is for tools and the model's cold paths.

import { bits, decode, encode, extract, fieldMask, type Layout } from '../bitfield.js';

export const COMMAND_SIZE = 16;

/** Command opcodes (4.1.1). CMD_CFGI_ALL is CMD_CFGI_STE_RANGE with Range == 31. */
export const Opcode = {
  PREFETCH_CONFIG: 0x01,
  PREFETCH_ADDR: 0x02,
  CFGI_STE: 0x03,
  CFGI_STE_RANGE: 0x04,
  CFGI_CD: 0x05,
  CFGI_CD_ALL: 0x06,
  CFGI_VMS_PIDM: 0x07,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_EL3_ALL: 0x18,
  TLBI_EL3_VA: 0x1a,
  TLBI_EL2_ALL: 0x20,
  TLBI_EL2_ASID: 0x21,
  TLBI_EL2_VA: 0x22,
  TLBI_EL2_VAA: 0x23,
  TLBI_S12_VMALL: 0x28,
  TLBI_S2_IPA: 0x2a,
  TLBI_NSNH_ALL: 0x30,
  ATC_INV: 0x40,
  PRI_RESP: 0x41,
  RESUME: 0x44,
  STALL_TERM: 0x45,
  SYNC: 0x46,
  TLBI_S_EL2_ALL: 0x50,
  TLBI_S_EL2_ASID: 0x51,
  TLBI_S_EL2_VA: 0x52,
  TLBI_S_EL2_VAA: 0x53,
  TLBI_S_S12_VMALL: 0x58,
  TLBI_S_S2_IPA: 0x5a,
  TLBI_SNH_ALL: 0x60,
  DPTI_ALL: 0x70,
  DPTI_PA: 0x73,
} as const;
export type OpcodeName = keyof typeof Opcode;

/** The CMD_CFGI_STE_RANGE Range value that makes the command CMD_CFGI_ALL. */
export const CFGI_ALL_RANGE = 31;

const OPCODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(Opcode).map(([name, op]) => [op, `CMD_${name}`]));

/** The name of an opcode ("CMD_TLBI_NH_VA"), or a description of an unassigned one. */
export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? (opcode >= 0x80 && opcode <= 0x8f ? `IMPLEMENTATION DEFINED 0x${opcode.toString(16)}` : `reserved 0x${opcode.toString(16).padStart(2, '0')}`);
}

export type CommandWords = readonly [bigint, bigint];

/** The command as one 128-bit value (doubleword 0 in the low half). */
export function commandValue(cmd: CommandWords): bigint {
  return (cmd[1] << 64n) | cmd[0];
}

function words(value: bigint): CommandWords {
  return [value & 0xffff_ffff_ffff_ffffn, value >> 64n];
}

// ---- layouts (absolute bits of the 128-bit command) --------------------------------------

const OP = bits(0, 8);
const SSEC = bits(10);
const SSV = bits(11);
const SSID = bits(12, 20);
const SID = bits(32, 32);

export const PrefetchConfigLayout = { opcode: OP, SSec: SSEC, SSV, SubstreamID: SSID, StreamID: SID } as const satisfies Layout;
export const PrefetchAddrLayout = {
  opcode: OP,
  SSec: SSEC,
  SSV,
  SubstreamID: SSID,
  StreamID: SID,
  Size: bits(64, 5),
  NS: bits(71),
  Stride: bits(72, 4),
  Addr: bits(76, 52),
} as const satisfies Layout;
export const CfgiSteLayout = { opcode: OP, SSec: SSEC, StreamID: SID, Leaf: bits(64) } as const satisfies Layout;
export const CfgiSteRangeLayout = { opcode: OP, SSec: SSEC, StreamID: SID, Range: bits(64, 5) } as const satisfies Layout;
export const CfgiCdLayout = { opcode: OP, SSec: SSEC, SubstreamID: SSID, StreamID: SID, Leaf: bits(64) } as const satisfies Layout;
export const CfgiCdAllLayout = { opcode: OP, SSec: SSEC, StreamID: SID } as const satisfies Layout;
export const CfgiVmsPidmLayout = { opcode: OP, SSec: SSEC, VMID: bits(32, 16) } as const satisfies Layout;

/** Range invalidation fields (4.4.1.1): NUM and SCALE in doubleword 0, TTL and TG in doubleword 1. */
const NUM = bits(12, 5);
const SCALE = bits(20, 6);
const VMID = bits(32, 16);
const ASID = bits(48, 16);
const LEAF = bits(64);
const TTL = bits(72, 2);
const TG = bits(74, 2);
/** Virtual addresses are Address[63:12]. */
const VA = bits(76, 52);
/** IPAs and PAs are Address[55:12]. */
const IPA = bits(76, 44);

export const TlbiNhAllLayout = { opcode: OP, VMID } as const satisfies Layout;
export const TlbiNhAsidLayout = { opcode: OP, VMID, ASID } as const satisfies Layout;
export const TlbiNhVaLayout = { opcode: OP, NUM, SCALE, VMID, ASID, Leaf: LEAF, TTL, TG, Addr: VA } as const satisfies Layout;
export const TlbiNhVaaLayout = { opcode: OP, NUM, SCALE, VMID, Leaf: LEAF, TTL, TG, Addr: VA } as const satisfies Layout;
export const TlbiEl2AllLayout = { opcode: OP } as const satisfies Layout;
export const TlbiEl2AsidLayout = { opcode: OP, ASID } as const satisfies Layout;
export const TlbiEl2VaLayout = { opcode: OP, NUM, SCALE, ASID, Leaf: LEAF, TTL, TG, Addr: VA } as const satisfies Layout;
export const TlbiEl2VaaLayout = { opcode: OP, NUM, SCALE, Leaf: LEAF, TTL, TG, Addr: VA } as const satisfies Layout;
export const TlbiS12VmallLayout = { opcode: OP, VMID } as const satisfies Layout;
export const TlbiS2IpaLayout = { opcode: OP, NUM, SCALE, VMID, Leaf: LEAF, TTL, TG, Addr: IPA } as const satisfies Layout;
export const TlbiNsnhAllLayout = { opcode: OP } as const satisfies Layout;

export const AtcInvLayout = {
  opcode: OP,
  Global: bits(9),
  SSV,
  SubstreamID: SSID,
  StreamID: SID,
  Size: bits(64, 6),
  Addr: VA,
} as const satisfies Layout;

export const PriRespLayout = {
  opcode: OP,
  SSV,
  SubstreamID: SSID,
  StreamID: SID,
  PRGIndex: bits(64, 9),
  Resp: bits(76, 2),
} as const satisfies Layout;

export const ResumeLayout = {
  opcode: OP,
  SSec: SSEC,
  /** Action: 1 retries the stalled transaction, 0 terminates it. */
  Action: bits(12),
  /** Abort: with Action == 0, 1 aborts the transaction, 0 completes it with RAZ/WI. */
  Abort: bits(13),
  StreamID: SID,
  STAG: bits(64, 16),
} as const satisfies Layout;

export const StallTermLayout = { opcode: OP, SSec: SSEC, StreamID: SID } as const satisfies Layout;

export const SyncLayout = {
  opcode: OP,
  CS: bits(12, 2),
  MSH: bits(22, 2),
  MSIAttr: bits(24, 4),
  MSIData: bits(32, 32),
  /** MSIAddress holds address bits [55:2]. */
  MSIAddress: bits(66, 54),
} as const satisfies Layout;

/** CMD_SYNC.CS: completion signal. */
export const SyncCs = { SIG_NONE: 0, SIG_IRQ: 1, SIG_SEV: 2 } as const;

/** CMD_PRI_RESP.Resp, and the PCIe PRG Response Code each sends. */
export const PriResp = { ResponseFailure: 0, InvalidRequest: 1, Success: 2 } as const;

/** CMD_ATC_INV.Size value that invalidates the whole address space (a 2^64-byte span). */
export const ATC_INV_SIZE_ALL = 52;

/** The layout of each implemented opcode, for decoding and for reserved-field checks. */
export const COMMAND_LAYOUTS: Readonly<Record<number, Layout>> = {
  [Opcode.PREFETCH_CONFIG]: PrefetchConfigLayout,
  [Opcode.PREFETCH_ADDR]: PrefetchAddrLayout,
  [Opcode.CFGI_STE]: CfgiSteLayout,
  [Opcode.CFGI_STE_RANGE]: CfgiSteRangeLayout,
  [Opcode.CFGI_CD]: CfgiCdLayout,
  [Opcode.CFGI_CD_ALL]: CfgiCdAllLayout,
  [Opcode.CFGI_VMS_PIDM]: CfgiVmsPidmLayout,
  [Opcode.TLBI_NH_ALL]: TlbiNhAllLayout,
  [Opcode.TLBI_NH_ASID]: TlbiNhAsidLayout,
  [Opcode.TLBI_NH_VA]: TlbiNhVaLayout,
  [Opcode.TLBI_NH_VAA]: TlbiNhVaaLayout,
  [Opcode.TLBI_EL2_ALL]: TlbiEl2AllLayout,
  [Opcode.TLBI_EL2_ASID]: TlbiEl2AsidLayout,
  [Opcode.TLBI_EL2_VA]: TlbiEl2VaLayout,
  [Opcode.TLBI_EL2_VAA]: TlbiEl2VaaLayout,
  [Opcode.TLBI_S12_VMALL]: TlbiS12VmallLayout,
  [Opcode.TLBI_S2_IPA]: TlbiS2IpaLayout,
  [Opcode.TLBI_NSNH_ALL]: TlbiNsnhAllLayout,
  [Opcode.ATC_INV]: AtcInvLayout,
  [Opcode.PRI_RESP]: PriRespLayout,
  [Opcode.RESUME]: ResumeLayout,
  [Opcode.STALL_TERM]: StallTermLayout,
  [Opcode.SYNC]: SyncLayout,
};

/**
 * The bits of a command with this opcode that no field defines (RES0), as a 128-bit mask; the
 * whole command except the opcode for opcodes without a layout here.
 */
export function reservedBits(opcode: number): bigint {
  const layout = COMMAND_LAYOUTS[opcode];
  let used = fieldMask(OP);
  if (layout !== undefined) for (const f of Object.values(layout)) used |= fieldMask(f);
  return ((1n << 128n) - 1n) & ~used;
}

export interface DecodedCommand {
  opcode: number;
  /** "CMD_CFGI_ALL" for a CFGI_STE_RANGE with Range 31. */
  name: string;
  /** The fields of the opcode's layout; empty for opcodes without one. */
  fields: Record<string, bigint>;
}

export function commandOpcode(cmd: CommandWords): number {
  return Number(cmd[0] & 0xffn);
}

/** A command's name and fields, for tools and tests. */
export function decodeCommand(cmd: CommandWords): DecodedCommand {
  const opcode = commandOpcode(cmd);
  const layout = COMMAND_LAYOUTS[opcode];
  const fields: Record<string, bigint> = layout === undefined ? {} : decode(layout, commandValue(cmd));
  return { opcode, name: commandName(cmd), fields };
}

/** The name of a command ("CMD_TLBI_NH_VA", "CMD_CFGI_ALL"), or a description of an unassigned opcode. */
export function commandName(cmd: CommandWords): string {
  const opcode = commandOpcode(cmd);
  if (opcode === Opcode.CFGI_STE_RANGE && extract(commandValue(cmd), CfgiSteRangeLayout.Range) === BigInt(CFGI_ALL_RANGE)) return 'CMD_CFGI_ALL';
  return opcodeName(opcode);
}

// ---- encoders -----------------------------------------------------------------------------

export interface SubstreamTarget {
  /** Present: SSV = 1 with this SubstreamID. */
  ssid?: number;
}

export function cmdPrefetchConfig(sid: number, o: SubstreamTarget = {}): CommandWords {
  return words(encode(PrefetchConfigLayout, { opcode: Opcode.PREFETCH_CONFIG, StreamID: sid, SSV: o.ssid !== undefined, SubstreamID: o.ssid ?? 0 }));
}

export interface PrefetchAddrOptions extends SubstreamTarget {
  /** Prefetch 2^size translations. */
  size?: number;
  /** At a stride of 2^(12 + stride) bytes. */
  stride?: number;
}

export function cmdPrefetchAddr(sid: number, address: bigint, o: PrefetchAddrOptions = {}): CommandWords {
  return words(
    encode(PrefetchAddrLayout, {
      opcode: Opcode.PREFETCH_ADDR,
      StreamID: sid,
      SSV: o.ssid !== undefined,
      SubstreamID: o.ssid ?? 0,
      Size: o.size ?? 0,
      Stride: o.stride ?? 0,
      Addr: (address >> 12n) & ((1n << 52n) - 1n),
    }),
  );
}

/** CMD_CFGI_STE; `leaf` true invalidates the STE only, false also the L1STD that locates it. */
export function cmdCfgiSte(sid: number, leaf = true): CommandWords {
  return words(encode(CfgiSteLayout, { opcode: Opcode.CFGI_STE, StreamID: sid, Leaf: leaf }));
}

/** CMD_CFGI_STE_RANGE: STEs (and L1STDs) of StreamIDs sid & ~(2^(range+1) - 1) .. + 2^(range+1) - 1. */
export function cmdCfgiSteRange(sid: number, range: number): CommandWords {
  return words(encode(CfgiSteRangeLayout, { opcode: Opcode.CFGI_STE_RANGE, StreamID: sid, Range: range }));
}

/** CMD_CFGI_ALL: every cached STE, L1STD, CD and L1CD. */
export function cmdCfgiAll(): CommandWords {
  return cmdCfgiSteRange(0, CFGI_ALL_RANGE);
}

/** CMD_CFGI_CD; `leaf` false also invalidates the L1CD that locates the CD. */
export function cmdCfgiCd(sid: number, ssid: number, leaf = true): CommandWords {
  return words(encode(CfgiCdLayout, { opcode: Opcode.CFGI_CD, StreamID: sid, SubstreamID: ssid, Leaf: leaf }));
}

export function cmdCfgiCdAll(sid: number): CommandWords {
  return words(encode(CfgiCdAllLayout, { opcode: Opcode.CFGI_CD_ALL, StreamID: sid }));
}

export function cmdTlbiNhAll(vmid: number): CommandWords {
  return words(encode(TlbiNhAllLayout, { opcode: Opcode.TLBI_NH_ALL, VMID: vmid }));
}

export function cmdTlbiNhAsid(vmid: number, asid: number): CommandWords {
  return words(encode(TlbiNhAsidLayout, { opcode: Opcode.TLBI_NH_ASID, VMID: vmid, ASID: asid }));
}

/** Range and level-hint parameters of address-based TLB invalidations (4.4.1.1, needs IDR3.RIL). */
export interface TlbiRange {
  /** Translation granule of the entries: 1 = 4 KiB, 2 = 16 KiB, 3 = 64 KiB; 0 = any (no range, no hint). */
  tg?: number;
  /** Level hint: the level of the leaf entries (0 = any). */
  ttl?: number;
  /** Range = (num + 1) * 2^scale granules from the address. */
  num?: number;
  scale?: number;
}

export interface TlbiVaOptions extends TlbiRange {
  /** Invalidate only leaf (last-level) entries: the common case after changing a PTE. */
  leaf?: boolean;
}

function addressFields(address: bigint, o: TlbiVaOptions, width: bigint) {
  return {
    Leaf: o.leaf ?? false,
    TG: o.tg ?? 0,
    TTL: o.ttl ?? 0,
    NUM: o.num ?? 0,
    SCALE: o.scale ?? 0,
    Addr: (address >> 12n) & ((1n << width) - 1n),
  };
}

export function cmdTlbiNhVa(vmid: number, asid: number, address: bigint, o: TlbiVaOptions = {}): CommandWords {
  return words(encode(TlbiNhVaLayout, { opcode: Opcode.TLBI_NH_VA, VMID: vmid, ASID: asid, ...addressFields(address, o, 52n) }));
}

export function cmdTlbiNhVaa(vmid: number, address: bigint, o: TlbiVaOptions = {}): CommandWords {
  return words(encode(TlbiNhVaaLayout, { opcode: Opcode.TLBI_NH_VAA, VMID: vmid, ...addressFields(address, o, 52n) }));
}

export function cmdTlbiEl2All(): CommandWords {
  return words(encode(TlbiEl2AllLayout, { opcode: Opcode.TLBI_EL2_ALL }));
}

export function cmdTlbiEl2Asid(asid: number): CommandWords {
  return words(encode(TlbiEl2AsidLayout, { opcode: Opcode.TLBI_EL2_ASID, ASID: asid }));
}

export function cmdTlbiEl2Va(asid: number, address: bigint, o: TlbiVaOptions = {}): CommandWords {
  return words(encode(TlbiEl2VaLayout, { opcode: Opcode.TLBI_EL2_VA, ASID: asid, ...addressFields(address, o, 52n) }));
}

export function cmdTlbiEl2Vaa(address: bigint, o: TlbiVaOptions = {}): CommandWords {
  return words(encode(TlbiEl2VaaLayout, { opcode: Opcode.TLBI_EL2_VAA, ...addressFields(address, o, 52n) }));
}

export function cmdTlbiS12Vmall(vmid: number): CommandWords {
  return words(encode(TlbiS12VmallLayout, { opcode: Opcode.TLBI_S12_VMALL, VMID: vmid }));
}

export function cmdTlbiS2Ipa(vmid: number, ipa: bigint, o: TlbiVaOptions = {}): CommandWords {
  return words(encode(TlbiS2IpaLayout, { opcode: Opcode.TLBI_S2_IPA, VMID: vmid, ...addressFields(ipa, o, 44n) }));
}

export function cmdTlbiNsnhAll(): CommandWords {
  return words(encode(TlbiNsnhAllLayout, { opcode: Opcode.TLBI_NSNH_ALL }));
}

export interface AtcInvOptions extends SubstreamTarget {
  /** Global Invalidate (only meaningful with a SubstreamID). */
  global?: boolean;
}

/** CMD_ATC_INV of the 4 KiB * 2^size span containing `address`; size 52 is the whole space. */
export function cmdAtcInv(sid: number, address: bigint, size: number, o: AtcInvOptions = {}): CommandWords {
  return words(
    encode(AtcInvLayout, {
      opcode: Opcode.ATC_INV,
      StreamID: sid,
      SSV: o.ssid !== undefined,
      SubstreamID: o.ssid ?? 0,
      Global: o.global ?? false,
      Size: size,
      Addr: (address >> 12n) & ((1n << 52n) - 1n),
    }),
  );
}

export function cmdPriResp(sid: number, prgIndex: number, resp: number, o: SubstreamTarget = {}): CommandWords {
  return words(
    encode(PriRespLayout, { opcode: Opcode.PRI_RESP, StreamID: sid, SSV: o.ssid !== undefined, SubstreamID: o.ssid ?? 0, PRGIndex: prgIndex, Resp: resp }),
  );
}

/** CMD_RESUME: retry (action) or terminate the stalled transaction tagged `stag`; a terminated one aborts when `abort`. */
export function cmdResume(sid: number, stag: number, action: 'retry' | 'abort' | 'raz-wi'): CommandWords {
  return words(encode(ResumeLayout, { opcode: Opcode.RESUME, StreamID: sid, STAG: stag, Action: action === 'retry', Abort: action === 'abort' }));
}

export function cmdStallTerm(sid: number): CommandWords {
  return words(encode(StallTermLayout, { opcode: Opcode.STALL_TERM, StreamID: sid }));
}

export interface SyncOptions {
  /** Completion signal (default SIG_NONE). */
  cs?: number;
  /** MSI target (4-byte aligned) and payload for SIG_IRQ; address 0 sends no MSI. */
  msiAddress?: bigint;
  msiData?: number;
  msiAttr?: number;
  msh?: number;
}

export function cmdSync(o: SyncOptions = {}): CommandWords {
  return words(
    encode(SyncLayout, {
      opcode: Opcode.SYNC,
      CS: o.cs ?? SyncCs.SIG_NONE,
      MSH: o.msh ?? 0,
      MSIAttr: o.msiAttr ?? 0,
      MSIData: o.msiData ?? 0,
      MSIAddress: (o.msiAddress ?? 0n) >> 2n,
    }),
  );
}
