// Conformance tests of two-stage translation: RISC-V IOMMU "Process to translate an IOVA"
// steps 17-19 with the Privileged Architecture's "Two-Stage Address Translation": first-stage
// tables live in guest-physical memory and every access to them is an implicit access
// translated by the second stage; guest-page faults on implicit accesses report the GPA of
// the PTE with iotval2 bit 0 set (bit 1 for an A/D write) ("Fault/Event-Queue": iotval2);
// A/D updating under SADE/GADE ("IOMMU updating of PTE accessed (A) and dirty (D)"); the
// resolved PBMT; the range of a translation is the smaller stage's, and Bare stages use the
// implementation-defined ranges (bareFirstStageBytes / bareSecondStageBytes parameters).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../../src/formats/index.js';
import { RequestKind, ResponseStatus, type TranslationResponse } from '../../../src/hw/riscv-iommu/index.js';
import { PTE, RiscvIommuBench, type BenchOptions, type DeviceContextFields, type FaultRecord, type PageTable } from '../../support/riscv-iommu-bench.js';

type SMode = 'Sv32' | 'Sv39' | 'Sv48' | 'Sv57';
type GMode = 'Sv32x4' | 'Sv39x4' | 'Sv48x4' | 'Sv57x4';
type Access = 'r' | 'w' | 'x';

const DID = 0x0b7;
const GSCID = 0x321;
const PSCID = 0x4567;
const FSC_MODE: Record<SMode, number> = { Sv32: 8, Sv39: 8, Sv48: 9, Sv57: 10 };
const IOHGATP_MODE: Record<GMode, number> = { Sv32x4: 8, Sv39x4: 8, Sv48x4: 9, Sv57x4: 10 };
const PAGE_FAULT: Record<Access, number> = { x: 12, r: 13, w: 15 };
const GUEST_PAGE_FAULT: Record<Access, number> = { x: 20, r: 21, w: 23 };
const ACCESS_FAULT: Record<Access, number> = { x: 1, r: 5, w: 7 };
const TTYP: Record<Access, number> = { x: 1, r: 2, w: 3 };
/** GPAs of the first-stage table pages (below 2^34 so that Sv32x4 reaches them too). */
const TABLE_GPA = 0x2_0000_0000n;
const MiB = 0x10_0000n;
const GiB = 0x4000_0000n;

interface Rig {
  b: RiscvIommuBench;
  g: PageTable;
  s: PageTable;
}

function benchWithGxl(gxl: boolean, opts: BenchOptions): RiscvIommuBench {
  const b = new RiscvIommuBench({ ...opts, cqEntries: 0, fqEntries: 0, pqEntries: 0 });
  b.write32(Reg.fctl, gxl ? 4 : 0);
  b.enableCommandQueue(64);
  b.enableFaultQueue(64);
  b.setMode('3LVL');
  return b;
}

function setup(o: { s?: SMode; g?: GMode; opts?: BenchOptions; dc?: DeviceContextFields } = {}): Rig {
  const sMode = o.s ?? 'Sv39';
  const gMode = o.g ?? 'Sv39x4';
  const b = benchWithGxl(gMode === 'Sv32x4', o.opts ?? {});
  const g = b.pageTable(gMode);
  const s = b.guestPageTable(sMode, g, TABLE_GPA);
  b.setDeviceContext(DID, {
    ...o.dc,
    tc: { EN_ATS: true, SXL: sMode === 'Sv32', ...o.dc?.tc },
    iohgatp: { mode: IOHGATP_MODE[gMode], ppn: g.root, gscid: GSCID },
    fsc: { mode: FSC_MODE[sMode], ppn: s.root },
    ta: { pscid: PSCID },
  });
  return { b, g, s };
}

function access(b: RiscvIommuBench, iova: bigint, a: Access): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, write: a === 'w', execute: a === 'x' });
}

function ats(b: RiscvIommuBench, iova: bigint, write = false): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, kind: RequestKind.AtsTranslation, write });
}

