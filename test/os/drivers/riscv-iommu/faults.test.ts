// Faults and queue errors on the RISC-V IOMMU driver: fault records read from the fault queue
// and decoded field by field (specification "Fault/Event-Queue (FQ)": CAUSE, TTYP, DID, PV/PID,
// PRIV, iotval, iotval2), routed to the owner of the device's domain through the IOMMU core;
// fqh advanced; overflow (fqof) handled; command-queue errors (cmd_ill, cqmf, cmd_to) handled as
// the interrupt guidelines say, with clear log messages.

import { describe, expect, it } from 'vitest';
import { atsInval, Reg } from '../../../../src/formats/riscv-iommu/index.js';
import { Prot, type IommuFault } from '../../../../src/os/core/types.js';
import { RiscvIommuError } from '../../../../src/os/drivers/riscv-iommu/index.js';
import { OsMachine } from '../../../support/os-machine.js';

function collect(m: OsMachine): IommuFault[] {
  const faults: IommuFault[] = [];
  m.kernel.iommu.setFaultHandler(m.kernel.iommu.domainOf(m.endpoint)!, (f) => faults.push(f) > 0);
  return faults;
}

describe('RISC-V IOMMU driver: faults', () => {
  it('reports a read of an unmapped IOVA to the domain owner, decoded, and consumes the record', () => {
    const m = new OsMachine();
    const faults = collect(m);
    expect(m.translate(5, 0x1234_5678n)).toMatchObject({ cause: 13 });
    expect(m.reg32(Reg.fqt)).toBe(1);
    expect(faults).toEqual([]); // taken only at a safe point
    m.kernel.poll();
    expect(faults).toHaveLength(1);
    const f = faults[0];
    expect(f.device).toBe(m.endpoint);
    expect({ ...f, device: null }).toEqual({
      device: null,
      iova: 0x1234_5678n,
      read: true,
      write: false,
      exec: false,
      privileged: false,
      pasid: null,
      cause: 13,
      reason: 'Read page fault',
      iommu: '3010000.iommu',
    });
    expect(m.reg32(Reg.fqh)).toBe(1);
    expect(m.reg32(Reg.ipsr) & 2).toBe(0);
    expect(m.logMatching(/fault: cause 13 \(Read page fault\), untranslated read \(TTYP 2\), device 0x5 \(3020000\.dma\), iotval 0x12345678, iotval2 0x0/)).toHaveLength(1);
    const d = m.driver;
    expect(d.stats.faults).toMatchObject({ handled: 1, unknownDevice: 0, byCause: { 13: 1 } });
    expect(d.recentFaults[0]).toMatchObject({ cause: 13, ttyp: 2, deviceId: 5, pv: false, iotval: 0x1234_5678n });
  });

  it('reports writes to read-only pages and executes of no-execute pages by their cause', () => {
    const m = new OsMachine();
    const faults = collect(m);
    const domain = m.kernel.iommu.domainOf(m.endpoint)!;
    m.kernel.iommu.map(domain, 0x4000n, 0x8004_0000n, 0x1000n, Prot.READ | Prot.NOEXEC);
    m.translate(5, 0x4010n, { write: true });
    m.translate(5, 0x4020n, { execute: true });
    m.kernel.poll();
    expect(faults.map((f) => [f.cause, f.reason, f.write, f.exec, f.iova])).toEqual([
      [15, 'Write/AMO page fault', true, false, 0x4010n],
      [12, 'Instruction page fault', false, true, 0x4020n],
    ]);
  });

  it('reports faults of device ids it does not know with no device', () => {
    const m = new OsMachine();
    m.translate(99, 0x1000n);
    m.kernel.poll();
    expect(m.driver.stats.faults).toMatchObject({ handled: 1, unknownDevice: 1, byCause: { 258: 1 } });
    expect(m.logMatching(/unhandled fault: unknown device read at 0x1000: DDT entry not valid \(cause 258\)/)).toHaveLength(1);
  });

  it('handles a fault-queue overflow: clears fqof, reports every record that was kept', () => {
    const m = new OsMachine();
    const faults = collect(m);
    const capacity = m.driver.fltq.ring.entries - 1; // one slot always stays empty
    for (let i = 0; i < capacity + 5; i++) m.translate(5, BigInt(i) << 12n);
    expect(m.reg32(Reg.fqcsr) & (1 << 9)).not.toBe(0); // fqof
    m.kernel.poll();
    expect(m.reg32(Reg.fqcsr) & (1 << 9)).toBe(0);
    expect(faults).toHaveLength(capacity);
    expect(faults.at(-1)?.iova).toBe(BigInt(capacity - 1) << 12n);
    expect(m.driver.stats.queueErrors.faultQueueOverflow).toBe(1);
    expect(m.logMatching(/fault queue overflow \(fqof\): records were dropped/)).toHaveLength(1);
    // Recording resumed.
    m.translate(5, 0x7777_0000n);
    m.kernel.poll();
    expect(faults.at(-1)?.iova).toBe(0x7777_0000n);
  });
});

