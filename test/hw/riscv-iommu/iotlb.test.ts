// Conformance tests of the IOTLB and its invalidation: RISC-V IOMMU "Caching in-memory data
// structures" (address spaces tagged by GSCID/PSCID), "IOMMU Translation-table cache
// invalidation commands" (IOTINVAL.VMA and IOTINVAL.GVMA operand tables), the non-leaf PTE
// invalidation extension (NL) and the address-range invalidation extension (S). A stale
// translation must stay visible until a subsuming invalidation: each scenario caches
// translations, changes the page tables without telling the IOMMU, runs commands, and then
// observes which translations are still the old ones.

import { describe, expect, it } from 'vitest';
import { CqcsrLayout, decode, iofenceC, iotinvalGvma, iotinvalVma, type IotinvalOptions } from '../../../src/formats/index.js';
import { ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import { PTE, RWX_UAD, RiscvIommuBench, type BenchOptions, type PageTable } from '../../support/riscv-iommu-bench.js';

// ---- a machine with several address spaces ------------------------------------------------

const PAGES = { A: 0x4000_0000n, B: 0x4000_1000n, G: 0x8000_0000n } as const;
type PageName = keyof typeof PAGES;

interface SpaceDef {
  name: string;
  did: number;
  gscid?: number; // second stage active
  pscid?: number; // first stage active
  pages: PageName[];
}

const SPACES: SpaceDef[] = [
  { name: 'H1', did: 0x10, pscid: 1, pages: ['A', 'B', 'G'] },
  { name: 'H2', did: 0x11, pscid: 2, pages: ['A', 'G'] },
  { name: 'V51', did: 0x20, gscid: 5, pscid: 1, pages: ['A', 'B', 'G'] },
  { name: 'V52', did: 0x21, gscid: 5, pscid: 2, pages: ['A'] },
  { name: 'V5B', did: 0x22, gscid: 5, pages: ['A'] }, // first stage Bare: IOVA = GPA
  { name: 'V61', did: 0x30, gscid: 6, pscid: 1, pages: ['A', 'G'] },
];

interface Entry {
  key: string;
  space: SpaceDef;
  iova: bigint;
  oldSpa: bigint;
  newSpa: bigint;
  /** GPA the old translation went through (two-stage spaces). */
  oldGpa: bigint;
}

class World {
  readonly b: RiscvIommuBench;
  readonly entries: Entry[] = [];
  private readonly change: (() => void)[] = [];

  constructor(opts: BenchOptions = {}) {
    const b = new RiscvIommuBench({ mode: '2LVL', ...opts });
    this.b = b;
    const gTables = new Map<number, PageTable>();
    let n = 0n;
    for (const sp of SPACES) {
      let g: PageTable | undefined;
      if (sp.gscid !== undefined) {
        g = gTables.get(sp.gscid);
        if (g === undefined) {
          g = b.pageTable('Sv39x4');
          gTables.set(sp.gscid, g);
        }
      }
      let s: PageTable | undefined;
      if (sp.pscid !== undefined) s = g === undefined ? b.pageTable('Sv39') : b.guestPageTable('Sv39', g, 0x100_0000_0000n + BigInt(sp.did) * 0x100_0000n);
      b.setDeviceContext(sp.did, {
        iohgatp: g === undefined ? { mode: 0 } : { mode: 8, ppn: g.root, gscid: sp.gscid },
        fsc: s === undefined ? { mode: 0 } : { mode: 8, ppn: s.root },
        ta: { pscid: sp.pscid ?? 0 },
      });
      for (const p of sp.pages) {
        n++;
        const iova = PAGES[p];
        const flags = RWX_UAD | (p === 'G' ? PTE.G : 0n);
        const oldSpa = 0x10_0000_0000n + n * 0x1000n;
        const newSpa = 0x20_0000_0000n + n * 0x1000n;
        let oldGpa = iova;
        if (s !== undefined && g !== undefined) {
          oldGpa = 0x30_0000_0000n + n * 0x1000n;
          const newGpa = 0x31_0000_0000n + n * 0x1000n;
          const ss = s;
          ss.map(iova, oldGpa, { flags });
          g.map(oldGpa, oldSpa);
          g.map(newGpa, newSpa);
          this.change.push(() => ss.map(iova, newGpa, { flags }));
        } else if (s !== undefined) {
          const ss = s;
          ss.map(iova, oldSpa, { flags });
          this.change.push(() => ss.map(iova, newSpa, { flags }));
        } else if (g !== undefined) {
          const gg = g;
          gg.map(iova, oldSpa);
          this.change.push(() => gg.map(iova, newSpa));
        }
        this.entries.push({ key: `${sp.name}:${p}`, space: sp, iova, oldSpa, newSpa, oldGpa });
      }
    }
    // Fill the IOTLB, then change every mapping behind the IOMMU's back.
    for (const e of this.entries) expect(this.translate(e)).toBe(e.oldSpa);
    for (const c of this.change) c();
    expect(b.faults()).toEqual([]);
  }

  translate(e: Entry): bigint {
    const rsp = this.b.iommu.translate({ deviceId: e.space.did, iova: e.iova + 0x10n });
    expect(rsp.status, `${e.key}: cause ${rsp.cause}`).toBe(ResponseStatus.Success);
    return rsp.address(0x10) - 0x10n;
  }

  entry(key: string): Entry {
    const e = this.entries.find((x) => x.key === key);
    if (e === undefined) throw new Error(key);
    return e;
  }

  /** The keys whose old translation is still used (each key is observed once, then re-filled). */
  stale(): Set<string> {
    const out = new Set<string>();
    for (const e of this.entries) {
      const a = this.translate(e);
      if (a === e.oldSpa) out.add(e.key);
      else expect(a, e.key).toBe(e.newSpa);
    }
    return out;
  }

  get illegal(): boolean {
    return decode(CqcsrLayout, BigInt(this.b.cqcsr)).cmd_ill === 1n;
  }
}

const ALL_KEYS = (): string[] => SPACES.flatMap((s) => s.pages.map((p) => `${s.name}:${p}`));

/** Asserts that exactly the `invalidated` keys were re-walked; `dontCare` keys may go either way. */
function expectInvalidated(w: World, invalidated: string[], dontCare: string[] = []): void {
  const stale = w.stale();
  const expected = ALL_KEYS().filter((k) => !invalidated.includes(k) && !dontCare.includes(k));
  for (const k of dontCare) stale.delete(k);
  expect([...stale].sort()).toEqual(expected.sort());
}

describe('IOTLB: stale translations stay visible until a matching invalidation ("Caching in-memory data structures")', () => {
  it('without any invalidation every changed mapping is still translated the old way', () => {
    const w = new World();
    expectInvalidated(w, []);
  });

  it('IOTINVAL.VMA with non-matching operands leaves the translation stale; the matching one removes it', () => {
    const w = new World();
    w.b.submit(iotinvalVma({ pscid: 2, address: PAGES.B }), iotinvalVma({ pscid: 1, address: 0x4000_2000n }), iotinvalVma({ gscid: 6, pscid: 1, address: PAGES.B }), iofenceC());
    expect(w.translate(w.entry('H1:B'))).toBe(w.entry('H1:B').oldSpa);
    w.b.submit(iotinvalVma({ pscid: 1, address: PAGES.B }), iofenceC());
    expect(w.translate(w.entry('H1:B'))).toBe(w.entry('H1:B').newSpa);
    expect(w.illegal).toBe(false);
  });
});

describe('IOTINVAL.VMA: every GV/AV/PSCV combination (table "IOTINVAL.VMA operands and operations")', () => {
  // Operands where valid: GSCID 5, PSCID 1, ADDR = page A.
  const cases: [string, IotinvalOptions, string[], string[]][] = [
    ['GV=0 AV=0 PSCV=0: all host address spaces, global entries included', {}, ['H1:A', 'H1:B', 'H1:G', 'H2:A', 'H2:G'], []],
    ['GV=0 AV=0 PSCV=1: host PSCID 1, global entries spared', { pscid: 1 }, ['H1:A', 'H1:B'], []],
    ['GV=0 AV=1 PSCV=0: IOVA A in all host address spaces', { address: PAGES.A }, ['H1:A', 'H2:A'], []],
    ['GV=0 AV=1 PSCV=1: IOVA A in host PSCID 1', { pscid: 1, address: PAGES.A }, ['H1:A'], []],
    ['GV=1 AV=0 PSCV=0: every address space of GSCID 5', { gscid: 5 }, ['V51:A', 'V51:B', 'V51:G', 'V52:A', 'V5B:A'], []],
    ['GV=1 AV=0 PSCV=1: GSCID 5 / PSCID 1, global entries spared', { gscid: 5, pscid: 1 }, ['V51:A', 'V51:B'], ['V5B:A']],
    // The Bare-first-stage entry holds no first-stage leaf: invalidating it too is allowed.
    ['GV=1 AV=1 PSCV=0: IOVA A in every address space of GSCID 5', { gscid: 5, address: PAGES.A }, ['V51:A', 'V52:A'], ['V5B:A']],
    ['GV=1 AV=1 PSCV=1: IOVA A in GSCID 5 / PSCID 1', { gscid: 5, pscid: 1, address: PAGES.A }, ['V51:A'], ['V5B:A']],
  ];

  it.each(cases)('%s', (_name, ops, invalidated, dontCare) => {
    const w = new World();
    w.b.submit(iotinvalVma(ops), iofenceC());
    expect(w.illegal).toBe(false);
    expectInvalidated(w, invalidated, dontCare);
  });

  it('a global mapping inherited from a non-leaf G bit is also spared by PSCV=1', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x4000_0000n, 0x1000n);
    const nl = pt.pteAddress(0x4000_0000n, 2);
    pt.write(nl, pt.read(nl) | PTE.G);
    b.setDeviceContext(1, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 7 } });
    expect(b.iommu.translate({ deviceId: 1, iova: 0x4000_0000n }).address(0)).toBe(0x1000n);
    pt.map(0x4000_0000n, 0x2000n);
    b.submit(iotinvalVma({ pscid: 7 }), iotinvalVma({ pscid: 7, address: 0x4000_0000n }));
    expect(b.iommu.translate({ deviceId: 1, iova: 0x4000_0000n }).address(0)).toBe(0x1000n);
    b.submit(iotinvalVma({ address: 0x4000_0000n }));
    expect(b.iommu.translate({ deviceId: 1, iova: 0x4000_0000n }).address(0)).toBe(0x2000n);
  });

  it('an address inside a cached superpage invalidates the whole superpage entry', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x20_0000n, 0x4000_0000n, { level: 1 });
    b.setDeviceContext(1, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 7 } });
    expect(b.iommu.translate({ deviceId: 1, iova: 0x20_1000n }).address(0)).toBe(0x4000_1000n);
    pt.map(0x20_0000n, 0x8000_0000n, { level: 1 });
    b.submit(iotinvalVma({ pscid: 7, address: 0x3f_f000n }));
    expect(b.iommu.translate({ deviceId: 1, iova: 0x20_1000n }).address(0)).toBe(0x8000_1000n);
  });
});

