// Conformance tests of single-stage (first-stage only) translation: RISC-V IOMMU "Process to
// translate an IOVA" steps 17-20 with the Privileged Architecture's "Virtual-Memory System"
// rules for Sv32/Sv39/Sv48/Sv57 (superpages, Svnapot, Svpbmt, reserved bits, canonical
// addresses, U/SUM) and the Svrsw60t59b extension (IOMMU "PTE Reserved-for-Software Bits
// 60-59"). Results are observed through the debug interface ("Debug support", tr_response),
// ATS completions ("PCIe ATS translation request handling") and fault records.

import { describe, expect, it } from 'vitest';
import { RequestKind, ResponseStatus, type TranslationResponse } from '../../../src/hw/riscv-iommu/index.js';
import { PTE, RWX_UAD, RiscvIommuBench, type BenchOptions, type DeviceContextFields, type PageTable } from '../../support/riscv-iommu-bench.js';

type FirstStageMode = 'Sv32' | 'Sv39' | 'Sv48' | 'Sv57';
type Access = 'r' | 'w' | 'x';

const DID = 0x1234;
const FSC_MODE: Record<FirstStageMode, number> = { Sv32: 8, Sv39: 8, Sv48: 9, Sv57: 10 };
const LEVELS: Record<FirstStageMode, number> = { Sv32: 2, Sv39: 3, Sv48: 4, Sv57: 5 };
const VPN_BITS: Record<FirstStageMode, number> = { Sv32: 10, Sv39: 9, Sv48: 9, Sv57: 9 };
const VA_BITS: Record<FirstStageMode, number> = { Sv32: 32, Sv39: 39, Sv48: 48, Sv57: 57 };
/** Page-fault causes by the original access type (fault record CAUSE encodings). */
const PAGE_FAULT: Record<Access, number> = { x: 12, r: 13, w: 15 };
/** TTYP of untranslated requests. */
const TTYP: Record<Access, number> = { x: 1, r: 2, w: 3 };
const N_BIT = 1n << 63n;
const U_A_D = PTE.U | PTE.A | PTE.D;

function leafBytes(mode: FirstStageMode, level: number): bigint {
  return 1n << BigInt(12 + level * VPN_BITS[mode]);
}

function setup(mode: FirstStageMode, opts: BenchOptions = {}, dc: DeviceContextFields = {}): { b: RiscvIommuBench; pt: PageTable } {
  // The second stage is Bare: its range (an implementation-defined parameter) is made large so
  // that the first-stage leaf alone determines the reported range.
  const b = new RiscvIommuBench({ mode: '2LVL', bareSecondStageBytes: 1n << 52n, bareSecondStageBytesSv32x4: 1n << 52n, ...opts });
  const pt = b.pageTable(mode);
  b.setDeviceContext(DID, {
    ...dc,
    tc: { EN_ATS: true, SXL: mode === 'Sv32', ...dc.tc },
    fsc: { mode: FSC_MODE[mode], ppn: pt.root },
    ta: { pscid: 0x11 },
  });
  return { b, pt };
}

function access(b: RiscvIommuBench, iova: bigint, a: Access, more: { processId?: number; privileged?: boolean } = {}): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, write: a === 'w', execute: a === 'x', ...more });
}

function ats(b: RiscvIommuBench, iova: bigint, o: { write?: boolean } = {}): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, kind: RequestKind.AtsTranslation, write: o.write ?? false });
}

/** Asserts that `iova` faults with `cause` and that exactly one matching record was written. */
function expectPageFault(b: RiscvIommuBench, iova: bigint, a: Access, cause = PAGE_FAULT[a], more: { processId?: number; privileged?: boolean } = {}): void {
  const rsp = access(b, iova, a, more);
  expect(rsp.status).toBe(ResponseStatus.UnsupportedRequest);
  expect(rsp.cause).toBe(cause);
  const f = b.faults();
  expect(f).toHaveLength(1);
  expect(f[0]).toMatchObject({ cause, ttyp: TTYP[a], did: DID, iotval: iova, iotval2: 0n, pv: more.processId !== undefined });
  if (more.processId !== undefined) expect(f[0]).toMatchObject({ pid: more.processId, priv: more.privileged ?? false });
}

