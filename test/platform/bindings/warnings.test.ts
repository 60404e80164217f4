// Every problem the analysis can find is a warning, never an exception: one small tree per
// warning code with its exact message, then a whole board full of mistakes.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyseIommuTopology, formatTopology, topologyToJson, type WarningCode } from '../../../src/platform/bindings/index.js';
import { parseDtsFile } from '../../../src/platform/dts/index.js';
import { DeviceTree, DtNode, encodeStrings, encodeU32s } from '../../../src/formats/devicetree/tree.js';
import { analyseBody, analyseFixture, warningLines } from './helpers.js';

const PLIC = `plic: interrupt-controller@c000000 {
	compatible = "riscv,plic0";
	reg = <0x0 0xc000000 0x0 0x4000000>;
	#address-cells = <0>;
	#interrupt-cells = <1>;
	interrupt-controller;
};`;

const IOMMU = `iommu: iommu@3010000 {
	compatible = "riscv,iommu";
	reg = <0x0 0x3010000 0x0 0x1000>;
	#iommu-cells = <1>;
};`;

/** A PCI host bridge with the given extra properties and children. */
function bridge(body: string): string {
	return `pci@30000000 {
	compatible = "pci-host-ecam-generic";
	device_type = "pci";
	#address-cells = <3>;
	#size-cells = <2>;
	reg = <0x0 0x30000000 0x0 0x1000000>;
	ranges = <0x02000000 0x0 0x40000000 0x0 0x40000000 0x0 0x10000000>;
	${body}
};`;
}

