// Scenarios on the virtio-iommu (riscv-virt-virtio-iommu): the built-in tour and its report,
// what batching and lazy invalidation do to the requests per sync (VIRTIO 1.3 5.13.6: the
// driver may queue requests it needs no answer for), config.virtio-iommu reaching the device
// (5.13.4 configuration, 5.13.6.8.1 RESV_MEM) and the driver, and its errors.
import { describe, expect, it } from 'vitest';
import { ResvMemSubtype } from '../../src/formats/virtio-iommu/probe.js';
import { virtioIommuInstanceOf } from '../../src/os/drivers/virtio-iommu/index.js';
import type { MachineVirtioIommu } from '../../src/platform/machine/machine.js';
import { builtinScenarioFile, listBuiltinScenarios, loadScenario, ScenarioError, ScenarioRunner } from '../../src/scenario/index.js';
import { load, loadErrors, named, runOk, yaml, type Ran } from './helpers.js';

const tour = new ScenarioRunner(loadScenario(builtinScenarioFile('virtio-iommu-tour') ?? '', { name: 'virtio-iommu-tour.yaml' })).run();

function viommu(r: Ran): MachineVirtioIommu {
  const i = r.runner.machine.iommus[0];
  if (i.kind !== 'virtio-iommu') throw new Error(`expected a virtio-iommu, got ${i.kind}`);
  return i;
}

describe('the virtio-iommu tour', () => {
  it('is a built-in scenario on riscv-virt-virtio-iommu', () => {
    expect(listBuiltinScenarios().map((s) => s.name)).toContain('virtio-iommu-tour');
    expect(tour.report.scenario.platform).toBe('riscv-virt-virtio-iommu (built-in)');
  });

  it('runs every step and reports the virtio-iommu in the shape of any IOMMU', () => {
    expect(tour.error).toBeNull();
    expect(tour.report.expectations).toEqual({ checked: 10, passed: 10, failed: 0 });
    const i = tour.report.iommus[0];
    expect(i).toMatchObject({ architecture: 'virtio-iommu', node: '/soc/virtio_mmio@10001000', name: '10001000.virtio_mmio', caches: [] });
    // Two MAPPING faults (reason 2, 5.13.6.9), both written to the event queue and reported.
    expect(i.faults).toEqual({ byCause: [{ cause: 2, name: 'MAPPING', count: 2 }], detected: 2, recorded: 2, dropped: 0, queue: 'event queue' });
    expect(tour.report.faults.list.map((f) => [f.device, f.cause, f.iommu])).toEqual([
      ['0000:00:02.0', 2, '10001000.virtio_mmio'],
      ['0000:00:01.0', 2, '10001000.virtio_mmio'],
    ]);
    const kinds = named(i.translations.byKind);
    expect(i.translations.total).toBe(kinds['translated'] + kinds['bypassed'] + kinds['MSI window'] + kinds['aborted']);
    expect(kinds['aborted']).toBe(2);
  });

  it('shows the requests by type, requests per sync and the notifications of both ends', () => {
    const i = tour.report.iommus[0];
    const q = i.requests;
    expect(q).toBeDefined();
    if (q === undefined) return;
    const sent = named(q.sent);
    expect(Object.keys(sent)).toEqual(['ATTACH', 'DETACH', 'MAP', 'UNMAP', 'PROBE']);
    expect(q.total).toBe(Object.values(sent).reduce((a, n) => a + n, 0));
    expect(q.perSync).toBeCloseTo(q.total / q.syncs, 12);
    // Lazy: an UNMAP waits in the queue for the next request that is waited for.
    expect(q.perSync).toBeGreaterThan(1.9);
    // One notification of the device per sync; the device's to the driver all suppressed (the driver polls).
    expect(q.notifications.driver).toEqual({ sent: q.syncs, suppressed: 0 });
    expect(q.notifications.device.sent + q.notifications.device.suppressed).toBe(q.syncs);
    // Every request the driver sent was processed, but the last UNMAP, still in the queue.
    const commands = named(i.commands);
    expect(commands['UNMAP']).toBe(sent['UNMAP'] - 1);
    expect(commands['MAP']).toBe(sent['MAP']);
    expect(named(q.statuses)).toEqual({ OK: q.total - 1 });
    // The invalidating request is UNMAP, the wait is the request-queue sync.
    expect(i.driver).toEqual({ invalidations: [{ name: 'UNMAP', count: sent['UNMAP'] }], syncs: { name: 'request queue sync', count: q.syncs } });
    expect(q.mappings.current).toBe(q.mappings.created - q.mappings.removed);
  });

  it('streams 10000 buffers with one UNMAP each and one sync per buffer plus one per flush-queue flush', () => {
    const w = tour.report.workloads[0];
    expect(w).toMatchObject({ buffers: 10000, verified: 10000, dmaMaps: 10000, dmaUnmaps: 10000, invalidationCommands: 10000, translations: 640000 });
    const fq = tour.report.kernel?.flushQueue;
    expect(fq?.flushes.full).toBeGreaterThan(0);
    expect(w.syncs).toBe(10000 + (fq?.flushes.full ?? 0));
  });
});

