// Conformance tests for interrupt generation by the RISC-V IOMMU (specification sections
// "Interrupt pending status register (ipsr)", "Interrupt-cause-to-vector register (icvec)",
// "MSI configuration table (msi_cfg_tbl)", "Features-control register (fctl)" and the
// IOFENCE.C command). MSIs are observed as writes to memory or to an MSI controller mapped on
// the IOMMU's bus; wired interrupts as the levels of the IOMMU's interrupt lines.

import { describe, expect, it } from 'vitest';
import { atsInval, iofenceC } from '../../../src/formats/index.js';
import { pageRequest } from '../../../src/hw/riscv-iommu/index.js';
import { MsiController } from '../../../src/sim/irq.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';
import { RiscvIommuBench, type BenchOptions } from '../../support/riscv-iommu-bench.js';

const FCTL = 8;
const CQCSR = 72;
const FQCSR = 76;
const PQCSR = 80;
const IPSR = 84;
const IOHPMCYCLES = 96;
const IOHPMCTR1 = 104;
const IOHPMEVT1 = 352;
const ICVEC = 760;
const msiAddr = (v: number): number => 768 + 16 * v;
const msiData = (v: number): number => 768 + 16 * v + 8;
const msiVecCtl = (v: number): number => 768 + 16 * v + 12;

// ipsr bits
const CIP = 1;
const FIP = 2;
const PMIP = 4;
const PIP = 8;
// queue CSR bits
const EN = 1;
const IE = 2;
const MF = 1 << 8;
const CMD_TO = 1 << 9;
const OF = 1 << 9;
const CMD_ILL = 1 << 10;
const FENCE_W_IP = 1 << 11;

const IMSIC = 0x2800_0000n;
const ILLEGAL: readonly [bigint, bigint] = [0n, 0n]; // opcode 0 is not a command

/** Vector v's MSI data in these tests. */
const dataOf = (v: number): number => 0x100 + v;

interface MsiSetup {
  b: RiscvIommuBench;
  imsic: MsiController;
  /** Data of every message the MSI controller received, in order. */
  messages(): number[];
}

/**
 * An IOMMU generating MSIs (fctl.WSI=0) whose every vector points at one MSI controller
 * doorbell, vector v with data 0x100+v; icvec maps CQ->civ, FQ->fiv, HPM->pmiv, PQ->piv.
 */
function msiSetup(o: BenchOptions & { civ?: number; fiv?: number; pmiv?: number; piv?: number } = {}): MsiSetup {
  const memory = new PhysicalMemory();
  const bus = new SystemBus(memory);
  const imsic = new MsiController('imsic', IMSIC);
  bus.mmio.map('imsic', IMSIC, 0x1000n, imsic);
  const b = new RiscvIommuBench({ memory, bus, ...o });
  const civ = o.civ ?? 0;
  const fiv = o.fiv ?? 1;
  const pmiv = o.pmiv ?? 2;
  const piv = o.piv ?? 3;
  b.write64(ICVEC, BigInt(civ | (fiv << 4) | (pmiv << 8) | (piv << 12)));
  for (let v = 0; v < 16; v++) {
    b.write64(msiAddr(v), IMSIC);
    b.write32(msiData(v), dataOf(v));
  }
  return { b, imsic, messages: () => imsic.received.map((m) => m.data) };
}

/** With ddtp Off, every inbound transaction faults and is recorded (cause 256). */
function causeFault(b: RiscvIommuBench, did = 0x77): void {
  b.iommu.translate({ deviceId: did, iova: 0x4000n });
}

/** A 1LVL IOMMU whose device 3 may send page requests (EN_ATS, EN_PRI). */
function prepareDevice3(b: RiscvIommuBench): void {
  b.setMode('1LVL');
  b.setDeviceContext(3, { tc: { EN_ATS: true, EN_PRI: true } });
}
const pageReq = (prgi: number) => pageRequest({ rid: 3, address: 0x9000n, read: true, write: false, last: true, groupIndex: prgi });

// ==============================================================================================

