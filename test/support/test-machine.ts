// The part every hand-built RISC-V test machine shares: RAM, the system bus, a clock, one hart,
// the PLIC (its context 1 driving the hart's supervisor external interrupt, as the device tree
// of dts-parts.ts says) and optionally an IMSIC-style interrupt file, all mapped at the places
// the machine's BoardLayout gives; BARs assigned from the device tree; a kernel booted from the machine's DTB; and the look-ups the
// tests make in that kernel (devices by name, the log).

import { assignBars, pciWindowsOf, type BarAssignment, type PcieHostBridge } from '../../src/devices/pcie/index.js';
import { Plic, PLIC_REGION_SIZE } from '../../src/devices/plic.js';
import type { DeviceTree } from '../../src/formats/devicetree/tree.js';
import type { Device } from '../../src/os/driver-model/device.js';
import { Kernel, type KernelOptions } from '../../src/os/kernel/kernel.js';
import type { KernelLog } from '../../src/os/kernel/log.js';
import { Clock } from '../../src/sim/clock.js';
import { Hart } from '../../src/sim/hart.js';
import { MsiController } from '../../src/sim/irq.js';
import { MmioBus } from '../../src/sim/mmio.js';
import { PhysicalMemory, type Endianness } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';
import type { BoardLayout } from './dts-parts.js';

export interface RiscvBoard {
  memory: PhysicalMemory;
  bus: SystemBus;
  clock: Clock;
  hart: Hart;
  plic: Plic;
  imsic: MsiController | null;
}

type ImsicLayout = NonNullable<BoardLayout['imsic']>;

/** The board's models, wired and mapped; `endianness` is RAM's byte order as the CPU sees it. */
export function riscvBoard(layout: BoardLayout & { imsic: ImsicLayout }, endianness?: Endianness): RiscvBoard & { imsic: MsiController };
export function riscvBoard(layout: BoardLayout, endianness?: Endianness): RiscvBoard;
export function riscvBoard(layout: BoardLayout, endianness: Endianness = 'little'): RiscvBoard {
  const memory = new PhysicalMemory({ endianness });
  const bus = new SystemBus(memory, new MmioBus());
  const imsic = layout.imsic === null ? null : new MsiController('imsic', layout.imsic.base, layout.imsic.ids);
  const hart = new Hart(0, imsic);
  const plic = new Plic('plic', layout.plic.sources, 2);
  // Context 1 is hart 0's supervisor external interrupt (the PLIC's interrupts-extended entry 9).
  plic.contexts[1].onChange((level) => hart.externalInterrupt.set(level));
  bus.mmio.map('plic', layout.plic.base, PLIC_REGION_SIZE, plic);
  if (imsic !== null) bus.mmio.map('imsic', imsic.base, 0x1000n, imsic);
  return { memory, bus, clock: new Clock(), hart, plic, imsic };
}

/** A kernel on the board, started from `dtb` and booted unless `boot` is false. */
export function bootKernel(board: RiscvBoard, dtb: Uint8Array, options: KernelOptions, boot = true): Kernel {
  const kernel = new Kernel({ dtb, memory: board.memory, bus: board.bus, clock: board.clock, hart: board.hart }, options);
  if (boot) kernel.boot();
  return kernel;
}

/** Assigns the host bridge's BARs from the windows of its node in `tree` (as firmware would). */
export function assignBarsFromTree(pcie: PcieHostBridge, tree: DeviceTree, bus: SystemBus, path = '/soc/pci@30000000'): BarAssignment[] {
  const host = tree.find(path);
  if (host === undefined) throw new Error(`the test device tree has no host bridge at ${path}`);
  return assignBars(pcie, pciWindowsOf(host), bus);
}

/** The log, one record a line ("[level] source: message"). */
export function logText(log: KernelLog): string {
  return log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
}

/** Log messages ("source: message") matching `pattern`. */
export function logMatching(log: KernelLog, pattern: RegExp): string[] {
  return log.records.map((r) => `${r.source}: ${r.message}`).filter((m) => pattern.test(m));
}

/** The look-ups tests make in a machine's kernel. */
export abstract class KernelMachine {
  abstract readonly kernel: Kernel;

  /** A device by name ("3020000.dma-controller", "0000:00:01.0"); throws with the devices and the log when absent. */
  device(name: string): Device {
    const d = this.kernel.drivers.find((x) => x.name === name);
    if (d === undefined) throw new Error(`no device ${name}; devices: ${this.kernel.drivers.devices.map((x) => x.name).join(', ')}\n${this.logText()}`);
    return d;
  }

  logText(): string {
    return logText(this.kernel.log);
  }

  /** Log messages ("source: message") matching `pattern`. */
  logMatching(pattern: RegExp): string[] {
    return logMatching(this.kernel.log, pattern);
  }
}
