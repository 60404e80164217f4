// Conformance: walking the process directory and checking process contexts (RISC-V IOMMU
// spec v1.0, "Process to locate the Process-context", "Process-context configuration
// checks"), including a PDT held in guest-physical memory behind an active second stage.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import { PTE, type BenchOptions, type RiscvIommuBench } from '../../support/riscv-iommu-bench.js';
import {
  bench,
  DEFAULT_IOVA,
  expectedRecord,
  GuestTableAllocator,
  guestProcessDirectory,
  MAPPED_SPA,
  PDTP_MODE,
  ProcessDirectory,
  processDirectory,
  RequestKind,
  send,
  txnName,
  type PdtModeName,
  type Txn,
} from './directory-support.js';

const DID = 0x3456;
const PID_BITS: Record<PdtModeName, number> = { PD8: 8, PD17: 17, PD20: 20 };

/** A first-stage Sv39 table mapping the 1 GiB page of DEFAULT_IOVA to GiB `gib`. */
function firstStage(b: RiscvIommuBench, gib: number, bigEndian = false): { root: bigint; address: bigint } {
  const pt = b.pageTable('Sv39', bigEndian);
  pt.map(DEFAULT_IOVA & ~0x3fff_ffffn, BigInt(gib) << 30n, { level: 2 });
  return { root: pt.root, address: (BigInt(gib) << 30n) | (DEFAULT_IOVA & 0x3fff_ffffn) };
}

interface Setup {
  b: RiscvIommuBench;
  pdt: ProcessDirectory;
  /** Address a request of the configured PID translates to. */
  address: bigint;
}

/** A device with a PDT of `mode` (in SPA memory) and one valid PC for `pid`. */
function setup(mode: PdtModeName, pid: number, o: BenchOptions = {}, dc: { dtf?: boolean; enAts?: boolean } = {}): Setup {
  const b = bench(o);
  const pdt = processDirectory(b, mode);
  const fs = firstStage(b, 5);
  pdt.setProcessContext(pid, { pscid: 77, fscMode: 8, fscRoot: fs.root });
  b.setDeviceContext(DID, { tc: { PDTV: true, DTF: dc.dtf, EN_ATS: dc.enAts }, fsc: { mode: PDTP_MODE[mode], ppn: pdt.root } });
  return { b, pdt, address: fs.address };
}

function expectFault(b: RiscvIommuBench, t: Txn, cause: number, iotval2 = 0n): void {
  const r = send(b, DID, t);
  expect(r.cause, txnName(t)).toBe(cause);
  expect(r.status).toBe(ResponseStatus.UnsupportedRequest);
  expect(b.faults()).toEqual([expectedRecord(DID, t, cause, iotval2)]);
}

const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

