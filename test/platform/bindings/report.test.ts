// The two outputs of the analysis: JSON (bigints as hex strings, everything else as in the
// topology) and the text report.
import { describe, expect, it } from 'vitest';
import { formatTopology, topologyToJson } from '../../../src/platform/bindings/index.js';
import { analyseBody } from './helpers.js';

const BOARD = `
  model = "tiny";
  compatible = "iommu-lab,tiny";
  plic: plic@c000000 { compatible = "riscv,plic0"; #interrupt-cells = <1>; interrupt-controller; reg = <0 0xc000000 0 0x4000000>; };
  imsic: imsic@28000000 { compatible = "riscv,imsics"; msi-controller; reg = <0 0x28000000 0 0x1000>; };
  iommu: iommu@3010000 { compatible = "riscv,iommu"; reg = <0x0 0x3010000 0x0 0x1000>; #iommu-cells = <1>;
    interrupt-parent = <&plic>; interrupts = <36>, <37>; interrupt-names = "cmdq", "fltq"; msi-parent = <&imsic>; };
  dma@3020000 { compatible = "iommu-lab,dma-engine"; iommus = <&iommu 0x1>; };
  pci@30000000 { compatible = "pci-host-ecam-generic"; device_type = "pci"; #address-cells = <3>; #size-cells = <2>;
    reg = <0x0 0x30000000 0x0 0x100000>; bus-range = <0 0>; msi-parent = <&imsic>;
    iommu-map = <0x0 &iommu 0x100 0x100>, <0x100 0x999 0x0 0x1>;
    dma@1 { compatible = "pci1b36,d1"; reg = <0x0800 0 0 0 0>; };
  };`;

describe('JSON', () => {
  it('has this shape', () => {
    const json = JSON.parse(JSON.stringify(topologyToJson(analyseBody(BOARD)))) as unknown;
    expect(json).toEqual({
      model: 'tiny',
      compatible: ['iommu-lab,tiny'],
      iommus: [
        {
          path: '/iommu@3010000',
          labels: ['iommu'],
          phandle: 3,
          compatible: ['riscv,iommu'],
          kind: 'riscv-iommu',
          status: 'okay',
          enabled: true,
          iommuCells: 1,
          registers: [{ base: '0x3010000', size: '0x1000' }],
          pci: null,
          interrupts: [
            { name: 'cmdq', controller: '/plic@c000000', cells: [36], description: 'source 36' },
            { name: 'fltq', controller: '/plic@c000000', cells: [37], description: 'source 37' },
          ],
          msi: { controller: '/imsic@28000000', via: 'msi-parent', id: null },
          signalling: 'wired-or-msi',
          ipmmuMain: null,
          serves: {
            endpoints: [{ path: '/dma@3020000', ids: [1] }],
            pciRanges: [{ bridge: '/pci@30000000', entry: 0, mask: 0xffffffff, ridBase: 0, ridLast: 0xff, idBase: 0x100, idLast: 0x1ff }],
            pciFunctions: [{ bridge: '/pci@30000000', path: '/pci@30000000/dma@1', bdf: '00:01.0', rid: 8, id: 0x108 }],
            ipmmuCaches: [],
          },
        },
      ],
      endpoints: [
        {
          path: '/dma@3020000',
          compatible: ['iommu-lab,dma-engine'],
          status: 'okay',
          enabled: true,
          iommus: [{ iommu: '/iommu@3010000', phandle: 3, ids: [1] }],
        },
      ],
      hostBridges: [
        {
          path: '/pci@30000000',
          compatible: ['pci-host-ecam-generic'],
          status: 'okay',
          enabled: true,
          pci: true,
          registers: [{ base: '0x30000000', size: '0x100000' }],
          busRange: [0, 0],
          iommuMap: {
            property: 'iommu-map',
            mask: 0xffffffff,
            entries: [
              { index: 0, ridBase: 0, length: 0x100, ridLast: 0xff, phandle: 3, target: '/iommu@3010000', targetBase: 0x100, targetLast: 0x1ff },
              { index: 1, ridBase: 0x100, length: 1, ridLast: 0x100, phandle: 0x999, target: null, targetBase: 0, targetLast: 0 },
            ],
          },
          msiMap: null,
          msiParent: { controller: '/imsic@28000000', via: 'msi-parent', id: null },
          functions: [
            {
              path: '/pci@30000000/dma@1',
              compatible: ['pci1b36,d1'],
              status: 'okay',
              enabled: true,
              bus: 0,
              device: 1,
              function: 0,
              rid: 8,
              bdf: '00:01.0',
              isIommu: false,
              iommu: { iommu: '/iommu@3010000', id: 0x108, entry: 0 },
              msi: { controller: '/imsic@28000000', via: 'msi-parent', id: null },
            },
          ],
        },
      ],
      warnings: [
        {
          code: 'dangling-phandle',
          path: '/pci@30000000',
          property: 'iommu-map',
          message: 'iommu-map entry 1 refers to phandle 0x999, which no node has',
        },
      ],
    });
  });

  it('keeps 64-bit addresses exact', () => {
    const t = analyseBody(`a: iommu@ffffffff00000000 { compatible = "arm,smmu-v3"; reg = <0xffffffff 0x0 0x0 0x20000>; #iommu-cells = <1>; };
      dev { iommus = <&a 0>; };`);
    expect(topologyToJson(t).iommus[0].registers).toEqual([{ base: '0xffffffff00000000', size: '0x20000' }]);
  });
});

