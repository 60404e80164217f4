// Register addresses translated through parents' ranges to CPU addresses (Devicetree
// Specification 2.3.8), checked on the registers the analysis reports for IOMMUs.
import { describe, expect, it } from 'vitest';
import { analyseBody, iommuAt, warningLines } from './helpers.js';

const user = (labels: string[]): string => `user { iommus = <${labels.map((l) => `&${l} 0`).join(' ')}>; };`;

describe('register addresses', () => {
  it('adds the offsets of nested ranges and converts between cell counts', () => {
    const t = analyseBody(`
      soc { compatible = "simple-bus"; #address-cells = <2>; #size-cells = <2>; ranges = <0x0 0x0 0x1 0x0 0x1 0x0>;
        apb { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges = <0x0 0x0 0x20000000 0x1000000>;
          a: iommu@10000 { compatible = "riscv,iommu"; reg = <0x10000 0x1000>, <0x20000 0x100>; #iommu-cells = <1>; };
        };
      };
      ${user(['a'])}`);
    expect(iommuAt(t, '/soc/apb/iommu@10000').registers).toEqual([
      { base: 0x1_2001_0000n, size: 0x1000n },
      { base: 0x1_2002_0000n, size: 0x100n },
    ]);
    expect(warningLines(t)).toEqual([]);
  });

  it('treats an empty ranges as identity and uses the default cell counts (2 and 1) where none are given', () => {
    const t = analyseBody(`
      bus { compatible = "simple-bus"; ranges;
        a: iommu@3000 { compatible = "riscv,iommu"; reg = <0x0 0x3000 0x2000>; #iommu-cells = <1>; };
      };
      ${user(['a'])}`);
    expect(iommuAt(t, '/bus/iommu@3000').registers).toEqual([{ base: 0x3000n, size: 0x2000n }]);
  });

  it('picks the matching entry among several', () => {
    const t = analyseBody(`
      bus { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>;
        ranges = <0x0 0x0 0x10000000 0x1000>, <0x8000 0x0 0x30000000 0x1000>;
        a: iommu@8010 { compatible = "riscv,iommu"; reg = <0x8010 0x10>; #iommu-cells = <1>; };
      };
      ${user(['a'])}`);
    expect(iommuAt(t, '/bus/iommu@8010').registers).toEqual([{ base: 0x30000010n, size: 0x10n }]);
  });

  it("translates a PCI IOMMU's assigned-addresses through the bridge's ranges by space code", () => {
    // I/O and 64-bit memory windows: the BAR (64-bit memory, phys.hi 0x83000810: assigned,
    // 64-bit, BAR0 of 00:01.0) must match the memory window, not the I/O one at the same offset.
    const t = analyseBody(`
      pci@30000000 { compatible = "pci-host-ecam-generic"; device_type = "pci"; #address-cells = <3>; #size-cells = <2>;
        reg = <0x0 0x30000000 0x0 0x10000000>;
        ranges = <0x01000000 0x0 0x0 0x0 0x3000000 0x0 0x10000>, <0x43000000 0x1 0x0 0x4 0x0 0x1 0x0>;
        iommu-map = <0x0 &iommu 0x0 0x8>, <0x9 &iommu 0x9 0xfff7>;
        iommu: iommu@1 { compatible = "riscv,pci-iommu"; reg = <0x0800 0x0 0x0 0x0 0x0>; #iommu-cells = <1>;
          assigned-addresses = <0x83000810 0x1 0x2000 0x0 0x1000>;
        };
      };`);
    expect(iommuAt(t, '/pci@30000000/iommu@1').registers).toEqual([{ base: 0x4_0000_2000n, size: 0x1000n }]);
    expect(warningLines(t)).toEqual([]);
  });

  it('reports an assigned address no window covers', () => {
    const t = analyseBody(`
      pci@30000000 { device_type = "pci"; #address-cells = <3>; #size-cells = <2>; reg = <0x0 0x30000000 0x0 0x10000000>;
        ranges = <0x02000000 0x0 0x40000000 0x0 0x40000000 0x0 0x10000000>;
        iommu-map = <0x0 &iommu 0x0 0x8>;
        iommu: iommu@1 { compatible = "riscv,pci-iommu"; reg = <0x0800 0x0 0x0 0x0 0x0>; #iommu-cells = <1>;
          assigned-addresses = <0x82000810 0x0 0x60000000 0x0 0x1000>;
        };
      };`);
    expect(iommuAt(t, '/pci@30000000/iommu@1').registers).toEqual([{ base: null, size: 0x1000n }]);
    expect(warningLines(t)).toEqual([
      'untranslatable-address /pci@30000000/iommu@1 assigned-addresses: address 0x60000000 is outside every ranges entry of /pci@30000000',
    ]);
  });
});
