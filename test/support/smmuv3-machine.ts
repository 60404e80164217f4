// A machine built by hand for tests of the SMMUv3 driver: RAM, one bus, a clock, one hart with
// an IMSIC-style interrupt file and the PLIC, the SMMUv3 model on the MMIO bus (its wired
// outputs on PLIC sources), a platform DMA engine behind it with its own StreamID, optional
// test endpoints (StreamIDs without a device model), and optionally a PCIe host bridge whose
// functions (DMA engines with the ATS capability) reach memory through the SMMU, with the
// bridge's iommu-map sending requester ids to StreamIDs one to one. A device tree (DTS text,
// compiled to a DTB) describes it all to a kernel booted from it. The interrupt controller is
// the RISC-V one the kernel has drivers for: the SMMU driver does not care whose wires it gets.
// Tests may look at both sides. (The real platform builder lives in src/platform.)

import { DmaEngine } from '../../src/devices/dma-engine/index.js';
import type { Plic } from '../../src/devices/plic.js';
import { PciDmaEngineFunction, PcieHostBridge, type AtsOptions } from '../../src/devices/pcie/index.js';
import type { DeviceTree } from '../../src/formats/devicetree/tree.js';
import { writeDtb } from '../../src/formats/dtb/index.js';
import { commandName, decodeCommand, type CommandWords } from '../../src/formats/smmuv3/commands.js';
import { EVENT_DESCRIPTIONS, eventName } from '../../src/formats/smmuv3/records.js';
import { SmmuV3, SmmuV3DmaPort, type SmmuV3InterruptLines, type SmmuV3Options } from '../../src/hw/smmuv3/index.js';
import { Outcome } from '../../src/hw/smmuv3/transaction.js';
import type { IommuPolicy } from '../../src/os/core/iommu-core.js';
import type { Device, Driver } from '../../src/os/driver-model/device.js';
import { createArmSmmuV3Driver, smmuV3Of, type ArmSmmuV3Device, type ArmSmmuV3Options } from '../../src/os/drivers/arm-smmu-v3/index.js';
import { dmaEngineDriver } from '../../src/os/drivers/dma-engine/index.js';
import { imsicDriver } from '../../src/os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../src/os/drivers/irqchip/plic.js';
import { pciHostEcamDriver } from '../../src/os/drivers/pci/index.js';
import type { Kernel } from '../../src/os/kernel/kernel.js';
import { parseDts } from '../../src/platform/dts/index.js';
import type { Clock } from '../../src/sim/clock.js';
import type { Hart } from '../../src/sim/hart.js';
import type { MsiController } from '../../src/sim/irq.js';
import type { MmioDevice } from '../../src/sim/mmio.js';
import type { Endianness, PhysicalMemory } from '../../src/sim/physical-memory.js';
import type { SystemBus } from '../../src/sim/system-bus.js';
import { boardDts, dmaEngineNode, hexCell, pciHostNode, pciMemRange, regCells, testEndpointNode } from './dts-parts.js';
import { assignBarsFromTree, bootKernel, KernelMachine, riscvBoard } from './test-machine.js';
import { testEndpointDriver } from './os-machine.js';

export const RAM_BASE = 0x8000_0000n;
export const RAM_SIZE = 256n << 20n;
export const PLIC_BASE = 0x0c00_0000n;
export const IMSIC_BASE = 0x2800_0000n;
export const SMMU_BASE = 0x0905_0000n;
export const SMMU_SIZE = 0x2_0000n;
export const ENGINE_BASE = 0x0302_0000n;
export const ENDPOINT_BASE = 0x0303_0000n;
export const ECAM_BASE = 0x3000_0000n;
export const ECAM_BUSES = 16;
export const PCI_MEM_BASE = 0x4000_0000n;
/** PLIC sources of the SMMU's outputs (eventq, priq, cmdq-sync, gerror) and of the engine. */
export const SMMU_IRQ = { eventq: 36, priq: 37, cmdqSync: 38, gerror: 39 } as const;
export const ENGINE_IRQ = 40;
export const IMSIC_IDS = 255;
/** The platform DMA engine's StreamID unless told otherwise. */
export const ENGINE_SID = 0x1000;

