// A small machine built by hand for tests of the software side: RAM, one bus, a clock, one hart
// with an IMSIC-style interrupt file, the PLIC model, and a RISC-V IOMMU model on the bus with
// its wires on PLIC sources; a device tree (DTS text, compiled to a DTB) describing them and
// test endpoints behind the IOMMU; and a kernel booted from it. Tests may look at both sides.
// (The real platform builder lives in src/platform; this harness stays deliberately small.)

import { writeDtb } from '../../src/formats/dtb/index.js';
import type { DeviceTree } from '../../src/formats/devicetree/tree.js';
import { commandName, describeCause, Reg } from '../../src/formats/riscv-iommu/index.js';
import type { Plic } from '../../src/devices/plic.js';
import { RiscvIommu, type RiscvIommuOptions } from '../../src/hw/riscv-iommu/index.js';
import { imsicDriver } from '../../src/os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../src/os/drivers/irqchip/plic.js';
import { riscvIommuOf, riscvIommuPciDriver, riscvIommuPlatformDriver, type RiscvIommuDevice } from '../../src/os/drivers/riscv-iommu/index.js';
import type { IommuPolicy } from '../../src/os/core/iommu-core.js';
import { Device, type Driver, type PciFunction } from '../../src/os/driver-model/device.js';
import type { Kernel } from '../../src/os/kernel/kernel.js';
import { parseDts } from '../../src/platform/dts/index.js';
import type { Clock } from '../../src/sim/clock.js';
import type { Hart } from '../../src/sim/hart.js';
import type { MsiController } from '../../src/sim/irq.js';
import type { MmioDevice } from '../../src/sim/mmio.js';
import type { Endianness, PhysicalMemory } from '../../src/sim/physical-memory.js';
import type { SystemBus } from '../../src/sim/system-bus.js';
import { boardDts, pciHostNode, pciMemRange, regCells, testEndpointNode } from './dts-parts.js';
import { bootKernel, KernelMachine, riscvBoard } from './test-machine.js';

export const RAM_BASE = 0x8000_0000n;
export const RAM_SIZE = 256n << 20n;
export const PLIC_BASE = 0x0c00_0000n;
export const IMSIC_BASE = 0x2800_0000n;
export const IOMMU_BASE = 0x0301_0000n;
export const ENDPOINT_BASE = 0x0302_0000n;
export const PCI_ECAM_BASE = 0x3000_0000n;
export const PCI_MEM_BASE = 0x4000_0000n;
/** PLIC source of the IOMMU's wire 0 (wires 0..3 use 36..39). */
export const IOMMU_IRQ_BASE = 36;
export const IMSIC_IDS = 255;

export interface EndpointSpec {
  /** Node name base; the device is "<unit>.<name>". */
  name: string;
  /** device_ids in `iommus` (several allowed). */
  deviceIds: number[];
}

export interface OsMachineOptions {
  /** Options of the IOMMU model (capabilities, directory levels, ...). */
  iommu?: RiscvIommuOptions;
  /**
   * How the device tree describes the IOMMU's interrupts: named wires (default), wires
   * without interrupt-names, wires plus msi-parent (MSIs preferred), or no wires at all.
   */
  interrupts?: 'wsi' | 'wsi-unnamed' | 'msi-parent' | 'none';
  /** Describe the IMSIC interrupt file in the device tree (default true). */
  imsic?: boolean;
  /** Endpoints behind the IOMMU (default: one, "dma" with device_id 5). */
  endpoints?: EndpointSpec[];
  /** Put the endpoints before the IOMMU in the device tree (probe order). */
  endpointsFirst?: boolean;
  /** Leave the IOMMU node out of the platform (for the PCI IOMMU). */
  platformIommu?: boolean;
  /** Add a PCI host bridge whose iommu-map sends every requester id to `iommuMapTarget`. */
  pci?: boolean;
  /** Drivers the kernel starts with (default: PLIC, IMSIC, both IOMMU drivers, test endpoints). */
  drivers?: Driver[];
  /** IOMMU default-domain policy. */
  policy?: Partial<IommuPolicy>;
  /** Byte order of RAM as the CPU sees it. */
  endianness?: Endianness;
  /** Boot the kernel (default true). */
  boot?: boolean;
  /** Wrap the IOMMU's register page (to present odd register values to the driver). */
  wrapRegisters?: (model: MmioDevice) => MmioDevice;
}

