// Arm machines: the processor (an Arm CPU with MPIDR affinity), the GIC built from the tree
// with device interrupts wired by their interrupt parent, QEMU virt dumps that must build and
// boot, and devices left out behind an IOMMU the machine has no model of.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GicV2, GicV3 } from '../../../src/devices/gic/index.js';
import { DeviceTreeError } from '../../../src/formats/devicetree/tree.js';
import { dmaEngineOf } from '../../../src/os/drivers/dma-engine/index.js';
import { loadBuiltinPlatform } from '../../../src/platform/builtin/index.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { Machine, MachineError } from '../../../src/platform/machine/machine.js';
import { MPIDR_EL1 } from '../../../src/sim/hart.js';

function fixture(path: string): Machine {
  const file = new URL(`../../fixtures/${path}`, import.meta.url);
  return new Machine(parseDts(readFileSync(file, 'utf8'), { file: file.pathname }));
}

function bootLog(machine: Machine) {
  const kernel = machine.boot();
  const text = kernel.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
  const state = (name: string) => kernel.drivers.find((d) => d.name === name)?.state;
  return { kernel, text, state };
}

/** A GIC-only Arm board: a GICv2 or GICv3 and a DMA engine on SPI 7 (level-high), no IOMMU. */
function gicBoard(version: 2 | 3, extra = ''): string {
  const gic =
    version === 2
      ? 'compatible = "arm,cortex-a15-gic"; reg = <0x0 0x08000000 0x0 0x10000>, <0x0 0x08010000 0x0 0x10000>;'
      : 'compatible = "arm,gic-v3"; reg = <0x0 0x08000000 0x0 0x10000>, <0x0 0x080a0000 0x0 0xf60000>;';
  return `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&gic>;
	cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { device_type = "cpu"; compatible = "arm,cortex-a57"; reg = <0x0>; }; };
	memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x0 0x8000000>; };
	gic: intc@8000000 { #interrupt-cells = <3>; interrupt-controller; ${gic} };
	dma@9060000 { compatible = "iommu-lab,dma-engine"; reg = <0x0 0x09060000 0x0 0x1000>; interrupts = <0 7 4>; };
	${extra}
};`;
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 11 + seed) & 0xff);
}

describe.each([2, 3] as const)('a GIC-only board with a GICv%i', (version) => {
  it('builds an Arm CPU and the GIC, wires the DMA engine to SPI 7 (INTID 39), and lists nothing unmodelled', () => {
    const machine = new Machine(parseDts(gicBoard(version)));
    expect(machine.hart.architecture).toBe('arm');
    expect(machine.gic?.model).toBeInstanceOf(version === 2 ? GicV2 : GicV3);
    expect(machine.plic).toBeNull();
    expect(machine.dmaEngines[0].engine.irq).toBe(machine.gic?.model.input(39));
    expect(machine.unmodelled).toEqual([]);
  });

  it('completes a DMA transfer by interrupt: the engine raises SPI 7, the kernel takes it through the GIC', () => {
    const machine = new Machine(parseDts(gicBoard(version)));
    const { kernel, text, state } = bootLog(machine);
    expect(state('8000000.intc'), text).toBe('bound');
    expect(state('9060000.dma'), text).toBe('bound');
    expect(text).toMatch(/interrupt-driven/);
    const channel = dmaEngineOf(kernel.drivers.find((d) => d.name === '9060000.dma')!);
    const src = BigInt(kernel.pages.allocPages(1)) << 12n;
    const dst = BigInt(kernel.pages.allocPages(1)) << 12n;
    machine.memory.writeBytes(src, pattern(1024, version));
    expect(channel.copy(src, dst, 1024)).toMatchObject({ ok: true });
    expect(machine.memory.readBytes(dst, 1024)).toEqual(pattern(1024, version));
    expect(channel.stats.interrupts).toBe(1);
    expect(kernel.irq.counts.get('9060000.dma')).toBe(1);
    expect(machine.hart.externalInterrupt.asserted).toBe(false);
    expect(machine.gic?.model.runningPriority(0)).toBe(0xff);
    expect(text).not.toMatch(/\[(warn|error)\]/);
  });

  it('rejects an SPI beyond the GIC model, naming the node (machine option gic.spis)', () => {
    const tree = parseDts(gicBoard(version));
    expect(() => new Machine(tree, { gic: { spis: 0 } })).toThrow(DeviceTreeError);
    expect(() => new Machine(tree, { gic: { spis: 0 } })).toThrow("/dma@9060000: SPI 7 is beyond the GIC's 0 SPIs");
  });
});

