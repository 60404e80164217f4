// Conformance tests of PCIe ATS translation requests and translated requests (RISC-V IOMMU
// specification v1.0, sections "PCIe ATS translation request handling" and "Process to
// translate an IOVA" (steps 1-2, 7-8, T2GPA), and the device-context field tc.T2GPA).
// Responses are read from the translation response; faults from the fault queue in memory.

import { describe, expect, it } from 'vitest';
import { RiscvIommuBench, PTE, type BenchOptions, type DeviceContextFields, type PageTable } from '../../support/riscv-iommu-bench.js';
import type { TranslationRequestInit } from '../../../src/hw/riscv-iommu/index.js';

const DID = 0x01_2345;
const TTYP_ATS = 8;
const TTYP_TRANSLATED_READ = 6;
const TTYP_TRANSLATED_WRITE = 7;
const SUCCESS = 0;
const UR = 1;
const CA = 2;
const PID = 5;
const IOVA = 0x4012_3000n;
const SPA = 0x2_0000_0000n;

const { R, W, X, U, G, A, D } = PTE;
const MB2 = 1n << 21n;

function bench(options: BenchOptions = {}): RiscvIommuBench {
  return new RiscvIommuBench({ mode: '3LVL', ...options });
}

/** A PCIe ATS Translation Request (write=true means No-Write clear). */
function ats(b: RiscvIommuBench, r: Partial<TranslationRequestInit> = {}) {
  return b.iommu.translate({ deviceId: DID, iova: IOVA, kind: 2, ...r });
}

/** A process context in a PD8 process directory; returns the PDT root. */
function pd8(b: RiscvIommuBench, pcs: [number, bigint, bigint][]): bigint {
  const root = b.alloc.alloc();
  for (const [pid, ta, fsc] of pcs) {
    b.memory.write(root + BigInt(pid * 16), 8, ta);
    b.memory.write(root + BigInt(pid * 16) + 8n, 8, fsc);
  }
  return root;
}

function pcTa(o: { ens?: boolean; sum?: boolean; pscid?: number; raw?: bigint } = {}): bigint {
  return 1n | (o.ens ? 2n : 0n) | (o.sum ? 4n : 0n) | (BigInt(o.pscid ?? 0) << 12n) | (o.raw ?? 0n);
}

function sv39Fsc(root: bigint): bigint {
  return (8n << 60n) | (root >> 12n);
}

/** DC.fsc = iosatp (Sv39), no PASID. */
function firstStage(b: RiscvIommuBench, tc: DeviceContextFields['tc'] = {}, extra: Partial<DeviceContextFields> = {}): PageTable {
  const pt = b.pageTable('Sv39');
  b.setDeviceContext(DID, { tc: { EN_ATS: true, ...tc }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 }, ...extra });
  return pt;
}

/** DC.fsc = pdtp (PD8) with process context PID -> Sv39 table. */
function withPasid(b: RiscvIommuBench, pc: { ens?: boolean; sum?: boolean } = {}): { pt: PageTable; pdt: bigint } {
  const pt = b.pageTable('Sv39');
  const pdt = pd8(b, [[PID, pcTa({ pscid: 2, ...pc }), sv39Fsc(pt.root)]]);
  b.setDeviceContext(DID, { tc: { EN_ATS: true, PDTV: true }, fsc: { mode: 1, ppn: pdt } });
  return { pt, pdt };
}

/** Second stage only (first stage Bare): the IOVA is a GPA. */
function secondStage(b: RiscvIommuBench, tc: DeviceContextFields['tc'] = {}, extra: Partial<DeviceContextFields> = {}): PageTable {
  const gpt = b.pageTable('Sv39x4');
  b.setDeviceContext(DID, { tc: { EN_ATS: true, ...tc }, iohgatp: { mode: 8, ppn: gpt.root, gscid: 3 }, ...extra });
  return gpt;
}

const IMSIC_GPA = 0x2800_0000n;
const IMSIC_SPA = 0x3_2800_0000n;

