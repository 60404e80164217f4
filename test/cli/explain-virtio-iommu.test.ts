// `iommu-lab explain` on a virtio-iommu (virtio-iommu-tour): no memory is read, since the
// device keeps its domains and mappings itself (VIRTIO 1.3 5.13.6.3 ATTACH, 5.13.6.5 MAP);
// the explanation names the endpoint's domain and the mapping the lookup finds, and a fault
// is the device's own, reported on its event queue (5.13.6.9).
import { describe, expect, it } from 'vitest';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

interface Json {
  architecture: string;
  deviceId: number;
  iommu: string;
  iommuMode: string;
  caches: unknown[];
  accesses: unknown[];
  notes: string[];
  result: { ok: true; physical: string; pageSize: string; permissions: string } | { ok: false; cause: number; causeName: string; why: string };
  reported: { device: string; cause: number; iova: string; write: boolean } | null;
}

async function explain(...argv: string[]): Promise<Json> {
  const io = bufferIo();
  const code = await runCli(['explain', 'virtio-iommu-tour', ...argv, '--json'], io);
  expect(io.stderr()).toBe('');
  expect(code).toBe(0);
  return JSON.parse(io.stdout()) as Json;
}

describe('iommu-lab explain on a virtio-iommu', () => {
  it('translates through the 2 MiB mapping of the VFIO-style domain, reading nothing', async () => {
    const e = await explain('--device', '0000:00:01.0', '--iova', '0x40000040');
    expect(e).toMatchObject({ architecture: 'virtio-iommu', deviceId: 0x8, iommu: '/soc/virtio_mmio@10001000', caches: [], accesses: [] });
    expect(e.iommuMode).toBe('ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK, config.bypass 0');
    expect(e.result).toMatchObject({ ok: true, pageSize: '0x200000', permissions: 'read, write' });
    if (e.result.ok) expect(BigInt(e.result.physical) & 0x1fffffn).toBe(0x40n);
    expect(e.notes[0]).toMatch(/^endpoint 0x8: attached to domain \d+, which has 1 mapping$/);
    expect(e.notes[1]).toMatch(/^the interval lookup finds 0x40000000\.\.0x401fffff -> 0x[0-9a-f]+ \(read, write\)$/);
    expect(e.notes).toContain('MSI window of the endpoint (RESV_MEM MSI): 0x28000000..0x28000fff, passed untranslated when no mapping covers it');
    expect(e.notes.at(-1)).toMatch(/not in guest memory: the translation read nothing/);
    expect(e.reported).toBeNull();
  });

  it("says why the other function's write faults: MAPPING, and the report reached the driver through the event queue", async () => {
    const e = await explain('--device', '0000:00:02.0', '--iova', '0x40000000', '--write');
    expect(e.result).toMatchObject({ ok: false, cause: 2, causeName: 'MAPPING' });
    if (!e.result.ok) expect(e.result.why).toMatch(/^no mapping of domain \d+ contains 0x40000000; the device keeps/);
    expect(e.reported).toMatchObject({ device: '0000:00:02.0', cause: 2, iova: '0x40000000', write: true });
  });

  it('lets a write to the MSI window through untranslated (RESV_MEM MSI, 5.13.6.8.1)', async () => {
    const e = await explain('--device', 'dma0', '--iova', '0x28000000', '--write');
    expect(e.deviceId).toBe(0x1);
    expect(e.result).toEqual({ ok: true, physical: '0x28000000', pageSize: '0x1000', permissions: 'MSI doorbell (untranslated)' });
  });

  it('prints the request, the result and the reason as text', async () => {
    const io = bufferIo();
    expect(await runCli(['explain', 'virtio-iommu-tour', '--device', '0000:00:02.1', '--iova', '0x1000', '--cold'], io)).toBe(0);
    const lines = io.stdout().split('\n');
    expect(lines[0]).toBe('read of IOVA 0x1000 by 0000:00:02.1 (device id 0x11) at the virtio-iommu /soc/virtio_mmio@10001000 (mode ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK, config.bypass 0)');
    expect(lines).toContain('result: fault, cause 2 (MAPPING)');
    expect(lines).toContain('the fault record reached the driver, which reported it to the kernel (0000:00:02.1, cause 2)');
  });

  it('refuses the virtio-iommu-pci function itself: its own DMA is not translated', async () => {
    const io = bufferIo();
    const code = await runCli(['explain', 'virtio-iommu-tour', '--platform', 'riscv-virt-virtio-iommu-pci', '--device', '0000:00:01.0', '--iova', '0x1000'], io);
    expect(code).toBe(1);
    expect(io.stderr()).toMatch(/0000:00:01\.0: its DMA is not translated by an IOMMU model of this machine/);
  });
});
