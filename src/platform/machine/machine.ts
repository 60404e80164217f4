// A machine built from a device tree: the platform reads the tree, instantiates the hardware
// models it describes (interrupt controllers, IOMMUs, DMA masters, PCIe), maps them on the
// bus, wires their interrupts and DMA ports, plays firmware (PCI BAR assignment, the DTB),
// and boots the kernel with the drivers the platform ships. It is the only code that sees
// both the hardware models and the software.
//
// The processor is a RISC-V hart (PLIC, IMSIC) or an Arm CPU (a GICv2 or GICv3); device
// interrupts are wired to the model of the controller their interrupt parent names. Devices
// whose DMA goes through an IOMMU of a known architecture that this machine has no model of
// are left out (listed in `unmodelled` with that IOMMU): wiring them around it would let them
// reach memory the IOMMU would have guarded.
//
// virtio: a `virtio,mmio` node with `#iommu-cells` is a virtio-iommu behind a virtio-mmio
// transport; a `virtio,pci-iommu` ("pci1af4,1057") node inside a host bridge is one behind a
// virtio-pci function. The endpoints it manages are the devices whose DMA the tree sends to it
// (`iommus`, `iommu-map`), with the specifier's id as endpoint id. Its own DMA (virtqueues,
// MSI-X messages) goes straight to the bus, never through itself. Every other `virtio,mmio`
// node is an empty slot (DeviceID 0), as QEMU's virt boards have many: the kernel's
// virtio-mmio driver finds "no device" there, as it does on QEMU.
//
// Renesas IPMMU-VMSA (binding renesas,ipmmu-vmsa): every node of a compatible whose register
// layout is known (R-Car Gen3, Gen4) is a model. A node without `renesas,ipmmu-main` is a root
// (IPMMU-MM: context banks, table walks, the fault interrupt, its first `interrupts` entry); a
// cache IPMMU is built after the IPMMU its `renesas,ipmmu-main` names and reports to it. A
// master's `iommus = <&ipmmu N>` puts its DMA on that IPMMU's port as micro-TLB N. There is no
// kernel driver for the IPMMU: a kernel booted on such a tree leaves the masters' probes
// deferred ("waiting for IOMMU ..."). A device whose `iommus` names several different IOMMUs
// is left out: its DMA has one port here, and wiring it through one would bypass the others.
//
// Hypervisor: a tree whose /chosen is Xen's (hypervisor.ts) boots the Xen-style hypervisor
// (`bootXen()`) instead of a kernel (`boot()`), with the same firmware a kernel gets.

