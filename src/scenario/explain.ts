// `explain`: one translation of a device's request, observed step by step. After a scenario
// ran, the request (the device's device_id, an IOVA, read or write, an optional PASID) is
// presented to the model through its public `translate` with a RecordingTracer attached; each
// implicit memory read is decoded with the specification's layouts (formats/riscv-iommu,
// formats/riscv-pte), cache hits are read from the model's statistics, and the outcome is
// either the physical address or the fault cause with the entry that caused it.
//
// `cold` first has the driver invalidate every cache of the IOMMU through its command queue
// (IODIR.INVAL_DDT and IOTINVAL.VMA/GVMA without operands, then IOFENCE.C), as software would.

import { decode, type Layout } from '../formats/bitfield.js';
import { describeCause, Cause } from '../formats/riscv-iommu/records.js';
import { IOMMU_MODE_NAMES, Reg } from '../formats/riscv-iommu/registers.js';
import {
  DcTaLayout,
  DcTcLayout,
  DirectoryEntryLayout,
  FscLayout,
  IohgatpLayout,
  MsiAddrMaskLayout,
  MsiAddrPatternLayout,
  MsiptpLayout,
  MsiPteFlatLayout,
  MsiPteMrifLayout,
  MsiPteNoticeLayout,
  PcTaLayout,
} from '../formats/riscv-iommu/structures.js';
import { Pte32Layout, Pte64Layout } from '../formats/riscv-pte/index.js';
import { RecordingTracer, type TracedAccess, type TracedStructure } from '../hw/riscv-iommu/trace.js';
import type { RiscvIommuStatistics } from '../hw/riscv-iommu/riscv-iommu.js';
import { riscvIommuOf } from '../os/drivers/riscv-iommu/index.js';
import { hex } from '../sim/u64.js';
import { hardwareIdentity } from './devices.js';
import { ScenarioError } from './errors.js';
import type { RecordedFault } from './faults.js';
import { StepFailure, type ScenarioRunner } from './run.js';
import type { AddressExpr } from './values.js';

export interface ExplainRequest {
  device: string;
  iova: AddressExpr;
  write: boolean;
  pasid: number | null;
  cold: boolean;
}

export interface ExplainedField {
  name: string;
  value: bigint;
}

export interface ExplainedAccess {
  structure: TracedStructure;
  /** "first-stage PTE, level 2", "device context: fsc". */
  what: string;
  level: number;
  address: bigint;
  size: number;
  value: bigint;
  write: boolean;
  status: TracedAccess['status'];
  fields: ExplainedField[];
  /** What the entry means ("next table at 0x...", "2 MiB page at 0x...", "not valid"). */
  meaning: string;
}

export type CacheOutcome = 'hit' | 'miss' | 'not used';

export interface Explanation {
  device: string;
  deviceId: number;
  iommu: string;
  /** ddtp.iommu_mode when the request arrived. */
  iommuMode: string;
  iova: bigint;
  access: 'read' | 'write';
  pasid: number | null;
  /** Commands the driver submitted to empty the caches first (empty without --cold). */
  coldCommands: string[];
  caches: { deviceContext: CacheOutcome; processContext: CacheOutcome; iotlb: CacheOutcome };
  accesses: ExplainedAccess[];
  result: { ok: true; physical: bigint; pageSize: bigint; permissions: string } | { ok: false; cause: number; causeName: string; why: string };
  /** The fault as the driver reported it to the kernel (when the request faulted). */
  reported: RecordedFault | null;
}

const DC_WORDS: readonly [string, Layout][] = [
  ['tc', DcTcLayout],
  ['iohgatp', IohgatpLayout],
  ['ta', DcTaLayout],
  ['fsc', FscLayout],
  ['msiptp', MsiptpLayout],
  ['msi_addr_mask', MsiAddrMaskLayout],
  ['msi_addr_pattern', MsiAddrPatternLayout],
  ['reserved', {}],
];
const PC_WORDS: readonly [string, Layout][] = [
  ['ta', PcTaLayout],
  ['fsc', FscLayout],
];

const FIRST_STAGE_MODES: Readonly<Record<number, string>> = { 0: 'Bare', 8: 'Sv39 (Sv32 with SXL=1)', 9: 'Sv48', 10: 'Sv57' };
const SECOND_STAGE_MODES: Readonly<Record<number, string>> = { 0: 'Bare', 8: 'Sv39x4 (Sv32x4 with GXL=1)', 9: 'Sv48x4', 10: 'Sv57x4' };
const PDTP_MODES: Readonly<Record<number, string>> = { 0: 'Bare', 1: 'PD8', 2: 'PD17', 3: 'PD20' };

