// The report of a hypervisor run (xen-passthrough-tour): the IPMMUs through their adapter in the
// neutral IommuReport shape (transactions by outcome, faults by IMSTR bit, TLBs in all and per
// context, the root's walks, no commands), and the hypervisor's section (domains with their DMA,
// faults, flushes and P2M changes; context banks; faults with domain and devices) as text and
// as JSON.

import { describe, expect, it } from 'vitest';
import { loadBuiltinPlatform } from '../../src/platform/builtin/index.js';
import { parseDts } from '../../src/platform/dts/index.js';
import { formatReport, formatReportJson, toJsonValue } from '../../src/report/index.js';
import { builtinScenarioFile, loadScenario, ScenarioRunner } from '../../src/scenario/index.js';
import { named, runOk, yaml } from '../scenario/helpers.js';

const run = new ScenarioRunner(loadScenario(builtinScenarioFile('xen-passthrough-tour') ?? '', { name: 'xen-passthrough-tour.yaml' })).run();
const report = run.report;
const text = formatReport(report);

describe('IPMMUs in the iommus section', () => {
  it('counts every transaction once, by outcome', () => {
    for (const i of report.iommus) {
      const k = named(i.translations.byKind);
      expect(i.translations.total).toBe(k['translated'] + k['bypassed'] + k['faulted'] + k['aborted']);
      expect(i.commands).toEqual([]);
      expect(i.driver).toBeNull();
    }
    // Every transaction of the tour entered through a cache IPMMU: none through the root's own micro-TLBs.
    expect(report.iommus[0].translations.total).toBe(0);
    const caches = report.iommus.slice(1).reduce((n, i) => n + i.translations.total, 0);
    // Walks per translation are over the transactions the root's walks serve: its whole tree's.
    expect(report.iommus[0].walks.perTranslation).toBeCloseTo(report.iommus[0].walks.total / caches, 12);
  });

  it("records faults in the root's IMSTR (nothing lost: each fault was cleared before the next)", () => {
    const root = report.iommus[0];
    expect(root.faults).toMatchObject({ detected: 5, recorded: 5, dropped: 0, queue: "context's IMSTR" });
    for (const cache of report.iommus.slice(1)) expect(cache.faults.detected).toBe(0);
    // The faulted transactions are counted where they entered: 1 through IPMMU-DS0 (dmac3), 4 through IPMMU-DS1.
    expect(report.iommus.map((i) => named(i.translations.byKind)['faulted'])).toEqual([0, 1, 4, 0]);
  });

  it("lists each IPMMU's TLB in all, then per context used, the per-context rows adding up to the whole", () => {
    for (const i of report.iommus) {
      const [all, ...contexts] = i.caches;
      expect(all.name).toBe('TLB');
      for (const c of contexts) expect(c.name).toMatch(/^TLB, context \d$/);
      expect(contexts.reduce((n, c) => n + c.lookups, 0)).toBe(all.lookups);
      expect(contexts.reduce((n, c) => n + c.invalidations, 0)).toBe(all.invalidations);
    }
  });
});

describe('the hypervisor section', () => {
  it('prints the domains with their DMA, faults, flushes and P2M changes', () => {
    expect(text).toMatch(/\nhypervisor: Xen, IOMMU driver ipmmu-vmsa\n/);
    expect(text).toMatch(/\n {4}d1 \(a\) +dead +0 B +1 +8\.00 KiB +1 +1 +1 +\d+ +0 +-\n/);
    expect(text).toMatch(/\n {4}d3 \(b\) +running +16\.00 MiB +2001 +7\.83 MiB +0 +0 +2 +\d+ +0 +\/soc\/dma@e7310000, \/soc\/dma@ee000000\n/);
    expect(text).toMatch(/\n {4}dom_io +running +0 B +0 +0 B +0 +3 +/);
  });

  it('prints the context banks of the root with their owners and the peak', () => {
    expect(text).toContain('    /soc/iommu@e67b0000: 4 of 8 in use (at most 5 at once)\n');
    expect(text).toMatch(/\n {6}context 0 +reserved\n {6}context 1 +dom_io\n {6}context 2 +d0 \(Domain-0\)\n {6}context 3 +d3 \(b\)\n/);
  });

  it('prints the faults with domain, devices, kind and address, and the TLB flushes per IPMMU', () => {
    expect(text).toContain('  faults (5)\n');
    expect(text).toMatch(/\n {4}d2 \(b\) +\/soc\/dma@e7310000, \/soc\/dma@ee000000 +permission fault at IPA 0x40000000 +context 4 of \/soc\/iommu@e67b0000\n/);
    const f = report.hypervisor!.flushes;
    expect(text).toContain(`IOMMU TLB flushes  ${f.requested} requested; /soc/iommu@e67b0000: IMCTR.FLUSH ${f.byIommu[0].contextFlushes}`);
    // The hypervisor flushes the root and every cache IPMMU its domain uses: the root sees each request.
    expect(f.byIommu[0].contextFlushes).toBeGreaterThanOrEqual(f.requested);
  });

  it('prints the devices and the workload in guest b', () => {
    expect(text).toMatch(/\n {2}\/soc\/dma@ee000000 +2000 +7\.81 MiB +0 +0\n/);
    expect(text).toContain('  [32] "streaming copy in b" on /soc/dma@ee000000 in guest b: 2000 copy buffers (random), 7.81 MiB, 2000 verified\n');
    expect(text).not.toMatch(/\nkernel\n/);
  });

  it('is stable JSON: kernel null, addresses as hex strings, the same bytes for the same run but wall time', () => {
    const json = toJsonValue(report) as { kernel: unknown; hypervisor: { faults: { list: { address: string }[] }; domains: { label: string }[] } };
    expect(json.kernel).toBeNull();
    expect(json.hypervisor.faults.list[2].address).toBe('0x40000000');
    expect(json.hypervisor.domains.map((d) => d.label)).toEqual(['d0 (Domain-0)', 'd1 (a)', 'd2 (b)', 'd3 (b)', 'dom_io']);
    const again = new ScenarioRunner(loadScenario(builtinScenarioFile('xen-passthrough-tour') ?? '', { name: 'xen-passthrough-tour.yaml' })).run().report;
    const strip = (s: string) => s.replace(/"wallMs": [0-9.e+-]+/, '"wallMs": 0');
    expect(strip(formatReportJson(again))).toBe(strip(formatReportJson(report)));
  });

  it('says "none" for context banks when no IPMMU registered', () => {
    // The root IPMMU without its interrupt: its probe fails ("no IRQ found"), so does every cache IPMMU's.
    const tree = parseDts(`${loadBuiltinPlatform('rcar-gen3-xen').source}\n&ipmmu_mm { /delete-property/ interrupts; };`);
    const r = runOk(yaml('hypervisor: xen', 'steps: []'), { platform: { tree, description: 'rcar-gen3-xen without the IPMMU interrupt' } });
    expect(r.report.hypervisor?.contexts).toEqual([]);
    expect(formatReport(r.report)).toContain('  context banks\n    none\n');
  });
});