describe('IOTINVAL with an address: entries smaller than the leaf they came from ("contain leaf PTEs corresponding to ADDR")', () => {
  function twoStage(): { b: RiscvIommuBench; g: PageTable; s: PageTable } {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const g = b.pageTable('Sv39x4');
    const s = b.guestPageTable('Sv39', g, 0x100_0000_0000n);
    b.setDeviceContext(1, { iohgatp: { mode: 8, ppn: g.root, gscid: 5 }, fsc: { mode: 8, ppn: s.root }, ta: { pscid: 7 } });
    return { b, g, s };
  }
  const t = (b: RiscvIommuBench, iova: bigint) => b.iommu.translate({ deviceId: 1, iova }).address(0);

  it('IOTINVAL.VMA naming another page of a first-stage superpage removes the 4 KiB entries built from it (second stage 4 KiB)', () => {
    const { b, g, s } = twoStage();
    s.map(0x20_0000n, 0x4000_0000n, { level: 1 }); // 2 MiB first-stage leaf
    for (let i = 0n; i < 512n; i++) {
      g.map(0x4000_0000n + i * 0x1000n, 0x1_0000_0000n + i * 0x1000n);
      g.map(0x6000_0000n + i * 0x1000n, 0x2_0000_0000n + i * 0x1000n);
    }
    expect(t(b, 0x20_5000n)).toBe(0x1_0000_5000n);
    s.map(0x20_0000n, 0x6000_0000n, { level: 1 });
    b.submit(iotinvalVma({ gscid: 5, pscid: 7, address: 0x21_0000n }));
    expect(t(b, 0x20_5000n)).toBe(0x2_0000_5000n);
  });

  it('IOTINVAL.GVMA naming another page of a second-stage superpage removes the 4 KiB entries built from it (first stage 4 KiB)', () => {
    const { b, g, s } = twoStage();
    s.map(0x5000n, 0x4000_5000n);
    g.map(0x4000_0000n, 0x1_0000_0000n, { level: 1 });
    expect(t(b, 0x5000n)).toBe(0x1_0000_5000n);
    g.map(0x4000_0000n, 0x2_0000_0000n, { level: 1 });
    b.submit(iotinvalGvma({ gscid: 5, address: 0x401f_f000n }));
    expect(t(b, 0x5000n)).toBe(0x2_0000_5000n);
  });

  it('IOTINVAL.VMA naming another part of a 1 GiB first-stage page cached in ranges of bareSecondStageBytes', () => {
    const b = new RiscvIommuBench({ mode: '1LVL', bareSecondStageBytes: 0x20_0000n });
    const pt = b.pageTable('Sv39');
    pt.map(0x4000_0000n, 0x8000_0000n, { level: 2 });
    b.setDeviceContext(1, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 7 } });
    expect(t(b, 0x4000_5000n)).toBe(0x8000_5000n);
    expect(b.iommu.translate({ deviceId: 1, iova: 0x4000_5000n }).log2Pages).toBe(9);
    pt.map(0x4000_0000n, 0xc000_0000n, { level: 2 });
    b.submit(iotinvalVma({ pscid: 7, address: 0x7fff_f000n }));
    expect(t(b, 0x4000_5000n)).toBe(0xc000_5000n);
  });
});

