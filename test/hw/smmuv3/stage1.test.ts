// Stage 1 translation (IHI 0070 3.3, 3.13, 5.4, 5.5, 13.4): VMSAv8-64 tables of every granule,
// blocks, permissions with PnU/InD, WXN, PAN, the Access flag (AFFD, HA), dirty state (HD,
// DBM), CD.A/R fault behaviour, Address Size faults, external aborts, big-endian tables, and
// the EL2 / EL2-E2H StreamWorlds.
import { describe, expect, it } from 'vitest';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, PageTable } from './bench.js';

describe('5.4 granules and leaf sizes', () => {
  const geometries = [
    { g: 12 as const, tg0: 0, t0sz: 16, leaves: [3, 2, 1] },
    { g: 14 as const, tg0: 2, t0sz: 17, leaves: [3, 2] },
    { g: 16 as const, tg0: 1, t0sz: 16, leaves: [3, 2] },
  ];
  for (const { g, tg0, t0sz, leaves } of geometries) {
    for (const level of leaves) {
      it(`${2 ** (g - 10)} KiB granule, leaf at level ${level}`, () => {
        const b = new Bench().init();
        const shift = BigInt(g + (3 - level) * (g - 3));
        const va = 3n << shift;
        const pa = 5n << shift;
        const { pt } = b.stage1Stream(1, { cd: { TG0: tg0, T0SZ: t0sz }, table: { stage: 1, granuleLog2: g, inputBits: 64 - t0sz } });
        pt.map(va, pa, {}, level);
        const r = b.translate({ sid: 1, address: va + 0x123n });
        expect(r.outcome).toBe(Outcome.Ok);
        expect(r.address(0x123) + (BigInt(r.outputPage) % 1n)).toBe(pa + 0x123n);
        expect(r.log2Pages).toBe(Number(shift) - 12);
        // Another page of the same block translates from the TLB.
        const far = va + (1n << shift) - 0x1000n;
        expect(b.translate({ sid: 1, address: far }).address(0)).toBe(pa + (1n << shift) - 0x1000n);
        expect(b.smmu.statistics().caches.tlb.hits).toBe(1);
      });
    }
  }

  it('VAX: 52-bit VAs with the 64 KiB granule (T0SZ 12)', () => {
    const b = new Bench({ capabilities: { vaBits: 52 } }).init();
    const { pt } = b.stage1Stream(1, { cd: { TG0: 1, T0SZ: 12 }, table: { stage: 1, granuleLog2: 16, inputBits: 52 } });
    pt.map(0xf_0000_0000_0000n, 0x4_0000n);
    expect(b.translate({ sid: 1, address: 0xf_0000_0000_1234n }).address(0x234)).toBe(0x4_1234n);
  });

  it('STT: small translation tables (T0SZ 48, a 16-bit VA space)', () => {
    const b = new Bench({ capabilities: { stt: true } }).init();
    const { pt } = b.stage1Stream(1, { cd: { T0SZ: 48 }, table: { stage: 1, inputBits: 16 } });
    pt.map(0xf000n, 0x8_0000n);
    expect(b.translate({ sid: 1, address: 0xf010n }).address(0x10)).toBe(0x8_0010n);
    expect(b.translate({ sid: 1, address: 0x1_0000n }).event).toBe(EventType.F_TRANSLATION);
  });
});

describe('7.3.13 stage 1 Translation faults', () => {
  it('an invalid descriptor: F_TRANSLATION with S2 == 0, CLASS == IN, RnW, PnU, InD', () => {
    const b = new Bench().init();
    b.stage1Stream(4);
    const r = b.translate({ sid: 4, address: 0x5000n, privileged: true, instruction: true, ssid: undefined });
    expect([r.outcome, r.event, r.recorded]).toEqual([Outcome.Abort, EventType.F_TRANSLATION, true]);
    const [e] = b.events();
    expect({ t: e.EventType, sid: e.StreamID, s2: e.S2, cls: e.CLASS, rnw: e.RnW, pnu: e.PnU, ind: e.InD, addr: e.InputAddr, stall: e.Stall }).toEqual({
      t: BigInt(EventType.F_TRANSLATION),
      sid: 4n,
      s2: 0n,
      cls: 2n,
      rnw: 1n,
      pnu: 1n,
      ind: 1n,
      addr: 0x5000n,
      stall: 0n,
    });
  });

  it('InD == 0 when RnW == 0 (writes are always Data)', () => {
    const b = new Bench().init();
    b.stage1Stream(4);
    b.translate({ sid: 4, address: 0x5000n, write: true, instruction: true });
    const [e] = b.events();
    expect([e.RnW, e.InD]).toEqual([0n, 0n]);
  });

  it('a block descriptor at level 3 (bits[1:0] == 0b01) is invalid', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(4);
    const at = pt.map(0x5000n, 0x9000n);
    pt.write(at, pt.read(at) & ~2n);
    expect(b.translate({ sid: 4, address: 0x5000n }).event).toBe(EventType.F_TRANSLATION);
  });
});

