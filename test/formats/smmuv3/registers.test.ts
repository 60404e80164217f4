// SMMUv3 register map and field layouts (IHI 0070 chapter 6), checked against the offsets and
// bit positions the specification gives, and the queue-index arithmetic of 3.5.
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/formats/bitfield.js';
import {
  AidrLayout,
  CMDQ_ERROR_NAMES,
  CmdqConsLayout,
  CmdqError,
  Cr0Layout,
  Cr1Layout,
  Cr2Layout,
  GbpaLayout,
  Gerror,
  GerrorLayout,
  Idr0Layout,
  Idr1Layout,
  Idr3Layout,
  Idr5Layout,
  IrqCfg0Layout,
  IrqCfg2Layout,
  IrqCtrlLayout,
  OAS_BITS,
  OutQueueConsLayout,
  OutQueueProdLayout,
  QueueBaseLayout,
  Reg,
  REGISTERS,
  REGISTER_FRAME_SIZE,
  StrtabBaseCfgLayout,
  StrtabBaseLayout,
  inPage1,
  oasEncoding,
  queueEmpty,
  queueFull,
  queueIncrement,
  queueIndex,
  queuePointer,
} from '../../../src/formats/smmuv3/registers.js';

describe('6.2 register offsets', () => {
  it('6.2.1 places the Page 0 registers at their architected offsets', () => {
    expect([Reg.IDR0, Reg.IDR1, Reg.IDR5, Reg.IIDR, Reg.AIDR]).toEqual([0x0, 0x4, 0x14, 0x18, 0x1c]);
    expect([Reg.CR0, Reg.CR0ACK, Reg.CR1, Reg.CR2, Reg.STATUSR, Reg.GBPA]).toEqual([0x20, 0x24, 0x28, 0x2c, 0x40, 0x44]);
    expect([Reg.IRQ_CTRL, Reg.IRQ_CTRLACK, Reg.GERROR, Reg.GERRORN]).toEqual([0x50, 0x54, 0x60, 0x64]);
    expect([Reg.GERROR_IRQ_CFG0, Reg.GERROR_IRQ_CFG1, Reg.GERROR_IRQ_CFG2]).toEqual([0x68, 0x70, 0x74]);
    expect([Reg.STRTAB_BASE, Reg.STRTAB_BASE_CFG, Reg.CMDQ_BASE, Reg.CMDQ_PROD, Reg.CMDQ_CONS]).toEqual([0x80, 0x88, 0x90, 0x98, 0x9c]);
    expect([Reg.EVENTQ_BASE, Reg.EVENTQ_IRQ_CFG0, Reg.EVENTQ_IRQ_CFG1, Reg.EVENTQ_IRQ_CFG2]).toEqual([0xa0, 0xb0, 0xb8, 0xbc]);
    expect([Reg.PRIQ_BASE, Reg.PRIQ_IRQ_CFG0, Reg.PRIQ_IRQ_CFG1, Reg.PRIQ_IRQ_CFG2]).toEqual([0xc0, 0xd0, 0xd8, 0xdc]);
  });

  it('6.2.2 places the Event and PRI queue indexes in Page 1, with optional Page 0 aliases', () => {
    expect([Reg.EVENTQ_PROD, Reg.EVENTQ_CONS, Reg.PRIQ_PROD, Reg.PRIQ_CONS]).toEqual([0x100a8, 0x100ac, 0x100c8, 0x100cc]);
    expect([Reg.EVENTQ_PROD_PAGE0, Reg.EVENTQ_CONS_PAGE0, Reg.PRIQ_PROD_PAGE0, Reg.PRIQ_CONS_PAGE0]).toEqual([0xa8, 0xac, 0xc8, 0xcc]);
    expect(REGISTER_FRAME_SIZE).toBe(0x20000);
    expect(inPage1(Reg.EVENTQ_PROD)).toBe(true);
    expect(inPage1(Reg.CMDQ_PROD)).toBe(false);
    expect(inPage1(REGISTER_FRAME_SIZE)).toBe(false);
  });

  it('lists every register once, in offset order, 64-bit ones 8-byte aligned', () => {
    const offsets = REGISTERS.map((r) => r.offset);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    expect(new Set(REGISTERS.map((r) => r.name)).size).toBe(REGISTERS.length);
    for (const r of REGISTERS.filter((r) => r.size === 8)) expect(r.offset % 8).toBe(0);
    expect(REGISTERS.find((r) => r.name === 'GERROR')?.writable).toBe(false);
    expect(REGISTERS.find((r) => r.name === 'GERRORN')?.writable).toBe(true);
  });
});

