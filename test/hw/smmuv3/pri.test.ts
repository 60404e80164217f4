// PCIe PRI (IHI 0070 chapter 8, 4.5.2): Page Requests become PRI queue entries; queue
// disabled, aborted, full and overflowed cases with their automatic PRG Responses (8.1 - 8.3);
// the PRI queue interrupt and PRIQ_IRQ_CFG2.LO; CMD_PRI_RESP.
import { describe, expect, it } from 'vitest';
import { cmdPriResp, PriResp } from '../../../src/formats/smmuv3/commands.js';
import { Gerror, Reg } from '../../../src/formats/smmuv3/registers.js';
import { SteConfig } from '../../../src/formats/smmuv3/structures.js';
import type { PageRequest, PageResponse, PageResponseTarget } from '../../../src/devices/pcie/ats.js';
import type { SmmuV3Options } from '../../../src/hw/smmuv3/parameters.js';
import { Bench, CR0 } from './bench.js';

class FakeEndpoint implements PageResponseTarget {
  readonly responses: PageResponse[] = [];
  pageResponse(r: PageResponse): boolean {
    this.responses.push(r);
    return true;
  }
}

function setup(options: SmmuV3Options = {}, priqLog2 = 4) {
  const b = new Bench(options).init({ priqLog2 });
  const ep = new FakeEndpoint();
  b.smmu.priTarget = ep;
  return { b, ep };
}

function ppr(o: Partial<PageRequest> = {}): PageRequest {
  return { rid: 0x0108, segment: 0, pasid: 5, privileged: true, exec: false, address: 0x7fff_f000n, read: true, write: true, last: true, groupIndex: 0x1a, ...o };
}

describe('8 Page Requests to the PRI queue', () => {
  it('a Page Request becomes an entry with StreamID, SubstreamID, permissions, Last, PRGIndex and page address', () => {
    const { b, ep } = setup();
    b.smmu.pageRequest(ppr({ address: 0x7fff_f123n }));
    const [e] = b.priEntries();
    expect(e).toEqual({ StreamID: 0x108n, SubstreamID: 5n, Priv: 1n, Exec: 0n, Read: 1n, Write: 1n, Last: 1n, SSV: 1n, PRGIndex: 0x1an, PageAddr: 0x7fff_fn });
    expect(ep.responses).toEqual([]);
    expect(b.smmu.statistics().pageRequests).toMatchObject({ received: 1, queued: 1 });
  });

  it('without a PASID: SSV == 0 and X, Priv are 0', () => {
    const { b } = setup();
    b.smmu.pageRequest(ppr({ pasid: null, exec: true }));
    const [e] = b.priEntries();
    expect([e.SSV, e.Priv, e.Exec, e.SubstreamID]).toEqual([0n, 0n, 0n, 0n]);
  });

  it('the StreamID comes from the segment and RequesterID (settable mapping)', () => {
    const { b } = setup();
    b.smmu.pageRequest(ppr({ segment: 2, rid: 0x10 }));
    b.smmu.streamIdOf = (rid) => rid + 0x1000;
    b.smmu.pageRequest(ppr({ rid: 0x10 }));
    expect(b.priEntries().map((e) => e.StreamID)).toEqual([0x2_0010n, 0x1010n]);
  });

  it('a Stop Marker (PASID, R = W = 0, Last) is queued like a request', () => {
    const { b, ep } = setup();
    b.smmu.pageRequest(ppr({ read: false, write: false }));
    const [e] = b.priEntries();
    expect([e.Read, e.Write, e.Last, e.SSV]).toEqual([0n, 0n, 1n, 1n]);
    expect(ep.responses).toEqual([]);
  });
});

