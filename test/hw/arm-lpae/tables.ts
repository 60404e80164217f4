// Hand-built VMSAv8-64 tables for walker tests: descriptors encoded with the format's BigInt
// helpers (not the software builder), written at addresses computed here from the Arm ARM's
// index rules (Tables D8-25, D8-34 and their 64 KiB equivalent).

import { levelShift } from '../../../src/formats/arm-lpae/index.js';
import type { VmsaWalkConfig } from '../../../src/hw/arm-lpae/index.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { bswap64 } from '../../../src/sim/u64.js';

export class Tables {
  readonly memory = new PhysicalMemory();
  private next = 0x8000_0000n;

  constructor(
    readonly config: VmsaWalkConfig,
    private readonly bigEndian = config.bigEndian,
  ) {}

  /** A zeroed table of `bytes` (default one granule), aligned to its size. */
  alloc(bytes = 2 ** this.config.granuleLog2): bigint {
    const size = BigInt(Math.max(bytes, 4096));
    this.next = (this.next + size - 1n) & ~(size - 1n);
    const at = this.next;
    this.next += size;
    return at;
  }

  /** The start-level table, sized for the configuration (concatenated tables included). */
  allocRoot(): bigint {
    const g = this.config.granuleLog2;
    return this.alloc(8 * 2 ** (this.config.inputBits - levelShift(g, this.config.startLevel)));
  }

  /** Index of input address `ia` in a table at `level`. */
  index(ia: bigint, level: number): bigint {
    const c = this.config;
    const bits = level === c.startLevel ? c.inputBits - levelShift(c.granuleLog2, level) : c.granuleLog2 - 3;
    return (ia >> BigInt(levelShift(c.granuleLog2, level))) & ((1n << BigInt(bits)) - 1n);
  }

  /** Address of the descriptor for `ia` in the table at `table` (a table at `level`). */
  slot(table: bigint, ia: bigint, level: number): bigint {
    return table + 8n * this.index(ia, level);
  }

  set(address: bigint, desc: bigint): void {
    this.memory.write(address, 8, this.bigEndian ? bswap64(desc) : desc);
  }

  get(address: bigint): bigint {
    const raw = this.memory.read(address, 8);
    return this.bigEndian ? bswap64(raw) : raw;
  }
}

/** Splits a byte address into the walker's halves. */
export function halves(address: bigint): [number, number] {
  return [Number(address >> 32n), Number(address & 0xffff_ffffn)];
}
