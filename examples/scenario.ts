// Running a scenario from code: the same runner as `iommu-lab run`, with the report as data.
// This file is type-checked by `npm run lint` and executed by the test suite.

import { formatReport, parseScenario, ScenarioRunner } from '../src/index.js';

const SCENARIO = `
platform: riscv-virt
steps:
  - alloc: { name: buf, size: 4K }
  - domain: { name: d, device: 0000:00:01.0 }
  - attach: { device: 0000:00:01.0, domain: d }
  - map: { domain: d, iova: 0x10000, phys: buf, size: 4K, prot: rw }
  - dma: { device: 0000:00:01.0, op: fill, dst: 0x10000, length: 4K, pattern: 0xfeedf00d }
  - expect: { memory: { address: buf, length: 4K, equals: { pattern: 0xfeedf00d } } }
  - dma: { device: 0000:00:01.0, op: read, src: 0x20000, length: 8, pattern: 0, expect: fault }
`;

export function example(): { ok: boolean; translations: number; faultCauses: number[]; text: string } {
  const { report, error } = new ScenarioRunner(parseScenario(SCENARIO, { file: 'example.yaml' })).run();
  const iommu = report.iommus[0];
  return {
    ok: error === null,
    translations: iommu.translations.total,
    faultCauses: iommu.faults.byCause.map((c) => c.cause),
    text: formatReport(report),
  };
}