describe('ipsr.cip: command-queue interrupts (§ Interrupt pending status register, § Command-queue CSR)', () => {
  it('cmd_ill sets cip and sends one MSI through the civ vector', () => {
    const s = msiSetup({ fqEntries: 0 });
    s.b.submit(ILLEGAL);
    expect(s.b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    expect(s.b.read32(IPSR)).toBe(CIP);
    expect(s.messages()).toEqual([dataOf(0)]);
  });

  it('cqmf sets cip', () => {
    const s = msiSetup({ fqEntries: 0 });
    s.b.memory.markAccessFault(s.b.cqBase, 16n);
    s.b.submit(iofenceC());
    expect(s.b.cqcsr & MF).toBe(MF);
    expect(s.b.read32(IPSR)).toBe(CIP);
    expect(s.messages()).toEqual([dataOf(0)]);
  });

  it('an IOFENCE.C memory fault on its completion write sets cqmf and cip', () => {
    const s = msiSetup({ fqEntries: 0 });
    const target = s.b.alloc.alloc();
    s.b.memory.markAccessFault(target, 4n);
    s.b.submit(iofenceC({ address: target, data: 1 }));
    expect(s.b.cqcsr & MF).toBe(MF);
    expect(s.b.read32(IPSR)).toBe(CIP);
  });

  it('cmd_to sets cip', () => {
    const s = msiSetup({ fqEntries: 0, atsInvalidationTimeoutCycles: 20 });
    s.b.submit(atsInval({ rid: 5 }, 0n));
    s.b.iommu.clock.advance(20);
    expect(s.b.read32(IPSR)).toBe(0);
    s.b.submit(iofenceC());
    expect(s.b.cqcsr & CMD_TO).toBe(CMD_TO);
    expect(s.b.read32(IPSR)).toBe(CIP);
    expect(s.messages()).toEqual([dataOf(0)]);
  });

  it('is gated by cqcsr.cie: with cie=0 the error is recorded but cip stays 0 and no message is sent', () => {
    const s = msiSetup({ fqEntries: 0 });
    s.b.write32(CQCSR, EN);
    s.b.submit(ILLEGAL);
    expect(s.b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    expect(s.b.read32(IPSR)).toBe(0);
    expect(s.messages()).toEqual([]);
  });

  it('enabling cie while an error bit is 1 sets cip: the conditions of cip are cie and the error bits (§ ipsr, § Command-Queue)', () => {
    const s = msiSetup({ fqEntries: 0 });
    s.b.write32(CQCSR, EN);
    s.b.submit(ILLEGAL);
    expect(s.b.read32(IPSR)).toBe(0);
    s.b.write32(CQCSR, EN | IE);
    expect(s.b.read32(IPSR)).toBe(CIP);
    expect(s.messages()).toEqual([dataOf(0)]);
  });

  it('re-latches after a clear while the error condition holds (a new 0->1 edge: a new MSI); stays clear once the error is cleared', () => {
    const s = msiSetup({ fqEntries: 0 });
    s.b.submit(ILLEGAL);
    s.b.write32(IPSR, CIP);
    expect(s.b.read32(IPSR)).toBe(CIP);
    expect(s.messages()).toEqual([dataOf(0), dataOf(0)]);
    s.b.write32(CQCSR, EN | IE | CMD_ILL); // clears cmd_ill; the command is fetched again and is still illegal
    expect(s.b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    expect(s.messages()).toHaveLength(2); // cip was still 1: no edge
    s.b.writeStruct(s.b.cqBase, iofenceC()[0]);
    s.b.write32(CQCSR, EN | IE | CMD_ILL);
    expect(s.b.cqcsr & CMD_ILL).toBe(0);
    s.b.write32(IPSR, CIP);
    expect(s.b.read32(IPSR)).toBe(0);
    expect(s.messages()).toHaveLength(2);
  });
});

// ==============================================================================================

describe('ipsr.fip: fault-queue interrupts (§ Interrupt pending status register, § Fault queue CSR)', () => {
  it('a new fault record sets fip and sends one MSI through fiv; further records while fip=1 send nothing', () => {
    const s = msiSetup({ cqEntries: 0 });
    causeFault(s.b, 1);
    expect(s.b.read32(IPSR)).toBe(FIP);
    expect(s.messages()).toEqual([dataOf(1)]);
    causeFault(s.b, 2);
    causeFault(s.b, 3);
    expect(s.messages()).toEqual([dataOf(1)]);
    expect(s.b.faults().map((f) => f.did)).toEqual([1, 2, 3]);
  });

  it('does not re-latch after a clear for records alone; the next record sets it again', () => {
    const s = msiSetup({ cqEntries: 0 });
    causeFault(s.b, 1);
    s.b.write32(IPSR, FIP);
    expect(s.b.read32(IPSR)).toBe(0);
    expect(s.messages()).toEqual([dataOf(1)]);
    causeFault(s.b, 2);
    expect(s.b.read32(IPSR)).toBe(FIP);
    expect(s.messages()).toEqual([dataOf(1), dataOf(1)]);
  });

  it('fqof sets fip, which re-latches after a clear while fqof is 1', () => {
    const s = msiSetup({ cqEntries: 0, fqEntries: 2 });
    causeFault(s.b, 1); // fills the queue (one slot stays empty)
    s.b.write32(IPSR, FIP);
    causeFault(s.b, 2); // overflow
    expect(s.b.read32(FQCSR) & OF).toBe(OF);
    expect(s.b.read32(IPSR)).toBe(FIP);
    expect(s.messages()).toEqual([dataOf(1), dataOf(1)]);
    s.b.write32(IPSR, FIP);
    expect(s.b.read32(IPSR)).toBe(FIP);
    expect(s.messages()).toEqual([dataOf(1), dataOf(1), dataOf(1)]);
    s.b.write32(FQCSR, EN | IE | OF);
    s.b.write32(IPSR, FIP);
    expect(s.b.read32(IPSR)).toBe(0);
    expect(s.messages()).toHaveLength(3);
  });

  it('fqmf sets fip, which re-latches after a clear while fqmf is 1', () => {
    const s = msiSetup({ cqEntries: 0 });
    s.b.memory.markAccessFault(s.b.fqBase, 4096n);
    causeFault(s.b);
    expect(s.b.read32(FQCSR) & MF).toBe(MF);
    expect(s.b.read32(IPSR)).toBe(FIP);
    s.b.write32(IPSR, FIP);
    expect(s.b.read32(IPSR)).toBe(FIP);
    expect(s.messages()).toEqual([dataOf(1), dataOf(1)]);
  });

  it('enabling fie while fqof or fqmf is 1 sets fip; enabling it after mere records does not', () => {
    const s = msiSetup({ cqEntries: 0, fqEntries: 2 });
    s.b.write32(FQCSR, EN);
    causeFault(s.b, 1);
    s.b.write32(FQCSR, EN | IE);
    expect(s.b.read32(IPSR)).toBe(0);
    s.b.write32(FQCSR, EN);
    causeFault(s.b, 2); // overflow
    expect(s.b.read32(IPSR)).toBe(0);
    s.b.write32(FQCSR, EN | IE);
    expect(s.b.read32(IPSR)).toBe(FIP);
    expect(s.messages()).toEqual([dataOf(1)]);
  });

  it('is gated by fqcsr.fie: records and errors without fip or messages', () => {
    const s = msiSetup({ cqEntries: 0, fqEntries: 2 });
    s.b.write32(FQCSR, EN);
    causeFault(s.b, 1);
    causeFault(s.b, 2);
    expect(s.b.read32(FQCSR) & OF).toBe(OF);
    expect(s.b.read32(IPSR)).toBe(0);
    expect(s.messages()).toEqual([]);
    expect(s.b.faults().map((f) => f.did)).toEqual([1]);
  });
});

// ==============================================================================================

describe('ipsr.pip: page-request-queue interrupts (§ Interrupt pending status register, § Page-request-queue CSR)', () => {
  it('a new page-request record sets pip and sends one MSI through piv; a clear does not re-latch', () => {
    const s = msiSetup({ cqEntries: 0 });
    prepareDevice3(s.b);
    expect(s.b.iommu.receiveMessage(pageReq(1))).toBe(true);
    expect(s.b.read32(IPSR)).toBe(PIP);
    expect(s.messages()).toEqual([dataOf(3)]);
    s.b.iommu.receiveMessage(pageReq(2));
    expect(s.messages()).toEqual([dataOf(3)]);
    s.b.write32(IPSR, PIP);
    expect(s.b.read32(IPSR)).toBe(0);
    s.b.iommu.receiveMessage(pageReq(3));
    expect(s.b.read32(IPSR)).toBe(PIP);
    expect(s.messages()).toEqual([dataOf(3), dataOf(3)]);
    expect(s.b.pageRequests()).toHaveLength(3);
  });

  it('pqof sets pip, which re-latches after a clear while pqof is 1', () => {
    const s = msiSetup({ cqEntries: 0, pqEntries: 2 });
    prepareDevice3(s.b);
    s.b.iommu.receiveMessage(pageReq(1));
    s.b.write32(IPSR, PIP);
    s.b.iommu.receiveMessage(pageReq(2)); // overflow
    expect(s.b.read32(PQCSR) & OF).toBe(OF);
    expect(s.b.read32(IPSR)).toBe(PIP);
    s.b.write32(IPSR, PIP);
    expect(s.b.read32(IPSR)).toBe(PIP);
    expect(s.messages()).toEqual([dataOf(3), dataOf(3), dataOf(3)]);
  });

  it('pqmf sets pip', () => {
    const s = msiSetup({ cqEntries: 0 });
    prepareDevice3(s.b);
    s.b.memory.markAccessFault(s.b.pqBase, 4096n);
    s.b.iommu.receiveMessage(pageReq(1));
    expect(s.b.read32(PQCSR) & MF).toBe(MF);
    expect(s.b.read32(IPSR)).toBe(PIP);
    s.b.write32(IPSR, PIP);
    expect(s.b.read32(IPSR)).toBe(PIP);
  });

  it('enabling pie while pqof is 1 sets pip', () => {
    const s = msiSetup({ cqEntries: 0, pqEntries: 2 });
    prepareDevice3(s.b);
    s.b.write32(PQCSR, EN);
    s.b.iommu.receiveMessage(pageReq(1));
    s.b.iommu.receiveMessage(pageReq(2)); // overflow
    expect(s.b.read32(IPSR)).toBe(0);
    s.b.write32(PQCSR, EN | IE);
    expect(s.b.read32(IPSR)).toBe(PIP);
    expect(s.messages()).toEqual([dataOf(3)]);
  });

  it('is gated by pqcsr.pie', () => {
    const s = msiSetup({ cqEntries: 0 });
    prepareDevice3(s.b);
    s.b.write32(PQCSR, EN);
    s.b.iommu.receiveMessage(pageReq(1));
    expect(s.b.read32(IPSR)).toBe(0);
    expect(s.messages()).toEqual([]);
    expect(s.b.pageRequests()).toHaveLength(1);
  });
});

// ==============================================================================================

describe('ipsr.pmip: HPM overflow interrupts (§ Interrupt pending status register, § iohpmcycles, § iohpmevt1-31)', () => {
  it('iohpmcycles overflow sets pmip and sends one MSI through pmiv; pmip does not re-latch while OF stays 1', () => {
    const s = msiSetup({ cqEntries: 0, fqEntries: 0 });
    s.b.write64(IOHPMCYCLES, (1n << 63n) - 3n);
    s.b.iommu.clock.advance(2);
    expect(s.b.read32(IPSR)).toBe(0);
    s.b.iommu.clock.advance(1);
    expect(s.b.read32(IPSR)).toBe(PMIP);
    expect(s.messages()).toEqual([dataOf(2)]);
    s.b.write32(IPSR, PMIP);
    expect(s.b.read32(IPSR)).toBe(0);
    expect(s.messages()).toEqual([dataOf(2)]);
  });

  it('an event counter overflow sets pmip (no enable bit gates it)', () => {
    const s = msiSetup({ cqEntries: 0, fqEntries: 0, resetMode: 'Bare' });
    s.b.write64(IOHPMEVT1, 1n); // untranslated requests
    s.b.write64(IOHPMCTR1, 0xffff_ffff_ffff_ffffn);
    s.b.debugTranslate(1, 0x1000n);
    expect(s.b.read32(IPSR)).toBe(PMIP);
    expect(s.messages()).toEqual([dataOf(2)]);
  });
});

// ==============================================================================================

describe('MSI delivery (§ msi_cfg_tbl, § icvec)', () => {
  it('the message writes msi_data to msi_addr in memory', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    const target = b.alloc.alloc() + 0x44n;
    b.write64(ICVEC, 5n); // civ = 5
    b.write64(msiAddr(5), target);
    b.write32(msiData(5), 0xcafe_f00d);
    b.submit(ILLEGAL);
    expect(b.memory.read(target, 4)).toBe(0xcafe_f00dn);
    expect(b.memory.read(target + 4n, 4)).toBe(0n);
    expect(b.iommu.statistics().interrupts.msisSent).toBe(1);
  });

  it('each cause uses the vector icvec gives it', () => {
    const s = msiSetup({ civ: 9, fiv: 4, pmiv: 12, piv: 7 });
    prepareDevice3(s.b);
    s.b.submit(ILLEGAL);
    s.b.iommu.translate({ deviceId: 0x7f, iova: 0x1000n }); // no device context: fault record
    s.b.iommu.receiveMessage(pageReq(0));
    s.b.write64(IOHPMCYCLES, (1n << 63n) - 1n);
    s.b.iommu.clock.advance(1);
    expect(s.b.read32(IPSR)).toBe(CIP | FIP | PMIP | PIP);
    expect(s.messages()).toEqual([dataOf(9), dataOf(4), dataOf(7), dataOf(12)]);
  });

  it('several causes may share a vector: one message per pending-bit edge', () => {
    const s = msiSetup({ civ: 6, fiv: 6, pmiv: 6, piv: 6 });
    s.b.submit(ILLEGAL);
    causeFault(s.b);
    expect(s.b.read32(IPSR)).toBe(CIP | FIP);
    expect(s.messages()).toEqual([dataOf(6), dataOf(6)]);
  });

  it('a masked vector sends nothing; the pending message is sent when M is cleared, once', () => {
    const s = msiSetup({ cqEntries: 8, fqEntries: 0 });
    s.b.write32(msiVecCtl(0), 1);
    s.b.submit(ILLEGAL);
    expect(s.b.read32(IPSR)).toBe(CIP);
    expect(s.messages()).toEqual([]);
    s.b.write32(msiVecCtl(0), 1); // still masked
    expect(s.messages()).toEqual([]);
    s.b.write32(msiVecCtl(0), 0);
    expect(s.messages()).toEqual([dataOf(0)]);
    s.b.write32(msiVecCtl(0), 1);
    s.b.write32(msiVecCtl(0), 0);
    expect(s.messages()).toEqual([dataOf(0)]);
  });

  it('unmasking a vector with nothing pending sends nothing', () => {
    const s = msiSetup();
    for (let v = 0; v < 16; v++) s.b.write32(msiVecCtl(v), 1);
    for (let v = 0; v < 16; v++) s.b.write32(msiVecCtl(v), 0);
    expect(s.messages()).toEqual([]);
  });

  it('the pending message uses the address and data programmed when it is finally sent', () => {
    const s = msiSetup({ cqEntries: 8, fqEntries: 0 });
    s.b.write32(msiVecCtl(0), 1);
    s.b.submit(ILLEGAL);
    s.b.write32(msiData(0), 0xabc);
    s.b.write32(msiVecCtl(0), 0);
    expect(s.messages()).toEqual([0xabc]);
  });

  it('masking one vector does not hold back another', () => {
    const s = msiSetup();
    s.b.write32(msiVecCtl(0), 1);
    s.b.submit(ILLEGAL);
    causeFault(s.b);
    expect(s.messages()).toEqual([dataOf(1)]);
    s.b.write32(msiVecCtl(0), 0);
    expect(s.messages()).toEqual([dataOf(1), dataOf(0)]);
  });

  it('an access fault on the MSI write reports cause 273 with TTYP 0 and iotval = msi_addr (§ msi_cfg_tbl)', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 8 });
    const bad = 0x3_0000_0040n;
    const good = b.alloc.alloc();
    b.memory.markAccessFault(bad, 4n);
    b.write64(ICVEC, 0x10n); // civ 0, fiv 1
    b.write64(msiAddr(0), bad);
    b.write32(msiData(0), 0x11);
    b.write64(msiAddr(1), good);
    b.write32(msiData(1), 0x22);
    b.submit(ILLEGAL);
    const faults = b.faults();
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ cause: 273, ttyp: 0, did: 0, pv: false, pid: 0, priv: false, iotval: bad, iotval2: 0n });
    expect(b.read32(IPSR)).toBe(CIP | FIP);
    expect(b.memory.read(good, 4)).toBe(0x22n); // the record's own interrupt got through
    const st = b.iommu.statistics().interrupts;
    expect(st.msiFaults).toBe(1);
    expect(st.msisSent).toBe(1);
  });

  it('a faulting fault-queue MSI is itself recorded (cause 273) after the record that raised it', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 8 });
    const bad = 0x3_0000_0080n;
    b.memory.markAccessFault(bad, 4n);
    b.write64(ICVEC, 0x20n); // fiv 2
    b.write64(msiAddr(2), bad);
    causeFault(b, 0x55);
    expect(b.faults().map((f) => [f.cause, f.ttyp, f.did, f.iotval])).toEqual([
      [256, 2, 0x55, 0x4000n],
      [273, 0, 0, bad],
    ]);
    expect(b.read32(IPSR)).toBe(FIP);
    expect(b.iommu.statistics().interrupts.msiFaults).toBe(1);
  });

  it('an MSI to an MMIO MSI controller is one 32-bit message', () => {
    const s = msiSetup({ cqEntries: 8, fqEntries: 0 });
    s.b.submit(ILLEGAL);
    expect(s.imsic.received).toEqual([{ address: IMSIC, data: dataOf(0) }]);
    expect(s.imsic.isPending(dataOf(0))).toBe(true);
  });
});

