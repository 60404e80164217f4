// A virtio-iommu's numbers in the report's architecture-neutral shape. The device keeps its
// domains and mappings in its own state, so there are no caches, table walks or table reads
// to count; its "commands" are the requests it processed (VIRTIO 1.3 5.13.6), and the
// invalidating request is UNMAP, which the driver may batch until it waits for the queue.
// The request queue seen from both ends (requests per sync, notifications sent and
// suppressed, answers by status) is the report's `requests` section.

import { FAULT_REASON_NAMES, FaultReason } from '../../formats/virtio-iommu/fault.js';
import { VirtioIommuQueue } from '../../formats/virtio-iommu/features.js';
import { virtioIommuInstanceOf } from '../../os/drivers/virtio-iommu/index.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import type { MachineVirtioIommu } from '../../platform/machine/machine.js';
import type { IommuReport, NamedCount, RequestQueueReport } from '../types.js';
import { driverInstance, type IommuCounters } from './common.js';

const UNMAP = 'UNMAP';
const SYNC = 'request queue sync';

function namedCounts(record: Readonly<Record<string, number>>, keepZero: boolean): NamedCount[] {
  return Object.entries(record)
    .filter(([, count]) => keepZero || count > 0)
    .map(([name, count]) => ({ name, count }));
}

export function virtioIommuReport(iommu: MachineVirtioIommu, kernel: Kernel | null): IommuReport {
  const node = iommu.node.path;
  const s = iommu.model.statistics();
  const t = s.translations;
  const total = t.translated + t.bypassed + t.msi + t.aborted;
  const reasons = [FaultReason.Unknown, FaultReason.Domain, FaultReason.Mapping] as const;
  const detected = { [FaultReason.Unknown]: s.faults.unknown, [FaultReason.Domain]: s.faults.domain, [FaultReason.Mapping]: s.faults.mapping };
  const byCause = reasons.filter((r) => detected[r] > 0).map((r) => ({ cause: r, name: FAULT_REASON_NAMES[r], count: detected[r] }));
  const instance = driverInstance(kernel, node);
  const driver = virtioIommuInstanceOf(instance);
  const d = driver?.statistics() ?? null;
  const queue = iommu.transport.core.queues[VirtioIommuQueue.Request].counters;
  const own = iommu.own.counters;
  const requests: RequestQueueReport = {
    sent: d === null ? [] : namedCounts(d.requests, true),
    total: d?.totalRequests ?? 0,
    syncs: d?.syncs ?? 0,
    perSync: d?.requestsPerSync ?? 0,
    notifications: { driver: { sent: d?.kicks ?? 0, suppressed: d?.kicksSuppressed ?? 0 }, device: { sent: queue.notificationsSent, suppressed: queue.notificationsSuppressed } },
    statuses: namedCounts(s.statuses, false),
    unanswered: s.unanswered,
    domains: s.domains,
    mappings: s.mappings,
  };
  return {
    name: instance?.name ?? node,
    node,
    architecture: 'virtio-iommu',
    translations: {
      total,
      byKind: [
        { name: 'translated', count: t.translated },
        { name: 'bypassed', count: t.bypassed },
        { name: 'MSI window', count: t.msi },
        { name: 'aborted', count: t.aborted },
      ],
    },
    faults: { byCause, detected: s.faults.unknown + s.faults.domain + s.faults.mapping, recorded: s.events.written, dropped: s.faults.lost, queue: 'event queue' },
    caches: [],
    walks: { total: 0, byKind: [], perTranslation: 0 },
    // The device's own accesses to guest memory: descriptors, rings, request and event buffers.
    memory: { reads: own.reads, writes: own.writes, readsPerTranslation: total === 0 ? 0 : own.reads / total },
    commands: namedCounts(s.requests, false),
    driver: d === null ? null : { invalidations: [{ name: UNMAP, count: d.requests[UNMAP] ?? 0 }], syncs: { name: SYNC, count: d.syncs } },
    requests,
  };
}

export function virtioIommuCounters(iommu: MachineVirtioIommu, kernel: Kernel): IommuCounters {
  const t = iommu.model.statistics().translations;
  const d = virtioIommuInstanceOf(driverInstance(kernel, iommu.node.path))?.statistics() ?? null;
  return { translations: t.translated + t.bypassed + t.msi + t.aborted, tlbHits: 0, tlbMisses: 0, invalidationCommands: d?.requests[UNMAP] ?? 0, syncs: d?.syncs ?? 0 };
}
