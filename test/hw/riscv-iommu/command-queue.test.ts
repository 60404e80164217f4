// Conformance tests of the command queue (RISC-V IOMMU specification v1.0, chapter
// "In-memory queue interface", section "Command-Queue (CQ)" and its command subsections,
// and registers cqb, cqh, cqt, cqcsr and ipsr). The model is driven only through its
// registers and memory; every check reads registers or memory back.

import { describe, expect, it } from 'vitest';
import {
  MessageCode,
  Opcode,
  QueueBaseLayout,
  Reg,
  atsInval,
  atsPrgr,
  encode,
  iodirInvalDdt,
  iodirInvalPdt,
  iofenceC,
  iotinvalGvma,
  iotinvalVma,
  type CommandWords,
} from '../../../src/formats/index.js';
import { invalidationCompletion } from '../../../src/hw/riscv-iommu/pcie-messages.js';
import { RiscvIommuBench, type BenchOptions } from '../../support/riscv-iommu-bench.js';

// cqcsr fields ("Command-queue CSR (cqcsr)").
const CQEN = 1;
const CIE = 1 << 1;
const CQMF = 1 << 8;
const CMD_TO = 1 << 9;
const CMD_ILL = 1 << 10;
const FENCE_W_IP = 1 << 11;
const CQON = 1 << 16;
const BUSY = 1 << 17;
const ERRORS = CQMF | CMD_TO | CMD_ILL | FENCE_W_IP;
// ipsr.cip ("Interrupt pending status register (ipsr)").
const CIP = 1;

const POISON = 0x5a5a_5a5a_5a5a_5a5an;

/** A bench with a fence-data page; commands are run by writing cqt. */
function setup(options: BenchOptions = {}): { b: RiscvIommuBench; page: bigint } {
  const b = new RiscvIommuBench(options);
  const page = b.alloc.alloc();
  return { b, page };
}

/** An IOFENCE.C that stores `data` at `addr` on completion (AV=1). */
function fence(addr: bigint, data: number, o: { pr?: boolean; pw?: boolean } = {}): CommandWords {
  return iofenceC({ address: addr, data, ...o });
}

function raw(w0: bigint, w1: bigint): CommandWords {
  return [w0, w1];
}

/** Turns the queue off and on again: cqh, cmd_ill, cmd_to, cqmf, fence_w_ip back to 0. */
function restartQueue(b: RiscvIommuBench): void {
  b.write32(Reg.cqcsr, CIE);
  b.write32(Reg.cqt, 0);
  b.write32(Reg.cqcsr, CQEN | CIE);
  b.write32(Reg.ipsr, 0xf);
}

/** Writes a command into slot `index` of the queue without touching cqt. */
function writeSlot(b: RiscvIommuBench, index: number, [w0, w1]: CommandWords): void {
  const slot = b.cqBase + BigInt(index * 16);
  b.writeStruct(slot, w0);
  b.writeStruct(slot + 8n, w1);
}

/**
 * The architected response to an illegal command ("Command-Queue (CQ)": a command with a
 * reserved encoding or a reserved bit set, or unsupported per capabilities, sets
 * cqcsr.cmd_ill and stops processing; "cqcsr": cqh references the bad command; ipsr.cip is
 * set when cie is 1): a fence before it completes, the one after it does not, until
 * software corrects the command and clears cmd_ill (RW1C), after which both run.
 */
function checkIllegal(b: RiscvIommuBench, page: bigint, bad: CommandWords, fixed: CommandWords): void {
  restartQueue(b);
  b.memory.write(page, 8, POISON);
  b.memory.write(page + 8n, 8, POISON);
  const before = b.read32(Reg.cqh);
  b.submit(fence(page, 0x1111_1111), bad, fence(page + 8n, 0x2222_2222));
  const csr = b.cqcsr;
  expect(csr & CMD_ILL, `cmd_ill for ${fmt(bad)}`).toBe(CMD_ILL);
  expect(csr & (CQON | CQEN)).toBe(CQON | CQEN);
  expect(b.read32(Reg.cqh), `cqh on the illegal command ${fmt(bad)}`).toBe(before + 1);
  expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
  expect(b.memory.read(page, 4)).toBe(0x1111_1111n);
  expect(b.memory.read(page + 8n, 8)).toBe(POISON);
  // Ringing the doorbell again does not restart the stopped queue.
  b.write32(Reg.cqt, b.read32(Reg.cqt));
  expect(b.read32(Reg.cqh)).toBe(before + 1);
  expect(b.memory.read(page + 8n, 8)).toBe(POISON);
  // Correct the command in place and clear cmd_ill: processing resumes at cqh.
  writeSlot(b, before + 1, fixed);
  b.write32(Reg.cqcsr, CQEN | CIE | CMD_ILL);
  expect(b.cqcsr & CMD_ILL).toBe(0);
  expect(b.read32(Reg.cqh)).toBe(b.read32(Reg.cqt));
  expect(b.memory.read(page + 8n, 4)).toBe(0x2222_2222n);
}

