// Platforms and config (docs/scenarios.md "Platform", config keys): built-in platforms, DTS and
// DTB files relative to the scenario file, the --platform override, and the parameters the
// config gives the models and the kernel.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceTreeError } from '../../src/formats/devicetree/tree.js';
import { writeDtb } from '../../src/formats/dtb/index.js';
import { parseDts } from '../../src/platform/dts/index.js';
import { loadBuiltinPlatform } from '../../src/platform/builtin/index.js';
import { loadScenario, ScenarioError, ScenarioRunner } from '../../src/scenario/index.js';
import { FIXTURES, load, run, runOk, yaml } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-platform-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('platforms', () => {
  it('runs on a DTS file named relative to the scenario file', () => {
    const { report } = new ScenarioRunner(loadScenario(join(FIXTURES, 'mini-dts.yaml'))).run();
    expect(report.outcome.ok).toBe(true);
    expect(report.scenario.platform).toBe('boards/mini-riscv.dts');
    expect(report.unmodelled).toEqual(['/soc/serial@1030000']);
    expect(report.iommus.map((i) => i.name)).toEqual(['1000000.iommu']);
    expect(report.faults.list).toMatchObject([{ device: '1020000.dma', cause: 13 }]);
  });

  it('runs on a DTB file named relative to the scenario file', () => {
    const dts = readFileSync(join(FIXTURES, 'boards/mini-riscv.dts'), 'utf8');
    writeFileSync(join(tmp, 'board.dtb'), writeDtb(parseDts(dts)));
    const scenario = readFileSync(join(FIXTURES, 'mini-dts.yaml'), 'utf8').replace('{ dts: boards/mini-riscv.dts }', '{ dtb: board.dtb }');
    writeFileSync(join(tmp, 'mini-dtb.yaml'), scenario);
    // Labels are not in a DTB: the scenario names the engines by path and kernel name instead.
    const byName = scenario.replaceAll('device: left', 'device: /soc/dma@1010000').replaceAll('device: right', 'device: 1020000.dma');
    writeFileSync(join(tmp, 'mini-dtb.yaml'), byName);
    const { report, error } = new ScenarioRunner(loadScenario(join(tmp, 'mini-dtb.yaml'))).run();
    expect(error).toBeNull();
    expect(report.scenario.platform).toBe('board.dtb');
    expect(report.expectations).toEqual({ checked: 4, passed: 4, failed: 0 });
  });

  it('names the platform line when the file cannot be read, and lets device-tree errors name their own', () => {
    expect(() => new ScenarioRunner(load(yaml('name: x', 'platform: { dts: boards/none.dts }', 'steps: []')))).toThrow(
      new ScenarioError([`test.yaml:2: platform: cannot read DTS file ${join(FIXTURES, 'boards/none.dts')}: no such file`]),
    );
    writeFileSync(join(tmp, 'broken.dts'), '/dts-v1/;\n/ { oops };\n');
    expect(() => new ScenarioRunner(load(yaml('platform: { dts: broken.dts }', 'steps: []'), 'x.yaml', tmp))).toThrow(DeviceTreeError);
    expect(() => new ScenarioRunner(load(yaml('platform: { dts: broken.dts }', 'steps: []'), 'x.yaml', tmp))).toThrow(/^broken\.dts:2:/);
  });

  it('runs a built-in platform given as { builtin: NAME }: the IOMMU as a PCI function', () => {
    const r = runOk(yaml('platform: { builtin: riscv-virt-pci-iommu }', 'steps:', '  - dma: { device: 0000:00:02.0, op: read, src: 0x1000, length: 8, expect: fault }', '  - expect: { faults: { cause: 13, count: 1 } }'));
    expect(r.report.iommus[0].node).toContain('/pci@');
  });

  it('replaces the platform with RunOptions.platform (the CLI --platform)', () => {
    const tree = loadBuiltinPlatform('riscv-virt-pci-iommu').tree;
    const r = runOk(yaml('steps: []'), { platform: { tree, description: 'override' } });
    expect(r.report.scenario.platform).toBe('override');
    expect(r.report.iommus[0].node).toContain('/pci@');
  });
});

describe('config', () => {
  it('sizes the caches and chooses the paging modes of every RISC-V IOMMU model', () => {
    const r = runOk(
      yaml(
        'config:',
        '  riscv-iommu:',
        '    capabilities: { Sv57: false, PAS: 48 }',
        '    directory-levels: 2',
        '    caches: { iotlb: { sets: 4, ways: 2 }, device-contexts: { sets: 2, ways: 1 }, process-contexts: { sets: 1, ways: 1 } }',
        'steps:',
        '  - domain: { name: d, device: 0000:00:01.0 }',
      ),
    );
    const iommu = r.runner.machine.iommus[0];
    if (iommu.kind !== 'riscv-iommu') throw new Error('riscv-virt has a RISC-V IOMMU');
    const params = iommu.model.params;
    expect(params.caches).toEqual({ iotlb: { sets: 4, ways: 2 }, deviceContexts: { sets: 2, ways: 1 }, processContexts: { sets: 1, ways: 1 } });
    expect(params.maxDirectoryLevels).toBe(2);
    expect(params.capabilities).toMatchObject({ Sv57: false, Sv48: true, PAS: 48 });
    expect(r.runner.domains.get('d')?.domain.name).toContain('Sv48'); // the widest mode left
  });

  it('gives devices identity default domains with default-domain: passthrough', () => {
    const r = runOk(yaml('config: { kernel: { default-domain: passthrough } }', 'steps:', '  - alloc: { name: a, size: 4K }', '  - dma-map: { name: m, device: dma0, buffer: a, size: 4K }'));
    const m = r.runner.mappings.get('m');
    expect(m?.dma).toBe(m?.paddr);
    expect(r.runner.kernel.iommu.domainOf(r.runner.device('dma0'))?.type).toBe('identity');
  });

  it('makes DMA take simulated time with dma-engine bytes-per-cycle', () => {
    const text = (bpc: number) => yaml(`config: { dma-engine: { bytes-per-cycle: ${bpc} } }`, 'steps:', '  - alloc: { name: a, size: 4K }', '  - alloc: { name: b, size: 4K }', '  - dma-map: { name: s, device: dma0, buffer: a, size: 4K }', '  - dma-map: { name: d, device: dma0, buffer: b, size: 4K }', '  - dma: { device: dma0, op: copy, src: s, dst: d, length: 4K }');
    expect(runOk(text(0)).report.time.cycles).toBe(0);
    expect(runOk(text(8)).report.time.cycles).toBeGreaterThanOrEqual(4096 / 8);
  });

  it('reports model parameters the specification forbids at the config line', () => {
    expect(() => new ScenarioRunner(load(yaml('steps: []', 'config:', '  riscv-iommu:', '    capabilities: { Sv39: false }')))).toThrow(
      new ScenarioError(['test.yaml:3: config.riscv-iommu: RISC-V IOMMU parameters: Sv48 requires Sv39 (capabilities register rules)']),
    );
  });

  it('runs the example of docs/scenarios.md as written', () => {
    const r = new ScenarioRunner(loadScenario(join(FIXTURES, 'isolation.yaml'))).run();
    expect(r.error).toBeNull();
    expect(r.report.scenario).toMatchObject({ name: 'isolation', seed: 42n });
    expect(r.report.faults.list).toMatchObject([{ device: '0000:00:02.0', cause: 13, iova: 0x100000n }]);
    expect(r.report.time.cycles).toBeGreaterThan(0); // 8 bytes per cycle
    expect(run(yaml('steps: []')).report.time.cycles).toBe(0);
  });
});
