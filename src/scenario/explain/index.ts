// `explain`: one translation of a device's request, observed step by step. After a scenario
// ran, the request (the device's id at its IOMMU, an IOVA, read or write, an optional PASID)
// is presented to the device's IOMMU model with a tracer attached; the architecture's part
// decodes each memory access with the specification's layouts and says why the request
// succeeded or faulted. A virtio-iommu reads no memory to translate: its part says, in
// notes, what the device looked up in its own state. After a hypervisor scenario, devices are
// named by device-tree path or label, and the IOVA is the guest-physical address the device's
// IPMMU translates with its domain's P2M. On a host + guest pair the request goes to the IOMMU
// that really translates the assigned device: the host's with the host backend (under its host
// device id), the guest's virtio-iommu without.

import { ScenarioError } from '../errors.js';
import { hardwareIdentity } from '../devices.js';
import { StepFailure, type ScenarioRunner } from '../run.js';
import { iommusOf } from '../../os/core/of-iommu.js';
import { explainIpmmu } from './ipmmu-vmsa.js';
import { explainRiscvIommu } from './riscv-iommu.js';
import { explainSmmuV3 } from './smmuv3.js';
import { explainVirtioIommu } from './virtio-iommu.js';
import type { ExplainRequest, Explanation } from './types.js';

export type { CacheOutcome, ExplainedAccess, ExplainedCache, ExplainedField, Explanation, ExplainRequest } from './types.js';

/** Runs one traced translation on the machine the runner has run. */
export function explainTranslation(runner: ScenarioRunner, request: ExplainRequest): Explanation {
  // An unknown device or symbol is the user's mistake: a ScenarioError naming the option.
  const guard = <T>(option: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof StepFailure) throw new ScenarioError([`${option}: ${e.message}`]);
      throw e;
    }
  };
  if (runner.scenario.hypervisor !== null) return explainInHypervisor(runner, request, guard);
  const dev = guard('--device', () => runner.device(request.device));
  const hw = hardwareIdentity(runner.vm ?? runner.machine, dev);
  if (hw === null) throw new ScenarioError([`${dev.name}: its DMA is not translated by an IOMMU model of this machine`]);
  const iova = guard('--iova', () => runner.resolveDma(request.iova));
  const base = { device: dev.name, deviceId: hw.deviceId, iommu: hw.iommu.node.path, iova, access: request.write ? ('write' as const) : ('read' as const), pasid: request.pasid };
  const iommu = hw.iommu;
  switch (iommu.kind) {
    case 'riscv-iommu':
      return explainRiscvIommu(runner, hw.kernel, iommu, base, request.cold);
    case 'smmuv3':
      return explainSmmuV3(runner, hw.kernel, iommu, base, request.cold);
    case 'virtio-iommu':
      return explainVirtioIommu(runner, hw.kernel, iommu, base, request.cold);
    case 'ipmmu-vmsa':
      throw new ScenarioError([`${dev.name}: its IPMMU has no kernel driver here; explain it after a hypervisor scenario (hypervisor: xen)`]);
  }
}

/** A translation of a DMA master behind an IPMMU, after a hypervisor scenario. */
function explainInHypervisor(runner: ScenarioRunner, request: ExplainRequest, guard: <T>(option: string, f: () => T) => T): Explanation {
  const session = runner.session;
  if (request.pasid !== null) throw new ScenarioError(['--pasid: an IPMMU-VMSA request carries no PASID (a micro-TLB selects one context)']);
  const engine = guard('--device', () => session.engine(request.device));
  const ref = iommusOf(runner.machine.tree, engine.node)[0];
  const iommu = ref === undefined ? undefined : runner.machine.iommuFor(ref.iommu);
  if (iommu === undefined || iommu.kind !== 'ipmmu-vmsa' || engine.deviceId === null) throw new ScenarioError([`${engine.node.path}: its DMA is not translated by an IPMMU model of this machine`]);
  const iova = guard('--iova', () => session.resolve({ space: 'guest', expr: request.iova }, null));
  const base = { device: engine.node.path, deviceId: engine.deviceId, iommu: iommu.node.path, iova, access: request.write ? ('write' as const) : ('read' as const), pasid: null };
  return explainIpmmu(session, iommu, base, request.cold);
}