export type SmmuInterrupts =
  /** The four wires, named as the binding says (QEMU's order). */
  | 'named'
  /** One wire named "combined". */
  | 'combined'
  /** The wires and msi-parent: MSIs when the SMMU can send them. */
  | 'msi-parent'
  /** msi-parent and no wires. */
  | 'msi-only'
  /** The wires without interrupt-names. */
  | 'unnamed'
  /** Only "eventq" and "priq". */
  | 'no-gerror'
  | 'none';

export interface PciEndpointSpec {
  device: number;
  func?: number;
  /** The ATS capability (default present). */
  ats?: AtsOptions | boolean;
}

export interface SmmuV3MachineOptions {
  /** Parameters of the SMMU model (capabilities, cache geometry, ...). */
  smmu?: SmmuV3Options;
  /** Options of the driver. */
  driver?: ArmSmmuV3Options;
  interrupts?: SmmuInterrupts;
  /** `dma-coherent` on the SMMU node (default true). */
  coherent?: boolean;
  /** The platform DMA engine's StreamIDs in `iommus` (default [ENGINE_SID]; the engine issues the first). */
  engineSids?: number[];
  /** Endpoints without a device model, each with its StreamIDs (bound to a driver that does nothing). */
  endpoints?: { name: string; sids: number[] }[];
  /** A PCIe host bridge behind the SMMU with these DMA-engine functions (default none). */
  pci?: PciEndpointSpec[];
  /** `ats-supported` on the host bridge (default true). */
  atsSupported?: boolean;
  policy?: Partial<IommuPolicy>;
  endianness?: Endianness;
  /** Extra node properties for the SMMU, as DTS lines. */
  smmuProperties?: string;
  /** Wrap the SMMU's register frame (to present odd register values to the driver). */
  wrapRegisters?: (model: MmioDevice) => MmioDevice;
  /** Wrap the host bridge's ECAM window (to watch configuration writes). */
  wrapEcam?: (ecam: MmioDevice) => MmioDevice;
  /** Edits the device tree before the DTB is written. */
  editTree?: (dt: DeviceTree) => void;
  drivers?: Driver[];
  /** Boot the kernel (default true). */
  boot?: boolean;
}

export const SMMUV3_MACHINE_LAYOUT = {
  ram: { base: RAM_BASE, size: RAM_SIZE },
  plic: { base: PLIC_BASE, sources: 63 },
  imsic: { base: IMSIC_BASE, ids: IMSIC_IDS },
} as const;

export class SmmuV3Machine extends KernelMachine {
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  readonly clock: Clock;
  readonly imsic: MsiController;
  readonly hart: Hart;
  readonly plic: Plic;
  readonly smmu: SmmuV3;
  /** The SMMU's inbound port, upstream of every DMA master (and the ATS translation agent). */
  readonly port: SmmuV3DmaPort;
  readonly engine: DmaEngine;
  readonly pcie: PcieHostBridge | null;
  readonly pciEngines: PciDmaEngineFunction[] = [];
  readonly tree: DeviceTree;
  readonly dtb: Uint8Array;
  readonly kernel: Kernel;