describe('5.5 fault configuration: CD.R and CD.A', () => {
  it('R == 0: the fault is not recorded; the transaction still aborts', () => {
    const b = new Bench().init();
    b.stage1Stream(4, { cd: { R: 0 } });
    const r = b.translate({ sid: 4, address: 0x5000n });
    expect([r.outcome, r.event, r.recorded]).toEqual([Outcome.Abort, EventType.F_TRANSLATION, false]);
    expect(b.events()).toEqual([]);
  });

  it('A == 0 (TERM_MODEL == 0): RAZ/WI termination, recorded when R == 1', () => {
    const b = new Bench().init();
    b.stage1Stream(4, { cd: { A: 0 } });
    const r = b.translate({ sid: 4, address: 0x5000n });
    expect([r.outcome, r.recorded]).toEqual([Outcome.RazWi, true]);
    expect(b.events()).toHaveLength(1);
  });

  it('A == 0 and R == 0: silent RAZ/WI', () => {
    const b = new Bench().init();
    b.stage1Stream(4, { cd: { A: 0, R: 0 } });
    const r = b.translate({ sid: 4, address: 0x5000n });
    expect([r.outcome, r.recorded]).toEqual([Outcome.RazWi, false]);
  });

  it('configuration errors are not affected by R and A', () => {
    const b = new Bench().init();
    b.stage1Stream(4, { cd: { A: 0, R: 0, TG0: 3 } });
    const r = b.translate({ sid: 4, address: 0x5000n });
    expect([r.outcome, r.event, r.recorded]).toEqual([Outcome.Abort, EventType.C_BAD_CD, true]);
  });
});

describe('13.4.1 stage 1 permissions', () => {
  /** Maps VA 0x1000 with `attrs` and translates one access. */
  function access(attrs: Record<string, number>, t: { write?: boolean; privileged?: boolean; instruction?: boolean }, cd: Record<string, number> = {}) {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd });
    pt.map(0x1000n, 0x2000n, attrs);
    return b.translate({ sid: 1, address: 0x1000n, ssid: undefined, ...t });
  }
  const ok = Outcome.Ok;
  const cases: [string, Record<string, number>, { write?: boolean; privileged?: boolean; instruction?: boolean }, number][] = [
    ['AP 0b00 (EL1 RW): unprivileged read faults', { AP: 0 }, {}, Outcome.Abort],
    ['AP 0b00 (EL1 RW): privileged write is allowed', { AP: 0 }, { write: true, privileged: true }, ok],
    ['AP 0b01 (RW both): unprivileged write is allowed', { AP: 1 }, { write: true }, ok],
    ['AP 0b10 (EL1 RO): privileged write faults', { AP: 2 }, { write: true, privileged: true }, Outcome.Abort],
    ['AP 0b10 (EL1 RO): unprivileged read faults', { AP: 2 }, {}, Outcome.Abort],
    ['AP 0b11 (RO both): unprivileged read is allowed', { AP: 3 }, {}, ok],
    ['AP 0b11 (RO both): unprivileged write faults', { AP: 3 }, { write: true }, Outcome.Abort],
    ['UXN: unprivileged instruction fetch faults', { AP: 1, UXN: 1 }, { instruction: true }, Outcome.Abort],
    ['UXN: unprivileged data read is allowed', { AP: 1, UXN: 1 }, {}, ok],
    ['PXN: privileged instruction fetch faults', { AP: 0, PXN: 1 }, { instruction: true, privileged: true }, Outcome.Abort],
    ['PXN: unprivileged instruction fetch of an EL0-executable page is allowed', { AP: 3, PXN: 1 }, { instruction: true }, ok],
    ['an instruction fetch needs read permission too', { AP: 0 }, { instruction: true }, Outcome.Abort],
    ['EL0-writable pages are never EL1-executable', { AP: 1 }, { instruction: true, privileged: true }, Outcome.Abort],
  ];
  for (const [name, attrs, t, outcome] of cases) {
    it(name, () => {
      const r = access(attrs, t);
      expect(r.outcome).toBe(outcome);
      if (outcome !== ok) expect(r.event).toBe(EventType.F_PERMISSION);
    });
  }

  it('CD.WXN: writable pages are execute-never', () => {
    expect(access({ AP: 0 }, { instruction: true, privileged: true }, {}).outcome).toBe(Outcome.Ok);
    expect(access({ AP: 0 }, { instruction: true, privileged: true }, { WXN: 1 }).event).toBe(EventType.F_PERMISSION);
  });

  it('CD.PAN: privileged data accesses to EL0-accessible pages fault; instruction fetches do not', () => {
    expect(access({ AP: 1 }, { privileged: true }, { PAN: 1 }).event).toBe(EventType.F_PERMISSION);
    expect(access({ AP: 0 }, { privileged: true }, { PAN: 1 }).outcome).toBe(Outcome.Ok);
    expect(access({ AP: 3 }, { privileged: true, instruction: true }, { PAN: 1 }).outcome).toBe(Outcome.Ok);
  });

  it('7.3.16 F_PERMISSION records S2 == 0, CLASS == IN and the access attributes', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1);
    pt.map(0x1000n, 0x2000n, { AP: 3 });
    b.translate({ sid: 1, address: 0x1008n, write: true });
    const [e] = b.events();
    expect([e.EventType, e.S2, e.CLASS, e.RnW, e.InputAddr]).toEqual([BigInt(EventType.F_PERMISSION), 0n, 2n, 0n, 0x1008n]);
  });

  it('APTable restricts lower levels; CD.HAD0 disables hierarchical attributes', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1);
    pt.map(0x1000n, 0x2000n, { AP: 1 });
    const l2 = pt.descriptorAddress(0x1000n, 2);
    pt.write(l2, pt.read(l2) | (2n << 61n)); // APTable = read-only
    expect(b.translate({ sid: 1, address: 0x1000n, write: true }).event).toBe(EventType.F_PERMISSION);
    const c = new Bench().init();
    const { pt: pt2 } = c.stage1Stream(1, { cd: { HAD0: 1 } });
    pt2.map(0x1000n, 0x2000n, { AP: 1 });
    const at = pt2.descriptorAddress(0x1000n, 2);
    pt2.write(at, pt2.read(at) | (2n << 61n));
    expect(c.translate({ sid: 1, address: 0x1000n, write: true }).outcome).toBe(Outcome.Ok);
  });
});

