// Conformance tests for the RISC-V IOMMU memory-mapped register file (RISC-V IOMMU
// Architecture Specification v1.0, chapter "Memory-mapped register interface"). The model is
// driven only through its registers, memory and the debug translation interface.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REGISTERS, atsInval, iofenceC } from '../../../src/formats/index.js';
import { pageRequest, type RiscvIommuCapabilities } from '../../../src/hw/riscv-iommu/index.js';
import { RiscvIommuBench, type BenchOptions } from '../../support/riscv-iommu-bench.js';

// ---- the register layout, as the specification's table "IOMMU Memory-mapped register layout" gives it

const R = {
  capabilities: 0,
  fctl: 8,
  custom12: 12,
  ddtp: 16,
  cqb: 24,
  cqh: 32,
  cqt: 36,
  fqb: 40,
  fqh: 48,
  fqt: 52,
  pqb: 56,
  pqh: 64,
  pqt: 68,
  cqcsr: 72,
  fqcsr: 76,
  pqcsr: 80,
  ipsr: 84,
  iocountovf: 88,
  iocountinh: 92,
  iohpmcycles: 96,
  tr_req_iova: 600,
  tr_req_ctl: 608,
  tr_response: 616,
  iommu_qosid: 624,
  icvec: 760,
} as const;
const ctr = (n: number): number => 104 + 8 * (n - 1);
const evt = (n: number): number => 352 + 8 * (n - 1);
const msiAddr = (v: number): number => 768 + 16 * v;
const msiData = (v: number): number => 768 + 16 * v + 8;
const msiVecCtl = (v: number): number => 768 + 16 * v + 12;

const SPEC_REGISTERS: [string, number, 4 | 8][] = (() => {
  const l: [string, number, 4 | 8][] = [
    ['capabilities', 0, 8],
    ['fctl', 8, 4],
    ['ddtp', 16, 8],
    ['cqb', 24, 8],
    ['cqh', 32, 4],
    ['cqt', 36, 4],
    ['fqb', 40, 8],
    ['fqh', 48, 4],
    ['fqt', 52, 4],
    ['pqb', 56, 8],
    ['pqh', 64, 4],
    ['pqt', 68, 4],
    ['cqcsr', 72, 4],
    ['fqcsr', 76, 4],
    ['pqcsr', 80, 4],
    ['ipsr', 84, 4],
    ['iocountovf', 88, 4],
    ['iocountinh', 92, 4],
    ['iohpmcycles', 96, 8],
  ];
  for (let n = 1; n <= 31; n++) l.push([`iohpmctr${n}`, ctr(n), 8]);
  for (let n = 1; n <= 31; n++) l.push([`iohpmevt${n}`, evt(n), 8]);
  l.push(['tr_req_iova', 600, 8], ['tr_req_ctl', 608, 8], ['tr_response', 616, 8], ['iommu_qosid', 624, 4], ['icvec', 760, 8]);
  for (let v = 0; v < 16; v++) l.push([`msi_addr_${v}`, msiAddr(v), 8], [`msi_data_${v}`, msiData(v), 4], [`msi_vec_ctl_${v}`, msiVecCtl(v), 4]);
  return l;
})();

// cqcsr / fqcsr / pqcsr bits
const EN = 1;
const IE = 2;
const MF = 1 << 8; // cqmf, fqmf, pqmf
const CMD_TO = 1 << 9;
const OF = 1 << 9; // fqof, pqof
const CMD_ILL = 1 << 10;
const FENCE_W_IP = 1 << 11;
const ON = 1 << 16;
const BUSY = 1 << 17;

const ALL_ONES_64 = 0xffff_ffff_ffff_ffffn;

/** An IOMMU straight out of reset: no queue enabled, no register written. */
function fresh(o: BenchOptions = {}): RiscvIommuBench {
  return new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, pqEntries: 0, ...o });
}

/** A snapshot of every architected register (8-byte reads of 8-byte registers). */
function snapshot(b: RiscvIommuBench): bigint[] {
  return SPEC_REGISTERS.map(([, off, size]) => (size === 8 ? b.read64(off) : BigInt(b.read32(off))));
}

/** Records a fault: with ddtp.iommu_mode Off every inbound transaction faults (cause 256). */
function causeFault(b: RiscvIommuBench, did = 0x42): void {
  b.iommu.translate({ deviceId: did, iova: 0x1000n });
}

function capabilityBits(c: RiscvIommuCapabilities): bigint {
  const bit = (on: boolean, n: number): bigint => (on ? 1n << BigInt(n) : 0n);
  const igs = { MSI: 0n, WSI: 1n, BOTH: 2n }[c.IGS];
  return (
    0x10n |
    bit(c.Sv32, 8) |
    bit(c.Sv39, 9) |
    bit(c.Sv48, 10) |
    bit(c.Sv57, 11) |
    bit(c.Svrsw60t59b, 14) |
    bit(c.Svpbmt, 15) |
    bit(c.Sv32x4, 16) |
    bit(c.Sv39x4, 17) |
    bit(c.Sv48x4, 18) |
    bit(c.Sv57x4, 19) |
    bit(c.AMO_MRIF, 21) |
    bit(c.MSI_FLAT, 22) |
    bit(c.MSI_MRIF, 23) |
    bit(c.AMO_HWAD, 24) |
    bit(c.ATS, 25) |
    bit(c.T2GPA, 26) |
    bit(c.END, 27) |
    (igs << 28n) |
    bit(c.HPM, 30) |
    bit(c.DBG, 31) |
    (BigInt(c.PAS) << 32n) |
    bit(c.PD8, 38) |
    bit(c.PD17, 39) |
    bit(c.PD20, 40) |
    bit(c.QOSID, 41) |
    bit(c.NL, 42) |
    bit(c.S, 43)
  );
}

/** Arbitrary capability sets that satisfy the specification's dependencies. */
const capabilitySets = fc
  .record({
    Sv32: fc.boolean(),
    Sv39: fc.boolean(),
    Sv48: fc.boolean(),
    Sv57: fc.boolean(),
    Sv32x4: fc.boolean(),
    Sv39x4: fc.boolean(),
    Sv48x4: fc.boolean(),
    Sv57x4: fc.boolean(),
    Svpbmt: fc.boolean(),
    Svrsw60t59b: fc.boolean(),
    AMO_HWAD: fc.boolean(),
    AMO_MRIF: fc.boolean(),
    MSI_FLAT: fc.boolean(),
    MSI_MRIF: fc.boolean(),
    ATS: fc.boolean(),
    T2GPA: fc.boolean(),
    END: fc.boolean(),
    IGS: fc.constantFrom('MSI' as const, 'WSI' as const, 'BOTH' as const),
    HPM: fc.boolean(),
    DBG: fc.boolean(),
    PAS: fc.integer({ min: 32, max: 56 }),
    PD8: fc.boolean(),
    PD17: fc.boolean(),
    PD20: fc.boolean(),
    QOSID: fc.boolean(),
    NL: fc.boolean(),
    S: fc.boolean(),
  })
  .map((c): RiscvIommuCapabilities => {
    // Sv57 needs Sv48 needs Sv39; MRIF needs flat MSI tables; T2GPA needs ATS.
    const Sv48 = c.Sv48 || c.Sv57;
    const MSI_MRIF = c.MSI_MRIF || c.AMO_MRIF;
    return { ...c, Sv48, Sv39: c.Sv39 || Sv48, MSI_MRIF, MSI_FLAT: c.MSI_FLAT || MSI_MRIF, ATS: c.ATS || c.T2GPA };
  });

