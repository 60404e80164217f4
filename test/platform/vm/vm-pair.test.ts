// Building the host + guest pair from the built-in device trees (riscv-virt-vfio-host and
// riscv-virt-vfio-guest): the host boots without drivers for the assigned engines, the guest
// boots on its own bus with a virtio-mmio virtio-iommu (VIRTIO 1.3 4.2, 5.13) and the engines'
// register frames, guest RAM stays out of the host's allocator, the engines' interrupts reach
// the guest's PLIC, and mistakes in the pair's description are VmErrors naming the node.
import { describe, expect, it } from 'vitest';
import { DMA_ENGINE_ID, DmaEngineReg } from '../../../src/devices/dma-engine/registers.js';
import { VirtioMmio } from '../../../src/formats/virtio/mmio.js';
import { virtioIommuInstanceOf } from '../../../src/os/drivers/virtio-iommu/index.js';
import { DomainType } from '../../../src/os/core/types.js';
import { dmaEngineOf } from '../../../src/os/drivers/dma-engine/index.js';
import { Machine } from '../../../src/platform/machine/machine.js';
import { builtinVirtualMachinePair, loadBuiltinPair, VmError } from '../../../src/platform/vm/index.js';
import { channel, ENGINE0, ENGINE1, GUEST_RAM, guestPage, logOf, pair, pattern } from './helpers.js';

describe('the built-in pair', () => {
  it('boots the host without a driver for the assigned engines, and the guest with them', () => {
    const vm = builtinVirtualMachinePair();
    for (const a of vm.assigned) {
      expect(a.hostDevice.state, logOf(vm.hostKernel)).toBe('unbound');
      expect(a.guestDevice.state, logOf(vm.guest)).toBe('bound');
      expect(a.guestDevice.driver?.name).toBe('dma-engine');
    }
    expect(vm.assigned.map((a) => [a.guestNode.path, a.hostNode.path, a.endpoint, a.hostDeviceId])).toEqual([
      [ENGINE0, ENGINE0, 0x10, 0x1],
      [ENGINE1, ENGINE1, 0x11, 0x2],
    ]);
    expect(vm.hostKernel.drivers.find((d) => d.name === '3010000.iommu')?.state).toBe('bound');
    expect(virtioIommuInstanceOf(vm.guest.iommu.instances[0])?.node.path).toBe('/soc/virtio_mmio@10001000');
    expect(logOf(vm.hostKernel)).not.toMatch(/\[(warn|error)\]/);
    expect(logOf(vm.guest)).not.toMatch(/\[(warn|error)\]/);
    // The host machine is the ordinary machine; its kernel is the one the pair booted.
    expect(vm.host.kernel).toBe(vm.hostKernel);
  });

  it("the guest's boot attached each endpoint to a domain (5.13.6.3), mirrored as host unmanaged domains", () => {
    const vm = builtinVirtualMachinePair();
    for (const a of vm.assigned) {
      const id = vm.viommu.domainOf(a.endpoint);
      expect(id).toBeDefined();
      const host = vm.backend?.hostDomain(id!);
      expect(host?.type).toBe(DomainType.Unmanaged);
      expect(vm.hostKernel.iommu.domainOf(a.hostDevice)).toBe(host);
    }
    expect(vm.backend?.statistics()).toMatchObject({ hostDomains: { current: 2, allocated: 2 }, attaches: 2 });
  });

  it("the virtio-iommu's input_range and page_size_mask are narrowed to the host IOMMU's (5.13.4); without the backend they are the device's", () => {
    const vm = builtinVirtualMachinePair();
    // The host's Sv57 paging domains: the lower half of a 57-bit space, 4 KiB / 2 MiB / 1 GiB leaves.
    expect(vm.viommu.params.inputRange).toEqual({ start: 0n, end: (1n << 56n) - 1n });
    expect(vm.viommu.params.pageSizeMask).toBe(0x4020_1000n);
    expect(vm.viommu.params.endpoints.map((e) => e.id)).toEqual([0x10, 0x11]);
    const emulated = builtinVirtualMachinePair({ backend: 'none' });
    expect(emulated.backend).toBeNull();
    expect(emulated.viommu.params.inputRange).toEqual({ start: 0n, end: (1n << 64n) - 1n });
    expect(emulated.viommu.params.pageSizeMask).toBe(0xffff_ffff_ffff_f000n);
  });

  it('a narrower input_range asked for is kept, within the host aperture', () => {
    const vm = pair({ virtioIommu: { inputRange: { start: 0x1000n, end: 0xffff_ffffn } } });
    expect(vm.viommu.params.inputRange).toEqual({ start: 0x1000n, end: 0xffff_ffffn });
  });

  it('maps the virtio-mmio transport and the same engine objects in the guest bus, at their host addresses', () => {
    const vm = builtinVirtualMachinePair();
    const read = (bus: typeof vm.guestBus, at: bigint) => Number(bus.access(at, 4, false).value);
    expect(read(vm.guestBus, 0x1000_1000n + BigInt(VirtioMmio.DEVICE_ID))).toBe(23);
    expect(read(vm.guestBus, 0x302_0000n + BigInt(DmaEngineReg.ID))).toBe(DMA_ENGINE_ID);
    expect(read(vm.host.bus, 0x302_1000n + BigInt(DmaEngineReg.ID))).toBe(DMA_ENGINE_ID);
    expect(vm.guestBus.mmio.find(0x302_0000n)?.device).toBe(vm.host.bus.mmio.find(0x302_0000n)?.device);
    // The host's IOMMU is not in the guest's bus.
    expect(vm.guestBus.mmio.find(0x301_0000n)).toBeUndefined();
  });

  it("keeps guest RAM out of the host kernel's allocator (/reserved-memory) and the guest's allocations in it", () => {
    const vm = builtinVirtualMachinePair();
    expect(vm.hostKernel.pages.stats.totalPages).toBe(0x2000_0000 / 4096);
    expect(vm.guest.pages.stats.totalPages).toBe(0x2000_0000 / 4096);
    const h = BigInt(vm.hostKernel.pages.allocPages(1)) << 12n;
    const g = guestPage(vm);
    expect(h < GUEST_RAM.base).toBe(true);
    expect(g >= GUEST_RAM.base && g < GUEST_RAM.end).toBe(true);
  });

  it("forwards an engine's completion interrupt to the guest's PLIC (the host never enables it)", () => {
    const vm = builtinVirtualMachinePair();
    const a = vm.device(ENGINE1);
    const src = guestPage(vm);
    const dst = guestPage(vm);
    vm.host.memory.writeBytes(src, pattern(256, 1));
    const ch = channel(a);
    expect(ch.mode).toBe('irq');
    expect(ch.copy(src, dst, 256)).toMatchObject({ ok: true });
    expect(ch.stats.interrupts).toBe(1);
    expect(vm.guestPlic.sources[41].rises).toBe(1);
    expect(vm.host.plic?.sources[41].rises).toBe(1);
    expect([...vm.hostKernel.irq.counts.keys()].some((k) => k.includes('3021000'))).toBe(false);
  });
});