describe('8.2 the PRI queue unable to take requests', () => {
  it('PRIQEN == 0: the request is discarded with a Response Failure without PASID', () => {
    const { b, ep } = setup();
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.CMDQEN | CR0.EVENTQEN);
    b.smmu.pageRequest(ppr({ last: false }));
    expect(ep.responses).toEqual([{ rid: 0x108, segment: 0, pasid: null, groupIndex: 0x1a, code: 0xf }]);
    expect(b.read32(Reg.PRIQ_PROD)).toBe(0);
  });

  it('SMMUEN == 0 makes the effective PRIQEN 0', () => {
    const { b, ep } = setup();
    b.write32(Reg.CR0, CR0.PRIQEN | CR0.CMDQEN | CR0.EVENTQEN);
    b.smmu.pageRequest(ppr());
    expect(ep.responses.map((r) => r.code)).toEqual([0xf]);
  });

  it('no response for a Stop Marker', () => {
    const { b, ep } = setup();
    b.write32(Reg.CR0, CR0.SMMUEN);
    b.smmu.pageRequest(ppr({ read: false, write: false }));
    expect(ep.responses).toEqual([]);
  });

  it('an aborted queue write raises PRIQ_ABT_ERR and answers Response Failure; further requests too while it is active', () => {
    const { b, ep } = setup();
    b.memory.markAccessFault(b.priq, 16n);
    b.smmu.pageRequest(ppr());
    expect(b.gerror).toBe(Gerror.PRIQ_ABT_ERR);
    b.memory.clearMarks();
    b.smmu.pageRequest(ppr({ groupIndex: 2 }));
    expect(ep.responses.map((r) => [r.groupIndex, r.code, r.pasid])).toEqual([
      [0x1a, 0xf, null],
      [2, 0xf, null],
    ]);
    b.ackGerror();
    b.smmu.pageRequest(ppr({ groupIndex: 3 }));
    expect(b.priEntries().map((e) => e.PRGIndex)).toEqual([3n]);
  });
});

describe('8.1 PRI queue overflow', () => {
  it('a request finding the queue full enters overflow (PRIQ_PROD.OVFLG) and is discarded', () => {
    const { b } = setup({}, 1);
    for (let i = 0; i < 3; i++) b.smmu.pageRequest(ppr({ groupIndex: i, last: false }));
    expect(b.read32(Reg.PRIQ_PROD)).toBe(0x8000_0002);
    expect(b.smmu.statistics().pageRequests).toMatchObject({ received: 3, queued: 2, discarded: 1, overflows: 1 });
  });

  it('while overflowed nothing is queued, even with space; Last requests get a Success auto-response', () => {
    const { b, ep } = setup({ capabilities: { pps: true } }, 1);
    for (let i = 0; i < 3; i++) b.smmu.pageRequest(ppr({ groupIndex: i, last: false }));
    b.write32(Reg.PRIQ_CONS, 2); // consume both, overflow unacknowledged
    b.smmu.pageRequest(ppr({ groupIndex: 7, last: true }));
    b.smmu.pageRequest(ppr({ groupIndex: 8, last: false }));
    expect(b.read32(Reg.PRIQ_PROD) & 0xff).toBe(2);
    expect(ep.responses).toEqual([{ rid: 0x108, segment: 0, pasid: 5, groupIndex: 7, code: 0 }]);
  });

  it('acknowledging the overflow (OVACKFLG = OVFLG) resumes queueing', () => {
    const { b } = setup({}, 1);
    for (let i = 0; i < 3; i++) b.smmu.pageRequest(ppr({ last: false }));
    b.write32(Reg.PRIQ_CONS, 0x8000_0002);
    b.smmu.pageRequest(ppr({ groupIndex: 9 }));
    expect(b.read32(Reg.PRIQ_PROD)).toBe(0x8000_0003);
  });

  it('PASID of an overflow auto-response with IDR3.PPS == 0 follows STE.PPAR; no valid STE gives a failure', () => {
    const { b, ep } = setup({}, 0);
    b.writeSte(0x18, { V: 1, Config: SteConfig.Bypass, PPAR: 1 });
    b.writeSte(0x19, { V: 1, Config: SteConfig.Bypass, PPAR: 0 });
    b.smmu.pageRequest(ppr({ last: false }));
    b.smmu.pageRequest(ppr({ rid: 0x18 }));
    b.smmu.pageRequest(ppr({ rid: 0x19 }));
    b.smmu.pageRequest(ppr({ rid: 0x1a }));
    b.smmu.pageRequest(ppr({ rid: 0x1a, pasid: null }));
    expect(ep.responses.map((r) => [r.rid, r.pasid, r.code])).toEqual([
      [0x18, 5, 0],
      [0x19, null, 0],
      [0x1a, null, 0xf],
      [0x1a, null, 0],
    ]);
  });

  it('Stop Markers discarded in overflow get no response', () => {
    const { b, ep } = setup({}, 0);
    b.smmu.pageRequest(ppr({ last: false }));
    b.smmu.pageRequest(ppr({ read: false, write: false }));
    expect(ep.responses).toEqual([]);
  });
});