import { DirectDmaPort, DmaPortStatus, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../devices/dma-port.js';
import { DmaEngine } from '../../devices/dma-engine/index.js';
import { DMA_ENGINE_COMPATIBLE } from '../../devices/dma-engine/registers.js';
import { GicV2, GicV3, type GicOptions } from '../../devices/gic/index.js';
import { IPMMU_MAIN_PROPERTY, ipmmuLayoutFor } from '../../formats/ipmmu-vmsa/index.js';
import { Plic, PLIC_REGION_SIZE } from '../../devices/plic.js';
import { assignBars, PCI_RISCV_IOMMU_IDS, PciDmaEngineFunction, PcieHostBridge, PciMmioFunction, pciWindowsOf, PCI_DMA_ENGINE_IDS, type BarAssignment } from '../../devices/pcie/index.js';
import { phandleSpecifiers, type PhandleSpecifier } from '../../formats/devicetree/specifiers.js';
import { DeviceTreeError, type DeviceTree, type DtNode } from '../../formats/devicetree/tree.js';
import { writeDtb } from '../../formats/dtb/index.js';
import { VIRTIO_MMIO_COMPATIBLE } from '../../formats/virtio/mmio.js';
import { VIRTIO_PCI_VENDOR, virtioPciDeviceId } from '../../formats/virtio/pci.js';
import { VIRTIO_IOMMU_DEVICE_ID } from '../../formats/virtio-iommu/features.js';
import { IpmmuVmsa, type IpmmuDmaPort, type IpmmuVmsaOptions } from '../../hw/ipmmu-vmsa/index.js';
import { RiscvIommu, RiscvIommuDmaPort, type RiscvIommuOptions } from '../../hw/riscv-iommu/index.js';
import { SmmuV3, SmmuV3DmaPort, type SmmuV3InterruptLines, type SmmuV3Options } from '../../hw/smmuv3/index.js';
import { VirtioMmioTransport, VirtioPciFunction, type VirtioDeviceModel, type VirtioTransportParameters } from '../../hw/virtio/index.js';
import { ParameterError as VirtioIommuParameterError, VirtioIommu, type ReservedRegion, type VirtioIommuDmaPort, type VirtioIommuOptions } from '../../hw/virtio-iommu/index.js';
import { Xen, type XenOptions } from '../../hyp/xen/index.js';
import { IommuBindingError, iommuForRid, iommuMapOf, iommusOf, type IommuReference } from '../../os/core/of-iommu.js';
import type { Driver } from '../../os/driver-model/device.js';
import { armSmmuV3Driver, createArmSmmuV3Driver, type ArmSmmuV3Options } from '../../os/drivers/arm-smmu-v3/index.js';
import { dmaEngineDriver } from '../../os/drivers/dma-engine/index.js';
import { GIC_V2_COMPATIBLE, gicV2Driver } from '../../os/drivers/irqchip/gic-v2.js';
import { GIC_V3_COMPATIBLE, gicV3Driver } from '../../os/drivers/irqchip/gic-v3.js';
import { imsicDriver } from '../../os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../os/drivers/irqchip/plic.js';
import { pciHostEcamDriver } from '../../os/drivers/pci/index.js';
import { riscvIommuPciDriver, riscvIommuPlatformDriver } from '../../os/drivers/riscv-iommu/index.js';
import type { VirtioBus } from '../../os/drivers/virtio/bus.js';
import { createVirtioIommuBus, type VirtioIommuDriverOptions } from '../../os/drivers/virtio-iommu/index.js';
import { enabled, Kernel, type KernelOptions } from '../../os/kernel/kernel.js';
import { region, regions } from '../../os/of/address.js';
import { Clock } from '../../sim/clock.js';
import { Hart, type CpuArchitecture } from '../../sim/hart.js';
import { InterruptLine, MsiController } from '../../sim/irq.js';
import { BusError, MmioBus, type MmioDevice, type MmioSize } from '../../sim/mmio.js';
import { PhysicalMemory } from '../../sim/physical-memory.js';
import { SystemBus } from '../../sim/system-bus.js';
import { hex } from '../../sim/u64.js';
import { classifyIommu, type IommuKind } from '../bindings/kinds.js';
import { hypervisorOf, XEN_BOOTARGS, type HypervisorKind } from './hypervisor.js';

export class MachineError extends Error {}

export interface MachineOptions {
  /** Parameters of every RISC-V IOMMU model (capabilities, cache sizes, ...). */
  riscvIommu?: RiscvIommuOptions;
  /** Parameters of every SMMUv3 model (IDR features, queue and table limits, cache sizes). */
  smmuv3?: SmmuV3Options;
  /** Options of the kernel's SMMUv3 driver (the stage of its paging domains, CMD_SYNC completion). */
  smmuv3Driver?: ArmSmmuV3Options;
  /** Parameters of every virtio-iommu (the device's configuration and choices, its transport, the guest driver). */
  virtioIommu?: MachineVirtioIommuOptions;
  /** Throughput of DMA engines in bytes per cycle (0: a transfer completes when started). */
  dmaBytesPerCycle?: number;
  /** Largest bus transaction of DMA engines in bytes (a power of two, 8..4096; default 64). */
  dmaBurstBytes?: number;
  /** Kernel options (IOMMU default-domain policy, DMA flush queue). */
  kernel?: Omit<KernelOptions, 'drivers'>;
  /** Parameters of a GIC model (SPIs, priority bits, ...); it serves the machine's one CPU. */
  gic?: Omit<GicOptions, 'cpus' | 'affinities'>;
  /** Parameters of every IPMMU-VMSA model (TLB geometry, untranslated-transaction policies); the generation comes from the compatible. */
  ipmmu?: Omit<IpmmuVmsaOptions, 'generation'>;
  /** Options of the hypervisor a Xen device tree boots (quarantine, dom0's memory, ...). */
  xen?: XenOptions;
}

export interface MachineVirtioIommuOptions extends Omit<VirtioIommuOptions, 'endpoints'> {
  /**
   * RESV_MEM regions of single endpoints, by endpoint id, besides `reservedRegions` (which every
   * endpoint has). An id that is no endpoint of a virtio-iommu of the machine is a ParameterError.
   */
  endpointRegions?: readonly { endpoint: number; regions: readonly ReservedRegion[] }[];
  /** Parameters of its transport (EVENT_IDX, INDIRECT_DESC, ...), virtio-mmio or virtio-pci. */
  transport?: Omit<VirtioTransportParameters, 'physicalPort'>;
  /** Options of the guest's virtio-iommu driver (UNMAP batching). */
  driver?: VirtioIommuDriverOptions;
}

/** The drivers every machine's kernel gets, besides the virtio transports (see `Machine.virtioBus`). */
export const PLATFORM_DRIVERS: readonly Driver[] = [plicDriver, imsicDriver, gicV2Driver, gicV3Driver, riscvIommuPlatformDriver, riscvIommuPciDriver, armSmmuV3Driver, pciHostEcamDriver, dmaEngineDriver];

/** The IOMMU architectures this machine builds models of. */
const MODELLED_IOMMUS: ReadonlySet<IommuKind> = new Set<IommuKind>(['riscv-iommu', 'riscv-iommu-pci', 'arm-smmu-v3', 'virtio-iommu-mmio', 'virtio-iommu-pci', 'renesas-ipmmu']);

/** The PCI binding's compatible of a virtio-iommu function ("pci1af4,1057"), and the generic one. */
const VIRTIO_IOMMU_PCI_COMPATIBLE = ['virtio,pci-iommu', pciCompatible(VIRTIO_PCI_VENDOR, virtioPciDeviceId(VIRTIO_IOMMU_DEVICE_ID))];

/**
 * The device id a host bridge gives the requests of a virtio-iommu function itself: beyond 32
 * bits, so that no endpoint id can equal it, and its bridge's upstream can tell them apart.
 */
const OWN_REQUESTS = 2 ** 32;

/** A virtio-iommu of the machine: the device model, the transport it sits behind, its ports. */
export interface MachineVirtioIommu {
  kind: 'virtio-iommu';
  node: DtNode;
  model: VirtioIommu;
  /** The endpoints' upstream port (the device translates what reaches it). */
  port: VirtioIommuDmaPort;
  transport: VirtioMmioTransport | VirtioPciFunction;
  /** Where the endpoints' translated and bypassing accesses go. */
  upstream: VirtioIommuUpstream;
  /**
   * The port of the device's own accesses (virtqueues, MSI-X messages): the system bus. Behind
   * virtio-pci, the requests its host bridge routes around it when it is the bridge's IOMMU.
   */
  own: DirectDmaPort;
}

/** An IPMMU-VMSA of the machine: a root IPMMU-MM or a cache IPMMU (`model.root` tells). */
export interface MachineIpmmu {
  kind: 'ipmmu-vmsa';
  node: DtNode;
  model: IpmmuVmsa;
  /** The port of the masters behind it (requester deviceId = micro-TLB). */
  port: IpmmuDmaPort;
}

/** A RISC-V IOMMU of the machine, a platform device or a PCI function. */
export interface MachineRiscvIommu {
  kind: 'riscv-iommu';
  node: DtNode;
  model: RiscvIommu;
  port: RiscvIommuDmaPort;
}

export interface MachineSmmuV3 {
  kind: 'smmuv3';
  node: DtNode;
  model: SmmuV3;
  port: SmmuV3DmaPort;
}

/** An IOMMU model of the machine, by architecture, with the port its masters' DMA goes to. */
export type MachineIommu = MachineRiscvIommu | MachineSmmuV3 | MachineVirtioIommu | MachineIpmmu;

export interface MachineDmaEngine {
  node: DtNode;
  engine: DmaEngine;
  /** The device id its requests carry (from `iommus`), or null when no IOMMU translates it. */
  deviceId: number | null;
}

export interface MachinePcie {
  node: DtNode;
  bridge: PcieHostBridge;
  bars: BarAssignment[];
  /** The IOMMU its iommu-map sends the functions' DMA to (null: none, the bus directly). */
  iommu: MachineIommu | null;
}

/** A virtio-mmio slot with no device behind it. */
export interface MachineVirtioSlot {
  node: DtNode;
  transport: VirtioMmioTransport;
}

export interface MachineGic {
  node: DtNode;
  model: GicV2 | GicV3;
}

/** A modelled interrupt controller's input named by a specifier, or why there is none. */
type InterruptInput = (cells: readonly number[]) => InterruptLine | string;

export class Machine {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory, new MmioBus());
  readonly clock = new Clock();
  readonly hart: Hart;
  readonly plic: Plic | null = null;
  readonly gic: MachineGic | null = null;
  readonly interruptFile: MsiController | null = null;
  readonly iommus: MachineIommu[] = [];
  readonly dmaEngines: MachineDmaEngine[] = [];
  readonly pcie: MachinePcie[] = [];
  readonly emptyVirtioSlots: MachineVirtioSlot[] = [];
  /** The virtio bus of the kernel: its virtio-mmio and virtio-pci drivers, with the virtio-iommu driver registered. */
  readonly virtioBus: VirtioBus;
  /**
   * Nodes with a compatible string that no model here implements, and devices left out
   * because their DMA goes through an IOMMU without a model (they are simply absent).
   */
  readonly unmodelled: DtNode[] = [];
  readonly dtb: Uint8Array;
  /** The hypervisor the tree's /chosen asks for (`bootXen()`), or null: the machine boots a kernel. */
  readonly hypervisor: HypervisorKind | null;
  private bootedKernel: Kernel | null = null;
  private bootedXen: Xen | null = null;
  /** The interrupt controllers modelled, by node. */
  private readonly interruptInputs = new Map<DtNode, InterruptInput>();
  /** Devices that exist but are not modelled because of the IOMMU in front of them. */
  private readonly leftOut = new Set<DtNode>();

  constructor(
    readonly tree: DeviceTree,
    readonly options: MachineOptions = {},
  ) {
    this.virtioBus = createVirtioIommuBus({ iommu: options.virtioIommu?.driver });
    const nodes = [...tree.root.walk()].filter((n) => n.has('compatible') && enabled(n));
    // The hart's supervisor-level interrupt file (the one on the S-mode external interrupt, 9).
    const imsicNode = nodes.find((n) => compatibleWith(n, 'riscv,imsics') && (this.interruptsExtended(n)?.some((s) => s.args[0] === 9) ?? true));
    if (imsicNode !== undefined) {
      const r = region(imsicNode);
      this.interruptFile = new MsiController(imsicNode.path, r.base, imsicNode.u32('riscv,num-ids') ?? 255);
      this.mapRegion(imsicNode.path, r.base, r.size, this.interruptFile);
    }
    const plicNode = nodes.find((n) => compatibleWith(n, 'riscv,plic0', 'sifive,plic-1.0.0'));
    const gicNode = nodes.find((n) => compatibleWith(n, ...GIC_V2_COMPATIBLE, ...GIC_V3_COMPATIBLE));
    this.hart = new Hart(0, this.interruptFile, processorOf(tree, gicNode !== undefined));
    if (plicNode !== undefined) this.plic = this.buildPlic(plicNode);
    if (gicNode !== undefined) this.gic = { node: gicNode, model: this.buildGic(gicNode) };

    this.buildIpmmus(nodes);
    for (const node of nodes) {
      if (compatibleWith(node, 'riscv,iommu')) this.buildPlatformIommu(node);
      else if (compatibleWith(node, 'arm,smmu-v3')) this.buildSmmuV3(node);
      else if (compatibleWith(node, VIRTIO_MMIO_COMPATIBLE)) this.buildVirtioMmio(node, nodes);
    }
    for (const node of nodes) {
      if (compatibleWith(node, 'pci-host-ecam-generic')) this.buildPcie(node, nodes);
    }
    for (const node of nodes) {
      if (compatibleWith(node, DMA_ENGINE_COMPATIBLE)) this.buildDmaEngine(node);
    }
    this.checkEndpointRegions();
    const modelled = new Set<DtNode>([
      ...(imsicNode ? [imsicNode] : []),
      ...(plicNode ? [plicNode] : []),
      ...(gicNode ? [gicNode] : []),
      ...this.iommus.map((i) => i.node),
      ...this.dmaEngines.map((e) => e.node),
      ...this.pcie.map((p) => p.node),
      ...this.emptyVirtioSlots.map((v) => v.node),
    ]);
    for (const p of this.pcie) for (const child of p.node.children) if (!this.leftOut.has(child)) modelled.add(child);
    for (const n of nodes) if (!modelled.has(n) && !isStructural(n)) this.unmodelled.push(n);
    this.dtb = writeDtb(tree);
    this.hypervisor = hypervisorOf(tree);
  }

  /** The platform's drivers, the SMMUv3 one with the machine's options. */
  private drivers(): Driver[] {
    const smmu = this.options.smmuv3Driver;
    return PLATFORM_DRIVERS.map((d) => (d === armSmmuV3Driver && smmu !== undefined ? createArmSmmuV3Driver(smmu) : d));
  }

  /** Boots the kernel (once) from the machine's DTB with the platform's drivers; a Xen device tree boots Xen instead (`bootXen()`). */
  boot(): Kernel {
    if (this.bootedKernel !== null) return this.bootedKernel;
    if (this.hypervisor !== null) throw new MachineError(`this device tree boots the Xen hypervisor (/chosen has ${XEN_BOOTARGS} or a multiboot module): boot it with bootXen()`);
    const kernel = new Kernel(
      { dtb: this.dtb, memory: this.memory, bus: this.bus, clock: this.clock, hart: this.hart },
      { ...this.options.kernel, drivers: [...this.drivers(), this.virtioBus.mmioDriver, this.virtioBus.pciDriver] },
    );
    kernel.boot();
    this.bootedKernel = kernel;
    return kernel;
  }

  get kernel(): Kernel {
    if (this.bootedKernel === null) throw new MachineError(this.bootedXen === null ? 'the machine has not booted' : 'the machine booted Xen, not a kernel');
    return this.bootedKernel;
  }

  /** Boots the Xen-style hypervisor (once) from the machine's DTB: IOMMUs probed, devices added, dom0 built. */
  bootXen(): Xen {
    if (this.bootedXen !== null) return this.bootedXen;
    if (this.hypervisor !== 'xen') throw new MachineError(`this device tree boots a kernel: /chosen has no ${XEN_BOOTARGS} and no multiboot module`);
    const xen = new Xen({ dtb: this.dtb, memory: this.memory, bus: this.bus, clock: this.clock, hart: this.hart }, this.options.xen);
    xen.boot();
    this.bootedXen = xen;
    return xen;
  }

  get xen(): Xen {
    if (this.bootedXen === null) throw new MachineError('the hypervisor has not booted');
    return this.bootedXen;
  }

  /** The IOMMU model built for `node`. */
  iommuFor(node: DtNode): MachineIommu | undefined {
    return this.iommus.find((i) => i.node === node);
  }

  // ---- builders ------------------------------------------------------------------------

  /** Maps a device's registers; overlapping regions are a mistake of the device tree. */
  private mapRegion(name: string, base: bigint, size: bigint, device: MmioDevice): void {
    try {
      this.bus.mmio.map(name, base, size, device);
    } catch (e) {
      if (e instanceof BusError) throw new MachineError(`${name}: ${e.message}`);
      throw e;
    }
  }

  private buildPlic(node: DtNode): Plic {
    const sources = node.u32('riscv,ndev');
    if (sources === undefined) throw new DeviceTreeError(`${node.path}: a PLIC needs riscv,ndev`, node.location);
    // One context per interrupts-extended entry; the one on the supervisor external interrupt
    // (9) drives the hart's pin.
    const ext = this.interruptsExtended(node) ?? [];
    const plic = new Plic(node.path, sources, Math.max(1, ext.length));
    this.mapRegion(node.path, region(node).base, PLIC_REGION_SIZE, plic);
    ext.forEach((s, c) => {
      if (s.args[0] === 9) plic.contexts[c].onChange((level) => this.hart.externalInterrupt.set(level));
    });
    this.interruptInputs.set(node, (cells) => plic.sources[cells[0]] ?? `interrupt ${cells[0]} is beyond the PLIC's ${plic.sourceCount} sources`);
    return plic;
  }

  /**
   * A GICv2 (Distributor, CPU interface) or GICv3 (Distributor, Redistributor regions, CPU
   * interface as the CPU's system registers) for the machine's one CPU, its IRQ and FIQ on
   * the CPU's inputs.
   */
  private buildGic(node: DtNode): GicV2 | GicV3 {
    const v3 = compatibleWith(node, ...GIC_V3_COMPATIBLE);
    const reg = regions(node);
    const rdRegions = v3 ? (node.u32('#redistributor-regions') ?? 1) : 0;
    if (reg.length < (v3 ? 1 + rdRegions : 2)) {
      throw new DeviceTreeError(`${node.path}: reg needs the Distributor and ${v3 ? `${rdRegions} Redistributor region(s)` : 'the CPU interface'}`, node.property('reg')?.location);
    }
    const options: GicOptions = { ...this.options.gic, cpus: 1, affinities: [this.hart.affinity] };
    const gic = construct(node, () => (v3 ? new GicV3(options, node.path) : new GicV2(options, node.path)));
    if (gic instanceof GicV3) {
      this.mapRegion(`${node.path} (GICD)`, reg[0].base, reg[0].size, gic.distributor);
      // Redistributors fill the regions in order, one per stride (default: two 64 KiB frames).
      const stride = BigInt(node.u32('redistributor-stride') ?? 0x20000);
      let firstCpu = 0;
      for (let i = 1; i <= rdRegions; i++) {
        this.mapRegion(`${node.path} (GICR ${i - 1})`, reg[i].base, reg[i].size, gic.redistributorRegion(firstCpu, reg[i].size));
        firstCpu += Number(reg[i].size / stride);
      }
      this.hart.systemRegisters.connect(gic.cpuInterface(0));
    } else {
      this.mapRegion(`${node.path} (GICD)`, reg[0].base, reg[0].size, gic.distributor(0));
      this.mapRegion(`${node.path} (GICC)`, reg[1].base, reg[1].size, gic.cpuInterface(0));
    }
    gic.irq(0).onChange((level) => this.hart.externalInterrupt.set(level));
    gic.fiq(0).onChange((level) => this.hart.fastInterrupt.set(level));
    // arm,gic specifiers: <type number flags>, type 0 SPI (INTID 32 + n), 1 PPI (16 + n). The
    // trigger is the kernel's to program; the wire is the same.
    this.interruptInputs.set(node, (cells) => {
      if (cells.length < 3) return `a GIC interrupt specifier has 3 cells, not ${cells.length}`;
      const [type, n] = cells;
      if (type === 0) return gic.input(32 + n) ?? `SPI ${n} is beyond the GIC's ${gic.spis} SPIs`;
      if (type === 1) return (n < 16 ? gic.input(16 + n, 0) : undefined) ?? `PPI ${n} does not exist (PPIs are 0-15)`;
      return `interrupt type ${type} is neither SPI (0) nor PPI (1)`;
    });
    return gic;
  }

  private interruptsExtended(node: DtNode): PhandleSpecifier[] | undefined {
    return phandleSpecifiers(this.tree, node, 'interrupts-extended', '#interrupt-cells', (m) => new DeviceTreeError(m, node.property('interrupts-extended')?.location));
  }

  /**
   * The input lines `node`'s interrupts drive, in order (`interrupts-extended`, or
   * `interrupts` for the interrupt parent). An interrupt whose controller has no model here
   * gets a line of its own that nothing listens to.
   */
  private wiresOf(node: DtNode): InterruptLine[] {
    const property = node.has('interrupts-extended') ? 'interrupts-extended' : 'interrupts';
    return this.interruptSpecifiers(node).map((s, i) => {
      const input = s.controller === null ? undefined : this.interruptInputs.get(s.controller);
      if (input === undefined) return new InterruptLine(`${node.path}.irq${i}`);
      const line = input(s.cells);
      if (typeof line === 'string') throw new DeviceTreeError(`${node.path}: ${line}`, node.property(property)?.location);
      return line;
    });
  }

  /** The specifiers of `node`'s interrupts with the controller each is for (null: no interrupt parent). */
  private interruptSpecifiers(node: DtNode): { controller: DtNode | null; cells: number[] }[] {
    const extended = this.interruptsExtended(node);
    if (extended !== undefined) return extended.map((s) => ({ controller: s.target, cells: s.args }));
    const cells = node.u32s('interrupts');
    if (cells === undefined) return [];
    const controller = interruptParentOf(this.tree, node);
    if (controller === null) return [];
    const n = controller.u32('#interrupt-cells');
    if (n === undefined || n === 0 || cells.length % n !== 0) {
      throw new DeviceTreeError(`${node.path}: interrupts has ${cells.length} cells, not a multiple of #interrupt-cells (${n ?? 'missing'}) of ${controller.path}`, node.property('interrupts')?.location);
    }
    const out: { controller: DtNode | null; cells: number[] }[] = [];
    for (let i = 0; i < cells.length; i += n) out.push({ controller, cells: cells.slice(i, i + n) });
    return out;
  }

  private newIommu(node: DtNode, wires: InterruptLine[]): MachineRiscvIommu {
    // Wired outputs by vector: the node's interrupts first, unconnected lines for the rest.
    const vectors = 1 << (this.options.riscvIommu?.interruptVectorBits ?? 4);
    const outputs = Array.from({ length: vectors }, (_, v) => wires[v] ?? new InterruptLine(`${node.path}.wsi${v}`));
    const model = new RiscvIommu({ ...this.options.riscvIommu, memory: this.memory, bus: this.bus, clock: this.clock, wires: outputs });
    const iommu = { kind: 'riscv-iommu' as const, node, model, port: new RiscvIommuDmaPort(model) };
    this.iommus.push(iommu);
    return iommu;
  }

  /**
   * Every IPMMU-VMSA of a known generation, each after the IPMMU its `renesas,ipmmu-main`
   * names (a root first): a root gets its first interrupt as the fault output.
   */
  private buildIpmmus(nodes: readonly DtNode[]): void {
    const ipmmus = nodes.filter(isModelledIpmmu);
    const building = new Set<DtNode>();
    const build = (node: DtNode): MachineIpmmu => {
      const built = this.iommuFor(node);
      if (built !== undefined) return built as MachineIpmmu;
      if (building.has(node)) throw new DeviceTreeError(`${node.path}: ${IPMMU_MAIN_PROPERTY} leads back to this IPMMU`, node.property(IPMMU_MAIN_PROPERTY)?.location);
      building.add(node);
      const main = node.u32s(IPMMU_MAIN_PROPERTY);
      let root: IpmmuVmsa | undefined;
      if (main !== undefined) {
        const target = main.length > 0 ? this.tree.byPhandle(main[0]) : undefined;
        const where = node.property(IPMMU_MAIN_PROPERTY)?.location;
        if (target === undefined) throw new DeviceTreeError(`${node.path}: ${IPMMU_MAIN_PROPERTY} refers to phandle ${main[0] ?? '(none)'}, which no node has`, where);
        if (!ipmmus.includes(target)) throw new MachineError(`${node.path}: ${IPMMU_MAIN_PROPERTY} names ${target.path}, which is not an enabled IPMMU-VMSA of a known generation`);
        root = build(target).model;
      }
      const layout = ipmmuLayoutFor(node.strings('compatible') ?? []);
      const config = { ...this.options.ipmmu, generation: layout?.generation, name: node.path, memory: this.memory, bus: this.bus };
      // A root's fault output is its first interrupt (a cache IPMMU signals through its root).
      const irq = root === undefined ? this.wiresOf(node)[0] : undefined;
      const model = construct(node, () => new IpmmuVmsa({ ...config, ...(root === undefined ? {} : { root }), ...(irq === undefined ? {} : { irq }) }));
      const r = region(node);
      this.mapRegion(node.path, r.base, r.size, model);
      const iommu: MachineIpmmu = { kind: 'ipmmu-vmsa', node, model, port: model.port };
      this.iommus.push(iommu);
      return iommu;
    };
    for (const node of ipmmus) build(node);
  }

  /**
   * An SMMUv3 (binding arm,smmu-v3): the register frame at `reg`, its wired interrupts by
   * `interrupt-names` (eventq, priq, cmdq-sync, gerror, or one "combined").
   */
  private buildSmmuV3(node: DtNode): void {
    const wires = this.wiresOf(node);
    const names = node.strings('interrupt-names') ?? [];
    const lines: SmmuV3InterruptLines = {};
    const byName: Readonly<Record<string, keyof SmmuV3InterruptLines>> = { eventq: 'eventq', priq: 'priq', 'cmdq-sync': 'cmdqSync', gerror: 'gerror', combined: 'combined' };
    names.forEach((name, i) => {
      const key = byName[name];
      if (key !== undefined && wires[i] !== undefined) lines[key] = wires[i];
    });
    const model = construct(node, () => new SmmuV3({ ...this.options.smmuv3, memory: this.memory, bus: this.bus, interrupts: lines }));
    const r = region(node);
    this.mapRegion(node.path, r.base, r.size, model);
    this.iommus.push({ kind: 'smmuv3', node, model, port: new SmmuV3DmaPort(model) });
  }

  private buildPlatformIommu(node: DtNode): void {
    const iommu = this.newIommu(node, this.wiresOf(node));
    const r = region(node);
    this.mapRegion(node.path, r.base, r.size, iommu.model);
  }

  /**
   * A virtio-mmio transport at `reg` with its interrupt: a virtio-iommu when the node is an
   * IOMMU provider (#iommu-cells), an empty slot otherwise.
   */
  private buildVirtioMmio(node: DtNode, nodes: readonly DtNode[]): void {
    const r = region(node);
    const irq = this.wiresOf(node)[0] ?? new InterruptLine(`${node.path}.irq`);
    if (!node.has('#iommu-cells')) {
      const transport = new VirtioMmioTransport({ name: node.path, model: NO_VIRTIO_DEVICE, port: new DirectDmaPort(this.bus), irq, regionSize: Number(r.size) });
      this.mapRegion(node.path, r.base, r.size, transport);
      this.emptyVirtioSlots.push({ node, transport });
      return;
    }
    const own = new DirectDmaPort(this.bus);
    const { transport } = this.newVirtioIommu(node, nodes, own, (model) => {
      // The register block (0x000-0x0ff) and the device's configuration after it (VIRTIO 1.3 4.2.2).
      if (r.size < 0x100n + BigInt(model.configSize)) throw new DeviceTreeError(`${node.path}: reg is ${hex(r.size)} bytes, too small for the virtio-mmio registers and ${model.configSize} bytes of configuration`, node.property('reg')?.location);
      return new VirtioMmioTransport({ ...this.options.virtioIommu?.transport, name: node.path, model, port: own, irq, regionSize: Number(r.size) });
    });
    this.mapRegion(node.path, r.base, r.size, transport);
  }

  /**
   * A virtio-iommu whose endpoints are the devices the tree sends to `node`, behind the
   * transport `transportFor` builds; the transport's accesses go to `own`.
   */
  private newVirtioIommu<T extends VirtioMmioTransport | VirtioPciFunction>(node: DtNode, nodes: readonly DtNode[], own: DirectDmaPort, transportFor: (model: VirtioIommu) => T): MachineVirtioIommu & { transport: T } {
    // What is left once the machine's own options are taken out is the device's.
    const { endpointRegions = [], transport: _transport, driver: _driver, ...deviceOptions } = this.options.virtioIommu ?? {};
    const endpoints = virtioEndpointIds(this.tree, node, nodes).map((id) => ({ id, reservedRegions: endpointRegions.filter((e) => e.endpoint === id).flatMap((e) => e.regions) }));
    const upstream = new VirtioIommuUpstream(new DirectDmaPort(this.bus));
    const model = new VirtioIommu({ ...deviceOptions, upstream, endpoints });
    const iommu = { kind: 'virtio-iommu' as const, node, model, port: model.dmaPort, transport: transportFor(model), upstream, own };
    this.iommus.push(iommu);
    return iommu;
  }

  /** Every endpoint named in `virtioIommu.endpointRegions` must be one of a virtio-iommu here. */
  private checkEndpointRegions(): void {
    const known = new Set<number>();
    for (const i of this.iommus) if (i.kind === 'virtio-iommu') for (const e of i.model.params.endpoints) known.add(e.id);
    for (const { endpoint } of this.options.virtioIommu?.endpointRegions ?? []) {
      if (known.has(endpoint)) continue;
      const list = [...known].sort((a, b) => a - b).map((id) => hex(id));
      throw new VirtioIommuParameterError(`virtio-iommu parameters: endpoint ${hex(endpoint)} has reserved regions but is no endpoint of a virtio-iommu of this machine (${list.length === 0 ? 'it has none' : `endpoints: ${list.join(', ')}`})`);
    }
  }

  private buildDmaEngine(node: DtNode): void {
    const refs = iommusOf(this.tree, node);
    let port: DmaPort = new DirectDmaPort(this.bus);
    let deviceId: number | null = null;
    if (refs.length > 0) {
      if (refs.some((r) => withoutModel(r.iommu) || r.iommu !== refs[0].iommu)) {
        this.leftOut.add(node);
        return;
      }
      const iommu = this.iommuFor(refs[0].iommu);
      if (iommu === undefined) throw new MachineError(`${node.path}: its IOMMU ${refs[0].iommu.path} is not a model this platform has`);
      port = iommu.port;
      deviceId = refs[0].args[0] ?? 0;
    }
    const wires = this.wiresOf(node);
    const engine = new DmaEngine({ name: node.path, port, deviceId: deviceId ?? 0, irq: wires[0], clock: this.clock, bytesPerCycle: this.options.dmaBytesPerCycle ?? 0, burstBytes: this.options.dmaBurstBytes });
    const r = region(node);
    this.mapRegion(node.path, r.base, r.size, engine);
    this.dmaEngines.push({ node, engine, deviceId });
  }

  private buildPcie(node: DtNode, nodes: readonly DtNode[]): void {
    const busRange = node.u32s('bus-range') ?? [0, 255];
    const segment = node.u32('linux,pci-domain') ?? 0;
    // DMA of functions goes through the IOMMU the host bridge's iommu-map names (requester ids
    // the map leaves out are refused), or straight to the bus without one.
    const map = iommuMapOf(this.tree, node);
    const target = map !== null && map.entries.length > 0 ? map.entries[0].iommu : null;
    if (map !== null && map.entries.some((e) => e.iommu !== target)) throw new MachineError(`${node.path}: an iommu-map naming several IOMMUs is not supported`);
    // A virtio-iommu function among the bridge's own functions: the requester id of its own DMA.
    let ownRid = -1;
    // Every request of a function asks for its id: the map is read and the IOMMU's id format
    // chosen once here, not per request.
    const entries = map?.entries ?? [];
    const mask = map?.mask ?? 0xffffffff;
    const segmentBits = target !== null && idsCarrySegment(target) ? segment << 16 : 0;
    const deviceIdFor = (rid: number): number => {
      if (rid === ownRid) return OWN_REQUESTS + rid;
      // As iommuForRid: the first entry whose [rid-base, rid-base + length) holds the masked rid.
      const masked = (rid & mask) >>> 0;
      for (const e of entries) if (masked >= e.ridBase && masked < e.ridBase + e.length) return (segmentBits | ((e.iommuBase + masked - e.ridBase) >>> 0)) >>> 0;
      return -1;
    };
    const bridge = new PcieHostBridge({ name: node.path, segment, busStart: busRange[0], busEnd: busRange[1], ...(target !== null ? { deviceIdFor } : {}) });
    const ecam = region(node);
    this.mapRegion(`${node.path} (ECAM)`, ecam.base, bridge.ecamSize < ecam.size ? bridge.ecamSize : ecam.size, bridge);
    // Behind an IOMMU without a model, no function is built: the bridge has empty slots.
    const functionsLeftOut = target !== null && withoutModel(target);
    // The virtio-iommu function's own requests, routed around it.
    const own = new DirectDmaPort(this.bus);
    // Functions described as child nodes, placed by the BDF in their reg.
    for (const child of node.children) {
      if (!enabled(child)) continue;
      if (functionsLeftOut) {
        this.leftOut.add(child);
        continue;
      }
      const bdf = bdfOf(child);
      if (bdf === null) continue;
      const { bus, dev, fn } = bdf;
      if (compatibleWith(child, 'riscv,pci-iommu')) {
        const iommu = this.newIommu(child, []);
        bridge.attach(new PciMmioFunction({ name: child.path, ...PCI_RISCV_IOMMU_IDS, registers: iommu.model, size: 0x1000n }), dev, fn, bus);
      } else if (compatibleWith(child, ...VIRTIO_IOMMU_PCI_COMPATIBLE)) {
        const { transport } = this.newVirtioIommu(child, nodes, own, (model) => new VirtioPciFunction({ ...this.options.virtioIommu?.transport, name: child.path, model }));
        bridge.attach(transport, dev, fn, bus);
        if (child === target) ownRid = (bus << 8) | (dev << 3) | fn;
      } else if (isPciDmaEngine(child)) {
        bridge.attach(new PciDmaEngineFunction({ name: child.path, clock: this.clock, bytesPerCycle: this.options.dmaBytesPerCycle ?? 0, burstBytes: this.options.dmaBurstBytes }), dev, fn, bus);
      }
    }
    let upstreamIommu: MachineIommu | null = null;
    if (target !== null && !functionsLeftOut) {
      const iommu = this.iommuFor(target);
      if (iommu === undefined) throw new MachineError(`${node.path}: iommu-map names ${target.path}, which is not a model this platform has`);
      upstreamIommu = iommu;
      bridge.upstream = iommu.port;
      // ATS and PRI messages between the IOMMU and the functions go through the bridge.
      if (iommu.kind === 'smmuv3') {
        bridge.pageRequestSink = iommu.model;
        iommu.model.atcTarget = bridge;
        iommu.model.priTarget = bridge;
      } else if (iommu.kind === 'riscv-iommu') {
        bridge.pageRequestSink = iommu.port;
        iommu.port.connect({ invalidations: bridge, responses: bridge, segment });
      } else if (ownRid >= 0) {
        // virtio-iommu has no ATS or PRI; its own requests bypass it.
        bridge.upstream = new OwnRequestsRouter(iommu.port, own);
      }
    } else {
      bridge.upstream = new DirectDmaPort(this.bus);
    }
    const bars = assignBars(bridge, pciWindowsOf(node), this.bus);
    this.pcie.push({ node, bridge, bars, iommu: upstreamIommu });
  }
}

