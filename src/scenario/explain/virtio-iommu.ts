// `explain` on a virtio-iommu. The device keeps endpoints, domains and mappings in its own
// state, built from the driver's ATTACH and MAP requests (VIRTIO 1.3 5.13.6), not in guest
// memory: a translation reads nothing, so there are no accesses to decode and no caches. The
// explanation says what the device looked up: the endpoint, the domain it is attached to
// (or bypass for an unattached one), the mapping that the interval lookup finds or not, the
// endpoint's MSI window. The outcome is the device's own: the request is presented to its
// DMA port with its upstream in dry-run mode, so that it reaches no memory, and a fault
// travels to the driver through the event queue as any other (5.13.6.9).

import { DmaRequester } from '../../devices/dma-port.js';
import { hasFeature } from '../../formats/virtio/features.js';
import { describeStatus } from '../../formats/virtio/status.js';
import { VirtioIommuConfigOffset } from '../../formats/virtio-iommu/config.js';
import { FAULT_REASON_NAMES, FaultReason } from '../../formats/virtio-iommu/fault.js';
import { VirtioIommuFeature } from '../../formats/virtio-iommu/features.js';
import { ResvMemSubtype } from '../../formats/virtio-iommu/probe.js';
import { MapFlag } from '../../formats/virtio-iommu/requests.js';
import type { VirtioIommuMapping, VirtioIommuStatistics } from '../../hw/virtio-iommu/index.js';
import type { MachineVirtioIommu } from '../../platform/machine/machine.js';
import { hex } from '../../sim/u64.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import type { ScenarioRunner } from '../run.js';
import type { ExplainBase, Explanation } from './types.js';

const IN_DEVICE = 'the device keeps endpoints, domains and mappings in its own state (built from ATTACH and MAP requests), not in guest memory: the translation read nothing';

function flagWords(flags: number): string {
  const words = [(flags & MapFlag.Read) !== 0 ? 'read' : null, (flags & MapFlag.Write) !== 0 ? 'write' : null, (flags & MapFlag.Mmio) !== 0 ? 'MMIO' : null].filter((w) => w !== null);
  return words.length === 0 ? 'none' : words.join(', ');
}

function describeMapping(m: VirtioIommuMapping): string {
  return `${hex(m.virtStart)}..${hex(m.virtEnd)} -> ${hex(m.physStart)} (${flagWords(m.flags)})`;
}

/** The fault reason the device detected during the request, from its counters. */
function faultReason(before: VirtioIommuStatistics, after: VirtioIommuStatistics): number {
  if (after.faults.unknown > before.faults.unknown) return FaultReason.Unknown;
  if (after.faults.domain > before.faults.domain) return FaultReason.Domain;
  return FaultReason.Mapping;
}

