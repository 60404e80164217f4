// Stream Table Entries (IHI 0070 5.2): Config, bypass, the validity rules of 5.2.2 (C_BAD_STE,
// 7.3.5), StreamWorld (STRW), attribute overrides.
import { describe, expect, it } from 'vitest';
import type { Encodable } from '../../../src/formats/bitfield.js';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { SteConfig, SteLayout } from '../../../src/formats/smmuv3/structures.js';
import type { SmmuV3Options } from '../../../src/hw/smmuv3/parameters.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, S1_CD, S2_STE } from './bench.js';

/** Writes an STE for StreamID 1 (with a valid CD and tables where it needs them) and translates. */
function steResult(fields: Encodable<typeof SteLayout>, options: SmmuV3Options = {}) {
  const b = new Bench(options).init();
  const pt = b.alloc(4096);
  const cd = b.alloc(64 * 16);
  b.writeCd(cd, { ...S1_CD, TTB0: pt >> 4n });
  b.writeSte(1, { S1ContextPtr: cd >> 6n, S2TTB: pt >> 4n, ...fields });
  const r = b.translate({ sid: 1, address: 0x1000n });
  return { r, events: b.events() };
}

describe('5.2 STE.Config', () => {
  it('0b000 aborts silently (no event)', () => {
    const { r, events } = steResult({ V: 1, Config: 0 });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, 0]);
    expect(events).toEqual([]);
  });

  for (const config of [1, 2, 3]) {
    it(`reserved 0b${config.toString(2).padStart(3, '0')} behaves as 0b000 (abort, no event)`, () => {
      const { r, events } = steResult({ V: 1, Config: config });
      expect(r.outcome).toBe(Outcome.Abort);
      expect(events).toEqual([]);
    });
  }

  it('0b100 bypasses both stages: the output address is the input address', () => {
    const b = new Bench().init();
    b.writeSte(1, { V: 1, Config: SteConfig.Bypass, S1ContextPtr: 0xfff_ffffn, S2T0SZ: 63 });
    const r = b.translate({ sid: 1, address: 0xabc_d123n, write: true });
    expect([r.outcome, r.bypassed, r.address(0x123)]).toEqual([Outcome.Ok, true, 0xabc_d123n]);
  });

  it('3.4 bypass with an input address beyond the OAS is a stage 1 F_ADDR_SIZE (S2 == 0, CLASS == IN)', () => {
    const b = new Bench({ capabilities: { oasBits: 44 } }).init();
    b.writeSte(1, { V: 1, Config: SteConfig.Bypass });
    expect(b.translate({ sid: 1, address: 1n << 44n }).event).toBe(EventType.F_ADDR_SIZE);
    const [e] = b.events();
    expect([e.S2, e.CLASS, e.InputAddr]).toEqual([0n, 2n, 1n << 44n]);
  });

  it('5.2 S1Fmt: a SubstreamID on a bypass stream is C_BAD_SUBSTREAMID', () => {
    const b = new Bench().init();
    b.writeSte(1, { V: 1, Config: SteConfig.Bypass });
    expect(b.translate({ sid: 1, address: 0n, ssid: 5 }).event).toBe(EventType.C_BAD_SUBSTREAMID);
    const [e] = b.events();
    expect([e.SSV, e.SubstreamID]).toEqual([0n, 5n]); // 7.3.9: no SSV field
  });
});

