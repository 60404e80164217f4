// The report of a run: numbers that agree with each other and with what the scenario did, the
// aligned text form, and the stable JSON form (bigints as hex strings).
import { describe, expect, it } from 'vitest';
import { formatReport, formatReportJson, table, type Report } from '../../src/report/index.js';
import { defaultScenarioFile, loadScenario, ScenarioRunner } from '../../src/scenario/index.js';
import { named, runFails, yaml } from '../scenario/helpers.js';

const tour = new ScenarioRunner(loadScenario(defaultScenarioFile(), { name: 'riscv-virt-tour.yaml' })).run();
const report: Report = tour.report;

describe('the report of the default scenario', () => {
  it('ran every step and held every expectation', () => {
    expect(tour.error).toBeNull();
    expect(report.outcome).toEqual({ ok: true, failure: null });
    expect(report.steps.every((s) => s.status === 'ok')).toBe(true);
    expect(report.expectations.failed).toBe(0);
    expect(report.expectations.checked).toBe(report.expectations.passed);
  });

  it('has cache numbers that add up', () => {
    const i = report.iommus[0];
    expect(i.caches.map((c) => c.name)).toEqual(['IOTLB', 'device context', 'process context']);
    for (const c of i.caches) {
      expect(c.hits + c.misses).toBe(c.lookups);
      expect(c.hitRate).toBeCloseTo(c.lookups === 0 ? 0 : c.hits / c.lookups, 12);
    }
    // Every translation looks the IOTLB up once (no MSI, no Bare contexts here).
    expect(i.caches[0].lookups).toBe(i.translations.total);
    const kinds = named(i.translations.byKind);
    expect(i.translations.total).toBe(kinds['untranslated'] + kinds['translated'] + kinds['ATS translation']);
    // A first-stage walk follows every IOTLB miss that did not fault earlier.
    const walks = named(i.walks.byKind);
    expect(walks['first stage']).toBe(i.caches[0].misses);
    expect(i.walks.total).toBe(walks['first stage'] + walks['device directory']);
    expect(i.walks.perTranslation).toBeCloseTo(i.walks.total / i.translations.total, 12);
    expect(i.memory.readsPerTranslation).toBeCloseTo(i.memory.reads / i.translations.total, 12);
  });

  it('counts the faults the scenario expected, by cause with the specification names', () => {
    const i = report.iommus[0];
    expect(i.faults.byCause).toEqual([{ cause: 13, name: 'Read page fault', count: 2 }]);
    expect(i.faults).toMatchObject({ detected: 2, recorded: 2, dropped: 0 });
    expect(report.kernel?.faults.reported).toBe(2);
    expect(report.faults.total).toBe(2);
    expect(report.faults.list.map((f) => f.device)).toEqual(['0000:00:02.0', '0000:00:01.0']);
  });

  it('accounts for the DMA API, the commands and the devices', () => {
    const w = report.workloads[0];
    expect(w).toMatchObject({ device: '3020000.dma-controller', op: 'read', buffers: 10000, verified: 10000, dmaMaps: 10000, dmaUnmaps: 10000 });
    // 4 KiB buffers read in 64-byte transactions, one translation each: 4096 / 64 = 64 per buffer.
    expect(w.translations).toBe(10000 * 64);
    expect(report.kernel?.dma.mapped).toBe(2 + 10000);
    expect(report.kernel?.dma.unmapped).toBe(2 + 10000);
    expect(report.kernel?.dma.syncs).toBe(report.kernel?.dma.unmapped); // strict: one sync per unmap
    const commands = named(report.iommus[0].commands);
    const driver = report.iommus[0].driver;
    expect(driver).not.toBeNull();
    const inv = named(driver?.invalidations ?? []);
    // What the driver submitted is what the IOMMU executed.
    expect(driver?.syncs).toEqual({ name: 'IOFENCE.C', count: commands['IOFENCE.C'] });
    expect(commands['IOTINVAL.VMA']).toBe(inv['IOTINVAL.VMA by page'] + inv['IOTINVAL.VMA by PSCID'] + inv['IOTINVAL.VMA all']);
    expect(commands['IODIR.INVAL_DDT']).toBe(inv['IODIR.INVAL_DDT']);
    const engine = report.devices.find((d) => d.name === '3020000.dma-controller');
    expect(engine).toMatchObject({ transfers: 10001, bytes: 8192 + 10000 * 4096, errors: 0 });
    expect(report.devices.find((d) => d.name === '0000:00:02.0')).toMatchObject({ transfers: 0, errors: 1 });
  });

  it('prints aligned text sections', () => {
    const text = formatReport(report);
    const lines = text.split('\n');
    expect(lines[0]).toBe('scenario: riscv-virt tour (riscv-virt-tour.yaml)');
    expect(lines).toContain('platform: riscv-virt (built-in), seed 1');
    expect(lines).toContain(`steps: ${report.steps.length} of ${report.steps.length} run`);
    expect(lines).toContain('RISC-V IOMMU 3010000.iommu (/soc/iommu@3010000)');
    expect(text).toMatch(/\n {6}cause 13 {2}Read page fault {2}2\n/);
    const header = lines.findIndex((l) => l.trim().startsWith('lookups'));
    const iotlb = lines[header + 1];
    // Right-aligned numbers: each column ends where its header ends.
    expect(iotlb.indexOf(String(report.iommus[0].caches[0].lookups)) + String(report.iommus[0].caches[0].lookups).length).toBe(lines[header].indexOf('lookups') + 'lookups'.length);
    expect(lines.at(-2)).toBe('result: ok');
  });

  it('prints stable JSON with 64-bit values as hex strings', () => {
    const json = JSON.parse(formatReportJson(report)) as Record<string, unknown> & { scenario: { seed: string }; faults: { list: { iova: string }[] } };
    expect(json.scenario.seed).toBe('0x1');
    expect(json.faults.list[0].iova).toBe('0x40000000');
    expect(Object.keys(json)).toEqual(['scenario', 'outcome', 'steps', 'expectations', 'iommus', 'kernel', 'hypervisor', 'devices', 'workloads', 'faults', 'unmodelled', 'time']);
  });
});

describe('the report of a failed run', () => {
  it('marks the failing step and the ones not run', () => {
    const { ran } = runFails(yaml('steps:', '  - advance: { cycles: 10 }', '  - label: oops', '    expect: { faults: { count: 1 } }', '  - advance: { cycles: 10 }'));
    const r = ran.report;
    expect(r.outcome.ok).toBe(false);
    expect(r.outcome.failure).toMatchObject({ step: 1, label: 'oops', line: 3 });
    expect(r.steps.map((s) => s.status)).toEqual(['ok', 'failed', 'not run']);
    expect(r.time.cycles).toBe(10);
    const text = formatReport(r);
    expect(text).toContain('result: FAILED at steps[1]');
    expect(text).toMatch(/\[2\] {2}not run {2}advance/);
  });
});

describe('table', () => {
  it('right-aligns numeric columns and left-aligns text', () => {
    expect(table([['', 'n', 'what'], ['a', '1', 'x'], ['bb', '100', 'yy']])).toBe('        n  what\n  a     1  x\n  bb  100  yy\n');
  });
});
