// Conformance tests for the RISC-V IOMMU hardware performance monitor (specification sections
// "Performance-monitoring counter overflow status (iocountovf)", "... counter inhibits
// (iocountinh)", "... cycles counter (iohpmcycles)", "... event counters (iohpmctr1-31)",
// "... event selectors (iohpmevt1-31)" and the table "Standard Events list").
//
// Walk events count every table access of a walk (each level read, and each A/D update), as
// the C reference model does: the specification leaves the granularity unsaid.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { iodirInvalDdt, iotinvalVma } from '../../../src/formats/index.js';
import { RequestKind } from '../../../src/hw/riscv-iommu/index.js';
import { RiscvIommuBench, type BenchOptions, type PageTable } from '../../support/riscv-iommu-bench.js';

const IPSR = 84;
const IOCOUNTOVF = 88;
const IOCOUNTINH = 92;
const IOHPMCYCLES = 96;
const ctr = (n: number): number => 104 + 8 * (n - 1);
const evt = (n: number): number => 352 + 8 * (n - 1);
const PMIP = 4;
const OF63 = 1n << 63n;
const ALL_ONES_64 = 0xffff_ffff_ffff_ffffn;

const Ev = { Untranslated: 1, Translated: 2, AtsTranslation: 3, TlbMiss: 4, DdtWalk: 5, PdtWalk: 6, FirstStageWalk: 7, SecondStageWalk: 8 } as const;

interface Selector {
  eventId: number;
  dmask?: boolean;
  pidPscid?: number;
  didGscid?: number;
  pvPscv?: boolean;
  dvGscv?: boolean;
  idt?: boolean;
  of?: boolean;
}

/** iohpmevt encoding, from the register's field table. */
function selector(s: Selector): bigint {
  return (
    BigInt(s.eventId) |
    (s.dmask ? 1n << 15n : 0n) |
    (BigInt(s.pidPscid ?? 0) << 16n) |
    (BigInt(s.didGscid ?? 0) << 36n) |
    (s.pvPscv ? 1n << 60n : 0n) |
    (s.dvGscv ? 1n << 61n : 0n) |
    (s.idt ? 1n << 62n : 0n) |
    (s.of ? 1n << 63n : 0n)
  );
}

function program(b: RiscvIommuBench, n: number, s: Selector, start = 0n): void {
  b.write64(evt(n), selector(s));
  b.write64(ctr(n), start);
}

const count = (b: RiscvIommuBench, n: number): bigint => b.read64(ctr(n));

function bench(o: BenchOptions = {}): RiscvIommuBench {
  return new RiscvIommuBench({ cqEntries: 16, fqEntries: 256, mode: '3LVL', ...o });
}

const IOVA = 0x8000_0000n;

/** Device `did` with an Sv39 first stage (4-KiB leaf at IOVA) and the given PSCID. */
function sv39Device(b: RiscvIommuBench, did: number, pscid: number, ats = false): PageTable {
  const pt = b.pageTable('Sv39');
  pt.map(IOVA, 0x20_0000_0000n);
  b.setDeviceContext(did, { tc: { EN_ATS: ats }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid } });
  return pt;
}

/** Device `did` with Sv39 over Sv39x4 (first-stage tables in guest-physical memory). */
function twoStageDevice(b: RiscvIommuBench, did: number, pscid: number, gscid: number): void {
  const g = b.pageTable('Sv39x4');
  const s = b.guestPageTable('Sv39', g, 0x1_0000_0000n);
  s.map(IOVA, 0x4000_0000n);
  g.map(0x4000_0000n, 0x30_0000_0000n);
  b.setDeviceContext(did, { iohgatp: { mode: 8, ppn: g.root, gscid }, fsc: { mode: 8, ppn: s.root }, ta: { pscid } });
}

/** Device `did` with only a second stage (Sv39x4) and the given GSCID. */
function secondStageDevice(b: RiscvIommuBench, did: number, gscid: number): void {
  const g = b.pageTable('Sv39x4');
  g.map(IOVA, 0x30_0000_0000n);
  b.setDeviceContext(did, { iohgatp: { mode: 8, ppn: g.root, gscid } });
}