function fieldsOf(layout: Layout, raw: bigint): ExplainedField[] {
  const d = decode(layout, raw);
  const out: ExplainedField[] = [];
  for (const [name, f] of Object.entries(layout)) {
    const v = d[name];
    // Every flag of a PTE (they are the lesson); elsewhere flags that are set, and wide fields that are not zero.
    if (f.width === 1 ? v !== 0n || name === 'V' : v !== 0n || name === 'PPN' || name === 'MODE') out.push({ name, value: v });
  }
  return out;
}

function pteFields(raw: bigint, size: number): ExplainedField[] {
  const layout = size === 4 ? Pte32Layout : Pte64Layout;
  const d = decode(layout, raw);
  return Object.keys(layout)
    .filter((n) => n.length === 1 || n === 'PPN' || d[n as keyof typeof d] !== 0n)
    .map((n) => ({ name: n, value: d[n as keyof typeof d] }));
}

/** Size of a leaf at walker level `level` (0 = 4 KiB) for 9- or 10-bit levels. */
function leafBytes(level: number, size: number): bigint {
  return 1n << BigInt(12 + level * (size === 4 ? 10 : 9));
}

function sizeName(bytes: bigint): string {
  return bytes >= 1n << 30n ? `${bytes >> 30n} GiB` : bytes >= 1n << 20n ? `${bytes >> 20n} MiB` : `${bytes >> 10n} KiB`;
}

/** Decodes the trace into entries with names and meanings. */
function explainAccesses(trace: readonly TracedAccess[]): ExplainedAccess[] {
  const out: ExplainedAccess[] = [];
  let dcWord = 0;
  let pcWord = 0;
  let msiWord = 0;
  let previous: TracedAccess | null = null;
  let sxlOrPdtv = { pdtv: false };
  for (const a of trace) {
    // Consecutive doublewords of one context belong together: count them.
    const continues = previous !== null && previous.structure === a.structure && a.address === previous.address + 8n;
    if (!continues) dcWord = pcWord = msiWord = 0;
    let what: string;
    let fields: ExplainedField[];
    let meaning = '';
    const v = a.value;
    const valid = (v & 1n) === 1n;
    switch (a.structure) {
      case 'ddte':
      case 'pdte': {
        what = `${a.structure === 'ddte' ? 'device' : 'process'}-directory entry, level ${a.level}`;
        fields = fieldsOf(DirectoryEntryLayout, v);
        meaning = valid ? `next directory table at ${hex(decode(DirectoryEntryLayout, v).PPN << 12n)}` : 'not valid (V=0)';
        break;
      }
      case 'dc': {
        const [name, layout] = DC_WORDS[Math.min(dcWord, DC_WORDS.length - 1)];
        what = `device context: ${name}`;
        fields = fieldsOf(layout, v);
        if (name === 'tc') {
          sxlOrPdtv = { pdtv: decode(DcTcLayout, v).PDTV === 1n };
          meaning = valid ? 'valid' : 'not valid (V=0): the device may not do DMA';
        } else if (name === 'fsc') {
          const mode = Number(decode(FscLayout, v).MODE);
          meaning = sxlOrPdtv.pdtv ? `process directory: ${PDTP_MODES[mode] ?? `mode ${mode}`}` : `first stage: ${FIRST_STAGE_MODES[mode] ?? `mode ${mode}`}${mode === 0 ? '' : `, root table at ${hex(decode(FscLayout, v).PPN << 12n)}`}`;
        } else if (name === 'iohgatp') {
          const mode = Number(decode(IohgatpLayout, v).MODE);
          meaning = `second stage: ${SECOND_STAGE_MODES[mode] ?? `mode ${mode}`}`;
        }
        dcWord++;
        break;
      }
      case 'pc': {
        const [name, layout] = PC_WORDS[Math.min(pcWord, 1)];
        what = `process context: ${name}`;
        fields = fieldsOf(layout, v);
        if (name === 'ta') meaning = valid ? `valid, PSCID ${decode(PcTaLayout, v).PSCID}` : 'not valid (V=0)';
        else meaning = `first stage: ${FIRST_STAGE_MODES[Number(decode(FscLayout, v).MODE)] ?? 'reserved mode'}`;
        pcWord++;
        break;
      }
      case 'pte':
      case 'gpte': {
        what = `${a.structure === 'pte' ? 'first' : 'second'}-stage PTE, level ${a.level}`;
        fields = pteFields(v, a.size);
        const leaf = (v & 0xan) !== 0n;
        const ppn = decode(a.size === 4 ? Pte32Layout : Pte64Layout, v).PPN;
        if (a.write) meaning = 'written back: accessed/dirty bits set by the IOMMU';
        else if (!valid) meaning = 'not valid (V=0): nothing is mapped here';
        else if (!leaf) meaning = `pointer to the next-level table at ${hex(ppn << 12n)}`;
        else meaning = `leaf: ${sizeName(leafBytes(a.level, a.size))} page at ${hex(ppn << 12n)}`;
        break;
      }
      case 'msipte': {
        const mode = Number((v >> 1n) & 3n);
        what = `MSI PTE${msiWord === 1 ? ' (notice)' : ''}`;
        fields = msiWord === 1 ? fieldsOf(MsiPteNoticeLayout, v) : fieldsOf(mode === 1 ? MsiPteMrifLayout : MsiPteFlatLayout, v);
        meaning = msiWord === 1 ? '' : !valid ? 'not valid (V=0)' : mode === 3 ? 'basic translate (M=3)' : mode === 1 ? 'MRIF mode (M=1)' : 'reserved mode';
        msiWord++;
        break;
      }
      default:
        what = a.structure;
        fields = [];
    }
    if (a.status !== 'ok') meaning = a.status === 'access-fault' ? 'the read failed: access fault' : 'the data read is corrupted';
    out.push({ structure: a.structure, what, level: a.level, address: a.address, size: a.size, value: v, write: a.write, status: a.status, fields, meaning });
    previous = a;
  }
  return out;
}

