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
  it('copies 8-byte aligned buffers in 8-byte accesses and reports DONE', () => {
    const { memory, port, engine: e } = setup();
    const data = pattern(4096);
    memory.writeBytes(SRC, data);
    program(e, Operation.Copy, SRC, DST, 4096);
    expect(e.mmioRead32(Reg.STATUS)).toBe(Status.DONE);
    expect(memory.readBytes(DST, 4096)).toEqual(data);
    expect(port.counters).toEqual({ reads: 512, writes: 512, errors: 0 });
    expect(e.mmioRead32(Reg.PROGRESS)).toBe(4096);
    expect(e.mmioRead(Reg.BYTES, 8)).toBe(4096n);
    expect(e.mmioRead32(Reg.TRANSFERS)).toBe(1);
    expect(e.counters).toMatchObject({ bytes: 4096, transfers: 1, errors: 0, reads: 512, writes: 512 });
    // DONE is write-1-to-clear.
    e.mmioWrite32(Reg.STATUS, Status.DONE);
    expect(e.mmioRead32(Reg.STATUS)).toBe(0);
  });

  it('copies misaligned buffers with the largest aligned beats', () => {
    const { memory, engine: e } = setup();
    const rec = new RecordingPort();
    const data = pattern(37, 3);
    memory.writeBytes(SRC + 3n, data);
    program(e, Operation.Copy, SRC + 3n, DST + 3n, 37);
    expect(memory.readBytes(DST + 3n, 37)).toEqual(data);
    expect(memory.readBytes(DST, 3)).toEqual(new Uint8Array(3));
    expect(memory.readBytes(DST + 40n, 8)).toEqual(new Uint8Array(8));
    // Same alignment on both sides: 1, 4, then 8-byte beats, then the tail.
    e.port = rec;
    program(e, Operation.Copy, SRC + 3n, DST + 3n, 37);
    expect(rec.log.filter((a) => !a.write).map((a) => a.size)).toEqual([1, 4, 8, 8, 8, 8]);
    rec.log.length = 0;
    // Different alignments: the beats follow the worse of the two.
    program(e, Operation.Copy, SRC + 1n, DST + 2n, 4);
    expect(rec.log.filter((a) => !a.write).map((a) => a.size)).toEqual([1, 1, 1, 1]);
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

  it('reports a read of poisoned data as cause 3', () => {
    const { memory, engine: e } = setup();
    memory.markDataCorruption(SRC + 0x18n, 8n);
    program(e, Operation.Copy, SRC, DST, 64);
    const status = e.mmioRead32(Reg.STATUS);
    expect((status & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Poisoned);
    expect(status & Status.ERR_WRITE).toBe(0);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC + 0x18n);
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
    e.port = new RecordingPort((address) => (address >= SRC + 16n ? DmaPortStatus.Aborted : DmaPortStatus.Ok));
    program(e, Operation.ReadVerify, SRC, 0n, 64, 0n);
    expect((e.mmioRead32(Reg.STATUS) & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    expect(e.mmioRead(Reg.ERROR_ADDRESS, 8)).toBe(SRC + 16n);
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
    expect(b.iommu.statistics().requests.untranslated).toBe(128);
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
});