describe('Arm processor and interrupt wiring', () => {
  it("takes the CPU's MPIDR affinity from its reg (Aff3 in the first of two cells) and gives it to the GICv3", () => {
    const dts = gicBoard(3).replace('cpus { #address-cells = <1>;', 'cpus { #address-cells = <2>;').replace('reg = <0x0>; }; };', 'reg = <0x0 0x10203>; }; };');
    const machine = new Machine(parseDts(dts));
    expect(machine.hart.affinity).toBe(0x01_0203);
    expect(machine.hart.systemRegisters.read(MPIDR_EL1)).toBe(0x8001_0203n);
    const { state, text } = bootLog(machine);
    expect(state('8000000.intc'), text).toBe('bound');
    expect(text).toMatch(/CPU affinity 0x10203/);
  });

  it('makes the CPU an Arm one when the tree has a GIC and no cpu node, or a cpu of another vendor', () => {
    const dts = gicBoard(2).replace(/\tcpus \{.*\n/, '');
    expect(new Machine(parseDts(dts)).hart.architecture).toBe('arm');
    expect(new Machine(parseDts(gicBoard(3).replace('arm,cortex-a57', 'qcom,kryo'))).hart.architecture).toBe('arm');
    expect(new Machine(loadBuiltinPlatform('riscv-virt').tree).hart.architecture).toBe('riscv');
  });

  it('resolves interrupt-parent from the nearest ancestor that names one, and interrupts-extended', () => {
    const extra = `bus { compatible = "simple-bus"; #address-cells = <2>; #size-cells = <2>; ranges; interrupt-parent = <&gic>;
		dma@9070000 { compatible = "iommu-lab,dma-engine"; reg = <0x0 0x09070000 0x0 0x1000>; interrupts = <0 9 1>; }; };
	dma@9080000 { compatible = "iommu-lab,dma-engine"; reg = <0x0 0x09080000 0x0 0x1000>; interrupts-extended = <&gic 1 3 4>; };`;
    const machine = new Machine(parseDts(gicBoard(3, extra)));
    const gic = machine.gic!.model;
    const irq = (path: string) => machine.dmaEngines.find((e) => e.node.path === path)?.engine.irq;
    expect(irq('/bus/dma@9070000')).toBe(gic.input(32 + 9));
    expect(irq('/dma@9080000')).toBe(gic.input(16 + 3, 0));
  });

  it('reports malformed GIC specifiers and GIC nodes as user errors', () => {
    const wrongType = gicBoard(2).replace('interrupts = <0 7 4>;', 'interrupts = <5 7 4>;');
    expect(() => new Machine(parseDts(wrongType))).toThrow('/dma@9060000: interrupt type 5 is neither SPI (0) nor PPI (1)');
    const badPpi = gicBoard(2).replace('interrupts = <0 7 4>;', 'interrupts = <1 16 4>;');
    expect(() => new Machine(parseDts(badPpi))).toThrow(/PPI 16 does not exist/);
    const oddCells = gicBoard(2).replace('interrupts = <0 7 4>;', 'interrupts = <0 7>;');
    expect(() => new Machine(parseDts(oddCells))).toThrow(/interrupts has 2 cells, not a multiple of #interrupt-cells \(3\)/);
    const noCpuInterface = gicBoard(2).replace(', <0x0 0x08010000 0x0 0x10000>', '');
    expect(() => new Machine(parseDts(noCpuInterface))).toThrow('/intc@8000000: reg needs the Distributor and the CPU interface');
    const aff3 = gicBoard(3).replace('cpus { #address-cells = <1>;', 'cpus { #address-cells = <2>;').replace('reg = <0x0>; }; };', 'reg = <0x1 0x0>; }; };');
    expect(() => new Machine(parseDts(aff3))).toThrow(MachineError);
  });

  it('leaves a device unconnected when its interrupt parent is a controller without a model', () => {
    const extra = `other: intc@9100000 { compatible = "vendor,intc"; reg = <0x0 0x09100000 0x0 0x1000>; interrupt-controller; #interrupt-cells = <1>; };
	dma@9070000 { compatible = "iommu-lab,dma-engine"; reg = <0x0 0x09070000 0x0 0x1000>; interrupt-parent = <&other>; interrupts = <3>; };`;
    const machine = new Machine(parseDts(gicBoard(2, extra)));
    const engine = machine.dmaEngines.find((e) => e.node.path === '/dma@9070000')!.engine;
    expect(engine.irq.name).toBe('/dma@9070000.irq0');
    expect(machine.unmodelled.map((n) => n.path)).toEqual(['/intc@9100000']);
  });
});

describe('QEMU virt device trees (test/fixtures)', () => {
  it('-machine virt (GICv2, SMMUv3, GICv2m): builds, lists what it does not model, boots without errors', () => {
    const machine = fixture('dts/qemu-arm-virt-dump.dts');
    expect(machine.gic?.model).toBeInstanceOf(GicV2);
    expect(machine.hart.architecture).toBe('arm');
    // QEMU's virtio-mmio slots without a device are empty transports (DeviceID 0, VIRTIO 1.3 4.2.3.1.1).
    expect(machine.emptyVirtioSlots.map((s) => s.node.path)).toEqual(['/virtio_mmio@a000200', '/virtio_mmio@a000000']);
    expect(machine.unmodelled.map((n) => n.path)).toEqual([
      '/fw-cfg@9020000',
      '/gpio-keys',
      '/pl061@9030000',
      '/pl031@9010000',
      '/pl011@9000000',
      '/intc@8000000/v2m@8020000',
      '/flash@0',
    ]);
    const { text, state } = bootLog(machine);
    expect(state('8000000.intc'), text).toBe('bound');
    expect(state('9050000.smmuv3'), text).toBe('bound');
    expect(state('10000000.pcie'), text).toBe('bound');
    expect(state('a000000.virtio_mmio'), text).toBe('bound');
    expect(text).toMatch(/a000200\.virtio_mmio: virtio-mmio slot without a device \(DeviceID 0\)/);
    expect(text).toMatch(/GICv2: 288 interrupts \(256 SPIs\)/);
    expect(text).not.toMatch(/\[error\]/);
  });

  it('-machine virt,gic-version=3,iommu=smmuv3 (GICv3 with an ITS): the GICv3 driver binds without the ITS', () => {
    const machine = fixture('bindings/qemu-arm-virt-smmuv3.dts');
    expect(machine.gic?.model).toBeInstanceOf(GicV3);
    expect(machine.unmodelled.map((n) => n.path)).toContain('/intc@8000000/its@8080000');
    expect(machine.unmodelled.map((n) => n.path)).not.toEqual(expect.arrayContaining(['/psci', '/timer', '/pmu', '/apb-pclk', '/cpus/cpu@0']));
    const { text, state } = bootLog(machine);
    expect(state('8000000.intc'), text).toBe('bound');
    expect(text).toMatch(/GICv3: 288 interrupts \(256 SPIs\), 5 priority bits/);
    expect(text).toMatch(/the ITS is not used/);
    expect(text).not.toMatch(/\[error\]/);
  });

  it('-device virtio-iommu-pci: the virtio-iommu is built as PCI function 00:01.0, and the driver registers it', () => {
    const machine = fixture('bindings/qemu-arm-virt-virtio-iommu.dts');
    expect(machine.pcie).toHaveLength(1);
    expect(machine.iommus.map((i) => [i.kind, i.node.path])).toEqual([['virtio-iommu', '/pcie@10000000/virtio_iommu@1,0']]);
    // Its MSI-X table and its virtio structures (VIRTIO 1.3 4.1.4) in BARs the firmware assigned.
    expect(machine.pcie[0].bars.length).toBe(2);
    expect(machine.unmodelled.map((n) => n.path)).not.toContain('/pcie@10000000/virtio_iommu@1,0');
    const { kernel, text, state } = bootLog(machine);
    expect(state('10000000.pcie'), text).toBe('bound');
    expect(state('0000:00:01.0'), text).toBe('bound');
    // No MSI controller modelled (the GICv2m frame is not): the driver polls the queues.
    expect(text).toMatch(/0000:00:01\.0: virtio-pci iommu \(device id 23\), 2 queues, interrupts polled/);
    expect(kernel.iommu.instances.map((i) => i.node.path)).toEqual(['/pcie@10000000/virtio_iommu@1,0']);
    expect(text).not.toMatch(/\[error\]/);
  });

  it('an Arm board with a DMA engine behind both an SMMUv3 and an IPMMU: the IPMMUs are built, the engine is left out, the GICv3 and the SMMUv3 bind', () => {
    const machine = fixture('dtb/arm-smmuv3.dts');
    // The IPMMU pair is modelled (renesas,ipmmu-r8a7795: Gen3): a root without an interrupt and a cache IPMMU reporting to it.
    expect(machine.iommus.map((i) => [i.kind, i.node.path])).toEqual([
      ['ipmmu-vmsa', '/iommu@e67b0000'],
      ['ipmmu-vmsa', '/iommu@febd0000'],
      ['smmuv3', '/iommu@9050000'],
    ]);
    const [root, cache] = machine.iommus;
    if (root.kind !== 'ipmmu-vmsa' || cache.kind !== 'ipmmu-vmsa') throw new Error('expected two IPMMUs');
    expect(cache.model.root).toBe(root.model);
    // The engine's iommus names both the SMMU and the IPMMU: one DMA port cannot go through two IOMMUs.
    expect(machine.dmaEngines).toEqual([]);
    expect(machine.unmodelled.map((n) => n.path)).toEqual(['/interrupt-controller@8000000/msi-controller@8080000', '/dma@9060000']);
    const { state } = bootLog(machine);
    expect(state('8000000.interrupt-controller')).toBe('bound');
    expect(state('9050000.iommu')).toBe('bound');
  });
});

describe('the arm-virt built-in platform', () => {
  const noSmmu = (source: string) => `${source}
&dma0 { /delete-property/ iommus; };
&pcie { /delete-property/ iommu-map; };
/delete-node/ &smmu;
`;

  it('builds the SMMUv3 with its wired interrupts, and DMA of the engine and of the PCI functions goes through it', () => {
    const machine = new Machine(loadBuiltinPlatform('arm-virt').tree);
    expect(machine.unmodelled).toEqual([]);
    const smmu = machine.iommus[0];
    if (smmu.kind !== 'smmuv3') throw new Error(`expected an SMMUv3, found ${smmu.kind}`);
    expect(machine.dmaEngines[0]).toMatchObject({ deviceId: 0x10000 });
    expect(machine.dmaEngines[0].engine.port).toBe(smmu.port);
    expect(machine.pcie[0].bridge.upstream).toBe(smmu.port);
    const { kernel, text, state } = bootLog(machine);
    for (const name of ['8000000.intc', '9050000.iommu', 'c000000.dma-controller', '10000000.pcie', '0000:00:01.0', '0000:00:02.0']) expect(state(name), text).toBe('bound');
    expect(text).not.toMatch(/\[error\]/);
    // The engine's default domain: DMA through the DMA API is translated by the SMMU.
    const dev = kernel.drivers.find((d) => d.name === 'c000000.dma-controller')!;
    const src = BigInt(kernel.pages.allocPages(1)) << 12n;
    const dst = BigInt(kernel.pages.allocPages(1)) << 12n;
    machine.memory.writeBytes(src, pattern(4096, 3));
    const before = smmu.model.statistics().requests.untranslated;
    expect(dmaEngineOf(dev).copy(src, dst, 4096)).toMatchObject({ ok: true });
    expect(machine.memory.readBytes(dst, 4096)).toEqual(pattern(4096, 3));
    expect(smmu.model.statistics().requests.untranslated - before).toBe(2 * 4096 / 64);
  });

  it('with the SMMU left out, takes the DMA engine completion on SPI 112 and polls the PCI functions', () => {
    const source = noSmmu(loadBuiltinPlatform('arm-virt').source);
    const machine = new Machine(parseDts(source, { file: 'arm-virt-no-smmu.dts' }));
    expect(machine.unmodelled).toEqual([]);
    expect(machine.dmaEngines[0].engine.irq).toBe(machine.gic?.model.input(32 + 112));
    const { kernel, text, state } = bootLog(machine);
    for (const name of ['8000000.intc', 'c000000.dma-controller', '10000000.pcie', '0000:00:01.0', '0000:00:02.0']) expect(state(name), text).toBe('bound');
    for (const name of ['c000000.dma-controller', '0000:00:02.0']) {
      const channel = dmaEngineOf(kernel.drivers.find((d) => d.name === name)!);
      const src = BigInt(kernel.pages.allocPages(1)) << 12n;
      const dst = BigInt(kernel.pages.allocPages(1)) << 12n;
      machine.memory.writeBytes(src, pattern(4096, name.length));
      expect(channel.copy(src, dst, 4096)).toMatchObject({ ok: true });
      expect(machine.memory.readBytes(dst, 4096)).toEqual(pattern(4096, name.length));
    }
    expect(kernel.irq.counts.get('c000000.dma-controller')).toBe(1);
    expect(text).not.toMatch(/\[(warn|error)\]/);
  });
});
