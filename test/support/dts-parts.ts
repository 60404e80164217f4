// DTS text the hand-built test machines share: the board around their devices (one RISC-V hart
// with its local interrupt controller, RAM, the soc bus with the PLIC and optionally an IMSIC
// interrupt file) and the nodes several machines describe (DMA engines, test endpoints, a PCI
// host bridge). The numbers come from the machine's BoardLayout, which also builds the models
// (test-machine.ts), so the device tree and the wiring cannot disagree.

import { PLIC_REGION_SIZE } from '../../src/devices/plic.js';

export interface BoardLayout {
  ram: { base: bigint; size: bigint };
  /** The PLIC's base and number of sources (riscv,ndev). */
  plic: { base: bigint; sources: number };
  /** An IMSIC-style interrupt file (its base and number of identities), or none. */
  imsic: { base: bigint; ids: number } | null;
}

export function hexCell(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** A `reg` of one region with two address and two size cells. */
export function regCells(base: bigint, size: bigint | number): string {
  return `<0x0 ${hexCell(base)} 0x0 ${hexCell(size)}>`;
}

// Hart 0's local interrupt controller is labelled cpu0_intc: its interrupt 9 is the supervisor
// external interrupt, 11 the machine one (the PLIC's contexts 1 and 0, in that order).
const ONE_HART_CPUS = `cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 {
			device_type = "cpu";
			reg = <0>;
			compatible = "riscv";
			cpu0_intc: interrupt-controller {
				#interrupt-cells = <1>;
				interrupt-controller;
				compatible = "riscv,cpu-intc";
			};
		};
	};`;

export interface BoardDts {
  layout: BoardLayout;
  compatible: string;
  model: string;
  /** Leave the IMSIC node out even though the layout has one (the model is still there). */
  omitImsic?: boolean;
  /** The other nodes of the soc bus, in order (empty strings are skipped). */
  soc: readonly string[];
}

/**
 * The whole device tree of a test machine: the board and the soc nodes given. The PLIC is the
 * soc bus's interrupt-parent, so a node's `interrupts` name its sources.
 */
export function boardDts(b: BoardDts): string {
  const { ram, plic, imsic } = b.layout;
  const imsicNode =
    imsic === null || b.omitImsic === true
      ? ''
      : `imsic: interrupt-controller@${imsic.base.toString(16)} {
			compatible = "riscv,imsics";
			reg = ${regCells(imsic.base, 0x1000)};
			interrupt-controller;
			#interrupt-cells = <0>;
			msi-controller;
			interrupts-extended = <&cpu0_intc 9>;
			riscv,num-ids = <${imsic.ids}>;
		};`;
  const soc = [imsicNode, ...b.soc].filter((n) => n !== '').join('\n\n\t\t');
  return `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "${b.compatible}";
	model = "${b.model}";

	${ONE_HART_CPUS}

	memory@${ram.base.toString(16)} {
		device_type = "memory";
		reg = ${regCells(ram.base, ram.size)};
	};

	soc {
		#address-cells = <2>;
		#size-cells = <2>;
		compatible = "simple-bus";
		interrupt-parent = <&plic>;
		ranges;

		plic: interrupt-controller@${plic.base.toString(16)} {
			compatible = "sifive,plic-1.0.0", "riscv,plic0";
			reg = ${regCells(plic.base, PLIC_REGION_SIZE)};
			#address-cells = <0>;
			#interrupt-cells = <1>;
			interrupt-controller;
			interrupts-extended = <&cpu0_intc 11>, <&cpu0_intc 9>;
			riscv,ndev = <${plic.sources}>;
		};

		${soc}
	};
};
`;
}

/** An iommu-lab DMA engine's node ("<name>@<base>"): its PLIC source and its `iommus` (DTS cells, '' for none). */
export function dmaEngineNode(o: { name?: string; base: bigint; irq: number; iommus: string }): string {
  return `${o.name ?? 'dma-controller'}@${o.base.toString(16)} {
			compatible = "iommu-lab,dma-engine";
			reg = ${regCells(o.base, 0x1000)};
			interrupts = <${o.irq}>;
			${o.iommus === '' ? '' : `iommus = <${o.iommus}>;`}
		};`;
}

/** A test endpoint (a node the test-endpoint driver binds) with its `iommus` (DTS cells). */
export function testEndpointNode(name: string, base: bigint, iommus: string): string {
  return `${name}@${base.toString(16)} {
			compatible = "iommu-lab,test-endpoint";
			reg = ${regCells(base, 0x1000)};
			iommus = <${iommus}>;
		};`;
}

export interface PciHostDts {
  base: bigint;
  /** Buses 0..buses-1, 1 MiB of ECAM each. */
  buses: number;
  /** The `ranges` entries, each "<flags> <pci address> <cpu address> <size>" as cells. */
  ranges: readonly string[];
  /** Further properties and child nodes (iommu-map, ats-supported, ...). */
  body?: string;
}

/** A generic ECAM PCI host bridge, domain 0. */
export function pciHostNode(p: PciHostDts): string {
  return `pci@${p.base.toString(16)} {
			compatible = "pci-host-ecam-generic";
			device_type = "pci";
			#address-cells = <3>;
			#size-cells = <2>;
			reg = ${regCells(p.base, BigInt(p.buses) << 20n)};
			bus-range = <0x0 ${hexCell(p.buses - 1)}>;
			linux,pci-domain = <0>;
			ranges = ${p.ranges.map((r) => `<${r}>`).join(',\n\t\t\t\t ')};
			${p.body ?? ''}
		};`;
}

/** A 32-bit non-prefetchable memory window mapped 1:1 (a `ranges` entry of pciHostNode). */
export function pciMemRange(base: bigint, size: bigint): string {
  return `0x02000000 0x0 ${hexCell(base)} 0x0 ${hexCell(base)} 0x0 ${hexCell(size)}`;
}