function expectTranslates(b: RiscvIommuBench, iova: bigint, a: Access, pa: bigint, more: { processId?: number; privileged?: boolean } = {}): void {
  const rsp = access(b, iova, a, more);
  expect(rsp.status, `cause ${rsp.cause}`).toBe(ResponseStatus.Success);
  expect(rsp.address(Number(iova & 0xfffn))).toBe(pa);
  expect(b.faults()).toEqual([]);
}

/** A canonical IOVA for a leaf at `level`: index 3 at that level, page-aligned to the leaf. */
function leafIova(mode: FirstStageMode, level: number): bigint {
  return 3n * leafBytes(mode, level);
}

describe('first stage: translation sizes at every leaf level (Privileged "Virtual Address Translation Process"; IOMMU tr_response and ATS range encoding)', () => {
  const cases: [FirstStageMode, number][] = [];
  for (const mode of ['Sv32', 'Sv39', 'Sv48', 'Sv57'] as const) for (let l = 0; l < LEVELS[mode]; l++) cases.push([mode, l]);

  it.each(cases)('%s leaf at level %i: address, S/PPN size encoding and ATS range', (mode, level) => {
    const { b, pt } = setup(mode);
    const size = leafBytes(mode, level);
    const va = leafIova(mode, level);
    const pa = 5n * size; // naturally aligned, within PAS (and 34 bits for Sv32)
    pt.map(va, pa, { level });
    const off = size - 0x1000n + 0x234n; // last page of the range
    const iova = va + off;

    // tr_response: PPN with the NAPOT size encoding when S=1 (section "Translation-response").
    const d = b.debugTranslate(DID, iova);
    expect(d.fault).toBe(false);
    expect(d.s).toBe(level > 0);
    expect(d.size).toBe(size);
    expect(d.address).toBe(pa);
    expect(d.pbmt).toBe(0);
    // Raw PPN field: with S=1 the bits below the range size are ones up to the first zero.
    expect(d.ppn).toBe(level === 0 ? pa >> 12n : (pa >> 12n) | ((size >> 13n) - 1n));

    // Untranslated request: the translated address keeps the offset inside the superpage.
    expectTranslates(b, iova, 'r', pa + off);
    expectTranslates(b, iova, 'w', pa + off);

    // ATS completion: log2 of the range and the PCIe S-bit address encoding.
    const rsp = ats(b, iova);
    expect(rsp.status).toBe(ResponseStatus.Success);
    expect(rsp.log2Pages).toBe(level * VPN_BITS[mode]);
    const enc = rsp.atsAddress();
    expect(enc.s).toBe(level > 0);
    expect(enc.address).toBe(level === 0 ? pa : pa | ((size / 2n - 1n) & ~0xfffn));
    expect(rsp.r).toBe(true);
    expect(rsp.w).toBe(true);
    expect(b.faults()).toEqual([]);
  });

  it.each(cases.filter(([, l]) => l > 0))('%s leaf at level %i with a misaligned PPN is a page fault (step 6 "misaligned superpage")', (mode, level) => {
    const { b, pt } = setup(mode);
    const size = leafBytes(mode, level);
    const va = leafIova(mode, level);
    // Misaligned by one 4 KiB page: pte.ppn[i-1:0] != 0.
    pt.map(va, 5n * size + 0x1000n, { level });
    expectPageFault(b, va, 'r');
    expectPageFault(b, va + 0x1000n, 'w');
    expectPageFault(b, va, 'x');
    expect(b.debugTranslate(DID, va).fault).toBe(true);
    expect(b.faults().map((f) => f.cause)).toEqual([13]);
  });
});

