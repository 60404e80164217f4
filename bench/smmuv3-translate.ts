// Translation throughput of the Arm SMMUv3 model on the counterparts of the riscv-iommu/*
// workloads (same requests, same mappings, same checks; see translation-scheme.ts), so that the
// two models can be compared side by side:
//
//   bypass            STE.Config bypass (riscv-iommu/bare: the IOMMU off)
//   s1-hit            stage 1, two pages alternately (sv39-hit)
//   s1-cycle          stage 1, all pages in turn (sv39-cycle)
//   s1-walk           s1-cycle after CMD_CFGI_ALL + CMD_TLBI_NSNH_ALL + CMD_SYNC (sv39-walk)
//   s1s2-nested-walk  nested stage 1 + stage 2, both 4-level, after CMD_CFGI_ALL +
//                     CMD_TLBI_S12_VMALL + CMD_SYNC (sv48x4-two-stage-walk)
//   cd2l-ssid-walk    a SubstreamID through a 2-level CD table, 4-level stage 1, after
//                     CMD_CFGI_ALL + CMD_TLBI_NSNH_ALL + CMD_SYNC (pd17-sv48-walk)
//
// Common to all workloads: the model's default parameters (SMMUv3.2, 24-bit StreamIDs, 20-bit
// SubstreamIDs, 64x8 TLB); a 2-level Stream table of 24-bit StreamIDs split at 8 (as Linux sets
// it up); a 1024-entry Command queue and a 128-entry Event queue. Every request is an
// untranslated, unprivileged data read by StreamID 0x012345, without a SubstreamID except in
// cd2l-ssid-walk. Stage 1 uses the 4 KiB granule, a 39-bit TTB0 (T0SZ 25: three levels, as
// Sv39) where RISC-V uses Sv39 and a 48-bit one (four levels, as Sv48) where it uses Sv48;
// stage 2 a 48-bit IPA starting at level 0 (four levels, as Sv48x4). Every descriptor has AF
// set and the CDs leave HA/HD clear, so no flag update ever happens. The model is driven only
// through its registers and memory: commands are written into the queue memory and published
// by one CMDQ_PROD write, after which CMDQ_CONS must have caught up with no error. Each
// workload checks every response (the expected address, a 4 KiB translation, no fault), that
// the Event queue stays empty and that no global error is active.

import type { CommandWords } from '../src/formats/smmuv3/commands.js';
import { cmdCfgiAll, cmdSync, cmdTlbiNsnhAll, cmdTlbiS12Vmall } from '../src/formats/smmuv3/commands.js';
import { Reg } from '../src/formats/smmuv3/registers.js';
import { encodeL1cd, S1Fmt, splitSubstreamId, SteConfig } from '../src/formats/smmuv3/structures.js';
import type { SmmuV3, SmmuV3Statistics } from '../src/hw/smmuv3/smmuv3.js';
import { Outcome, SmmuResult, SmmuTransaction, TransactionKind } from '../src/hw/smmuv3/transaction.js';
import { Bench, identityTables, PageTable, S1_CD, S2_STE } from '../test/hw/smmuv3/bench.js';
import { DEVICE, GPA_BASE, hitRateBetween, IOVA_BASE, IOVA_PAGE, PAGES, Pattern, SPA_BASE, SPA_PAGE, timeRequests, type PatternValue } from './translation-scheme.js';

export interface SmmuV3WorkloadResult {
  workload: string;
  requests: number;
  seconds: number;
  /** Process CPU time of the measured run (all threads; diagnostic, as in the C harness). */
  cpuSeconds: number;
  translationsPerSecond: number;
  tlbHitRate: number;
  steHitRate: number;
  cdHitRate: number;
  /**
   * Structure and table reads per translation: the model's memory reads less one per command
   * consumed (its fetch), so that the number counts what the RISC-V model's counter counts.
   */
  memoryReadsPerTranslation: number;
  errors: number;
}

/** STRTAB_BASE_CFG: LOG2SIZE and SPLIT of the 2-level Stream table. */
const STREAM_TABLE_LOG2 = 24;
const STREAM_TABLE_SPLIT = 8;
const CMDQ_LOG2 = 10;
const EVENTQ_LOG2 = 7;
const ASID = 0x5a5;
const VMID = 1;
/** The SubstreamID of cd2l-ssid-walk (pd17-sv48-walk's process id) and its CD table's S1CDMax. */
const SSID = 0xabcd;
const SSID_BITS = 17;
/** Input sizes of the stage 1 tables: three levels (T0SZ 25) and four levels (T0SZ 16). */
const VA39 = 39;
const VA48 = 48;

interface Workload {
  name: string;
  defaultRequests: number;
  pattern: PatternValue;
  /** Builds the structures; returns the commands to submit (and wait for) before every request. */
  setup(b: Bench, txn: SmmuTransaction): CommandWords[];
}

/**
 * Submits commands as a driver does: stores them into the queue memory at CMDQ_PROD, publishes
 * them (one 32-bit register write) and checks that CMDQ_CONS caught up without an error (no
 * BigInt, no allocation per call). Returns false when the queue did not consume them.
 */
