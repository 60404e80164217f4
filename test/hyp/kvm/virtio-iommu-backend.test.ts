// The host backend of a virtio-iommu driven directly, as the device calls it while it processes
// the guest's requests (VIRTIO 1.2/1.3 5.13.6.3 ATTACH, 5.13.6.4 DETACH, 5.13.6.5 MAP,
// 5.13.6.6 UNMAP), against a booted host: the riscv-virt-vfio-host machine, its RISC-V IOMMU
// model and driver (and once arm-virt's SMMUv3). What is checked is what the host hardware
// would do afterwards: the device context (blocked: cause 258, "DDT entry not valid"), the page
// table the model walks, the invalidation commands, as QEMU + VFIO type1 (VFIO_IOMMU_MAP_DMA /
// UNMAP_DMA) leave them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Control, DmaEngineReg, Operation, Status, type DmaEngine } from '../../../src/devices/dma-engine/index.js';
import { Cause } from '../../../src/formats/riscv-iommu/records.js';
import { MapFlag } from '../../../src/formats/virtio-iommu/requests.js';
import { ResponseStatus, type RiscvIommu } from '../../../src/hw/riscv-iommu/index.js';
import { GuestMemoryMap, HostBackendError, HostIommuBackend, type HostBypassPolicy } from '../../../src/hyp/kvm/index.js';
import { DomainType } from '../../../src/os/core/types.js';
import type { Device } from '../../../src/os/driver-model/device.js';
import type { Kernel } from '../../../src/os/kernel/kernel.js';
import { loadBuiltinPlatform } from '../../../src/platform/builtin/index.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { HostMachine } from '../../../src/platform/vm/index.js';

const RW = MapFlag.Read | MapFlag.Write;
const ENGINES = ['/soc/dma-controller@3020000', '/soc/dma-controller@3021000'];
/** Host device ids of the two engines (iommus = <&iommu 0x1>, <&iommu 0x2>). */
const DEVICE_ID = [0x1, 0x2];
const EP = [0x10, 0x11];
const GUEST_RAM = { base: 0xa000_0000n, size: 0x2000_0000n };

interface Host {
  machine: HostMachine;
  kernel: Kernel;
  model: RiscvIommu;
  devices: Device[];
  backend: HostIommuBackend;
}

function host(o: { guestMemory?: GuestMemoryMap; bypass?: HostBypassPolicy; dts?: (text: string) => string } = {}): Host {
  const tree = parseDts(hostDts(o.dts), { file: 'riscv-virt-vfio-host.dts' });
  const machine = new HostMachine(tree, {}, ENGINES.map((p) => tree.find(p)!));
  const kernel = machine.boot();
  const m = machine.iommus[0];
  if (m.kind !== 'riscv-iommu') throw new Error('expected the RISC-V IOMMU');
  const devices = ENGINES.map((p) => kernel.drivers.find((d) => d.node?.path === p)!);
  const backend = new HostIommuBackend({
    kernel,
    endpoints: new Map(EP.map((e, i) => [e, devices[i]])),
    guestMemory: o.guestMemory ?? GuestMemoryMap.identity([GUEST_RAM]),
    bypass: o.bypass,
  });
  return { machine, kernel, model: m.model, devices, backend };
}

/** The built-in host's DTS, edited. */
function hostDts(edit?: (text: string) => string): string {
  const text = readFileSync(new URL('../../../src/platform/builtin/riscv-virt-vfio-host.dts', import.meta.url), 'utf8');
  return edit === undefined ? text : edit(text);
}

/** What the model answers for a read (or write) by host device `i` at `iova`: the physical address, or the fault cause. */
function walk(h: Host, i: number, iova: bigint, write = false): { pa: bigint } | { cause: number } {
  const r = h.model.translate({ deviceId: DEVICE_ID[i], iova, write });
  return r.status === ResponseStatus.Success ? { pa: (BigInt(r.ppn) << 12n) | (iova & 0xfffn) } : { cause: r.cause };
}

function commands(h: Host): Record<string, number> {
  return h.model.statistics().commands;
}