describe('text report', () => {
  it('shows each IOMMU with what it serves, each bridge, and the warnings', () => {
    expect(formatTopology(analyseBody(BOARD))).toBe(
      [
        'model: tiny',
        'compatible: iommu-lab,tiny',
        'IOMMUs: 1, endpoints with iommus: 1, host bridges: 1',
        '',
        'IOMMU /iommu@3010000 (label iommu)',
        '  compatible: riscv,iommu [RISC-V IOMMU]',
        '  status: okay',
        '  registers: 0x3010000-0x3010fff (size 0x1000)',
        '  #iommu-cells: 1 (device id)',
        '  signals: wired interrupts or MSIs',
        '  interrupts:',
        '    cmdq: source 36 at /plic@c000000',
        '    fltq: source 37 at /plic@c000000',
        '  msi: /imsic@28000000 (msi-parent)',
        '  serves:',
        '    /dma@3020000: device id 0x1',
        '    /pci@30000000: requester ids 0x0000-0x00ff -> device ids 0x100-0x1ff',
        '      00:01.0 /pci@30000000/dma@1: requester id 0x0008 -> device id 0x108',
        '',
        'PCI host bridge /pci@30000000',
        '  compatible: pci-host-ecam-generic',
        '  registers: 0x30000000-0x300fffff (size 0x100000)',
        '  buses: 0x00-0x00',
        '  iommu-map:',
        '    [0] requester ids 0x0000-0x00ff -> /iommu@3010000 ids 0x100-0x1ff',
        '    [1] requester ids 0x0100-0x0100 -> phandle 0x999 (missing) ids 0x0-0x0',
        '  msi-parent: /imsic@28000000',
        '  functions:',
        '    00:01.0 /pci@30000000/dma@1 (pci1b36,d1): IOMMU /iommu@3010000 device id 0x108; MSI /imsic@28000000 (msi-parent)',
        '',
        'warnings: 1',
        '  /pci@30000000 iommu-map: iommu-map entry 1 refers to phandle 0x999, which no node has [dangling-phandle]',
        '',
      ].join('\n'),
    );
  });

  it('says so when there is nothing to show', () => {
    expect(formatTopology(analyseBody(''))).toBe('IOMMUs: 0, endpoints with iommus: 0, host bridges: 0\n\nwarnings: none\n');
  });
});
