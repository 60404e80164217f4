// Conformance tests of PCIe page requests (PRI) (RISC-V IOMMU specification v1.0, sections
// "PCIe ATS Page Request handling", "Page-Request-Queue (PQ)", and registers pqb, pqh, pqt,
// pqcsr, ipsr). Page Request messages enter through `receiveMessage`; the IOMMU's own Page
// Request Group Responses are observed on its message port; records are read from memory.

import { describe, expect, it } from 'vitest';
import { MessageCode, PrgResponseCode, QueueBaseLayout, Reg, encode } from '../../../src/formats/index.js';
import { decodePrgResponsePayload, pageRequest, type PageRequestFields, type PcieMessage } from '../../../src/hw/riscv-iommu/pcie-messages.js';
import { RiscvIommuBench, type BenchOptions, type DeviceContextFields } from '../../support/riscv-iommu-bench.js';

const PQEN = 1;
const PIE = 2;
const PQMF = 1 << 8;
const PQOF = 1 << 9;
const PQON = 1 << 16;
const BUSY = 1 << 17;
const PIP = 1 << 3;
const TTYP_MESSAGE = 9;

const RID = 0x1234;
const SEG = 0x43;
const DID = (SEG << 16) | RID;
const PASID = 0xbabec;
const ADDR = 0xdead_b000n;
const PRGI = 0x1ab;

interface Rig {
  b: RiscvIommuBench;
  sent: PcieMessage[];
}

function rig(options: BenchOptions = {}, dc: DeviceContextFields | null = { tc: { EN_ATS: true, EN_PRI: true } }): Rig {
  const b = new RiscvIommuBench({ mode: '3LVL', ...options });
  if (dc !== null) b.setDeviceContext(DID, dc);
  const sent: PcieMessage[] = [];
  b.iommu.onMessage((m) => sent.push(m));
  b.write32(Reg.ipsr, 0xf);
  return { b, sent };
}

/** A Page Request from RID/SEG, last in its group, with a PASID unless told otherwise. */
function request(o: Partial<PageRequestFields> = {}): PcieMessage {
  return pageRequest({ rid: RID, segment: SEG, pasid: PASID, address: ADDR, read: true, write: true, last: true, groupIndex: PRGI, ...o });
}

function stopMarker(o: Partial<PageRequestFields> = {}): PcieMessage {
  return request({ read: false, write: false, last: true, ...o });
}

/** The PRG Response the IOMMU should generate for `request()` with `code`. */
function response(code: number, pasid: number | null, rid = RID, segment: number | null = SEG): PcieMessage {
  return {
    code: MessageCode.PrgResponse,
    rid,
    segment,
    pasid,
    privileged: false,
    execute: false,
    tag: 0,
    payload: (BigInt(rid) << 48n) | (BigInt(code) << 44n) | (BigInt(PRGI) << 32n),
  };
}

function pqcsr(b: RiscvIommuBench): number {
  return b.read32(Reg.pqcsr);
}

