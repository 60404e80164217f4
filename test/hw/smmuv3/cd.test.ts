// Context Descriptors and SubstreamIDs (IHI 0070 5.2 S1Fmt/S1CDMax/S1DSS, 5.3, 5.4): CD tables,
// C_BAD_SUBSTREAMID (7.3.9), F_STREAM_DISABLED (7.3.7), F_CD_FETCH (7.3.10), C_BAD_CD (7.3.11),
// TTB0/TTB1 selection, VA range checks and TBI (3.4.1), CD caching and CMD_CFGI_CD(_ALL) (4.3).
import { describe, expect, it } from 'vitest';
import type { Encodable } from '../../../src/formats/bitfield.js';
import { cmdCfgiCd, cmdCfgiCdAll, cmdCfgiSte } from '../../../src/formats/smmuv3/commands.js';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { CdLayout, encodeL1cd, SteConfig } from '../../../src/formats/smmuv3/structures.js';
import type { SmmuV3Options } from '../../../src/hw/smmuv3/parameters.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, PageTable, S1_CD } from './bench.js';

/** A stream whose CD table has 2^cdMax CDs, CD i mapping VA 0x1000 to 0x10_0000 + i pages. */
function substreams(cdMax: number, s1Dss: number, options: SmmuV3Options = {}) {
  const b = new Bench(options).init();
  const cds = b.alloc(64 * 2 ** cdMax);
  for (let i = 0; i < Math.min(2 ** cdMax, 8); i++) {
    const pt = new PageTable(b, { stage: 1 });
    pt.map(0x1000n, 0x10_0000n + BigInt(i) * 0x1000n, { nG: 1 });
    b.writeCd(cds + BigInt(64 * i), { ...S1_CD, ASID: i + 1, TTB0: pt.root >> 4n });
  }
  b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: cds >> 6n, S1CDMax: cdMax, S1DSS: s1Dss });
  return { b, cds };
}

describe('5.2 S1CDMax and SubstreamIDs', () => {
  it('S1CDMax == 0: one CD, used by transactions without a SubstreamID', () => {
    const { b } = substreams(0, 0);
    expect(b.translate({ sid: 1, address: 0x1000n }).address(0)).toBe(0x10_0000n);
  });

  it('S1CDMax == 0: a transaction with a SubstreamID records C_BAD_SUBSTREAMID', () => {
    const { b } = substreams(0, 0);
    const r = b.translate({ sid: 1, address: 0x1000n, ssid: 1 });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.C_BAD_SUBSTREAMID]);
    // 7.3.9: StreamID and SubstreamID; SSV, InputAddr and the attributes are RES0.
    const [e] = b.events();
    expect([e.StreamID, e.SSV, e.SubstreamID, e.InputAddr, e.RnW]).toEqual([1n, 0n, 1n, 0n, 0n]);
  });

  it('IDR1.SSIDSIZE == 0: any SubstreamID records C_BAD_SUBSTREAMID', () => {
    const { b } = substreams(0, 0, { capabilities: { ssidBits: 0 } });
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 0 }).event).toBe(EventType.C_BAD_SUBSTREAMID);
  });

  it('S1CDMax > 0: the SubstreamID indexes a linear CD table', () => {
    const { b } = substreams(3, 0);
    for (const ssid of [0, 1, 5, 7]) expect(b.translate({ sid: 1, address: 0x1000n, ssid }).address(0)).toBe(0x10_0000n + BigInt(ssid) * 0x1000n);
  });

  it('a SubstreamID >= 2^S1CDMax records C_BAD_SUBSTREAMID', () => {
    const { b } = substreams(3, 0);
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 8 }).event).toBe(EventType.C_BAD_SUBSTREAMID);
    expect(b.events()[0].SubstreamID).toBe(8n);
  });

  it('3.9 a SubstreamID wider than IDR1.SSIDSIZE is truncated to it', () => {
    const { b } = substreams(3, 0, { capabilities: { ssidBits: 4 } });
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 0x12 }).address(0)).toBe(0x10_2000n);
  });

  it('a stage-2-only stream records C_BAD_SUBSTREAMID for a SubstreamID', () => {
    const b = new Bench().init();
    b.stage2Stream(1, 1);
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 2 }).event).toBe(EventType.C_BAD_SUBSTREAMID);
  });
});

