// Attaching devices to domains through the IOMMU core on the RISC-V IOMMU driver, observed on
// the model and in memory: device-context contents (specification "Device-context fields"),
// the update order and the commands of "Changing device directory table entry" (V cleared and
// invalidated first, V written last, IODIR.INVAL_DDT, IOTINVAL.VMA for the old PSCID,
// IOFENCE.C), identity (iosatp Bare) and blocked (invalid context: cause 258) domains, devices
// with several device_ids, and groups.

import { describe, expect, it } from 'vitest';
import { DcWord } from '../../../../src/formats/riscv-iommu/index.js';
import { DomainType, Prot, type IommuFault } from '../../../../src/os/core/types.js';
import { RiscvPagingDomain } from '../../../../src/os/drivers/riscv-iommu/index.js';
import { OsMachine } from '../../../support/os-machine.js';

const V = 1n;
const SADE = 1n << 8n;

function dcOf(m: OsMachine, id: number) {
  const d = m.driver.directory;
  const a = d.contextAddress(id, false);
  if (a === null) throw new Error(`no context for ${id}`);
  return { address: a, ...d.read(a) };
}

function pagingOf(m: OsMachine, domain = m.kernel.iommu.domainOf(m.endpoint)): RiscvPagingDomain {
  const d = domain?.driverData;
  if (!(d instanceof RiscvPagingDomain)) throw new Error('not a paging domain');
  return d;
}

