// Conformance: ddtp modes Off and Bare, device_id width per directory mode, the walk of the
// device directory (RISC-V IOMMU spec v1.0, "Process to translate an IOVA" steps 1-6 and
// "Process to locate the Device-context"), and the faults of that walk.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { iodirInvalDdt } from '../../../src/formats/index.js';
import { ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import { RiscvIommuBench, type BenchOptions, type DirectoryMode } from '../../support/riscv-iommu-bench.js';
import { allTransactionTypes, bench, DEFAULT_IOVA, expectedRecord, RequestKind, send, txnName, type Txn } from './directory-support.js';

const BASE_FORMAT: BenchOptions['capabilities'] = { MSI_FLAT: false, MSI_MRIF: false, AMO_MRIF: false };

/** A device context whose first stage maps the 1 GiB page of DEFAULT_IOVA to GiB `tag`+1: identifies which DC was used. */
function taggedDc(b: RiscvIommuBench, did: number, tag: number): bigint {
  const pt = b.pageTable('Sv39');
  pt.map(DEFAULT_IOVA & ~0x3fff_ffffn, BigInt(tag + 1) << 30n, { level: 2 });
  b.setDeviceContext(did, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: tag + 1 } });
  return (BigInt(tag + 1) << 30n) | (DEFAULT_IOVA & 0x3fff_ffffn);
}

describe('ddtp.iommu_mode = Off ("Process to translate an IOVA" step 1)', () => {
  it('every transaction type is aborted with cause 256 and a complete fault record', () => {
    const b = new RiscvIommuBench(); // resetMode Off
    expect(b.iommu.state.mode).toBe(0);
    for (const t of allTransactionTypes()) {
      const r = send(b, 0x012345, { ...t, iova: 0xdead_beefn });
      // ATS translation requests: cause 256 is in the Unsupported Request list ("PCIe ATS translation request handling").
      expect(r.status, txnName(t)).toBe(ResponseStatus.UnsupportedRequest);
      expect(r.cause, txnName(t)).toBe(256);
      expect(b.faults(), txnName(t)).toEqual([expectedRecord(0x012345, { ...t, iova: 0xdead_beefn }, 256)]);
    }
  });

  it('reports the full 64-bit IOVA in iotval and the 24-bit device_id in DID', () => {
    const b = new RiscvIommuBench();
    send(b, 0xfedcba, { iova: 0xffff_ffff_ffff_f678n, pid: 0xfffff, priv: true });
    const [rec] = b.faults();
    expect(rec).toMatchObject({ cause: 256, did: 0xfedcba, pv: true, pid: 0xfffff, priv: true, iotval: 0xffff_ffff_ffff_f678n, iotval2: 0n });
  });
});

describe('ddtp.iommu_mode = Bare ("Process to translate an IOVA" step 2)', () => {
  it('untranslated requests of every access pass through unchanged as a 4 KiB identity, without faults', () => {
    const b = bench({ mode: 'Bare' });
    for (const t of allTransactionTypes().filter((x) => x.kind === RequestKind.Untranslated)) {
      for (const iova of [0n, 0x1234n, 0xdead_beefn, 0x00ff_ffff_ffff_fff8n, 0xffff_ffff_ffff_f000n]) {
        const r = send(b, 0x012345, { ...t, iova });
        expect(r.status, txnName(t)).toBe(ResponseStatus.Success);
        expect(r.address).toBe(iova);
        expect(r.log2Pages).toBe(0);
      }
    }
    expect(b.faults()).toEqual([]);
  });

  it('translated requests and ATS translation requests are disallowed (cause 260)', () => {
    const b = bench({ mode: 'Bare' });
    for (const t of allTransactionTypes().filter((x) => x.kind !== RequestKind.Untranslated)) {
      const r = send(b, 0x012345, t);
      expect(r.status, txnName(t)).toBe(ResponseStatus.UnsupportedRequest);
      expect(r.cause).toBe(260);
      expect(b.faults(), txnName(t)).toEqual([expectedRecord(0x012345, t, 260)]);
    }
  });

  it('the debug interface also passes addresses through in Bare mode', () => {
    const b = bench({ mode: 'Bare' });
    const r = b.debugTranslate(0x77, 0x1234_5000n);
    expect(r.fault).toBe(false);
    expect(r.address).toBe(0x1234_5000n);
  });
});

