// The command on the hypervisor platform: `iommu-lab run xen-passthrough-tour` (text and JSON),
// `platforms` and `inspect` listing rcar-gen3-xen and what it boots, `explain` of a DMA master
// behind an IPMMU (the stage-2 walk of its guest's P2M), and a hypervisor scenario's failing
// step as one error line with exit status 1.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-xen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  const code = await runCli(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('iommu-lab on rcar-gen3-xen', () => {
  it('runs xen-passthrough-tour by name and prints the hypervisor report', async () => {
    const r = await cli('run', 'xen-passthrough-tour');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^scenario: xen passthrough tour \(.*xen-passthrough-tour\.yaml\)\n/);
    expect(r.out).toContain('platform: rcar-gen3-xen (built-in), seed 1\n');
    expect(r.out).toContain('steps: 33 of 33 run\n');
    expect(r.out).toContain('\nIPMMU-VMSA ipmmu_mm (root) (/soc/iommu@e67b0000)\n');
    expect(r.out).toContain('\nhypervisor: Xen, IOMMU driver ipmmu-vmsa\n');
    expect(r.out).toMatch(/result: ok\n$/);
  });

  it('prints the same run as JSON with the hypervisor section and no kernel', async () => {
    const r = await cli('run', 'xen-passthrough-tour', '--json', '--seed', '3');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { scenario: { seed: string }; kernel: unknown; hypervisor: { domains: { name: string; dma: { transfers: number } }[] }; workloads: { guest: string }[] };
    expect(json.scenario.seed).toBe('0x3');
    expect(json.kernel).toBeNull();
    expect(json.hypervisor.domains.filter((d) => d.name === 'b').map((d) => d.dma.transfers)).toEqual([2, 2001]);
    expect(json.workloads.map((w) => w.guest)).toEqual(['b']);
  });

  it('lists the platform and the scenario, and inspect says the tree boots Xen', async () => {
    expect((await cli('platforms')).out).toMatch(/^rcar-gen3-xen +R-Car Gen3-like board booting the Xen-style hypervisor/m);
    expect((await cli('scenarios')).out).toMatch(/^xen-passthrough-tour +Xen-style hypervisor on rcar-gen3-xen/m);
    const text = await cli('inspect', 'rcar-gen3-xen');
    expect(text.code).toBe(0);
    expect(text.out).toContain('boots: the Xen hypervisor (/chosen has xen,xen-bootargs or a multiboot module)\n');
    expect(text.out).toContain('IOMMUs: 4, endpoints with iommus: 5, host bridges: 0\n');
    expect(text.out).toContain('  main IPMMU: /soc/iommu@e67b0000 (interrupt bit 2)\n');
    const json = JSON.parse((await cli('inspect', 'rcar-gen3-xen', '--json')).out) as { boots: string };
    expect(json.boots).toBe('xen');
    expect((JSON.parse((await cli('inspect', 'arm-virt', '--json')).out) as { boots: string }).boots).toBe('kernel');
  });

  it('explains a translation of a device behind an IPMMU, descriptor by descriptor', async () => {
    const r = await cli('explain', 'xen-passthrough-tour', '--device', 'dmac4', '--iova', '0x40000000', '--cold');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^read of IOVA 0x40000000 by \/soc\/dma@ee000000 \(device id 0x0\) at the IPMMU-VMSA \/soc\/iommu@e6570000 \(mode micro-TLB 0 -> context 3 \(d3 \(b\)\)\)\n/);
    expect(r.out).toContain('caches: TLB of /soc/iommu@e6570000 miss (main TLB of /soc/iommu@e67b0000), main TLB of /soc/iommu@e67b0000 miss (table walk)\n');
    expect(r.out).toMatch(/1\. read {2}stage-2 descriptor \(context 3\), level 1 .*\n {6}Valid=1 Table=1 -> next-level table at 0x[0-9a-f]+\n/);
    expect(r.out).toMatch(/2\. read {2}stage-2 descriptor \(context 3\), level 2 .*\n {6}Valid=1 .*S2AP=3 .*AF=1 -> block: 2 MiB at 0x[0-9a-f]+, read\/write\n/);
    expect(r.out).toMatch(/result: translated to 0x[0-9a-f]+ \(in a 2 MiB translation\), permissions: read\/write\n$/);
    const pasid = await cli('explain', 'xen-passthrough-tour', '--device', 'dmac4', '--iova', '0x40000000', '--pasid', '1');
    expect(pasid.code).toBe(1);
    expect(pasid.err).toBe('iommu-lab: --pasid: an IPMMU-VMSA request carries no PASID (a micro-TLB selects one context)\n');
  });

  it('ends a failing hypervisor step with its line and exit status 1, after the report', async () => {
    const file = join(tmp, 'fails.yaml');
    writeFileSync(file, 'hypervisor: xen\nsteps:\n  - guest: { name: g, memory: 2M, devices: [dmac1] }\n  - dma: { guest: g, device: dmac1, op: read, src: 0x90000000, length: 8 }\n');
    const r = await cli('run', file);
    expect(r.code).toBe(1);
    expect(r.out).toContain('result: FAILED at steps[1]\n');
    expect(r.err).toMatch(/^iommu-lab: .*fails\.yaml:4: steps\[1\]: expectation failed: read of 8 B at 0x90000000 by \/soc\/dma@e7300000 for d1 \(g\) failed: aborted at DMA address 0x90000000 \(read\) after 0 bytes; IPMMU: translation fault at IPA 0x90000000 in d1 \(g\)/);
  });
});
