// A host and a guest on one simulated machine, the way KVM + QEMU + VFIO run a guest with
// assigned devices behind a virtio-iommu:
//
//  - the host: an ordinary Machine built from the host's device tree (a physical IOMMU in front
//    of the DMA engines), its kernel booted with the platform's drivers but none for the
//    engines, which are assigned to the guest (HostMachine);
//  - the guest: a second Kernel booted from the guest's device tree, on its own vCPU (a Hart)
//    and its own bus (a SystemBus over the same PhysicalMemory) carrying what the VMM gives
//    it: a PLIC of its own, a virtio-mmio transport with a VirtioIommu, and the engines' register
//    frames. The engines' completion interrupts are forwarded to the guest's PLIC (KVM's irqfd
//    for a VFIO device's interrupt; the host's PLIC sees the line too but the host never enables
//    it).
//
// The engines' DMA, with `backend: 'host'` (the VFIO model), goes through the physical IOMMU
// only, under their host device ids; the VirtioIommu mirrors every guest request onto the host
// IOMMU through a HostIommuBackend, so the guest's MAP/UNMAP become host page-table updates and
// invalidations. With `backend: 'none'` (an emulated device) the engines' DMA goes to the
// VirtioIommu's own port under their guest endpoint ids, and the virtio-iommu translates.
//
// Layout: guest-physical = host-physical, for RAM (the guest's /memory, which the host must
// reserve) and for the assigned devices' registers (each guest engine sits at its host engine's
// address). The guest's CPU reaches only its own bus; nothing models a stage-2 MMU for it, so the
// guest kernel stays in its RAM because its allocator knows nothing else. The host backend
// itself takes any guest memory table (GuestMemoryMap).

import type { DmaEngine } from '../../devices/dma-engine/index.js';
import { DirectDmaPort } from '../../devices/dma-port.js';
import { Plic, PLIC_REGION_SIZE } from '../../devices/plic.js';
import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import { writeDtb } from '../../formats/dtb/index.js';
import { VirtioMmioTransport, type VirtioTransportParameters } from '../../hw/virtio/index.js';
import { ParameterError as VirtioIommuParameterError, VirtioIommu, type ReservedRegion, type VirtioIommuOptions } from '../../hw/virtio-iommu/index.js';
import { GuestMemoryMap, HostIommuBackend, type HostBypassPolicy } from '../../hyp/kvm/index.js';
import { iommusOf } from '../../os/core/of-iommu.js';
import type { Device } from '../../os/driver-model/device.js';
import { dmaEngineDriver } from '../../os/drivers/dma-engine/index.js';
import { plicDriver } from '../../os/drivers/irqchip/plic.js';
import { createVirtioIommuBus, type VirtioIommuDriverOptions } from '../../os/drivers/virtio-iommu/index.js';
import { Kernel, type KernelOptions } from '../../os/kernel/kernel.js';
import { Hart } from '../../sim/hart.js';
import { InterruptLine } from '../../sim/irq.js';
import { BusError, MmioBus, type MmioDevice } from '../../sim/mmio.js';
import { SystemBus } from '../../sim/system-bus.js';
import { hex } from '../../sim/u64.js';
import { VirtioIommuUpstream, type MachineIommu, type MachineOptions, type MachineVirtioIommu } from '../machine/machine.js';
import { EndpointIdPort } from './endpoint-id-port.js';
import { VmError } from './errors.js';
import { describeGuest, type GuestDescription } from './guest-tree.js';
import { HostMachine } from './host-machine.js';

export interface VmVirtioIommuOptions extends Omit<VirtioIommuOptions, 'endpoints'> {
  /** Parameters of its virtio-mmio transport. */
  transport?: Omit<VirtioTransportParameters, 'physicalPort'>;
  /** Options of the guest's virtio-iommu driver (UNMAP batching). */
  driver?: VirtioIommuDriverOptions;
  /** RESV_MEM regions of single endpoints, by endpoint id (an id that is no endpoint of the guest is a ParameterError). */
  endpointRegions?: readonly { endpoint: number; regions: readonly ReservedRegion[] }[];
}