// One case per code: adding a WarningCode without a case here does not compile.
const CASES: Record<WarningCode, { body: string; expected: string[] }> = {
  'dangling-phandle': {
    body: `${IOMMU} dev { iommus = <0x1234 5>; }; ${bridge('iommu-map = <0x0 &iommu 0x0 0x100>, <0x100 0x4321 0x0 0x100>;')}`,
    expected: [
      'dangling-phandle /dev iommus: iommus refers to phandle 0x1234, which no node has',
      'dangling-phandle /pci@30000000 iommu-map: iommu-map entry 1 refers to phandle 0x4321, which no node has',
    ],
  },
  'not-an-iommu': {
    body: `${PLIC} ${IOMMU} dev { iommus = <&plic 1>; }; ${bridge('iommu-map = <0x0 &plic 0x0 0x100>;')} user { iommus = <&iommu 1>; };`,
    expected: [
      'not-an-iommu /dev iommus: iommus refers to /interrupt-controller@c000000, which is not an IOMMU (no #iommu-cells)',
      'not-an-iommu /pci@30000000 iommu-map: iommu-map entry 0 refers to /interrupt-controller@c000000, which is not an IOMMU (no #iommu-cells)',
    ],
  },
  'missing-iommu-cells': {
    body: 'smmu: iommu@9050000 { compatible = "arm,smmu-v3"; reg = <0x0 0x9050000 0x0 0x20000>; }; dev { iommus = <&smmu 1>; };',
    expected: [
      'missing-iommu-cells /iommu@9050000 #iommu-cells: Arm SMMUv3 node has no #iommu-cells, so no device can refer to it',
      'iommu-cells-mismatch /dev iommus: iommus refers to /iommu@9050000, which has no #iommu-cells to delimit the specifier',
    ],
  },
  'iommu-cells-mismatch': {
    body: `${IOMMU} smmu: iommu@2b400000 { compatible = "arm,mmu-500"; reg = <0x0 0x2b400000 0x0 0x10000>; #iommu-cells = <2>; };
      dev { iommus = <&iommu 1>, <&smmu 0x10>; };
      ${bridge('iommu-map = <0x0 &smmu 0x0 0x100>;')}`,
    expected: [
      'iommu-cells-mismatch /dev iommus: iommus ends inside the specifier for /iommu@2b400000: 1 cells left, #iommu-cells = 2',
      'iommu-cells-mismatch /pci@30000000 iommu-map: iommu-map entry 0 gives one specifier cell, but /iommu@2b400000 has #iommu-cells = 2',
    ],
  },
  'address-cells-mismatch': {
    body: `${IOMMU} dev { iommus = <&iommu 1>; };
      bus { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges = <0x0 0x0 0x10000000>;
        iommu@1000 { compatible = "riscv,iommu"; reg = <0x1000 0x1000 0x2000>; #iommu-cells = <1>; }; };
      odd-bridge { device_type = "pci"; #address-cells = <2>; #size-cells = <2>; iommu-map = <0x0 &iommu 0x0 0x10>; };`,
    expected: [
      'address-cells-mismatch /bus ranges: ranges has 3 cells, not a multiple of #address-cells (1) + parent #address-cells (2) + #size-cells (1)',
      'address-cells-mismatch /bus/iommu@1000 reg: reg has 3 cells, not a multiple of #address-cells (1) + #size-cells (1) of /bus',
      'untranslatable-address /bus/iommu@1000 reg: address 0x1000 is outside every ranges entry of /bus',
      'unused-iommu /bus/iommu@1000: no iommus or iommu-map refers to this RISC-V IOMMU',
      'address-cells-mismatch /odd-bridge #address-cells: a PCI bus has #address-cells = 3 and #size-cells = 2, this one has 2 and 2',
    ],
  },
  'untranslatable-address': {
    body: `isolated { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>;
        iommu: iommu@1000 { compatible = "riscv,iommu"; reg = <0x1000 0x1000>; #iommu-cells = <1>; }; };
      bus { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges = <0x0 0x0 0x10000000 0x1000>;
        smmu: iommu@2000 { compatible = "arm,smmu-v3"; reg = <0x2000 0x1000>; #iommu-cells = <1>; }; };
      dev { iommus = <&iommu 1>, <&smmu 2>; };`,
    expected: [
      'untranslatable-address /isolated/iommu@1000 reg: address 0x1000 is not visible to the CPU: /isolated has no ranges property',
      'untranslatable-address /bus/iommu@2000 reg: address 0x2000 is outside every ranges entry of /bus',
    ],
  },
  'interrupt-cells-mismatch': {
    body: `${PLIC}
      gic: intc@8000000 { compatible = "arm,gic-400"; #interrupt-cells = <3>; interrupt-controller; reg = <0x0 0x8000000 0x0 0x10000>; };
      a: iommu@1000 { compatible = "riscv,iommu"; reg = <0x0 0x1000 0x0 0x1000>; #iommu-cells = <1>; interrupt-parent = <&gic>; interrupts = <0 1 4 0 2>; };
      b: iommu@2000 { compatible = "riscv,iommu"; reg = <0x0 0x2000 0x0 0x1000>; #iommu-cells = <1>; interrupts = <7>; };
      c: iommu@3000 { compatible = "riscv,iommu"; reg = <0x0 0x3000 0x0 0x1000>; #iommu-cells = <1>; interrupts-extended = <&plic 3 &gic 0 4>; };
      dev { iommus = <&a 1 &b 2 &c 3>; };`,
    expected: [
      'interrupt-cells-mismatch /iommu@1000 interrupts: interrupts has 5 cells, not a multiple of #interrupt-cells (3) of /intc@8000000',
      'interrupt-cells-mismatch /iommu@2000 interrupts: interrupts has no interrupt parent (no interrupt-parent here or above)',
      'interrupt-cells-mismatch /iommu@3000 interrupts-extended: interrupts-extended ends inside the specifier for /intc@8000000 (#interrupt-cells = 3)',
    ],
  },
  'interrupt-names-mismatch': {
    body: `${PLIC} iommu: iommu@3010000 { compatible = "riscv,iommu"; reg = <0x0 0x3010000 0x0 0x1000>; #iommu-cells = <1>;
        interrupt-parent = <&plic>; interrupts = <36 37>; interrupt-names = "cmdq", "fltq", "pm"; };
      dev { iommus = <&iommu 1>; };`,
    expected: ['interrupt-names-mismatch /iommu@3010000 interrupt-names: interrupt-names has 3 names for 2 interrupts'],
  },
  'not-an-msi-controller': {
    body: `${PLIC} iommu: iommu@3010000 { compatible = "riscv,iommu"; reg = <0x0 0x3010000 0x0 0x1000>; #iommu-cells = <1>; msi-parent = <&plic>; };
      ${bridge('iommu-map = <0x0 &iommu 0x0 0x100>; msi-map = <0x0 &plic 0x0 0x100>; msi-parent = <&plic>;')}`,
    expected: [
      'not-an-msi-controller /iommu@3010000 msi-parent: msi-parent refers to /interrupt-controller@c000000, which is not an msi-controller',
      'not-an-msi-controller /pci@30000000 msi-map: msi-map refers to /interrupt-controller@c000000, which is not an msi-controller',
      'not-an-msi-controller /pci@30000000 msi-parent: msi-parent refers to /interrupt-controller@c000000, which is not an msi-controller',
    ],
  },
  'map-length': {
    body: `${IOMMU}
      ${bridge('iommu-map = <0x0 &iommu 0x0 0x0>, <0xff00 &iommu 0x0 0x1000>, <0x10 &iommu 0x0 0x10 0x20>;')}
      other { iommu-map = <0xfffffff0 &iommu 0x0 0x20>; };`,
    expected: [
      'map-length /pci@30000000 iommu-map: iommu-map has 13 cells, not a non-zero multiple of 4 (rid-base, phandle, base, length); the kernel rejects such a map',
      'map-length /pci@30000000 iommu-map: iommu-map entry 0 has length 0 and maps nothing',
      'map-length /pci@30000000 iommu-map: iommu-map entry 1 (rid-base 0xff00, length 0x1000) runs past requester id 0xffff',
      'map-length /other iommu-map: iommu-map entry 0 (rid-base 0xfffffff0, length 0x20) runs past 0xffffffff',
    ],
  },
  'map-overlap': {
    body: `${IOMMU} ${bridge('iommu-map = <0x0 &iommu 0x0 0x100>, <0x200 &iommu 0x200 0x100>, <0x2ff &iommu 0x1000 0x10>;')}`,
    expected: [
      'map-overlap /pci@30000000 iommu-map: iommu-map entries 1 (0x200-0x2ff) and 2 (0x2ff-0x30e) overlap on 0x2ff-0x2ff; the first one wins',
    ],
  },
  'map-mask': {
    body: `${IOMMU} ${bridge('iommu-map = <0x0 &iommu 0x0 0x1>, <0x8 &iommu 0x1 0x1>; iommu-map-mask = <0xfff0>;')}`,
    expected: [
      'map-mask /pci@30000000 iommu-map: iommu-map entry 1 has rid-base 0x8 with bits that iommu-map-mask 0xfff0 clears; the kernel rejects the map',
    ],
  },
  'disabled-iommu': {
    body: `iommu: iommu@3010000 { compatible = "riscv,iommu"; reg = <0x0 0x3010000 0x0 0x1000>; #iommu-cells = <1>; status = "disabled"; };
      dev { iommus = <&iommu 1>; };
      sleeping { iommus = <&iommu 2>; status = "disabled"; };
      ${bridge('iommu-map = <0x0 &iommu 0x0 0x100>;')}`,
    expected: [
      'disabled-iommu /dev iommus: iommus refers to /iommu@3010000, which is disabled (status "disabled")',
      'disabled-iommu /pci@30000000 iommu-map: iommu-map entry 0 refers to /iommu@3010000, which is disabled (status "disabled")',
    ],
  },
  'unused-iommu': {
    body: `${IOMMU} spare: iommu@3020000 { compatible = "riscv,iommu"; reg = <0x0 0x3020000 0x0 0x1000>; #iommu-cells = <1>; status = "disabled"; };`,
    expected: ['unused-iommu /iommu@3010000: no iommus or iommu-map refers to this RISC-V IOMMU'],
  },
  'unmapped-requester': {
    body: `${IOMMU} ${bridge(`iommu-map = <0x0 &iommu 0x0 0x10>;
        in@1 { reg = <0x0800 0 0 0 0>; };
        out@2 { reg = <0x1000 0 0 0 0>; };
        off@3 { reg = <0x1800 0 0 0 0>; status = "disabled"; };`)}`,
    expected: [
      'unmapped-requester /pci@30000000/out@2 reg: requester id 0x10 (00:02.0) is in no iommu-map entry of /pci@30000000; its DMA bypasses the IOMMU',
    ],
  },
  'iommu-translates-itself': {
    body: bridge(`iommu-map = <0x0 &iommu 0x0 0x10000>;
        iommu: iommu@1 { compatible = "riscv,pci-iommu"; reg = <0x0800 0 0 0 0>; #iommu-cells = <1>; };`),
    expected: [
      'iommu-translates-itself /pci@30000000 iommu-map: iommu-map entry 0 sends requester id 0x8 of /pci@30000000/iommu@1 (00:01.0) to that IOMMU itself; leave its own id out',
    ],
  },
  'pci-address': {
    body: `${IOMMU} ${bridge(`iommu-map = <0x0 &iommu 0x0 0x10000>; bus-range = <0x0 0x1>;
        far@0 { reg = <0x020000 0 0 0 0>; };
        noreg@1 { compatible = "pci1b36,d1"; };
        mem@2 { reg = <0x02001000 0 0 0 0>; };
        interrupt-controller { interrupt-controller; #interrupt-cells = <1>; };`)}`,
    expected: [
      'pci-address /pci@30000000/far@0 reg: bus 0x2 is outside bus-range 0x0-0x1 of /pci@30000000',
      'pci-address /pci@30000000/noreg@1 reg: a PCI function node needs reg to give its bus, device and function',
      'pci-address /pci@30000000/mem@2 reg: the first reg entry (phys.hi 0x2001000) is not a configuration-space address',
    ],
  },
  'malformed-property': {
    body: `${IOMMU} dev { iommus = [00 00 01]; }; user { iommus = <&iommu 1>; };
      ${bridge('iommu-map = <0x0 &iommu 0x0 0x100>; iommu-map-mask = <0xff 0xff>; bus-range = <0x0>;')}`,
    expected: [
      'malformed-property /dev iommus: iommus is 3 bytes, not a whole number of 32-bit cells',
      'malformed-property /pci@30000000 iommu-map-mask: iommu-map-mask has 2 cells, expected 1',
      'malformed-property /pci@30000000 bus-range: bus-range has 1 cells, expected 2 (first and last bus)',
    ],
  },
  'unsupported-binding': {
    body: 'master: master { #stream-id-cells = <1>; }; iommu@2b400000 { compatible = "arm,mmu-500"; reg = <0x0 0x2b400000 0x0 0x10000>; mmu-masters = <&master 0x10>; };',
    expected: [
      'missing-iommu-cells /iommu@2b400000 #iommu-cells: Arm SMMU (v1/v2, MMU-400/500) node has no #iommu-cells, so no device can refer to it',
      'unsupported-binding /iommu@2b400000 mmu-masters: the deprecated mmu-masters binding is not analysed; its masters are not listed',
    ],
  },
};

describe('one warning case per code', () => {
  for (const [code, c] of Object.entries(CASES)) {
    it(code, () => {
      const lines = warningLines(analyseBody(c.body));
      expect(lines).toEqual(c.expected);
      expect(lines.some((l) => l.startsWith(`${code} `))).toBe(true);
    });
  }
});

describe('robustness', () => {
  it('reads a built tree whose properties are all malformed without throwing', () => {
    const tree = new DeviceTree();
    const root = tree.root;
    const iommu = root.addChild(new DtNode('iommu@0'));
    iommu.set('compatible', encodeStrings(['riscv,iommu']));
    iommu.set('#iommu-cells', new Uint8Array([0, 1]));
    iommu.set('phandle', encodeU32s([1, 2]));
    iommu.set('reg', new Uint8Array(5));
    iommu.set('interrupts', new Uint8Array(3));
    iommu.set('status', new Uint8Array([0xff, 0xfe]));
    const pci = root.addChild(new DtNode('pci@1'));
    pci.set('device_type', encodeStrings(['pci']));
    pci.set('iommu-map', new Uint8Array(6));
    pci.addChild(new DtNode('f@0')).set('reg', new Uint8Array(2));
    const t = analyseIommuTopology(tree);
    expect(t.iommus.map((i) => [i.path, i.iommuCells, i.phandle, i.registers])).toEqual([['/iommu@0', null, null, []]]);
    expect(new Set(t.warnings.map((w) => w.code))).toEqual(new Set(['malformed-property', 'address-cells-mismatch']));
  });

  it('analyses every DTS fixture in the repository, whoever wrote it, without throwing', () => {
    const root = fileURLToPath(new URL('../../fixtures/', import.meta.url));
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.dts'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const tree = parseDtsFile(`${root}${f}`, { includeDirs: [`${root}dts/include`] });
      const t = analyseIommuTopology(tree);
      expect(formatTopology(t)).toContain('IOMMUs: ');
      expect(() => JSON.stringify(topologyToJson(t))).not.toThrow();
    }
  });

  it('survives an interrupt-parent cycle', () => {
    const t = analyseBody(`a: a { interrupt-parent = <&b>; }; b: b { interrupt-parent = <&a>; };
      iommu: iommu@0 { compatible = "riscv,iommu"; reg = <0 0 0 0x1000>; #iommu-cells = <1>; interrupt-parent = <&a>; interrupts = <1>; };
      dev { iommus = <&iommu 0>; };`);
    expect(warningLines(t)).toEqual(['interrupt-cells-mismatch /iommu@0 interrupts: interrupts has no interrupt parent (no interrupt-parent here or above)']);
  });
});