describe('claiming the host device (binding it to vfio)', () => {
  it('the first ATTACH configures the unbound host device, parks it blocked, then attaches an unmanaged domain', () => {
    const h = host();
    const core = h.kernel.iommu;
    expect(h.devices[0].state).toBe('unbound');
    expect(core.deviceIommu(h.devices[0])).toBeNull();
    // Unconfigured, the device context is not valid: the hardware blocks it already.
    expect(walk(h, 0, 0xa000_0000n)).toEqual({ cause: Cause.DdtEntryNotValid });
    expect(h.backend.attach(EP[0], 7, false)).toBe('ok');
    const d = h.backend.hostDomain(7)!;
    expect(d.type).toBe(DomainType.Unmanaged);
    expect(core.domainOf(h.devices[0])).toBe(d);
    expect(h.backend.hostDevice(EP[0])).toBe(h.devices[0]);
    expect(h.backend.statistics()).toMatchObject({ hostDomains: { current: 1, allocated: 1, freed: 0 }, attaches: 1 });
    // Attached but empty: a valid context whose page table maps nothing (cause 13, read page fault).
    expect(walk(h, 0, 0x1000n)).toEqual({ cause: Cause.ReadPageFault });
  });

  it('hostGeometry: the aperture and page sizes of the host paging domains (what VFIO reports), the device left blocked', () => {
    const h = host();
    const g = h.backend.hostGeometry(EP[1]);
    // The model offers Sv57; the driver's aperture is its lower half. Leaves of 4 KiB, 2 MiB, 1 GiB.
    expect(g).toEqual({ start: 0n, end: (1n << 56n) - 1n, pageSizes: [12, 21, 30] });
    const core = h.kernel.iommu;
    expect(core.domainOf(h.devices[1])).toBe(core.staticDomain(h.devices[1], DomainType.Blocked));
    expect(h.backend.statistics().hostDomains).toEqual({ current: 0, allocated: 0, freed: 0 });
  });

  it('a host device no IOMMU translates cannot be assigned: UNSUPP, and hostGeometry says why', () => {
    const h = host({ dts: (t) => t.replace('iommus = <&iommu 0x2>;', '') });
    expect(h.backend.attach(EP[1], 1, false)).toBe('unsupported');
    expect(() => h.backend.hostGeometry(EP[1])).toThrow(HostBackendError);
    expect(() => h.backend.hostGeometry(EP[1])).toThrow(/behind no IOMMU in the host/);
    expect(h.backend.statistics().failures.unsupported).toBeGreaterThanOrEqual(1);
  });

  it('an endpoint without a host device fails (DEVERR); one device for two endpoints is a setup error', () => {
    const h = host();
    expect(h.backend.attach(0x99, 1, false)).toBe('failed');
    expect(() => new HostIommuBackend({ kernel: h.kernel, endpoints: new Map([[1, h.devices[0]], [2, h.devices[0]]]), guestMemory: GuestMemoryMap.identity([GUEST_RAM]) })).toThrow(/given to two endpoints/);
  });
});