/** iotval2 holds GPA bits 63:2 and the implicit/write flags; the page offset may be reported as 0. */
function expectIotval2(f: FaultRecord, gpa: bigint, low2: bigint): void {
  expect(f.iotval2 & 3n, 'iotval2[1:0]').toBe(low2);
  expect(f.iotval2 >> 12n, 'iotval2 page').toBe(gpa >> 12n);
  const off = f.iotval2 & 0xffcn;
  expect(off === 0n || off === (gpa & 0xffcn), `iotval2 page offset ${off.toString(16)}`).toBe(true);
}

/** Expects a fault with `cause` and one record; returns the record. */
function expectFault(b: RiscvIommuBench, iova: bigint, a: Access, cause: number): FaultRecord {
  const rsp = access(b, iova, a);
  expect(rsp.status).toBe(ResponseStatus.UnsupportedRequest);
  expect(rsp.cause).toBe(cause);
  const f = b.faults();
  expect(f).toHaveLength(1);
  expect(f[0]).toMatchObject({ cause, ttyp: TTYP[a], did: DID, iotval: iova });
  return f[0];
}

function expectTranslates(b: RiscvIommuBench, iova: bigint, a: Access, spa: bigint): TranslationResponse {
  const rsp = access(b, iova, a);
  expect(rsp.status, `cause ${rsp.cause}`).toBe(ResponseStatus.Success);
  expect(rsp.address(Number(iova & 0xfffn))).toBe(spa);
  expect(b.faults()).toEqual([]);
  return rsp;
}

/** The second-stage leaf PTE (address and value) that maps guest page `gpa`. */
function gLeaf(g: PageTable, gpa: bigint): { pteAddress: bigint; pte: bigint } {
  const l = g.lookup(gpa);
  if (l === null) throw new Error(`GPA ${gpa.toString(16)} is not mapped`);
  return l;
}

describe('two-stage: translation and range = the smaller stage ("Process to translate an IOVA" step 19; ATS range)', () => {
  const cases: [string, number, number, bigint][] = [
    ['S 4K + G 4K', 0, 0, 0x1000n],
    ['S 2M + G 4K', 1, 0, 0x1000n],
    ['S 4K + G 1G', 0, 2, 0x1000n],
    ['S 1G + G 2M', 2, 1, 2n * MiB],
    ['S 2M + G 1G', 1, 2, 2n * MiB],
    ['S 1G + G 1G', 2, 2, GiB],
  ];
  it.each(cases)('%s', (_n, sLevel, gLevel, range) => {
    const { b, g, s } = setup();
    const va = 0x20_0000_0000n; // 1 GiB aligned, canonical for Sv39 (bit 38 clear)
    const gpa = 0x5_4000_0000n; // 1 GiB aligned GPA
    const spa = 0x77_c000_0000n; // 1 GiB aligned SPA
    s.map(va, gpa, { level: sLevel });
    g.map(gpa, spa, { level: gLevel });
    const off = range - 0x1000n + 0x5a8n; // last page of the combined range
    expectTranslates(b, va + off, 'r', spa + off);
    expectTranslates(b, va + off, 'w', spa + off);
    const d = b.debugTranslate(DID, va + off);
    expect(d).toMatchObject({ fault: false, size: range, address: spa + off - (off % range) });
    const rsp = ats(b, va + off);
    expect(rsp.log2Pages).toBe(Number(range >> 12n).toString(2).length - 1);
    expect([rsp.r, rsp.w]).toEqual([true, true]);
  });

  it('Sv32 over Sv32x4 (fctl.GXL=1, DC.tc.SXL=1): 4 KiB and 4 MiB pages in both stages', () => {
    const { b, g, s } = setup({ s: 'Sv32', g: 'Sv32x4' });
    s.map(0x0040_0000n, 0x1_0000_0000n, { level: 1 }); // 4 MiB
    g.map(0x1_0000_0000n, 0x3_0000_0000n, { level: 1 }); // 4 MiB
    s.map(0x0080_5000n, 0x1_0040_0000n); // 4 KiB, in another 4 MiB region of both stages
    g.map(0x1_0040_0000n, 0x2_8000_1000n); // 4 KiB
    expect(b.debugTranslate(DID, 0x0045_6000n)).toMatchObject({ fault: false, size: 4n * MiB, address: 0x3_0000_0000n });
    expectTranslates(b, 0x0045_6789n, 'w', 0x3_0005_6789n);
    expect(b.debugTranslate(DID, 0x0080_5000n)).toMatchObject({ fault: false, size: 0x1000n, address: 0x2_8000_1000n });
    // The Sv32 first stage limits the IOVA to 32 bits; the GPA limit under SXL=1 is 34 bits.
    expect(access(b, 0x1_0040_0000n, 'r').cause).toBe(13);
    expect(b.faults().map((f) => f.cause)).toEqual([13]);
  });
});

