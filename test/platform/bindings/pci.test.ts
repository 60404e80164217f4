// PCI function nodes and requester ids: phys.hi decoding, bridges below the host bridge, and
// iommu-map / msi-map lookups with masks.
import { describe, expect, it } from 'vitest';
import { decodePhysHi, formatBdf } from '../../../src/platform/bindings/index.js';
import { analyseBody, warningLines } from './helpers.js';

describe('phys.hi', () => {
  it('decodes bus 23:16, device 15:11, function 10:8 into a requester id', () => {
    expect(decodePhysHi(0x0000_0800)).toEqual({ bus: 0, device: 1, function: 0, rid: 0x0008, bdf: '00:01.0' });
    expect(decodePhysHi(0x00ab_ff00)).toEqual({ bus: 0xab, device: 0x1f, function: 7, rid: 0xabff, bdf: 'ab:1f.7' });
    // Space code, register number and the n/p/t bits do not change the function.
    expect(decodePhysHi(0xc2_01_11_10)).toEqual({ bus: 1, device: 2, function: 1, rid: 0x0111, bdf: '01:02.1' });
    expect(formatBdf(0, 0x1c, 3)).toBe('00:1c.3');
  });
});

describe('functions under a host bridge', () => {
  const t = analyseBody(`
    iommu: iommu@3010000 { compatible = "riscv,iommu"; reg = <0x0 0x3010000 0x0 0x1000>; #iommu-cells = <1>; };
    its: msi-controller@8080000 { msi-controller; #msi-cells = <1>; reg = <0x0 0x8080000 0x0 0x20000>; };
    pci@30000000 { compatible = "pci-host-ecam-generic"; device_type = "pci"; #address-cells = <3>; #size-cells = <2>;
      reg = <0x0 0x30000000 0x0 0x10000000>; bus-range = <0x0 0x3>;
      iommu-map = <0x0 &iommu 0x10000 0x400>; iommu-map-mask = <0xfff8>;
      msi-map = <0x0 &its 0x20000 0x10000>;
      port@1 { device_type = "pci"; reg = <0x0800 0 0 0 0>; #address-cells = <3>; #size-cells = <2>; bus-range = <0x1 0x2>; ranges;
        nic@0 { reg = <0x010000 0 0 0 0>; };
        nic@0,3 { reg = <0x010300 0 0 0 0>; };
        switch@1 { device_type = "pci"; reg = <0x010800 0 0 0 0>; #address-cells = <3>; #size-cells = <2>; bus-range = <0x2 0x2>; ranges;
          disk@0 { reg = <0x020000 0 0 0 0>; compatible = "pci1b36,10"; };
        };
      };
    };`);

  it('descends into PCI-PCI bridges and masks the function number before the lookup', () => {
    const fns = t.hostBridges[0].functions;
    expect(fns.map((f) => [f.bdf, f.path, f.rid, f.iommu?.id, f.msi])).toEqual([
      ['00:01.0', '/pci@30000000/port@1', 0x0008, 0x10008, { controller: '/msi-controller@8080000', via: 'msi-map', id: 0x20008 }],
      ['01:00.0', '/pci@30000000/port@1/nic@0', 0x0100, 0x10100, { controller: '/msi-controller@8080000', via: 'msi-map', id: 0x20100 }],
      // 01:00.3 shares 01:00.0's IOMMU id (the mask drops the function) but not its MSI id.
      ['01:00.3', '/pci@30000000/port@1/nic@0,3', 0x0103, 0x10100, { controller: '/msi-controller@8080000', via: 'msi-map', id: 0x20103 }],
      ['01:01.0', '/pci@30000000/port@1/switch@1', 0x0108, 0x10108, { controller: '/msi-controller@8080000', via: 'msi-map', id: 0x20108 }],
      ['02:00.0', '/pci@30000000/port@1/switch@1/disk@0', 0x0200, 0x10200, { controller: '/msi-controller@8080000', via: 'msi-map', id: 0x20200 }],
    ]);
    expect(t.hostBridges[0].functions.every((f) => !f.isIommu && f.enabled)).toBe(true);
    expect(warningLines(t)).toEqual([]);
  });

  it('lists the mask with every range an IOMMU serves', () => {
    expect(t.iommus[0].serves.pciRanges).toEqual([
      { bridge: '/pci@30000000', entry: 0, mask: 0xfff8, ridBase: 0, ridLast: 0x3ff, idBase: 0x10000, idLast: 0x103ff },
    ]);
  });

  it('checks bus numbers against the bus-range of the bridge a function sits under', () => {
    const u = analyseBody(`
      pci@0 { device_type = "pci"; #address-cells = <3>; #size-cells = <2>; reg = <0 0 0 0x1000000>; bus-range = <0 3>;
        port@1 { device_type = "pci"; reg = <0x0800 0 0 0 0>; #address-cells = <3>; #size-cells = <2>; bus-range = <1 1>;
          stray@0 { reg = <0x020000 0 0 0 0>; };
        };
      };`);
    expect(warningLines(u)).toEqual(['pci-address /pci@0/port@1/stray@0 reg: bus 0x2 is outside bus-range 0x1-0x1 of /pci@0/port@1']);
    expect(u.hostBridges[0].functions.map((f) => [f.bdf, f.iommu, f.msi])).toEqual([
      ['00:01.0', null, null],
      ['02:00.0', null, null],
    ]);
  });

  it('falls back to msi-parent when a bridge has no msi-map', () => {
    const u = analyseBody(`
      imsic: imsic@28000000 { msi-controller; reg = <0 0x28000000 0 0x1000>; };
      pci@0 { device_type = "pci"; #address-cells = <3>; #size-cells = <2>; reg = <0 0 0 0x1000000>; msi-parent = <&imsic>;
        f@2 { reg = <0x1000 0 0 0 0>; };
      };`);
    expect(u.hostBridges[0].msiParent).toEqual({ controller: '/imsic@28000000', via: 'msi-parent', id: null });
    expect(u.hostBridges[0].functions[0].msi).toEqual({ controller: '/imsic@28000000', via: 'msi-parent', id: null });
  });

  it('treats any node with an iommu-map as a bus whose ids are mapped, PCI or not', () => {
    const u = analyseBody(`
      smmu: iommu@5000000 { compatible = "arm,smmu-v3"; reg = <0 0x5000000 0 0x100000>; #iommu-cells = <1>; };
      fsl-mc@80c000000 { compatible = "fsl,qoriq-mc"; reg = <0x8 0x0c000000 0 0x40>; iommu-map = <0x0 &smmu 0x0 0x80>; };`);
    expect(u.hostBridges.map((b) => [b.path, b.pci, b.busRange, b.functions])).toEqual([['/fsl-mc@80c000000', false, null, []]]);
    expect(u.iommus[0].serves.pciRanges.map((r) => [r.ridBase, r.ridLast])).toEqual([[0, 0x7f]]);
    expect(warningLines(u)).toEqual([]);
  });
});
