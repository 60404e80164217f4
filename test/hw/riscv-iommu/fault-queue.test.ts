// Conformance: the fault/event queue (RISC-V IOMMU spec v1.0, "Fault/Event-Queue (FQ)",
// registers fqb, fqh, fqt, fqcsr and ipsr.fip): the record layout, which faults DTF
// suppresses, and the queue's off, overflow and memory-fault behaviour.

import { describe, expect, it } from 'vitest';
import { CAUSES_REPORTED_DESPITE_DTF, Reg } from '../../../src/formats/index.js';
import { ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import { Clock } from '../../../src/sim/clock.js';
import { RiscvIommuBench, type BenchOptions } from '../../support/riscv-iommu-bench.js';
import { bench, expectedRecord, fip, fqcsr, RequestKind, send } from './directory-support.js';

/** A bench in Off mode: every transaction faults with cause 256, recorded with its device_id. */
function offBench(o: BenchOptions = {}): RiscvIommuBench {
  return new RiscvIommuBench(o);
}

/** One fault (cause 256) for device `did`. */
function fault(b: RiscvIommuBench, did: number): void {
  expect(send(b, did).cause).toBe(256);
}

const FQEN = 1;
const FIE = 2;
const FQMF = 1 << 8;
const FQOF = 1 << 9;

function clearFip(b: RiscvIommuBench): void {
  b.write32(Reg.ipsr, 2);
}

describe('fault record layout ("Fault/Event-Queue": fault-queue record)', () => {
  it('doubleword 0 holds CAUSE[11:0], PID[31:12], PV[32], PRIV[33], TTYP[39:34], DID[63:40]; dw1 reserved 0; dw2 iotval; dw3 iotval2', () => {
    const b = offBench();
    // Pre-fill the slot with garbage: every field, including the reserved doubleword, must be written.
    for (let i = 0n; i < 32n; i += 8n) b.memory.write(b.fqBase + i, 8, 0xa5a5_a5a5_a5a5_a5a5n);
    send(b, 0xabcdef, { pid: 0x12345, priv: true, write: true, iova: 0x1122_3344_5566_7788n });
    expect(b.read32(Reg.fqt)).toBe(1);
    const dw = [0n, 8n, 16n, 24n].map((o) => b.memory.read(b.fqBase + o, 8));
    const ttyp = 3n; // untranslated write/AMO
    expect(dw[0]).toBe(256n | (0x12345n << 12n) | (1n << 32n) | (1n << 33n) | (ttyp << 34n) | (0xabcdefn << 40n));
    expect(dw[1]).toBe(0n);
    expect(dw[2]).toBe(0x1122_3344_5566_7788n);
    expect(dw[3]).toBe(0n);
  });

  it('PID and PRIV are 0 when PV is 0, even if the request claims privilege', () => {
    const b = offBench();
    send(b, 0x10, { priv: true });
    const [rec] = b.faults();
    expect(rec).toMatchObject({ pv: false, pid: 0, priv: false, did: 0x10 });
    expect(b.memory.read(b.fqBase, 8) & 0x3_ffff_f000n).toBe(0n);
  });

  it('records carry each TTYP: untranslated read/exec/write, translated read/exec/write, ATS translation request', () => {
    const b = offBench();
    const txns = [
      { t: {}, ttyp: 2 },
      { t: { execute: true }, ttyp: 1 },
      { t: { write: true }, ttyp: 3 },
      { t: { kind: RequestKind.Translated }, ttyp: 6 },
      { t: { kind: RequestKind.Translated, execute: true, pid: 1 }, ttyp: 5 },
      { t: { kind: RequestKind.Translated, write: true }, ttyp: 7 },
      { t: { kind: RequestKind.AtsTranslation }, ttyp: 8 },
    ];
    for (const { t } of txns) send(b, 1, t);
    expect(b.faults().map((r) => r.ttyp)).toEqual(txns.map((x) => x.ttyp));
  });

  it('fctl.BE=1: each doubleword of the record is big-endian', () => {
    const b = offBench({ bigEndianAtReset: true });
    send(b, 0x123456, { iova: 0x0102_0304_0506_0708n });
    // Doubleword 0 = DID 0x123456 << 40 | TTYP 2 << 34 | CAUSE 256, most significant byte first.
    expect([...b.memory.readBytes(b.fqBase, 8)]).toEqual([0x12, 0x34, 0x56, 0x08, 0x00, 0x00, 0x01, 0x00]);
    expect([...b.memory.readBytes(b.fqBase + 16n, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(b.faults()).toEqual([expectedRecord(0x123456, { iova: 0x0102_0304_0506_0708n }, 256)]);
  });

  it('records are written at fqt, which advances by one per record, in order', () => {
    const b = offBench();
    for (let did = 1; did <= 5; did++) {
      fault(b, did);
      expect(b.read32(Reg.fqt)).toBe(did);
    }
    expect(b.faults().map((r) => r.did)).toEqual([1, 2, 3, 4, 5]);
    expect(b.read32(Reg.fqh)).toBe(5);
  });
});

describe('DTF ("Fault record CAUSE field encodings": "Reported if DTF is 1?")', () => {
  it('the fault queue drops, under DTF=1, exactly the causes the table marks "No"', () => {
    const causes = [1, 4, 5, 6, 7, 12, 13, 15, 20, 21, 23, 256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270, 271, 272, 273, 274];
    const reportedDespiteDtf = [256, 257, 258, 259, 268, 272, 273];
    expect([...CAUSES_REPORTED_DESPITE_DTF].sort((x, y) => x - y)).toEqual(reportedDespiteDtf);
    const b = offBench();
    for (const cause of causes) b.iommu.faultQueue.report(cause, 2, 7, false, 0, false, 0, 0x1000, 0, 0, true);
    expect(b.faults().map((r) => r.cause)).toEqual(reportedDespiteDtf);
  });

  it('end to end: a DTF=1 device has its translation faults suppressed, its aborts kept, and cause 256 still reported', () => {
    const b = bench();
    const pt = b.pageTable('Sv39'); // empty: every access is a page fault
    b.setDeviceContext(5, { tc: { DTF: true }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    expect(send(b, 5)).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 13 });
    expect(send(b, 5, { write: true })).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 15 });
    expect(send(b, 5, { pid: 1 })).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 260 });
    expect(b.faults()).toEqual([]);
    b.setMode('Off');
    expect(send(b, 5).cause).toBe(256);
    expect(b.faults()).toEqual([expectedRecord(5, {}, 256)]);
  });

  it('DTF=0 devices keep reporting while a DTF=1 device is silent', () => {
    const b = bench();
    const pt = b.pageTable('Sv39');
    b.setDeviceContext(5, { tc: { DTF: true }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    b.setDeviceContext(6, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    send(b, 5);
    send(b, 6);
    expect(b.faults()).toEqual([expectedRecord(6, {}, 13)]);
  });
});

describe('fault queue off (fqcsr.fqen=0)', () => {
  it('faults are not recorded while the queue is off, but transactions still abort', () => {
    const b = offBench();
    b.write32(Reg.fqcsr, FIE);
    expect(fqcsr(b)).toMatchObject({ fqen: false, fqon: false });
    for (let did = 1; did <= 3; did++) expect(send(b, did).status).toBe(ResponseStatus.UnsupportedRequest);
    expect(b.read32(Reg.fqt)).toBe(0);
    expect(b.memory.read(b.fqBase, 8)).toBe(0n);
    expect(fip(b)).toBe(false);
    b.write32(Reg.fqcsr, FQEN | FIE);
    fault(b, 9);
    expect(b.faults().map((r) => r.did)).toEqual([9]);
  });

  it('a queue that was never enabled records nothing', () => {
    const b = offBench({ fqEntries: 0 });
    fault(b, 1);
    expect(b.read32(Reg.fqt)).toBe(0);
    expect(b.iommu.statistics().faults.recorded).toBe(0);
    expect(b.iommu.statistics().faults.dropped).toBe(1);
  });
});

describe('fault queue overflow (fqcsr.fqof)', () => {
  it('a full queue (fqt == fqh - 1) sets fqof, discards the record, and keeps fqt', () => {
    const b = offBench({ fqEntries: 4 });
    for (let did = 1; did <= 3; did++) fault(b, did);
    expect(b.read32(Reg.fqt)).toBe(3);
    expect(fqcsr(b).fqof).toBe(false); // full, not yet overflowed
    const slot3 = b.memory.read(b.fqBase + 3n * 32n, 8);
    fault(b, 4);
    expect(fqcsr(b).fqof).toBe(true);
    expect(b.read32(Reg.fqt)).toBe(3);
    expect(b.memory.read(b.fqBase + 3n * 32n, 8)).toBe(slot3);
    expect(b.iommu.statistics().faults.overflows).toBe(1);
  });

  it('while fqof is set every later fault is discarded, even after software makes room; clearing fqof resumes recording', () => {
    const b = offBench({ fqEntries: 4 });
    for (let did = 1; did <= 4; did++) fault(b, did);
    expect(b.faults().map((r) => r.did)).toEqual([1, 2, 3]); // consumes: fqh = fqt = 3
    fault(b, 5);
    fault(b, 6);
    expect(b.read32(Reg.fqt)).toBe(3);
    expect(fqcsr(b).fqof).toBe(true);
    b.write32(Reg.fqcsr, FQEN | FIE | FQOF); // RW1C
    expect(fqcsr(b)).toMatchObject({ fqof: false, fqen: true, fqon: true });
    fault(b, 7);
    fault(b, 8);
    expect(b.read32(Reg.fqt)).toBe(1); // wrapped: slots 3 and 0
    expect(b.faults().map((r) => r.did)).toEqual([7, 8]);
  });

  it('fip is raised by new records and by the overflow, and re-latches while fqof stays set', () => {
    const b = offBench({ fqEntries: 4 });
    expect(fip(b)).toBe(false);
    fault(b, 1);
    expect(fip(b)).toBe(true); // a new record
    clearFip(b);
    expect(fip(b)).toBe(false);
    fault(b, 2);
    fault(b, 3);
    clearFip(b);
    fault(b, 4); // overflow
    expect(fip(b)).toBe(true);
    clearFip(b);
    expect(fip(b)).toBe(true); // fqof still 1: the condition holds
    b.write32(Reg.fqcsr, FQEN | FIE | FQOF);
    clearFip(b);
    expect(fip(b)).toBe(false);
  });

  it('with fie=0 neither records nor the overflow set fip', () => {
    const b = offBench({ fqEntries: 2 });
    b.write32(Reg.fqcsr, FQEN);
    fault(b, 1);
    fault(b, 2);
    expect(fqcsr(b).fqof).toBe(true);
    expect(fip(b)).toBe(false);
  });
});

describe('memory fault on a record write (fqcsr.fqmf)', () => {
  it('an access fault writing the record sets fqmf and discards it; nothing more is recorded until fqmf is cleared', () => {
    const b = offBench({ fqEntries: 8 });
    fault(b, 1);
    clearFip(b);
    b.memory.markAccessFault(b.fqBase + 32n + 16n, 8n); // iotval of slot 1
    fault(b, 2);
    expect(fqcsr(b).fqmf).toBe(true);
    expect(b.read32(Reg.fqt)).toBe(1);
    expect(fip(b)).toBe(true);
    b.memory.clearMarks();
    fault(b, 3); // discarded: fqmf still set
    expect(b.read32(Reg.fqt)).toBe(1);
    clearFip(b);
    expect(fip(b)).toBe(true); // re-latched: fqmf holds
    b.write32(Reg.fqcsr, FQEN | FIE | FQMF);
    expect(fqcsr(b).fqmf).toBe(false);
    fault(b, 4);
    expect(b.faults().map((r) => r.did)).toEqual([1, 4]);
    expect(b.iommu.faultQueue.stats.memoryFaults).toBe(1);
  });

  it('a queue page outside the physical address space faults every record write', () => {
    const b = offBench({ fqEntries: 0, capabilities: { PAS: 40 } });
    // fqb.PPN is WARL: bits beyond PAS do not stick, so place the queue at the top of the space instead.
    const top = (1n << 40n) - 4096n;
    b.write64(Reg.fqb, ((top >> 12n) << 10n) | 0n);
    b.write32(Reg.fqcsr, FQEN | FIE);
    b.memory.markAccessFault(top, 4096n);
    fault(b, 1);
    expect(fqcsr(b).fqmf).toBe(true);
    expect(b.read32(Reg.fqt)).toBe(0);
  });
});

describe('fqen 1 -> 0 -> 1', () => {
  it('re-enabling the queue resets fqt, fqof and fqmf; fqon follows fqen', () => {
    const b = offBench({ fqEntries: 4 });
    for (let did = 1; did <= 4; did++) fault(b, did); // overflow
    expect(fqcsr(b)).toMatchObject({ fqof: true, fqon: true });
    b.write32(Reg.fqcsr, FIE);
    expect(fqcsr(b)).toMatchObject({ fqen: false, fqon: false, busy: false });
    b.write32(Reg.fqh, 0);
    b.write32(Reg.fqcsr, FQEN | FIE);
    expect(fqcsr(b)).toMatchObject({ fqen: true, fqon: true, fqof: false, fqmf: false });
    expect(b.read32(Reg.fqt)).toBe(0);
    fault(b, 9);
    expect(b.faults().map((r) => r.did)).toEqual([9]);
  });

  it('with a busy handshake (controlBusyCycles), fqon follows fqen only once busy clears; records wait for fqon', () => {
    const clock = new Clock();
    const b = new RiscvIommuBench({ clock, controlBusyCycles: 10, fqEntries: 0 });
    b.enableFaultQueue(8); // writes fqcsr.fqen=1: busy for 10 cycles
    expect(fqcsr(b)).toMatchObject({ fqen: true, busy: true, fqon: false });
    fault(b, 1); // the queue is not active yet: nothing can be recorded
    clock.advance(10);
    expect(fqcsr(b)).toMatchObject({ fqen: true, busy: false, fqon: true });
    fault(b, 2);
    b.write32(Reg.fqcsr, FIE);
    expect(fqcsr(b)).toMatchObject({ fqen: false, busy: true, fqon: true });
    clock.advance(10);
    expect(fqcsr(b)).toMatchObject({ fqen: false, busy: false, fqon: false });
    expect(b.faults().map((r) => r.did)).toEqual([2]);
  });

  it('re-enabling also clears fqmf', () => {
    const b = offBench({ fqEntries: 4 });
    b.memory.markAccessFault(b.fqBase, 32n);
    fault(b, 1);
    expect(fqcsr(b).fqmf).toBe(true);
    b.memory.clearMarks();
    b.write32(Reg.fqcsr, FIE);
    b.write32(Reg.fqcsr, FQEN | FIE);
    expect(fqcsr(b).fqmf).toBe(false);
    fault(b, 2);
    expect(b.faults().map((r) => r.did)).toEqual([2]);
  });
});

describe('queue geometry (fqb.LOG2SZ-1, fqh)', () => {
  it('a 512-entry queue spans four pages; records cross pages and the tail wraps', () => {
    const b = offBench({ fqEntries: 512 });
    expect(b.fqBase % (512n * 32n)).toBe(0n); // naturally aligned, as required above 128 entries
    for (let did = 0; did < 300; did++) fault(b, did);
    expect(b.read32(Reg.fqt)).toBe(300);
    // Record 200 sits in the second page of the queue, at its index.
    expect((b.memory.read(b.fqBase + 200n * 32n, 8) >> 40n) & 0xffffffn).toBe(200n);
    expect(b.faults().map((r) => r.did)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    for (let did = 300; did < 600; did++) fault(b, did);
    expect(b.read32(Reg.fqt)).toBe(600 - 512);
    expect(b.faults().map((r) => r.did)).toEqual(Array.from({ length: 300 }, (_, i) => 300 + i));
    expect(fqcsr(b).fqof).toBe(false);
  });

  it('fqh is WARL: only bits LOG2SZ-1:0 are writable', () => {
    const b = offBench({ fqEntries: 16 });
    b.write32(Reg.fqh, 0xffff_fff5);
    expect(b.read32(Reg.fqh)).toBe(5);
  });

  it('fqt is read-only to software', () => {
    const b = offBench({ fqEntries: 16 });
    fault(b, 1);
    b.write32(Reg.fqt, 7);
    expect(b.read32(Reg.fqt)).toBe(1);
  });
});