describe('two-stage: implicit accesses to first-stage tables (Privileged "Two-Stage Address Translation"; iotval2 bit 0)', () => {
  const VA = 0x12_3456_7000n;
  const GPA = 0x9_0000_0000n;
  const SPA = 0x1_0000_0000n;

  it.each(['r', 'w', 'x'] as const)('a second-stage fault on a first-stage PTE read is a guest-page fault of the ORIGINAL access type (%s)', (a) => {
    const { b, g, s } = setup();
    s.map(VA, GPA);
    g.map(GPA, SPA);
    const pteGpa = s.pteAddress(VA, 1); // level-1 PTE, in a table page of its own
    g.setPte(pteGpa & ~0xfffn, 0, 0n); // that table page is no longer mapped
    const f = expectFault(b, VA, a, GUEST_PAGE_FAULT[a]);
    expectIotval2(f, pteGpa, 1n);
  });

  it('the root table page: not readable in the second stage (X-only, U=0) -> guest-page fault with the root PTE GPA', () => {
    const { b, g, s } = setup({ s: 'Sv48', g: 'Sv48x4' });
    s.map(VA, GPA);
    g.map(GPA, SPA);
    const rootPte = s.pteAddress(VA, 3);
    const leaf = gLeaf(g, s.root);
    g.write(leaf.pteAddress, (leaf.pte & ~(PTE.R | PTE.W)) | PTE.X);
    expectIotval2(expectFault(b, VA, 'r', 21), rootPte, 1n);
    g.write(leaf.pteAddress, leaf.pte & ~PTE.U);
    expectIotval2(expectFault(b, VA, 'w', 23), rootPte, 1n);
    g.write(leaf.pteAddress, leaf.pte); // nothing to invalidate: faulting walks are not cached
    expectTranslates(b, VA + 0x10n, 'r', SPA + 0x10n);
  });

  it('ATS: an implicit guest-page fault is a Success completion with R=W=0, not recorded', () => {
    const { b, g, s } = setup();
    s.map(VA, GPA);
    g.map(GPA, SPA);
    g.setPte(s.pteAddress(VA, 0) & ~0xfffn, 0, 0n);
    const rsp = ats(b, VA);
    expect([rsp.status, rsp.r, rsp.w, rsp.cause]).toEqual([ResponseStatus.Success, false, false, 21]);
    expect(b.faults()).toEqual([]);
  });

  it('a first-stage non-leaf PTE pointing to a GPA beyond the second-stage width -> implicit guest-page fault for that table GPA', () => {
    const { b, g, s } = setup();
    s.map(VA, GPA);
    g.map(GPA, SPA);
    const far = 1n << 41n; // Sv39x4 GPAs have 41 bits
    s.setPte(VA, 1, ((far >> 12n) << 10n) | PTE.V);
    const idx0 = (VA >> 12n) & 0x1ffn;
    expectIotval2(expectFault(b, VA, 'r', 21), far + idx0 * 8n, 1n);
  });

  it('the final GPA beyond the second-stage width is a guest-page fault with iotval2 = that GPA (bit 0 clear)', () => {
    const { b, g, s } = setup();
    s.map(VA, 1n << 41n); // Sv39x4 GPAs have 41 bits
    g.map(GPA, SPA);
    expectIotval2(expectFault(b, VA + 0x124n, 'w', 23), (1n << 41n) + 0x124n, 0n);
  });

  it('a second-stage permission fault on the final GPA reports that GPA with iotval2[1:0] = 0', () => {
    const { b, g, s } = setup();
    s.map(VA, GPA);
    g.map(GPA, SPA, { flags: PTE.R | PTE.U | PTE.A | PTE.D });
    expectTranslates(b, VA, 'r', SPA);
    expectIotval2(expectFault(b, VA + 0x88n, 'w', 23), GPA + 0x88n, 0n);
    expectIotval2(expectFault(b, VA + 0x8n, 'x', 20), GPA + 0x8n, 0n);
  });

  it('a process directory in guest memory: a second-stage fault on the PDT read is a guest-page fault with iotval2 bit 0 set ("Fault/Event-Queue" note)', () => {
    const b = benchWithGxl(false, {});
    const g = b.pageTable('Sv39x4');
    const s = b.guestPageTable('Sv39', g, TABLE_GPA);
    s.map(VA, GPA);
    g.map(GPA, SPA);
    const pdtGpa = 0x3_0000_0000n;
    const pdtSpa = b.alloc.alloc();
    g.map(pdtGpa, pdtSpa, { flags: PTE.R | PTE.W | PTE.U | PTE.A | PTE.D });
    b.setProcessContextPd8(pdtGpa, 9, { pscid: 3, fscMode: 8, fscPpn: s.root }, { toSpa: (a) => pdtSpa + (a - pdtGpa) });
    b.setDeviceContext(DID, { tc: { PDTV: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 1 }, fsc: { mode: 1, ppn: pdtGpa } });
    const ok = b.iommu.translate({ deviceId: DID, iova: VA, processId: 9 });
    expect(ok.address(0)).toBe(SPA);
    // Without a cached process context, an unmapped PDT page faults.
    const b2 = benchWithGxl(false, {});
    const g2 = b2.pageTable('Sv39x4');
    b2.setDeviceContext(DID, { tc: { PDTV: true }, iohgatp: { mode: 8, ppn: g2.root, gscid: 1 }, fsc: { mode: 1, ppn: pdtGpa } });
    const rsp = b2.iommu.translate({ deviceId: DID, iova: VA, processId: 9, write: true });
    expect(rsp.cause).toBe(23);
    const f = b2.faults();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ cause: 23, pv: true, pid: 9 });
    expectIotval2(f[0], pdtGpa + 9n * 16n, 1n);
  });
});

