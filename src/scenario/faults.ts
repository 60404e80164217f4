// Faults as a scenario sees them: every fault the IOMMU core routes to a domain's owner is
// recorded here (the scenario owns every domain for the purpose of watching), and `expect
// faults` checks the ones reported since its previous check. Cause names come from the
// specification's cause table in formats/riscv-iommu (RISC-V IOMMU spec, "Fault/Event-Queue",
// table of fault record CAUSE encodings).

import { Cause, CAUSE_DESCRIPTIONS, describeCause } from '../formats/riscv-iommu/records.js';
import type { FaultHandler, IommuDomain, IommuFault } from '../os/core/types.js';
import type { Kernel } from '../os/kernel/kernel.js';
import type { FaultReport } from '../report/types.js';
import { hex } from '../sim/u64.js';

/** A fault as the scenario saw it reach the kernel (the report lists them as they are). */
export type RecordedFault = FaultReport;

function normalize(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const BY_NAME: ReadonlyMap<string, number> = new Map([
  ...Object.entries(CAUSE_DESCRIPTIONS).map(([code, text]) => [normalize(text), Number(code)] as const),
  ...Object.entries(Cause).map(([key, code]) => [normalize(key), code] as const),
]);

/** The cause code named `name` ("Read page fault", "read-page-fault", "ReadPageFault"), or null. */
export function causeByName(name: string): number | null {
  return BY_NAME.get(normalize(name)) ?? null;
}

/** "13 (Read page fault)" */
export function formatCause(code: number): string {
  return `${code} (${describeCause(code)})`;
}

export function formatFault(f: RecordedFault): string {
  const pasid = f.pasid === null ? '' : ` pasid ${f.pasid}`;
  return `${f.device ?? 'unknown device'} ${f.write ? 'write' : 'read'} at ${hex(f.iova)}${pasid}: cause ${formatCause(f.cause)}`;
}

export class FaultCollector {
  /** Every fault of the run, in order. */
  readonly all: RecordedFault[] = [];
  /** Faults since the last `expect faults` check. */
  window: RecordedFault[] = [];
  private readonly watched = new WeakSet<IommuDomain>();

  constructor(private readonly kernel: Kernel) {}

  /**
   * Watches every domain the kernel has now: each group's current and default domain and
   * each IOMMU's static domains. Cheap; called before every step so new domains are seen.
   */
  watchAll(): void {
    const core = this.kernel.iommu;
    for (const g of core.groups) {
      if (g.domain !== null) this.watch(g.domain);
      if (g.defaultDomain !== null) this.watch(g.defaultDomain);
    }
    for (const inst of core.instances) {
      if (inst.ops.identityDomain !== undefined) this.watch(inst.ops.identityDomain);
      if (inst.ops.blockedDomain !== undefined) this.watch(inst.ops.blockedDomain);
    }
  }

  watch(domain: IommuDomain): void {
    if (this.watched.has(domain)) return;
    this.watched.add(domain);
    // Observe, then let any previous owner decide whether the fault was handled; unhandled
    // faults stay unhandled (logged by the core), as without the scenario.
    const previous: FaultHandler | null = domain.faultHandler;
    this.kernel.iommu.setFaultHandler(domain, (fault, d) => {
      this.record(fault);
      return previous !== null ? previous(fault, d) : false;
    });
  }

  private record(fault: IommuFault): void {
    const f: RecordedFault = {
      device: fault.device?.name ?? null,
      iova: fault.iova,
      write: fault.write,
      pasid: fault.pasid,
      cause: fault.cause,
      causeName: describeCause(fault.cause),
      iommu: fault.iommu,
      cycle: this.kernel.clock.now,
    };
    this.all.push(f);
    this.window.push(f);
  }
}
