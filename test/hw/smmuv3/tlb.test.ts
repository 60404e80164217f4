// TLB tagging (IHI 0070 3.17) and the TLB invalidation commands (4.4): each command's scope —
// VMID, ASID, global entries, StreamWorld, stage — the range invalidation and level hint of
// 4.4.1.1, and the cache counters. A TLB entry is observed through the walk counters: a
// translation after an invalidation that reached its entry walks again.
import { describe, expect, it } from 'vitest';
import {
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
  type CommandWords,
} from '../../../src/formats/smmuv3/commands.js';
import { Bench, identityTables, PageTable, S1_CD } from './bench.js';

/** Stage-1 streams 1 (ASID 1, VMID 1), 2 (ASID 2, VMID 1) and 3 (ASID 1, VMID 2) over one table. */
function streams(nG = 1) {
  const b = new Bench().init();
  const pt = new PageTable(b, { stage: 1 });
  for (let i = 0; i < 8; i++) pt.map(0x1000n * BigInt(i + 1), 0x10_0000n + 0x1000n * BigInt(i), { nG });
  pt.map(0x20_0000n, 0x40_0000n, { nG }, 2);
  const cd = (asid: number) => {
    const at = b.alloc(64);
    b.writeCd(at, { ...S1_CD, ASID: asid, TTB0: pt.root >> 4n });
    return at;
  };
  b.writeSte(1, { V: 1, Config: 5, S1ContextPtr: cd(1) >> 6n, S2VMID: 1 });
  b.writeSte(2, { V: 1, Config: 5, S1ContextPtr: cd(2) >> 6n, S2VMID: 1 });
  b.writeSte(3, { V: 1, Config: 5, S1ContextPtr: cd(1) >> 6n, S2VMID: 2 });
  return { b, pt };
}

/** How many stage 1 walks translating (sid, address) after `commands` costs: 0 = still cached. */
function walksAfter(b: Bench, warm: [number, bigint][], commands: CommandWords[], probe: [number, bigint][]): number[] {
  for (const [sid, a] of warm) b.translate({ sid, address: a });
  b.submit(...commands);
  return probe.map(([sid, a]) => {
    const before = b.smmu.statistics().walks.stage1;
    b.translate({ sid, address: a });
    return b.smmu.statistics().walks.stage1 - before;
  });
}

const WARM: [number, bigint][] = [
  [1, 0x1000n],
  [2, 0x1000n],
  [3, 0x1000n],
  [1, 0x2000n],
];

describe('3.17 TLB tagging', () => {
  it('hits for the same VMID, ASID and page; misses across ASIDs and VMIDs', () => {
    const { b } = streams();
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 1, address: 0x1004n });
    b.translate({ sid: 2, address: 0x1000n });
    b.translate({ sid: 3, address: 0x1000n });
    const s = b.smmu.statistics();
    expect([s.caches.tlb.hits, s.caches.tlb.misses, s.walks.stage1, s.caches.tlb.entries]).toEqual([1, 3, 3, 3]);
  });

  it('global entries (nG == 0) match every ASID of the VMID', () => {
    const { b } = streams(0);
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 2, address: 0x1000n });
    b.translate({ sid: 3, address: 0x1000n });
    expect(b.smmu.statistics().walks.stage1).toBe(2);
  });

  it('a full set evicts its least recently used entry (counted)', () => {
    const b = new Bench({ caches: { tlb: { sets: 1, ways: 2 } } }).init();
    const { pt } = b.stage1Stream(1);
    for (let i = 1; i <= 3; i++) pt.map(BigInt(i) << 12n, BigInt(i + 16) << 12n);
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 1, address: 0x2000n });
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 1, address: 0x3000n }); // evicts 0x2000
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 1, address: 0x2000n });
    const t = b.smmu.statistics().caches.tlb;
    expect([t.hits, t.misses, t.evictions, t.entries]).toEqual([2, 4, 2, 2]);
  });
});