const PDT_MODE = { PD8: 1, PD17: 2, PD20: 3 } as const;

/**
 * A process directory built the way software builds one (supervisor-physical tables, second
 * stage Bare), in the byte order `bigEndian`.
 */
class ProcessDirectory {
  readonly root: bigint;
  constructor(
    private readonly b: RiscvIommuBench,
    readonly mode: keyof typeof PDT_MODE,
    private readonly bigEndian = false,
  ) {
    this.root = b.alloc.alloc();
  }

  private rd(a: bigint): bigint {
    const v = this.b.memory.read(a, 8);
    return this.bigEndian ? swap64(v) : v;
  }

  private wr(a: bigint, v: bigint): void {
    this.b.memory.write(a, 8, this.bigEndian ? swap64(v) : v);
  }

  /** Writes the process context of `pid`: ta (V, ENS, SUM, PSCID) and fsc (iosatp). */
  set(pid: number, pc: { pscid: number; fscMode: number; fscRoot: bigint; ens?: boolean; sum?: boolean }): void {
    const levels = PDT_MODE[this.mode];
    let table = this.root;
    for (let level = levels - 1; level > 0; level--) {
      const index = level === 2 ? (pid >>> 17) & 7 : (pid >>> 8) & 0x1ff;
      const slot = table + BigInt(index * 8);
      let e = this.rd(slot);
      if ((e & 1n) === 0n) {
        e = ((this.b.alloc.alloc() >> 12n) << 10n) | 1n;
        this.wr(slot, e);
      }
      table = ((e >> 10n) & ((1n << 44n) - 1n)) << 12n;
    }
    const a = table + BigInt((pid & 0xff) * 16);
    this.wr(a, 1n | (pc.ens ? 2n : 0n) | (pc.sum ? 4n : 0n) | (BigInt(pc.pscid) << 12n));
    this.wr(a + 8n, (BigInt(pc.fscMode) << 60n) | (pc.fscRoot >> 12n));
  }
}

function swap64(v: bigint): bigint {
  let out = 0n;
  for (let i = 0n; i < 8n; i++) out = (out << 8n) | ((v >> (8n * i)) & 0xffn);
  return out;
}

// ==============================================================================================

