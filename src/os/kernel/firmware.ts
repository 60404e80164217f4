// What the platform hands the operating system at boot, as firmware does on a real machine:
// the flattened device tree, and the processor's view of the world — loads and stores to RAM
// and to device registers, simulated time, and the hart's interrupt inputs.

import type { Clock } from '../../sim/clock.js';
import type { Hart } from '../../sim/hart.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';

export interface Firmware {
  /** The flattened device tree blob; the kernel parses it itself. */
  dtb: Uint8Array;
  /** The CPU's loads and stores to RAM. */
  memory: PhysicalMemory;
  /** The CPU's loads and stores to device registers (and RAM) by physical address. */
  bus: SystemBus;
  /** Simulated time: timers and timeouts. */
  clock: Clock;
  /** The processor the kernel runs on. */
  hart: Hart;
}