describe('IOTINVAL.GVMA: every GV/AV combination (table "IOTINVAL.GVMA operands and operations")', () => {
  const V_ALL = ['V51:A', 'V51:B', 'V51:G', 'V52:A', 'V5B:A', 'V61:A', 'V61:G'];

  it('GV=0 (AV ignored): every VM address space, no host entry', () => {
    const w = new World();
    w.b.submit(iotinvalGvma({ address: PAGES.A }), iofenceC());
    expectInvalidated(w, V_ALL);
  });

  it('GV=1 AV=0: only the address spaces of GSCID 5', () => {
    const w = new World();
    w.b.submit(iotinvalGvma({ gscid: 5 }), iofenceC());
    expectInvalidated(w, ['V51:A', 'V51:B', 'V51:G', 'V52:A', 'V5B:A']);
  });

  it('GV=1 AV=1: only translations through the second-stage leaf of that GPA (GPA-selective, also for IOVA->SPA entries)', () => {
    const w = new World();
    w.b.submit(iotinvalGvma({ gscid: 5, address: w.entry('V51:A').oldGpa }), iofenceC());
    expectInvalidated(w, ['V51:A']);
    const w2 = new World();
    w2.b.submit(iotinvalGvma({ gscid: 5, address: PAGES.A }), iotinvalGvma({ gscid: 6, address: w2.entry('V52:A').oldGpa }), iofenceC());
    expectInvalidated(w2, ['V5B:A']);
  });

  it('PSCV=1 is illegal: cmd_ill is set, cqh stays on the command, nothing is invalidated', () => {
    const w = new World();
    const [w0, w1] = iotinvalGvma({ gscid: 5 });
    const cqh = w.b.read32(32);
    w.b.submit([w0 | (1n << 32n), w1]);
    expect(w.illegal).toBe(true);
    expect(w.b.read32(32)).toBe(cqh);
    expectInvalidated(w, []);
  });
});

