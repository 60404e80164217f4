// The human-readable report: sections with aligned columns, numbers right-aligned, rates as
// percentages. Everything in it comes from the typed Report (collect.ts).

import { hex } from '../sim/u64.js';
import type { CacheReport, HypervisorReport, IommuReport, KernelReport, NamedCount, Report, RequestQueueReport } from './types.js';

const NUMERIC = /^(-|[0-9][0-9.]*(%| B| KiB| MiB| GiB)?)$/;

/**
 * Lays out rows as columns. The first column is left-aligned; a column whose cells are all
 * numbers (a header row whose first cell is empty aside) is right-aligned, others left-aligned.
 */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const body = rows.length > 1 && rows[0][0] === '' ? rows.slice(1) : rows;
  const right = widths.map((_, i) => i > 0 && body.every((r) => r[i] === undefined || NUMERIC.test(r[i])));
  return rows.map((r) => indent + r.map((cell, i) => (right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

export function percent(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}

function ratio(x: number): string {
  return x === 0 ? '0' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(4);
}

function count(n: number): string {
  return String(n);
}

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(2)} KiB`;
  return `${n} B`;
}

function cacheRow(name: string, c: CacheReport): string[] {
  return [name, count(c.lookups), count(c.hits), count(c.misses), c.lookups === 0 ? '-' : percent(c.hitRate), count(c.evictions), count(c.invalidations)];
}

function counts(list: readonly NamedCount[]): string {
  return list.map((c) => `${c.name} ${c.count}`).join(', ') || 'none';
}

function total(list: readonly NamedCount[]): number {
  return list.reduce((a, c) => a + c.count, 0);
}

function iommuSection(i: IommuReport): string {
  let out = `${i.architecture} ${i.name} (${i.node})\n`;
  out += table([
    ['translations', count(i.translations.total), counts(i.translations.byKind)],
    ['faults detected', count(i.faults.detected), `recorded in the ${i.faults.queue} ${i.faults.recorded}, dropped ${i.faults.dropped}`],
  ]);
  if (i.faults.byCause.length > 0) out += table(i.faults.byCause.map((c) => [`cause ${c.cause}`, c.name, count(c.count)]), '      ');
  // An IOMMU without caches or tables (virtio-iommu: the device's own state) has no rows for them.
  if (i.caches.length === 0) out += '  caches: none\n';
  else out += `  caches\n${table([['', 'lookups', 'hits', 'misses', 'hit rate', 'evictions', 'invalidations'], ...i.caches.map((c) => cacheRow(c.name, c))], '    ')}`;
  const d = i.driver;
  out += table([
    ...(i.walks.byKind.length === 0 ? [] : [['table walks', count(i.walks.total), `${counts(i.walks.byKind)}; ${ratio(i.walks.perTranslation)} per translation`]]),
    ['memory reads', count(i.memory.reads), `${ratio(i.memory.readsPerTranslation)} per translation; writes ${i.memory.writes}`],
    ['commands executed', count(total(i.commands)), counts(i.commands)],
    ...(d === null ? [] : [['driver invalidations', count(total(d.invalidations)), `${counts(d.invalidations)}; ${d.syncs.name} ${d.syncs.count}`]]),
    ...(i.requests === undefined ? [] : requestRows(i.requests)),
  ]);
  return out;
}

function requestRows(q: RequestQueueReport): string[][] {
  const n = q.notifications;
  return [
    ['requests sent', count(q.total), `${counts(q.sent)}; ${ratio(q.perSync)} per sync (${q.syncs} syncs)`],
    ['answers', count(total(q.statuses)), `${counts(q.statuses)}; unanswered ${q.unanswered}`],
    ['notifications', count(n.driver.sent + n.device.sent), `driver to device ${n.driver.sent} (suppressed ${n.driver.suppressed}), device to driver ${n.device.sent} (suppressed ${n.device.suppressed})`],
    ['domains', count(q.domains.current), `created ${q.domains.created}, destroyed ${q.domains.destroyed}; mappings ${q.mappings.current} (created ${q.mappings.created}, removed ${q.mappings.removed})`],
  ];
}

function kernelSection(k: KernelReport): string {
  const fq = k.flushQueue;
  return `\nkernel\n${table([
    ['DMA API', `mapped ${k.dma.mapped}, unmapped ${k.dma.unmapped}; invalidations: strict syncs ${k.dma.syncs}, flush-queue flushes ${k.dma.flushes}`],
    [
      'flush queue',
      fq === null
        ? 'not used (strict invalidation)'
        : `${fq.domains} lazy domain${fq.domains === 1 ? '' : 's'}; flushes: full ${fq.flushes.full}, timeout ${fq.flushes.timeout}, explicit ${fq.flushes.explicit}; ${fq.entriesFlushed} entries released, ${fq.pending} pending`,
    ],
    ['IOMMU faults', `reported to the core ${k.faults.reported}, not handled by a domain owner ${k.faults.unhandled}`],
    ...k.unbound.map((u) => [`not bound: ${u.name}`, `${u.state}: ${u.reason}`]),
  ])}`;
}

function pages(n: number): string {
  return bytes(n * 4096);
}

function hypervisorSection(h: HypervisorReport): string {
  let out = `\nhypervisor: ${h.name}, IOMMU driver ${h.iommuDriver ?? 'none'}\n`;
  const d = h.devices;
  out += table([
    ['devices', `assigned ${d.assignments}, deassigned ${d.deassignments}, quarantined ${d.quarantined}; deferred probes ${d.deferredProbes}`],
    ['heap', `${pages(h.heap.allocatedPages)} of ${pages(h.heap.totalPages)} in use`],
    ['IOMMU TLB flushes', `${h.flushes.requested} requested; ${h.flushes.byIommu.map((f) => `${f.iommu}: IMCTR.FLUSH ${f.contextFlushes} (${f.entriesFlushed} entries), IMUCTR.FLUSH ${f.microTlbFlushes}`).join('; ') || 'no IOMMU'}`],
  ]);
  out += '  domains\n';
  out += table(
    [
      ['', 'state', 'RAM', 'DMA transfers', 'DMA bytes', 'DMA errors', 'IOMMU faults', 'IOMMU flushes', 'P2M changes', 'splits', 'devices'],
      ...h.domains.map((x) => [
        x.label,
        x.state,
        pages(x.ramPages),
        count(x.dma.transfers),
        bytes(x.dma.bytes),
        count(x.dma.errors + x.dma.timeouts),
        count(x.faults),
        count(x.iommuFlushes),
        count(x.p2m.changes),
        count(x.p2m.splits),
        x.devices.join(', ') || '-',
      ]),
    ],
    '    ',
  );
  out += '  context banks\n';
  if (h.contexts.length === 0) out += '    none\n';
  for (const c of h.contexts) {
    out += `    ${c.iommu}: ${c.inUse.length} of ${c.total} in use (at most ${c.peak} at once)\n`;
    out += table(c.inUse.map((u) => [`context ${u.context}`, u.domain ?? 'reserved']), '      ');
  }
  if (h.faults.total > 0) {
    out += `  faults (${h.faults.total})\n`;
    out += table(h.faults.list.map((f) => [f.domain ?? 'no domain', f.devices.join(', ') || 'no device', `${f.kinds.join(', ')} at IPA ${hex(f.address)}`, `context ${f.context} of ${f.iommu}`]), '    ');
    if (h.faults.total > h.faults.list.length) out += `    ... and ${h.faults.total - h.faults.list.length} more\n`;
  }
  return out;
}

export function formatReport(r: Report): string {
  const s = r.scenario;
  let out = `scenario: ${s.name ?? '(unnamed)'} (${s.file})\n`;
  if (s.description !== null) out += `  ${s.description}\n`;
  out += `platform: ${s.platform}, seed ${s.seed}\n`;
  if (r.unmodelled.length > 0) out += `not modelled (ignored): ${r.unmodelled.join(', ')}\n`;

  const run = r.steps.filter((st) => st.status !== 'not run').length;
  out += `\nsteps: ${run} of ${r.steps.length} run\n`;
  out += table(r.steps.map((st) => [`[${st.index}]`, st.status, st.kind, `${st.label === null ? '' : `"${st.label}": `}${st.summary}`]));
  const e = r.expectations;
  out += `expectations: ${e.checked} checked, ${e.passed} passed, ${e.failed} failed\n`;

  for (const i of r.iommus) out += `\n${iommuSection(i)}`;

  if (r.kernel !== null) out += kernelSection(r.kernel);
  if (r.hypervisor !== null) out += hypervisorSection(r.hypervisor);

  if (r.devices.length > 0) {
    out += '\ndevices\n';
    out += table([['', 'transfers', 'bytes', 'errors', 'timeouts'], ...r.devices.map((d) => [d.name, count(d.transfers), bytes(d.bytes), count(d.errors), count(d.timeouts)])]);
  }

  if (r.workloads.length > 0) {
    out += '\nworkloads\n';
    for (const w of r.workloads) {
      out += `  [${w.step}]${w.label === null ? '' : ` "${w.label}"`} on ${w.device}${w.guest === null ? '' : ` in guest ${w.guest}`}: ${w.buffers} ${w.op} buffers (${w.access}), ${bytes(w.bytes)}, ${w.verified} verified\n`;
      out += table(
        [
          ['DMA API', `${w.dmaMaps} maps, ${w.dmaUnmaps} unmaps`],
          ['invalidation commands', `${w.invalidationCommands} (${ratio(w.invalidationsPerBuffer)} per buffer), syncs ${w.syncs}`],
          ['translations', `${w.translations}${w.tlbHitRate === null ? '' : `, TLB hit rate ${percent(w.tlbHitRate)}`}`],
          ['simulated cycles', count(w.cycles)],
        ],
        '      ',
      );
    }
  }

  if (r.faults.total > 0) {
    out += `\nfaults reported (${r.faults.total})\n`;
    out += table(r.faults.list.map((f) => [f.device ?? 'unknown device', `${f.write ? 'write' : 'read'} at ${hex(f.iova)}${f.pasid === null ? '' : ` pasid ${f.pasid}`}`, `cause ${f.cause}`, f.causeName, `(${f.iommu})`]));
    if (r.faults.total > r.faults.list.length) out += `  ... and ${r.faults.total - r.faults.list.length} more\n`;
  }

  out += `\ntime: ${r.time.cycles} simulated cycles, ${r.time.wallMs.toFixed(0)} ms wall clock\n`;
  if (r.outcome.failure !== null) out += `result: FAILED at ${r.outcome.failure.step === null ? 'set-up' : `steps[${r.outcome.failure.step}]`}\n`;
  else out += 'result: ok\n';
  return out;
}