// ==============================================================================================

describe('Register layout and reset behavior (§ Register layout, § Reset behavior)', () => {
  it('the formats table lists every register of the specification at its offset and width', () => {
    expect(REGISTERS.map((r) => [r.name, r.offset, r.size])).toEqual(SPEC_REGISTERS);
  });

  it('every register reads its reset value, as one 8-byte access and as two 4-byte halves', () => {
    const b = fresh();
    const caps = capabilityBits(b.iommu.params.capabilities);
    for (const [name, off, size] of SPEC_REGISTERS) {
      const expected = name === 'capabilities' ? caps : 0n;
      if (size === 8) {
        expect(b.read64(off), name).toBe(expected);
        expect(BigInt(b.read32(off)), `${name} low half`).toBe(expected & 0xffff_ffffn);
        expect(BigInt(b.read32(off + 4)), `${name} high half`).toBe(expected >> 32n);
      } else {
        expect(BigInt(b.read32(off)), name).toBe(expected);
      }
    }
    expect(b.iommu.statistics().registerAborts).toBe(0);
  });

  it('capabilities encodes exactly the constructor parameters, with version 0x10 (§ IOMMU capabilities)', () => {
    fc.assert(
      fc.property(capabilitySets, (caps) => {
        const b = fresh({ capabilities: caps });
        const v = b.read64(R.capabilities);
        expect(v).toBe(capabilityBits(caps));
        expect(v & 0xffn).toBe(0x10n); // major 1, minor 0
        // reserved bits 13:12, 20 and 55:44 and the custom byte read zero
        expect(v & ((3n << 12n) | (1n << 20n) | (0xfffn << 44n) | (0xffn << 56n))).toBe(0n);
      }),
      { numRuns: 60 },
    );
  });

  it('capabilities is read-only to 8-byte and 4-byte writes (§ IOMMU capabilities)', () => {
    const b = fresh();
    const before = b.read64(R.capabilities);
    b.write64(R.capabilities, 0n);
    b.write64(R.capabilities, ALL_ONES_64);
    b.write32(R.capabilities, 0);
    b.write32(R.capabilities + 4, 0xffff_ffff);
    expect(b.read64(R.capabilities)).toBe(before);
  });

  it('fctl resets to the implementation choices: BE, WSI (1 when only WSI is supported) and GXL (§ Features-control register)', () => {
    expect(fresh().read32(R.fctl)).toBe(0);
    expect(fresh({ bigEndianAtReset: true }).read32(R.fctl)).toBe(1);
    expect(fresh({ capabilities: { IGS: 'WSI' } }).read32(R.fctl)).toBe(2);
    expect(fresh({ capabilities: { IGS: 'MSI' } }).read32(R.fctl)).toBe(0);
    // only Sv32x4 for the second stage: GXL=1 out of reset
    expect(fresh({ capabilities: { Sv39x4: false, Sv48x4: false, Sv57x4: false } }).read32(R.fctl)).toBe(4);
    expect(fresh({ gxlAtReset: true }).read32(R.fctl)).toBe(4);
  });

  it('ddtp.iommu_mode resets to Off, or to Bare when so parameterised; busy resets to 0 (§ Reset behavior)', () => {
    expect(fresh().read64(R.ddtp)).toBe(0n);
    expect(fresh({ resetMode: 'Bare' }).read64(R.ddtp)).toBe(1n);
    // Bare out of reset lets untranslated DMA pass through unchanged
    const b = fresh({ resetMode: 'Bare' });
    expect(b.debugTranslate(5, 0x1234_5000n).address).toBe(0x1234_5000n);
  });

  it('reset() returns every register to its reset value', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    b.write64(R.icvec, 0x4321n);
    b.write64(msiAddr(1), 0x8000_0000n);
    b.write32(R.iommu_qosid, 0x0005_0007);
    b.write64(evt(1), 1n);
    b.write32(R.iocountinh, 1);
    causeFault(b, 0x10);
    expect(snapshot(b)).not.toEqual(snapshot(fresh()));
    b.iommu.reset();
    const again = fresh();
    expect(snapshot(b)).toEqual(snapshot(again));
  });
});

// ==============================================================================================

