// End to end: the guest's DMA engine driver moves data through the guest's DMA API, which maps
// buffers through the guest's virtio-iommu driver (MAP/UNMAP requests, VIRTIO 1.2/1.3 5.13.6.5,
// 5.13.6.6). With the host backend (the VFIO model) every request is replayed on the host's
// RISC-V IOMMU and the engine's DMA goes through that IOMMU only; without it, the virtio-iommu
// translates. Same data either way; different hardware does the work.
import { describe, expect, it } from 'vitest';
import { Cause } from '../../../src/formats/riscv-iommu/records.js';
import { VirtioMmio } from '../../../src/formats/virtio/mmio.js';
import { DomainType } from '../../../src/os/core/types.js';
import { DmaDirection } from '../../../src/os/dma/types.js';
import { virtioIommuInstanceOf } from '../../../src/os/drivers/virtio-iommu/index.js';
import { builtinVirtualMachinePair, type VirtualMachinePair } from '../../../src/platform/vm/index.js';
import { channel, ENGINE0, ENGINE1, guestPage, hostIommu, logOf, pair, pattern } from './helpers.js';

/** Bus transactions of a 4 KiB copy: 64-byte bursts, each read and written once. */
const COPY_4K_TRANSACTIONS = 2 * (4096 / 64);

function copy(vm: VirtualMachinePair, path: string, seed: number): Uint8Array {
  const src = guestPage(vm);
  const dst = guestPage(vm);
  vm.host.memory.writeBytes(src, pattern(4096, seed));
  const r = channel(vm.device(path)).copy(src, dst, 4096);
  expect(r, logOf(vm.guest)).toMatchObject({ ok: true, bytes: 4096 });
  return vm.host.memory.readBytes(dst, 4096);
}

describe.each([
  { backend: 'host' as const, translator: 'the host RISC-V IOMMU' },
  { backend: 'none' as const, translator: 'the virtio-iommu' },
])('a DMA API copy with backend $backend: $translator translates', ({ backend }) => {
  it('moves the data (checked byte for byte)', () => {
    const vm = builtinVirtualMachinePair({ backend });
    const iommu = hostIommu(vm);
    const before = { host: iommu.statistics().requests.untranslated, viommu: vm.viommu.statistics().translations.translated };
    expect(copy(vm, ENGINE0, 3)).toEqual(pattern(4096, 3));
    expect(copy(vm, ENGINE1, 4)).toEqual(pattern(4096, 4));
    const host = iommu.statistics().requests.untranslated - before.host;
    const viommu = vm.viommu.statistics().translations.translated - before.viommu;
    if (backend === 'host') {
      // Every transaction went through the physical IOMMU; the virtio-iommu saw none.
      expect(host).toBe(2 * COPY_4K_TRANSACTIONS);
      expect(viommu).toBe(0);
      // Each copy mapped and unmapped two pages (source, destination), each mirrored in the host.
      expect(vm.backend?.statistics()).toMatchObject({ maps: 4, unmaps: 4, bytesMapped: 4 * 4096, failures: { nomem: 0, unsupported: 0, failed: 0 } });
    } else {
      expect(viommu).toBe(2 * COPY_4K_TRANSACTIONS);
      expect(host).toBe(0);
    }
    // The guest's driver sent the same requests either way.
    expect(virtioIommuInstanceOf(vm.guest.iommu.instances[0])?.statistics().requests).toMatchObject({ MAP: 4, UNMAP: 4 });
  });
});

