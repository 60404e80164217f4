// `npm run bench`: throughput benchmarks of the models (riscv-iommu/*) and of the software
// driving them (os/*). Text by default, one JSON object per line with --json. Options:
// --filter SUBSTRING, --scale FACTOR (request and operation counts), --list.

import { OS_WORKLOADS, runOsWorkload, type OsWorkloadResult } from './os-iommu.js';
import { runWorkload, WORKLOAD_NAMES, type WorkloadResult } from './riscv-iommu-translate.js';

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

function format(r: WorkloadResult): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `riscv-iommu/${r.workload}`.padEnd(36),
    `${Math.round(r.translationsPerSecond).toLocaleString('en-US').padStart(12)} translations/s`,
    `iotlb ${pct(r.iotlbHitRate).padStart(6)}`,
    `dc ${pct(r.deviceContextHitRate).padStart(6)}`,
    `pc ${pct(r.processContextHitRate).padStart(6)}`,
    `${r.memoryReadsPerTranslation.toFixed(2).padStart(6)} reads/tr`,
    `(cpu/wall ${(r.cpuSeconds / r.seconds).toFixed(2)})`,
    r.errors === 0 ? 'ok' : `${r.errors} ERRORS`,
  ].join('  ');
}

function formatOs(r: OsWorkloadResult): string {
  return [
    `os/${r.workload}`.padEnd(36),
    `${Math.round(r.operationsPerSecond).toLocaleString('en-US').padStart(12)} ${r.unit}`,
    `${r.invalidationCommandsPerOperation.toFixed(3).padStart(7)} invalidations/op`,
    `${r.fencesPerOperation.toFixed(3).padStart(7)} fences/op`,
    r.errors === 0 ? 'ok' : `${r.errors} ERRORS`,
  ].join('  ');
}

function main(): void {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exit(2);
  }
  const names = WORKLOAD_NAMES.filter((n) => `riscv-iommu/${n}`.includes(o.filter));
  const osWorkloads = OS_WORKLOADS.filter((w) => `os/${w.name}`.includes(o.filter));
  if (o.list) {
    for (const n of names) console.log(`riscv-iommu/${n}`);
    for (const w of osWorkloads) console.log(`os/${w.name}`);
    return;
  }
  let failed = false;
  for (const name of names) {
    const r = runWorkload(name, o.scale);
    failed ||= r.errors !== 0;
    console.log(o.json ? JSON.stringify({ suite: 'riscv-iommu', ...r }) : format(r));
  }
  for (const w of osWorkloads) {
    const r = runOsWorkload(w, o.scale);
    failed ||= r.errors !== 0;
    console.log(o.json ? JSON.stringify({ suite: 'os', ...r }) : formatOs(r));
  }
  if (failed) process.exit(1);
}

main();
