// Conformance tests of MSI address translation: RISC-V IOMMU "MSI address mask and pattern"
// (recognition of virtual interrupt files), "Process to translate addresses of MSIs" (interrupt
// file number extraction, MSI PTE checks and causes 261/262/263/270, basic-translate and MRIF
// modes, no execute), "Caching in-memory data structures" (MSI PTEs cached by GSCID and GPA,
// invalidated by IOTINVAL.GVMA), "Debug support" (MRIF -> cause 260), "PCIe ATS translation
// request handling" (MRIF: U=1), and the AIA "MSI PTE, MRIF mode" operation performed by the IO
// bridge (pending bit set in the MRIF, notice MSI, causes 264/271).

import { describe, expect, it } from 'vitest';
import { iofenceC, iotinvalGvma, iotinvalVma } from '../../../src/formats/index.js';
import { DmaStatus, RequestKind, ResponseStatus, TranslationRequest, type TranslationResponse } from '../../../src/hw/riscv-iommu/index.js';
import { RiscvIommuBench, type BenchOptions, type PageTable } from '../../support/riscv-iommu-bench.js';

const DID = 0x101;
const GSCID = 0x77;
const PATTERN = 0x28_0000n; // msi_addr_pattern: guest page 0x280000 = GPA 0x2_8000_0000
const MSI_GPA = (file: bigint, mask = 0xffn): bigint => ((PATTERN & ~mask) | file) << 12n;

interface Rig {
  b: RiscvIommuBench;
  g: PageTable;
  msiRoot: bigint;
}

function setup(o: { mask?: bigint; pattern?: bigint; opts?: BenchOptions; msiOff?: boolean; firstStage?: PageTable } = {}): Rig {
  const b = new RiscvIommuBench({ mode: '2LVL', ...o.opts });
  const g = b.pageTable('Sv39x4');
  const msiRoot = b.alloc.alloc(16, 0x10000n); // room for 4096 interrupt files
  b.setDeviceContext(DID, {
    tc: { EN_ATS: true },
    iohgatp: { mode: 8, ppn: g.root, gscid: GSCID },
    fsc: { mode: 0 },
    msiptp: { mode: o.msiOff ? 0 : 1, ppn: msiRoot },
    msiAddrMask: o.mask ?? 0xffn,
    msiAddrPattern: o.pattern ?? PATTERN,
  });
  return { b, g, msiRoot };
}

/** Writes the 16-byte MSI PTE of interrupt file `file` (little-endian, fctl.BE=0). */
function msiPte(r: Rig, file: bigint, w0: bigint, w1 = 0n): bigint {
  const a = r.msiRoot | (file * 16n);
  r.b.memory.write(a, 8, w0);
  r.b.memory.write(a + 8n, 8, w1);
  return a;
}

/** Basic-translate mode (M=3) MSI PTE. */
function flat(spa: bigint): bigint {
  return 1n | (3n << 1n) | ((spa >> 12n) << 10n);
}

/** MRIF mode (M=1) MSI PTE doublewords: MRIF address bits 55:9 at 53:7; NPPN, NID (N10 at bit 60). */
function mrif(mrifAddr: bigint, noticeAddr: bigint, nid: number): [bigint, bigint] {
  const w0 = 1n | (1n << 1n) | ((mrifAddr >> 9n) << 7n);
  const w1 = BigInt(nid & 0x3ff) | ((noticeAddr >> 12n) << 10n) | (BigInt(nid >> 10) << 60n);
  return [w0, w1];
}

function write(b: RiscvIommuBench, iova: bigint): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, write: true });
}

function ats(b: RiscvIommuBench, iova: bigint, write = true): TranslationResponse {
  return b.iommu.translate({ deviceId: DID, iova, kind: RequestKind.AtsTranslation, write });
}

function expectFault(b: RiscvIommuBench, gpa: bigint, cause: number, a: 'r' | 'w' | 'x' = 'w'): void {
  const rsp = b.iommu.translate({ deviceId: DID, iova: gpa, write: a === 'w', execute: a === 'x' });
  expect(rsp.status).toBe(ResponseStatus.UnsupportedRequest);
  expect(rsp.cause).toBe(cause);
  const f = b.faults();
  expect(f).toHaveLength(1);
  expect(f[0]).toMatchObject({ cause, did: DID, iotval: gpa, iotval2: 0n, ttyp: { r: 2, w: 3, x: 1 }[a] });
}