/** Binds test endpoints (platform nodes and PCI functions of vendor 0x1234) doing nothing. */
export const testEndpointDriver: Driver = {
  name: 'test-endpoint',
  compatible: ['iommu-lab,test-endpoint'],
  pci: [{ vendor: 0x1234 }],
  probe: () => 'bound',
};

export const DEFAULT_DRIVERS: readonly Driver[] = [plicDriver, imsicDriver, riscvIommuPlatformDriver, riscvIommuPciDriver, testEndpointDriver];

export const OS_MACHINE_LAYOUT = {
  ram: { base: RAM_BASE, size: RAM_SIZE },
  plic: { base: PLIC_BASE, sources: 95 },
  imsic: { base: IMSIC_BASE, ids: IMSIC_IDS },
} as const;

export class OsMachine extends KernelMachine {
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  readonly clock: Clock;
  readonly imsic: MsiController;
  readonly hart: Hart;
  readonly plic: Plic;
  readonly iommu: RiscvIommu;
  readonly tree: DeviceTree;
  readonly dtb: Uint8Array;
  readonly kernel: Kernel;

  constructor(readonly options: OsMachineOptions = {}) {
    super();
    const board = riscvBoard(OS_MACHINE_LAYOUT, options.endianness);
    ({ memory: this.memory, bus: this.bus, clock: this.clock, imsic: this.imsic, hart: this.hart, plic: this.plic } = board);
    const wires = [0, 1, 2, 3].map((i) => this.plic.sources[IOMMU_IRQ_BASE + i]);
    this.iommu = new RiscvIommu({ ...options.iommu, memory: this.memory, bus: this.bus, clock: this.clock, wires });
    const regs = options.wrapRegisters?.(this.iommu) ?? this.iommu;
    if (options.platformIommu === false) this.bus.mmio.map('iommu-bar0', PCI_MEM_BASE, 0x1000n, regs);
    else this.bus.mmio.map('iommu', IOMMU_BASE, 0x1000n, regs);
    this.tree = parseDts(machineDts(options), { file: 'os-machine.dts' });
    this.dtb = writeDtb(this.tree);
    this.kernel = bootKernel(board, this.dtb, { drivers: options.drivers ?? [...DEFAULT_DRIVERS], iommu: options.policy }, options.boot !== false);
  }

  /** The driver's state of the (first) registered IOMMU; throws when none registered. */
  get driver(): RiscvIommuDevice {
    const d = riscvIommuOf(this.kernel.iommu.instances[0]);
    if (d === null) throw new Error(`no RISC-V IOMMU registered; log:\n${this.logText()}`);
    return d;
  }

  /** The first test endpoint's device (the default "dma" endpoint). */
  get endpoint(): Device {
    return this.device(`${ENDPOINT_BASE.toString(16)}.${(this.options.endpoints ?? DEFAULT_ENDPOINTS)[0].name}`);
  }

  /** A DMA request through the IOMMU model: the translated address, or the fault cause. */
  translate(deviceId: number, iova: bigint, access: { write?: boolean; execute?: boolean } = {}): { address: bigint } | { cause: number; reason: string } {
    const rsp = this.iommu.translate({ deviceId, iova, write: access.write ?? false, execute: access.execute ?? false });
    if (rsp.status !== 0) return { cause: rsp.cause, reason: describeCause(rsp.cause) };
    return { address: rsp.address(Number(iova & 0xfffn)) };
  }

