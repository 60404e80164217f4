// A machine built from a device tree: the platform reads the tree, instantiates the hardware
// models it describes (interrupt controllers, IOMMUs, DMA masters, PCIe), maps them on the
// bus, wires their interrupts and DMA ports, plays firmware (PCI BAR assignment, the DTB),
// and boots the kernel with the drivers the platform ships. It is the only code that sees
// both the hardware models and the software.

import { DirectDmaPort, type DmaPort } from '../../devices/dma-port.js';
import { DmaEngine } from '../../devices/dma-engine/index.js';
import { Plic, PLIC_REGION_SIZE } from '../../devices/plic.js';
import { assignBars, PCI_RISCV_IOMMU_IDS, PciDmaEngineFunction, PcieHostBridge, PciMmioFunction, pciWindowsOf, PCI_DMA_ENGINE_IDS, type BarAssignment } from '../../devices/pcie/index.js';
import { phandleSpecifiers, type PhandleSpecifier } from '../../formats/devicetree/specifiers.js';
import { DeviceTreeError, type DeviceTree, type DtNode } from '../../formats/devicetree/tree.js';
import { writeDtb } from '../../formats/dtb/index.js';
import { RiscvIommu, RiscvIommuDmaPort, type RiscvIommuOptions } from '../../hw/riscv-iommu/index.js';
import { iommuForRid, iommuMapOf, iommusOf } from '../../os/core/of-iommu.js';
import type { Driver } from '../../os/driver-model/device.js';
import { dmaEngineDriver } from '../../os/drivers/dma-engine/index.js';
import { imsicDriver } from '../../os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../os/drivers/irqchip/plic.js';
import { pciHostEcamDriver } from '../../os/drivers/pci/index.js';
import { riscvIommuPciDriver, riscvIommuPlatformDriver } from '../../os/drivers/riscv-iommu/index.js';
import { enabled, Kernel, type KernelOptions } from '../../os/kernel/kernel.js';
import { region } from '../../os/of/address.js';
import { Clock } from '../../sim/clock.js';
import { Hart } from '../../sim/hart.js';
import { InterruptLine, MsiController } from '../../sim/irq.js';
import { MmioBus } from '../../sim/mmio.js';
import { PhysicalMemory } from '../../sim/physical-memory.js';
import { SystemBus } from '../../sim/system-bus.js';

export class MachineError extends Error {}

export interface MachineOptions {
  /** Parameters of every RISC-V IOMMU model (capabilities, cache sizes, ...). */
  riscvIommu?: RiscvIommuOptions;
  /** Throughput of DMA engines in bytes per cycle (0: a transfer completes when started). */
  dmaBytesPerCycle?: number;
  /** Largest bus transaction of DMA engines in bytes (a power of two, 8..4096; default 64). */
  dmaBurstBytes?: number;
  /** Kernel options (IOMMU default-domain policy, DMA flush queue). */
  kernel?: Omit<KernelOptions, 'drivers'>;
}

/** The drivers a machine's kernel gets. */
export const PLATFORM_DRIVERS: readonly Driver[] = [plicDriver, imsicDriver, riscvIommuPlatformDriver, riscvIommuPciDriver, pciHostEcamDriver, dmaEngineDriver];

export interface MachineIommu {
  node: DtNode;
  model: RiscvIommu;
  port: DmaPort;
}

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
}