describe('Register access rules (§ Memory-mapped register interface)', () => {
  it('4-byte accesses reach either half of an 8-byte register and merge with the other half', () => {
    const b = fresh();
    b.write32(msiAddr(0), 0xdead_bee0);
    b.write32(msiAddr(0) + 4, 0x0000_00f0);
    expect(b.read64(msiAddr(0))).toBe(0x0000_00f0_dead_bee0n);
    expect(b.read32(msiAddr(0))).toBe(0xdead_bee0);
    expect(b.read32(msiAddr(0) + 4)).toBe(0xf0);
    // RV32 programming of ddtp: high half first (PPN bits 53:32), then the low half with the mode
    b.write32(R.ddtp + 4, 0x0000_0012);
    b.write32(R.ddtp, (0x3456 << 10) | 2);
    expect(b.read64(R.ddtp)).toBe((0x12n << 32n) | (0x3456n << 10n) | 2n);
    // tr_req_ctl: high half (DID), then low half with Go/Busy starts the translation
    b.write32(R.tr_req_iova + 4, 0x1);
    b.write32(R.tr_req_iova, 0x2000_0000);
    expect(b.read64(R.tr_req_iova)).toBe(0x1_2000_0000n);
  });

  it('misaligned accesses abort: reads return the abort value (all ones), writes are dropped, registerAborts counts them', () => {
    const b = fresh();
    const before = snapshot(b);
    expect(b.iommu.mmio.read(2, 4)).toBe(0xffff_ffffn);
    expect(b.iommu.mmio.read(R.cqcsr + 2, 4)).toBe(0xffff_ffffn);
    expect(b.iommu.mmio.read(R.ddtp + 4, 8)).toBe(ALL_ONES_64);
    expect(b.iommu.mmio.read(R.fqcsr, 8)).toBe(ALL_ONES_64); // 76 is not 8-byte aligned
    b.iommu.mmio.write(R.ddtp + 4, 8, 0x1n << 32n);
    b.iommu.mmio.write(R.fqcsr, 8, 0x3n);
    b.iommu.mmio.write(R.icvec + 1, 4, 0xffn);
    expect(snapshot(b)).toEqual(before);
    expect(b.iommu.statistics().registerAborts).toBe(7);
  });

  it('accesses of a size other than 4 or 8 bytes abort', () => {
    const b = fresh();
    expect(b.iommu.mmioRead(R.ipsr, 1)).toBe(0xffn);
    expect(b.iommu.mmioRead(R.ipsr, 2)).toBe(0xffffn);
    b.iommu.mmioWrite(R.icvec, 2, 0x1111n);
    b.iommu.mmioWrite(R.icvec, 1, 0x11n);
    expect(b.read64(R.icvec)).toBe(0n);
    expect(b.iommu.statistics().registerAborts).toBe(4);
  });

  it('an 8-byte access spanning two 4-byte registers, or a register and reserved space, aborts', () => {
    const b = fresh();
    b.write64(R.cqb, 0x1000n << 10n); // so that cqt is writable (queue of 2 entries)
    const spanning = [R.fctl, R.cqh, R.fqh, R.pqh, R.cqcsr, R.pqcsr, R.iocountovf, R.iommu_qosid, msiData(0), msiData(7)];
    for (const off of spanning) expect(b.iommu.mmio.read(off, 8), `read at ${off}`).toBe(ALL_ONES_64);
    const before = snapshot(b);
    for (const off of spanning) b.iommu.mmio.write(off, 8, ALL_ONES_64);
    expect(snapshot(b)).toEqual(before);
    expect(b.read32(R.cqt)).toBe(0);
    expect(b.read32(R.fctl)).toBe(0);
    expect(b.iommu.statistics().registerAborts).toBe(2 * spanning.length);
  });

  it('accesses beyond the 4-KiB register page abort', () => {
    const b = fresh();
    expect(b.iommu.mmio.read(4096, 4)).toBe(0xffff_ffffn);
    expect(b.iommu.mmio.read(4096, 8)).toBe(ALL_ONES_64);
    expect(b.iommu.mmio.read(4092, 4)).toBe(0n); // the last word is reserved space, not an abort
    expect(b.iommu.statistics().registerAborts).toBe(2);
  });

  it('the abort read value is a parameter', () => {
    const b = fresh({ abortReadValue: 0n });
    expect(b.iommu.mmio.read(3, 4)).toBe(0n);
    expect(b.iommu.mmio.read(R.cqh, 8)).toBe(0n);
    const c = fresh({ abortReadValue: 0xdead_beef_cafe_f00dn });
    expect(c.iommu.mmio.read(R.cqh, 8)).toBe(0xdead_beef_cafe_f00dn);
    expect(c.iommu.mmio.read(1, 4)).toBe(0xcafe_f00dn);
  });

  it('reserved (628-687, 1024-4095) and custom (12, 688-759) space reads zero and ignores writes, without aborting', () => {
    const b = fresh();
    const before = snapshot(b);
    const words: number[] = [R.custom12];
    for (let o = 628; o < 760; o += 4) words.push(o);
    for (let o = 1024; o < 4096; o += 4) words.push(o);
    for (const o of words) {
      b.write32(o, 0xffff_ffff);
      expect(b.read32(o), `word at ${o}`).toBe(0);
    }
    for (let o = 632; o < 760; o += 8) {
      b.write64(o, ALL_ONES_64);
      expect(b.read64(o), `doubleword at ${o}`).toBe(0n);
    }
    for (let o = 1024; o < 4096; o += 8) expect(b.read64(o)).toBe(0n);
    expect(snapshot(b)).toEqual(before);
    expect(b.iommu.statistics().registerAborts).toBe(0);
  });
});

// ==============================================================================================

describe('Read-only registers ignore writes', () => {
  it('cqh (§ Command-queue head) is read-only', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    b.submit(iofenceC(), iofenceC(), iofenceC());
    expect(b.read32(R.cqh)).toBe(3);
    b.write32(R.cqh, 0);
    b.write32(R.cqh, 5);
    expect(b.read32(R.cqh)).toBe(3);
  });

  it('fqt (§ Fault queue tail) is read-only', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 8 });
    causeFault(b);
    causeFault(b);
    expect(b.read32(R.fqt)).toBe(2);
    b.write32(R.fqt, 0);
    b.write32(R.fqt, 7);
    expect(b.read32(R.fqt)).toBe(2);
  });

  it('pqt (§ Page-request-queue tail) is read-only', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 8, pqEntries: 8, mode: '1LVL' });
    b.setDeviceContext(3, { tc: { EN_ATS: true, EN_PRI: true } });
    expect(b.iommu.receiveMessage(pageRequest({ rid: 3, address: 0x5000n, read: true, write: false, last: true, groupIndex: 1 }))).toBe(true);
    expect(b.read32(R.pqt)).toBe(1);
    b.write32(R.pqt, 0);
    b.write32(R.pqt, 6);
    expect(b.read32(R.pqt)).toBe(1);
  });

  it('iocountovf (§ Performance-monitoring counter overflow status) is read-only', () => {
    const b = fresh();
    b.write64(R.iohpmcycles, (1n << 63n) - 2n);
    b.iommu.clock.advance(4);
    expect(b.read32(R.iocountovf)).toBe(1);
    b.write32(R.iocountovf, 0);
    expect(b.read32(R.iocountovf)).toBe(1);
    b.write32(R.iocountovf, 0xffff_fffe);
    expect(b.read32(R.iocountovf)).toBe(1);
  });

  it('tr_response (§ Translation-response) is read-only', () => {
    const b = fresh({ resetMode: 'Bare' });
    b.debugTranslate(1, 0xabc_d000n);
    const r = b.read64(R.tr_response);
    expect(r).toBe(0xabcdn << 10n);
    b.write64(R.tr_response, 0n);
    b.write32(R.tr_response, 1);
    b.write32(R.tr_response + 4, 0xffff_ffff);
    expect(b.read64(R.tr_response)).toBe(r);
  });

  it('the cqon/fqon/pqon and busy bits of the queue CSRs are read-only', () => {
    const b = fresh();
    for (const csr of [R.cqcsr, R.fqcsr, R.pqcsr]) {
      b.write32(csr, ON | BUSY);
      expect(b.read32(csr)).toBe(0);
    }
  });
});

// ==============================================================================================

