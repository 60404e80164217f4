// Translation throughput of the RISC-V IOMMU model on fixed workloads. The workloads are
// defined here, once, so that the same ones can be run against other models (such as the
// official C reference model) and compared side by side; smmuv3-translate.ts has their Arm
// SMMUv3 counterparts (the shared scheme is in translation-scheme.ts).
//
// Common to all workloads: capabilities Sv39/48/57, Sv39x4/48x4/57x4, AMO_HWAD, MSI_FLAT
// (64-byte device contexts), PD8/17/20, PAS 50; little-endian; a 1024-entry command queue and a
// 128-entry fault queue; HPM off. Every request is an untranslated 8-byte read by device id
// 0x012345 without a process id (except pd17-sv48-walk). Every leaf PTE at every stage has
// V, R, W, U, A, D set, so no A/D update ever happens. 4096 leaf mappings of 4 KiB:
// IOVA 0x8000_0000 + i*4096 -> 0x20_0000_0000 + i*4096. Each workload verifies every response
// (the expected address, no fault), that every command submission was consumed, that the fault
// queue stays empty and that neither queue reports an error.

import { iodirInvalDdt, iotinvalGvma, iotinvalVma, Reg, type CommandWords } from '../src/formats/index.js';
import { RequestKind, ResponseStatus, TranslationRequest, TranslationResponse, type RiscvIommu } from '../src/hw/riscv-iommu/index.js';
import { hi32, lo32 } from '../src/sim/u64.js';
import { PTE, RiscvIommuBench } from '../test/support/riscv-iommu-bench.js';
import {
  DEVICE,
  GPA_BASE,
  hitRateBetween,
  IOVA_BASE,
  IOVA_PAGE,
  PAGES,
  Pattern,
  SPA_BASE,
  SPA_PAGE,
  timeRequests,
  type PatternValue,
} from './translation-scheme.js';

export interface WorkloadResult {
  workload: string;
  requests: number;
  seconds: number;
  /** Process CPU time of the measured run (all threads; diagnostic, as in the C harness). */
  cpuSeconds: number;
  translationsPerSecond: number;
  iotlbHitRate: number;
  deviceContextHitRate: number;
  processContextHitRate: number;
  memoryReadsPerTranslation: number;
  errors: number;
}

const LEAF = PTE.V | PTE.R | PTE.W | PTE.U | PTE.A | PTE.D;
const FQCSR_ERRORS = (1 << 8) | (1 << 9); // fqmf, fqof
const CQCSR_ERRORS = (1 << 8) | (1 << 9) | (1 << 10); // cqmf, cmd_to, cmd_ill

interface Workload {
  name: string;
  defaultRequests: number;
  pattern: PatternValue;
  /** Builds the machine; returns the commands to submit (and wait for) before every request. */
  setup(b: RiscvIommuBench, req: TranslationRequest): CommandWords[];
}

function newBench(): RiscvIommuBench {
  return new RiscvIommuBench({
    capabilities: {
      Sv32: false,
      Sv39: true,
      Sv48: true,
      Sv57: true,
      Sv32x4: false,
      Sv39x4: true,
      Sv48x4: true,
      Sv57x4: true,
      Svpbmt: false,
      Svrsw60t59b: false,
      AMO_HWAD: true,
      AMO_MRIF: false,
      MSI_FLAT: true,
      MSI_MRIF: false,
      ATS: false,
      T2GPA: false,
      END: false,
      IGS: 'MSI',
      HPM: false,
      DBG: true,
      PAS: 50,
      PD8: true,
      PD17: true,
      PD20: true,
      QOSID: false,
      NL: false,
      S: false,
    },
    cqEntries: 1024,
    fqEntries: 128,
    pqEntries: 0,
  });
}

/**
 * Submits commands as a driver does: stores them into the queue memory at cqt, rings the
 * doorbell (one 32-bit register write) and checks that cqh caught up (no BigInt, no
 * allocation per call). Returns false when the queue did not consume them.
 */
class CommandSubmitter {
  private readonly words: Uint32Array;
  private readonly basePpn: number;
  private readonly entries: number;
  private tail: number;

