// The IPMMU fault interrupt as the hypervisor takes it (Xen ipmmu_irq -> ipmmu_domain_irq):
// the root's level-high SPI through the GIC, every context checked, the status decoded
// (translation, permission, walk abort), the address read before IMSTR is cleared with 0, the
// fault logged and reported with the domain and device; the interrupt then drops.

import { describe, expect, it } from 'vitest';
import { Status } from '../../../src/devices/dma-engine/index.js';
import { ContextReg, contextRegisterOffset, Imstr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { GUEST_RAM0_BASE, P2mType } from '../../../src/hyp/xen/index.js';
import { IPMMU_MM_SPI, nodePath, XenMachine } from '../../support/xen-machine.js';

function setUp() {
  const m = new XenMachine();
  const g = m.xen.createDomain({ name: 'g', memoryMiB: 2, devices: [nodePath('dmac2')] });
  const context = m.xen.statistics().domains.find((d) => d.id === g.id)!.contexts[0].context;
  return { m, g, context };
}

describe('taking an IPMMU fault', () => {
  it('raises SPI 196 at the CPU, and clears the context status so the line drops', () => {
    const { m, g, context } = setUp();
    expect(m.fill(g, 'dmac2', 0x7000_0000n, 8, 0n) & Status.ERROR).not.toBe(0);
    expect(m.gic.input(32 + IPMMU_MM_SPI)?.asserted).toBe(true);
    expect(m.hart.externalInterrupt.asserted).toBe(true);
    expect(m.poll()).toBe(1);
    expect(m.hart.externalInterrupt.asserted).toBe(false);
    expect(m.root.read32(contextRegisterOffset(m.root.parameters.layout, context, ContextReg.IMSTR))).toBe(0);
    expect(m.xen.irq.counts.get('ipmmu /soc/iommu@e67b0000')).toBe(1);
    expect(m.xen.faults[0]).toMatchObject({ context, address: 0x7000_0000n, status: Imstr.TF | (1 << Imstr.ERRCODE_SHIFT) | (2 << Imstr.ERRLVL_SHIFT) }); // the level-2 entry (guest RAM shares the level-1 one)
  });

  it('decodes a permission fault and a page-table walk abort', () => {
    const { m, g } = setUp();
    g.p2m.setType(Number(GUEST_RAM0_BASE >> 12n), 1, P2mType.RamRo);
    m.fill(g, 'dmac2', GUEST_RAM0_BASE, 8, 0n);
    m.poll();
    // The P2M root becomes unreadable to the walker: the next walk aborts.
    m.memory.markAccessFault(g.p2m.rootAddress, 0x2000n);
    m.fill(g, 'dmac2', GUEST_RAM0_BASE + 0x10_0000n, 8, 0n);
    m.poll();
    expect(m.xen.faults.map((f) => f.kinds)).toEqual([['permission fault'], ['page table walk abort']]);
    expect(m.logMatching(/page table walk abort @0x40100000/)).toHaveLength(1);
    expect(g.counters.iommuFaults).toBe(2);
  });

  it('reports, on one interrupt, faults pending in several contexts', () => {
    const m = new XenMachine();
    const a = m.xen.createDomain({ name: 'a', memoryMiB: 2, devices: [nodePath('dmac1')] });
    const b = m.xen.createDomain({ name: 'b', memoryMiB: 2, devices: [nodePath('dmac4')] });
    m.fill(a, 'dmac1', 0x9000_0000n, 8, 0n);
    m.fill(b, 'dmac4', 0x9100_0000n, 8, 0n);
    expect(m.poll()).toBe(1);
    expect(m.xen.faults.map((f) => [f.domain, f.devices, f.address])).toEqual([
      [a, [nodePath('dmac1')], 0x9000_0000n],
      [b, [nodePath('dmac4')], 0x9100_0000n],
    ]);
    expect(m.xen.statistics().iommu.faults).toBe(2);
  });
});
