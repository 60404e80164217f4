// The command line on the VM guest platform: `iommu-lab scenarios` lists vfio-tour, `run`
// reports the guest's virtio-iommu and the host's RISC-V IOMMU, and `explain` follows the
// request to the IOMMU that translates it, which config.virtio-iommu.backend decides (with
// `host`, the host IOMMU's fault record, RISC-V IOMMU spec 4.2, reaches the host kernel).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { builtinScenarioFile } from '../../src/scenario/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-vfio-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** vfio-tour with the host backend, as a user's copy of it. */
const hostTour = join(tmp, 'vfio-host.yaml');
writeFileSync(hostTour, readFileSync(builtinScenarioFile('vfio-tour')!, 'utf8').replace(/^ {4}backend: none$/m, '    backend: host'));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  const code = await runCli(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('iommu-lab on the VM guest platform', () => {
  it('lists vfio-tour and runs it, reporting both IOMMUs', async () => {
    expect((await run('scenarios')).out).toMatch(/^vfio-tour +a guest on riscv-virt-vfio-guest/m);
    const r = await run('run', 'vfio-tour');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('virtio-iommu backend: none');
    expect(r.out).toMatch(/^virtio-iommu 10001000\.virtio_mmio/m);
    expect(r.out).toMatch(/^RISC-V IOMMU 3010000\.iommu/m);
    expect(r.out).toMatch(/^ {2}3020000\.dma-controller +read at 0x40000000 +cause 2 +MAPPING.*\(10001000\.virtio_mmio\)$/m);
  });

  it('with the host backend, the fault list names the host IOMMU', async () => {
    const r = await run('run', hostTour);
    expect(r.code).toBe(0);
    expect(r.out).toContain('virtio-iommu backend: host');
    expect(r.out).toMatch(/^ {2}3020000\.dma-controller +read at 0x40000000 +cause 13 +Read page fault +\(3010000\.iommu\)$/m);
  });

  it("explain with the host backend walks the host IOMMU's page table, and its fault reaches the host kernel", async () => {
    const ok = await run('explain', hostTour, '--device', 'dma1', '--iova', '0x40000000', '--json');
    expect(ok.err).toBe('');
    expect(JSON.parse(ok.out)).toMatchObject({ architecture: 'RISC-V IOMMU', iommu: '/soc/iommu@3010000', deviceId: 2, result: { ok: true, pageSize: '0x200000' } });
    const fault = await run('explain', hostTour, '--device', 'dma0', '--iova', '0x40000000', '--write', '--json');
    expect(JSON.parse(fault.out)).toMatchObject({ deviceId: 1, result: { ok: false, cause: 15 }, reported: { device: '3020000.dma-controller', cause: 15, iommu: '3010000.iommu' } });
  });

  it('explain without it asks the virtio-iommu, under the endpoint id', async () => {
    const r = await run('explain', 'vfio-tour', '--device', 'dma1', '--iova', '0x40000000', '--json');
    expect(JSON.parse(r.out)).toMatchObject({ architecture: 'virtio-iommu', iommu: '/soc/virtio_mmio@10001000', deviceId: 0x11, result: { ok: true } });
  });
});