class CommandSubmitter {
  private readonly words: Uint32Array;
  private readonly basePage: number;
  private readonly entries: number;
  private readonly pointerMask: number;
  private prod: number;

  constructor(
    private readonly b: Bench,
    commands: CommandWords[],
  ) {
    const halves = (v: bigint) => [Number(v & 0xffff_ffffn), Number(v >> 32n)];
    this.words = new Uint32Array(commands.flatMap(([w0, w1]) => [...halves(w0), ...halves(w1)]));
    this.basePage = Number(b.cmdq >> 12n);
    this.entries = 2 ** CMDQ_LOG2;
    // The index and the wrap flag above it (3.5).
    this.pointerMask = 2 * this.entries - 1;
    this.prod = b.smmu.mmio.read32(Reg.CMDQ_PROD);
  }

  submit(): boolean {
    const memory = this.b.memory;
    const w = this.words;
    let prod = this.prod;
    for (let i = 0; i < w.length; i += 4) {
      const byte = (prod & (this.entries - 1)) * 16;
      const page = this.basePage + (byte >>> 12);
      const off = byte & 4095;
      memory.write64(page, off, w[i], w[i + 1]);
      memory.write64(page, off + 8, w[i + 2], w[i + 3]);
      prod = (prod + 1) & this.pointerMask;
    }
    this.prod = prod;
    const mmio = this.b.smmu.mmio;
    mmio.write32(Reg.CMDQ_PROD, prod);
    // CMDQ_CONS holds ERR in bits [30:24]: equal to PROD only when all were consumed cleanly.
    return mmio.read32(Reg.CMDQ_CONS) === prod;
  }
}

function newBench(): Bench {
  return new Bench().init({ log2size: STREAM_TABLE_LOG2, split: STREAM_TABLE_SPLIT, cmdqLog2: CMDQ_LOG2, eventqLog2: EVENTQ_LOG2 });
}

/** Maps the PAGES pages `from` + i*4096 -> `to` + i*4096 in a stage 1 or stage 2 table. */
function mapPages(pt: PageTable, from: number, to: number): void {
  for (let i = 0; i < PAGES; i++) pt.map(BigInt(from + i * 4096), BigInt(to + i * 4096));
}

/** A stage-1-only stream through a 39-bit (three-level) TTB0 with one CD. */
function stage1(b: Bench, txn: SmmuTransaction): void {
  const { pt } = b.stage1Stream(DEVICE, { cd: { T0SZ: 64 - VA39, ASID }, table: { stage: 1, inputBits: VA39 } });
  mapPages(pt, IOVA_BASE, SPA_BASE);
  txn.ssv = false;
}

const INVALIDATE_S1: CommandWords[] = [cmdCfgiAll(), cmdTlbiNsnhAll(), cmdSync()];

const WORKLOADS: Workload[] = [
  {
    name: 'bypass',
    defaultRequests: 1_000_000,
    pattern: Pattern.Bare,
    setup(b, txn) {
      b.writeSte(DEVICE, { V: 1, Config: SteConfig.Bypass });
      txn.ssv = false;
      return [];
    },
  },
  {
    name: 's1-hit',
    defaultRequests: 1_000_000,
    pattern: Pattern.TwoPages,
    setup(b, txn) {
      stage1(b, txn);
      return [];
    },
  },
  {
    name: 's1-cycle',
    defaultRequests: 1_000_000,
    pattern: Pattern.Cycle,
    setup(b, txn) {
      stage1(b, txn);
      return [];
    },
  },
  {
    name: 's1-walk',
    defaultRequests: 200_000,
    pattern: Pattern.Cycle,
    setup(b, txn) {
      stage1(b, txn);
      return INVALIDATE_S1;
    },
  },
  {
    name: 's1s2-nested-walk',
    defaultRequests: 100_000,
    pattern: Pattern.Cycle,
    setup(b, txn) {
      const s2 = new PageTable(b, { stage: 2, inputBits: VA48, startLevel: 0 });
      const s1 = new PageTable(b, { stage: 1, inputBits: VA48 });
      mapPages(s2, GPA_BASE, SPA_BASE);
      mapPages(s1, IOVA_BASE, GPA_BASE);
      const cd = b.alloc(64);
      b.writeCd(cd, { ...S1_CD, T0SZ: 64 - VA48, ASID, TTB0: s1.root >> 4n });
      // S2SL0 2: a 4 KiB-granule walk starting at level 0.
      b.writeSte(DEVICE, { ...S2_STE, S2T0SZ: 64 - VA48, S2SL0: 2, Config: SteConfig.Nested, S1ContextPtr: cd >> 6n, S2VMID: VMID, S2TTB: s2.root >> 4n });
      // The CD and the stage 1 tables are read through stage 2: identity-map their pages. One
      // leaf table serves 512 pages, and IOVA_BASE is 2 MiB-aligned.
      s2.map(cd & ~0xfffn, cd & ~0xfffn);
      for (let i = 0; i < PAGES; i += 512) identityTables(s1, s2, BigInt(IOVA_BASE + i * 4096));
      txn.ssv = false;
      return [cmdCfgiAll(), cmdTlbiS12Vmall(VMID), cmdSync()];
    },
  },
  {
    name: 'cd2l-ssid-walk',
    defaultRequests: 200_000,
    pattern: Pattern.Cycle,
    setup(b, txn) {
      const pt = new PageTable(b, { stage: 1, inputBits: VA48 });
      mapPages(pt, IOVA_BASE, SPA_BASE);
      // 2^SSID_BITS CDs, 64 per level-2 table (S1Fmt 4 KiB), so 2^(SSID_BITS - 6) L1CDs (5.3).
      const split = splitSubstreamId(SSID, S1Fmt.TwoLevel4K);
      const l1 = b.alloc(8 * 2 ** (SSID_BITS - 6));
      const l2 = b.alloc(64 * 64);
      b.memory.write(l1 + BigInt(8 * split.l1), 8, encodeL1cd(l2));
      b.writeCd(l2 + BigInt(64 * split.l2), { ...S1_CD, T0SZ: 64 - VA48, ASID, TTB0: pt.root >> 4n });
      b.writeSte(DEVICE, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: l1 >> 6n, S1CDMax: SSID_BITS, S1Fmt: S1Fmt.TwoLevel4K });
      txn.ssv = true;
      txn.ssid = SSID;
      return INVALIDATE_S1;
    },
  },
];

