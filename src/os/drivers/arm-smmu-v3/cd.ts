// Context Descriptors the driver writes (IHI 0070 5.4), after Linux's arm_smmu_make_s1_cd: a
// stage-1 VMSAv8-64 table in TTB0 (TTB1 disabled by EPD1), its TCR-like fields, the MAIR, the
// ASID, and the fault configuration (R: record, A: abort, ASET: shared ASID set); and the bits
// the SMMU uses in a CD (Linux arm_smmu_get_cd_used).

import { fieldMask } from '../../../formats/bitfield.js';
import { CdLayout, CD_DWORDS, encodeCd, toDwords } from '../../../formats/smmuv3/structures.js';
import type { ArmLpaeTranslationControl } from '../../io-pgtable/arm-lpae.js';

export interface S1CdOptions {
  asid: number;
  /** Root of the stage-1 table (TTB0) and its TCR-like controls. */
  root: bigint;
  control: ArmLpaeTranslationControl;
  bigEndian: boolean;
  /** Faults stall (the stall model forces it). */
  stall: boolean;
}

export function s1Cd(o: S1CdOptions): bigint[] {
  const c = o.control;
  const mair = c.mair ?? 0n;
  return encodeCd({
    T0SZ: c.t0sz,
    TG0: c.tg0,
    IR0: c.irgn0,
    OR0: c.orgn0,
    SH0: c.sh0,
    ENDI: o.bigEndian,
    EPD1: 1,
    V: 1,
    IPS: c.ps,
    AA64: 1,
    S: o.stall,
    R: 1,
    A: 1,
    ASET: 1,
    ASID: o.asid,
    TTB0: o.root >> 4n,
    MAIR0: mair & 0xffff_ffffn,
    MAIR1: mair >> 32n,
  });
}

/** An invalid CD (every field zero). */
export function clearCd(): bigint[] {
  return toDwords(0n, CD_DWORDS);
}

const ALL = 0xffff_ffff_ffff_ffffn;
const TTB0_UNUSED = toDwords(fieldMask(CdLayout.T0SZ) | fieldMask(CdLayout.TG0) | fieldMask(CdLayout.IR0) | fieldMask(CdLayout.OR0) | fieldMask(CdLayout.SH0) | fieldMask(CdLayout.TTB0), CD_DWORDS);
const V = fieldMask(CdLayout.V);
const EPD0 = fieldMask(CdLayout.EPD0);

/** The bits of `cd` the SMMU uses: V alone in an invalid CD; everything but the TTB0 fields when EPD0 disables them. */
export function cdUsed(cd: readonly bigint[]): bigint[] {
  const used = new Array<bigint>(CD_DWORDS).fill(0n);
  if ((cd[0] & V) === 0n) {
    used[0] = V;
    return used;
  }
  used.fill(ALL);
  if ((cd[0] & EPD0) !== 0n) for (let i = 0; i < CD_DWORDS; i++) used[i] = ALL & ~TTB0_UNUSED[i];
  return used;
}