/** A second-stage context whose GPA page IMSIC_GPA is a virtual interrupt file; returns the MSI PTE address. */
function msi(b: RiscvIommuBench, pte: [bigint, bigint] | null, tc: DeviceContextFields['tc'] = {}): bigint {
  const root = b.alloc.alloc();
  if (pte !== null) {
    b.memory.write(root, 8, pte[0]);
    b.memory.write(root + 8n, 8, pte[1]);
  }
  secondStage(b, tc, { msiptp: { mode: 1, ppn: root }, msiAddrMask: 0n, msiAddrPattern: IMSIC_GPA >> 12n });
  return root;
}

const FLAT_PTE: [bigint, bigint] = [1n | (3n << 1n) | ((IMSIC_SPA >> 12n) << 10n), 0n];
const MRIF_ADDR = 0x3_3000_0200n;
const NOTICE_PPN = 0x33001n;
const MRIF_PTE: [bigint, bigint] = [1n | (1n << 1n) | ((MRIF_ADDR >> 9n) << 7n), (NOTICE_PPN << 10n) | 0x15n];

describe('RISC-V IOMMU ATS translation requests: Unsupported Request (spec "PCIe ATS translation request handling")', () => {
  const cases: [string, number, (b: RiscvIommuBench) => Partial<TranslationRequestInit>, BenchOptions?][] = [
    ['iommu_mode Off (256)', 256, () => ({}), { mode: 'Off' }],
    [
      'DDT entry load access fault (257)',
      257,
      (b) => {
        firstStage(b);
        b.memory.markAccessFault(b.dcAddress(DID), 64n);
        return {};
      },
    ],
    ['DDT entry not valid (258)', 258, (b) => (b.setDeviceContext(DID, { tc: { V: false, EN_ATS: true } }), {})],
    ['DDT entry misconfigured (259)', 259, (b) => (b.setDeviceContext(DID, { tc: { EN_ATS: true }, tcRaw: 1n << 12n }), {})],
    ['EN_ATS=0 (260)', 260, (b) => (firstStage(b, { EN_ATS: false }), {})],
    ['iommu_mode Bare (260)', 260, () => ({}), { mode: 'Bare' }],
    ['device_id too wide for 1LVL (260)', 260, () => ({}), { mode: '1LVL' }],
    ['PASID with PDTV=0 (260)', 260, (b) => (firstStage(b), { processId: 3 })],
    ['PASID wider than PD8 (260)', 260, (b) => (withPasid(b), { processId: 0x100 })],
    ['privileged PASID without PC.ta.ENS (260)', 260, (b) => (withPasid(b, { ens: false }), { processId: PID, privileged: true })],
  ];
  for (const [name, cause, arrange, options] of cases) {
    it(`${name}: UR, fault recorded with TTYP 8`, () => {
      const b = bench(options);
      const req = arrange(b);
      const rsp = ats(b, req);
      expect(rsp.status).toBe(UR);
      expect(rsp.r || rsp.w || rsp.x).toBe(false);
      const pv = req.processId !== undefined;
      expect(b.faults()).toEqual([
        {
          cause,
          ttyp: TTYP_ATS,
          did: DID,
          pv,
          pid: req.processId ?? 0,
          priv: pv && (req.privileged ?? false),
          iotval: IOVA,
          iotval2: 0n,
          reserved: 0n,
        },
      ]);
    });
  }
});

