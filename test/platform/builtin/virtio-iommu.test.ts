// The virtio-iommu built-in platforms: riscv-virt-virtio-iommu (the virtio-mmio binding: a
// `virtio,mmio` node with #iommu-cells at QEMU virt's first virtio-mmio slot) and
// riscv-virt-virtio-iommu-pci (the PCI binding, vendor 0x1af4 device 0x1057), as the
// bindings analysis reads them and as `iommu-lab platforms` lists them.
import { describe, expect, it } from 'vitest';
import { bufferIo } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';
import { DMA_ENGINE_COMPATIBLE } from '../../../src/devices/dma-engine/registers.js';
import { VIRTIO_PCI_VENDOR, virtioPciDeviceId } from '../../../src/formats/virtio/pci.js';
import { VIRTIO_IOMMU_DEVICE_ID } from '../../../src/formats/virtio-iommu/features.js';
import { regions } from '../../../src/os/of/address.js';
import { analyseIommuTopology } from '../../../src/platform/bindings/index.js';
import { listBuiltinPlatforms, loadBuiltinPlatform } from '../../../src/platform/builtin/index.js';

describe('in the registry', () => {
  it('both are listed with one-line descriptions, and by `iommu-lab platforms`', async () => {
    const names = ['riscv-virt-virtio-iommu', 'riscv-virt-virtio-iommu-pci'];
    for (const name of names) {
      const p = listBuiltinPlatforms().find((x) => x.name === name);
      expect(p?.description).toMatch(/virtio-iommu/);
      expect(loadBuiltinPlatform(name).source.startsWith(`// ${name}:`)).toBe(true);
    }
    const io = bufferIo();
    expect(await runCli(['platforms'], io)).toBe(0);
    for (const name of names) expect(io.stdout().split('\n').some((l) => l.startsWith(`${name} `))).toBe(true);
  });
});

describe('riscv-virt-virtio-iommu', () => {
  const { tree } = loadBuiltinPlatform('riscv-virt-virtio-iommu');
  const t = analyseIommuTopology(tree);

  it('has the virtio-iommu as virtio-mmio slot 0 (0x10001000, PLIC source 1) and an empty slot 1', () => {
    expect(t.iommus).toHaveLength(1);
    expect(t.iommus[0]).toMatchObject({
      path: '/soc/virtio_mmio@10001000',
      labels: ['viommu'],
      kind: 'virtio-iommu-mmio',
      compatible: ['virtio,mmio'],
      iommuCells: 1,
      registers: [{ base: 0x1000_1000n, size: 0x1000n }],
      signalling: 'wired',
    });
    expect(t.iommus[0].interrupts.map((i) => [i.controller, i.cells])).toEqual([['/soc/interrupt-controller@c000000', [1]]]);
    const slot = tree.find('/soc/virtio_mmio@10002000')!;
    expect(slot.string('compatible')).toBe('virtio,mmio');
    expect(slot.has('#iommu-cells')).toBe(false);
    expect(regions(slot)).toEqual([{ base: 0x1000_2000n, size: 0x1000n }]);
  });

  it('serves the DMA engine as endpoint 0x1 and every PCI requester id r as endpoint r', () => {
    expect(t.iommus[0].serves).toMatchObject({
      endpoints: [{ path: '/soc/dma-controller@3020000', ids: [1] }],
      pciRanges: [{ bridge: '/soc/pci@30000000', ridBase: 0, ridLast: 0xffff, idBase: 0, idLast: 0xffff }],
    });
    expect(t.hostBridges[0].functions.map((f) => [f.bdf, f.iommu?.id ?? null])).toEqual([
      ['00:01.0', 0x08],
      ['00:02.0', 0x10],
      ['00:02.1', 0x11],
    ]);
    expect(tree.find('/soc/dma-controller@3020000')!.string('compatible')).toBe(DMA_ENGINE_COMPATIBLE);
    expect(t.warnings).toEqual([]);
  });
});

describe('riscv-virt-virtio-iommu-pci', () => {
  const { tree } = loadBuiltinPlatform('riscv-virt-virtio-iommu-pci');
  const t = analyseIommuTopology(tree);

  it('has the virtio-iommu as PCI function 00:01.0 (pci1af4,1057) with MSIs to the IMSIC', () => {
    expect(`pci${VIRTIO_PCI_VENDOR.toString(16)},${virtioPciDeviceId(VIRTIO_IOMMU_DEVICE_ID).toString(16)}`).toBe('pci1af4,1057');
    expect(t.iommus).toHaveLength(1);
    expect(t.iommus[0]).toMatchObject({
      path: '/soc/pci@30000000/virtio_iommu@1',
      kind: 'virtio-iommu-pci',
      compatible: ['virtio,pci-iommu', 'pci1af4,1057'],
      registers: [],
      pci: { bridge: '/soc/pci@30000000', bus: 0, device: 1, function: 0, rid: 8, bdf: '00:01.0' },
      msi: { controller: '/soc/interrupt-controller@28000000', via: 'msi-parent', id: null },
    });
  });

  it('translates every other function and leaves its own requester id out; the platform engine is not behind it', () => {
    expect(t.iommus[0].serves.pciRanges.map((r) => [r.ridBase, r.ridLast, r.idBase, r.idLast])).toEqual([
      [0, 7, 0, 7],
      [9, 0xffff, 9, 0xffff],
    ]);
    expect(t.hostBridges[0].functions.map((f) => [f.bdf, f.isIommu, f.iommu?.id ?? null])).toEqual([
      ['00:01.0', true, null],
      ['00:02.0', false, 0x10],
      ['00:03.0', false, 0x18],
      ['00:03.1', false, 0x19],
    ]);
    expect(tree.find('/soc/dma-controller@3020000')!.has('iommus')).toBe(false);
    expect(t.warnings).toEqual([]);
  });
});
