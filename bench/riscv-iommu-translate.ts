// Translation throughput of the RISC-V IOMMU model on fixed workloads. The workloads are
// defined here, once, so that the same ones can be run against other models (such as the
// official C reference model) and compared side by side.
//
// Common to all workloads: capabilities Sv39/48/57, Sv39x4/48x4/57x4, AMO_HWAD, MSI_FLAT
// (64-byte device contexts), PD8/17/20, PAS 50; little-endian; a 1024-entry command queue and a
// 128-entry fault queue; HPM off. Every request is an untranslated 8-byte read by device id
// 0x012345 without a process id (except pd17-sv48-walk). Every leaf PTE at every stage has
// V, R, W, U, A, D set, so no A/D update ever happens. 4096 leaf mappings of 4 KiB:
// IOVA 0x8000_0000 + i*4096 -> 0x20_0000_0000 + i*4096. Each workload verifies every response
// (the expected address, no fault) and that the fault queue stays empty.

import { iodirInvalDdt, iotinvalGvma, iotinvalVma, Reg, type CommandWords } from '../src/formats/index.js';
import { RequestKind, ResponseStatus, TranslationRequest, TranslationResponse } from '../src/hw/riscv-iommu/index.js';
import { hi32, lo32 } from '../src/sim/u64.js';
import { PTE, RiscvIommuBench } from '../test/support/riscv-iommu-bench.js';

export interface WorkloadResult {
  workload: string;
  requests: number;
  seconds: number;
  translationsPerSecond: number;
  iotlbHitRate: number;
  deviceContextHitRate: number;
  processContextHitRate: number;
  memoryReadsPerTranslation: number;
  errors: number;
}

const DEVICE = 0x012345;
const PAGES = 4096;
const IOVA_BASE = 0x8000_0000;
const SPA_BASE = 0x20_0000_0000;
const GPA_BASE = 0x1_0000_0000;
const LEAF = PTE.V | PTE.R | PTE.W | PTE.U | PTE.A | PTE.D;

