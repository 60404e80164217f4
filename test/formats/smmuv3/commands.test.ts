// SMMUv3 command encodings (IHI 0070 chapter 4): opcodes, field positions, names, and the
// reserved-field masks the model checks for CERROR_ILL (4.1.5).
import { describe, expect, it } from 'vitest';
import {
  ATC_INV_SIZE_ALL,
  cmdAtcInv,
  cmdCfgiAll,
  cmdCfgiCd,
  cmdCfgiCdAll,
  cmdCfgiSte,
  cmdCfgiSteRange,
  cmdPrefetchAddr,
  cmdPrefetchConfig,
  cmdPriResp,
  cmdResume,
  cmdStallTerm,
  cmdSync,
  cmdTlbiEl2All,
  cmdTlbiEl2Asid,
  cmdTlbiEl2Va,
  cmdTlbiEl2Vaa,
  cmdTlbiNhAll,
  cmdTlbiNhAsid,
  cmdTlbiNhVa,
  cmdTlbiNhVaa,
  cmdTlbiNsnhAll,
  cmdTlbiS12Vmall,
  cmdTlbiS2Ipa,
  commandName,
  decodeCommand,
  Opcode,
  opcodeName,
  PriResp,
  reservedBits,
  SyncCs,
} from '../../../src/formats/smmuv3/commands.js';