function fmt([w0, w1]: CommandWords): string {
  return `[0x${w0.toString(16)}, 0x${w1.toString(16)}]`;
}

function bitsOf(mask: bigint): bigint[] {
  const out: bigint[] = [];
  for (let i = 0n; i < 64n; i++) if ((mask >> i) & 1n) out.push(1n << i);
  return out;
}

function range(lo: number, hi: number): bigint {
  let m = 0n;
  for (let i = lo; i <= hi; i++) m |= 1n << BigInt(i);
  return m;
}

// Reserved bits of each command format, taken from the command figures of the specification
// (not from the model's tables), as [first doubleword, second doubleword].
const RESERVED_BITS = {
  // IOTINVAL: bit 11, bits 43:35, bits 63:60; second doubleword bits 8:0 and 63:62.
  IOTINVAL: [range(11, 11) | range(35, 43) | range(60, 63), range(0, 8) | range(62, 63)],
  // IOFENCE: bits 31:14; second doubleword bits 63:62.
  IOFENCE: [range(14, 31), range(62, 63)],
  // IODIR: bits 11:10, bit 32, bits 39:34; the whole second doubleword.
  IODIR: [range(10, 11) | range(32, 32) | range(34, 39), range(0, 63)],
  // ATS: bits 11:10 and 39:34; the second doubleword is the PCIe message payload.
  ATS: [range(10, 11) | range(34, 39), 0n],
} as const;