describe('RISC-V IOMMU page requests queued (spec "PCIe ATS Page Request handling", "Page-Request-Queue (PQ)")', () => {
  it('with EN_ATS and EN_PRI a Page Request becomes a 16-byte PQ record; pqt advances; pip is raised; no response', () => {
    const { b, sent } = rig();
    expect(b.iommu.receiveMessage(request({ privileged: true, execute: true }))).toBe(true);
    expect(b.read32(Reg.pqt)).toBe(1);
    expect(b.read32(Reg.ipsr) & PIP).toBe(PIP);
    // The record as memory holds it: PID[31:12], PV[32], PRIV[33], EXEC[34], DID[63:40]; then the payload.
    const w0 = b.readStruct(b.pqBase);
    const w1 = b.readStruct(b.pqBase + 8n);
    expect(w0).toBe((BigInt(PASID) << 12n) | (1n << 32n) | (1n << 33n) | (1n << 34n) | (BigInt(DID) << 40n));
    expect(w1).toBe(ADDR | (BigInt(PRGI) << 3n) | 0b111n);
    expect(b.pageRequests()).toEqual([{ did: DID, pv: true, pid: PASID, priv: true, exec: true, payload: w1 }]);
    expect(sent).toEqual([]);
    expect(b.faults()).toEqual([]);
  });

  it('without a PASID, PID, PRIV and EXEC are 0 in the record; requests without a segment use the RID as DID', () => {
    const { b } = rig({}, null);
    b.setDeviceContext(RID, { tc: { EN_ATS: true, EN_PRI: true } });
    b.iommu.receiveMessage(request({ segment: undefined, pasid: undefined, privileged: true, execute: true, last: false }));
    const w0 = b.readStruct(b.pqBase);
    expect(w0).toBe(BigInt(RID) << 40n);
    expect(b.pageRequests()).toEqual([{ did: RID, pv: false, pid: 0, priv: false, exec: false, payload: ADDR | (BigInt(PRGI) << 3n) | 0b011n }]);
  });

  it('records are written in the byte order of fctl.BE', () => {
    // Big-endian only (END=0): DC.tc.SBE must equal fctl.BE.
    const { b } = rig({ bigEndianAtReset: true, capabilities: { END: false } }, { tc: { EN_ATS: true, EN_PRI: true, SBE: true } });
    b.iommu.receiveMessage(request());
    // The doubleword holding DID sits in memory most-significant byte first.
    expect([...b.memory.readBytes(b.pqBase, 3)]).toEqual([(DID >> 16) & 0xff, (DID >> 8) & 0xff, DID & 0xff]);
    expect(b.pageRequests()).toMatchObject([{ did: DID, pv: true, pid: PASID, payload: ADDR | (BigInt(PRGI) << 3n) | 0b111n }]);
  });

  it('Stop Markers are queued like page requests and get no response', () => {
    const { b, sent } = rig();
    b.iommu.receiveMessage(stopMarker());
    expect(b.pageRequests()).toMatchObject([{ did: DID, pv: true, pid: PASID, payload: ADDR | (BigInt(PRGI) << 3n) | 0b100n }]);
    expect(sent).toEqual([]);
  });

  it('records wrap around the end of the queue', () => {
    const { b } = rig({ pqEntries: 4 });
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      b.iommu.receiveMessage(request({ groupIndex: i }));
      for (const r of b.pageRequests()) seen.push(Number((r.payload >> 3n) & 0x1ffn));
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(b.read32(Reg.pqt)).toBe(2);
    expect(b.read32(Reg.pqh)).toBe(2);
  });

  it('with pie=0 a new record does not raise pip', () => {
    const { b } = rig();
    b.write32(Reg.pqcsr, PQEN);
    b.iommu.receiveMessage(request());
    expect(b.read32(Reg.pqt)).toBe(1);
    expect(b.read32(Reg.ipsr) & PIP).toBe(0);
  });
});

