// RISC-V IOMMU memory-mapped register file (RISC-V IOMMU Architecture Specification v1.0,
// chapter "Memory-mapped register interface"): offsets, widths and field layouts.

import { bits, type Layout } from '../bitfield.js';

/** Register offsets from the base of the IOMMU's 4 KiB register page. */
export const Reg = {
  capabilities: 0,
  fctl: 8,
  ddtp: 16,
  cqb: 24,
  cqh: 32,
  cqt: 36,
  fqb: 40,
  fqh: 48,
  fqt: 52,
  pqb: 56,
  pqh: 64,
  pqt: 68,
  cqcsr: 72,
  fqcsr: 76,
  pqcsr: 80,
  ipsr: 84,
  iocountovf: 88,
  iocountinh: 92,
  iohpmcycles: 96,
  iohpmctr1: 104, // iohpmctr1..31 at 104 + 8*(n-1)
  iohpmevt1: 352, // iohpmevt1..31 at 352 + 8*(n-1)
  tr_req_iova: 600,
  tr_req_ctl: 608,
  tr_response: 616,
  iommu_qosid: 624,
  reserved: 628, // 628..687 reserved for future standard use
  custom: 688, // 688..759 designated for custom use
  icvec: 760,
  msi_cfg_tbl: 768, // 16 entries of 16 bytes: addr (8), data (4), vector control (4)
  end: 1024, // 1024..4095 reserved for standard use
} as const;

export const REGISTER_PAGE_SIZE = 4096;

export function iohpmctrOffset(n: number): number {
  return Reg.iohpmctr1 + 8 * (n - 1);
}
export function iohpmevtOffset(n: number): number {
  return Reg.iohpmevt1 + 8 * (n - 1);
}
export function msiAddrOffset(vector: number): number {
  return Reg.msi_cfg_tbl + 16 * vector;
}
export function msiDataOffset(vector: number): number {
  return Reg.msi_cfg_tbl + 16 * vector + 8;
}
export function msiVecCtlOffset(vector: number): number {
  return Reg.msi_cfg_tbl + 16 * vector + 12;
}

/** One named register and its width in bytes, for tools that print the register file. */
export interface RegisterInfo {
  readonly name: string;
  readonly offset: number;
  readonly size: 4 | 8;
}

/** Every architected register, in offset order. */
export const REGISTERS: readonly RegisterInfo[] = (() => {
  const list: RegisterInfo[] = [
    { name: 'capabilities', offset: Reg.capabilities, size: 8 },
    { name: 'fctl', offset: Reg.fctl, size: 4 },
    { name: 'ddtp', offset: Reg.ddtp, size: 8 },
    { name: 'cqb', offset: Reg.cqb, size: 8 },
    { name: 'cqh', offset: Reg.cqh, size: 4 },
    { name: 'cqt', offset: Reg.cqt, size: 4 },
    { name: 'fqb', offset: Reg.fqb, size: 8 },
    { name: 'fqh', offset: Reg.fqh, size: 4 },
    { name: 'fqt', offset: Reg.fqt, size: 4 },
    { name: 'pqb', offset: Reg.pqb, size: 8 },
    { name: 'pqh', offset: Reg.pqh, size: 4 },
    { name: 'pqt', offset: Reg.pqt, size: 4 },
    { name: 'cqcsr', offset: Reg.cqcsr, size: 4 },
    { name: 'fqcsr', offset: Reg.fqcsr, size: 4 },
    { name: 'pqcsr', offset: Reg.pqcsr, size: 4 },
    { name: 'ipsr', offset: Reg.ipsr, size: 4 },
    { name: 'iocountovf', offset: Reg.iocountovf, size: 4 },
    { name: 'iocountinh', offset: Reg.iocountinh, size: 4 },
    { name: 'iohpmcycles', offset: Reg.iohpmcycles, size: 8 },
  ];
  for (let n = 1; n <= 31; n++) list.push({ name: `iohpmctr${n}`, offset: iohpmctrOffset(n), size: 8 });
  for (let n = 1; n <= 31; n++) list.push({ name: `iohpmevt${n}`, offset: iohpmevtOffset(n), size: 8 });
  list.push(
    { name: 'tr_req_iova', offset: Reg.tr_req_iova, size: 8 },
    { name: 'tr_req_ctl', offset: Reg.tr_req_ctl, size: 8 },
    { name: 'tr_response', offset: Reg.tr_response, size: 8 },
    { name: 'iommu_qosid', offset: Reg.iommu_qosid, size: 4 },
    { name: 'icvec', offset: Reg.icvec, size: 8 },
  );
  for (let v = 0; v < 16; v++) {
    list.push(
      { name: `msi_addr_${v}`, offset: msiAddrOffset(v), size: 8 },
      { name: `msi_data_${v}`, offset: msiDataOffset(v), size: 4 },
      { name: `msi_vec_ctl_${v}`, offset: msiVecCtlOffset(v), size: 4 },
    );
  }
  return list;
})();