describe('5.2 S1DSS: transactions without a SubstreamID when substreams are enabled', () => {
  it('0b00 terminates and records F_STREAM_DISABLED', () => {
    const { b } = substreams(2, 0);
    const r = b.translate({ sid: 1, address: 0x1000n });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.F_STREAM_DISABLED]);
    const [e] = b.events();
    expect([e.EventType, e.StreamID, e.SSV]).toEqual([BigInt(EventType.F_STREAM_DISABLED), 1n, 0n]);
  });

  it('0b11 is reserved and behaves as 0b00', () => {
    const { b } = substreams(2, 3);
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_STREAM_DISABLED);
  });

  it('0b01 bypasses stage 1: the address is output unchanged (stage 2 disabled)', () => {
    const { b } = substreams(2, 1);
    const r = b.translate({ sid: 1, address: 0xabc_d000n });
    expect([r.outcome, r.address(0)]).toEqual([Outcome.Ok, 0xabc_d000n]);
  });

  it('0b01 bypass still checks the input against the IAS (stage 1 F_ADDR_SIZE)', () => {
    const { b } = substreams(2, 1);
    expect(b.translate({ sid: 1, address: 1n << 48n }).event).toBe(EventType.F_ADDR_SIZE);
    expect(b.events()[0].S2).toBe(0n);
  });

  it('0b10 uses CD 0 for transactions without a SubstreamID', () => {
    const { b } = substreams(2, 2);
    expect(b.translate({ sid: 1, address: 0x1000n }).address(0)).toBe(0x10_0000n);
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 2 }).address(0)).toBe(0x10_2000n);
  });

  it('0b10 reserves SubstreamID 0: it records F_STREAM_DISABLED (StreamID only, 7.3.7)', () => {
    const { b } = substreams(2, 2);
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 0 }).event).toBe(EventType.F_STREAM_DISABLED);
    const [e] = b.events();
    expect([e.StreamID, e.SSV, e.InputAddr]).toEqual([1n, 0n, 0n]);
  });

  it('S1DSS is IGNORED when S1CDMax == 0', () => {
    const { b } = substreams(0, 0);
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
  });
});

describe('5.3 2-level CD tables', () => {
  for (const [s1Fmt, l2Bits] of [
    [1, 6],
    [2, 10],
  ] as const) {
    it(`S1Fmt ${s1Fmt}: L1CD indexed by SubstreamID[S1CDMax-1:${l2Bits}], CD by SubstreamID[${l2Bits - 1}:0]`, () => {
      const b = new Bench().init();
      const l1 = b.alloc(8 * 64);
      const l2 = b.alloc(64 << l2Bits);
      const pt = new PageTable(b, { stage: 1 });
      pt.map(0x1000n, 0x77000n);
      const ssid = (3 << l2Bits) + 5;
      b.memory.write(l1 + 3n * 8n, 8, encodeL1cd(l2));
      b.writeCd(l2 + 5n * 64n, { ...S1_CD, TTB0: pt.root >> 4n });
      b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: l1 >> 6n, S1CDMax: l2Bits + 4, S1Fmt: s1Fmt });
      expect(b.translate({ sid: 1, address: 0x1000n, ssid }).address(0)).toBe(0x77000n);
      const s = b.smmu.statistics();
      expect([s.caches.l1cd.misses, s.caches.cd.misses]).toEqual([1, 1]);
    });
  }

  it('5.3.1 an L1CD with V == 0 records C_BAD_SUBSTREAMID', () => {
    const b = new Bench().init();
    const l1 = b.alloc(4096);
    b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: l1 >> 6n, S1CDMax: 8, S1Fmt: 1 });
    expect(b.translate({ sid: 1, address: 0n, ssid: 0x41 }).event).toBe(EventType.C_BAD_SUBSTREAMID);
  });

  it('3.4.3 an L1CD.L2Ptr beyond the OAS records C_BAD_SUBSTREAMID', () => {
    const b = new Bench({ capabilities: { oasBits: 40 } }).init();
    const l1 = b.alloc(4096);
    b.memory.write(l1, 8, encodeL1cd(1n << 40n));
    b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: l1 >> 6n, S1CDMax: 8, S1Fmt: 1 });
    expect(b.translate({ sid: 1, address: 0n, ssid: 1 }).event).toBe(EventType.C_BAD_SUBSTREAMID);
  });

  it('7.3.10 an abort reading the L1CD records F_CD_FETCH with its address', () => {
    const b = new Bench().init();
    const l1 = b.alloc(4096);
    b.memory.markAccessFault(l1 + 8n, 8n);
    b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: l1 >> 6n, S1CDMax: 8, S1Fmt: 1 });
    expect(b.translate({ sid: 1, address: 0n, ssid: 0x45 }).event).toBe(EventType.F_CD_FETCH);
    expect(b.events()[0].FetchAddr << 3n).toBe(l1 + 8n);
  });

  it('4.3.3 CMD_CFGI_CD with Leaf == 1 keeps the L1CD; Leaf == 0 drops it', () => {
    const b = new Bench().init();
    const l1 = b.alloc(4096);
    const l2 = b.alloc(4096);
    const pt = new PageTable(b, { stage: 1 });
    pt.map(0x1000n, 0x77000n);
    b.memory.write(l1, 8, encodeL1cd(l2));
    b.writeCd(l2 + 64n, { ...S1_CD, TTB0: pt.root >> 4n });
    b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: l1 >> 6n, S1CDMax: 8, S1Fmt: 1 });
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).outcome).toBe(Outcome.Ok);
    b.memory.write(l1, 8, 0n);
    b.submit(cmdCfgiCd(1, 1, true));
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).outcome).toBe(Outcome.Ok);
    b.submit(cmdCfgiCd(1, 1, false));
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).event).toBe(EventType.C_BAD_SUBSTREAMID);
  });
});