describe('RISC-V IOMMU automatic PRG responses and faults (spec "PCIe ATS Page Request handling")', () => {
  it('iommu_mode Off: Response Failure (with the PASID) and fault 256', () => {
    const { b, sent } = rig({ mode: 'Off' }, null);
    b.iommu.receiveMessage(request());
    expect(sent).toEqual([response(PrgResponseCode.ResponseFailure, PASID)]);
    expect(b.faults()).toEqual([{ cause: 256, ttyp: TTYP_MESSAGE, did: DID, pv: true, pid: PASID, priv: false, iotval: BigInt(MessageCode.PageRequest), iotval2: 0n, reserved: 0n }]);
    expect(b.read32(Reg.pqt)).toBe(0);
  });

  it('iommu_mode Bare: Invalid Request (no PASID: PRPR taken as 0) and fault 260', () => {
    const { b, sent } = rig({ mode: 'Bare' }, null);
    b.iommu.receiveMessage(request({ privileged: true }));
    expect(sent).toEqual([response(PrgResponseCode.InvalidRequest, null)]);
    expect(b.faults()).toEqual([{ cause: 260, ttyp: TTYP_MESSAGE, did: DID, pv: true, pid: PASID, priv: true, iotval: 4n, iotval2: 0n, reserved: 0n }]);
  });

  it('a device_id wider than the directory mode supports (1LVL, 2LVL): Invalid Request and fault 260', () => {
    for (const mode of ['1LVL', '2LVL'] as const) {
      const { b, sent } = rig({ mode }, null);
      b.iommu.receiveMessage(request());
      expect(sent).toEqual([response(PrgResponseCode.InvalidRequest, null)]);
      expect(b.faults()).toMatchObject([{ cause: 260, ttyp: TTYP_MESSAGE, did: DID }]);
    }
  });

  const ddtFaults: [string, number, (b: RiscvIommuBench) => void][] = [
    ['DDT entry not valid', 258, (b) => b.setDeviceContext(DID, { tc: { V: false, EN_ATS: true, EN_PRI: true } })],
    ['DDT entry misconfigured', 259, (b) => b.setDeviceContext(DID, { tc: { EN_ATS: true, EN_PRI: true }, tcRaw: 1n << 13n })],
    [
      'DDT entry load access fault',
      257,
      (b) => {
        b.setDeviceContext(DID, { tc: { EN_ATS: true, EN_PRI: true } });
        b.memory.markAccessFault(b.dcAddress(DID), 64n);
      },
    ],
    ['EN_PRI with EN_ATS=0 (misconfigured)', 259, (b) => b.setDeviceContext(DID, { tc: { EN_PRI: true } })],
  ];
  for (const [name, cause, arrange] of ddtFaults) {
    it(`${name}: Response Failure with the PASID and fault ${cause}`, () => {
      const { b, sent } = rig({}, null);
      arrange(b);
      b.iommu.receiveMessage(request());
      expect(sent).toEqual([response(PrgResponseCode.ResponseFailure, PASID)]);
      expect(b.faults()).toMatchObject([{ cause, ttyp: TTYP_MESSAGE, did: DID, pv: true, pid: PASID, iotval: 4n }]);
      expect(b.read32(Reg.pqt)).toBe(0);
    });
  }

  it('EN_PRI=0: Invalid Request and fault 260; with DTF=1 the fault is not recorded but the response is sent', () => {
    const { b, sent } = rig({}, { tc: { EN_ATS: true } });
    b.iommu.receiveMessage(request());
    expect(sent).toEqual([response(PrgResponseCode.InvalidRequest, null)]);
    expect(b.faults()).toMatchObject([{ cause: 260, ttyp: TTYP_MESSAGE, did: DID, pv: true, pid: PASID }]);
    const dtf = rig({}, { tc: { EN_ATS: true, DTF: true } });
    dtf.b.iommu.receiveMessage(request());
    expect(dtf.sent).toEqual([response(PrgResponseCode.InvalidRequest, null)]);
    expect(dtf.b.faults()).toEqual([]);
    // ATS and PRI both off.
    const off = rig({}, { tc: {} });
    off.b.iommu.receiveMessage(request({ pasid: undefined }));
    expect(off.sent).toEqual([response(PrgResponseCode.InvalidRequest, null)]);
    expect(off.b.faults()).toMatchObject([{ cause: 260, pv: false, pid: 0 }]);
  });

  it('only requests with L=1 that are not Stop Markers get an automatic response', () => {
    const { b, sent } = rig({ mode: 'Off' }, null);
    b.iommu.receiveMessage(request({ last: false }));
    b.iommu.receiveMessage(stopMarker());
    expect(sent).toEqual([]);
    // They are still faults of the message (reported).
    expect(b.faults().map((f) => f.cause)).toEqual([256, 256]);
    b.iommu.receiveMessage(request({ read: true, write: false }));
    b.iommu.receiveMessage(request({ read: false, write: true }));
    expect(sent.map((m) => decodePrgResponsePayload(m.payload).responseCode)).toEqual([PrgResponseCode.ResponseFailure, PrgResponseCode.ResponseFailure]);
  });

  it('PQ off (pqen=0): Response Failure with the PASID, nothing recorded, no fault', () => {
    const { b, sent } = rig({}, { tc: { EN_ATS: true, EN_PRI: true } });
    b.write32(Reg.pqcsr, PIE);
    expect(pqcsr(b) & (PQEN | PQON)).toBe(0);
    b.iommu.receiveMessage(request());
    b.iommu.receiveMessage(request({ last: false }));
    expect(sent).toEqual([response(PrgResponseCode.ResponseFailure, PASID)]);
    expect(b.faults()).toEqual([]);
    expect(b.read32(Reg.pqt)).toBe(0);
  });

  it('PQ full: pqof is set, pip raised, Success response, no fault; while pqof is 1 requests get Success; clearing pqof resumes queuing', () => {
    const { b, sent } = rig({ pqEntries: 4 }, { tc: { EN_ATS: true, EN_PRI: true } });
    for (let i = 0; i < 3; i++) b.iommu.receiveMessage(request({ last: false }));
    expect(b.read32(Reg.pqt)).toBe(3);
    b.write32(Reg.ipsr, PIP);
    b.iommu.receiveMessage(request());
    expect(pqcsr(b) & (PQOF | PQMF)).toBe(PQOF);
    expect(b.read32(Reg.ipsr) & PIP).toBe(PIP);
    expect(sent).toEqual([response(PrgResponseCode.Success, null)]);
    expect(b.read32(Reg.pqt)).toBe(3);
    // Room again, but pqof still set: discarded with Success.
    expect(b.pageRequests()).toHaveLength(3);
    b.iommu.receiveMessage(request());
    b.iommu.receiveMessage(stopMarker());
    expect(sent).toEqual([response(PrgResponseCode.Success, null), response(PrgResponseCode.Success, null)]);
    expect(b.read32(Reg.pqt)).toBe(3);
    expect(b.faults()).toEqual([]);
    b.write32(Reg.pqcsr, PQEN | PIE | PQOF);
    expect(pqcsr(b) & PQOF).toBe(0);
    b.iommu.receiveMessage(request());
    expect(b.read32(Reg.pqt)).toBe(0);
    expect(sent).toHaveLength(2);
  });

  it('the PASID of Success and Invalid Request responses follows DC.tc.PRPR; Response Failure always carries it', () => {
    const { b, sent } = rig({ pqEntries: 2 }, { tc: { EN_ATS: true, EN_PRI: true, PRPR: true } });
    b.iommu.receiveMessage(request({ last: false })); // fills the 2-entry queue
    b.iommu.receiveMessage(request());
    b.iommu.receiveMessage(request({ pasid: undefined }));
    expect(sent).toEqual([response(PrgResponseCode.Success, PASID), response(PrgResponseCode.Success, null)]);
  });

  it('a PQ memory fault sets pqmf, raises pip, answers Response Failure and records no fault; later requests too until pqmf is cleared', () => {
    const { b, sent } = rig();
    b.iommu.receiveMessage(request({ last: false }));
    b.memory.markAccessFault(b.pqBase + 16n, 16n);
    b.write32(Reg.ipsr, PIP);
    b.iommu.receiveMessage(request());
    expect(pqcsr(b) & (PQMF | PQOF)).toBe(PQMF);
    expect(b.read32(Reg.ipsr) & PIP).toBe(PIP);
    expect(sent).toEqual([response(PrgResponseCode.ResponseFailure, PASID)]);
    expect(b.read32(Reg.pqt)).toBe(1);
    b.memory.clearMarks();
    b.iommu.receiveMessage(request());
    expect(sent).toHaveLength(2);
    expect(b.read32(Reg.pqt)).toBe(1);
    // pip re-latches while pqmf is 1 (ipsr: the condition is still present).
    b.write32(Reg.ipsr, PIP);
    expect(b.read32(Reg.ipsr) & PIP).toBe(PIP);
    expect(b.faults()).toEqual([]);
    b.write32(Reg.pqcsr, PQEN | PIE | PQMF);
    b.iommu.receiveMessage(request());
    expect(b.read32(Reg.pqt)).toBe(2);
    expect(sent).toHaveLength(2);
  });
});