describe('with the host backend', () => {
  it("while a buffer is mapped, the host page table holds exactly the guest's mappings; the guest UNMAP is a host unmap + IOTINVAL", () => {
    const vm = builtinVirtualMachinePair();
    const a = vm.device(ENGINE0);
    const buffer = guestPage(vm, 2);
    const domainId = vm.viommu.domainOf(a.endpoint)!;
    const host = vm.backend!.hostDomain(domainId)!;
    const core = vm.hostKernel.iommu;
    const iova = vm.guest.dma.mapSingle(a.guestDevice, buffer, 8192, DmaDirection.ToDevice);
    const mappings = vm.viommu.mappings(domainId);
    expect(mappings.length).toBeGreaterThan(0);
    expect(mappings.some((m) => m.virtStart <= iova && iova + 8191n <= m.virtEnd)).toBe(true);
    for (const m of mappings) {
      // Inside: the same guest-physical (= host-physical) address; just outside: nothing.
      for (let va = m.virtStart; va < m.virtEnd; va += 0x1000n) expect(core.iovaToPhys(host, va + 0x10n)).toBe(m.physStart + (va - m.virtStart) + 0x10n);
      expect(core.iovaToPhys(host, m.virtStart - 0x1000n)).toBeNull();
      expect(core.iovaToPhys(host, m.virtEnd + 1n)).toBeNull();
    }
    const model = hostIommu(vm);
    const before = model.statistics().commands;
    vm.guest.dma.unmapSingle(a.guestDevice, iova, 8192, DmaDirection.ToDevice);
    const after = model.statistics().commands;
    expect(core.iovaToPhys(host, iova)).toBeNull();
    expect(core.iovaToPhys(host, iova + 0x1000n)).toBeNull();
    expect(vm.viommu.mappings(domainId)).toEqual([]);
    // Two pages: one IOTINVAL.VMA (PSCID, address) each, then one IOFENCE.C to wait for them.
    expect(after['IOTINVAL.VMA'] - before['IOTINVAL.VMA']).toBe(2);
    expect(after['IOFENCE.C'] - before['IOFENCE.C']).toBe(1);
  });

  it('a DMA to an IOVA the guest unmapped faults at the host IOMMU, and nothing is written', () => {
    const vm = builtinVirtualMachinePair();
    const a = vm.device(ENGINE1);
    const src = guestPage(vm);
    const dst = guestPage(vm);
    vm.host.memory.writeBytes(src, pattern(4096, 9));
    const dma = vm.guest.dma;
    const srcIova = dma.mapSingle(a.guestDevice, src, 4096, DmaDirection.ToDevice);
    const stale = dma.mapSingle(a.guestDevice, dst, 4096, DmaDirection.FromDevice);
    dma.unmapSingle(a.guestDevice, stale, 4096, DmaDirection.FromDevice);
    const model = hostIommu(vm);
    const faultsBefore = model.statistics().faults.recorded;
    const r = channel(a).rawCopy(srcIova, stale, 4096);
    expect(r).toMatchObject({ ok: false, error: 'aborted', dmaAddress: stale, write: true, bytes: 0 });
    expect(vm.host.memory.readBytes(dst, 4096)).toEqual(new Uint8Array(4096));
    // The host IOMMU recorded a write page fault (cause 15) for the engine's host device id.
    expect(model.statistics().faults.recorded - faultsBefore).toBe(1);
    expect(model.statistics().faults.detected[Cause.WritePageFault]).toBe(1);
    vm.poll();
    expect(vm.backend?.statistics()).toMatchObject({ faults: 1, faultsByEndpoint: { 0x11: 1 } });
    // The guest hears nothing of it: its virtio-iommu saw no fault.
    expect(vm.viommu.statistics().faults).toMatchObject({ unknown: 0, domain: 0, mapping: 0 });
  });

  it('a device reset (virtio-mmio Status 0, 5.13.5: every endpoint detached) leaves the devices blocked in the host', () => {
    const vm = builtinVirtualMachinePair();
    const core = vm.hostKernel.iommu;
    vm.guestBus.access(0x1000_1000n + BigInt(VirtioMmio.STATUS), 4, true, 0n);
    for (const a of vm.assigned) {
      expect(vm.viommu.domainOf(a.endpoint)).toBeUndefined();
      expect(core.domainOf(a.hostDevice)).toBe(core.staticDomain(a.hostDevice, DomainType.Blocked));
    }
    expect(vm.backend?.statistics().hostDomains).toEqual({ current: 0, allocated: 2, freed: 2 });
    // The engine's DMA now dies at the host's device directory (cause 258, DDT entry not valid).
    const a = vm.device(ENGINE0);
    const r = channel(a).rawReadVerify(0xa000_0000n, 64, 0n);
    expect(r).toMatchObject({ ok: false, error: 'aborted' });
    expect(hostIommu(vm).statistics().faults.detected[Cause.DdtEntryNotValid]).toBe(1);
  });

  it("the guest blocking a device (DETACH, 5.13.6.4) blocks it in the host; the guest's default domain comes back mapped as before", () => {
    const vm = builtinVirtualMachinePair();
    const a = vm.device(ENGINE0);
    const g = vm.guest.iommu;
    const core = vm.hostKernel.iommu;
    const blocked = g.staticDomain(a.guestDevice, DomainType.Blocked);
    g.attachDevice(blocked, a.guestDevice);
    expect(vm.viommu.domainOf(a.endpoint)).toBeUndefined();
    expect(core.domainOf(a.hostDevice)).toBe(core.staticDomain(a.hostDevice, DomainType.Blocked));
    g.detachDevice(blocked, a.guestDevice);
    expect(core.domainOf(a.hostDevice)).toBe(vm.backend?.hostDomain(vm.viommu.domainOf(a.endpoint)!));
    expect(copy(vm, ENGINE0, 5)).toEqual(pattern(4096, 5));
  });

  it("a guest's own unmanaged domain (VFIO inside the guest): a 2 MiB MAP is one host mapping, gone when the domain dies", () => {
    const vm = builtinVirtualMachinePair();
    const a = vm.device(ENGINE1);
    const g = vm.guest.iommu;
    const core = vm.hostKernel.iommu;
    const domain = g.domainAlloc(a.guestDevice);
    g.attachDevice(domain, a.guestDevice);
    const id = vm.viommu.domainOf(a.endpoint)!;
    const host = vm.backend!.hostDomain(id)!;
    expect(vm.backend?.statistics().hostDomains).toMatchObject({ current: 2, allocated: 3, freed: 1 });
    const buffer = BigInt(vm.guest.pages.allocPages(512, 512)) << 12n;
    g.map(domain, 0x4000_0000n, buffer, 0x20_0000n, 3);
    expect(host.stats).toMatchObject({ mapCalls: 1, pagesMapped: 512 });
    expect(core.iovaToPhys(host, 0x401f_f008n)).toBe(buffer + 0x1f_f008n);
    vm.host.memory.writeBytes(buffer, pattern(4096, 6));
    expect(channel(a).rawCopy(0x4000_0000n, 0x4010_0000n, 4096)).toMatchObject({ ok: true });
    expect(vm.host.memory.readBytes(buffer + 0x10_0000n, 4096)).toEqual(pattern(4096, 6));
    g.detachDevice(domain, a.guestDevice);
    expect(vm.backend?.hostDomain(id)).toBeUndefined();
    expect(vm.backend?.statistics()).toMatchObject({ hostDomains: { current: 2, allocated: 4, freed: 2 }, unmaps: 1 });
  });
});