describe('first stage: malformed PTEs are page faults by access type (Privileged step 3)', () => {
  const VA = 0x1234_5000n;
  const PA = 0x8_0000_0000n;

  it.each(['r', 'w', 'x'] as const)('V=0 -> page fault (%s)', (a) => {
    const { b, pt } = setup('Sv39');
    pt.setPte(VA, 0, ((PA >> 12n) << 10n) | PTE.R | PTE.W | PTE.X | U_A_D);
    expectPageFault(b, VA, a);
  });

  it.each([
    ['W without R (xwr=010)', PTE.W],
    ['W and X without R (xwr=110, reserved for IO transactions)', PTE.W | PTE.X],
  ])('%s is reserved -> page fault for every access type', (_name, perms) => {
    const { b, pt } = setup('Sv39');
    pt.map(VA, PA, { flags: perms | U_A_D });
    for (const a of ['r', 'w', 'x'] as const) expectPageFault(b, VA, a);
  });

  it.each([54, 55, 56, 57, 58])('reserved bit %i set in a leaf -> page fault', (bit) => {
    const { b, pt } = setup('Sv48');
    pt.map(VA, PA, { extra: 1n << BigInt(bit) });
    expectPageFault(b, VA, 'r');
    expectPageFault(b, VA, 'w');
  });

  it.each([54, 58])('reserved bit %i set in a non-leaf PTE -> page fault', (bit) => {
    const { b, pt } = setup('Sv48');
    pt.map(VA, PA);
    const a = pt.pteAddress(VA, 2);
    pt.write(a, pt.read(a) | (1n << BigInt(bit)));
    expectPageFault(b, VA, 'r');
  });

  it.each([59, 60])('Svrsw60t59b: bit %i is ignored when capabilities.Svrsw60t59b=1 (leaf and non-leaf)', (bit) => {
    const { b, pt } = setup('Sv39', { capabilities: { Svrsw60t59b: true } });
    pt.map(VA, PA, { extra: 1n << BigInt(bit) });
    const a = pt.pteAddress(VA, 1);
    pt.write(a, pt.read(a) | (1n << BigInt(bit)));
    expectTranslates(b, VA, 'r', PA);
    expect(b.debugTranslate(DID, VA)).toMatchObject({ fault: false, address: PA });
  });

  it.each([59, 60])('Svrsw60t59b: bit %i is reserved when capabilities.Svrsw60t59b=0 -> page fault', (bit) => {
    const { b, pt } = setup('Sv39', { capabilities: { Svrsw60t59b: false } });
    expect(b.read64(0) & (1n << 14n)).toBe(0n);
    pt.map(VA, PA, { extra: 1n << BigInt(bit) });
    expectPageFault(b, VA, 'r');
  });

  it('Svpbmt: PBMT=3 is reserved -> page fault', () => {
    const { b, pt } = setup('Sv57');
    pt.map(VA, PA, { extra: 3n << 61n });
    expectPageFault(b, VA, 'r');
    expectPageFault(b, VA, 'x');
  });

  it.each([
    [1, 'NC'],
    [2, 'IO'],
  ])('Svpbmt: PBMT=%i (%s) is reported in tr_response.PBMT and the response', (pbmt) => {
    const { b, pt } = setup('Sv39');
    pt.map(VA, PA, { extra: BigInt(pbmt) << 61n });
    const d = b.debugTranslate(DID, VA);
    expect(d).toMatchObject({ fault: false, address: PA, pbmt });
    const rsp = access(b, VA, 'w');
    expect(rsp.status).toBe(ResponseStatus.Success);
    expect(rsp.pbmt).toBe(pbmt);
  });

  it.each([1, 2])('Svpbmt not implemented: PBMT=%i is reserved -> page fault', (pbmt) => {
    const { b, pt } = setup('Sv39', { capabilities: { Svpbmt: false } });
    pt.map(VA, PA, { extra: BigInt(pbmt) << 61n });
    expectPageFault(b, VA, 'r');
  });

  it('PBMT bits in a non-leaf PTE are reserved -> page fault', () => {
    const { b, pt } = setup('Sv39');
    pt.map(VA, PA);
    const a = pt.pteAddress(VA, 1);
    pt.write(a, pt.read(a) | (1n << 61n));
    expectPageFault(b, VA, 'r');
  });

  it.each([
    ['D', PTE.D],
    ['A', PTE.A],
    ['U', PTE.U],
  ])('non-leaf PTE with %s set -> page fault (reserved in non-leaf PTEs)', (_n, bit) => {
    const { b, pt } = setup('Sv39');
    pt.map(VA, PA);
    const a = pt.pteAddress(VA, 2);
    pt.write(a, pt.read(a) | bit);
    expectPageFault(b, VA, 'r');
    expectPageFault(b, VA, 'w');
  });

  it('a non-leaf PTE at level 0 (walking past the last level) -> page fault (step 4, i < 0)', () => {
    const { b, pt } = setup('Sv39');
    const next = b.alloc.alloc();
    pt.setPte(VA, 0, ((next >> 12n) << 10n) | PTE.V);
    expectPageFault(b, VA, 'r');
    // Sv32 too.
    const s32 = setup('Sv32');
    s32.pt.setPte(VA, 0, ((next >> 12n) << 10n) | PTE.V);
    expectPageFault(s32.b, VA, 'w');
  });
});

