// Conformance tests of second-stage-only translation (first stage Bare): RISC-V IOMMU
// "Process to translate an IOVA" step 19 with the Privileged Architecture's "Two-Stage Address
// Translation" rules for Sv32x4/Sv39x4/Sv48x4/Sv57x4: 16 KiB root tables with two extra index
// bits, GPA width checks, U=1 required (accesses are user-level), guest-page faults (20/21/23)
// reporting the GPA in iotval2 ("Fault/Event-Queue": iotval2), A/D updating under DC.tc.GADE.

import { describe, expect, it } from 'vitest';
import { Reg } from '../../../src/formats/index.js';
import { RequestKind, ResponseStatus, type TranslationResponse } from '../../../src/hw/riscv-iommu/index.js';
import { PTE, RiscvIommuBench, type BenchOptions, type DeviceContextFields, type FaultRecord, type PageTable } from '../../support/riscv-iommu-bench.js';

type GMode = 'Sv32x4' | 'Sv39x4' | 'Sv48x4' | 'Sv57x4';
type Access = 'r' | 'w' | 'x';

const DID = 0x2a5;
const GSCID = 0x55;
const IOHGATP_MODE: Record<GMode, number> = { Sv32x4: 8, Sv39x4: 8, Sv48x4: 9, Sv57x4: 10 };
const LEVELS: Record<GMode, number> = { Sv32x4: 2, Sv39x4: 3, Sv48x4: 4, Sv57x4: 5 };
const VPN_BITS: Record<GMode, number> = { Sv32x4: 10, Sv39x4: 9, Sv48x4: 9, Sv57x4: 9 };
/** Width of the guest-physical address: the mode's VA width plus 2. */
const GPA_BITS: Record<GMode, number> = { Sv32x4: 34, Sv39x4: 41, Sv48x4: 50, Sv57x4: 59 };
const GUEST_PAGE_FAULT: Record<Access, number> = { x: 20, r: 21, w: 23 };
const TTYP: Record<Access, number> = { x: 1, r: 2, w: 3 };
const U_A_D = PTE.U | PTE.A | PTE.D;

function leafBytes(mode: GMode, level: number): bigint {
  return 1n << BigInt(12 + level * VPN_BITS[mode]);
}

/** Writes fctl.GXL while the IOMMU is Off and the queues are off, then starts the bench. */
function benchWithGxl(gxl: boolean, opts: BenchOptions): RiscvIommuBench {
  const b = new RiscvIommuBench({ ...opts, cqEntries: 0, fqEntries: 0, pqEntries: 0 });
  b.write32(Reg.fctl, gxl ? 4 : 0);
  expect((b.read32(Reg.fctl) >> 2) & 1).toBe(gxl ? 1 : 0);
  b.enableCommandQueue(64);
  b.enableFaultQueue(64);
  b.setMode('2LVL');
  return b;
}

function setup(mode: GMode, opts: BenchOptions = {}, dc: DeviceContextFields = {}): { b: RiscvIommuBench; g: PageTable } {
  const gxl = mode === 'Sv32x4';
  // The first stage is Bare: its range parameter is made large so that the second-stage leaf
  // alone determines the reported range.
  const b = benchWithGxl(gxl, { bareFirstStageBytes: 1n << 52n, bareFirstStageBytesSv32: 1n << 52n, ...opts });
  const g = b.pageTable(mode);
  b.setDeviceContext(DID, {
    ...dc,
    tc: { EN_ATS: true, SXL: gxl, ...dc.tc },
    iohgatp: { mode: IOHGATP_MODE[mode], ppn: g.root, gscid: GSCID },
    fsc: { mode: 0 },
  });
  return { b, g };
}

function access(b: RiscvIommuBench, iova: bigint, a: Access): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, write: a === 'w', execute: a === 'x' });
}

function ats(b: RiscvIommuBench, iova: bigint, write = false): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, kind: RequestKind.AtsTranslation, write });
}

