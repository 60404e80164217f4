// Bursts on the system bus: one mark check and one copy for RAM; naturally aligned accesses
// of at most 8 bytes for a page with MMIO registers; a burst that leaves its page refused.

import { describe, expect, it } from 'vitest';
import type { MmioDevice, MmioSize } from '../../src/sim/mmio.js';
import { AccessStatus, PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';

const bytes = (length: number, seed = 1) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);

/** Registers that log every access; a read of offset o, size s returns bytes o+1, o+2, ... */
class Regs implements MmioDevice {
  readonly log: [string, number, MmioSize, bigint][] = [];
  mmioRead(offset: number, size: MmioSize): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt((offset + i + 1) & 0xff);
    this.log.push(['r', offset, size, v]);
    return v;
  }
  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    this.log.push(['w', offset, size, value]);
  }
}

describe('SystemBus bursts to RAM', () => {
  it('move the bytes in one copy, by address or by page number', () => {
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory);
    expect(bus.writeBurst(0x8000_0123n, 500, bytes(600), 100)).toBe(AccessStatus.Ok);
    expect(memory.readBytes(0x8000_0123n, 500)).toEqual(bytes(600).subarray(100, 600));
    const into = new Uint8Array(500);
    expect(bus.readBurstAt(0x8000_0, 0x123, 500, into, 0)).toBe(AccessStatus.Ok);
    expect(into).toEqual(bytes(600).subarray(100, 600));
    expect(memory.counters).toEqual({ reads: 1, writes: 1 });
  });

  it('check marks over the whole range: a fault mark anywhere refuses it, a poison mark flags read data', () => {
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory);
    memory.writeBytes(0x8000_0000n, bytes(256));
    memory.markAccessFault(0x8000_00ffn, 1n);
    const into = new Uint8Array(256);
    expect(bus.readBurst(0x8000_0000n, 256, into, 0)).toBe(AccessStatus.AccessFault);
    expect(into).toEqual(new Uint8Array(256)); // nothing transferred
    expect(bus.writeBurst(0x8000_0000n, 256, new Uint8Array(256).fill(9), 0)).toBe(AccessStatus.AccessFault);
    expect(memory.readBytes(0x8000_0000n, 256)).toEqual(bytes(256));
    expect(bus.readBurst(0x8000_0000n, 255, into, 0)).toBe(AccessStatus.Ok); // the mark is just past it
    memory.clearMarks();
    memory.markDataCorruption(0x8000_0000n, 1n);
    into.fill(0);
    expect(bus.readBurst(0x8000_0000n, 256, into, 0)).toBe(AccessStatus.DataCorruption);
    expect(into).toEqual(bytes(256)); // the data is transferred, flagged
  });

  it('refuse a burst that leaves its page, is empty or lies outside the 64-bit space', () => {
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory);
    const buf = new Uint8Array(8192).fill(1);
    expect(bus.writeBurst(0x8000_0ff0n, 17, buf, 0)).toBe(AccessStatus.AccessFault);
    expect(bus.writeBurst(0x8000_0000n, 4097, buf, 0)).toBe(AccessStatus.AccessFault);
    expect(bus.writeBurst(0x8000_0000n, 0, buf, 0)).toBe(AccessStatus.AccessFault);
    expect(bus.readBurst(1n << 64n, 8, buf, 0)).toBe(AccessStatus.AccessFault);
    expect(memory.residentPages).toBe(0);
  });
});

describe('SystemBus bursts to a page with MMIO', () => {
  it('reach registers as naturally aligned accesses of at most 8 bytes, little-endian', () => {
    const bus = new SystemBus(new PhysicalMemory());
    const regs = new Regs();
    bus.mmio.map('regs', 0x1000_0000n, 0x100n, regs);
    const data = Uint8Array.from({ length: 21 }, (_, i) => i + 1);
    expect(bus.writeBurst(0x1000_0003n, 21, data, 0)).toBe(AccessStatus.Ok);
    expect(regs.log).toEqual([
      ['w', 3, 1, 0x01n],
      ['w', 4, 4, 0x0504_0302n],
      ['w', 8, 8, 0x0d0c_0b0a_0908_0706n],
      ['w', 16, 8, 0x1514_1312_1110_0f0en],
    ]);
    regs.log.length = 0;
    const into = new Uint8Array(7);
    expect(bus.readBurst(0x1000_000an, 7, into, 0)).toBe(AccessStatus.Ok);
    expect(regs.log.map(([k, o, s]) => [k, o, s])).toEqual([
      ['r', 10, 2],
      ['r', 12, 4],
      ['r', 16, 1],
    ]);
    expect([...into]).toEqual([11, 12, 13, 14, 15, 16, 17]);
  });

  it('send the rest of the page to RAM, with its marks checked before anything moves', () => {
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory);
    const regs = new Regs();
    bus.mmio.map('regs', 0x1000_0800n, 0x10n, regs);
    // 16 bytes of RAM, 16 bytes of registers, 16 bytes of RAM.
    const data = bytes(48);
    expect(bus.writeBurst(0x1000_07f0n, 48, data, 0)).toBe(AccessStatus.Ok);
    expect(regs.log.map(([, o, s]) => [o, s])).toEqual([
      [0, 8],
      [8, 8],
    ]);
    expect(memory.readBytes(0x1000_07f0n, 16)).toEqual(data.subarray(0, 16));
    expect(memory.readBytes(0x1000_0810n, 16)).toEqual(data.subarray(32, 48));
    regs.log.length = 0;
    memory.markAccessFault(0x1000_0818n, 1n);
    expect(bus.writeBurst(0x1000_07f0n, 48, new Uint8Array(48), 0)).toBe(AccessStatus.AccessFault);
    expect(regs.log).toEqual([]); // refused whole: no register saw a write
    expect(memory.readBytes(0x1000_07f0n, 16)).toEqual(data.subarray(0, 16));
    memory.clearMarks();
    memory.markDataCorruption(0x1000_07f0n, 1n);
    const into = new Uint8Array(48);
    expect(bus.readBurst(0x1000_07f0n, 48, into, 0)).toBe(AccessStatus.DataCorruption);
    expect(into.subarray(0, 16)).toEqual(data.subarray(0, 16));
    expect(into.subarray(32)).toEqual(data.subarray(32, 48));
  });

  it('route by the regions present now: a region mapped later is seen', () => {
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory);
    expect(bus.touchesMmio(0x2000_0)).toBe(false);
    bus.mmio.map('a', 0x1000_0000n, 0x100n, new Regs());
    expect(bus.touchesMmio(0x1000_0)).toBe(true);
    expect(bus.touchesMmio(0x2000_0)).toBe(false);
    const late = new Regs();
    bus.mmio.map('late', 0x2000_0ff8n, 0x2000n, late); // touches pages 0x20000..0x20002
    expect([0x2000_0, 0x2000_1, 0x2000_2, 0x2000_3].map((p) => bus.touchesMmio(p))).toEqual([true, true, true, false]);
    expect(bus.writeBurst(0x2000_0ff8n, 8, bytes(8), 0)).toBe(AccessStatus.Ok);
    expect(late.log).toEqual([['w', 0, 8, leU64(bytes(8))]]);
    expect(memory.residentPages).toBe(0);
  });
});

function leU64(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}
