// Conformance: transaction types a device context disallows (cause 260) and the choice of the
// first-stage context by process_id, DPE and pdtp (RISC-V IOMMU spec v1.0, "Process to
// translate an IOVA" steps 7-16).

import { describe, expect, it } from 'vitest';
import { ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import type { RiscvIommuBench } from '../../support/riscv-iommu-bench.js';
import { bench, DEFAULT_IOVA, expectedRecord, PDTP_MODE, processDirectory, RequestKind, send, txnName, type PdtModeName, type Txn } from './directory-support.js';

const DID = 0x0abcde;

/** A first-stage Sv39 table mapping the 1 GiB page of DEFAULT_IOVA to GiB `gib`. */
function firstStage(b: RiscvIommuBench, gib: number): { root: bigint; address: bigint } {
  const pt = b.pageTable('Sv39');
  pt.map(DEFAULT_IOVA & ~0x3fff_ffffn, BigInt(gib) << 30n, { level: 2 });
  return { root: pt.root, address: (BigInt(gib) << 30n) | (DEFAULT_IOVA & 0x3fff_ffffn) };
}

/** A device with a PDT of `mode` in which `pids` each have a PC mapping to GiB 10+index. */
function withPdt(mode: PdtModeName, pids: number[], o: { ens?: boolean; dpe?: boolean; enAts?: boolean; dtf?: boolean } = {}): { b: RiscvIommuBench; addresses: bigint[] } {
  const b = bench();
  const pdt = processDirectory(b, mode);
  const addresses = pids.map((pid, i) => {
    const fs = firstStage(b, 10 + i);
    pdt.setProcessContext(pid, { ens: o.ens, pscid: 100 + i, fscMode: 8, fscRoot: fs.root });
    return fs.address;
  });
  b.setDeviceContext(DID, { tc: { PDTV: true, DPE: o.dpe, EN_ATS: o.enAts, DTF: o.dtf }, fsc: { mode: PDTP_MODE[mode], ppn: pdt.root } });
  return { b, addresses };
}

describe('step 7: translated requests and ATS translation requests need DC.tc.EN_ATS', () => {
  const requests: Txn[] = [
    { kind: RequestKind.Translated },
    { kind: RequestKind.Translated, write: true },
    { kind: RequestKind.Translated, execute: true, pid: 1 },
    { kind: RequestKind.AtsTranslation },
    { kind: RequestKind.AtsTranslation, pid: 7, priv: true, execute: true },
  ];

  it('with EN_ATS=0 each is disallowed (cause 260, UR) and recorded with its TTYP', () => {
    const b = bench();
    b.setDeviceContext(DID, { tc: { PDTV: true } });
    for (const t of requests) {
      const r = send(b, DID, t);
      expect(r.status, txnName(t)).toBe(ResponseStatus.UnsupportedRequest);
      expect(r.cause).toBe(260);
      expect(b.faults(), txnName(t)).toEqual([expectedRecord(DID, t, 260)]);
    }
  });

  it('with EN_ATS=1 (T2GPA=0) translated requests pass through and ATS translation requests are answered', () => {
    const b = bench();
    b.setDeviceContext(DID, { tc: { EN_ATS: true, PDTV: true } });
    for (const t of requests) {
      const r = send(b, DID, t);
      expect(r.status, txnName(t)).toBe(ResponseStatus.Success);
      expect(r.address).toBe(DEFAULT_IOVA);
    }
    expect(b.faults()).toEqual([]);
  });

  it('DTF=1 suppresses the record of cause 260, not the abort', () => {
    const b = bench();
    b.setDeviceContext(DID, { tc: { DTF: true } });
    expect(send(b, DID, { kind: RequestKind.Translated }).status).toBe(ResponseStatus.UnsupportedRequest);
    expect(send(b, DID, { kind: RequestKind.AtsTranslation }).status).toBe(ResponseStatus.UnsupportedRequest);
    expect(b.faults()).toEqual([]);
  });
});

describe('step 7: a valid process_id needs DC.tc.PDTV=1 and must fit pdtp.MODE', () => {
  it('PDTV=0: any transaction with a process_id is disallowed (cause 260), without it the DC translates', () => {
    const b = bench();
    b.setDeviceContext(DID, { tc: { EN_ATS: true } });
    for (const t of [{ pid: 0 }, { pid: 0x12345, priv: true }, { pid: 1, write: true }, { kind: RequestKind.AtsTranslation, pid: 3 }] as Txn[]) {
      expect(send(b, DID, t).cause, txnName(t)).toBe(260);
      expect(b.faults()).toEqual([expectedRecord(DID, t, 260)]);
    }
    expect(send(b, DID).status).toBe(ResponseStatus.Success);
  });

  for (const [mode, bitsOfMode] of [
    ['PD8', 8],
    ['PD17', 17],
  ] as const) {
    it(`${mode}: process_id ${bitsOfMode} bits wide works, one bit wider is disallowed (cause 260)`, () => {
      const max = 2 ** bitsOfMode - 1;
      const { b, addresses } = withPdt(mode, [max, 0]);
      expect(send(b, DID, { pid: max }).address).toBe(addresses[0]);
      expect(send(b, DID, { pid: 0 }).address).toBe(addresses[1]);
      for (const pid of [max + 1, 0xfffff]) {
        expect(send(b, DID, { pid }).cause).toBe(260);
        expect(b.faults()).toEqual([expectedRecord(DID, { pid }, 260)]);
      }
    });
  }

  it('PD20: every 20-bit process_id is accepted', () => {
    const { b, addresses } = withPdt('PD20', [0xfffff, 0x80000]);
    expect(send(b, DID, { pid: 0xfffff }).address).toBe(addresses[0]);
    expect(send(b, DID, { pid: 0x80000 }).address).toBe(addresses[1]);
    expect(b.faults()).toEqual([]);
  });
});

describe('step 15: supervisor requests need PC.ta.ENS', () => {
  it('ENS=0: a request with a process_id that asks for supervisor privilege is disallowed (cause 260)', () => {
    const { b, addresses } = withPdt('PD8', [5], { ens: false, enAts: true });
    for (const t of [{ pid: 5, priv: true }, { pid: 5, priv: true, write: true }, { kind: RequestKind.AtsTranslation, pid: 5, priv: true }] as Txn[]) {
      const r = send(b, DID, t);
      expect(r.status, txnName(t)).toBe(ResponseStatus.UnsupportedRequest);
      expect(r.cause).toBe(260);
      expect(b.faults()).toEqual([expectedRecord(DID, t, 260)]);
    }
    expect(send(b, DID, { pid: 5 }).address).toBe(addresses[0]); // user requests are fine
  });

  it('ENS=1: the supervisor request is translated (the page being a U page, SUM=0 makes it a page fault)', () => {
    const { b } = withPdt('PD8', [5], { ens: true });
    // The first stage maps with U=1: a supervisor access without SUM takes a read page fault.
    expect(send(b, DID, { pid: 5, priv: true }).cause).toBe(13);
    expect(b.faults()).toEqual([expectedRecord(DID, { pid: 5, priv: true }, 13)]);
  });
});

describe('steps 11-13: first stage without a process_id, DPE and pdtp Bare', () => {
  it('DPE=1: a request without process_id uses the process context of process_id 0', () => {
    const { b, addresses } = withPdt('PD17', [0, 1], { dpe: true });
    expect(send(b, DID).address).toBe(addresses[0]);
    expect(send(b, DID, { pid: 1 }).address).toBe(addresses[1]);
    expect(b.faults()).toEqual([]);
  });

  it('DPE=1: faults of the default process context are recorded with PV=0 (the transaction had no process_id)', () => {
    const b = bench();
    const pdt = processDirectory(b, 'PD8');
    pdt.setProcessContext(0, { v: false });
    b.setDeviceContext(DID, { tc: { PDTV: true, DPE: true }, fsc: { mode: PDTP_MODE.PD8, ppn: pdt.root } });
    expect(send(b, DID).cause).toBe(266);
    expect(b.faults()).toEqual([expectedRecord(DID, {}, 266)]);
  });

  it('DPE=0: a request without process_id gets a Bare first stage (identity without a second stage)', () => {
    const { b } = withPdt('PD17', [0, 1]);
    expect(send(b, DID).address).toBe(DEFAULT_IOVA);
    expect(b.faults()).toEqual([]);
  });

  it('pdtp.MODE Bare: requests with a process_id get a Bare first stage and the PDT is not read', () => {
    const b = bench();
    b.memory.markAccessFault(0x5000_0000n, 0x1000n);
    b.setDeviceContext(DID, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE.Bare, ppn: 0x5000_0000n } });
    expect(send(b, DID, { pid: 0xfffff }).address).toBe(DEFAULT_IOVA);
    expect(send(b, DID, { pid: 3, priv: true, write: true }).address).toBe(DEFAULT_IOVA);
    expect(send(b, DID).address).toBe(DEFAULT_IOVA);
    expect(b.faults()).toEqual([]);
    expect(b.iommu.statistics().walks.processDirectory).toBe(0);
  });

  it('first stage Bare under an active second stage: pdtp Bare, or no process_id with DPE=0, leaves only the second stage', () => {
    const b = bench();
    const g = b.pageTable('Sv39x4');
    g.map(DEFAULT_IOVA & ~0xfffn, 0x7777_7000n);
    const pdt = processDirectory(b, 'PD8'); // its root is not mapped in the second stage
    b.setDeviceContext(DID, { tc: { PDTV: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 1 }, fsc: { mode: PDTP_MODE.Bare } });
    b.setDeviceContext(DID + 1, { tc: { PDTV: true }, iohgatp: { mode: 8, ppn: g.root, gscid: 1 }, fsc: { mode: PDTP_MODE.PD8, ppn: pdt.root } });
    expect(send(b, DID, { pid: 0x55 }).address).toBe(0x7777_7000n | (DEFAULT_IOVA & 0xfffn));
    expect(send(b, DID + 1).address).toBe(0x7777_7000n | (DEFAULT_IOVA & 0xfffn));
    // With a process_id the PDT is read: pdtp.PPN is a GPA the second stage does not map.
    expect(send(b, DID + 1, { pid: 0x55 }).cause).toBe(21);
  });

  it('PDTV=0: the DC iosatp and ta.PSCID translate requests without process_id', () => {
    const b = bench();
    const fs = firstStage(b, 3);
    b.setDeviceContext(DID, { fsc: { mode: 8, ppn: fs.root }, ta: { pscid: 9 } });
    expect(send(b, DID).address).toBe(fs.address);
  });
});
