// Collecting what the hypervisor did in a run: every domain the run saw (dom0, guests, also
// those destroyed or rebooted since, and dom_io) with the DMA its driver programmed, its IOMMU
// faults and flushes and its P2M's changes; each root IOMMU's contexts (in use, by whom, and
// the most in use at once); TLB flushes as the hypervisor asked for them and as each IPMMU saw
// them; the faults as the hypervisor attributed them.

import type { Xen, XenDomain, XenIommuFault } from '../hyp/xen/index.js';
import type { Machine } from '../platform/machine/machine.js';
import { ipmmuFlushes } from './architectures/index.js';
import { FAULT_LIST_LIMIT, type DmaCounts, type DomainReport, type HypervisorFaultReport, type HypervisorReport } from './types.js';

export interface HypervisorInput {
  xen: Xen;
  /** Every domain of the run, in the order they appeared (destroyed ones too). */
  domains: readonly XenDomain[];
  /** DMA programmed in each domain. */
  dma: ReadonlyMap<XenDomain, DmaCounts>;
  /** The most contexts in use at once, by root IOMMU path. */
  contextPeaks: ReadonlyMap<string, number>;
  /** Every fault of the run, in order. */
  faults: readonly XenIommuFault[];
}

export function noDma(): DmaCounts {
  return { transfers: 0, bytes: 0, errors: 0, timeouts: 0 };
}

export function hypervisorFault(f: XenIommuFault): HypervisorFaultReport {
  return { cycle: f.time, iommu: f.iommu, context: f.context, domain: f.domain?.label ?? null, devices: [...f.devices], address: f.address, status: f.status, kinds: [...f.kinds] };
}

export function collectHypervisorReport(machine: Machine, input: HypervisorInput): HypervisorReport {
  const { xen } = input;
  const stats = xen.statistics();
  const live = new Map(stats.domains.map((d) => [d.id, d]));
  const domains: DomainReport[] = input.domains.map((d) => {
    const now = d.state === 'dead' ? undefined : live.get(d.id);
    return {
      id: d.id,
      name: d.name,
      label: d.label,
      kind: d.kind,
      state: d.state,
      ramPages: d.ramPages,
      devices: [...d.devices].map((x) => x.path),
      contexts: now?.contexts ?? [],
      dma: { ...(input.dma.get(d) ?? noDma()) },
      faults: d.counters.iommuFaults,
      iommuFlushes: d.counters.iommuFlushes,
      p2m: { leavesMapped: d.p2m.counters.leavesMapped, leavesUnmapped: d.p2m.counters.leavesUnmapped, splits: d.p2m.counters.splits, changes: d.p2m.counters.flushes, tablePages: d.state === 'dead' ? 0 : d.p2m.tablePages },
    };
  });
  const totals = new Map<string, number>();
  for (const i of machine.iommus) if (i.kind === 'ipmmu-vmsa') totals.set(i.node.path, i.model.parameters.layout.contexts);
  const contexts = stats.iommu.instances
    .filter((i) => i.role === 'root')
    .map((i) => ({ iommu: i.path, total: totals.get(i.path) ?? i.contexts.length, inUse: i.contexts.map((c) => ({ ...c })), peak: Math.max(input.contextPeaks.get(i.path) ?? 0, i.contexts.length) }));
  const byIommu = machine.iommus.flatMap((i) => (i.kind === 'ipmmu-vmsa' ? [{ iommu: i.node.path, ...ipmmuFlushes(i) }] : []));
  const c = stats.iommu;
  return {
    name: 'Xen',
    iommuDriver: c.driver,
    domains,
    contexts,
    flushes: { requested: c.flushes, byIommu },
    devices: { assignments: c.assignments, deassignments: c.deassignments, quarantined: c.quarantined, deferredProbes: c.deferrals },
    faults: { total: input.faults.length, list: input.faults.slice(0, FAULT_LIST_LIMIT).map(hypervisorFault) },
    heap: { ...stats.heap },
  };
}