describe('iohpmcycles (§ Performance-monitoring cycles counter)', () => {
  it('counts simulated clock cycles from reset', () => {
    const b = bench();
    expect(b.read64(IOHPMCYCLES)).toBe(0n);
    b.iommu.clock.advance(1234);
    expect(b.read64(IOHPMCYCLES)).toBe(1234n);
    b.iommu.clock.advance(1);
    expect(b.read64(IOHPMCYCLES)).toBe(1235n);
  });

  it('a write sets the value, from which counting continues', () => {
    const b = bench();
    b.iommu.clock.advance(50);
    b.write64(IOHPMCYCLES, 5000n);
    expect(b.read64(IOHPMCYCLES)).toBe(5000n);
    b.iommu.clock.advance(10);
    expect(b.read64(IOHPMCYCLES)).toBe(5010n);
  });

  it('iocountinh.CY inhibits counting; clearing it resumes from the held value (§ iocountinh)', () => {
    const b = bench();
    b.iommu.clock.advance(100);
    b.write32(IOCOUNTINH, 1);
    expect(b.read32(IOCOUNTINH)).toBe(1);
    b.iommu.clock.advance(1000);
    expect(b.read64(IOHPMCYCLES)).toBe(100n);
    b.write64(IOHPMCYCLES, 7n); // initialising while inhibited
    b.iommu.clock.advance(5);
    expect(b.read64(IOHPMCYCLES)).toBe(7n);
    b.write32(IOCOUNTINH, 0);
    b.iommu.clock.advance(3);
    expect(b.read64(IOHPMCYCLES)).toBe(10n);
  });

  it('overflow at the counter width (63 bits) wraps, sets OF, iocountovf.CY and pmip', () => {
    const b = bench();
    b.write64(IOHPMCYCLES, (1n << 63n) - 4n);
    b.iommu.clock.advance(3);
    expect(b.read64(IOHPMCYCLES)).toBe((1n << 63n) - 1n);
    expect(b.read32(IPSR)).toBe(0);
    b.iommu.clock.advance(5);
    expect(b.read64(IOHPMCYCLES)).toBe(OF63 | 4n);
    expect(b.read32(IOCOUNTOVF)).toBe(1);
    expect(b.read32(IPSR)).toBe(PMIP);
  });

  it('a narrower implementation (hpmCounterBits=40) keeps 40 bits and overflows at 2^40', () => {
    const b = bench({ hpmCounterBits: 40 });
    b.write64(IOHPMCYCLES, ALL_ONES_64 & ~OF63);
    expect(b.read64(IOHPMCYCLES)).toBe((1n << 40n) - 1n);
    b.iommu.clock.advance(2);
    expect(b.read64(IOHPMCYCLES)).toBe(OF63 | 1n);
    expect(b.read32(IPSR)).toBe(PMIP);
  });

  it('no interrupt when OF is already 1: only the OF 0->1 edge raises pmip', () => {
    const b = bench();
    b.write64(IOHPMCYCLES, OF63 | ((1n << 63n) - 1n));
    b.iommu.clock.advance(1);
    expect(b.read64(IOHPMCYCLES)).toBe(OF63);
    expect(b.read32(IPSR)).toBe(0);
    // clearing OF re-arms it
    b.write64(IOHPMCYCLES, (1n << 63n) - 1n);
    expect(b.read32(IOCOUNTOVF)).toBe(0);
    b.iommu.clock.advance(1);
    expect(b.read32(IPSR)).toBe(PMIP);
    expect(b.read32(IOCOUNTOVF)).toBe(1);
  });

  it('keeps counting across many overflows', () => {
    const b = bench({ hpmCounterBits: 32 });
    b.write64(IOHPMCYCLES, 0n);
    b.iommu.clock.advance(3 * 2 ** 32 + 17);
    expect(b.read64(IOHPMCYCLES)).toBe(OF63 | 17n);
  });
});

// ==============================================================================================