/** The device model behind an empty virtio-mmio slot: DeviceID 0 ("no device", VIRTIO 1.3 4.2.3.1.1), nothing else. */
const NO_VIRTIO_DEVICE: VirtioDeviceModel = {
  deviceId: 0,
  deviceFeatures: 0n,
  queueMaxSizes: [],
  configSize: 0,
  readConfig: () => 0,
  writeConfig: () => undefined,
  acceptFeatures: () => false,
  start: () => undefined,
  queueNotified: () => undefined,
  reset: () => undefined,
};

/**
 * Where a virtio-iommu sends its endpoints' translated and bypassing accesses: the system bus.
 * `explain` asks the device where one request would land without letting it reach memory:
 * while `dryRun` is set an access is answered Ok at once and its address kept in `lastAddress`.
 */
export class VirtioIommuUpstream implements DmaPort {
  dryRun = false;
  /** The (translated) address of the last access made in a dry run. */
  lastAddress = -1n;

  constructor(readonly bus: DirectDmaPort) {}

  get value(): bigint {
    return this.bus.value;
  }

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    return this.dryRun ? this.record(address) : this.bus.read(requester, address, size);
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    return this.dryRun ? this.record(address) : this.bus.write(requester, address, size, data);
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    return this.dryRun ? this.record(address) : this.bus.readBurst(requester, address, length, into, offset);
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    return this.dryRun ? this.record(address) : this.bus.writeBurst(requester, address, length, from, offset);
  }

  private record(address: bigint): DmaPortStatusValue {
    this.lastAddress = address;
    return DmaPortStatus.Ok;
  }
}