describe('7.3.10 F_CD_FETCH', () => {
  it('an abort reading the CD records F_CD_FETCH with the CD address', () => {
    const b = new Bench().init();
    const { cd } = b.stage1Stream(3);
    b.memory.markAccessFault(cd, 64n);
    const r = b.translate({ sid: 3, address: 0x1000n });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.F_CD_FETCH]);
    const [e] = b.events();
    expect([e.FetchAddr << 3n, e.StreamID]).toEqual([cd, 3n]);
  });

  it('a failed CD fetch is not cached', () => {
    const b = new Bench().init();
    const { cd, pt } = b.stage1Stream(3);
    pt.map(0x1000n, 0x9000n);
    b.memory.markAccessFault(cd, 64n);
    b.translate({ sid: 3, address: 0x1000n });
    b.memory.clearMarks();
    expect(b.translate({ sid: 3, address: 0x1000n }).address(0)).toBe(0x9000n);
  });
});

describe('5.4.2 ILLEGAL CDs record C_BAD_CD', () => {
  const cases: [string, Encodable<typeof CdLayout>, SmmuV3Options?][] = [
    ['V == 0', { V: 0 }],
    ['AA64 == 0 (VMSAv8-32 LPAE not implemented)', { AA64: 0 }],
    ['S == 1 with STALL_MODEL == 0b01', { S: 1 }],
    ['A == 0 with TERM_MODEL == 1', { A: 0 }, { capabilities: { termModel: 'abort-only' } }],
    ['HA == 1 without HTTU', { HA: 1 }, { capabilities: { httu: 'none' } }],
    ['HD == 1 with Access-flag-only HTTU', { HA: 1, HD: 1 }, { capabilities: { httu: 'access' } }],
    ['ENDI big-endian with TTENDIAN little-endian', { ENDI: 1 }, { capabilities: { ttEndian: 'little' } }],
    ['ENDI little-endian with TTENDIAN big-endian', { ENDI: 0 }, { capabilities: { ttEndian: 'big' } }],
    ['ASID[15:8] != 0 without ASID16', { ASID: 0x100 }, { capabilities: { asid16: false } }],
    ['T0SZ below 16', { T0SZ: 15 }],
    ['T0SZ above 39 without STT', { T0SZ: 40 }],
    ['T0SZ above 48 with STT', { T0SZ: 49 }, { capabilities: { stt: true } }],
    ['TG0 reserved (0b11)', { TG0: 3 }],
    ['TG0 selects an unsupported granule', { TG0: 1 }, { capabilities: { gran64K: false } }],
    ['TTB0 beyond the effective IPS', { IPS: 2, TTB0: (1n << 40n) >> 4n }],
    ['TG1 reserved (0b00) with EPD1 == 0', { EPD1: 0, TG1: 0, T1SZ: 16 }],
    ['T1SZ out of range with EPD1 == 0', { EPD1: 0, TG1: 2, T1SZ: 60 }],
    ['TTB1 beyond the effective IPS with EPD1 == 0', { EPD1: 0, TG1: 2, T1SZ: 16, IPS: 0, TTB1: (1n << 33n) >> 4n }],
  ];
  for (const [name, fields, options] of cases) {
    it(name, () => {
      const b = new Bench(options).init();
      b.stage1Stream(2, { cd: fields });
      const r = b.translate({ sid: 2, address: 0x1000n, ssid: undefined });
      expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.C_BAD_CD]);
      const [e] = b.events();
      expect([e.EventType, e.StreamID]).toEqual([BigInt(EventType.C_BAD_CD), 2n]);
    });
  }

  it('5.4.1.1 fields of a range disabled by EPDx are not checked', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(2, { cd: { EPD1: 1, T1SZ: 63, TG1: 0 } });
    pt.map(0x1000n, 0x2000n);
    expect(b.translate({ sid: 2, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    const c = new Bench().init();
    c.stage1Stream(2, { cd: { EPD0: 1, T0SZ: 63, TG0: 3, EPD1: 0, T1SZ: 16, TG1: 2 } });
    expect(c.translate({ sid: 2, address: 0xffff_0000_0000_0000n }).event).toBe(EventType.F_TRANSLATION);
  });

  it('TERM_MODEL == 0 accepts CD.A == 0', () => {
    const b = new Bench().init();
    b.stage1Stream(2, { cd: { A: 0 } });
    expect(b.translate({ sid: 2, address: 0x1000n }).event).toBe(EventType.F_TRANSLATION);
  });

  it('7.3.11 C_BAD_CD carries the SubstreamID', () => {
    const { b, cds } = substreams(2, 0);
    b.writeCd(cds + 128n, { V: 0 });
    b.translate({ sid: 1, address: 0n, ssid: 2 });
    const [e] = b.events();
    expect([e.EventType, e.SSV, e.SubstreamID]).toEqual([BigInt(EventType.C_BAD_CD), 1n, 2n]);
  });
});

