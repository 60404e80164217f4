// PCIe ATS (IHI 0070 3.9, 4.5.1, 7.3.6, 7.3.8, 13.7): Translation Requests answered per
// STE.EATS, completions' ranges and permissions, Translated traffic checked per CR0.ATSCHK and
// EATS, CMD_ATC_INV Invalidation Requests and CERROR_ATC_INV_SYNC.
import { describe, expect, it } from 'vitest';
import { cmdAtcInv, cmdSync } from '../../../src/formats/smmuv3/commands.js';
import { EventType, decodeBadAtsTreq } from '../../../src/formats/smmuv3/records.js';
import { CmdqError, Gerror } from '../../../src/formats/smmuv3/registers.js';
import { SteConfig } from '../../../src/formats/smmuv3/structures.js';
import { DmaPortStatus, DmaRequester } from '../../../src/devices/dma-port.js';
import { AtsCompletion, AtsStatus, type AtsInvalidation, type AtsInvalidationTarget } from '../../../src/devices/pcie/ats.js';
import { SmmuV3DmaPort } from '../../../src/hw/smmuv3/dma-port.js';
import { Bench, CR0, identityTables } from './bench.js';

const SID = 0x0018;

function atsBench(steExtra: Record<string, number> = {}, cr0Extra: number = CR0.ATSCHK) {
  const b = new Bench().init({ extraCr0: cr0Extra });
  const { pt } = b.stage1Stream(SID, { ste: { EATS: 1, ...steExtra }, cd: { HA: 1, HD: 1 } });
  const port = new SmmuV3DmaPort(b.smmu);
  return { b, pt, port };
}

function request(port: SmmuV3DmaPort, address: bigint, noWrite = false, requester = new DmaRequester(SID)) {
  const c = new AtsCompletion();
  const status = port.atsTranslate(requester, address, noWrite, c);
  return { status, c };
}