describe('IOTINVAL: the address-range extension (capabilities.S, "Address Range Invalidation Extension")', () => {
  it('S=1: ADDR encodes a NAPOT range (first 0 bit at X -> 2^(X+1) pages)', () => {
    const w = new World();
    // X = 0: 8 KiB at page A covers A and B (A + 4 KiB).
    w.b.submit(iotinvalVma({ pscid: 1, address: PAGES.A, range: true }), iofenceC());
    expect(w.illegal).toBe(false);
    expectInvalidated(w, ['H1:A', 'H1:B']);
  });

  it('S=1: a 2 GiB range starting at 0 covers A and B but not G (0x8000_0000)', () => {
    const w = new World();
    const twoGiB = 0x3fff_f000n; // ADDR bits 17:0 ones, bit 18 zero: 2^19 pages from 0
    w.b.submit(iotinvalVma({ address: twoGiB, range: true }), iotinvalGvma({ gscid: 5, address: 0x30_0000_0000n | 0x7ff_f000n, range: true }), iofenceC());
    expectInvalidated(w, ['H1:A', 'H1:B', 'H2:A', 'V51:A', 'V51:B', 'V51:G', 'V52:A']);
  });

  it('S=1 with ADDR[63] = 0 and every other bit 1 covers the whole address space', () => {
    const w = new World();
    w.b.submit(iotinvalVma({ pscid: 2, address: 0x7fff_ffff_ffff_f000n, range: true }), iofenceC());
    expectInvalidated(w, ['H2:A']);
  });

  it('S is ignored when AV=0', () => {
    const w = new World();
    const [w0, w1] = iotinvalVma({ pscid: 1 });
    w.b.submit([w0, w1 | (1n << 9n)], iofenceC());
    expect(w.illegal).toBe(false);
    expectInvalidated(w, ['H1:A', 'H1:B']);
  });

  it('capabilities.S=0: bit 73 is reserved -> illegal command, nothing invalidated', () => {
    const w = new World({ capabilities: { S: false } });
    w.b.submit(iotinvalVma({ pscid: 1, address: PAGES.A, range: true }));
    expect(w.illegal).toBe(true);
    expectInvalidated(w, []);
  });
});

