// A small machine built by hand for tests of the virtio-iommu driver: RAM, the system bus, a
// clock, one hart with a PLIC, a virtio-mmio transport carrying the VirtioIommu model on the
// MMIO bus (its wire on PLIC source 1), and DMA engines whose upstream port is the model's
// dmaPort, each known to it by an endpoint id; a device tree (DTS text, written to the DTB the
// kernel boots from) with the `virtio,mmio` node (#iommu-cells = <1>) and the engines' `iommus
// = <&viommu id>`; and a kernel with the PLIC, virtio-mmio (with the virtio-iommu driver on its
// bus) and DMA-engine drivers. Tests may look at both sides.

import { DirectDmaPort } from '../../src/devices/dma-port.js';
import { DmaEngine } from '../../src/devices/dma-engine/index.js';
import type { Plic } from '../../src/devices/plic.js';
import type { DeviceTree } from '../../src/formats/devicetree/tree.js';
import { writeDtb } from '../../src/formats/dtb/index.js';
import type { VirtioTransportParameters } from '../../src/hw/virtio/index.js';
import { VirtioMmioTransport } from '../../src/hw/virtio/index.js';
import { VirtioIommu, type ReservedRegion, type VirtioIommuConfig, type VirtioIommuEndpointOptions } from '../../src/hw/virtio-iommu/index.js';
import type { IommuPolicy } from '../../src/os/core/iommu-core.js';
import type { DmaOptions } from '../../src/os/dma/dma-api.js';
import type { Device } from '../../src/os/driver-model/device.js';
import { dmaEngineDriver, dmaEngineOf } from '../../src/os/drivers/dma-engine/index.js';
import type { DmaEngineChannel } from '../../src/os/drivers/dma-engine/channel.js';
import { plicDriver } from '../../src/os/drivers/irqchip/plic.js';
import type { VirtioBus } from '../../src/os/drivers/virtio/bus.js';
import { createVirtioIommuBus, virtioIommuInstanceOf, type VirtioIommuDevice, type VirtioIommuDriverOptions } from '../../src/os/drivers/virtio-iommu/index.js';
import type { Kernel } from '../../src/os/kernel/kernel.js';
import { parseDts } from '../../src/platform/dts/index.js';
import type { Clock } from '../../src/sim/clock.js';
import type { Hart } from '../../src/sim/hart.js';
import type { PhysicalMemory } from '../../src/sim/physical-memory.js';
import type { SystemBus } from '../../src/sim/system-bus.js';
import { boardDts, dmaEngineNode, regCells } from './dts-parts.js';
import { bootKernel, KernelMachine, riscvBoard } from './test-machine.js';

export const RAM_BASE = 0x8000_0000n;
export const RAM_SIZE = 0x400_0000n; // 64 MiB
export const PLIC_BASE = 0x0c00_0000n;
export const VIOMMU_BASE = 0x1000_1000n;
export const VIOMMU_IRQ = 1;
export const ENGINE_BASE = 0x0302_0000n;
export const ENGINE_IRQ_BASE = 40;

export interface EngineSpec {
  /** The endpoint id its requests carry, which the model manages. */
  endpoint: number;
  /** The id its `iommus` specifier gives the kernel (default `endpoint`; another id makes the two disagree). */
  dtEndpoint?: number;
  /** RESV_MEM regions the model reports for this endpoint (in addition to the device-wide ones). */
  reservedRegions?: readonly ReservedRegion[];
}

export interface VirtioIommuMachineOptions {
  /** Model parameters (features, page_size_mask, ranges, reserved regions, refusal policies, ...). */
  viommu?: Omit<VirtioIommuConfig, 'upstream' | 'endpoints'>;
  /** DMA engines behind the virtio-iommu (default: one with endpoint id 5). */
  engines?: readonly EngineSpec[];
  /** Endpoint ids the model manages besides the engines' (devices nobody drives). */
  extraEndpoints?: readonly number[];
  /** Transport parameters (EVENT_IDX, INDIRECT_DESC, ...). */
  transport?: VirtioTransportParameters;
  /** Options of the virtio-iommu driver (batching). */
  driver?: VirtioIommuDriverOptions;
  policy?: Partial<IommuPolicy>;
  dma?: DmaOptions;
  /** Put the engines before the virtio-iommu in the device tree (they then defer until it registers). */
  enginesFirst?: boolean;
  /** Leave `interrupts` out of the virtio-mmio node: the kernel polls the device. */
  polled?: boolean;
  /** Edits the device tree before the DTB is written. */
  editTree?: (dt: DeviceTree) => void;
  /** Boot the kernel (default true). */
  boot?: boolean;
}

export const VIRTIO_IOMMU_MACHINE_LAYOUT = {
  ram: { base: RAM_BASE, size: RAM_SIZE },
  plic: { base: PLIC_BASE, sources: 63 },
  imsic: null,
} as const;