describe('RISC-V IOMMU ATS translation requests: Completer Abort (spec "PCIe ATS translation request handling")', () => {
  const cases: [string, number, (b: RiscvIommuBench) => Partial<TranslationRequestInit>][] = [
    [
      'instruction access fault (1)',
      1,
      (b) => {
        const { pt } = withPasid(b);
        b.memory.markAccessFault(pt.root, 4096n);
        return { processId: PID, execute: true };
      },
    ],
    [
      'read access fault (5)',
      5,
      (b) => {
        const pt = firstStage(b);
        b.memory.markAccessFault(pt.root, 4096n);
        return {};
      },
    ],
    [
      'MSI PTE load access fault (261)',
      261,
      (b) => {
        const root = msi(b, FLAT_PTE);
        b.memory.markAccessFault(root, 4096n);
        return { iova: IMSIC_GPA };
      },
    ],
    ['MSI PTE misconfigured (263)', 263, (b) => (msi(b, [1n | (2n << 1n), 0n]), { iova: IMSIC_GPA })],
    [
      'PDT entry load access fault (265)',
      265,
      (b) => {
        const { pdt } = withPasid(b);
        b.memory.markAccessFault(pdt, 4096n);
        return { processId: PID };
      },
    ],
    [
      'PDT entry misconfigured (267)',
      267,
      (b) => {
        const pt = b.pageTable('Sv39');
        const pdt = pd8(b, [[PID, pcTa({ raw: 1n << 3n }), sv39Fsc(pt.root)]]);
        b.setDeviceContext(DID, { tc: { EN_ATS: true, PDTV: true }, fsc: { mode: 1, ppn: pdt } });
        return { processId: PID };
      },
    ],
    [
      'DDT data corruption (268)',
      268,
      (b) => {
        firstStage(b);
        b.memory.markDataCorruption(b.dcAddress(DID), 64n);
        return {};
      },
    ],
    [
      'PDT data corruption (269)',
      269,
      (b) => {
        const { pdt } = withPasid(b);
        b.memory.markDataCorruption(pdt, 4096n);
        return { processId: PID };
      },
    ],
    [
      'MSI PT data corruption (270)',
      270,
      (b) => {
        const root = msi(b, FLAT_PTE);
        b.memory.markDataCorruption(root, 4096n);
        return { iova: IMSIC_GPA };
      },
    ],
    [
      'first/second-stage PT data corruption (274)',
      274,
      (b) => {
        const pt = firstStage(b);
        b.memory.markDataCorruption(pt.root, 4096n);
        return {};
      },
    ],
  ];
  for (const [name, cause, arrange] of cases) {
    it(`${name}: CA, fault recorded with TTYP 8`, () => {
      const b = bench();
      const req = arrange(b);
      const rsp = ats(b, req);
      expect(rsp.status).toBe(CA);
      expect(rsp.cause).toBe(cause);
      const faults = b.faults();
      expect(faults).toHaveLength(1);
      expect(faults[0]).toMatchObject({ cause, ttyp: TTYP_ATS, did: DID, pv: req.processId !== undefined, iotval: req.iova ?? IOVA });
    });
  }
  // Write/AMO access fault (7) cannot arise for a translation request: it always asks for
  // read access (the C reference model classifies its accesses the same way).
});

describe('RISC-V IOMMU ATS translation requests: Success with R=W=0, nothing recorded (spec "PCIe ATS translation request handling")', () => {
  const cases: [string, number, (b: RiscvIommuBench) => Partial<TranslationRequestInit>][] = [
    ['read page fault (13)', 13, (b) => (firstStage(b), {})],
    ['instruction page fault (12)', 12, (b) => (withPasid(b), { processId: PID, execute: true })],
    ['read guest-page fault (21)', 21, (b) => (secondStage(b), { write: true })],
    [
      'instruction guest-page fault (20)',
      20,
      (b) => {
        const gpt = b.pageTable('Sv39x4');
        // PDTV=1 with pdtp.MODE=Bare: the first stage is Bare for requests with a PASID.
        b.setDeviceContext(DID, { tc: { EN_ATS: true, PDTV: true }, fsc: { mode: 0 }, iohgatp: { mode: 8, ppn: gpt.root, gscid: 3 } });
        return { processId: PID, execute: true };
      },
    ],
    ['PDT entry not valid (266)', 266, (b) => (withPasid(b), { processId: PID + 1 })],
    ['MSI PTE not valid (262)', 262, (b) => (msi(b, null), { iova: IMSIC_GPA })],
    [
      'page without U for a non-privileged request (13)',
      13,
      (b) => {
        firstStage(b).map(IOVA, SPA, { flags: R | W | A | D });
        return {};
      },
    ],
    [
      'U page for a privileged request with SUM=0 (13)',
      13,
      (b) => {
        withPasid(b, { ens: true, sum: false }).pt.map(IOVA, SPA, { flags: R | W | U | A | D });
        return { processId: PID, privileged: true };
      },
    ],
  ];
  for (const [name, cause, arrange] of cases) {
    it(`${name}: Success, R=W=X=0, no fault record`, () => {
      const b = bench();
      const req = arrange(b);
      const rsp = ats(b, req);
      expect(rsp.status).toBe(SUCCESS);
      expect(rsp.cause).toBe(cause);
      expect([rsp.r, rsp.w, rsp.x]).toEqual([false, false, false]);
      expect(b.faults()).toEqual([]);
      expect(b.iommu.faultQueue.stats.recorded).toBe(0);
    });
  }
});

