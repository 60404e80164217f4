// Page requests on the RISC-V IOMMU driver (specification "Page-Request-Queue (PQ)" and "PCIe
// ATS Page Request handling"): with capabilities.ATS the driver enables the page-request queue;
// having no PRI support, it answers the last request of each group with ATS.PRGR "Response
// Failure" (carrying the PASID of the request), gives stop markers and non-last requests no
// answer, logs them all, and advances pqh.

import { describe, expect, it } from 'vitest';
import { iodirInvalDdt, PrgResponseCode, Reg } from '../../../../src/formats/riscv-iommu/index.js';
import { pageRequest, type PcieMessage } from '../../../../src/hw/riscv-iommu/index.js';
import { OsMachine } from '../../../support/os-machine.js';

/** Turns on EN_ATS and EN_PRI in the endpoint's device context, as a PRI-capable driver would. */
function enablePri(m: OsMachine, id: number): void {
  const dir = m.driver.directory;
  const a = dir.contextAddress(id, false)!;
  dir.writeWord(a, 0, dir.read(a).tc | 0x6n);
  m.driver.cmdq.submit(iodirInvalDdt(id));
  m.driver.cmdq.sync();
}

describe('RISC-V IOMMU driver: page requests', () => {
  it('answers the last request of a group with Response Failure, and nothing else', () => {
    const m = new OsMachine();
    expect(m.driver.priq).not.toBeNull();
    expect(m.reg32(Reg.pqcsr) & 0x10003).toBe(0x10003);
    enablePri(m, 5);
    const sent: PcieMessage[] = [];
    m.iommu.onMessage((msg) => sent.push(msg));
    m.iommu.receiveMessage(pageRequest({ rid: 5, address: 0x5000n, read: true, write: false, last: false, groupIndex: 7 }));
    m.iommu.receiveMessage(pageRequest({ rid: 5, address: 0x6000n, read: true, write: true, last: true, groupIndex: 7 }));
    m.iommu.receiveMessage(pageRequest({ rid: 5, pasid: 3, address: 0x9000n, read: true, write: false, last: true, groupIndex: 9 }));
    m.iommu.receiveMessage(pageRequest({ rid: 5, address: 0n, read: false, write: false, last: true, groupIndex: 0 })); // stop marker
    expect(m.reg32(Reg.pqt)).toBe(4);
    expect(sent).toEqual([]);
    m.kernel.poll();
    expect(m.reg32(Reg.pqh)).toBe(4);
    expect(sent).toHaveLength(2);
    for (const [msg, prgi, pasid] of [
      [sent[0], 7n, null],
      [sent[1], 9n, 3],
    ] as const) {
      expect(msg.rid).toBe(5);
      expect(msg.pasid).toBe(pasid);
      expect((msg.payload >> 32n) & 0x1ffn).toBe(prgi);
      expect((msg.payload >> 44n) & 0xfn).toBe(BigInt(PrgResponseCode.ResponseFailure));
      expect(msg.payload >> 48n).toBe(5n);
    }
    expect(m.driver.stats.pageRequests).toEqual({ received: 4, responded: 2, stopMarkers: 1 });
    expect(m.driver.stats.commands['ATS.PRGR']).toBe(2);
    expect(m.logMatching(/page request from device 0x5: RW at 0x6000, group 7: answered Response Failure/)).toHaveLength(1);
    expect(m.logMatching(/stop marker from device 0x5/)).toHaveLength(1);
  });

  it('has no page-request queue without ATS', () => {
    const m = new OsMachine({ iommu: { capabilities: { ATS: false, T2GPA: false } } });
    expect(m.driver.priq).toBeNull();
    expect(m.reg32(Reg.pqcsr)).toBe(0);
    expect(m.driver.interrupts.vectors[3]).toBe(0); // PIV is read-only zero without ATS
  });
});