describe('PDT walks find the process context ("Process to locate the Process-context")', () => {
  it('hand-computed PDI split: process_id 0xABCDE in PD20 uses PDI[2]=5, PDI[1]=0xBC, PDI[0]=0xDE', () => {
    const b = bench();
    const root = b.alloc.alloc();
    const mid = b.alloc.alloc();
    const leaf = b.alloc.alloc();
    const fs = firstStage(b, 6);
    b.memory.write(root + 5n * 8n, 8, ((mid >> 12n) << 10n) | 1n);
    b.memory.write(mid + 0xbcn * 8n, 8, ((leaf >> 12n) << 10n) | 1n);
    b.memory.write(leaf + 0xden * 16n, 8, 1n | (3n << 12n)); // ta: V, PSCID 3
    b.memory.write(leaf + 0xden * 16n + 8n, 8, (8n << 60n) | (fs.root >> 12n));
    b.setDeviceContext(DID, { tc: { PDTV: true }, fsc: { mode: 3, ppn: root } });
    expect(send(b, DID, { pid: 0xabcde }).address).toBe(fs.address);
    expect(b.faults()).toEqual([]);
  });

  for (const mode of ['PD8', 'PD17', 'PD20'] as const) {
    it(`property: random process ids land in their own PC (${mode})`, () => {
      const pidArb = fc.integer({ min: 0, max: 2 ** PID_BITS[mode] - 1 });
      fc.assert(
        fc.property(fc.uniqueArray(pidArb, { minLength: 1, maxLength: 6 }), pidArb, (pids, other) => {
          const b = bench({ fqEntries: 16, cqEntries: 4 });
          const pdt = processDirectory(b, mode);
          const expected = pids.map((pid, k) => {
            const fs = firstStage(b, 1 + k);
            pdt.setProcessContext(pid, { pscid: 1 + k, fscMode: 8, fscRoot: fs.root });
            return fs.address;
          });
          b.setDeviceContext(DID, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE[mode], ppn: pdt.root } });
          pids.forEach((pid, k) => {
            const r = send(b, DID, { pid });
            expect(r.status).toBe(ResponseStatus.Success);
            expect(r.address).toBe(expected[k]);
          });
          if (!pids.includes(other)) expect(send(b, DID, { pid: other }).cause).toBe(266);
        }),
        { numRuns: 30 },
      );
    });
  }

  it('tables near the top of a 56-bit physical address space: every PPN bit of pdtp and the PDT entries is used', () => {
    const b = bench({ allocBase: 0x00ff_fff0_0000_0000n });
    const pdt = processDirectory(b, 'PD20');
    expect(pdt.root >> 32n).toBe(0x00ff_fff0n);
    const fs = firstStage(b, 0x3ff_ffff);
    pdt.setProcessContext(0xfffff, { fscMode: 8, fscRoot: fs.root, pscid: 9 });
    b.setDeviceContext(DID, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE.PD20, ppn: pdt.root } });
    expect(send(b, DID, { pid: 0xfffff }).address).toBe(fs.address);
  });

  it('two devices with the same process_id use their own process contexts', () => {
    const b = bench();
    const addresses = [0, 1].map((i) => {
      const pdt = processDirectory(b, 'PD8');
      const fs = firstStage(b, 20 + i);
      pdt.setProcessContext(1, { fscMode: 8, fscRoot: fs.root, pscid: 50 + i });
      b.setDeviceContext(DID + i, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE.PD8, ppn: pdt.root } });
      return fs.address;
    });
    for (let round = 0; round < 2; round++) {
      expect(send(b, DID, { pid: 1 }).address).toBe(addresses[0]);
      expect(send(b, DID + 1, { pid: 1 }).address).toBe(addresses[1]);
    }
  });

  it('DC.tc.SBE=1: PDT entries and PCs are big-endian (and so is the first stage)', () => {
    const b = bench();
    const pdt = new ProcessDirectory(b.memory, 'PD17', () => b.alloc.alloc(), (a) => a, true);
    const fs = firstStage(b, 4, true);
    pdt.setProcessContext(0x1234, { fscMode: 8, fscRoot: fs.root, pscid: 2 });
    b.setDeviceContext(DID, { tc: { PDTV: true, SBE: true }, fsc: { mode: PDTP_MODE.PD17, ppn: pdt.root } });
    expect(send(b, DID, { pid: 0x1234 }).address).toBe(fs.address);
    // The same little-endian tables read with SBE=1 are garbage.
    b.setDeviceContext(DID + 1, { tc: { PDTV: true, SBE: false }, fsc: { mode: PDTP_MODE.PD17, ppn: pdt.root } });
    expect(send(b, DID + 1, { pid: 0x1234 }).cause).not.toBe(0);
  });
});