describe('ddtp (§ Device-directory-table pointer)', () => {
  it('PPN is WARL: bits beyond capabilities.PAS do not stick; reserved bits read zero', () => {
    fc.assert(
      fc.property(fc.integer({ min: 32, max: 56 }), fc.bigInt({ min: 0n, max: ALL_ONES_64 }), fc.constantFrom(1, 2, 3, 4), (pas, raw, mode) => {
        const b = fresh({ capabilities: { PAS: pas } });
        b.write64(R.ddtp, (raw & ~0xfn) | BigInt(mode));
        const ppn = (raw >> 10n) & ((1n << BigInt(pas - 12)) - 1n);
        expect(b.read64(R.ddtp)).toBe((ppn << 10n) | BigInt(mode));
      }),
      { numRuns: 100 },
    );
  });

  it('an unsupported or reserved iommu_mode (5-15) keeps the old value of the register', () => {
    const b = fresh();
    b.write64(R.ddtp, (0x1234n << 10n) | 1n);
    for (let mode = 5; mode < 16; mode++) {
      b.write64(R.ddtp, (0x5678n << 10n) | BigInt(mode));
      expect(b.read64(R.ddtp)).toBe((0x1234n << 10n) | 1n);
    }
  });

  it('maxDirectoryLevels: deeper directory modes are unsupported and keep the old value', () => {
    const one = fresh({ maxDirectoryLevels: 1 });
    one.write64(R.ddtp, (0x10n << 10n) | 4n);
    expect(one.read64(R.ddtp)).toBe(0n);
    one.write64(R.ddtp, (0x10n << 10n) | 3n);
    expect(one.read64(R.ddtp)).toBe(0n);
    one.write64(R.ddtp, (0x10n << 10n) | 2n);
    expect(one.read64(R.ddtp)).toBe((0x10n << 10n) | 2n);
    const two = fresh({ maxDirectoryLevels: 2 });
    two.write64(R.ddtp, (0x10n << 10n) | 4n);
    expect(two.read64(R.ddtp)).toBe(0n);
    two.write64(R.ddtp, (0x10n << 10n) | 3n);
    expect(two.read64(R.ddtp)).toBe((0x10n << 10n) | 3n);
  });

  it('1LVL/2LVL/3LVL may be entered only from Off or Bare; Off and Bare may always be written', () => {
    const b = fresh();
    b.write64(R.ddtp, (0x100n << 10n) | 4n); // Off -> 3LVL
    expect(b.read64(R.ddtp)).toBe((0x100n << 10n) | 4n);
    b.write64(R.ddtp, (0x200n << 10n) | 2n); // 3LVL -> 1LVL: ignored
    expect(b.read64(R.ddtp)).toBe((0x100n << 10n) | 4n);
    b.write64(R.ddtp, (0x200n << 10n) | 4n); // 3LVL -> 3LVL with another root: ignored
    expect(b.read64(R.ddtp)).toBe((0x100n << 10n) | 4n);
    b.write64(R.ddtp, (0x100n << 10n) | 1n); // 3LVL -> Bare
    expect(b.read64(R.ddtp) & 0xfn).toBe(1n);
    b.write64(R.ddtp, (0x300n << 10n) | 3n); // Bare -> 2LVL
    expect(b.read64(R.ddtp)).toBe((0x300n << 10n) | 3n);
    b.write64(R.ddtp, (0x300n << 10n) | 0n); // 2LVL -> Off
    expect(b.read64(R.ddtp)).toBe(0x300n << 10n);
    b.write64(R.ddtp, (0x400n << 10n) | 2n); // Off -> 1LVL
    expect(b.read64(R.ddtp)).toBe((0x400n << 10n) | 2n);
  });

  it('busy handshake: with controlBusyCycles, busy reads 1 until the clock passes it and writes meanwhile are dropped', () => {
    const b = fresh({ controlBusyCycles: 10 });
    b.write64(R.ddtp, 1n);
    expect(b.read64(R.ddtp)).toBe(1n | 16n);
    b.write64(R.ddtp, 0n); // dropped
    b.iommu.clock.advance(9);
    expect(b.read64(R.ddtp)).toBe(1n | 16n);
    b.iommu.clock.advance(1);
    expect(b.read64(R.ddtp)).toBe(1n);
    b.write64(R.ddtp, 0n);
    expect(b.read64(R.ddtp)).toBe(16n);
    b.iommu.clock.advance(10);
    expect(b.read64(R.ddtp)).toBe(0n);
  });

  it('busy never reads 1 when the IOMMU completes control writes synchronously', () => {
    const b = fresh({ controlBusyCycles: 0 });
    for (const v of [1n, 2n | (5n << 10n), 0n, 4n, 1n]) {
      b.write64(R.ddtp, v);
      expect(b.read64(R.ddtp) & 16n).toBe(0n);
    }
  });
});

// ==============================================================================================