export interface VirtualMachinePairOptions {
  /**
   * 'host' (default): the assigned engines' DMA goes through the host's IOMMU, programmed from
   * the guest's virtio-iommu requests (VFIO). 'none': the virtio-iommu translates the engines
   * itself, as for devices the VMM emulates.
   */
  backend?: 'host' | 'none';
  /** What a guest bypass domain becomes on the host (see HostBypassPolicy); default 'map-guest-memory'. */
  bypass?: HostBypassPolicy;
  /** The host machine: IOMMU model parameters, DMA engine timing, the host kernel's options. */
  host?: MachineOptions;
  /** The guest kernel's options (IOMMU default-domain policy, DMA flush queue). */
  guestKernel?: Omit<KernelOptions, 'drivers'>;
  /**
   * The guest's virtio-iommu. With the host backend its input_range and page_size_mask are
   * narrowed to what the host IOMMU can map (QEMU does the same with what VFIO reports).
   */
  virtioIommu?: VmVirtioIommuOptions;
}

/** A device the host assigned to the guest, on both sides. */
export interface AssignedDevice {
  /** The device model (its registers in both buses, its DMA through the host IOMMU or the virtio-iommu). */
  engine: DmaEngine;
  guestNode: DtNode;
  hostNode: DtNode;
  /** The guest's endpoint id on the virtio-iommu, and the device id the host IOMMU knows it by. */
  endpoint: number;
  hostDeviceId: number;
  /** The device as the host kernel sees it (unbound: assigned) and as the guest kernel does. */
  hostDevice: Device;
  guestDevice: Device;
}

/** The IOMMU model that translates a device's DMA, the device_id its requests carry there, and the kernel whose driver programs it. */
export interface Translator {
  iommu: MachineIommu;
  deviceId: number;
  kernel: Kernel;
}

export class VirtualMachinePair {
  readonly host: HostMachine;
  readonly hostKernel: Kernel;
  readonly guest: Kernel;
  readonly guestTree: DeviceTree;
  readonly guestDtb: Uint8Array;
  /** The guest's RAM in host memory (an identity layout). */
  readonly guestMemory: GuestMemoryMap;
  /** The guest's CPU view: its RAM and the devices the VMM maps for it. */
  readonly guestBus: SystemBus;
  readonly guestHart = new Hart(0, null);
  readonly guestPlic: Plic;
  readonly viommu: VirtioIommu;
  readonly transport: VirtioMmioTransport;
  /** The virtio-iommu in the shape a Machine lists its own IOMMUs (for reports and explain). */
  readonly guestIommu: MachineVirtioIommu;
  /** The host backend (null with `backend: 'none'`). */
  readonly backend: HostIommuBackend | null;
  readonly assigned: readonly AssignedDevice[];