describe('IOTINVAL: the non-leaf PTE invalidation extension (capabilities.NL)', () => {
  it('NL=1 with the capability: leaf entries of the address are invalidated as well', () => {
    const w = new World();
    w.b.submit(iotinvalVma({ pscid: 1, address: PAGES.B, nonLeaf: true }), iotinvalGvma({ gscid: 6, address: w.entry('V61:G').oldGpa, nonLeaf: true }), iofenceC());
    expect(w.illegal).toBe(false);
    expectInvalidated(w, ['H1:B', 'V61:G']);
  });

  it('NL=1 also invalidates cached non-leaf information: a changed non-leaf PTE is used afterwards', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x4000_0000n, 0x1000n);
    b.setDeviceContext(1, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 7 } });
    expect(b.iommu.translate({ deviceId: 1, iova: 0x4000_0000n }).address(0)).toBe(0x1000n);
    // Replace the whole level-1 table (a non-leaf change).
    const other = b.pageTable('Sv39');
    other.map(0x4000_0000n, 0x2000n);
    pt.write(pt.pteAddress(0x4000_0000n, 2), other.read(other.pteAddress(0x4000_0000n, 2)));
    b.submit(iotinvalVma({ pscid: 7, address: 0x4000_0000n, nonLeaf: true }));
    expect(b.iommu.translate({ deviceId: 1, iova: 0x4000_0000n }).address(0)).toBe(0x2000n);
  });

  it('capabilities.NL=0: bit 34 is reserved -> illegal command', () => {
    const w = new World({ capabilities: { NL: false } });
    w.b.submit(iotinvalVma({ pscid: 1, address: PAGES.A, nonLeaf: true }));
    expect(w.illegal).toBe(true);
    expectInvalidated(w, []);
    const w2 = new World({ capabilities: { NL: false } });
    w2.b.submit(iotinvalGvma({ gscid: 5, address: PAGES.A, nonLeaf: true }));
    expect(w2.illegal).toBe(true);
  });
});