export class VirtioIommuMachine extends KernelMachine {
  readonly memory: PhysicalMemory;
  readonly bus: SystemBus;
  readonly clock: Clock;
  readonly hart: Hart;
  readonly plic: Plic;
  readonly viommu: VirtioIommu;
  readonly transport: VirtioMmioTransport;
  readonly engines: DmaEngine[];
  readonly specs: readonly EngineSpec[];
  readonly virtioBus: VirtioBus;
  readonly tree: DeviceTree;
  readonly dtb: Uint8Array;
  readonly kernel: Kernel;

  constructor(readonly options: VirtioIommuMachineOptions = {}) {
    super();
    const board = riscvBoard(VIRTIO_IOMMU_MACHINE_LAYOUT);
    ({ memory: this.memory, bus: this.bus, clock: this.clock, hart: this.hart, plic: this.plic } = board);
    this.specs = options.engines ?? [{ endpoint: 5 }];

    const upstream = new DirectDmaPort(this.bus);
    const endpoints: (number | VirtioIommuEndpointOptions)[] = [
      ...this.specs.map((e) => ({ id: e.endpoint, reservedRegions: e.reservedRegions })),
      ...(options.extraEndpoints ?? []),
    ];
    this.viommu = new VirtioIommu({ ...options.viommu, upstream, endpoints });
    this.transport = new VirtioMmioTransport({ ...options.transport, name: 'virtio-iommu', model: this.viommu, port: upstream, irq: this.plic.sources[VIOMMU_IRQ] });
    this.bus.mmio.map('viommu', VIOMMU_BASE, BigInt(this.transport.regionSize), this.transport);

    this.engines = this.specs.map((e, i) => {
      const engine = new DmaEngine({ name: `dma${i}`, port: this.viommu.dmaPort, deviceId: e.endpoint, irq: this.plic.sources[ENGINE_IRQ_BASE + i], clock: this.clock });
      this.bus.mmio.map(`dma${i}`, ENGINE_BASE + BigInt(i) * 0x1000n, 0x1000n, engine);
      return engine;
    });

    this.tree = parseDts(machineDts(this.specs, this.transport.regionSize, options), { file: 'virtio-iommu-machine.dts' });
    options.editTree?.(this.tree);
    this.dtb = writeDtb(this.tree);
    this.virtioBus = createVirtioIommuBus({ iommu: options.driver });
    this.kernel = bootKernel(board, this.dtb, { drivers: [plicDriver, this.virtioBus.mmioDriver, dmaEngineDriver], iommu: options.policy, dma: options.dma }, options.boot !== false);
  }

  /** The driver's state of the registered virtio-iommu; throws when none registered. */
  get driver(): VirtioIommuDevice {
    const d = virtioIommuInstanceOf(this.kernel.iommu.instances[0]);
    if (d === null) throw new Error(`no virtio-iommu registered; log:\n${this.logText()}`);
    return d;
  }

  /** The virtio-mmio transport's device ("10001000.virtio_mmio"). */
  get viommuDevice(): Device {
    return this.device(`${VIOMMU_BASE.toString(16)}.virtio_mmio`);
  }

  /** The kernel's device of engine `i` ("3020000.dma", "3021000.dma", ...). */
  engineDevice(i = 0): Device {
    return this.device(`${(ENGINE_BASE + BigInt(i) * 0x1000n).toString(16)}.dma`);
  }

  /** The DMA-engine driver's channel of engine `i`. */
  channel(i = 0): DmaEngineChannel {
    return dmaEngineOf(this.engineDevice(i));
  }

  /** Zeroed pages from the kernel's allocator (a driver's buffer); returns its physical address. */
  buffer(pages = 1): bigint {
    return BigInt(this.kernel.pages.allocPages(pages)) << 12n;
  }
}

function machineDts(engines: readonly EngineSpec[], regionSize: number, o: VirtioIommuMachineOptions): string {
  const viommu = `viommu: virtio_mmio@${VIOMMU_BASE.toString(16)} {
			compatible = "virtio,mmio";
			reg = ${regCells(VIOMMU_BASE, regionSize)};
			${o.polled === true ? '' : `interrupts = <${VIOMMU_IRQ}>;`}
			#iommu-cells = <1>;
		};`;
  const nodes = engines.map((e, i) => dmaEngineNode({ name: 'dma', base: ENGINE_BASE + BigInt(i) * 0x1000n, irq: ENGINE_IRQ_BASE + i, iommus: `&viommu ${e.dtEndpoint ?? e.endpoint}` }));
  return boardDts({
    layout: VIRTIO_IOMMU_MACHINE_LAYOUT,
    compatible: 'iommu-lab,virtio-iommu-test',
    model: 'iommu-lab virtio-iommu test machine',
    soc: o.enginesFirst === true ? [...nodes, viommu] : [viommu, ...nodes],
  });
}