describe('device_id wider than the directory mode supports ("Process to translate an IOVA" steps 3-5)', () => {
  // Base format: DDI[0] = device_id[6:0], DDI[1] = [15:7], DDI[2] = [23:16].
  // Extended format (MSI_FLAT): DDI[0] = [5:0], DDI[1] = [14:6], DDI[2] = [23:15].
  for (const [format, caps, ddi0Bits] of [
    ['base', BASE_FORMAT, 7],
    ['extended', {}, 6],
  ] as const) {
    it(`${format} format, 1LVL: DDI[1] or DDI[2] non-zero gives cause 260`, () => {
      const b = bench({ mode: '1LVL', capabilities: caps });
      const max = 2 ** ddi0Bits - 1;
      b.setDeviceContext(max, {});
      b.setDeviceContext(0, {});
      expect(send(b, max).status).toBe(ResponseStatus.Success);
      expect(send(b, 0).status).toBe(ResponseStatus.Success);
      for (const did of [max + 1, 2 ** (ddi0Bits + 9), 0x800000, 0xffffff]) {
        const r = send(b, did);
        expect(r.cause, `did ${did.toString(16)}`).toBe(260);
        expect(b.faults()).toEqual([expectedRecord(did, {}, 260)]);
      }
    });

    it(`${format} format, 2LVL: DDI[2] non-zero gives cause 260`, () => {
      const b = bench({ mode: '2LVL', capabilities: caps });
      const max = 2 ** (ddi0Bits + 9) - 1;
      b.setDeviceContext(max, {});
      b.setDeviceContext(2 ** ddi0Bits, {});
      expect(send(b, max).status).toBe(ResponseStatus.Success);
      expect(send(b, 2 ** ddi0Bits).status).toBe(ResponseStatus.Success);
      for (const did of [max + 1, 0xffffff]) {
        expect(send(b, did).cause, `did ${did.toString(16)}`).toBe(260);
        expect(b.faults()).toEqual([expectedRecord(did, {}, 260)]);
      }
    });

    it(`${format} format, 3LVL: every 24-bit device_id is walked (no width fault)`, () => {
      const b = bench({ mode: '3LVL', capabilities: caps });
      b.setDeviceContext(0xffffff, {});
      expect(send(b, 0xffffff).status).toBe(ResponseStatus.Success);
      expect(send(b, 0x800000).cause).toBe(258); // walked, found no valid entry
    });
  }

  it('the width check precedes the walk: the ATS translation request of a too-wide device gets UR and a record with TTYP 8', () => {
    const b = bench({ mode: '1LVL' });
    const t: Txn = { kind: RequestKind.AtsTranslation, pid: 3 };
    expect(send(b, 0x40, t)).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 260 });
    expect(b.faults()).toEqual([expectedRecord(0x40, t, 260)]);
  });
});

