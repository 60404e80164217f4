// End to end: a PCIe DMA-engine function with ATS enabled, behind a PCIe host bridge whose
// upstream is the RISC-V IOMMU's port. The function's Address Translation Cache is filled by
// ATS Translation Requests the IOMMU answers (PCIe Base 10.2; RISC-V IOMMU "PCIe ATS
// translation request handling"), its translated requests pass the IOMMU (AT = Translated,
// DC.tc.EN_ATS), the IOMMU's ATS.INVAL command reaches it as an Invalidation Request and
// completes with its Invalidation Completion (PCIe 10.3; RISC-V "IOMMU PCIe ATS commands"),
// and Page Requests and Page Request Group Responses travel between them (PCIe 10.4). The
// IOMMU is driven through registers and memory by the test bench.

import { describe, expect, it } from 'vitest';
import { Control, DmaEngineReg, ErrorCause, Operation, Status } from '../../../src/devices/dma-engine/index.js';
import { AtcFlag, ecamOffset, PageResponseCode, PciCfg, PciCommand, PciDmaEngineFunction, PcieHostBridge, PciStatus } from '../../../src/devices/pcie/index.js';
import { Cause, Reg, Ttyp, atsInval, atsPrgr, iofenceC } from '../../../src/formats/index.js';
import { RiscvIommuDmaPort } from '../../../src/hw/riscv-iommu/index.js';
import { PTE, RiscvIommuBench, type BenchOptions, type DeviceContextFields } from '../../support/riscv-iommu-bench.js';

const RID = 0x18; // 00:03.0
const IOVA = 0x4000_0000n;
const PA = 0x8000_0000n;
const BIG_IOVA = 0x6000_0000n; // a 2 MiB page
const BIG_PA = 0xa000_0000n;
const PATTERN = 0x0807_0605_0403_0201n;
const CMD_TO = 1 << 9;

