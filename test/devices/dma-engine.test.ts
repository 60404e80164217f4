import { describe, expect, it } from 'vitest';
import { DirectDmaPort, DmaPortStatus, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../src/devices/dma-port.js';
import { Control, DMA_ENGINE_ID, DmaEngine, DmaEngineReg as Reg, ErrorCause, Operation, Status } from '../../src/devices/dma-engine/index.js';
import { Cause } from '../../src/formats/index.js';
import { RiscvIommuDmaPort } from '../../src/hw/riscv-iommu/index.js';
import { Clock } from '../../src/sim/clock.js';
import type { MmioSize } from '../../src/sim/mmio.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';
import { RiscvIommuBench } from '../support/riscv-iommu-bench.js';

const SRC = 0x8000_0000n;
const DST = 0x8010_0000n;

function setup(o: { bytesPerCycle?: number; burstBytes?: number } = {}) {
  const memory = new PhysicalMemory();
  const bus = new SystemBus(memory);
  const port = new DirectDmaPort(bus);
  const clock = new Clock();
  const engine = new DmaEngine({ port, deviceId: 9, clock, ...o });
  return { memory, bus, port, clock, engine };
}

function program(e: DmaEngine, op: number, src: bigint, dst: bigint, length: number, fill = 0n, extra = 0): void {
  e.mmioWrite(Reg.SOURCE, 8, src);
  e.mmioWrite(Reg.DESTINATION, 8, dst);
  e.mmioWrite32(Reg.LENGTH, length);
  e.mmioWrite(Reg.FILL, 8, fill);
  e.mmioWrite32(Reg.CONTROL, Control.START | (op << Control.OP_SHIFT) | extra);
}

function pattern(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

/** A port that records requests and answers from a script. */
class RecordingPort implements DmaPort {
  value = 0n;
  readonly log: { write: boolean; deviceId: number; pasidValid: boolean; pasid: number; privileged: boolean; address: bigint; size: number }[] = [];
  constructor(private readonly answer: (address: bigint, write: boolean) => DmaPortStatusValue = () => DmaPortStatus.Ok) {}
  read(r: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.log.push({ write: false, deviceId: r.deviceId, pasidValid: r.pasidValid, pasid: r.pasid, privileged: r.privileged, address, size });
    this.value = 0n;
    return this.answer(address, false);
  }
  write(r: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.log.push({ write: true, deviceId: r.deviceId, pasidValid: r.pasidValid, pasid: r.pasid, privileged: r.privileged, address, size });
    return this.answer(address, true);
  }
  /** Records a transaction with its length in `size`; reads deliver zeros. */
  readBurst(r: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.log.push({ write: false, deviceId: r.deviceId, pasidValid: r.pasidValid, pasid: r.pasid, privileged: r.privileged, address, size: length });
    into.fill(0, offset, offset + length);
    return this.answer(address, false);
  }
  writeBurst(r: DmaRequester, address: bigint, length: number): DmaPortStatusValue {
    this.log.push({ write: true, deviceId: r.deviceId, pasidValid: r.pasidValid, pasid: r.pasid, privileged: r.privileged, address, size: length });
    return this.answer(address, true);
  }
}

describe('DMA engine registers', () => {
  it('identifies itself and keeps its programming registers', () => {
    const { engine: e } = setup();
    expect(e.mmioRead32(Reg.ID)).toBe(DMA_ENGINE_ID);
    expect(e.mmioRead32(Reg.VERSION)).toBe(0x0001_0000);
    e.mmioWrite32(Reg.SOURCE, 0x1234_5678);
    e.mmioWrite32(Reg.SOURCE + 4, 0x9abc_def0);
    expect(e.mmioRead(Reg.SOURCE, 8)).toBe(0x9abc_def0_1234_5678n);
    e.mmioWrite(Reg.DESTINATION, 8, 0xfedc_ba98_7654_3210n);
    expect(e.mmioRead32(Reg.DESTINATION)).toBe(0x7654_3210);
    expect(e.mmioRead32(Reg.DESTINATION + 4)).toBe(0xfedc_ba98);
    e.mmioWrite32(Reg.LENGTH, 0xffff_ffff);
    expect(e.mmioRead32(Reg.LENGTH)).toBe(0xffff_ffff);
    e.mmioWrite32(Reg.PASID, 0xfff_ffff);
    expect(e.mmioRead32(Reg.PASID)).toBe(0xfffff); // 20 bits
    e.mmioWrite(Reg.FILL, 8, 0x0102_0304_0506_0708n);
    expect(e.mmioRead(Reg.FILL, 4)).toBe(0x0506_0708n);
    // CONTROL keeps IE, OP, PV, PRIV; START and ABORT read as zero.
    e.mmioWrite32(Reg.CONTROL, Control.IE | (2 << Control.OP_SHIFT) | Control.PV | Control.PRIV | 0xfc00_0000);
    expect(e.mmioRead32(Reg.CONTROL)).toBe(Control.IE | (2 << Control.OP_SHIFT) | Control.PV | Control.PRIV);
  });

  it('returns to its reset state, counters included', () => {
    const { engine: e } = setup();
    program(e, Operation.Fill, 0n, DST, 64, 1n, Control.IE);
    expect(e.irq.asserted).toBe(true);
    e.reset();
    expect(e.irq.asserted).toBe(false);
    for (const reg of [Reg.CONTROL, Reg.STATUS, Reg.SOURCE, Reg.DESTINATION, Reg.LENGTH, Reg.FILL, Reg.PROGRESS, Reg.BYTES, Reg.TRANSFERS]) expect(e.mmioRead32(reg)).toBe(0);
    expect(e.counters).toEqual({ bytes: 0, transfers: 0, errors: 0, reads: 0, writes: 0 });
  });

  it('ignores writes to read-only registers and reads zero elsewhere', () => {
    const { engine: e } = setup();
    e.mmioWrite32(Reg.ID, 0);
    e.mmioWrite32(Reg.ERROR_ADDRESS, 0x1234);
    e.mmioWrite32(Reg.PROGRESS, 99);
    e.mmioWrite32(Reg.STATUS, Status.BUSY);
    expect(e.mmioRead32(Reg.ID)).toBe(DMA_ENGINE_ID);
    expect(e.mmioRead32(Reg.ERROR_ADDRESS)).toBe(0);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0);
    expect(e.mmioRead32(Reg.STATUS)).toBe(0);
    expect(e.mmioRead32(0x800)).toBe(0);
    expect(e.mmioRead(Reg.ID, 2)).toBe(0n); // only 4- and 8-byte accesses
    expect(e.mmioRead32(Reg.ID + 1)).toBe(0);
  });
});

describe('DMA engine transfers through a direct port', () => {
  it('copies a page in 64-byte transactions (the default burstBytes) and reports DONE', () => {
    const { memory, port, engine: e } = setup();
    const data = pattern(4096);
    memory.writeBytes(SRC, data);
    program(e, Operation.Copy, SRC, DST, 4096);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(memory.readBytes(DST, 4096)).toEqual(data);
    // 4096 / 64 = 64 read transactions and 64 write transactions.
    expect(port.counters).toEqual({ reads: 64, writes: 64, errors: 0 });
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(4096);
    expect(e.mmioRead(Reg.BYTES, 8)).toBe(4096n);
    expect(e.mmioRead32(Reg.TRANSFERS)).toBe(1);
    expect(e.counters).toMatchObject({ bytes: 4096, transfers: 1, errors: 0, reads: 64, writes: 64 });
    // DONE is write-1-to-clear.
    e.mmioWrite32(Reg.STATUS, Status.DONE);
    expect(e.mmioRead32(Reg.STATUS)).toBe(0);
  });

  it('copies misaligned buffers in whole transactions: byte alignment does not split them', () => {
    const { memory, engine: e } = setup();
    const rec = new RecordingPort();
    const data = pattern(37, 3);
    memory.writeBytes(SRC + 3n, data);
    program(e, Operation.Copy, SRC + 3n, DST + 3n, 37);
    expect(memory.readBytes(DST + 3n, 37)).toEqual(data);
    expect(memory.readBytes(DST, 3)).toEqual(new Uint8Array(3));
    expect(memory.readBytes(DST + 40n, 8)).toEqual(new Uint8Array(8));
    // A transaction may start and end at any byte (PCIe byte enables, AXI write strobes).
    e.port = rec;
    program(e, Operation.Copy, SRC + 3n, DST + 3n, 37);
    expect(rec.log.map((a) => [a.write, a.address, a.size])).toEqual([
      [false, SRC + 3n, 37],
      [true, DST + 3n, 37],
    ]);
    rec.log.length = 0;
    program(e, Operation.Copy, SRC + 1n, DST + 2n, 100);
    expect(rec.log.map((a) => [a.write, a.address, a.size])).toEqual([
      [false, SRC + 1n, 64],
      [true, DST + 2n, 64],
      [false, SRC + 65n, 36],
      [true, DST + 66n, 36],
    ]);
  });

  it('never lets a transaction cross a 4 KiB boundary of the source or of the destination', () => {
    // PCIe Base Specification, section 2.2.7 (4.0 and later): memory requests "must not
    // cross a 4-KB boundary"; AXI bursts have the same rule. The engine cuts a transaction at
    // whichever boundary, of the source or of the destination, comes first.
    const { engine: e } = setup();
    const rec = new RecordingPort();
    e.port = rec;
    // Source 32 bytes, destination 240 bytes before their next boundaries: 32 (source
    // boundary), 64, 64, 64, 16 (destination boundary), then the last 60 bytes.
    program(e, Operation.Copy, SRC + 0xfe0n, DST + 0xf10n, 300);
    const reads = rec.log.filter((a) => !a.write);
    const writes = rec.log.filter((a) => a.write);
    expect(reads.map((a) => a.size)).toEqual([32, 64, 64, 64, 16, 60]);
    expect(writes.map((a) => a.size)).toEqual([32, 64, 64, 64, 16, 60]);
    expect(reads.map((a) => a.address - SRC)).toEqual([0xfe0n, 0x1000n, 0x1040n, 0x1080n, 0x10c0n, 0x10d0n]);
    expect(writes.map((a) => a.address - DST)).toEqual([0xf10n, 0xf30n, 0xf70n, 0xfb0n, 0xff0n, 0x1000n]);

    // Over three pages at unrelated offsets, with real data: every transaction stays in its
    // page on both sides, none is larger than burstBytes, and the data arrives intact.
    rec.log.length = 0;
    program(e, Operation.Copy, SRC + 0x3c5n, DST + 0xa13n, 3 * 4096);
    for (const a of rec.log) {
      expect(Number(a.address & 0xfffn) + a.size).toBeLessThanOrEqual(4096);
      expect(a.size).toBeLessThanOrEqual(64);
    }
    expect(rec.log.filter((a) => !a.write).reduce((n, a) => n + a.size, 0)).toBe(3 * 4096);
    const direct = setup();
    const data = pattern(3 * 4096, 9);
    direct.memory.writeBytes(SRC + 0x3c5n, data);
    program(direct.engine, Operation.Copy, SRC + 0x3c5n, DST + 0xa13n, 3 * 4096);
    expect(direct.engine.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(direct.memory.readBytes(DST + 0xa13n, 3 * 4096)).toEqual(data);
    expect(direct.port.counters.reads).toBe(direct.engine.counters.reads);
    expect(direct.engine.counters.reads).toBe(rec.log.filter((a) => !a.write).length);
  });

  it('makes transactions of burstBytes, and accepts only powers of two from 8 to 4096', () => {
    for (const [burstBytes, count] of [
      [8, 512],
      [256, 16],
      [4096, 1],
    ] as const) {
      const { memory, port, engine: e } = setup({ burstBytes });
      const data = pattern(4096, burstBytes);
      memory.writeBytes(SRC, data);
      program(e, Operation.Copy, SRC, DST, 4096);
      expect(memory.readBytes(DST, 4096)).toEqual(data);
      // 4096 / burstBytes transactions each way.
      expect(port.counters).toEqual({ reads: count, writes: count, errors: 0 });
    }
    const bus = new SystemBus(new PhysicalMemory());
    for (const bad of [0, 4, 12, 48, 8.5, 8192]) {
      expect(() => new DmaEngine({ port: new DirectDmaPort(bus), burstBytes: bad })).toThrow(/burstBytes must be a power of two between 8 and 4096/);
    }
  });

  it('fills with the pattern byte of each address mod 8', () => {
    const { memory, engine: e } = setup();
    program(e, Operation.Fill, 0n, DST + 5n, 20, 0x8877_6655_4433_2211n);
    const got = memory.readBytes(DST, 32);
    const expected = new Uint8Array(32);
    for (let a = 5; a < 25; a++) expected[a] = 0x11 + 0x11 * (a % 8);
    expect(got).toEqual(expected);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
  });

  it('read-verify reports the first mismatching byte exactly, wherever it is in a transaction', () => {
    const { memory, engine: e } = setup();
    const fill = 0x0807_0605_0403_0201n;
    program(e, Operation.Fill, 0n, SRC, 3 * 4096, fill);
    const start = SRC + 0x10n;
    // Byte 0x1234: in the second page, 0x24 bytes into the transaction at 0x1210.
    memory.write(SRC + 0x1234n, 1, 0xeen);
    memory.write(SRC + 0x1236n, 1, 0xeen); // a later mismatch in the same transaction
    program(e, Operation.ReadVerify, start, 0n, 3 * 4096 - 0x10, fill);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE | Status.ERROR | (ErrorCause.Mismatch << Status.CAUSE_SHIFT));
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC + 0x1234n);
    // PROGRESS: the bytes verified before the mismatching one.
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0x1234 - 0x10);
    expect(e.counters.bytes - 3 * 4096).toBe(0x1234 - 0x10);
  });

  it('read-verify passes on matching data and stops at the first mismatch', () => {
    const { memory, engine: e } = setup();
    const fill = 0xa5a5_a5a5_5a5a_5a5an;
    program(e, Operation.Fill, 0n, SRC, 256, fill);
    program(e, Operation.ReadVerify, SRC, 0n, 256, fill);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    memory.write(SRC + 0x48n, 1, 0n);
    program(e, Operation.ReadVerify, SRC, 0n, 256, fill);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE | Status.ERROR | (ErrorCause.Mismatch << Status.CAUSE_SHIFT));
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC + 0x48n);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0x48);
    expect(e.mmioRead32(Reg.ERRORS)).toBe(1);
  });

  it('stops at the first access the bus rejects and reports it', () => {
    const { memory, engine: e } = setup();
    memory.writeBytes(SRC, pattern(1024));
    memory.markAccessFault(DST + 0x200n, 0x10n);
    program(e, Operation.Copy, SRC, DST, 1024);
    const status = e.mmioRead32(Reg.STATUS);
    expect(status & (Status.DONE | Status.ERROR | Status.BUSY)).toBe(Status.DONE | Status.ERROR);
    expect((status & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.BusError);
    expect(status & Status.ERR_WRITE).toBe(Status.ERR_WRITE);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(DST + 0x200n);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0x200);
    expect(memory.readBytes(DST + 0x1f8n, 8)).toEqual(pattern(1024).subarray(0x1f8, 0x200));
    expect(memory.readBytes(DST + 0x210n, 8)).toEqual(new Uint8Array(8)); // nothing after the fault
    expect(e.counters).toMatchObject({ errors: 1, transfers: 0, bytes: 0x200 });
  });

  it('reports a read of poisoned data as cause 3, at the start of the poisoned transaction', () => {
    const { memory, engine: e } = setup();
    memory.writeBytes(SRC, pattern(256));
    memory.markDataCorruption(SRC + 0x58n, 8n);
    program(e, Operation.Copy, SRC, DST, 256);
    const status = e.mmioRead32(Reg.STATUS);
    expect((status & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Poisoned);
    expect(status & Status.ERR_WRITE).toBe(0);
    // The poison is in the second 64-byte transaction [0x40, 0x80): it is reported at that
    // transaction's start, after the first one completed, and none of its data is written.
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC + 0x40n);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0x40);
    expect(memory.readBytes(DST, 0x40)).toEqual(pattern(256).subarray(0, 0x40));
    expect(memory.readBytes(DST + 0x40n, 0x40)).toEqual(new Uint8Array(0x40));
  });

  it('rejects a reserved operation without any access', () => {
    const { port, engine: e } = setup();
    program(e, 3, SRC, DST, 64);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE | Status.ERROR | (ErrorCause.InvalidOperation << Status.CAUSE_SHIFT));
    expect(port.counters.reads + port.counters.writes).toBe(0);
  });

  it('completes a zero-length transfer at once', () => {
    const { port, engine: e } = setup();
    program(e, Operation.Copy, SRC, DST, 0);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(port.counters.reads).toBe(0);
  });

  it('sends its device id, and the PASID and privilege when CONTROL asks', () => {
    const { engine: e } = setup();
    const rec = new RecordingPort();
    e.port = rec;
    program(e, Operation.Fill, 0n, DST, 8);
    expect(rec.log[0]).toMatchObject({ write: true, deviceId: 9, pasidValid: false, address: DST, size: 8 });
    e.mmioWrite32(Reg.PASID, 0x42);
    program(e, Operation.ReadVerify, SRC, 0n, 8, 0n, Control.PV | Control.PRIV);
    expect(rec.log[1]).toMatchObject({ write: false, deviceId: 9, pasidValid: true, pasid: 0x42, privileged: true, address: SRC });
  });

  it('reports an IOMMU abort as cause 1', () => {
    const { engine: e } = setup();
    e.port = new RecordingPort((address) => (address >= SRC + 64n ? DmaPortStatus.Aborted : DmaPortStatus.Ok));
    program(e, Operation.ReadVerify, SRC, 0n, 256, 0n);
    expect((e.mmioRead32(Reg.STATUS) & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    // The second transaction is aborted; the first (64 bytes) was verified.
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC + 64n);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(64);
  });

  it('writes to a register target reach it as naturally aligned accesses of at most 8 bytes', () => {
    const { memory, bus, engine: e } = setup();
    const seen: [number, number, bigint][] = [];
    bus.mmio.map('regs', 0x1000_0000n, 0x1000n, {
      mmioRead: (offset, size) => BigInt(offset + size),
      mmioWrite: (offset, size, value) => void seen.push([offset, size, value]),
    });
    memory.writeBytes(SRC, Uint8Array.from({ length: 24 }, (_, i) => i + 1));
    program(e, Operation.Copy, SRC, 0x1000_0003n, 21);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    // One 21-byte write transaction at offset 3, split by the bus as 1 + 4 + 8 + 8 bytes.
    expect(e.counters.writes).toBe(1);
    expect(seen).toEqual([
      [3, 1, 0x01n],
      [4, 4, 0x05040302n],
      [8, 8, 0x0d0c0b0a09080706n],
      [16, 8, 0x1514131211100f0en],
    ]);
  });
});

