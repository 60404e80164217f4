// Scenarios on a VM guest platform (riscv-virt-vfio-guest): the runner builds the host + guest
// pair and runs the steps on the guest's kernel; config.virtio-iommu.backend chooses whether the
// host's RISC-V IOMMU translates the assigned engines (the guest's MAP/UNMAP requests, VIRTIO
// 1.3 5.13.6.6-7, mirrored onto it: page-table updates, IOTINVAL.VMA + IOFENCE.C, RISC-V IOMMU
// spec 3.1) or the virtio-iommu does. The built-in vfio-tour runs both ways.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinScenarioFile, explainTranslation, listBuiltinScenarios, parseAddressText, ScenarioError, ScenarioRunner } from '../../src/scenario/index.js';
import { load, named, runOk, yaml, type Ran } from './helpers.js';

const TOUR = builtinScenarioFile('vfio-tour')!;

/** The built-in vfio-tour with `backend` set (the file says none). */
function tour(backend: 'none' | 'host'): Ran {
  const text = readFileSync(TOUR, 'utf8').replace(/^ {4}backend: none$/m, `    backend: ${backend}`);
  expect(text).toContain(`    backend: ${backend}\n`);
  return runOk(text);
}

const none = tour('none');
const host = tour('host');

describe('vfio-tour, with and without the host backend', () => {
  it('is listed with the built-in scenarios', () => {
    expect(listBuiltinScenarios().map((s) => s.name)).toContain('vfio-tour');
  });

  it("runs on the guest's kernel, and reports the guest's virtio-iommu and the host's RISC-V IOMMU", () => {
    for (const r of [none, host]) {
      expect(r.runner.vm).not.toBeNull();
      expect(r.runner.kernel).toBe(r.runner.vm?.guest);
      expect(r.report.iommus.map((i) => [i.architecture, i.node])).toEqual([
        ['virtio-iommu', '/soc/virtio_mmio@10001000'],
        ['RISC-V IOMMU', '/soc/iommu@3010000'],
      ]);
      expect(r.report.steps.every((s) => s.status === 'ok')).toBe(true);
    }
    expect(none.report.scenario.platform).toBe('riscv-virt-vfio-guest (built-in), guest of riscv-virt-vfio-host (built-in), virtio-iommu backend: none');
    expect(host.report.scenario.platform).toMatch(/virtio-iommu backend: host$/);
  });

  it('backend none: the virtio-iommu translates and reports the faults (MAPPING, 5.13.6.9); the host IOMMU translates nothing', () => {
    const [viommu, riscv] = none.report.iommus;
    expect(viommu.translations.total).toBeGreaterThan(64000);
    expect(viommu.faults.byCause).toEqual([{ cause: 2, name: 'MAPPING', count: 2 }]);
    expect(riscv.translations.total).toBe(0);
    expect(riscv.faults.detected).toBe(0);
    // Only the host driver's own probe-time commands: nothing for the guest's UNMAPs.
    expect(named(riscv.commands)['IOTINVAL.VMA']).toBe(1);
    expect(none.report.faults.list.map((f) => [f.device, f.cause, f.iommu])).toEqual([
      ['3020000.dma-controller', 2, '10001000.virtio_mmio'],
      ['3021000.dma-controller', 2, '10001000.virtio_mmio'],
    ]);
  });

  it("backend host: the host IOMMU translates, and the guest's UNMAPs become IOTINVAL.VMA and IOFENCE.C on it", () => {
    const [viommu, riscv] = host.report.iommus;
    expect(viommu.translations.total).toBe(0);
    expect(riscv.translations.total).toBe(none.report.iommus[0].translations.total);
    // Read page fault (cause 13) in the host's fault queue; the guest's kernel hears of none.
    expect(riscv.faults.byCause).toEqual([{ cause: 13, name: 'Read page fault', count: 2 }]);
    expect(host.report.kernel?.faults.reported).toBe(0);
    expect(host.report.faults.list.map((f) => [f.device, f.cause, f.iommu])).toEqual([
      ['3020000.dma-controller', 13, '3010000.iommu'],
      ['3021000.dma-controller', 13, '3010000.iommu'],
    ]);
    // Each guest UNMAP (the same requests both ways) is at least one host IOTINVAL.VMA and one IOFENCE.C.
    const unmaps = named(viommu.commands).UNMAP;
    expect(unmaps).toBe(named(none.report.iommus[0].commands).UNMAP);
    expect(named(riscv.commands)['IOTINVAL.VMA']).toBeGreaterThan(unmaps);
    expect(named(riscv.commands)['IOFENCE.C']).toBeGreaterThan(unmaps);
    expect(riscv.caches[0]).toMatchObject({ name: 'IOTLB' });
    expect(riscv.caches[0].hits).toBeGreaterThan(0);
  });

  it("the workload measures the IOMMU that translates: UNMAP requests, or the host's IOTINVAL commands and IOTLB", () => {
    const w0 = none.report.workloads[0];
    const w1 = host.report.workloads[0];
    expect(w0.translations).toBe(64000);
    expect(w0.tlbHitRate).toBeNull();
    expect(w0.invalidationCommands).toBe(1000);
    expect(w1.translations).toBe(64000);
    expect(w1.tlbHitRate).toBeGreaterThan(0.9);
    // One IOTINVAL.VMA by page per 4 KiB unmap, each waited for with IOFENCE.C.
    expect(w1.invalidationCommands).toBe(1000);
    expect(w1.syncs).toBe(1000);
  });
});