describe('a host whose own devices default to passthrough', () => {
  it('still gives an assigned engine only what the guest mapped: claimed devices never sit in the identity domain', () => {
    const vm = pair({ host: { kernel: { iommu: { defaultDomain: 'passthrough' } } } });
    const a = vm.device(ENGINE0);
    const core = vm.hostKernel.iommu;
    expect(core.deviceIommu(a.hostDevice)?.group.defaultDomain?.type).toBe(DomainType.Identity);
    expect(core.domainOf(a.hostDevice)?.type).toBe(DomainType.Unmanaged);
    expect(copy(vm, ENGINE0, 10)).toEqual(pattern(4096, 10));
    const hostPage = BigInt(vm.hostKernel.pages.allocPages(1)) << 12n;
    expect(channel(a).rawFill(hostPage, 64, 0x5555_5555_5555_5555n)).toMatchObject({ ok: false, error: 'aborted' });
    expect(vm.host.memory.readBytes(hostPage, 64)).toEqual(new Uint8Array(64));
  });
});

describe('bypass (ATTACH with VIRTIO_IOMMU_ATTACH_F_BYPASS, 5.13.6.3) for a guest with passthrough default domains', () => {
  it("'map-guest-memory': the guest's DMA reaches its RAM at guest-physical addresses, never the host's", () => {
    const vm = pair({ guestKernel: { iommu: { defaultDomain: 'passthrough' } } });
    const a = vm.device(ENGINE0);
    expect(vm.viommu.domain(vm.viommu.domainOf(a.endpoint)!)?.bypass).toBe(true);
    expect(copy(vm, ENGINE0, 7)).toEqual(pattern(4096, 7));
    const hostPage = BigInt(vm.hostKernel.pages.allocPages(1)) << 12n;
    expect(channel(a).rawFill(hostPage, 64, 0x5555_5555_5555_5555n)).toMatchObject({ ok: false, error: 'aborted' });
    expect(vm.host.memory.readBytes(hostPage, 64)).toEqual(new Uint8Array(64));
  });

  it("'identity-domain': the same DMA lands in host memory (the isolation this policy gives up)", () => {
    const vm = pair({ guestKernel: { iommu: { defaultDomain: 'passthrough' } }, bypass: 'identity-domain' });
    const a = vm.device(ENGINE0);
    expect(copy(vm, ENGINE0, 8)).toEqual(pattern(4096, 8));
    const hostPage = BigInt(vm.hostKernel.pages.allocPages(1)) << 12n;
    expect(channel(a).rawFill(hostPage, 8, 0x5555_5555_5555_5555n)).toMatchObject({ ok: true });
    expect(vm.host.memory.readBytes(hostPage, 8)).toEqual(new Uint8Array(8).fill(0x55));
  });
});

describe('without the backend', () => {
  it('a DMA to an unmapped IOVA faults at the virtio-iommu, which reports it on its event queue (5.13.6.9)', () => {
    const vm = builtinVirtualMachinePair({ backend: 'none' });
    const a = vm.device(ENGINE1);
    const faults: string[] = [];
    vm.guest.iommu.faultObservers.push((f) => faults.push(`${f.device?.name} ${f.write ? 'write' : 'read'} ${f.iova.toString(16)}`));
    const src = guestPage(vm);
    const srcIova = vm.guest.dma.mapSingle(a.guestDevice, src, 4096, DmaDirection.ToDevice);
    expect(channel(a).rawCopy(srcIova, 0x7000_0000n, 64)).toMatchObject({ ok: false, error: 'aborted', write: true });
    vm.poll();
    expect(vm.viommu.statistics().faults).toMatchObject({ mapping: 1, lost: 0 });
    expect(faults).toEqual(['3021000.dma-controller write 70000000']);
    expect(hostIommu(vm).statistics().faults.recorded).toBe(0);
  });
});
