// What the SMMU tells the driver: event records (IHI 0070 7.3) decoded and reported to the IOMMU
// core with the device that owns the StreamID, Event queue overflow (7.4), page requests
// (chapter 8) answered as Linux does, and global errors (7.5): a command the SMMU cannot
// process stops the Command queue (7.1, CMDQ_CONS.ERR) until the driver skips it the way
// Linux's arm_smmu_cmdq_skip_err does and acknowledges GERROR.CMDQ_ERR in GERRORN.

import { describe, expect, it } from 'vitest';
import { cmdAtcInv, type CommandWords } from '../../../../src/formats/smmuv3/commands.js';
import { EventType } from '../../../../src/formats/smmuv3/records.js';
import { Reg } from '../../../../src/formats/smmuv3/registers.js';
import { Prot, type IommuFault } from '../../../../src/os/core/types.js';
import { ENGINE_SID, SmmuV3Machine } from '../../../support/smmuv3-machine.js';

function collect(m: SmmuV3Machine): IommuFault[] {
  const faults: IommuFault[] = [];
  m.kernel.iommu.faultObservers.push((f) => faults.push(f));
  return faults;
}

describe('SMMUv3 driver: events (7.3)', () => {
  it('reports a translation fault to the owner of the StreamID\'s domain, with the access and address', () => {
    const m = new SmmuV3Machine({ endpoints: [{ name: 'ep', sids: [0x40, 0x41] }] });
    const core = m.kernel.iommu;
    const handled: IommuFault[] = [];
    const ep = m.endpoint('ep');
    core.setFaultHandler(core.domainOf(ep)!, (f) => handled.push(f) > 0);
    // A write to an unmapped address through the endpoint's second StreamID.
    expect(m.translate(0x41, 0x1234_5678n, { write: true })).toMatchObject({ event: 'F_TRANSLATION' });
    m.kernel.poll();
    expect(handled).toEqual([
      {
        device: ep,
        iova: 0x1234_5678n,
        read: false,
        write: true,
        exec: false,
        privileged: false,
        pasid: null,
        cause: EventType.F_TRANSLATION,
        reason: 'F_TRANSLATION: translation fault',
        iommu: m.driver.name,
      },
    ]);
    // A read-only page written: F_PERMISSION, to the engine's domain owner.
    core.map(core.domainOf(m.engineDevice)!, 0x3000n, 0x8030_0000n, 0x1000n, Prot.READ);
    m.translate(ENGINE_SID, 0x3010n, { write: true });
    m.kernel.poll();
    const d = m.driver;
    expect(d.stats.events.byType).toEqual({ F_TRANSLATION: 1, F_PERMISSION: 1 });
    expect(d.recentEvents[1]).toMatchObject({ name: 'F_PERMISSION', sid: ENGINE_SID, write: true, s2: false, className: 'IN', inputAddress: 0x3010n });
    expect(m.logMatching(/event: F_PERMISSION \(permission fault\), StreamID 0x1000 \(3020000\.dma-controller\), unprivileged data write, iova 0x3010, stage 1 IN/).length).toBe(1);
  });

  it('reports events of StreamIDs nobody owns with no device, and counts them', () => {
    const m = new SmmuV3Machine();
    const faults = collect(m);
    // CR2.RECINVSID: a StreamID without a level-2 array records C_BAD_STREAMID.
    expect(m.translate(0x7700, 0x5000n)).toMatchObject({ event: 'C_BAD_STREAMID' });
    m.kernel.poll();
    expect(faults).toEqual([expect.objectContaining({ device: null, cause: EventType.C_BAD_STREAMID, reason: 'C_BAD_STREAMID: StreamID out of range of the Stream table' })]);
    expect(m.driver.stats.events.unknownDevice).toBe(1);
    expect(m.logMatching(/StreamID 0x7700 \(unassigned\)/).length).toBe(1);
  });

  it('reports faults of PCI functions by requester id, and decodes stage-2 faults', () => {
    const m = new SmmuV3Machine({ pci: [{ device: 2, ats: false }], driver: { domainStage: 's2' } });
    const fn = m.device('0000:00:02.0');
    const faults = collect(m);
    expect(m.translate(0x10, 0xabc000n)).toMatchObject({ event: 'F_TRANSLATION' });
    m.kernel.poll();
    expect(faults).toEqual([expect.objectContaining({ device: fn, iova: 0xabc000n, read: true })]);
    expect(m.driver.recentEvents[0]).toMatchObject({ s2: true, ipa: 0xabc000n, sid: 0x10 });
    expect(m.logMatching(/stage 2 IN, ipa 0xabc000/).length).toBe(1);
  });

  it('notices an Event queue overflow, acknowledges it, and records again afterwards (7.4)', () => {
    const m = new SmmuV3Machine({ driver: { eventqLog2: 2 } });
    const d = m.driver;
    expect(d.eventq.ring.entries).toBe(4);
    // Faults while interrupts are not taken: four records fit, the rest are lost.
    for (let i = 0; i < 7; i++) m.translate(ENGINE_SID, BigInt(0x10000 * (i + 1)));
    expect(m.smmu.statistics().events.overflowed).toBe(3);
    const prod = m.smmu.mmio.read32(Reg.EVENTQ_PROD) >>> 0;
    expect(prod >>> 31).toBe(1); // OVFLG toggled
    m.kernel.poll();
    expect(d.stats.events).toMatchObject({ handled: 4, overflows: 1 });
    expect(m.logMatching(/Event queue overflow detected/).length).toBe(1);
    // CONS.OVACKFLG now equals PROD.OVFLG: the overflow is acknowledged.
    expect((m.smmu.mmio.read32(Reg.EVENTQ_CONS) >>> 0) >>> 31).toBe(1);
    m.translate(ENGINE_SID, 0x900000n);
    m.kernel.poll();
    expect(d.stats.events).toMatchObject({ handled: 5, overflows: 1 });
  });
});

