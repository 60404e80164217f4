import { describe, expect, it } from 'vitest';
import { dmaEngineDriver, dmaEngineOf, type DmaEngineChannel } from '../../../src/os/drivers/dma-engine/index.js';
import { plicDriver } from '../../../src/os/drivers/irqchip/plic.js';
import { pciHostEcamDriver } from '../../../src/os/drivers/pci/index.js';
import type { Kernel } from '../../../src/os/kernel/kernel.js';
import { buildDevicesMachine, type DevicesMachineOptions } from '../../support/devices-machine.js';

const PLATFORM = '3020000.dma-controller';
const PCI = '0000:00:01.0';

function machine(o: DevicesMachineOptions = {}) {
  const m = buildDevicesMachine(o);
  const channel = (name: string): DmaEngineChannel => {
    const dev = m.kernel.drivers.find((d) => d.name === name);
    if (dev === undefined) throw new Error(`no device ${name}`);
    return dmaEngineOf(dev);
  };
  return { ...m, channel };
}

/** Allocates `pages` zeroed kernel pages; returns their physical address. */
function buffer(kernel: Kernel, pages = 1): bigint {
  return BigInt(kernel.pages.allocPages(pages)) << 12n;
}

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff);
}

describe('DMA-engine driver', () => {
  it('binds the platform engine with its interrupt and the PCI endpoint polled', () => {
    const m = machine();
    expect(m.kernel.drivers.find((d) => d.name === PLATFORM)?.driver).toBe(dmaEngineDriver);
    expect(m.kernel.drivers.find((d) => d.name === PCI)?.driver).toBe(dmaEngineDriver);
    expect(m.channel(PLATFORM).mode).toBe('irq');
    expect(m.channel(PCI).mode).toBe('poll');
    const host = m.kernel.drivers.find((d) => d.name === '30000000.pci');
    expect(host).toBeDefined();
    expect(() => dmaEngineOf(host!)).toThrow(/not a DMA engine/);
  });

  it('copies through the DMA API and completes on its interrupt', () => {
    const m = machine();
    const ch = m.channel(PLATFORM);
    const src = buffer(m.kernel, 2);
    const dst = buffer(m.kernel, 2);
    const data = bytes(8192, 1);
    m.memory.writeBytes(src, data);
    const before = { ...m.kernel.dma.stats };
    const r = ch.copy(src, dst, 8192);
    expect(r).toEqual({ ok: true, bytes: 8192, cycles: 0 });
    expect(m.memory.readBytes(dst, 8192)).toEqual(data);
    expect(m.kernel.dma.stats.mapped - before.mapped).toBe(2);
    expect(m.kernel.dma.stats.unmapped - before.unmapped).toBe(2);
    expect(ch.stats).toMatchObject({ transfers: 1, interrupts: 1, errors: 0, bytes: 8192 });
    expect(m.kernel.irq.counts.get(PLATFORM)).toBe(1);
    expect(m.engine.irq.asserted).toBe(false); // acknowledged by the handler
    // Counters count transactions: 8 KiB in 64-byte transactions (burstBytes) = 128 each way.
    expect(m.engine.counters).toMatchObject({ bytes: 8192, reads: 128, writes: 128 });
  });

  it('fills and verifies, and reports a mismatch with its physical address', () => {
    const m = machine();
    const ch = m.channel(PLATFORM);
    const buf = buffer(m.kernel);
    const pattern = 0x0f1e_2d3c_4b5a_6978n;
    expect(ch.fill(buf + 8n, 100, pattern).ok).toBe(true);
    expect(m.memory.read(buf + 8n, 8)).toBe(pattern);
    expect(m.memory.read(buf, 8)).toBe(0n);
    expect(ch.readVerify(buf + 8n, 100, pattern)).toMatchObject({ ok: true, bytes: 100 });
    m.memory.write(buf + 0x40n, 1, 0n);
    expect(ch.readVerify(buf + 8n, 100, pattern)).toEqual({ ok: false, error: 'mismatch', dmaAddress: buf + 0x40n, paddr: buf + 0x40n, write: false, bytes: 0x38, cycles: 0 });
    expect(ch.stats.errors).toBe(1);
  });

  it('reports the first failing access of a mapped transfer', () => {
    const m = machine();
    const ch = m.channel(PLATFORM);
    const src = buffer(m.kernel);
    const dst = buffer(m.kernel);
    m.memory.markAccessFault(dst + 0x800n, 0x800n);
    const r = ch.copy(src, dst, 4096);
    expect(r).toMatchObject({ ok: false, error: 'bus-error', dmaAddress: dst + 0x800n, paddr: dst + 0x800n, write: true, bytes: 0x800 });
    expect(m.kernel.dma.stats.mapped).toBe(m.kernel.dma.stats.unmapped); // unmapped even on failure
  });

  it('programs raw DMA addresses without the DMA API', () => {
    const m = machine();
    const ch = m.channel(PLATFORM);
    const mapped = m.kernel.dma.stats.mapped;
    m.memory.writeBytes(0x8300_0000n, bytes(64, 9));
    expect(ch.rawCopy(0x8300_0000n, 0x8300_1000n, 64, { pasid: 5, privileged: true })).toMatchObject({ ok: true, bytes: 64 });
    expect(m.memory.readBytes(0x8300_1000n, 64)).toEqual(bytes(64, 9));
    expect(m.engine.requester).toMatchObject({ deviceId: 5, pasidValid: true, pasid: 5, privileged: true });
    expect(m.kernel.dma.stats.mapped).toBe(mapped);
    // An address nothing decodes: RAM is sparse here, so make it fault.
    m.memory.markAccessFault(0x1_0000_0000n, 0x1000n);
    expect(ch.rawReadVerify(0x1_0000_0000n, 8, 0n)).toMatchObject({ ok: false, error: 'bus-error', dmaAddress: 0x1_0000_0000n, paddr: null });
    expect(ch.rawFill(0x8300_2000n, 0, 0n)).toMatchObject({ ok: true, bytes: 0 });
    expect(() => ch.copy(0x8300_0000n, 0x8300_1000n, 0)).toThrow(RangeError);
  });

  it('drives the PCI endpoint by polling, as requester 00:01.0', () => {
    const m = machine();
    const ch = m.channel(PCI);
    const src = buffer(m.kernel);
    const dst = buffer(m.kernel);
    m.memory.writeBytes(src, bytes(4096, 3));
    expect(ch.copy(src, dst, 4096)).toMatchObject({ ok: true, bytes: 4096 });
    expect(m.memory.readBytes(dst, 4096)).toEqual(bytes(4096, 3));
    expect(m.pciEngine?.engine.requester.deviceId).toBe(0x08);
    // One memory request per 64-byte transaction (the engine's burstBytes): 4096 / 64.
    expect(m.pciEngine?.counters.dmaReads).toBe(64);
    expect(m.pcie.counters.dmaWrites).toBe(64);
    expect(ch.stats.interrupts).toBe(0);
  });

  it('waits through simulated time for a timed engine', () => {
    const m = machine({ bytesPerCycle: 4 });
    const src = buffer(m.kernel);
    const dst = buffer(m.kernel);
    m.memory.writeBytes(src, bytes(4096, 7));
    const t0 = m.clock.now;
    expect(m.channel(PLATFORM).copy(src, dst, 4096)).toEqual({ ok: true, bytes: 4096, cycles: 1024 });
    expect(m.clock.now - t0).toBe(1024);
    expect(m.channel(PCI).fill(dst, 4096, 0x55n)).toMatchObject({ ok: true, cycles: 1024 });
    expect(m.memory.read(dst + 0xff8n, 8)).toBe(0x55n);
  });

  it('gives up after timeoutCycles and aborts the engine', () => {
    const m = machine({ bytesPerCycle: 1 });
    const ch = m.channel(PLATFORM);
    ch.timeoutCycles = 1000;
    const buf = buffer(m.kernel, 4);
    const r = ch.fill(buf, 16384, 0x1n);
    expect(r).toMatchObject({ ok: false, error: 'timeout', write: false });
    if (r.ok) return;
    expect(r.cycles).toBeGreaterThanOrEqual(1000);
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.bytes).toBeLessThan(16384);
    expect(m.engine.busy).toBe(false);
    expect(ch.stats.timeouts).toBe(1);
    expect(m.kernel.log.records.some((l) => l.level === 'error' && l.message.includes('timed out'))).toBe(true);
    ch.timeoutCycles = 100_000;
    expect(ch.fill(buf, 64, 0x2n)).toMatchObject({ ok: true }); // usable again
  });

  it('defers the platform engine until its interrupt controller is there', () => {
    const m = machine({ drivers: [dmaEngineDriver, pciHostEcamDriver] });
    const dev = m.kernel.drivers.find((d) => d.name === PLATFORM);
    expect(dev?.state).toBe('deferred');
    expect(dev?.reason).toMatch(/interrupt controller/);
    m.kernel.drivers.register(plicDriver);
    expect(dev?.state).toBe('bound');
    const buf = buffer(m.kernel);
    expect(m.channel(PLATFORM).fill(buf, 8, 3n)).toMatchObject({ ok: true });
    expect(m.channel(PLATFORM).stats.interrupts).toBe(1);
  });
});