describe('4.1.1 command opcodes and names', () => {
  it('assigns the architected opcodes', () => {
    expect([Opcode.PREFETCH_CONFIG, Opcode.PREFETCH_ADDR, Opcode.CFGI_STE, Opcode.CFGI_STE_RANGE, Opcode.CFGI_CD, Opcode.CFGI_CD_ALL]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([Opcode.TLBI_NH_ALL, Opcode.TLBI_NH_ASID, Opcode.TLBI_NH_VA, Opcode.TLBI_NH_VAA]).toEqual([0x10, 0x11, 0x12, 0x13]);
    expect([Opcode.TLBI_EL2_ALL, Opcode.TLBI_EL2_ASID, Opcode.TLBI_EL2_VA, Opcode.TLBI_EL2_VAA]).toEqual([0x20, 0x21, 0x22, 0x23]);
    expect([Opcode.TLBI_S12_VMALL, Opcode.TLBI_S2_IPA, Opcode.TLBI_NSNH_ALL]).toEqual([0x28, 0x2a, 0x30]);
    expect([Opcode.ATC_INV, Opcode.PRI_RESP, Opcode.RESUME, Opcode.STALL_TERM, Opcode.SYNC]).toEqual([0x40, 0x41, 0x44, 0x45, 0x46]);
  });

  it('names every encoder output; CFGI_STE_RANGE with Range 31 is CMD_CFGI_ALL', () => {
    const names = [
      cmdPrefetchConfig(1),
      cmdPrefetchAddr(1, 0x1000n),
      cmdCfgiSte(1),
      cmdCfgiSteRange(0, 4),
      cmdCfgiAll(),
      cmdCfgiCd(1, 2),
      cmdCfgiCdAll(1),
      cmdTlbiNhAll(1),
      cmdTlbiNhAsid(1, 2),
      cmdTlbiNhVa(1, 2, 0x1000n),
      cmdTlbiNhVaa(1, 0x1000n),
      cmdTlbiEl2All(),
      cmdTlbiEl2Asid(1),
      cmdTlbiEl2Va(1, 0x1000n),
      cmdTlbiEl2Vaa(0x1000n),
      cmdTlbiS12Vmall(1),
      cmdTlbiS2Ipa(1, 0x1000n),
      cmdTlbiNsnhAll(),
      cmdAtcInv(1, 0n, 0),
      cmdPriResp(1, 2, PriResp.Success),
      cmdResume(1, 2, 'retry'),
      cmdStallTerm(1),
      cmdSync(),
    ].map(commandName);
    expect(names).toEqual([
      'CMD_PREFETCH_CONFIG',
      'CMD_PREFETCH_ADDR',
      'CMD_CFGI_STE',
      'CMD_CFGI_STE_RANGE',
      'CMD_CFGI_ALL',
      'CMD_CFGI_CD',
      'CMD_CFGI_CD_ALL',
      'CMD_TLBI_NH_ALL',
      'CMD_TLBI_NH_ASID',
      'CMD_TLBI_NH_VA',
      'CMD_TLBI_NH_VAA',
      'CMD_TLBI_EL2_ALL',
      'CMD_TLBI_EL2_ASID',
      'CMD_TLBI_EL2_VA',
      'CMD_TLBI_EL2_VAA',
      'CMD_TLBI_S12_VMALL',
      'CMD_TLBI_S2_IPA',
      'CMD_TLBI_NSNH_ALL',
      'CMD_ATC_INV',
      'CMD_PRI_RESP',
      'CMD_RESUME',
      'CMD_STALL_TERM',
      'CMD_SYNC',
    ]);
  });

  it('describes reserved and IMPLEMENTATION DEFINED opcodes', () => {
    expect(opcodeName(0)).toBe('reserved 0x00');
    expect(opcodeName(0x31)).toBe('reserved 0x31');
    expect(opcodeName(0x85)).toBe('IMPLEMENTATION DEFINED 0x85');
  });
});

describe('4.2-4.7 field positions', () => {
  it('4.3.1 CMD_CFGI_STE: StreamID[63:32], Leaf at bit 64', () => {
    expect(cmdCfgiSte(0xabcd, true)).toEqual([0xabcdn << 32n | 3n, 1n]);
    expect(cmdCfgiSte(0xabcd, false)[1]).toBe(0n);
  });

  it('4.3.2 CMD_CFGI_STE_RANGE: Range at bits [68:64]', () => {
    expect(cmdCfgiSteRange(0x100, 7)).toEqual([(0x100n << 32n) | 4n, 7n]);
    expect(cmdCfgiAll()).toEqual([4n, 31n]);
  });

  it('4.3.3 CMD_CFGI_CD: SubstreamID[31:12]', () => {
    expect(cmdCfgiCd(2, 0xfffff, false)).toEqual([(2n << 32n) | (0xfffffn << 12n) | 5n, 0n]);
  });

  it('4.2.1 CMD_PREFETCH_CONFIG: SSV[11] and SubstreamID', () => {
    expect(cmdPrefetchConfig(9, { ssid: 3 })[0]).toBe((9n << 32n) | (3n << 12n) | (1n << 11n) | 1n);
    expect(cmdPrefetchConfig(9)[0]).toBe((9n << 32n) | 1n);
  });

  it('4.4.2.4 CMD_TLBI_NH_VA: VMID[47:32], ASID[63:48], Leaf[64], Addr[127:76]; range fields NUM[16:12], SCALE[25:20], TTL[73:72], TG[75:74]', () => {
    const [w0, w1] = cmdTlbiNhVa(0x12, 0x3456, 0xffff_8000_1234_5000n, { leaf: true, tg: 1, ttl: 3, num: 7, scale: 2 });
    expect(w0).toBe((0x3456n << 48n) | (0x12n << 32n) | (2n << 20n) | (7n << 12n) | 0x12n);
    expect(w1).toBe(0xffff_8000_1234_5000n | (1n << 10n) | (3n << 8n) | 1n);
  });

  it('4.4.3.1 CMD_TLBI_S2_IPA keeps IPA bits [55:12] only', () => {
    expect(cmdTlbiS2Ipa(1, 0xff12_3456_7890_1000n)[1]).toBe(0x0012_3456_7890_1000n);
  });

  it('4.5.1 CMD_ATC_INV: Global[9], SSV[11], Size[69:64], Addr[127:76]', () => {
    const [w0, w1] = cmdAtcInv(0x0108, 0x4000_0000n, ATC_INV_SIZE_ALL, { ssid: 5, global: true });
    expect(w0).toBe((0x108n << 32n) | (5n << 12n) | (1n << 11n) | (1n << 9n) | 0x40n);
    expect(w1).toBe(0x4000_0000n | 52n);
  });

  it('4.5.2 CMD_PRI_RESP: PRGIndex[72:64], Resp[77:76]', () => {
    expect(cmdPriResp(3, 0x1ff, PriResp.Success)).toEqual([(3n << 32n) | 0x41n, 0x1ffn | (2n << 12n)]);
    expect(PriResp).toEqual({ ResponseFailure: 0, InvalidRequest: 1, Success: 2 });
  });

  it('4.7.1 CMD_RESUME: Action[12], Abort[13], STAG[79:64]', () => {
    expect(cmdResume(4, 0xbeef, 'retry')).toEqual([(4n << 32n) | (1n << 12n) | 0x44n, 0xbeefn]);
    expect(cmdResume(4, 1, 'abort')[0]).toBe((4n << 32n) | (1n << 13n) | 0x44n);
    expect(cmdResume(4, 1, 'raz-wi')[0]).toBe((4n << 32n) | 0x44n);
  });

  it('4.7.3 CMD_SYNC: CS[13:12], MSH[23:22], MSIAttr[27:24], MSIData[63:32], MSIAddress[119:66]', () => {
    const [w0, w1] = cmdSync({ cs: SyncCs.SIG_IRQ, msiAddress: 0x8000_0004n, msiData: 0xcafe, msh: 3, msiAttr: 0xf });
    expect(w0).toBe((0xcafen << 32n) | (0xfn << 24n) | (3n << 22n) | (1n << 12n) | 0x46n);
    expect(w1).toBe(0x8000_0004n);
  });
});

describe('decodeCommand', () => {
  it('returns the named fields of the opcode', () => {
    const d = decodeCommand(cmdTlbiNhVa(1, 2, 0x5000n, { leaf: true }));
    expect(d.name).toBe('CMD_TLBI_NH_VA');
    expect([d.fields.VMID, d.fields.ASID, d.fields.Addr, d.fields.Leaf]).toEqual([1n, 2n, 5n, 1n]);
  });

  it('returns no fields for reserved opcodes', () => {
    expect(decodeCommand([0x31n, 0n])).toEqual({ opcode: 0x31, name: 'reserved 0x31', fields: {} });
  });
});

describe('4.1.5 reserved fields', () => {
  it('CMD_SYNC reserves bits [11:8], [21:14], [65:64] and [127:120]', () => {
    const r = reservedBits(Opcode.SYNC);
    expect(r & 0xf00n).toBe(0xf00n);
    expect(r & (0xffn << 14n)).toBe(0xffn << 14n);
    expect(r & (3n << 64n)).toBe(3n << 64n);
    expect(r & (1n << 12n)).toBe(0n);
  });

  it('no encoder sets a reserved bit', () => {
    const all = [cmdCfgiSte(0xffff_ffff), cmdTlbiNhVa(0xffff, 0xffff, (1n << 64n) - 1n, { leaf: true, tg: 3, ttl: 3, num: 31, scale: 63 }), cmdAtcInv(1, (1n << 64n) - 4096n, 63, { ssid: 0xfffff, global: true }), cmdSync({ cs: 3, msiAddress: (1n << 56n) - 4n, msiData: 0xffff_ffff, msh: 3, msiAttr: 15 })];
    for (const c of all) expect(((c[1] << 64n) | c[0]) & reservedBits(Number(c[0] & 0xffn))).toBe(0n);
  });
});
