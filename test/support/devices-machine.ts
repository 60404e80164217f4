// A small machine assembled by hand for the device and driver tests (the real platform
// builder lives in src/platform): RAM, the system bus, a clock, one hart with a PLIC, a
// platform DMA engine on PLIC source 40, and a PCIe host bridge (ECAM, buses 0-15) with a
// DMA-engine endpoint at 00:01.0, BARs assigned from the bridge's ranges as firmware would.
// Optionally a RISC-V IOMMU translates both engines: on the platform bus (wired interrupts on
// PLIC sources 36-39) or as PCI function 00:02.0 (`riscv,pci-iommu`, MSIs to an interrupt
// file). The kernel boots from a DTB written from the same device tree.

import { DirectDmaPort, type DmaPort } from '../../src/devices/dma-port.js';
import { DmaEngine } from '../../src/devices/dma-engine/index.js';
import { PCI_RISCV_IOMMU_IDS, PciDmaEngineFunction, PcieHostBridge, PciMmioFunction, type BarAssignment, type PciFunction } from '../../src/devices/pcie/index.js';
import { RiscvIommu, RiscvIommuDmaPort, type RiscvIommuOptions } from '../../src/hw/riscv-iommu/index.js';
import type { DeviceTree } from '../../src/formats/devicetree/tree.js';
import { writeDtb } from '../../src/formats/dtb/index.js';
import type { Driver } from '../../src/os/driver-model/device.js';
import { dmaEngineDriver } from '../../src/os/drivers/dma-engine/index.js';
import { imsicDriver } from '../../src/os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../src/os/drivers/irqchip/plic.js';
import { riscvIommuPciDriver, riscvIommuPlatformDriver } from '../../src/os/drivers/riscv-iommu/index.js';
import { pciHostEcamDriver } from '../../src/os/drivers/pci/index.js';
import type { Kernel, KernelOptions } from '../../src/os/kernel/kernel.js';
import { parseDts } from '../../src/platform/dts/index.js';
import type { SystemBus } from '../../src/sim/system-bus.js';
import { boardDts, dmaEngineNode, pciHostNode, pciMemRange, regCells, type BoardLayout } from './dts-parts.js';
import { assignBarsFromTree, bootKernel, riscvBoard, type RiscvBoard } from './test-machine.js';

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

/** The board; the IMSIC interrupt file is there for the PCI IOMMU's MSIs only. */
function layout(iommu: MachineIommu): BoardLayout {
  return {
    ram: { base: RAM_BASE, size: RAM_SIZE },
    plic: { base: PLIC_BASE, sources: 63 },
    imsic: iommu === 'pci' ? { base: IMSIC_BASE, ids: 255 } : null,
  };
}

/** The machine's device tree; `iommu` adds the IOMMU and the references to it. */
function devicesMachineDts(iommu: MachineIommu): string {
  const ref = iommu === 'platform' ? '&iommu' : '&pci_iommu';
  const platformIommu =
    iommu === 'platform'
      ? `iommu: iommu@${IOMMU_BASE.toString(16)} {
			compatible = "riscv,iommu";
			reg = ${regCells(IOMMU_BASE, 0x1000)};
			interrupts = <${IOMMU_IRQ_BASE} ${IOMMU_IRQ_BASE + 1} ${IOMMU_IRQ_BASE + 2} ${IOMMU_IRQ_BASE + 3}>;
			interrupt-names = "cmdq", "fltq", "pm", "priq";
			#iommu-cells = <1>;
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
  const engine = dmaEngineNode({ base: ENGINE_BASE, irq: ENGINE_IRQ, iommus: iommu === 'none' ? '' : `${ref} ${ENGINE_DEVICE_ID}` });
  const pci = pciHostNode({
    base: ECAM_BASE,
    buses: ECAM_BUSES,
    ranges: ['0x01000000 0x0 0x0 0x0 0x3000000 0x0 0x10000', pciMemRange(PCI_MEM_BASE, PCI_MEM_SIZE)],
    body: iommu === 'none' ? '' : `iommu-map = <0x0 ${ref} 0x0 0x10000>;\n\t\t\t${pciIommu}`,
  });
  return boardDts({ layout: layout(iommu), compatible: 'iommu-lab,devices-test', model: 'iommu-lab devices test machine', soc: [platformIommu, engine, pci] });
}

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

export interface DevicesMachine extends RiscvBoard {
  engine: DmaEngine;
  pcie: PcieHostBridge;
  pciEngine: PciDmaEngineFunction | null;
  iommu: RiscvIommu | null;
  bars: BarAssignment[];
  dt: DeviceTree;
  dtb: Uint8Array;
  kernel: Kernel;
}

export function buildDevicesMachine(o: DevicesMachineOptions = {}): DevicesMachine {
  const kind = o.iommu ?? 'none';
  const board = riscvBoard(layout(kind));
  const { memory, bus, clock, plic } = board;
  const dt = parseDts(devicesMachineDts(kind), { file: 'devices-machine.dts' });
  o.editTree?.(dt);

  let iommu: RiscvIommu | null = null;
  if (kind !== 'none') {
    const wires = kind === 'platform' ? [0, 1, 2, 3].map((i) => plic.sources[IOMMU_IRQ_BASE + i]) : undefined;
    iommu = new RiscvIommu({ ...o.iommuOptions, memory, bus, clock, wires });
    if (kind === 'platform') bus.mmio.map('iommu', IOMMU_BASE, 0x1000n, iommu);
  }
  const upstream = o.upstream?.(bus) ?? (iommu !== null ? new RiscvIommuDmaPort(iommu) : new DirectDmaPort(bus));
  const engine = new DmaEngine({ name: 'dma0', port: upstream, deviceId: ENGINE_DEVICE_ID, irq: plic.sources[ENGINE_IRQ], clock, bytesPerCycle: o.bytesPerCycle });
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
  const bars = assignBarsFromTree(pcie, dt, bus);

  const dtb = writeDtb(dt);
  const drivers = o.drivers ?? [plicDriver, imsicDriver, riscvIommuPlatformDriver, riscvIommuPciDriver, pciHostEcamDriver, dmaEngineDriver];
  const kernel = bootKernel(board, dtb, { ...o.kernel, drivers }, o.boot ?? true);
  return { ...board, engine, pcie, pciEngine, iommu, bars, dt, dtb, kernel };
}