describe('4.4.2 stage 1 invalidation', () => {
  it('CMD_TLBI_NH_ALL(VMID): every NS-EL1 entry of the VMID, global or not', () => {
    const { b } = streams();
    expect(walksAfter(b, WARM, [cmdTlbiNhAll(1)], WARM)).toEqual([1, 1, 0, 1]);
  });

  it('CMD_TLBI_NH_ASID(VMID, ASID): non-global entries of the ASID in the VMID', () => {
    const { b } = streams();
    expect(walksAfter(b, WARM, [cmdTlbiNhAsid(1, 1)], WARM)).toEqual([1, 0, 0, 1]);
  });

  it('CMD_TLBI_NH_ASID keeps global entries', () => {
    const { b } = streams(0);
    expect(walksAfter(b, [[1, 0x1000n]], [cmdTlbiNhAsid(1, 1)], [[1, 0x1000n]])).toEqual([0]);
  });

  it('CMD_TLBI_NH_VA(VMID, ASID, Addr): the entry of the ASID (or a global one) at Addr', () => {
    const { b } = streams();
    expect(walksAfter(b, WARM, [cmdTlbiNhVa(1, 1, 0x1000n, { leaf: true })], WARM)).toEqual([1, 0, 0, 0]);
    const g = streams(0).b;
    expect(walksAfter(g, [[1, 0x1000n]], [cmdTlbiNhVa(1, 5, 0x1000n)], [[1, 0x1000n]])).toEqual([1]);
  });

  it('CMD_TLBI_NH_VAA(VMID, Addr): every ASID of the VMID at Addr', () => {
    const { b } = streams();
    expect(walksAfter(b, WARM, [cmdTlbiNhVaa(1, 0x1000n)], WARM)).toEqual([1, 1, 0, 0]);
  });

  it('an address inside a block invalidates the block', () => {
    const { b } = streams();
    expect(walksAfter(b, [[1, 0x20_0000n]], [cmdTlbiNhVa(1, 1, 0x2f_f000n)], [[1, 0x20_0000n]])).toEqual([1]);
  });

  it('4.4.2 VMID is matched only when stage 2 is implemented', () => {
    const b = new Bench({ capabilities: { stage2: false } }).init();
    const { pt } = b.stage1Stream(1, { ste: { S2VMID: 0 } });
    pt.map(0x1000n, 0x2000n, { nG: 1 });
    expect(walksAfter(b, [[1, 0x1000n]], [cmdTlbiNhAll(7)], [[1, 0x1000n]])).toEqual([1]);
  });
});

