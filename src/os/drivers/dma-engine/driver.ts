// Driver for the iommu-lab DMA engine, on the platform bus ("iommu-lab,dma-engine") and as
// a PCI endpoint (vendor 0x1b36, device 0x00d1). Probe maps the registers (the `reg` window,
// or BAR0), checks the ID register, and for the platform device requests its interrupt; the
// PCI function is polled (INTx routing through interrupt-map is not supported).

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { hex } from '../../../sim/u64.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';
import { DmaEngineChannel } from './channel.js';
import { DMAE, DMAE_ID_VALUE } from './registers.js';

export const DMA_ENGINE_COMPATIBLE = 'iommu-lab,dma-engine';
export const DMA_ENGINE_PCI_VENDOR = 0x1b36;
export const DMA_ENGINE_PCI_DEVICE = 0x00d1;
const REGISTER_WINDOW = 0x1000n;

export const dmaEngineDriver: Driver = {
  name: 'dma-engine',
  compatible: [DMA_ENGINE_COMPATIBLE],
  pci: [{ vendor: DMA_ENGINE_PCI_VENDOR, device: DMA_ENGINE_PCI_DEVICE }],
  probe(dev: Device, kernel: Kernel): ProbeResult {
    let base: bigint;
    let size: bigint;
    if (dev.pci !== null) {
      const bar = dev.pci.bars.find((b) => b.index === 0);
      if (bar === undefined) return { error: 'BAR0 is not assigned' };
      ({ base, size } = bar);
    } else {
      ({ base, size } = region(dev.node as DtNode));
    }
    if (size < REGISTER_WINDOW) return { error: `register window of ${hex(size)} bytes is smaller than ${hex(REGISTER_WINDOW)}` };
    const regs = kernel.ioremap(base, REGISTER_WINDOW);
    const id = regs.read32(DMAE.ID);
    if (id !== DMAE_ID_VALUE) return { error: `ID register reads ${hex(id, 8)}, expected ${hex(DMAE_ID_VALUE, 8)}` };
    const node = dev.node;
    const wired = dev.pci === null && node !== null && (node.has('interrupts') || node.has('interrupts-extended'));
    const channel = new DmaEngineChannel(kernel, dev, regs, wired ? 'irq' : 'poll');
    if (wired) {
      try {
        if (!kernel.irq.request(node, 0, () => channel.handleInterrupt(), dev.name)) return { defer: 'waiting for its interrupt controller' };
      } catch (e) {
        return { error: (e as Error).message };
      }
    }
    dev.driverData = channel;
    const version = regs.read32(DMAE.VERSION);
    kernel.log.info(dev.name, `DMA engine v${version >>> 16}.${version & 0xffff} at ${hex(base)}, ${channel.mode === 'irq' ? 'interrupt-driven' : 'polled'}`);
    return 'bound';
  },
};

/** The DMA engine behind `dev`, once the driver has bound. */
export function dmaEngineOf(dev: Device): DmaEngineChannel {
  if (dev.driver !== dmaEngineDriver || !(dev.driverData instanceof DmaEngineChannel)) {
    throw new Error(`${dev.name} is not a DMA engine bound to the dma-engine driver (state ${dev.state}${dev.reason ? `: ${dev.reason}` : ''})`);
  }
  return dev.driverData;
}
