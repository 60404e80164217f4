// `explain` on an SMMUv3: the request is presented to the model through its public
// `translate` with a RecordingTracer attached; each fetch (L1 stream-table descriptor, STE,
// L1 CD descriptor, CD, stage-1 and stage-2 translation-table descriptors) is decoded with
// the layouts of formats/smmuv3 and formats/arm-lpae, and the model's own decisions (its
// trace steps) say why the translation ended as it did.
//
// `cold` first has the driver invalidate every cache of the SMMU (CMD_CFGI_ALL,
// CMD_TLBI_NSNH_ALL, CMD_SYNC), as software would.

import { decode } from '../../formats/bitfield.js';
import { Perm } from '../../formats/arm-lpae/attributes.js';
import { Stage1LeafLayout, Stage1TableLayout, Stage2LeafLayout, Stage2TableLayout } from '../../formats/arm-lpae/descriptor.js';
import { EVENT_DESCRIPTIONS, eventName } from '../../formats/smmuv3/records.js';
import { Cr0Layout, Reg } from '../../formats/smmuv3/registers.js';
import { CdLayout, L1cdLayout, L1stdLayout, STE_CONFIG_NAMES, SteLayout, tg0GranuleLog2 } from '../../formats/smmuv3/structures.js';
import { Outcome, RecordingTracer, type SmmuTracedFetch } from '../../hw/smmuv3/index.js';
import type { MachineSmmuV3 } from '../../platform/machine/machine.js';
import { smmuV3Of } from '../../os/drivers/arm-smmu-v3/index.js';
import { hex } from '../../sim/u64.js';
import { ScenarioError } from '../errors.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import type { ScenarioRunner } from '../run.js';
import { cacheOutcome, nonZeroFields, readStatus, sizeName } from './common.js';
import type { ExplainBase, ExplainedAccess, ExplainedCache, ExplainedField, Explanation } from './types.js';

const NAMES: Readonly<Record<SmmuTracedFetch['structure'], string>> = {
  l1std: 'L1 stream table descriptor',
  ste: 'STE',
  l1cd: 'L1 CD descriptor',
  cd: 'CD',
  s1tt: 'stage-1 descriptor',
  s2tt: 'stage-2 descriptor',
};

function whole(dwords: readonly bigint[]): bigint {
  return dwords.reduce((acc, d, i) => acc | (d << BigInt(64 * i)), 0n);
}

/** Shift of the region one entry at `level` maps, for a granule of 2^g bytes. */
function levelShift(g: number, level: number): number {
  return g + (3 - level) * (g - 3);
}

function explainFetches(fetches: readonly SmmuTracedFetch[]): ExplainedAccess[] {
  let s1Granule = 12;
  let s2Granule = 12;
  return fetches.map((f) => {
    const raw = whole(f.dwords);
    const size = f.dwords.length * 8;
    let fields: ExplainedField[] = [];
    let meaning = '';
    let what = NAMES[f.structure];
    switch (f.structure) {
      case 'l1std': {
        const d = decode(L1stdLayout, raw);
        fields = nonZeroFields(L1stdLayout, raw, ['Span']);
        meaning = d.Span === 0n ? 'invalid (Span 0): no level-2 table' : `level-2 table at ${hex(d.L2Ptr << 6n)}`;
        break;
      }
      case 'ste': {
        const d = decode(SteLayout, raw);
        s2Granule = [12, 16, 14][Number(d.S2TG)] ?? 12;
        fields = nonZeroFields(SteLayout, raw, ['V', 'Config']);
        meaning = d.V === 0n ? 'not valid (V=0)' : `Config ${STE_CONFIG_NAMES[Number(d.Config)] ?? Number(d.Config)}`;
        if (d.V !== 0n && (d.Config & 1n) !== 0n) meaning += `, CD table at ${hex(d.S1ContextPtr << 6n)}`;
        if (d.V !== 0n && (d.Config & 2n) !== 0n) meaning += `, stage 2 (VMID ${d.S2VMID}) at ${hex(d.S2TTB << 4n)}`;
        break;
      }
      case 'l1cd': {
        const d = decode(L1cdLayout, raw);
        fields = nonZeroFields(L1cdLayout, raw, ['V']);
        meaning = d.V === 0n ? 'not valid (V=0)' : `level-2 CD table at ${hex(d.L2Ptr << 12n)}`;
        break;
      }
      case 'cd': {
        const d = decode(CdLayout, raw);
        s1Granule = tg0GranuleLog2(Number(d.TG0)) || 12;
        fields = nonZeroFields(CdLayout, raw, ['V', 'T0SZ', 'ASID']);
        meaning = d.V === 0n ? 'not valid (V=0)' : `ASID ${d.ASID}, ${64n - d.T0SZ}-bit VA, TTB0 at ${hex(d.TTB0 << 4n)}`;
        break;
      }
      case 's1tt':
      case 's2tt': {
        const stage1 = f.structure === 's1tt';
        const g = stage1 ? s1Granule : s2Granule;
        what = `${NAMES[f.structure]}, level ${f.level}`;
        const valid = (raw & 1n) !== 0n;
        const table = valid && (raw & 2n) !== 0n && f.level < 3;
        const leafLayout = stage1 ? Stage1LeafLayout : Stage2LeafLayout;
        fields = nonZeroFields(table ? (stage1 ? Stage1TableLayout : Stage2TableLayout) : leafLayout, raw, ['Valid']);
        const out = raw & 0x0000_ffff_ffff_f000n & ~((1n << BigInt(table ? g : levelShift(g, f.level))) - 1n);
        if (f.write) meaning = 'written back: access flag or dirty state updated by the SMMU';
        else if (!valid) meaning = 'invalid: nothing is mapped here';
        else if (table) meaning = `next-level table at ${hex(out)}`;
        else if (f.level < 3 && (raw & 2n) === 0n) meaning = `block: ${sizeName(levelShift(g, f.level))} at ${hex(out)}`;
        else if (f.level === 3 && (raw & 2n) !== 0n) meaning = `page: ${sizeName(g)} at ${hex(out)}`;
        else meaning = 'reserved encoding at this level';
        break;
      }
    }
    if (f.status !== 'ok') meaning = f.status === 'external-abort' ? 'the read failed: external abort' : 'the data read is poisoned';
    return { structure: f.structure, what, level: f.level, address: f.address, size, value: raw, write: f.write, status: readStatus(f.status), fields, meaning };
  });
}