describe('faults of non-leaf PDT entries ("Process to locate the Process-context" steps 5-8)', () => {
  const cases: [PdtModeName, number, number][] = [
    ['PD17', 0x1abcd, 1],
    ['PD20', 0xf1234, 2],
    ['PD20', 0xf1234, 1],
  ];
  for (const [mode, pid, level] of cases) {
    it(`${mode} level-${level} entry: V=0 gives 266 for every request with that process_id`, () => {
      const { b, pdt } = setup(mode, pid, {}, { enAts: true });
      const slot = pdt.entryAddress(pid, level);
      pdt.write(slot, pdt.read(slot) & ~1n);
      for (const t of [{ pid }, { pid, write: true }, { pid, execute: true }, { pid, priv: true }, { kind: RequestKind.Translated, pid }] as Txn[]) {
        if (t.kind === RequestKind.Translated) {
          expect(send(b, DID, t).status).toBe(ResponseStatus.Success); // T2GPA=0: no PDT access
          continue;
        }
        expectFault(b, t, 266);
      }
      // ATS translation request: PDT entry not valid is answered Success with R=W=0, and not recorded.
      const ats = send(b, DID, { kind: RequestKind.AtsTranslation, pid });
      expect(ats).toMatchObject({ status: ResponseStatus.Success, cause: 266, r: false, w: false });
      expect(b.faults()).toEqual([]);
    });

    it(`${mode} level-${level} entry: each reserved bit (9:1, 63:54) gives 267`, () => {
      const { b, pdt, address } = setup(mode, pid, {}, { enAts: true });
      const slot = pdt.entryAddress(pid, level);
      const good = pdt.read(slot);
      for (const bit of [...range(1, 9), ...range(54, 63)]) {
        pdt.write(slot, good | (1n << BigInt(bit)));
        expectFault(b, { pid }, 267);
      }
      // ATS: PDT entry misconfigured is a configuration error: Completer Abort, recorded.
      const ats: Txn = { kind: RequestKind.AtsTranslation, pid };
      expect(send(b, DID, ats)).toMatchObject({ status: ResponseStatus.CompleterAbort, cause: 267 });
      expect(b.faults()).toEqual([expectedRecord(DID, ats, 267)]);
      pdt.write(slot, good);
      expect(send(b, DID, { pid }).address).toBe(address);
    });

    it(`${mode} level-${level} entry: access fault gives 265, poisoned data 269`, () => {
      const { b, pdt, address } = setup(mode, pid, {}, { enAts: true });
      const slot = pdt.entryAddress(pid, level);
      b.memory.markAccessFault(slot, 8n);
      expectFault(b, { pid, write: true }, 265);
      const ats: Txn = { kind: RequestKind.AtsTranslation, pid };
      expect(send(b, DID, ats)).toMatchObject({ status: ResponseStatus.CompleterAbort, cause: 265 });
      expect(b.faults()).toEqual([expectedRecord(DID, ats, 265)]);
      b.memory.clearMarks();
      b.memory.markDataCorruption(slot, 8n);
      expectFault(b, { pid }, 269);
      b.memory.clearMarks();
      expect(send(b, DID, { pid }).address).toBe(address);
    });
  }

  it('a non-leaf PDT entry pointing beyond capabilities.PAS gives 265', () => {
    const { b, pdt } = setup('PD17', 0x300, { capabilities: { PAS: 40 } });
    const slot = pdt.entryAddress(0x300, 1);
    pdt.write(slot, ((1n << 28n) << 10n) | 1n);
    expectFault(b, { pid: 0x300 }, 265);
  });
});