  constructor(readonly options: SmmuV3MachineOptions = {}) {
    super();
    const board = riscvBoard(SMMUV3_MACHINE_LAYOUT, options.endianness);
    ({ memory: this.memory, bus: this.bus, clock: this.clock, imsic: this.imsic, hart: this.hart, plic: this.plic } = board);
    const src = (n: number) => this.plic.sources[n];
    const irq = options.interrupts ?? 'named';
    const lines: SmmuV3InterruptLines =
      irq === 'combined' ? { combined: src(SMMU_IRQ.eventq) } : irq === 'msi-only' || irq === 'none' ? {} : { eventq: src(SMMU_IRQ.eventq), priq: src(SMMU_IRQ.priq), cmdqSync: src(SMMU_IRQ.cmdqSync), gerror: src(SMMU_IRQ.gerror) };
    this.smmu = new SmmuV3({ ...options.smmu, memory: this.memory, bus: this.bus, interrupts: lines });
    this.port = new SmmuV3DmaPort(this.smmu);
    this.bus.mmio.map('smmu', SMMU_BASE, SMMU_SIZE, options.wrapRegisters?.(this.smmu) ?? this.smmu);

    const sids = options.engineSids ?? [ENGINE_SID];
    this.engine = new DmaEngine({ name: 'dma0', port: this.port, deviceId: sids[0], irq: src(ENGINE_IRQ), clock: this.clock });
    this.bus.mmio.map('dma0', ENGINE_BASE, 0x1000n, this.engine);

    this.tree = parseDts(machineDts(options), { file: 'smmuv3-machine.dts' });
    options.editTree?.(this.tree);
    if (options.pci !== undefined) {
      const pcie = new PcieHostBridge({ name: 'pcie', busStart: 0, busEnd: ECAM_BUSES - 1, upstream: this.port });
      this.bus.mmio.map('pcie-ecam', ECAM_BASE, pcie.ecamSize, options.wrapEcam?.(pcie) ?? pcie);
      for (const e of options.pci) {
        const fn = new PciDmaEngineFunction({ name: `pci-dma${e.device}.${e.func ?? 0}`, clock: this.clock, ats: e.ats ?? true });
        pcie.attach(fn, e.device, e.func ?? 0);
        this.pciEngines.push(fn);
      }
      // ATS Invalidation Requests and PRG Responses go down through the root complex; Page Requests come up.
      this.smmu.atcTarget = pcie;
      this.smmu.priTarget = pcie;
      pcie.pageRequestSink = this.smmu;
      assignBarsFromTree(pcie, this.tree, this.bus);
      this.pcie = pcie;
    } else {
      this.pcie = null;
    }
    this.dtb = writeDtb(this.tree);
    const drivers = options.drivers ?? [plicDriver, imsicDriver, createArmSmmuV3Driver(options.driver), pciHostEcamDriver, dmaEngineDriver, testEndpointDriver];
    this.kernel = bootKernel(board, this.dtb, { drivers, iommu: options.policy }, options.boot !== false);
  }

  /** The driver's state of the registered SMMU; throws (with the log) when none registered. */
  get driver(): ArmSmmuV3Device {
    const d = smmuV3Of(this.kernel.iommu.instances[0]);
    if (d === null) throw new Error(`no SMMUv3 registered; log:\n${this.logText()}`);
    return d;
  }

  /** The SMMU's platform device. */
  get smmuDevice(): Device {
    return this.device(`${SMMU_BASE.toString(16)}.iommu`);
  }

  /** The platform DMA engine's device. */
  get engineDevice(): Device {
    return this.device(`${ENGINE_BASE.toString(16)}.dma-controller`);
  }

  /** A test endpoint's device by its node name. */
  endpoint(name: string): Device {
    const i = (this.options.endpoints ?? []).findIndex((e) => e.name === name);
    if (i < 0) throw new Error(`no endpoint ${name}`);
    return this.device(`${(ENDPOINT_BASE + BigInt(i) * 0x1000n).toString(16)}.${name}`);
  }

  /**
   * A transaction through the model (as a device would issue it): the output address, or the
   * event it caused ('none' when it was terminated without one, as an abort STE does).
   */
  translate(sid: number, iova: bigint, access: { write?: boolean; ssid?: number } = {}): { address: bigint } | { event: string; reason: string } {
    const r = this.smmu.translate({ sid, address: iova, write: access.write ?? false, ssid: access.ssid });
    if (r.outcome !== Outcome.Ok) return r.event === 0 ? { event: 'none', reason: '' } : { event: eventName(r.event), reason: EVENT_DESCRIPTIONS[r.event] ?? '' };
    return { address: r.address(Number(iova & 0xfffn)) };
  }

