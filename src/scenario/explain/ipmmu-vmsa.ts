// `explain` for a DMA master behind an IPMMU-VMSA, on a machine that booted Xen: the request
// (micro-TLB, IPA) is presented to the master's IPMMU with an IpmmuRecordingTracer attached;
// the micro-TLB's context, the cache IPMMU's TLB and the root's main TLB, and every stage-2
// descriptor the root's walk of the domain's P2M reads (VMSAv8-64, 4 KiB granule, decoded
// with formats/arm-lpae) are shown, then the output address or the fault (IMSTR bit) and what
// the hypervisor made of it. --cold has the hypervisor flush the domain's context first
// (IMCTR.FLUSH in the root and every cache IPMMU the domain uses), as after a P2M change.

import { decode, type Layout } from '../../formats/bitfield.js';
import { Perm, S2Ap } from '../../formats/arm-lpae/attributes.js';
import { descriptorType, leafOutputAddress, nextTableAddress, Stage2LeafLayout, Stage2TableLayout } from '../../formats/arm-lpae/descriptor.js';
import { describeImstr, Imstr } from '../../formats/ipmmu-vmsa/index.js';
import { IpmmuRecordingTracer, type IpmmuTracedDescriptor } from '../../hw/ipmmu-vmsa/index.js';
import { DOMID_IO } from '../../hyp/xen/index.js';
import type { MachineIpmmu } from '../../platform/machine/machine.js';
import { hex } from '../../sim/u64.js';
import type { XenSession } from '../xen/session.js';
import { cacheOutcome, nonZeroFields, readStatus, sizeName } from './common.js';
import type { CacheOutcome, ExplainBase, ExplainedAccess, ExplainedCache, Explanation } from './types.js';

/** Bytes one entry at `level` maps with the 4 KiB granule. */
function levelLog2(level: number): number {
  return 12 + (3 - level) * 9;
}

/** What a stage-2 leaf's S2AP lets the device do. */
function s2Access(value: bigint): string {
  const s2ap = Number(decode(Stage2LeafLayout, value).S2AP);
  return s2ap === S2Ap.ReadWrite ? 'read/write' : s2ap === S2Ap.ReadOnly ? 'read-only' : s2ap === S2Ap.WriteOnly ? 'write-only' : 'no access';
}

/** What a TLB entry's permission bits let the device (an unprivileged requester) do. */
function tlbAccess(perms: number): string {
  const read = (perms & Perm.UnprivRead) !== 0;
  const write = (perms & Perm.UnprivWrite) !== 0;
  return read && write ? 'read/write' : read ? 'read-only' : write ? 'write-only' : 'no access';
}

function explainDescriptors(reads: readonly IpmmuTracedDescriptor[]): ExplainedAccess[] {
  return reads.map((r) => {
    const type = descriptorType(r.value, 12, r.level, false);
    const layout: Layout = type === 'table' ? Stage2TableLayout : Stage2LeafLayout;
    const fields = nonZeroFields(layout, r.value, ['Valid']);
    let meaning: string;
    if (r.status !== 'ok') meaning = r.status === 'external-abort' ? 'the read failed: external abort (IMSTR.ABORT)' : 'the data read is poisoned';
    else if (type === 'invalid') meaning = 'invalid: nothing is mapped here';
    else if (type === 'table') meaning = `next-level table at ${hex(nextTableAddress(r.value, 12, false))}`;
    else meaning = `${type}: ${sizeName(levelLog2(r.level))} at ${hex(leafOutputAddress(r.value, 12, r.level, false))}, ${s2Access(r.value)}`;
    return { structure: 's2tt', what: `stage-2 descriptor (context ${r.context}), level ${r.level}`, level: r.level, address: r.address, size: 8, value: r.value, write: false, status: readStatus(r.status), fields, meaning };
  });
}

/** A context's TLB (counters before and after the request; undefined: the IPMMU has no such context). */
function tlbOutcome(before: { tlbHits: number; tlbMisses: number } | undefined, after: { tlbHits: number; tlbMisses: number } | undefined): CacheOutcome {
  if (before === undefined || after === undefined) return 'not used';
  return cacheOutcome({ hits: before.tlbHits, misses: before.tlbMisses }, { hits: after.tlbHits, misses: after.tlbMisses });
}