describe('DMA engine interrupt', () => {
  it('is a level: DONE and IE, cleared by acknowledging DONE', () => {
    const { engine: e } = setup();
    program(e, Operation.Fill, 0n, DST, 64, 0n, Control.IE);
    expect(e.irq.asserted).toBe(true);
    expect(e.irq.rises).toBe(1);
    e.mmioWrite32(Reg.STATUS, Status.DONE);
    expect(e.irq.asserted).toBe(false);
    // Without IE the line stays low; enabling IE with DONE pending raises it.
    program(e, Operation.Fill, 0n, DST, 64, 0n, 0);
    expect(e.irq.asserted).toBe(false);
    e.mmioWrite32(Reg.CONTROL, Control.IE);
    expect(e.irq.asserted).toBe(true);
    e.mmioWrite32(Reg.CONTROL, 0);
    expect(e.irq.asserted).toBe(false);
  });

  it('is raised for failed transfers too', () => {
    const { memory, engine: e } = setup();
    memory.markAccessFault(DST, 8n);
    program(e, Operation.Fill, 0n, DST, 64, 0n, Control.IE);
    expect(e.irq.asserted).toBe(true);
    expect(e.mmioRead32(Reg.STATUS) & Status.ERROR).toBe(Status.ERROR);
  });
});