describe('RISC-V IOMMU ATS translation requests and DC.tc.DTF (spec "Fault/Event-Queue": causes reported if DTF is 1)', () => {
  it('DTF=1 suppresses the record of a UR (260) and a CA (5) but not the response', () => {
    const b = bench();
    firstStage(b, { EN_ATS: false, DTF: true });
    expect(ats(b).status).toBe(UR);
    const b2 = bench();
    b2.memory.markAccessFault(firstStage(b2, { DTF: true }).root, 4096n);
    expect(ats(b2).status).toBe(CA);
    expect([...b.faults(), ...b2.faults()]).toEqual([]);
  });

  it('DTF is taken as 0 when the device context cannot be used: a misconfigured context (259) is recorded', () => {
    const b = bench();
    b.setDeviceContext(DID, { tc: { EN_ATS: true, DTF: true }, tcRaw: 1n << 12n });
    expect(ats(b).status).toBe(UR);
    expect(b.faults()).toMatchObject([{ cause: 259, ttyp: TTYP_ATS, did: DID }]);
  });
});

describe('RISC-V IOMMU ATS translation completions: permissions and attributes (spec "PCIe ATS translation request handling")', () => {
  it('R from the page tables; W denied on a read-only page without a fault; X only when requested', () => {
    const b = bench();
    firstStage(b).map(IOVA, SPA, { flags: R | U | A });
    const rsp = ats(b, { write: true });
    expect(rsp.status).toBe(SUCCESS);
    expect([rsp.r, rsp.w, rsp.x, rsp.u, rsp.priv, rsp.global, rsp.cxlIo]).toEqual([true, false, false, false, false, false, false]);
    // N is always 0 and AMA defaults to 000b.
    expect([rsp.n, rsp.ama]).toEqual([false, 0]);
    expect(rsp.ppn).toBe(Number((SPA + (IOVA & 0xfffn)) >> 12n));
    expect(b.faults()).toEqual([]);
  });

  it('W on a writable page that is dirty; with NW=0 the IOMMU sets D (SADE=1); with NW=1 it does not', () => {
    const b = bench();
    const pt = firstStage(b, { SADE: true });
    const pte = pt.map(IOVA, SPA, { flags: R | W | U | A });
    const nw = ats(b, { write: false });
    expect([nw.r, nw.w]).toEqual([true, false]);
    expect(pt.read(pte) & D).toBe(0n);
    const wr = ats(b, { write: true });
    expect([wr.r, wr.w]).toEqual([true, true]);
    expect(pt.read(pte) & D).toBe(D);
    expect(b.faults()).toEqual([]);
  });

  it('W with NW=1 on a page already dirty in both stages: the permission determined from the page tables is returned', () => {
    // The request does not ask for write, but W=1 is what the page tables grant (the C
    // reference model returns W = W & D of both stages too; PCIe lets the TA ignore NW).
    const b = bench();
    firstStage(b).map(IOVA, SPA, { flags: R | W | U | A | D });
    const rsp = ats(b, { write: false });
    expect([rsp.r, rsp.w]).toEqual([true, true]);
  });

  it('W requires D in the second stage too: GADE=1 sets it for NW=0; a clean page with NW=1 gets W=0', () => {
    const b = bench();
    const gpt = secondStage(b, { GADE: true });
    const gpte = gpt.map(IOVA, SPA, { flags: R | W | U | A });
    const nw = ats(b, { write: false });
    expect([nw.r, nw.w]).toEqual([true, false]);
    expect(gpt.read(gpte) & D).toBe(0n);
    // IOTLB entries may hold the clean translation; the write request must still set D.
    const wr = ats(b, { write: true });
    expect([wr.r, wr.w]).toEqual([true, true]);
    expect(gpt.read(gpte) & D).toBe(D);
  });

  it('X only with R, a PASID and Execute Requested', () => {
    const b = bench();
    const { pt } = withPasid(b);
    pt.map(IOVA, SPA, { flags: R | X | U | A });
    pt.map(IOVA + 0x1000n, SPA + 0x1000n, { flags: X | U | A });
    const exec = ats(b, { processId: PID, execute: true });
    expect([exec.status, exec.r, exec.w, exec.x]).toEqual([SUCCESS, true, false, true]);
    const noExec = ats(b, { processId: PID, execute: false });
    expect([noExec.r, noExec.x]).toEqual([true, false]);
    // Execute-only: X is not granted without R.
    const xOnly = ats(b, { iova: IOVA + 0x1000n, processId: PID, execute: true });
    expect([xOnly.status, xOnly.r, xOnly.x]).toEqual([SUCCESS, false, false]);
    // Without a PASID, Execute Requested does not exist.
    const b2 = bench();
    firstStage(b2).map(IOVA, SPA, { flags: R | X | U | A });
    const noPasid = ats(b2, { execute: true });
    expect([noPasid.r, noPasid.x]).toEqual([true, false]);
    expect(b.faults()).toEqual([]);
  });

  it('Priv is set only with a PASID and Privilege Mode Requested; a privileged request sees supervisor pages', () => {
    const b = bench();
    const { pt } = withPasid(b, { ens: true });
    pt.map(IOVA, SPA, { flags: R | W | A | D });
    const priv = ats(b, { processId: PID, privileged: true, write: true });
    expect([priv.status, priv.priv, priv.r, priv.w]).toEqual([SUCCESS, true, true, true]);
    const user = ats(b, { processId: PID, privileged: false });
    expect([user.status, user.priv, user.r, user.w]).toEqual([SUCCESS, false, false, false]);
    // Privilege Mode Requested without a PASID is not meaningful: a user request.
    const b2 = bench();
    firstStage(b2).map(IOVA, SPA, { flags: R | U | A });
    const noPasid = ats(b2, { privileged: true });
    expect([noPasid.priv, noPasid.r]).toEqual([false, true]);
  });

  it('SUM=1 lets a privileged request use a U page', () => {
    const b = bench();
    withPasid(b, { ens: true, sum: true }).pt.map(IOVA, SPA, { flags: R | U | A });
    const rsp = ats(b, { processId: PID, privileged: true });
    expect([rsp.status, rsp.priv, rsp.r]).toEqual([SUCCESS, true, true]);
  });

  it('Global comes from the first-stage PTE, and only for requests with a PASID', () => {
    const b = bench();
    const { pt } = withPasid(b);
    pt.map(IOVA, SPA, { flags: R | U | A | G });
    pt.map(IOVA + 0x1000n, SPA, { flags: R | U | A });
    expect(ats(b, { processId: PID }).global).toBe(true);
    expect(ats(b, { iova: IOVA + 0x1000n, processId: PID }).global).toBe(false);
    const b2 = bench();
    firstStage(b2).map(IOVA, SPA, { flags: R | U | A | G });
    const noPasid = ats(b2);
    expect([noPasid.r, noPasid.global]).toEqual([true, false]);
  });

  it('an MSI page in MRIF mode is returned with U=1 (untranslated access only); a flat MSI page with U=0', () => {
    const b = bench();
    msi(b, MRIF_PTE);
    const mrif = ats(b, { iova: IMSIC_GPA, write: true });
    expect([mrif.status, mrif.u, mrif.r, mrif.global]).toEqual([SUCCESS, true, true, false]);
    expect(b.faults()).toEqual([]);
    const b2 = bench();
    msi(b2, FLAT_PTE);
    const flat = ats(b2, { iova: IMSIC_GPA, write: true });
    expect([flat.status, flat.u, flat.r, flat.w, flat.x]).toEqual([SUCCESS, false, true, true, false]);
    expect(flat.ppn).toBe(Number(IMSIC_SPA >> 12n));
    expect(flat.log2Pages).toBe(0);
  });

  it('CXL.io is 1 for a CXL device on MSI pages, with T2GPA, or with PBMT NC/IO; 0 for other devices', () => {
    const msiB = bench();
    msi(msiB, FLAT_PTE);
    expect(ats(msiB, { iova: IMSIC_GPA, cxl: true }).cxlIo).toBe(true);
    expect(ats(msiB, { iova: IMSIC_GPA, cxl: false }).cxlIo).toBe(false);

    const t2 = bench();
    secondStage(t2, { T2GPA: true }).map(IOVA, SPA, { flags: R | W | U | A | D });
    expect(ats(t2, { cxl: true }).cxlIo).toBe(true);
    expect(ats(t2, { cxl: false }).cxlIo).toBe(false);

    const pbmt = bench();
    const pt = firstStage(pbmt);
    pt.map(IOVA, SPA, { flags: R | W | U | A | D, extra: 1n << 61n }); // NC
    pt.map(IOVA + 0x1000n, SPA, { flags: R | W | U | A | D, extra: 2n << 61n }); // IO
    expect(ats(pbmt, { cxl: true }).cxlIo).toBe(true);
    expect(ats(pbmt, { iova: IOVA + 0x1000n, cxl: true }).cxlIo).toBe(true);
    expect(ats(pbmt, { iova: IOVA + 0x1000n, cxl: false }).cxlIo).toBe(false);
  });

  it('the range size is that of the smaller of the two stages (ATS completion S/size encoding)', () => {
    const b = bench();
    const pt = firstStage(b);
    pt.map(0x4000_0000n, SPA, { level: 1 }); // 2 MiB
    pt.map(0x8000_0000n, SPA, { level: 2 }); // 1 GiB
    pt.map(0xc000_0000n, SPA, { level: 0 });
    const mega = ats(b, { iova: 0x4012_3000n });
    expect([mega.status, mega.log2Pages, mega.ppn]).toEqual([SUCCESS, 9, Number((SPA + 0x12_3000n) >> 12n)]);
    expect(mega.atsAddress()).toEqual({ address: SPA | ((MB2 / 2n - 1n) & ~0xfffn), s: true });
    expect(ats(b, { iova: 0x8000_0000n }).log2Pages).toBe(18); // second stage Bare: 1 GiB by default
    const small = ats(b, { iova: 0xc000_0000n });
    expect(small.log2Pages).toBe(0);
    expect(small.atsAddress()).toEqual({ address: SPA, s: false });
  });

  it('a two-stage translation is limited by the second-stage page size', () => {
    const b = bench();
    const gpt = b.pageTable('Sv39x4');
    const pt = b.guestPageTable('Sv39', gpt, 0x1_0000_0000n);
    pt.map(0x4000_0000n, 0x8000_0000n, { level: 1 });
    gpt.map(0x8000_0000n, SPA, { level: 0 });
    gpt.map(0x8000_1000n, SPA + 0x1000n, { level: 0 });
    b.setDeviceContext(DID, { tc: { EN_ATS: true }, fsc: { mode: 8, ppn: pt.root }, iohgatp: { mode: 8, ppn: gpt.root, gscid: 7 } });
    const rsp = ats(b, { iova: 0x4000_1000n });
    expect([rsp.status, rsp.log2Pages, rsp.ppn]).toEqual([SUCCESS, 0, Number((SPA + 0x1000n) >> 12n)]);
  });

  it('with both stages Bare, the range size is the implementation-defined parameter', () => {
    const b = bench();
    b.setDeviceContext(DID, { tc: { EN_ATS: true } });
    const rsp = ats(b);
    expect([rsp.status, rsp.ppn, rsp.log2Pages, rsp.r, rsp.w]).toEqual([SUCCESS, Number(IOVA >> 12n), 18, true, true]);
    const b2 = bench({ bareFirstStageBytes: MB2, bareSecondStageBytes: 4n * MB2 });
    b2.setDeviceContext(DID, { tc: { EN_ATS: true } });
    expect(ats(b2).log2Pages).toBe(9);
    const b3 = bench({ bareSecondStageBytes: 2n * MB2 });
    b3.setDeviceContext(DID, { tc: { EN_ATS: true } });
    expect(ats(b3).log2Pages).toBe(10);
  });
});

