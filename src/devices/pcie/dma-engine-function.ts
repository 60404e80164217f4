// A PCIe endpoint hosting the iommu-lab DMA engine: the engine's registers behind BAR0
// (32-bit, non-prefetchable, 4 KiB), its DMA issued as the function (requester id
// bus << 8 | devfn, gated by Bus Master Enable), its completion interrupt on INTA, and the
// PCI Express and ATS capabilities. Once software sets ATS Control.Enable, the engine's
// transactions go through the function's Address Translation Cache: translated requests for
// the pages it holds, ATS Translation Requests for the others (see ats-port.ts).

import type { Clock } from '../../sim/clock.js';
import { UnconnectedDmaPort } from '../dma-port.js';
import { DmaEngine } from '../dma-engine/dma-engine.js';
import { DMA_ENGINE_REGION_SIZE } from '../dma-engine/registers.js';
import { PCI_DMA_ENGINE_IDS } from './ids.js';
import { PciFunction, type AtsOptions, type PcieDeviceType } from './pci-function.js';

export interface PciDmaEngineFunctionOptions {
  name?: string;
  clock?: Clock;
  /** Engine throughput (0: transfers complete inside the START write); see DmaEngine. */
  bytesPerCycle?: number;
  burstBytes?: number;
  /** The ATS extended capability and the ATC behind it (default: present, with the default ATC). */
  ats?: AtsOptions | boolean;
  pcieType?: PcieDeviceType;
}

export class PciDmaEngineFunction extends PciFunction {
  readonly engine: DmaEngine;

  constructor(o: PciDmaEngineFunctionOptions = {}) {
    const name = o.name ?? 'pci-dma-engine';
    const engine = new DmaEngine({ name, port: new UnconnectedDmaPort(), clock: o.clock, bytesPerCycle: o.bytesPerCycle, burstBytes: o.burstBytes });
    super({
      name,
      ...PCI_DMA_ENGINE_IDS,
      revision: 1,
      bars: [{ size: DMA_ENGINE_REGION_SIZE, device: engine }],
      interruptPin: 1,
      pcieType: o.pcieType,
      ats: o.ats ?? true,
    });
    this.engine = engine;
    engine.port = this.dma;
    engine.irq.onChange((level) => this.setInterruptLevel(level));
  }

  protected override onAttach(): void {
    this.engine.requester.deviceId = this.rid;
  }
}
