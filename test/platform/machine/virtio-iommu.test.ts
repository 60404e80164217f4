// virtio-iommu on the machine built from a device tree: the virtio-mmio binding (a
// `virtio,mmio` node with #iommu-cells, VIRTIO 1.3 4.2) and the PCI binding (a
// `virtio,pci-iommu` function inside the host bridge, 4.1), endpoints known to the device by
// the ids of `iommus` and `iommu-map` (5.13.6.3: endpoint ids), DMA through the device, its
// own DMA around it, empty virtio-mmio slots (DeviceID 0, 4.2.3.1.1), and the options.
import { describe, expect, it } from 'vitest';
import { DmaRequester, DmaPortStatus } from '../../../src/devices/dma-port.js';
import { DeviceTreeError } from '../../../src/formats/devicetree/tree.js';
import { VIRTIO_MMIO_MAGIC, VirtioMmio } from '../../../src/formats/virtio/mmio.js';
import { ResvMemSubtype } from '../../../src/formats/virtio-iommu/probe.js';
import { VirtioMmioTransport, VirtioPciFunction } from '../../../src/hw/virtio/index.js';
import { ParameterError } from '../../../src/hw/virtio-iommu/index.js';
import { dmaEngineOf } from '../../../src/os/drivers/dma-engine/index.js';
import { virtioIommuInstanceOf } from '../../../src/os/drivers/virtio-iommu/index.js';
import type { Kernel } from '../../../src/os/kernel/kernel.js';
import { loadBuiltinPlatform } from '../../../src/platform/builtin/index.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { Machine, type MachineOptions, type MachineVirtioIommu } from '../../../src/platform/machine/machine.js';

function viommuOf(machine: Machine): MachineVirtioIommu {
  const i = machine.iommus[0];
  if (i.kind !== 'virtio-iommu') throw new Error(`expected a virtio-iommu, got ${i.kind}`);
  return i;
}

function boot(machine: Machine): { kernel: Kernel; log: string } {
  const kernel = machine.boot();
  return { kernel, log: kernel.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n') };
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 29 + seed) & 0xff);
}

/** Copies 4 KiB with the DMA API on `name`'s engine and checks the data arrived. */
function copyThrough(machine: Machine, kernel: Kernel, name: string, seed: number): void {
  const dev = kernel.drivers.find((d) => d.name === name);
  expect(dev?.state, name).toBe('bound');
  const src = BigInt(kernel.pages.allocPages(1)) << 12n;
  const dst = BigInt(kernel.pages.allocPages(1)) << 12n;
  machine.memory.writeBytes(src, pattern(4096, seed));
  expect(dmaEngineOf(dev!).copy(src, dst, 4096)).toMatchObject({ ok: true, bytes: 4096 });
  expect(machine.memory.readBytes(dst, 4096)).toEqual(pattern(4096, seed));
}