describe('3.18 PRI queue interrupt', () => {
  it('PRIQ_IRQ_CFG2.LO == 0: when the queue goes from empty to non-empty', () => {
    const { b } = setup();
    b.smmu.pageRequest(ppr({ last: false }));
    b.smmu.pageRequest(ppr());
    expect(b.lines.priq.rises).toBe(1);
  });

  it('LO == 1: for each request with Last set, including one discarded by overflow', () => {
    const b = new Bench();
    b.write32(Reg.PRIQ_IRQ_CFG2, 0x8000_0000);
    b.write64(Reg.PRIQ_IRQ_CFG0, 0x2000_0100n);
    b.write32(Reg.PRIQ_IRQ_CFG1, 0x31);
    b.init({ priqLog2: 0 });
    b.smmu.pageRequest(ppr({ last: false }));
    expect(b.lines.priq.rises).toBe(0);
    b.smmu.pageRequest(ppr({ last: true })); // full: discarded in overflow
    expect(b.lines.priq.rises).toBe(1);
    expect(b.memory.read(0x2000_0100n, 4)).toBe(0x31n);
  });

  it('no interrupt while IRQ_CTRL.PRIQ_IRQEN == 0', () => {
    const b = new Bench().init({ irqCtrl: 5 });
    b.smmu.pageRequest(ppr());
    expect(b.lines.priq.rises).toBe(0);
  });

  it('an aborted PRI queue MSI raises MSI_PRIQ_ABT_ERR', () => {
    const b = new Bench();
    b.write64(Reg.PRIQ_IRQ_CFG0, 0x2000_0100n);
    b.init();
    b.memory.markAccessFault(0x2000_0100n, 4n);
    b.smmu.pageRequest(ppr());
    expect(b.gerror).toBe(Gerror.MSI_PRIQ_ABT_ERR);
  });
});

describe('4.5.2 CMD_PRI_RESP', () => {
  it('sends a PRG Response with the PCIe code for Resp, to the RequesterID, with the PASID when SSV', () => {
    const { b, ep } = setup();
    b.submit(cmdPriResp(0x2_0108, 0x1a, PriResp.Success, { ssid: 5 }), cmdPriResp(0x108, 3, PriResp.InvalidRequest), cmdPriResp(0x108, 4, PriResp.ResponseFailure));
    expect(ep.responses).toEqual([
      { rid: 0x108, segment: 2, pasid: 5, groupIndex: 0x1a, code: 0 },
      { rid: 0x108, segment: 0, pasid: null, groupIndex: 3, code: 1 },
      { rid: 0x108, segment: 0, pasid: null, groupIndex: 4, code: 0xf },
    ]);
    expect(b.smmu.statistics().ats.priResponses).toBe(3);
  });

  it('is IGNORED while SMMUEN == 0', () => {
    const { b, ep } = setup();
    b.write32(Reg.CR0, CR0.CMDQEN);
    b.submit(cmdPriResp(0x108, 1, PriResp.Success));
    expect(ep.responses).toEqual([]);
  });

  it('without substreams SSV == 1 behaves as SSV == 0', () => {
    const { b, ep } = setup({ capabilities: { ssidBits: 0 } });
    b.submit(cmdPriResp(0x108, 1, PriResp.Success, { ssid: 5 }));
    expect(ep.responses[0].pasid).toBeNull();
  });
});