/** iotval2 holds GPA bits 63:2; the page offset may be reported as 0 (note in "Fault/Event-Queue"). */
function expectIotval2(f: FaultRecord, gpa: bigint, low2: bigint): void {
  expect(f.iotval2 & 3n).toBe(low2);
  expect(f.iotval2 >> 12n).toBe(gpa >> 12n);
  const off = f.iotval2 & 0xffcn;
  expect(off === 0n || off === (gpa & 0xffcn), `iotval2 page offset ${off.toString(16)}`).toBe(true);
}

function expectGuestPageFault(b: RiscvIommuBench, gpa: bigint, a: Access): void {
  const rsp = access(b, gpa, a);
  expect(rsp.status).toBe(ResponseStatus.UnsupportedRequest);
  expect(rsp.cause).toBe(GUEST_PAGE_FAULT[a]);
  const f = b.faults();
  expect(f).toHaveLength(1);
  expect(f[0]).toMatchObject({ cause: GUEST_PAGE_FAULT[a], ttyp: TTYP[a], did: DID, iotval: gpa });
  expectIotval2(f[0], gpa, 0n);
}

function expectTranslates(b: RiscvIommuBench, gpa: bigint, a: Access, spa: bigint): void {
  const rsp = access(b, gpa, a);
  expect(rsp.status, `cause ${rsp.cause}`).toBe(ResponseStatus.Success);
  expect(rsp.address(Number(gpa & 0xfffn))).toBe(spa);
  expect(b.faults()).toEqual([]);
}

/** A GPA whose root index uses the two extra bits of the x4 root, plus index 3 at `level` below it. */
function gpaFor(mode: GMode, level: number): bigint {
  const top = LEVELS[mode] - 1;
  const rootIndex = mode === 'Sv32x4' ? 0xbffn : 0x5ffn; // top two index bits set
  const topShift = BigInt(12 + top * VPN_BITS[mode]);
  return (rootIndex << topShift) + (level < top ? 3n * leafBytes(mode, level) : 0n);
}

const ALL: GMode[] = ['Sv32x4', 'Sv39x4', 'Sv48x4', 'Sv57x4'];

describe('second stage: translation sizes at every leaf level ("Two-Stage Address Translation"; tr_response S/PPN; ATS range)', () => {
  const cases: [GMode, number][] = [];
  for (const mode of ALL) for (let l = 0; l < LEVELS[mode]; l++) cases.push([mode, l]);

  it.each(cases)('%s leaf at level %i', (mode, level) => {
    const { b, g } = setup(mode);
    const size = leafBytes(mode, level);
    const gpa = gpaFor(mode, level);
    expect(gpa).toBeLessThan(1n << BigInt(GPA_BITS[mode]));
    const spa = 5n * size;
    g.map(gpa, spa, { level });
    const off = size - 0x1000n + 0x9a8n;
    const d = b.debugTranslate(DID, gpa + off);
    expect(d).toMatchObject({ fault: false, s: level > 0, size, address: spa });
    expectTranslates(b, gpa + off, 'w', spa + off);
    expectTranslates(b, gpa + off, 'x', spa + off);
    const rsp = ats(b, gpa + off);
    expect(rsp.status).toBe(ResponseStatus.Success);
    expect(rsp.log2Pages).toBe(level * VPN_BITS[mode]);
    expect(rsp.atsAddress()).toEqual({ address: level === 0 ? spa : spa | ((size / 2n - 1n) & ~0xfffn), s: level > 0 });
    expect([rsp.r, rsp.w]).toEqual([true, true]);
  });

  it.each(cases.filter(([, l]) => l > 0))('%s leaf at level %i with a misaligned PPN -> guest-page fault', (mode, level) => {
    const { b, g } = setup(mode);
    const gpa = gpaFor(mode, level);
    g.map(gpa, 5n * leafBytes(mode, level) + 0x1000n, { level });
    expectGuestPageFault(b, gpa + 0x3000n, 'r');
    expectGuestPageFault(b, gpa + 0x3000n, 'w');
  });
});