describe('4.4.1.1 range invalidation and the level hint', () => {
  it('TG != 0: (NUM + 1) * 2^SCALE granules from Addr', () => {
    const { b } = streams();
    const all: [number, bigint][] = [1, 2, 3, 4, 5, 6].map((i) => [1, BigInt(i) << 12n]);
    // 3 pages from 0x2000: 0x2000, 0x3000, 0x4000
    expect(walksAfter(b, all, [cmdTlbiNhVa(1, 1, 0x2000n, { tg: 1, num: 2, scale: 0 })], all)).toEqual([0, 1, 1, 1, 0, 0]);
  });

  it('SCALE multiplies the range: (0 + 1) * 2^2 = 4 pages', () => {
    const { b } = streams();
    const all: [number, bigint][] = [1, 2, 3, 4, 5, 6].map((i) => [1, BigInt(i) << 12n]);
    expect(walksAfter(b, all, [cmdTlbiNhVaa(1, 0x1000n, { tg: 1, num: 0, scale: 2 })], all)).toEqual([1, 1, 1, 1, 0, 0]);
  });

  it('TTL limits the invalidation to leaves of that level', () => {
    const { b } = streams();
    const probe: [number, bigint][] = [
      [1, 0x1000n],
      [1, 0x20_0000n],
    ];
    expect(walksAfter(b, probe, [cmdTlbiNhVaa(1, 0x0n, { tg: 1, ttl: 2, num: 31, scale: 10 })], probe)).toEqual([0, 1]);
  });

  it('TG limits the invalidation to entries of that granule', () => {
    const { b } = streams();
    expect(walksAfter(b, [[1, 0x1000n]], [cmdTlbiNhVaa(1, 0x1000n, { tg: 3, ttl: 3 })], [[1, 0x1000n]])).toEqual([0]);
  });

  it('CERROR_ILL for NUM == 0, SCALE == 0, TTL == 0 with TG != 0, and for TG 16 KiB with TTL 0b01', () => {
    const { b } = streams();
    b.submit(cmdTlbiNhVa(1, 1, 0x1000n, { tg: 1 }));
    expect(b.cmdqCons >>> 24).toBe(1);
    b.ackGerror();
    const c = streams().b;
    c.submit(cmdTlbiNhVa(1, 1, 0x1000n, { tg: 2, ttl: 1 }));
    expect(c.cmdqCons >>> 24).toBe(1);
  });

  it('without IDR3.RIL the range fields are RES0: CERROR_ILL when reserved fields are checked, ignored otherwise', () => {
    const b = new Bench({ capabilities: { ril: false } }).init();
    b.submit(cmdTlbiNhVa(1, 1, 0x1000n, { tg: 1, num: 3 }));
    expect(b.cmdqCons >>> 24).toBe(1);
    const c = new Bench({ capabilities: { ril: false }, checkReservedCommandFields: false }).init();
    const { pt } = c.stage1Stream(1, { cd: { ASID: 1 }, ste: { S2VMID: 1 } });
    pt.map(0x1000n, 0x5000n, { nG: 1 });
    pt.map(0x2000n, 0x6000n, { nG: 1 });
    const probe: [number, bigint][] = [
      [1, 0x1000n],
      [1, 0x2000n],
    ];
    expect(walksAfter(c, probe, [cmdTlbiNhVa(1, 1, 0x1000n, { tg: 1, num: 3 })], probe)).toEqual([1, 0]);
  });

  it('SCALE[5] is RES0 without IDR5.DS', () => {
    const { b } = streams();
    b.submit(cmdTlbiNhVa(1, 1, 0x1000n, { tg: 1, scale: 32 }));
    expect(b.cmdqCons >>> 24).toBe(1);
  });
});

describe('4.4.2.7-4.4.2.10 EL2 invalidation', () => {
  function el2(e2h: boolean) {
    const b = new Bench().init({ cr2: e2h ? 3 : 2 });
    const pt = new PageTable(b, { stage: 1 });
    pt.map(0x1000n, 0x9000n, { nG: 1 });
    pt.map(0x2000n, 0xa000n, { nG: 1 });
    const cd = b.alloc(64);
    b.writeCd(cd, { ...S1_CD, ASID: 4, TTB0: pt.root >> 4n });
    b.writeSte(1, { V: 1, Config: 5, STRW: 2, S1ContextPtr: cd >> 6n });
    const el1 = b.stage1Stream(2, { cd: { ASID: 4 } }).pt;
    el1.map(0x1000n, 0x9000n, { nG: 1 });
    return b;
  }
  const probe: [number, bigint][] = [
    [1, 0x1000n],
    [1, 0x2000n],
    [2, 0x1000n],
  ];

  it('CMD_TLBI_EL2_ALL: every EL2 entry, no EL1 entry', () => {
    expect(walksAfter(el2(false), probe, [cmdTlbiEl2All()], probe)).toEqual([1, 1, 0]);
    expect(walksAfter(el2(true), probe, [cmdTlbiEl2All()], probe)).toEqual([1, 1, 0]);
  });

  it('CMD_TLBI_EL2_VA with E2H == 0: NS-EL2 entries by VA, ASID ignored', () => {
    expect(walksAfter(el2(false), probe, [cmdTlbiEl2Va(99, 0x1000n)], probe)).toEqual([1, 0, 0]);
  });

  it('CMD_TLBI_EL2_VA with E2H == 1: NS-EL2-E2H entries by ASID and VA', () => {
    expect(walksAfter(el2(true), probe, [cmdTlbiEl2Va(99, 0x1000n)], probe)).toEqual([0, 0, 0]);
    expect(walksAfter(el2(true), probe, [cmdTlbiEl2Va(4, 0x1000n)], probe)).toEqual([1, 0, 0]);
  });

  it('CMD_TLBI_EL2_VAA: every ASID at VA', () => {
    expect(walksAfter(el2(true), probe, [cmdTlbiEl2Vaa(0x2000n)], probe)).toEqual([0, 1, 0]);
  });

  it('CMD_TLBI_EL2_ASID: NS-EL2-E2H non-global entries of the ASID', () => {
    expect(walksAfter(el2(true), probe, [cmdTlbiEl2Asid(4)], probe)).toEqual([1, 1, 0]);
  });
});

