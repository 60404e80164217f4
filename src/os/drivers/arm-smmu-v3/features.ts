// The identification registers as the driver uses them (IHI 0070 6.3.1 - 6.3.6), decoded in
// Linux's order (arm_smmu_device_hw_probe), with the refusals that follow: no translation
// stage, no VMSAv8-64 table format, a translation-table byte order the CPU cannot use, and
// "embedded" implementations whose tables or queues are preset.

import { decode } from '../../../formats/bitfield.js';
import { AidrLayout, Idr0Layout, Idr1Layout, Idr3Layout, Idr5Layout, IidrLayout, OAS_BITS, Reg, StallModel, StLevel, TtEndian, Ttf, Vax } from '../../../formats/smmuv3/registers.js';
import { hex } from '../../../sim/u64.js';
import type { IoMem } from '../../kernel/iomem.js';

/** Linux's STRTAB_SPLIT: a level-2 Stream table holds 2^8 STEs. */
export const STRTAB_SPLIT = 8;

export type TtEndianName = 'mixed' | 'little' | 'big';
export type StallModelName = 'stall-and-terminate' | 'terminate-only' | 'stall-forced';
export type HttuName = 'none' | 'access' | 'access-dirty';

export interface SmmuV3Features {
  readonly idr0: number;
  readonly idr1: number;
  readonly idr3: number;
  readonly idr5: number;
  readonly iidr: number;
  /** SMMUv3.<minor> from AIDR. */
  readonly archMinor: number;
  // IDR0
  readonly stage1: boolean;
  readonly stage2: boolean;
  /** 2-level Stream tables are supported (IDR0.ST_LEVEL) and worth using (SIDSIZE > STRTAB_SPLIT). */
  readonly twoLevelStreamTable: boolean;
  readonly twoLevelCdTable: boolean;
  readonly ttEndian: TtEndianName;
  readonly ats: boolean;
  readonly pri: boolean;
  readonly msi: boolean;
  readonly sev: boolean;
  readonly hyp: boolean;
  readonly httu: HttuName;
  readonly cohacc: boolean;
  readonly stallModel: StallModelName;
  readonly asidBits: 8 | 16;
  readonly vmidBits: 8 | 16;
  // IDR1
  readonly attrTypesOverride: boolean;
  readonly cmdqLog2: number;
  readonly eventqLog2: number;
  readonly priqLog2: number;
  readonly ssidBits: number;
  readonly sidBits: number;
  // IDR3
  /** Range invalidation (TLBI with NUM/SCALE/TG/TTL). */
  readonly ril: boolean;
  // IDR5
  readonly oasBits: number;
  /** Input address size of stage 2 (= OAS with VMSAv8-64 tables only; 40 at least with AArch32 tables). */
  readonly iasBits: number;
  readonly gran4K: boolean;
  readonly gran16K: boolean;
  readonly gran64K: boolean;
  /** 52-bit virtual addresses for stage 1 (IDR5.VAX). */
  readonly vax52: boolean;
}