/**
 * The upstream of a host bridge whose IOMMU is one of its own functions (virtio-iommu-pci):
 * requests the bridge marks as the IOMMU's own (device id OWN_REQUESTS + rid: its virtqueues,
 * its MSI-X messages) go straight to the bus, as a device does not translate its own DMA and
 * the iommu-map leaves its requester id out; every other request goes to the IOMMU.
 */
class OwnRequestsRouter implements DmaPort {
  value = 0n;

  constructor(
    private readonly iommu: DmaPort,
    private readonly own: DmaPort,
  ) {}

  private route(requester: DmaRequester): DmaPort {
    return requester.deviceId >= OWN_REQUESTS ? this.own : this.iommu;
  }

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    const port = this.route(requester);
    const s = port.read(requester, address, size);
    this.value = port.value;
    return s;
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    return this.route(requester).write(requester, address, size, data);
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    return this.route(requester).readBurst(requester, address, length, into, offset);
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    return this.route(requester).writeBurst(requester, address, length, from, offset);
  }
}

/**
 * Whether the IOMMU at `iommu` sees a PCI function's id with the segment in bits 23:16 above
 * the iommu-map's output. A virtio-iommu endpoint id is the map's output as is (the driver's
 * fwspec id), and so is an IPMMU micro-TLB number.
 */