function outcome(before: { hits: number; misses: number }, after: { hits: number; misses: number }): CacheOutcome {
  if (after.misses > before.misses) return 'miss';
  if (after.hits > before.hits) return 'hit';
  return 'not used';
}

/** Why a translation faulted, from its cause and the last entry read. */
function whyFault(cause: number, accesses: readonly ExplainedAccess[], e: Pick<Explanation, 'access' | 'pasid' | 'caches' | 'iommuMode'>): string {
  const lastOf = (...kinds: TracedStructure[]) => [...accesses].reverse().find((a) => kinds.includes(a.structure) && !a.write);
  const failedRead = accesses.find((a) => a.status !== 'ok');
  if (failedRead !== undefined) return `reading the ${failedRead.what} at ${hex(failedRead.address)} failed (${failedRead.status})`;
  switch (cause) {
    case Cause.AllInboundDisallowed:
      return 'the IOMMU is Off (ddtp.iommu_mode = Off): every inbound transaction is disallowed';
    case Cause.DdtEntryNotValid: {
      // The whole context is read before it is checked: point at its tc doubleword.
      const last = [...accesses].reverse().find((a) => a.structure === 'ddte' || a.what === 'device context: tc');
      if (last === undefined) return 'the cached device context is not valid';
      return last.structure === 'dc' ? `the device context at ${hex(last.address)} is not valid (tc.V=0): the device is blocked or was never given a context` : `the ${last.what} at ${hex(last.address)} is not valid (V=0): no context exists for this device_id`;
    }
    case Cause.TransactionTypeDisallowed:
      if (e.iommuMode === 'Bare') return 'in Bare mode only untranslated requests without a PASID pass';
      if (e.pasid !== null) return `the request carries PASID ${e.pasid}, which the device context does not allow (no process directory: tc.PDTV=0, or the PASID is wider than the directory)`;
      return 'the device context does not allow this transaction type';
    case Cause.PdtEntryNotValid:
      return `the process context for PASID ${e.pasid ?? 0} is not valid`;
    case Cause.InstructionPageFault:
    case Cause.ReadPageFault:
    case Cause.WritePageFault: {
      const need = e.access === 'write' ? 'W' : 'R';
      const last = lastOf('pte');
      if (last === undefined) {
        if (e.caches.iotlb === 'hit') return `the IOTLB holds a translation of this page that does not allow a ${e.access}`;
        return 'the IOVA is outside what the first-stage page table can translate (it must be sign-extended from the top bit of the mode)';
      }
      const f = Object.fromEntries(last.fields.map((x) => [x.name, x.value]));
      if (f.V !== 1n) return `the ${last.what} at ${hex(last.address)} is not valid (V=0): nothing is mapped at this IOVA`;
      const leaf = f.R === 1n || f.X === 1n;
      if (!leaf) return last.level === 0 ? `the ${last.what} points to another table although it is at the last level` : `the ${last.what} is malformed (reserved bits or W without R)`;
      if (f[need] !== 1n) return `the leaf ${last.what} at ${hex(last.address)} does not grant ${e.access} permission (${need}=0)`;
      if (f.U !== 1n) return `the leaf ${last.what} is a supervisor page (U=0) and the request is not privileged`;
      if (f.A !== 1n) return `the leaf ${last.what} has A=0 and the IOMMU does not set A/D bits for this context`;
      return `the leaf ${last.what} is misconfigured (reserved bits set or a misaligned superpage)`;
    }
    default:
      return describeCause(cause);
  }
}