describe('second stage: the 16 KiB root table and its two extra index bits ("iohgatp"; Sv*x4)', () => {
  it.each(ALL)('%s: the four 4 KiB pages of the root table are all indexed', (mode) => {
    const { b, g } = setup(mode);
    const topShift = BigInt(12 + (LEVELS[mode] - 1) * VPN_BITS[mode]);
    const rootEntries = 1n << BigInt(VPN_BITS[mode] + 2);
    const indices = [0n, rootEntries / 4n + 1n, rootEntries / 2n + 2n, rootEntries - 1n];
    indices.forEach((idx, i) => g.map((idx << topShift) + 0x7000n, 0x4000_0000n + BigInt(i) * 0x1000n));
    // The entries sit in four different pages of the 16 KiB root.
    const pages = new Set(indices.map((idx) => (g.pteAddress((idx << topShift) + 0x7000n, LEVELS[mode] - 1) - g.root) >> 12n));
    expect(pages).toEqual(new Set([0n, 1n, 2n, 3n]));
    indices.forEach((idx, i) => expectTranslates(b, (idx << topShift) + 0x7010n, 'r', 0x4000_0010n + BigInt(i) * 0x1000n));
  });

  it('a root table not aligned to 16 KiB is a misconfigured device context (259)', () => {
    const { b, g } = setup('Sv39x4');
    g.map(0x1000n, 0x2000n);
    b.setDeviceContext(DID + 1, { iohgatp: { mode: 8, ppn: g.root + 0x1000n, gscid: 1 } });
    const rsp = b.iommu.translate({ deviceId: DID + 1, iova: 0x1000n });
    expect(rsp.cause).toBe(259);
    expect(b.faults().map((f) => f.cause)).toEqual([259]);
  });
});

describe('second stage: GPA width ("Two-Stage Address Translation": bits above the x4 width; SXL=1: above bit 33)', () => {
  it.each(ALL)('%s: a GPA with a bit set above its width is a guest-page fault with iotval2 = GPA', (mode) => {
    const { b, g } = setup(mode);
    const width = BigInt(GPA_BITS[mode]);
    g.map(0x5000n, 0x6000n);
    expectTranslates(b, 0x5000n, 'r', 0x6000n);
    expectGuestPageFault(b, (1n << width) | 0x5000n, 'r');
    expectGuestPageFault(b, (1n << width) | 0x5004n, 'w');
    expectGuestPageFault(b, (1n << 63n) | 0x5008n, 'x');
  });

  it('SXL=1 with Sv39x4 (GXL=0, writable): GPA bits above bit 33 are a guest-page fault', () => {
    const { b, g } = setup('Sv39x4', {}, { tc: { SXL: true } });
    g.map(0x3_0000_0000n, 0x6000n); // bits 33:32 set: legal
    g.map(0x4_0000_0000n, 0x7000n); // bit 34: beyond the SXL=1 limit
    expectTranslates(b, 0x3_0000_0010n, 'r', 0x6010n);
    expectGuestPageFault(b, 0x4_0000_0010n, 'r');
  });
});

