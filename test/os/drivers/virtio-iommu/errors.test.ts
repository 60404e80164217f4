// Request statuses other than OK (VIRTIO 1.3 section 5.13.6) surfaced as errors: a refused MAP
// fails the map (and the DMA API mapping), a refused ATTACH fails the attach, a batched UNMAP
// that failed is reported at the next sync point (and its IOVA is never reused), and a device
// that stops answering is an error rather than a hang.

import { describe, expect, it } from 'vitest';
import type { VirtioIommuBackend } from '../../../../src/hw/virtio-iommu/index.js';
import { IommuError, IotlbGather, Prot } from '../../../../src/os/core/types.js';
import { IommuDmaApi } from '../../../../src/os/dma/dma-api.js';
import { DmaMappingError } from '../../../../src/os/dma/types.js';
import { SYNC_POLL_LIMIT, VirtioIommuError } from '../../../../src/os/drivers/virtio-iommu/index.js';
import { VirtioIommuMachine } from '../../../support/virtio-iommu-machine.js';

/** A host IOMMU that refuses to unmap the IOVAs in `refuse`. */
function backend(refuse: Set<bigint>): VirtioIommuBackend {
  return {
    attach: () => 'ok',
    detach: () => 'ok',
    map: () => 'ok',
    unmap: (_domain, iova) => (refuse.has(iova) ? 'failed' : 'ok'),
  };
}

describe('5.13.6.5 MAP refused', () => {
  it('NOMEM: the map fails, the driver forgets the mapping, the status is logged and counted', () => {
    const m = new VirtioIommuMachine({ viommu: { maxMappings: 3 } });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    for (let i = 0; i < 3; i++) core.map(domain, BigInt(0x10_0000 + i * 0x1000), 0x8000_0000n, 0x1000n, Prot.READ);
    expect(() => core.map(domain, 0x20_0000n, 0x8000_0000n, 0x1000n, Prot.READ)).toThrow(IommuError);
    expect(core.iovaToPhys(domain, 0x20_0000n)).toBeNull();
    expect(core.iovaToPhys(domain, 0x10_2000n)).toBe(0x8000_0000n);
    expect(m.driver.statistics().failed).toEqual({ NOMEM: 1 });
    // The MAP was batched: its status arrives at the sync that ends the map call (iotlb_sync_map).
    expect(m.logMatching(/MAP domain \d+ 0x200000..0x200fff -> 0x80000000 .*: NOMEM/)).toHaveLength(1);
  });

  it('through the DMA API: a DmaMappingError, and the IOVA goes back to the allocator', () => {
    const m = new VirtioIommuMachine({ viommu: { maxMappings: 1 } });
    const dev = m.engineDevice();
    const buf = m.buffer();
    const first = m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device');
    expect(() => m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device')).toThrow(DmaMappingError);
    m.kernel.dma.unmapSingle(dev, first, 4096, 'to-device');
    const domain = m.kernel.iommu.domainOf(dev);
    if (domain === null) throw new Error('no domain');
    if (!(m.kernel.dma instanceof IommuDmaApi)) throw new Error('not the IOMMU DMA API');
    expect(m.kernel.dma.domainStats(domain)).toMatchObject({ mapped: 1, unmapped: 1, mapFailures: 1 });
    expect(m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device')).toBeDefined();
  });
});

describe('5.13.6.3 ATTACH refused', () => {
  it('UNSUPP (a device that cannot share domains): the attach fails and the endpoint stays where it was', () => {
    const m = new VirtioIommuMachine({ viommu: { sharedDomains: false }, engines: [{ endpoint: 5 }, { endpoint: 6 }] });
    const [a, b] = [m.engineDevice(0), m.engineDevice(1)];
    const core = m.kernel.iommu;
    const shared = core.domainAlloc(a);
    core.attachDevice(shared, a);
    const before = m.viommu.domainOf(6);
    expect(() => core.attachDevice(shared, b)).toThrow(/ATTACH of endpoint 6 to domain \d+: UNSUPP/);
    expect(m.viommu.domainOf(6)).toBe(before);
    expect(core.domainOf(b)?.type).toBe('dma');
    expect(m.driver.statistics().failed).toEqual({ UNSUPP: 1 });
  });
});

describe('5.13.6.6 UNMAP refused, found at the sync point', () => {
  it('a failed batched UNMAP makes iotlbSync throw, once, naming the request and the status', () => {
    const m = new VirtioIommuMachine({ viommu: { backend: backend(new Set([0x11_0000n])) } });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    core.map(domain, 0x10_0000n, 0x8000_0000n, 0x1000n, Prot.READ);
    core.map(domain, 0x11_0000n, 0x8000_0000n, 0x1000n, Prot.READ);
    const gather = new IotlbGather();
    core.unmapFast(domain, 0x10_0000n, 0x1000n, gather);
    core.unmapFast(domain, 0x11_0000n, 0x1000n, gather);
    expect(() => core.iotlbSync(domain, gather)).toThrow(/1 request\(s\) failed: UNMAP domain \d+ 0x110000..0x110fff: DEVERR/);
    expect(m.driver.statistics().failed).toEqual({ DEVERR: 1 });
    // The device still holds the mapping it could not remove; the next sync has nothing new to report.
    expect(m.viommu.mappings(m.viommu.domainOf(5) as number).map((x) => x.virtStart)).toEqual([0x11_0000n]);
    expect(() => core.flushIotlbAll(domain)).not.toThrow();
  });

  it('through the strict DMA API: unmapSingle throws and the IOVA is never handed out again', () => {
    const refuse = new Set<bigint>();
    const m = new VirtioIommuMachine({ viommu: { backend: backend(refuse) } });
    const dev = m.engineDevice();
    const buf = m.buffer();
    const dma = m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device');
    refuse.add(dma);
    expect(() => m.kernel.dma.unmapSingle(dev, dma, 4096, 'to-device')).toThrow(VirtioIommuError);
    for (let i = 0; i < 4; i++) expect(m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device')).not.toBe(dma);
  });
});

describe('a device that stops answering', () => {
  it('a request it never returns ends in an error after the polling budget, not a hang', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    // The device is reset behind the driver's back: its queues are no longer live.
    m.transport.core.reset();
    const t0 = m.clock.now;
    expect(() => core.attachDevice(domain, dev)).toThrow(/did not return 1 request\(s\) after 10000 polls/);
    expect(m.clock.now - t0).toBeGreaterThanOrEqual(SYNC_POLL_LIMIT);
  });
});