function bridgeReq(gpa: bigint): TranslationRequest {
  const req = new TranslationRequest();
  req.deviceId = DID;
  req.iova = gpa;
  return req;
}

describe('MSI: recognition by msi_addr_mask/pattern and interrupt-file number extraction ("MSI address mask and pattern"; "Process to translate addresses of MSIs" step 5)', () => {
  it('(A >> 12) & ~mask == pattern & ~mask selects the MSI table; other GPAs use the second stage', () => {
    const r = setup();
    msiPte(r, 3n, flat(0x9_0000_0000n));
    r.g.map(0x2_8010_0000n, 0x5_0000_0000n);
    const m = write(r.b, 0x2_8000_3abcn);
    expect([m.status, m.isMsi, m.address(0xabc)]).toEqual([ResponseStatus.Success, true, 0x9_0000_0abcn]);
    const n = write(r.b, 0x2_8010_0abcn);
    expect([n.status, n.isMsi, n.address(0xabc)]).toEqual([ResponseStatus.Success, false, 0x5_0000_0abcn]);
    expect(r.b.faults()).toEqual([]);
  });

  it('pattern bits under the mask are ignored', () => {
    const r = setup({ pattern: PATTERN | 0xffn });
    msiPte(r, 0x42n, flat(0x9_0000_0000n));
    expect(write(r.b, 0x2_8004_2000n).address(0)).toBe(0x9_0000_0000n);
  });

  it('extract(A >> 12, mask) packs the masked bits (the specification example y = 10100110)', () => {
    const mask = 0b1010_0110n;
    const r = setup({ mask });
    // x = a b c d e f g h -> 0 0 0 0 a c f g (bits outside the mask must match the pattern: 0)
    const cases: [bigint, bigint][] = [
      [0b1010_0110n, 0b1111n],
      [0b1000_0000n, 0b1000n],
      [0b0010_0100n, 0b0110n],
      [0b0000_0010n, 0b0001n],
      [0b0000_0000n, 0b0000n],
    ];
    for (const [, file] of cases) msiPte(r, file, flat(0x9_0000_0000n + file * 0x1000n));
    for (const [x, file] of cases) {
      const gpa = (PATTERN | x) << 12n;
      const rsp = write(r.b, gpa);
      expect([rsp.isMsi, rsp.address(0)], `x=${x.toString(2)}`).toEqual([true, 0x9_0000_0000n + file * 0x1000n]);
    }
    // A page differing from the pattern in an unmasked bit is not an interrupt file.
    r.g.map((PATTERN | 1n) << 12n, 0x6_0000_0000n);
    expect(write(r.b, (PATTERN | 1n) << 12n)).toMatchObject({ isMsi: false });
    expect(write(r.b, (PATTERN | 1n) << 12n).address(0)).toBe(0x6_0000_0000n);
  });

  it('mask bits above bit 31 of the page number extract into higher file-number bits', () => {
    const mask = (1n << 33n) | 1n; // page bits 33 and 0
    const r = setup({ mask, pattern: 0x4000n });
    msiPte(r, 0b11n, flat(0xa_0000_0000n));
    msiPte(r, 0b10n, flat(0xb_0000_0000n));
    expect(write(r.b, (0x4000n | (1n << 33n) | 1n) << 12n).address(0)).toBe(0xa_0000_0000n);
    expect(write(r.b, (0x4000n | (1n << 33n)) << 12n).address(0)).toBe(0xb_0000_0000n);
  });

  it('with msiptp.MODE=Off the same GPA is translated by the second stage', () => {
    const r = setup({ msiOff: true });
    r.g.map(MSI_GPA(3n), 0x5_5555_5000n);
    const rsp = write(r.b, MSI_GPA(3n));
    expect([rsp.isMsi, rsp.address(0)]).toEqual([false, 0x5_5555_5000n]);
  });
});

