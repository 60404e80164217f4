// Scenarios on the Arm SMMUv3 (arm-virt): the built-in tour, with the report in the same shape
// as the RISC-V IOMMU's, and config.smmuv3 reaching the model (IHI 0070 IDR fields, cache
// geometry) and changing what the driver does.
import { describe, expect, it } from 'vitest';
import { builtinScenarioFile, loadScenario, ScenarioRunner } from '../../src/scenario/index.js';
import { loadErrors, named, runOk, yaml } from './helpers.js';

const tour = new ScenarioRunner(loadScenario(builtinScenarioFile('arm-virt-tour') ?? '', { name: 'arm-virt-tour.yaml' })).run();

describe('the arm-virt tour', () => {
  it('runs every step and reports the SMMUv3 like any IOMMU', () => {
    expect(tour.error).toBeNull();
    const i = tour.report.iommus[0];
    expect(i).toMatchObject({ architecture: 'SMMUv3', node: '/iommu@9050000', name: '9050000.iommu' });
    expect(i.caches.map((c) => c.name)).toEqual(['TLB', 'STE', 'CD', 'L1 stream table descriptor', 'L1 CD descriptor']);
    for (const c of i.caches) expect(c.hits + c.misses).toBe(c.lookups);
    // Two F_TRANSLATION events (0x10, IHI 0070 7.3.12), both recorded in the event queue and reported.
    expect(i.faults).toMatchObject({ detected: 2, recorded: 2, dropped: 0, queue: 'event queue' });
    expect(i.faults.byCause).toEqual([{ cause: 0x10, name: 'F_TRANSLATION: translation fault', count: 2 }]);
    expect(tour.report.faults.list.map((f) => [f.device, f.causeName])).toEqual([
      ['0000:00:02.0', 'F_TRANSLATION: translation fault'],
      ['0000:00:01.0', 'F_TRANSLATION: translation fault'],
    ]);
  });

  it('uses ATS for the PCIe function and invalidates its ATC after the TLB on unmap', () => {
    const i = tour.report.iommus[0];
    const kinds = named(i.translations.byKind);
    // 00:01.0 asks for translations (ATS Translation Requests) and then sends Translated
    // requests, which the SMMU passes through (EATS = 1, 3.9.1).
    expect(kinds['ATS translation']).toBeGreaterThan(0);
    expect(kinds['translated']).toBeGreaterThan(0);
    const commands = named(i.commands);
    const inv = named(i.driver?.invalidations ?? []);
    expect(commands['CMD_ATC_INV']).toBe(inv['ATC_INV']);
    expect(inv['ATC_INV']).toBeGreaterThanOrEqual(1);
    expect(i.driver?.syncs).toEqual({ name: 'CMD_SYNC', count: commands['CMD_SYNC'] });
  });

  it('streams 10000 buffers with one TLBI_NH_VA and one CMD_SYNC per unmap (strict)', () => {
    const w = tour.report.workloads[0];
    expect(w).toMatchObject({ buffers: 10000, verified: 10000, invalidationCommands: 10000, syncs: 10000, translations: 640000 });
    expect(w.tlbHitRate).toBeCloseTo(63 / 64, 2);
  });
});

describe('config.smmuv3', () => {
  const steps = ['steps:', '  - workload: { device: dma0, buffers: 50, size: 16K, op: read }'];

  it('sets the model capabilities and cache geometry', () => {
    const r = runOk(yaml('platform: arm-virt', 'config:', '  smmuv3:', '    capabilities: { ril: false, asid16: false }', '    caches: { tlb: { sets: 4, ways: 2 } }', ...steps));
    const iommu = r.runner.machine.iommus[0];
    if (iommu.kind !== 'smmuv3') throw new Error('arm-virt has an SMMUv3');
    expect(iommu.model.params.capabilities).toMatchObject({ ril: false, asid16: false, stage1: true });
    expect(iommu.model.params.caches.tlb).toEqual({ sets: 4, ways: 2 });
    // Without range invalidation (IDR3.RIL = 0) the driver invalidates 16 KiB buffers leaf by leaf.
    const inv = named(r.report.iommus[0].driver?.invalidations ?? []);
    expect(inv['TLBI_NH_VA by range']).toBe(0);
    expect(inv['TLBI_NH_VA by page']).toBe(50 * 4);
  });

  it('domain-stage: s2 gives the driver stage-2 domains: STE Config stage 2, TLBI_S2_IPA on unmap (IHI 0070 5.2, 4.4.5)', () => {
    const r = runOk(yaml('platform: arm-virt', 'config:', '  smmuv3:', '    domain-stage: s2', ...steps));
    expect(r.report.workloads[0]).toMatchObject({ verified: 50 });
    const inv = named(r.report.iommus[0].driver?.invalidations ?? []);
    expect(inv['TLBI_NH_VA by range'] + inv['TLBI_NH_VA by page']).toBe(0);
    expect(inv['TLBI_S2_IPA by range'] + inv['TLBI_S2_IPA by page']).toBe(50);
    expect(named(r.report.iommus[0].walks.byKind)['stage 2']).toBeGreaterThan(0);
    expect(named(r.report.iommus[0].walks.byKind)['stage 1']).toBe(0);
  });

  it('rejects values outside the architected ranges, naming the key', () => {
    expect(loadErrors(yaml('config:', '  smmuv3:', '    capabilities: { sidBits: 40, httu: sometimes }', ...steps))).toEqual([
      'test.yaml:3: config.smmuv3.capabilities.sidBits: expected a number of StreamID bits from 0 to 32, got 40',
      'test.yaml:3: config.smmuv3.capabilities.httu: expected none, access or access-dirty, got "sometimes"',
    ]);
  });
});
