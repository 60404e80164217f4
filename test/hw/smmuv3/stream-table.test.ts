// Stream table lookup (IHI 0070 3.3.2, 5.1, 6.3.24, 6.3.25, 7.3.3, 7.3.4): linear and 2-level
// tables, StreamID range checks, L1STD Span rules, fetch aborts, SMMUEN == 0 and GBPA.
import { describe, expect, it } from 'vitest';
import { cmdCfgiAll, cmdCfgiSte, cmdCfgiSteRange, cmdSync } from '../../../src/formats/smmuv3/commands.js';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { Reg } from '../../../src/formats/smmuv3/registers.js';
import { encodeL1std, SteConfig } from '../../../src/formats/smmuv3/structures.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench } from './bench.js';

const BYPASS = { V: 1, Config: SteConfig.Bypass } as const;

describe('6.3.9.6 SMMUEN == 0: global bypass (6.3.14 GBPA)', () => {
  it('transactions bypass with their input address when GBPA.ABORT == 0, whatever the StreamID', () => {
    const b = new Bench().init({ disabled: true });
    const r = b.translate({ sid: 0xffff_ffff, address: 0x1234_5678n, ssid: 3 });
    expect(r.outcome).toBe(Outcome.Ok);
    expect(r.bypassed).toBe(true);
    expect(r.address(0x678)).toBe(0x1234_5678n);
    expect(b.events()).toEqual([]);
  });

  it('transactions are aborted without an event when GBPA.ABORT == 1', () => {
    const b = new Bench({ gbpaAbortAtReset: true }).init({ disabled: true });
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Abort);
    b.write32(Reg.GBPA, 0x8000_0000);
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    b.write32(Reg.GBPA, 0x8010_0000);
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Abort);
    expect(b.events()).toEqual([]);
  });

  it('3.4 an input address beyond the OAS is aborted without an event', () => {
    const b = new Bench({ capabilities: { oasBits: 40 } }).init({ disabled: true });
    expect(b.translate({ sid: 1, address: 1n << 40n }).outcome).toBe(Outcome.Abort);
    expect(b.translate({ sid: 1, address: (1n << 40n) - 4096n }).outcome).toBe(Outcome.Ok);
    expect(b.events()).toEqual([]);
  });

  it('the Stream table is not accessed', () => {
    const b = new Bench().init({ disabled: true });
    b.translate({ sid: 3, address: 0n });
    expect(b.smmu.statistics().walks.steFetches).toBe(0);
  });
});

