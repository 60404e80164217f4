// A hand-built R-Car Gen3-like machine for the hypervisor tests: RAM, the system bus, a clock,
// one Arm CPU with a GICv2, a root IPMMU-MM and three cache IPMMUs on the MMIO bus (the root's
// fault interrupt on SPI 196; optionally a second root with a cache IPMMU), and iommu-lab DMA engines whose upstream port is a cache IPMMU's
// (their requester id is their micro-TLB); a device tree describing them (compiled to the DTB
// the hypervisor boots from, with the R-Car IPMMU bindings: renesas,ipmmu-r8a7795,
// #iommu-cells = <1>, renesas,ipmmu-main, masters' iommus = <&ipmmu_xx N>, and xen,passthrough
// on the devices kept for guests); and the Xen-style hypervisor booted from it. Tests may look at
// both sides. (The real platform builder lives in src/platform; this harness stays small.)

import { DmaEngine, DmaEngineReg, DMA_ENGINE_COMPATIBLE, Control, Operation } from '../../src/devices/dma-engine/index.js';
import { GicV2 } from '../../src/devices/gic/index.js';
import { writeDtb } from '../../src/formats/dtb/index.js';
import type { DeviceTree } from '../../src/formats/devicetree/tree.js';
import { IpmmuVmsa, type IpmmuVmsaOptions } from '../../src/hw/ipmmu-vmsa/index.js';
import { Xen, type XenDomain, type XenOptions } from '../../src/hyp/xen/index.js';
import { parseDts } from '../../src/platform/dts/index.js';
import { Clock } from '../../src/sim/clock.js';
import { Hart } from '../../src/sim/hart.js';
import { MmioBus } from '../../src/sim/mmio.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';

export const RAM_BASE = 0x4800_0000n;
export const RAM_SIZE = 0x1000_0000n; // 256 MiB
export const GICD_BASE = 0xf101_0000n;
export const GICC_BASE = 0xf102_0000n;
/** The root IPMMU's fault interrupt: SPI 196, level-high (as on H3). */
export const IPMMU_MM_SPI = 196;

export interface IpmmuSpec {
  label: string;
  base: bigint;
  /** A cache IPMMU's root (label) and its index there (renesas,ipmmu-main); a root has neither. */
  root?: string;
  mainIndex?: number;
  /** A root's fault interrupt (SPI). */
  spi?: number;
}

export interface EngineSpec {
  label: string;
  base: bigint;
  /** The cache IPMMU (label) in front of it, and its micro-TLB there. */
  ipmmu: string;
  utlb: number;
  /** Kept for guests (xen,passthrough) rather than given to dom0. */
  passthrough: boolean;
}

export const IPMMUS: readonly IpmmuSpec[] = [
  { label: 'ipmmu_mm', base: 0xe67b_0000n, spi: IPMMU_MM_SPI },
  { label: 'ipmmu_ds0', base: 0xe674_0000n, root: 'ipmmu_mm', mainIndex: 0 },
  { label: 'ipmmu_ds1', base: 0xe774_0000n, root: 'ipmmu_mm', mainIndex: 1 },
  { label: 'ipmmu_hc', base: 0xe657_0000n, root: 'ipmmu_mm', mainIndex: 2 },
];

/** A second IPMMU tree (option `secondRoot`): its own root, a cache IPMMU and one master. */
export const SECOND_ROOT_IPMMUS: readonly IpmmuSpec[] = [
  { label: 'ipmmu_mm2', base: 0xe68b_0000n, spi: IPMMU_MM_SPI + 2 },
  { label: 'ipmmu_vi0', base: 0xfebd_0000n, root: 'ipmmu_mm2', mainIndex: 0 },
];
export const SECOND_ROOT_ENGINES: readonly EngineSpec[] = [{ label: 'dmac5', base: 0xe672_0000n, ipmmu: 'ipmmu_vi0', utlb: 3, passthrough: true }];

export const ENGINES: readonly EngineSpec[] = [
  { label: 'dmac0', base: 0xe670_0000n, ipmmu: 'ipmmu_ds0', utlb: 0, passthrough: false },
  { label: 'dmac1', base: 0xe730_0000n, ipmmu: 'ipmmu_ds1', utlb: 0, passthrough: true },
  { label: 'dmac2', base: 0xe731_0000n, ipmmu: 'ipmmu_ds1', utlb: 1, passthrough: true },
  { label: 'dmac3', base: 0xe671_0000n, ipmmu: 'ipmmu_ds0', utlb: 2, passthrough: true },
  { label: 'dmac4', base: 0xee00_0000n, ipmmu: 'ipmmu_hc', utlb: 0, passthrough: true },
];