describe('RISC-V IOMMU page-request queue registers (spec "pqb", "pqh", "pqt", "pqcsr")', () => {
  it('pqen 0->1 sets pqt to 0 and clears pqmf and pqof', () => {
    const { b } = rig({ pqEntries: 4 });
    for (let i = 0; i < 4; i++) b.iommu.receiveMessage(request({ last: false }));
    expect(pqcsr(b) & PQOF).toBe(PQOF);
    expect(b.read32(Reg.pqt)).toBe(3);
    b.write32(Reg.pqcsr, PIE);
    expect(pqcsr(b) & (PQEN | PQON)).toBe(0);
    b.write32(Reg.pqh, 0);
    b.write32(Reg.pqcsr, PQEN | PIE);
    expect(pqcsr(b) & (PQEN | PQON | PQOF | PQMF | BUSY)).toBe(PQEN | PQON);
    expect(b.read32(Reg.pqt)).toBe(0);
    b.iommu.receiveMessage(request());
    expect(b.read32(Reg.pqt)).toBe(1);
  });

  it('pqb writes are ignored while the queue is on; pqh is WARL (LOG2SZ-1:0); pqt is read-only', () => {
    const { b } = rig({ pqEntries: 8 });
    const before = b.read64(Reg.pqb);
    b.write64(Reg.pqb, encode(QueueBaseLayout, { LOG2SZ_1: 4, PPN: 0x777n }));
    expect(b.read64(Reg.pqb)).toBe(before);
    b.write32(Reg.pqh, 0xffff_fffd);
    expect(b.read32(Reg.pqh)).toBe(5);
    b.write32(Reg.pqt, 3);
    expect(b.read32(Reg.pqt)).toBe(0);
  });

  it('with a control latency, pqcsr.busy is 1 and pqon 0 until the queue is active; requests meanwhile get Response Failure', () => {
    const { b, sent } = rig({ pqEntries: 0, controlBusyCycles: 5 });
    b.enablePageRequestQueue(8);
    expect(pqcsr(b) & (PQEN | PQON | BUSY)).toBe(PQEN | BUSY);
    b.iommu.receiveMessage(request());
    expect(sent).toEqual([response(PrgResponseCode.ResponseFailure, PASID)]);
    b.iommu.clock.advance(5);
    expect(pqcsr(b) & (PQEN | PQON | BUSY)).toBe(PQEN | PQON);
    b.iommu.receiveMessage(request());
    expect(b.read32(Reg.pqt)).toBe(1);
  });

  it('without capabilities.ATS the page-request registers read 0, ignore writes, and page requests are not accepted', () => {
    const b = new RiscvIommuBench({ mode: '3LVL', pqEntries: 0, capabilities: { ATS: false, T2GPA: false } });
    const sent: PcieMessage[] = [];
    b.iommu.onMessage((m) => sent.push(m));
    b.write64(Reg.pqb, encode(QueueBaseLayout, { LOG2SZ_1: 3, PPN: 0x1234n }));
    b.write32(Reg.pqh, 3);
    b.write32(Reg.pqcsr, PQEN | PIE);
    b.write64(Reg.icvec, 0x3000n);
    expect([b.read64(Reg.pqb), b.read32(Reg.pqh), b.read32(Reg.pqt), b.read32(Reg.pqcsr)]).toEqual([0n, 0, 0, 0]);
    expect(b.read64(Reg.icvec) >> 12n).toBe(0n);
    expect(b.iommu.receiveMessage(request())).toBe(false);
    expect(sent).toEqual([]);
    expect(b.faults()).toEqual([]);
  });
});