  /** The driver's Command-queue pointer (index and wrap flag), to mark where a test starts. */
  get commandMark(): number {
    return this.driver.cmdq.producerIndex;
  }

  /**
   * The commands the driver wrote from pointer `from` up to its producer pointer, decoded. A
   * CMD_SYNC completed by its MSI has had its first word overwritten with the MSI's data (0):
   * it is recognised by its MSI address, which points at its own slot.
   */
  commandsSince(from: number): { name: string; fields: Record<string, bigint>; words: CommandWords }[] {
    const q = this.driver.cmdq;
    const out: { name: string; fields: Record<string, bigint>; words: CommandWords }[] = [];
    const mask = (2 << q.ring.log2Entries) - 1;
    for (let p = from; p !== q.producerIndex; p = (p + 1) & mask) {
      const w = q.entry(p);
      const msiCompleted = (w[0] & 0xffff_ffffn) === 0n && (w[1] & ((1n << 56n) - 4n)) === q.ring.address(p);
      out.push({ name: msiCompleted ? 'CMD_SYNC' : commandName(w), fields: decodeCommand(w).fields, words: w });
    }
    return out;
  }

  /** Names of the commands written since `from`. */
  commandNamesSince(from: number): string[] {
    return this.commandsSince(from).map((c) => c.name);
  }
}

function machineDts(o: SmmuV3MachineOptions): string {
  const irq = o.interrupts ?? 'named';
  const all = `<${SMMU_IRQ.eventq} ${SMMU_IRQ.priq} ${SMMU_IRQ.cmdqSync} ${SMMU_IRQ.gerror}>`;
  const interrupts: Record<SmmuInterrupts, string> = {
    named: `interrupts = ${all};\n\t\t\tinterrupt-names = "eventq", "priq", "cmdq-sync", "gerror";`,
    combined: `interrupts = <${SMMU_IRQ.eventq}>;\n\t\t\tinterrupt-names = "combined";`,
    'msi-parent': `interrupts = ${all};\n\t\t\tinterrupt-names = "eventq", "priq", "cmdq-sync", "gerror";\n\t\t\tmsi-parent = <&imsic>;`,
    'msi-only': 'msi-parent = <&imsic>;',
    unnamed: `interrupts = ${all};`,
    'no-gerror': `interrupts = <${SMMU_IRQ.eventq} ${SMMU_IRQ.priq}>;\n\t\t\tinterrupt-names = "eventq", "priq";`,
    none: '',
  };
  const smmuCells = (sids: readonly number[]) => sids.map((s) => `&smmu ${hexCell(s)}`).join(' ');
  const smmu = `smmu: iommu@${SMMU_BASE.toString(16)} {
			compatible = "arm,smmu-v3";
			reg = ${regCells(SMMU_BASE, SMMU_SIZE)};
			${interrupts[irq]}
			${o.coherent === false ? '' : 'dma-coherent;'}
			#iommu-cells = <1>;
			${o.smmuProperties ?? ''}
		};`;
  const engine = dmaEngineNode({ base: ENGINE_BASE, irq: ENGINE_IRQ, iommus: smmuCells(o.engineSids ?? [ENGINE_SID]) });
  const endpoints = (o.endpoints ?? []).map((e, i) => testEndpointNode(e.name, ENDPOINT_BASE + BigInt(i) * 0x1000n, smmuCells(e.sids)));
  const pci =
    o.pci !== undefined
      ? pciHostNode({
          base: ECAM_BASE,
          buses: ECAM_BUSES,
          ranges: [pciMemRange(PCI_MEM_BASE, 0x1000_0000n)],
          body: `iommu-map = <0x0 &smmu 0x0 0x10000>;
			${o.atsSupported === false ? '' : 'ats-supported;'}`,
        })
      : '';
  return boardDts({
    layout: SMMUV3_MACHINE_LAYOUT,
    compatible: 'iommu-lab,smmuv3-machine',
    model: 'iommu-lab SMMUv3 test machine',
    soc: [smmu, engine, ...endpoints, pci],
  });
}