describe('MAP and UNMAP (5.13.6.5, 5.13.6.6)', () => {
  it('MAP becomes a host mapping of the host-physical pages: the model translates IOVA to them', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    expect(h.backend.map(1, 0x4000_0000n, 0xa010_0000n, 0x3000n, RW)).toBe('ok');
    const d = h.backend.hostDomain(1)!;
    expect(h.kernel.iommu.iovaToPhys(d, 0x4000_2abcn)).toBe(0xa010_2abcn);
    expect(walk(h, 0, 0x4000_1008n, true)).toEqual({ pa: 0xa010_1008n });
    expect(walk(h, 0, 0x4000_3000n)).toEqual({ cause: Cause.ReadPageFault });
    expect(h.backend.statistics()).toMatchObject({ maps: 1, bytesMapped: 0x3000 });
  });

  it('READ-only maps only reads; WRITE-only only writes (5.13.6.5 flags carried as IOMMU prot)', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    h.backend.map(1, 0x1000n, 0xa000_1000n, 0x1000n, MapFlag.Read);
    expect(walk(h, 0, 0x1000n)).toEqual({ pa: 0xa000_1000n });
    expect(walk(h, 0, 0x1000n, true)).toEqual({ cause: Cause.WritePageFault });
  });

  it('a MAP granting neither READ nor WRITE maps nothing in the host (QEMU turns it into an unmap; VFIO refuses prot 0)', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    expect(h.backend.map(1, 0x1000n, 0xa000_1000n, 0x1000n, MapFlag.Mmio)).toBe('ok');
    expect(h.kernel.iommu.iovaToPhys(h.backend.hostDomain(1)!, 0x1000n)).toBeNull();
    expect(h.backend.statistics()).toMatchObject({ maps: 0, mapsWithoutAccess: 1 });
    expect(h.backend.unmap(1, 0x1000n, 0x1000n)).toBe('ok');
    expect(h.backend.statistics()).toMatchObject({ unmaps: 1, bytesUnmapped: 0 });
  });

  it('UNMAP removes the host mapping and invalidates the host IOTLB (IOTINVAL.VMA + IOFENCE.C) before it returns', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    h.backend.map(1, 0x10_0000n, 0xa020_0000n, 0x2000n, RW);
    expect(walk(h, 0, 0x10_0000n)).toEqual({ pa: 0xa020_0000n }); // now cached in the IOTLB
    const before = commands(h);
    expect(h.backend.unmap(1, 0x10_0000n, 0x2000n)).toBe('ok');
    const after = commands(h);
    // One IOTINVAL.VMA per page of the range (PSCID and address), one IOFENCE.C to wait for them.
    expect(after['IOTINVAL.VMA'] - before['IOTINVAL.VMA']).toBe(2);
    expect(after['IOFENCE.C'] - before['IOFENCE.C']).toBe(1);
    expect(walk(h, 0, 0x10_0000n)).toEqual({ cause: Cause.ReadPageFault });
    expect(h.backend.statistics()).toMatchObject({ unmaps: 1, bytesUnmapped: 0x2000 });
  });

  it('a guest memory table with offsets: each piece of a MAP lands at its own host address', () => {
    const guestMemory = new GuestMemoryMap([
      { guest: 0x4000_0000n, host: 0xb000_0000n, size: 0x1000_0000n },
      { guest: 0x5000_0000n, host: 0xa000_0000n, size: 0x1000_0000n },
    ]);
    const h = host({ guestMemory });
    h.backend.attach(EP[0], 1, false);
    expect(h.backend.map(1, 0x8000_0000n, 0x4fff_f000n, 0x2000n, RW)).toBe('ok');
    expect(walk(h, 0, 0x8000_0000n)).toEqual({ pa: 0xbfff_f000n });
    expect(walk(h, 0, 0x8000_1010n)).toEqual({ pa: 0xa000_0010n });
    expect(h.backend.unmap(1, 0x8000_0000n, 0x2000n)).toBe('ok');
    expect(walk(h, 0, 0x8000_1000n)).toEqual({ cause: Cause.ReadPageFault });
  });

  it('MAP of a guest-physical range that is not guest RAM: DEVERR, nothing mapped', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    // 0x8000_0000 is host RAM the guest does not own.
    expect(h.backend.map(1, 0x1000n, 0x8000_0000n, 0x1000n, RW)).toBe('failed');
    expect(h.backend.map(1, 0x1000n, 0xbfff_f000n, 0x2000n, RW)).toBe('failed'); // runs off the end of guest RAM
    expect(h.kernel.iommu.iovaToPhys(h.backend.hostDomain(1)!, 0x1000n)).toBeNull();
    expect(h.backend.statistics()).toMatchObject({ maps: 0, failures: { failed: 2 } });
  });

  it('MAP beyond the host aperture: UNSUPP', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    expect(h.backend.map(1, 1n << 56n, 0xa000_0000n, 0x1000n, RW)).toBe('unsupported');
  });

  it('MAP and UNMAP in a domain the host does not have fail (DEVERR)', () => {
    const h = host();
    expect(h.backend.map(3, 0n, 0xa000_0000n, 0x1000n, RW)).toBe('failed');
    expect(h.backend.unmap(3, 0n, 0x1000n)).toBe('failed');
  });

  it('the host out of page-table memory: MAP answers NOMEM and leaves nothing half-mapped', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    h.backend.hostGeometry(EP[1]); // claimed while the host still had memory
    exhaust(h.kernel);
    // 2 MiB at an IOVA far from anything mapped needs new tables.
    expect(h.backend.map(1, 0x7_0000_0000n, 0xa000_0000n, 0x20_0000n, RW)).toBe('nomem');
    expect(h.kernel.iommu.iovaToPhys(h.backend.hostDomain(1)!, 0x7_0000_0000n)).toBeNull();
    // Nor can a new guest domain get a host domain.
    expect(h.backend.attach(EP[1], 2, false)).toBe('nomem');
    expect(h.backend.statistics().failures.nomem).toBe(2);
  });
});

