// A machine for the virtio driver tests: RAM, a PLIC, optionally an IMSIC interrupt file
// (for MSI-X), a virtio-mmio slot on PLIC source 8 and a PCIe host bridge with a virtio-pci
// function at 00:01.0, both with the echo device model; a kernel with the PLIC, IMSIC, PCI
// host and virtio transport drivers and a VirtioBus holding the test's virtio drivers.

import { DirectDmaPort } from '../../../../src/devices/dma-port.js';
import type { Plic } from '../../../../src/devices/plic.js';
import { PcieHostBridge } from '../../../../src/devices/pcie/index.js';
import { writeDtb } from '../../../../src/formats/dtb/index.js';
import { VirtioMmioTransport, VirtioPciFunction, type VirtioDeviceModel, type VirtioPciFunctionOptions, type VirtioTransportParameters } from '../../../../src/hw/virtio/index.js';
import { imsicDriver } from '../../../../src/os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../../../src/os/drivers/irqchip/plic.js';
import { pciHostEcamDriver } from '../../../../src/os/drivers/pci/index.js';
import { VirtioBus, virtioDeviceOf, type VirtioDevice, type VirtioDriver } from '../../../../src/os/drivers/virtio/index.js';
import type { Kernel } from '../../../../src/os/kernel/kernel.js';
import { parseDts } from '../../../../src/platform/dts/index.js';
import type { Clock } from '../../../../src/sim/clock.js';
import type { Hart } from '../../../../src/sim/hart.js';
import type { MsiController } from '../../../../src/sim/irq.js';
import type { MmioDevice } from '../../../../src/sim/mmio.js';
import type { PhysicalMemory } from '../../../../src/sim/physical-memory.js';
import type { SystemBus } from '../../../../src/sim/system-bus.js';
import { boardDts, pciHostNode, pciMemRange, regCells, type BoardLayout } from '../../../support/dts-parts.js';
import { assignBarsFromTree, bootKernel, KernelMachine, riscvBoard } from '../../../support/test-machine.js';
import { EchoDevice, type EchoDeviceOptions } from '../../../hw/virtio/echo-device.js';

export const MMIO_BASE = 0x1000_1000n;
export const MMIO_IRQ = 8;
export const IMSIC_BASE = 0x2800_0000n;
export const MMIO_NAME = '10001000.virtio_mmio';
export const PCI_NAME = '0000:00:01.0';

export interface TransportSpec {
  echo?: EchoDeviceOptions;
  model?: VirtioDeviceModel;
  parameters?: VirtioTransportParameters & Partial<Omit<VirtioPciFunctionOptions, 'model'>>;
}

export interface VirtioMachineOptions {
  /** The virtio-mmio slot (null: none). */
  mmio?: TransportSpec | null;
  /** Describe the slot's interrupt in the device tree (default true). */
  mmioIrq?: boolean;
  /** Puts something between the bus and the virtio-mmio registers (to present odd values to the driver). */
  wrapMmio?: (registers: MmioDevice) => MmioDevice;
  /** The virtio-pci function (null: none). */
  pci?: TransportSpec | null;
  /** An IMSIC interrupt file, so that MSI-X works (default true). */
  msi?: boolean;
  drivers?: VirtioDriver[];
  transportFeatures?: bigint;
  boot?: boolean;
}

function layout(o: VirtioMachineOptions): BoardLayout {
  return {
    ram: { base: 0x8000_0000n, size: 0x400_0000n },
    plic: { base: 0x0c00_0000n, sources: 63 },
    imsic: o.msi === false ? null : { base: IMSIC_BASE, ids: 255 },
  };
}

export class VirtioMachine extends KernelMachine {
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  readonly clock: Clock;
  readonly plic: Plic;
  readonly imsic: MsiController | null;
  readonly hart: Hart;
  readonly mmio: VirtioMmioTransport | null = null;
  readonly pci: VirtioPciFunction | null = null;
  readonly pcie: PcieHostBridge;
  readonly virtio: VirtioBus;
  readonly kernel: Kernel;

  constructor(readonly options: VirtioMachineOptions = {}) {
    super();
    const board = riscvBoard(layout(options));
    ({ memory: this.memory, bus: this.bus, clock: this.clock, plic: this.plic, imsic: this.imsic, hart: this.hart } = board);
    const port = new DirectDmaPort(this.bus);
    const mmio = options.mmio === undefined ? {} : options.mmio;
    if (mmio !== null) {
      const model = mmio.model ?? new EchoDevice(mmio.echo);
      this.mmio = new VirtioMmioTransport({ ...mmio.parameters, model, port, irq: this.plic.sources[MMIO_IRQ] });
      this.bus.mmio.map('virtio-mmio', MMIO_BASE, 0x200n, options.wrapMmio?.(this.mmio) ?? this.mmio);
    }
    this.pcie = new PcieHostBridge({ upstream: port });
    this.bus.mmio.map('ecam', 0x3000_0000n, this.pcie.ecamSize, this.pcie);
    const pci = options.pci === undefined ? {} : options.pci;
    if (pci !== null) {
      const model = pci.model ?? new EchoDevice(pci.echo);
      this.pci = new VirtioPciFunction({ ...pci.parameters, model });
      this.pcie.attach(this.pci, 1, 0);
    }
    const dt = parseDts(dts(options), { file: 'virtio-machine.dts' });
    assignBarsFromTree(this.pcie, dt, this.bus);
    this.virtio = new VirtioBus({ drivers: options.drivers ?? [], transportFeatures: options.transportFeatures });
    this.kernel = bootKernel(board, writeDtb(dt), { drivers: [plicDriver, imsicDriver, pciHostEcamDriver, this.virtio.mmioDriver, this.virtio.pciDriver] }, options.boot !== false);
  }

  get mmioEcho(): EchoDevice {
    return this.mmio?.core.model as EchoDevice;
  }

  get pciEcho(): EchoDevice {
    return this.pci?.core.model as EchoDevice;
  }

  /** The virtio device of transport device `name` (MMIO_NAME or PCI_NAME). */
  vdev(name: string): VirtioDevice {
    const v = virtioDeviceOf(this.device(name));
    if (v === null) throw new Error(`${name} has no virtio device (state ${this.device(name).state}: ${this.device(name).reason})\n${this.logText()}`);
    return v;
  }
}

function dts(o: VirtioMachineOptions): string {
  const mmio =
    o.mmio === null
      ? ''
      : `virtio_mmio@${MMIO_BASE.toString(16)} {
			compatible = "virtio,mmio";
			reg = ${regCells(MMIO_BASE, 0x200)};
			${o.mmioIrq === false ? '' : `interrupts = <${MMIO_IRQ}>;`}
		};`;
  const pci = pciHostNode({ base: 0x3000_0000n, buses: 16, ranges: [pciMemRange(0x4000_0000n, 0x1000_0000n)] });
  return boardDts({ layout: layout(o), compatible: 'iommu-lab,virtio-test', model: 'iommu-lab virtio test machine', soc: [mmio, pci] });
}