describe('MSI: basic-translate (flat) MSI PTEs (step 13)', () => {
  it('translated address = msipte.PPN << 12 | A[11:0], 4 KiB, in responses, tr_response and ATS completions', () => {
    const r = setup();
    msiPte(r, 7n, flat(0xdead_b000n), 0xffff_ffff_ffff_ffffn); // the second doubleword is ignored
    const rsp = write(r.b, MSI_GPA(7n) + 0x44n);
    expect([rsp.status, rsp.isMsi, rsp.isMrif, rsp.address(0x44), rsp.log2Pages, rsp.pbmt]).toEqual([ResponseStatus.Success, true, false, 0xdead_b044n, 0, 0]);
    expect(r.b.debugTranslate(DID, MSI_GPA(7n))).toMatchObject({ fault: false, s: false, size: 0x1000n, address: 0xdead_b000n, pbmt: 0 });
    const a = ats(r.b, MSI_GPA(7n));
    expect([a.status, a.r, a.w, a.x, a.u, a.global, a.log2Pages, a.ppn]).toEqual([ResponseStatus.Success, true, true, false, false, false, 0, 0xdead_b]);
    // Reads are allowed too (R=W=1).
    expect(r.b.iommu.translate({ deviceId: DID, iova: MSI_GPA(7n) }).address(0)).toBe(0xdead_b000n);
  });

  it('a read-for-execute of an MSI page is an instruction access fault (cause 1)', () => {
    const r = setup();
    msiPte(r, 7n, flat(0xdead_b000n));
    expectFault(r.b, MSI_GPA(7n), 1, 'x');
  });

  it('flat translations are cached: stale until IOTINVAL.GVMA with the GSCID and the GPA', () => {
    const r = setup();
    const pte = msiPte(r, 9n, flat(0x1_0000_0000n));
    expect(write(r.b, MSI_GPA(9n)).address(0)).toBe(0x1_0000_0000n);
    r.b.memory.write(pte, 8, flat(0x2_0000_0000n));
    r.b.submit(iotinvalGvma({ gscid: GSCID, address: MSI_GPA(8n) }), iotinvalGvma({ gscid: GSCID + 1 }), iotinvalVma({ pscid: 1 }), iofenceC());
    expect(write(r.b, MSI_GPA(9n)).address(0)).toBe(0x1_0000_0000n);
    r.b.submit(iotinvalGvma({ gscid: GSCID, address: MSI_GPA(9n) }), iofenceC());
    expect(write(r.b, MSI_GPA(9n)).address(0)).toBe(0x2_0000_0000n);
    // A now-invalid PTE is still used from the cache, until IOTINVAL.GVMA of the whole VM.
    r.b.memory.write(pte, 8, flat(0x2_0000_0000n) | (1n << 5n));
    expect(write(r.b, MSI_GPA(9n)).address(0)).toBe(0x2_0000_0000n);
    r.b.submit(iotinvalGvma({ gscid: GSCID }));
    expect(write(r.b, MSI_GPA(9n)).cause).toBe(263);
    expect(r.b.faults().map((f) => f.cause)).toEqual([263]);
  });

  it('IOTINVAL.GVMA with GV=0 also invalidates cached MSI translations', () => {
    const r = setup();
    const pte = msiPte(r, 9n, flat(0x1_0000_0000n));
    write(r.b, MSI_GPA(9n));
    r.b.memory.write(pte, 8, flat(0x3_0000_0000n));
    r.b.submit(iotinvalGvma());
    expect(write(r.b, MSI_GPA(9n)).address(0)).toBe(0x3_0000_0000n);
  });
});