describe('DETACH (5.13.6.4) and shared domains', () => {
  it('DETACH parks the host device in the blocked domain and frees the host domain with its last endpoint', () => {
    const h = host();
    const core = h.kernel.iommu;
    h.backend.attach(EP[0], 1, false);
    h.backend.attach(EP[1], 1, false);
    const d = h.backend.hostDomain(1)!;
    expect([...d.devices]).toEqual(h.devices);
    h.backend.map(1, 0x1000n, 0xa000_1000n, 0x1000n, RW);
    expect(walk(h, 1, 0x1000n)).toEqual({ pa: 0xa000_1000n });

    expect(h.backend.detach(EP[0], 1)).toBe('ok');
    expect(core.domainOf(h.devices[0])).toBe(core.staticDomain(h.devices[0], DomainType.Blocked));
    expect(walk(h, 0, 0x1000n)).toEqual({ cause: Cause.DdtEntryNotValid });
    expect(walk(h, 1, 0x1000n)).toEqual({ pa: 0xa000_1000n });
    expect(h.backend.statistics().hostDomains).toEqual({ current: 1, allocated: 1, freed: 0 });

    h.backend.unmap(1, 0x1000n, 0x1000n); // the device unmaps a dying domain's mappings first
    expect(h.backend.detach(EP[1], 1)).toBe('ok');
    expect(walk(h, 1, 0x1000n)).toEqual({ cause: Cause.DdtEntryNotValid });
    expect(h.backend.hostDomain(1)).toBeUndefined();
    expect(h.backend.statistics()).toMatchObject({ hostDomains: { current: 0, allocated: 1, freed: 1 }, detaches: 2 });
  });

  it('an endpoint moving to another domain: the old host domain goes, the new one is allocated', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    h.backend.detach(EP[0], 1);
    h.backend.attach(EP[0], 2, false);
    expect(h.kernel.iommu.domainOf(h.devices[0])).toBe(h.backend.hostDomain(2));
    expect(h.backend.statistics().hostDomains).toEqual({ current: 1, allocated: 2, freed: 1 });
  });

  it('DETACH of an endpoint not attached to that domain in the host: DEVERR, nothing changes', () => {
    const h = host();
    h.backend.attach(EP[0], 1, false);
    expect(h.backend.detach(EP[0], 2)).toBe('failed');
    expect(h.kernel.iommu.domainOf(h.devices[0])).toBe(h.backend.hostDomain(1));
  });
});

describe('bypass domains (ATTACH with VIRTIO_IOMMU_ATTACH_F_BYPASS)', () => {
  it("'map-guest-memory' (default): the endpoint reaches all guest RAM at its guest-physical addresses, and no host memory", () => {
    const h = host();
    expect(h.backend.attach(EP[0], 9, true)).toBe('ok');
    expect(walk(h, 0, 0xa000_0000n)).toEqual({ pa: 0xa000_0000n });
    expect(walk(h, 0, 0xbfff_fff8n, true)).toEqual({ pa: 0xbfff_fff8n });
    // The host kernel's own RAM is not reachable.
    expect(walk(h, 0, 0x8000_0000n)).toEqual({ cause: Cause.ReadPageFault });
    expect(h.backend.detach(EP[0], 9)).toBe('ok');
    expect(h.backend.statistics().hostDomains).toEqual({ current: 0, allocated: 1, freed: 1 });
  });

  it("'map-guest-memory' with offsets: guest-physical addresses are the IOVAs", () => {
    const h = host({ guestMemory: new GuestMemoryMap([{ guest: 0x4000_0000n, host: 0xa000_0000n, size: 0x20_0000n }]) });
    h.backend.attach(EP[0], 9, true);
    expect(walk(h, 0, 0x4000_0040n)).toEqual({ pa: 0xa000_0040n });
    expect(walk(h, 0, 0xa000_0000n)).toEqual({ cause: Cause.ReadPageFault });
  });

  it("'identity-domain': the host's identity domain, which lets the endpoint reach host memory too", () => {
    const h = host({ bypass: 'identity-domain' });
    expect(h.backend.attach(EP[0], 9, true)).toBe('ok');
    const core = h.kernel.iommu;
    expect(core.domainOf(h.devices[0])).toBe(core.staticDomain(h.devices[0], DomainType.Identity));
    expect(walk(h, 0, 0x8000_0000n)).toEqual({ pa: 0x8000_0000n });
    // The identity domain is the host's: never freed.
    h.backend.detach(EP[0], 9);
    expect(h.backend.statistics().hostDomains).toEqual({ current: 0, allocated: 0, freed: 0 });
    expect(walk(h, 0, 0x8000_0000n)).toEqual({ cause: Cause.DdtEntryNotValid });
  });
});