describe('batching and invalidation policy (the driver waits only where it needs an answer)', () => {
  const workload = (invalidation: string, batching: boolean) =>
    runOk(yaml('platform: riscv-virt-virtio-iommu', 'config:', `  kernel: { invalidation: ${invalidation} }`, `  virtio-iommu: { batching: ${batching} }`, 'steps:', '  - workload: { device: dma0, buffers: 300, size: 4K, op: read }'));

  it('strict: two syncs per buffer (MAP, UNMAP), one request per sync', () => {
    const r = workload('strict', true);
    expect(r.report.workloads[0]).toMatchObject({ invalidationCommands: 300, syncs: 600 });
    expect(r.report.iommus[0].requests?.perSync).toBe(1);
  });

  it('lazy and batched: the UNMAP rides with the next MAP, one sync per buffer and per flush', () => {
    const r = workload('lazy', true);
    const flushes = r.report.kernel?.flushQueue?.flushes.full ?? 0;
    expect(flushes).toBe(1);
    expect(r.report.workloads[0]).toMatchObject({ invalidationCommands: 300, syncs: 300 + flushes });
  });

  it('lazy but unbatched: every UNMAP is waited for on its own again', () => {
    const r = workload('lazy', false);
    expect(r.report.workloads[0]).toMatchObject({ invalidationCommands: 300, syncs: 600 });
    expect(r.report.iommus[0].requests?.perSync).toBe(1);
  });
});

describe('config.virtio-iommu', () => {
  it('reaches the device configuration (5.13.4) and the driver', () => {
    const r = runOk(
      yaml(
        'platform: riscv-virt-virtio-iommu',
        'config:',
        '  virtio-iommu:',
        '    page-size-mask: 0x40201000',
        '    input-range: { start: 0x100000, end: 0xffffffff }',
        '    domain-range: { start: 10, end: 20 }',
        '    bypass: true',
        '    batching: false',
        '    reserved-regions:',
        '      - { start: 0x28000000, size: 4K, type: msi }',
        '      - { endpoint: 0x8, start: 0x70000000, end: 0x700fffff }',
        'steps:',
        '  - alloc: { name: b, size: 4K }',
        '  - dma-map: { name: m, device: dma0, buffer: b, size: 4K }',
      ),
    );
    const v = viommu(r);
    expect(v.model.params).toMatchObject({ pageSizeMask: 0x4020_1000n, inputRange: { start: 0x10_0000n, end: 0xffff_ffffn }, domainRange: { start: 10, end: 20 }, bypass: true });
    const regions = (id: number) => v.model.params.endpoints.find((e) => e.id === id)?.reservedRegions;
    const msi = { subtype: ResvMemSubtype.Msi, start: 0x2800_0000n, end: 0x2800_0fffn };
    expect(regions(0x1)).toEqual([msi]);
    expect(regions(0x8)).toEqual([msi, { subtype: ResvMemSubtype.Reserved, start: 0x7000_0000n, end: 0x700f_ffffn }]);
    // The domains the driver created have ids from domain_range; the DMA address is in input_range.
    const domain = v.model.domainOf(0x1) ?? -1;
    expect(domain).toBeGreaterThanOrEqual(10);
    expect(domain).toBeLessThanOrEqual(20);
    expect(r.runner.mappings.get('m')?.dma).toBeLessThanOrEqual(0xffff_ffffn);
    const driver = virtioIommuInstanceOf(r.runner.kernel.iommu.instances[0]);
    expect(driver?.requests.batching).toBe(false);
    // bypass starts at 1 and the driver clears it (5.13.4.1): unattached endpoints are blocked.
    expect(driver?.unattachedBlocked).toBe(true);
  });

  it('rejects malformed values with the file, line and key', () => {
    expect(
      loadErrors(
        yaml(
          'config:',
          '  virtio-iommu:',
          '    page-size-mask: 0',
          '    input-range: { start: 0x2000, end: 0x1000 }',
          '    domain-range: { start: 0, end: 0x100000000 }',
          '    reserved-regions:',
          '      - { start: 0x1000, size: 4K, end: 0x1fff }',
          '      - { start: 0x1000, type: doorbell, size: 4K }',
          '    batch: true',
          'steps: []',
        ),
      ),
    ).toEqual([
      'test.yaml:3: config.virtio-iommu.page-size-mask: page-size-mask must have a bit set and fit 64 bits, got 0',
      'test.yaml:4: config.virtio-iommu.input-range: start 0x2000 is above end 0x1000',
      'test.yaml:5: config.virtio-iommu.domain-range.end: expected a domain id from 0 to 4294967295, got 4294967296',
      'test.yaml:7: config.virtio-iommu.reserved-regions[0]: a reserved region takes either end (inclusive) or size',
      'test.yaml:8: config.virtio-iommu.reserved-regions[1].type: expected msi or reserved, got "doorbell"',
      'test.yaml:9: config.virtio-iommu.batch: unknown key "batch"; config.virtio-iommu takes page-size-mask, input-range, domain-range, bypass, batching, backend or reserved-regions',
    ]);
  });

  it("reports what the device refuses as config.virtio-iommu errors (the model's parameter checks)", () => {
    const fails = (...lines: string[]): string => {
      try {
        new ScenarioRunner(load(yaml('platform: riscv-virt-virtio-iommu', 'config:', '  virtio-iommu:', ...lines, 'steps: []')));
      } catch (e) {
        if (e instanceof ScenarioError) return e.message;
        throw e;
      }
      throw new Error('the machine was built');
    };
    expect(fails('    page-size-mask: 0x800')).toBe('test.yaml:3: config.virtio-iommu: virtio-iommu parameters: page_size_mask 0x800: this model needs a granule of at least 4 KiB');
    expect(fails('    reserved-regions: [{ endpoint: 0x42, start: 0x1000, size: 4K }]')).toMatch(/^test\.yaml:3: config\.virtio-iommu: .*endpoint 0x42 has reserved regions but is no endpoint of a virtio-iommu of this machine \(endpoints: 0x1, 0x8, 0x10, 0x11\)$/);
    // 5.13.6.8.1.2: the device SHOULD NOT present more than one MSI region per endpoint.
    expect(fails('    reserved-regions: [{ start: 0x1000, size: 4K, type: msi }, { start: 0x9000, size: 4K, type: msi }]')).toMatch(/more than one MSI region/);
  });
});