const IMSTR_NAMES: Readonly<Record<number, string>> = { [Imstr.TF]: 'TF', [Imstr.PF]: 'PF', [Imstr.ABORT]: 'ABORT', [Imstr.MHIT]: 'MHIT' };

export function explainIpmmu(session: XenSession, ipmmu: MachineIpmmu, request: ExplainBase, cold: boolean): Explanation {
  const xen = session.xen;
  const model = ipmmu.model;
  const root = model.root;
  const utlb = model.utlbState(request.deviceId);
  const owner = xen.device(request.device).domain;
  const coldCommands: string[] = [];
  if (cold && owner !== null) {
    xen.iommu.iotlbFlush(owner);
    coldCommands.push(`IMCTR.FLUSH of context ${utlb.context} in ${root.name}${model === root ? '' : ` and ${model.name}`} (the hypervisor's flush of ${owner.label})`);
  }
  const iommuMode = !utlb.enabled ? `micro-TLB ${request.deviceId} disabled (${model.parameters.utlbDisabled})` : `micro-TLB ${request.deviceId} -> context ${utlb.context}${owner === null ? '' : ` (${owner.id === DOMID_IO ? 'quarantine, dom_io' : owner.label})`}`;
  const contextOf = (m: typeof model) => m.statistics().contexts.find((c) => c.context === utlb.context);
  const cacheBefore = contextOf(model);
  const rootBefore = contextOf(root);
  const faultsBefore = session.faults.length;
  const tracer = new IpmmuRecordingTracer();
  model.tracer = tracer;
  let r;
  try {
    r = model.translate({ utlb: request.deviceId, address: request.iova, write: request.access === 'write' });
  } finally {
    model.tracer = null;
  }
  xen.poll(); // the fault interrupt reaches the hypervisor
  const caches: ExplainedCache[] = [{ name: `TLB of ${model.name}`, outcome: tlbOutcome(cacheBefore, contextOf(model)), onMiss: model === root ? 'table walk' : `main TLB of ${root.name}` }];
  if (model !== root) caches.push({ name: `main TLB of ${root.name}`, outcome: tlbOutcome(rootBefore, contextOf(root)), onMiss: 'table walk' });
  const descriptors = tracer.descriptors;
  const base = { ...request, architecture: 'IPMMU-VMSA', iommuMode, coldCommands, caches, accesses: explainDescriptors(descriptors) };
  const steps = tracer.steps;
  if (r.outcome === 'fault' || r.outcome === 'aborted') {
    const f = session.faults[faultsBefore];
    const reported =
      f === undefined
        ? null
        : { device: f.devices.join(', ') || null, iova: f.address, write: request.access === 'write', pasid: null, cause: f.status & Imstr.ERRORS, causeName: f.kinds.join(', '), iommu: f.iommu, cycle: f.time };
    const cause = r.fault;
    const causeName = r.outcome === 'aborted' ? 'aborted without a fault record' : `${IMSTR_NAMES[cause] ?? cause}: ${describeImstr(cause).join(', ')}`;
    return { ...base, result: { ok: false, cause, causeName, why: steps.length > 0 ? steps[steps.length - 1] : causeName }, reported };
  }
  const physical = r.address ?? 0n;
  if (r.outcome === 'bypassed') return { ...base, result: { ok: true, physical, pageSize: 4096n, permissions: 'all (untranslated)' }, reported: null };
  // The leaf: the last descriptor of a walk, else the entry of this IPMMU's TLB that hit.
  const leaf = descriptors[descriptors.length - 1];
  if (leaf !== undefined) return { ...base, result: { ok: true, physical, pageSize: 1n << BigInt(levelLog2(leaf.level)), permissions: s2Access(leaf.value) }, reported: null };
  const page = Number(request.iova >> 12n);
  const entry = model.tlbEntries().find((e) => e.context === utlb.context && page >= e.inputPage && page < e.inputPage + 2 ** e.log2Pages);
  return { ...base, result: { ok: true, physical, pageSize: 4096n << BigInt(entry?.log2Pages ?? 0), permissions: entry === undefined ? 'as the TLB entry holds' : tlbAccess(entry.perms) }, reported: null };
}