  constructor(
    private readonly b: RiscvIommuBench,
    commands: CommandWords[],
  ) {
    this.words = new Uint32Array(commands.flatMap(([w0, w1]) => [lo32(w0), hi32(w0), lo32(w1), hi32(w1)]));
    this.basePpn = Number(b.cqBase >> 12n);
    this.entries = b.cqEntries;
    this.tail = b.iommu.mmio.read32(Reg.cqt);
  }

  submit(): boolean {
    const memory = this.b.memory;
    const w = this.words;
    let tail = this.tail;
    for (let i = 0; i < w.length; i += 4) {
      const byte = tail * 16;
      const ppn = this.basePpn + (byte >>> 12);
      const off = byte & 4095;
      memory.write64(ppn, off, w[i], w[i + 1]);
      memory.write64(ppn, off + 8, w[i + 2], w[i + 3]);
      tail = tail + 1 === this.entries ? 0 : tail + 1;
    }
    this.tail = tail;
    const mmio = this.b.iommu.mmio;
    mmio.write32(Reg.cqt, tail);
    return mmio.read32(Reg.cqh) === tail;
  }
}

const sv39 = (b: RiscvIommuBench, req: TranslationRequest) => {
  b.setMode('3LVL');
  const pt = b.pageTable('Sv39');
  for (let i = 0; i < PAGES; i++) pt.map(BigInt(IOVA_BASE + i * 4096), BigInt(SPA_BASE + i * 4096), { flags: LEAF });
  b.setDeviceContext(DEVICE, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 0x5a5 } });
  req.pidValid = false;
};

const WORKLOADS: Workload[] = [
  {
    name: 'bare',
    defaultRequests: 1_000_000,
    pattern: Pattern.Bare,
    setup(b) {
      b.setMode('Bare');
      return [];
    },
  },
  {
    name: 'sv39-hit',
    defaultRequests: 1_000_000,
    pattern: Pattern.TwoPages,
    setup(b, req) {
      sv39(b, req);
      return [];
    },
  },
  {
    name: 'sv39-cycle',
    defaultRequests: 1_000_000,
    pattern: Pattern.Cycle,
    setup(b, req) {
      sv39(b, req);
      return [];
    },
  },
  {
    name: 'sv39-walk',
    defaultRequests: 200_000,
    pattern: Pattern.Cycle,
    setup(b, req) {
      sv39(b, req);
      return [iodirInvalDdt(), iotinvalVma()];
    },
  },
  {
    name: 'sv48x4-two-stage-walk',
    defaultRequests: 100_000,
    pattern: Pattern.Cycle,
    setup(b, req) {
      b.setMode('3LVL');
      const g = b.pageTable('Sv48x4');
      // Guest memory: the data pages, and (from 0x4000_0000 up) the first stage's own tables.
      for (let i = 0; i < PAGES; i++) g.map(BigInt(GPA_BASE + i * 4096), BigInt(SPA_BASE + i * 4096), { flags: LEAF });
      const s = b.guestPageTable('Sv48', g, 0x4000_0000n);
      for (let i = 0; i < PAGES; i++) s.map(BigInt(IOVA_BASE + i * 4096), BigInt(GPA_BASE + i * 4096), { flags: LEAF });
      b.setDeviceContext(DEVICE, { fsc: { mode: 9, ppn: s.root }, ta: { pscid: 0x5a5 }, iohgatp: { mode: 9, ppn: g.root, gscid: 1 } });
      req.pidValid = false;
      return [iodirInvalDdt(), iotinvalVma({ gscid: 1 }), iotinvalGvma({ gscid: 1 })];
    },
  },
  {
    name: 'pd17-sv48-walk',
    defaultRequests: 200_000,
    pattern: Pattern.Cycle,
    setup(b, req) {
      b.setMode('3LVL');
      const pt = b.pageTable('Sv48');
      for (let i = 0; i < PAGES; i++) pt.map(BigInt(IOVA_BASE + i * 4096), BigInt(SPA_BASE + i * 4096), { flags: LEAF });
      const pdtRoot = pd17ProcessContext(b, 0xabcd, 0x5a5n, (9n << 60n) | (pt.root >> 12n));
      b.setDeviceContext(DEVICE, { tc: { PDTV: true }, fsc: { mode: 2, ppn: pdtRoot } });
      req.pidValid = true;
      req.processId = 0xabcd;
      return [iodirInvalDdt(), iotinvalVma()];
    },
  },
];