describe('6.3 identification registers', () => {
  it('6.3.1 SMMU_IDR0 fields', () => {
    const raw = encode(Idr0Layout, { S2P: 1, S1P: 1, TTF: 2, COHACC: 1, HTTU: 2, ATS: 1, ASID16: 1, MSI: 1, SEV: 1, PRI: 1, VMID16: 1, CD2L: 1, TTENDIAN: 0, STALL_MODEL: 1, ST_LEVEL: 1 });
    expect(raw).toBe(BigInt(0x1 | 0x2 | (2 << 2) | 0x10 | (2 << 6) | (1 << 10) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 16) | (1 << 18) | (1 << 19) | (1 << 24) | (1 << 27)));
    expect(decode(Idr0Layout, 3n << 27n).ST_LEVEL).toBe(3n);
    expect(Idr0Layout.TERM_MODEL.lsb).toBe(26);
    expect(Idr0Layout.HYP.lsb).toBe(9);
    expect(Idr0Layout.BTM.lsb).toBe(5);
    expect(Idr0Layout.VMW.lsb).toBe(17);
  });

  it('6.3.2 SMMU_IDR1 fields', () => {
    const raw = encode(Idr1Layout, { SIDSIZE: 16, SSIDSIZE: 20, PRIQS: 19, EVENTQS: 19, CMDQS: 19 });
    expect(raw).toBe(16n | (20n << 6n) | (19n << 11n) | (19n << 16n) | (19n << 21n));
  });

  it('6.3.4 SMMU_IDR3 and 6.3.6 SMMU_IDR5 fields', () => {
    expect(Idr3Layout.RIL.lsb).toBe(10);
    expect(Idr3Layout.HAD.lsb).toBe(2);
    expect(Idr3Layout.STT.lsb).toBe(9);
    expect(encode(Idr5Layout, { OAS: 5, GRAN4K: 1, GRAN16K: 1, GRAN64K: 1, VAX: 1, STALL_MAX: 0x40 })).toBe(5n | 0x70n | (1n << 10n) | (0x40n << 16n));
  });

  it('6.3.6 IDR5.OAS encodings map to address sizes', () => {
    expect(OAS_BITS).toEqual([32, 36, 40, 42, 44, 48, 52, 56]);
    expect(oasEncoding(48)).toBe(5);
    expect(oasEncoding(44)).toBe(4);
    expect(oasEncoding(50)).toBe(-1);
  });

  it('6.3.8 SMMU_AIDR: ArchMajorRev[7:4], ArchMinorRev[3:0]', () => {
    expect(decode(AidrLayout, 0x02n)).toEqual({ ArchMinorRev: 2n, ArchMajorRev: 0n });
  });
});

describe('6.3 control registers', () => {
  it('6.3.9 SMMU_CR0 enables', () => {
    expect(encode(Cr0Layout, { SMMUEN: 1, PRIQEN: 1, EVENTQEN: 1, CMDQEN: 1, ATSCHK: 1 })).toBe(0x1fn);
    expect(Cr0Layout.VMW).toEqual({ lsb: 6, width: 3 });
  });

  it('6.3.11 SMMU_CR1 and 6.3.12 SMMU_CR2', () => {
    expect(encode(Cr1Layout, { QUEUE_IC: 1, QUEUE_OC: 1, QUEUE_SH: 3, TABLE_IC: 1, TABLE_OC: 1, TABLE_SH: 3 })).toBe(0xd75n);
    expect(encode(Cr2Layout, { E2H: 1, RECINVSID: 1, PTM: 1 })).toBe(7n);
  });

  it('6.3.14 SMMU_GBPA: Update is bit 31, ABORT bit 20', () => {
    expect(encode(GbpaLayout, { Update: 1, ABORT: 1 })).toBe(0x8010_0000n);
    expect(decode(GbpaLayout, 0x1000n).SHCFG).toBe(1n);
  });

  it('6.3.16 SMMU_IRQ_CTRL enables', () => {
    expect(encode(IrqCtrlLayout, { GERROR_IRQEN: 1, PRIQ_IRQEN: 1, EVENTQ_IRQEN: 1 })).toBe(7n);
  });

  it('6.3.19 SMMU_GERROR bits', () => {
    expect(encode(GerrorLayout, { CMDQ_ERR: 1, EVENTQ_ABT_ERR: 1, PRIQ_ABT_ERR: 1, MSI_CMDQ_ABT_ERR: 1, MSI_EVENTQ_ABT_ERR: 1, MSI_PRIQ_ABT_ERR: 1, MSI_GERROR_ABT_ERR: 1, SFM_ERR: 1 })).toBe(0x1fdn);
    for (const [name, mask] of Object.entries(Gerror)) expect(BigInt(mask)).toBe(1n << BigInt(GerrorLayout[name as keyof typeof GerrorLayout].lsb));
  });

  it('6.3.21/6.3.23 IRQ_CFG0 holds ADDR[55:2], IRQ_CFG2 MemAttr/SH and PRIQ LO', () => {
    expect(encode(IrqCfg0Layout, { ADDR: 0x1234_5678n >> 2n })).toBe(0x1234_5678n);
    expect(encode(IrqCfg2Layout, { MemAttr: 0xf, SH: 3, LO: 1 })).toBe(0x8000_003fn);
  });
});