describe('explain on the pair', () => {
  const request = { device: 'dma1', iova: parseAddressText('0x40000000')!, write: false, pasid: null, cold: false };

  it("backend host: the host IOMMU walks its page table under the engine's host device id", () => {
    const e = explainTranslation(host.runner, request);
    expect(e).toMatchObject({ architecture: 'RISC-V IOMMU', iommu: '/soc/iommu@3010000', deviceId: 2 });
    expect(e.result).toMatchObject({ ok: true, physical: host.runner.buffers.get('big')?.paddr, pageSize: 2n << 20n });
  });

  it('backend none: the virtio-iommu looks the endpoint up in its domains', () => {
    const e = explainTranslation(none.runner, request);
    expect(e).toMatchObject({ architecture: 'virtio-iommu', iommu: '/soc/virtio_mmio@10001000', deviceId: 0x11 });
    expect(e.result).toMatchObject({ ok: true, physical: none.runner.buffers.get('big')?.paddr });
  });
});

describe('config.virtio-iommu.backend', () => {
  it('on a platform that is not a VM guest is a ScenarioError naming its line', () => {
    const text = yaml('platform: riscv-virt-virtio-iommu', 'config:', '  virtio-iommu:', '    backend: host', 'steps: []');
    expect(() => new ScenarioRunner(load(text))).toThrow(ScenarioError);
    expect(() => new ScenarioRunner(load(text))).toThrow(/test\.yaml:4: config\.virtio-iommu\.backend: .*riscv-virt-virtio-iommu \(built-in\) is not a VM guest \(use platform: riscv-virt-vfio-guest\)/);
  });

  it('takes host or none only', () => {
    expect(() => load(yaml('platform: riscv-virt-vfio-guest', 'config:', '  virtio-iommu:', '    backend: vfio', 'steps: []'))).toThrow(/backend/);
  });

  it('defaults to none on the guest platform, and endpoint reserved regions reach the guest\'s endpoints', () => {
    const r = runOk(yaml('platform: riscv-virt-vfio-guest', 'config:', '  virtio-iommu:', '    reserved-regions: [{ start: 0x28000000, size: 4K, type: msi, endpoint: 0x11 }]', 'steps: []'));
    expect(r.runner.vm?.backend).toBeNull();
    expect(r.runner.vm?.viommu.params.endpoints.map((e) => [e.id, e.reservedRegions.length])).toEqual([
      [0x10, 0],
      [0x11, 1],
    ]);
  });

  it('an endpoint the guest does not have is a config error', () => {
    const text = yaml('platform: riscv-virt-vfio-guest', 'config:', '  virtio-iommu:', '    reserved-regions: [{ start: 0x28000000, size: 4K, type: msi, endpoint: 0x3 }]', 'steps: []');
    expect(() => new ScenarioRunner(load(text))).toThrow(/config\.virtio-iommu: virtio-iommu parameters: endpoint 0x3 has reserved regions but is no endpoint of the guest's virtio-iommu/);
  });
});