describe('RISC-V IOMMU T2GPA and translated requests (spec "Translation control (tc)": T2GPA; "Process to translate an IOVA" steps 8-9)', () => {
  function t2gpa(b: RiscvIommuBench): { pt: PageTable; gpt: PageTable } {
    const gpt = b.pageTable('Sv39x4');
    const pt = b.guestPageTable('Sv39', gpt, 0x1_0000_0000n);
    pt.map(IOVA, 0x8000_0000n, { flags: R | W | U | A | D });
    gpt.map(0x8000_0000n, SPA, { flags: R | W | U | A | D });
    b.setDeviceContext(DID, { tc: { EN_ATS: true, T2GPA: true }, fsc: { mode: 8, ppn: pt.root }, iohgatp: { mode: 8, ppn: gpt.root, gscid: 4 } });
    return { pt, gpt };
  }

  it('an ATS completion of a T2GPA context returns the GPA, with permissions of both stages', () => {
    const b = bench();
    t2gpa(b);
    const rsp = ats(b, { write: true });
    expect([rsp.status, rsp.r, rsp.w]).toEqual([SUCCESS, true, true]);
    expect(rsp.ppn).toBe(0x8_0000);
  });

  it('translated requests of a T2GPA context are translated by the second stage', () => {
    const b = bench();
    t2gpa(b);
    const rd = b.iommu.translate({ deviceId: DID, iova: 0x8000_0123n, kind: 1 });
    expect([rd.status, rd.ppn]).toEqual([SUCCESS, Number(SPA >> 12n)]);
    const wr = b.iommu.translate({ deviceId: DID, iova: 0x8000_0123n, kind: 1, write: true });
    expect([wr.status, wr.ppn]).toEqual([SUCCESS, Number(SPA >> 12n)]);
    expect(b.faults()).toEqual([]);
  });

  it('a translated request of a T2GPA context that faults in the second stage is aborted and reported (guest-page fault)', () => {
    const b = bench();
    t2gpa(b);
    const rd = b.iommu.translate({ deviceId: DID, iova: 0x9000_0124n, kind: 1 });
    const wr = b.iommu.translate({ deviceId: DID, iova: 0x9000_0124n, kind: 1, write: true });
    expect([rd.status, wr.status]).toEqual([UR, UR]);
    expect(b.faults()).toEqual([
      { cause: 21, ttyp: TTYP_TRANSLATED_READ, did: DID, pv: false, pid: 0, priv: false, iotval: 0x9000_0124n, iotval2: 0x9000_0124n, reserved: 0n },
      { cause: 23, ttyp: TTYP_TRANSLATED_WRITE, did: DID, pv: false, pid: 0, priv: false, iotval: 0x9000_0124n, iotval2: 0x9000_0124n, reserved: 0n },
    ]);
  });

  it('translated requests without T2GPA are complete: the address passes through untranslated', () => {
    const b = bench();
    firstStage(b); // empty page table: nothing is walked
    const rsp = b.iommu.translate({ deviceId: DID, iova: 0xabc_d123n, kind: 1, write: true });
    expect([rsp.status, rsp.ppn]).toEqual([SUCCESS, 0xabcd]);
    expect(b.faults()).toEqual([]);
  });

  it('translated requests with EN_ATS=0 are disallowed (260)', () => {
    const b = bench();
    firstStage(b, { EN_ATS: false });
    const rsp = b.iommu.translate({ deviceId: DID, iova: 0xabc_d123n, kind: 1 });
    expect(rsp.status).toBe(UR);
    expect(b.faults()).toMatchObject([{ cause: 260, ttyp: TTYP_TRANSLATED_READ, did: DID, iotval: 0xabc_d123n }]);
  });
});