describe('RISC-V IOMMU command queue: processing (spec "Command-Queue (CQ)", cqh/cqt)', () => {
  it('runs the commands up to cqt when cqt is written, and cqh follows to cqt', () => {
    const { b, page } = setup();
    // Commands written to memory without a cqt write are not fetched.
    writeSlot(b, 0, fence(page, 0xaaaa_0001));
    expect(b.read32(Reg.cqh)).toBe(0);
    expect(b.memory.read(page, 4)).toBe(0n);
    writeSlot(b, 1, fence(page + 4n, 0xaaaa_0002));
    writeSlot(b, 2, fence(page + 8n, 0xaaaa_0003));
    b.write32(Reg.cqt, 2);
    // Only the commands before cqt ran.
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(b.memory.read(page, 4)).toBe(0xaaaa_0001n);
    expect(b.memory.read(page + 4n, 4)).toBe(0xaaaa_0002n);
    expect(b.memory.read(page + 8n, 4)).toBe(0n);
    b.write32(Reg.cqt, 3);
    expect(b.read32(Reg.cqh)).toBe(3);
    expect(b.memory.read(page + 8n, 4)).toBe(0xaaaa_0003n);
    expect(b.cqcsr & ERRORS).toBe(0);
    expect(b.iommu.statistics().commands['IOFENCE.C']).toBe(3);
  });

  it('wraps cqh and cqt at the end of the circular buffer', () => {
    const { b, page } = setup({ cqEntries: 4 });
    b.submit(fence(page, 1), fence(page + 4n, 2), fence(page + 8n, 3));
    expect(b.read32(Reg.cqh)).toBe(3);
    b.submit(fence(page + 12n, 4), fence(page + 16n, 5), fence(page + 20n, 6));
    // Entries 3, 0 and 1: the indices wrap at 4 entries.
    expect(b.read32(Reg.cqt)).toBe(2);
    expect(b.read32(Reg.cqh)).toBe(2);
    for (let i = 0; i < 6; i++) expect(b.memory.read(page + BigInt(4 * i), 4)).toBe(BigInt(i + 1));
    // The sixth command sits in slot 1 of the queue.
    expect(b.readStruct(b.cqBase + 16n) & 0x7fn).toBe(BigInt(Opcode.IOFENCE));
  });

  it('cqt is WARL: only bits LOG2SZ-1:0 are writable; cqh is read-only', () => {
    const { b } = setup({ cqEntries: 16 });
    b.write32(Reg.cqcsr, 0); // off: the write to cqt does not start processing
    b.write32(Reg.cqt, 0xffff_fff5);
    expect(b.read32(Reg.cqt)).toBe(5);
    b.write32(Reg.cqh, 7);
    expect(b.read32(Reg.cqh)).toBe(0);
  });

  it('IOFENCE.C with AV=1 stores DATA as 4 bytes at ADDR[63:2]*4; AV=0 stores nothing; PR/PW are ordering requests', () => {
    const { b, page } = setup();
    let reads = 0;
    let writes = 0;
    for (const pr of [false, true]) {
      for (const pw of [false, true]) {
        for (const av of [false, true]) {
          b.memory.write(page, 8, 0x1234_5678_1234_5678n);
          b.submit(iofenceC({ address: av ? page : undefined, data: av ? 0xdead_beef : 0, pr, pw }));
          expect(b.memory.read(page, 8)).toBe(av ? 0x1234_5678_dead_beefn : 0x1234_5678_1234_5678n);
          if (pr) reads++;
          if (pw) writes++;
          expect(b.iommu.commandQueue.stats.orderingRequests).toEqual({ reads, writes });
        }
      }
    }
    // A 4-byte aligned address that is not 8-byte aligned: only those 4 bytes change.
    b.memory.write(page + 8n, 8, 0x1234_5678_1234_5678n);
    b.submit(fence(page + 12n, 0xcafe_f00d));
    expect(b.memory.read(page + 8n, 8)).toBe(0xcafe_f00d_1234_5678n);
    expect(b.cqcsr & ERRORS).toBe(0);
  });

  it('IOFENCE.C with AV=0 ignores ADDR and DATA, even an address outside the physical address space', () => {
    const { b, page } = setup({ capabilities: { PAS: 40 } });
    const [w0] = iofenceC({ data: 0x1234_5678 });
    b.submit([w0, (1n << 61n) >> 2n], raw(w0, page >> 2n), fence(page + 4n, 6));
    expect(b.cqcsr & ERRORS).toBe(0);
    expect(b.memory.read(page, 8)).toBe(6n << 32n);
  });

  it('IOFENCE.C data is stored in the byte order of fctl.BE (big-endian IOMMU)', () => {
    const { b, page } = setup({ bigEndianAtReset: true, capabilities: { END: false } });
    b.submit(fence(page, 0x1122_3344));
    expect(b.cqcsr & ERRORS).toBe(0);
    expect([...b.memory.readBytes(page, 4)]).toEqual([0x11, 0x22, 0x33, 0x44]);
  });

  it('IOFENCE.C completes after the commands before it: an invalidation takes effect before the fence data is visible', () => {
    const { b, page } = setup({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x4000_0000n, 0x8_0000_0000n);
    b.setDeviceContext(3, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 9 } });
    expect(b.iommu.translate({ deviceId: 3, iova: 0x4000_0000n }).ppn).toBe(0x80_0000);
    pt.map(0x4000_0000n, 0x9_0000_0000n);
    // Two fences to one address: the later one's data is what remains.
    b.submit(iotinvalVma({ pscid: 9, address: 0x4000_0000n }), fence(page, 1), fence(page, 2));
    expect(b.memory.read(page, 4)).toBe(2n);
    expect(b.iommu.translate({ deviceId: 3, iova: 0x4000_0000n }).ppn).toBe(0x90_0000);
  });

  it('IOFENCE.C with WSI=1 sets fence_w_ip (and cip) when fctl.WSI is 1; fence_w_ip is RW1C', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, pqEntries: 0 });
    b.write32(Reg.fctl, 2); // WSI, with the IOMMU Off and every queue off
    expect(b.read32(Reg.fctl) & 2).toBe(2);
    b.enableCommandQueue(16);
    const page = b.alloc.alloc();
    b.submit(iofenceC({ wsi: true, address: page, data: 7 }));
    expect(b.memory.read(page, 4)).toBe(7n);
    expect(b.cqcsr & (FENCE_W_IP | CMD_ILL)).toBe(FENCE_W_IP);
    expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
    expect(b.iommu.interrupts.wires[0].asserted).toBe(true);
    // cip re-latches while fence_w_ip is still 1 ("ipsr": conditions still present).
    b.write32(Reg.ipsr, CIP);
    expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
    b.write32(Reg.cqcsr, CQEN | CIE | FENCE_W_IP);
    b.write32(Reg.ipsr, CIP);
    expect(b.cqcsr & FENCE_W_IP).toBe(0);
    expect(b.read32(Reg.ipsr) & CIP).toBe(0);
  });
});