describe('walking the device directory ("Process to locate the Device-context")', () => {
  /** Builds the directory by hand from the specification's DDI split, independently of the bench. */
  function handBuilt(mode: '1LVL' | '2LVL' | '3LVL', extended: boolean, did: number): { b: RiscvIommuBench; expected: bigint } {
    const b = bench({ mode, capabilities: extended ? {} : BASE_FORMAT });
    const ddi = extended ? [did & 0x3f, (did >>> 6) & 0x1ff, did >>> 15] : [did & 0x7f, (did >>> 7) & 0x1ff, did >>> 16];
    const dcSize = extended ? 64n : 32n;
    const levels = mode === '1LVL' ? 1 : mode === '2LVL' ? 2 : 3;
    let table = b.ddtRoot;
    for (let i = levels - 1; i > 0; i--) {
      const next = b.alloc.alloc();
      b.memory.write(table + BigInt(ddi[i]) * 8n, 8, ((next >> 12n) << 10n) | 1n);
      table = next;
    }
    const pt = b.pageTable('Sv39');
    pt.map(0x4000_0000n, 0x7_c000_0000n, { level: 2 });
    const dc = table + BigInt(ddi[0]) * dcSize;
    b.memory.write(dc, 8, 1n); // tc.V
    b.memory.write(dc + 16n, 8, 5n << 12n); // ta.PSCID
    b.memory.write(dc + 24n, 8, (8n << 60n) | (pt.root >> 12n)); // fsc: Sv39
    return { b, expected: 0x7_c000_0000n | (DEFAULT_IOVA & 0x3fff_ffffn) };
  }

  for (const extended of [false, true]) {
    for (const [mode, did] of [
      ['1LVL', 0x25],
      ['2LVL', 0x1234],
      ['3LVL', 0x012345],
      ['3LVL', 0xfedcba],
    ] as const) {
      it(`${extended ? 'extended' : 'base'} format ${mode}: device ${did.toString(16)} finds its DC at the DDI-indexed slots`, () => {
        const { b, expected } = handBuilt(mode, extended, did);
        const r = send(b, did);
        expect(r.status).toBe(ResponseStatus.Success);
        expect(r.address).toBe(expected);
        expect(b.faults()).toEqual([]);
      });
    }
  }

  for (const mode of ['1LVL', '2LVL', '3LVL'] as const) {
    for (const extended of [false, true]) {
      it(`property: random device ids land in their own DC (${mode}, ${extended ? 'extended' : 'base'} format)`, () => {
        const low = extended ? 6 : 7;
        const bitsOfMode = mode === '1LVL' ? low : mode === '2LVL' ? low + 9 : 24;
        const didArb = fc.integer({ min: 0, max: 2 ** bitsOfMode - 1 });
        fc.assert(
          fc.property(fc.uniqueArray(didArb, { minLength: 1, maxLength: 6 }), didArb, (dids, other) => {
            const b = bench({ mode, capabilities: extended ? {} : BASE_FORMAT, fqEntries: 16, cqEntries: 4 });
            const expected = dids.map((did, k) => taggedDc(b, did, k));
            dids.forEach((did, k) => {
              const r = send(b, did);
              expect(r.status).toBe(ResponseStatus.Success);
              expect(r.address).toBe(expected[k]);
            });
            if (!dids.includes(other)) expect(send(b, other).cause).toBe(258);
          }),
          { numRuns: 30 },
        );
      });
    }
  }
});

describe('walks with high table addresses and big-endian directories', () => {
  it('tables near the top of a 56-bit physical address space: every PPN bit of ddtp and the non-leaf entries is used', () => {
    const b = bench({ allocBase: 0x00ff_ffff_0000_0000n });
    expect(b.ddtRoot >> 32n).toBe(0x00ff_ffffn);
    const expected = taggedDc(b, 0xfedcba, 1);
    expect(send(b, 0xfedcba).address).toBe(expected);
  });

  it('fctl.BE=1: non-leaf DDT entries and the DC are read as big-endian doublewords', () => {
    for (const mode of ['1LVL', '2LVL', '3LVL'] as const) {
      const b = bench({ mode, bigEndianAtReset: true });
      expect(b.iommu.state.be).toBe(true);
      const did = mode === '1LVL' ? 0x2a : mode === '2LVL' ? 0x2abc : 0x2abcde;
      const expected = taggedDc(b, did, 2);
      expect(send(b, did).address).toBe(expected);
      // The same bytes in little-endian order are not a valid directory.
      const addr = b.dcAddress(did);
      b.memory.write(addr, 8, b.readStruct(addr));
      b.submit(iodirInvalDdt());
      expect(send(b, did).cause).not.toBe(0);
    }
  });
});