describe('first stage: Svnapot (Privileged "Svnapot" extension)', () => {
  const VA = 0x4000_0000n; // 64 KiB aligned
  const BASE = 0x9_0000_0000n;

  function mapNapot(pt: PageTable, va: bigint, base: bigint, nibble = 8n): void {
    for (let i = 0n; i < 16n; i++) pt.map(va + i * 0x1000n, base | (nibble << 12n), { extra: N_BIT });
  }

  it('a 64 KiB NAPOT leaf translates each page and reports a 64 KiB range', () => {
    const { b, pt } = setup('Sv39');
    mapNapot(pt, VA, BASE);
    for (const page of [0n, 5n, 15n]) expectTranslates(b, VA + page * 0x1000n + 0x10n, 'r', BASE + page * 0x1000n + 0x10n);
    const d = b.debugTranslate(DID, VA + 0x7000n);
    expect(d).toMatchObject({ fault: false, s: true, size: 0x10000n, address: BASE });
    const rsp = ats(b, VA + 0x3000n);
    expect(rsp.log2Pages).toBe(4);
    expect(rsp.atsAddress()).toEqual({ address: BASE | 0x7000n, s: true });
  });

  it.each([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 14, 15])('N=1 with ppn[3:0]=%i is a reserved encoding -> page fault', (nibble) => {
    const { b, pt } = setup('Sv48');
    mapNapot(pt, VA, BASE, BigInt(nibble));
    expectPageFault(b, VA + 0x2000n, 'r');
    expectPageFault(b, VA + 0x2000n, 'w');
  });

  it('N=1 in a leaf above level 0 is reserved -> page fault', () => {
    const { b, pt } = setup('Sv39');
    pt.map(0x4020_0000n, 0x8000_0000n, { level: 1, extra: N_BIT });
    expectPageFault(b, 0x4020_0000n, 'r');
  });

  it('N=1 in a non-leaf PTE is reserved -> page fault', () => {
    const { b, pt } = setup('Sv39');
    pt.map(VA, BASE);
    const a = pt.pteAddress(VA, 1);
    pt.write(a, pt.read(a) | N_BIT);
    expectPageFault(b, VA, 'r');
  });
});

