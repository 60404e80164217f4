// Passing devices through (Xen XEN_DOMCTL_assign_device -> iommu_assign_dt_device ->
// ipmmu_assign_device): one IPMMU context per domain on the root, programmed with the domain's
// P2M as is (ipmmu_domain_init_context: IMTTLBR0/IMTTUBR0 = P2M root, IMTTBCR EAE | PMB | SL0
// level 1 | TSZ0 = 64 - 40), the context enabled in each cache IPMMU the domain's devices sit
// behind, each device's micro-TLB pointed at it (ipmmu_utlb_enable), and deassignment
// (ipmmu_deassign_device) back to quarantine; the guest's DMA lands in its own RAM.

import { describe, expect, it } from 'vitest';
import { Status } from '../../../src/devices/dma-engine/index.js';
import { ContextReg, contextRegisterOffset, Imctr, Imttbcr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { DOMID_IO, GUEST_RAM0_BASE, XenError } from '../../../src/hyp/xen/index.js';
import { nodePath, XenMachine } from '../../support/xen-machine.js';

function contextOf(m: XenMachine, domainId: number): number {
  const d = m.xen.statistics().domains.find((x) => x.id === domainId);
  if (d === undefined || d.contexts.length !== 1) throw new Error(`domain ${domainId} holds no single context`);
  return d.contexts[0].context;
}

function rootReg(m: XenMachine, ctx: number, reg: number): number {
  return m.root.read32(contextRegisterOffset(m.root.parameters.layout, ctx, reg));
}

describe('assigning devices to a guest', () => {
  it('programs one root context with the guest P2M and points the device micro-TLB at it', () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'guest', memoryMiB: 8, devices: [nodePath('dmac1')] });
    const ctx = contextOf(m, g.id);
    const root = g.p2m.rootAddress;
    expect(rootReg(m, ctx, ContextReg.IMTTLBR0)).toBe(Number(root & 0xffff_f000n));
    expect(rootReg(m, ctx, ContextReg.IMTTUBR0)).toBe(Number(root >> 32n));
    expect(rootReg(m, ctx, ContextReg.IMTTBCR) >>> 0).toBe((Imttbcr.EAE | Imttbcr.PMB | (1 << Imttbcr.SL0_SHIFT) | 24) >>> 0);
    expect(rootReg(m, ctx, ContextReg.IMCTR)).toBe(Imctr.VA64 | Imctr.INTEN | Imctr.MMUEN);
    const cache = m.ipmmu('ipmmu_ds1');
    expect(cache.read32(contextRegisterOffset(cache.parameters.layout, ctx, ContextReg.IMCTR))).toBe(Imctr.INTEN | Imctr.MMUEN);
    expect(cache.utlbState(0)).toEqual({ enabled: true, context: ctx });
    expect(m.xen.device(nodePath('dmac1')).domain).toBe(g);
  });

  it("lets the guest's device DMA between guest-physical addresses, into the machine frames of its RAM", () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'guest', memoryMiB: 8, devices: [nodePath('dmac1')] });
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    g.memory.write(GUEST_RAM0_BASE + 0x10n, data);
    expect(m.copy(g, 'dmac1', GUEST_RAM0_BASE + 0x10n, GUEST_RAM0_BASE + 0x30_0000n, 300)).toBe(Status.DONE);
    expect([...g.memory.read(GUEST_RAM0_BASE + 0x30_0000n, 300)]).toEqual([...data]);
    const machine = g.p2m.translate(GUEST_RAM0_BASE + 0x30_0000n)!;
    expect([...m.memory.readBytes(machine, 4)]).toEqual([...data.subarray(0, 4)]);
    expect(machine).not.toBe(GUEST_RAM0_BASE + 0x30_0000n); // not direct-mapped
  });

  it('shares one context among all the devices of a domain, across cache IPMMUs', () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'guest', devices: ['dmac1', 'dmac2', 'dmac3', 'dmac4'].map(nodePath) });
    const ctx = contextOf(m, g.id);
    expect(m.ipmmu('ipmmu_ds1').utlbState(0).context).toBe(ctx);
    expect(m.ipmmu('ipmmu_ds1').utlbState(1).context).toBe(ctx);
    expect(m.ipmmu('ipmmu_ds0').utlbState(2).context).toBe(ctx);
    expect(m.ipmmu('ipmmu_hc').utlbState(0).context).toBe(ctx);
    expect(m.logMatching(/dma@e7310000: reusing IPMMU context/)).toHaveLength(2); // once in quarantine, once in the guest
    for (const e of ['dmac1', 'dmac2', 'dmac3', 'dmac4']) expect(m.fill(g, e, GUEST_RAM0_BASE, 64, 0x0101_0101_0101_0101n)).toBe(Status.DONE);
  });

  it('deassigns a device back to quarantine: its micro-TLB points at dom_io, its registers leave the guest P2M', () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'guest', devices: [nodePath('dmac1'), nodePath('dmac2')] });
    m.xen.deassignDevice(g, nodePath('dmac1'));
    expect(m.xen.device(nodePath('dmac1')).domain?.id).toBe(DOMID_IO);
    expect(m.ipmmu('ipmmu_ds1').utlbState(0).context).toBe(contextOf(m, DOMID_IO));
    expect(m.ipmmu('ipmmu_ds1').utlbState(1).context).toBe(contextOf(m, g.id));
    expect(() => g.memory.read32(0xe730_0000n)).toThrow(/nothing is mapped/);
    // The context stays the guest's while it lives; dmac2 still works.
    expect(m.fill(g, 'dmac2', GUEST_RAM0_BASE, 8, 5n)).toBe(Status.DONE);
  });

  it('gives a device back to dom0 after a guest had it', () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'guest', devices: [nodePath('dmac3')] });
    m.xen.deassignDevice(g, nodePath('dmac3'));
    m.xen.assignDevice(m.xen.dom0!, nodePath('dmac3'));
    expect(m.ipmmu('ipmmu_ds0').utlbState(2).context).toBe(contextOf(m, 0));
    const at = BigInt(m.xen.dom0!.ram[0].mfn) << 12n;
    expect(m.fill(m.xen.dom0!, 'dmac3', at, 16, 0x7777n)).toBe(Status.DONE);
  });

  it('refuses a device dom0 owns, an unknown path, a device without iommus, and a second assignment', () => {
    const m = new XenMachine();
    expect(() => m.xen.createDomain({ name: 'a', devices: [nodePath('dmac0')] })).toThrow(/already assigned to d0 \(Domain-0\)/);
    expect(() => m.xen.createDomain({ name: 'b', devices: ['/soc/nothing@0'] })).toThrow(XenError);
    expect(() => m.xen.createDomain({ name: 'c', devices: ['/soc/interrupt-controller@f1010000'] })).toThrow(/no usable iommus/);
    const g = m.xen.createDomain({ name: 'd', devices: [nodePath('dmac1')] });
    const h = m.xen.createDomain({ name: 'e' });
    expect(() => m.xen.assignDevice(h, nodePath('dmac1'))).toThrow(/already assigned to d\d \(d\)/);
    expect(() => m.xen.deassignDevice(h, nodePath('dmac1'))).toThrow(/not assigned to/);
    // A failed creation leaves nothing behind: no domain, no context, the heap as it was.
    expect([...m.xen.domains.values()].map((x) => x.name).sort()).toEqual(['Domain-0', 'd', 'dom_io', 'e']);
    expect(g.devices.size).toBe(1);
  });

  it('refuses a guest when every context of the root is taken (-EBUSY), leaving its device quarantined', () => {
    const m = new XenMachine();
    // 8 contexts: 0 reserved, dom_io, dom0, and five guests with a device each.
    const devices = ['dmac1', 'dmac2', 'dmac3', 'dmac4'].map(nodePath);
    const guests = devices.map((dev, i) => m.xen.createDomain({ name: `g${i}`, memoryMiB: 2, devices: [dev] }));
    m.xen.deassignDevice(guests[0], devices[0]);
    m.xen.createDomain({ name: 'g4', memoryMiB: 2, devices: [devices[0]] }); // the fifth context
    m.xen.deassignDevice(guests[1], devices[1]);
    const before = m.xen.heap.stats.freePages;
    expect(() => m.xen.createDomain({ name: 'g5', memoryMiB: 2, devices: [devices[1]] })).toThrow(/no free IPMMU context on \/soc\/iommu@e67b0000/);
    expect(m.xen.heap.stats.freePages).toBe(before);
    expect(m.xen.device(devices[1]).domain?.id).toBe(DOMID_IO);
  });

  it('holds one context on each root IPMMU its devices sit behind (several IPMMU trees, one driver)', () => {
    const m = new XenMachine({ secondRoot: true });
    const g = m.xen.createDomain({ name: 'two-trees', memoryMiB: 2, devices: [nodePath('dmac1'), nodePath('dmac5')] });
    const held = m.xen.statistics().domains.find((d) => d.id === g.id)!.contexts;
    expect(held.map((c) => c.iommu).sort()).toEqual([nodePath('ipmmu_mm'), nodePath('ipmmu_mm2')].sort());
    expect(m.fill(g, 'dmac1', GUEST_RAM0_BASE, 8, 0x11n)).toBe(Status.DONE);
    expect(m.fill(g, 'dmac5', GUEST_RAM0_BASE + 8n, 8, 0x22n)).toBe(Status.DONE);
    expect(g.memory.read64(GUEST_RAM0_BASE + 8n)).toBe(0x22n);
    // A fault behind the second root is reported by it.
    m.fill(g, 'dmac5', 0x7000_0000n, 8, 0n);
    m.poll();
    expect(m.xen.faults[0]).toMatchObject({ iommu: nodePath('ipmmu_mm2'), domain: g, devices: [nodePath('dmac5')] });
    m.xen.destroyDomain(g);
    expect(m.xen.statistics().iommu.instances.flatMap((i) => i.contexts).filter((c) => c.domain === g.label)).toEqual([]);
  });
});
