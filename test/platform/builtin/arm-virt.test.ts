// The arm-virt built-in platform: registered and listed by `iommu-lab platforms`, QEMU virt's
// memory map and interrupt numbers, the SMMUv3 topology it describes (read by the bindings
// analysis and by the OS's own binding code, which must agree), its header's address map,
// a DTB round trip, and dtc's opinion of the file.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bufferIo } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';
import { DMA_ENGINE_COMPATIBLE } from '../../../src/devices/dma-engine/registers.js';
import { PCI_DMA_ENGINE_IDS } from '../../../src/devices/pcie/ids.js';
import type { DeviceTree } from '../../../src/formats/devicetree/tree.js';
import { readDtb, writeDtb } from '../../../src/formats/dtb/index.js';
import { iommuForRid, iommusOf } from '../../../src/os/core/of-iommu.js';
import { regions } from '../../../src/os/of/address.js';
import { analyseIommuTopology } from '../../../src/platform/bindings/index.js';
import { findBuiltinPlatform, listBuiltinPlatforms, loadBuiltinPlatform } from '../../../src/platform/builtin/index.js';

const haveDtc = spawnSync('dtc', ['--version']).status === 0;
const loaded = loadBuiltinPlatform('arm-virt');
const { tree } = loaded;
const t = analyseIommuTopology(tree);

describe('arm-virt in the registry', () => {
  it('is listed with a one-line description and loads by name', () => {
    const p = listBuiltinPlatforms().find((x) => x.name === 'arm-virt');
    expect(p?.description).toMatch(/^Arm virt-like machine .*SMMUv3/);
    expect(p?.description).not.toContain('\n');
    expect(findBuiltinPlatform('arm-virt')?.file).toBe(loaded.file);
    expect(loaded.source.startsWith('// arm-virt:')).toBe(true);
    expect(tree.root.string('model')).toBe('iommu-lab Arm virt');
  });

  it('is listed by `iommu-lab platforms`, as text and as JSON', async () => {
    const io = bufferIo();
    expect(await runCli(['platforms'], io)).toBe(0);
    expect(io.stdout().split('\n').some((l) => l.startsWith('arm-virt '))).toBe(true);
    const json = bufferIo();
    await runCli(['platforms', '--json'], json);
    expect((JSON.parse(json.stdout()) as { name: string }[]).map((p) => p.name)).toContain('arm-virt');
  });
});

describe('arm-virt: QEMU virt layout', () => {
  it('has one Cortex-A57 with PSCI, the architected timer on PPIs 13, 14, 11, 10, and 1 GiB of RAM at 0x40000000', () => {
    const cpus = tree.find('/cpus')!.children;
    expect(cpus.map((c) => [c.name, c.string('compatible'), c.u32('reg')])).toEqual([['cpu@0', 'arm,cortex-a57', 0]]);
    expect(tree.find('/psci')?.strings('compatible')).toContain('arm,psci-0.2');
    expect(tree.find('/timer')?.u32s('interrupts')).toEqual([1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]);
    expect(regions(tree.find('/memory@40000000')!)).toEqual([{ base: 0x4000_0000n, size: 0x4000_0000n }]);
  });

  it('has a GICv3 at QEMU addresses as the interrupt parent of everything, without an ITS', () => {
    const gic = tree.find('/intc@8000000')!;
    expect(gic.string('compatible')).toBe('arm,gic-v3');
    expect(gic.u32('#interrupt-cells')).toBe(3);
    expect(regions(gic)).toEqual([
      { base: 0x0800_0000n, size: 0x1_0000n },
      { base: 0x080a_0000n, size: 0xf6_0000n },
    ]);
    expect(tree.root.u32('interrupt-parent')).toBe(gic.u32('phandle'));
    expect(gic.children).toEqual([]);
  });

  it('has the SMMUv3 at 0x09050000 with its four edge-rising wired interrupts, SPIs 74-77', () => {
    expect(t.iommus).toHaveLength(1);
    expect(t.iommus[0]).toMatchObject({
      path: '/iommu@9050000',
      labels: ['smmu'],
      kind: 'arm-smmu-v3',
      iommuCells: 1,
      registers: [{ base: 0x905_0000n, size: 0x2_0000n }],
      signalling: 'wired',
      msi: null,
    });
    expect(t.iommus[0].interrupts.map((i) => [i.name, i.controller, i.description])).toEqual([
      ['eventq', '/intc@8000000', 'SPI 74 (INTID 106), edge rising'],
      ['priq', '/intc@8000000', 'SPI 75 (INTID 107), edge rising'],
      ['cmdq-sync', '/intc@8000000', 'SPI 76 (INTID 108), edge rising'],
      ['gerror', '/intc@8000000', 'SPI 77 (INTID 109), edge rising'],
    ]);
    expect(tree.find('/iommu@9050000')!.has('dma-coherent')).toBe(true);
  });

  it('translates the DMA engine as stream 0x10000 and every requester id r as stream r', () => {
    expect(t.iommus[0].serves).toEqual({
      endpoints: [{ path: '/dma-controller@c000000', ids: [0x10000] }],
      pciRanges: [{ bridge: '/pcie@10000000', entry: 0, mask: 0xffffffff, ridBase: 0, ridLast: 0xffff, idBase: 0, idLast: 0xffff }],
      pciFunctions: [
        { bridge: '/pcie@10000000', path: '/pcie@10000000/dma@1', bdf: '00:01.0', rid: 0x08, id: 0x08 },
        { bridge: '/pcie@10000000', path: '/pcie@10000000/dma@2', bdf: '00:02.0', rid: 0x10, id: 0x10 },
      ],
      ipmmuCaches: [],
    });
    expect(t.warnings).toEqual([]);
  });

  it('has the ECAM host bridge of QEMU highmem (256 buses at 0x4010000000) with the 32-bit window, and QEMU INTx swizzling', () => {
    expect(t.hostBridges[0]).toMatchObject({
      path: '/pcie@10000000',
      compatible: ['pci-host-ecam-generic'],
      registers: [{ base: 0x40_1000_0000n, size: 0x1000_0000n }],
      busRange: [0, 0xff],
      msiParent: null,
    });
    const pcie = tree.find('/pcie@10000000')!;
    expect(pcie.u32s('ranges')).toEqual([0x0200_0000, 0, 0x1000_0000, 0, 0x1000_0000, 0, 0x2eff_0000]);
    // interrupt-map: (phys.hi 0 0 pin) -> (&gic, 2 address cells, SPI 3 + (device + pin - 1) % 4, level-high).
    const map = pcie.u32s('interrupt-map')!;
    const gic = tree.find('/intc@8000000')!.u32('phandle');
    for (let i = 0; i < 16; i++) {
      const e = map.slice(i * 10, i * 10 + 10);
      const device = e[0] >>> 11;
      expect(e.slice(4)).toEqual([gic, 0, 0, 0, 3 + ((device + e[3] - 1) % 4), 4]);
    }
  });

  it('names the devices the hardware models are', () => {
    const dma = tree.find('/dma-controller@c000000')!;
    expect(dma.string('compatible')).toBe(DMA_ENGINE_COMPATIBLE);
    expect(dma.u32s('interrupts')).toEqual([0, 112, 4]);
    for (const f of t.hostBridges[0].functions) expect(f.compatible[0]).toBe(`pci${PCI_DMA_ENGINE_IDS.vendor.toString(16)},${PCI_DMA_ENGINE_IDS.device.toString(16)}`);
  });
});

