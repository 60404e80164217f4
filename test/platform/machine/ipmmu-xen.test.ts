// Machines with Renesas IPMMU-VMSAs built from the device tree (binding renesas,ipmmu-vmsa:
// renesas,ipmmu-main names a cache IPMMU's root; a master's iommus = <&ipmmu N> is micro-TLB N),
// and the Xen-style hypervisor booted instead of a kernel when /chosen is Xen's (Xen
// docs/misc/arm/device-tree/booting.txt: xen,xen-bootargs, multiboot modules).

import { describe, expect, it } from 'vitest';
import { ContextReg, contextRegisterOffset, Imctr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { DeviceTreeError } from '../../../src/formats/devicetree/tree.js';
import { loadBuiltinPlatform } from '../../../src/platform/builtin/index.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { Machine, MachineError, type MachineIpmmu } from '../../../src/platform/machine/machine.js';
import { hypervisorOf } from '../../../src/platform/machine/hypervisor.js';

const BOARD = loadBuiltinPlatform('rcar-gen3-xen');

function board(extra = ''): Machine {
  return new Machine(parseDts(`${BOARD.source}\n${extra}`, { file: 'rcar-gen3-xen.dts' }));
}

function ipmmus(m: Machine): MachineIpmmu[] {
  return m.iommus.filter((i): i is MachineIpmmu => i.kind === 'ipmmu-vmsa');
}

function byPath(m: Machine, path: string): MachineIpmmu {
  const i = ipmmus(m).find((x) => x.node.path === path);
  if (i === undefined) throw new Error(`no IPMMU at ${path}`);
  return i;
}

/** A board whose tree lists the caches, the masters and the root in this order (the hypervisor probes in tree order). */
function reordered(order: 'caches-first' | 'masters-first'): Machine {
  const tree = parseDts(BOARD.source, { file: 'rcar-gen3-xen.dts' });
  const soc = tree.find('/soc')!;
  const isIpmmu = (n: { strings(p: string): string[] | undefined }) => (n.strings('compatible') ?? []).some((c) => c.startsWith('renesas,ipmmu-'));
  const root = soc.children.filter((n) => isIpmmu(n) && !n.has('renesas,ipmmu-main'));
  const caches = soc.children.filter((n) => isIpmmu(n) && n.has('renesas,ipmmu-main'));
  const masters = soc.children.filter((n) => n.has('iommus'));
  const moved = order === 'caches-first' ? [...caches, ...root, ...masters] : [...masters, ...caches, ...root];
  for (const n of moved) soc.removeChild(n);
  for (const n of moved) soc.addChild(n);
  return new Machine(tree);
}

describe('IPMMU topology from the device tree', () => {
  it('builds the root IPMMU-MM and each cache IPMMU with the root its renesas,ipmmu-main names', () => {
    const m = board();
    expect(ipmmus(m).map((i) => [i.node.path, i.model.isRoot])).toEqual([
      ['/soc/iommu@e67b0000', true],
      ['/soc/iommu@e6740000', false],
      ['/soc/iommu@e7740000', false],
      ['/soc/iommu@e6570000', false],
    ]);
    const root = byPath(m, '/soc/iommu@e67b0000').model;
    for (const i of ipmmus(m)) expect(i.model.root).toBe(root);
    // R-Car Gen3 (renesas,ipmmu-r8a7795): 8 contexts, 48 micro-TLBs.
    expect(root.parameters.layout).toMatchObject({ generation: 'gen3', contexts: 8, utlbs: 48 });
    // The root's first interrupt (SPI 196) is its fault output, on the GIC's INTID 228.
    expect(root.irq).toBe(m.gic?.model.input(32 + 196));
    expect(m.unmodelled).toEqual([]);
  });

  it("maps each IPMMU's registers at its reg", () => {
    const m = board();
    const ctx1 = contextRegisterOffset(byPath(m, '/soc/iommu@e6740000').model.parameters.layout, 1, ContextReg.IMCTR);
    // A write through the bus reaches the cache IPMMU's copy of IMCTR (VA64 is root-only: the cache keeps bits 2:0).
    m.bus.access(0xe674_0000n + BigInt(ctx1), 4, true, BigInt(Imctr.MMUEN | Imctr.VA64));
    expect(byPath(m, '/soc/iommu@e6740000').model.read32(ctx1)).toBe(Imctr.MMUEN);
    expect(byPath(m, '/soc/iommu@e67b0000').model.read32(ctx1)).toBe(0);
  });

  it('puts each master on its IPMMU port with its micro-TLB as device id', () => {
    const m = board();
    const expected: [string, string, number][] = [
      ['/soc/dma@e6700000', '/soc/iommu@e6740000', 0],
      ['/soc/dma@e7300000', '/soc/iommu@e7740000', 0],
      ['/soc/dma@e7310000', '/soc/iommu@e7740000', 1],
      ['/soc/dma@e6710000', '/soc/iommu@e6740000', 2],
      ['/soc/dma@ee000000', '/soc/iommu@e6570000', 0],
    ];
    expect(m.dmaEngines.map((e) => e.node.path)).toEqual(expected.map((x) => x[0]));
    for (const [engine, ipmmu, utlb] of expected) {
      const e = m.dmaEngines.find((x) => x.node.path === engine)!;
      expect(e.engine.port).toBe(byPath(m, ipmmu).port);
      expect(e.deviceId).toBe(utlb);
    }
  });

  it('builds a cache IPMMU listed before its root after the root', () => {
    const m = reordered('caches-first');
    expect(ipmmus(m)[0].node.path).toBe('/soc/iommu@e67b0000');
    expect(byPath(m, '/soc/iommu@e6570000').model.root).toBe(byPath(m, '/soc/iommu@e67b0000').model);
  });

  it('leaves out an IPMMU of a generation without a register layout (Gen2), and the masters behind it', () => {
    const m = board('&ipmmu_hc { compatible = "renesas,ipmmu-r8a7790", "renesas,ipmmu-vmsa"; };');
    expect(ipmmus(m).map((i) => i.node.path)).not.toContain('/soc/iommu@e6570000');
    expect(m.dmaEngines.map((e) => e.node.path)).not.toContain('/soc/dma@ee000000');
    expect(m.unmodelled.map((n) => n.path)).toEqual(['/soc/iommu@e6570000', '/soc/dma@ee000000']);
  });

  it('rejects a renesas,ipmmu-main that names no node, a node that is no IPMMU, or a loop', () => {
    const bad = (extra: string) => () => board(extra);
    expect(bad('&ipmmu_hc { renesas,ipmmu-main = <0x7777 2>; };')).toThrow(DeviceTreeError);
    expect(bad('&ipmmu_hc { renesas,ipmmu-main = <0x7777 2>; };')).toThrow('/soc/iommu@e6570000: renesas,ipmmu-main refers to phandle 30583, which no node has');
    expect(bad('&ipmmu_hc { renesas,ipmmu-main = <&gic 2>; };')).toThrow(MachineError);
    expect(bad('&ipmmu_hc { renesas,ipmmu-main = <&gic 2>; };')).toThrow('/soc/iommu@e6570000: renesas,ipmmu-main names /soc/interrupt-controller@f1010000, which is not an enabled IPMMU-VMSA of a known generation');
    expect(bad('&ipmmu_mm { renesas,ipmmu-main = <&ipmmu_hc 0>; };')).toThrow('renesas,ipmmu-main leads back to this IPMMU');
  });
});

describe('what the machine boots', () => {
  it("boots Xen when /chosen has Xen's command line or a multiboot module, a kernel otherwise", () => {
    expect(hypervisorOf(BOARD.tree)).toBe('xen');
    expect(hypervisorOf(loadBuiltinPlatform('arm-virt').tree)).toBeNull();
    const noArgs = parseDts(`${BOARD.source}\n/ { chosen { /delete-property/ xen,xen-bootargs; }; };`);
    expect(hypervisorOf(noArgs)).toBeNull();
    const module = parseDts(`${BOARD.source}\n/ { chosen { /delete-property/ xen,xen-bootargs; #address-cells = <1>; #size-cells = <1>; module@50000000 { compatible = "multiboot,kernel", "multiboot,module"; reg = <0x50000000 0x1000>; }; }; };`);
    expect(hypervisorOf(module)).toBe('xen');
  });

  it('bootXen() boots the hypervisor on the machine, boot() refuses and says why', () => {
    const m = board();
    expect(m.hypervisor).toBe('xen');
    expect(() => m.boot()).toThrow(MachineError);
    expect(() => m.boot()).toThrow('this device tree boots the Xen hypervisor (/chosen has xen,xen-bootargs or a multiboot module): boot it with bootXen()');
    const xen = m.bootXen();
    expect(m.bootXen()).toBe(xen);
    expect(m.xen).toBe(xen);
    expect(() => m.kernel).toThrow('the machine booted Xen, not a kernel');
    // The driver registered every IPMMU and took the root's interrupt; dom0 got dmac0.
    const instances = xen.statistics().iommu.instances;
    expect(instances.map((i) => [i.path, i.role])).toEqual([
      ['/soc/iommu@e67b0000', 'root'],
      ['/soc/iommu@e6740000', 'cache'],
      ['/soc/iommu@e7740000', 'cache'],
      ['/soc/iommu@e6570000', 'cache'],
    ]);
    expect([...xen.dom0!.devices].map((d) => d.path)).toEqual(['/soc/dma@e6700000']);
    expect([...xen.domIo.devices].map((d) => d.path).sort()).toEqual(['/soc/dma@e6710000', '/soc/dma@e7300000', '/soc/dma@e7310000', '/soc/dma@ee000000']);
    expect(xen.log.records.filter((r) => r.level === 'error' || r.level === 'warn')).toEqual([]);
  });

  it('bootXen() refuses a tree that boots a kernel', () => {
    const m = new Machine(loadBuiltinPlatform('arm-virt').tree);
    expect(() => m.bootXen()).toThrow('this device tree boots a kernel: /chosen has no xen,xen-bootargs and no multiboot module');
    expect(() => m.xen).toThrow('the hypervisor has not booted');
  });

  it('a guest passed dmac1 copies through the IPMMU models the machine built', () => {
    const m = board();
    const xen = m.bootXen();
    const g = xen.createDomain({ name: 'g', memoryMiB: 2, devices: ['/soc/dma@e7300000'] });
    const src = 0x4000_0000n;
    const dst = 0x4000_1000n;
    g.memory.write(src, Uint8Array.from({ length: 64 }, (_, i) => i + 1));
    const regs = 0xe730_0000n;
    g.memory.store(regs + 0x10n, 8, src);
    g.memory.store(regs + 0x18n, 8, dst);
    g.memory.store(regs + 0x20n, 4, 64n);
    g.memory.store(regs + 0x08n, 4, 1n); // START, op copy
    expect(Number(g.memory.load(regs + 0x0cn, 4)) & 0x6).toBe(0x2); // DONE, no ERROR
    expect([...g.memory.read(dst, 64)]).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    const cache = byPath(m, '/soc/iommu@e7740000').model.statistics();
    expect(cache.translated).toBeGreaterThan(0);
    expect(cache.utlbs.map((u) => u.utlb)).toEqual([0]);
  });
});

describe('probe order in the hypervisor follows the tree (Xen iommu_hardware_setup, deferred probe)', () => {
  it('defers cache IPMMUs listed before their root, and probes them when the root registers', () => {
    const xen = reordered('caches-first').bootXen();
    const log = xen.log.records.map((r) => `${r.source}: ${r.message}`);
    expect(log.filter((l) => /probe deferred/.test(l))).toHaveLength(3);
    const order = log.filter((l) => /registered (root|cache) IPMMU/.test(l)).map((l) => l.replace(/ \(.*/, ''));
    expect(order).toEqual([
      'ipmmu: /soc/iommu@e67b0000: registered root IPMMU',
      'ipmmu: /soc/iommu@e6740000: registered cache IPMMU',
      'ipmmu: /soc/iommu@e7740000: registered cache IPMMU',
      'ipmmu: /soc/iommu@e6570000: registered cache IPMMU',
    ]);
    expect(xen.iommu.waiting).toEqual([]);
    expect(xen.statistics().iommu.deferrals).toBe(3);
  });

  it('defers masters listed before their IPMMU, and adds them once it registers', () => {
    const xen = reordered('masters-first').bootXen();
    const log = xen.log.records.map((r) => `${r.source}: ${r.message}`);
    expect(log.filter((l) => /add deferred/.test(l))).toHaveLength(5);
    const added = log.findIndex((l) => l.startsWith('ipmmu: /soc/dma@ee000000: added master device'));
    const registered = log.findIndex((l) => l.startsWith('ipmmu: /soc/iommu@e6570000: registered cache IPMMU'));
    expect(added).toBeGreaterThan(registered);
    expect(xen.iommu.protectedDevices.map((d) => d.path).sort()).toEqual(['/soc/dma@e6700000', '/soc/dma@e6710000', '/soc/dma@e7300000', '/soc/dma@e7310000', '/soc/dma@ee000000']);
    expect(xen.iommu.waiting).toEqual([]);
  });
});

describe('an IPMMU in a tree booted as a kernel', () => {
  it('has its model, and the masters behind it wait for an IPMMU driver the kernel does not have', () => {
    const m = board('/ { chosen { /delete-property/ xen,xen-bootargs; }; };');
    expect(m.hypervisor).toBeNull();
    expect(ipmmus(m)).toHaveLength(4);
    const kernel = m.boot();
    const dma = kernel.drivers.devices.find((d) => d.node?.path === '/soc/dma@e7300000');
    expect(dma?.state).toBe('deferred');
    expect(dma?.reason).toBe('waiting for IOMMU /soc/iommu@e7740000');
  });
});