describe('RISC-V IOMMU command queue: illegal commands (spec "Command-Queue (CQ)", cqcsr.cmd_ill)', () => {
  it('every opcode other than IOTINVAL, IOFENCE, IODIR and ATS is illegal (reserved 0 and 5-63; custom 64-127 not implemented)', () => {
    const { b, page } = setup();
    for (let opcode = 0; opcode < 128; opcode++) {
      if (opcode >= Opcode.IOTINVAL && opcode <= Opcode.ATS) continue;
      checkIllegal(b, page, raw(BigInt(opcode), 0n), iofenceC());
    }
    expect(b.iommu.commandQueue.stats.illegal).toBe(124);
  });

  it('undefined func3 values of each opcode are illegal', () => {
    const { b, page } = setup();
    const withFunc = ([w0, w1]: CommandWords, f: number): CommandWords => [(w0 & ~0x380n) | (BigInt(f) << 7n), w1];
    for (let f = 2; f < 8; f++) checkIllegal(b, page, withFunc(iotinvalVma(), f), iotinvalVma());
    for (let f = 1; f < 8; f++) checkIllegal(b, page, withFunc(iofenceC(), f), iofenceC());
    for (let f = 2; f < 8; f++) checkIllegal(b, page, withFunc(iodirInvalDdt(), f), iodirInvalDdt());
    for (let f = 2; f < 8; f++) checkIllegal(b, page, withFunc(atsInval({ rid: 1 }, 0n), f), atsPrgr({ rid: 1 }, 0n));
  });

  const formats: [string, CommandWords, keyof typeof RESERVED_BITS][] = [
    ['IOTINVAL.VMA', iotinvalVma({ gscid: 3, pscid: 4, address: 0x1000n }), 'IOTINVAL'],
    ['IOTINVAL.GVMA', iotinvalGvma({ gscid: 3, address: 0x1000n }), 'IOTINVAL'],
    ['IOFENCE.C', iofenceC(), 'IOFENCE'],
    ['IODIR.INVAL_DDT', iodirInvalDdt(5), 'IODIR'],
    ['IODIR.INVAL_PDT', iodirInvalPdt(5, 6), 'IODIR'],
    ['ATS.INVAL', atsInval({ rid: 0x1234, segment: 2, pasid: 7 }, 0x1000n), 'ATS'],
    ['ATS.PRGR', atsPrgr({ rid: 0x1234 }, 1n << 44n), 'ATS'],
  ];
  for (const [name, good, format] of formats) {
    it(`${name}: each reserved bit of either doubleword set alone is illegal`, () => {
      const { b, page } = setup();
      // A device that answers every Invalidation Request at once, so that a fence after a
      // corrected ATS.INVAL does not wait.
      b.iommu.onMessage((m) => {
        if (m.code !== MessageCode.InvalidationRequest) return;
        b.ensureAtsDevice(((m.segment ?? 0) << 16) | m.rid);
        b.iommu.receiveMessage(invalidationCompletion(m.rid, 1 << m.tag, 1, m.segment ?? undefined));
      });
      const [r0, r1] = RESERVED_BITS[format];
      let n = 0;
      for (const bit of bitsOf(r0)) {
        checkIllegal(b, page, [good[0] | bit, good[1]], good);
        n++;
      }
      for (const bit of bitsOf(r1)) {
        checkIllegal(b, page, [good[0], good[1] | bit], good);
        n++;
      }
      expect(b.iommu.commandQueue.stats.illegal).toBe(n);
    });
  }

  it('NL (bit 34) and S (bit 73) are reserved without capabilities.NL and capabilities.S (extensions NLINV, ARINV)', () => {
    const { b, page } = setup({ capabilities: { NL: false, S: false } });
    checkIllegal(b, page, iotinvalVma({ address: 0x1000n, nonLeaf: true }), iotinvalVma({ address: 0x1000n }));
    checkIllegal(b, page, iotinvalGvma({ gscid: 1, address: 0x1000n, nonLeaf: true }), iotinvalGvma({ gscid: 1 }));
    checkIllegal(b, page, iotinvalVma({ address: 0x1fffn << 12n, range: true }), iotinvalVma({ address: 0x1000n }));
    checkIllegal(b, page, iotinvalGvma({ gscid: 1, address: 0x1000n, range: true }), iotinvalGvma({ gscid: 1 }));
    // With the extensions, the same commands are legal.
    const { b: b2, page: p2 } = setup({ capabilities: { NL: true, S: true } });
    b2.submit(
      iotinvalVma({ address: 0x1000n, nonLeaf: true }),
      iotinvalGvma({ gscid: 1, address: 0x1000n, nonLeaf: true, range: true }),
      iotinvalVma({ address: 0x1fffn << 12n, range: true }),
      fence(p2, 9),
    );
    expect(b2.cqcsr & ERRORS).toBe(0);
    expect(b2.memory.read(p2, 4)).toBe(9n);
  });

  it('IOTINVAL.GVMA with PSCV=1 is illegal', () => {
    const { b, page } = setup();
    const [w0, w1] = iotinvalGvma({ gscid: 2 });
    checkIllegal(b, page, [w0 | (1n << 32n) | (5n << 12n), w1], [w0, w1]);
  });

  it('IODIR: INVAL_PDT without DV, a PID in INVAL_DDT, and a DID wider than the supported device_id are illegal', () => {
    const { b, page } = setup({ deviceIdBits: 16, mode: '3LVL' });
    const [p0] = iodirInvalPdt(5, 6);
    checkIllegal(b, page, [p0 & ~(1n << 33n), 0n], iodirInvalPdt(5, 6));
    const [d0] = iodirInvalDdt(5);
    checkIllegal(b, page, [d0 | (0x12n << 12n), 0n], iodirInvalDdt(5));
    checkIllegal(b, page, iodirInvalDdt(0x1_0000), iodirInvalDdt(0xffff));
    checkIllegal(b, page, iodirInvalPdt(0x1_0000, 1), iodirInvalPdt(0xffff, 1));
    // With DV=0 the DID operand is ignored, whatever it holds.
    restartQueue(b);
    b.submit([iodirInvalDdt(0xff_ffff)[0] & ~(1n << 33n), 0n], fence(page, 3));
    expect(b.cqcsr & ERRORS).toBe(0);
    expect(b.memory.read(page, 4)).toBe(3n);
  });

  it('IODIR.INVAL_PDT with a PID wider than the widest PDT mode in capabilities is illegal', () => {
    const pd17 = setup({ capabilities: { PD20: false } });
    checkIllegal(pd17.b, pd17.page, iodirInvalPdt(1, 0x2_0000), iodirInvalPdt(1, 0x1_ffff));
    const pd8 = setup({ capabilities: { PD20: false, PD17: false } });
    checkIllegal(pd8.b, pd8.page, iodirInvalPdt(1, 0x100), iodirInvalPdt(1, 0xff));
    const pd20 = setup();
    pd20.b.submit(iodirInvalPdt(1, 0xf_ffff), fence(pd20.page, 4));
    expect(pd20.b.cqcsr & ERRORS).toBe(0);
    expect(pd20.b.memory.read(pd20.page, 4)).toBe(4n);
  });

  it('ATS commands are unsupported (illegal) without capabilities.ATS', () => {
    const { b, page } = setup({ capabilities: { ATS: false, T2GPA: false } });
    const sent: unknown[] = [];
    b.iommu.onMessage((m) => sent.push(m));
    checkIllegal(b, page, atsInval({ rid: 0x1234 }, 0n), iofenceC());
    checkIllegal(b, page, atsPrgr({ rid: 0x1234 }, 0n), iofenceC());
    expect(sent).toEqual([]);
  });

  it('IOFENCE.C with WSI=1 is illegal while fctl.WSI is 0 (and on an MSI-only IOMMU)', () => {
    const both = setup();
    expect(both.b.read32(Reg.fctl) & 2).toBe(0);
    checkIllegal(both.b, both.page, iofenceC({ wsi: true, address: both.page + 16n, data: 5 }), iofenceC());
    expect(both.b.memory.read(both.page + 16n, 4)).toBe(0n);
    const msi = setup({ capabilities: { IGS: 'MSI' } });
    checkIllegal(msi.b, msi.page, iofenceC({ wsi: true }), iofenceC());
  });

  it('clearing cmd_ill without correcting the command re-fetches it and sets cmd_ill again', () => {
    const { b, page } = setup();
    b.submit(raw(0x45n, 0n), fence(page, 1));
    expect(b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    b.write32(Reg.ipsr, CIP);
    b.write32(Reg.cqcsr, CQEN | CIE | CMD_ILL);
    expect(b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    expect(b.read32(Reg.cqh)).toBe(0);
    expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
    expect(b.memory.read(page, 4)).toBe(0n);
    expect(b.iommu.commandQueue.stats.illegal).toBe(2);
  });

  it('with cie=0 cmd_ill is set but cip is not raised', () => {
    const { b, page } = setup();
    b.write32(Reg.cqcsr, CQEN);
    b.write32(Reg.ipsr, 0xf);
    b.submit(fence(page, 1), raw(0x7fn, 0n), fence(page + 4n, 2));
    expect(b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    expect(b.read32(Reg.cqh)).toBe(1);
    expect(b.read32(Reg.ipsr) & CIP).toBe(0);
    expect(b.memory.read(page + 4n, 4)).toBe(0n);
    // Setting cie while cmd_ill is 1 raises cip (ipsr: cip is set if cie and cmd_ill).
    b.write32(Reg.cqcsr, CQEN | CIE);
    b.write32(Reg.ipsr, CIP);
    expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
  });
});

describe('RISC-V IOMMU command queue: memory faults (cqcsr.cqmf)', () => {
  it('an access fault fetching a command sets cqmf with cqh on that command; clearing cqmf retries it', () => {
    const { b, page } = setup();
    b.submit(fence(page, 1));
    const slot = b.cqBase + 16n * BigInt(b.read32(Reg.cqt) + 1);
    b.memory.markAccessFault(slot, 16n);
    b.submit(fence(page + 4n, 2), fence(page + 8n, 3), fence(page + 12n, 4));
    expect(b.cqcsr & (CQMF | CMD_ILL)).toBe(CQMF);
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
    expect(b.memory.read(page + 4n, 4)).toBe(2n);
    expect(b.memory.read(page + 8n, 4)).toBe(0n);
    // Still stalled on a new doorbell.
    b.write32(Reg.cqt, b.read32(Reg.cqt));
    expect(b.read32(Reg.cqh)).toBe(2);
    b.memory.clearMarks();
    b.write32(Reg.cqcsr, CQEN | CIE | CQMF);
    expect(b.cqcsr & CQMF).toBe(0);
    expect(b.read32(Reg.cqh)).toBe(4);
    expect(b.memory.read(page + 8n, 4)).toBe(3n);
    expect(b.memory.read(page + 12n, 4)).toBe(4n);
  });

  it('an access fault on the IOFENCE.C completion store sets cqmf with cqh on the fence, which did not complete', () => {
    const { b, page } = setup();
    const target = b.alloc.alloc();
    b.memory.markAccessFault(target, 4096n);
    b.submit(fence(page, 1), fence(target, 2), fence(page + 4n, 3));
    expect(b.cqcsr & CQMF).toBe(CQMF);
    expect(b.read32(Reg.cqh)).toBe(1);
    expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
    expect(b.memory.read(page, 4)).toBe(1n);
    expect(b.memory.read(page + 4n, 4)).toBe(0n);
    expect(b.iommu.statistics().commands['IOFENCE.C']).toBe(1);
    b.memory.clearMarks();
    b.write32(Reg.cqcsr, CQEN | CIE | CQMF);
    expect(b.read32(Reg.cqh)).toBe(3);
    expect(b.memory.read(target, 4)).toBe(2n);
    expect(b.memory.read(page + 4n, 4)).toBe(3n);
  });

  it('an IOFENCE.C completion address beyond the physical address space sets cqmf', () => {
    const { b, page } = setup({ capabilities: { PAS: 48 } });
    b.submit(fence(1n << 48n, 1), fence(page, 2));
    expect(b.cqcsr & CQMF).toBe(CQMF);
    expect(b.read32(Reg.cqh)).toBe(0);
    expect(b.memory.read(page, 4)).toBe(0n);
  });
});

describe('RISC-V IOMMU command queue: cqcsr and cqb (spec "Command-queue CSR", "Command-queue base")', () => {
  it('cqen 0->1 sets cqh to 0 and clears cmd_ill, cmd_to, cqmf and fence_w_ip', () => {
    const { b, page } = setup();
    b.submit(fence(page, 1), fence(page, 2), raw(0n, 0n));
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    b.write32(Reg.cqcsr, CIE);
    // Off: cqon reads 0 and the error bit stays until re-enabled.
    expect(b.cqcsr & (CQEN | CQON)).toBe(0);
    b.write32(Reg.cqt, 0);
    b.write32(Reg.cqcsr, CQEN | CIE);
    const csr = b.cqcsr;
    expect(csr & (CQEN | CQON | BUSY)).toBe(CQEN | CQON);
    expect(csr & ERRORS).toBe(0);
    expect(b.read32(Reg.cqh)).toBe(0);
    b.submit(fence(page, 7));
    expect(b.memory.read(page, 4)).toBe(7n);
    expect(b.read32(Reg.cqh)).toBe(1);
  });

  it('a queue that is off processes nothing; commands queued meanwhile run when it is re-enabled with cqt set', () => {
    const { b, page } = setup();
    b.write32(Reg.cqcsr, CIE);
    writeSlot(b, 0, fence(page, 5));
    b.write32(Reg.cqt, 1);
    expect(b.memory.read(page, 4)).toBe(0n);
    expect(b.read32(Reg.cqh)).toBe(0);
    b.write32(Reg.cqcsr, CQEN | CIE);
    b.write32(Reg.cqt, 1);
    expect(b.memory.read(page, 4)).toBe(5n);
    expect(b.read32(Reg.cqh)).toBe(1);
  });

  it('cqb writes are ignored while the queue is on, and accepted when off (cqt then reads 0)', () => {
    const { b, page } = setup({ cqEntries: 16 });
    b.submit(fence(page, 1), fence(page, 2));
    const before = b.read64(Reg.cqb);
    const other = b.alloc.alloc();
    b.write64(Reg.cqb, encode(QueueBaseLayout, { LOG2SZ_1: 5, PPN: other >> 12n }));
    expect(b.read64(Reg.cqb)).toBe(before);
    b.submit(fence(page, 3));
    expect(b.memory.read(page, 4)).toBe(3n);
    // Off (cqon=0): the base is written; cqt bits above LOG2SZ read 0 (here the whole index).
    b.write32(Reg.cqcsr, 0);
    expect(b.cqcsr & CQON).toBe(0);
    b.write64(Reg.cqb, encode(QueueBaseLayout, { LOG2SZ_1: 1, PPN: other >> 12n }));
    expect(b.read64(Reg.cqb)).toBe(encode(QueueBaseLayout, { LOG2SZ_1: 1, PPN: other >> 12n }));
    expect(b.read32(Reg.cqt) & ~3).toBe(0);
    b.cqBase = other;
    b.cqEntries = 4;
    b.write32(Reg.cqt, 0);
    b.write32(Reg.cqcsr, CQEN | CIE);
    b.submit(fence(page, 4), fence(page + 4n, 5), fence(page + 8n, 6));
    b.submit(fence(page + 12n, 7));
    expect(b.read32(Reg.cqh)).toBe(0); // 4 entries: wrapped
    expect(b.memory.read(page + 12n, 4)).toBe(7n);
    expect(b.readStruct(other + 48n) & 0x7fn).toBe(BigInt(Opcode.IOFENCE));
  });

  it('with a control latency, cqcsr.busy is 1 and cqon 0 until the queue is active', () => {
    const { b, page } = setup({ cqEntries: 0, controlBusyCycles: 10 });
    b.enableCommandQueue(8);
    expect(b.cqcsr & (CQEN | CQON | BUSY)).toBe(CQEN | BUSY);
    writeSlot(b, 0, fence(page, 1));
    b.write32(Reg.cqt, 1);
    expect(b.memory.read(page, 4)).toBe(0n);
    b.iommu.clock.advance(10);
    expect(b.cqcsr & (CQEN | CQON | BUSY)).toBe(CQEN | CQON);
    // Pending commands run once the queue is on.
    expect(b.memory.read(page, 4)).toBe(1n);
    expect(b.read32(Reg.cqh)).toBe(1);
  });
});

describe('IODIR device ids and the directory mode ("IOMMU directory cache invalidation commands")', () => {
  it('a DID wider than the directory mode indexes is illegal (1LVL: 6 bits with extended contexts, 2LVL: 15)', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    b.submit(iodirInvalDdt(0x3f));
    expect(b.cqcsr & CMD_ILL).toBe(0);
    b.submit(iodirInvalDdt(0x40));
    expect(b.cqcsr & CMD_ILL).toBe(CMD_ILL);
  });
});
