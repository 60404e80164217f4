// The translation's hot paths answer and count exactly as the full procedure does: an STE or
// CD found again is a configuration cache hit (IHI 0070 3.3, 5.2, 5.4), a bypass stream's
// transactions pass untranslated (5.2 Config), a re-fetched structure takes effect with its new
// contents after the invalidation commands (4.3), TLB invalidations drop exactly their scope
// (4.4), structures are read through the system bus (3.4.3, a page with MMIO included), and
// the Command queue counts every command consumed (4.1).
import { describe, expect, it } from 'vitest';
import { cmdCfgiAll, cmdCfgiSte, cmdSync, cmdTlbiNsnhAll, cmdTlbiS12Vmall } from '../../../src/formats/smmuv3/commands.js';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { Reg } from '../../../src/formats/smmuv3/registers.js';
import { encodeCd, SteConfig } from '../../../src/formats/smmuv3/structures.js';
import type { MmioDevice, MmioSize } from '../../../src/sim/mmio.js';
import { RecordingTracer } from '../../../src/hw/smmuv3/trace.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, CR0, PageTable, S1_CD } from './bench.js';

const BYPASS = { V: 1, Config: SteConfig.Bypass } as const;
/** Every Perm bit: what a bypassed access is granted. */
const ALL_PERMS = 0x3f;

describe('5.2 STE.Config bypass: repeated transactions of one stream', () => {
  it('pass untranslated, each a configuration cache hit after the first fetch', () => {
    const b = new Bench().init();
    b.writeSte(5, BYPASS);
    for (let i = 0; i < 10; i++) {
      const r = b.translate({ sid: 5, address: 0x4000_0000n + BigInt(i * 0x1000 + 0x10) });
      expect([r.outcome, r.bypassed, r.perms, r.log2Pages, r.event, r.recorded]).toEqual([Outcome.Ok, true, ALL_PERMS, 0, 0, false]);
      expect(r.address(0x10)).toBe(0x4000_0000n + BigInt(i * 0x1000 + 0x10));
    }
    const s = b.smmu.statistics();
    expect([s.requests.untranslated, s.requests.bypassed, s.caches.ste.hits, s.caches.ste.misses, s.walks.steFetches]).toEqual([10, 10, 9, 1, 1]);
  });

  it('are traced as the full procedure traces them when a tracer is attached', () => {
    const b = new Bench().init();
    b.writeSte(5, BYPASS);
    b.translate({ sid: 5, address: 0x1000n });
    const tracer = new RecordingTracer();
    b.smmu.setTracer(tracer);
    b.translate({ sid: 5, address: 0x2000n });
    expect(tracer.steps).toEqual(['STE of StreamID 5: configuration cache hit', 'STE.Config bypasses the stream']);
  });

  it('4.3.2 follow an STE rewritten and invalidated with CMD_CFGI_STE', () => {
    const b = new Bench().init();
    b.writeSte(5, BYPASS);
    b.translate({ sid: 5, address: 0x1000n });
    b.translate({ sid: 5, address: 0x2000n });
    b.writeSte(5, { V: 1, Config: SteConfig.Abort });
    b.submit(cmdCfgiSte(5), cmdSync());
    expect(b.translate({ sid: 5, address: 0x3000n }).outcome).toBe(Outcome.Abort);
    expect(b.smmu.statistics().caches.ste.misses).toBe(2);
    expect(b.events()).toEqual([]);
  });

  it('6.3.25 a smaller STRTAB_BASE_CFG.LOG2SIZE puts a StreamID found before out of range (C_BAD_STREAMID, 7.3.3)', () => {
    const b = new Bench().init({ log2size: 8 });
    b.writeSte(0x80, BYPASS);
    expect(b.translate({ sid: 0x80, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 0x80, address: 0x2000n }).outcome).toBe(Outcome.Ok);
    const cr0 = b.read32(Reg.CR0);
    b.write32(Reg.CR0, cr0 & ~CR0.SMMUEN);
    b.write32(Reg.STRTAB_BASE_CFG, 6);
    b.write32(Reg.CR0, cr0);
    const r = b.translate({ sid: 0x80, address: 0x3000n });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.C_BAD_STREAMID]);
    expect(b.events().map((e) => [e.EventType, e.StreamID])).toEqual([[BigInt(EventType.C_BAD_STREAMID), 0x80n]]);
  });

  it('an SMMU disabled since bypasses with GBPA, not with the STE found before (6.3.9.6)', () => {
    const b = new Bench({ gbpaAbortAtReset: true }).init();
    b.writeSte(5, BYPASS);
    b.translate({ sid: 5, address: 0x1000n });
    b.write32(Reg.CR0, b.read32(Reg.CR0) & ~CR0.SMMUEN);
    expect(b.translate({ sid: 5, address: 0x2000n }).outcome).toBe(Outcome.Abort);
  });
});

