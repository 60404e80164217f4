// A hand-built R-Car Gen3-like machine for the hypervisor tests: RAM, the system bus, a clock,
// one Arm CPU with a GICv2, a root IPMMU-MM and three cache IPMMUs on the MMIO bus (the root's
// fault interrupt on SPI 196; optionally a second root with a cache IPMMU), and iommu-lab DMA
// engines whose upstream port is a cache IPMMU's (their requester id is their micro-TLB). The
// board is the built-in platform rcar-gen3-xen (src/platform/builtin/rcar-gen3-xen.dts, with
// the R-Car IPMMU bindings: renesas,ipmmu-r8a7795, #iommu-cells = <1>, renesas,ipmmu-main,
// masters' iommus = <&ipmmu_xx N>, xen,passthrough on the devices kept for guests): the tables
// below are read from it, and variants (probe order, no root interrupt, a second IPMMU tree)
// are made by editing its tree. The DTB the hypervisor boots from is written from that tree.
// Tests may look at both sides. (The real platform builder lives in src/platform; this harness
// stays small and wires the models by hand.)

import { DmaEngine, DmaEngineReg, DMA_ENGINE_COMPATIBLE, Control, Operation } from '../../src/devices/dma-engine/index.js';
import { GicV2 } from '../../src/devices/gic/index.js';
import { writeDtb } from '../../src/formats/dtb/index.js';
import type { DeviceTree, DtNode } from '../../src/formats/devicetree/tree.js';
import { IPMMU_MAIN_PROPERTY } from '../../src/formats/ipmmu-vmsa/index.js';
import { IpmmuVmsa, type IpmmuVmsaOptions } from '../../src/hw/ipmmu-vmsa/index.js';
import { Xen, type XenDomain, type XenOptions } from '../../src/hyp/xen/index.js';
import { regions } from '../../src/os/of/address.js';
import { loadBuiltinPlatform } from '../../src/platform/builtin/index.js';
import { parseDts } from '../../src/platform/dts/index.js';
import { Clock } from '../../src/sim/clock.js';
import { Hart } from '../../src/sim/hart.js';
import { MmioBus } from '../../src/sim/mmio.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';
import { logMatching, logText } from './test-machine.js';

/** The built-in board's DTS text. */
const BOARD = loadBuiltinPlatform('rcar-gen3-xen');

/** A second IPMMU tree (option `secondRoot`): its own root, a cache IPMMU and one master, merged into /soc. */
const SECOND_ROOT_DTS = `
/ {
	soc {
		ipmmu_mm2: iommu@e68b0000 {
			compatible = "renesas,ipmmu-r8a7795";
			reg = <0x0 0xe68b0000 0x0 0x1000>;
			interrupts = <0 198 4>, <0 199 4>;
			#iommu-cells = <1>;
		};

		ipmmu_vi0: iommu@febd0000 {
			compatible = "renesas,ipmmu-r8a7795";
			reg = <0x0 0xfebd0000 0x0 0x1000>;
			renesas,ipmmu-main = <&ipmmu_mm2 0>;
			#iommu-cells = <1>;
		};

		dmac5: dma@e6720000 {
			compatible = "${DMA_ENGINE_COMPATIBLE}";
			reg = <0x0 0xe6720000 0x0 0x1000>;
			iommus = <&ipmmu_vi0 3>;
			xen,passthrough;
		};
	};
};
`;

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

function isIpmmu(node: DtNode): boolean {
  return (node.strings('compatible') ?? []).some((c) => c.startsWith('renesas,ipmmu-'));
}

function labelOf(node: DtNode): string {
  const label = node.labels[0];
  if (label === undefined) throw new Error(`${node.path} has no label`);
  return label;
}

