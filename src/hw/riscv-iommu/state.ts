// Architectural state shared by the units of the model: the capabilities as plain fields
// (read on hot paths), and the global control registers fctl, ddtp and iommu_qosid.

import { CapabilitiesLayout, Igs, SPEC_VERSION } from '../../formats/riscv-iommu/registers.js';
import { encode } from '../../formats/bitfield.js';
import type { RiscvIommuParameters } from './parameters.js';

export class IommuState {
  // capabilities, decoded
  readonly sv32: boolean;
  readonly sv39: boolean;
  readonly sv48: boolean;
  readonly sv57: boolean;
  readonly sv32x4: boolean;
  readonly sv39x4: boolean;
  readonly sv48x4: boolean;
  readonly sv57x4: boolean;
  readonly svpbmt: boolean;
  readonly svrsw60t59b: boolean;
  readonly amoHwad: boolean;
  readonly amoMrif: boolean;
  readonly msiFlat: boolean;
  readonly msiMrif: boolean;
  readonly ats: boolean;
  readonly t2gpa: boolean;
  readonly bothEndian: boolean;
  readonly igs: number;
  readonly hpm: boolean;
  readonly dbg: boolean;
  readonly pas: number;
  readonly pd8: boolean;
  readonly pd17: boolean;
  readonly pd20: boolean;
  readonly qosid: boolean;
  readonly nl: boolean;
  readonly rangeInval: boolean;
  /** The capabilities register value. */
  readonly capabilities: bigint;
  /** Physical page numbers at or above this are outside the physical address space. */
  readonly ppnLimit: number;
  /** Width of guest physical addresses, for MSI address mask/pattern checks (MGPAW). */
  readonly mgpaw: number;
  /** Bits of the MSI address mask and pattern that MGPAW allows, as 32-bit halves. */
  readonly msiFieldMaskLo: number;
  readonly msiFieldMaskHi: number;
  /** Device-id bits indexing the leaf directory level: 6 with extended (64-byte) contexts, else 7. */
  readonly ddtLeafBits: number;

  // fctl
  be = false;
  wsi = false;
  gxl = false;

  // ddtp
  mode = 0;
  ddtPpn = 0;
  ddtpBusy = false;

  // iommu_qosid
  rcid = 0;
  mcid = 0;

  constructor(readonly params: RiscvIommuParameters) {
    const c = params.capabilities;
    this.sv32 = c.Sv32;
    this.sv39 = c.Sv39;
    this.sv48 = c.Sv48;
    this.sv57 = c.Sv57;
    this.sv32x4 = c.Sv32x4;
    this.sv39x4 = c.Sv39x4;
    this.sv48x4 = c.Sv48x4;
    this.sv57x4 = c.Sv57x4;
    this.svpbmt = c.Svpbmt;
    this.svrsw60t59b = c.Svrsw60t59b;
    this.amoHwad = c.AMO_HWAD;
    this.amoMrif = c.AMO_MRIF;
    this.msiFlat = c.MSI_FLAT;
    this.msiMrif = c.MSI_MRIF;
    this.ats = c.ATS;
    this.t2gpa = c.T2GPA;
    this.bothEndian = c.END;
    this.igs = Igs[c.IGS];
    this.hpm = c.HPM;
    this.dbg = c.DBG;
    this.pas = c.PAS;
    this.pd8 = c.PD8;
    this.pd17 = c.PD17;
    this.pd20 = c.PD20;
    this.qosid = c.QOSID;
    this.nl = c.NL;
    this.rangeInval = c.S;
    this.ppnLimit = 2 ** (c.PAS - 12);
    this.mgpaw = c.Sv57x4 ? 59 : c.Sv48x4 ? 50 : c.Sv39x4 ? 41 : c.Sv32x4 ? 34 : c.PAS;
    const fieldBits = Math.min(52, this.mgpaw - 12);
    this.msiFieldMaskLo = fieldBits >= 32 ? 0xffffffff : (2 ** fieldBits - 1) >>> 0;
    this.msiFieldMaskHi = fieldBits <= 32 ? 0 : (2 ** (fieldBits - 32) - 1) >>> 0;
    this.ddtLeafBits = c.MSI_FLAT ? 6 : 7;
    this.capabilities = encode(CapabilitiesLayout, {
      version: SPEC_VERSION,
      Sv32: c.Sv32,
      Sv39: c.Sv39,
      Sv48: c.Sv48,
      Sv57: c.Sv57,
      Svrsw60t59b: c.Svrsw60t59b,
      Svpbmt: c.Svpbmt,
      Sv32x4: c.Sv32x4,
      Sv39x4: c.Sv39x4,
      Sv48x4: c.Sv48x4,
      Sv57x4: c.Sv57x4,
      AMO_MRIF: c.AMO_MRIF,
      MSI_FLAT: c.MSI_FLAT,
      MSI_MRIF: c.MSI_MRIF,
      AMO_HWAD: c.AMO_HWAD,
      ATS: c.ATS,
      T2GPA: c.T2GPA,
      END: c.END,
      IGS: Igs[c.IGS],
      HPM: c.HPM,
      DBG: c.DBG,
      PAS: c.PAS,
      PD8: c.PD8,
      PD17: c.PD17,
      PD20: c.PD20,
      QOSID: c.QOSID,
      NL: c.NL,
      S: c.S,
    });
    this.reset();
  }

  reset(): void {
    const p = this.params;
    this.be = p.bigEndianAtReset;
    this.wsi = p.capabilities.IGS === 'WSI';
    this.gxl = p.gxlAtReset;
    this.mode = p.resetMode === 'Bare' ? 1 : 0;
    this.ddtPpn = 0;
    this.ddtpBusy = false;
    this.rcid = 0;
    this.mcid = 0;
  }

  /** Whether `did` is narrow enough for the directory mode (1LVL and 2LVL index fewer bits). */
  deviceIdFits(did: number): boolean {
    if (this.mode === 2) return did < 1 << this.ddtLeafBits;
    if (this.mode === 3) return did < 1 << (this.ddtLeafBits + 9);
    return true;
  }

  /** Whether physical page `ppn` lies inside the physical address space (capabilities.PAS). */
  inPas(ppn: number): boolean {
    return ppn < this.ppnLimit;
  }
}