describe('5.2 linear Stream table', () => {
  it('indexes STEs by StreamID from STRTAB_BASE', () => {
    const b = new Bench().init({ log2size: 4 });
    b.writeSte(9, BYPASS);
    expect(b.translate({ sid: 9, address: 0x5000n }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 8, address: 0x5000n }).event).toBe(EventType.C_BAD_STE);
  });

  it('6.3.25 a StreamID >= 2^LOG2SIZE records C_BAD_STREAMID when CR2.RECINVSID == 1', () => {
    const b = new Bench().init({ log2size: 4 });
    const r = b.translate({ sid: 16, address: 0x5000n, ssid: 7 });
    expect([r.outcome, r.event, r.recorded]).toEqual([Outcome.Abort, EventType.C_BAD_STREAMID, true]);
    const [e] = b.events();
    expect([e.EventType, e.StreamID, e.SSV, e.SubstreamID]).toEqual([BigInt(EventType.C_BAD_STREAMID), 16n, 1n, 7n]);
  });

  it('7.3.3 C_BAD_STREAMID is not recorded when CR2.RECINVSID == 0', () => {
    const b = new Bench().init({ log2size: 4, cr2: 0 });
    const r = b.translate({ sid: 16, address: 0n });
    expect([r.outcome, r.event, r.recorded]).toEqual([Outcome.Abort, EventType.C_BAD_STREAMID, false]);
    expect(b.events()).toEqual([]);
  });

  it('6.3.25 the effective LOG2SIZE is MIN(LOG2SIZE, IDR1.SIDSIZE)', () => {
    const b = new Bench({ capabilities: { sidBits: 4 } }).init({ log2size: 8 });
    b.writeSte(15, BYPASS);
    expect(b.translate({ sid: 15, address: 0n }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 16, address: 0n }).event).toBe(EventType.C_BAD_STREAMID);
  });

  it('6.3.24 the table base is aligned to the table size', () => {
    const b = new Bench().init({ log2size: 2 });
    const table = b.alloc(4096);
    b.write32(Reg.CR0, 0);
    b.write64(Reg.STRTAB_BASE, table | 0xc0n); // low bits below the 256-byte table size are ignored
    b.write32(Reg.CR0, 0xd);
    b.writeDwords(table + 64n, [0x9n]); // STE 1: V, bypass
    expect(b.translate({ sid: 1, address: 0n }).outcome).toBe(Outcome.Ok);
  });

  it('7.3.4 an external abort reading the STE records F_STE_FETCH with the STE address', () => {
    const b = new Bench().init({ log2size: 4 });
    const ste = b.steAddress(3);
    b.memory.markAccessFault(ste, 64n);
    const r = b.translate({ sid: 3, address: 0x1000n });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.F_STE_FETCH]);
    const [e] = b.events();
    expect(e.FetchAddr << 3n).toBe(ste);
    expect(e.StreamID).toBe(3n);
  });

  it('7.3.4 poisoned STE data is treated as an external abort', () => {
    const b = new Bench().init({ log2size: 4 });
    b.writeSte(3, BYPASS);
    b.memory.markDataCorruption(b.steAddress(3), 8n);
    expect(b.translate({ sid: 3, address: 0n }).event).toBe(EventType.F_STE_FETCH);
  });

  it('3.4.3 an STE address beyond the OAS is F_STE_FETCH (no truncation)', () => {
    const b = new Bench({ capabilities: { oasBits: 32 } });
    b.write64(Reg.STRTAB_BASE, 0x1_0000_0000n);
    b.write32(Reg.STRTAB_BASE_CFG, 4);
    b.write64(Reg.EVENTQ_BASE, 0x1000_0000n | 4n);
    b.write32(Reg.CR2, 2);
    b.write32(Reg.CR0, 5);
    b.eventq = 0x1000_0000n;
    const r = b.translate({ sid: 2, address: 0n });
    expect(r.event).toBe(EventType.F_STE_FETCH);
    expect(b.events()[0].FetchAddr << 3n).toBe(0x1_0000_0080n);
  });

  it('5.2.1 an STE is cached: a change is seen only after CMD_CFGI_STE', () => {
    const b = new Bench().init();
    b.writeSte(4, BYPASS);
    expect(b.translate({ sid: 4, address: 0n }).outcome).toBe(Outcome.Ok);
    b.writeSte(4, { V: 1, Config: SteConfig.Abort });
    expect(b.translate({ sid: 4, address: 0n }).outcome).toBe(Outcome.Ok);
    b.submit(cmdCfgiSte(4), cmdSync());
    expect(b.translate({ sid: 4, address: 0n }).outcome).toBe(Outcome.Abort);
  });

  it('5.2.1 an invalid STE is cached too; a failed fetch is not', () => {
    const b = new Bench().init();
    expect(b.translate({ sid: 4, address: 0n }).event).toBe(EventType.C_BAD_STE);
    b.writeSte(4, BYPASS);
    expect(b.translate({ sid: 4, address: 0n }).event).toBe(EventType.C_BAD_STE);
    b.submit(cmdCfgiSte(4));
    expect(b.translate({ sid: 4, address: 0n }).outcome).toBe(Outcome.Ok);
    b.memory.markAccessFault(b.steAddress(5), 8n);
    expect(b.translate({ sid: 5, address: 0n }).event).toBe(EventType.F_STE_FETCH);
    b.memory.clearMarks();
    b.writeSte(5, BYPASS);
    expect(b.translate({ sid: 5, address: 0n }).outcome).toBe(Outcome.Ok);
  });

  it('counts STE cache hits, misses and fetches', () => {
    const b = new Bench().init();
    b.writeSte(1, BYPASS);
    for (let i = 0; i < 3; i++) b.translate({ sid: 1, address: 0n });
    const s = b.smmu.statistics();
    expect([s.caches.ste.misses, s.caches.ste.hits, s.walks.steFetches]).toEqual([1, 2, 1]);
  });
});