describe('RISC-V IOMMU driver: attach', () => {
  it('points the default DMA domain at a first-stage table: tc V+SADE, iosatp Sv57 and root, ta PSCID', () => {
    const m = new OsMachine();
    const p = pagingOf(m);
    const dc = dcOf(m, 5);
    expect(dc.tc).toBe(V | SADE);
    expect(dc.fsc).toBe((10n << 60n) | BigInt(p.pgtable.root));
    expect(dc.ta).toBe(BigInt(p.pscid) << 12n);
    expect(dc.iohgatp).toBe(0n);
    expect(p.pscid).toBe(1);
    expect(p.attached.size).toBe(1);
    expect(p.attached.has(m.endpoint)).toBe(true);
  });

  it('sets no SADE without hardware A/D updating, and the leaves it maps are born dirty', () => {
    const m = new OsMachine({ iommu: { capabilities: { AMO_HWAD: false } } });
    expect(dcOf(m, 5).tc).toBe(V);
    const domain = m.kernel.iommu.domainOf(m.endpoint)!;
    m.kernel.iommu.map(domain, 0x7000n, 0x8070_0000n, 0x1000n, Prot.READ | Prot.WRITE);
    expect(m.translate(5, 0x7008n, { write: true })).toEqual({ address: 0x8070_0008n });
  });

  it('queues IODIR.INVAL_DDT and IOFENCE.C when a context first becomes valid', () => {
    const m = new OsMachine();
    const cmds = m.commandsSince(3); // after the bring-up invalidation
    expect(cmds.map((c) => c.name)).toEqual(['IODIR.INVAL_DDT', 'IOFENCE.C']);
    // IODIR.INVAL_DDT with DV=1 and DID=5.
    expect(cmds[0].words).toEqual([3n | (1n << 33n) | (5n << 40n), 0n]);
    // IOFENCE.C with AV, PR, PW, the sequence number as data and the driver's fence word.
    const fence = cmds[1].words;
    expect(fence[0] & 0xffffffffn).toBe(2n | (1n << 10n) | (1n << 12n) | (1n << 13n));
    expect(fence[1] << 2n).toBe(m.driver.cmdq.fenceAddress);
  });

  it('switches domains as the guidelines require: invalidate the valid context first, write V last', () => {
    const m = new OsMachine();
    const core = m.kernel.iommu;
    const before = pagingOf(m);
    const dcAddress = dcOf(m, 5).address;
    const unmanaged = core.domainAlloc(m.endpoint);
    const after = pagingOf(m, unmanaged);
    expect(after.pscid).toBe(2);

    // Record the CPU's stores to the device context and what the IOMMU had executed at each.
    const stores: { word: number; value: bigint; executed: number }[] = [];
    const write = m.memory.write.bind(m.memory);
    m.memory.write = (addr, size, value) => {
      if (addr >= dcAddress && addr < dcAddress + 64n) stores.push({ word: Number(addr - dcAddress) / 8, value, executed: m.reg32(32) });
      write(addr, size, value);
    };
    const mark = m.driver.cmdq.producerIndex;
    core.attachDevice(unmanaged, m.endpoint);
    m.memory.write = write;

    expect(stores.map((s) => s.word)).toEqual([DcWord.tc, DcWord.fsc, DcWord.ta, DcWord.iohgatp, DcWord.tc]);
    expect(stores[0].value & V).toBe(0n); // invalid first
    expect(stores[4].value).toBe(V | SADE); // valid last
    expect(stores[1].value).toBe(after.iosatp);
    // The new fields were written only after the IOMMU executed the invalidation and its fence.
    expect(stores[1].executed).toBe(mark + 2);

    const cmds = m.commandsSince(mark);
    expect(cmds.map((c) => c.name)).toEqual(['IODIR.INVAL_DDT', 'IOFENCE.C', 'IODIR.INVAL_DDT', 'IOTINVAL.VMA', 'IOFENCE.C']);
    // IOTINVAL.VMA for the PSCID the old context used: PSCV=1, AV=0.
    expect(cmds[3].words).toEqual([1n | (BigInt(before.pscid) << 12n) | (1n << 32n), 0n]);
    expect(before.attached.size).toBe(0);
    expect(after.attached.has(m.endpoint)).toBe(true);

    // Translation follows the new domain.
    core.map(unmanaged, 0x5000n, 0x8123_4000n, 0x1000n, Prot.READ);
    expect(m.translate(5, 0x5010n)).toEqual({ address: 0x8123_4010n });
    core.detachDevice(unmanaged, m.endpoint);
    expect(dcOf(m, 5).fsc).toBe(before.iosatp);
    expect(m.translate(5, 0x5010n)).toMatchObject({ cause: 13 });
  });

  it('identity domain: a valid context with iosatp Bare passes addresses through', () => {
    const m = new OsMachine();
    const core = m.kernel.iommu;
    core.attachDevice(core.staticDomain(m.endpoint, DomainType.Identity), m.endpoint);
    const dc = dcOf(m, 5);
    expect(dc.tc & V).toBe(V);
    expect(dc.fsc).toBe(0n);
    expect(m.translate(5, 0x8765_4321n, { write: true })).toEqual({ address: 0x8765_4321n });
    expect(core.iovaToPhys(core.domainOf(m.endpoint)!, 0x1234n)).toBe(0x1234n);
  });

  it('blocked domain: the context goes invalid and DMA faults with cause 258 to the domain owner', () => {
    const m = new OsMachine();
    const core = m.kernel.iommu;
    const blocked = core.staticDomain(m.endpoint, DomainType.Blocked);
    const faults: IommuFault[] = [];
    core.setFaultHandler(blocked, (f) => faults.push(f) > 0);
    core.attachDevice(blocked, m.endpoint);
    expect(dcOf(m, 5).tc & V).toBe(0n);
    expect(m.translate(5, 0x1000n)).toMatchObject({ cause: 258 });
    m.kernel.poll();
    expect(faults).toHaveLength(1);
    expect(faults[0].device).toBe(m.endpoint);
    expect(faults[0]).toMatchObject({ iova: 0x1000n, read: true, write: false, cause: 258, reason: 'DDT entry not valid', pasid: null });
  });

  it('a device with several device_ids gets every context pointed at its domain', () => {
    const m = new OsMachine({ endpoints: [{ name: 'dma', deviceIds: [7, 0x1234] }] });
    const p = pagingOf(m);
    for (const id of [7, 0x1234]) expect(dcOf(m, id).fsc).toBe(p.iosatp);
    m.kernel.iommu.map(m.kernel.iommu.domainOf(m.endpoint)!, 0x2000n, 0x8400_0000n, 0x1000n, Prot.READ);
    expect(m.translate(7, 0x2000n)).toEqual({ address: 0x8400_0000n });
    expect(m.translate(0x1234, 0x2000n)).toEqual({ address: 0x8400_0000n });
    // A 3LVL directory grew non-leaf pages for both ids.
    expect(m.driver.devicesById.get(0x1234)?.[0]).toBe(m.endpoint);
  });

  it('devices with the same device_ids share a group and a domain; others do not', () => {
    const m = new OsMachine({
      endpoints: [
        { name: 'a', deviceIds: [9] },
        { name: 'b', deviceIds: [9] },
        { name: 'c', deviceIds: [10] },
      ],
    });
    const [a, b, c] = ['3020000.a', '3021000.b', '3022000.c'].map((n) => m.device(n));
    const core = m.kernel.iommu;
    expect(core.deviceIommu(a)?.group).toBe(core.deviceIommu(b)?.group);
    expect(core.deviceIommu(a)?.group).not.toBe(core.deviceIommu(c)?.group);
    expect(core.domainOf(a)).toBe(core.domainOf(b));
    const users = m.driver.devicesById.get(9) ?? [];
    expect(users.length === 2 && users[0] === a && users[1] === b).toBe(true);
  });
});
