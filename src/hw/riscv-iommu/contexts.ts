// Device contexts and process contexts, decoded from memory and checked exactly as the
// specification lists ("Device-context configuration checks", "Process-context configuration
// checks"). A decoded context is what the directory caches hold.

import { smallPage } from './page-number.js';
import { GEOMETRY, type ModeGeometry } from './page-walk.js';
import type { IommuState } from './state.js';

/** Words of a context as read from memory, from some index on: [lo0, hi0, lo1, hi1, ...], endian-corrected. */
export type ContextWords = Uint32Array;

export class DeviceContext {
  // tc
  enAts = false;
  enPri = false;
  t2gpa = false;
  dtf = false;
  pdtv = false;
  prpr = false;
  gade = false;
  sade = false;
  dpe = false;
  sbe = false;
  sxl = false;
  // iohgatp
  gMode = 0;
  gPpn = 0;
  gscid = 0;
  // ta
  pscid = 0;
  rcid = 0;
  mcid = 0;
  // fsc: iosatp (PDTV=0) or pdtp (PDTV=1)
  fscMode = 0;
  fscPpn = 0;
  // MSI (extended format)
  msiMode = 0;
  msiPpn = 0;
  /** MSI address mask and pattern (guest page-number bit positions), as 32-bit halves. */
  msiMaskLo = 0;
  msiMaskHi = 0;
  msiPatternLo = 0;
  msiPatternHi = 0;
  // derived
  /** Second-stage geometry, or null when iohgatp.MODE is Bare. */
  g: ModeGeometry | null = null;
  /** First-stage geometry from DC.fsc when PDTV=0, or null when Bare. */
  s: ModeGeometry | null = null;
}

export class ProcessContext {
  ens = false;
  sum = false;
  pscid = 0;
  fscMode = 0;
  fscPpn = 0;
  s: ModeGeometry | null = null;
}

const PPN_HI_MASK = 0xfff; // PPN[43:32] sits in bits 11:0 of a field's high word

/**
 * The PPN of a field from its low word and the PPN bits of its high word (hi & PPN_HI_MASK:
 * callers mask, so that a high word with bit 31 set is not passed, which V8 would box).
 */
function ppnOf(lo: number, hiPpnBits: number): number {
  return hiPpnBits === 0 ? smallPage(lo >>> 0) : hiPpnBits * 4294967296 + (lo >>> 0);
}

/** First-stage geometry for an iosatp/fsc MODE under SXL, or undefined if the encoding is invalid. */
export function firstStageGeometry(mode: number, sxl: boolean): ModeGeometry | null | undefined {
  if (mode === 0) return null;
  if (sxl) return mode === 8 ? GEOMETRY.Sv32 : undefined;
  return mode === 8 ? GEOMETRY.Sv39 : mode === 9 ? GEOMETRY.Sv48 : mode === 10 ? GEOMETRY.Sv57 : undefined;
}

/** Second-stage geometry for an iohgatp MODE under GXL, or undefined if the encoding is invalid. */
export function secondStageGeometry(mode: number, gxl: boolean): ModeGeometry | null | undefined {
  if (mode === 0) return null;
  if (gxl) return mode === 8 ? GEOMETRY.Sv32x4 : undefined;
  return mode === 8 ? GEOMETRY.Sv39x4 : mode === 9 ? GEOMETRY.Sv48x4 : mode === 10 ? GEOMETRY.Sv57x4 : undefined;
}

function firstStageSupported(s: IommuState, g: ModeGeometry): boolean {
  return g === GEOMETRY.Sv32 ? s.sv32 : g === GEOMETRY.Sv39 ? s.sv39 : g === GEOMETRY.Sv48 ? s.sv48 : s.sv57;
}

function secondStageSupported(s: IommuState, g: ModeGeometry): boolean {
  return g === GEOMETRY.Sv32x4 ? s.sv32x4 : g === GEOMETRY.Sv39x4 ? s.sv39x4 : g === GEOMETRY.Sv48x4 ? s.sv48x4 : s.sv57x4;
}

/**
 * Decodes a device context (4 doublewords in base format, 8 in extended format, at w[at...])
 * into `dc` (every field is written) and applies the configuration checks. Returns `dc`, or
 * null when the context is misconfigured (cause 259). The caller has already checked DC.tc.V.
 */