export const SMMUV3_WORKLOAD_NAMES = WORKLOADS.map((w) => w.name);

/**
 * Sends requests k = 0..count-1 (each after its commands, if any) and checks every response:
 * translated (or bypassed) without a fault, a 4 KiB translation, and the expected page, which,
 * the page offset passing through, is the expected address. The pattern arithmetic stays inline,
 * as in the RISC-V loop. Returns the number of wrong responses and failed command submissions.
 */
function run(smmu: SmmuV3, txn: SmmuTransaction, res: SmmuResult, pattern: PatternValue, commands: CommandSubmitter | null, count: number): number {
  let errors = 0;
  for (let k = 0; k < count; k++) {
    if (commands !== null && !commands.submit()) errors++;
    // Bare: page IOVA_PAGE + k at a moving offset; otherwise mapping i at offset 0.
    const i = pattern === Pattern.Bare ? k : pattern === Pattern.TwoPages ? k & 1 : k & (PAGES - 1);
    const page = IOVA_PAGE + i;
    const offset = pattern === Pattern.Bare ? (k & 63) * 64 : 0;
    txn.addressHi = page >>> 20;
    txn.addressLo = ((page << 12) | offset) >>> 0;
    smmu.translate(txn, res);
    const expected = pattern === Pattern.Bare ? page : SPA_PAGE + i;
    if (res.outcome !== Outcome.Ok || res.event !== 0 || res.outputPage !== expected || res.log2Pages !== 0) errors++;
  }
  return errors;
}

function commandsConsumed(s: SmmuV3Statistics): number {
  let n = 0;
  for (const count of Object.values(s.commands)) n += count;
  return n;
}

export function runSmmuV3Workload(name: string, scale = 1): SmmuV3WorkloadResult {
  const w = WORKLOADS.find((x) => x.name === name);
  if (w === undefined) throw new Error(`unknown workload ${name}; known: ${SMMUV3_WORKLOAD_NAMES.join(', ')}`);
  const b = newBench();
  const txn = new SmmuTransaction();
  txn.sid = DEVICE;
  txn.kind = TransactionKind.Untranslated;
  txn.write = false;
  txn.instruction = false;
  txn.privileged = false;
  const res = new SmmuResult();
  const commands = w.setup(b, txn);
  const submitter = commands.length === 0 ? null : new CommandSubmitter(b, commands);
  const smmu = b.smmu;
  const n = Math.max(1, Math.round(w.defaultRequests * scale));

  let before = smmu.statistics();
  const timing = timeRequests(
    n,
    (count) => run(smmu, txn, res, w.pattern, submitter, count),
    () => (before = smmu.statistics()),
  );
  const after = smmu.statistics();
  const commandFetches = commandsConsumed(after) - commandsConsumed(before);
  let errors = timing.errors;
  // No event recorded or lost (PROD == CONS, overflow flags included, 7.4); no global error (7.5).
  if (b.read32(Reg.EVENTQ_PROD) !== b.read32(Reg.EVENTQ_CONS)) errors++;
  if (b.read32(Reg.GERROR) !== b.read32(Reg.GERRORN)) errors++;

  return {
    workload: name,
    requests: n,
    seconds: timing.seconds,
    cpuSeconds: timing.cpuSeconds,
    translationsPerSecond: n / timing.seconds,
    tlbHitRate: hitRateBetween(before.caches.tlb, after.caches.tlb),
    steHitRate: hitRateBetween(before.caches.ste, after.caches.ste),
    cdHitRate: hitRateBetween(before.caches.cd, after.caches.cd),
    memoryReadsPerTranslation: (after.memory.reads - before.memory.reads - commandFetches) / n,
    errors,
  };
}