describe('3.9.1.2 ATS Translation Requests', () => {
  it('EATS == 0b01: Success with the translated address, size and permissions; no event', () => {
    const { b, pt, port } = atsBench();
    pt.map(0x4000_0000n, 0x8000_0000n);
    const { status, c } = request(port, 0x4000_0123n);
    expect(status).toBe(AtsStatus.Success);
    expect([c.address, c.sizeLog2, c.read, c.write, c.exec, c.privileged, c.global, c.untranslatedOnly]).toEqual([0x8000_0000n, 12, true, true, false, false, false, false]);
    expect(b.events()).toEqual([]);
    expect(b.smmu.statistics().requests.atsTranslation).toBe(1);
  });

  it('a block translation reports its size, the address aligned to it', () => {
    const { pt, port } = atsBench();
    pt.map(0x4000_0000n, 0x8000_0000n, {}, 2);
    const { c } = request(port, 0x4012_3456n);
    expect([c.address, c.sizeLog2]).toEqual([0x8000_0000n, 21]);
  });

  it('13.7 a read-only page grants R only', () => {
    const { pt, port } = atsBench();
    pt.map(0x4000_0000n, 0x8000_0000n, { AP: 3 });
    const { c } = request(port, 0x4000_0000n);
    expect([c.read, c.write]).toEqual([true, false]);
  });

  it('13.7 NW == 0 on a writable-clean page makes it dirty and grants W; NW == 1 leaves it clean', () => {
    const { pt, port } = atsBench();
    const at = pt.map(0x4000_0000n, 0x8000_0000n, { AP: 3, DBM: 1 });
    expect(request(port, 0x4000_0000n, true).c.write).toBe(false);
    expect((pt.read(at) >> 7n) & 1n).toBe(1n);
    expect(request(port, 0x4000_0000n, false).c.write).toBe(true);
    expect((pt.read(at) >> 7n) & 1n).toBe(0n);
  });

  it('3.13 the Access flag is set by a Translation Request (HTTU)', () => {
    const { pt, port } = atsBench();
    const at = pt.map(0x4000_0000n, 0x8000_0000n, { AF: 0 });
    expect(request(port, 0x4000_0000n).c.read).toBe(true);
    expect((pt.read(at) >> 10n) & 1n).toBe(1n);
  });

  it('13.7 the privilege of the request selects the permissions; Priv is echoed with a PASID', () => {
    const b = new Bench().init();
    const { pt, cd } = b.stage1Stream(SID, { ste: { EATS: 1, S1CDMax: 2, S1DSS: 2 } });
    b.writeDwords(cd + 64n, b.readDwords(cd, 8)); // CD 1 = CD 0
    pt.map(0x4000_0000n, 0x8000_0000n, { AP: 0 });
    const port = new SmmuV3DmaPort(b.smmu);
    const priv = request(port, 0x4000_0000n, false, new DmaRequester(SID, true, 1, true)).c;
    expect([priv.read, priv.write, priv.privileged]).toEqual([true, true, true]);
    const unpriv = request(port, 0x4000_0000n, false, new DmaRequester(SID, true, 1, false)).c;
    expect([unpriv.read, unpriv.write, unpriv.privileged]).toEqual([false, false, false]);
    // Without a PASID a request is unprivileged (13.7).
    const none = request(port, 0x4000_0000n, false, new DmaRequester(SID, false, 0, true)).c;
    expect([none.read, none.write, none.privileged]).toEqual([false, false, false]);
  });

  it('a translation fault gives Success with R == W == 0 at the STU size, and no event', () => {
    const { b, port } = atsBench();
    const { status, c } = request(port, 0x5000_0000n);
    expect([status, c.read, c.write, c.sizeLog2]).toEqual([AtsStatus.Success, false, false, 12]);
    expect(b.events()).toEqual([]);
  });

  it('7.3.6 EATS == 0b00: Unsupported Request and F_BAD_ATS_TREQ', () => {
    const { b, port } = atsBench({ EATS: 0 });
    expect(request(port, 0x4000_0000n, true).status).toBe(AtsStatus.UnsupportedRequest);
    const ev = b.events();
    expect(ev.map((e) => Number(e.EventType))).toEqual([EventType.F_BAD_ATS_TREQ]);
    const raw = b.readDwords(b.eventq, 4);
    const f = decodeBadAtsTreq(raw);
    expect([f.StreamID, f.Read, f.Write, f.InputAddr]).toEqual([BigInt(SID), 1n, 0n, 0x4000_0000n]);
  });

  it('SMMUEN == 0: Unsupported Request and F_BAD_ATS_TREQ', () => {
    const { b, port } = atsBench();
    b.write32(0x20, CR0.CMDQEN | CR0.EVENTQEN);
    expect(request(port, 0x4000_0000n).status).toBe(AtsStatus.UnsupportedRequest);
    expect(b.events()[0].EventType).toBe(BigInt(EventType.F_BAD_ATS_TREQ));
  });

  it('STE.Config == 0b100 (bypass): Unsupported Request and F_BAD_ATS_TREQ, whatever EATS says', () => {
    const { b, port } = atsBench();
    b.writeSte(SID + 1, { V: 1, Config: SteConfig.Bypass, EATS: 1 });
    expect(request(port, 0x1000n, false, new DmaRequester(SID + 1)).status).toBe(AtsStatus.UnsupportedRequest);
    expect(b.events()[0].EventType).toBe(BigInt(EventType.F_BAD_ATS_TREQ));
  });

  it('STE.Config == 0b000: Unsupported Request and no event', () => {
    const { b, port } = atsBench();
    b.writeSte(SID + 1, { V: 1, Config: SteConfig.Abort, EATS: 1 });
    expect(request(port, 0x1000n, false, new DmaRequester(SID + 1)).status).toBe(AtsStatus.UnsupportedRequest);
    expect(b.events()).toEqual([]);
  });

  it('configuration errors give Completer Abort without an event (REC_CFG_ATS not implemented)', () => {
    const { b, port } = atsBench();
    expect(request(port, 0x1000n, false, new DmaRequester(SID + 2)).status).toBe(AtsStatus.CompleterAbort); // C_BAD_STE
    expect(request(port, 0x1000n, false, new DmaRequester(0x10_0000)).status).toBe(AtsStatus.CompleterAbort); // C_BAD_STREAMID
    b.writeSte(SID + 3, { V: 1, Config: SteConfig.S1Translate, EATS: 1, S1ContextPtr: b.alloc(64) >> 6n });
    expect(request(port, 0x1000n, false, new DmaRequester(SID + 3)).status).toBe(AtsStatus.CompleterAbort); // C_BAD_CD
    expect(b.events()).toEqual([]);
  });

  it('3.9.1.2 S1DSS skipping stage 1 on a stage-1-only stream: identity with R == W == 1', () => {
    const b = new Bench().init();
    b.stage1Stream(SID, { ste: { EATS: 1, S1CDMax: 2, S1DSS: 1 } });
    const port = new SmmuV3DmaPort(b.smmu);
    const { status, c } = request(port, 0x1234_5000n);
    expect([status, c.address, c.read, c.write]).toEqual([AtsStatus.Success, 0x1234_5000n, true, true]);
  });

  it('nested streams: the completion holds the PA through both stages', () => {
    const b = new Bench().init();
    const n = b.nestedStream(SID, 4, { ste: { EATS: 1 } });
    n.s1.map(0x10_0000n, 0x2000_0000n);
    identityTables(n.s1, n.s2, 0x10_0000n);
    n.s2.map(0x2000_0000n, 0x3000_0000n, { S2AP: 1 });
    const port = new SmmuV3DmaPort(b.smmu);
    const { c } = request(port, 0x10_0000n);
    expect([c.address, c.read, c.write]).toEqual([0x3000_0000n, true, false]);
  });
});

