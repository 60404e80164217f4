// The report of a run on a virtio-iommu: the neutral IommuReport filled from the device's and
// the driver's statistics (requests of VIRTIO 1.3 5.13.6 as its commands, UNMAP as the
// invalidation, fault reports of 5.13.6.9 on the event queue), its `requests` section, and
// both as text and JSON.
import { describe, expect, it } from 'vitest';
import { formatReport, toJsonValue } from '../../src/report/index.js';
import { named, runOk, yaml } from '../scenario/helpers.js';

const ran = runOk(
  yaml(
    'platform: riscv-virt-virtio-iommu',
    'config: { kernel: { invalidation: lazy } }',
    'steps:',
    '  - label: a read nothing maps',
    '    dma: { device: 0000:00:02.0, op: read, src: 0x5000, length: 64, expect: fault }',
    '  - workload: { device: dma0, buffers: 40, size: 4K, op: copy }',
  ),
);
const i = ran.report.iommus[0];

describe('the virtio-iommu in the report', () => {
  it('counts translations, the fault and its report on the event queue, and has no caches or walks', () => {
    expect(i.architecture).toBe('virtio-iommu');
    // 40 copies of 4 KiB, read and written in 64-byte transactions, plus the faulted read.
    expect(named(i.translations.byKind)).toEqual({ translated: 40 * 2 * 64, bypassed: 0, 'MSI window': 0, aborted: 1 });
    expect(i.translations.total).toBe(40 * 2 * 64 + 1);
    expect(i.faults).toEqual({ byCause: [{ cause: 2, name: 'MAPPING', count: 1 }], detected: 1, recorded: 1, dropped: 0, queue: 'event queue' });
    expect(i.caches).toEqual([]);
    expect(i.walks).toEqual({ total: 0, byKind: [], perTranslation: 0 });
    // The device's own reads and writes of guest memory: its queues.
    expect(i.memory.reads).toBeGreaterThan(0);
    expect(i.memory.readsPerTranslation).toBeCloseTo(i.memory.reads / i.translations.total, 12);
  });

  it('agrees between what the driver sent and what the device did', () => {
    const q = i.requests!;
    const sent = named(q.sent);
    const done = named(i.commands);
    // Boot: a PROBE and an ATTACH per endpoint (4); then a MAP and an UNMAP per buffer mapping.
    expect(sent).toMatchObject({ PROBE: 4, ATTACH: 4, DETACH: 0, MAP: 80, UNMAP: 80 });
    // Lazy: UNMAPs still in the queue at the end are sent but not yet processed.
    expect(done).toMatchObject({ PROBE: 4, ATTACH: 4, MAP: 80 });
    expect(q.total - Object.values(done).reduce((a, n) => a + n, 0)).toBe(sent['UNMAP'] - done['UNMAP']);
    expect(i.driver?.invalidations).toEqual([{ name: 'UNMAP', count: 80 }]);
    expect(i.driver?.syncs.count).toBe(q.syncs);
    expect(q.domains).toEqual({ current: 4, created: 4, destroyed: 0 });
    expect(q.mappings.created).toBe(80);
  });

  it('prints the requests section, and no cache table or walk line', () => {
    const text = formatReport(ran.report);
    const q = i.requests!;
    expect(text).toContain('virtio-iommu 10001000.virtio_mmio (/soc/virtio_mmio@10001000)\n');
    expect(text).toContain('  caches: none\n');
    expect(text).not.toMatch(/table walks/);
    expect(text).toMatch(new RegExp(`\\n  requests sent +${q.total}  ATTACH 4, DETACH 0, MAP 80, UNMAP 80, PROBE 4; ${q.perSync.toFixed(2)} per sync \\(${q.syncs} syncs\\)\\n`));
    expect(text).toMatch(new RegExp(`\\n  notifications +\\d+  driver to device ${q.notifications.driver.sent} \\(suppressed ${q.notifications.driver.suppressed}\\), device to driver ${q.notifications.device.sent} \\(suppressed ${q.notifications.device.suppressed}\\)\\n`));
    expect(text).toMatch(/\n {2}domains +4 {2}created 4, destroyed 0; mappings \d+ \(created 80, removed \d+\)\n/);
    expect(text).toMatch(/\n {2}driver invalidations +80 {2}UNMAP 80; request queue sync \d+\n/);
  });

  it('has the requests section in JSON, and other architectures have none', () => {
    const json = toJsonValue(ran.report) as { iommus: { requests?: { sent: unknown[]; perSync: number } }[] };
    expect(json.iommus[0].requests?.sent).toHaveLength(5);
    const riscv = runOk(yaml('steps: []'));
    expect('requests' in riscv.report.iommus[0]).toBe(false);
    expect(formatReport(riscv.report)).toMatch(/table walks/);
  });
});
