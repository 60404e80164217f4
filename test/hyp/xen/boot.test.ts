// Booting the Xen-style hypervisor on the R-Car-like board: the IPMMU driver probes the root
// IPMMU-MM and the cache IPMMUs (Xen ipmmu_probe: reset, IMSAUXCTLR.S2PTE, context 0
// reserved, -EAGAIN while a cache IPMMU's root has not registered, retried by
// iommu_hardware_setup), devices are added with their iommus specifier (iommu_add_dt_device:
// fwspec with the IPMMU and micro-TLB, waiting for an IPMMU not registered yet), devices kept for
// guests (xen,passthrough) are quarantined and dom0 gets the others.

import { describe, expect, it } from 'vitest';
import { ContextReg, contextRegisterOffset, ControlReg, controlRegisterOffset, Imctr, Imsauxctlr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { DOMID_IO } from '../../../src/hyp/xen/index.js';
import { nodePath, XenMachine } from '../../support/xen-machine.js';

describe('IPMMU probe order (Xen ipmmu_probe, iommu_hardware_setup)', () => {
  it('registers the root, then the cache IPMMUs, and sets the root up for P2M sharing', () => {
    const m = new XenMachine();
    expect(m.logMatching(/registered (root|cache) IPMMU/)).toEqual([
      `ipmmu: ${nodePath('ipmmu_mm')}: registered root IPMMU`,
      `ipmmu: ${nodePath('ipmmu_ds0')}: registered cache IPMMU (root ${nodePath('ipmmu_mm')})`,
      `ipmmu: ${nodePath('ipmmu_ds1')}: registered cache IPMMU (root ${nodePath('ipmmu_mm')})`,
      `ipmmu: ${nodePath('ipmmu_hc')}: registered cache IPMMU (root ${nodePath('ipmmu_mm')})`,
    ]);
    const root = m.root;
    expect(root.read32(controlRegisterOffset(root.parameters.layout, ControlReg.IMSAUXCTLR)) & Imsauxctlr.S2PTE).toBe(Imsauxctlr.S2PTE);
    expect(m.xen.iommu.ops?.name).toBe('ipmmu-vmsa');
    expect(m.xen.p2mIpaBits).toBe(40);
    // Context 0 is reserved: the first domain (dom_io) got context 1.
    expect(m.xen.statistics().iommu.instances[0].contexts[0]).toEqual({ context: 0, domain: null });
    expect(m.logText()).not.toMatch(/\[(warn|error)\]/);
  });

  it('defers cache IPMMUs described before their root until the root registers (-EAGAIN)', () => {
    const m = new XenMachine({ order: 'caches-first' });
    expect(m.logMatching(/probe deferred/)).toHaveLength(3);
    expect(m.logMatching(/probe deferred/)[0]).toMatch(/waiting for the root IPMMU \/soc\/iommu@e67b0000/);
    for (const label of ['ipmmu_ds0', 'ipmmu_ds1', 'ipmmu_hc']) expect(m.xen.iommu.isRegistered(m.xen.dt.find(nodePath(label))!)).toBe(true);
    expect(m.xen.iommu.waiting).toEqual([]);
    expect(m.xen.statistics().iommu.deferrals).toBe(3);
    expect(m.xen.device(nodePath('dmac0')).domain?.id).toBe(0);
  });

  it('defers masters described before their IPMMU, and adds them when it registers', () => {
    const m = new XenMachine({ order: 'masters-first' });
    expect(m.logMatching(/add deferred/)).toHaveLength(5);
    const ordered = m.logMatching(/registered cache IPMMU|added master device/).map((l) => l.replace(/ \(.*/, ''));
    // Each master is added right after its cache IPMMU registers, not before.
    expect(ordered.indexOf(`ipmmu: ${nodePath('dmac1')}: added master device`)).toBeGreaterThan(ordered.indexOf(`ipmmu: ${nodePath('ipmmu_ds1')}: registered cache IPMMU`));
    for (const e of ['dmac0', 'dmac1', 'dmac2', 'dmac3', 'dmac4']) expect(m.xen.device(nodePath(e)).protected).toBe(true);
    expect(m.xen.iommu.waiting).toEqual([]);
  });

  it('fails the root without an interrupt; its cache IPMMUs and masters then wait, and dom0 gets its device untranslated', () => {
    const m = new XenMachine({ noIpmmuInterrupt: true });
    expect(m.logMatching(/failed to init IOMMU/)).toEqual([`iommu: ${nodePath('ipmmu_mm')}: failed to init IOMMU: no IRQ found`]);
    expect(m.logMatching(/still waiting after boot/)).toHaveLength(3 + 5);
    expect(m.xen.iommu.ops).toBeNull();
    const dmac0 = m.xen.device(nodePath('dmac0'));
    expect(dmac0.protected).toBe(false);
    expect(dmac0.domain).toBeNull();
    expect(m.xen.dom0!.iomem.has(dmac0.node)).toBe(true);
  });
});

describe('devices added to the IPMMU (iommu_add_dt_device, ipmmu_dt_xlate, ipmmu_add_device)', () => {
  it('gives each master an fwspec with its cache IPMMU and micro-TLB, and marks it protected', () => {
    const m = new XenMachine();
    const dev = m.xen.device(nodePath('dmac2'));
    expect(dev.fwspec).toEqual({ iommu: m.xen.dt.find(nodePath('ipmmu_ds1')), ids: [1] });
    expect(dev.protected).toBe(true);
    expect(m.logMatching(/dma@e7310000: added master/)).toEqual([`ipmmu: ${nodePath('dmac2')}: added master device (IPMMU ${nodePath('ipmmu_ds1')} micro-TLBs 1)`]);
  });

  it('quarantines the xen,passthrough devices in dom_io and assigns the others to dom0', () => {
    const m = new XenMachine();
    const domIo = m.xen.domains.get(DOMID_IO)!;
    expect([...domIo.devices].map((d) => d.path).sort()).toEqual(['dmac1', 'dmac2', 'dmac3', 'dmac4'].map(nodePath).sort());
    expect([...m.xen.dom0!.devices].map((d) => d.path)).toEqual([nodePath('dmac0')]);
    // Hardware: dmac0's micro-TLB points at dom0's context, dmac1's at dom_io's; both enabled in the root.
    const [quarantine, dom0] = [m.xen.statistics().domains.find((d) => d.id === DOMID_IO)!.contexts[0].context, m.xen.statistics().domains.find((d) => d.id === 0)!.contexts[0].context];
    expect(m.ipmmu('ipmmu_ds0').utlbState(0)).toEqual({ enabled: true, context: dom0 });
    expect(m.ipmmu('ipmmu_ds1').utlbState(0)).toEqual({ enabled: true, context: quarantine });
    const imctr = (ctx: number) => m.root.read32(contextRegisterOffset(m.root.parameters.layout, ctx, ContextReg.IMCTR));
    expect(imctr(dom0)).toBe(Imctr.VA64 | Imctr.INTEN | Imctr.MMUEN);
    expect(imctr(quarantine) & Imctr.MMUEN).toBe(Imctr.MMUEN);
  });

  it('maps dom0 1:1: its RAM and its device registers, and its device DMAs to dom0 RAM by machine address', () => {
    const m = new XenMachine();
    const dom0 = m.xen.dom0!;
    const ram = dom0.ram[0];
    expect(ram.gfn).toBe(ram.mfn);
    const at = BigInt(ram.mfn) << 12n;
    dom0.memory.write(at, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    expect(m.copy(dom0, 'dmac0', at, at + 0x2000n, 4)).toBe(2); // DONE
    expect([...m.memory.readBytes(at + 0x2000n, 4)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it('refuses to boot twice and to create guests before booting', () => {
    const m = new XenMachine({ boot: false });
    expect(() => m.xen.createDomain({ name: 'early' })).toThrow(/not booted/);
    m.xen.boot();
    expect(() => m.xen.boot()).toThrow(/booted already/);
  });
});
