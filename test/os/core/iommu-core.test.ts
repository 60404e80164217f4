// The IOMMU core on its own, over a fake IOMMU driver (test/support/fake-iommu.ts): page-size
// selection as Linux's iommu_pgsize does it, argument checks, rollback of a failed map, one
// invalidation per unmap (or per gathered batch), and fault routing to domain owners and to
// observers.
import { describe, expect, it } from 'vitest';
import { pageSize } from '../../../src/os/core/iommu-core.js';
import { DomainType, IommuError, IotlbGather, Prot, type IommuDomain, type IommuFault } from '../../../src/os/core/types.js';
import { makeMachine, RAM_BASE } from '../../support/fake-iommu.js';

const K4 = 0x1000n;
const M2 = 0x20_0000n;

/** An unmanaged domain of the fake IOMMU attached to the test device, with its driver calls recorded. */
function unmanaged() {
  const m = makeMachine();
  const core = m.kernel.iommu;
  const domain = core.domainAlloc(m.dev, DomainType.Unmanaged);
  core.attachDevice(domain, m.dev);
  const ops = m.domains.find((d) => d.domain === domain)?.ops;
  if (ops === undefined) throw new Error('the fake did not allocate the domain');
  const maps: [number, number][] = []; // [pageLog2, count] per mapPages call
  const mapPages = domain.ops.mapPages;
  if (mapPages === undefined) throw new Error('fake domains map');
  Object.assign(domain.ops, {
    mapPages: (d: IommuDomain, iovaPage: number, page: number, log2: number, count: number, prot: number) => {
      maps.push([log2, count]);
      return mapPages(d, iovaPage, page, log2, count, prot);
    },
  });
  return { m, core, domain, ops, maps };
}

describe('IOMMU core: page-size selection', () => {
  it('takes the largest size both addresses are aligned to and the length covers', () => {
    const sizes = [0, 9, 18]; // 4 KiB, 2 MiB, 1 GiB in 4 KiB pages
    expect(pageSize(sizes, 0x200, 0x400, 0x200)).toEqual([9, 1]);
    expect(pageSize(sizes, 0x40000, 0x80000, 0x40000)).toEqual([18, 1]);
    expect(pageSize(sizes, 0x200, 0x401, 0x200)).toEqual([0, 0x200]); // physical page not 2 MiB aligned
    // Co-aligned addresses: small pages only up to the next 2 MiB boundary, then larger ones.
    expect(pageSize(sizes, 0x1ff, 0x3ff, 0x402)).toEqual([0, 1]);
  });

  it('maps an unaligned head, a 2 MiB leaf and a tail, in that order', () => {
    const { core, domain, ops, maps } = unmanaged();
    const paddr = RAM_BASE + 0x40_0000n - K4; // co-aligned with the IOVA modulo 2 MiB
    core.map(domain, M2 - K4, paddr, K4 + M2 + K4, Prot.READ | Prot.WRITE);
    expect(maps).toEqual([
      [12, 1],
      [21, 1],
      [12, 1],
    ]);
    expect(ops.mapped.size).toBe(514);
    expect(core.iovaToPhys(domain, M2 + 0x1234n)).toBe(paddr + K4 + 0x1234n);
  });

  it('maps with 4 KiB pages only when the addresses are not co-aligned', () => {
    const { core, domain, maps } = unmanaged();
    core.map(domain, M2, RAM_BASE + K4, 2n * M2, Prot.READ);
    expect(maps).toEqual([[12, 1024]]);
  });
});

