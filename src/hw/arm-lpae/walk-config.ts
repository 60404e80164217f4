// From translation-control fields to a VmsaWalkConfig: stage 1 from TCR_ELx-like fields (TxSZ,
// TG0 or TG1, IPS: the SMMUv3 CD), stage 2 from VTCR_EL2-like ones (T0SZ, SL0, TG0, PS: the
// SMMUv3 STE), with the implementation's capabilities. Invalid combinations come back as a
// sentence (an SMMUv3 turns it into C_BAD_CD / C_BAD_STE; a CPU model into a level 0
// Translation fault). Cold path: once per configuration-cache fill.

import {
  effectiveOutputBits,
  granuleFromTg0,
  granuleFromTg1,
  granuleName,
  GRANULES,
  initialLevel,
  concatenatedTables,
  maxInputBits,
  minInputBits,
  stage2ConfigError,
  stage2LevelFromSl0,
  type GranuleLog2,
  type VmsaFeatures,
} from '../../formats/arm-lpae/index.js';
import type { VmsaWalkConfig } from './walker.js';

/** What the implementation supports (ID_AA64MMFR*_EL1 for a CPU; SMMU_IDR3/IDR5 for an SMMUv3). */
export interface VmsaImplementation {
  /** Implemented physical address size in bits, 32..52 (ID_AA64MMFR0_EL1.PARange, SMMU_IDR5.OAS). 52 implies FEAT_LPA. */
  paBits: number;
  /** Granules supported (SMMU_IDR5.GRAN4K/16K/64K); default all three. */
  granules?: readonly GranuleLog2[];
  /** FEAT_TTST (SMMU_IDR3.STT): TxSZ up to 48 (47 for 64 KiB). Default false. */
  smallTables?: boolean;
  /** FEAT_LVA (SMMU_IDR5.VAX): 52-bit stage-1 inputs with the 64 KiB granule. Default false. */
  largeVa?: boolean;
  /**
   * Largest stage-2 input (IPA) size: default the PA size (Table D8-8: the effective minimum T0SZ
   * is 64 minus the implemented PA size). An SMMUv3 gives its IAS, MAX(OAS, 40) when it supports
   * AArch32 tables (IHI 0070 3.4, STE.S2T0SZ).
   */
  maxIpaBits?: number;
  /**
   * What a TxSZ outside the permitted range does. 'invalid' (default): the configuration is
   * refused, as SMMUv3.1 and later treat the CD/STE as ILLEGAL (a CPU may instead take a level 0
   * Translation fault, D8.1.9). 'clamp': the nearest permitted value is used, the other
   * IMPLEMENTATION DEFINED choice of the Arm ARM (and of SMMUv3.0).
   */
  txszOutOfRange?: 'invalid' | 'clamp';
}

export interface Stage1Fields {
  /** TxSZ (T0SZ or T1SZ). */
  txsz: number;
  /** The TG field's raw value and which field it is: TG0 and TG1 encode granules differently. */
  tg: number;
  tgField: 0 | 1;
  /** {I}PS. */
  ips: number;
  bigEndian: boolean;
  hardwareAccessFlag: boolean;
  hardwareDirty: boolean;
  hierarchicalPermissionsDisabled: boolean;
  /** One privilege level (EL2/EL3 regimes). Default false. */
  singlePrivilegeLevel?: boolean;
  /** SCTLR_ELx.WXN / CD.WXN. Default false. */
  writeExecuteNever?: boolean;
}

export interface Stage2Fields {
  t0sz: number;
  sl0: number;
  /** TG0-encoded granule (VTCR_EL2.TG0, STE.S2TG). */
  tg: number;
  ps: number;
  bigEndian: boolean;
  hardwareAccessFlag: boolean;
  hardwareDirty: boolean;
  /** FEAT_XNX. Default false. */
  xnx?: boolean;
}

/** The features of the last implementation asked about: decoding a CD or STE allocates nothing. */
const lastFeatures: VmsaFeatures = { smallTables: false, largeVa: false, largePa: false };

function features(impl: VmsaImplementation): VmsaFeatures {
  const f = lastFeatures;
  f.smallTables = impl.smallTables === true;
  f.largeVa = impl.largeVa === true;
  f.largePa = impl.paBits >= 52;
  return f;
}

/** The granule a TG value selects, or why it cannot be used. */
function granule(g: GranuleLog2 | null, tg: number, field: string, impl: VmsaImplementation): GranuleLog2 | string {
  if (g === null) return `${field} ${tg} is a reserved encoding`;
  if (!(impl.granules ?? GRANULES).includes(g)) return `the ${granuleName(g)} granule is not supported`;
  return g;
}

