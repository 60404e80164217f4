// Batching on the request queue (VIRTIO 1.3 section 5.13.6: the driver adds requests and
// notifies; 2.7.13 supplying buffers): UNMAP requests join the queue without a notification
// and the driver waits only at a sync point, so that N unmaps cost one notification and one
// wait; until then the device still translates them (the invalidation window the IOMMU core's
// gather/sync split exists for). With batching off every request is one notification and one wait.

import { describe, expect, it } from 'vitest';
import { IotlbGather, Prot, type IommuDomain } from '../../../../src/os/core/types.js';
import { ViommuDomain } from '../../../../src/os/drivers/virtio-iommu/index.js';
import { VirtioIommuMachine, type VirtioIommuMachineOptions } from '../../../support/virtio-iommu-machine.js';

const N = 16;

function setup(o: VirtioIommuMachineOptions): { m: VirtioIommuMachine; domain: IommuDomain; id: number } {
  const m = new VirtioIommuMachine(o);
  const dev = m.engineDevice();
  const domain = m.kernel.iommu.domainAlloc(dev);
  m.kernel.iommu.attachDevice(domain, dev);
  if (!(domain.driverData instanceof ViommuDomain)) throw new Error('not a virtio-iommu domain');
  return { m, domain, id: domain.driverData.id };
}

function counters(m: VirtioIommuMachine): { kicks: number; syncs: number; unmaps: number } {
  const s = m.driver.statistics();
  return { kicks: s.kicks, syncs: s.syncs, unmaps: s.requests.UNMAP };
}

/** Maps N separate pages, unmaps each into one gather, then syncs; what it cost and what the device held before the sync. */
function unmapN(batching: boolean) {
  const { m, domain, id } = setup({ driver: { batching } });
  const core = m.kernel.iommu;
  const buf = m.buffer();
  for (let i = 0; i < N; i++) core.map(domain, BigInt(0x10_0000 + i * 0x2000), buf, 0x1000n, Prot.READ);
  const before = counters(m);
  const gather = new IotlbGather();
  for (let i = 0; i < N; i++) expect(core.unmapFast(domain, BigInt(0x10_0000 + i * 0x2000), 0x1000n, gather)).toBe(0x1000n);
  const heldBeforeSync = m.viommu.mappings(id).length;
  const staleRead = m.channel().rawReadVerify(0x10_0000n, 8, 0n).ok;
  core.iotlbSync(domain, gather);
  const after = counters(m);
  return {
    m,
    heldBeforeSync,
    staleRead,
    heldAfterSync: m.viommu.mappings(id).length,
    kicks: after.kicks - before.kicks,
    syncs: after.syncs - before.syncs,
    unmaps: after.unmaps - before.unmaps,
  };
}

describe('5.13.6 batched UNMAP requests', () => {
  it(`${N} unmaps then one iotlbSync: ${N} UNMAP requests, one notification, one wait`, () => {
    const r = unmapN(true);
    expect(r).toMatchObject({ unmaps: N, kicks: 1, syncs: 1, heldAfterSync: 0 });
    // Until the sync the device has not seen them: it still translates the old IOVAs.
    expect(r.heldBeforeSync).toBe(N);
    expect(r.staleRead).toBe(true);
  });

  it(`without batching the same ${N} unmaps cost ${N} notifications and ${N} waits, and close at once`, () => {
    const r = unmapN(false);
    expect(r).toMatchObject({ unmaps: N, kicks: N, syncs: N, heldBeforeSync: 0, heldAfterSync: 0, staleRead: false });
  });

  it('lazy DMA domains: a flush-queue flush is the sync point; requests per sync with batching on and off', () => {
    const run = (batching: boolean) => {
      const m = new VirtioIommuMachine({ driver: { batching }, policy: { strict: false }, dma: { fqSize: N } });
      const dev = m.engineDevice();
      expect(m.kernel.iommu.domainOf(dev)?.type).toBe('dma-fq');
      const buf = m.buffer();
      const dmas = Array.from({ length: N }, () => m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device'));
      for (const dma of dmas) m.kernel.dma.unmapSingle(dev, dma, 4096, 'to-device');
      const s = m.driver.statistics();
      expect(s.requests).toMatchObject({ PROBE: 1, ATTACH: 1, MAP: N, UNMAP: N });
      expect(m.viommu.statistics().mappings.current).toBe(0);
      return s;
    };
    const on = run(true);
    const off = run(false);
    // PROBE, ATTACH and each MAP are waited for; the N UNMAPs share the one flush.
    expect(on.syncs).toBe(2 + N + 1);
    expect(on.kicks).toBe(on.syncs);
    expect(on.requestsPerSync).toBeCloseTo((2 + 2 * N) / (2 + N + 1));
    expect(off.syncs).toBe(2 + 2 * N);
    expect(off.requestsPerSync).toBe(1);
  });

  it('a queue with every request slot in flight syncs before adding more (Linux: sync when full, retry)', () => {
    const { m, domain, id } = setup({ viommu: { requestQueueSize: 8 } });
    const core = m.kernel.iommu;
    const buf = m.buffer();
    for (let i = 0; i < 10; i++) core.map(domain, BigInt(0x10_0000 + i * 0x2000), buf, 0x1000n, Prot.READ);
    const gather = new IotlbGather();
    for (let i = 0; i < 10; i++) core.unmapFast(domain, BigInt(0x10_0000 + i * 0x2000), 0x1000n, gather);
    // 8 descriptors hold 4 two-descriptor requests: the 5th and 9th adds had to sync first.
    expect(m.driver.statistics().queueFullSyncs).toBe(2);
    expect(m.viommu.mappings(id)).toHaveLength(2);
    core.iotlbSync(domain, gather);
    expect(m.viommu.mappings(id)).toHaveLength(0);
    expect(m.driver.requests.inFlight).toBe(0);
  });

  it('a map of several ranges queues one MAP per range and waits once at its end (Linux iotlb_sync_map)', () => {
    const { m, domain, id } = setup({ viommu: { pageSizeMask: (1n << 12n) | (1n << 21n) } });
    expect(domain.pageSizes).toEqual([12, 21]);
    const core = m.kernel.iommu;
    const before = m.driver.statistics();
    // 2 MiB + 8 KiB at a 2 MiB-aligned IOVA and address: a 2 MiB range, then two 4 KiB pages.
    core.map(domain, 0x4000_0000n, 0x8000_0000n, 0x20_2000n, Prot.READ | Prot.WRITE);
    const after = m.driver.statistics();
    expect(after.requests.MAP - before.requests.MAP).toBe(2);
    expect(after.syncs - before.syncs).toBe(1);
    expect(after.kicks - before.kicks).toBe(1);
    expect(m.viommu.mappings(id).map((x) => [x.virtStart, x.virtEnd])).toEqual([
      [0x4000_0000n, 0x401f_ffffn],
      [0x4020_0000n, 0x4020_1fffn],
    ]);
  });
});
