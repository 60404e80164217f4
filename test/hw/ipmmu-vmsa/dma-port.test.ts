// DMA masters behind a cache IPMMU: the iommu-lab DMA engine's upstream port is the IPMMU's,
// its requester id the micro-TLB number (the cell of its `iommus` specifier). A transfer is
// translated transaction by transaction; a faulting transaction is aborted before it reaches
// memory (nothing of it is written) and the engine reports it; bytes are counted per micro-TLB.

import { describe, expect, it } from 'vitest';
import { DmaEngine, DmaEngineReg, ErrorCause, Operation, Status, Control } from '../../../src/devices/dma-engine/index.js';
import { DmaPortStatus, DmaRequester } from '../../../src/devices/dma-port.js';
import { ContextReg, Imstr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { Bench, Prot } from './bench.js';

function copy(engine: DmaEngine, src: bigint, dst: bigint, length: number): number {
  engine.mmioWrite(DmaEngineReg.SOURCE, 8, src);
  engine.mmioWrite(DmaEngineReg.DESTINATION, 8, dst);
  engine.mmioWrite(DmaEngineReg.LENGTH, 4, BigInt(length));
  engine.mmioWrite(DmaEngineReg.CONTROL, 4, BigInt(Control.START | (Operation.Copy << Control.OP_SHIFT)));
  return Number(engine.mmioRead(DmaEngineReg.STATUS, 4));
}

function setUp() {
  const b = new Bench();
  const t = b.table();
  // Guest-physical 0x4000_0000.. (three pages) onto machine pages; the third one read-only.
  b.map(t, 0x4000_0000n, 0x4800_0000n, { count: 2 });
  b.map(t, 0x4000_2000n, 0x4800_2000n, { prot: Prot.READ });
  b.programContext(1, t);
  b.enableUtlb(b.cache0, 6, 1);
  const engine = new DmaEngine({ name: 'dmac', port: b.cache0.port, deviceId: 6, burstBytes: 256 });
  return { b, t, engine };
}

describe('a DMA engine behind a cache IPMMU', () => {
  it('copies between guest-physical addresses, landing in the machine pages the table maps', () => {
    const { b, engine } = setUp();
    b.memory.writeBytes(0x4800_0100n, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(copy(engine, 0x4000_0100n, 0x4000_1e00n, 0x200)).toBe(Status.DONE);
    expect([...b.memory.readBytes(0x4800_1e00n, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const s = b.cache0.statistics();
    expect(s.utlbs).toEqual([{ utlb: 6, transactions: 4, bytes: 0x400, rejected: 0 }]); // 2 reads + 2 writes of 256 bytes
    expect(s.contexts[1]).toMatchObject({ translations: 4, tlbMisses: 2, tlbHits: 2 });
  });

  it('aborts a write to a read-only page: the engine stops with Aborted and memory is untouched', () => {
    const { b, engine } = setUp();
    b.memory.writeBytes(0x4800_0000n, new Uint8Array(64).fill(0xaa));
    const status = copy(engine, 0x4000_0000n, 0x4000_2000n, 64);
    expect(status & Status.ERROR).not.toBe(0);
    expect((status & Status.CAUSE_MASK) >> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    expect(status & Status.ERR_WRITE).not.toBe(0);
    expect(engine.mmioRead(DmaEngineReg.ERROR_ADDRESS, 8)).toBe(0x4000_2000n);
    expect([...b.memory.readBytes(0x4800_2000n, 64)]).toEqual(new Array(64).fill(0));
    expect(b.ctx(b.root, 1, ContextReg.IMSTR) & Imstr.ERRORS).toBe(Imstr.PF);
    expect(b.cache0.statistics().utlbs[0]).toMatchObject({ utlb: 6, rejected: 1, bytes: 64 }); // the read completed
  });

  it('aborts a read of an unmapped IPA with a translation fault', () => {
    const { b, engine } = setUp();
    const status = copy(engine, 0x5000_0000n, 0x4000_0000n, 16);
    expect((status & Status.CAUSE_MASK) >> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    expect(status & Status.ERR_WRITE).toBe(0);
    expect(b.ctx(b.root, 1, ContextReg.IMELAR)).toBe(0x5000_0000);
    expect(b.root.irq.asserted).toBe(true);
  });

  it('answers single accesses: a translated read returns the data, a misaligned one is a bus error', () => {
    const { b } = setUp();
    b.memory.write(0x4800_0008n, 8, 0x1122_3344_5566_7788n);
    const port = b.cache0.port;
    const who = new DmaRequester(6);
    expect(port.read(who, 0x4000_0008n, 8)).toBe(DmaPortStatus.Ok);
    expect(port.value).toBe(0x1122_3344_5566_7788n);
    expect(port.write(who, 0x4000_2010n, 4, 1n)).toBe(DmaPortStatus.Aborted);
    expect(port.read(who, 0x4000_0004n, 8)).toBe(DmaPortStatus.BusError);
    expect(port.readBurst(who, 0x4000_0ff0n, 0x20, new Uint8Array(0x20), 0)).toBe(DmaPortStatus.BusError); // crosses 4 KiB
    expect(port.counters).toMatchObject({ reads: 3, writes: 1, aborted: 1, busErrors: 2 });
  });

  it('sends the transactions of a disabled micro-TLB straight to the bus (bypass), with their address unchanged', () => {
    const { b } = setUp();
    const engine = new DmaEngine({ name: 'other', port: b.cache0.port, deviceId: 7 });
    b.memory.writeBytes(0x4900_0000n, new Uint8Array([9, 9, 9, 9]));
    expect(copy(engine, 0x4900_0000n, 0x4900_1000n, 4)).toBe(Status.DONE);
    expect([...b.memory.readBytes(0x4900_1000n, 4)]).toEqual([9, 9, 9, 9]);
    expect(b.cache0.statistics().bypassed).toBe(2);
  });
});
