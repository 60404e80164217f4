// Conformance tests for big-endian operation of the RISC-V IOMMU: capabilities.END, fctl.BE
// (specification section "Features-control register (fctl)"), DC.tc.SBE ("Device-context
// fields", "Device-context configuration checks") and the table "Endianness of memory access
// to data structures". Memory contents are checked byte by byte; each positive case has a
// negative control showing that the little-endian encoding of the same structure is not what
// the IOMMU reads.

import { describe, expect, it } from 'vitest';
import { iodirInvalDdt, iofenceC } from '../../../src/formats/index.js';
import { pageRequest } from '../../../src/hw/riscv-iommu/index.js';
import { RiscvIommuBench, encodeDeviceContext, type BenchOptions, type DeviceContextFields } from '../../support/riscv-iommu-bench.js';

const FCTL = 8;
const CQH = 32;
const CQCSR = 72;
const ICVEC = 760;
const msiAddr = (v: number): number => 768 + 16 * v;
const msiData = (v: number): number => 768 + 16 * v + 8;
const CMD_ILL = 1 << 10;

const IOVA = 0x8000_0000n;
const SPA = 0x20_0000_0000n;

/** Big-endian bytes of a doubleword. */
function beBytes(v: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * (7 - i))) & 0xffn));
}

/** The doubleword whose big-endian encoding is in memory at `addr`. */
function readBe64(b: RiscvIommuBench, addr: bigint): bigint {
  let v = 0n;
  for (const byte of b.memory.readBytes(addr, 8)) v = (v << 8n) | BigInt(byte);
  return v;
}

/**
 * An IOMMU switched to big-endian the way software does it: fctl.BE=1 written while ddtp is
 * Off and every queue is off, then the queues enabled and a 3-level directory installed.
 */
function beBench(o: BenchOptions = {}): RiscvIommuBench {
  const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, pqEntries: 0, ...o });
  b.write32(FCTL, 1);
  expect(b.read32(FCTL) & 1).toBe(1);
  b.enableCommandQueue(16);
  b.enableFaultQueue(16);
  b.enablePageRequestQueue(16);
  b.setMode('3LVL');
  return b;
}

/** Writes a device context little-endian, whatever fctl.BE says (a negative control). */
function writeDcLittleEndian(b: RiscvIommuBench, did: number, f: DeviceContextFields): void {
  const a = b.dcAddress(did);
  encodeDeviceContext(f).forEach((w, i) => b.memory.write(a + BigInt(8 * i), 8, w));
}

// ==============================================================================================