describe('DMA engine over simulated time', () => {
  it('moves bytesPerCycle bytes per cycle, burst by burst', () => {
    const { memory, clock, engine: e } = setup({ bytesPerCycle: 8, burstBytes: 64 });
    const data = pattern(4096);
    memory.writeBytes(SRC, data);
    program(e, Operation.Copy, SRC, DST, 4096, 0n, Control.IE);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.BUSY);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0);
    clock.advance(80); // ten bursts of 8 cycles
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(640);
    // START while busy is ignored.
    e.mmioWrite32(Reg.CONTROL, Control.START | Control.IE);
    clock.advance(511 - 80);
    expect(e.busy).toBe(true);
    expect(e.irq.asserted).toBe(false);
    clock.advance(1);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(e.irq.asserted).toBe(true);
    expect(memory.readBytes(DST, 4096)).toEqual(data);
    expect(clock.pending).toBe(0);
    expect(e.counters.transfers).toBe(1);
  });

  it('stops on ABORT and reports where it was', () => {
    const { clock, engine: e } = setup({ bytesPerCycle: 4, burstBytes: 64 });
    program(e, Operation.Fill, 0n, DST, 4096, 0x11n);
    clock.advance(48); // three bursts
    e.mmioWrite32(Reg.CONTROL, Control.ABORT);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE | Status.ERROR | (ErrorCause.SoftwareAbort << Status.CAUSE_SHIFT));
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(192);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(DST + 192n);
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(192);
  });

  it('spends ceil(bytes / bytesPerCycle) cycles on each transaction, short ones included', () => {
    const { memory, clock, engine: e } = setup({ bytesPerCycle: 8, burstBytes: 64 });
    // 32 bytes to the destination's page boundary (4 cycles), then 64 (8 cycles), then 4
    // (ceil(4 / 8) = 1 cycle).
    program(e, Operation.Fill, 0n, DST + 0xfe0n, 100, 0x5an);
    clock.advance(3);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0);
    clock.advance(1);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(32);
    clock.advance(8);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(96);
    expect(e.busy).toBe(true);
    clock.advance(1);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(e.counters.writes).toBe(3);
    expect(memory.read(DST + 0x1040n, 1)).toBe(0x5an);
    expect(clock.pending).toBe(0);
  });

  it('needs a clock to be timed', () => {
    const bus = new SystemBus(new PhysicalMemory());
    expect(() => new DmaEngine({ port: new DirectDmaPort(bus), bytesPerCycle: 1 })).toThrow(/needs a clock/);
  });
});