/** Reads and decodes the ID registers; a string says why the driver cannot use this SMMU. */
export function probeFeatures(regs: IoMem, cpuBigEndian: boolean): SmmuV3Features | string {
  const idr0 = regs.read32(Reg.IDR0) >>> 0;
  const idr1 = regs.read32(Reg.IDR1) >>> 0;
  const idr3 = regs.read32(Reg.IDR3) >>> 0;
  const idr5 = regs.read32(Reg.IDR5) >>> 0;
  const iidr = regs.read32(Reg.IIDR) >>> 0;
  const aidr = decode(AidrLayout, BigInt(regs.read32(Reg.AIDR) >>> 0));
  const i0 = decode(Idr0Layout, BigInt(idr0));
  const i1 = decode(Idr1Layout, BigInt(idr1));
  const i3 = decode(Idr3Layout, BigInt(idr3));
  const i5 = decode(Idr5Layout, BigInt(idr5));

  const endian = Number(i0.TTENDIAN);
  const ttEndian: TtEndianName | null = endian === TtEndian.Mixed ? 'mixed' : endian === TtEndian.Little ? 'little' : endian === TtEndian.Big ? 'big' : null;
  if (ttEndian === null) return `IDR0.TTENDIAN holds the reserved value ${endian}`;
  // Translation tables are in the CPU's byte order (CD.ENDI / STE.S2ENDI follow it).
  if ((ttEndian === 'little' && cpuBigEndian) || (ttEndian === 'big' && !cpuBigEndian)) {
    return `the SMMU walks only ${ttEndian}-endian translation tables (IDR0.TTENDIAN) and the CPU is ${cpuBigEndian ? 'big' : 'little'}-endian`;
  }
  const stage1 = i0.S1P === 1n;
  const stage2 = i0.S2P === 1n;
  if (!stage1 && !stage2) return 'no translation support: IDR0.S1P and IDR0.S2P are both 0';
  const ttf = Number(i0.TTF);
  if (ttf !== Ttf.AArch64 && ttf !== Ttf.Both) return `IDR0.TTF ${ttf}: the VMSAv8-64 (AArch64) table format is not supported`;
  if (i1.TABLES_PRESET === 1n || i1.QUEUES_PRESET === 1n || i1.REL === 1n) {
    return `embedded implementation not supported (IDR1 ${hex(idr1)}: TABLES_PRESET, QUEUES_PRESET or REL set)`;
  }
  const stall = Number(i0.STALL_MODEL);
  const stallModel: StallModelName | null = stall === StallModel.StallAndTerminate ? 'stall-and-terminate' : stall === StallModel.TerminateOnly ? 'terminate-only' : stall === StallModel.StallForced ? 'stall-forced' : null;
  if (stallModel === null) return `IDR0.STALL_MODEL holds the reserved value ${stall}`;
  const httu = Number(i0.HTTU);
  const oasField = Number(i5.OAS);
  // Linux treats an unknown OAS encoding as 48 bits.
  const oasBits = oasField < OAS_BITS.length && OAS_BITS[oasField] <= 52 ? OAS_BITS[oasField] : 48;
  const sidBits = Number(i1.SIDSIZE);
  const gran4K = i5.GRAN4K === 1n;
  const gran16K = i5.GRAN16K === 1n;
  const gran64K = i5.GRAN64K === 1n;
  if (!gran4K && !gran16K && !gran64K) return 'IDR5 advertises no translation granule';
  return {
    idr0,
    idr1,
    idr3,
    idr5,
    iidr,
    archMinor: Number(aidr.ArchMinorRev),
    stage1,
    stage2,
    twoLevelStreamTable: Number(i0.ST_LEVEL) === StLevel.TwoLevel && sidBits > STRTAB_SPLIT,
    twoLevelCdTable: i0.CD2L === 1n,
    ttEndian,
    ats: i0.ATS === 1n,
    pri: i0.PRI === 1n,
    msi: i0.MSI === 1n,
    sev: i0.SEV === 1n,
    hyp: i0.HYP === 1n,
    httu: httu === 0 ? 'none' : httu === 1 ? 'access' : 'access-dirty',
    cohacc: i0.COHACC === 1n,
    stallModel,
    asidBits: i0.ASID16 === 1n ? 16 : 8,
    vmidBits: i0.VMID16 === 1n ? 16 : 8,
    attrTypesOverride: i1.ATTR_TYPES_OVR === 1n,
    cmdqLog2: Number(i1.CMDQS),
    eventqLog2: Number(i1.EVENTQS),
    priqLog2: Number(i1.PRIQS),
    ssidBits: Number(i1.SSIDSIZE),
    sidBits,
    ril: i3.RIL === 1n,
    oasBits,
    iasBits: Math.max(ttf === Ttf.Both ? 40 : 0, oasBits),
    gran4K,
    gran16K,
    gran64K,
    vax52: Number(i5.VAX) === Vax.Va52,
  };
}

/** log2 of the translation granule of new domains: the CPU's 4 KiB when the SMMU has it, else the next larger. */
export function domainGranule(f: SmmuV3Features): 12 | 14 | 16 {
  return f.gran4K ? 12 : f.gran16K ? 14 : 16;
}

/** A one-line summary for the boot log. */
export function describeFeatures(f: SmmuV3Features): string {
  const iidr = decode(IidrLayout, BigInt(f.iidr));
  const stages = [f.stage1 && 'S1', f.stage2 && 'S2'].filter((s) => s !== false).join('+');
  const grans = [f.gran4K && '4K', f.gran16K && '16K', f.gran64K && '64K'].filter((g) => g !== false).join('/');
  const flags = [f.ats && 'ATS', f.pri && 'PRI', f.msi && 'MSI', f.sev && 'SEV', f.hyp && 'HYP', f.ril && 'RIL', f.cohacc && 'COHACC', f.twoLevelCdTable && 'CD2L', f.vax52 && 'VAX52', f.httu !== 'none' && `HTTU ${f.httu}`].filter((x) => x !== false);
  return (
    `SMMUv3.${f.archMinor} (implementer ${hex(Number(iidr.Implementer), 3)}, product ${hex(Number(iidr.ProductID), 3)}), ${stages}, ` +
    `${f.sidBits}-bit StreamIDs, ${f.ssidBits}-bit SubstreamIDs, ${f.asidBits}-bit ASIDs, ${f.vmidBits}-bit VMIDs, OAS ${f.oasBits}, granules ${grans}, ` +
    `stall model ${f.stallModel}${flags.length > 0 ? `, ${flags.join(' ')}` : ''}`
  );
}