describe('fctl.BE=1: device directory, device contexts, second-stage and MSI page tables are big-endian (§ fctl, § Endianness of in-memory data structures)', () => {
  it('the IOMMU sets fctl.BE only while Off with its queues off', () => {
    const b = beBench();
    b.write32(FCTL, 0);
    expect(b.read32(FCTL) & 1).toBe(1);
  });

  it('DDT entries and the DC are read big-endian (negative control: a little-endian DC is not valid, cause 258)', () => {
    const b = beBench();
    const pt = b.pageTable('Sv39', true);
    pt.map(IOVA, SPA);
    const dc = b.setDeviceContext(0x01_02_03, { tc: { SBE: true }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    // the bytes in memory: tc.V and tc.SBE are in the last byte of the first doubleword
    expect([...b.memory.readBytes(dc, 8)]).toEqual(beBytes((1n << 10n) | 1n));
    expect(b.debugTranslate(0x01_02_03, IOVA)).toMatchObject({ fault: false, address: SPA });
    writeDcLittleEndian(b, 0x01_02_04, { tc: { SBE: true }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    expect(b.debugTranslate(0x01_02_04, IOVA).fault).toBe(true);
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[258, 0x01_02_04]]);
  });

  it('a little-endian non-leaf DDT entry is not valid under BE (cause 258)', () => {
    const b = beBench();
    const did = 5 << 15; // extended format: DDI[2] is device_id[23:15]
    b.setDeviceContext(did, { tc: { SBE: true } });
    expect(b.debugTranslate(did, IOVA).fault).toBe(false);
    const slot = b.ddtRoot + 5n * 8n;
    expect(b.memory.readBytes(slot, 8)[7] & 1).toBe(1); // V is in the last byte
    b.memory.write(slot, 8, b.readStruct(slot)); // rewrite the entry little-endian
    b.submit(iodirInvalDdt());
    expect(b.debugTranslate(did, IOVA).fault).toBe(true);
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[258, did]]);
  });

  it('second-stage page tables are big-endian (negative control: little-endian tables fault, cause 21)', () => {
    const b = beBench();
    const g = b.pageTable('Sv39x4', true);
    g.map(IOVA, SPA);
    b.setDeviceContext(0x10, { tc: { SBE: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 3 } });
    expect(b.debugTranslate(0x10, IOVA)).toMatchObject({ fault: false, address: SPA });
    const gle = b.pageTable('Sv39x4', false);
    gle.map(IOVA, SPA);
    b.setDeviceContext(0x11, { tc: { SBE: true }, iohgatp: { mode: 8, ppn: gle.root, gscid: 4 } });
    expect(b.debugTranslate(0x11, IOVA).fault).toBe(true);
    expect(b.faults().map((f) => [f.cause, f.did, f.iotval2])).toEqual([[21, 0x11, IOVA]]);
  });

  it('A/D updates of second-stage PTEs are written big-endian', () => {
    const b = beBench();
    const g = b.pageTable('Sv39x4', true);
    const leaf = g.map(IOVA, SPA, { flags: 0x1en }); // R W X U, A=0, D=0
    b.setDeviceContext(0x10, { tc: { SBE: true, GADE: true }, iohgatp: { mode: 8, ppn: g.root } });
    expect(b.debugTranslate(0x10, IOVA, { write: true }).fault).toBe(false);
    expect(readBe64(b, leaf)).toBe(((SPA >> 12n) << 10n) | 0xdfn); // V R W X U A D
  });

  it('MSI page-table entries are read big-endian (negative control: a little-endian MSI PTE is not valid, cause 262)', () => {
    const b = beBench();
    const g = b.pageTable('Sv39x4', true);
    const msiTable = b.alloc.alloc();
    const imsicGpa = 0x2800_0000n;
    const imsicSpa = 0x9_1234_5000n;
    const pte0 = (imsicSpa >> 12n << 10n) | 0b111n; // V, M=3 (basic translate)
    const fields: DeviceContextFields = {
      tc: { SBE: true },
      iohgatp: { mode: 8, ppn: g.root, gscid: 1 },
      msiptp: { mode: 1, ppn: msiTable },
      msiAddrMask: 0n,
      msiAddrPattern: imsicGpa >> 12n,
    };
    b.writeStruct(msiTable, pte0);
    b.setDeviceContext(0x20, fields);
    expect(b.debugTranslate(0x20, imsicGpa)).toMatchObject({ fault: false, address: imsicSpa });
    b.memory.write(msiTable, 8, pte0); // now little-endian
    b.setDeviceContext(0x21, { ...fields, iohgatp: { mode: 8, ppn: g.root, gscid: 2 } });
    expect(b.debugTranslate(0x21, imsicGpa).fault).toBe(true);
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[262, 0x21]]);
  });
});

// ==============================================================================================

