// The CPU's accesses that scenario steps make (alloc fills, `write`, `expect memory`, workload
// set-up and verification): data specifications turned into byte streams, written to and
// compared with memory a 32-bit word at a time through PhysicalMemory's number-based accessors
// (no BigInt per byte), chunk by chunk so that a 1 GiB buffer needs no 1 GiB array.

import type { PhysicalMemory } from '../sim/physical-memory.js';
import { Prng } from './prng.js';
import type { DataSpec } from './values.js';

/** Produces the bytes of a data specification in order. */
export interface ByteStream {
  /** Fills chunk[0..n) with the next n bytes. */
  next(chunk: Uint8Array, n: number): void;
}

export function zeroStream(): ByteStream {
  return { next: (chunk, n) => chunk.fill(0, 0, n) };
}

/** A 64-bit value repeated little-endian (byte A is byte A mod 8 of the value): the engine's fill. */
export function patternStream(pattern: bigint): ByteStream {
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) bytes[i] = Number((pattern >> BigInt(8 * i)) & 0xffn);
  return repeatStream(bytes);
}

export function repeatStream(bytes: Uint8Array): ByteStream {
  let pos = 0;
  return {
    next(chunk, n) {
      for (let i = 0; i < n; i++) {
        chunk[i] = bytes[pos];
        pos = pos + 1 === bytes.length ? 0 : pos + 1;
      }
    },
  };
}

/** Pseudo-random bytes: the PRNG's 32-bit words, little-endian. */
export function randomStream(seed: bigint): ByteStream {
  const prng = new Prng(seed);
  let word = 0;
  let left = 0;
  return {
    next(chunk, n) {
      for (let i = 0; i < n; i++) {
        if (left === 0) {
          word = prng.nextU32();
          left = 4;
        }
        chunk[i] = word & 0xff;
        word >>>= 8;
        left--;
      }
    },
  };
}

/** Memory contents from `address` on (read as the stream advances). */
export function memoryStream(memory: PhysicalMemory, address: bigint): ByteStream {
  let pos = 0n;
  return {
    next(chunk, n) {
      readInto(memory, address + pos, chunk, n);
      pos += BigInt(n);
    },
  };
}

const CHUNK = 4096;
/** Addresses below this are exact as numbers (with room for the length). */
const NUMBER_SAFE = 2 ** 52;

/** Reads n bytes at `address` into `into`. */
export function readInto(memory: PhysicalMemory, address: bigint, into: Uint8Array, n: number): void {
  const a = Number(address);
  if (a % 4 !== 0 || a + n > NUMBER_SAFE) {
    into.set(memory.readBytes(address, n));
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = a + i;
    const w = memory.read32(Math.floor(at / 4096), at % 4096);
    into[i] = w & 0xff;
    into[i + 1] = (w >>> 8) & 0xff;
    into[i + 2] = (w >>> 16) & 0xff;
    into[i + 3] = w >>> 24;
  }
  if (i < n) into.set(memory.readBytes(address + BigInt(i), n - i), i);
}

/** Writes n bytes of `from` at `address`. */
export function writeFrom(memory: PhysicalMemory, address: bigint, from: Uint8Array, n: number): void {
  const a = Number(address);
  if (a % 4 !== 0 || a + n > NUMBER_SAFE) {
    memory.writeBytes(address, from.subarray(0, n));
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = a + i;
    memory.write32(Math.floor(at / 4096), at % 4096, (from[i] | (from[i + 1] << 8) | (from[i + 2] << 16) | (from[i + 3] << 24)) >>> 0);
  }
  if (i < n) memory.writeBytes(address + BigInt(i), from.subarray(i, n));
}

/** The CPU writes `length` bytes of `stream` at `address`. */
export function writeStream(memory: PhysicalMemory, address: bigint, length: number, stream: ByteStream): void {
  const chunk = new Uint8Array(Math.min(CHUNK, length));
  for (let pos = 0; pos < length; pos += CHUNK) {
    const n = Math.min(CHUNK, length - pos);
    stream.next(chunk, n);
    writeFrom(memory, address + BigInt(pos), chunk, n);
  }
}

export interface Mismatch {
  offset: number;
  actual: number;
  expected: number;
}

/** The first byte of [address, address + length) that differs from `stream`, or null. */
export function compareStream(memory: PhysicalMemory, address: bigint, length: number, stream: ByteStream): Mismatch | null {
  const size = Math.min(CHUNK, length);
  const want = new Uint8Array(size);
  const got = new Uint8Array(size);
  for (let pos = 0; pos < length; pos += CHUNK) {
    const n = Math.min(CHUNK, length - pos);
    stream.next(want, n);
    readInto(memory, address + BigInt(pos), got, n);
    for (let i = 0; i < n; i++) if (got[i] !== want[i]) return { offset: pos + i, actual: got[i], expected: want[i] };
  }
  return null;
}

/**
 * Whether two page-aligned regions hold the same `length` bytes, compared a word at a time
 * without allocating (the workload's per-transfer check). Addresses must be 4-byte aligned.
 */
export function sameWords(memory: PhysicalMemory, a: number, b: number, length: number): boolean {
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const x = a + i;
    const y = b + i;
    if (memory.read32(Math.floor(x / 4096), x % 4096) !== memory.read32(Math.floor(y / 4096), y % 4096)) return false;
  }
  for (; i < length; i++) {
    if (memory.read(BigInt(a + i), 1) !== memory.read(BigInt(b + i), 1)) return false;
  }
  return true;
}

/** Whether `length` bytes at 8-byte aligned `a` repeat the 64-bit pattern (lo, hi halves). */
export function holdsPattern(memory: PhysicalMemory, a: number, length: number, lo: number, hi: number): boolean {
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const x = a + i;
    if (memory.read32(Math.floor(x / 4096), x % 4096) !== ((i & 4) === 0 ? lo : hi)) return false;
  }
  for (; i < length; i++) {
    const word = (i & 4) === 0 ? lo : hi;
    if (Number(memory.read(BigInt(a + i), 1)) !== ((word >>> ((i & 3) * 8)) & 0xff)) return false;
  }
  return true;
}

/**
 * The bytes a data spec denotes (zero, a pattern, repeated bytes, a seeded random stream);
 * `buffer` specs need the runner's buffers, so the caller resolves them.
 */
export function dataStream(spec: DataSpec, buffer: (spec: Extract<DataSpec, { kind: 'buffer' }>) => ByteStream): ByteStream {
  switch (spec.kind) {
    case 'zero':
      return zeroStream();
    case 'pattern':
      return patternStream(spec.value);
    case 'bytes':
      return repeatStream(spec.bytes);
    case 'random':
      return randomStream(spec.seed);
    case 'buffer':
      return buffer(spec);
  }
}