describe('first stage: canonical IOVAs (Privileged "Sv39/Sv48/Sv57": bits 63:VA must equal bit VA-1; IOMMU SXL=1: bits 63:32 zero)', () => {
  const cases: [FirstStageMode, bigint][] = [
    ['Sv39', 0xffff_ffc0_0000_0000n],
    ['Sv48', 0xffff_8000_0000_0000n],
    ['Sv57', 0xff00_0000_0000_0000n],
  ];

  it.each(cases)('%s: the sign-extended upper half translates', (mode, va) => {
    const { b, pt } = setup(mode);
    pt.map(va + 0x5000n, 0x7_0000_0000n);
    expectTranslates(b, va + 0x5123n, 'r', 0x7_0000_0123n);
    expect(b.debugTranslate(DID, va + 0x5000n)).toMatchObject({ fault: false, address: 0x7_0000_0000n });
  });

  it.each(cases)('%s: non-canonical IOVAs are page faults even when the truncated index is mapped', (mode, va) => {
    const { b, pt } = setup(mode);
    pt.map(va + 0x5000n, 0x7_0000_0000n);
    expectTranslates(b, va + 0x5000n, 'r', 0x7_0000_0000n); // cached: must not match the others
    const vaBits = BigInt(VA_BITS[mode]);
    const low = (va + 0x5000n) & ((1n << vaBits) - 1n); // bit VA-1 set, nothing above
    expectPageFault(b, low, 'r');
    expectPageFault(b, (va + 0x5000n) ^ (1n << 63n), 'w'); // bit 63 differs
    expectPageFault(b, (va + 0x5000n) ^ (1n << vaBits), 'x'); // bit VA differs
    // A positive address with a high bit set is just as illegal.
    pt.map(0x5000n, 0x7_0000_0000n);
    expectPageFault(b, 0x5000n | (1n << vaBits), 'r');
  });

  it('Sv32 (SXL=1): IOVA bits 63:32 must be zero', () => {
    const { b, pt } = setup('Sv32');
    pt.map(0x8000_5000n, 0x3_0000_0000n); // bit 31 set is fine
    expectTranslates(b, 0x8000_5678n, 'r', 0x3_0000_0678n);
    expectPageFault(b, 0x1_8000_5000n, 'r');
    expectPageFault(b, 0xffff_ffff_8000_5000n, 'w');
  });
});

describe('first stage: Sv32 requires SXL=1 and the capability ("Device-context configuration checks")', () => {
  it('Sv32 contexts translate 4 KiB and 4 MiB pages with 34-bit physical addresses', () => {
    const { b, pt } = setup('Sv32');
    pt.map(0x0040_3000n, 0x3_ffff_f000n);
    pt.map(0x0080_0000n, 0x3_ffc0_0000n, { level: 1 });
    expectTranslates(b, 0x0040_3abcn, 'w', 0x3_ffff_fabcn);
    expectTranslates(b, 0x00bf_fabcn, 'r', 0x3_ffff_fabcn);
    expect(b.debugTranslate(DID, 0x0080_1000n)).toMatchObject({ s: true, size: 0x40_0000n, address: 0x3_ffc0_0000n });
    expect(ats(b, 0x0080_1000n).log2Pages).toBe(10);
  });

  it('Sv32 with capabilities.Sv32=0 is a misconfigured device context (cause 259)', () => {
    const { b, pt } = setup('Sv32', { capabilities: { Sv32: false } });
    pt.map(0x5000n, 0x9000n);
    expectPageFault(b, 0x5000n, 'r', 259);
  });

  it('SXL=1 is illegal when fctl.GXL is 0 and not writable (cause 259)', () => {
    const { b, pt } = setup('Sv32', { gxlWritable: false });
    pt.map(0x5000n, 0x9000n);
    expectPageFault(b, 0x5000n, 'r', 259);
  });
});