describe('DMA engine behind a RISC-V IOMMU', () => {
  function engineBehind(b: RiscvIommuBench, deviceId: number) {
    return new DmaEngine({ port: new RiscvIommuDmaPort(b.iommu), deviceId });
  }

  it('passes DMA through untranslated in Bare mode', () => {
    const b = new RiscvIommuBench({ mode: 'Bare' });
    const e = engineBehind(b, 3);
    const data = pattern(512);
    b.memory.writeBytes(SRC, data);
    program(e, Operation.Copy, SRC, DST, 512);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(b.memory.readBytes(DST, 512)).toEqual(data);
    // 512 bytes in 64-byte transactions, one translation each: 8 reads + 8 writes.
    expect(b.iommu.statistics().requests.untranslated).toBe(16);
  });

  it('is aborted while the IOMMU is Off, with a fault record (cause 256)', () => {
    const b = new RiscvIommuBench({ mode: 'Off' });
    const e = engineBehind(b, 3);
    program(e, Operation.Copy, SRC, DST, 64);
    expect((e.mmioRead32(Reg.STATUS) & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC);
    const faults = b.faults();
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ cause: Cause.AllInboundDisallowed, did: 3, iotval: SRC });
  });

  it('translates through a first-stage mapping and faults outside it', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    const IOVA_SRC = 0x1000_0000n;
    const IOVA_DST = 0x2000_0000n;
    pt.map(IOVA_SRC, SRC);
    pt.map(IOVA_DST, DST);
    b.setDeviceContext(7, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    const e = engineBehind(b, 7);
    const data = pattern(4096, 5);
    b.memory.writeBytes(SRC, data);
    program(e, Operation.Copy, IOVA_SRC, IOVA_DST, 4096);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(b.memory.readBytes(DST, 4096)).toEqual(data);

    // One page too far on the write side: a store page fault, and the engine stops there.
    program(e, Operation.Fill, 0n, IOVA_DST + 0xff0n, 0x20, 0x77n);
    const status = e.mmioRead32(Reg.STATUS);
    expect((status & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    expect(status & Status.ERR_WRITE).toBe(Status.ERR_WRITE);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(IOVA_DST + 0x1000n);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0x10);
    expect(b.faults()).toEqual([expect.objectContaining({ cause: Cause.WritePageFault, did: 7, iotval: IOVA_DST + 0x1000n })]);
    expect(b.memory.readBytes(DST + 0xff0n, 16)).toEqual(Uint8Array.from([0x77, 0, 0, 0, 0, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0]));

    // A device with no valid device context is stopped on its first read.
    const stranger = engineBehind(b, 8);
    program(stranger, Operation.Copy, IOVA_SRC, IOVA_DST, 64);
    expect(stranger.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(IOVA_SRC);
    expect(b.faults()).toEqual([expect.objectContaining({ cause: Cause.DdtEntryNotValid, did: 8 })]);
  });

  it('translates each transaction once and stops a 3-page copy at the first transaction of an unmapped middle page', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    const IOVA_SRC = 0x1000_0000n;
    const IOVA_DST = 0x2000_0000n;
    // The source starts 0x100 into its first page (so it needs 4 pages); the destination is
    // page-aligned and its middle page is not mapped.
    for (let i = 0n; i < 4n; i++) pt.map(IOVA_SRC + i * 0x1000n, SRC + i * 0x1000n);
    pt.map(IOVA_DST, DST);
    pt.map(IOVA_DST + 0x2000n, DST + 0x2000n);
    b.setDeviceContext(7, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    const e = engineBehind(b, 7);
    const data = pattern(3 * 4096, 11);
    b.memory.writeBytes(SRC + 0x100n, data);
    program(e, Operation.Copy, IOVA_SRC + 0x100n, IOVA_DST, 3 * 4096);
    const status = e.mmioRead32(Reg.STATUS);
    expect((status & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    expect(status & Status.ERR_WRITE).toBe(Status.ERR_WRITE);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(IOVA_DST + 0x1000n);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0x1000);
    expect(b.faults()).toEqual([expect.objectContaining({ cause: Cause.WritePageFault, did: 7, iotval: IOVA_DST + 0x1000n })]);
    expect(b.memory.readBytes(DST, 0x1000)).toEqual(data.subarray(0, 0x1000));
    expect(b.memory.readBytes(DST + 0x2000n, 0x1000)).toEqual(new Uint8Array(0x1000));
    // One translation per transaction: the first destination page took 64 transactions of
    // 64 bytes each way (the source's page boundary at 0xf00 falls on a 64-byte step), then
    // the middle page's first read and its faulting write: 64 + 64 + 1 + 1 = 130.
    expect(b.iommu.statistics().requests.untranslated).toBe(130);
    expect(e.counters).toMatchObject({ reads: 65, writes: 65 });
  });

  it('reports poisoned read data through the IOMMU as cause 3', () => {
    const b = new RiscvIommuBench({ mode: 'Bare' });
    const e = engineBehind(b, 3);
    b.memory.markDataCorruption(SRC + 0x80n, 1n);
    program(e, Operation.ReadVerify, SRC, 0n, 256, 0n);
    expect((e.mmioRead32(Reg.STATUS) & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Poisoned);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC + 0x80n);
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(0x80);
    expect(b.faults()).toEqual([]); // poison is the target's answer, not an IOMMU fault
  });
});