export function decodeDeviceContext(w: ContextWords, at: number, st: IommuState, dc: DeviceContext = new DeviceContext()): DeviceContext | null {
  const p = st.params;
  const extended = st.msiFlat;
  const tcLo = w[at];
  const tcHi = w[at + 1];
  const gLo = w[at + 2];
  const gHi = w[at + 3];
  const taLo = w[at + 4];
  const taHi = w[at + 5];
  const fscLo = w[at + 6];
  const fscHi = w[at + 7];

  // 1. Reserved bits: tc[23:12], tc[63:32] (tc[31:24] is custom and ignored), ta[11:0],
  //    ta[39:32], fsc[59:44], and in the extended format msiptp[59:44], the upper bits of
  //    the MSI mask and pattern (bits 63:52, and 51:MGPAW-12), and the last doubleword.
  if ((tcLo & 0x00fff000) !== 0 || tcHi !== 0) return null;
  if ((taLo & 0xfff) !== 0 || (taHi & 0xff) !== 0) return null;
  if ((fscHi & 0x0ffff000) !== 0) return null;
  if (extended) {
    if ((w[at + 9] & 0x0ffff000) !== 0) return null;
    const loMask = st.msiFieldMaskLo;
    const hiMask = st.msiFieldMaskHi;
    if ((w[at + 10] & ~loMask) !== 0 || (w[at + 12] & ~loMask) !== 0 || (w[at + 11] & ~hiMask) !== 0 || (w[at + 13] & ~hiMask) !== 0) return null;
    if (w[at + 14] !== 0 || w[at + 15] !== 0) return null;
  }

  dc.enAts = (tcLo & 0x2) !== 0;
  dc.enPri = (tcLo & 0x4) !== 0;
  dc.t2gpa = (tcLo & 0x8) !== 0;
  dc.dtf = (tcLo & 0x10) !== 0;
  dc.pdtv = (tcLo & 0x20) !== 0;
  dc.prpr = (tcLo & 0x40) !== 0;
  dc.gade = (tcLo & 0x80) !== 0;
  dc.sade = (tcLo & 0x100) !== 0;
  dc.dpe = (tcLo & 0x200) !== 0;
  dc.sbe = (tcLo & 0x400) !== 0;
  dc.sxl = (tcLo & 0x800) !== 0;
  dc.gPpn = ppnOf(gLo, gHi & PPN_HI_MASK);
  dc.gscid = (gHi >>> 12) & 0xffff;
  dc.gMode = gHi >>> 28;
  dc.pscid = taLo >>> 12;
  dc.rcid = (taHi >>> 8) & 0xfff;
  dc.mcid = taHi >>> 20;
  dc.fscPpn = ppnOf(fscLo, fscHi & PPN_HI_MASK);
  dc.fscMode = fscHi >>> 28;
  if (extended) {
    dc.msiPpn = ppnOf(w[at + 8], w[at + 9] & PPN_HI_MASK);
    dc.msiMode = w[at + 9] >>> 28;
    dc.msiMaskLo = w[at + 10];
    dc.msiMaskHi = w[at + 11];
    dc.msiPatternLo = w[at + 12];
    dc.msiPatternHi = w[at + 13];
  } else {
    dc.msiPpn = dc.msiMode = dc.msiMaskLo = dc.msiMaskHi = dc.msiPatternLo = dc.msiPatternHi = 0;
  }

  // QoS IDs are reserved without the extension, and may not exceed the implemented widths.
  if (!st.qosid && (dc.rcid !== 0 || dc.mcid !== 0)) return null;
  if (st.qosid && (dc.rcid >= 2 ** p.rcidBits || dc.mcid >= 2 ** p.mcidBits)) return null;
  // 2-7. ATS, PRI, PRPR and T2GPA dependencies.
  if (!st.ats && (dc.enAts || dc.enPri || dc.prpr)) return null;
  if (!dc.enAts && (dc.t2gpa || dc.enPri)) return null;
  if (!dc.enPri && dc.prpr) return null;
  if (!st.t2gpa && dc.t2gpa) return null;
  if (dc.t2gpa && dc.gMode === 0) return null;
  // 8. Process-directory mode.
  if (dc.pdtv) {
    dc.s = null; // the first stage comes from the process context
    const m = dc.fscMode;
    if (m > 3) return null;
    if ((m === 1 && !st.pd8) || (m === 2 && !st.pd17) || (m === 3 && !st.pd20)) return null;
  } else {
    // 9-11. iosatp encoding and support under SXL; 12. DPE needs PDTV.
    const g = firstStageGeometry(dc.fscMode, dc.sxl);
    if (g === undefined) return null;
    if (g !== null && !firstStageSupported(st, g)) return null;
    dc.s = g;
    if (dc.dpe) return null;
  }
  // 13-15. iohgatp encoding and support under GXL.
  const g = secondStageGeometry(dc.gMode, st.gxl);
  if (g === undefined) return null;
  if (g !== null && !secondStageSupported(st, g)) return null;
  dc.g = g;
  // 16. MSI page-table mode.
  if (extended && dc.msiMode !== 0 && dc.msiMode !== 1) return null;
  // 17. The second-stage root table is 16 KiB and 16 KiB aligned.
  if (dc.gMode !== 0 && (gLo & 3) !== 0) return null; // gPpn % 4, from the PPN's low word
  // 18. Hardware A/D updating needs AMO_HWAD.
  if (!st.amoHwad && (dc.sade || dc.gade)) return null;
  // 19, 21. SBE must match fctl.BE unless both endiannesses are supported.
  if (!st.bothEndian && dc.sbe !== st.be) return null;
  // 20. SXL legality: GXL=1 forces SXL=1; a hard-wired GXL=0 forces SXL=0.
  if (st.gxl && !dc.sxl) return null;
  if (!st.gxl && !p.gxlWritable && dc.sxl) return null;
  // Reserved setting the specification recommends to report: MSI translation without a second stage.
  if (extended && dc.gMode === 0 && dc.msiMode !== 0) return null;
  return dc;
}

/**
 * Decodes a process context (2 doublewords at w[at...]) into `pc` (every field is written) and
 * checks it; null when it is misconfigured (cause 267). The caller checked PC.ta.V.
 */
export function decodeProcessContext(w: ContextWords, at: number, dc: DeviceContext, st: IommuState, pc: ProcessContext = new ProcessContext()): ProcessContext | null {
  const taLo = w[at];
  const taHi = w[at + 1];
  const fscLo = w[at + 2];
  const fscHi = w[at + 3];
  if ((taLo & 0xff8) !== 0 || taHi !== 0) return null;
  if ((fscHi & 0x0ffff000) !== 0) return null;
  pc.ens = (taLo & 2) !== 0;
  pc.sum = (taLo & 4) !== 0;
  pc.pscid = taLo >>> 12;
  pc.fscPpn = ppnOf(fscLo, fscHi & PPN_HI_MASK);
  pc.fscMode = fscHi >>> 28;
  const g = firstStageGeometry(pc.fscMode, dc.sxl);
  if (g === undefined) return null;
  if (g !== null && !firstStageSupported(st, g)) return null;
  pc.s = g;
  return pc;
}