// ==============================================================================================

describe('wire-signaled interrupts (§ ipsr, § fctl.WSI, § icvec)', () => {
  /** IGS=BOTH, fctl.WSI set to 1 while Off with queues off, then the queues enabled. */
  function wsiBench(o: BenchOptions = {}): RiscvIommuBench {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, pqEntries: 0, ...o });
    b.write32(FCTL, 2);
    expect(b.read32(FCTL) & 2).toBe(2);
    b.enableCommandQueue(8);
    b.enableFaultQueue(8);
    b.enablePageRequestQueue(8);
    return b;
  }
  const levels = (b: RiscvIommuBench): boolean[] => b.iommu.interrupts.wires.map((w) => w.asserted);
  const only = (n: number, ...high: number[]): boolean[] => Array.from({ length: n }, (_, v) => high.includes(v));

  it('the IOMMU has one wire per vector (2^interruptVectorBits)', () => {
    expect(new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, interruptVectorBits: 2 }).iommu.interrupts.wires).toHaveLength(4);
    expect(new RiscvIommuBench({ cqEntries: 0, fqEntries: 0 }).iommu.interrupts.wires).toHaveLength(16);
  });

  it('each wire follows the level of the ipsr bits mapped to it; no MSI is written', () => {
    const b = wsiBench();
    b.write64(ICVEC, 0x3215n); // civ 5, fiv 1, pmiv 2, piv 3
    b.write64(msiAddr(5), b.alloc.alloc());
    expect(levels(b)).toEqual(only(16));
    b.submit(ILLEGAL);
    expect(levels(b)).toEqual(only(16, 5));
    causeFault(b);
    expect(levels(b)).toEqual(only(16, 1, 5));
    b.write32(IPSR, FIP);
    expect(levels(b)).toEqual(only(16, 5));
    b.write32(IPSR, CIP); // cmd_ill still set: cip re-latches, the wire stays high
    expect(b.read32(IPSR)).toBe(CIP);
    expect(levels(b)).toEqual(only(16, 5));
    b.writeStruct(b.cqBase, iofenceC()[0]);
    b.write32(CQCSR, EN | IE | CMD_ILL);
    b.write32(IPSR, CIP);
    expect(levels(b)).toEqual(only(16));
    expect(b.iommu.statistics().interrupts.msisSent).toBe(0);
  });

  it('causes sharing a vector keep its wire high until every one of them is cleared', () => {
    const b = wsiBench();
    b.write64(ICVEC, 0x7777n);
    b.submit(ILLEGAL);
    causeFault(b);
    expect(levels(b)).toEqual(only(16, 7));
    b.write32(IPSR, FIP);
    expect(levels(b)).toEqual(only(16, 7));
    b.writeStruct(b.cqBase, iofenceC()[0]);
    b.write32(CQCSR, EN | IE | CMD_ILL);
    b.write32(IPSR, CIP);
    expect(levels(b)).toEqual(only(16));
  });

  it('changing icvec moves a pending level to the new wire', () => {
    const b = wsiBench();
    b.write64(ICVEC, 0x0010n);
    causeFault(b);
    expect(levels(b)).toEqual(only(16, 1));
    b.write64(ICVEC, 0x00e0n);
    expect(levels(b)).toEqual(only(16, 14));
  });

  it('HPM overflow and page requests drive their wires', () => {
    const b = wsiBench();
    prepareDevice3(b);
    b.write64(ICVEC, 0x9800n); // pmiv 8, piv 9
    b.write64(IOHPMCYCLES, (1n << 63n) - 1n);
    b.iommu.clock.advance(1);
    expect(levels(b)).toEqual(only(16, 8));
    b.iommu.receiveMessage(pageReq(1));
    expect(levels(b)).toEqual(only(16, 8, 9));
    b.write32(IPSR, PMIP | PIP);
    expect(levels(b)).toEqual(only(16));
  });

  it('IOFENCE.C with WSI=1 sets fence_w_ip and cip; cip re-latches while fence_w_ip is 1 (§ IOFENCE.C, § cqcsr)', () => {
    const b = wsiBench();
    b.write64(ICVEC, 0x4n); // civ 4
    b.submit(iofenceC({ wsi: true }));
    expect(b.cqcsr & (FENCE_W_IP | CMD_ILL)).toBe(FENCE_W_IP);
    expect(b.read32(IPSR)).toBe(CIP);
    expect(levels(b)).toEqual(only(16, 4));
    b.write32(IPSR, CIP);
    expect(b.read32(IPSR)).toBe(CIP);
    b.write32(CQCSR, EN | IE | FENCE_W_IP);
    expect(b.cqcsr & FENCE_W_IP).toBe(0);
    b.write32(IPSR, CIP);
    expect(b.read32(IPSR)).toBe(0);
    expect(levels(b)).toEqual(only(16));
  });

  it('IOFENCE.C with WSI=1 sets fence_w_ip but not cip when cie is 0', () => {
    const b = wsiBench();
    b.write32(CQCSR, EN);
    b.submit(iofenceC({ wsi: true }));
    expect(b.cqcsr & FENCE_W_IP).toBe(FENCE_W_IP);
    expect(b.read32(IPSR)).toBe(0);
    expect(levels(b)).toEqual(only(16));
  });

  it('IOFENCE.C with WSI=1 while fctl.WSI=0 is an illegal command (§ IOFENCE.C)', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    const target = b.alloc.alloc();
    b.memory.write(target, 4, 0x1234n);
    b.submit(iofenceC({ wsi: true, address: target, data: 0xbeef }));
    expect(b.cqcsr & (CMD_ILL | FENCE_W_IP)).toBe(CMD_ILL);
    expect(b.read32(32)).toBe(0); // cqh stays on the illegal command
    expect(b.memory.read(target, 4)).toBe(0x1234n);
  });

  it('with capabilities.IGS=WSI the IOMMU signals on wires from reset', () => {
    const b = new RiscvIommuBench({ capabilities: { IGS: 'WSI' }, cqEntries: 8, fqEntries: 8 });
    expect(b.read32(FCTL) & 2).toBe(2);
    b.write64(ICVEC, 0x20n); // fiv 2
    causeFault(b);
    expect(levels(b)).toEqual(only(16, 2));
    b.submit(iofenceC({ wsi: true }));
    expect(b.cqcsr & FENCE_W_IP).toBe(FENCE_W_IP);
    expect(levels(b)).toEqual(only(16, 0, 2));
  });

  it('wires stay low while fctl.WSI is 0', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 8 });
    b.submit(ILLEGAL);
    causeFault(b);
    expect(b.read32(IPSR)).toBe(CIP | FIP);
    expect(levels(b).some((l) => l)).toBe(false);
  });
});