describe('the virtio-mmio binding (riscv-virt-virtio-iommu)', () => {
  it('builds a virtio-iommu behind a virtio-mmio transport with the endpoints the tree sends to it', () => {
    const machine = new Machine(loadBuiltinPlatform('riscv-virt-virtio-iommu').tree);
    const v = viommuOf(machine);
    expect(v.node.path).toBe('/soc/virtio_mmio@10001000');
    // iommus = <&viommu 0x1> on the engine; iommu-map sends requester id r to endpoint r.
    expect(v.model.params.endpoints.map((e) => e.id)).toEqual([0x1, 0x8, 0x10, 0x11]);
    expect(machine.dmaEngines[0]).toMatchObject({ deviceId: 0x1 });
    expect(machine.dmaEngines[0].engine.port).toBe(v.port);
    expect(machine.pcie[0].bridge.upstream).toBe(v.port);
    expect(machine.pcie[0].iommu).toBe(v);
    expect([0x08, 0x10, 0x11].map((rid) => machine.pcie[0].bridge.deviceIdFor(rid))).toEqual([0x08, 0x10, 0x11]);
    // Its interrupt is PLIC source 1, as the node's interrupts say.
    const transport = v.transport;
    if (!(transport instanceof VirtioMmioTransport)) throw new Error('expected the virtio-mmio transport');
    expect(transport.irq).toBe(machine.plic?.sources[1]);
    // The registers answer at reg: MagicValue "virt", Version 2, DeviceID 23 (iommu).
    const read = (base: bigint, offset: number) => Number(machine.bus.access(base + BigInt(offset), 4, false).value);
    expect(read(0x1000_1000n, VirtioMmio.MAGIC_VALUE)).toBe(VIRTIO_MMIO_MAGIC);
    expect(read(0x1000_1000n, VirtioMmio.VERSION)).toBe(2);
    expect(read(0x1000_1000n, VirtioMmio.DEVICE_ID)).toBe(23);
    // The other slot is empty: a transport whose DeviceID is 0 (4.2.3.1.1).
    expect(machine.emptyVirtioSlots.map((s) => s.node.path)).toEqual(['/soc/virtio_mmio@10002000']);
    expect(read(0x1000_2000n, VirtioMmio.MAGIC_VALUE)).toBe(VIRTIO_MMIO_MAGIC);
    expect(read(0x1000_2000n, VirtioMmio.DEVICE_ID)).toBe(0);
    expect(machine.unmodelled).toEqual([]);
  });

  it('boots: the driver registers the device, the empty slot binds without a device, every endpoint binds', () => {
    const machine = new Machine(loadBuiltinPlatform('riscv-virt-virtio-iommu').tree);
    const { kernel, log } = boot(machine);
    for (const name of ['10001000.virtio_mmio', '10002000.virtio_mmio', '3020000.dma-controller', '0000:00:01.0', '0000:00:02.0', '0000:00:02.1']) {
      expect(kernel.drivers.find((d) => d.name === name)?.state, `${name}\n${log}`).toBe('bound');
    }
    expect(log).toMatch(/10002000\.virtio_mmio: virtio-mmio slot without a device \(DeviceID 0\)/);
    expect(log).not.toMatch(/\[(warn|error)\]/);
    const driver = virtioIommuInstanceOf(kernel.iommu.instances[0]);
    expect(driver?.node.path).toBe('/soc/virtio_mmio@10001000');
    // Each endpoint was probed (5.13.6.8) and attached to its default domain (5.13.6.3).
    expect(driver?.statistics().requests).toMatchObject({ PROBE: 4, ATTACH: 4 });
    expect(viommuOf(machine).model.domainOf(0x10)).toBeGreaterThanOrEqual(0);
  });

  it('translates DMA of the platform engine and of every PCI function, data checked', () => {
    const machine = new Machine(loadBuiltinPlatform('riscv-virt-virtio-iommu').tree);
    const { kernel } = boot(machine);
    const v = viommuOf(machine);
    for (const [i, name] of ['3020000.dma-controller', '0000:00:01.0', '0000:00:02.0', '0000:00:02.1'].entries()) {
      const before = v.model.statistics().translations.translated;
      copyThrough(machine, kernel, name, i);
      // 4 KiB read and written in 64-byte transactions, each translated through a mapping (5.13.6.5).
      expect(v.model.statistics().translations.translated - before).toBe(2 * 4096 / 64);
    }
  });

  it("carries each device's endpoint id on its requests: a fault report names the device", () => {
    const machine = new Machine(loadBuiltinPlatform('riscv-virt-virtio-iommu').tree);
    const { kernel } = boot(machine);
    const faults: string[] = [];
    kernel.iommu.faultObservers.push((f) => faults.push(`${f.device?.name}:${f.iova.toString(16)}`));
    for (const name of ['3020000.dma-controller', '0000:00:02.1']) {
      const dev = kernel.drivers.find((d) => d.name === name)!;
      expect(dmaEngineOf(dev).rawReadVerify(0x7000_0000n, 64, 0n)).toMatchObject({ ok: false });
      kernel.poll();
    }
    // The driver found each endpoint id of the event queue's reports (5.13.6.9) among its devices.
    expect(faults).toEqual(['3020000.dma-controller:70000000', '0000:00:02.1:70000000']);
    expect(viommuOf(machine).model.statistics().faults).toMatchObject({ mapping: 2, lost: 0 });
  });

  it("routes the device's own DMA (its virtqueues) to the bus, not through itself", () => {
    const machine = new Machine(loadBuiltinPlatform('riscv-virt-virtio-iommu').tree);
    boot(machine);
    const v = viommuOf(machine);
    // Booting took dozens of requests through the queues, none of them translated or faulted.
    expect(v.own.counters.reads).toBeGreaterThan(0);
    expect(v.own.counters.writes).toBeGreaterThan(0);
    expect(v.model.statistics().translations).toEqual({ translated: 0, bypassed: 0, msi: 0, aborted: 0, busErrors: 0 });
  });
});

