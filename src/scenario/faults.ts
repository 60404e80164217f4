// Faults as a scenario sees them: every fault reported to the IOMMU core is recorded here
// (through the core's fault observers), and `expect faults` checks the ones reported since its
// previous check. A fault's cause is its architecture's code (RISC-V IOMMU fault-record CAUSE,
// SMMUv3 event number, virtio-iommu fault reason) with the name the driver reported; scenarios
// may name causes as each specification does ("Read page fault", 13; F_TRANSLATION, 0x10;
// MAPPING, 2).

import { Cause, CAUSE_DESCRIPTIONS, describeCause } from '../formats/riscv-iommu/records.js';
import { EventType } from '../formats/smmuv3/records.js';
import { FAULT_REASON_NAMES } from '../formats/virtio-iommu/fault.js';
import type { IommuFault } from '../os/core/types.js';
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
  ...Object.entries(EventType).map(([key, code]) => [normalize(key), code] as const),
  ...Object.entries(FAULT_REASON_NAMES).map(([code, name]) => [normalize(name), Number(code)] as const),
]);

const SMMU_EVENT_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(EventType).map(([name, code]) => [code, name]));

/** The cause code named `name` ("Read page fault", "read-page-fault", "ReadPageFault", "F_TRANSLATION"), or null. */
export function causeByName(name: string): number | null {
  return BY_NAME.get(normalize(name)) ?? null;
}

/** "13 (Read page fault)": with the name a driver gave, else what either specification calls the code. */
export function formatCause(code: number, name?: string): string {
  const known = CAUSE_DESCRIPTIONS[code] ?? SMMU_EVENT_NAMES.get(code);
  return `${code} (${name ?? known ?? describeCause(code)})`;
}

export function formatFault(f: RecordedFault): string {
  const pasid = f.pasid === null ? '' : ` pasid ${f.pasid}`;
  return `${f.device ?? 'unknown device'} ${f.write ? 'write' : 'read'} at ${hex(f.iova)}${pasid}: cause ${formatCause(f.cause, f.causeName)}`;
}

export class FaultCollector {
  /** Every fault of the run, in order. */
  readonly all: RecordedFault[] = [];
  /** Faults since the last `expect faults` check. */
  window: RecordedFault[] = [];

  /**
   * Observes every fault the kernels' IOMMU cores are told of, whoever owns the domain: the
   * scenario's kernel, and on a host + guest pair the host's too, which hears of the faults its
   * IOMMU catches for assigned devices while the guest does not (`iommu` names who caught it).
   */
  constructor(kernels: readonly Kernel[]) {
    for (const kernel of kernels) kernel.iommu.faultObservers.push((fault) => this.record(fault, kernel));
  }

  private record(fault: IommuFault, kernel: Kernel): void {
    const f: RecordedFault = {
      device: fault.device?.name ?? null,
      iova: fault.iova,
      write: fault.write,
      pasid: fault.pasid,
      cause: fault.cause,
      causeName: fault.reason,
      iommu: fault.iommu,
      cycle: kernel.clock.now,
    };
    this.all.push(f);
    this.window.push(f);
  }
}
