// The built-in platforms: the registry, the machines they describe (exact IOMMU topology),
// agreement with the hardware models' identities and with the OS's own binding code, the
// address map in each file's header comment, and dtc's opinion of the files.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DMA_ENGINE_COMPATIBLE } from '../../../src/devices/dma-engine/registers.js';
import { PCI_DMA_ENGINE_IDS, PCI_RISCV_IOMMU_IDS } from '../../../src/devices/pcie/ids.js';
import { DeviceTreeError, type DeviceTree } from '../../../src/formats/devicetree/tree.js';
import { readDtb, writeDtb } from '../../../src/formats/dtb/index.js';
import { iommuForRid, iommusOf } from '../../../src/os/core/of-iommu.js';
import { regions } from '../../../src/os/of/address.js';
import { analyseIommuTopology } from '../../../src/platform/bindings/index.js';
import { findBuiltinPlatform, listBuiltinPlatforms, loadBuiltinPlatform, UnknownPlatformError } from '../../../src/platform/builtin/index.js';

const haveDtc = spawnSync('dtc', ['--version']).status === 0;

/** "pciVVVV,DDDD" as the PCI bus binding writes it: hex without leading zeros. */
function pciCompatible(ids: { vendor: number; device: number }): string {
  return `pci${ids.vendor.toString(16)},${ids.device.toString(16)}`;
}

describe('registry', () => {
  it('lists the platforms with one-line descriptions and their files', () => {
    const list = listBuiltinPlatforms();
    expect(list.map((p) => p.name).slice(0, 6)).toEqual(['riscv-virt', 'riscv-virt-pci-iommu', 'riscv-virt-virtio-iommu', 'riscv-virt-virtio-iommu-pci', 'arm-virt', 'rcar-gen3-xen']);
    for (const p of list) {
      expect(p.description).not.toContain('\n');
      expect(p.description.length).toBeGreaterThan(20);
      expect(basename(p.file)).toBe(`${p.name}.dts`);
    }
  });

  it('registers every .dts file in the directory', () => {
    const dir = dirname(listBuiltinPlatforms()[0].file);
    const files = readdirSync(dir).filter((f) => f.endsWith('.dts')).sort();
    expect(files).toEqual(listBuiltinPlatforms().map((p) => `${p.name}.dts`).sort());
  });

  it('loads a platform by name as text and as a tree', () => {
    const p = loadBuiltinPlatform('riscv-virt');
    expect(p.source.startsWith('// riscv-virt:')).toBe(true);
    expect(p.tree.root.string('model')).toBe('iommu-lab RISC-V virt');
    expect(findBuiltinPlatform('riscv-virt')?.file).toBe(p.file);
  });

  it('rejects an unknown name with the list of known ones', () => {
    expect(findBuiltinPlatform('sparc-virt')).toBeUndefined();
    expect(() => loadBuiltinPlatform('sparc-virt')).toThrow(UnknownPlatformError);
    expect(() => loadBuiltinPlatform('sparc-virt')).toThrow(`unknown built-in platform "sparc-virt"; built-in platforms: ${listBuiltinPlatforms().map((p) => p.name).join(', ')}`);
    expect(new UnknownPlatformError('x')).toBeInstanceOf(DeviceTreeError);
  });
});