/** Runs one traced translation on the machine the runner has run. */
export function explainTranslation(runner: ScenarioRunner, request: ExplainRequest): Explanation {
  const kernel = runner.kernel;
  // An unknown device or symbol is the user's mistake: a ScenarioError naming the option.
  const guard = <T>(option: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof StepFailure) throw new ScenarioError([`${option}: ${e.message}`]);
      throw e;
    }
  };
  const dev = guard('--device', () => runner.device(request.device));
  const hw = hardwareIdentity(runner.machine, dev);
  if (hw === null) throw new ScenarioError([`${dev.name}: its DMA is not translated by an IOMMU model of this machine`]);
  const model = hw.iommu.model;
  const iova = guard('--iova', () => runner.resolveDma(request.iova));

  let coldCommands: string[] = [];
  if (request.cold) {
    const driver = riscvIommuOf(kernel.iommu.instances.find((i) => i.node.path === hw.iommu.node.path));
    if (driver === null) throw new ScenarioError([`${hw.iommu.node.path}: no RISC-V IOMMU driver is bound, so nothing can invalidate its caches`]);
    coldCommands = driver.invalidateAll();
  }

  const iommuMode = IOMMU_MODE_NAMES[Number(model.mmio.read(Reg.ddtp, 8) & 0xfn)] ?? 'reserved';
  const before: RiscvIommuStatistics = model.statistics();
  const faultsBefore = runner.faults.all.length;
  const tracer = new RecordingTracer();
  model.setTracer(tracer);
  let rsp;
  try {
    rsp = model.translate({ deviceId: hw.deviceId, iova, write: request.write, ...(request.pasid === null ? {} : { processId: request.pasid }) });
  } finally {
    model.setTracer(null);
  }
  const cause = rsp.cause;
  const physical = rsp.address(Number(iova & 0xfffn));
  const pageSize = 4096n << BigInt(rsp.log2Pages);
  kernel.poll(); // a fault record reaches the driver
  const after = model.statistics();
  const accesses = explainAccesses(tracer.accesses);
  const caches = {
    deviceContext: outcome(before.deviceContextCache, after.deviceContextCache),
    processContext: outcome(before.processContextCache, after.processContextCache),
    iotlb: outcome(before.iotlb, after.iotlb),
  };
  const base = { device: dev.name, deviceId: hw.deviceId, iommu: hw.iommu.node.path, iommuMode, iova, access: request.write ? ('write' as const) : ('read' as const), pasid: request.pasid, coldCommands, caches, accesses };
  if (cause !== 0) {
    return { ...base, result: { ok: false, cause, causeName: describeCause(cause), why: whyFault(cause, accesses, base) }, reported: runner.faults.all[faultsBefore] ?? null };
  }
  const leaf = [...accesses].reverse().find((a) => a.structure === 'pte' && !a.write);
  let permissions = caches.iotlb === 'hit' ? `${request.write ? 'write' : 'read'} allowed by the cached IOTLB entry` : 'all (no first-stage table: Bare)';
  if (leaf !== undefined) permissions = leaf.fields.filter((f) => ['R', 'W', 'X', 'U'].includes(f.name) && f.value === 1n).map((f) => f.name).join(' ');
  return { ...base, result: { ok: true, physical, pageSize, permissions }, reported: null };
}