describe('two-stage: A and D bits under SADE/GADE ("IOMMU updating of PTE accessed (A) and dirty (D)")', () => {
  const VA = 0x7_0000_3000n;
  const GPA = 0x1_8000_5000n;
  const SPA = 0x2_4000_7000n;
  const RWU = PTE.R | PTE.W | PTE.U;

  it('SADE=0: a first-stage leaf with A=0 is a page fault (not a guest-page fault); a store to D=0 is a store page fault', () => {
    const { b, g, s } = setup();
    s.map(VA, GPA, { flags: RWU });
    g.map(GPA, SPA);
    expect(expectFault(b, VA, 'r', 13).iotval2).toBe(0n);
    s.map(VA, GPA, { flags: RWU | PTE.A });
    expectTranslates(b, VA, 'r', SPA);
    expect(expectFault(b, VA, 'w', 15).iotval2).toBe(0n);
  });

  it('GADE=0: the final G-stage leaf with A=0 -> guest-page fault; with D=0 a store -> store guest-page fault', () => {
    const { b, g, s } = setup();
    s.map(VA, GPA);
    const gPte = g.map(GPA, SPA, { flags: RWU });
    expectIotval2(expectFault(b, VA, 'r', 21), GPA, 0n);
    g.write(gPte, g.read(gPte) | PTE.A);
    expectTranslates(b, VA, 'r', SPA);
    expectIotval2(expectFault(b, VA, 'w', 23), GPA, 0n);
  });

  it('GADE=0: the G-stage leaf of a first-stage table page with A=0 -> implicit guest-page fault (iotval2 bit 0)', () => {
    const { b, g, s } = setup();
    s.map(VA, GPA);
    g.map(GPA, SPA);
    const pteGpa = s.pteAddress(VA, 0);
    const leaf = gLeaf(g, pteGpa);
    g.write(leaf.pteAddress, leaf.pte & ~(PTE.A | PTE.D));
    expectIotval2(expectFault(b, VA, 'x', 20), pteGpa, 1n);
  });

  it('SADE=1 and GADE=1: loads set A, stores set A and D, in both stages, in memory', () => {
    const { b, g, s } = setup({ dc: { tc: { SADE: true, GADE: true } } });
    const sPte = s.map(VA, GPA, { flags: RWU });
    const gPte = g.map(GPA, SPA, { flags: RWU });
    expectTranslates(b, VA, 'r', SPA);
    expect(s.read(sPte) & (PTE.A | PTE.D)).toBe(PTE.A);
    expect(g.read(gPte) & (PTE.A | PTE.D)).toBe(PTE.A);
    expectTranslates(b, VA, 'w', SPA);
    expect(s.read(sPte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
    expect(g.read(gPte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
  });

  it.each(['r', 'w'] as const)('SADE=1: an A/D update through a read-only G-stage page -> guest-page fault with iotval2[1:0]=0b11 (%s)', (a) => {
    const { b, g, s } = setup({ dc: { tc: { SADE: true, GADE: true } } });
    const sPte = s.map(VA, GPA, { flags: RWU | (a === 'w' ? PTE.A : 0n) });
    g.map(GPA, SPA);
    const leaf = gLeaf(g, sPte);
    g.write(leaf.pteAddress, leaf.pte & ~PTE.W);
    expectIotval2(expectFault(b, VA, a, GUEST_PAGE_FAULT[a]), sPte, 3n);
    expect(s.read(sPte) & (PTE.A | PTE.D)).toBe(a === 'w' ? PTE.A : 0n);
    // No update is needed when A (and D) are already set: the read-only table page is fine.
    s.write(sPte, s.read(sPte) | PTE.A | PTE.D);
    expectTranslates(b, VA, a, SPA);
  });

  it('SADE=1, GADE=0: an A/D update through a clean (D=0) G-stage page is a store to it -> guest-page fault, iotval2[1:0]=0b11', () => {
    const { b, g, s } = setup({ dc: { tc: { SADE: true } } });
    const sPte = s.map(VA, GPA, { flags: RWU });
    g.map(GPA, SPA);
    const leaf = gLeaf(g, sPte);
    g.write(leaf.pteAddress, leaf.pte & ~PTE.D);
    expectIotval2(expectFault(b, VA, 'r', 21), sPte, 3n);
    expect(s.read(sPte) & PTE.A).toBe(0n);
  });

  it('SADE=1, GADE=1: an A/D update through a clean G-stage page makes that page dirty and succeeds', () => {
    const { b, g, s } = setup({ dc: { tc: { SADE: true, GADE: true } } });
    const sPte = s.map(VA, GPA, { flags: RWU });
    g.map(GPA, SPA);
    const leaf = gLeaf(g, sPte);
    g.write(leaf.pteAddress, leaf.pte & ~PTE.D);
    expectTranslates(b, VA, 'w', SPA);
    expect(s.read(sPte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
    expect(g.read(leaf.pteAddress) & PTE.D).toBe(PTE.D);
  });
});

describe('two-stage: resolved memory type (Svpbmt: the first stage overrides the second unless it is PMA)', () => {
  it.each([
    [0, 0, 0],
    [0, 1, 1],
    [0, 2, 2],
    [1, 0, 1],
    [1, 2, 1],
    [2, 1, 2],
    [2, 0, 2],
  ])('first-stage PBMT %i, second-stage PBMT %i -> %i', (sp, gp, want) => {
    const { b, g, s } = setup();
    s.map(0x5000n, 0x6000n, { extra: BigInt(sp) << 61n });
    g.map(0x6000n, 0x7000n, { extra: BigInt(gp) << 61n });
    expect(b.debugTranslate(DID, 0x5000n)).toMatchObject({ fault: false, pbmt: want, address: 0x7000n });
    expect(access(b, 0x5000n, 'r').pbmt).toBe(want);
  });
});

describe('two-stage: Bare stages report the implementation-defined ranges (parameters bareFirstStageBytes / bareSecondStageBytes)', () => {
  function rig(o: { fsc: boolean; iohgatp: boolean; sxl?: boolean; gxl?: boolean }, opts: BenchOptions) {
    const b = benchWithGxl(o.gxl ?? false, opts);
    const g = b.pageTable(o.gxl ? 'Sv32x4' : 'Sv39x4');
    const s = b.pageTable(o.sxl ? 'Sv32' : 'Sv39'); // with a Bare second stage, tables are in SPA space
    b.setDeviceContext(DID, {
      tc: { EN_ATS: true, SXL: o.sxl ?? false },
      iohgatp: o.iohgatp ? { mode: 8, ppn: g.root, gscid: 3 } : { mode: 0 },
      fsc: o.fsc ? { mode: 8, ppn: s.root } : { mode: 0 },
      ta: { pscid: 1 },
    });
    return { b, g, s };
  }

  it('first stage Bare: the range is min(bareFirstStageBytes, G leaf)', () => {
    const { b, g } = rig({ fsc: false, iohgatp: true }, { bareFirstStageBytes: 2n * MiB });
    g.map(GiB, 3n * GiB, { level: 2 });
    g.map(0x5000n, 0x9000n);
    expect(b.debugTranslate(DID, GiB + 0x123_4000n)).toMatchObject({ size: 2n * MiB, address: 3n * GiB + 0x120_0000n });
    expect(ats(b, GiB + 0x123_4000n).log2Pages).toBe(9);
    expect(b.debugTranslate(DID, 0x5000n)).toMatchObject({ size: 0x1000n, address: 0x9000n });
  });

  it('second stage Bare: the range is min(first-stage leaf, bareSecondStageBytes)', () => {
    const { b, s } = rig({ fsc: true, iohgatp: false }, { bareSecondStageBytes: 2n * MiB });
    s.map(GiB, 3n * GiB, { level: 2 });
    s.map(0x5000n, 0x9000n);
    expect(b.debugTranslate(DID, GiB + 0x123_4000n)).toMatchObject({ size: 2n * MiB, address: 3n * GiB + 0x120_0000n });
    expect(ats(b, GiB + 0x123_4000n).log2Pages).toBe(9);
    expect(b.debugTranslate(DID, 0x5000n)).toMatchObject({ size: 0x1000n, address: 0x9000n });
  });

  it('both stages Bare: the smaller of the two parameters; the default (1 GiB) clamps a 512 GiB first-stage leaf', () => {
    const { b } = rig({ fsc: false, iohgatp: false }, { bareFirstStageBytes: 8n * MiB, bareSecondStageBytes: 32n * MiB });
    expect(b.debugTranslate(DID, 0x1234_5678_9000n)).toMatchObject({ fault: false, size: 8n * MiB, address: 0x1234_5600_0000n });
    const d = rig({ fsc: true, iohgatp: false }, {});
    const sv48 = d.b.pageTable('Sv48');
    sv48.map(0x80_0000_0000n, 0x100_0000_0000n, { level: 3 });
    d.b.setDeviceContext(DID + 1, { tc: { EN_ATS: true }, fsc: { mode: 9, ppn: sv48.root }, ta: { pscid: 2 } });
    expect(d.b.debugTranslate(DID + 1, 0x80_4000_5000n)).toMatchObject({ size: GiB, address: 0x100_4000_0000n });
  });

  it('SXL=1 contexts use bareFirstStageBytesSv32; GXL=1 uses bareSecondStageBytesSv32x4', () => {
    const a = rig({ fsc: false, iohgatp: true, sxl: true }, { bareFirstStageBytesSv32: 0x10000n, bareFirstStageBytes: GiB });
    a.g.map(0x40_0000n, 0x80_0000n, { level: 1 });
    expect(a.b.debugTranslate(DID, 0x40_5000n)).toMatchObject({ size: 0x10000n, address: 0x80_0000n });
    const c = rig({ fsc: true, iohgatp: false, sxl: true, gxl: true }, { bareSecondStageBytesSv32x4: 0x20000n, bareSecondStageBytes: GiB });
    c.s.map(0x40_0000n, 0x80_0000n, { level: 1 });
    expect(c.b.debugTranslate(DID, 0x40_5000n)).toMatchObject({ size: 0x20000n, address: 0x80_0000n });
  });
});

describe('two-stage: memory errors on PTE reads and the PAS limit', () => {
  const VA = 0x3_0000_0000n;
  const GPA = 0x4_0000_0000n;
  const SPA = 0x5_0000_0000n;

  it.each(['r', 'w', 'x'] as const)('a first-stage PTE in guest memory whose SPA violates PMA/PMP -> access fault of the access type (%s)', (a) => {
    const { b, g, s } = setup();
    const pteGpa = s.map(VA, GPA);
    g.map(GPA, SPA);
    const spa = (gLeaf(g, pteGpa).pte >> 10n) << 12n;
    b.memory.markAccessFault(spa | (pteGpa & 0xfffn), 8n);
    expect(expectFault(b, VA, a, ACCESS_FAULT[a]).iotval2).toBe(0n);
  });

  it('a second-stage PTE read made for a first-stage table access that violates PMA/PMP -> access fault of the original type', () => {
    const { b, g, s } = setup();
    const pteGpa = s.map(VA, GPA);
    g.map(GPA, SPA);
    b.memory.markAccessFault(gLeaf(g, pteGpa).pteAddress, 8n);
    expectFault(b, VA, 'w', 7);
  });

  it('poisoned first-stage or second-stage PTE data -> 274', () => {
    const { b, g, s } = setup();
    const pteGpa = s.map(VA, GPA);
    const gPte = g.map(GPA, SPA);
    b.memory.markDataCorruption(gPte, 8n);
    expectFault(b, VA, 'r', 274);
    b.memory.clearMarks();
    const spa = (gLeaf(g, pteGpa).pte >> 10n) << 12n;
    b.memory.markDataCorruption(spa | (pteGpa & 0xfffn), 8n);
    expectFault(b, VA, 'x', 274);
  });

  it('a first-stage table whose SPA is beyond capabilities.PAS -> access fault', () => {
    const { b, g, s } = setup({ opts: { capabilities: { PAS: 46 } } });
    const pteGpa = s.map(VA, GPA);
    g.map(GPA, SPA);
    const leaf = gLeaf(g, pteGpa);
    g.write(leaf.pteAddress, (leaf.pte & 0x3ffn) | ((1n << 35n) << 10n)); // table page at 2^47
    expectFault(b, VA, 'r', 5);
  });
});

describe('two-stage: ATS completions combine both stages ("PCIe ATS translation request handling")', () => {
  it('R needs both stages; W needs W and D in both; X needs a PASID', () => {
    const { b, g, s } = setup();
    s.map(0x1000n, 0x11000n);
    g.map(0x11000n, 0x21000n, { flags: PTE.R | PTE.U | PTE.A | PTE.D });
    s.map(0x2000n, 0x12000n, { flags: PTE.R | PTE.X | PTE.U | PTE.A | PTE.D });
    g.map(0x12000n, 0x22000n);
    s.map(0x3000n, 0x13000n, { flags: PTE.R | PTE.W | PTE.U | PTE.A });
    g.map(0x13000n, 0x23000n);
    const r1 = ats(b, 0x1000n);
    const r2 = ats(b, 0x2000n);
    const r3 = ats(b, 0x3000n);
    expect([r1.r, r1.w, r1.x, r1.ppn]).toEqual([true, false, false, 0x21]);
    expect([r2.r, r2.w, r2.x, r2.ppn]).toEqual([true, false, false, 0x22]);
    expect([r3.r, r3.w, r3.x, r3.ppn]).toEqual([true, false, false, 0x23]); // D=0 and SADE=0
    expect(b.faults()).toEqual([]);
  });
});

describe('two-stage: first-stage page faults keep iotval2 = 0', () => {
  it.each(['r', 'w', 'x'] as const)('an unmapped IOVA under an active second stage -> page fault %s', (a) => {
    const { b, g, s } = setup();
    s.map(0x1000n, 0x2000n);
    g.map(0x2000n, 0x3000n);
    const f = expectFault(b, 0x1000_0000n, a, PAGE_FAULT[a]);
    expect(f.iotval2).toBe(0n);
  });
});