describe('faults of the device-directory walk ("Process to locate the Device-context" steps 3-10)', () => {
  const DID = 0x012345;

  /** Address of the non-leaf entry of DID at `level` (2 = root of 3LVL, 1 = next). */
  function nonLeafSlot(b: RiscvIommuBench, did: number, level: 1 | 2): bigint {
    b.dcAddress(did); // create the path
    const ddi2 = BigInt(did >>> 15);
    const ddi1 = BigInt((did >>> 6) & 0x1ff);
    const rootSlot = b.ddtRoot + ddi2 * 8n;
    if (level === 2) return rootSlot;
    const mid = ((b.memory.read(rootSlot, 8) >> 10n) & ((1n << 44n) - 1n)) << 12n;
    return mid + ddi1 * 8n;
  }

  for (const level of [2, 1] as const) {
    it(`non-leaf entry at level ${level} with V=0: cause 258 for every transaction type`, () => {
      const b = bench();
      b.setDeviceContext(DID, { tc: { EN_ATS: true, PDTV: true } });
      const slot = nonLeafSlot(b, DID, level);
      b.memory.write(slot, 8, b.memory.read(slot, 8) & ~1n);
      for (const t of allTransactionTypes()) {
        const r = send(b, DID, t);
        expect(r.status, txnName(t)).toBe(ResponseStatus.UnsupportedRequest);
        expect(r.cause).toBe(258);
        expect(b.faults(), txnName(t)).toEqual([expectedRecord(DID, t, 258)]);
      }
    });

    it(`non-leaf entry at level ${level} with any reserved bit (9:1, 63:54) set: cause 259`, () => {
      const b = bench();
      b.setDeviceContext(DID, {});
      const slot = nonLeafSlot(b, DID, level);
      const good = b.memory.read(slot, 8);
      const reservedBits = [...Array.from({ length: 9 }, (_, i) => i + 1), ...Array.from({ length: 10 }, (_, i) => i + 54)];
      for (const bit of reservedBits) {
        b.memory.write(slot, 8, good | (1n << BigInt(bit)));
        const r = send(b, DID);
        expect(r.cause, `bit ${bit}`).toBe(259);
        expect(b.faults()).toEqual([expectedRecord(DID, {}, 259)]);
      }
      b.memory.write(slot, 8, good);
      expect(send(b, DID).status).toBe(ResponseStatus.Success); // failures are not cached
    });

    it(`non-leaf entry at level ${level}: access fault gives 257, poisoned data gives 268`, () => {
      const b = bench();
      b.setDeviceContext(DID, {});
      const slot = nonLeafSlot(b, DID, level);
      b.memory.markAccessFault(slot, 8n);
      expect(send(b, DID).cause).toBe(257);
      expect(b.faults()).toEqual([expectedRecord(DID, {}, 257)]);
      // An ATS translation request that hits the access fault gets UR (cause 257 is in the UR list).
      const ats: Txn = { kind: RequestKind.AtsTranslation };
      expect(send(b, DID, ats)).toMatchObject({ status: ResponseStatus.UnsupportedRequest, cause: 257 });
      expect(b.faults()).toEqual([expectedRecord(DID, ats, 257)]);
      b.memory.clearMarks();
      b.memory.markDataCorruption(slot, 8n);
      expect(send(b, DID).cause).toBe(268);
      expect(b.faults()).toEqual([expectedRecord(DID, {}, 268)]);
      b.memory.clearMarks();
      expect(send(b, DID).status).toBe(ResponseStatus.Success);
    });
  }

  it('2LVL root entry V=0 and reserved bits: 258 and 259', () => {
    const b = bench({ mode: '2LVL' });
    const did = 0x1abc;
    b.setDeviceContext(did, {});
    const slot = b.ddtRoot + BigInt((did >>> 6) & 0x1ff) * 8n;
    const good = b.memory.read(slot, 8);
    b.memory.write(slot, 8, 0n);
    expect(send(b, did).cause).toBe(258);
    b.memory.write(slot, 8, good | (1n << 63n));
    expect(send(b, did).cause).toBe(259);
    b.memory.write(slot, 8, good);
    expect(send(b, did).status).toBe(ResponseStatus.Success);
    expect(b.faults().map((f) => f.cause)).toEqual([258, 259]);
  });

  it('a non-leaf entry pointing beyond the physical address space (capabilities.PAS) gives 257', () => {
    const b = bench({ mode: '2LVL', capabilities: { PAS: 40 } });
    const did = 0x45;
    b.setDeviceContext(did, {});
    const s = b.ddtRoot + BigInt(did >>> 6) * 8n; // DDI[1] = device_id[14:6]
    b.memory.write(s, 8, ((1n << 28n) << 10n) | 1n); // PPN 2^28 = address 2^40: outside a 40-bit PAS
    expect(send(b, did).cause).toBe(257);
    expect(b.faults()).toEqual([expectedRecord(did, {}, 257)]);
  });

  it('DC with V=0: cause 258 for every transaction type, whatever else the DC holds', () => {
    const b = bench();
    const addr = b.setDeviceContext(DID, { tc: { EN_ATS: true, PDTV: true, DTF: true }, tcRaw: 0xfff000n, reserved7: 0xffn });
    b.memory.write(addr, 8, b.memory.read(addr, 8) & ~1n);
    for (const t of allTransactionTypes()) {
      const r = send(b, DID, t);
      expect(r.status, txnName(t)).toBe(ResponseStatus.UnsupportedRequest);
      expect(r.cause).toBe(258);
      // DTF of an invalid DC is not used: the fault is reported (DTF assumed 0).
      expect(b.faults(), txnName(t)).toEqual([expectedRecord(DID, t, 258)]);
    }
  });

  for (const [format, caps, dwords] of [
    ['base', BASE_FORMAT, 4],
    ['extended', {}, 8],
  ] as const) {
    it(`${format} DC: an access fault on any of its ${dwords} doublewords gives 257, poison gives 268`, () => {
      const b = bench({ capabilities: caps });
      const addr = b.setDeviceContext(DID, {});
      for (let i = 0; i < dwords; i++) {
        b.memory.clearMarks();
        b.memory.markAccessFault(addr + BigInt(8 * i), 8n);
        expect(send(b, DID).cause, `dword ${i}`).toBe(257);
        b.memory.clearMarks();
        b.memory.markDataCorruption(addr + BigInt(8 * i), 8n);
        expect(send(b, DID).cause, `dword ${i}`).toBe(268);
      }
      expect(b.faults().map((f) => f.cause)).toEqual(Array.from({ length: dwords }, () => [257, 268]).flat());
      b.memory.clearMarks();
      // The neighbouring DCs are outside the DC: marks on them do not matter.
      b.memory.markAccessFault(addr - 8n, 8n);
      b.memory.markAccessFault(addr + BigInt(8 * dwords), 8n);
      expect(send(b, DID).status).toBe(ResponseStatus.Success);
    });
  }

  it('a DC fault on a device with DTF=1 in memory is still reported (DTF assumed 0 when no DC is located)', () => {
    const b = bench();
    const addr = b.setDeviceContext(DID, { tc: { DTF: true } });
    b.memory.markDataCorruption(addr, 8n);
    expect(send(b, DID).cause).toBe(268);
    b.memory.clearMarks();
    b.memory.markAccessFault(addr + 8n, 8n);
    expect(send(b, DID).cause).toBe(257);
    expect(b.faults().map((f) => f.cause)).toEqual([268, 257]);
  });
});

const DDTP_MODE_ENCODING: Record<DirectoryMode, number> = { Off: 0, Bare: 1, '1LVL': 2, '2LVL': 3, '3LVL': 4 };

describe('directory modes as software switches them (ddtp)', () => {
  it('entering a directory mode from Off and translating through each depth', () => {
    for (const mode of ['1LVL', '2LVL', '3LVL'] as DirectoryMode[]) {
      const b = new RiscvIommuBench();
      b.setMode(mode);
      expect(b.iommu.state.mode).toBe(DDTP_MODE_ENCODING[mode]);
      const expected = taggedDc(b, 0x21, 3);
      expect(send(b, 0x21).address).toBe(expected);
    }
  });
});
