// Stage 2 and nested translation (IHI 0070 3.3, 3.4, 5.2 S2* fields, 7.3.12 - 7.3.16): stage-2
// -only streams, nested streams whose CD fetches and stage 1 table walks are translated by
// stage 2, fault reports with S2 == 1 and CLASS == CD / TT / IN, STE.S2R, S2AFFD, HTTU.
import { describe, expect, it } from 'vitest';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, identityTables, PageTable } from './bench.js';

describe('5.2 stage-2-only streams (STE.Config == 0b110)', () => {
  it('translate the input address as an IPA', () => {
    const b = new Bench().init();
    const s2 = b.stage2Stream(1, 5);
    s2.map(0x4000_0000n, 0x9000_0000n);
    const r = b.translate({ sid: 1, address: 0x4000_0abcn });
    expect([r.outcome, r.address(0xabc)]).toEqual([Outcome.Ok, 0x9000_0abcn]);
  });

  for (const [g, tg, t0sz, sl0, level] of [
    [12, 0, 24, 1, 1],
    [12, 0, 32, 0, 2],
    [14, 2, 28, 1, 2],
    [16, 1, 24, 1, 2],
    [12, 0, 16, 2, 0],
  ] as const) {
    it(`${2 ** (g - 10)} KiB granule, ${64 - t0sz}-bit IPA, walk from level ${level}`, () => {
      const b = new Bench().init();
      const s2 = new PageTable(b, { stage: 2, granuleLog2: g, inputBits: 64 - t0sz, startLevel: level });
      s2.map(0x8000n << BigInt(g - 12), 0x3000_0000n);
      b.writeSte(1, { V: 1, Config: 6, S2T0SZ: t0sz, S2SL0: sl0, S2TG: tg, S2PS: 5, S2AA64: 1, S2R: 1, S2TTB: s2.root >> 4n });
      expect(b.translate({ sid: 1, address: (0x8000n << BigInt(g - 12)) + 0x10n }).address(0x10)).toBe(0x3000_0010n);
    });
  }

  it('3.4 stage 2 concatenated initial tables (4 KiB, 40-bit IPA starting at level 1: 2 tables)', () => {
    const b = new Bench().init();
    const s2 = b.stage2Stream(1, 5);
    s2.map(0xff_ffff_f000n, 0x1000n); // the top of the 40-bit IPA space uses the second table
    expect(b.translate({ sid: 1, address: 0xff_ffff_f000n }).address(0)).toBe(0x1000n);
  });

  it('an IPA beyond the IAS is a stage 1 F_ADDR_SIZE (stage 1 bypassed), S2 == 0', () => {
    const b = new Bench({ capabilities: { oasBits: 44 } }).init();
    b.writeSte(1, { V: 1, Config: 6, S2T0SZ: 24, S2SL0: 1, S2TG: 0, S2PS: 4, S2AA64: 1, S2R: 1, S2TTB: b.alloc(8192) >> 4n });
    expect(b.translate({ sid: 1, address: 1n << 44n }).event).toBe(EventType.F_ADDR_SIZE);
    expect(b.events()[0].S2).toBe(0n);
  });

  it('an IPA beyond S2T0SZ is a stage 2 Translation fault with the IPA recorded', () => {
    const b = new Bench().init();
    b.stage2Stream(1, 5);
    b.translate({ sid: 1, address: 1n << 41n });
    const [e] = b.events();
    expect([e.EventType, e.S2, e.CLASS, e.IPA << 12n]).toEqual([BigInt(EventType.F_TRANSLATION), 1n, 2n, 1n << 41n]);
  });

  it('7.3.13 an unmapped IPA: F_TRANSLATION, S2 == 1, CLASS == IN, IPA = InputAddr', () => {
    const b = new Bench().init();
    b.stage2Stream(1, 5);
    b.translate({ sid: 1, address: 0x4000_0123n, write: true });
    const [e] = b.events();
    expect([e.EventType, e.S2, e.CLASS, e.InputAddr, e.IPA << 12n, e.RnW]).toEqual([BigInt(EventType.F_TRANSLATION), 1n, 2n, 0x4000_0123n, 0x4000_0000n, 0n]);
  });

  it('STE.S2R == 0 suppresses stage 2 fault records; the transaction aborts', () => {
    const b = new Bench().init();
    b.stage2Stream(1, 5, { ste: { S2R: 0 } });
    const r = b.translate({ sid: 1, address: 0x4000_0000n });
    expect([r.outcome, r.event, r.recorded]).toEqual([Outcome.Abort, EventType.F_TRANSLATION, false]);
  });

  it('S2AP: read-only, write-only and no-access pages', () => {
    const b = new Bench().init();
    const s2 = b.stage2Stream(1, 5);
    s2.map(0x1000n, 0x8000n, { S2AP: 1 });
    s2.map(0x2000n, 0x9000n, { S2AP: 2 });
    s2.map(0x3000n, 0xa000n, { S2AP: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 1, address: 0x1000n, write: true }).event).toBe(EventType.F_PERMISSION);
    expect(b.translate({ sid: 1, address: 0x2000n, write: true }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 1, address: 0x2000n }).event).toBe(EventType.F_PERMISSION);
    expect(b.translate({ sid: 1, address: 0x3000n }).event).toBe(EventType.F_PERMISSION);
    expect(b.events().map((e) => [e.S2, e.CLASS])).toEqual([
      [1n, 2n],
      [1n, 2n],
      [1n, 2n],
    ]);
  });

  it('S2 XN: instruction fetches fault', () => {
    const b = new Bench().init();
    const s2 = b.stage2Stream(1, 5);
    s2.map(0x1000n, 0x8000n, { XN: 2 });
    expect(b.translate({ sid: 1, address: 0x1000n, instruction: true }).event).toBe(EventType.F_PERMISSION);
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
  });

  it('F_ACCESS at stage 2; STE.S2AFFD disables it; STE.S2HA sets AF', () => {
    const b = new Bench().init();
    b.stage2Stream(1, 5).map(0x1000n, 0x8000n, { AF: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_ACCESS);
    expect(b.events()[0].S2).toBe(1n);
    b.stage2Stream(2, 6, { ste: { S2AFFD: 1 } }).map(0x1000n, 0x8000n, { AF: 0 });
    expect(b.translate({ sid: 2, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    const s2 = b.stage2Stream(3, 7, { ste: { S2HA: 1 } });
    const at = s2.map(0x1000n, 0x8000n, { AF: 0 });
    expect(b.translate({ sid: 3, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    expect((s2.read(at) >> 10n) & 1n).toBe(1n);
  });

  it('STE.S2HD: a write to a writable-clean page (S2AP[1] == 0, DBM == 1) sets S2AP[1]', () => {
    const b = new Bench().init();
    const s2 = b.stage2Stream(1, 5, { ste: { S2HA: 1, S2HD: 1 } });
    const at = s2.map(0x1000n, 0x8000n, { S2AP: 1, DBM: 1 });
    expect(b.translate({ sid: 1, address: 0x1000n, write: true }).outcome).toBe(Outcome.Ok);
    expect((s2.read(at) >> 7n) & 1n).toBe(1n);
  });

  it('an output address beyond the effective S2PS is a stage 2 F_ADDR_SIZE', () => {
    const b = new Bench().init();
    b.stage2Stream(1, 5, { ste: { S2PS: 2 } }).map(0x1000n, 1n << 41n);
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_ADDR_SIZE);
    expect(b.events()[0].S2).toBe(1n);
  });

  it('an abort on a stage 2 descriptor: F_WALK_EABT, S2 == 1, CLASS == IN, FetchAddr', () => {
    const b = new Bench().init();
    const s2 = b.stage2Stream(1, 5);
    s2.map(0x1000n, 0x8000n);
    const at = s2.descriptorAddress(0x1000n, 3);
    b.memory.markAccessFault(at, 8n);
    b.translate({ sid: 1, address: 0x1000n });
    const [e] = b.events();
    expect([e.EventType, e.S2, e.CLASS, e.FetchAddr << 3n]).toEqual([BigInt(EventType.F_WALK_EABT), 1n, 2n, at]);
  });

  it('STE.S2ENDI: big-endian stage 2 tables', () => {
    const b = new Bench().init();
    const s2 = new PageTable(b, { stage: 2, inputBits: 40, startLevel: 1, bigEndian: true });
    s2.map(0x1000n, 0x8000n);
    b.writeSte(1, { V: 1, Config: 6, S2T0SZ: 24, S2SL0: 1, S2PS: 5, S2AA64: 1, S2ENDI: 1, S2TTB: s2.root >> 4n });
    expect(b.translate({ sid: 1, address: 0x1000n }).address(0)).toBe(0x8000n);
  });
});

describe('nested translation (STE.Config == 0b111)', () => {
  function nested() {
    const b = new Bench().init();
    const n = b.nestedStream(1, 9);
    n.s1.map(0x10_0000n, 0x2000_0000n);
    identityTables(n.s1, n.s2, 0x10_0000n);
    n.s2.map(0x2000_0000n, 0x3000_0000n);
    return { b, ...n };
  }

  it('translates VA -> IPA -> PA, the tables read through stage 2', () => {
    const { b } = nested();
    expect(b.translate({ sid: 1, address: 0x10_0abcn }).address(0xabc)).toBe(0x3000_0abcn);
    expect(b.smmu.statistics().walks.stage1).toBe(1);
  });

  it('7.3.13 a stage 2 fault on the CD fetch: S2 == 1, CLASS == CD, IPA = the CD address', () => {
    const b = new Bench().init();
    const s2 = new PageTable(b, { stage: 2, inputBits: 40, startLevel: 1 });
    const cd = b.alloc(64);
    b.writeSte(1, { V: 1, Config: 7, S1ContextPtr: cd >> 6n, S2T0SZ: 24, S2SL0: 1, S2PS: 5, S2AA64: 1, S2R: 1, S2VMID: 3, S2TTB: s2.root >> 4n });
    const r = b.translate({ sid: 1, address: 0x1000n });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.F_TRANSLATION]);
    const [e] = b.events();
    expect([e.S2, e.CLASS, e.IPA << 12n, e.InputAddr]).toEqual([1n, 0n, cd & ~0xfffn, 0x1000n]);
  });

  it('a stage 2 fault on a stage 1 table walk: S2 == 1, CLASS == TT, IPA = the descriptor IPA', () => {
    const { b, s1, s2 } = nested();
    const l3 = s1.descriptorAddress(0x10_0000n, 3);
    const at = s2.descriptorAddress(l3 & ~0xfffn, 3);
    s2.write(at, 0n);
    b.translate({ sid: 1, address: 0x10_0000n });
    const [e] = b.events();
    expect([e.EventType, e.S2, e.CLASS, e.IPA << 12n]).toEqual([BigInt(EventType.F_TRANSLATION), 1n, 1n, l3 & ~0xfffn]);
  });

  it('7.3.16 TTRnW: an HTTU update of a stage 1 descriptor on a read-only stage 2 page faults with TTRnW == 0', () => {
    const b = new Bench().init();
    const n = b.nestedStream(1, 9, { cd: { HA: 1 } });
    n.s1.map(0x10_0000n, 0x2000_0000n, { AF: 0 });
    identityTables(n.s1, n.s2, 0x10_0000n, 2);
    const l3 = n.s1.descriptorAddress(0x10_0000n, 3) & ~0xfffn;
    n.s2.map(l3, l3, { S2AP: 1 });
    n.s2.map(0x2000_0000n, 0x3000_0000n);
    b.translate({ sid: 1, address: 0x10_0000n });
    const [e] = b.events();
    expect([e.EventType, e.S2, e.CLASS, e.TTRnW]).toEqual([BigInt(EventType.F_PERMISSION), 1n, 1n, 0n]);
  });

  it('a stage 2 Permission fault on a stage 1 table read: TTRnW == 1', () => {
    const { b, s1, s2 } = nested();
    const l2 = s1.descriptorAddress(0x10_0000n, 2) & ~0xfffn;
    s2.map(l2, l2, { S2AP: 2 });
    b.translate({ sid: 1, address: 0x10_0000n });
    const [e] = b.events();
    expect([e.EventType, e.CLASS, e.TTRnW]).toEqual([BigInt(EventType.F_PERMISSION), 1n, 1n]);
  });

  it('a stage 2 fault on the final IPA: S2 == 1, CLASS == IN, IPA = the stage 1 output', () => {
    const { b, s2 } = nested();
    s2.write(s2.descriptorAddress(0x2000_0000n, 3), 0n);
    b.translate({ sid: 1, address: 0x10_0040n });
    const [e] = b.events();
    expect([e.EventType, e.S2, e.CLASS, e.IPA << 12n, e.InputAddr]).toEqual([BigInt(EventType.F_TRANSLATION), 1n, 2n, 0x2000_0000n, 0x10_0040n]);
  });

  it('a stage 1 fault in a nested stream is a stage 1 fault (S2 == 0) governed by CD.R', () => {
    const { b } = nested();
    b.translate({ sid: 1, address: 0x50_0000n });
    expect(b.events()[0].S2).toBe(0n);
    const c = new Bench().init();
    const n = c.nestedStream(1, 9, { cd: { R: 0 } });
    identityTables(n.s1, n.s2, 0x10_0000n, 0);
    expect(c.translate({ sid: 1, address: 0x50_0000n }).recorded).toBe(false);
  });

  it('stage 2 permissions restrict stage 1 ones', () => {
    const { b, s2 } = nested();
    s2.map(0x2000_0000n, 0x3000_0000n, { S2AP: 1 });
    expect(b.translate({ sid: 1, address: 0x10_0000n }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 1, address: 0x10_0000n, write: true }).event).toBe(EventType.F_PERMISSION);
    expect(b.events()[0].S2).toBe(1n);
  });

  it('the TLB holds the combined translation, sized by the smaller leaf', () => {
    const b = new Bench().init();
    const n = b.nestedStream(1, 9);
    n.s1.map(0x20_0000n, 0x4000_0000n, {}, 2); // 2 MiB at stage 1
    identityTables(n.s1, n.s2, 0x20_0000n, 2);
    n.s2.map(0x4000_0000n + 0x1000n, 0x5000_0000n); // 4 KiB at stage 2
    const r = b.translate({ sid: 1, address: 0x20_1000n });
    expect([r.address(0), r.log2Pages]).toEqual([0x5000_0000n, 0]);
  });

  it('S1DSS == 0b01 in a nested stream skips stage 1 and translates the address at stage 2', () => {
    const b = new Bench().init();
    const n = b.nestedStream(1, 9, { ste: { S1CDMax: 2, S1DSS: 1 } });
    n.s2.map(0x7000n, 0xe000n);
    expect(b.translate({ sid: 1, address: 0x7000n }).address(0)).toBe(0xe000n);
  });
});