describe('a board full of mistakes', () => {
  it('reports every problem, grouped by node in tree order', () => {
    expect(warningLines(analyseFixture('broken-bindings.dts'))).toEqual([
      'interrupt-names-mismatch /isolated-bus/iommu@1000 interrupt-names: interrupt-names has 1 name for 2 interrupts',
      'untranslatable-address /isolated-bus/iommu@1000 reg: address 0x1000 is not visible to the CPU: /isolated-bus has no ranges property',
      'unused-iommu /isolated-bus/iommu@1000: no iommus or iommu-map refers to this RISC-V IOMMU',
      'interrupt-cells-mismatch /iommu@3010000 interrupts: interrupts has no interrupt parent (no interrupt-parent here or above)',
      'address-cells-mismatch /iommu@3010000 reg: reg has 5 cells, not a multiple of #address-cells (2) + #size-cells (2) of /',
      'missing-iommu-cells /iommu@3030000 #iommu-cells: Arm SMMUv3 node has no #iommu-cells, so no device can refer to it',
      'dangling-phandle /dev0 iommus: iommus refers to phandle 0x99, which no node has',
      'iommu-cells-mismatch /dev1 iommus: iommus ends inside the specifier for /iommu@3010000: 0 cells left, #iommu-cells = 1',
      'disabled-iommu /dev2 iommus: iommus refers to /iommu@3020000, which is disabled (status "disabled")',
      'not-an-iommu /dev3 iommus: iommus refers to /interrupt-controller@c000000, which is not an IOMMU (no #iommu-cells)',
      'iommu-cells-mismatch /dev4 iommus: iommus refers to /iommu@3030000, which has no #iommu-cells to delimit the specifier',
      'dangling-phandle /pci@30000000 iommu-map: iommu-map entry 2 refers to phandle 0x77, which no node has',
      'map-length /pci@30000000 iommu-map: iommu-map entry 3 has length 0 and maps nothing',
      'map-length /pci@30000000 iommu-map: iommu-map entry 4 (rid-base 0xff00, length 0x200) runs past requester id 0xffff',
      'map-overlap /pci@30000000 iommu-map: iommu-map entries 0 (0x0-0xff) and 1 (0x80-0x17f) overlap on 0x80-0xff; the first one wins',
      'pci-address /pci@30000000/ep@0,1 reg: bus 0x20 is outside bus-range 0x0-0xf of /pci@30000000',
      'unmapped-requester /pci@30000000/ep@0,1 reg: requester id 0x2000 (20:00.0) is in no iommu-map entry of /pci@30000000; its DMA bypasses the IOMMU',
      'pci-address /pci@30000000/ep@2 reg: a PCI function node needs reg to give its bus, device and function',
      'pci-address /pci@30000000/ep@3 reg: the first reg entry (phys.hi 0x2001800) is not a configuration-space address',
      'map-length /pci@50000000 iommu-map: iommu-map has 7 cells, not a non-zero multiple of 4 (rid-base, phandle, base, length); the kernel rejects such a map',
      'not-an-msi-controller /pci@50000000 msi-map: msi-map refers to /interrupt-controller@c000000, which is not an msi-controller',
      'iommu-translates-itself /pci@50000000 iommu-map: iommu-map entry 0 sends requester id 0x1 of /pci@50000000/iommu@0,1 (00:00.1) to that IOMMU itself; leave its own id out',
      'iommu-cells-mismatch /pci@60000000 iommu-map: iommu-map entry 0 gives one specifier cell, but /iommu@2b500000 has #iommu-cells = 2',
      'map-mask /pci@60000000 iommu-map: iommu-map entry 0 has rid-base 0x1 with bits that iommu-map-mask 0xff00 clears; the kernel rejects the map',
      'missing-iommu-cells /iommu@2b400000 #iommu-cells: Arm SMMU (v1/v2, MMU-400/500) node has no #iommu-cells, so no device can refer to it',
      'unsupported-binding /iommu@2b400000 mmu-masters: the deprecated mmu-masters binding is not analysed; its masters are not listed',
    ]);
  });

  it('still resolves what can be resolved: the first matching entry wins', () => {
    const t = analyseFixture('broken-bindings.dts');
    const fns = t.hostBridges.find((b) => b.path === '/pci@30000000')?.functions ?? [];
    expect(fns.map((f) => [f.bdf, f.iommu])).toEqual([
      ['00:01.0', { iommu: '/iommu@3010000', id: 0x8, entry: 0 }],
      ['00:10.0', { iommu: '/iommu@3010000', id: 0x80, entry: 0 }],
      ['20:00.0', null],
      ['00:03.0', { iommu: '/iommu@3010000', id: 0x18, entry: 0 }],
    ]);
    expect(t.endpoints.find((e) => e.path === '/dev1')?.iommus).toEqual([
      { iommu: '/iommu@3010000', phandle: 2, ids: [1] },
      { iommu: '/iommu@3010000', phandle: 2, ids: [] },
    ]);
    expect(t.endpoints.find((e) => e.path === '/dev0')?.iommus).toEqual([{ iommu: null, phandle: 0x99, ids: [1] }]);
  });
});
