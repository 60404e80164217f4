// The capabilities register as the driver uses it (specification "capabilities"), and the
// choices that follow from it: the first-stage paging mode for new domains.

import { decode } from '../../../formats/bitfield.js';
import { CapabilitiesLayout, Igs } from '../../../formats/riscv-iommu/registers.js';
import type { RiscvPgtableModeName } from '../../io-pgtable/riscv.js';

export type IgsName = 'MSI' | 'WSI' | 'BOTH' | 'reserved';

export interface RiscvIommuCaps {
  readonly raw: bigint;
  /** Major version in bits 7:4, minor in 3:0 (0x10 is 1.0). */
  readonly version: number;
  readonly sv39: boolean;
  readonly sv48: boolean;
  readonly sv57: boolean;
  readonly svpbmt: boolean;
  readonly amoHwad: boolean;
  /** MSI page tables: device contexts are in the extended (64-byte) format. */
  readonly msiFlat: boolean;
  readonly ats: boolean;
  /** Both endiannesses are supported (fctl.BE is writable). */
  readonly end: boolean;
  readonly igs: IgsName;
  readonly hpm: boolean;
  readonly dbg: boolean;
  /** Physical address size in bits. */
  readonly pas: number;
  readonly nl: boolean;
  readonly s: boolean;
}

export function decodeCapabilities(raw: bigint): RiscvIommuCaps {
  const c = decode(CapabilitiesLayout, raw);
  const igs = Number(c.IGS);
  return {
    raw,
    version: Number(c.version),
    sv39: c.Sv39 === 1n,
    sv48: c.Sv48 === 1n,
    sv57: c.Sv57 === 1n,
    svpbmt: c.Svpbmt === 1n,
    amoHwad: c.AMO_HWAD === 1n,
    msiFlat: c.MSI_FLAT === 1n,
    ats: c.ATS === 1n,
    end: c.END === 1n,
    igs: igs === Igs.MSI ? 'MSI' : igs === Igs.WSI ? 'WSI' : igs === Igs.BOTH ? 'BOTH' : 'reserved',
    hpm: c.HPM === 1n,
    dbg: c.DBG === 1n,
    pas: Number(c.PAS),
    nl: c.NL === 1n,
    s: c.S === 1n,
  };
}

/** The widest first-stage mode the IOMMU offers (Linux: Sv57, then Sv48, then Sv39). */
export function firstStageMode(caps: RiscvIommuCaps): RiscvPgtableModeName | null {
  if (caps.sv57) return 'Sv57';
  if (caps.sv48) return 'Sv48';
  if (caps.sv39) return 'Sv39';
  return null;
}

/** A one-line summary for the boot log. */
export function describeCapabilities(caps: RiscvIommuCaps): string {
  const modes = [caps.sv39 && 'Sv39', caps.sv48 && 'Sv48', caps.sv57 && 'Sv57'].filter((m) => m !== false).join('/') || 'no first stage';
  const features = [caps.amoHwad && 'AMO_HWAD', caps.ats && 'ATS', caps.msiFlat && 'MSI_FLAT', caps.end && 'END', caps.hpm && 'HPM', caps.nl && 'NL', caps.s && 'S'].filter((f) => f !== false);
  return `version ${caps.version >> 4}.${caps.version & 0xf}, ${modes}, IGS ${caps.igs}, PAS ${caps.pas}${features.length > 0 ? `, ${features.join(' ')}` : ''}`;
}