describe('the PCI binding', () => {
  it('riscv-virt-virtio-iommu-pci: a virtio-pci function at 00:01.0, MSI-X to the IMSIC, the other functions translated', () => {
    const machine = new Machine(loadBuiltinPlatform('riscv-virt-virtio-iommu-pci').tree);
    const v = viommuOf(machine);
    const bridge = machine.pcie[0].bridge;
    expect(v.transport).toBeInstanceOf(VirtioPciFunction);
    expect(bridge.functionAt(0x08)).toBe(v.transport);
    expect(v.model.params.endpoints.map((e) => e.id)).toEqual([0x10, 0x18, 0x19]);
    // The iommu-map leaves 0x08 out: the function's own requests get an id no endpoint can have.
    expect(bridge.deviceIdFor(0x08)).toBeGreaterThan(0xffff_ffff);
    expect(bridge.deviceIdFor(0x10)).toBe(0x10);
    const { kernel, log } = boot(machine);
    expect(log).toMatch(/0000:00:01\.0: virtio-pci iommu \(device id 23\), 2 queues, interrupts MSI-X/);
    expect(log).not.toMatch(/\[(warn|error)\]/);
    expect(virtioIommuInstanceOf(kernel.iommu.instances[0])?.node.path).toBe('/soc/pci@30000000/virtio_iommu@1');
    // The untranslated platform engine and the three functions behind the virtio-iommu.
    for (const [i, name] of ['3020000.dma-controller', '0000:00:02.0', '0000:00:03.0', '0000:00:03.1'].entries()) copyThrough(machine, kernel, name, i);
    const s = v.model.statistics();
    expect(s.translations).toMatchObject({ translated: 3 * 2 * 4096 / 64, aborted: 0 });
    expect(s.faults).toMatchObject({ unknown: 0, domain: 0, mapping: 0 });
    // Its virtqueue accesses and MSI-X messages went around it, to the bus.
    expect(v.own.counters.reads).toBeGreaterThan(0);
    expect(v.own.counters.writes).toBeGreaterThan(0);
  });

  it('an inline Arm board (GICv3): virtio,pci-iommu beside a DMA-engine function, polled without an MSI controller', () => {
    const dts = `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&gic>;
	cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { device_type = "cpu"; compatible = "arm,cortex-a57"; reg = <0x0>; }; };
	memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x0 0x8000000>; };
	gic: intc@8000000 { compatible = "arm,gic-v3"; #interrupt-cells = <3>; interrupt-controller; reg = <0x0 0x08000000 0x0 0x10000>, <0x0 0x080a0000 0x0 0xf60000>; };
	pcie@10000000 {
		compatible = "pci-host-ecam-generic";
		device_type = "pci";
		#address-cells = <3>;
		#size-cells = <2>;
		reg = <0x40 0x10000000 0x0 0x10000000>;
		bus-range = <0x0 0xff>;
		ranges = <0x02000000 0x0 0x10000000 0x0 0x10000000 0x0 0x2eff0000>;
		iommu-map = <0x0 &viommu 0x0 0x18>, <0x19 &viommu 0x19 0xffe7>;
		viommu: virtio_iommu@3 { compatible = "virtio,pci-iommu", "pci1af4,1057"; reg = <0x1800 0x0 0x0 0x0 0x0>; #iommu-cells = <1>; };
		dma@1 { compatible = "pci1b36,d1"; reg = <0x0800 0x0 0x0 0x0 0x0>; };
	};
};`;
    const machine = new Machine(parseDts(dts, { file: 'arm-virtio-iommu-pci.dts' }));
    const v = viommuOf(machine);
    expect(v.model.params.endpoints.map((e) => e.id)).toEqual([0x8]);
    expect(machine.unmodelled).toEqual([]);
    const { kernel, log } = boot(machine);
    expect(log).toMatch(/0000:00:03\.0: virtio-pci iommu \(device id 23\), 2 queues, interrupts polled/);
    expect(log).not.toMatch(/\[error\]/);
    copyThrough(machine, kernel, '0000:00:01.0', 9);
    expect(v.model.statistics().translations.translated).toBe(2 * 4096 / 64);
  });
});

