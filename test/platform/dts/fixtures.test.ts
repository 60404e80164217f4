// The realistic fixtures: a RISC-V board with an IOMMU (built from an .dts plus an included
// .dtsi) and a dump in the style of `dtc -I dtb -O dts` of QEMU's Arm virt machine.
import { describe, expect, it } from 'vitest';
import { parseDtsFile } from '../../../src/platform/dts/index.js';
import { cellsHex, paths, propHex, stringsHex } from './helpers.js';

const FIXTURES = new URL('../../fixtures/dts/', import.meta.url).pathname;

describe('riscv-virt-iommu.dts', () => {
  const tree = parseDtsFile(`${FIXTURES}riscv-virt-iommu.dts`, { includeDirs: [`${FIXTURES}include`] });

  it('has the expected nodes: the included SoC merged, the test device deleted, the unused RTC omitted', () => {
    expect(paths(tree)).toEqual([
      '/',
      '/soc',
      '/soc/interrupt-controller@c000000',
      '/soc/serial@10000000',
      '/soc/iommu@3010000',
      '/soc/pci@30000000',
      '/soc/dma-controller@3020000',
      '/chosen',
      '/aliases',
      '/cpus',
      '/cpus/cpu@0',
      '/cpus/cpu@0/interrupt-controller',
      '/cpus/cpu@1',
      '/cpus/cpu@1/interrupt-controller',
      '/memory@80000000',
    ]);
    expect(tree.reservations).toEqual([{ address: 0x80000000n, size: 0x80000n }]);
  });

  it('allocates phandles in reference order, like dtc', () => {
    expect(tree.byLabel('cpu0_intc')?.u32('phandle')).toBe(1);
    expect(tree.byLabel('cpu1_intc')?.u32('phandle')).toBe(2);
    expect(tree.byLabel('plic')?.u32('phandle')).toBe(3);
    expect(tree.byLabel('iommu')?.u32('phandle')).toBe(4);
    expect(tree.byLabel('uart0')?.has('phandle')).toBe(false);
  });

  it('describes the IOMMU and what sits behind it', () => {
    const iommu = tree.find('/soc/iommu@3010000');
    expect(iommu?.string('compatible')).toBe('riscv,iommu');
    expect(iommu?.u32('#iommu-cells')).toBe(1);
    expect(iommu?.strings('interrupt-names')).toEqual(['cmdq', 'fltq', 'pm', 'priq']);
    expect(propHex(tree, '/soc/pci@30000000', 'iommu-map')).toBe(cellsHex(0, 4, 0, 0x10000));
    expect(propHex(tree, '/soc/pci@30000000', 'iommu-map-mask')).toBe(cellsHex(0xfff8));
    expect(propHex(tree, '/soc/dma-controller@3020000', 'iommus')).toBe(cellsHex(4, 5));
    expect(tree.find('/soc/pci@30000000')?.u32s('interrupt-map')).toEqual([
      0, 0, 0, 1, 3, 32, 0, 0, 0, 2, 3, 33, 0x800, 0, 0, 1, 3, 33, 0x800, 0, 0, 2, 3, 34,
    ]);
    expect(propHex(tree, '/soc/pci@30000000', 'dma-coherent')).toBe('');
  });

  it('evaluates expressions and keeps the other value forms', () => {
    expect(propHex(tree, '/memory@80000000', 'reg')).toBe(cellsHex(0, 0x80000000, 0, 0x10000000));
    expect(propHex(tree, '/soc/dma-controller@3020000', 'local-mac-address')).toBe('52 54 00 12 34 56');
    expect(propHex(tree, '/soc/dma-controller@3020000', 'iommu-lab,queue-depths')).toBe('00 40 00 80 01 00');
    expect(propHex(tree, '/soc/dma-controller@3020000', 'iommu-lab,label-mix')).toBe(
      `${stringsHex('engine')} ${cellsHex(1, 2)} ca fe`,
    );
    expect(propHex(tree, '/soc/interrupt-controller@c000000', 'interrupts-extended')).toBe(cellsHex(1, 11, 1, 9, 2, 11, 2, 9));
  });

  it('applies the &uart0 override and resolves path references', () => {
    const uart = tree.find('/soc/serial@10000000');
    expect(uart?.properties.map((p) => p.name)).toEqual(['compatible', 'reg', 'interrupt-parent', 'interrupts', 'clock-frequency', 'status']);
    expect(uart?.u32('clock-frequency')).toBe(0x708000);
    expect(tree.find('/chosen')?.string('stdout-path')).toBe('/soc/serial@10000000');
    expect(tree.alias('serial0')).toBe(uart);
    expect(tree.alias('iommu0')?.path).toBe('/soc/iommu@3010000');
  });

  it('records where things were defined, in the file that defined them', () => {
    expect(tree.find('/soc/serial@10000000')?.location).toEqual({ file: `${FIXTURES}include/riscv-virt-soc.dtsi`, line: 22, column: 10 });
    expect(tree.find('/soc/serial@10000000')?.property('status')?.location?.file).toBe(`${FIXTURES}riscv-virt-iommu.dts`);
  });
});

describe('qemu-arm-virt-dump.dts', () => {
  const tree = parseDtsFile(`${FIXTURES}qemu-arm-virt-dump.dts`);

  it('reads the explicit phandles and string lists written with \\0', () => {
    expect(tree.byPhandle(0x8002)?.path).toBe('/intc@8000000');
    expect(tree.byPhandle(0x8005)?.path).toBe('/smmuv3@9050000');
    expect(tree.find('/pl011@9000000')?.strings('compatible')).toEqual(['arm,pl011', 'arm,primecell']);
    expect(tree.find('/smmuv3@9050000')?.strings('interrupt-names')).toEqual(['eventq', 'priq', 'cmdq-sync', 'gerror']);
  });

  it('reads the PCIe host bridge maps', () => {
    const pcie = tree.find('/pcie@10000000');
    expect(pcie?.u32s('iommu-map')).toEqual([0, 0x8005, 0, 0x10000]);
    expect(pcie?.u32s('msi-map')).toEqual([0, 0x8003, 0, 0x10000]);
    const map = pcie?.u32s('interrupt-map') ?? [];
    // 3 address cells + 1 interrupt cell + phandle + 2 parent address cells + 3 GIC cells.
    expect(map.length).toBe(8 * 10);
    expect(map.slice(0, 10)).toEqual([0, 0, 0, 1, 0x8002, 0, 0, 0, 3, 4]);
    expect(pcie?.u32s('interrupt-map-mask')).toEqual([0x1800, 0, 0, 7]);
  });

  it('keeps odd-length values as bytes and adds no phandles', () => {
    expect(propHex(tree, '/chosen', 'mac-salt')).toBe('de ad be');
    const withPhandle = [...tree.root.walk()].filter((n) => n.has('phandle')).map((n) => n.path);
    expect(withPhandle).toEqual(['/pl061@9030000', '/smmuv3@9050000', '/intc@8000000', '/intc@8000000/v2m@8020000', '/cpus/cpu@0', '/apb-pclk']);
  });
});
