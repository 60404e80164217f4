// Shared by the host + guest pair tests: the built-in pair's DTS text (to edit), the host's RISC-V
// IOMMU model, buffers and data patterns, and readable logs for failure messages.

import { readFileSync } from 'node:fs';
import type { RiscvIommu } from '../../../src/hw/riscv-iommu/index.js';
import type { DmaEngineChannel } from '../../../src/os/drivers/dma-engine/channel.js';
import { dmaEngineOf } from '../../../src/os/drivers/dma-engine/index.js';
import type { Kernel } from '../../../src/os/kernel/kernel.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { VirtualMachinePair, type AssignedDevice, type VirtualMachinePairOptions } from '../../../src/platform/vm/index.js';

export const ENGINE0 = '/soc/dma-controller@3020000';
export const ENGINE1 = '/soc/dma-controller@3021000';
export const GUEST_RAM = { base: 0xa000_0000n, end: 0xc000_0000n };

export function dts(name: 'riscv-virt-vfio-host' | 'riscv-virt-vfio-guest'): string {
  return readFileSync(new URL(`../../../src/platform/builtin/${name}.dts`, import.meta.url), 'utf8');
}

/** The built-in pair, its DTS texts edited first. */
export function pair(options: VirtualMachinePairOptions = {}, edit: { host?: (t: string) => string; guest?: (t: string) => string } = {}): VirtualMachinePair {
  const host = (edit.host ?? ((t) => t))(dts('riscv-virt-vfio-host'));
  const guest = (edit.guest ?? ((t) => t))(dts('riscv-virt-vfio-guest'));
  return new VirtualMachinePair(parseDts(host, { file: 'host.dts' }), parseDts(guest, { file: 'guest.dts' }), options);
}

export function hostIommu(vm: VirtualMachinePair): RiscvIommu {
  const m = vm.host.iommus[0];
  if (m.kind !== 'riscv-iommu') throw new Error(`expected the host's RISC-V IOMMU, got ${m.kind}`);
  return m.model;
}

export function channel(a: AssignedDevice): DmaEngineChannel {
  return dmaEngineOf(a.guestDevice);
}

/** A zeroed guest page (its guest-physical address, = host-physical). */
export function guestPage(vm: VirtualMachinePair, pages = 1): bigint {
  return BigInt(vm.guest.pages.allocPages(pages)) << 12n;
}

export function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);
}

export function logOf(kernel: Kernel): string {
  return kernel.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
}