describe('queue base and index registers (§ cqb, § fqb, § pqb, § cqt, § fqh, § pqh)', () => {
  const bases = [
    ['cqb', R.cqb],
    ['fqb', R.fqb],
    ['pqb', R.pqb],
  ] as const;

  it('LOG2SZ-1 and PPN are WARL: PPN is limited to capabilities.PAS; reserved bits read zero', () => {
    fc.assert(
      fc.property(fc.integer({ min: 32, max: 56 }), fc.bigInt({ min: 0n, max: ALL_ONES_64 }), fc.constantFrom(...bases), (pas, raw, [, off]) => {
        const b = fresh({ capabilities: { PAS: pas } });
        b.write64(off, raw);
        const ppn = (raw >> 10n) & ((1n << BigInt(pas - 12)) - 1n);
        expect(b.read64(off)).toBe((ppn << 10n) | (raw & 0x1fn));
      }),
      { numRuns: 100 },
    );
  });

  it('cqt, fqh and pqh keep only the index bits of the queue size (LOG2SZ-1:0)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 0xffff_ffff }), (log2m1, index) => {
        const b = fresh();
        const mask = Number((1n << BigInt(log2m1 + 1)) - 1n);
        for (const [base, idx] of [
          [R.cqb, R.cqt],
          [R.fqb, R.fqh],
          [R.pqb, R.pqh],
        ]) {
          b.write64(base, (0x80n << 10n) | BigInt(log2m1));
          b.write32(idx, index);
          expect(b.read32(idx)).toBe((index & mask) >>> 0);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('a write to cqb sets cqt to 0; fqb sets fqh to 0; pqb sets pqh to 0', () => {
    const b = fresh();
    for (const [base, idx] of [
      [R.cqb, R.cqt],
      [R.fqb, R.fqh],
      [R.pqb, R.pqh],
    ]) {
      b.write64(base, (0x80n << 10n) | 5n);
      b.write32(idx, 17);
      expect(b.read32(idx)).toBe(17);
      b.write64(base, (0x90n << 10n) | 5n);
      expect(b.read32(idx)).toBe(0);
    }
  });

  it('writes to cqb/fqb/pqb are ignored while the queue is on', () => {
    const b = new RiscvIommuBench({ cqEntries: 4, fqEntries: 4, pqEntries: 4 });
    for (const [name, off] of bases) {
      const before = b.read64(off);
      b.write64(off, (0x777n << 10n) | 9n);
      expect(b.read64(off), name).toBe(before);
    }
    // once the queue is off, the base is writable again
    b.write32(R.cqcsr, 0);
    b.write64(R.cqb, (0x777n << 10n) | 9n);
    expect(b.read64(R.cqb)).toBe((0x777n << 10n) | 9n);
  });

  it('writes to cqb are ignored while cqcsr.busy is 1', () => {
    const b = fresh({ controlBusyCycles: 5 });
    b.write64(R.cqb, 0x100n << 10n);
    b.write32(R.cqcsr, EN);
    expect(b.read32(R.cqcsr) & BUSY).toBe(BUSY);
    b.write64(R.cqb, 0x200n << 10n);
    expect(b.read64(R.cqb)).toBe(0x100n << 10n);
  });
});

// ==============================================================================================

describe('cqcsr (§ Command-queue CSR)', () => {
  it('cqen 0->1 sets cqh and cmd_ill, cmd_to, cqmf and fence_w_ip to 0, and cqon reads 1', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    b.submit(iofenceC(), [0n, 0n]); // the second command is illegal (opcode 0)
    expect(b.read32(R.cqh)).toBe(1);
    expect(b.cqcsr).toBe(EN | IE | CMD_ILL | ON);
    b.write32(R.cqcsr, IE); // off, error left set
    expect(b.cqcsr).toBe(IE | CMD_ILL);
    b.write32(R.cqt, 0);
    b.write32(R.cqcsr, EN | IE);
    expect(b.cqcsr).toBe(EN | IE | ON);
    expect(b.read32(R.cqh)).toBe(0);
  });

  it('cqen 0->1 clears each of cqmf, cmd_to and fence_w_ip', () => {
    // cqmf
    const a = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    a.memory.markAccessFault(a.cqBase, 16n);
    a.submit(iofenceC());
    expect(a.cqcsr & MF).toBe(MF);
    a.memory.clearMarks();
    a.write32(R.cqcsr, IE);
    a.write32(R.cqt, 0);
    a.write32(R.cqcsr, EN | IE);
    expect(a.cqcsr).toBe(EN | IE | ON);
    // cmd_to
    const t = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0, atsInvalidationTimeoutCycles: 5 });
    t.submit(atsInval({ rid: 1 }, 0n));
    t.iommu.clock.advance(5);
    t.submit(iofenceC());
    expect(t.cqcsr & CMD_TO).toBe(CMD_TO);
    t.write32(R.cqcsr, IE);
    t.write32(R.cqt, 0);
    t.write32(R.cqcsr, EN | IE);
    expect(t.cqcsr).toBe(EN | IE | ON);
    // fence_w_ip
    const w = fresh();
    w.write32(R.fctl, 2);
    w.enableCommandQueue(8);
    w.submit(iofenceC({ wsi: true }));
    expect(w.cqcsr & FENCE_W_IP).toBe(FENCE_W_IP);
    w.write32(R.cqcsr, IE);
    w.write32(R.cqt, 0);
    w.write32(R.cqcsr, EN | IE);
    expect(w.cqcsr).toBe(EN | IE | ON);
  });

  it('cmd_ill is RW1C: writing 0 leaves it set, writing 1 clears it and command processing resumes', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    const fenceTarget = b.alloc.alloc();
    b.submit([0n, 0n], iofenceC({ address: fenceTarget, data: 0x5a5a }));
    expect(b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    expect(b.read32(R.cqh)).toBe(0);
    b.write32(R.cqcsr, EN | IE);
    expect(b.cqcsr & CMD_ILL).toBe(CMD_ILL);
    // repair the command in memory (a valid IOFENCE.C), then clear cmd_ill
    const [w0, w1] = iofenceC();
    b.writeStruct(b.cqBase, w0);
    b.writeStruct(b.cqBase + 8n, w1);
    b.write32(R.cqcsr, EN | IE | CMD_ILL);
    expect(b.cqcsr & CMD_ILL).toBe(0);
    expect(b.read32(R.cqh)).toBe(2);
    expect(b.memory.read(fenceTarget, 4)).toBe(0x5a5an);
  });

  it('cqmf is RW1C: a command fetch access fault sets it and stalls the queue until it is cleared', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    b.memory.markAccessFault(b.cqBase + 16n, 16n);
    b.submit(iofenceC(), iofenceC());
    expect(b.cqcsr & (MF | CMD_ILL | CMD_TO)).toBe(MF);
    expect(b.read32(R.cqh)).toBe(1);
    b.write32(R.cqcsr, EN | IE);
    expect(b.cqcsr & MF).toBe(MF);
    b.memory.clearMarks();
    b.write32(R.cqcsr, EN | IE | MF);
    expect(b.cqcsr & MF).toBe(0);
    expect(b.read32(R.cqh)).toBe(2);
  });

  it('cmd_to is RW1C: an IOFENCE.C behind a timed-out ATS invalidation sets it', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0, atsInvalidationTimeoutCycles: 50 });
    b.submit(atsInval({ rid: 0x10 }, 0n));
    b.iommu.clock.advance(50);
    b.submit(iofenceC());
    expect(b.cqcsr & (MF | CMD_ILL | CMD_TO)).toBe(CMD_TO);
    expect(b.read32(R.cqh)).toBe(1); // cqh references the IOFENCE.C
    b.write32(R.cqcsr, EN | IE);
    expect(b.cqcsr & CMD_TO).toBe(CMD_TO);
    b.write32(R.cqcsr, EN | IE | CMD_TO);
    expect(b.cqcsr & CMD_TO).toBe(0);
    expect(b.read32(R.cqh)).toBe(2);
  });

  it('fence_w_ip is RW1C (IOFENCE.C with WSI=1 while fctl.WSI=1)', () => {
    const b = fresh();
    b.write32(R.fctl, 2);
    b.enableCommandQueue(8);
    b.submit(iofenceC({ wsi: true }));
    expect(b.cqcsr & FENCE_W_IP).toBe(FENCE_W_IP);
    b.write32(R.cqcsr, EN | IE);
    expect(b.cqcsr & FENCE_W_IP).toBe(FENCE_W_IP);
    b.write32(R.cqcsr, EN | IE | FENCE_W_IP);
    expect(b.cqcsr & FENCE_W_IP).toBe(0);
  });

  it('cqen 1->0 turns the queue off (cqon reads 0); cie is read/write', () => {
    const b = fresh();
    b.write64(R.cqb, 0x100n << 10n);
    b.write32(R.cqcsr, IE);
    expect(b.read32(R.cqcsr)).toBe(IE);
    b.write32(R.cqcsr, EN);
    expect(b.read32(R.cqcsr)).toBe(EN | ON);
    b.write32(R.cqcsr, 0);
    expect(b.read32(R.cqcsr)).toBe(0);
  });

  it('while cqon is 0 no command is fetched, whatever cqt says', () => {
    const b = new RiscvIommuBench({ cqEntries: 8, fqEntries: 0 });
    const target = b.alloc.alloc();
    b.write32(R.cqcsr, IE);
    b.submit(iofenceC({ address: target, data: 0x77 }));
    expect(b.read32(R.cqt)).toBe(1);
    expect(b.read32(R.cqh)).toBe(0);
    expect(b.memory.read(target, 4)).toBe(0n);
    b.write32(R.cqcsr, EN | IE); // on again: cqh=0, the command runs
    expect(b.read32(R.cqh)).toBe(1);
    expect(b.memory.read(target, 4)).toBe(0x77n);
  });

  it('busy handshake: busy is 1 until the clock passes controlBusyCycles; writes meanwhile are dropped', () => {
    const b = fresh({ controlBusyCycles: 8 });
    b.write64(R.cqb, 0x100n << 10n);
    b.write32(R.cqcsr, EN | IE);
    expect(b.read32(R.cqcsr)).toBe(EN | IE | BUSY);
    b.write32(R.cqcsr, 0); // dropped
    b.iommu.clock.advance(7);
    expect(b.read32(R.cqcsr)).toBe(EN | IE | BUSY);
    b.iommu.clock.advance(1);
    expect(b.read32(R.cqcsr)).toBe(EN | IE | ON);
    b.write32(R.cqcsr, IE);
    expect(b.read32(R.cqcsr)).toBe(IE | ON | BUSY);
    b.iommu.clock.advance(8);
    expect(b.read32(R.cqcsr)).toBe(IE);
  });
});