describe('options and errors', () => {
  const tree = () => loadBuiltinPlatform('riscv-virt-virtio-iommu').tree;

  it("gives the device its configuration (5.13.4) and an endpoint's MSI window lets DMA through untranslated (5.13.6.8.1)", () => {
    const options: MachineOptions = {
      virtioIommu: {
        inputRange: { start: 0n, end: 0xffff_ffffn },
        domainRange: { start: 1, end: 63 },
        endpointRegions: [{ endpoint: 0x1, regions: [{ subtype: ResvMemSubtype.Msi, start: 0x2800_0000n, end: 0x2800_0fffn }] }],
        driver: { batching: false },
      },
    };
    const machine = new Machine(tree(), options);
    const v = viommuOf(machine);
    expect(v.model.params.endpoints.find((e) => e.id === 0x1)?.reservedRegions).toEqual([{ subtype: ResvMemSubtype.Msi, start: 0x2800_0000n, end: 0x2800_0fffn }]);
    expect(v.model.params.endpoints.find((e) => e.id === 0x8)?.reservedRegions).toEqual([]);
    const { kernel, log } = boot(machine);
    expect(log).toMatch(/input range 0x0\.\.0xffffffff, domain ids 1\.\.63/);
    expect(log).toMatch(/unbatched unmaps/);
    expect(log).toMatch(/3020000\.dma-controller: endpoint 1: MSI doorbell region 0x28000000\.\.0x28000fff/);
    // The DMA API's IOVAs come from the input range.
    const dev = kernel.drivers.find((d) => d.name === '3020000.dma-controller')!;
    const iova = kernel.dma.mapSingle(dev, BigInt(kernel.pages.allocPages(1)) << 12n, 4096, 'to-device');
    expect(iova).toBeLessThanOrEqual(0xffff_ffffn);
    // A write into the window reaches the IMSIC untranslated: interrupt identity 5 becomes pending.
    const engine = machine.dmaEngines[0].engine;
    expect(v.port.write(new DmaRequester(0x1), 0x2800_0000n, 4, 5n)).toBe(DmaPortStatus.Ok);
    expect(v.model.statistics().translations.msi).toBe(1);
    expect(machine.interruptFile?.received.at(-1)).toMatchObject({ data: 5 });
    expect(machine.interruptFile?.isPending(5)).toBe(true);
    // Endpoint 0x8 has no window: the same write faults.
    expect(v.port.write(new DmaRequester(0x8), 0x2800_0000n, 4, 5n)).toBe(DmaPortStatus.Aborted);
    expect(engine.port).toBe(v.port);
  });

  it('rejects reserved regions for an endpoint no virtio-iommu has, listing the endpoints', () => {
    const bad: MachineOptions = { virtioIommu: { endpointRegions: [{ endpoint: 0x99, regions: [] }] } };
    expect(() => new Machine(tree(), bad)).toThrow(ParameterError);
    expect(() => new Machine(tree(), bad)).toThrow('endpoint 0x99 has reserved regions but is no endpoint of a virtio-iommu of this machine (endpoints: 0x1, 0x8, 0x10, 0x11)');
    expect(() => new Machine(loadBuiltinPlatform('riscv-virt').tree, bad)).toThrow(/\(it has none\)/);
  });

  it("passes the model's own parameter errors on (5.13.4.2: the granule is at least 4 KiB here)", () => {
    expect(() => new Machine(tree(), { virtioIommu: { pageSizeMask: 0x800n } })).toThrow(ParameterError);
    expect(() => new Machine(tree(), { virtioIommu: { pageSizeMask: 0x800n } })).toThrow(/page_size_mask 0x800: this model needs a granule of at least 4 KiB/);
  });

  it('rejects a virtio-mmio window too small for the registers and the configuration, naming the node', () => {
    const source = loadBuiltinPlatform('riscv-virt-virtio-iommu').source.replace('reg = <0x0 0x10001000 0x0 0x1000>;', 'reg = <0x0 0x10001000 0x0 0x100>;');
    const t = parseDts(source, { file: 'small.dts' });
    expect(() => new Machine(t)).toThrow(DeviceTreeError);
    expect(() => new Machine(t)).toThrow('/soc/virtio_mmio@10001000: reg is 0x100 bytes, too small for the virtio-mmio registers and 40 bytes of configuration');
  });
});
