// A small machine assembled by hand for the device and driver tests (the real platform
// builder lives in src/platform): RAM, the system bus, a clock, one hart with a PLIC, a
// platform DMA engine on PLIC source 40, and a PCIe host bridge (ECAM, buses 0-15) with a
// DMA-engine endpoint at 00:01.0, BARs assigned from the bridge's ranges as firmware would.
// Optionally a RISC-V IOMMU translates both engines: on the platform bus (wired interrupts on
// PLIC sources 36-39) or as PCI function 00:02.0 (`riscv,pci-iommu`, MSIs to an interrupt
// file). The kernel boots from a DTB written from the same device tree.

import { DirectDmaPort, type DmaPort } from '../../src/devices/dma-port.js';
import { DmaEngine } from '../../src/devices/dma-engine/index.js';
import { Plic, PLIC_REGION_SIZE } from '../../src/devices/plic.js';
import { assignBars, PCI_RISCV_IOMMU_IDS, PciDmaEngineFunction, PcieHostBridge, PciMmioFunction, pciWindowsOf, type BarAssignment, type PciFunction } from '../../src/devices/pcie/index.js';
import { RiscvIommu, RiscvIommuDmaPort, type RiscvIommuOptions } from '../../src/hw/riscv-iommu/index.js';
import type { DeviceTree } from '../../src/formats/devicetree/tree.js';
import { writeDtb } from '../../src/formats/dtb/index.js';
import type { Driver } from '../../src/os/driver-model/device.js';
import { dmaEngineDriver } from '../../src/os/drivers/dma-engine/index.js';
import { imsicDriver } from '../../src/os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../src/os/drivers/irqchip/plic.js';
import { riscvIommuPciDriver, riscvIommuPlatformDriver } from '../../src/os/drivers/riscv-iommu/index.js';
import { pciHostEcamDriver } from '../../src/os/drivers/pci/index.js';
import { Kernel, type KernelOptions } from '../../src/os/kernel/kernel.js';
import { parseDts } from '../../src/platform/dts/index.js';
import { Clock } from '../../src/sim/clock.js';
import { Hart } from '../../src/sim/hart.js';
import { MsiController } from '../../src/sim/irq.js';
import { MmioBus } from '../../src/sim/mmio.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';
import { ONE_HART_CPUS } from './dts-parts.js';

export const RAM_BASE = 0x8000_0000n;
export const RAM_SIZE = 0x400_0000n; // 64 MiB
export const PLIC_BASE = 0x0c00_0000n;
export const ENGINE_BASE = 0x0302_0000n;
export const ENGINE_IRQ = 40;
export const ECAM_BASE = 0x3000_0000n;
export const ECAM_BUSES = 16;
export const PCI_MEM_BASE = 0x4000_0000n;
export const PCI_MEM_SIZE = 0x1000_0000n;

export const IOMMU_BASE = 0x0301_0000n;
export const IOMMU_IRQ_BASE = 36;
export const IMSIC_BASE = 0x2800_0000n;
/** The device id the platform engine's `iommus` gives it. */
export const ENGINE_DEVICE_ID = 5;

export type MachineIommu = 'none' | 'platform' | 'pci';