describe('host IOMMU faults of assigned devices', () => {
  it('are counted per endpoint (the device model has no way to take them to the guest) and logged by the host', () => {
    const h = host();
    h.backend.attach(EP[1], 1, false);
    walk(h, 1, 0x5000n, true); // records a fault in the host's fault queue
    h.kernel.poll(); // the host driver takes its fault interrupt
    expect(h.backend.statistics()).toMatchObject({ faults: 1, faultsByEndpoint: { [EP[1]]: 1 } });
    expect(h.kernel.log.records.some((r) => r.level === 'warn' && /unhandled fault: 3021000\.dma-controller write at 0x5000/.test(r.message))).toBe(true);
  });
});

describe('a host with an Arm SMMUv3 (arm-virt)', () => {
  it("mirrors the guest's domain into an SMMU paging domain: the engine's DMA is translated, a blocked device aborts", () => {
    const tree = loadBuiltinPlatform('arm-virt').tree;
    const node = tree.find('/dma-controller@c000000')!;
    const machine = new HostMachine(tree, {}, [node]);
    const kernel = machine.boot();
    const dev = kernel.drivers.find((d) => d.node?.path === node.path)!;
    const smmu = machine.iommus[0];
    if (smmu.kind !== 'smmuv3') throw new Error('expected the SMMUv3');
    const engine = machine.dmaEngines[0].engine;
    const backend = new HostIommuBackend({ kernel, endpoints: new Map([[1, dev]]), guestMemory: GuestMemoryMap.identity([{ base: 0x6000_0000n, size: 0x100_0000n }]) });
    expect(dev.state).toBe('unbound');
    expect(backend.attach(1, 4, false)).toBe('ok');
    expect(backend.map(4, 0x10_0000n, 0x6000_0000n, 0x2000n, RW)).toBe('ok');
    machine.memory.writeBytes(0x6000_0000n, Uint8Array.from({ length: 256 }, (_, i) => i));
    const before = smmu.model.statistics().requests.untranslated;
    expect(runCopy(engine, 0x10_0000n, 0x10_1000n, 256)).toBe(Status.DONE);
    expect(machine.memory.readBytes(0x6000_1000n, 256)).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i));
    // 256 bytes in 64-byte bursts, read and written: 8 transactions through the SMMU.
    expect(smmu.model.statistics().requests.untranslated - before).toBe(8);
    expect(backend.unmap(4, 0x10_0000n, 0x2000n)).toBe('ok');
    expect(runCopy(engine, 0x10_0000n, 0x10_1000n, 64) & Status.ERROR).toBe(Status.ERROR);
    expect(backend.detach(1, 4)).toBe('ok');
    expect(kernel.iommu.domainOf(dev)).toBe(kernel.iommu.staticDomain(dev, DomainType.Blocked));
    expect(backend.statistics()).toMatchObject({ hostDomains: { current: 0, allocated: 1, freed: 1 }, maps: 1, unmaps: 1 });
  });
});

/** Starts a copy on the engine's registers (a transfer completes at once: no timing) and returns STATUS. */
function runCopy(engine: DmaEngine, src: bigint, dst: bigint, length: number): number {
  engine.mmioWrite(DmaEngineReg.STATUS, 4, BigInt(Status.DONE | Status.ERROR));
  engine.mmioWrite(DmaEngineReg.SOURCE, 8, src);
  engine.mmioWrite(DmaEngineReg.DESTINATION, 8, dst);
  engine.mmioWrite(DmaEngineReg.LENGTH, 4, BigInt(length));
  engine.mmioWrite(DmaEngineReg.CONTROL, 4, BigInt(Control.START | (Operation.Copy << Control.OP_SHIFT)));
  return Number(engine.mmioRead(DmaEngineReg.STATUS, 4)) & (Status.DONE | Status.ERROR);
}

/** Allocates every free page of the host kernel. */
function exhaust(kernel: Kernel): void {
  for (let n = kernel.pages.stats.freePages; n > 0; ) {
    try {
      kernel.pages.allocPages(n);
    } catch {
      n = Math.floor(n / 2);
    }
  }
}