/** `kernel`: the kernel whose driver talks to the device. */
export function explainVirtioIommu(runner: ScenarioRunner, kernel: Kernel, iommu: MachineVirtioIommu, request: ExplainBase, cold: boolean): Explanation {
  const model = iommu.model;
  const id = request.deviceId;
  const iova = request.iova;
  const write = request.access === 'write';

  // What the device will look up, in words.
  const bypassByte = model.readConfig(VirtioIommuConfigOffset.bypass, 1);
  const legacyBypass = hasFeature(iommu.transport.core.features, VirtioIommuFeature.Bypass);
  const unattachedBypass = (model.params.features.bypassConfig && bypassByte === 1) || legacyBypass;
  const endpoint = model.params.endpoints.find((e) => e.id === id);
  const domainId = model.domainOf(id);
  const domain = domainId === undefined ? undefined : model.domain(domainId);
  const mappings = domainId === undefined ? [] : model.mappings(domainId);
  const mapping = mappings.find((m) => m.virtStart <= iova && iova <= m.virtEnd);
  const msi = endpoint?.reservedRegions.find((r) => r.subtype === ResvMemSubtype.Msi);
  const notes: string[] = [];
  if (cold) notes.push('--cold: a virtio-iommu has no caches to empty');
  if (request.pasid !== null) notes.push(`the request carries PASID ${request.pasid}, which the device does not look at (its requests name endpoints and domains only)`);
  if (endpoint === undefined) notes.push(`endpoint ${hex(id)}: not one the device manages`);
  else if (domainId === undefined) notes.push(`endpoint ${hex(id)}: attached to no domain; unattached endpoints ${unattachedBypass ? 'bypass translation' : 'are blocked'} (config.bypass ${bypassByte}${legacyBypass ? ', legacy BYPASS negotiated' : ''})`);
  else if (domain?.bypass === true) notes.push(`endpoint ${hex(id)}: attached to domain ${domainId}, a bypass domain (ATTACH_F_BYPASS)`);
  else {
    notes.push(`endpoint ${hex(id)}: attached to domain ${domainId}, which has ${mappings.length} mapping${mappings.length === 1 ? '' : 's'}`);
    notes.push(mapping === undefined ? `the interval lookup finds no mapping containing ${hex(iova)}` : `the interval lookup finds ${describeMapping(mapping)}`);
  }
  if (msi !== undefined) notes.push(`MSI window of the endpoint (RESV_MEM MSI): ${hex(msi.start)}..${hex(msi.end)}, passed untranslated when no mapping covers it`);
  notes.push(IN_DEVICE);

  // What the device does: the request itself, kept from memory by the dry-run upstream.
  const before = model.statistics();
  const faultsBefore = runner.faults.all.length;
  const upstream = iommu.upstream;
  const byte = new Uint8Array(1);
  const requester = new DmaRequester(id, request.pasid !== null, request.pasid ?? 0);
  upstream.dryRun = true;
  try {
    if (write) iommu.port.writeBurst(requester, iova, 1, byte, 0);
    else iommu.port.readBurst(requester, iova, 1, byte, 0);
  } finally {
    upstream.dryRun = false;
  }
  kernel.poll(); // a fault report reaches the driver
  const after = model.statistics();
  const t0 = before.translations;
  const t1 = after.translations;
  const base = {
    ...request,
    architecture: 'virtio-iommu',
    iommuMode: `${describeStatus(iommu.transport.core.deviceStatus)}, config.bypass ${bypassByte}`,
    coldCommands: [],
    caches: [],
    accesses: [],
    notes,
  };
  if (t1.aborted > t0.aborted) {
    const cause = faultReason(before, after);
    let why: string;
    if (cause === FaultReason.Unknown) why = `no endpoint ${hex(id)} exists in the device: no device of the platform sends requests with this id`;
    else if (cause === FaultReason.Domain) why = `endpoint ${hex(id)} is attached to no domain, and config.bypass is ${bypassByte}: unattached endpoints are blocked`;
    else if (mapping === undefined) why = msi !== undefined && iova >= msi.start && iova <= msi.end ? `no mapping of domain ${domainId} contains ${hex(iova)}, and the access does not fit the MSI window` : `no mapping of domain ${domainId} contains ${hex(iova)}`;
    else why = `the mapping ${describeMapping(mapping)} does not allow a ${request.access}`;
    return { ...base, result: { ok: false, cause, causeName: FAULT_REASON_NAMES[cause], why: `${why}; ${IN_DEVICE}` }, reported: runner.faults.all[faultsBefore] ?? null };
  }
  const physical = upstream.lastAddress;
  if (t1.translated > t0.translated) {
    const pageSize = mapping === undefined ? model.params.pageSizeMask & -model.params.pageSizeMask : mapping.virtEnd - mapping.virtStart + 1n;
    return { ...base, result: { ok: true, physical, pageSize, permissions: mapping === undefined ? request.access : flagWords(mapping.flags) }, reported: null };
  }
  if (t1.msi > t0.msi && msi !== undefined) {
    return { ...base, result: { ok: true, physical, pageSize: msi.end - msi.start + 1n, permissions: 'MSI doorbell (untranslated)' }, reported: null };
  }
  // Bypass: the whole input space, one granule at a time.
  return { ...base, result: { ok: true, physical, pageSize: model.params.pageSizeMask & -model.params.pageSizeMask, permissions: 'all (bypass)' }, reported: null };
}