export const CapabilitiesLayout = {
  version: bits(0, 8),
  Sv32: bits(8),
  Sv39: bits(9),
  Sv48: bits(10),
  Sv57: bits(11),
  Svrsw60t59b: bits(14),
  Svpbmt: bits(15),
  Sv32x4: bits(16),
  Sv39x4: bits(17),
  Sv48x4: bits(18),
  Sv57x4: bits(19),
  AMO_MRIF: bits(21),
  MSI_FLAT: bits(22),
  MSI_MRIF: bits(23),
  AMO_HWAD: bits(24),
  ATS: bits(25),
  T2GPA: bits(26),
  END: bits(27),
  IGS: bits(28, 2),
  HPM: bits(30),
  DBG: bits(31),
  PAS: bits(32, 6),
  PD8: bits(38),
  PD17: bits(39),
  PD20: bits(40),
  QOSID: bits(41),
  NL: bits(42),
  S: bits(43),
  custom: bits(56, 8),
} as const satisfies Layout;

/** capabilities.IGS encodings. */
export const Igs = { MSI: 0, WSI: 1, BOTH: 2 } as const;
export type IgsName = keyof typeof Igs;

/** The version this model implements: major 1, minor 0. */
export const SPEC_VERSION = 0x10;

export const FctlLayout = {
  BE: bits(0),
  WSI: bits(1),
  GXL: bits(2),
  custom: bits(16, 16),
} as const satisfies Layout;

export const DdtpLayout = {
  iommu_mode: bits(0, 4),
  busy: bits(4),
  PPN: bits(10, 44),
} as const satisfies Layout;

/** ddtp.iommu_mode encodings. */
export const IommuMode = { Off: 0, Bare: 1, Lvl1: 2, Lvl2: 3, Lvl3: 4 } as const;
export type IommuModeValue = (typeof IommuMode)[keyof typeof IommuMode];
export const IOMMU_MODE_NAMES: Readonly<Record<number, string>> = { 0: 'Off', 1: 'Bare', 2: '1LVL', 3: '2LVL', 4: '3LVL' };

/** cqb, fqb and pqb share one layout. */
export const QueueBaseLayout = {
  LOG2SZ_1: bits(0, 5),
  PPN: bits(10, 44),
} as const satisfies Layout;

export const CqcsrLayout = {
  cqen: bits(0),
  cie: bits(1),
  cqmf: bits(8),
  cmd_to: bits(9),
  cmd_ill: bits(10),
  fence_w_ip: bits(11),
  cqon: bits(16),
  busy: bits(17),
} as const satisfies Layout;

export const FqcsrLayout = {
  fqen: bits(0),
  fie: bits(1),
  fqmf: bits(8),
  fqof: bits(9),
  fqon: bits(16),
  busy: bits(17),
} as const satisfies Layout;

export const PqcsrLayout = {
  pqen: bits(0),
  pie: bits(1),
  pqmf: bits(8),
  pqof: bits(9),
  pqon: bits(16),
  busy: bits(17),
} as const satisfies Layout;

export const IpsrLayout = {
  cip: bits(0),
  fip: bits(1),
  pmip: bits(2),
  pip: bits(3),
} as const satisfies Layout;

/** Interrupt causes, as indices of ipsr bits and icvec fields. */
export const InterruptCause = { CQ: 0, FQ: 1, HPM: 2, PQ: 3 } as const;
export type InterruptCauseValue = (typeof InterruptCause)[keyof typeof InterruptCause];

export const IcvecLayout = {
  civ: bits(0, 4),
  fiv: bits(4, 4),
  pmiv: bits(8, 4),
  piv: bits(12, 4),
} as const satisfies Layout;

export const IohpmcyclesLayout = {
  counter: bits(0, 63),
  OF: bits(63),
} as const satisfies Layout;

export const IohpmevtLayout = {
  eventID: bits(0, 15),
  DMASK: bits(15),
  PID_PSCID: bits(16, 20),
  DID_GSCID: bits(36, 24),
  PV_PSCV: bits(60),
  DV_GSCV: bits(61),
  IDT: bits(62),
  OF: bits(63),
} as const satisfies Layout;

export const TrReqIovaLayout = {
  vpn: bits(12, 52),
} as const satisfies Layout;

export const TrReqCtlLayout = {
  Go_Busy: bits(0),
  Priv: bits(1),
  Exe: bits(2),
  NW: bits(3),
  PID: bits(12, 20),
  PV: bits(32),
  custom: bits(36, 4),
  DID: bits(40, 24),
} as const satisfies Layout;

export const TrResponseLayout = {
  fault: bits(0),
  PBMT: bits(7, 2),
  S: bits(9),
  PPN: bits(10, 44),
  custom: bits(60, 4),
} as const satisfies Layout;

export const IommuQosidLayout = {
  RCID: bits(0, 12),
  MCID: bits(16, 12),
} as const satisfies Layout;

export const MsiAddrLayout = {
  ADDR: bits(2, 54),
} as const satisfies Layout;

export const MsiVecCtlLayout = {
  M: bits(0),
} as const satisfies Layout;
