// BAR assignment, the firmware's job before the OS boots: every memory BAR of every function
// on the host bridge gets an address in one of the bridge's memory windows (its `ranges`),
// and each assigned BAR is mapped on the system bus as a region that forwards to the device
// behind it. The order is deterministic: functions by requester id, BARs by index, each at
// the lowest free address of the first window that fits, aligned to its size. A 32-bit BAR
// goes to a 32-bit memory window below 4 GiB; a 64-bit BAR prefers 64-bit windows, then
// 32-bit ones. Prefetchability is not considered. Command registers are left as they are
// (the OS enables decoding).

import type { MmioRegion } from '../../sim/mmio.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { hex } from '../../sim/u64.js';
import { BarWindow } from './bar-window.js';
import { PciCfg } from './config-space.js';
import type { PcieHostBridge } from './host-bridge.js';
import type { PciFunction } from './pci-function.js';
import type { PciWindow } from './ranges.js';

export interface BarAssignment {
  fn: PciFunction;
  index: number;
  size: bigint;
  /** Address in the BAR (PCI bus address) and where the CPU reaches it. */
  pciAddress: bigint;
  cpuAddress: bigint;
  window: PciWindow;
  region: MmioRegion;
}

export class PciResourceError extends Error {}

const FOUR_GIB = 1n << 32n;

export function assignBars(bridge: PcieHostBridge, windows: readonly PciWindow[], bus: SystemBus): BarAssignment[] {
  const cursors = windows.map((w) => (w.pciBase === 0n ? 1n : w.pciBase)); // keep bus address 0 unassigned-looking
  const out: BarAssignment[] = [];
  for (const fn of bridge.functions) {
    for (let index = 0; index < 6; index++) {
      const bar = fn.bars[index];
      if (bar === null) continue;
      const is64 = bar.is64 === true;
      const order = [...windows.keys()].filter((i) => windows[i].space === 'mem64' && is64).concat([...windows.keys()].filter((i) => windows[i].space === 'mem32' && (is64 || windows[i].pciBase + windows[i].size <= FOUR_GIB)));
      let placed: { w: number; addr: bigint } | null = null;
      for (const w of order) {
        const win = windows[w];
        const addr = (cursors[w] + bar.size - 1n) & ~(bar.size - 1n);
        if (addr + bar.size <= win.pciBase + win.size && (is64 || addr + bar.size <= FOUR_GIB)) {
          placed = { w, addr };
          break;
        }
      }
      if (placed === null) {
        throw new PciResourceError(`${bridge.name}: no room for ${fn.bdf} (${fn.name}) BAR${index} of ${hex(bar.size)} bytes in the host bridge's memory windows (ranges)`);
      }
      const win = windows[placed.w];
      cursors[placed.w] = placed.addr + bar.size;
      const off = PciCfg.BAR0 + 4 * index;
      fn.configWrite(off, 4, Number(placed.addr & 0xffff_ffffn));
      if (is64) fn.configWrite(off + 4, 4, Number(placed.addr >> 32n));
      const cpuAddress = win.cpuBase + (placed.addr - win.pciBase);
      const region = bus.mmio.map(`${bridge.name} ${fn.bdf} BAR${index} (${fn.name})`, cpuAddress, bar.size, new BarWindow(fn, index, placed.addr));
      out.push({ fn, index, size: bar.size, pciAddress: placed.addr, cpuAddress, window: win, region });
    }
  }
  return out;
}