describe('4.4.3 stage 2 invalidation and 4.4.4 CMD_TLBI_NSNH_ALL', () => {
  function s2Streams() {
    const b = new Bench().init();
    b.stage2Stream(1, 5).map(0x1000n, 0x8000n);
    b.stage2Stream(2, 6).map(0x1000n, 0x9000n);
    const n = b.nestedStream(3, 5);
    n.s1.map(0x1000n, 0x4000n);
    identityTables(n.s1, n.s2, 0x1000n);
    n.s2.map(0x4000n, 0xc000n);
    return b;
  }
  const probe: [number, bigint][] = [
    [1, 0x1000n],
    [2, 0x1000n],
    [3, 0x1000n],
  ];
  /** Walks (stage 1 + stage 2) a probe costs after the commands. */
  function walks(b: Bench, commands: CommandWords[]): number[] {
    for (const [sid, a] of probe) b.translate({ sid, address: a });
    b.submit(...commands);
    return probe.map(([sid, a]) => {
      const s = b.smmu.statistics().walks;
      const before = s.stage1 + s.stage2;
      b.translate({ sid, address: a });
      const t = b.smmu.statistics().walks;
      return t.stage1 + t.stage2 - before;
    });
  }

  it('CMD_TLBI_S2_IPA(VMID, IPA): stage-2-only entries of the VMID, not combined nested entries', () => {
    expect(walks(s2Streams(), [cmdTlbiS2Ipa(5, 0x1000n)])).toEqual([1, 0, 0]);
  });

  it('CMD_TLBI_S12_VMALL(VMID): every entry of the VMID, stage 1, stage 2 and combined', () => {
    // The nested stream walks stage 1, stage 2 for each of its 4 table pages, and stage 2 of the IPA.
    expect(walks(s2Streams(), [cmdTlbiS12Vmall(5)])).toEqual([1, 0, 6]);
  });

  it('CMD_TLBI_NH_ALL(VMID) drops combined nested entries (stage 2 entries of table walks stay)', () => {
    expect(walks(s2Streams(), [cmdTlbiNhAll(5)])).toEqual([0, 0, 2]);
  });

  it('CMD_TLBI_NSNH_ALL: every NS-EL1 and stage 2 entry', () => {
    expect(walks(s2Streams(), [cmdTlbiNsnhAll()])).toEqual([1, 1, 6]);
  });

  it('CMD_TLBI_S2_IPA with a range (TG, NUM)', () => {
    const b = new Bench().init();
    const s2 = b.stage2Stream(1, 5);
    for (let i = 1; i <= 4; i++) s2.map(BigInt(i) << 12n, BigInt(i + 8) << 12n);
    const all: [number, bigint][] = [1, 2, 3, 4].map((i) => [1, BigInt(i) << 12n]);
    for (const [sid, a] of all) b.translate({ sid, address: a });
    b.submit(cmdTlbiS2Ipa(5, 0x2000n, { tg: 1, num: 1 }));
    const before = b.smmu.statistics().walks.stage2;
    for (const [sid, a] of all) b.translate({ sid, address: a });
    expect(b.smmu.statistics().walks.stage2 - before).toBe(2);
  });

  it('counts invalidated TLB entries', () => {
    const b = s2Streams();
    for (const [sid, a] of probe) b.translate({ sid, address: a });
    const before = b.smmu.statistics().caches.tlb;
    b.submit(cmdTlbiNsnhAll());
    const after = b.smmu.statistics().caches.tlb;
    expect(after.entries).toBe(0);
    expect(after.invalidations - before.invalidations).toBe(before.entries);
  });
});
