// Command-queue commands (specification section "Command-Queue (CQ)"): 16 bytes, two
// doublewords. opcode in bits 6:0 and func3 in bits 9:7 of the first doubleword.

import { bits, encode, extract, type Layout } from '../bitfield.js';

export const COMMAND_SIZE = 16;

export const Opcode = { IOTINVAL: 1, IOFENCE: 2, IODIR: 3, ATS: 4 } as const;
export const IotinvalFunc = { VMA: 0, GVMA: 1 } as const;
export const IofenceFunc = { C: 0 } as const;
export const IodirFunc = { INVAL_DDT: 0, INVAL_PDT: 1 } as const;
export const AtsFunc = { INVAL: 0, PRGR: 1 } as const;

export const CommandHeaderLayout = {
  opcode: bits(0, 7),
  func3: bits(7, 3),
} as const satisfies Layout;

/** IOTINVAL.VMA / IOTINVAL.GVMA, first doubleword. */
export const IotinvalWord0 = {
  opcode: bits(0, 7),
  func3: bits(7, 3),
  AV: bits(10),
  PSCID: bits(12, 20),
  PSCV: bits(32),
  GV: bits(33),
  NL: bits(34), // non-leaf PTE invalidation extension (capabilities.NL)
  GSCID: bits(44, 16),
} as const satisfies Layout;

/** IOTINVAL second doubleword: S (address-range extension) at bit 9, ADDR[63:12] at 61:10. */
export const IotinvalWord1 = {
  S: bits(9),
  ADDR_63_12: bits(10, 52),
} as const satisfies Layout;

export const IofenceWord0 = {
  opcode: bits(0, 7),
  func3: bits(7, 3),
  AV: bits(10),
  WSI: bits(11),
  PR: bits(12),
  PW: bits(13),
  DATA: bits(32, 32),
} as const satisfies Layout;

export const IofenceWord1 = {
  ADDR_63_2: bits(0, 62),
} as const satisfies Layout;

export const IodirWord0 = {
  opcode: bits(0, 7),
  func3: bits(7, 3),
  PID: bits(12, 20),
  DV: bits(33),
  DID: bits(40, 24),
} as const satisfies Layout;

export const AtsWord0 = {
  opcode: bits(0, 7),
  func3: bits(7, 3),
  PID: bits(12, 20),
  PV: bits(32),
  DSV: bits(33),
  RID: bits(40, 16),
  DSEG: bits(56, 8),
} as const satisfies Layout;

/** ATS.INVAL payload: the PCIe Invalidation Request message body. */
export const AtsInvalPayloadLayout = {
  G: bits(0),
  S: bits(11),
  ADDR_63_12: bits(12, 52),
} as const satisfies Layout;

/** ATS.PRGR payload: the PCIe Page Request Group Response message body. */
export const AtsPrgrPayloadLayout = {
  PRGI: bits(32, 9),
  ResponseCode: bits(44, 4),
  DestinationId: bits(48, 16),
} as const satisfies Layout;

/** Bits of each command's doublewords that must be zero (reserved), per opcode/func. */
export const RESERVED = {
  iotinval0: (1n << 11n) | (0x1ffn << 35n) | (0xfn << 60n),
  iotinval1: 0x1ffn | (0x3n << 62n),
  iofence0: 0x3ffffn << 14n,
  iofence1: 0x3n << 62n,
  iodir0: (0x3n << 10n) | (1n << 32n) | (0x3fn << 34n),
  iodir1: (1n << 64n) - 1n,
  ats0: (0x3n << 10n) | (0x3fn << 34n),
} as const;

export type CommandWords = readonly [bigint, bigint];

export interface IotinvalOptions {
  gscid?: number;
  pscid?: number;
  address?: bigint;
  /** Address-range extension: `address` is a NAPOT-encoded range. */
  range?: boolean;
  /** Non-leaf extension: also invalidate non-leaf PTEs for `address`. */
  nonLeaf?: boolean;
}