describe('faults of the process context itself (steps 10-12, "Process-context configuration checks")', () => {
  const PID = 0x2345;

  it('PC.ta.V=0 gives 266, whatever else the PC holds', () => {
    const { b, pdt } = setup('PD17', PID);
    pdt.setProcessContext(PID, { v: false, taRaw: 0xff8n, fscMode: 13 });
    expectFault(b, { pid: PID }, 266);
    expectFault(b, { pid: PID, execute: true }, 266);
  });

  it('an access fault or poison on either doubleword of the PC gives 265 or 269', () => {
    const { b, pdt, address } = setup('PD17', PID);
    const pc = pdt.entryAddress(PID, 0);
    for (const dw of [0n, 8n]) {
      b.memory.clearMarks();
      b.memory.markAccessFault(pc + dw, 8n);
      expectFault(b, { pid: PID }, 265);
      b.memory.clearMarks();
      b.memory.markDataCorruption(pc + dw, 8n);
      expectFault(b, { pid: PID }, 269);
    }
    b.memory.clearMarks();
    expect(send(b, DID, { pid: PID }).address).toBe(address);
  });

  it('reserved bits of PC.ta (11:3, 63:32) and PC.fsc (59:44) give 267', () => {
    const { b, pdt } = setup('PD17', PID);
    const fs = firstStage(b, 8);
    for (const bit of [...range(3, 11), ...range(32, 63)]) {
      pdt.setProcessContext(PID, { fscMode: 8, fscRoot: fs.root, taRaw: 1n << BigInt(bit) });
      expectFault(b, { pid: PID }, 267);
    }
    for (const bit of range(44, 59)) {
      pdt.setProcessContext(PID, { fscMode: 8, fscRoot: fs.root, fscRaw: 1n << BigInt(bit) });
      expectFault(b, { pid: PID }, 267);
    }
    pdt.setProcessContext(PID, { fscMode: 8, fscRoot: fs.root, ens: true, sum: true, pscid: 0xfffff });
    expect(send(b, DID, { pid: PID }).address).toBe(fs.address);
  });

  it('PC.fsc.MODE encodings invalid for SXL=0 (1-7, 11-15) give 267', () => {
    const { b, pdt } = setup('PD8', 0x12);
    for (const m of [...range(1, 7), ...range(11, 15)]) {
      pdt.setProcessContext(0x12, { fscMode: m });
      expectFault(b, { pid: 0x12 }, 267);
    }
  });

  it('PC.fsc.MODE encodings invalid for DC.tc.SXL=1 (1-7, 9-15) give 267; Sv32 (8) works', () => {
    const b = bench();
    const pdt = processDirectory(b, 'PD8');
    b.setDeviceContext(DID, { tc: { PDTV: true, SXL: true }, fsc: { mode: PDTP_MODE.PD8, ppn: pdt.root } });
    for (const m of [...range(1, 7), ...range(9, 15)]) {
      pdt.setProcessContext(0x12, { fscMode: m });
      expectFault(b, { pid: 0x12 }, 267);
    }
    const pt = b.pageTable('Sv32');
    pt.map(DEFAULT_IOVA & ~0xfffn, MAPPED_SPA);
    pdt.setProcessContext(0x12, { fscMode: 8, fscRoot: pt.root });
    expect(send(b, DID, { pid: 0x12 }).address).toBe(MAPPED_SPA | (DEFAULT_IOVA & 0xfffn));
  });

  for (const [name, mode, caps] of [
    ['Sv39', 8, { Sv39: false, Sv48: false, Sv57: false }],
    ['Sv48', 9, { Sv48: false, Sv57: false }],
    ['Sv57', 10, { Sv57: false }],
  ] as const) {
    it(`SXL=0: PC.fsc.MODE ${name} without capabilities.${name} gives 267; with it the PC is used`, () => {
      const { b, pdt } = setup('PD8', 0x40, { capabilities: caps });
      pdt.setProcessContext(0x40, { fscMode: mode, fscRoot: b.alloc.alloc() });
      expectFault(b, { pid: 0x40 }, 267);
      const ok = setup('PD8', 0x40);
      const pt = ok.b.pageTable(name);
      pt.map(DEFAULT_IOVA & ~0xfffn, MAPPED_SPA);
      ok.pdt.setProcessContext(0x40, { fscMode: mode, fscRoot: pt.root });
      expect(send(ok.b, DID, { pid: 0x40 }).address).toBe(MAPPED_SPA | (DEFAULT_IOVA & 0xfffn));
    });
  }

  it('SXL=1: PC.fsc.MODE Sv32 without capabilities.Sv32 gives 267', () => {
    const b = bench({ capabilities: { Sv32: false } });
    const pdt = processDirectory(b, 'PD8');
    pdt.setProcessContext(0x12, { fscMode: 8, fscRoot: b.alloc.alloc() });
    b.setDeviceContext(DID, { tc: { PDTV: true, SXL: true }, fsc: { mode: PDTP_MODE.PD8, ppn: pdt.root } });
    expectFault(b, { pid: 0x12 }, 267);
  });

  it('PC.fsc.MODE Bare: the first stage is Bare for that process', () => {
    const { b, pdt } = setup('PD8', 0x12);
    pdt.setProcessContext(0x12, { fscMode: 0, ens: true });
    expect(send(b, DID, { pid: 0x12, priv: true }).address).toBe(DEFAULT_IOVA);
    expect(b.faults()).toEqual([]);
  });

  it('DC.tc.DTF=1 suppresses the records of causes 265, 266, 267 and 269, not the aborts', () => {
    const { b, pdt } = setup('PD17', PID, {}, { dtf: true });
    const pc = pdt.entryAddress(PID, 0);
    b.memory.markAccessFault(pc, 8n);
    expect(send(b, DID, { pid: PID })).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 265 });
    b.memory.clearMarks();
    b.memory.markDataCorruption(pc, 8n);
    expect(send(b, DID, { pid: PID })).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 269 });
    b.memory.clearMarks();
    pdt.setProcessContext(PID, { v: false });
    expect(send(b, DID, { pid: PID })).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 266 });
    pdt.setProcessContext(PID, { taRaw: 1n << 40n });
    expect(send(b, DID, { pid: PID })).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 267 });
    expect(b.faults()).toEqual([]);
    expect(b.iommu.faultQueue.stats.suppressedByDtf).toBe(4);
  });
});