describe('iohpmctr/iohpmevt: standard events (§ iohpmevt1-31, table "Standard Events list")', () => {
  it('event 1 counts untranslated requests, whatever their outcome, including debug-interface requests', () => {
    const b = bench();
    program(b, 1, { eventId: Ev.Untranslated });
    program(b, 2, { eventId: Ev.Translated });
    program(b, 3, { eventId: Ev.AtsTranslation });
    sv39Device(b, 0x10, 1);
    b.iommu.translate({ deviceId: 0x10, iova: IOVA });
    b.iommu.translate({ deviceId: 0x11, iova: IOVA }); // no device context: faults, still counted
    b.iommu.translate({ deviceId: 0x10, iova: IOVA, write: true });
    b.debugTranslate(0x10, IOVA);
    expect([count(b, 1), count(b, 2), count(b, 3)]).toEqual([4n, 0n, 0n]);
  });

  it('event 2 counts translated requests and event 3 ATS translation requests', () => {
    const b = bench();
    program(b, 1, { eventId: Ev.Untranslated });
    program(b, 2, { eventId: Ev.Translated });
    program(b, 3, { eventId: Ev.AtsTranslation });
    sv39Device(b, 0x10, 1, true);
    b.iommu.translate({ deviceId: 0x10, iova: IOVA, kind: RequestKind.AtsTranslation });
    b.iommu.translate({ deviceId: 0x10, iova: IOVA, kind: RequestKind.AtsTranslation });
    b.iommu.translate({ deviceId: 0x10, iova: 0x20_0000_0000n, kind: RequestKind.Translated });
    expect([count(b, 1), count(b, 2), count(b, 3)]).toEqual([0n, 1n, 2n]);
  });

  it('event 4 counts IOTLB misses', () => {
    const b = bench();
    program(b, 4, { eventId: Ev.TlbMiss });
    const pt = sv39Device(b, 0x10, 1);
    pt.map(IOVA + 0x1000n, 0x20_0000_1000n);
    b.iommu.translate({ deviceId: 0x10, iova: IOVA });
    expect(count(b, 4)).toBe(1n);
    b.iommu.translate({ deviceId: 0x10, iova: IOVA + 0x10n }); // same page: hit
    expect(count(b, 4)).toBe(1n);
    b.iommu.translate({ deviceId: 0x10, iova: IOVA + 0x1000n });
    expect(count(b, 4)).toBe(2n);
    b.submit(iotinvalVma({ pscid: 1 }));
    b.iommu.translate({ deviceId: 0x10, iova: IOVA });
    expect(count(b, 4)).toBe(3n);
  });

  it('event 5 counts device-directory walks: every DDT level read on a device-context cache miss', () => {
    for (const [mode, levels] of [
      ['1LVL', 1n],
      ['2LVL', 2n],
      ['3LVL', 3n],
    ] as const) {
      const b = bench({ mode });
      program(b, 5, { eventId: Ev.DdtWalk });
      sv39Device(b, 0x21, 1);
      b.iommu.translate({ deviceId: 0x21, iova: IOVA });
      expect(count(b, 5), mode).toBe(levels);
      b.iommu.translate({ deviceId: 0x21, iova: IOVA }); // device context cached
      expect(count(b, 5), mode).toBe(levels);
      b.submit(iodirInvalDdt(0x21));
      b.iommu.translate({ deviceId: 0x21, iova: IOVA });
      expect(count(b, 5), mode).toBe(2n * levels);
    }
  });

  it('event 6 counts process-directory walks: every PDT level read on a process-context cache miss', () => {
    for (const [mode, levels] of [
      ['PD8', 1n],
      ['PD17', 2n],
      ['PD20', 3n],
    ] as const) {
      const b = bench();
      program(b, 6, { eventId: Ev.PdtWalk });
      const pt = b.pageTable('Sv39');
      pt.map(IOVA, 0x20_0000_0000n);
      const pdt = new ProcessDirectory(b, mode);
      pdt.set(0x25, { pscid: 3, fscMode: 8, fscRoot: pt.root });
      b.setDeviceContext(0x30, { tc: { PDTV: true }, fsc: { mode: PDT_MODE[mode], ppn: pdt.root } });
      expect(b.iommu.translate({ deviceId: 0x30, iova: IOVA, processId: 0x25 }).address(0)).toBe(0x20_0000_0000n);
      expect(count(b, 6), mode).toBe(levels);
      b.iommu.translate({ deviceId: 0x30, iova: IOVA, processId: 0x25 });
      expect(count(b, 6), mode).toBe(levels);
    }
  });

  it('event 7 counts first-stage table accesses; event 8 second-stage ones', () => {
    const b = bench();
    program(b, 7, { eventId: Ev.FirstStageWalk });
    program(b, 8, { eventId: Ev.SecondStageWalk });
    const pt = sv39Device(b, 0x10, 1);
    b.iommu.translate({ deviceId: 0x10, iova: IOVA }); // Sv39, 4-KiB leaf: 3 levels
    expect([count(b, 7), count(b, 8)]).toEqual([3n, 0n]);
    pt.map(0xc000_0000n, 0x40_0000_0000n, { level: 1 }); // 2-MiB leaf: 2 levels
    b.iommu.translate({ deviceId: 0x10, iova: 0xc000_0000n });
    expect([count(b, 7), count(b, 8)]).toEqual([5n, 0n]);
    secondStageDevice(b, 0x11, 5);
    b.iommu.translate({ deviceId: 0x11, iova: IOVA }); // Sv39x4 only: 3 levels
    expect([count(b, 7), count(b, 8)]).toEqual([5n, 3n]);
    twoStageDevice(b, 0x12, 2, 6);
    // each of the 3 first-stage PTE reads is translated by a 3-level second-stage walk, then the GPA
    expect(b.iommu.translate({ deviceId: 0x12, iova: IOVA }).address(0)).toBe(0x30_0000_0000n);
    expect([count(b, 7), count(b, 8)]).toEqual([8n, 3n + 12n]);
  });

  it('the first-stage walk event also counts the A/D update access', () => {
    const b = bench();
    program(b, 7, { eventId: Ev.FirstStageWalk });
    const pt = b.pageTable('Sv39');
    pt.map(IOVA, 0x20_0000_0000n, { flags: 0x1en }); // R W X U, A=0, D=0
    b.setDeviceContext(0x10, { tc: { SADE: true }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    b.iommu.translate({ deviceId: 0x10, iova: IOVA });
    expect(count(b, 7)).toBe(4n);
  });

  it('event 0 counts nothing, and a change of eventID keeps the counter value', () => {
    const b = bench();
    program(b, 1, { eventId: 0 }, 42n);
    b.iommu.translate({ deviceId: 1, iova: IOVA });
    expect(count(b, 1)).toBe(42n);
    b.write64(evt(1), selector({ eventId: Ev.Untranslated }));
    expect(count(b, 1)).toBe(42n);
    b.iommu.translate({ deviceId: 1, iova: IOVA });
    expect(count(b, 1)).toBe(43n);
    b.write64(evt(1), 0n);
    b.iommu.translate({ deviceId: 1, iova: IOVA });
    expect(count(b, 1)).toBe(43n);
  });

  it('several counters may count the same event', () => {
    const b = bench();
    for (let n = 1; n <= 31; n++) program(b, n, { eventId: Ev.Untranslated }, BigInt(n));
    b.iommu.translate({ deviceId: 1, iova: IOVA });
    for (let n = 1; n <= 31; n++) expect(count(b, n)).toBe(BigInt(n) + 1n);
  });
});

// ==============================================================================================

describe('iohpmevt filters (§ iohpmevt1-31, table "filtering options")', () => {
  const untranslated = (b: RiscvIommuBench, deviceId: number, processId?: number): void => {
    b.iommu.translate({ deviceId, iova: IOVA, processId });
  };

  it('IDT=0, DV=1: only the device_id in DID_GSCID', () => {
    const b = bench({ mode: 'Bare' });
    program(b, 1, { eventId: Ev.Untranslated, dvGscv: true, didGscid: 0x012349 });
    for (const did of [0x012349, 0x012348, 0x072349, 0x012349]) untranslated(b, did);
    expect(count(b, 1)).toBe(2n);
  });

  it('IDT=0, DV=1, DMASK=1: partial matches (seg:bus:dev any func, seg:bus any dev:func, seg any bus:dev:func)', () => {
    const b = bench({ mode: 'Bare' });
    program(b, 1, { eventId: Ev.Untranslated, dvGscv: true, dmask: true, didGscid: 0x01_23_4b }); // func masked
    program(b, 2, { eventId: Ev.Untranslated, dvGscv: true, dmask: true, didGscid: 0x01_23_7f }); // dev:func masked
    program(b, 3, { eventId: Ev.Untranslated, dvGscv: true, dmask: true, didGscid: 0x01_7f_ff }); // bus:dev:func masked
    program(b, 4, { eventId: Ev.Untranslated, dvGscv: true, dmask: false, didGscid: 0x01_23_4b }); // exact
    const dids = [0x01_23_48, 0x01_23_4f, 0x01_23_50, 0x01_23_00, 0x01_23_ff, 0x01_24_48, 0x01_00_00, 0x01_ff_ff, 0x02_23_48, 0x01_23_4b];
    for (const did of dids) untranslated(b, did);
    expect(count(b, 1)).toBe(3n); // 0x012348, 0x01234f, 0x01234b
    expect(count(b, 2)).toBe(6n); // 0x0123xx
    expect(count(b, 3)).toBe(9n); // 0x01xxxx
    expect(count(b, 4)).toBe(1n);
  });

  it('DMASK partial match agrees with the specification rule for any DID_GSCID (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.array(fc.integer({ min: 0, max: 0xffffff }), { minLength: 1, maxLength: 8 }), (pattern, dids) => {
        const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, resetMode: 'Bare' });
        program(b, 1, { eventId: Ev.Untranslated, dvGscv: true, dmask: true, didGscid: pattern });
        // the low bits up to and including the lowest 0 bit are ignored
        let low = 0;
        while (low < 24 && ((pattern >>> low) & 1) === 1) low++;
        const ignore = low >= 23 ? 0xffffff : (2 ** (low + 1) - 1);
        let expected = 0n;
        for (const did of dids) {
          b.iommu.translate({ deviceId: did, iova: 0n });
          if (((did ^ pattern) & ~ignore & 0xffffff) === 0) expected++;
        }
        expect(count(b, 1)).toBe(expected);
      }),
      { numRuns: 100 },
    );
  });

  it('IDT=0, PV=1: only transactions with a valid, matching process_id', () => {
    const b = bench({ mode: 'Bare' });
    program(b, 1, { eventId: Ev.Untranslated, pvPscv: true, pidPscid: 10 });
    program(b, 2, { eventId: Ev.Untranslated, pvPscv: true, dvGscv: true, pidPscid: 10, didGscid: 0x012349 });
    untranslated(b, 0x012349); // no process_id
    untranslated(b, 0x012349, 10);
    untranslated(b, 0x012349, 11);
    untranslated(b, 0x072349, 10);
    expect(count(b, 1)).toBe(2n);
    expect(count(b, 2)).toBe(1n);
  });

  it('IDT=1, PSCV=1: only transactions whose first stage has the PSCID in PID_PSCID', () => {
    const b = bench();
    program(b, 1, { eventId: Ev.TlbMiss, idt: true, pvPscv: true, pidPscid: 10 });
    program(b, 2, { eventId: Ev.FirstStageWalk, idt: true, pvPscv: true, pidPscid: 10 });
    program(b, 3, { eventId: Ev.TlbMiss, idt: true });
    sv39Device(b, 0x10, 10);
    sv39Device(b, 0x11, 11);
    secondStageDevice(b, 0x12, 10); // no first stage: PSCID not valid
    for (const did of [0x10, 0x11, 0x12]) b.iommu.translate({ deviceId: did, iova: IOVA });
    expect(count(b, 1)).toBe(1n);
    expect(count(b, 2)).toBe(3n);
    expect(count(b, 3)).toBe(3n); // IDT=1 without filters counts everything
  });

  it('IDT=1, GSCV=1: only transactions whose second stage has the GSCID in DID_GSCID (DMASK applies)', () => {
    const b = bench();
    program(b, 1, { eventId: Ev.TlbMiss, idt: true, dvGscv: true, didGscid: 999 });
    program(b, 2, { eventId: Ev.SecondStageWalk, idt: true, dvGscv: true, didGscid: 999 });
    program(b, 3, { eventId: Ev.TlbMiss, idt: true, dvGscv: true, dmask: true, didGscid: 0x7 }); // GSCID 0..15
    program(b, 4, { eventId: Ev.TlbMiss, idt: true, dvGscv: true, pvPscv: true, didGscid: 999, pidPscid: 4 });
    secondStageDevice(b, 0x10, 999);
    secondStageDevice(b, 0x11, 998);
    secondStageDevice(b, 0x12, 12);
    sv39Device(b, 0x13, 999); // no second stage: GSCID not valid
    twoStageDevice(b, 0x14, 4, 999);
    for (const did of [0x10, 0x11, 0x12, 0x13, 0x14]) b.iommu.translate({ deviceId: did, iova: IOVA });
    expect(count(b, 1)).toBe(2n); // 0x10, 0x14
    expect(count(b, 2)).toBe(3n + 12n); // 0x10 (3 accesses), 0x14 (12)
    expect(count(b, 3)).toBe(1n); // 0x12
    expect(count(b, 4)).toBe(1n); // 0x14
  });

  it('events that do not support IDT=1 (1, 2, 3, 5, 6) never count with IDT=1', () => {
    const b = bench();
    const unsupported = [Ev.Untranslated, Ev.Translated, Ev.AtsTranslation, Ev.DdtWalk, Ev.PdtWalk];
    unsupported.forEach((e, i) => program(b, i + 1, { eventId: e, idt: true }));
    unsupported.forEach((e, i) => program(b, i + 10, { eventId: e }));
    const pt = b.pageTable('Sv39');
    pt.map(IOVA, 0x20_0000_0000n);
    const pdt = new ProcessDirectory(b, 'PD8');
    pdt.set(1, { pscid: 3, fscMode: 8, fscRoot: pt.root });
    b.setDeviceContext(0x30, { tc: { PDTV: true, EN_ATS: true }, fsc: { mode: 1, ppn: pdt.root } });
    b.iommu.translate({ deviceId: 0x30, iova: IOVA, processId: 1 });
    b.iommu.translate({ deviceId: 0x30, iova: IOVA, processId: 1, kind: RequestKind.AtsTranslation });
    b.iommu.translate({ deviceId: 0x30, iova: 0x20_0000_0000n, kind: RequestKind.Translated });
    for (let i = 0; i < unsupported.length; i++) {
      expect(count(b, i + 1), `event ${unsupported[i]} with IDT=1`).toBe(0n);
      expect(count(b, i + 10), `event ${unsupported[i]} with IDT=0`).toBeGreaterThan(0n);
    }
  });
});

