// Device trees in the form QEMU generates (dumpdtb, decompiled): the analysis must read them
// whole, including the many nodes and bindings it does not model, and find exactly the IOMMU
// topology they describe.
import { describe, expect, it } from 'vitest';
import type { ServedSet } from '../../../src/platform/bindings/index.js';
import { analyseFixture, iommuAt, warningLines } from './helpers.js';

const NONE: ServedSet = { endpoints: [], pciRanges: [], pciFunctions: [], ipmmuCaches: [] };

describe('QEMU arm virt, iommu=smmuv3, GICv3 + ITS', () => {
  const t = analyseFixture('qemu-arm-virt-smmuv3.dts');

  it('finds the SMMUv3 with its registers and named wired interrupts', () => {
    expect(t.model).toBe('linux,dummy-virt');
    expect(t.iommus).toHaveLength(1);
    const smmu = iommuAt(t, '/smmuv3@9050000');
    expect(smmu).toMatchObject({
      kind: 'arm-smmu-v3',
      compatible: ['arm,smmu-v3'],
      phandle: 0x8005,
      labels: [],
      status: 'okay',
      enabled: true,
      iommuCells: 1,
      registers: [{ base: 0x9050000n, size: 0x20000n }],
      pci: null,
      msi: null,
      signalling: 'wired',
      ipmmuMain: null,
    });
    expect(smmu.interrupts).toEqual([
      { name: 'eventq', controller: '/intc@8000000', cells: [0, 0x4a, 1], description: 'SPI 74 (INTID 106), edge rising' },
      { name: 'priq', controller: '/intc@8000000', cells: [0, 0x4b, 1], description: 'SPI 75 (INTID 107), edge rising' },
      { name: 'cmdq-sync', controller: '/intc@8000000', cells: [0, 0x4c, 1], description: 'SPI 76 (INTID 108), edge rising' },
      { name: 'gerror', controller: '/intc@8000000', cells: [0, 0x4d, 1], description: 'SPI 77 (INTID 109), edge rising' },
    ]);
  });

  it('serves every requester id of the host bridge, stream id = requester id', () => {
    expect(iommuAt(t, '/smmuv3@9050000').serves).toEqual({
      ...NONE,
      pciRanges: [{ bridge: '/pcie@10000000', entry: 0, mask: 0xffffffff, ridBase: 0, ridLast: 0xffff, idBase: 0, idLast: 0xffff }],
    });
  });

  it('reads the host bridge: high ECAM, iommu-map and the ITS msi-map', () => {
    expect(t.hostBridges).toHaveLength(1);
    const b = t.hostBridges[0];
    expect(b).toMatchObject({
      path: '/pcie@10000000',
      pci: true,
      registers: [{ base: 0x40_1000_0000n, size: 0x1000_0000n }],
      busRange: [0, 0xff],
      msiParent: null,
      functions: [],
    });
    expect(b.iommuMap).toEqual({
      property: 'iommu-map',
      mask: 0xffffffff,
      entries: [{ index: 0, ridBase: 0, length: 0x10000, ridLast: 0xffff, phandle: 0x8005, target: '/smmuv3@9050000', targetBase: 0, targetLast: 0xffff }],
    });
    expect(b.msiMap?.entries).toEqual([
      { index: 0, ridBase: 0, length: 0x10000, ridLast: 0xffff, phandle: 0x8003, target: '/intc@8000000/its@8080000', targetBase: 0, targetLast: 0xffff },
    ]);
  });

  it('has no endpoints with iommus and no warnings', () => {
    expect(t.endpoints).toEqual([]);
    expect(warningLines(t)).toEqual([]);
  });
});

describe('QEMU arm virt, -device virtio-iommu-pci, GICv2m', () => {
  const t = analyseFixture('qemu-arm-virt-virtio-iommu.dts');
  const path = '/pcie@10000000/virtio_iommu@1,0';

  it('finds the virtio-iommu as PCI function 00:01.0 with MSIs through the v2m frame', () => {
    expect(t.iommus).toHaveLength(1);
    expect(iommuAt(t, path)).toMatchObject({
      kind: 'virtio-iommu-pci',
      compatible: ['virtio,pci-iommu', 'pci1af4,1057'],
      iommuCells: 1,
      registers: [],
      pci: { bridge: '/pcie@10000000', bus: 0, device: 1, function: 0, rid: 8, bdf: '00:01.0' },
      interrupts: [],
      msi: { controller: '/intc@8000000/v2m@8020000', via: 'msi-map', id: 8 },
      signalling: 'wired-or-msi',
    });
  });

  it('serves every requester id except its own', () => {
    expect(iommuAt(t, path).serves).toEqual({
      ...NONE,
      pciRanges: [
        { bridge: '/pcie@10000000', entry: 0, mask: 0xffffffff, ridBase: 0, ridLast: 7, idBase: 0, idLast: 7 },
        { bridge: '/pcie@10000000', entry: 1, mask: 0xffffffff, ridBase: 9, ridLast: 0xffff, idBase: 9, idLast: 0xffff },
      ],
    });
  });

  it('lists the IOMMU function, untranslated, and warns about nothing', () => {
    expect(t.hostBridges[0].functions).toEqual([
      {
        path,
        compatible: ['virtio,pci-iommu', 'pci1af4,1057'],
        status: 'okay',
        enabled: true,
        bus: 0,
        device: 1,
        function: 0,
        rid: 8,
        bdf: '00:01.0',
        isIommu: true,
        iommu: null,
        msi: { controller: '/intc@8000000/v2m@8020000', via: 'msi-map', id: 8 },
      },
    ]);
    expect(warningLines(t)).toEqual([]);
  });
});