/** Input bits for a TxSZ in [minBits, maxBits], or an error (policy 'invalid') / clamped value. */
function inputBits(txsz: number, minBits: number, maxBits: number, impl: VmsaImplementation, field: string): number | string {
  const bits = 64 - txsz;
  if (bits >= minBits && bits <= maxBits) return bits;
  if (impl.txszOutOfRange === 'clamp') return Math.min(maxBits, Math.max(minBits, bits));
  return `${field} ${txsz} is outside ${64 - maxBits}..${64 - minBits}`;
}

/**
 * A stage-1 walk configuration, or why the fields cannot be walked. With `into`, the
 * configuration is written there (every field) and `into` returned: no allocation.
 */
export function stage1WalkConfig(fields: Stage1Fields, impl: VmsaImplementation, into?: VmsaWalkConfig): VmsaWalkConfig | string {
  const g = granule(fields.tgField === 0 ? granuleFromTg0(fields.tg) : granuleFromTg1(fields.tg), fields.tg, fields.tgField === 0 ? 'TG0' : 'TG1', impl);
  if (typeof g === 'string') return g;
  const f = features(impl);
  const bits = inputBits(fields.txsz, minInputBits(g, f), maxInputBits(g, 1, f), impl, fields.tgField === 0 ? 'T0SZ' : 'T1SZ');
  if (typeof bits === 'string') return bits;
  const outputBits = effectiveOutputBits(fields.ips, impl.paBits, g, f.largePa === true);
  if (into === undefined) {
    return {
      stage: 1,
      granuleLog2: g,
      inputBits: bits,
      startLevel: initialLevel(g, bits),
      concatenated: 1,
      outputBits,
      bigEndian: fields.bigEndian,
      hardwareAccessFlag: fields.hardwareAccessFlag,
      hardwareDirty: fields.hardwareDirty,
      hierarchicalPermissionsDisabled: fields.hierarchicalPermissionsDisabled,
      largePhysicalAddresses: f.largePa === true,
      singlePrivilegeLevel: fields.singlePrivilegeLevel === true,
      writeExecuteNever: fields.writeExecuteNever === true,
    };
  }
  into.stage = 1;
  into.granuleLog2 = g;
  into.inputBits = bits;
  into.startLevel = initialLevel(g, bits);
  into.concatenated = 1;
  into.outputBits = outputBits;
  into.bigEndian = fields.bigEndian;
  into.hardwareAccessFlag = fields.hardwareAccessFlag;
  into.hardwareDirty = fields.hardwareDirty;
  into.hierarchicalPermissionsDisabled = fields.hierarchicalPermissionsDisabled;
  into.largePhysicalAddresses = f.largePa === true;
  into.singlePrivilegeLevel = fields.singlePrivilegeLevel === true;
  into.writeExecuteNever = fields.writeExecuteNever === true;
  into.xnx = false;
  return into;
}

/** A stage-2 walk configuration, or why the fields cannot be walked; `into` as for stage1WalkConfig. */
export function stage2WalkConfig(fields: Stage2Fields, impl: VmsaImplementation, into?: VmsaWalkConfig): VmsaWalkConfig | string {
  const g = granule(granuleFromTg0(fields.tg), fields.tg, 'TG', impl);
  if (typeof g === 'string') return g;
  const f = features(impl);
  const maxBits = Math.min(maxInputBits(g, 2, f), impl.maxIpaBits ?? impl.paBits);
  const bits = inputBits(fields.t0sz, minInputBits(g, f), maxBits, impl, 'T0SZ');
  if (typeof bits === 'string') return bits;
  const inconsistent = stage2ConfigError(g, bits, fields.sl0, impl.paBits, f);
  if (inconsistent !== null) return inconsistent;
  const startLevel = stage2LevelFromSl0(g, fields.sl0) as number;
  const outputBits = effectiveOutputBits(fields.ps, impl.paBits, g, f.largePa === true);
  if (into === undefined) {
    return {
      stage: 2,
      granuleLog2: g,
      inputBits: bits,
      startLevel,
      concatenated: concatenatedTables(g, bits, startLevel),
      outputBits,
      bigEndian: fields.bigEndian,
      hardwareAccessFlag: fields.hardwareAccessFlag,
      hardwareDirty: fields.hardwareDirty,
      hierarchicalPermissionsDisabled: false,
      largePhysicalAddresses: f.largePa === true,
      xnx: fields.xnx === true,
    };
  }
  into.stage = 2;
  into.granuleLog2 = g;
  into.inputBits = bits;
  into.startLevel = startLevel;
  into.concatenated = concatenatedTables(g, bits, startLevel);
  into.outputBits = outputBits;
  into.bigEndian = fields.bigEndian;
  into.hardwareAccessFlag = fields.hardwareAccessFlag;
  into.hardwareDirty = fields.hardwareDirty;
  into.hierarchicalPermissionsDisabled = false;
  into.largePhysicalAddresses = f.largePa === true;
  into.singlePrivilegeLevel = false;
  into.writeExecuteNever = false;
  into.xnx = fields.xnx === true;
  return into;
}
