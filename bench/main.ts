// `npm run bench`: throughput benchmarks of the models (riscv-iommu/*, smmuv3/*: the same
// translation workloads on each) and of the software driving them (os/<architecture>/*: the
// same driver workloads on each; virtio-iommu/*: the guest driver with and without batching).
// Text by default, one JSON object per line (with its `suite`) with --json. Options:
// --filter SUBSTRING (of "<suite>/<workload>"), --scale FACTOR (request and operation counts),
// --list.

import { OS_WORKLOAD_NAMES, runOsWorkload, type OsWorkloadResult } from './os-iommu.js';
import { runWorkload, WORKLOAD_NAMES, type WorkloadResult } from './riscv-iommu-translate.js';
import { runSmmuV3Workload, SMMUV3_WORKLOAD_NAMES, type SmmuV3WorkloadResult } from './smmuv3-translate.js';
import { runVirtioIommuWorkload, VIRTIO_IOMMU_WORKLOAD_NAMES, type VirtioIommuWorkloadResult } from './virtio-iommu.js';

interface Options {
  json: boolean;
  filter: string;
  scale: number;
  list: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { json: false, filter: '', scale: 1, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--list') o.list = true;
    else if (a === '--filter') o.filter = argv[++i] ?? '';
    else if (a === '--scale') {
      o.scale = Number(argv[++i]);
      if (!(o.scale > 0)) throw new Error('--scale needs a positive number');
    } else throw new Error(`unknown option ${a} (known: --json, --filter S, --scale F, --list)`);
  }
  return o;
}

/** One benchmark of a suite, run: its errors, its JSON record and its text line. */
interface Outcome {
  errors: number;
  record: object;
  text: string;
}

interface Suite {
  name: 'riscv-iommu' | 'smmuv3' | 'os' | 'virtio-iommu';
  workloads: readonly string[];
  run(workload: string, scale: number): Outcome;
}

function suite<R extends { errors: number }>(name: Suite['name'], workloads: readonly string[], run: (workload: string, scale: number) => R, format: (r: R) => string): Suite {
  return {
    name,
    workloads,
    run: (workload, scale) => {
      const r = run(workload, scale);
      return { errors: r.errors, record: { suite: name, ...r }, text: format(r) };
    },
  };
}

const LABEL_WIDTH = 44;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(6);
const rate = (x: number) => Math.round(x).toLocaleString('en-US').padStart(12);
const fixed = (x: number, digits: number) => x.toFixed(digits).padStart(7);
const status = (errors: number) => (errors === 0 ? 'ok' : `${errors} ERRORS`);

function formatRiscv(r: WorkloadResult): string {
  return [
    `riscv-iommu/${r.workload}`.padEnd(LABEL_WIDTH),
    `${rate(r.translationsPerSecond)} translations/s`,
    `iotlb ${pct(r.iotlbHitRate)}`,
    `dc ${pct(r.deviceContextHitRate)}`,
    `pc ${pct(r.processContextHitRate)}`,
    `${fixed(r.memoryReadsPerTranslation, 2)} reads/tr`,
    `(cpu/wall ${(r.cpuSeconds / r.seconds).toFixed(2)})`,
    status(r.errors),
  ].join('  ');
}

function formatSmmuV3(r: SmmuV3WorkloadResult): string {
  return [
    `smmuv3/${r.workload}`.padEnd(LABEL_WIDTH),
    `${rate(r.translationsPerSecond)} translations/s`,
    `tlb   ${pct(r.tlbHitRate)}`,
    `ste ${pct(r.steHitRate)}`,
    `cd ${pct(r.cdHitRate)}`,
    `${fixed(r.memoryReadsPerTranslation, 2)} reads/tr`,
    `(cpu/wall ${(r.cpuSeconds / r.seconds).toFixed(2)})`,
    status(r.errors),
  ].join('  ');
}

function formatOs(r: OsWorkloadResult): string {
  return [
    `os/${r.workload}`.padEnd(LABEL_WIDTH),
    `${rate(r.operationsPerSecond)} ${r.unit}`.padEnd(24),
    `${fixed(r.invalidationCommandsPerOperation, 3)} invalidations/op`,
    `${fixed(r.syncsPerOperation, 3)} syncs/op`,
    status(r.errors),
  ].join('  ');
}

function formatVirtioIommu(r: VirtioIommuWorkloadResult): string {
  return [
    `virtio-iommu/${r.workload}`.padEnd(LABEL_WIDTH),
    `${rate(r.operationsPerSecond)} ${r.unit}`.padEnd(24),
    `${fixed(r.requestsPerOperation, 3)} requests/op`,
    `${fixed(r.kicksPerOperation, 3)} kicks/op`,
    `${fixed(r.syncsPerOperation, 3)} syncs/op`,
    `${fixed(r.requestsPerSync, 2)} requests/sync`,
    status(r.errors),
  ].join('  ');
}

const SUITES: readonly Suite[] = [
  suite('riscv-iommu', WORKLOAD_NAMES, runWorkload, formatRiscv),
  suite('smmuv3', SMMUV3_WORKLOAD_NAMES, runSmmuV3Workload, formatSmmuV3),
  suite('os', OS_WORKLOAD_NAMES, runOsWorkload, formatOs),
  suite('virtio-iommu', VIRTIO_IOMMU_WORKLOAD_NAMES, runVirtioIommuWorkload, formatVirtioIommu),
];

function main(): void {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exit(2);
  }
  let failed = false;
  for (const s of SUITES) {
    for (const workload of s.workloads) {
      const id = `${s.name}/${workload}`;
      if (!id.includes(o.filter)) continue;
      if (o.list) {
        console.log(id);
        continue;
      }
      const r = s.run(workload, o.scale);
      failed ||= r.errors !== 0;
      console.log(o.json ? JSON.stringify(r.record) : r.text);
    }
  }
  if (failed) process.exit(1);
}

main();
