import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dmaEngineOf } from '../../../src/os/drivers/dma-engine/index.js';
import { loadBuiltinPlatform } from '../../../src/platform/builtin/index.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { Machine, MachineError } from '../../../src/platform/machine/machine.js';

function boot(name: string) {
  const machine = new Machine(loadBuiltinPlatform(name).tree);
  const kernel = machine.boot();
  const log = () => kernel.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
  return { machine, kernel, log };
}

/** The machine's one IOMMU, a RISC-V IOMMU. */
function riscvIommuOf(machine: Machine) {
  const iommu = machine.iommus[0];
  if (iommu.kind !== 'riscv-iommu') throw new Error(`expected a RISC-V IOMMU, found ${iommu.kind}`);
  return iommu.model;
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff);
}

describe('Machine built from the riscv-virt device tree', () => {
  it('instantiates every device the tree describes and binds a driver to each', () => {
    const { machine, kernel, log } = boot('riscv-virt');
    expect(machine.iommus).toHaveLength(1);
    expect(machine.dmaEngines.map((e) => e.deviceId)).toEqual([1]);
    expect(machine.pcie[0].bars.length).toBeGreaterThanOrEqual(3);
    expect(machine.unmodelled).toEqual([]);
    const names = kernel.drivers.devices.map((d) => `${d.name}:${d.state}`);
    expect(names, log()).toEqual(expect.arrayContaining(['3010000.iommu:bound', '3020000.dma-controller:bound', '0000:00:01.0:bound', '0000:00:02.0:bound', '0000:00:02.1:bound']));
  });

  it('DMA of the platform engine and of every PCI function goes through the IOMMU with the iommu-map device id', () => {
    const { machine, kernel, log } = boot('riscv-virt');
    const iommu = riscvIommuOf(machine);
    for (const [name, expectedDeviceId] of [
      ['3020000.dma-controller', 0x1],
      ['0000:00:01.0', 0x8],
      ['0000:00:02.1', 0x11],
    ] as const) {
      const dev = kernel.drivers.find((d) => d.name === name);
      expect(dev?.state, log()).toBe('bound');
      if (dev === undefined) continue;
      expect(kernel.iommu.domainOf(dev)?.type).toBe('dma');
      const before = iommu.statistics().requests.untranslated;
      const src = BigInt(kernel.pages.allocPages(1)) << 12n;
      const dst = BigInt(kernel.pages.allocPages(1)) << 12n;
      machine.memory.writeBytes(src, pattern(4096, expectedDeviceId));
      expect(dmaEngineOf(dev).copy(src, dst, 4096)).toMatchObject({ ok: true });
      expect(machine.memory.readBytes(dst, 4096)).toEqual(pattern(4096, expectedDeviceId));
      expect(iommu.statistics().requests.untranslated).toBeGreaterThan(before);
      // The requests carried the device id the tree gives the requester.
      const rid = dev.requesterId;
      expect(rid === undefined ? machine.dmaEngines[0].deviceId : machine.pcie[0].bridge.deviceIdFor(rid)).toBe(expectedDeviceId);
    }
  });
});

describe('Machine built from the riscv-virt-pci-iommu device tree', () => {
  it('finds the IOMMU as a PCI function and translates the other functions through it', () => {
    const { machine, kernel, log } = boot('riscv-virt-pci-iommu');
    expect(machine.iommus).toHaveLength(1);
    expect(machine.iommus[0].node.path).toContain('pci@');
    const iommuDev = kernel.drivers.devices.find((d) => d.driver?.name.includes('riscv-iommu'));
    expect(iommuDev?.state, log()).toBe('bound');
    const dev = kernel.drivers.devices.find((d) => d !== iommuDev && d.name.startsWith('0000:') && d.state === 'bound');
    expect(dev, log()).toBeDefined();
    if (dev === undefined) return;
    const src = BigInt(kernel.pages.allocPages(1)) << 12n;
    const dst = BigInt(kernel.pages.allocPages(1)) << 12n;
    machine.memory.writeBytes(src, pattern(512, 7));
    expect(dmaEngineOf(dev).copy(src, dst, 512)).toMatchObject({ ok: true });
    expect(machine.memory.readBytes(dst, 512)).toEqual(pattern(512, 7));
    expect(riscvIommuOf(machine).statistics().requests.untranslated).toBeGreaterThan(0);
  });
});

describe('Machine built from a QEMU virt dump (riscv-iommu-sys with APLIC and two IMSIC files)', () => {
  const file = new URL('../../fixtures/bindings/qemu-riscv-virt-iommu-sys.dts', import.meta.url);

  it("models the hart's supervisor-level interrupt file, and the IOMMU probes with MSIs through it", () => {
    const machine = new Machine(parseDts(readFileSync(file, 'utf8'), { file: file.pathname }));
    expect(machine.interruptFile?.name).toBe('/soc/imsics@28000000'); // interrupts-extended <&cpu0_intc 9>
    const kernel = machine.boot();
    const state = (name: string) => kernel.drivers.find((d) => d.name === name)?.state;
    expect(state('3010000.iommu')).toBe('bound');
    expect(state('28000000.imsics')).toBe('bound');
    // The machine-level file (interrupt 11) is firmware's: the kernel's IMSIC driver refuses it.
    expect(state('24000000.imsics')).toBe('failed');
    expect(kernel.iommu.instances.map((i) => i.node.path)).toEqual(['/soc/iommu@3010000']);
  });
});

describe('Machine errors', () => {
  it('rejects a device whose iommus names something that is not an IOMMU model', () => {
    const tree = parseDts(`/dts-v1/;
/ { #address-cells = <1>; #size-cells = <1>;
  fake: fake-iommu@1000 { compatible = "vendor,unknown-iommu"; reg = <0x1000 0x1000>; #iommu-cells = <1>; };
  dma@2000 { compatible = "iommu-lab,dma-engine"; reg = <0x2000 0x1000>; iommus = <&fake 3>; };
};`);
    expect(() => new Machine(tree)).toThrow(MachineError);
    expect(() => new Machine(tree)).toThrow(/fake-iommu@1000 is not a model/);
  });

  it('boots without RAM, and says so when something needs memory', () => {
    const tree = parseDts(`/dts-v1/;
/ { #address-cells = <1>; #size-cells = <1>; };`);
    const kernel = new Machine(tree).boot();
    expect(kernel.log.records.some((r) => r.level === 'error' && /no usable RAM/.test(r.message))).toBe(true);
    expect(() => kernel.pages.allocPages(1)).toThrow(/describes no RAM/);
  });

  it('lists nodes it has no model for instead of failing', () => {
    const tree = parseDts(`/dts-v1/;
/ { #address-cells = <1>; #size-cells = <1>;
  serial@1000 { compatible = "ns16550a"; reg = <0x1000 0x100>; };
};`);
    expect(new Machine(tree).unmodelled.map((n) => n.path)).toEqual(['/serial@1000']);
  });
});