describe('3.9.1.3 ATS Translated transactions', () => {
  const translated = () => new DmaRequester(SID, false, 0, false, true);

  it('ATSCHK == 0: Translated traffic passes untranslated, without an STE lookup', () => {
    const { b, port } = atsBench({ EATS: 0 }, 0);
    expect(port.write(translated(), 0x7000_0000n, 4, 0x1234n)).toBe(DmaPortStatus.Ok);
    expect(b.memory.read(0x7000_0000n, 4)).toBe(0x1234n);
    expect(b.smmu.statistics().walks.steFetches).toBe(0);
  });

  it('ATSCHK == 1 and EATS == 0b01: Translated traffic passes', () => {
    const { b, port } = atsBench();
    expect(port.write(translated(), 0x7000_0000n, 4, 0x99n)).toBe(DmaPortStatus.Ok);
    expect(b.memory.read(0x7000_0000n, 4)).toBe(0x99n);
  });

  it('7.3.8 ATSCHK == 1 and EATS == 0b00: aborted with F_TRANSL_FORBIDDEN (InputAddr, RnW)', () => {
    const { b, port } = atsBench({ EATS: 0 });
    expect(port.read(translated(), 0x7000_0010n, 4)).toBe(DmaPortStatus.Aborted);
    const [e] = b.events();
    expect([e.EventType, e.StreamID, e.InputAddr, e.RnW]).toEqual([BigInt(EventType.F_TRANSL_FORBIDDEN), BigInt(SID), 0x7000_0010n, 1n]);
  });

  it('ATSCHK == 1 and a bypass STE: F_TRANSL_FORBIDDEN', () => {
    const { b, port } = atsBench();
    b.writeSte(SID, { V: 1, Config: SteConfig.Bypass, EATS: 1 });
    b.submit([3n | (BigInt(SID) << 32n), 1n]);
    expect(port.read(translated(), 0x7000_0000n, 4)).toBe(DmaPortStatus.Aborted);
    expect(b.events()[0].EventType).toBe(BigInt(EventType.F_TRANSL_FORBIDDEN));
  });

  it('ATSCHK == 1 and STE.Config == 0b000: aborted silently', () => {
    const { b, port } = atsBench();
    b.writeSte(SID, { V: 1, Config: SteConfig.Abort });
    b.submit([3n | (BigInt(SID) << 32n), 1n]);
    expect(port.read(translated(), 0x7000_0000n, 4)).toBe(DmaPortStatus.Aborted);
    expect(b.events()).toEqual([]);
  });

  it('SMMUEN == 0: Translated traffic is aborted with F_TRANSL_FORBIDDEN', () => {
    const { b, port } = atsBench({}, 0);
    b.write32(0x20, CR0.CMDQEN | CR0.EVENTQEN);
    expect(port.read(translated(), 0x7000_0000n, 4)).toBe(DmaPortStatus.Aborted);
    expect(b.events()[0].EventType).toBe(BigInt(EventType.F_TRANSL_FORBIDDEN));
  });

  it('3.9.1.1 a Translated address beyond the OAS is aborted without an event', () => {
    const { b, port } = atsBench({}, 0);
    expect(port.read(translated(), 1n << 48n, 4)).toBe(DmaPortStatus.Aborted);
    expect(b.events()).toEqual([]);
  });
});