// ==============================================================================================

describe('counter control: inhibits, overflow, WARL fields (§ iocountinh, § iocountovf, § iohpmctr1-31, § iohpmevt1-31)', () => {
  it('iocountinh bit n inhibits counter n only', () => {
    const b = bench({ mode: 'Bare' });
    for (let n = 1; n <= 4; n++) program(b, n, { eventId: Ev.Untranslated });
    b.write32(IOCOUNTINH, 0b01010);
    expect(b.read32(IOCOUNTINH)).toBe(0b01010);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect([1, 2, 3, 4].map((n) => count(b, n))).toEqual([0n, 1n, 0n, 1n]);
    b.write32(IOCOUNTINH, 0);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect([1, 2, 3, 4].map((n) => count(b, n))).toEqual([1n, 2n, 1n, 2n]);
  });

  it('overflow wraps the counter, sets OF, its iocountovf shadow and pmip; counting goes on', () => {
    const b = bench({ mode: 'Bare' });
    program(b, 5, { eventId: Ev.Untranslated }, ALL_ONES_64 - 1n);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect(count(b, 5)).toBe(ALL_ONES_64);
    expect(b.read32(IPSR)).toBe(0);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect(count(b, 5)).toBe(0n);
    expect(b.read64(evt(5)) >> 63n).toBe(1n);
    expect(b.read32(IOCOUNTOVF)).toBe(1 << 5);
    expect(b.read32(IPSR)).toBe(PMIP);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect(count(b, 5)).toBe(1n);
    // software clears OF by rewriting the selector: the shadow follows
    b.write64(evt(5), selector({ eventId: Ev.Untranslated }));
    expect(b.read32(IOCOUNTOVF)).toBe(0);
  });

  it('only the OF 0->1 edge raises pmip: an overflow with OF already 1 does not', () => {
    const b = bench({ mode: 'Bare' });
    program(b, 1, { eventId: Ev.Untranslated, of: true }, ALL_ONES_64);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect(count(b, 1)).toBe(0n);
    expect(b.read32(IPSR)).toBe(0);
    expect(b.read32(IOCOUNTOVF)).toBe(2);
    // a second counter overflowing while pmip is pending: OF set, no new edge on pmip
    program(b, 2, { eventId: Ev.Untranslated }, ALL_ONES_64);
    program(b, 3, { eventId: Ev.Untranslated }, ALL_ONES_64 - 1n);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect(b.read32(IPSR)).toBe(PMIP);
    b.write32(IPSR, PMIP);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect(b.read32(IOCOUNTOVF)).toBe(2 | 4 | 8);
    expect(b.read32(IPSR)).toBe(PMIP); // counter 3 overflowed: its own OF edge
  });

  it('counters have hpmCounterBits bits: writes are truncated, overflow happens at 2^bits', () => {
    const b = bench({ mode: 'Bare', hpmCounterBits: 40 });
    program(b, 1, { eventId: Ev.Untranslated }, ALL_ONES_64);
    expect(count(b, 1)).toBe((1n << 40n) - 1n);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    expect(count(b, 1)).toBe(0n);
    expect(b.read32(IOCOUNTOVF)).toBe(2);
    expect(b.read32(IPSR)).toBe(PMIP);
  });

  it('counter writes truncate to the width for any value (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 32, max: 64 }), fc.bigInt({ min: 0n, max: ALL_ONES_64 }), fc.integer({ min: 1, max: 31 }), (bits, v, n) => {
        const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, hpmCounterBits: bits });
        b.write64(ctr(n), v);
        expect(b.read64(ctr(n))).toBe(v & ((1n << BigInt(bits)) - 1n));
      }),
      { numRuns: 80 },
    );
  });

  it('eventID is WARL: an id above hpmMaxEventId keeps the old value; the other fields are written', () => {
    const b = bench({ hpmMaxEventId: 4 });
    b.write64(evt(1), selector({ eventId: 3 }));
    b.write64(evt(1), selector({ eventId: 5, pvPscv: true, pidPscid: 9 }));
    expect(b.read64(evt(1))).toBe(selector({ eventId: 3, pvPscv: true, pidPscid: 9 }));
    b.write64(evt(1), selector({ eventId: 0x7fff }));
    expect(b.read64(evt(1)) & 0x7fffn).toBe(3n);
    b.write64(evt(1), selector({ eventId: 4 }));
    expect(b.read64(evt(1)) & 0x7fffn).toBe(4n);
  });

  it('every field of an event selector reads back as written (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          eventId: fc.integer({ min: 0, max: 8 }),
          dmask: fc.boolean(),
          pidPscid: fc.integer({ min: 0, max: 0xfffff }),
          didGscid: fc.integer({ min: 0, max: 0xffffff }),
          pvPscv: fc.boolean(),
          dvGscv: fc.boolean(),
          idt: fc.boolean(),
          of: fc.boolean(),
        }),
        fc.integer({ min: 1, max: 31 }),
        (s, n) => {
          const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 0 });
          b.write64(evt(n), selector(s));
          expect(b.read64(evt(n))).toBe(selector(s));
          expect(b.read32(IOCOUNTOVF)).toBe(s.of ? 2 ** n : 0);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('counters and selectors beyond hpmCounters read 0 and ignore writes; so do their inhibit bits', () => {
    const b = bench({ mode: 'Bare', hpmCounters: 3 });
    for (let n = 1; n <= 31; n++) {
      b.write64(evt(n), selector({ eventId: Ev.Untranslated, of: true }));
      b.write64(ctr(n), 100n);
    }
    b.write32(IOCOUNTINH, 0xffff_fffe);
    expect(b.read32(IOCOUNTINH)).toBe(0b1110);
    b.write32(IOCOUNTINH, 0);
    b.iommu.translate({ deviceId: 1, iova: 0n });
    for (let n = 1; n <= 31; n++) {
      expect(count(b, n), `iohpmctr${n}`).toBe(n <= 3 ? 101n : 0n);
      expect(b.read64(evt(n)), `iohpmevt${n}`).toBe(n <= 3 ? selector({ eventId: Ev.Untranslated, of: true }) : 0n);
    }
    expect(b.read32(IOCOUNTOVF)).toBe(0b1110);
  });

  it('4-byte writes update one half of an event selector (RV32 sequence) without disturbing the other', () => {
    const b = bench({ mode: 'Bare' });
    const sel = selector({ eventId: Ev.Untranslated, dvGscv: true, didGscid: 0x000042 });
    b.write32(evt(1), 0); // eventID 0 first
    b.write32(evt(1) + 4, Number(sel >> 32n));
    b.write32(evt(1), Number(sel & 0xffff_ffffn));
    expect(b.read64(evt(1))).toBe(sel);
    b.iommu.translate({ deviceId: 0x42, iova: 0n });
    b.iommu.translate({ deviceId: 0x43, iova: 0n });
    expect(count(b, 1)).toBe(1n);
  });
});