describe('a PDT in guest-physical memory (second stage active: pdtp.PPN and PDTE.PPN are GPAs)', () => {
  const GPA_BASE = 0x8000_0000n;

  /** Second stage Sv39x4 mapping DEFAULT_IOVA to MAPPED_SPA; PDT pages get GPAs from GPA_BASE. */
  function guestSetup(mode: PdtModeName, pid: number, mapPage: (i: number) => boolean = () => true, o: { enAts?: boolean; dtf?: boolean } = {}) {
    const b = bench();
    const g = b.pageTable('Sv39x4');
    g.map(DEFAULT_IOVA & ~0xfffn, MAPPED_SPA);
    const guest = new GuestTableAllocator(b, g, GPA_BASE);
    const pdt = guestProcessDirectory(b, mode, guest, mapPage);
    const pcGpa = pdt.entryAddress(pid, 0);
    pdt.setProcessContext(pid, { fscMode: 0, ens: true }); // first stage Bare: the IOVA is the GPA
    b.setDeviceContext(DID, { tc: { PDTV: true, EN_ATS: o.enAts, DTF: o.dtf }, iohgatp: { mode: 8, ppn: g.root, gscid: 3 }, fsc: { mode: PDTP_MODE[mode], ppn: pdt.root } });
    return { b, g, pdt, guest, pcGpa };
  }

  it('PD8, PD17 and PD20 directories in guest memory are found through the second stage', () => {
    for (const [mode, pid] of [
      ['PD8', 0xab],
      ['PD17', 0x1fedc],
      ['PD20', 0xfedcb],
    ] as const) {
      const { b, pdt } = guestSetup(mode, pid);
      expect(pdt.root >= GPA_BASE).toBe(true);
      expect(send(b, DID, { pid }).address, mode).toBe(MAPPED_SPA | (DEFAULT_IOVA & 0xfffn));
      expect(b.faults()).toEqual([]);
    }
  });

  it('a second-stage superpage (1 GiB) mapping the PDT region: GPA offsets within the page are kept', () => {
    const b = bench();
    const g = b.pageTable('Sv39x4');
    g.map(DEFAULT_IOVA & ~0xfffn, MAPPED_SPA);
    const gpaBase = 0x1_4000_0000n; // 1 GiB aligned
    const spaBase = 0x3_c000_0000n;
    g.map(gpaBase, spaBase, { level: 2, flags: PTE.R | PTE.U | PTE.A | PTE.D });
    let next = gpaBase + 0x1234_5000n;
    const pdt = new ProcessDirectory(
      b.memory,
      'PD20',
      () => {
        const gpa = next;
        next += 0x0010_3000n; // scattered pages inside the superpage
        for (let i = 0n; i < 4096n; i += 8n) b.memory.write(gpa - gpaBase + spaBase + i, 8, 0n);
        return gpa;
      },
      (gpa) => gpa - gpaBase + spaBase,
    );
    pdt.setProcessContext(0x9_8765, { fscMode: 0 });
    b.setDeviceContext(DID, { tc: { PDTV: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 4 }, fsc: { mode: PDTP_MODE.PD20, ppn: pdt.root } });
    expect(send(b, DID, { pid: 0x9_8765 }).address).toBe(MAPPED_SPA | (DEFAULT_IOVA & 0xfffn));
    expect(b.faults()).toEqual([]);
  });

  for (const [t, cause] of [
    [{ pid: 0x1fedc }, 21],
    [{ pid: 0x1fedc, write: true }, 23],
    [{ pid: 0x1fedc, execute: true }, 20],
  ] as [Txn, number][]) {
    it(`guest-page fault reading the leaf PDT page: cause ${cause} (original access ${txnName(t)}), iotval2 = GPA of the PC | 1`, () => {
      const { b, pcGpa } = guestSetup('PD17', 0x1fedc, (i) => i === 0); // only the root page is mapped
      expectFault(b, t, cause, pcGpa | 1n);
    });
  }

  it('guest-page fault reading the root PDT page: iotval2 = GPA of the root entry | 1', () => {
    for (const [mode, pid, offset] of [
      ['PD8', 0x7f, 0x7fn * 16n],
      ['PD17', 0x1fedc, ((0x1fedcn >> 8n) & 0x1ffn) * 8n],
      ['PD20', 0xfedcb, (0xfedcbn >> 17n) * 8n],
    ] as const) {
      const { b, pdt } = guestSetup(mode, pid, (i) => i !== 0); // root page unmapped
      expectFault(b, { pid }, 21, (pdt.root + offset) | 1n);
    }
  });

  it('PD20 middle level unmapped: iotval2 = GPA of the PDI[1] entry | 1', () => {
    const pid = 0xfedcb;
    const { b, pdt } = guestSetup('PD20', pid, (i) => i !== 1);
    expectFault(b, { pid, write: true }, 23, pdt.entryAddress(pid, 1) | 1n);
  });

  it('the second-stage PTE of a PDT page must grant read and U (implicit read access)', () => {
    const pid = 0x1fedc;
    for (const flags of [PTE.W | PTE.U | PTE.A | PTE.D, PTE.R | PTE.W | PTE.A | PTE.D, PTE.R | PTE.U]) {
      const { b, g, guest, pcGpa } = guestSetup('PD17', pid);
      g.map(pcGpa & ~0xfffn, guest.toSpa(pcGpa & ~0xfffn), { flags });
      expectFault(b, { pid }, 21, pcGpa | 1n);
    }
  });

  it('a PDT GPA beyond the second stage input width (41 bits for Sv39x4) is a guest-page fault', () => {
    const { b, g } = guestSetup('PD8', 0x3);
    const far = 1n << 41n;
    b.setDeviceContext(DID, { tc: { PDTV: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 3 }, fsc: { mode: PDTP_MODE.PD8, ppn: far } });
    expectFault(b, { pid: 3 }, 21, (far + 3n * 16n) | 1n);
  });

  it('access fault / poison in the second-stage walk for a PDT page: 265 / 269 (not guest-page faults)', () => {
    const pid = 0x1fedc;
    const { b, g, pcGpa } = guestSetup('PD17', pid);
    const gpte = g.pteAddress(pcGpa, 0);
    b.memory.markAccessFault(gpte, 8n);
    expectFault(b, { pid }, 265);
    b.memory.clearMarks();
    b.memory.markDataCorruption(gpte, 8n);
    expectFault(b, { pid, execute: true }, 269);
  });

  it('ATS translation request meeting a PDT guest-page fault: Success with R=W=0, nothing recorded', () => {
    const { b } = guestSetup('PD17', 0x1fedc, (i) => i === 0, { enAts: true });
    const r = send(b, DID, { kind: RequestKind.AtsTranslation, pid: 0x1fedc });
    expect(r).toMatchObject({ status: ResponseStatus.Success, cause: 21, r: false, w: false, x: false });
    expect(b.faults()).toEqual([]);
  });

  it('DTF=1 suppresses the guest-page fault record of a PDT access', () => {
    const { b } = guestSetup('PD17', 0x1fedc, (i) => i === 0, { dtf: true });
    expect(send(b, DID, { pid: 0x1fedc })).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 21 });
    expect(b.faults()).toEqual([]);
  });
});