describe('IOMMU core: argument checks and rollback', () => {
  it('refuses misaligned, empty and out-of-aperture ranges, mapping nothing', () => {
    const { core, domain, ops } = unmanaged();
    expect(() => core.map(domain, 0x1800n, RAM_BASE, K4, Prot.READ)).toThrow(/not aligned to the 4 KiB minimum page/);
    expect(() => core.map(domain, K4, RAM_BASE + 0x10n, K4, Prot.READ)).toThrow(/physical address 0x80000010 is not aligned/);
    expect(() => core.map(domain, K4, RAM_BASE, 0n, Prot.READ)).toThrow(/size must be positive/);
    expect(() => core.map(domain, (1n << 39n) - K4, RAM_BASE, 2n * K4, Prot.READ)).toThrow(/outside the domain's aperture/);
    expect(ops.mapped.size).toBe(0);
  });

  it('unmaps what a failed map had mapped before it throws', () => {
    const { core, domain, ops } = unmanaged();
    // A driver that runs out of table memory at IOVA page 0x10 maps only the pages before it.
    const inner = domain.ops.mapPages;
    if (inner === undefined) throw new Error('fake domains map');
    Object.assign(domain.ops, {
      mapPages: (d: IommuDomain, iovaPage: number, page: number, log2: number, count: number, prot: number) => inner(d, iovaPage, page, log2, Math.min(count, Math.max(0, 0x10 - iovaPage)), prot),
    });
    expect(() => core.map(domain, 0xen * K4, RAM_BASE, 4n * K4, Prot.READ)).toThrow(new IommuError('map of 0xe000 (+0x4000) failed at 0x10000'));
    expect(ops.mapped.size).toBe(0);
    expect(ops.syncs.map((s) => [s.start, s.end])).toEqual([[0xe, 0x10]]); // the rollback invalidated them
  });
});

describe('IOMMU core: invalidation', () => {
  it('unmap invalidates once, over the whole range, before it returns', () => {
    const { core, domain, ops } = unmanaged();
    core.map(domain, 0x100n * K4, RAM_BASE, 8n * K4, Prot.READ);
    expect(core.unmap(domain, 0x100n * K4, 8n * K4)).toBe(8n * K4);
    expect(ops.syncs.map((s) => [s.start, s.end])).toEqual([[0x100, 0x108]]);
    expect(ops.stale.size).toBe(0);
    expect(domain.stats.syncs).toBe(1);
  });

  it('unmapFast leaves the IOTLB stale until one sync covers every gathered unmap', () => {
    const { core, domain, ops } = unmanaged();
    core.map(domain, 0x100n * K4, RAM_BASE, 4n * K4, Prot.READ);
    core.map(domain, 0x200n * K4, RAM_BASE, 4n * K4, Prot.READ);
    const gather = new IotlbGather();
    core.unmapFast(domain, 0x100n * K4, 4n * K4, gather);
    core.unmapFast(domain, 0x200n * K4, 4n * K4, gather);
    expect(ops.stale.size).toBe(8);
    expect(ops.syncs).toEqual([]);
    core.iotlbSync(domain, gather);
    expect(ops.syncs.map((s) => [s.start, s.end])).toEqual([[0x100, 0x204]]);
    expect(ops.stale.size).toBe(0);
    expect(gather.empty).toBe(true);
  });

  it('unmap of nothing sends no invalidation', () => {
    const { core, domain, ops } = unmanaged();
    expect(core.unmap(domain, 0x300n * K4, K4)).toBe(0n);
    expect(ops.syncs).toEqual([]);
  });
});

describe('IOMMU core: faults', () => {
  const fault = (device: IommuFault['device'], iova: bigint): IommuFault => ({ device, iova, read: true, write: false, exec: false, privileged: false, pasid: null, cause: 13, reason: 'Read page fault', iommu: 'fake-iommu' });

  it("routes a fault to the owner of the device's domain; observers see every fault, even of unknown devices", () => {
    const { m, core, domain } = unmanaged();
    const observed: bigint[] = [];
    core.faultObservers.push((f) => observed.push(f.iova));
    const handled: IommuDomain[] = [];
    core.setFaultHandler(domain, (_f, d) => {
      handled.push(d);
      return true;
    });
    core.reportFault(fault(m.dev, 0x1000n));
    core.reportFault(fault(null, 0x2000n));
    expect(observed).toEqual([0x1000n, 0x2000n]);
    expect(handled).toEqual([domain]);
    expect(domain.stats.faults).toBe(1);
    expect(core.stats).toMatchObject({ faultsReported: 2, faultsUnhandled: 1 });
  });

  it('logs unhandled faults up to a limit per domain, then only counts them', () => {
    const { m, core } = unmanaged();
    for (let i = 0; i < 20; i++) core.reportFault(fault(m.dev, BigInt(i) << 12n));
    const warnings = m.kernel.log.records.filter((r) => r.level === 'warn' && r.source === 'fake-iommu');
    expect(warnings).toHaveLength(17); // 16 faults, then the note that further ones are counted
    expect(warnings[0].message).toBe('unhandled fault: 20000000.dma read at 0x0: Read page fault (cause 13)');
    expect(warnings[16].message).toMatch(/further unhandled faults of this domain are counted/);
    expect(core.stats.faultsUnhandled).toBe(20);
  });
});

describe('IOMMU core: attaching', () => {
  it('attaches from the default domain, and from the blocked domain (where VFIO parks devices), but not from another domain', () => {
    const m = makeMachine();
    const core = m.kernel.iommu;
    const a = core.domainAlloc(m.dev, DomainType.Unmanaged);
    const b = core.domainAlloc(m.dev, DomainType.Unmanaged);
    const blocked = core.staticDomain(m.dev, DomainType.Blocked);
    core.attachDevice(a, m.dev);
    expect(() => core.attachDevice(b, m.dev)).toThrow(/attached to fake-unmanaged-\d+; detach it first/);
    // The blocked domain can always be attached (Linux iommu_group_replace_domain), and attached from.
    core.attachDevice(blocked, m.dev);
    expect(core.domainOf(m.dev)).toBe(blocked);
    core.attachDevice(b, m.dev);
    expect(core.domainOf(m.dev)).toBe(b);
    expect(a.devices.size).toBe(0);
  });
});