function rig(o: { bench?: BenchOptions; dc?: DeviceContextFields['tc'] } = {}) {
  const b = new RiscvIommuBench({ mode: '3LVL', ...o.bench });
  const port = new RiscvIommuDmaPort(b.iommu);
  const bridge = new PcieHostBridge({ upstream: port });
  const fn = new PciDmaEngineFunction();
  bridge.attach(fn, 3, 0);
  port.connect({ invalidations: bridge, responses: bridge });
  bridge.pageRequestSink = port;
  const pt = b.pageTable('Sv39');
  b.setDeviceContext(RID, { tc: { EN_ATS: true, EN_PRI: true, ...o.dc }, fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
  pt.map(IOVA, PA);
  pt.map(IOVA + 0x1000n, PA + 0x1000n, { flags: PTE.R | PTE.U | PTE.A });
  pt.map(BIG_IOVA, BIG_PA, { level: 1 });
  const config = (reg: number, value: number) => bridge.configWrite(ecamOffset(0, 3, 0, reg), 2, value);
  config(PciCfg.COMMAND, PciCommand.BUS_MASTER);
  config(fn.capabilities.ats + 6, 0x8000); // ATS Control: Enable, STU 0 (what Linux pci_enable_ats writes for 4 KiB pages)
  const run = (op: number, src: bigint, dst: bigint, length: number) => {
    const e = fn.engine;
    e.mmioWrite(DmaEngineReg.SOURCE, 8, src);
    e.mmioWrite(DmaEngineReg.DESTINATION, 8, dst);
    e.mmioWrite(DmaEngineReg.FILL, 8, PATTERN);
    e.mmioWrite32(DmaEngineReg.LENGTH, length);
    e.mmioWrite32(DmaEngineReg.CONTROL, Control.START | (op << Control.OP_SHIFT));
    return e.mmioRead32(DmaEngineReg.STATUS);
  };
  const cause = () => (fn.engine.mmioRead32(DmaEngineReg.STATUS) & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT;
  const requests = () => b.iommu.statistics().requests;
  return { b, port, bridge, fn, config, run, cause, requests };
}

describe('a PCIe function with ATS behind the RISC-V IOMMU', () => {
  it('first access: a Translation Request and a translated DMA; second: an ATC hit, no Translation Request', () => {
    const { b, port, fn, run, requests } = rig();
    expect(run(Operation.Fill, 0n, IOVA, 64)).toBe(Status.DONE);
    expect(b.memory.read(PA, 8)).toBe(PATTERN);
    expect(requests()).toMatchObject({ atsTranslation: 1, translated: 1, untranslated: 0 });
    expect(port.counters).toMatchObject({ atsTranslations: 1, translated: 1 });
    expect(fn.atc?.entries()).toEqual([{ pasid: null, privileged: false, address: IOVA, translated: PA, sizeLog2: 12, flags: AtcFlag.Read | AtcFlag.Write }]);

    expect(run(Operation.Fill, 0n, IOVA + 0x40n, 64)).toBe(Status.DONE);
    expect(b.memory.read(PA + 0x40n, 8)).toBe(PATTERN);
    expect(requests()).toMatchObject({ atsTranslation: 1, translated: 2, untranslated: 0 });
    expect(fn.atc?.counters).toMatchObject({ misses: 1, hits: 1, fills: 1 });
    expect(fn.atsPort?.counters).toMatchObject({ translationRequests: 1, translatedRequests: 2, untranslatedRequests: 0 });
  });

  it('caches a superpage translation as one 2 MiB entry (S bit) and uses it for every page of it', () => {
    const { b, fn, run, requests } = rig();
    expect(run(Operation.Fill, 0n, BIG_IOVA + 0x1000n, 64)).toBe(Status.DONE);
    expect(run(Operation.Fill, 0n, BIG_IOVA + 0x1f_f000n, 64)).toBe(Status.DONE);
    expect(b.memory.read(BIG_PA + 0x1f_f000n, 8)).toBe(PATTERN);
    expect(requests()).toMatchObject({ atsTranslation: 1, translated: 2 });
    expect(fn.atc?.entries()).toMatchObject([{ address: BIG_IOVA, translated: BIG_PA, sizeLog2: 21 }]);
  });

  it('the IOMMU’s ATS.INVAL removes the function’s ATC entry and completes; IOFENCE.C after it completes too', () => {
    const { b, bridge, fn, run, requests } = rig();
    run(Operation.Fill, 0n, IOVA, 64);
    run(Operation.Copy, IOVA + 0x1000n, IOVA + 0x80n, 64); // a read-only page: two entries
    expect(fn.atc?.occupancy).toBe(2);
    const fence = b.alloc.alloc();
    b.submit(atsInval({ rid: RID }, IOVA), iofenceC({ address: fence, data: 0x600d, pw: true }));
    expect(fn.atc?.entries().map((e) => e.address)).toEqual([IOVA + 0x1000n]);
    expect(fn.counters.atsInvalidations).toBe(1);
    expect(bridge.counters).toMatchObject({ atsInvalidations: 1, atsInvalidationsUnclaimed: 0 });
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(0);
    expect(b.iommu.commandQueue.stats.invalidationCompletions).toBe(1);
    expect(b.memory.read(fence, 4)).toBe(0x600dn);
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(b.cqcsr & CMD_TO).toBe(0);
    // The next access to the page asks again.
    run(Operation.Fill, 0n, IOVA, 64);
    expect(requests().atsTranslation).toBe(3);
  });

  it('ATS.INVAL with a range (S) and with a PASID: the range goes, entries without a PASID stay for a PASID request (PCIe 10.3.8)', () => {
    const { b, fn, run } = rig();
    run(Operation.Fill, 0n, IOVA, 64);
    run(Operation.Copy, IOVA + 0x1000n, IOVA + 0x80n, 64);
    b.submit(atsInval({ rid: RID, pasid: 7 }, IOVA | (1n << 11n)));
    expect(fn.atc?.occupancy).toBe(2);
    // S = 1 with address bit 12 clear: 8 KiB from IOVA, both pages.
    b.submit(atsInval({ rid: RID }, IOVA | (1n << 11n)));
    expect(fn.atc?.occupancy).toBe(0);
    expect(fn.counters.atsInvalidations).toBe(2);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(0);
  });

  it('an Invalidation Request no function completes (ATS disabled, nobody at the RID) is left to the IOMMU’s timeout: cmd_to', () => {
    const { b, port, fn, config, run } = rig({ bench: { atsInvalidationTimeoutCycles: 100 } });
    run(Operation.Fill, 0n, IOVA, 64);
    config(fn.capabilities.ats + 6, 0); // disabling ATS empties the ATC; the function completes nothing
    expect(fn.atc?.occupancy).toBe(0);
    const fence = b.alloc.alloc();
    b.submit(atsInval({ rid: RID }, IOVA), atsInval({ rid: 0x20 }, IOVA), iofenceC({ address: fence, data: 1, pw: true }));
    expect(port.counters).toMatchObject({ invalidationsCompleted: 0, invalidationsUnclaimed: 2 });
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(2);
    expect(b.memory.read(fence, 4)).toBe(0n);
    b.iommu.clock.advance(100);
    expect(b.cqcsr & CMD_TO).toBe(CMD_TO);
    expect(b.memory.read(fence, 4)).toBe(0n);
  });

  it('a page the IOMMU grants no access to goes untranslated, and the IOMMU faults and records that request', () => {
    const { b, fn, run, cause, requests } = rig();
    expect(run(Operation.Copy, IOVA + 0x5000n, IOVA, 64) & Status.ERROR).toBe(Status.ERROR);
    expect(cause()).toBe(ErrorCause.Aborted);
    expect(requests()).toMatchObject({ atsTranslation: 1, translated: 0, untranslated: 1 });
    expect(fn.atc?.occupancy).toBe(0);
    expect(fn.atsPort?.counters.noAccess).toBe(1);
    // The ATS completion records nothing; the untranslated read's page fault is recorded.
    expect(b.faults()).toMatchObject([{ cause: Cause.ReadPageFault, ttyp: Ttyp.UntranslatedRead, did: RID, iotval: IOVA + 0x5000n }]);
  });

  it('without DC.tc.EN_ATS the IOMMU answers Unsupported Request: the DMA aborts and Status has Received Master Abort', () => {
    const { b, bridge, run, cause } = rig({ dc: { EN_ATS: false, EN_PRI: false } });
    expect(run(Operation.Fill, 0n, IOVA, 64) & Status.ERROR).toBe(Status.ERROR);
    expect(cause()).toBe(ErrorCause.Aborted);
    expect(bridge.configRead(ecamOffset(0, 3, 0, PciCfg.STATUS), 2) & PciStatus.RECEIVED_MASTER_ABORT).toBe(PciStatus.RECEIVED_MASTER_ABORT);
    expect(b.faults()).toMatchObject([{ cause: Cause.TransactionTypeDisallowed, ttyp: Ttyp.AtsTranslationRequest, did: RID }]);
    expect(b.memory.read(PA, 8)).toBe(0n);
  });

  it('a Page Request reaches the page-request queue and ATS.PRGR comes back to the function as its response (PCIe 10.4)', () => {
    const { b, port, fn } = rig();
    const sent = fn.sendPageRequest({ pasid: null, privileged: false, exec: false, address: IOVA + 0x5000n, read: true, write: true, last: true, groupIndex: 0x1a5 });
    expect(sent).toBe(true);
    expect(port.counters.pageRequests).toBe(1);
    expect(b.pageRequests()).toEqual([{ did: RID, pv: false, pid: 0, priv: false, exec: false, payload: (IOVA + 0x5000n) | (0x1a5n << 3n) | 7n }]);
    const prgr = (code: bigint) => (BigInt(RID) << 48n) | (code << 44n) | (0x1a5n << 32n);
    b.submit(atsPrgr({ rid: RID }, prgr(0n)), atsPrgr({ rid: RID }, prgr(0x5n)));
    // A reserved response code reaches the function as Response Failure.
    expect(fn.pageResponses).toEqual([
      { rid: RID, segment: 0, pasid: null, groupIndex: 0x1a5, code: PageResponseCode.Success },
      { rid: RID, segment: 0, pasid: null, groupIndex: 0x1a5, code: PageResponseCode.ResponseFailure },
    ]);
    b.submit(atsPrgr({ rid: 0x20 }, prgr(0n)));
    expect(port.counters).toMatchObject({ pageResponsesDelivered: 2, pageResponsesUnclaimed: 1 });
  });
});