describe('first stage: U bit, privilege and SUM (Privileged step 5; IOMMU PC.ta.ENS/SUM)', () => {
  const PID = 7;
  const VU = 0x10_0000n; // U=1 page
  const VS = 0x20_0000n; // U=0 page
  const PU = 0x3_0000_0000n;
  const PS = 0x4_0000_0000n;

  function pdtSetup(pc: { ens?: boolean; sum?: boolean } = {}): { b: RiscvIommuBench; pt: PageTable } {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(VU, PU);
    pt.map(VS, PS, { flags: PTE.R | PTE.W | PTE.X | PTE.A | PTE.D });
    const pdt = b.alloc.alloc();
    b.setProcessContextPd8(pdt, PID, { ens: pc.ens ?? true, sum: pc.sum ?? false, pscid: 0x77, fscMode: 8, fscPpn: pt.root });
    b.setDeviceContext(DID & 0x3f, { tc: { PDTV: true }, fsc: { mode: 1, ppn: pdt } });
    return { b, pt };
  }

  function at(b: RiscvIommuBench, iova: bigint, a: Access, privileged: boolean): TranslationResponse {
    return b.iommu.translate({ deviceId: DID & 0x3f, iova, processId: PID, privileged, write: a === 'w', execute: a === 'x' });
  }

  it('requests without a process_id are user mode: a U=0 leaf faults (DC.fsc iosatp)', () => {
    const { b, pt } = setup('Sv39');
    pt.map(VS, PS, { flags: PTE.R | PTE.W | PTE.X | PTE.A | PTE.D });
    pt.map(VU, PU);
    for (const a of ['r', 'w', 'x'] as const) expectPageFault(b, VS, a);
    expectTranslates(b, VU, 'x', PU);
  });

  it('user-mode requests (process_id, Priv=0): U=0 page faults, U=1 page translates', () => {
    const { b } = pdtSetup();
    for (const a of ['r', 'w', 'x'] as const) {
      const rsp = at(b, VS, a, false);
      expect(rsp.cause).toBe(PAGE_FAULT[a]);
      expect(at(b, VU, a, false).address(0)).toBe(PU);
    }
    const f = b.faults();
    expect(f.map((r) => [r.cause, r.pv, r.pid, r.priv])).toEqual([
      [13, true, PID, false],
      [15, true, PID, false],
      [12, true, PID, false],
    ]);
  });

  it('supervisor requests with SUM=0: a U=1 page faults for every access; a U=0 page translates', () => {
    const { b } = pdtSetup({ sum: false });
    for (const a of ['r', 'w', 'x'] as const) {
      expect(at(b, VU, a, true).cause).toBe(PAGE_FAULT[a]);
      const ok = at(b, VS, a, true);
      expect(ok.status).toBe(ResponseStatus.Success);
      expect(ok.address(0x10)).toBe(PS + 0x10n);
    }
    expect(b.faults().map((r) => [r.cause, r.priv])).toEqual([
      [13, true],
      [15, true],
      [12, true],
    ]);
  });

  it('supervisor requests with SUM=1 may read and write U=1 pages but never execute them', () => {
    const { b } = pdtSetup({ sum: true });
    expect(at(b, VU, 'r', true).address(0)).toBe(PU);
    expect(at(b, VU, 'w', true).address(0)).toBe(PU);
    expect(at(b, VU, 'x', true).cause).toBe(12);
    expect(at(b, VS, 'x', true).address(0)).toBe(PS);
    expect(b.faults().map((r) => r.cause)).toEqual([12]);
  });

  it('supervisor requests need PC.ta.ENS=1, else "Transaction type disallowed" (260)', () => {
    const { b } = pdtSetup({ ens: false });
    expect(at(b, VS, 'r', true).cause).toBe(260);
    expect(at(b, VU, 'r', false).address(0)).toBe(PU);
    expect(b.faults().map((r) => [r.cause, r.priv])).toEqual([[260, true]]);
  });

  it('the U/SUM checks also apply to IOTLB hits (cached entries keep U)', () => {
    const { b } = pdtSetup({ sum: false });
    expect(at(b, VU, 'r', false).status).toBe(ResponseStatus.Success); // fills the IOTLB
    expect(at(b, VU, 'r', true).cause).toBe(13);
    expect(at(b, VS, 'r', true).status).toBe(ResponseStatus.Success);
    expect(at(b, VS, 'r', false).cause).toBe(13);
    expect(b.faults().map((r) => r.cause)).toEqual([13, 13]);
  });
});