describe('MSI: MSI PTE faults (steps 7-14)', () => {
  it('V=0 -> "MSI PTE not valid" (262); in an ATS request: Success with R=W=0, not recorded', () => {
    const r = setup();
    msiPte(r, 5n, flat(0x1000n) & ~1n);
    expectFault(r.b, MSI_GPA(5n), 262);
    const a = ats(r.b, MSI_GPA(5n));
    expect([a.status, a.r, a.w]).toEqual([ResponseStatus.Success, false, false]);
    expect(r.b.faults()).toEqual([]);
  });

  it.each([0n, 2n])('M=%i -> "MSI PTE misconfigured" (263); in an ATS request: Completer Abort, recorded', (m) => {
    const r = setup();
    msiPte(r, 5n, 1n | (m << 1n) | (0x1000n << 10n));
    expectFault(r.b, MSI_GPA(5n), 263);
    expect(ats(r.b, MSI_GPA(5n)).status).toBe(ResponseStatus.CompleterAbort);
    expect(r.b.faults().map((f) => [f.cause, f.ttyp])).toEqual([[263, 8]]);
  });

  it('C=1 (custom format, none implemented) -> 263', () => {
    const r = setup();
    msiPte(r, 5n, flat(0x1000n) | (1n << 63n));
    expectFault(r.b, MSI_GPA(5n), 263);
  });

  it.each([3, 4, 5, 6, 7, 8, 9, 54, 55, 58, 62])('basic-translate mode: reserved bit %i -> 263', (bit) => {
    const r = setup();
    msiPte(r, 5n, flat(0x1000n) | (1n << BigInt(bit)));
    expectFault(r.b, MSI_GPA(5n), 263);
  });

  it('a PMA/PMP violation reading the MSI PTE -> 261 (ATS: Completer Abort); poisoned MSI PTE data -> 270', () => {
    const r = setup();
    const pte = msiPte(r, 5n, flat(0x1000n));
    r.b.memory.markAccessFault(pte + 8n, 8n);
    expectFault(r.b, MSI_GPA(5n), 261);
    expect(ats(r.b, MSI_GPA(5n)).status).toBe(ResponseStatus.CompleterAbort);
    expect(r.b.faults().map((f) => f.cause)).toEqual([261]);
    r.b.memory.clearMarks();
    r.b.memory.markDataCorruption(pte, 8n);
    expectFault(r.b, MSI_GPA(5n), 270);
  });

  it('an MSI page table beyond capabilities.PAS -> 261', () => {
    const r = setup({ opts: { capabilities: { PAS: 40 } } });
    r.b.setDeviceContext(DID, {
      iohgatp: { mode: 8, ppn: r.g.root, gscid: GSCID },
      msiptp: { mode: 1, ppn: 1n << 41n },
      msiAddrMask: 0xffn,
      msiAddrPattern: PATTERN,
    });
    expectFault(r.b, MSI_GPA(5n), 261);
  });
});