describe('3.13 Access flag', () => {
  it('AF == 0 without HA records F_ACCESS', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1);
    pt.map(0x1000n, 0x2000n, { AF: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_ACCESS);
    expect(b.events()[0].EventType).toBe(BigInt(EventType.F_ACCESS));
  });

  it('CD.AFFD: AF == 0 does not fault and the descriptor is left unchanged', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { AFFD: 1 } });
    const at = pt.map(0x1000n, 0x2000n, { AF: 0 });
    const before = pt.read(at);
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    expect(pt.read(at)).toBe(before);
  });

  it('CD.HA: hardware sets AF and the access succeeds', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { HA: 1 } });
    const at = pt.map(0x1000n, 0x2000n, { AF: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    expect((pt.read(at) >> 10n) & 1n).toBe(1n);
  });
});

describe('3.13 dirty state (HD, DBM)', () => {
  it('a write to a writable-clean page (AP[2] == 1, DBM == 1) with HD clears AP[2] and succeeds', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { HA: 1, HD: 1 } });
    const at = pt.map(0x1000n, 0x2000n, { AP: 3, DBM: 1 });
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    expect((pt.read(at) >> 7n) & 1n).toBe(1n); // a read leaves it clean
    expect(b.translate({ sid: 1, address: 0x1000n, write: true }).outcome).toBe(Outcome.Ok);
    expect((pt.read(at) >> 7n) & 1n).toBe(0n);
  });

  it('without HD a write to the same page is a Permission fault', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { HA: 1 } });
    pt.map(0x1000n, 0x2000n, { AP: 3, DBM: 1 });
    expect(b.translate({ sid: 1, address: 0x1000n, write: true }).event).toBe(EventType.F_PERMISSION);
  });

  it('a read cached in the TLB does not let a later write skip the dirty update', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { HA: 1, HD: 1 } });
    const at = pt.map(0x1000n, 0x2000n, { AP: 3, DBM: 1 });
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 1, address: 0x1000n, write: true });
    expect((pt.read(at) >> 7n) & 1n).toBe(0n);
  });
});

describe('7.3.14 stage 1 Address Size faults', () => {
  it('an output address beyond the effective CD.IPS', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { IPS: 2 } });
    pt.map(0x1000n, 1n << 41n);
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_ADDR_SIZE);
    const [e] = b.events();
    expect([e.S2, e.CLASS]).toEqual([0n, 2n]);
  });

  it('CD.IPS is capped to the OAS', () => {
    const b = new Bench({ capabilities: { oasBits: 40 } }).init();
    const { pt } = b.stage1Stream(1, { cd: { IPS: 5 } });
    pt.map(0x1000n, 1n << 41n);
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_ADDR_SIZE);
  });
});