interface Workload {
  name: string;
  defaultRequests: number;
  /** Builds the machine; returns the per-request address function and an optional per-request prologue. */
  setup(b: RiscvIommuBench, req: TranslationRequest): { iova(k: number): number; expect(k: number): number; before?: () => void };
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
 * Queues `commands` at cqt and rings the doorbell, as a driver would: stores into the queue
 * memory and one 32-bit register write (no BigInt, no allocation per call).
 */
function flusher(b: RiscvIommuBench, commands: CommandWords[]): () => void {
  const words = commands.map(([w0, w1]) => [lo32(w0), hi32(w0), lo32(w1), hi32(w1)]);
  const memory = b.memory;
  const basePpn = Number(b.cqBase >> 12n);
  const entries = b.cqEntries;
  const mmio = b.iommu.mmio;
  let tail = mmio.read32(Reg.cqt);
  return () => {
    for (const w of words) {
      const byte = tail * 16;
      const ppn = basePpn + Math.floor(byte / 4096);
      const off = byte % 4096;
      memory.write64(ppn, off, w[0], w[1]);
      memory.write64(ppn, off + 8, w[2], w[3]);
      tail = (tail + 1) % entries;
    }
    mmio.write32(Reg.cqt, tail);
  };
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
    setup(b) {
      b.setMode('Bare');
      const iova = (k: number) => IOVA_BASE + k * 4096 + ((k * 64) % 4096);
      return { iova, expect: iova };
    },
  },
  {
    name: 'sv39-hit',
    defaultRequests: 1_000_000,
    setup(b, req) {
      sv39(b, req);
      return { iova: (k) => IOVA_BASE + (k % 2) * 4096, expect: (k) => SPA_BASE + (k % 2) * 4096 };
    },
  },
  {
    name: 'sv39-cycle',
    defaultRequests: 1_000_000,
    setup(b, req) {
      sv39(b, req);
      return { iova: (k) => IOVA_BASE + (k % PAGES) * 4096, expect: (k) => SPA_BASE + (k % PAGES) * 4096 };
    },
  },
  {
    name: 'sv39-walk',
    defaultRequests: 200_000,
    setup(b, req) {
      sv39(b, req);
      return {
        iova: (k) => IOVA_BASE + (k % PAGES) * 4096,
        expect: (k) => SPA_BASE + (k % PAGES) * 4096,
        before: flusher(b, [iodirInvalDdt(), iotinvalVma()]),
      };
    },
  },
  {
    name: 'sv48x4-two-stage-walk',
    defaultRequests: 100_000,
    setup(b, req) {
      b.setMode('3LVL');
      const g = b.pageTable('Sv48x4');
      // Guest memory: the data pages, and (from 0x4000_0000 up) the first stage's own tables.
      for (let i = 0; i < PAGES; i++) g.map(BigInt(GPA_BASE + i * 4096), BigInt(SPA_BASE + i * 4096), { flags: LEAF });
      const s = b.guestPageTable('Sv48', g, 0x4000_0000n);
      for (let i = 0; i < PAGES; i++) s.map(BigInt(IOVA_BASE + i * 4096), BigInt(GPA_BASE + i * 4096), { flags: LEAF });
      b.setDeviceContext(DEVICE, { fsc: { mode: 9, ppn: s.root }, ta: { pscid: 0x5a5 }, iohgatp: { mode: 9, ppn: g.root, gscid: 1 } });
      req.pidValid = false;
      return {
        iova: (k) => IOVA_BASE + (k % PAGES) * 4096,
        expect: (k) => SPA_BASE + (k % PAGES) * 4096,
        before: flusher(b, [iodirInvalDdt(), iotinvalVma({ gscid: 1 }), iotinvalGvma({ gscid: 1 })]),
      };
    },
  },
  {
    name: 'pd17-sv48-walk',
    defaultRequests: 200_000,
    setup(b, req) {
      b.setMode('3LVL');
      const pt = b.pageTable('Sv48');
      for (let i = 0; i < PAGES; i++) pt.map(BigInt(IOVA_BASE + i * 4096), BigInt(SPA_BASE + i * 4096), { flags: LEAF });
      const pdtRoot = pd17ProcessContext(b, 0xabcd, 0x5a5n, (9n << 60n) | (pt.root >> 12n));
      b.setDeviceContext(DEVICE, { tc: { PDTV: true }, fsc: { mode: 2, ppn: pdtRoot } });
      req.pidValid = true;
      req.processId = 0xabcd;
      return {
        iova: (k) => IOVA_BASE + (k % PAGES) * 4096,
        expect: (k) => SPA_BASE + (k % PAGES) * 4096,
        before: flusher(b, [iodirInvalDdt(), iotinvalVma()]),
      };
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

export function runWorkload(name: string, scale = 1): WorkloadResult {
  const w = WORKLOADS.find((x) => x.name === name);
  if (w === undefined) throw new Error(`unknown workload ${name}; known: ${WORKLOAD_NAMES.join(', ')}`);
  const b = newBench();
  const req = new TranslationRequest();
  req.deviceId = DEVICE;
  req.kind = RequestKind.Untranslated;
  req.write = false;
  const rsp = new TranslationResponse();
  const { iova, expect, before } = w.setup(b, req);
  const iommu = b.iommu;
  const n = Math.max(1, Math.round(w.defaultRequests * scale));

  // Warm up the JIT on a few thousand requests, then measure from clean statistics.
  const run = (count: number): number => {
    let errors = 0;
    for (let k = 0; k < count; k++) {
      if (before !== undefined) before();
      const a = iova(k);
      req.iovaHi = Math.floor(a / 4294967296);
      req.iovaLo = a >>> 0;
      iommu.translate(req, rsp);
      if (rsp.status !== ResponseStatus.Success || rsp.ppn * 4096 + (a % 4096) !== expect(k)) errors++;
    }
    return errors;
  };
  run(Math.min(n, 20_000));
  const before0 = iommu.statistics();
  const start = performance.now();
  let errors = run(n);
  const seconds = (performance.now() - start) / 1000;
  const after = iommu.statistics();
  if (b.read32(Reg.fqt) !== b.read32(Reg.fqh)) errors++;

  const delta = (x: number, y: number) => x - y;
  const rate = (h: number, m: number) => (h + m === 0 ? 0 : h / (h + m));
  return {
    workload: name,
    requests: n,
    seconds,
    translationsPerSecond: n / seconds,
    iotlbHitRate: rate(delta(after.iotlb.hits, before0.iotlb.hits), delta(after.iotlb.misses, before0.iotlb.misses)),
    deviceContextHitRate: rate(
      delta(after.deviceContextCache.hits, before0.deviceContextCache.hits),
      delta(after.deviceContextCache.misses, before0.deviceContextCache.misses),
    ),
    processContextHitRate: rate(
      delta(after.processContextCache.hits, before0.processContextCache.hits),
      delta(after.processContextCache.misses, before0.processContextCache.misses),
    ),
    memoryReadsPerTranslation: delta(after.memory.reads, before0.memory.reads) / n,
    errors,
  };
}