describe('MSI: MRIF mode (step 14; AIA "MSI PTE, MRIF mode"; capability MSI_MRIF)', () => {
  const NID = 0x412; // N10 = 1, N[9:0] = 0x12

  function mrifRig(opts: BenchOptions = {}): Rig & { mrifAddr: bigint; notice: bigint } {
    const r = setup({ opts });
    const mrifAddr = r.b.alloc.alloc() + 0x200n; // 512-byte aligned
    const notice = r.b.alloc.alloc(); // the notice MSI goes to NPPN << 12
    const [w0, w1] = mrif(mrifAddr, notice, NID);
    msiPte(r, 0x23n, w0, w1);
    return { ...r, mrifAddr, notice };
  }

  it('a debug-interface translation of an MRIF page stops with "Transaction type disallowed" (260)', () => {
    const r = mrifRig();
    const d = r.b.debugTranslate(DID, MSI_GPA(0x23n));
    expect(d.fault).toBe(true);
    const f = r.b.faults();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ cause: 260, ttyp: 2, did: DID, iotval: MSI_GPA(0x23n) });
  });

  it('an ATS translation request of an MRIF page: Success with R=W=1 and U=1 (untranslated access only)', () => {
    const r = mrifRig();
    const a = ats(r.b, MSI_GPA(0x23n));
    expect([a.status, a.r, a.w, a.u, a.isMrif]).toEqual([ResponseStatus.Success, true, true, true, true]);
    expect(r.b.faults()).toEqual([]);
  });

  it('the response carries the MRIF address, notice address and NID', () => {
    const r = mrifRig();
    const rsp = write(r.b, MSI_GPA(0x23n));
    expect([rsp.isMsi, rsp.isMrif, rsp.mrifAddress, rsp.noticeAddress, rsp.noticeData]).toEqual([true, true, r.mrifAddr, r.notice, NID]);
  });

  it('a 32-bit MSI written through the IO bridge sets pending bit id (doubleword id/64 * 16, bit id%64) and sends the notice MSI', () => {
    const r = mrifRig();
    const mem = r.b.memory;
    for (const id of [1, 5, 63, 64, 70, 2047]) {
      mem.write(r.notice, 4, 0n);
      expect(r.b.iommu.bridge.write(bridgeReq(MSI_GPA(0x23n)), 4, BigInt(id))).toBe(DmaStatus.Ok);
      expect(mem.read(r.notice, 4)).toBe(BigInt(NID));
    }
    const pending = (k: number) => mem.read(r.mrifAddr + BigInt(k * 16), 8);
    expect(pending(0)).toBe((1n << 1n) | (1n << 5n) | (1n << 63n));
    expect(pending(1)).toBe((1n << 0n) | (1n << 6n));
    expect(pending(31)).toBe(1n << 63n);
    // The enable doublewords (k*16 + 8) are untouched.
    for (let k = 0; k < 32; k++) expect(mem.read(r.mrifAddr + BigInt(k * 16 + 8), 8)).toBe(0n);
    expect(r.b.iommu.statistics().msi).toMatchObject({ mrifStores: 6, notices: 6 });
    expect(r.b.faults()).toEqual([]);
  });

  it('writes at other offsets, identities >= 2048 and (without mrifBigEndianMsis) big-endian MSIs are discarded', () => {
    const r = mrifRig();
    const mem = r.b.memory;
    expect(r.b.iommu.bridge.write(bridgeReq(MSI_GPA(0x23n) + 0x8n), 4, 5n)).toBe(DmaStatus.Discarded);
    expect(r.b.iommu.bridge.write(bridgeReq(MSI_GPA(0x23n) + 0x100n), 4, 5n)).toBe(DmaStatus.Discarded);
    expect(r.b.iommu.bridge.write(bridgeReq(MSI_GPA(0x23n)), 4, 2048n)).toBe(DmaStatus.Discarded);
    expect(r.b.iommu.bridge.write(bridgeReq(MSI_GPA(0x23n) + 4n), 4, 0x0500_0000n)).toBe(DmaStatus.Discarded);
    for (let k = 0; k < 64; k++) expect(mem.read(r.mrifAddr + BigInt(k * 8), 8)).toBe(0n);
    expect(mem.read(r.notice, 4)).toBe(0n);
    expect(r.b.iommu.statistics().msi).toMatchObject({ mrifStores: 0, notices: 0 });
  });

  it('with mrifBigEndianMsis a byte-swapped MSI at offset 4 (seteipnum_be) is stored', () => {
    const r = mrifRig({ mrifBigEndianMsis: true });
    expect(r.b.iommu.bridge.write(bridgeReq(MSI_GPA(0x23n) + 4n), 4, 0x4100_0000n)).toBe(DmaStatus.Ok); // id 0x41 = 65
    expect(r.b.memory.read(r.mrifAddr + 16n, 8)).toBe(1n << 1n);
    expect(r.b.memory.read(r.notice, 4)).toBe(BigInt(NID));
  });

  it('reads of an MRIF page return 0', () => {
    const r = mrifRig();
    r.b.memory.write(r.mrifAddr, 8, 0xffn);
    const req = bridgeReq(MSI_GPA(0x23n));
    expect(r.b.iommu.bridge.read(req, 4)).toBe(DmaStatus.Ok);
    expect(r.b.iommu.bridge.value).toBe(0n);
  });

  it('an access fault on the MRIF -> "MRIF access fault" (264); poisoned MRIF data -> 271; no notice is sent', () => {
    for (const [mark, cause] of [
      ['fault', 264],
      ['poison', 271],
    ] as const) {
      const r = mrifRig();
      if (mark === 'fault') r.b.memory.markAccessFault(r.mrifAddr, 512n);
      else r.b.memory.markDataCorruption(r.mrifAddr, 512n);
      expect(r.b.iommu.bridge.write(bridgeReq(MSI_GPA(0x23n)), 4, 3n)).toBe(DmaStatus.Aborted);
      const f = r.b.faults();
      expect(f).toHaveLength(1);
      expect(f[0]).toMatchObject({ cause, ttyp: 3, did: DID, iotval: MSI_GPA(0x23n) });
      expect(r.b.memory.read(r.notice, 4)).toBe(0n);
    }
  });

  it('capabilities.MSI_MRIF=0: an MRIF-mode PTE (M=1) is misconfigured (263)', () => {
    const r = mrifRig({ capabilities: { MSI_MRIF: false, AMO_MRIF: false } });
    expectFault(r.b, MSI_GPA(0x23n), 263);
  });

  it.each([
    ['first doubleword bit 3', 1n << 3n, 0n],
    ['first doubleword bit 6', 1n << 6n, 0n],
    ['first doubleword bit 54', 1n << 54n, 0n],
    ['first doubleword bit 62', 1n << 62n, 0n],
    ['second doubleword bit 54', 0n, 1n << 54n],
    ['second doubleword bit 59', 0n, 1n << 59n],
    ['second doubleword bit 61', 0n, 1n << 61n],
    ['second doubleword bit 63', 0n, 1n << 63n],
  ])('MRIF mode: reserved %s -> 263', (_n, x0, x1) => {
    const r = setup();
    const [w0, w1] = mrif(0x1000_0200n, 0x2000_0000n, 1);
    msiPte(r, 0x23n, w0 | x0, w1 | x1);
    expectFault(r.b, MSI_GPA(0x23n), 263);
  });
});