describe('SMMUv3 driver: page requests (chapter 8)', () => {
  it('logs unexpected page requests and answers a complete group with ResponseFailure (Linux PRI_RESP_DENY)', () => {
    const m = new SmmuV3Machine({ pci: [{ device: 1 }] });
    const fn = m.pciEngines[0];
    const request = { pasid: null, privileged: false, exec: false, address: 0x5000n, read: true, write: false, groupIndex: 7 };
    fn.sendPageRequest({ ...request, last: false });
    fn.sendPageRequest({ ...request, address: 0x6000n, last: true });
    m.kernel.poll();
    expect(m.driver.stats.pageRequests).toEqual({ received: 2, responded: 1, overflows: 0 });
    expect(m.logMatching(/unexpected PRI request: StreamID 0x8 group 7 \(last\), unprivileged R at 0x6000/).length).toBe(1);
    expect(fn.pageResponses).toEqual([{ rid: 8, segment: 0, pasid: null, groupIndex: 7, code: 0xf }]);
  });
});

describe('SMMUv3 driver: global errors (7.5)', () => {
  const ILLEGAL: CommandWords = [0x7fn, 0n]; // a reserved opcode: CERROR_ILL (4.1.4)

  it('skips an illegal command found while waiting for a CMD_SYNC, and the queue flows again', () => {
    const m = new SmmuV3Machine();
    const d = m.driver;
    const at = d.cmdq.producerIndex;
    d.cmdq.submit(ILLEGAL);
    // The SMMU stopped at it: CMDQ_CONS.RD on the command, ERR = CERROR_ILL, GERROR.CMDQ_ERR active.
    expect(m.smmu.mmio.read32(Reg.CMDQ_CONS) >>> 0).toBe(((1 << 24) | at) >>> 0);
    expect((m.smmu.mmio.read32(Reg.GERROR) ^ m.smmu.mmio.read32(Reg.GERRORN)) & 1).toBe(1);
    d.cmdq.sync();
    // Replaced in place by a CMD_SYNC, acknowledged in GERRORN, and the later CMD_SYNC completed.
    expect(m.commandsSince(at).map((c) => c.name)).toEqual(['CMD_SYNC', 'CMD_SYNC']);
    expect(m.smmu.mmio.read32(Reg.GERROR)).toBe(m.smmu.mmio.read32(Reg.GERRORN));
    expect(d.stats.commandErrors).toEqual({ CERROR_ILL: 1 });
    expect(d.stats.globalErrors).toEqual({ CMDQ_ERR: 1 });
    expect(m.logMatching(/CERROR_ILL \(CMDQ_CONS 0x01000[0-9a-f]{3}\): skipping reserved 0x7f 0x000000000000007f 0x0000000000000000, replaced by a CMD_SYNC/).length).toBe(1);
    expect(m.smmu.statistics().commandErrors.ill).toBe(1);
    // Mapping and unmapping work on.
    const domain = m.kernel.iommu.domainOf(m.engineDevice)!;
    m.kernel.iommu.map(domain, 0x1000n, 0x8010_0000n, 0x1000n, Prot.READ);
    expect(m.translate(ENGINE_SID, 0x1000n)).toEqual({ address: 0x8010_0000n });
    m.kernel.iommu.unmap(domain, 0x1000n, 0x1000n);
    expect(m.translate(ENGINE_SID, 0x1000n)).toMatchObject({ event: 'F_TRANSLATION' });
    expect(d.stats.syncTimeouts).toBe(0);
  });

  it('repairs the queue from the gerror interrupt, without anyone waiting', () => {
    const m = new SmmuV3Machine();
    const d = m.driver;
    d.cmdq.submit(ILLEGAL);
    m.kernel.poll();
    expect(d.stats.interrupts.gerror).toBe(1);
    expect(d.stats.globalErrors).toEqual({ CMDQ_ERR: 1 });
    // The replacement CMD_SYNC was consumed once the error was acknowledged (CMDQ_CONS.RD; ERR
    // keeps its last value, meaningful only while CMDQ_ERR is active, 6.3.28).
    expect(m.smmu.mmio.read32(Reg.CMDQ_CONS) & 0xfffff).toBe(d.cmdq.producerIndex);
  });

  it('retries a CMD_SYNC that found an ATC invalidation without completion (CERROR_ATC_INV_SYNC)', () => {
    const m = new SmmuV3Machine({ pci: [{ device: 1 }] });
    const d = m.driver;
    // No function answers requester id 0x55: the Invalidation Request gets no completion (3.9.1.4).
    d.cmdq.submit(cmdAtcInv(0x55, 0n, 52));
    d.cmdq.sync();
    expect(d.stats.commandErrors).toEqual({ CERROR_ATC_INV_SYNC: 1 });
    expect(m.logMatching(/CERROR_ATC_INV_SYNC .*the CMD_SYNC is retried/).length).toBe(1);
    expect(m.smmu.statistics().ats.atcInvalidationFailures).toBe(1);
  });

  it('times out clearly when the Command queue never moves', () => {
    const m = new SmmuV3Machine();
    const d = m.driver;
    // Firmware-style sabotage: the queue is turned off behind the driver's back.
    m.smmu.mmio.write32(Reg.CR0, 0);
    expect(() => d.cmdq.sync()).toThrow(/CMD_SYNC at index \d+ did not complete after the polling budget \(CMDQ_PROD 0x[0-9a-f]{8}, CMDQ_CONS/);
    expect(d.stats.syncTimeouts).toBe(1);
  });
});
