// Burst copies of sparse physical memory (readInto/writeFrom) and the tool accessors built on
// them (readBytes/writeBytes): byte order, sparseness, page bounds, marks not consulted.

import { describe, expect, it } from 'vitest';
import { MemoryError, PhysicalMemory } from '../../src/sim/physical-memory.js';

const bytes = (length: number, seed = 1) => Uint8Array.from({ length }, (_, i) => (i * 29 + seed) & 0xff);

describe('PhysicalMemory.readInto / writeFrom', () => {
  it('copy bytes in memory order: the byte at address A is what an access of A reads', () => {
    const m = new PhysicalMemory();
    m.write(0x8000_0008n, 8, 0x8877_6655_4433_2211n);
    const into = new Uint8Array(12).fill(0xee);
    m.readInto(0x8000_0, 8, into, 2, 8);
    expect([...into]).toEqual([0xee, 0xee, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xee, 0xee]);
    m.writeFrom(0x8000_0, 0x101, Uint8Array.of(9, 0xaa, 0xbb, 0xcc, 9), 1, 3);
    expect(m.read(0x8000_0100n, 4)).toBe(0xccbb_aa00n);
    expect(m.read(0x8000_0104n, 1)).toBe(0n);
  });

  it('read a page without data as zeros, and create a frame only for data that is not all zero', () => {
    const m = new PhysicalMemory();
    const into = new Uint8Array(4096).fill(0xee);
    m.readInto(0x1234, 0, into, 0, 4096);
    expect(into).toEqual(new Uint8Array(4096));
    m.writeFrom(0x1234, 0, new Uint8Array(4096), 0, 4096);
    expect(m.residentPages).toBe(0); // memory stays sparse
    m.writeFrom(0x1234, 4095, Uint8Array.of(1), 0, 1);
    expect(m.residentPages).toBe(1);
    expect(m.read(0x1234fffn, 1)).toBe(1n);
  });

  it('copy long and short ranges alike, at any offsets', () => {
    const m = new PhysicalMemory();
    for (const [off, len] of [
      [0, 4096],
      [1, 4095],
      [0x7ff, 300],
      [0xfff, 1],
      [0x10, 255],
      [0x10, 257],
    ] as const) {
      const data = bytes(len, off);
      m.writeFrom(0x9_0000, off, data, 0, len);
      const out = new Uint8Array(len);
      m.readInto(0x9_0000, off, out, 0, len);
      expect(out).toEqual(data);
      expect(m.readBytes(0x9_0000_000n + BigInt(off), len)).toEqual(data);
    }
  });

  it('refuse a range that leaves the page (a caller error, not a bus answer)', () => {
    const m = new PhysicalMemory();
    const buf = new Uint8Array(16);
    expect(() => m.readInto(1, 0xff8, buf, 0, 9)).toThrow(MemoryError);
    expect(() => m.writeFrom(1, 0x1000, buf, 0, 1)).toThrow(MemoryError);
    expect(() => m.readInto(1, -1, buf, 0, 1)).toThrow(MemoryError);
  });

  it('consult no marks, and count one access per call', () => {
    const m = new PhysicalMemory();
    m.markAccessFault(0x5000n, 0x1000n);
    m.writeFrom(5, 0, Uint8Array.of(7, 8), 0, 2);
    const into = new Uint8Array(2);
    m.readInto(5, 0, into, 0, 2);
    expect([...into]).toEqual([7, 8]);
    expect(m.counters).toEqual({ reads: 1, writes: 1 });
  });

  it('see a page cleared by zeroPage as zeros, and a new frame after it', () => {
    const m = new PhysicalMemory();
    const into = new Uint8Array(8);
    m.writeFrom(7, 0, bytes(8), 0, 8);
    m.readInto(7, 0, into, 0, 8);
    expect(into).toEqual(bytes(8));
    m.zeroPage(7);
    m.readInto(7, 0, into, 0, 8);
    expect(into).toEqual(new Uint8Array(8));
    m.writeFrom(7, 0, bytes(8, 3), 0, 8);
    expect(m.read(0x7000n, 1)).toBe(BigInt(bytes(8, 3)[0]));
    m.readInto(7, 0, into, 0, 8);
    expect(into).toEqual(bytes(8, 3));
  });
});

describe('PhysicalMemory.readBytes / writeBytes', () => {
  it('copy across page boundaries, including into pages without data', () => {
    const m = new PhysicalMemory();
    const data = bytes(3 * 4096 + 100, 5);
    m.writeBytes(0x8000_0f00n, data);
    expect(m.readBytes(0x8000_0f00n, data.length)).toEqual(data);
    expect(m.readBytes(0x8000_0e00n, 0x100)).toEqual(new Uint8Array(0x100));
    expect(m.read(0x8000_1000n, 1)).toBe(BigInt(data[0x100]));
    expect(m.readBytes(0x7000_0000n, 0)).toEqual(new Uint8Array(0));
    expect(m.residentPages).toBe(4);
  });

  it('keep memory sparse: writing zeros to pages without data creates no frame', () => {
    const m = new PhysicalMemory();
    m.writeBytes(0x4000_0000n, new Uint8Array(3 * 4096));
    expect(m.residentPages).toBe(0);
  });

  it('agree with the accessors of a big-endian memory: bytes are stored in address order', () => {
    const m = new PhysicalMemory({ endianness: 'big' });
    m.write(0x1000n, 4, 0x1122_3344n);
    expect([...m.readBytes(0x1000n, 4)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    m.writeBytes(0x1004n, Uint8Array.of(0xaa, 0xbb));
    expect(m.read(0x1004n, 2)).toBe(0xaabbn);
  });
});