describe('MSI: superpages never cover a virtual interrupt file ("Process to translate an IOVA" steps 18-19)', () => {
  /** The GPA range [base, base+size) a response covers, given the GPA it translated. */
  function gpaRange(gpa: bigint, rsp: TranslationResponse): [bigint, bigint] {
    const size = 1n << BigInt(12 + rsp.log2Pages);
    const base = gpa & ~(size - 1n);
    return [base, base + size];
  }

  it('a 2 MiB second-stage page holding 256 interrupt files: other addresses translate with a range that excludes them', () => {
    const r = setup(); // interrupt files at GPA 0x2_8000_0000 .. 0x2_800f_ffff
    r.g.map(0x2_8000_0000n, 0x7_0000_0000n, { level: 1 });
    msiPte(r, 3n, flat(0xc_0000_3000n));
    const msiLo = 0x2_8000_0000n;
    const msiHi = 0x2_8010_0000n;
    for (const gpa of [0x2_8010_0000n, 0x2_8012_3000n, 0x2_801f_f000n]) {
      const rsp = write(r.b, gpa + 0x10n);
      expect([rsp.status, rsp.isMsi, rsp.address(0x10)]).toEqual([ResponseStatus.Success, false, 0x7_0000_0010n + (gpa - msiLo)]);
      const [lo, hi] = gpaRange(gpa, rsp);
      expect(hi <= msiLo || lo >= msiHi, `range ${lo.toString(16)}-${hi.toString(16)}`).toBe(true);
      const d = r.b.debugTranslate(DID, gpa);
      expect(d.size).toBe(1n << BigInt(12 + rsp.log2Pages));
      expect(ats(r.b, gpa).log2Pages).toBe(rsp.log2Pages);
    }
    // The interrupt file itself still goes through the MSI page table, even after the above were cached.
    const m = write(r.b, MSI_GPA(3n) + 0x20n);
    expect([m.isMsi, m.address(0x20)]).toEqual([true, 0xc_0000_3020n]);
    // An interrupt-file page without a valid MSI PTE is not translated by the 2 MiB page either.
    expectFault(r.b, MSI_GPA(4n), 262);
  });

  it('a single interrupt file (mask 0) inside a 2 MiB page: the neighbouring page still translates, the file does not leak', () => {
    const r = setup({ mask: 0n, pattern: 0x28_0003n });
    r.g.map(0x2_8000_0000n, 0x7_0000_0000n, { level: 1 });
    msiPte(r, 0n, flat(0xc_0000_0000n));
    const rsp = write(r.b, 0x2_8000_2000n);
    expect(rsp.address(0)).toBe(0x7_0000_2000n);
    const [lo, hi] = gpaRange(0x2_8000_2000n, rsp);
    expect(0x2_8000_3000n >= hi || 0x2_8000_3000n < lo).toBe(true);
    expect(write(r.b, 0x2_8000_3000n).address(0)).toBe(0xc_0000_0000n);
    expect(write(r.b, 0x2_8000_4000n).address(0)).toBe(0x7_0000_4000n);
  });

  it('with a first stage: a 2 MiB IOVA page onto the same GPAs; the MSI page is found after the first stage', () => {
    const b = new RiscvIommuBench({ mode: '2LVL' });
    const g = b.pageTable('Sv39x4');
    const s = b.guestPageTable('Sv39', g, 0x100_0000_0000n);
    const msiRoot = b.alloc.alloc();
    const r: Rig = { b, g, msiRoot };
    s.map(0x4000_0000n, 0x2_8000_0000n, { level: 1 });
    g.map(0x2_8000_0000n, 0x7_0000_0000n, { level: 1 });
    msiPte(r, 3n, flat(0xc_0000_3000n));
    b.setDeviceContext(DID, {
      iohgatp: { mode: 8, ppn: g.root, gscid: GSCID },
      fsc: { mode: 8, ppn: s.root },
      ta: { pscid: 5 },
      msiptp: { mode: 1, ppn: msiRoot },
      msiAddrMask: 0xffn,
      msiAddrPattern: PATTERN,
    });
    const n = write(b, 0x4018_0000n);
    expect([n.isMsi, n.address(0)]).toEqual([false, 0x7_0018_0000n]);
    const [lo] = gpaRange(0x2_8018_0000n, n);
    expect(lo >= 0x2_8010_0000n).toBe(true);
    const m = write(b, 0x4000_3008n);
    expect([m.isMsi, m.address(8)]).toEqual([true, 0xc_0000_3008n]);
    expect(b.faults()).toEqual([]);
  });

  it('the memory type of an MSI page reached through a first-stage PTE is the first stage PBMT (it overrides the PMA of the MSI PTE, step 15)', () => {
    const b = new RiscvIommuBench({ mode: '2LVL' });
    const g = b.pageTable('Sv39x4');
    const s = b.guestPageTable('Sv39', g, 0x100_0000_0000n);
    const msiRoot = b.alloc.alloc();
    msiPte({ b, g, msiRoot }, 3n, flat(0xc_0000_3000n));
    s.map(0x5000n, MSI_GPA(3n), { extra: 2n << 61n }); // IO
    s.map(0x6000n, MSI_GPA(3n)); // PMA
    b.setDeviceContext(DID, {
      iohgatp: { mode: 8, ppn: g.root, gscid: GSCID },
      fsc: { mode: 8, ppn: s.root },
      ta: { pscid: 5 },
      msiptp: { mode: 1, ppn: msiRoot },
      msiAddrMask: 0xffn,
      msiAddrPattern: PATTERN,
    });
    for (let i = 0; i < 2; i++) {
      // The second round hits the IOTLB.
      const io = write(b, 0x5000n);
      expect([io.isMsi, io.address(0), io.pbmt]).toEqual([true, 0xc_0000_3000n, 2]);
      expect(write(b, 0x6000n).pbmt).toBe(0);
    }
    expect(b.debugTranslate(DID, 0x5000n)).toMatchObject({ fault: false, pbmt: 2, address: 0xc_0000_3000n });
  });

  it('an MSI translation without a second stage is a reserved setting, reported as misconfigured (259)', () => {
    const b = new RiscvIommuBench({ mode: '2LVL' });
    b.setDeviceContext(DID, { msiptp: { mode: 1, ppn: b.alloc.alloc() }, msiAddrMask: 0xffn, msiAddrPattern: PATTERN });
    expect(b.iommu.translate({ deviceId: DID, iova: 0x1000n }).cause).toBe(259);
    expect(b.faults().map((f) => f.cause)).toEqual([259]);
  });
});

describe('MSI: the interrupt-file PTE address is msiptp.PPN x 2^12 | I x 16', () => {
  it('interrupt file 255 is the last entry of a 4 KiB MSI page table', () => {
    const r = setup();
    msiPte(r, 255n, flat(0xe_0000_0000n));
    msiPte(r, 0n, flat(0xf_0000_0000n));
    expect(write(r.b, MSI_GPA(255n)).address(0)).toBe(0xe_0000_0000n);
    expect(write(r.b, MSI_GPA(0n)).address(0)).toBe(0xf_0000_0000n);
  });
});