describe('RISC-V IOMMU parameter atsFillsIotlb (implementation choice: ATS translations may be cached)', () => {
  /** Translates with ATS, remaps the page without invalidating, then asks again untranslated. */
  function staleAfterAts(policy: 'never' | 't2gpa' | 'always'): { fills: number; ppn: number } {
    const b = bench({ atsFillsIotlb: policy });
    const pt = firstStage(b);
    pt.map(IOVA, SPA);
    const first = ats(b);
    expect(first.ppn).toBe(Number(SPA >> 12n));
    const fills = b.iommu.statistics().iotlb.fills;
    pt.map(IOVA, SPA + MB2);
    return { fills, ppn: b.iommu.translate({ deviceId: DID, iova: IOVA }).ppn };
  }

  it("'never': ATS translations do not fill the IOTLB", () => {
    expect(staleAfterAts('never')).toEqual({ fills: 0, ppn: Number((SPA + MB2) >> 12n) });
  });

  it("'always': ATS translations fill the IOTLB (a later untranslated request hits the cached entry)", () => {
    expect(staleAfterAts('always')).toEqual({ fills: 1, ppn: Number(SPA >> 12n) });
  });

  it("'t2gpa': only T2GPA contexts cache (GPA -> SPA, used by their translated requests)", () => {
    expect(staleAfterAts('t2gpa')).toEqual({ fills: 0, ppn: Number((SPA + MB2) >> 12n) });
    const b = bench({ atsFillsIotlb: 't2gpa' });
    const gpt = b.pageTable('Sv39x4');
    const pt = b.guestPageTable('Sv39', gpt, 0x1_0000_0000n);
    pt.map(IOVA, 0x8000_0000n);
    gpt.map(0x8000_0000n, SPA);
    b.setDeviceContext(DID, { tc: { EN_ATS: true, T2GPA: true }, fsc: { mode: 8, ppn: pt.root }, iohgatp: { mode: 8, ppn: gpt.root, gscid: 4 } });
    expect(ats(b).ppn).toBe(0x8_0000);
    expect(b.iommu.statistics().iotlb.fills).toBe(1);
    gpt.map(0x8000_0000n, SPA + MB2);
    expect(b.iommu.translate({ deviceId: DID, iova: 0x8000_0000n, kind: 1 }).ppn).toBe(Number(SPA >> 12n));
  });
});

