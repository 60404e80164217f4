// Stream Table Entries the driver writes (IHI 0070 5.2), after Linux's arm_smmu_make_*_ste:
// abort (blocked), bypass (identity), stage 1 through a CD table, and stage 2; and the bits the
// SMMU uses in an STE of each kind (Linux arm_smmu_get_ste_used), which decide how an update
// is sequenced (entry-writer.ts).

import type { BitField } from '../../../formats/bitfield.js';
import { fieldMask } from '../../../formats/bitfield.js';
import { Eats, encodeSte, S1Dss, ShCfg, SteConfig, SteLayout, STE_DWORDS, Strw, TableCache, toDwords } from '../../../formats/smmuv3/structures.js';
import { Shareability } from '../../../formats/smmuv3/registers.js';
import type { ArmLpaeTranslationControl } from '../../io-pgtable/arm-lpae.js';

/** What every STE the driver makes depends on. */
export interface SteOptions {
  /** IDR1.ATTR_TYPES_OVR: bypassing streams keep their incoming shareability (SHCFG). */
  attrTypesOverride: boolean;
}

export interface CdTableSteOptions extends SteOptions {
  /** Address of the CD table (or of its level-1 table), S1Fmt and S1CDMax. */
  cdTable: bigint;
  s1fmt: number;
  s1cdmax: number;
  /** What transactions without a SubstreamID use (S1DSS). */
  s1dss: number;
  /** STE.EATS = 0b01: ATS Translation Requests and Translated transactions are allowed. */
  ats: boolean;
  /** IDR0.STALL_MODEL allows disabling stalls and this stream must not stall (S1STALLD). */
  disableStalls: boolean;
}

export interface S2SteOptions extends SteOptions {
  vmid: number;
  /** Root of the stage-2 table and its VTCR-like controls. */
  root: bigint;
  control: ArmLpaeTranslationControl;
  bigEndian: boolean;
  ats: boolean;
  /** Faults stall (the stall model forces it). */
  stall: boolean;
}

const MASK64 = 0xffff_ffff_ffff_ffffn;

/** An STE that makes every transaction abort (Config 0b000, V = 1): the blocked state. */
export function abortSte(): bigint[] {
  return encodeSte({ V: 1, Config: SteConfig.Abort });
}

/** An STE that passes transactions through untranslated (Config 0b100). */
export function bypassSte(o: SteOptions): bigint[] {
  return encodeSte({ V: 1, Config: SteConfig.Bypass, SHCFG: o.attrTypesOverride ? ShCfg.UseIncoming : 0 });
}

/** Stage 1 through a CD table (Config 0b101), StreamWorld NS-EL1 with VMID 0, walks Write-Back Inner Shareable. */
export function cdTableSte(o: CdTableSteOptions): bigint[] {
  return encodeSte({
    V: 1,
    Config: SteConfig.S1Translate,
    S1Fmt: o.s1fmt,
    S1ContextPtr: o.cdTable >> 6n,
    S1CDMax: o.s1cdmax,
    S1DSS: o.s1dss,
    S1CIR: TableCache.WriteBackAllocate,
    S1COR: TableCache.WriteBackAllocate,
    S1CSH: Shareability.InnerShareable,
    S1STALLD: o.disableStalls,
    EATS: o.ats ? Eats.Full : Eats.Abort,
    STRW: Strw.El1,
    SHCFG: o.attrTypesOverride && o.s1dss === S1Dss.Bypass ? ShCfg.UseIncoming : 0,
    S2VMID: 0,
  });
}

/** Stage 2 only (Config 0b110): the VMID, the VTCR fields of the table, S2AA64, S2PTW, S2R and S2TTB. */
export function s2Ste(o: S2SteOptions): bigint[] {
  const c = o.control;
  return encodeSte({
    V: 1,
    Config: SteConfig.S2Translate,
    EATS: o.ats ? Eats.Full : Eats.Abort,
    SHCFG: o.attrTypesOverride ? ShCfg.UseIncoming : 0,
    S2VMID: o.vmid,
    S2T0SZ: c.t0sz,
    S2SL0: c.sl0 ?? 0,
    S2IR0: c.irgn0,
    S2OR0: c.orgn0,
    S2SH0: c.sh0,
    S2TG: c.tg0,
    S2PS: c.ps,
    S2AA64: 1,
    S2ENDI: o.bigEndian,
    S2PTW: 1,
    S2S: o.stall,
    S2R: 1,
    S2TTB: o.root >> 4n,
  });
}

function maskOf(fields: readonly BitField[]): bigint[] {
  let m = 0n;
  for (const f of fields) m |= fieldMask(f);
  return toDwords(m, STE_DWORDS);
}

const L = SteLayout;
const USED_VALID = maskOf([L.V]);
const USED_CONFIG = maskOf([L.V, L.Config]);
const USED_S1 = maskOf([L.S1Fmt, L.S1ContextPtr, L.S1CDMax, L.S1DSS, L.S1CIR, L.S1COR, L.S1CSH, L.S1STALLD, L.STRW, L.EATS, L.MEV, L.S2VMID]);
const USED_S2 = maskOf([
  L.S2FWB,
  L.EATS,
  L.SHCFG,
  L.MEV,
  L.S2VMID,
  L.S2T0SZ,
  L.S2SL0,
  L.S2IR0,
  L.S2OR0,
  L.S2SH0,
  L.S2TG,
  L.S2PS,
  L.S2AA64,
  L.S2ENDI,
  L.S2AFFD,
  L.S2PTW,
  L.S2HD,
  L.S2HA,
  L.S2S,
  L.S2R,
  L.S2TTB,
]);
const USED_SHCFG = maskOf([L.SHCFG]);

/** The bits of `ste` the SMMU uses, per doubleword (Linux arm_smmu_get_ste_used). */
export function steUsed(ste: readonly bigint[]): bigint[] {
  if ((ste[0] & 1n) === 0n) return [...USED_VALID];
  const used = [...USED_CONFIG];
  const config = Number((ste[0] >> BigInt(L.Config.lsb)) & 7n);
  const or = (m: readonly bigint[]): void => {
    for (let i = 0; i < STE_DWORDS; i++) used[i] = (used[i] | m[i]) & MASK64;
  };
  if (config === SteConfig.S1Translate || config === SteConfig.Nested) {
    or(USED_S1);
    const s1dss = Number((ste[1] >> BigInt(L.S1DSS.lsb - 64)) & 3n);
    if (s1dss === S1Dss.Bypass) or(USED_SHCFG);
  }
  if (config === SteConfig.S2Translate || config === SteConfig.Nested) or(USED_S2);
  if (config === SteConfig.Bypass) or(USED_SHCFG);
  return used;
}