describe('7.3.12 F_WALK_EABT', () => {
  it('an abort reading a stage 1 descriptor: S2 == 0, CLASS == TT, FetchAddr = the descriptor address', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1);
    pt.map(0x1000n, 0x2000n);
    const at = pt.descriptorAddress(0x1000n, 2);
    b.memory.markAccessFault(at, 8n);
    const r = b.translate({ sid: 1, address: 0x1000n });
    expect([r.outcome, r.event]).toEqual([Outcome.Abort, EventType.F_WALK_EABT]);
    const [e] = b.events();
    expect([e.S2, e.CLASS, e.FetchAddr << 3n, e.InputAddr]).toEqual([0n, 1n, at, 0x1000n]);
  });

  it('is recorded even when CD.R == 0 and aborts even when CD.A == 0', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { R: 0, A: 0 } });
    pt.map(0x1000n, 0x2000n);
    b.memory.markAccessFault(pt.root, 4096n);
    const r = b.translate({ sid: 1, address: 0x1000n });
    expect([r.outcome, r.recorded]).toEqual([Outcome.Abort, true]);
  });
});

describe('5.4 CD.ENDI: big-endian translation tables', () => {
  it('walks descriptors stored big-endian', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { ENDI: 1 }, table: { stage: 1, bigEndian: true } });
    pt.map(0x1000n, 0x6000n);
    expect(b.translate({ sid: 1, address: 0x1000n }).address(0)).toBe(0x6000n);
  });

  it('CD.AFFD applies to big-endian descriptors too', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { ENDI: 1, AFFD: 1 }, table: { stage: 1, bigEndian: true } });
    pt.map(0x1000n, 0x6000n, { AF: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
  });

  it('HA sets AF in a big-endian descriptor', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { cd: { ENDI: 1, HA: 1 }, table: { stage: 1, bigEndian: true } });
    const at = pt.map(0x1000n, 0x6000n, { AF: 0 });
    b.translate({ sid: 1, address: 0x1000n });
    expect((pt.read(at) >> 10n) & 1n).toBe(1n);
  });
});

describe('5.2 STRW: StreamWorlds', () => {
  it('NS-EL2 (STRW 0b10, E2H == 0): one privilege level, PRIV treated as 1 (13.4.1)', () => {
    const b = new Bench().init();
    const { pt } = b.stage1Stream(1, { ste: { STRW: 2 } });
    pt.map(0x1000n, 0x2000n, { AP: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n, write: true }).outcome).toBe(Outcome.Ok);
  });

  it('NS-EL2-E2H (STRW 0b10, E2H == 1): two ranges and two privilege levels', () => {
    const b = new Bench().init({ cr2: 3 });
    const { pt } = b.stage1Stream(1, { ste: { STRW: 2 } });
    pt.map(0x1000n, 0x2000n, { AP: 0 });
    expect(b.translate({ sid: 1, address: 0x1000n }).event).toBe(EventType.F_PERMISSION);
    expect(b.translate({ sid: 1, address: 0x1000n, privileged: true }).outcome).toBe(Outcome.Ok);
  });
});

describe('3.3 stage 1 output and TLB entries', () => {
  it('translations of the same ASID share TLB entries between streams', () => {
    const b = new Bench().init();
    const pt = new PageTable(b, { stage: 1 });
    pt.map(0x1000n, 0x2000n, { nG: 1 });
    const cd = b.alloc(64);
    b.writeCd(cd, { V: 1, AA64: 1, T0SZ: 16, IPS: 5, EPD1: 1, A: 1, R: 1, ASID: 7, TTB0: pt.root >> 4n });
    b.writeSte(1, { V: 1, Config: 5, S1ContextPtr: cd >> 6n, S2VMID: 2 });
    b.writeSte(2, { V: 1, Config: 5, S1ContextPtr: cd >> 6n, S2VMID: 2 });
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 2, address: 0x1000n });
    expect(b.smmu.statistics().walks.stage1).toBe(1);
  });

  it('different VMIDs (STE.S2VMID of stage-1-only streams) do not share TLB entries', () => {
    const b = new Bench().init();
    const pt = new PageTable(b, { stage: 1 });
    pt.map(0x1000n, 0x2000n);
    const cd = b.alloc(64);
    b.writeCd(cd, { V: 1, AA64: 1, T0SZ: 16, IPS: 5, EPD1: 1, A: 1, R: 1, ASID: 7, TTB0: pt.root >> 4n });
    b.writeSte(1, { V: 1, Config: 5, S1ContextPtr: cd >> 6n, S2VMID: 2 });
    b.writeSte(2, { V: 1, Config: 5, S1ContextPtr: cd >> 6n, S2VMID: 3 });
    b.translate({ sid: 1, address: 0x1000n });
    b.translate({ sid: 2, address: 0x1000n });
    expect(b.smmu.statistics().walks.stage1).toBe(2);
  });
});