/** The machine's device tree; `iommu` adds the IOMMU and the references to it. */
export function devicesMachineDts(iommu: MachineIommu = 'none'): string {
  const ref = iommu === 'platform' ? '&iommu' : '&pci_iommu';
  const platformIommu =
    iommu === 'platform'
      ? `iommu: iommu@3010000 {
			compatible = "riscv,iommu";
			reg = <0x0 0x3010000 0x0 0x1000>;
			interrupt-parent = <&plic>;
			interrupts = <36 37 38 39>;
			interrupt-names = "cmdq", "fltq", "pm", "priq";
			#iommu-cells = <1>;
		};`
      : '';
  const imsic =
    iommu === 'pci'
      ? `imsic: interrupt-controller@28000000 {
			compatible = "riscv,imsics";
			reg = <0x0 0x28000000 0x0 0x1000>;
			interrupt-controller;
			#interrupt-cells = <0>;
			msi-controller;
			interrupts-extended = <&cpu0_intc 9>;
			riscv,num-ids = <255>;
		};`
      : '';
  const pciIommu =
    iommu === 'pci'
      ? `pci_iommu: iommu@2,0 {
				compatible = "pci1b36,14", "riscv,pci-iommu";
				reg = <0x1000 0x0 0x0 0x0 0x0>;
				#iommu-cells = <1>;
			};`
      : '';
  const iommus = iommu === 'none' ? '' : `iommus = <${ref} ${ENGINE_DEVICE_ID}>;`;
  const iommuMap = iommu === 'none' ? '' : `iommu-map = <0x0 ${ref} 0x0 0x10000>;`;
  return DEVICES_MACHINE_DTS.replace('/*IOMMU*/', platformIommu + imsic).replace('/*IOMMUS*/', iommus).replace('/*IOMMU-MAP*/', iommuMap).replace('/*PCI-IOMMU*/', pciIommu);
}

export const DEVICES_MACHINE_DTS = `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "iommu-lab,devices-test";
	model = "iommu-lab devices test machine";

	${ONE_HART_CPUS}

	memory@80000000 {
		device_type = "memory";
		reg = <0x0 0x80000000 0x0 0x4000000>;
	};

	soc {
		#address-cells = <2>;
		#size-cells = <2>;
		compatible = "simple-bus";
		ranges;

		plic: interrupt-controller@c000000 {
			compatible = "sifive,plic-1.0.0", "riscv,plic0";
			reg = <0x0 0xc000000 0x0 0x4000000>;
			#address-cells = <0>;
			#interrupt-cells = <1>;
			interrupt-controller;
			riscv,ndev = <63>;
			interrupts-extended = <&cpu0_intc 11>, <&cpu0_intc 9>;
		};

		/*IOMMU*/

		dma-controller@3020000 {
			compatible = "iommu-lab,dma-engine";
			reg = <0x0 0x3020000 0x0 0x1000>;
			interrupt-parent = <&plic>;
			interrupts = <40>;
			/*IOMMUS*/
		};

		pci@30000000 {
			compatible = "pci-host-ecam-generic";
			device_type = "pci";
			#address-cells = <3>;
			#size-cells = <2>;
			reg = <0x0 0x30000000 0x0 0x1000000>;
			bus-range = <0x0 0xf>;
			linux,pci-domain = <0>;
			ranges = <0x01000000 0x0 0x0 0x0 0x3000000 0x0 0x10000>,
				 <0x02000000 0x0 0x40000000 0x0 0x40000000 0x0 0x10000000>;
			/*IOMMU-MAP*/
			/*PCI-IOMMU*/
		};
	};
};
`;

export interface DevicesMachineOptions {
  /** A RISC-V IOMMU in front of both engines (default none: they master the bus directly). */
  iommu?: MachineIommu;
  /** Options of the IOMMU model. */
  iommuOptions?: RiscvIommuOptions;
  /** Throughput of both DMA engines in bytes per cycle (0: transfers finish inside START). */
  bytesPerCycle?: number;
  /** Upstream port of the platform engine and of the PCIe host bridge (default: the IOMMU or the system bus). */
  upstream?: (bus: SystemBus) => DmaPort;
  /** More PCI functions, attached before BAR assignment. */
  extraFunctions?: { device: number; func: number; fn: PciFunction }[];
  /** Where to put the DMA-engine endpoint (default device 1, function 0; null: leave it out). */
  pciEngineAt?: { device: number; func: number } | null;
  /** Drivers the kernel gets (default: PLIC, PCI host, DMA engine). */
  drivers?: readonly Driver[];
  kernel?: Omit<KernelOptions, 'drivers'>;
  /** Boot the kernel (default true). */
  boot?: boolean;
  /** Edits the device tree before the DTB is written. */
  editTree?: (dt: DeviceTree) => void;
}