// ==============================================================================================

describe('fqcsr (§ Fault queue CSR)', () => {
  it('fqen 0->1 sets fqt, fqof and fqmf to 0; fqh is left alone', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 4 });
    for (let i = 0; i < 4; i++) causeFault(b); // three records fit, the fourth overflows
    expect(b.read32(R.fqt)).toBe(3);
    expect(b.read32(R.fqcsr)).toBe(EN | IE | OF | ON);
    b.write32(R.fqh, 2);
    b.write32(R.fqcsr, IE);
    expect(b.read32(R.fqcsr)).toBe(IE | OF);
    b.write32(R.fqcsr, EN | IE);
    expect(b.read32(R.fqcsr)).toBe(EN | IE | ON);
    expect(b.read32(R.fqt)).toBe(0);
    expect(b.read32(R.fqh)).toBe(2);
  });

  it('fqof is RW1C: set on overflow, kept by a write of 0, cleared by a write of 1; recording resumes', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 2 });
    causeFault(b, 1);
    causeFault(b, 2); // full: overflow, record discarded
    expect(b.read32(R.fqcsr) & OF).toBe(OF);
    b.write32(R.fqcsr, EN | IE);
    expect(b.read32(R.fqcsr) & OF).toBe(OF);
    expect(b.faults().map((f) => f.did)).toEqual([1]);
    causeFault(b, 3); // dropped: fqof still set
    expect(b.read32(R.fqt)).toBe(1);
    b.write32(R.fqcsr, EN | IE | OF);
    expect(b.read32(R.fqcsr) & OF).toBe(0);
    causeFault(b, 4);
    expect(b.faults().map((f) => f.did)).toEqual([4]);
  });

  it('fqmf is RW1C: a fault-record write access fault sets it and no records are written until cleared', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 8 });
    b.memory.markAccessFault(b.fqBase, 32n);
    causeFault(b, 1);
    expect(b.read32(R.fqcsr) & (MF | OF)).toBe(MF);
    expect(b.read32(R.fqt)).toBe(0);
    b.memory.clearMarks();
    causeFault(b, 2);
    expect(b.read32(R.fqt)).toBe(0);
    b.write32(R.fqcsr, EN | IE);
    expect(b.read32(R.fqcsr) & MF).toBe(MF);
    b.write32(R.fqcsr, EN | IE | MF);
    expect(b.read32(R.fqcsr) & MF).toBe(0);
    causeFault(b, 3);
    expect(b.faults().map((f) => f.did)).toEqual([3]);
  });

  it('while fqon is 0 no fault record is written', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 8 });
    b.write32(R.fqcsr, IE);
    causeFault(b);
    expect(b.read32(R.fqt)).toBe(0);
    expect(b.memory.read(b.fqBase, 8)).toBe(0n);
    expect(b.read32(R.ipsr)).toBe(0);
  });

  it('busy handshake for fqcsr', () => {
    const b = fresh({ controlBusyCycles: 3 });
    b.write64(R.fqb, 0x100n << 10n);
    b.write32(R.fqcsr, EN | IE);
    expect(b.read32(R.fqcsr)).toBe(EN | IE | BUSY);
    b.write32(R.fqcsr, 0);
    b.iommu.clock.advance(3);
    expect(b.read32(R.fqcsr)).toBe(EN | IE | ON);
  });
});

// ==============================================================================================

describe('pqcsr (§ Page-request-queue CSR)', () => {
  function pqBench(entries: number): RiscvIommuBench {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 8, pqEntries: entries, mode: '1LVL' });
    b.setDeviceContext(3, { tc: { EN_ATS: true, EN_PRI: true } });
    return b;
  }
  const request = (prgi: number) => pageRequest({ rid: 3, address: 0x5000n, read: true, write: false, last: true, groupIndex: prgi });

  it('pqen 0->1 sets pqt, pqof and pqmf to 0', () => {
    const b = pqBench(2);
    b.iommu.receiveMessage(request(1));
    b.iommu.receiveMessage(request(2)); // overflow
    expect(b.read32(R.pqt)).toBe(1);
    expect(b.read32(R.pqcsr)).toBe(EN | IE | OF | ON);
    b.write32(R.pqcsr, IE);
    expect(b.read32(R.pqcsr)).toBe(IE | OF);
    b.write32(R.pqcsr, EN | IE);
    expect(b.read32(R.pqcsr)).toBe(EN | IE | ON);
    expect(b.read32(R.pqt)).toBe(0);
  });

  it('pqof and pqmf are RW1C', () => {
    const b = pqBench(2);
    b.iommu.receiveMessage(request(1));
    b.iommu.receiveMessage(request(2));
    expect(b.read32(R.pqcsr) & OF).toBe(OF);
    b.write32(R.pqcsr, EN | IE);
    expect(b.read32(R.pqcsr) & OF).toBe(OF);
    b.write32(R.pqcsr, EN | IE | OF);
    expect(b.read32(R.pqcsr) & OF).toBe(0);
    expect(b.pageRequests()).toHaveLength(1);
    b.memory.markAccessFault(b.pqBase, 4096n);
    b.iommu.receiveMessage(request(3));
    expect(b.read32(R.pqcsr) & (MF | OF)).toBe(MF);
    b.write32(R.pqcsr, EN | IE);
    expect(b.read32(R.pqcsr) & MF).toBe(MF);
    b.write32(R.pqcsr, EN | IE | MF);
    expect(b.read32(R.pqcsr) & MF).toBe(0);
  });

  it('busy handshake for pqcsr', () => {
    const b = fresh({ controlBusyCycles: 2 });
    b.write64(R.pqb, 0x100n << 10n);
    b.write32(R.pqcsr, EN);
    expect(b.read32(R.pqcsr)).toBe(EN | BUSY);
    b.write32(R.pqcsr, 0);
    b.iommu.clock.advance(2);
    expect(b.read32(R.pqcsr)).toBe(EN | ON);
  });
});

