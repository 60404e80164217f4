// `explain` on a RISC-V IOMMU: the request is presented to the model through its public
// `translate` with a RecordingTracer attached; each implicit memory read is decoded with the
// specification's layouts (formats/riscv-iommu, formats/riscv-pte), cache hits are read from
// the model's statistics, and the outcome is either the physical address or the fault cause
// with the entry that caused it.
//
// `cold` first has the driver invalidate every cache of the IOMMU through its command queue
// (IODIR.INVAL_DDT and IOTINVAL.VMA/GVMA without operands, then IOFENCE.C), as software would.

import { decode, type Layout } from '../../formats/bitfield.js';
import { describeCause, Cause } from '../../formats/riscv-iommu/records.js';
import { IOMMU_MODE_NAMES, Reg } from '../../formats/riscv-iommu/registers.js';
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
} from '../../formats/riscv-iommu/structures.js';
import { Pte32Layout, Pte64Layout } from '../../formats/riscv-pte/index.js';
import { RecordingTracer, type TracedAccess, type TracedStructure } from '../../hw/riscv-iommu/trace.js';
import type { RiscvIommuStatistics } from '../../hw/riscv-iommu/riscv-iommu.js';
import type { MachineRiscvIommu } from '../../platform/machine/machine.js';
import { riscvIommuOf } from '../../os/drivers/riscv-iommu/index.js';
import { hex } from '../../sim/u64.js';
import { ScenarioError } from '../errors.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import type { ScenarioRunner } from '../run.js';
import { cacheOutcome } from './common.js';
import type { CacheOutcome, ExplainBase, ExplainedAccess, ExplainedCache, ExplainedField, Explanation } from './types.js';

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

/** Why a translation faulted, from its cause and the last entry read. */
function whyFault(cause: number, accesses: readonly ExplainedAccess[], e: Pick<Explanation, 'access' | 'pasid' | 'iommuMode'> & { iotlb: CacheOutcome }): string {
  const lastOf = (...kinds: TracedStructure[]) => [...accesses].reverse().find((a) => (kinds as string[]).includes(a.structure) && !a.write);
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
        if (e.iotlb === 'hit') return `the IOTLB holds a translation of this page that does not allow a ${e.access}`;
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

/** What explain knows before the translation: the request and where it goes. */
/** `kernel`: the kernel whose driver programs the IOMMU (a pair's host for an assigned device). */
export function explainRiscvIommu(runner: ScenarioRunner, kernel: Kernel, iommu: MachineRiscvIommu, request: ExplainBase, cold: boolean): Explanation {
  const node = iommu.node.path;
  const model = iommu.model;
  let coldCommands: string[] = [];
  if (cold) {
    const driver = riscvIommuOf(kernel.iommu.instances.find((i) => i.node.path === node));
    if (driver === null) throw new ScenarioError([`${node}: no RISC-V IOMMU driver is bound, so nothing can invalidate its caches`]);
    coldCommands = driver.invalidateAll();
  }
  const iova = request.iova;
  const write = request.access === 'write';

  const iommuMode = IOMMU_MODE_NAMES[Number(model.mmio.read(Reg.ddtp, 8) & 0xfn)] ?? 'reserved';
  const before: RiscvIommuStatistics = model.statistics();
  const faultsBefore = runner.faults.all.length;
  const tracer = new RecordingTracer();
  model.setTracer(tracer);
  let rsp;
  try {
    rsp = model.translate({ deviceId: request.deviceId, iova, write, ...(request.pasid === null ? {} : { processId: request.pasid }) });
  } finally {
    model.setTracer(null);
  }
  const cause = rsp.cause;
  const physical = rsp.address(Number(iova & 0xfffn));
  const pageSize = 4096n << BigInt(rsp.log2Pages);
  kernel.poll(); // a fault record reaches the driver
  const after = model.statistics();
  const accesses = explainAccesses(tracer.accesses);
  const iotlb = cacheOutcome(before.iotlb, after.iotlb);
  const caches: ExplainedCache[] = [
    { name: 'device context', outcome: cacheOutcome(before.deviceContextCache, after.deviceContextCache), onMiss: 'directory walk' },
    { name: 'process context', outcome: cacheOutcome(before.processContextCache, after.processContextCache), onMiss: 'process-directory walk' },
    { name: 'IOTLB', outcome: iotlb, onMiss: 'page walk' },
  ];
  const base = { ...request, architecture: 'RISC-V IOMMU', iommuMode, coldCommands, caches, accesses };
  if (cause !== 0) {
    return { ...base, result: { ok: false, cause, causeName: describeCause(cause), why: whyFault(cause, accesses, { ...base, iotlb }) }, reported: runner.faults.all[faultsBefore] ?? null };
  }
  const leaf = [...accesses].reverse().find((a) => a.structure === 'pte' && !a.write);
  let permissions = iotlb === 'hit' ? `${request.access} allowed by the cached IOTLB entry` : 'all (no first-stage table: Bare)';
  if (leaf !== undefined) permissions = leaf.fields.filter((f) => ['R', 'W', 'X', 'U'].includes(f.name) && f.value === 1n).map((f) => f.name).join(' ');
  return { ...base, result: { ok: true, physical, pageSize, permissions }, reported: null };
}