describe('5.2, 5.4 structures fetched again after CMD_CFGI_ALL', () => {
  it('translate the same when unchanged, and as rewritten when changed', () => {
    const b = new Bench().init();
    const { pt, cd } = b.stage1Stream(1);
    pt.map(0x5000n, 0x9_1000n);
    const again = () => b.submit(cmdCfgiAll(), cmdTlbiNsnhAll(), cmdSync());
    expect(b.translate({ sid: 1, address: 0x5000n }).address(0)).toBe(0x9_1000n);
    again();
    expect(b.translate({ sid: 1, address: 0x5000n }).address(0)).toBe(0x9_1000n);
    // A CD pointing at another table.
    const other = new PageTable(b, { stage: 1 });
    other.map(0x5000n, 0x9_2000n);
    b.writeCd(cd, { ...S1_CD, TTB0: other.root >> 4n });
    again();
    expect(b.translate({ sid: 1, address: 0x5000n }).address(0)).toBe(0x9_2000n);
    // The STE made bypass, then the first STE again.
    const first = b.readDwords(b.steAddress(1), 8);
    b.writeSte(1, BYPASS);
    again();
    expect(b.translate({ sid: 1, address: 0x5000n }).bypassed).toBe(true);
    b.writeDwords(b.steAddress(1), first);
    again();
    const r = b.translate({ sid: 1, address: 0x5000n });
    expect([r.bypassed, r.address(0)]).toEqual([false, 0x9_2000n]);
    const s = b.smmu.statistics();
    expect([s.walks.steFetches, s.walks.cdFetches, s.walks.stage1]).toEqual([5, 4, 4]);
  });

  it('3.4.3 a CD on a page that an MMIO region claims is read through that region', () => {
    const b = new Bench().init();
    const pt = new PageTable(b, { stage: 1 });
    pt.map(0x5000n, 0x9_1000n);
    const words = encodeCd({ ...S1_CD, TTB0: pt.root >> 4n });
    const reads: number[] = [];
    const device: MmioDevice = {
      mmioRead(offset: number, size: MmioSize): bigint {
        reads.push(offset, size);
        return size === 8 && offset < 64 ? words[offset / 8] : 0n;
      },
      mmioWrite(): void {},
    };
    const at = 0x7_0000_0000n;
    b.bus.mmio.map('cd-rom', at, 0x1000n, device);
    b.writeSte(1, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: at >> 6n });
    expect(b.translate({ sid: 1, address: 0x5000n }).address(0)).toBe(0x9_1000n);
    expect(reads).toEqual([0, 8, 8, 8, 16, 8, 24, 8, 32, 8, 40, 8, 48, 8, 56, 8]);
  });
});

describe('4.4 TLB invalidation among many entries', () => {
  it('CMD_TLBI_S12_VMALL drops the entries of its VMID only, and the others still hit', () => {
    const b = new Bench().init();
    const s2a = b.stage2Stream(1, 1);
    const s2b = b.stage2Stream(2, 2);
    for (let i = 0; i < 20; i++) {
      s2a.map(BigInt(0x10_0000 + i * 0x1000), BigInt(0x80_0000 + i * 0x1000));
      s2b.map(BigInt(0x10_0000 + i * 0x1000), BigInt(0x90_0000 + i * 0x1000));
    }
    for (let i = 0; i < 20; i++) {
      b.translate({ sid: 1, address: BigInt(0x10_0000 + i * 0x1000) });
      b.translate({ sid: 2, address: BigInt(0x10_0000 + i * 0x1000) });
    }
    const before = b.smmu.statistics().caches.tlb;
    expect(before.entries).toBe(40);
    b.submit(cmdTlbiS12Vmall(1), cmdSync());
    const after = b.smmu.statistics().caches.tlb;
    expect([after.entries, after.invalidations - before.invalidations]).toEqual([20, 20]);
    expect(b.translate({ sid: 2, address: 0x10_3000n }).address(0)).toBe(0x90_3000n);
    expect(b.translate({ sid: 1, address: 0x10_3000n }).address(0)).toBe(0x80_3000n);
    const last = b.smmu.statistics();
    expect([last.caches.tlb.hits - after.hits, last.caches.tlb.misses - after.misses, last.walks.stage2]).toEqual([1, 1, 41]);
  });
});

describe('4.1 statistics of the Command queue', () => {
  it('count every command consumed by name, in the order each was first consumed (CMD_CFGI_ALL apart)', () => {
    const b = new Bench().init();
    b.submit(cmdSync(), cmdCfgiAll(), cmdTlbiNsnhAll(), cmdSync(), cmdCfgiSte(1), cmdCfgiAll());
    const commands = b.smmu.statistics().commands;
    expect(Object.entries(commands)).toEqual([
      ['CMD_SYNC', 2],
      ['CMD_CFGI_ALL', 2],
      ['CMD_TLBI_NSNH_ALL', 1],
      ['CMD_CFGI_STE', 1],
    ]);
  });
});
