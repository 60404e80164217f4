// Interrupts of IOMMU nodes: the interrupt parent (explicit, inherited from an ancestor, or the
// tree parent), interrupts-extended, names, and the words for GIC, APLIC and PLIC specifiers.
import { describe, expect, it } from 'vitest';
import { analyseBody, warningLines } from './helpers.js';

describe('interrupts', () => {
  it('inherits interrupt-parent from an ancestor', () => {
    const t = analyseBody(`
      interrupt-parent = <&gic>;
      gic: intc@8000000 { compatible = "arm,gic-v3"; #interrupt-cells = <3>; interrupt-controller; reg = <0 0x8000000 0 0x10000>; };
      soc { compatible = "simple-bus"; #address-cells = <2>; #size-cells = <2>; ranges;
        smmu: iommu@9050000 { compatible = "arm,smmu-v3"; reg = <0 0x9050000 0 0x20000>; #iommu-cells = <1>;
          interrupts = <0 74 1>, <1 9 4>, <0 76 8>, <0 77 2>, <2 3 4>;
          interrupt-names = "eventq", "priq", "cmdq-sync", "gerror", "extended";
          msi-parent = <&gic>;
        };
      };
      dev { iommus = <&smmu 0>; };`);
    const smmu = t.iommus[0];
    expect(smmu.interrupts.map((i) => [i.name, i.controller, i.description])).toEqual([
      ['eventq', '/intc@8000000', 'SPI 74 (INTID 106), edge rising'],
      ['priq', '/intc@8000000', 'PPI 9 (INTID 25), level high'],
      ['cmdq-sync', '/intc@8000000', 'SPI 76 (INTID 108), level low'],
      ['gerror', '/intc@8000000', 'SPI 77 (INTID 109), edge falling'],
      ['extended', '/intc@8000000', '<0x2 0x3 0x4>'],
    ]);
    // msi-parent on a non-MSI controller still counts as an MSI path, with a warning.
    expect(smmu.signalling).toBe('wired-or-msi');
    expect(warningLines(t)).toEqual([
      'not-an-msi-controller /soc/iommu@9050000 msi-parent: msi-parent refers to /intc@8000000, which is not an msi-controller',
    ]);
  });

  it('uses the tree parent when it is the interrupt controller, and interrupts-extended over interrupts', () => {
    const t = analyseBody(`
      intc: intc { compatible = "vendor,intc"; #interrupt-cells = <2>; interrupt-controller; #address-cells = <2>; #size-cells = <2>; ranges;
        a: iommu@1000 { compatible = "riscv,iommu"; reg = <0 0x1000 0 0x1000>; #iommu-cells = <1>; interrupts = <5 1>; };
      };
      aplic: aplic@d000000 { compatible = "riscv,aplic"; #interrupt-cells = <2>; interrupt-controller; reg = <0 0xd000000 0 0x8000>; };
      plic: plic@c000000 { compatible = "sifive,plic-1.0.0"; #interrupt-cells = <1>; interrupt-controller; reg = <0 0xc000000 0 0x600000>; };
      b: iommu@2000 { compatible = "riscv,iommu"; reg = <0 0x2000 0 0x1000>; #iommu-cells = <1>;
        interrupts = <99>;
        interrupts-extended = <&aplic 36 4>, <&plic 37>, <&intc 38 8>;
        interrupt-names = "cmdq", "fltq", "pm";
      };
      dev { iommus = <&a 1>, <&b 2>; };`);
    expect(t.iommus.map((i) => i.interrupts.map((x) => `${x.name ?? '-'} ${x.controller} ${x.description}`))).toEqual([
      ['- /intc <0x5 0x1>'],
      ['cmdq /aplic@d000000 source 36, level high', 'fltq /plic@c000000 source 37', 'pm /intc <0x26 0x8>'],
    ]);
    expect(warningLines(t)).toEqual([]);
  });

  it('reports an interrupt-parent phandle that points nowhere', () => {
    const t = analyseBody(`
      a: iommu@1000 { compatible = "riscv,iommu"; reg = <0 0x1000 0 0x1000>; #iommu-cells = <1>; interrupt-parent = <0x4242>; interrupts = <1>; };
      b: iommu@2000 { compatible = "riscv,iommu"; reg = <0 0x2000 0 0x1000>; #iommu-cells = <1>; interrupts-extended = <0x4343 1>; };
      dev { iommus = <&a 1 &b 1>; };`);
    expect(warningLines(t)).toEqual([
      'dangling-phandle /iommu@1000 interrupt-parent: interrupt-parent refers to phandle 0x4242, which no node has',
      'interrupt-cells-mismatch /iommu@1000 interrupts: interrupts has no interrupt parent (no interrupt-parent here or above)',
      'dangling-phandle /iommu@2000 interrupts-extended: interrupts-extended refers to phandle 0x4343, which no node has',
    ]);
    expect(t.iommus.map((i) => [i.interrupts, i.signalling])).toEqual([
      [[], 'none'],
      [[], 'none'],
    ]);
  });
});