describe('fctl.BE=1: commands, fault records, page-request records and MSIs are big-endian (§ fctl, § Command-Queue, § Fault/Event-Queue, § Page-Request-Queue)', () => {
  it('commands are read big-endian; IOFENCE.C writes its data big-endian', () => {
    const b = beBench();
    const target = b.alloc.alloc();
    b.submit(iofenceC({ address: target, data: 0x1122_3344 }));
    expect([...b.memory.readBytes(target, 4)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(b.read32(CQH)).toBe(1);
  });

  it('a command written little-endian is illegal under BE', () => {
    const b = beBench();
    const [w0, w1] = iofenceC();
    b.memory.write(b.cqBase, 8, w0);
    b.memory.write(b.cqBase + 8n, 8, w1);
    b.write32(0x24, 1); // cqt
    expect(b.read32(CQCSR) & CMD_ILL).toBe(CMD_ILL);
    expect(b.read32(CQH)).toBe(0);
  });

  it('fault records are written big-endian', () => {
    const b = beBench();
    b.debugTranslate(0xab_cd_ef, 0x1234_5678_9000n, { pid: 0x5_4321, priv: true }); // no DC: cause 258
    const rec = b.fqBase;
    const w0 = readBe64(b, rec);
    expect(w0 & 0xfffn).toBe(258n); // CAUSE
    expect((w0 >> 12n) & 0xfffffn).toBe(0x5_4321n); // PID
    expect((w0 >> 32n) & 3n).toBe(3n); // PV, PRIV
    expect((w0 >> 34n) & 0x3fn).toBe(2n); // TTYP: untranslated read
    expect(w0 >> 40n).toBe(0xab_cd_efn); // DID
    expect(readBe64(b, rec + 16n)).toBe(0x1234_5678_9000n); // iotval
    expect(b.memory.readBytes(rec, 1)[0]).toBe(0xab); // the most significant byte first
  });

  it('page-request records are written big-endian', () => {
    const b = beBench();
    b.setDeviceContext(0x11_22_33, { tc: { SBE: true, EN_ATS: true, EN_PRI: true, PDTV: true } });
    const msg = pageRequest({ rid: 0x2233, segment: 0x11, pasid: 0x9_abcd, privileged: true, execute: true, address: 0xdead_b000n, read: true, write: true, last: true, groupIndex: 0x155 });
    expect(b.iommu.receiveMessage(msg)).toBe(true);
    const w0 = readBe64(b, b.pqBase);
    expect(w0).toBe((0x11_22_33n << 40n) | (7n << 32n) | (0x9_abcdn << 12n));
    expect(readBe64(b, b.pqBase + 8n)).toBe(msg.payload);
  });

  it('MSIs write their data big-endian', () => {
    const b = beBench();
    const target = b.alloc.alloc() + 0x10n;
    b.write64(ICVEC, 0n);
    b.write64(msiAddr(0), target);
    b.write32(msiData(0), 0xa1b2_c3d4);
    b.submit([0n, 0n]); // illegal command: cip
    expect([...b.memory.readBytes(target, 4)]).toEqual([0xa1, 0xb2, 0xc3, 0xd4]);
  });
});

// ==============================================================================================

describe('DC.tc.SBE selects the byte order of the PDT and first-stage tables independently of fctl.BE (§ Device-context fields, table "Endianness of memory access to data structures")', () => {
  it('fctl.BE=1, SBE=0: little-endian first-stage tables under a big-endian directory', () => {
    const b = beBench();
    const le = b.pageTable('Sv39', false);
    le.map(IOVA, SPA);
    b.setDeviceContext(0x10, { fsc: { mode: 8, ppn: le.root }, ta: { pscid: 1 } });
    expect(b.debugTranslate(0x10, IOVA)).toMatchObject({ fault: false, address: SPA });
    const be = b.pageTable('Sv39', true);
    be.map(IOVA, SPA);
    b.setDeviceContext(0x11, { fsc: { mode: 8, ppn: be.root }, ta: { pscid: 2 } });
    expect(b.debugTranslate(0x11, IOVA).fault).toBe(true);
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[13, 0x11]]);
  });

  it('fctl.BE=0, SBE=1: big-endian first-stage tables under a little-endian directory', () => {
    const b = new RiscvIommuBench({ mode: '3LVL' });
    const be = b.pageTable('Sv39', true);
    be.map(IOVA, SPA);
    b.setDeviceContext(0x10, { tc: { SBE: true }, fsc: { mode: 8, ppn: be.root }, ta: { pscid: 1 } });
    expect(b.debugTranslate(0x10, IOVA)).toMatchObject({ fault: false, address: SPA });
    const le = b.pageTable('Sv39', false);
    le.map(IOVA, SPA);
    b.setDeviceContext(0x11, { tc: { SBE: true }, fsc: { mode: 8, ppn: le.root }, ta: { pscid: 2 } });
    expect(b.debugTranslate(0x11, IOVA).fault).toBe(true);
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[13, 0x11]]);
  });

  it('first-stage A/D updates follow SBE', () => {
    const b = new RiscvIommuBench({ mode: '3LVL' });
    const be = b.pageTable('Sv39', true);
    const leaf = be.map(IOVA, SPA, { flags: 0x16n }); // R W U, A=0, D=0
    b.setDeviceContext(0x10, { tc: { SBE: true, SADE: true }, fsc: { mode: 8, ppn: be.root }, ta: { pscid: 1 } });
    expect(b.debugTranslate(0x10, IOVA, { write: true }).fault).toBe(false);
    expect(readBe64(b, leaf)).toBe(((SPA >> 12n) << 10n) | 0xd7n); // V R W U A D
  });

  it('the process directory follows SBE: big-endian PDT and first stage over a little-endian second stage', () => {
    const b = new RiscvIommuBench({ mode: '2LVL' });
    const g = b.pageTable('Sv39x4', false); // second stage: fctl.BE (little)
    const s = b.guestPageTable('Sv39', g, 0x1_0000_0000n, true); // first stage: SBE (big)
    s.map(IOVA, 0x4000_0000n);
    g.map(0x4000_0000n, SPA);
    // a PD8 process directory at GPA 0x2_0000_0000, big-endian
    const pdtSpa = b.alloc.alloc();
    g.map(0x2_0000_0000n, pdtSpa, { flags: 0x16n | 0xc0n });
    const pid = 0x37;
    const ta = 1n | (0x44n << 12n);
    const fsc = (8n << 60n) | (s.root >> 12n);
    const pc = pdtSpa + BigInt(pid * 16);
    b.memory.writeBytes(pc, Uint8Array.from([...beBytes(ta), ...beBytes(fsc)]));
    b.setDeviceContext(0x45, { tc: { SBE: true, PDTV: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 9 }, fsc: { mode: 1, ppn: 0x2_0000_0000n } });
    expect(b.debugTranslate(0x45, IOVA, { pid })).toMatchObject({ fault: false, address: SPA });
    // the same process context little-endian: not valid (cause 266)
    b.memory.writeBytes(pc, Uint8Array.from([...beBytes(ta).reverse(), ...beBytes(fsc).reverse()]));
    b.setDeviceContext(0x46, { tc: { SBE: true, PDTV: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 10 }, fsc: { mode: 1, ppn: 0x2_0000_0000n } });
    expect(b.debugTranslate(0x46, IOVA, { pid }).fault).toBe(true);
    expect(b.faults().map((f) => [f.cause, f.did, f.pid])).toEqual([[266, 0x46, pid]]);
  });
});