describe('QEMU riscv virt, aia=aplic-imsic, iommu-sys=on', () => {
  const t = analyseFixture('qemu-riscv-virt-iommu-sys.dts');

  it('finds the platform RISC-V IOMMU with APLIC interrupts 36-39 and an IMSIC msi-parent', () => {
    expect(t.iommus).toHaveLength(1);
    const iommu = iommuAt(t, '/soc/iommu@3010000');
    expect(iommu).toMatchObject({
      kind: 'riscv-iommu',
      phandle: 7,
      registers: [{ base: 0x3010000n, size: 0x1000n }],
      msi: { controller: '/soc/imsics@28000000', via: 'msi-parent', id: null },
      signalling: 'wired-or-msi',
    });
    // QEMU gives no interrupt-names: the interrupts are in cmdq, fltq, pm, priq order anyway.
    expect(iommu.interrupts.map((i) => [i.name, i.controller, i.cells, i.description])).toEqual([
      [null, '/soc/aplic@d000000', [0x24, 1], 'source 36, edge rising'],
      [null, '/soc/aplic@d000000', [0x25, 1], 'source 37, edge rising'],
      [null, '/soc/aplic@d000000', [0x26, 1], 'source 38, edge rising'],
      [null, '/soc/aplic@d000000', [0x27, 1], 'source 39, edge rising'],
    ]);
  });

  it("reads QEMU's two-entry iommu-map: an empty entry, then requester ids 0-0xfffe", () => {
    expect(t.hostBridges[0].iommuMap?.entries).toEqual([
      { index: 0, ridBase: 0, length: 0, ridLast: null, phandle: 7, target: '/soc/iommu@3010000', targetBase: 0, targetLast: null },
      { index: 1, ridBase: 0, length: 0xffff, ridLast: 0xfffe, phandle: 7, target: '/soc/iommu@3010000', targetBase: 0, targetLast: 0xfffe },
    ]);
    expect(iommuAt(t, '/soc/iommu@3010000').serves.pciRanges).toEqual([
      { bridge: '/soc/pci@30000000', entry: 1, mask: 0xffffffff, ridBase: 0, ridLast: 0xfffe, idBase: 0, idLast: 0xfffe },
    ]);
    expect(t.hostBridges[0].msiParent).toEqual({ controller: '/soc/imsics@28000000', via: 'msi-parent', id: null });
  });

  it('warns only about the empty entry', () => {
    expect(warningLines(t)).toEqual(['map-length /soc/pci@30000000 iommu-map: iommu-map entry 0 has length 0 and maps nothing']);
  });
});

describe('QEMU riscv virt, -device riscv-iommu-pci, PLIC only', () => {
  const t = analyseFixture('qemu-riscv-virt-iommu-pci.dts');
  const path = '/soc/pci@30000000/iommu@8';

  it('finds the PCI RISC-V IOMMU at 00:01.0; without an MSI controller it can only use INTx', () => {
    expect(iommuAt(t, path)).toMatchObject({
      kind: 'riscv-iommu-pci',
      phandle: 5,
      registers: [],
      pci: { bridge: '/soc/pci@30000000', bus: 0, device: 1, function: 0, rid: 8, bdf: '00:01.0' },
      msi: null,
      signalling: 'wired',
    });
  });

  it('serves requester ids 0-7 and 9-0xffff, not its own 8', () => {
    expect(iommuAt(t, path).serves.pciRanges.map((r) => [r.ridBase, r.ridLast, r.idBase, r.idLast])).toEqual([
      [0, 7, 0, 7],
      [9, 0xffff, 9, 0xffff],
    ]);
    expect(t.hostBridges[0].functions.map((f) => [f.bdf, f.isIommu, f.iommu])).toEqual([['00:01.0', true, null]]);
    expect(warningLines(t)).toEqual([]);
  });
});