// ---- geometry, counters and fill rules -----------------------------------------------------

function single(opts: BenchOptions = {}, tc: { SADE?: boolean } = {}): { b: RiscvIommuBench; pt: PageTable } {
  const b = new RiscvIommuBench({ mode: '1LVL', ...opts });
  const pt = b.pageTable('Sv39');
  b.setDeviceContext(3, { tc, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 9 } });
  return { b, pt };
}

function tr(b: RiscvIommuBench, iova: bigint, write = false): bigint {
  const rsp = b.iommu.translate({ deviceId: 3, iova, write });
  expect(rsp.status, `cause ${rsp.cause}`).toBe(ResponseStatus.Success);
  return rsp.address(0);
}

describe('IOTLB geometry (parameter caches.iotlb {sets, ways}) and statistics', () => {
  it('a 1-set, 4-way IOTLB keeps 4 translations and evicts the least recently used one', () => {
    const { b, pt } = single({ caches: { iotlb: { sets: 1, ways: 4 } } });
    const pages = [0, 1, 2, 3, 4].map((i) => 0x10_0000n + BigInt(i) * 0x1000n);
    pages.forEach((p, i) => pt.map(p, 0x100_0000n + BigInt(i) * 0x1000n));
    for (const p of pages.slice(0, 4)) tr(b, p);
    tr(b, pages[0]); // page 1 is now the least recently used
    tr(b, pages[4]);
    expect(b.iommu.statistics().iotlb).toMatchObject({ evictions: 1, entries: 4, fills: 5, hits: 1, misses: 5 });
    pages.forEach((p, i) => pt.map(p, 0x200_0000n + BigInt(i) * 0x1000n));
    // Observe the survivors first (hits), then the evicted page (its re-walk evicts another).
    const seen = [0, 2, 3, 4, 1].map((i) => tr(b, pages[i]) >> 24n);
    expect(seen).toEqual([1n, 1n, 1n, 1n, 2n]); // only page 1 was re-walked
  });

  it('the IOTLB never holds more entries than sets x ways', () => {
    const { b, pt } = single({ caches: { iotlb: { sets: 2, ways: 2 } } });
    for (let i = 0n; i < 16n; i++) pt.map(0x10_0000n + i * 0x1000n, 0x100_0000n + i * 0x1000n);
    for (let i = 0n; i < 16n; i++) tr(b, 0x10_0000n + i * 0x1000n);
    const s = b.iommu.statistics().iotlb;
    expect(s.entries).toBeLessThanOrEqual(4);
    expect(s.fills).toBe(16);
    expect(s.evictions).toBe(16 - s.entries);
  });

  it('hit/miss counters and hit rate (statistics().iotlb)', () => {
    const { b, pt } = single();
    pt.map(0x5000n, 0x6000n);
    pt.map(0x7000n, 0x8000n);
    tr(b, 0x5000n);
    tr(b, 0x5000n);
    tr(b, 0x5008n, true);
    tr(b, 0x7000n);
    expect(b.iommu.statistics().iotlb).toMatchObject({ hits: 2, misses: 2, hitRate: 0.5, fills: 2, entries: 2 });
    expect(b.iommu.statistics().walks.firstStage).toBe(2);
  });

  it('a cached entry without D is re-walked for a store, and the walk sets D (SADE=1)', () => {
    const { b, pt } = single({}, { SADE: true });
    const pte = pt.map(0x5000n, 0x6000n, { flags: PTE.R | PTE.W | PTE.U | PTE.A });
    tr(b, 0x5000n);
    expect(pt.read(pte) & PTE.D).toBe(0n);
    tr(b, 0x5000n, true);
    expect(pt.read(pte) & PTE.D).toBe(PTE.D);
    tr(b, 0x5000n, true);
    expect(b.iommu.statistics().iotlb).toMatchObject({ hits: 1, misses: 2 });
  });

  it('a cached entry without D does not let a store through when SADE=0: store page fault', () => {
    const { b, pt } = single();
    pt.map(0x5000n, 0x6000n, { flags: PTE.R | PTE.W | PTE.U | PTE.A });
    tr(b, 0x5000n);
    expect(b.iommu.translate({ deviceId: 3, iova: 0x5000n, write: true }).cause).toBe(15);
    expect(b.faults().map((f) => f.cause)).toEqual([15]);
  });

  it('a walk that faulted is never cached: fixing the PTE needs no invalidation', () => {
    const { b, pt } = single();
    pt.map(0x5000n, 0x6000n, { flags: PTE.R | PTE.U | PTE.A | PTE.D });
    pt.setPte(0x9000n, 0, 0n);
    expect(b.iommu.translate({ deviceId: 3, iova: 0x9000n }).cause).toBe(13);
    expect(b.iommu.translate({ deviceId: 3, iova: 0x5000n, write: true }).cause).toBe(15);
    expect(b.iommu.statistics().iotlb.entries).toBe(0);
    pt.map(0x9000n, 0xa000n);
    pt.map(0x5000n, 0x6000n);
    expect(tr(b, 0x9000n)).toBe(0xa000n);
    expect(tr(b, 0x5000n, true)).toBe(0x6000n);
    expect(b.faults().map((f) => f.cause)).toEqual([13, 15]);
  });

  it('IOTINVAL.VMA of one address space leaves another (same IOVA, other PSCID) cached', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const p1 = b.pageTable('Sv39');
    const p2 = b.pageTable('Sv39');
    p1.map(0x5000n, 0x1000n);
    p2.map(0x5000n, 0x2000n);
    b.setDeviceContext(1, { fsc: { mode: 8, ppn: p1.root }, ta: { pscid: 1 } });
    b.setDeviceContext(2, { fsc: { mode: 8, ppn: p2.root }, ta: { pscid: 2 } });
    const t = (did: number) => b.iommu.translate({ deviceId: did, iova: 0x5000n }).address(0);
    expect([t(1), t(2)]).toEqual([0x1000n, 0x2000n]);
    p1.map(0x5000n, 0x3000n);
    p2.map(0x5000n, 0x4000n);
    b.submit(iotinvalVma({ pscid: 1, address: 0x5000n }));
    expect([t(1), t(2)]).toEqual([0x3000n, 0x2000n]);
    expect(b.iommu.statistics().iotlb.invalidations).toBeGreaterThanOrEqual(1);
  });
});

describe('IOTLB: devices sharing an address space share entries (tags are GSCID/PSCID, not device_id)', () => {
  it('two devices with the same PSCID and tables see one cached translation', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x5000n, 0x1000n);
    b.setDeviceContext(1, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 4 } });
    b.setDeviceContext(2, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 4 } });
    b.iommu.translate({ deviceId: 1, iova: 0x5000n });
    b.iommu.translate({ deviceId: 2, iova: 0x5000n });
    expect(b.iommu.statistics().iotlb).toMatchObject({ hits: 1, misses: 1 });
  });
});