describe('each half alone', () => {
  it('boots as an ordinary machine: the host drives its engines itself, the guest translates them with its virtio-iommu', () => {
    const { host, guest } = loadBuiltinPair();
    for (const [tree, iommu] of [
      [host, 'riscv-iommu'],
      [guest, 'virtio-iommu'],
    ] as const) {
      const machine = new Machine(tree);
      const kernel = machine.boot();
      expect(machine.iommus.map((i) => i.kind)).toEqual([iommu]);
      expect(machine.unmodelled).toEqual([]);
      expect(logOf(kernel)).not.toMatch(/\[(warn|error)\]/);
      for (const e of machine.dmaEngines) {
        const dev = kernel.drivers.find((d) => d.node?.path === e.node.path)!;
        expect(dev.state).toBe('bound');
        const src = BigInt(kernel.pages.allocPages(1)) << 12n;
        const dst = BigInt(kernel.pages.allocPages(1)) << 12n;
        machine.memory.writeBytes(src, pattern(512, 2));
        expect(dmaEngineOf(dev).copy(src, dst, 512)).toMatchObject({ ok: true });
        expect(machine.memory.readBytes(dst, 512)).toEqual(pattern(512, 2));
      }
    }
  });
});

describe('mistakes in the description of the pair', () => {
  it('guest RAM the host kernel could allocate', () => {
    expect(() => pair({}, { host: (t) => t.replace(/reserved-memory \{[\s\S]*?\};\n\t\};/, '') })).toThrow(/guest RAM 0xa0000000 \(\+0x20000000\) overlaps host RAM at 0xa0000000/);
  });

  it('a guest engine at an address where the host has none', () => {
    const moved = (t: string) => t.replace('dma1: dma-controller@3021000', 'dma1: dma-controller@3022000').replace('0x03021000 0x0 0x1000', '0x03022000 0x0 0x1000');
    expect(() => pair({}, { guest: moved })).toThrow(VmError);
    expect(() => pair({}, { guest: moved })).toThrow(/\/soc\/dma-controller@3022000: the host has no DMA engine at 0x3022000/);
  });

  it('a device this VMM does not give guests', () => {
    const imsic = 'imsic: interrupt-controller@28000000 { compatible = "riscv,imsics"; reg = <0x0 0x28000000 0x0 0x1000>; };';
    expect(() => pair({}, { guest: (t) => t.replace('viommu: virtio_mmio', `${imsic}\n\t\tviommu: virtio_mmio`) })).toThrow(/interrupt-controller@28000000 \(riscv,imsics\) is not a device this VMM gives guests/);
  });

  it('an assigned engine not behind the virtio-iommu in the guest', () => {
    expect(() => pair({}, { guest: (t) => t.replace('iommus = <&viommu 0x11>;', '') })).toThrow(/dma-controller@3021000: an assigned device needs iommus = <&virtio_mmio@10001000 endpoint-id>/);
  });

  it('with the host backend, an engine no host IOMMU translates', () => {
    expect(() => pair({}, { host: (t) => t.replace('iommus = <&iommu 0x2>;', '') })).toThrow(/no IOMMU translates this engine in the host/);
  });

  it("a guest interrupt wired to something other than the guest's PLIC", () => {
    expect(() => pair({}, { guest: (t) => t.replace('interrupts = <41>;', 'interrupts = <400>;') })).toThrow(/interrupt 400 is not a source of the guest PLIC/);
  });
});
