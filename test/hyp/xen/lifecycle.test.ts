// Guest lifecycle: destroy (devices deassigned before anything is freed, the IPMMU context
// disabled and given back: ipmmu_iommu_domain_teardown -> ipmmu_domain_destroy_context, the
// P2M and RAM returned to the heap), reboot (destroy, then create again with the same
// devices: a new domain id, as Xen's toolstack does), several guests at once.

import { describe, expect, it } from 'vitest';
import { Status } from '../../../src/devices/dma-engine/index.js';
import { ContextReg, contextRegisterOffset, Imctr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { DOMID_IO, GUEST_RAM0_BASE, XenError } from '../../../src/hyp/xen/index.js';
import { nodePath, XenMachine } from '../../support/xen-machine.js';

function contexts(m: XenMachine): { context: number; domain: string | null }[] {
  return m.xen.statistics().iommu.instances[0].contexts;
}

describe('destroying a guest', () => {
  it('quarantines its devices, disables and frees its context, and returns its P2M and RAM to the heap', () => {
    const m = new XenMachine();
    const free = m.xen.heap.stats.freePages;
    const g = m.xen.createDomain({ name: 'guest', memoryMiB: 4, devices: [nodePath('dmac1'), nodePath('dmac4')] });
    const ctx = contexts(m).find((c) => c.domain === g.label)!.context;
    expect(m.xen.heap.stats.freePages).toBeLessThan(free - 1024);
    m.xen.destroyDomain(g);
    expect(g.state).toBe('dead');
    expect(m.xen.domains.has(g.id)).toBe(false);
    expect(m.xen.heap.stats.freePages).toBe(free);
    expect(contexts(m).map((c) => c.context)).not.toContain(ctx);
    expect(m.root.read32(contextRegisterOffset(m.root.parameters.layout, ctx, ContextReg.IMCTR)) & Imctr.MMUEN).toBe(0);
    const quarantine = contexts(m).find((c) => c.domain === 'dom_io')!.context;
    expect(m.ipmmu('ipmmu_ds1').utlbState(0)).toEqual({ enabled: true, context: quarantine });
    expect(m.ipmmu('ipmmu_hc').utlbState(0)).toEqual({ enabled: true, context: quarantine });
    expect(m.xen.device(nodePath('dmac1')).domain?.id).toBe(DOMID_IO);
    expect(m.logMatching(/context \d freed/)).toEqual([`ipmmu: /soc/iommu@e67b0000: ${g.label}: IPMMU context ${ctx} freed`]);
  });

  it('stops its CPU: accesses to a destroyed domain are refused', () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'guest' });
    g.memory.write32(GUEST_RAM0_BASE, 1);
    m.xen.destroyDomain(g);
    expect(() => g.memory.read32(GUEST_RAM0_BASE)).toThrow(/not running/);
    expect(() => m.xen.assignDevice(g, nodePath('dmac1'))).toThrow(XenError);
  });

  it('reuses the freed context for the next guest', () => {
    const m = new XenMachine();
    const a = m.xen.createDomain({ name: 'a', devices: [nodePath('dmac1')] });
    const ctx = contexts(m).find((c) => c.domain === a.label)!.context;
    m.xen.destroyDomain(a);
    const b = m.xen.createDomain({ name: 'b', devices: [nodePath('dmac2')] });
    expect(contexts(m).find((c) => c.domain === b.label)!.context).toBe(ctx);
  });
});

describe('rebooting a guest', () => {
  it('rebuilds it with the same memory and devices under a new id; its devices work again, on fresh RAM', () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'web', memoryMiB: 4, devices: [nodePath('dmac2')] });
    g.memory.write32(GUEST_RAM0_BASE + 0x100n, 0x1234_5678);
    const r = m.xen.rebootDomain(g);
    expect(r.id).not.toBe(g.id);
    expect(r.name).toBe('web');
    expect(r.ramPages).toBe(4 * 256);
    expect([...r.devices].map((d) => d.path)).toEqual([nodePath('dmac2')]);
    expect(r.memory.read32(GUEST_RAM0_BASE + 0x100n)).toBe(0); // RAM is scrubbed
    r.memory.write32(GUEST_RAM0_BASE, 0xcafe_f00d);
    expect(m.copy(r, 'dmac2', GUEST_RAM0_BASE, GUEST_RAM0_BASE + 0x1000n, 4)).toBe(Status.DONE);
    expect(r.memory.read32(GUEST_RAM0_BASE + 0x1000n)).toBe(0xcafe_f00d);
    expect(() => m.xen.rebootDomain(m.xen.dom0!)).toThrow(/only guests reboot/);
  });
});

describe('several guests at once', () => {
  it('gives each its own context; each one DMAs into its own RAM at the same guest-physical addresses', () => {
    const m = new XenMachine();
    const guests = [
      m.xen.createDomain({ name: 'a', memoryMiB: 2, devices: [nodePath('dmac1')] }),
      m.xen.createDomain({ name: 'b', memoryMiB: 2, devices: [nodePath('dmac2')] }),
      m.xen.createDomain({ name: 'c', memoryMiB: 2, devices: [nodePath('dmac4')] }),
    ];
    const engines = ['dmac1', 'dmac2', 'dmac4'];
    const used = new Set(guests.map((g) => contexts(m).find((c) => c.domain === g.label)!.context));
    expect(used.size).toBe(3);
    guests.forEach((g, i) => expect(m.fill(g, engines[i], GUEST_RAM0_BASE + 0x800n, 8, BigInt(0x11 * (i + 1)))).toBe(Status.DONE));
    guests.forEach((g, i) => expect(g.memory.read(GUEST_RAM0_BASE + 0x800n, 1)[0]).toBe(0x11 * (i + 1)));
    const s = m.xen.statistics();
    expect(s.domains.filter((d) => d.kind === 'guest').map((d) => d.devices.length)).toEqual([1, 1, 1]);
  });
});