  constructor(hostTree: DeviceTree, guestTree: DeviceTree, options: VirtualMachinePairOptions = {}) {
    const description = describeGuest(guestTree, hostTree);
    this.guestTree = guestTree;
    this.host = new HostMachine(hostTree, options.host ?? {}, description.assigned.map((a) => a.hostNode));
    this.hostKernel = this.host.boot();
    const memory = this.host.memory;
    this.guestMemory = GuestMemoryMap.identity(description.ram);
    this.guestBus = new SystemBus(memory, new MmioBus());

    const pairs = description.assigned.map((a) => {
      const engine = this.host.dmaEngines.find((e) => e.node === a.hostNode);
      if (engine === undefined) throw new VmError(`${a.hostNode.path}: the host machine did not build this DMA engine`);
      if (engine.deviceId === null) throw new VmError(`${a.hostNode.path}: no IOMMU translates this engine in the host, so it cannot be assigned (VFIO needs an IOMMU group)`);
      const hostDevice = this.hostKernel.drivers.find((d) => d.node?.path === a.hostNode.path);
      if (hostDevice === undefined) throw new VmError(`${a.hostNode.path}: the host kernel has no device for it`);
      return { ...a, engine, hostDevice };
    });

    this.backend =
      (options.backend ?? 'host') === 'host'
        ? new HostIommuBackend({ kernel: this.hostKernel, endpoints: new Map(pairs.map((p) => [p.endpoint, p.hostDevice])), guestMemory: this.guestMemory, bypass: options.bypass })
        : null;

    // The guest's interrupt controller, driving the vCPU's supervisor external interrupt.
    const p = description.plic;
    this.guestPlic = new Plic(p.node.path, p.sources, p.contexts);
    this.mapGuest(p.node.path, p.base, PLIC_REGION_SIZE, this.guestPlic);
    for (const c of p.vcpuContexts) this.guestPlic.contexts[c].onChange((level) => this.guestHart.externalInterrupt.set(level));
    const guestLine = (source: number | null, who: string): InterruptLine => {
      if (source === null) return new InterruptLine(`${who}.irq`);
      const line = this.guestPlic.sources[source];
      if (line === undefined || source === 0) throw new VmError(`${who}: interrupt ${source} is not a source of the guest PLIC (1..${this.guestPlic.sourceCount})`);
      return line;
    };

    // The virtio-iommu and its transport; their own accesses (virtqueues) reach guest memory.
    // Its own accesses and the endpoints' translated ones (without the backend) use separate
    // ports, as in a Machine, so that the report counts the device's own and explain can dry-run.
    const { transport: transportOptions, driver: driverOptions, endpointRegions = [], ...deviceOptions } = options.virtioIommu ?? {};
    const v = description.viommu;
    const guestPort = new DirectDmaPort(this.guestBus);
    const upstream = new VirtioIommuUpstream(new DirectDmaPort(this.guestBus));
    for (const { endpoint } of endpointRegions) {
      if (!pairs.some((a) => a.endpoint === endpoint)) throw new VirtioIommuParameterError(`virtio-iommu parameters: endpoint ${hex(endpoint)} has reserved regions but is no endpoint of the guest's virtio-iommu (endpoints: ${pairs.map((a) => hex(a.endpoint)).join(', ')})`);
    }
    this.viommu = new VirtioIommu({
      ...deviceOptions,
      ...this.hostLimits(description, deviceOptions),
      upstream,
      endpoints: pairs.map((a) => ({ id: a.endpoint, reservedRegions: endpointRegions.filter((e) => e.endpoint === a.endpoint).flatMap((e) => e.regions) })),
      ...(this.backend !== null ? { backend: this.backend } : {}),
    });
    if (v.size < 0x100n + BigInt(this.viommu.configSize)) throw new VmError(`${v.node.path}: reg is ${hex(v.size)} bytes, too small for the virtio-mmio registers and ${this.viommu.configSize} bytes of configuration`);
    this.transport = new VirtioMmioTransport({ ...transportOptions, name: v.node.path, model: this.viommu, port: guestPort, irq: guestLine(v.irq, v.node.path), regionSize: Number(v.size) });
    this.mapGuest(v.node.path, v.base, v.size, this.transport);
    this.guestIommu = { kind: 'virtio-iommu', node: v.node, model: this.viommu, port: this.viommu.dmaPort, transport: this.transport, upstream, own: guestPort };

    // The assigned engines: their registers in the guest's bus, their interrupt forwarded.
    for (const a of pairs) {
      this.mapGuest(a.node.path, a.base, a.size, a.engine.engine);
      const line = guestLine(a.irq, a.node.path);
      line.set(a.engine.engine.irq.asserted);
      a.engine.engine.irq.onChange((level) => line.set(level));
      if (this.backend === null) a.engine.engine.port = new EndpointIdPort(this.viommu.dmaPort, a.endpoint);
    }

    this.guestDtb = writeDtb(guestTree);
    const virtioBus = createVirtioIommuBus({ iommu: driverOptions });
    this.guest = new Kernel(
      { dtb: this.guestDtb, memory, bus: this.guestBus, clock: this.host.clock, hart: this.guestHart },
      { ...options.guestKernel, drivers: [plicDriver, dmaEngineDriver, virtioBus.mmioDriver] },
    );
    this.guest.boot();

    this.assigned = pairs.map((a) => {
      const guestDevice = this.guest.drivers.find((d) => d.node?.path === a.node.path);
      if (guestDevice === undefined) throw new VmError(`${a.node.path}: the guest kernel has no device for it`);
      return { engine: a.engine.engine, guestNode: a.node, hostNode: a.hostNode, endpoint: a.endpoint, hostDeviceId: a.engine.deviceId ?? 0, hostDevice: a.hostDevice, guestDevice };
    });
  }