// ==============================================================================================

describe('capabilities.END=0: DC.tc.SBE must equal fctl.BE (§ Device-context configuration checks)', () => {
  it('little-endian-only IOMMU: a DC with SBE=1 is misconfigured (cause 259)', () => {
    const b = new RiscvIommuBench({ mode: '3LVL', capabilities: { END: false } });
    b.setDeviceContext(0x10, { tc: { SBE: true } });
    b.setDeviceContext(0x11, { tc: { SBE: false } });
    expect(b.debugTranslate(0x10, IOVA).fault).toBe(true);
    expect(b.debugTranslate(0x11, IOVA)).toMatchObject({ fault: false, address: IOVA });
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[259, 0x10]]);
  });

  it('big-endian-only IOMMU (fctl.BE=1 fixed): a DC with SBE=0 is misconfigured; SBE=1 works', () => {
    const b = new RiscvIommuBench({ mode: '3LVL', capabilities: { END: false }, bigEndianAtReset: true });
    expect(b.read32(FCTL) & 1).toBe(1);
    const pt = b.pageTable('Sv39', true);
    pt.map(IOVA, SPA);
    b.setDeviceContext(0x10, { tc: { SBE: false } });
    b.setDeviceContext(0x11, { tc: { SBE: true }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    expect(b.debugTranslate(0x10, IOVA).fault).toBe(true);
    expect(b.debugTranslate(0x11, IOVA)).toMatchObject({ fault: false, address: SPA });
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[259, 0x10]]);
    // and its fault record is big-endian in memory
    expect(readBe64(b, b.fqBase) & 0xfffn).toBe(259n);
  });

  it('with END=1 either SBE is accepted whatever fctl.BE is', () => {
    const b = beBench();
    b.setDeviceContext(0x10, { tc: { SBE: false } });
    b.setDeviceContext(0x11, { tc: { SBE: true } });
    expect(b.debugTranslate(0x10, IOVA).fault).toBe(false);
    expect(b.debugTranslate(0x11, IOVA).fault).toBe(false);
  });
});