describe('first stage: permissions by access type (Privileged step 5)', () => {
  const VA = 0x6000n;
  const PA = 0xa000_0000n;

  it.each([
    ['R', PTE.R, { r: true, w: false, x: false }],
    ['RW', PTE.R | PTE.W, { r: true, w: true, x: false }],
    ['X', PTE.X, { r: false, w: false, x: true }],
    ['RX', PTE.R | PTE.X, { r: true, w: false, x: true }],
    ['RWX', PTE.R | PTE.W | PTE.X, { r: true, w: true, x: true }],
  ] as const)('leaf %s: allowed accesses translate, others are page faults of their type', (_n, perms, allowed) => {
    const { b, pt } = setup('Sv39');
    pt.map(VA, PA, { flags: perms | U_A_D });
    for (const a of ['r', 'w', 'x'] as const) {
      if (allowed[a]) expectTranslates(b, VA + 8n, a, PA + 8n);
      else expectPageFault(b, VA + 8n, a);
    }
  });

  it('ATS completions report the permissions instead of faulting (R, W=W&D, X only with R and a PASID)', () => {
    const { b, pt } = setup('Sv39');
    pt.map(VA, PA, { flags: PTE.R | PTE.X | U_A_D });
    const rsp = ats(b, VA, { write: true });
    expect(rsp.status).toBe(ResponseStatus.Success);
    expect([rsp.r, rsp.w, rsp.x]).toEqual([true, false, false]); // X needs a PASID
    pt.map(0x7000n, PA, { flags: PTE.X | U_A_D });
    const x = ats(b, 0x7000n);
    expect([x.r, x.w, x.x]).toEqual([false, false, false]);
    expect(b.faults()).toEqual([]);
  });
});