describe('5.4.1.1 TTB0/TTB1 selection and EPDx; 3.4.1 VA range checks', () => {
  function twoRanges(cd: Encodable<typeof CdLayout> = {}) {
    const b = new Bench().init();
    const pt0 = new PageTable(b, { stage: 1, inputBits: 39 });
    const pt1 = new PageTable(b, { stage: 1, inputBits: 39 });
    pt0.map(0x1000n, 0xa000n);
    pt1.map(0x7f_ffff_f000n, 0xb000n);
    const cdAddr = b.alloc(64);
    b.writeCd(cdAddr, { ...S1_CD, T0SZ: 25, T1SZ: 25, TG1: 2, EPD1: 0, TTB0: pt0.root >> 4n, TTB1: pt1.root >> 4n, ...cd });
    b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: cdAddr >> 6n });
    return b;
  }

  it('VA[55] == 0 walks TTB0, VA[55] == 1 walks TTB1', () => {
    const b = twoRanges();
    expect(b.translate({ sid: 1, address: 0x1000n }).address(0)).toBe(0xa000n);
    expect(b.translate({ sid: 1, address: 0xffff_ffff_ffff_f000n }).address(0)).toBe(0xb000n);
  });

  it('a VA not sign-extended from bit N-1 is a stage 1 Translation fault', () => {
    const b = twoRanges();
    expect(b.translate({ sid: 1, address: 0x80_0000_1000n }).event).toBe(EventType.F_TRANSLATION);
    expect(b.translate({ sid: 1, address: 0xff00_0000_0000_1000n }).event).toBe(EventType.F_TRANSLATION);
    const e = b.events();
    expect(e.map((x) => [x.S2, x.CLASS])).toEqual([
      [0n, 2n],
      [0n, 2n],
    ]);
  });

  it('TBI0 ignores VA[63:56] of TTB0 addresses; without it they must be zero', () => {
    expect(twoRanges({ TBI0: 1 }).translate({ sid: 1, address: 0x5a00_0000_0000_1000n }).address(0)).toBe(0xa000n);
    expect(twoRanges({ TBI0: 0 }).translate({ sid: 1, address: 0x5a00_0000_0000_1000n }).event).toBe(EventType.F_TRANSLATION);
  });

  it('TBI1 ignores VA[63:56] of TTB1 addresses; the event reports the InputAddr unmodified', () => {
    const b = twoRanges({ TBI1: 1 });
    expect(b.translate({ sid: 1, address: 0x00ff_ffff_ffff_f000n }).address(0)).toBe(0xb000n);
    b.translate({ sid: 1, address: 0x12ff_ffff_ffff_e000n });
    expect(b.events()[0].InputAddr).toBe(0x12ff_ffff_ffff_e000n);
  });

  it('EPD1 == 1: a TTB1 address is a Translation fault; EPD0 == 1 likewise for TTB0', () => {
    expect(twoRanges({ EPD1: 1 }).translate({ sid: 1, address: 0xffff_ffff_ffff_f000n }).event).toBe(EventType.F_TRANSLATION);
    expect(twoRanges({ EPD0: 1 }).translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_TRANSLATION);
  });

  it('5.4.1 the NS-EL2 StreamWorld has one range: TTB1 is unreachable and its fields are not checked', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { ste: { STRW: 2 }, cd: { EPD1: 0, T1SZ: 63, TG1: 0 } });
    pt.map(0x1000n, 0x3000n);
    expect(b.translate({ sid: 1, address: 0x1000n }).address(0)).toBe(0x3000n);
    expect(b.translate({ sid: 1, address: 0xffff_ffff_ffff_f000n }).event).toBe(EventType.F_TRANSLATION);
  });
});