describe('5.2.2 ILLEGAL STEs record C_BAD_STE', () => {
  const S1 = { V: 1, Config: SteConfig.S1Translate } as const;
  const S2 = { ...S2_STE, Config: SteConfig.S2Translate } as const;
  const cases: [string, Encodable<typeof SteLayout>, SmmuV3Options?][] = [
    ['V == 0', { V: 0, Config: SteConfig.Bypass }],
    ['stage 1 enabled without IDR0.S1P', S1, { capabilities: { stage1: false, ssidBits: 0, twoLevelCdTable: false, hyp: false } }],
    ['stage 2 enabled without IDR0.S2P', S2, { capabilities: { stage2: false } }],
    ['EATS == 0b10 (split-stage ATS, IDR0.NS1ATS == 1)', { ...S1, EATS: 2 }],
    ['STRW == 0b01 (reserved for Non-secure)', { ...S1, STRW: 1 }],
    ['STRW == 0b11 (reserved)', { ...S1, STRW: 3 }],
    ['S1STALLD == 1 with STALL_MODEL == 0b01', { ...S1, S1STALLD: 1 }],
    ['S1CDMax > IDR1.SSIDSIZE', { ...S1, S1CDMax: 5 }, { capabilities: { ssidBits: 4 } }],
    ['S1Fmt 2-level without IDR0.CD2L', { ...S1, S1CDMax: 2, S1Fmt: 1 }, { capabilities: { twoLevelCdTable: false } }],
    ['S1ContextPtr beyond the OAS', { ...S1, S1ContextPtr: 1n << 42n }],
    ['S2S == 1 with STALL_MODEL == 0b01', { ...S2, S2S: 1 }],
    ['S2AA64 == 0 (VMSAv8-32 LPAE not implemented)', { ...S2, S2AA64: 0 }],
    ['S2HA == 1 without HTTU', { ...S2, S2HA: 1 }, { capabilities: { httu: 'none' } }],
    ['S2HD == 1 with Access-flag-only HTTU', { ...S2, S2HA: 1, S2HD: 1 }, { capabilities: { httu: 'access' } }],
    ['S2TG reserved (0b11)', { ...S2, S2TG: 3 }],
    ['S2TG selects an unsupported granule', { ...S2, S2TG: 2, S2SL0: 1 }, { capabilities: { gran16K: false } }],
    ['S2T0SZ below the minimum (64 - IAS)', { ...S2, S2T0SZ: 15, S2SL0: 2 }],
    ['S2T0SZ above 39 without STT', { ...S2, S2T0SZ: 40, S2SL0: 0 }],
    ['S2SL0 inconsistent with S2T0SZ (4 KiB, 40-bit IPA, level 2 start)', { ...S2, S2SL0: 0 }],
    ['S2SL0 reserved (64 KiB, 0b11)', { ...S2, S2TG: 1, S2SL0: 3 }],
    ['S2TTB beyond the effective S2PS', { ...S2, S2PS: 2, S2TTB: (1n << 40n) >> 4n }],
    ['S2ENDI big-endian with TTENDIAN little-endian', { ...S2, S2ENDI: 1 }, { capabilities: { ttEndian: 'little' } }],
    ['S2ENDI little-endian with TTENDIAN big-endian', S2, { capabilities: { ttEndian: 'big' } }],
    ['S2VMID[15:8] != 0 without VMID16', { ...S2, S2VMID: 0x100 }, { capabilities: { vmid16: false } }],
    ['S2VMID[15:8] != 0 without VMID16, stage-1-only NS-EL1 stream', { ...S1, S2VMID: 0x100 }, { capabilities: { vmid16: false } }],
  ];
  for (const [name, fields, options] of cases) {
    it(name, () => {
      const { r, events } = steResult(fields, options);
      expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.C_BAD_STE]);
      expect(events.map((e) => [e.EventType, e.StreamID])).toEqual([[BigInt(EventType.C_BAD_STE), 1n]]);
    });
  }

  it('7.3.5 configuration-error records leave InputAddr and the access attributes RES0', () => {
    const b = new Bench().init();
    b.translate({ sid: 7, address: 0x1234_5000n, write: false, privileged: true, instruction: true });
    const [e] = b.events();
    expect([e.InputAddr, e.RnW, e.PnU, e.InD]).toEqual([0n, 0n, 0n, 0n]);
  });

  it('7.3.5 C_BAD_STE carries SSV and SubstreamID', () => {
    const b = new Bench().init();
    b.translate({ sid: 7, address: 0n, ssid: 0x99 });
    const [e] = b.events();
    expect([e.EventType, e.StreamID, e.SSV, e.SubstreamID]).toEqual([BigInt(EventType.C_BAD_STE), 7n, 1n, 0x99n]);
  });
});

describe('5.2.2 fields that are IGNORED do not make an STE ILLEGAL', () => {
  const ok: [string, Encodable<typeof SteLayout>, SmmuV3Options?][] = [
    ['stage 2 fields of a bypass STE', { V: 1, Config: SteConfig.Bypass, S2TG: 3, S2T0SZ: 63 }],
    ['STRW of a stage 2 STE', { ...S2_STE, Config: SteConfig.S2Translate, STRW: 3 }],
    ['EATS without ATS', { V: 1, Config: SteConfig.Bypass, EATS: 2 }, { capabilities: { ats: false, pri: false } }],
    ['EATS of a bypass STE', { V: 1, Config: SteConfig.Bypass, EATS: 2 }],
    ['S1 fields of a stage-2-only STE', { ...S2_STE, Config: SteConfig.S2Translate, S1CDMax: 31, S1STALLD: 1 }],
    ['S2VMID[15:8] of a stage-1-only EL2 stream', { V: 1, Config: SteConfig.S1Translate, STRW: 2, S2VMID: 0x100 }, { capabilities: { vmid16: false } }],
  ];
  for (const [name, fields, options] of ok) {
    it(name, () => {
      expect(steResult(fields, options).r.event).not.toBe(EventType.C_BAD_STE);
    });
  }

  it('STRW is IGNORED (NS-EL1) without HYP', () => {
    const b = new Bench({ capabilities: { hyp: false } }).init();
    const { pt } = b.stage1Stream(1, { ste: { STRW: 3 } });
    pt.map(0x1000n, 0x5000n);
    expect(b.translate({ sid: 1, address: 0x1000n }).address(0)).toBe(0x5000n);
  });
});

describe('13.1 STE.PRIVCFG and INSTCFG overrides', () => {
  it('PRIVCFG == Privileged makes unprivileged traffic privileged (an EL1-only page becomes reachable)', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { ste: { PRIVCFG: 3 } });
    pt.map(0x1000n, 0x5000n, { AP: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
  });

  it('PRIVCFG == Unprivileged makes privileged traffic unprivileged', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { ste: { PRIVCFG: 2 } });
    pt.map(0x1000n, 0x5000n, { AP: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n, privileged: true }).event).toBe(EventType.F_PERMISSION);
    expect(b.events()[0].PnU).toBe(0n); // post-override value
  });

  it('INSTCFG == Instruction makes reads instruction fetches (XN pages fault), writes stay Data', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { ste: { INSTCFG: 3 } });
    pt.map(0x1000n, 0x5000n, { UXN: 1 });
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_PERMISSION);
    expect(b.events()[0].InD).toBe(1n);
    expect(b.translate({ sid: 1, address: 0x1000n, write: true }).outcome).toBe(Outcome.Ok);
  });

  it('INSTCFG == Data makes instruction fetches data reads', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { ste: { INSTCFG: 2 } });
    pt.map(0x1000n, 0x5000n, { UXN: 1 });
    expect(b.translate({ sid: 1, address: 0x1000n, instruction: true }).outcome).toBe(Outcome.Ok);
  });
});