describe('first stage: A and D bits ("IOMMU updating of PTE accessed (A) and dirty (D)"; DC.tc.SADE)', () => {
  const VA = 0x9000n;
  const PA = 0xb000_0000n;

  it('SADE=0: A=0 is a page fault for every access; a store to D=0 is a store page fault; loads of D=0 pages translate', () => {
    const { b, pt } = setup('Sv39');
    const pte = pt.map(VA, PA, { flags: PTE.R | PTE.W | PTE.X | PTE.U });
    for (const a of ['r', 'w', 'x'] as const) expectPageFault(b, VA, a);
    pt.map(VA, PA, { flags: PTE.R | PTE.W | PTE.U | PTE.A });
    expectTranslates(b, VA, 'r', PA);
    expectPageFault(b, VA, 'w');
    // Nothing was written back.
    expect(pt.read(pte) & (PTE.A | PTE.D)).toBe(PTE.A);
  });

  it('SADE=1: a load sets A only; a store sets A and D (in memory)', () => {
    const { b, pt } = setup('Sv39', {}, { tc: { SADE: true } });
    const pte = pt.map(VA, PA, { flags: PTE.R | PTE.W | PTE.U });
    expectTranslates(b, VA, 'r', PA);
    expect(pt.read(pte) & (PTE.A | PTE.D)).toBe(PTE.A);
    expectTranslates(b, VA, 'w', PA);
    expect(pt.read(pte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
    // The rest of the PTE is unchanged.
    expect(pt.read(pte) >> 10n).toBe(PA >> 12n);
  });

  it('SADE=1 with Sv32: the 32-bit PTE gets A and D', () => {
    const { b, pt } = setup('Sv32', {}, { tc: { SADE: true } });
    const pte = pt.map(VA, PA, { flags: PTE.R | PTE.W | PTE.U });
    expectTranslates(b, VA, 'w', PA);
    expect(pt.read(pte)).toBe(((PA >> 12n) << 10n) | PTE.V | PTE.R | PTE.W | PTE.U | PTE.A | PTE.D);
  });

  it('SADE=1: a store to a read-only page faults and sets no D bit', () => {
    const { b, pt } = setup('Sv39', {}, { tc: { SADE: true } });
    const pte = pt.map(VA, PA, { flags: PTE.R | PTE.U });
    expectPageFault(b, VA, 'w');
    expect(pt.read(pte) & PTE.D).toBe(0n);
  });

  it('SADE=1 is a misconfiguration without capabilities.AMO_HWAD (cause 259)', () => {
    const { b, pt } = setup('Sv39', { capabilities: { AMO_HWAD: false } }, { tc: { SADE: true } });
    pt.map(VA, PA);
    expectPageFault(b, VA, 'r', 259);
  });

  it('ATS: with SADE=0 a clean page is returned without W; with NW=0 and SADE=1 the PTE becomes dirty and W is granted', () => {
    const clean = setup('Sv39');
    clean.pt.map(VA, PA, { flags: PTE.R | PTE.W | PTE.U | PTE.A });
    const r = ats(clean.b, VA);
    expect([r.status, r.r, r.w]).toEqual([ResponseStatus.Success, true, false]);
    // NW=0 requests write permission; without hardware A/D updating D cannot be set, so the
    // completion grants R but not W ("PCIe ATS translation request handling": denied permissions
    // are 0, the others as the page tables give them). Nothing is recorded.
    const w = ats(clean.b, VA, { write: true });
    expect([w.status, w.r, w.w]).toEqual([ResponseStatus.Success, true, false]);
    expect(clean.b.faults()).toEqual([]);

    const hw = setup('Sv39', {}, { tc: { SADE: true } });
    const pte = hw.pt.map(VA, PA, { flags: PTE.R | PTE.W | PTE.U });
    const d = ats(hw.b, VA, { write: true });
    expect([d.r, d.w]).toEqual([true, true]);
    expect(hw.pt.read(pte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
  });
});

describe('first stage: memory errors while reading PTEs ("Process to translate an IOVA", step 17)', () => {
  const VA = 0xc000n;

  it.each(['r', 'w', 'x'] as const)('a PTE read that violates PMA/PMP is an access fault of the access type (%s)', (a) => {
    const { b, pt } = setup('Sv48');
    const pte = pt.map(VA, 0x1000_0000_0000n);
    b.memory.markAccessFault(pte, 8n);
    expectPageFault(b, VA, a, { r: 5, w: 7, x: 1 }[a]);
  });

  it('a PTE read with poisoned data is "First/second-stage PT data corruption" (274)', () => {
    const { b, pt } = setup('Sv48');
    pt.map(VA, 0x1000_0000_0000n);
    b.memory.markDataCorruption(pt.pteAddress(VA, 2), 8n);
    expectPageFault(b, VA, 'w', 274);
  });

  it('a table beyond capabilities.PAS is an access fault', () => {
    const { b, pt } = setup('Sv39', { capabilities: { PAS: 40 } });
    pt.map(VA, 0x1000n);
    pt.setPte(VA, 1, ((1n << 30n) << 10n) | PTE.V); // next table at PPN 2^30 = address 2^42
    expectPageFault(b, VA, 'r', 5);
  });

  it('a ReadAccess fault in an ATS request is answered with Completer Abort and recorded', () => {
    const { b, pt } = setup('Sv39');
    const pte = pt.map(VA, 0x1000n);
    b.memory.markAccessFault(pte, 8n);
    const rsp = ats(b, VA);
    expect(rsp.status).toBe(ResponseStatus.CompleterAbort);
    expect(b.faults().map((f) => [f.cause, f.ttyp])).toEqual([[5, 8]]);
  });
});

describe('first stage: RWX_UAD default and global mappings in ATS completions', () => {
  it('the Global field of an ATS completion follows G (leaf or inherited from a non-leaf) only with a PASID', () => {
    const { b, pt } = setup('Sv39');
    pt.map(0x1000n, 0x2000n, { flags: RWX_UAD | PTE.G });
    const r = ats(b, 0x1000n);
    expect(r.global).toBe(false); // no PASID
    // With a process context the G bit is reported.
    const b2 = new RiscvIommuBench({ mode: '1LVL' });
    const p2 = b2.pageTable('Sv39');
    p2.map(0x1000n, 0x2000n, { flags: RWX_UAD | PTE.G });
    p2.map(0x4000_0000n, 0x3000n);
    const nl = p2.pteAddress(0x4000_0000n, 2);
    p2.write(nl, p2.read(nl) | PTE.G); // global non-leaf: everything below is global
    p2.map(0x8000_0000n, 0x4000n);
    const pdt = b2.alloc.alloc();
    b2.setProcessContextPd8(pdt, 3, { pscid: 9, fscMode: 8, fscPpn: p2.root });
    b2.setDeviceContext(5, { tc: { PDTV: true, EN_ATS: true }, fsc: { mode: 1, ppn: pdt } });
    const g = (iova: bigint) => b2.iommu.translate({ deviceId: 5, processId: 3, iova, kind: RequestKind.AtsTranslation }).global;
    expect([g(0x1000n), g(0x4000_0000n), g(0x8000_0000n)]).toEqual([true, true, false]);
  });
});