  /** The commands in the driver's command queue from ring index `from` up to the tail, by name. */
  commandsSince(from: number): { name: string; words: [bigint, bigint] }[] {
    const cq = this.driver.cmdq;
    const out: { name: string; words: [bigint, bigint] }[] = [];
    for (let i = from; i !== cq.producerIndex; i = (i + 1) % cq.entries) {
      const w = cq.entry(i);
      out.push({ name: commandName(w), words: [w[0], w[1]] });
    }
    return out;
  }

  /** Adds a PCI function under the host bridge (as a PCI bus driver enumerating would). */
  addPciFunction(name: string, fn: Omit<PciFunction, 'hostBridge' | 'segment' | 'bus'> & { bus?: number }, withNode = false): Device {
    const bridge = this.tree.find('/soc/pci@30000000');
    if (bridge === undefined) throw new Error('the machine has no PCI host bridge (options.pci)');
    const kernelBridge = this.kernel.dt.find('/soc/pci@30000000');
    if (kernelBridge === undefined) throw new Error('the kernel sees no PCI host bridge');
    const full: PciFunction = { segment: 0, bus: fn.bus ?? 0, ...fn, hostBridge: kernelBridge };
    const node = withNode ? (kernelBridge.children.find((c) => (c.u32s('reg')?.[0] ?? -1) === ((full.bus << 16) | (full.devfn << 8))) ?? null) : null;
    const dev = new Device(name, 'pci', node, full);
    this.kernel.addDevice(dev);
    return dev;
  }

  /** Register value of the model (test-bench view, bypassing the driver). */
  reg64(offset: number): bigint {
    return this.iommu.mmio.read(offset, 8);
  }

  reg32(offset: number): number {
    return this.iommu.mmio.read32(offset);
  }
}

export const DEFAULT_ENDPOINTS: readonly EndpointSpec[] = [{ name: 'dma', deviceIds: [5] }];

function machineDts(o: OsMachineOptions): string {
  const irq = o.interrupts ?? 'wsi';
  const wires =
    irq === 'none'
      ? ''
      : `interrupts = <${IOMMU_IRQ_BASE} ${IOMMU_IRQ_BASE + 1} ${IOMMU_IRQ_BASE + 2} ${IOMMU_IRQ_BASE + 3}>;
			${irq === 'wsi-unnamed' ? '' : 'interrupt-names = "cmdq", "fltq", "pm", "priq";'}`;
  const iommuLabel = o.platformIommu === false ? 'pci_iommu' : 'iommu';
  const iommu =
    o.platformIommu === false
      ? ''
      : `iommu: iommu@${IOMMU_BASE.toString(16)} {
			compatible = "riscv,iommu";
			reg = ${regCells(IOMMU_BASE, 0x1000)};
			${wires}
			${irq === 'msi-parent' ? 'msi-parent = <&imsic>;' : ''}
			#iommu-cells = <1>;
		};`;
  const endpoints = (o.endpoints ?? DEFAULT_ENDPOINTS).map((e, i) =>
    testEndpointNode(e.name, ENDPOINT_BASE + BigInt(i) * 0x1000n, e.deviceIds.map((id) => `&${iommuLabel} ${id}`).join(' ')),
  );
  const pci =
    o.pci === true || o.platformIommu === false
      ? pciHostNode({
          base: PCI_ECAM_BASE,
          buses: 256,
          ranges: [pciMemRange(PCI_MEM_BASE, 0x4000_0000n)],
          body: `iommu-map = <0x0 &${iommuLabel} 0x0 0x10000>;
			${o.platformIommu === false ? `pci_iommu: iommu@1,0 {
				reg = <0x800 0x0 0x0 0x0 0x0>;
				#iommu-cells = <1>;
			};` : ''}`,
        })
      : '';
  return boardDts({
    layout: OS_MACHINE_LAYOUT,
    compatible: 'iommu-lab,os-machine',
    model: 'iommu-lab test machine',
    omitImsic: o.imsic === false,
    soc: o.endpointsFirst === true ? [...endpoints, iommu, pci] : [iommu, ...endpoints, pci],
  });
}

/** The IOMMU register offsets tests read most. */
export { Reg };