describe('second stage: permissions ("Two-Stage Address Translation": G-stage checks as user mode; guest-page faults)', () => {
  const GPA = 0x1234_5000n;
  const SPA = 0x9876_5000n;

  it.each([
    ['R', PTE.R, { r: true, w: false, x: false }],
    ['RW', PTE.R | PTE.W, { r: true, w: true, x: false }],
    ['X', PTE.X, { r: false, w: false, x: true }],
    ['RX', PTE.R | PTE.X, { r: true, w: false, x: true }],
    ['RWX', PTE.R | PTE.W | PTE.X, { r: true, w: true, x: true }],
  ] as const)('G-stage leaf %s: allowed accesses translate, others raise guest-page faults 20/21/23', (_n, perms, allowed) => {
    const { b, g } = setup('Sv48x4');
    g.map(GPA, SPA, { flags: perms | U_A_D });
    for (const a of ['r', 'w', 'x'] as const) {
      if (allowed[a]) expectTranslates(b, GPA + 0x44n, a, SPA + 0x44n);
      else expectGuestPageFault(b, GPA + 0x44n, a);
    }
  });

  it.each(['Sv32x4', 'Sv39x4', 'Sv57x4'] as const)('%s: a G-stage leaf with U=0 faults for every access (U must be set)', (mode) => {
    const { b, g } = setup(mode);
    g.map(0x2000n, 0x3000n, { flags: PTE.R | PTE.W | PTE.X | PTE.A | PTE.D });
    for (const a of ['r', 'w', 'x'] as const) expectGuestPageFault(b, 0x2010n, a);
  });

  it('W without R (xwr=010 or 110) in a G-stage leaf is reserved -> guest-page fault', () => {
    const { b, g } = setup('Sv39x4');
    g.map(0x2000n, 0x3000n, { flags: PTE.W | U_A_D });
    g.map(0x4000n, 0x5000n, { flags: PTE.W | PTE.X | U_A_D });
    expectGuestPageFault(b, 0x2000n, 'r');
    expectGuestPageFault(b, 0x4000n, 'x');
  });

  it('malformed G-stage PTEs are guest-page faults: V=0, reserved bits, PBMT=3, N in non-NAPOT encodings, non-leaf D/A/U, non-leaf at level 0', () => {
    const { b, g } = setup('Sv39x4');
    const cases: [bigint, (gpa: bigint) => void][] = [
      [0x20_0000n, (gpa) => g.setPte(gpa, 0, (0x9000n << 10n) | PTE.R | U_A_D)],
      [0x40_0000n, (gpa) => g.map(gpa, 0x9000n, { extra: 1n << 55n })],
      [0x60_0000n, (gpa) => g.map(gpa, 0x9000n, { extra: 3n << 61n })],
      [0x80_0000n, (gpa) => g.map(gpa, 0x9000n, { extra: 1n << 63n })], // ppn[3:0]=1001
      [0xa0_0000n, (gpa) => g.map(gpa, 0x4000_0000n, { level: 1, extra: 1n << 63n })],
      [0xc0_0000n, (gpa) => g.setPte(gpa, 0, (0x9000n << 10n) | PTE.V)],
    ];
    for (const [gpa, make] of cases) {
      make(gpa);
      expectGuestPageFault(b, gpa, 'r');
    }
    for (const bit of [PTE.D, PTE.A, PTE.U]) {
      const gpa = 0x100_0000n * (bit === PTE.D ? 1n : bit === PTE.A ? 2n : 3n) + 0x4000_0000n;
      g.map(gpa, 0x9000n);
      const nl = g.pteAddress(gpa, 1);
      g.write(nl, g.read(nl) | bit);
      expectGuestPageFault(b, gpa, 'w');
    }
  });

  it('Svnapot in the second stage: a 64 KiB G-stage leaf', () => {
    const { b, g } = setup('Sv39x4');
    for (let i = 0n; i < 16n; i++) g.map(0x8_0001_0000n + i * 0x1000n, 0x2_0000_8000n, { extra: 1n << 63n });
    expectTranslates(b, 0x8_0001_9abcn, 'r', 0x2_0000_9abcn);
    expect(b.debugTranslate(DID, 0x8_0001_2000n)).toMatchObject({ s: true, size: 0x10000n, address: 0x2_0000_0000n });
  });

  it('PBMT of the G-stage leaf is the resolved memory type when the first stage is Bare', () => {
    const { b, g } = setup('Sv39x4');
    g.map(0x2000n, 0x3000n, { extra: 2n << 61n });
    expect(b.debugTranslate(DID, 0x2000n)).toMatchObject({ fault: false, pbmt: 2 });
    expect(access(b, 0x2000n, 'r').pbmt).toBe(2);
  });

  it('ATS translation requests: a guest-page fault is a Success completion with R=W=0 and is not recorded', () => {
    const { b, g } = setup('Sv39x4');
    g.map(0x2000n, 0x3000n, { flags: PTE.R | PTE.W | PTE.A | PTE.D }); // U=0
    g.map(0x4000n, 0x5000n, { flags: PTE.R | U_A_D });
    const bad = ats(b, 0x2000n);
    expect([bad.status, bad.r, bad.w, bad.cause]).toEqual([ResponseStatus.Success, false, false, 21]);
    const ro = ats(b, 0x4000n, true);
    expect([ro.status, ro.r, ro.w]).toEqual([ResponseStatus.Success, true, false]);
    expect(b.faults()).toEqual([]);
  });
});

