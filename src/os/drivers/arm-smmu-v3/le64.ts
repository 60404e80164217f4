// The SMMU's in-memory structures (queues, Stream table, CD tables) are little-endian whatever
// the CPU's byte order (IHI 0070 3.3, 5.2, 5.4; IDR0.TTENDIAN concerns translation tables
// only), so the driver converts as Linux's cpu_to_le64 / le64_to_cpu do.

import type { PhysicalMemory } from '../../../sim/physical-memory.js';
import { bswap32, bswap64 } from '../../../sim/u64.js';

export function readLe64(memory: PhysicalMemory, address: bigint): bigint {
  const v = memory.read(address, 8);
  return memory.endianness === 'big' ? bswap64(v) : v;
}

export function writeLe64(memory: PhysicalMemory, address: bigint, value: bigint): void {
  memory.write(address, 8, memory.endianness === 'big' ? bswap64(value) : value);
}

/** The first 32 bits (bits [31:0] of the first doubleword) of a little-endian structure. */
export function readLe32(memory: PhysicalMemory, address: bigint): number {
  const v = Number(memory.read(address, 4));
  return memory.endianness === 'big' ? bswap32(v) : v;
}