export function iotinvalVma(o: IotinvalOptions = {}): CommandWords {
  return iotinval(IotinvalFunc.VMA, o);
}

export function iotinvalGvma(o: Omit<IotinvalOptions, 'pscid'> = {}): CommandWords {
  return iotinval(IotinvalFunc.GVMA, o);
}

function iotinval(func3: number, o: IotinvalOptions): CommandWords {
  const w0 = encode(IotinvalWord0, {
    opcode: Opcode.IOTINVAL,
    func3,
    AV: o.address !== undefined,
    PSCV: o.pscid !== undefined,
    PSCID: o.pscid ?? 0,
    GV: o.gscid !== undefined,
    GSCID: o.gscid ?? 0,
    NL: o.nonLeaf ?? false,
  });
  const w1 = encode(IotinvalWord1, { S: o.range ?? false, ADDR_63_12: (o.address ?? 0n) >> 12n });
  return [w0, w1];
}

export interface IofenceOptions {
  /** Write `data` to `address` (4-byte aligned) on completion. */
  address?: bigint;
  data?: number;
  wsi?: boolean;
  pr?: boolean;
  pw?: boolean;
}

export function iofenceC(o: IofenceOptions = {}): CommandWords {
  const w0 = encode(IofenceWord0, {
    opcode: Opcode.IOFENCE,
    func3: IofenceFunc.C,
    AV: o.address !== undefined,
    WSI: o.wsi ?? false,
    PR: o.pr ?? false,
    PW: o.pw ?? false,
    DATA: o.data ?? 0,
  });
  return [w0, encode(IofenceWord1, { ADDR_63_2: (o.address ?? 0n) >> 2n })];
}

/** IODIR.INVAL_DDT; without a device id, every cached DDT and PDT entry. */
export function iodirInvalDdt(deviceId?: number): CommandWords {
  const w0 = encode(IodirWord0, {
    opcode: Opcode.IODIR,
    func3: IodirFunc.INVAL_DDT,
    DV: deviceId !== undefined,
    DID: deviceId ?? 0,
  });
  return [w0, 0n];
}

export function iodirInvalPdt(deviceId: number, processId: number): CommandWords {
  const w0 = encode(IodirWord0, {
    opcode: Opcode.IODIR,
    func3: IodirFunc.INVAL_PDT,
    DV: true,
    DID: deviceId,
    PID: processId,
  });
  return [w0, 0n];
}

export interface AtsTarget {
  rid: number;
  segment?: number;
  pasid?: number;
}

export function atsInval(target: AtsTarget, payload: bigint): CommandWords {
  return [atsWord0(AtsFunc.INVAL, target), payload];
}

export function atsPrgr(target: AtsTarget, payload: bigint): CommandWords {
  return [atsWord0(AtsFunc.PRGR, target), payload];
}

function atsWord0(func3: number, t: AtsTarget): bigint {
  return encode(AtsWord0, {
    opcode: Opcode.ATS,
    func3,
    RID: t.rid,
    DSV: t.segment !== undefined,
    DSEG: t.segment ?? 0,
    PV: t.pasid !== undefined,
    PID: t.pasid ?? 0,
  });
}

const NAMES: Readonly<Record<number, readonly string[]>> = {
  [Opcode.IOTINVAL]: ['IOTINVAL.VMA', 'IOTINVAL.GVMA'],
  [Opcode.IOFENCE]: ['IOFENCE.C'],
  [Opcode.IODIR]: ['IODIR.INVAL_DDT', 'IODIR.INVAL_PDT'],
  [Opcode.ATS]: ['ATS.INVAL', 'ATS.PRGR'],
};

/** The name of a command from its opcode and func3 ("IOTINVAL.VMA"), or a description of it. */
export function commandName(cmd: CommandWords): string {
  const opcode = Number(extract(cmd[0], CommandHeaderLayout.opcode));
  const func3 = Number(extract(cmd[0], CommandHeaderLayout.func3));
  return NAMES[opcode]?.[func3] ?? `opcode ${opcode} func3 ${func3}`;
}