describe('6.3 Stream table and queue registers', () => {
  it('6.3.24 SMMU_STRTAB_BASE: ADDR[55:6], RA bit 62', () => {
    expect(encode(StrtabBaseLayout, { ADDR: 0x8000_0040n >> 6n, RA: 1 })).toBe(0x4000_0000_8000_0040n);
  });

  it('6.3.25 SMMU_STRTAB_BASE_CFG: LOG2SIZE[5:0], SPLIT[10:6], FMT[17:16]', () => {
    expect(encode(StrtabBaseCfgLayout, { LOG2SIZE: 16, SPLIT: 8, FMT: 1 })).toBe(16n | (8n << 6n) | (1n << 16n));
  });

  it('6.3.26 queue bases: LOG2SIZE[4:0], ADDR[55:5], RA/WA bit 62', () => {
    expect(encode(QueueBaseLayout, { LOG2SIZE: 8, ADDR: 0x9000_0000n >> 5n, RA_WA: 1 })).toBe(0x4000_0000_9000_0008n);
  });

  it('6.3.28 SMMU_CMDQ_CONS.ERR is bits [30:24], with the 7.1 codes', () => {
    expect(encode(CmdqConsLayout, { ERR: CmdqError.AtcInvSync, RD: 5 })).toBe(0x0300_0005n);
    expect([CmdqError.None, CmdqError.Ill, CmdqError.Abort, CmdqError.AtcInvSync].map((c) => CMDQ_ERROR_NAMES[c])).toEqual(['CERROR_NONE', 'CERROR_ILL', 'CERROR_ABT', 'CERROR_ATC_INV_SYNC']);
  });

  it('6.3.95-98 EVENTQ/PRIQ PROD.OVFLG and CONS.OVACKFLG are bit 31', () => {
    expect(encode(OutQueueProdLayout, { OVFLG: 1, WR: 3 })).toBe(0x8000_0003n);
    expect(encode(OutQueueConsLayout, { OVACKFLG: 1, RD: 3 })).toBe(0x8000_0003n);
  });
});

describe('3.5 queue index arithmetic', () => {
  it('splits an index into position and wrap flag at bit LOG2SIZE', () => {
    expect(queueIndex(0b1_011, 3)).toEqual({ index: 3, wrap: 1 });
    expect(queuePointer(3, 1, 3)).toBe(0b1_011);
    expect(queueIndex(1, 0)).toEqual({ index: 0, wrap: 1 });
  });

  it('empty when index and wrap match, full when indexes match and wraps differ', () => {
    expect(queueEmpty(5, 5, 3)).toBe(true);
    expect(queueFull(0b1_000, 0b0_000, 3)).toBe(true);
    expect(queueFull(0b0_111, 0b0_000, 3)).toBe(false);
    // Bits above the wrap flag (ERR, OVFLG) do not take part.
    expect(queueEmpty(0x8000_0002, 2, 3)).toBe(true);
  });

  it('increment wraps to index 0 and toggles the wrap flag; a one-entry queue only toggles', () => {
    expect(queueIncrement(0b0_111, 3)).toBe(0b1_000);
    expect(queueIncrement(0b1_111, 3)).toBe(0b0_000);
    expect(queueIncrement(0, 0)).toBe(1);
    expect(queueIncrement(1, 0)).toBe(0);
  });
});