export interface DevicesMachine {
  memory: PhysicalMemory;
  bus: SystemBus;
  clock: Clock;
  hart: Hart;
  plic: Plic;
  engine: DmaEngine;
  pcie: PcieHostBridge;
  pciEngine: PciDmaEngineFunction | null;
  iommu: RiscvIommu | null;
  imsic: MsiController | null;
  bars: BarAssignment[];
  dt: DeviceTree;
  dtb: Uint8Array;
  kernel: Kernel;
}

export function buildDevicesMachine(o: DevicesMachineOptions = {}): DevicesMachine {
  const memory = new PhysicalMemory();
  const bus = new SystemBus(memory, new MmioBus());
  const clock = new Clock();
  const kind = o.iommu ?? 'none';
  const imsic = kind === 'pci' ? new MsiController('imsic', IMSIC_BASE, 255) : null;
  const hart = new Hart(0, imsic);
  if (imsic !== null) bus.mmio.map('imsic', IMSIC_BASE, 0x1000n, imsic);
  const dt = parseDts(devicesMachineDts(kind), { file: 'devices-machine.dts' });
  o.editTree?.(dt);

  const plic = new Plic('plic', 63, 2);
  bus.mmio.map('plic', PLIC_BASE, PLIC_REGION_SIZE, plic);
  // Context 1 is the hart's supervisor external interrupt (interrupts-extended entry 9).
  plic.contexts[1].onChange((level) => hart.externalInterrupt.set(level));

  let iommu: RiscvIommu | null = null;
  if (kind !== 'none') {
    const wires = kind === 'platform' ? [0, 1, 2, 3].map((i) => plic.sources[IOMMU_IRQ_BASE + i]) : undefined;
    iommu = new RiscvIommu({ ...o.iommuOptions, memory, bus, clock, wires });
    if (kind === 'platform') bus.mmio.map('iommu', IOMMU_BASE, 0x1000n, iommu);
  }
  const upstream = o.upstream?.(bus) ?? (iommu !== null ? new RiscvIommuDmaPort(iommu) : new DirectDmaPort(bus));
  const engine = new DmaEngine({ name: 'dma0', port: upstream, deviceId: 5, irq: plic.sources[ENGINE_IRQ], clock, bytesPerCycle: o.bytesPerCycle });
  bus.mmio.map('dma0', ENGINE_BASE, 0x1000n, engine);

  const pcie = new PcieHostBridge({ name: 'pcie', busStart: 0, busEnd: ECAM_BUSES - 1, upstream });
  bus.mmio.map('pcie-ecam', ECAM_BASE, pcie.ecamSize, pcie);
  let pciEngine: PciDmaEngineFunction | null = null;
  const at = o.pciEngineAt === undefined ? { device: 1, func: 0 } : o.pciEngineAt;
  if (at !== null) {
    pciEngine = new PciDmaEngineFunction({ name: 'pci-dma0', clock, bytesPerCycle: o.bytesPerCycle });
    pcie.attach(pciEngine, at.device, at.func);
  }
  if (kind === 'pci' && iommu !== null) {
    const fn = new PciMmioFunction({ name: 'riscv-iommu', ...PCI_RISCV_IOMMU_IDS, registers: iommu, size: 0x1000n });
    pcie.attach(fn, 2, 0);
  }
  for (const e of o.extraFunctions ?? []) pcie.attach(e.fn, e.device, e.func);
  const hostNode = dt.find('/soc/pci@30000000');
  if (hostNode === undefined) throw new Error('the test device tree lost its host bridge');
  const bars = assignBars(pcie, pciWindowsOf(hostNode), bus);

  const dtb = writeDtb(dt);
  const drivers = o.drivers ?? [plicDriver, imsicDriver, riscvIommuPlatformDriver, riscvIommuPciDriver, pciHostEcamDriver, dmaEngineDriver];
  const kernel = new Kernel({ dtb, memory, bus, clock, hart }, { ...o.kernel, drivers });
  if (o.boot ?? true) kernel.boot();
  return { memory, bus, clock, hart, plic, engine, pcie, pciEngine, iommu, imsic, bars, dt, dtb, kernel };
}