/** A two-level (PD17) process directory holding one process context; returns the root. */
function pd17ProcessContext(b: RiscvIommuBench, pid: number, pscid: bigint, fsc: bigint): bigint {
  const root = b.alloc.alloc();
  const leaf = b.alloc.alloc();
  b.memory.write(root + BigInt(((pid >>> 8) & 0x1ff) * 8), 8, ((leaf >> 12n) << 10n) | 1n);
  const pc = leaf + BigInt((pid & 0xff) * 16);
  b.memory.write(pc, 8, (pscid << 12n) | 1n); // ta: V, PSCID
  b.memory.write(pc + 8n, 8, fsc);
  return root;
}

export const WORKLOAD_NAMES = WORKLOADS.map((w) => w.name);

/**
 * Sends requests k = 0..count-1 (each after its commands, if any) and checks every response:
 * success, a 4 KiB translation, and the expected page (the IOVA's own in Bare mode, SPA_BASE +
 * i pages for the i-th mapping otherwise), which, the page offset passing through, is the
 * expected address. The pattern arithmetic stays inline: a call more in this loop costs the
 * cheapest workloads a visible share of their throughput. Returns the number of wrong responses
 * and failed command submissions.
 */
function run(iommu: RiscvIommu, req: TranslationRequest, rsp: TranslationResponse, pattern: PatternValue, commands: CommandSubmitter | null, count: number): number {
  let errors = 0;
  for (let k = 0; k < count; k++) {
    if (commands !== null && !commands.submit()) errors++;
    // Bare: page IOVA_PAGE + k at a moving offset; otherwise mapping i at offset 0.
    const i = pattern === Pattern.Bare ? k : pattern === Pattern.TwoPages ? k & 1 : k & (PAGES - 1);
    const page = IOVA_PAGE + i;
    const offset = pattern === Pattern.Bare ? (k & 63) * 64 : 0;
    req.iovaHi = page >>> 20;
    req.iovaLo = ((page << 12) | offset) >>> 0;
    iommu.translate(req, rsp);
    const expected = pattern === Pattern.Bare ? page : SPA_PAGE + i;
    if (rsp.status !== ResponseStatus.Success || rsp.ppn !== expected || rsp.log2Pages !== 0) errors++;
  }
  return errors;
}

export function runWorkload(name: string, scale = 1): WorkloadResult {
  const w = WORKLOADS.find((x) => x.name === name);
  if (w === undefined) throw new Error(`unknown workload ${name}; known: ${WORKLOAD_NAMES.join(', ')}`);
  const b = newBench();
  const req = new TranslationRequest();
  req.deviceId = DEVICE;
  req.kind = RequestKind.Untranslated;
  req.write = false;
  const rsp = new TranslationResponse();
  const commands = w.setup(b, req);
  const submitter = commands.length === 0 ? null : new CommandSubmitter(b, commands);
  const iommu = b.iommu;
  const n = Math.max(1, Math.round(w.defaultRequests * scale));

  let before = iommu.statistics();
  const timing = timeRequests(
    n,
    (count) => run(iommu, req, rsp, w.pattern, submitter, count),
    () => (before = iommu.statistics()),
  );
  const after = iommu.statistics();
  let errors = timing.errors;
  // No fault recorded (queue empty, no overflow or memory fault); the command queue is healthy.
  if (b.read32(Reg.fqt) !== b.read32(Reg.fqh)) errors++;
  if ((b.read32(Reg.fqcsr) & FQCSR_ERRORS) !== 0) errors++;
  if ((b.read32(Reg.cqcsr) & CQCSR_ERRORS) !== 0) errors++;

  return {
    workload: name,
    requests: n,
    seconds: timing.seconds,
    cpuSeconds: timing.cpuSeconds,
    translationsPerSecond: n / timing.seconds,
    iotlbHitRate: hitRateBetween(before.iotlb, after.iotlb),
    deviceContextHitRate: hitRateBetween(before.deviceContextCache, after.deviceContextCache),
    processContextHitRate: hitRateBetween(before.processContextCache, after.processContextCache),
    memoryReadsPerTranslation: (after.memory.reads - before.memory.reads) / n,
    errors,
  };
}