describe('ATS completions: privileged and clean-page rules ("PCIe ATS translation request handling")', () => {
  it('a privileged request with Execute Requested on a user page with SUM=1 gets R and W but never X, walked or cached', () => {
    const b = bench();
    const { pt } = withPasid(b, { ens: true, sum: true });
    pt.map(IOVA, SPA, { flags: R | W | X | U | A | D });
    for (const pass of ['walk', 'cached']) {
      const r = ats(b, { processId: PID, privileged: true, execute: true });
      expect([pass, r.status, r.r, r.w, r.x, r.priv]).toEqual([pass, SUCCESS, true, true, false, true]);
    }
    // The denial is the request's, not the page's: an unprivileged request still gets X.
    const user = ats(b, { processId: PID, execute: true });
    expect([user.r, user.x]).toEqual([true, true]);
    // A DMA read for execute by the supervisor on that page is a page fault (cause 12).
    const dma = b.iommu.translate({ deviceId: DID, iova: IOVA, processId: PID, privileged: true, execute: true });
    expect([dma.status, dma.cause]).toEqual([UR, 12]);
  });

  it('without hardware A/D updating (GADE=0), No-Write clear on an accessed clean second-stage page grants R without W', () => {
    const b = bench();
    const gpt = secondStage(b);
    gpt.map(IOVA, SPA, { flags: R | W | U | A });
    const r = ats(b, { write: true });
    expect([r.status, r.r, r.w]).toEqual([SUCCESS, true, false]);
    expect(b.faults()).toEqual([]);
    // An untranslated write to the same page is a guest-page fault (store to a clean page, GADE=0).
    const dma = b.iommu.translate({ deviceId: DID, iova: IOVA, write: true });
    expect([dma.status, dma.cause]).toEqual([UR, 23]);
  });

  it('completions carry the QoS IDs of DC.ta (QoS ID extension)', () => {
    const b = bench();
    const pt = firstStage(b, {}, { ta: { pscid: 1, rcid: 5, mcid: 9 } });
    pt.map(IOVA, SPA);
    const r = ats(b);
    expect([r.rcid, r.mcid]).toEqual([5, 9]);
  });
});