describe('5.4.1 CD caching and 4.3 CD invalidation', () => {
  it('a CD change is seen only after CMD_CFGI_CD for its StreamID and index', () => {
    const { b, cds } = substreams(2, 0);
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).outcome).toBe(Outcome.Ok);
    b.writeCd(cds + 64n, { V: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).outcome).toBe(Outcome.Ok);
    b.submit(cmdCfgiCd(1, 0));
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).outcome).toBe(Outcome.Ok);
    b.submit(cmdCfgiCd(1, 1));
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).event).toBe(EventType.C_BAD_CD);
  });

  it('CMD_CFGI_CD_ALL drops every CD of the StreamID', () => {
    const { b, cds } = substreams(2, 0);
    b.translate({ sid: 1, address: 0x1000n, ssid: 1 });
    b.translate({ sid: 1, address: 0x1000n, ssid: 2 });
    b.writeCd(cds + 64n, { V: 0 });
    b.writeCd(cds + 128n, { V: 0 });
    b.submit(cmdCfgiCdAll(1));
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).event).toBe(EventType.C_BAD_CD);
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 2 }).event).toBe(EventType.C_BAD_CD);
    expect(b.smmu.statistics().caches.cd.invalidations).toBe(2);
  });

  it('CMD_CFGI_STE also drops the CDs fetched through the STE', () => {
    const { b, cds } = substreams(2, 0);
    b.translate({ sid: 1, address: 0x1000n, ssid: 1 });
    b.writeCd(cds + 64n, { V: 0 });
    b.submit(cmdCfgiSte(1));
    expect(b.translate({ sid: 1, address: 0x1000n, ssid: 1 }).event).toBe(EventType.C_BAD_CD);
  });

  it('CDs are cached per StreamID: one CD shared by two STEs is cached twice', () => {
    const b = new Bench().init();
    const { cd } = b.stage1Stream(1);
    b.writeSte(2, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: cd >> 6n });
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 2, address: 0x1000n });
    expect(b.smmu.statistics().caches.cd.misses).toBe(2);
  });
});