function idsCarrySegment(iommu: DtNode): boolean {
  const kind = classifyIommu(iommu);
  return kind !== 'virtio-iommu-mmio' && kind !== 'virtio-iommu-pci' && kind !== 'renesas-ipmmu';
}

/** Bus, device and function from a PCI child node's reg (phys.hi = bus << 16 | dev << 11 | fn << 8), or null. */
function bdfOf(node: DtNode): { bus: number; dev: number; fn: number } | null {
  const reg = node.u32s('reg');
  if (reg === undefined || reg.length < 1) return null;
  return { bus: (reg[0] >>> 16) & 0xff, dev: (reg[0] >>> 11) & 0x1f, fn: (reg[0] >>> 8) & 0x7 };
}

function isPciDmaEngine(node: DtNode): boolean {
  return compatibleWith(node, pciCompatible(PCI_DMA_ENGINE_IDS.vendor, PCI_DMA_ENGINE_IDS.device));
}

/**
 * The endpoint ids of the devices the tree sends to the virtio-iommu at `iommu`: every id of
 * an `iommus` entry naming it (whatever the device, modelled or not: its driver may attach it),
 * and the id iommu-map gives each function described under a host bridge.
 */
function virtioEndpointIds(tree: DeviceTree, iommu: DtNode, nodes: readonly DtNode[]): number[] {
  const ids = new Set<number>();
  for (const n of nodes) {
    for (const ref of iommusOrNone(tree, n)) if (ref.iommu === iommu) ids.add(ref.args[0] ?? 0);
    if (!compatibleWith(n, 'pci-host-ecam-generic')) continue;
    for (const child of n.children) {
      const bdf = bdfOf(child);
      if (!enabled(child) || bdf === null || child === iommu) continue;
      const ref = iommuForRid(tree, n, (bdf.bus << 8) | (bdf.dev << 3) | bdf.fn);
      if (ref?.iommu === iommu) ids.add(ref.args[0]);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

/** The `iommus` references of a node; none when they are malformed (a device the machine does not build may have such). */
function iommusOrNone(tree: DeviceTree, node: DtNode): IommuReference[] {
  try {
    return iommusOf(tree, node);
  } catch (e) {
    if (e instanceof IommuBindingError) return [];
    throw e;
  }
}

/** A model built for `node`; parameters it rejects (RangeError) are the node's MachineError. */
function construct<T>(node: DtNode, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof RangeError) throw new MachineError(`${node.path}: ${e.message}`);
    throw e;
  }
}

function compatibleWith(node: DtNode, ...names: string[]): boolean {
  const c = node.strings('compatible') ?? [];
  return names.some((n) => c.includes(n));
}

/** The "pciVVVV,DDDD" compatible of a PCI function (lower-case hex, no leading zeros). */
export function pciCompatible(vendor: number, device: number): string {
  return `pci${vendor.toString(16)},${device.toString(16)}`;
}

/**
 * Nodes that describe structure rather than a device on the bus: the root, buses, processors
 * and what is part of a processor (a RISC-V hart's interrupt controller; Arm's architected
 * timer and PMU, whose interrupts are PPIs), the firmware's PSCI interface, fixed clocks.
 */
function isStructural(node: DtNode): boolean {
  const c = node.strings('compatible') ?? [];
  return node.parent === null || node.string('device_type') === 'cpu' || c.some((s) => STRUCTURAL_COMPATIBLE.test(s));
}

const STRUCTURAL_COMPATIBLE = /^(simple-bus|riscv|riscv,cpu-intc|arm,psci(-[0-9.]+)?|arm,armv[78]-timer|arm,armv8-pmuv3|arm,cortex-a[0-9]+-pmu|fixed-clock|fixed-factor-clock)$/;

/** An IOMMU of an architecture this project knows (see bindings/kinds.ts) that the machine has no model of. */
function withoutModel(iommu: DtNode): boolean {
  const kind = classifyIommu(iommu);
  if (kind === null || kind === 'generic' || !enabled(iommu)) return false;
  // An IPMMU is modelled only in the generations whose register layout is known (not Gen2).
  return kind === 'renesas-ipmmu' ? !isModelledIpmmu(iommu) : !MODELLED_IOMMUS.has(kind);
}

/** An enabled IPMMU-VMSA node whose compatible names a register layout the model has. */
function isModelledIpmmu(node: DtNode): boolean {
  return enabled(node) && classifyIommu(node) === 'renesas-ipmmu' && ipmmuLayoutFor(node.strings('compatible') ?? []) !== null;
}

/**
 * The processor: the first enabled cpu node. RISC-V when its compatible says "riscv" (the
 * RISC-V cpu binding requires it); Arm when it names an Arm core, or when the tree has a GIC
 * (other vendors' Arm cores, or no cpu node at all); RISC-V otherwise.
 */
function processorOf(tree: DeviceTree, hasGic: boolean): { architecture: CpuArchitecture; affinity: number } {
  const cpu = tree.find('/cpus')?.children.find((n) => n.string('device_type') === 'cpu' && enabled(n));
  const compatible = cpu?.strings('compatible') ?? [];
  const arm = !compatible.includes('riscv') && (hasGic || compatible.some((c) => c.startsWith('arm,')));
  if (!arm) return { architecture: 'riscv', affinity: 0 };
  // An Arm cpu's reg holds MPIDR_EL1's affinity: Aff2..Aff0 in the last cell, Aff3 in the one before.
  const reg = cpu?.u32s('reg') ?? [0];
  const low = reg[reg.length - 1] & 0xff_ffff;
  const aff3 = reg.length > 1 ? reg[reg.length - 2] & 0xff : 0;
  return { architecture: 'arm', affinity: ((aff3 << 24) | low) >>> 0 };
}

/** The interrupt parent of `node`: `interrupt-parent`, else the tree parent, until a node with #interrupt-cells (Devicetree Specification 2.4). */
function interruptParentOf(tree: DeviceTree, node: DtNode): DtNode | null {
  let current = node;
  for (let depth = 0; depth < 64; depth++) {
    const phandle = current.u32('interrupt-parent');
    const next = phandle === undefined ? current.parent : tree.byPhandle(phandle);
    if (next === undefined) throw new DeviceTreeError(`${current.path}: interrupt-parent refers to phandle ${phandle}, which no node has`, current.property('interrupt-parent')?.location);
    if (next === null) return null;
    if (next.has('#interrupt-cells')) return next;
    current = next;
  }
  return null;
}