describe('RISC-V IOMMU driver: command-queue errors', () => {
  it('cmd_ill: logs the command, replaces it, and processing resumes', () => {
    const m = new OsMachine();
    const cq = m.driver.cmdq;
    const at = cq.producerIndex;
    cq.submit([0x5n, 0n]); // opcode 5 is reserved
    expect(m.reg32(Reg.cqcsr) & (1 << 10)).not.toBe(0);
    cq.sync();
    expect(m.reg32(Reg.cqcsr) & (1 << 10)).toBe(0);
    expect(m.reg32(Reg.cqh)).toBe(cq.producerIndex);
    expect(cq.entry(at)[0] & 0x7fn).toBe(2n); // now an IOFENCE.C
    expect(m.logMatching(new RegExp(`illegal command opcode 5 func3 0 at index ${at} .*replaced by IOFENCE.C`))).toHaveLength(1);
    expect(m.driver.stats.queueErrors.commandIllegal).toBe(1);
    // The CQ interrupt was taken and cleared as well.
    m.kernel.poll();
    expect(m.reg32(Reg.ipsr) & 1).toBe(0);
  });

  it('cqmf: a fence whose completion write faults ends in a clear error, without an interrupt storm', () => {
    const m = new OsMachine();
    const cq = m.driver.cmdq;
    m.memory.markAccessFault(cq.fenceAddress, 4n);
    expect(() => cq.sync()).toThrow(RiscvIommuError);
    expect(() => cq.sync()).toThrow(/stopped by persistent memory faults/);
    expect(m.logMatching(/IOFENCE\.C \(data \d+\) did not complete after the polling budget \(cqh=\d+, cqt=\d+, cqcsr=0x\w+\)/)).toHaveLength(1);
    expect(m.logMatching(/command queue: memory fault \(cqmf\)/).length).toBeGreaterThan(0);
    expect(m.logMatching(/memory faults persist/)).toHaveLength(1);
    expect(m.driver.stats.fenceTimeouts).toBe(1);
    expect(m.logMatching(/interrupt storm/)).toEqual([]);
  });

  it('cmd_to: an ATS invalidation nobody answers times out; the fence is retried and completes', () => {
    const m = new OsMachine({ iommu: { atsInvalidationTimeoutCycles: 200 } });
    const cq = m.driver.cmdq;
    cq.submit(atsInval({ rid: 5 }, 0n));
    const start = m.clock.now;
    cq.sync();
    expect(m.clock.now - start).toBeGreaterThanOrEqual(200); // the driver waited in simulated time
    expect(m.driver.stats.queueErrors.commandTimeout).toBe(1);
    expect(m.logMatching(/an ATS invalidation timed out \(cmd_to\)/)).toHaveLength(1);
    expect(m.reg32(Reg.cqcsr) & (1 << 9)).toBe(0);
  });

  it('counts commands by name, invalidations by scope, and fences', () => {
    const m = new OsMachine();
    const s = m.driver.stats;
    expect(s.commands).toEqual({ 'IODIR.INVAL_DDT': 2, 'IOTINVAL.VMA': 1, 'IOFENCE.C': 2 });
    expect(s.invalidations).toEqual({ pages: 0, pscid: 0, all: 1, directory: 2 });
    expect(s.fences).toBe(2);
    const domain = m.kernel.iommu.domainOf(m.endpoint)!;
    m.kernel.iommu.map(domain, 0x1000n, 0x8000_0000n, 0x2000n, Prot.READ);
    m.kernel.iommu.unmap(domain, 0x1000n, 0x1000n);
    expect(s.invalidations.pages).toBe(1);
    expect(s.fences).toBe(3);
    expect(s.commands['IOTINVAL.VMA']).toBe(2);
  });
});