/** The IPMMUs and DMA engines of a board tree, in tree order. */
function specsOf(tree: DeviceTree): { ipmmus: IpmmuSpec[]; engines: EngineSpec[] } {
  const soc = tree.find('/soc');
  if (soc === undefined) throw new Error('the board has no /soc');
  const ipmmus: IpmmuSpec[] = [];
  const engines: EngineSpec[] = [];
  for (const node of soc.children) {
    const base = regions(node)[0]?.base ?? 0n;
    if (isIpmmu(node)) {
      const main = node.u32s(IPMMU_MAIN_PROPERTY);
      const root = main === undefined ? undefined : tree.byPhandle(main[0]);
      ipmmus.push(root === undefined ? { label: labelOf(node), base, spi: node.u32s('interrupts')?.[1] } : { label: labelOf(node), base, root: labelOf(root), mainIndex: main?.[1] });
    } else if ((node.strings('compatible') ?? []).includes(DMA_ENGINE_COMPATIBLE)) {
      const [phandle, utlb] = node.u32s('iommus') ?? [];
      const ipmmu = tree.byPhandle(phandle);
      if (ipmmu === undefined) throw new Error(`${node.path}: iommus names no node`);
      engines.push({ label: labelOf(node), base, ipmmu: labelOf(ipmmu), utlb, passthrough: node.has('xen,passthrough') });
    }
  }
  return { ipmmus, engines };
}

const BOARD_SPECS = specsOf(BOARD.tree);
const EXTENDED_TREE = parseDts(`${BOARD.source}\n${SECOND_ROOT_DTS}`, { file: 'rcar-gen3-xen+second-root.dts' });
const EXTENDED_SPECS = specsOf(EXTENDED_TREE);

const memoryReg = regions(BOARD.tree.find('/memory@48000000')!)[0];
const gicReg = regions(BOARD.tree.find('/soc/interrupt-controller@f1010000')!);

export const RAM_BASE = memoryReg.base;
export const RAM_SIZE = memoryReg.size;
export const GICD_BASE = gicReg[0].base;
export const GICC_BASE = gicReg[1].base;

export const IPMMUS: readonly IpmmuSpec[] = BOARD_SPECS.ipmmus;
export const ENGINES: readonly EngineSpec[] = BOARD_SPECS.engines;
/** The root IPMMU's fault interrupt: SPI 196, level-high (as on H3). */
export const IPMMU_MM_SPI = IPMMUS.find((i) => i.root === undefined)?.spi ?? -1;

/** The second IPMMU tree (option `secondRoot`). */
export const SECOND_ROOT_IPMMUS: readonly IpmmuSpec[] = EXTENDED_SPECS.ipmmus.filter((i) => !IPMMUS.some((b) => b.label === i.label));
export const SECOND_ROOT_ENGINES: readonly EngineSpec[] = EXTENDED_SPECS.engines.filter((e) => !ENGINES.some((b) => b.label === e.label));

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
  return o.secondRoot === true ? EXTENDED_SPECS.ipmmus : IPMMUS;
}

function engineSpecs(o: Pick<XenMachineOptions, 'secondRoot'>): readonly EngineSpec[] {
  return o.secondRoot === true ? EXTENDED_SPECS.engines : ENGINES;
}

/** The path of the node of an IPMMU or DMA engine label. */
export function nodePath(label: string): string {
  const node = EXTENDED_TREE.byLabel(label);
  if (node === undefined) throw new Error(`no node labelled ${label}`);
  return node.path;
}

/**
 * The board's tree with the options' variant: IPMMUs and masters reordered in /soc (the probe
 * order), the root's interrupt removed, or a second IPMMU tree added.
 */
export function xenMachineTree(options: Pick<XenMachineOptions, 'order' | 'noIpmmuInterrupt' | 'secondRoot'> = {}): DeviceTree {
  const source = options.secondRoot === true ? `${BOARD.source}\n${SECOND_ROOT_DTS}` : BOARD.source;
  const tree = parseDts(source, { file: BOARD.file });
  const soc = tree.find('/soc')!;
  const roots = soc.children.filter((n) => isIpmmu(n) && !n.has(IPMMU_MAIN_PROPERTY));
  const caches = soc.children.filter((n) => isIpmmu(n) && n.has(IPMMU_MAIN_PROPERTY));
  const masters = soc.children.filter((n) => n.has('iommus'));
  const order = options.order ?? 'root-first';
  const moved = order === 'root-first' ? [...roots, ...caches, ...masters] : order === 'caches-first' ? [...caches, ...roots, ...masters] : [...masters, ...caches, ...roots];
  for (const n of moved) soc.removeChild(n);
  for (const n of moved) soc.addChild(n);
  if (options.noIpmmuInterrupt === true) for (const r of roots) r.deleteProperty('interrupts');
  return tree;
}

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
    this.tree = xenMachineTree(options);
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
    return logText(this.xen.log);
  }

  /** Log messages (source: text) matching `pattern`. */
  logMatching(pattern: RegExp): string[] {
    return logMatching(this.xen.log, pattern);
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
