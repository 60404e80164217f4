// A machine for the virtio driver tests: RAM, a PLIC, optionally an IMSIC interrupt file
// (for MSI-X), a virtio-mmio slot on PLIC source 8 and a PCIe host bridge with a virtio-pci
// function at 00:01.0, both with the echo device model; a kernel with the PLIC, IMSIC, PCI
// host and virtio transport drivers and a VirtioBus holding the test's virtio drivers.

import { DirectDmaPort } from '../../../../src/devices/dma-port.js';
import { Plic, PLIC_REGION_SIZE } from '../../../../src/devices/plic.js';
import { assignBars, PcieHostBridge, pciWindowsOf } from '../../../../src/devices/pcie/index.js';
import { writeDtb } from '../../../../src/formats/dtb/index.js';
import { VirtioMmioTransport, VirtioPciFunction, type VirtioDeviceModel, type VirtioPciFunctionOptions, type VirtioTransportParameters } from '../../../../src/hw/virtio/index.js';
import { imsicDriver } from '../../../../src/os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../../../src/os/drivers/irqchip/plic.js';
import { pciHostEcamDriver } from '../../../../src/os/drivers/pci/index.js';
import { VirtioBus, virtioDeviceOf, type VirtioDevice, type VirtioDriver } from '../../../../src/os/drivers/virtio/index.js';
import { Kernel } from '../../../../src/os/kernel/kernel.js';
import { parseDts } from '../../../../src/platform/dts/index.js';
import { Clock } from '../../../../src/sim/clock.js';
import { Hart } from '../../../../src/sim/hart.js';
import { MsiController } from '../../../../src/sim/irq.js';
import type { MmioDevice } from '../../../../src/sim/mmio.js';
import { PhysicalMemory } from '../../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../../src/sim/system-bus.js';
import { ONE_HART_CPUS } from '../../../support/dts-parts.js';
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

export class VirtioMachine {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory);
  readonly clock = new Clock();
  readonly plic = new Plic('plic', 63, 2);
  readonly imsic: MsiController | null;
  readonly hart: Hart;
  readonly mmio: VirtioMmioTransport | null = null;
  readonly pci: VirtioPciFunction | null = null;
  readonly pcie: PcieHostBridge;
  readonly virtio: VirtioBus;
  readonly kernel: Kernel;

  constructor(readonly options: VirtioMachineOptions = {}) {
    this.imsic = options.msi === false ? null : new MsiController('imsic', IMSIC_BASE, 255);
    this.hart = new Hart(0, this.imsic);
    if (this.imsic !== null) this.bus.mmio.map('imsic', IMSIC_BASE, 0x1000n, this.imsic);
    this.bus.mmio.map('plic', 0x0c00_0000n, PLIC_REGION_SIZE, this.plic);
    this.plic.contexts[1].onChange((level) => this.hart.externalInterrupt.set(level));
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
    const host = dt.find('/soc/pci@30000000');
    if (host === undefined) throw new Error('the test device tree lost its host bridge');
    assignBars(this.pcie, pciWindowsOf(host), this.bus);
    this.virtio = new VirtioBus({ drivers: options.drivers ?? [], transportFeatures: options.transportFeatures });
    this.kernel = new Kernel(
      { dtb: writeDtb(dt), memory: this.memory, bus: this.bus, clock: this.clock, hart: this.hart },
      { drivers: [plicDriver, imsicDriver, pciHostEcamDriver, this.virtio.mmioDriver, this.virtio.pciDriver] },
    );
    if (options.boot !== false) this.kernel.boot();
  }

  get mmioEcho(): EchoDevice {
    return this.mmio?.core.model as EchoDevice;
  }

  get pciEcho(): EchoDevice {
    return this.pci?.core.model as EchoDevice;
  }

  device(name: string) {
    const d = this.kernel.drivers.find((x) => x.name === name);
    if (d === undefined) throw new Error(`no device ${name}: ${this.kernel.drivers.devices.map((x) => x.name).join(', ')}\n${this.logText()}`);
    return d;
  }

  /** The virtio device of transport device `name` (MMIO_NAME or PCI_NAME). */
  vdev(name: string): VirtioDevice {
    const v = virtioDeviceOf(this.device(name));
    if (v === null) throw new Error(`${name} has no virtio device (state ${this.device(name).state}: ${this.device(name).reason})\n${this.logText()}`);
    return v;
  }

  logText(): string {
    return this.kernel.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
  }
}

function dts(o: VirtioMachineOptions): string {
  const imsic =
    o.msi === false
      ? ''
      : `imsic: interrupt-controller@28000000 {
			compatible = "riscv,imsics";
			reg = <0x0 0x28000000 0x0 0x1000>;
			interrupt-controller;
			#interrupt-cells = <0>;
			msi-controller;
			interrupts-extended = <&cpu0_intc 9>;
			riscv,num-ids = <255>;
		};`;
  const mmio =
    o.mmio === null
      ? ''
      : `virtio_mmio@10001000 {
			compatible = "virtio,mmio";
			reg = <0x0 0x10001000 0x0 0x200>;
			${o.mmioIrq === false ? '' : `interrupt-parent = <&plic>;\n\t\t\tinterrupts = <${MMIO_IRQ}>;`}
		};`;
  return `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "iommu-lab,virtio-test";
	model = "iommu-lab virtio test machine";

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
		${imsic}
		${mmio}
		pci@30000000 {
			compatible = "pci-host-ecam-generic";
			device_type = "pci";
			#address-cells = <3>;
			#size-cells = <2>;
			reg = <0x0 0x30000000 0x0 0x1000000>;
			bus-range = <0x0 0xf>;
			linux,pci-domain = <0>;
			ranges = <0x02000000 0x0 0x40000000 0x0 0x40000000 0x0 0x10000000>;
		};
	};
};
`;
}