export class Machine {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory, new MmioBus());
  readonly clock = new Clock();
  readonly hart: Hart;
  readonly plic: Plic | null = null;
  readonly interruptFile: MsiController | null = null;
  readonly iommus: MachineIommu[] = [];
  readonly dmaEngines: MachineDmaEngine[] = [];
  readonly pcie: MachinePcie[] = [];
  /** Nodes with a compatible string that no model here implements (they are simply absent). */
  readonly unmodelled: DtNode[] = [];
  readonly dtb: Uint8Array;
  private bootedKernel: Kernel | null = null;

  constructor(
    readonly tree: DeviceTree,
    readonly options: MachineOptions = {},
  ) {
    const nodes = [...tree.root.walk()].filter((n) => n.has('compatible') && enabled(n));
    // The hart's supervisor-level interrupt file (the one on the S-mode external interrupt, 9).
    const imsicNode = nodes.find((n) => compatibleWith(n, 'riscv,imsics') && (this.interruptsExtended(n)?.some((s) => s.args[0] === 9) ?? true));
    if (imsicNode !== undefined) {
      const r = region(imsicNode);
      this.interruptFile = new MsiController(imsicNode.path, r.base, imsicNode.u32('riscv,num-ids') ?? 255);
      this.bus.mmio.map(imsicNode.path, r.base, r.size, this.interruptFile);
    }
    this.hart = new Hart(0, this.interruptFile);
    const plicNode = nodes.find((n) => compatibleWith(n, 'riscv,plic0', 'sifive,plic-1.0.0'));
    if (plicNode !== undefined) this.plic = this.buildPlic(plicNode);

    for (const node of nodes) {
      if (compatibleWith(node, 'riscv,iommu')) this.buildPlatformIommu(node);
    }
    for (const node of nodes) {
      if (compatibleWith(node, 'pci-host-ecam-generic')) this.buildPcie(node);
    }
    for (const node of nodes) {
      if (compatibleWith(node, 'iommu-lab,dma-engine')) this.buildDmaEngine(node);
    }
    const modelled = new Set<DtNode>([...(imsicNode ? [imsicNode] : []), ...(plicNode ? [plicNode] : []), ...this.iommus.map((i) => i.node), ...this.dmaEngines.map((e) => e.node), ...this.pcie.map((p) => p.node)]);
    for (const p of this.pcie) for (const child of p.node.children) modelled.add(child);
    for (const n of nodes) if (!modelled.has(n) && !isStructural(n)) this.unmodelled.push(n);
    this.dtb = writeDtb(tree);
  }

  /** Boots the kernel (once) from the machine's DTB with the platform's drivers. */
  boot(): Kernel {
    if (this.bootedKernel !== null) return this.bootedKernel;
    const kernel = new Kernel(
      { dtb: this.dtb, memory: this.memory, bus: this.bus, clock: this.clock, hart: this.hart },
      { ...this.options.kernel, drivers: PLATFORM_DRIVERS },
    );
    kernel.boot();
    this.bootedKernel = kernel;
    return kernel;
  }

  get kernel(): Kernel {
    if (this.bootedKernel === null) throw new MachineError('the machine has not booted');
    return this.bootedKernel;
  }

  /** The IOMMU model built for `node`. */
  iommuFor(node: DtNode): MachineIommu | undefined {
    return this.iommus.find((i) => i.node === node);
  }

  // ---- builders ------------------------------------------------------------------------

  private buildPlic(node: DtNode): Plic {
    const sources = node.u32('riscv,ndev');
    if (sources === undefined) throw new DeviceTreeError(`${node.path}: a PLIC needs riscv,ndev`, node.location);
    // One context per interrupts-extended entry; the one on the supervisor external interrupt
    // (9) drives the hart's pin.
    const ext = this.interruptsExtended(node) ?? [];
    const plic = new Plic(node.path, sources, Math.max(1, ext.length));
    this.bus.mmio.map(node.path, region(node).base, PLIC_REGION_SIZE, plic);
    ext.forEach((s, c) => {
      if (s.args[0] === 9) plic.contexts[c].onChange((level) => this.hart.externalInterrupt.set(level));
    });
    return plic;
  }

  private interruptsExtended(node: DtNode): PhandleSpecifier[] | undefined {
    return phandleSpecifiers(this.tree, node, 'interrupts-extended', '#interrupt-cells', (m) => new DeviceTreeError(m, node.property('interrupts-extended')?.location));
  }

  /** The PLIC source lines of `node`'s `interrupts` (wired to the platform's PLIC). */
  private wiresOf(node: DtNode): InterruptLine[] {
    const plic = this.plic;
    const cells = node.u32s('interrupts');
    if (plic === null || cells === undefined) return [];
    return cells.map((src) => {
      const line = plic.sources[src];
      if (line === undefined) throw new DeviceTreeError(`${node.path}: interrupt ${src} is beyond the PLIC's ${plic.sourceCount} sources`, node.property('interrupts')?.location);
      return line;
    });
  }

  private newIommu(node: DtNode, wires: InterruptLine[]): MachineIommu {
    // Wired outputs by vector: the node's interrupts first, unconnected lines for the rest.
    const vectors = 1 << (this.options.riscvIommu?.interruptVectorBits ?? 4);
    const outputs = Array.from({ length: vectors }, (_, v) => wires[v] ?? new InterruptLine(`${node.path}.wsi${v}`));
    const model = new RiscvIommu({ ...this.options.riscvIommu, memory: this.memory, bus: this.bus, clock: this.clock, wires: outputs });
    const iommu = { node, model, port: new RiscvIommuDmaPort(model) };
    this.iommus.push(iommu);
    return iommu;
  }

  private buildPlatformIommu(node: DtNode): void {
    const iommu = this.newIommu(node, this.wiresOf(node));
    const r = region(node);
    this.bus.mmio.map(node.path, r.base, r.size, iommu.model);
  }

  private buildDmaEngine(node: DtNode): void {
    const refs = iommusOf(this.tree, node);
    let port: DmaPort = new DirectDmaPort(this.bus);
    let deviceId: number | null = null;
    if (refs.length > 0) {
      const iommu = this.iommuFor(refs[0].iommu);
      if (iommu === undefined) throw new MachineError(`${node.path}: its IOMMU ${refs[0].iommu.path} is not a model this platform has`);
      port = iommu.port;
      deviceId = refs[0].args[0] ?? 0;
    }
    const wires = this.wiresOf(node);
    const engine = new DmaEngine({ name: node.path, port, deviceId: deviceId ?? 0, irq: wires[0], clock: this.clock, bytesPerCycle: this.options.dmaBytesPerCycle ?? 0, burstBytes: this.options.dmaBurstBytes });
    const r = region(node);
    this.bus.mmio.map(node.path, r.base, r.size, engine);
    this.dmaEngines.push({ node, engine, deviceId });
  }

  private buildPcie(node: DtNode): void {
    const busRange = node.u32s('bus-range') ?? [0, 255];
    const segment = node.u32('linux,pci-domain') ?? 0;
    // DMA of functions goes through the IOMMU the host bridge's iommu-map names (requester ids
    // the map leaves out are refused), or straight to the bus without one.
    const map = iommuMapOf(this.tree, node);
    const target = map !== null && map.entries.length > 0 ? map.entries[0].iommu : null;
    if (map !== null && map.entries.some((e) => e.iommu !== target)) throw new MachineError(`${node.path}: an iommu-map naming several IOMMUs is not supported`);
    const deviceIdFor = (rid: number): number => {
      const ref = iommuForRid(this.tree, node, rid);
      return ref === null || ref.iommu !== target ? -1 : ((segment << 16) | ref.args[0]) >>> 0;
    };
    const bridge = new PcieHostBridge({ name: node.path, segment, busStart: busRange[0], busEnd: busRange[1], ...(target !== null ? { deviceIdFor } : {}) });
    const ecam = region(node);
    this.bus.mmio.map(`${node.path} (ECAM)`, ecam.base, bridge.ecamSize < ecam.size ? bridge.ecamSize : ecam.size, bridge);
    // Functions described as child nodes, placed by the BDF in their reg.
    for (const child of node.children) {
      if (!enabled(child)) continue;
      const reg = child.u32s('reg');
      if (reg === undefined || reg.length < 1) continue;
      const bus = (reg[0] >>> 16) & 0xff;
      const dev = (reg[0] >>> 11) & 0x1f;
      const fn = (reg[0] >>> 8) & 0x7;
      if (compatibleWith(child, 'riscv,pci-iommu')) {
        const iommu = this.newIommu(child, []);
        bridge.attach(new PciMmioFunction({ name: child.path, ...PCI_RISCV_IOMMU_IDS, registers: iommu.model, size: 0x1000n }), dev, fn, bus);
      } else if (compatibleWith(child, pciCompatible(PCI_DMA_ENGINE_IDS.vendor, PCI_DMA_ENGINE_IDS.device))) {
        bridge.attach(new PciDmaEngineFunction({ name: child.path, clock: this.clock, bytesPerCycle: this.options.dmaBytesPerCycle ?? 0, burstBytes: this.options.dmaBurstBytes }), dev, fn, bus);
      }
    }
    if (target !== null) {
      const iommu = this.iommuFor(target);
      if (iommu === undefined) throw new MachineError(`${node.path}: iommu-map names ${target.path}, which is not a model this platform has`);
      bridge.upstream = iommu.port;
    } else {
      bridge.upstream = new DirectDmaPort(this.bus);
    }
    const bars = assignBars(bridge, pciWindowsOf(node), this.bus);
    this.pcie.push({ node, bridge, bars });
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

/** Nodes that describe structure rather than a device (buses, the root, cpus). */
function isStructural(node: DtNode): boolean {
  const c = node.strings('compatible') ?? [];
  return node.parent === null || c.some((s) => s === 'simple-bus' || s === 'riscv' || s === 'riscv,cpu-intc') || node.string('device_type') === 'cpu';
}