describe('riscv-virt', () => {
  const { tree } = loadBuiltinPlatform('riscv-virt');
  const t = analyseIommuTopology(tree);

  it('has one hart, 1 GiB of RAM at 0x80000000, a PLIC wired to the hart and an IMSIC', () => {
    expect(tree.find('/cpus')?.children.map((c) => c.name)).toEqual(['cpu@0']);
    expect(tree.find('/cpus/cpu@0/interrupt-controller')?.string('compatible')).toBe('riscv,cpu-intc');
    expect(regions(tree.find('/memory@80000000')!)).toEqual([{ base: 0x8000_0000n, size: 0x4000_0000n }]);
    const plic = tree.find('/soc/interrupt-controller@c000000')!;
    expect(plic.strings('compatible')).toContain('riscv,plic0');
    expect(plic.u32('#interrupt-cells')).toBe(1);
    const intc = tree.find('/cpus/cpu@0/interrupt-controller')!.u32('phandle');
    expect(plic.u32s('interrupts-extended')).toEqual([intc, 11, intc, 9]);
    const imsic = tree.find('/soc/interrupt-controller@28000000')!;
    expect(imsic.string('compatible')).toBe('riscv,imsics');
    expect(imsic.u32('riscv,num-ids')).toBe(255);
    expect(imsic.has('msi-controller')).toBe(true);
  });

  it('has the RISC-V IOMMU at 0x3010000 with four named wired interrupts', () => {
    expect(t.iommus).toHaveLength(1);
    expect(t.iommus[0]).toMatchObject({
      path: '/soc/iommu@3010000',
      labels: ['iommu'],
      kind: 'riscv-iommu',
      iommuCells: 1,
      registers: [{ base: 0x301_0000n, size: 0x1000n }],
      signalling: 'wired',
      msi: null,
    });
    expect(t.iommus[0].interrupts.map((i) => [i.name, i.controller, i.cells])).toEqual([
      ['cmdq', '/soc/interrupt-controller@c000000', [36]],
      ['fltq', '/soc/interrupt-controller@c000000', [37]],
      ['pm', '/soc/interrupt-controller@c000000', [38]],
      ['priq', '/soc/interrupt-controller@c000000', [39]],
    ]);
  });

  it('translates the DMA engine as device 0x1 and every PCI requester id r as device r', () => {
    expect(t.iommus[0].serves).toEqual({
      endpoints: [{ path: '/soc/dma-controller@3020000', ids: [1] }],
      pciRanges: [{ bridge: '/soc/pci@30000000', entry: 0, mask: 0xffffffff, ridBase: 0, ridLast: 0xffff, idBase: 0, idLast: 0xffff }],
      pciFunctions: [
        { bridge: '/soc/pci@30000000', path: '/soc/pci@30000000/dma@1', bdf: '00:01.0', rid: 0x08, id: 0x08 },
        { bridge: '/soc/pci@30000000', path: '/soc/pci@30000000/dma@2', bdf: '00:02.0', rid: 0x10, id: 0x10 },
        { bridge: '/soc/pci@30000000', path: '/soc/pci@30000000/dma@2,1', bdf: '00:02.1', rid: 0x11, id: 0x11 },
      ],
      ipmmuCaches: [],
    });
  });

  it('has an ECAM host bridge with a 32-bit window, MSIs to the IMSIC, and no warnings', () => {
    expect(t.hostBridges).toHaveLength(1);
    expect(t.hostBridges[0]).toMatchObject({
      path: '/soc/pci@30000000',
      compatible: ['pci-host-ecam-generic'],
      registers: [{ base: 0x3000_0000n, size: 0x1000_0000n }],
      busRange: [0, 0xff],
      msiParent: { controller: '/soc/interrupt-controller@28000000', via: 'msi-parent', id: null },
    });
    expect(tree.find('/soc/pci@30000000')!.u32s('ranges')).toEqual([0x0200_0000, 0, 0x4000_0000, 0, 0x4000_0000, 0, 0x4000_0000]);
    expect(t.warnings).toEqual([]);
  });

  it('names the devices the hardware models are', () => {
    expect(tree.find('/soc/dma-controller@3020000')!.string('compatible')).toBe(DMA_ENGINE_COMPATIBLE);
    for (const f of t.hostBridges[0].functions) expect(f.compatible[0]).toBe(pciCompatible(PCI_DMA_ENGINE_IDS));
  });
});