// ==============================================================================================

describe('ipsr (§ Interrupt pending status register) access semantics', () => {
  it('bits are RW1C; writes of 0 and reserved/custom bits have no effect', () => {
    const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 8 });
    causeFault(b);
    expect(b.read32(R.ipsr)).toBe(2);
    b.write32(R.ipsr, 0);
    expect(b.read32(R.ipsr)).toBe(2);
    b.write32(R.ipsr, 0xffff_fff0 | 1 | 4 | 8);
    expect(b.read32(R.ipsr)).toBe(2);
    b.write32(R.ipsr, 2);
    expect(b.read32(R.ipsr)).toBe(0);
  });
});

// ==============================================================================================

describe('translation-request interface registers (§ tr_req_iova, § tr_req_ctl, § tr_response)', () => {
  it('tr_req_iova bits 11:0 are reserved and read zero', () => {
    const b = fresh();
    b.write64(R.tr_req_iova, ALL_ONES_64);
    expect(b.read64(R.tr_req_iova)).toBe(ALL_ONES_64 & ~0xfffn);
  });

  it('Go/Busy is RW1S: writing 1 starts a translation that completes with Go/Busy back at 0', () => {
    const b = fresh({ resetMode: 'Bare' });
    b.write64(R.tr_req_iova, 0x7_7000n);
    const ctl = (0xabcdn << 40n) | 1n;
    b.write64(R.tr_req_ctl, ctl);
    expect(b.read64(R.tr_req_ctl)).toBe(ctl & ~1n);
    expect(b.read64(R.tr_response)).toBe(0x77n << 10n);
    expect(b.iommu.statistics().requests.debug).toBe(1);
  });

  it('writing Go/Busy=0 does not start a translation', () => {
    const b = fresh({ resetMode: 'Bare' });
    b.write64(R.tr_req_iova, 0x7_7000n);
    b.write64(R.tr_req_ctl, 0xabcdn << 40n);
    expect(b.read64(R.tr_response)).toBe(0n);
    expect(b.iommu.statistics().requests.debug).toBe(0);
  });

  it('reserved and custom fields of tr_req_ctl read zero', () => {
    const b = fresh({ resetMode: 'Bare' });
    b.write64(R.tr_req_ctl, ALL_ONES_64 & ~1n);
    // Go/Busy 0, Priv, Exe, NW, PID, PV, DID kept; 11:4, 35:33, 39:36 zero
    expect(b.read64(R.tr_req_ctl)).toBe(0xffff_ff01_ffff_f00en);
  });

  it('a faulting translation sets tr_response.fault', () => {
    const b = fresh();
    b.debugTranslate(1, 0x1000n); // ddtp Off: all inbound transactions disallowed
    expect(b.read64(R.tr_response) & 1n).toBe(1n);
  });
});

// ==============================================================================================

describe('iommu_qosid (§ IOMMU QoS ID)', () => {
  it('RCID and MCID are WARL, limited to rcidBits and mcidBits; reserved bits read zero', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 0xffff_ffff }), (rb, mb, v) => {
        const b = fresh({ rcidBits: rb, mcidBits: mb });
        b.write32(R.iommu_qosid, v);
        const rcid = v & 0xfff & (2 ** rb - 1);
        const mcid = (v >>> 16) & 0xfff & (2 ** mb - 1);
        expect(b.read32(R.iommu_qosid)).toBe(rcid | (mcid << 16));
      }),
      { numRuns: 80 },
    );
  });

  it('reads 0 and ignores writes without capabilities.QOSID', () => {
    const b = fresh({ capabilities: { QOSID: false } });
    b.write32(R.iommu_qosid, 0x0123_0456);
    expect(b.read32(R.iommu_qosid)).toBe(0);
  });
});

// ==============================================================================================

describe('icvec (§ Interrupt-cause-to-vector register)', () => {
  it('civ/fiv/pmiv/piv keep interruptVectorBits bits; pmiv reads 0 without HPM and piv without ATS; bits 63:16 read 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.boolean(), fc.boolean(), fc.bigInt({ min: 0n, max: ALL_ONES_64 }), (bits, hpm, ats, raw) => {
        const b = fresh({ interruptVectorBits: bits, capabilities: { HPM: hpm, ATS: ats, T2GPA: false } });
        b.write64(R.icvec, raw);
        const m = BigInt((1 << bits) - 1);
        const field = (i: bigint): bigint => ((raw >> (4n * i)) & 0xfn & m) << (4n * i);
        const expected = field(0n) | field(1n) | (hpm ? field(2n) : 0n) | (ats ? field(3n) : 0n);
        expect(b.read64(R.icvec)).toBe(expected);
      }),
      { numRuns: 80 },
    );
  });
});

// ==============================================================================================

describe('msi_cfg_tbl (§ MSI configuration table)', () => {
  it('msi_addr bits 1:0 read 0 and ADDR is limited to capabilities.PAS; reserved bits 63:56 read 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 32, max: 56 }), fc.integer({ min: 0, max: 15 }), fc.bigInt({ min: 0n, max: ALL_ONES_64 }), (pas, v, raw) => {
        const b = fresh({ capabilities: { PAS: pas } });
        b.write64(msiAddr(v), raw);
        expect(b.read64(msiAddr(v))).toBe(raw & ((1n << BigInt(pas)) - 1n) & ~3n);
      }),
      { numRuns: 80 },
    );
  });

  it('msi_data is 32 bits read/write; msi_vec_ctl keeps only M', () => {
    const b = fresh();
    for (let v = 0; v < 16; v++) {
      b.write32(msiData(v), 0xdead_0000 + v);
      b.write32(msiVecCtl(v), 0xffff_ffff);
    }
    for (let v = 0; v < 16; v++) {
      expect(b.read32(msiData(v))).toBe(0xdead_0000 + v);
      expect(b.read32(msiVecCtl(v))).toBe(1);
    }
  });

  it('entries beyond the implemented vectors (2^interruptVectorBits) read 0 and ignore writes', () => {
    const b = fresh({ interruptVectorBits: 2 });
    for (let v = 0; v < 16; v++) {
      b.write64(msiAddr(v), 0x8000_0000n + BigInt(v * 4));
      b.write32(msiData(v), v + 1);
      b.write32(msiVecCtl(v), 1);
    }
    for (let v = 0; v < 16; v++) {
      const present = v < 4;
      expect(b.read64(msiAddr(v))).toBe(present ? 0x8000_0000n + BigInt(v * 4) : 0n);
      expect(b.read32(msiData(v))).toBe(present ? v + 1 : 0);
      expect(b.read32(msiVecCtl(v))).toBe(present ? 1 : 0);
    }
  });
});