export interface XenMachineOptions {
  /** Order of the nodes in the device tree, which is the probe order (default root, caches, masters). */
  order?: 'root-first' | 'caches-first' | 'masters-first';
  /** Parameters of every IPMMU model. */
  ipmmu?: IpmmuVmsaOptions;
  /** Hypervisor options (quarantine, dom0 memory, ...). */
  xen?: XenOptions;
  /** Boot the hypervisor (default true). */
  boot?: boolean;
  /** Leave the interrupt of the root IPMMU out of the device tree. */
  noIpmmuInterrupt?: boolean;
  /** Add a second IPMMU tree (SECOND_ROOT_IPMMUS, SECOND_ROOT_ENGINES). */
  secondRoot?: boolean;
}

function ipmmuSpecs(o: Pick<XenMachineOptions, 'secondRoot'>): readonly IpmmuSpec[] {
  return o.secondRoot === true ? [...IPMMUS, ...SECOND_ROOT_IPMMUS] : IPMMUS;
}

function engineSpecs(o: Pick<XenMachineOptions, 'secondRoot'>): readonly EngineSpec[] {
  return o.secondRoot === true ? [...ENGINES, ...SECOND_ROOT_ENGINES] : ENGINES;
}

function hexCell(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** A device-tree node name's unit address for a base. */
function unit(base: bigint): string {
  return base.toString(16);
}

/** The path of the node of an IPMMU or DMA engine label. */
export function nodePath(label: string): string {
  const ipmmu = ipmmuSpecs({ secondRoot: true }).find((i) => i.label === label);
  if (ipmmu !== undefined) return `/soc/iommu@${unit(ipmmu.base)}`;
  const engine = engineSpecs({ secondRoot: true }).find((e) => e.label === label);
  if (engine !== undefined) return `/soc/dma@${unit(engine.base)}`;
  throw new Error(`no node labelled ${label}`);
}

/** The board's device tree (DTS text): an R-Car Gen3-like SoC with several IPMMUs and DMA masters. */
export function xenMachineDts(options: Pick<XenMachineOptions, 'order' | 'noIpmmuInterrupt' | 'secondRoot'> = {}): string {
  const ipmmuNode = (i: IpmmuSpec) => `${i.label}: iommu@${unit(i.base)} {
			compatible = "renesas,ipmmu-r8a7795";
			reg = <0x0 ${hexCell(i.base)} 0x0 0x1000>;
			${i.root === undefined ? (options.noIpmmuInterrupt === true ? '' : `interrupts = <0 ${i.spi} 4>, <0 ${(i.spi ?? 0) + 1} 4>;`) : `renesas,ipmmu-main = <&${i.root} ${i.mainIndex}>;`}
			#iommu-cells = <1>;
		};`;
  const engineNode = (e: EngineSpec) => `${e.label}: dma@${unit(e.base)} {
			compatible = "${DMA_ENGINE_COMPATIBLE}";
			reg = <0x0 ${hexCell(e.base)} 0x0 0x1000>;
			iommus = <&${e.ipmmu} ${e.utlb}>;
			${e.passthrough ? 'xen,passthrough;' : ''}
		};`;
  const specs = ipmmuSpecs(options);
  const roots = specs.filter((i) => i.root === undefined).map(ipmmuNode);
  const caches = specs.filter((i) => i.root !== undefined).map(ipmmuNode);
  const masters = engineSpecs(options).map(engineNode);
  const order = options.order ?? 'root-first';
  const nodes = order === 'root-first' ? [...roots, ...caches, ...masters] : order === 'caches-first' ? [...caches, ...roots, ...masters] : [...masters, ...caches, ...roots];
  return `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "iommu-lab,rcar-xen", "renesas,r8a7795";
	model = "iommu-lab R-Car Gen3-like board";
	interrupt-parent = <&gic>;

	cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 {
			device_type = "cpu";
			compatible = "arm,cortex-a57";
			reg = <0x0>;
		};
	};

	memory@${unit(RAM_BASE)} {
		device_type = "memory";
		reg = <0x0 ${hexCell(RAM_BASE)} 0x0 ${hexCell(RAM_SIZE)}>;
	};

	soc {
		compatible = "simple-bus";
		#address-cells = <2>;
		#size-cells = <2>;
		ranges;

		gic: interrupt-controller@${unit(GICD_BASE)} {
			compatible = "arm,gic-400";
			#interrupt-cells = <3>;
			#address-cells = <0>;
			interrupt-controller;
			reg = <0x0 ${hexCell(GICD_BASE)} 0x0 0x1000>, <0x0 ${hexCell(GICC_BASE)} 0x0 0x2000>;
		};

		${nodes.join('\n\n\t\t')}
	};
};
`;
}

/** The board's device tree with the default order: what the lead turns into a built-in platform. */
export const RCAR_XEN_DTS = xenMachineDts();

export class XenMachine {
  readonly memory = new PhysicalMemory();
  readonly bus: SystemBus;
  readonly clock = new Clock();
  readonly hart = new Hart(0, null, { architecture: 'arm' });
  readonly gic = new GicV2({ spis: 256 });
  /** The IPMMU models, by label. */
  readonly ipmmus = new Map<string, IpmmuVmsa>();
  /** The DMA engines, by label. */
  readonly engines = new Map<string, DmaEngine>();
  readonly tree: DeviceTree;
  readonly dtb: Uint8Array;
  readonly xen: Xen;

  constructor(readonly options: XenMachineOptions = {}) {
    this.bus = new SystemBus(this.memory, new MmioBus());
    this.bus.mmio.map('gicd', GICD_BASE, 0x1000n, this.gic.distributor(0));
    this.bus.mmio.map('gicc', GICC_BASE, 0x2000n, this.gic.cpuInterface(0));
    this.gic.irq(0).onChange((level) => this.hart.externalInterrupt.set(level));
    for (const spec of ipmmuSpecs(options)) {
      const common = { ...options.ipmmu, name: spec.label, memory: this.memory, bus: this.bus };
      const model = spec.root === undefined ? new IpmmuVmsa({ ...common, irq: this.gic.input(32 + (spec.spi ?? 0)) }) : new IpmmuVmsa({ ...common, root: this.ipmmu(spec.root) });
      this.ipmmus.set(spec.label, model);
      this.bus.mmio.map(spec.label, spec.base, 0x1000n, model);
    }
    for (const e of engineSpecs(options)) {
      const engine = new DmaEngine({ name: e.label, port: this.ipmmu(e.ipmmu).port, deviceId: e.utlb, burstBytes: 256 });
      this.engines.set(e.label, engine);
      this.bus.mmio.map(e.label, e.base, 0x1000n, engine);
    }
    this.tree = parseDts(xenMachineDts(options), { file: 'xen-machine.dts' });
    this.dtb = writeDtb(this.tree);
    this.xen = new Xen({ dtb: this.dtb, memory: this.memory, bus: this.bus, clock: this.clock, hart: this.hart }, options.xen);
    if (options.boot !== false) this.xen.boot();
  }

  ipmmu(label: string): IpmmuVmsa {
    const m = this.ipmmus.get(label);
    if (m === undefined) throw new Error(`no IPMMU ${label}`);
    return m;
  }

  engine(label: string): DmaEngine {
    const e = this.engines.get(label);
    if (e === undefined) throw new Error(`no DMA engine ${label}`);
    return e;
  }

  /** The root IPMMU-MM. */
  get root(): IpmmuVmsa {
    return this.ipmmu('ipmmu_mm');
  }

  /**
   * A copy by DMA engine `label`, programmed by `domain`'s CPU through its P2M (the engine's
   * registers are mapped 1:1 where it is assigned), with guest-physical addresses; the engine's
   * STATUS after the transfer. With `domain` null the registers are written over the bus
   * directly (a test bench poking a device nobody owns).
   */
  copy(domain: XenDomain | null, label: string, src: bigint, dst: bigint, length: number): number {
    return this.run(domain, label, Operation.Copy, src, dst, length, 0n);
  }

  /** A fill of `length` bytes at `dst` with the 64-bit `pattern`. */
  fill(domain: XenDomain | null, label: string, dst: bigint, length: number, pattern: bigint): number {
    return this.run(domain, label, Operation.Fill, 0n, dst, length, pattern);
  }

  /** Takes pending interrupts in the hypervisor. */
  poll(): number {
    return this.xen.poll();
  }

  logText(): string {
    return this.xen.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
  }

  /** Log messages (source: text) matching `pattern`. */
  logMatching(pattern: RegExp): string[] {
    return this.xen.log.records.map((r) => `${r.source}: ${r.message}`).filter((m) => pattern.test(m));
  }

  private run(domain: XenDomain | null, label: string, op: number, src: bigint, dst: bigint, length: number, pattern: bigint): number {
    const spec = engineSpecs(this.options).find((e) => e.label === label);
    if (spec === undefined) throw new Error(`no DMA engine ${label}`);
    const write = (reg: number, size: 4 | 8, value: bigint) => {
      if (domain === null) this.bus.access(spec.base + BigInt(reg), size, true, value);
      else domain.memory.store(spec.base + BigInt(reg), size, value);
    };
    write(DmaEngineReg.SOURCE, 8, src);
    write(DmaEngineReg.DESTINATION, 8, dst);
    write(DmaEngineReg.LENGTH, 4, BigInt(length));
    write(DmaEngineReg.FILL, 8, pattern);
    write(DmaEngineReg.CONTROL, 4, BigInt(Control.START | (op << Control.OP_SHIFT)));
    return domain === null ? Number(this.bus.access(spec.base + BigInt(DmaEngineReg.STATUS), 4, false).value) : Number(domain.memory.load(spec.base + BigInt(DmaEngineReg.STATUS), 4));
  }
}