describe('riscv-virt-pci-iommu', () => {
  const { tree } = loadBuiltinPlatform('riscv-virt-pci-iommu');
  const t = analyseIommuTopology(tree);

  it('has the RISC-V IOMMU as PCI function 00:01.0 that signals by MSI (or INTx)', () => {
    expect(t.iommus).toHaveLength(1);
    expect(t.iommus[0]).toMatchObject({
      path: '/soc/pci@30000000/iommu@1',
      kind: 'riscv-iommu-pci',
      compatible: [pciCompatible(PCI_RISCV_IOMMU_IDS), 'riscv,pci-iommu'],
      registers: [],
      pci: { bridge: '/soc/pci@30000000', bus: 0, device: 1, function: 0, rid: 8, bdf: '00:01.0' },
      msi: { controller: '/soc/interrupt-controller@28000000', via: 'msi-parent', id: null },
      signalling: 'wired-or-msi',
    });
  });

  it('translates every other function and leaves its own requester id out', () => {
    const s = t.iommus[0].serves;
    expect(s.endpoints).toEqual([]);
    expect(s.pciRanges.map((r) => [r.ridBase, r.ridLast, r.idBase, r.idLast])).toEqual([
      [0, 7, 0, 7],
      [9, 0xffff, 9, 0xffff],
    ]);
    expect(t.hostBridges[0].functions.map((f) => [f.bdf, f.isIommu, f.iommu?.id ?? null])).toEqual([
      ['00:01.0', true, null],
      ['00:02.0', false, 0x10],
      ['00:03.0', false, 0x18],
      ['00:03.1', false, 0x19],
    ]);
    expect(t.endpoints).toEqual([]);
    expect(t.warnings).toEqual([]);
  });

  it('keeps the platform DMA engine, untranslated', () => {
    const dma = tree.find('/soc/dma-controller@3020000')!;
    expect(dma.string('compatible')).toBe(DMA_ENGINE_COMPATIBLE);
    expect(dma.has('iommus')).toBe(false);
  });
});

describe.each(listBuiltinPlatforms().map((p) => p.name))('%s', (name) => {
  const loaded = loadBuiltinPlatform(name);

  it('agrees with the OS side on every id (two independent readings of the bindings)', () => {
    const t = analyseIommuTopology(loaded.tree);
    for (const ep of t.endpoints) {
      const os = iommusOf(loaded.tree, loaded.tree.find(ep.path)!);
      expect(os.map((r) => ({ iommu: r.iommu.path, ids: r.args }))).toEqual(ep.iommus.map((r) => ({ iommu: r.iommu, ids: r.ids })));
    }
    for (const b of t.hostBridges) {
      const bridge = loaded.tree.find(b.path)!;
      for (const f of b.functions) {
        const os = iommuForRid(loaded.tree, bridge, f.rid);
        expect(os === null ? null : { iommu: os.iommu.path, id: os.args[0] }).toEqual(f.iommu === null ? null : { iommu: f.iommu.iommu, id: f.iommu.id });
      }
    }
  });

  it('documents its address map: every range in the header comment is a node or window of the tree', () => {
    const ranges = [...loaded.source.matchAll(/^\/\/\s+0x([0-9a-f_]+) - 0x([0-9a-f_]+)\s+(.*)$/gm)].map((m) => ({
      base: BigInt(`0x${m[1].replaceAll('_', '')}`),
      size: BigInt(`0x${m[2].replaceAll('_', '')}`) - BigInt(`0x${m[1].replaceAll('_', '')}`) + 1n,
      what: m[3],
    }));
    expect(ranges.length).toBeGreaterThanOrEqual(5);
    const known = new Set<string>();
    for (const node of loaded.tree.root.walk()) {
      if (node.parent === null || node.parent.string('device_type') === 'pci' || node.parent.name === 'cpus') continue;
      if (node.has('reg')) for (const r of regions(node)) known.add(`${r.base}+${r.size}`);
    }
    // A host bridge's memory window is a range too.
    const pci = [...loaded.tree.root.walk()].find((n) => n.strings('compatible')?.includes('pci-host-ecam-generic'))?.u32s('ranges');
    if (pci !== undefined) known.add(`${BigInt(pci[3]) * 2n ** 32n + BigInt(pci[4])}+${BigInt(pci[5]) * 2n ** 32n + BigInt(pci[6])}`);
    for (const r of ranges) expect(known.has(`${r.base}+${r.size}`), `${r.what}`).toBe(true);
  });

  it('survives a DTB round trip with the same topology (labels aside)', () => {
    const fromDtb = analyseIommuTopology(readDtb(writeDtb(loaded.tree)));
    const strip = (tree: DeviceTree): unknown => JSON.parse(JSON.stringify(analyseIommuTopology(tree), (k, v: unknown) => (k === 'labels' ? [] : typeof v === 'bigint' ? v.toString() : v)));
    expect(strip(readDtb(writeDtb(loaded.tree)))).toEqual(strip(loaded.tree));
    expect(fromDtb.iommus.length).toBe(analyseIommuTopology(loaded.tree).iommus.length);
    expect(fromDtb.iommus.length).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!haveDtc)('compiles with dtc without a single warning', () => {
    const r = spawnSync('dtc', ['-I', 'dts', '-O', 'dtb', '-o', '/dev/null', loaded.file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