describe('5.1 2-level Stream table', () => {
  it('locates STEs through L1STDs: StreamID[LOG2SIZE-1:SPLIT] then StreamID[SPLIT-1:0]', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    b.writeSte(0x1234, BYPASS);
    b.writeSte(0x0001, BYPASS);
    expect(b.translate({ sid: 0x1234, address: 0n }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 0x0001, address: 0n }).outcome).toBe(Outcome.Ok);
    const s = b.smmu.statistics();
    expect(s.caches.l1std.misses).toBe(2);
  });

  for (const split of [6, 8, 10]) {
    it(`6.3.25 SPLIT ${split}`, () => {
      const b = new Bench().init({ log2size: 12, split });
      b.writeSte((1 << split) + 3, BYPASS);
      expect(b.translate({ sid: (1 << split) + 3, address: 0n }).outcome).toBe(Outcome.Ok);
    });
  }

  it('6.3.25 reserved SPLIT values behave as 6', () => {
    const b = new Bench().init({ log2size: 12, split: 6 });
    b.writeSte(70, BYPASS);
    b.write32(Reg.CR0, 0);
    b.write32(Reg.STRTAB_BASE_CFG, 12 | (7 << 6) | (1 << 16));
    b.write32(Reg.CR0, 0xf);
    b.submit(cmdCfgiAll());
    expect(b.translate({ sid: 70, address: 0n }).outcome).toBe(Outcome.Ok);
  });

  it('5.1.1 Span == 0 makes the StreamIDs invalid: C_BAD_STREAMID', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    const r = b.translate({ sid: 0x0500, address: 0n });
    expect(r.event).toBe(EventType.C_BAD_STREAMID);
    expect(b.events()[0].StreamID).toBe(0x500n);
  });

  it('5.1 reserved Span values (12..31) behave as 0', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    const l2 = b.alloc(4096 * 4);
    b.memory.write(b.strtab + 8n, 8, encodeL1std(l2, 12));
    expect(b.translate({ sid: 0x100, address: 0n }).event).toBe(EventType.C_BAD_STREAMID);
  });

  it('7.3.3 a Span larger than SPLIT + 1 is C_BAD_STREAMID', () => {
    const b = new Bench().init({ log2size: 16, split: 6 });
    const l2 = b.alloc(64 * 256);
    b.memory.write(b.strtab + 8n, 8, encodeL1std(l2, 8));
    b.writeDwords(l2 + 64n, [0x9n]);
    expect(b.translate({ sid: 65, address: 0n }).event).toBe(EventType.C_BAD_STREAMID);
  });

  it('7.3.3 a StreamID beyond the 2^(Span-1) STEs of its level-2 array is C_BAD_STREAMID', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    const l2 = b.alloc(64 * 4);
    b.memory.write(b.strtab + 8n, 8, encodeL1std(l2, 3)); // 4 STEs: StreamIDs 0x100..0x103
    b.writeDwords(l2 + 3n * 64n, [0x9n]);
    expect(b.translate({ sid: 0x103, address: 0n }).outcome).toBe(Outcome.Ok);
    expect(b.translate({ sid: 0x104, address: 0n }).event).toBe(EventType.C_BAD_STREAMID);
  });

  it('5.1 the level-2 array is aligned to its size (L2Ptr[N:0] treated as zero)', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    const l2 = b.alloc(64 * 4, 256);
    b.memory.write(b.strtab + 8n, 8, encodeL1std(l2 + 0xc0n, 3));
    b.writeDwords(l2 + 64n, [0x9n]);
    expect(b.translate({ sid: 0x101, address: 0n }).outcome).toBe(Outcome.Ok);
  });

  it('7.3.4 an abort reading the L1STD records F_STE_FETCH with the L1STD address', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    b.memory.markAccessFault(b.strtab + 0x18n, 8n);
    expect(b.translate({ sid: 0x345, address: 0n }).event).toBe(EventType.F_STE_FETCH);
    expect(b.events()[0].FetchAddr << 3n).toBe(b.strtab + 0x18n);
  });

  it('4.3.1 CMD_CFGI_STE with Leaf == 1 keeps the cached L1STD; Leaf == 0 drops it', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    b.writeSte(0x200, BYPASS);
    expect(b.translate({ sid: 0x200, address: 0n }).outcome).toBe(Outcome.Ok);
    b.memory.write(b.strtab + 16n, 8, 0n); // decommission the span
    b.submit(cmdCfgiSte(0x200, true));
    expect(b.translate({ sid: 0x200, address: 0n }).outcome).toBe(Outcome.Ok); // stale L1STD still used
    b.submit(cmdCfgiSte(0x200, false));
    expect(b.translate({ sid: 0x200, address: 0n }).event).toBe(EventType.C_BAD_STREAMID);
  });

  it('4.3.2 CMD_CFGI_STE_RANGE drops the L1STDs and STEs of an aligned range of 2^(Range+1) StreamIDs', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    b.writeSte(0x200, BYPASS);
    b.writeSte(0x3ff, BYPASS);
    b.translate({ sid: 0x200, address: 0n });
    b.translate({ sid: 0x3ff, address: 0n });
    b.memory.write(b.strtab + 16n, 8, 0n);
    b.memory.write(b.strtab + 24n, 8, 0n);
    b.submit(cmdCfgiSteRange(0x2ab, 8)); // StreamIDs 0x200..0x3ff
    expect(b.translate({ sid: 0x200, address: 0n }).event).toBe(EventType.C_BAD_STREAMID);
    expect(b.translate({ sid: 0x3ff, address: 0n }).event).toBe(EventType.C_BAD_STREAMID);
  });
});