const PERMISSION_NAMES: readonly [number, string][] = [
  [Perm.PrivRead, 'read (privileged)'],
  [Perm.PrivWrite, 'write (privileged)'],
  [Perm.PrivExec, 'execute (privileged)'],
  [Perm.UnprivRead, 'read (unprivileged)'],
  [Perm.UnprivWrite, 'write (unprivileged)'],
  [Perm.UnprivExec, 'execute (unprivileged)'],
];

function permissionWords(perms: number): string {
  const granted = PERMISSION_NAMES.filter(([bit]) => (perms & bit) !== 0).map(([, name]) => name);
  return granted.length === 0 ? 'none' : granted.join(', ');
}

/** `kernel`: the kernel whose driver programs the SMMU. */
export function explainSmmuV3(runner: ScenarioRunner, kernel: Kernel, iommu: MachineSmmuV3, request: ExplainBase, cold: boolean): Explanation {
  const node = iommu.node.path;
  const model = iommu.model;
  let coldCommands: string[] = [];
  if (cold) {
    const driver = smmuV3Of(kernel.iommu.instances.find((i) => i.node.path === node));
    if (driver === null) throw new ScenarioError([`${node}: no SMMUv3 driver is bound, so nothing can invalidate its caches`]);
    coldCommands = driver.invalidateAll();
  }
  const cr0ack = model.mmio.read32(Reg.CR0ACK);
  const iommuMode = (cr0ack & (1 << Cr0Layout.SMMUEN.lsb)) !== 0 ? 'SMMUEN=1' : 'SMMUEN=0 (global bypass attributes apply)';
  const before = model.statistics();
  const faultsBefore = runner.faults.all.length;
  const tracer = new RecordingTracer();
  model.setTracer(tracer);
  let r;
  try {
    r = model.translate({ sid: request.deviceId, address: request.iova, write: request.access === 'write', ...(request.pasid === null ? {} : { ssid: request.pasid }) });
  } finally {
    model.setTracer(null);
  }
  kernel.poll(); // an event record reaches the driver
  const after = model.statistics();
  const caches: ExplainedCache[] = [
    { name: 'STE', outcome: cacheOutcome(before.caches.ste, after.caches.ste), onMiss: 'stream table fetch' },
    { name: 'CD', outcome: cacheOutcome(before.caches.cd, after.caches.cd), onMiss: 'CD table fetch' },
    { name: 'TLB', outcome: cacheOutcome(before.caches.tlb, after.caches.tlb), onMiss: 'table walk' },
  ];
  const accesses = explainFetches(tracer.fetches);
  const base = { ...request, architecture: 'SMMUv3', iommuMode, coldCommands, caches, accesses };
  const steps = tracer.steps;
  if (r.outcome !== Outcome.Ok) {
    const cause = r.event;
    const name = cause === 0 ? 'abort' : eventName(cause);
    const why = steps.length > 0 ? steps[steps.length - 1] : (EVENT_DESCRIPTIONS[cause] ?? 'the SMMU terminated the transaction');
    const causeName = cause === 0 ? 'terminated without an event' : `${name}: ${EVENT_DESCRIPTIONS[cause] ?? ''}`;
    return { ...base, result: { ok: false, cause, causeName: r.outcome === Outcome.RazWi ? `${causeName} (RAZ/WI)` : causeName, why }, reported: runner.faults.all[faultsBefore] ?? null };
  }
  const physical = r.address(Number(request.iova & 0xfffn));
  const pageSize = 4096n << BigInt(r.log2Pages);
  return { ...base, result: { ok: true, physical, pageSize, permissions: r.bypassed ? 'all (bypass)' : permissionWords(r.perms) }, reported: null };
}
