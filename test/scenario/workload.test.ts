// The workload step: generated DMA streams through the DMA API, verified, deterministic for a
// seed, and showing what the invalidation policy costs (strict: an IOTLB invalidation per
// unmap; lazy: one flush per flush-queue full of unmaps).
import { describe, expect, it } from 'vitest';
import { reportJson, type Report } from '../../src/report/index.js';
import type { Progress } from '../../src/scenario/index.js';
import { loadErrors, run, runFails, runOk, yaml } from './helpers.js';

function workload(fields: string, config = ''): string {
  return yaml(...(config === '' ? [] : [config]), 'steps:', '  - label: stream', `    workload: { device: dma0, ${fields} }`);
}

/** The report without its one run-dependent field. */
function stable(r: Report): string {
  return reportJson({ ...r, time: { ...r.time, wallMs: 0 } });
}

describe('workload', () => {
  it('streams copies, fills and reads through the DMA API and verifies each', () => {
    for (const [op, mapsPerBuffer] of [
      ['copy', 2],
      ['fill', 1],
      ['read', 1],
    ] as const) {
      const r = runOk(workload(`buffers: 50, size: 4K, op: ${op}, working-set: 8`));
      const w = r.report.workloads[0];
      expect(w).toMatchObject({ step: 0, label: 'stream', device: '3020000.dma-controller', op, buffers: 50, bytes: 50 * 4096, verified: 50 });
      expect(w.dmaMaps).toBe(50 * mapsPerBuffer);
      expect(w.dmaUnmaps).toBe(w.dmaMaps);
      // 64-byte transactions (burstBytes), one translation each: 4096 / 64 = 64 translations
      // per 4 KiB read or written; a copy reads and writes.
      expect(w.translations).toBe(50 * 64 * (op === 'copy' ? 2 : 1));
      expect(r.report.devices.find((d) => d.name === w.device)).toMatchObject({ transfers: 50, bytes: 50 * 4096, errors: 0 });
    }
  });

  it('translates once per bus transaction: config.dma-engine.burst-bytes sets the transaction size', () => {
    // PCIe Base 2.2.7: a request never crosses a 4 KiB boundary, so a 4 KiB buffer takes
    // 4096 / burst-bytes transactions.
    for (const burst of [8, 256, 4096]) {
      const r = runOk(workload('buffers: 10, size: 4K, op: read', `config: { dma-engine: { burst-bytes: ${burst} } }`));
      expect(r.report.workloads[0].translations).toBe(10 * (4096 / burst));
    }
    expect(loadErrors(workload('buffers: 1, size: 4K', 'config: { dma-engine: { burst-bytes: 100 } }'))).toEqual(['test.yaml:1: config.dma-engine.burst-bytes: burst-bytes must be a power of two, got 100']);
    expect(loadErrors(workload('buffers: 1, size: 4K', 'config: { dma-engine: { burst-bytes: 8192 } }'))).toEqual([expect.stringMatching(/^test\.yaml:1: config\.dma-engine\.burst-bytes: /)]);
  });

  it('picks sizes from a list and buffers sequentially or at random', () => {
    const r = runOk(workload('buffers: 40, size: [512, 4K, 6000], access: random, working-set: 4'));
    const w = r.report.workloads[0];
    expect(w.bytes).toBeGreaterThan(40 * 512);
    expect(w.bytes).toBeLessThan(40 * 6000);
    expect(w.verified).toBe(40);
  });

  it('gives the same report for the same seed, byte for byte, and a different one for another seed', () => {
    const text = (seed: string) => workload(`buffers: 60, size: [1K, 2K, 3K, 4K], access: random, working-set: 5${seed}`);
    const a = run(text(', seed: 7')).report;
    const b = run(text(', seed: 7')).report;
    const c = run(text(', seed: 8')).report;
    expect(stable(a)).toBe(stable(b));
    expect(stable(a)).not.toBe(stable(c));
    // The scenario seed (or RunOptions.seed, the CLI's --seed) is the default.
    const viaOption = run(text(''), { seed: 7n }).report;
    expect(viaOption.workloads[0].bytes).toBe(a.workloads[0].bytes);
    expect(viaOption.scenario.seed).toBe(7n);
  });

  it('issues fewer invalidation commands per buffer in lazy mode than in strict mode', () => {
    const fields = 'buffers: 600, size: 4K, op: read, access: random, working-set: 32';
    const strict = runOk(workload(fields)).report;
    const lazy = runOk(workload(fields, 'config: { kernel: { invalidation: lazy, flush-queue: { size: 64 } } }')).report;
    const s = strict.workloads[0];
    const l = lazy.workloads[0];
    // Strict: every unmap invalidates before it returns (Linux iommu_dma_unmap with a strict domain).
    expect(s.invalidationsPerBuffer).toBeGreaterThanOrEqual(1);
    expect(s.syncs).toBeGreaterThanOrEqual(600);
    // Lazy: one invalidation of the whole PSCID per full flush queue of 64 unmaps.
    expect(l.invalidationCommands).toBe(Math.floor(600 / 64));
    expect(l.invalidationsPerBuffer).toBeLessThan(s.invalidationsPerBuffer / 10);
    expect(lazy.kernel?.flushQueue).toMatchObject({ domains: 1, flushes: { full: 9 }, entriesFlushed: 576, pending: 24 });
    expect(strict.kernel?.flushQueue).toBeNull();
    expect(strict.kernel?.dma.syncs).toBe(600);
    expect(lazy.kernel?.dma.flushes).toBe(9);
    // Both verified every buffer: lazy mode trades invalidations, not correctness, here.
    expect([s.verified, l.verified]).toEqual([600, 600]);
  });

  it('reports progress up to the total', () => {
    const seen: Progress[] = [];
    runOk(workload('buffers: 300, size: 1K'), { onProgress: (p) => seen.push(p) });
    expect(seen.length).toBe(100);
    expect(seen.at(-1)).toEqual({ step: 0, label: 'stream', done: 300, total: 300 });
    expect(seen.every((p, i) => i === 0 || p.done > seen[i - 1].done)).toBe(true);
  });

  it('fails with the buffer and the reason when a transfer fails', () => {
    // A device in a blocked domain: the DMA API refuses to map for it.
    const { message } = runFails(
      yaml('steps:', '  - domain: { name: wall, device: dma0, type: blocked }', '  - attach: { device: dma0, domain: wall }', '  - label: stream', '    workload: { device: dma0, buffers: 5, size: 4K }'),
    );
    expect(message).toMatch(/^test\.yaml:4: steps\[2\] "stream": 3020000\.dma-controller is attached to .* \(blocked\): the DMA API maps only through DMA domains$/);
  });
});