// ==============================================================================================

describe('optional registers read 0 and ignore writes when their capability is off (§ Memory-mapped register interface)', () => {
  function allOnes(b: RiscvIommuBench, offsets: [number, 4 | 8][]): void {
    for (const [off, size] of offsets) {
      if (size === 8) b.write64(off, ALL_ONES_64);
      else b.write32(off, 0xffff_ffff);
    }
  }
  function expectZero(b: RiscvIommuBench, offsets: [number, 4 | 8][]): void {
    for (const [off, size] of offsets) {
      if (size === 8) expect(b.read64(off), `offset ${off}`).toBe(0n);
      else expect(b.read32(off), `offset ${off}`).toBe(0);
    }
  }

  it('pqb, pqh, pqt, pqcsr without capabilities.ATS', () => {
    const b = fresh({ capabilities: { ATS: false, T2GPA: false } });
    const regs: [number, 4 | 8][] = [
      [R.pqb, 8],
      [R.pqh, 4],
      [R.pqt, 4],
      [R.pqcsr, 4],
    ];
    allOnes(b, regs);
    expectZero(b, regs);
    expect(b.iommu.receiveMessage(pageRequest({ rid: 1, address: 0n, read: true, write: false, last: true, groupIndex: 0 }))).toBe(false);
  });

  it('the HPM block (iocountovf, iocountinh, iohpmcycles, iohpmctr1-31, iohpmevt1-31) without capabilities.HPM', () => {
    const b = fresh({ capabilities: { HPM: false } });
    const regs: [number, 4 | 8][] = [
      [R.iocountovf, 4],
      [R.iocountinh, 4],
      [R.iohpmcycles, 8],
    ];
    for (let n = 1; n <= 31; n++) regs.push([ctr(n), 8], [evt(n), 8]);
    allOnes(b, regs);
    b.iommu.clock.advance(1000);
    expectZero(b, regs);
  });

  it('tr_req_iova, tr_req_ctl, tr_response without capabilities.DBG', () => {
    const b = fresh({ resetMode: 'Bare', capabilities: { DBG: false } });
    const regs: [number, 4 | 8][] = [
      [R.tr_req_iova, 8],
      [R.tr_req_ctl, 8],
      [R.tr_response, 8],
    ];
    allOnes(b, regs);
    expectZero(b, regs);
    expect(b.iommu.statistics().requests.debug).toBe(0);
  });

  it('iommu_qosid without capabilities.QOSID', () => {
    const b = fresh({ capabilities: { QOSID: false } });
    allOnes(b, [[R.iommu_qosid, 4]]);
    expectZero(b, [[R.iommu_qosid, 4]]);
  });

  it('msi_cfg_tbl with capabilities.IGS=WSI', () => {
    const b = fresh({ capabilities: { IGS: 'WSI' } });
    const regs: [number, 4 | 8][] = [];
    for (let v = 0; v < 16; v++) regs.push([msiAddr(v), 8], [msiData(v), 4], [msiVecCtl(v), 4]);
    allOnes(b, regs);
    expectZero(b, regs);
  });
});

// ==============================================================================================

describe('fctl (§ Features-control register)', () => {
  it('BE, WSI and GXL are writable when END=1, IGS=BOTH and GXL is writable; reserved and custom bits read 0', () => {
    const b = fresh();
    b.write32(R.fctl, 0xffff_ffff);
    expect(b.read32(R.fctl)).toBe(7);
    b.write32(R.fctl, 0);
    expect(b.read32(R.fctl)).toBe(0);
    for (const v of [1, 2, 4, 3, 5, 6]) {
      b.write32(R.fctl, v);
      expect(b.read32(R.fctl)).toBe(v);
    }
  });

  it('BE is writable only with capabilities.END', () => {
    expect(((b) => (b.write32(R.fctl, 1), b.read32(R.fctl)))(fresh({ capabilities: { END: false } }))).toBe(0);
    const be = fresh({ capabilities: { END: false }, bigEndianAtReset: true });
    be.write32(R.fctl, 0);
    expect(be.read32(R.fctl) & 1).toBe(1);
  });

  it('WSI is writable only with capabilities.IGS=BOTH', () => {
    const msi = fresh({ capabilities: { IGS: 'MSI' } });
    msi.write32(R.fctl, 2);
    expect(msi.read32(R.fctl) & 2).toBe(0);
    const wsi = fresh({ capabilities: { IGS: 'WSI' } });
    wsi.write32(R.fctl, 0);
    expect(wsi.read32(R.fctl) & 2).toBe(2);
  });

  it('GXL is writable only when gxlWritable', () => {
    const fixed = fresh({ gxlWritable: false });
    fixed.write32(R.fctl, 4);
    expect(fixed.read32(R.fctl) & 4).toBe(0);
    const sv32x4Only = fresh({ capabilities: { Sv39x4: false, Sv48x4: false, Sv57x4: false } });
    sv32x4Only.write32(R.fctl, 0);
    expect(sv32x4Only.read32(R.fctl) & 4).toBe(4);
  });

  it('writes are ignored unless ddtp.iommu_mode is Off', () => {
    for (const mode of [1n, 2n, 4n]) {
      const b = fresh();
      b.write64(R.ddtp, (0x100n << 10n) | mode);
      b.write32(R.fctl, 7);
      expect(b.read32(R.fctl)).toBe(0);
    }
  });

  it('writes are ignored while any queue is enabled or on', () => {
    for (const [base, csr] of [
      [R.cqb, R.cqcsr],
      [R.fqb, R.fqcsr],
      [R.pqb, R.pqcsr],
    ]) {
      const b = fresh();
      b.write64(base, 0x100n << 10n);
      b.write32(csr, EN);
      b.write32(R.fctl, 7);
      expect(b.read32(R.fctl), `csr at ${csr}`).toBe(0);
      b.write32(csr, 0);
      b.write32(R.fctl, 7);
      expect(b.read32(R.fctl)).toBe(7);
    }
    // enabled but not yet on (busy): still ignored
    const b = fresh({ controlBusyCycles: 4 });
    b.write64(R.fqb, 0x100n << 10n);
    b.write32(R.fqcsr, EN);
    b.write32(R.fctl, 7);
    expect(b.read32(R.fctl)).toBe(0);
    // disabled but still on (busy turning off): still ignored
    b.iommu.clock.advance(4);
    b.write32(R.fqcsr, 0);
    b.write32(R.fctl, 7);
    expect(b.read32(R.fctl)).toBe(0);
    b.iommu.clock.advance(4);
    b.write32(R.fctl, 7);
    expect(b.read32(R.fctl)).toBe(7);
  });
});