describe('second stage: A and D bits (DC.tc.GADE; "IOMMU updating of PTE accessed (A) and dirty (D)")', () => {
  const GPA = 0x7_0000_0000n;
  const SPA = 0x1_2340_0000n;

  it('GADE=0: A=0 -> guest-page fault for every access; a store to D=0 -> store guest-page fault; memory unchanged', () => {
    const { b, g } = setup('Sv39x4');
    const pte = g.map(GPA, SPA, { flags: PTE.R | PTE.W | PTE.X | PTE.U });
    for (const a of ['r', 'w', 'x'] as const) expectGuestPageFault(b, GPA, a);
    g.map(GPA, SPA, { flags: PTE.R | PTE.W | PTE.U | PTE.A });
    expectTranslates(b, GPA, 'r', SPA);
    expectGuestPageFault(b, GPA, 'w');
    expect(g.read(pte) & (PTE.A | PTE.D)).toBe(PTE.A);
  });

  it('GADE=1: a load sets A; a store sets A and D, for 64-bit and Sv32x4 PTEs', () => {
    for (const mode of ['Sv48x4', 'Sv32x4'] as const) {
      const { b, g } = setup(mode, {}, { tc: { GADE: true } });
      const gpa = 0x1_0000_0000n;
      const pte = g.map(gpa, SPA, { flags: PTE.R | PTE.W | PTE.U });
      expectTranslates(b, gpa, 'r', SPA);
      expect(g.read(pte) & (PTE.A | PTE.D)).toBe(PTE.A);
      expectTranslates(b, gpa, 'w', SPA);
      expect(g.read(pte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
    }
  });

  it('GADE=1: a store to a read-only G-stage page faults without setting D', () => {
    const { b, g } = setup('Sv39x4', {}, { tc: { GADE: true } });
    const pte = g.map(GPA, SPA, { flags: PTE.R | PTE.U });
    expectGuestPageFault(b, GPA, 'w');
    expect(g.read(pte) & PTE.D).toBe(0n);
  });
});

describe('second stage: memory errors while reading G-stage PTEs', () => {
  it.each(['r', 'w', 'x'] as const)('a G-stage PTE read that violates PMA/PMP -> access fault of the access type (%s)', (a) => {
    const { b, g } = setup('Sv57x4');
    const pte = g.map(0x5000n, 0x6000n);
    b.memory.markAccessFault(pte, 8n);
    const rsp = access(b, 0x5000n, a);
    expect(rsp.cause).toBe({ r: 5, w: 7, x: 1 }[a]);
    const f = b.faults();
    expect(f.map((r) => [r.cause, r.iotval2])).toEqual([[{ r: 5, w: 7, x: 1 }[a], 0n]]);
  });

  it('poisoned G-stage PTE data -> 274; a non-leaf G-stage PTE pointing beyond capabilities.PAS -> access fault', () => {
    const { b, g } = setup('Sv39x4', { capabilities: { PAS: 44 } });
    g.map(0x5000n, 0x6000n);
    b.memory.markDataCorruption(g.pteAddress(0x5000n, 1), 8n);
    expect(access(b, 0x5000n, 'r').cause).toBe(274);
    g.setPte(0x4000_0000n, 1, ((1n << 33n) << 10n) | PTE.V);
    expect(access(b, 0x4000_0000n, 'w').cause).toBe(7);
    expect(b.faults().map((f) => f.cause)).toEqual([274, 7]);
  });
});