class FakeAtc implements AtsInvalidationTarget {
  readonly received: AtsInvalidation[] = [];
  complete = true;
  invalidateAtc(request: AtsInvalidation): boolean {
    this.received.push(request);
    return this.complete;
  }
}

describe('4.5.1 CMD_ATC_INV', () => {
  it('sends an Invalidation Request to the RequesterID of the StreamID (3.2), aligned to its size', () => {
    const b = new Bench().init();
    const atc = new FakeAtc();
    b.smmu.atcTarget = atc;
    b.submit(cmdAtcInv(0x0003_0108, 0x4000_5000n, 2), cmdSync());
    expect(atc.received).toEqual([{ rid: 0x0108, segment: 3, pasid: null, global: false, address: 0x4000_4000n, sizeLog2: 14, itag: 0 }]);
    expect(b.smmu.statistics().ats.atcInvalidations).toBe(1);
  });

  it('with SSV a PASID, and Global only with a PASID; Size 52 is the whole address space', () => {
    const b = new Bench().init();
    const atc = new FakeAtc();
    b.smmu.atcTarget = atc;
    b.submit(cmdAtcInv(1, 0xffff_0000_1234_5000n, 52, { ssid: 9, global: true }), cmdAtcInv(1, 0n, 0, { global: true }));
    expect(atc.received.map((r) => [r.pasid, r.global, r.address, r.sizeLog2])).toEqual([
      [9, true, 0n, 64],
      [null, false, 0n, 12],
    ]);
  });

  it('the StreamID to RequesterID mapping is settable', () => {
    const b = new Bench().init();
    const atc = new FakeAtc();
    b.smmu.atcTarget = atc;
    b.smmu.requesterOf = (sid) => ({ rid: sid - 0x100, segment: 7 });
    b.submit(cmdAtcInv(0x105, 0n, 0));
    expect([atc.received[0].rid, atc.received[0].segment]).toEqual([5, 7]);
  });

  it('3.9.1.4 an invalidation without completion makes the next CMD_SYNC fail with CERROR_ATC_INV_SYNC', () => {
    const b = new Bench().init();
    const atc = new FakeAtc();
    atc.complete = false;
    b.smmu.atcTarget = atc;
    b.submit(cmdAtcInv(1, 0n, 0), cmdSync());
    expect([b.cmdqCons & 0xfffff, b.cmdqCons >>> 24, b.gerror]).toEqual([1, CmdqError.AtcInvSync, Gerror.CMDQ_ERR]);
    expect(b.smmu.statistics().ats.atcInvalidationFailures).toBe(1);
    b.ackGerror();
    expect(b.cmdqCons & 0xfffff).toBe(2); // the failure is reported once; the CMD_SYNC then completes
  });

  it('is IGNORED while SMMUEN == 0, and when nothing beyond the SMMU supports ATS', () => {
    const b = new Bench().init({ disabled: true });
    const atc = new FakeAtc();
    b.smmu.atcTarget = atc;
    b.submit(cmdAtcInv(1, 0n, 0), cmdSync());
    expect(atc.received).toEqual([]);
    const c = new Bench().init();
    c.submit(cmdAtcInv(1, 0n, 0), cmdSync());
    expect([c.cmdqCons, c.gerror]).toEqual([2, 0]);
  });
});
