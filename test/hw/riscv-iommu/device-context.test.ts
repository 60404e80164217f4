// Conformance: every device-context configuration check of the RISC-V IOMMU spec v1.0
// ("Device-context configuration checks", numbered as in the specification's list), each
// producing "DDT entry misconfigured" (cause 259), with the IOMMU built with the capability
// set the check depends on; and, for each, the nearest legal setting being accepted.

import { describe, expect, it } from 'vitest';
import { Reg } from '../../../src/formats/index.js';
import { ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import type { BenchOptions, DeviceContextFields, RiscvIommuBench } from '../../support/riscv-iommu-bench.js';
import { bench, expectedRecord, MAPPED_SPA, mappedTable, DEFAULT_IOVA, send, type Txn } from './directory-support.js';

const DID = 0x42;
type Build = DeviceContextFields | ((b: RiscvIommuBench) => DeviceContextFields);

function build(o: BenchOptions, f: Build): RiscvIommuBench {
  // Many small benches: no command or page-request queue, a small fault queue.
  const b = bench({ cqEntries: 0, pqEntries: 0, fqEntries: 4, ...o });
  b.setDeviceContext(DID, typeof f === 'function' ? f(b) : f);
  return b;
}

/** The DC is misconfigured: the transaction stops with cause 259 and a record is written. */
function expectMisconfigured(o: BenchOptions, f: Build, t: Txn = {}): void {
  const b = build(o, f);
  const r = send(b, DID, t);
  expect(r.cause).toBe(259);
  expect(r.status).toBe(ResponseStatus.UnsupportedRequest);
  expect(b.faults()).toEqual([expectedRecord(DID, t, 259)]);
  expect(b.iommu.caches.deviceContexts.peek(DID)).toBeUndefined();
}

/** The DC is accepted: an untranslated read completes at `address` (default: identity). */
function expectAccepted(o: BenchOptions, f: Build, address = DEFAULT_IOVA, t: Txn = {}): void {
  const b = build(o, f);
  const r = send(b, DID, t);
  expect(b.faults()).toEqual([]);
  expect(r.cause).toBe(0);
  expect(r.status).toBe(ResponseStatus.Success);
  expect(r.address).toBe(address);
}

const mapped = MAPPED_SPA | (DEFAULT_IOVA & 0xfffn);
const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

describe('DC check 1: reserved bits and encodings', () => {
  it('a minimal DC (V=1, everything Bare) is accepted', () => {
    expectAccepted({}, {});
  });

  it('tc bits 23:12 and 63:32 are reserved', () => {
    for (const bit of [...range(12, 23), ...range(32, 63)]) expectMisconfigured({}, { tcRaw: 1n << BigInt(bit) });
  });

  it('tc bits 31:24 are designated for custom use; this model implements none and ignores them', () => {
    for (const bit of range(24, 31)) expectAccepted({}, { tcRaw: 1n << BigInt(bit) });
  });

  it('ta bits 11:0 and 39:32 are reserved', () => {
    for (const bit of [...range(0, 11), ...range(32, 39)]) expectMisconfigured({}, { ta: { raw: 1n << BigInt(bit) } });
  });

  it('fsc bits 59:44 are reserved, both as iosatp (PDTV=0) and as pdtp (PDTV=1)', () => {
    for (const bit of range(44, 59)) {
      expectMisconfigured({}, { fsc: { mode: 0, raw: 1n << BigInt(bit) } });
      expectMisconfigured({}, { tc: { PDTV: true }, fsc: { mode: 0, raw: 1n << BigInt(bit) } });
    }
  });

  it('msiptp bits 59:44 are reserved (extended format)', () => {
    for (const bit of range(44, 59)) expectMisconfigured({}, { msiptp: { mode: 0, raw: 1n << BigInt(bit) } });
  });

  it('the eighth doubleword of an extended-format DC is reserved', () => {
    for (const bit of [0, 1, 31, 32, 63]) expectMisconfigured({}, { reserved7: 1n << BigInt(bit) });
  });

  // MGPAW: Sv57x4 -> 59, else Sv48x4 -> 50, else Sv39x4 -> 41, else Sv32x4 -> 34, else PAS.
  for (const [name, caps, mgpaw] of [
    ['Sv57x4', {}, 59],
    ['Sv48x4', { Sv57x4: false }, 50],
    ['Sv39x4', { Sv57x4: false, Sv48x4: false }, 41],
    ['Sv32x4', { Sv57x4: false, Sv48x4: false, Sv39x4: false }, 34],
    ['PAS=46 (no x4 mode)', { Sv57x4: false, Sv48x4: false, Sv39x4: false, Sv32x4: false, PAS: 46 }, 46],
    ['PAS=56 (no x4 mode)', { Sv57x4: false, Sv48x4: false, Sv39x4: false, Sv32x4: false }, 56],
  ] as const) {
    it(`msi_addr_mask and msi_addr_pattern: bits 63:52 and 51:MGPAW-12 are reserved (MGPAW ${mgpaw} from ${name})`, () => {
      const o: BenchOptions = { capabilities: caps, gxlAtReset: false };
      const top = mgpaw - 13; // highest usable bit
      expectAccepted(o, { msiAddrMask: (1n << BigInt(top + 1)) - 1n, msiAddrPattern: 1n << BigInt(top) });
      const reserved = [...range(mgpaw - 12, 51), ...range(52, 63)];
      for (const bit of reserved) {
        expectMisconfigured(o, { msiAddrMask: 1n << BigInt(bit) });
        expectMisconfigured(o, { msiAddrPattern: 1n << BigInt(bit) });
      }
    });
  }

  it('iosatp.MODE encodings reserved or custom under SXL=0 (1-7, 11-15)', () => {
    for (const m of [...range(1, 7), ...range(11, 15)]) expectMisconfigured({}, { fsc: { mode: m } });
  });

  it('iosatp.MODE encodings reserved under SXL=1 (1-7, 9-15: Sv48 and Sv57 encodings are invalid)', () => {
    for (const m of [...range(1, 7), ...range(9, 15)]) expectMisconfigured({}, { tc: { SXL: true }, fsc: { mode: m } });
  });

  it('pdtp.MODE encodings reserved or custom (4-15)', () => {
    for (const m of range(4, 15)) expectMisconfigured({}, { tc: { PDTV: true }, fsc: { mode: m } });
  });

  it('iohgatp.MODE encodings reserved under GXL=0 (1-7, 11-15)', () => {
    for (const m of [...range(1, 7), ...range(11, 15)]) expectMisconfigured({}, { iohgatp: { mode: m } });
  });

  it('iohgatp.MODE encodings reserved under GXL=1 (1-7, 9-15)', () => {
    for (const m of [...range(1, 7), ...range(9, 15)]) expectMisconfigured({ gxlAtReset: true }, { tc: { SXL: true }, iohgatp: { mode: m } });
  });
});

describe('DC checks 2-7: ATS, PRI, PRPR and T2GPA dependencies', () => {
  const noAts: BenchOptions = { capabilities: { ATS: false, T2GPA: false } };

  it('2. capabilities.ATS=0 with EN_ATS, EN_PRI or PRPR set', () => {
    expectMisconfigured(noAts, { tc: { EN_ATS: true } });
    expectMisconfigured(noAts, { tc: { EN_ATS: true, EN_PRI: true } });
    expectMisconfigured(noAts, { tc: { EN_ATS: true, EN_PRI: true, PRPR: true } });
    expectMisconfigured(noAts, { tc: { PRPR: true } });
    expectAccepted(noAts, {});
  });

  it('3. EN_ATS=0 with T2GPA=1', () => {
    expectMisconfigured({}, (b) => ({ tc: { T2GPA: true }, iohgatp: mappedTable(b, 'Sv39x4') }));
    expectAccepted({}, (b) => ({ tc: { EN_ATS: true, T2GPA: true }, iohgatp: mappedTable(b, 'Sv39x4') }), mapped);
  });

  it('4. EN_ATS=0 with EN_PRI=1', () => {
    expectMisconfigured({}, { tc: { EN_PRI: true } });
    expectAccepted({}, { tc: { EN_ATS: true, EN_PRI: true } });
  });

  it('5. EN_PRI=0 with PRPR=1', () => {
    expectMisconfigured({}, { tc: { EN_ATS: true, PRPR: true } });
    expectAccepted({}, { tc: { EN_ATS: true, EN_PRI: true, PRPR: true } });
  });

  it('6. capabilities.T2GPA=0 with T2GPA=1', () => {
    expectMisconfigured({ capabilities: { T2GPA: false } }, (b) => ({ tc: { EN_ATS: true, T2GPA: true }, iohgatp: mappedTable(b, 'Sv39x4') }));
    expectAccepted({ capabilities: { T2GPA: false } }, (b) => ({ tc: { EN_ATS: true }, iohgatp: mappedTable(b, 'Sv39x4') }), mapped);
  });

  it('7. T2GPA=1 with iohgatp.MODE Bare', () => {
    expectMisconfigured({}, { tc: { EN_ATS: true, T2GPA: true } });
  });
});

describe('DC check 8: pdtp.MODE must be a supported process-directory mode', () => {
  for (const [name, mode] of [
    ['PD8', 1],
    ['PD17', 2],
    ['PD20', 3],
  ] as const) {
    it(`capabilities.${name}=0 rejects pdtp.MODE ${name}; capabilities.${name}=1 accepts it`, () => {
      expectMisconfigured({ capabilities: { [name]: false } }, { tc: { PDTV: true }, fsc: { mode } });
      // Accepted: a request without process_id (DPE=0) then uses a Bare first stage.
      expectAccepted({ capabilities: { PD8: false, PD17: false, PD20: false, [name]: true } }, { tc: { PDTV: true }, fsc: { mode } });
    });
  }

  it('pdtp.MODE Bare is always accepted', () => {
    expectAccepted({ capabilities: { PD8: false, PD17: false, PD20: false } }, { tc: { PDTV: true }, fsc: { mode: 0 } });
  });
});

describe('DC checks 9-11: iosatp.MODE must be a supported first-stage mode for SXL', () => {
  for (const [name, caps] of [
    ['Sv39', { Sv39: false, Sv48: false, Sv57: false }],
    ['Sv48', { Sv48: false, Sv57: false }],
    ['Sv57', { Sv57: false }],
  ] as const) {
    it(`10. SXL=0: capabilities.${name}=0 rejects iosatp.MODE ${name}; =1 accepts it`, () => {
      const mode = { Sv39: 8, Sv48: 9, Sv57: 10 }[name];
      expectMisconfigured({ capabilities: caps }, { fsc: { mode } });
      expectAccepted({}, (b) => ({ fsc: mappedTable(b, name) }), mapped);
    });
  }

  it('11. SXL=1: capabilities.Sv32=0 rejects iosatp.MODE Sv32; =1 accepts it', () => {
    expectMisconfigured({ capabilities: { Sv32: false } }, { tc: { SXL: true }, fsc: { mode: 8 } });
    expectAccepted({}, (b) => ({ tc: { SXL: true }, fsc: mappedTable(b, 'Sv32') }), mapped);
  });

  it('the first-stage checks do not apply to pdtp (PDTV=1): mode 8 there is a reserved pdtp encoding', () => {
    expectMisconfigured({}, { tc: { PDTV: true }, fsc: { mode: 8 } });
  });
});

describe('DC check 12: DPE requires PDTV', () => {
  it('PDTV=0 with DPE=1 is misconfigured; PDTV=1 with DPE=1 is accepted', () => {
    expectMisconfigured({}, { tc: { DPE: true } });
    expectAccepted({}, { tc: { PDTV: true, DPE: true } }); // pdtp Bare: first stage Bare
  });
});

describe('DC checks 13-15: iohgatp.MODE must be a supported second-stage mode for GXL', () => {
  for (const name of ['Sv39x4', 'Sv48x4', 'Sv57x4'] as const) {
    it(`14. GXL=0: capabilities.${name}=0 rejects iohgatp.MODE ${name}; =1 accepts it`, () => {
      expectMisconfigured({ capabilities: { [name]: false } }, (b) => ({ iohgatp: { mode: { Sv39x4: 8, Sv48x4: 9, Sv57x4: 10 }[name], ppn: b.alloc.alloc(4, 16384n) } }));
      expectAccepted({ capabilities: { Sv39x4: false, Sv48x4: false, Sv57x4: false, [name]: true } }, (b) => ({ iohgatp: mappedTable(b, name) }), mapped);
    });
  }

  it('15. GXL=1: capabilities.Sv32x4=0 rejects iohgatp.MODE Sv32x4; =1 accepts it', () => {
    expectMisconfigured({ capabilities: { Sv32x4: false }, gxlWritable: true, gxlAtReset: true }, (b) => ({ tc: { SXL: true }, iohgatp: { mode: 8, ppn: b.alloc.alloc(4, 16384n) } }));
    expectAccepted({ gxlAtReset: true }, (b) => ({ tc: { SXL: true }, iohgatp: mappedTable(b, 'Sv32x4') }), mapped);
  });

  it('13. with GXL=1, the GXL=0 encodings Sv48x4 (9) and Sv57x4 (10) are invalid', () => {
    for (const m of [9, 10]) expectMisconfigured({ gxlAtReset: true }, (b) => ({ tc: { SXL: true }, iohgatp: { mode: m, ppn: b.alloc.alloc(4, 16384n) } }));
  });
});

describe('DC check 16: msiptp.MODE must be Off or Flat when MSI_FLAT is implemented', () => {
  it('msiptp.MODE 2-15 is misconfigured; Flat with a second stage is accepted', () => {
    for (const m of range(2, 15)) expectMisconfigured({}, (b) => ({ iohgatp: mappedTable(b, 'Sv39x4'), msiptp: { mode: m, ppn: b.alloc.alloc() } }));
    expectAccepted({}, (b) => ({ iohgatp: mappedTable(b, 'Sv39x4'), msiptp: { mode: 1, ppn: b.alloc.alloc() }, msiAddrMask: 0n, msiAddrPattern: 0x1234n }), mapped);
  });

  it('in base format (MSI_FLAT=0) the DC has no msiptp: the following 32 bytes belong to the next DC', () => {
    const caps = { MSI_FLAT: false, MSI_MRIF: false, AMO_MRIF: false };
    const b = bench({ capabilities: caps });
    b.setDeviceContext(DID, {});
    b.setDeviceContext(DID + 1, { tcRaw: 1n << 63n }); // misconfigured neighbour
    expect(send(b, DID).status).toBe(ResponseStatus.Success);
    expect(send(b, DID + 1).cause).toBe(259);
  });
});

describe('DC check 17: the second-stage root table is 16 KiB aligned', () => {
  it('iohgatp.PPN not a multiple of 4 pages is misconfigured', () => {
    for (const pages of [1n, 2n, 3n]) {
      expectMisconfigured({}, (b) => {
        const g = mappedTable(b, 'Sv39x4');
        return { iohgatp: { mode: g.mode, ppn: g.ppn + pages * 4096n } };
      });
    }
    expectAccepted({}, (b) => ({ iohgatp: mappedTable(b, 'Sv39x4') }), mapped);
  });

  it('the alignment check applies only when the second stage is not Bare', () => {
    expectAccepted({}, { iohgatp: { mode: 0, ppn: 0x1000n } });
  });
});

describe('DC check 18: SADE and GADE need capabilities.AMO_HWAD', () => {
  it('AMO_HWAD=0 rejects SADE=1 and GADE=1; AMO_HWAD=1 accepts them', () => {
    const noHwad: BenchOptions = { capabilities: { AMO_HWAD: false } };
    expectMisconfigured(noHwad, { tc: { SADE: true } });
    expectMisconfigured(noHwad, { tc: { GADE: true } });
    expectAccepted(noHwad, {});
    expectAccepted({}, { tc: { SADE: true, GADE: true } });
  });
});

describe('DC checks 19 and 21: SBE must equal fctl.BE when only one endianness is supported', () => {
  it('END=0, little-endian: SBE=1 is misconfigured, SBE=0 accepted', () => {
    expectMisconfigured({ capabilities: { END: false } }, { tc: { SBE: true } });
    expectAccepted({ capabilities: { END: false } }, { tc: { SBE: false } });
  });

  it('END=0, big-endian (fctl.BE hard-wired 1): SBE=0 is misconfigured, SBE=1 accepted', () => {
    const o: BenchOptions = { capabilities: { END: false }, bigEndianAtReset: true };
    expectMisconfigured(o, { tc: { SBE: false } });
    expectAccepted(o, { tc: { SBE: true } });
  });

  it('END=1: both SBE values are legal whatever fctl.BE is', () => {
    expectAccepted({}, { tc: { SBE: true } });
    expectAccepted({ bigEndianAtReset: true }, { tc: { SBE: false } });
  });
});

describe('DC check 20: SXL must be legal for fctl.GXL', () => {
  it('GXL=1 requires SXL=1', () => {
    expectMisconfigured({ gxlAtReset: true }, { tc: { SXL: false } });
    expectAccepted({ gxlAtReset: true }, { tc: { SXL: true } });
  });

  it('GXL=0 and writable: SXL may be 0 or 1', () => {
    const b = bench();
    expect(b.iommu.params.gxlWritable).toBe(true);
    expectAccepted({}, { tc: { SXL: true } });
    expectAccepted({}, { tc: { SXL: false } });
  });

  it('GXL=0 and not writable: SXL must be 0', () => {
    expectMisconfigured({ gxlWritable: false }, { tc: { SXL: true } });
    expectMisconfigured({ capabilities: { Sv32x4: false } }, { tc: { SXL: true } }); // GXL then defaults to read-only 0
    expectAccepted({ gxlWritable: false }, { tc: { SXL: false } });
  });

  it('software sets GXL through fctl while the IOMMU is off; SXL legality follows the new value', () => {
    const b = bench({ mode: undefined, cqEntries: 0, fqEntries: 0, pqEntries: 0 });
    b.write32(Reg.fctl, 4);
    expect(b.read32(Reg.fctl) & 4).toBe(4);
    b.enableFaultQueue(16);
    b.setMode('3LVL');
    b.setDeviceContext(DID, { tc: { SXL: false } });
    b.setDeviceContext(DID + 1, { tc: { SXL: true } });
    expect(send(b, DID).cause).toBe(259);
    expect(send(b, DID + 1).status).toBe(ResponseStatus.Success);
  });
});

describe('DC check 22 and reserved QoS fields: RCID and MCID', () => {
  it('capabilities.QOSID=0: RCID and MCID are reserved', () => {
    const o: BenchOptions = { capabilities: { QOSID: false } };
    expectMisconfigured(o, { ta: { rcid: 1 } });
    expectMisconfigured(o, { ta: { mcid: 0x800 } });
    expectAccepted(o, {});
  });

  it('capabilities.QOSID=1: values wider than rcidBits/mcidBits are misconfigured', () => {
    const o: BenchOptions = { rcidBits: 4, mcidBits: 6 };
    expectMisconfigured(o, { ta: { rcid: 0x10 } });
    expectMisconfigured(o, { ta: { mcid: 0x40 } });
    expectMisconfigured(o, { ta: { rcid: 0xfff, mcid: 0xfff } });
    expectAccepted(o, { ta: { rcid: 0xf, mcid: 0x3f } });
    expectAccepted({}, { ta: { rcid: 0xfff, mcid: 0xfff } }); // 12-bit default widths
  });
});

describe('reserved setting: MSI translation without a second stage', () => {
  it('iohgatp.MODE Bare with msiptp.MODE Flat is reported as misconfigured (recommended by the specification)', () => {
    expectMisconfigured({}, (b) => ({ msiptp: { mode: 1, ppn: b.alloc.alloc() } }));
    expectAccepted({}, (b) => ({ msiptp: { mode: 0, ppn: b.alloc.alloc() } }));
  });
});

describe('a misconfigured DC reports for every transaction type', () => {
  it('ATS translation requests get Unsupported Request (cause 259 is in the UR list) and a record', () => {
    const t: Txn = { kind: 2, pid: 5, priv: true };
    expectMisconfigured({}, { tc: { EN_ATS: true, PDTV: true }, tcRaw: 1n << 40n }, t);
  });

  it('DTF=1 in a misconfigured DC does not suppress the record (DTF assumed 0 when no valid DC is located)', () => {
    expectMisconfigured({}, { tc: { DTF: true }, tcRaw: 1n << 12n });
  });

  it('a misconfigured DC read through the debug interface reports a fault in tr_response', () => {
    const b = build({}, { tcRaw: 1n << 12n });
    expect(b.debugTranslate(DID, DEFAULT_IOVA).fault).toBe(true);
    expect(b.faults().map((f) => f.cause)).toEqual([259]);
  });
});