describe('arm-virt: consistency', () => {
  it('agrees with the OS side on every id (two independent readings of the bindings)', () => {
    for (const ep of t.endpoints) {
      const os = iommusOf(tree, tree.find(ep.path)!);
      expect(os.map((r) => ({ iommu: r.iommu.path, ids: r.args }))).toEqual(ep.iommus.map((r) => ({ iommu: r.iommu, ids: r.ids })));
    }
    for (const b of t.hostBridges) {
      for (const f of b.functions) {
        const os = iommuForRid(tree, tree.find(b.path)!, f.rid);
        expect(os === null ? null : { iommu: os.iommu.path, id: os.args[0] }).toEqual(f.iommu === null ? null : { iommu: f.iommu.iommu, id: f.iommu.id });
      }
    }
  });

  it('documents its address map: every range in the header comment is a node or window of the tree', () => {
    const ranges = [...loaded.source.matchAll(/^\/\/\s+0x([0-9a-f_]+) - 0x([0-9a-f_]+)\s+(.*)$/gm)].map((m) => {
      const base = BigInt(`0x${m[1].replaceAll('_', '')}`);
      return { base, size: BigInt(`0x${m[2].replaceAll('_', '')}`) - base + 1n, what: m[3] };
    });
    expect(ranges).toHaveLength(7);
    const known = new Set<string>();
    for (const node of tree.root.walk()) {
      if (node.parent === null || node.parent.string('device_type') === 'pci' || node.parent.name === 'cpus') continue;
      if (node.has('reg')) for (const r of regions(node)) known.add(`${r.base}+${r.size}`);
    }
    const pci = tree.find('/pcie@10000000')!.u32s('ranges')!;
    known.add(`${BigInt(pci[3]) * 2n ** 32n + BigInt(pci[4])}+${BigInt(pci[5]) * 2n ** 32n + BigInt(pci[6])}`);
    for (const r of ranges) expect(known.has(`${r.base}+${r.size}`), r.what).toBe(true);
  });

  it('survives a DTB round trip with the same topology (labels aside)', () => {
    const strip = (x: DeviceTree): unknown => JSON.parse(JSON.stringify(analyseIommuTopology(x), (k, v: unknown) => (k === 'labels' ? [] : typeof v === 'bigint' ? v.toString() : v)));
    expect(strip(readDtb(writeDtb(tree)))).toEqual(strip(tree));
  });

  it.skipIf(!haveDtc)('compiles with dtc without a single warning', () => {
    const r = spawnSync('dtc', ['-I', 'dts', '-O', 'dtb', '-o', '/dev/null', loaded.file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