  /** Takes pending interrupts on the host, then in the guest (both CPUs at a safe point). */
  poll(): number {
    return this.hostKernel.poll() + this.guest.poll();
  }

  /** The assigned device whose guest node is at `path`. */
  device(path: string): AssignedDevice {
    const a = this.assigned.find((x) => x.guestNode.path === path);
    if (a === undefined) throw new VmError(`no assigned device at ${path}; assigned: ${this.assigned.map((x) => x.guestNode.path).join(', ')}`);
    return a;
  }

  /** Every IOMMU model of the pair with the kernel whose driver programs it: the guest's virtio-iommu, then the host's. */
  get iommus(): { iommu: MachineIommu; kernel: Kernel }[] {
    return [{ iommu: this.guestIommu, kernel: this.guest }, ...this.host.iommus.map((iommu) => ({ iommu, kernel: this.hostKernel }))];
  }

  /**
   * What translates an assigned device's DMA: with the backend the host IOMMU, under the host
   * device id (the virtio-iommu only relays the guest's requests); without it the virtio-iommu,
   * under the guest endpoint id.
   */
  translatorOf(a: AssignedDevice): Translator {
    if (this.backend === null) return { iommu: this.guestIommu, deviceId: a.endpoint, kernel: this.guest };
    const ref = iommusOf(this.host.tree, a.hostNode)[0];
    const iommu = ref === undefined ? undefined : this.host.iommuFor(ref.iommu);
    if (iommu === undefined) throw new VmError(`${a.hostNode.path}: no IOMMU model of the host translates it`);
    return { iommu, deviceId: a.hostDeviceId, kernel: this.hostKernel };
  }

  /**
   * With the host backend: input_range and page_size_mask within what the host IOMMU maps for
   * every endpoint (QEMU narrows them with the IOVA ranges and page sizes VFIO reports).
   */
  private hostLimits(description: GuestDescription, o: Omit<VirtioIommuOptions, 'endpoints'>): Pick<VirtioIommuOptions, 'inputRange' | 'pageSizeMask'> {
    if (this.backend === null) return {};
    let start = o.inputRange?.start ?? 0n;
    let end = o.inputRange?.end ?? (1n << 64n) - 1n;
    let mask = o.pageSizeMask ?? 0xffff_ffff_ffff_f000n;
    for (const a of description.assigned) {
      const g = this.backend.hostGeometry(a.endpoint);
      if (g.start > start) start = g.start;
      if (g.end < end) end = g.end;
      mask &= g.pageSizes.reduce((m, log2) => m | (1n << BigInt(log2)), 0n);
    }
    if (start > end) throw new VmError(`the virtio-iommu's input range has nothing in common with what the host IOMMU maps`);
    if (mask === 0n) throw new VmError(`the virtio-iommu's page sizes have none in common with the host IOMMU's`);
    return { inputRange: { start, end }, pageSizeMask: mask };
  }

  private mapGuest(name: string, base: bigint, size: bigint, device: MmioDevice): void {
    try {
      this.guestBus.mmio.map(name, base, size, device);
    } catch (e) {
      if (e instanceof BusError) throw new VmError(`guest device tree: ${name}: ${e.message}`);
      throw e;
    }
  }
}
