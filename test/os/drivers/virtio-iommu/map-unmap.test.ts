// ATTACH, DETACH, MAP and UNMAP end to end (VIRTIO 1.3 sections 5.13.6.3-5.13.6.6): a DMA engine
// behind the virtio-iommu doing DMA through the DMA API, domains managed through the IOMMU
// core, and what the device holds after each step, read from the model.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DmaEngineReg } from '../../../../src/devices/dma-engine/index.js';
import { IommuError, IotlbGather, Prot } from '../../../../src/os/core/types.js';
import { ViommuDomain } from '../../../../src/os/drivers/virtio-iommu/index.js';
import { VirtioIommuMachine } from '../../../support/virtio-iommu-machine.js';

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

function idOf(domain: { driverData: unknown }): number {
  if (!(domain.driverData instanceof ViommuDomain)) throw new Error('not a virtio-iommu domain');
  return domain.driverData.id;
}

describe('DMA through the DMA API (5.13.6.5 MAP, 5.13.6.6 UNMAP)', () => {
  it('copies through IOVAs the driver mapped, and leaves nothing mapped afterwards', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const src = m.buffer(3);
    const dst = m.buffer(3);
    m.memory.writeBytes(src, pattern(3 * 4096, 1));
    expect(m.channel().copy(src, dst, 3 * 4096)).toMatchObject({ ok: true, bytes: 3 * 4096 });
    expect(m.memory.readBytes(dst, 3 * 4096)).toEqual(pattern(3 * 4096, 1));
    // The engine was given IOVAs, which the device translated (64-byte bursts: 2 * 12 KiB / 64).
    const iova = m.engines[0].mmioRead(DmaEngineReg.SOURCE, 8);
    expect(iova).not.toBe(src);
    expect(m.viommu.statistics().translations.translated).toBe(384);
    const domain = m.kernel.iommu.domainOf(dev);
    expect(domain?.type).toBe('dma');
    const id = idOf(domain as NonNullable<typeof domain>);
    expect(m.viommu.domainOf(5)).toBe(id);
    expect(m.viommu.mappings(id)).toEqual([]);
    // Each MAP the driver sent became one mapping, and every one of them was unmapped.
    const stats = m.driver.statistics();
    expect(stats).toMatchObject({ requests: { ATTACH: 1, PROBE: 1, DETACH: 0 }, failed: {} });
    expect(stats.requests.MAP).toBeGreaterThanOrEqual(2);
    expect(m.viommu.statistics().mappings).toEqual({ current: 0, created: stats.requests.MAP, removed: stats.requests.MAP });
    expect(m.viommu.statistics().requests.UNMAP).toBe(stats.requests.UNMAP);
  });

  it('keeps its own copy of the mappings: iovaToPhys, and what the device holds, agree', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const buf = m.buffer(2);
    const dma = m.kernel.dma.mapSingle(dev, buf + 0x123n, 5000, 'bidirectional');
    const domain = m.kernel.iommu.domainOf(dev);
    if (domain === null) throw new Error('no domain');
    expect(m.kernel.iommu.iovaToPhys(domain, dma)).toBe(buf + 0x123n);
    expect(m.kernel.iommu.iovaToPhys(domain, dma + 4000n)).toBe(buf + 0x123n + 4000n);
    const [mapping] = m.viommu.mappings(idOf(domain));
    expect(mapping).toEqual({ virtStart: dma - 0x123n, virtEnd: dma - 0x123n + 0x1fffn, physStart: buf, flags: 3 });
    m.kernel.dma.unmapSingle(dev, dma, 5000, 'bidirectional');
    expect(m.kernel.iommu.iovaToPhys(domain, dma)).toBeNull();
  });
});

describe('unmanaged domains through the IOMMU core', () => {
  it('maps with the permissions asked: a write to a read-only mapping faults', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    const buf = m.buffer();
    core.map(domain, 0x10_0000n, buf, 0x1000n, Prot.READ);
    core.map(domain, 0x20_0000n, buf, 0x1000n, Prot.READ | Prot.WRITE);
    const ch = m.channel();
    expect(ch.rawCopy(0x10_0000n, 0x20_0000n, 64)).toMatchObject({ ok: true });
    expect(ch.rawCopy(0x20_0000n, 0x10_0000n, 64)).toMatchObject({ ok: false, error: 'aborted', dmaAddress: 0x10_0000n, write: true });
    expect(m.viommu.mappings(idOf(domain)).map((x) => x.flags)).toEqual([1, 3]);
  });

  it('an UNMAP may not split a mapping (5.13.6.6 example 4); one covering several removes them all', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    const id = idOf(domain);
    core.map(domain, 0x10_0000n, 0x8010_0000n, 0x4000n, Prot.READ);
    expect(core.unmap(domain, 0x10_1000n, 0x1000n)).toBe(0n);
    expect(m.viommu.mappings(id)).toHaveLength(1);
    expect(core.iovaToPhys(domain, 0x10_1000n)).toBe(0x8010_1000n);

    core.map(domain, 0x20_0000n, 0x8020_0000n, 0x1000n, Prot.READ);
    core.map(domain, 0x20_3000n, 0x8020_3000n, 0x2000n, Prot.READ);
    const unmaps = m.driver.statistics().requests.UNMAP;
    expect(core.unmap(domain, 0x20_0000n, 0x5000n)).toBe(0x3000n);
    expect(m.driver.statistics().requests.UNMAP - unmaps).toBe(1);
    expect(m.viommu.mappings(id).map((x) => x.virtStart)).toEqual([0x10_0000n]);
  });

  it('an unmap starting at a mapping removes it whole, even when it ends past the range', () => {
    // 4 KiB pages only: a 12 KiB map is one request, one mapping.
    const m = new VirtioIommuMachine({ viommu: { pageSizeMask: 0x1000n } });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    core.map(domain, 0x40_0000n, 0x8040_0000n, 0x3000n, Prot.READ);
    const gather = new IotlbGather();
    expect(core.unmapFast(domain, 0x40_0000n, 0x1000n, gather)).toBe(0x3000n);
    expect([gather.start, gather.end]).toEqual([0x400, 0x403]);
    core.iotlbSync(domain, gather);
    expect(m.viommu.mappings(idOf(domain))).toEqual([]);
  });
});

describe('5.13.6.3 ATTACH and 5.13.6.4 DETACH', () => {
  it('re-attaching moves the endpoint: the old domain ceases to exist in the device, and its mappings come back with it', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const dmaDomain = core.domainOf(dev);
    if (dmaDomain === null) throw new Error('no default domain');
    const dmaId = idOf(dmaDomain);
    const buf = m.buffer();
    const dma = m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device');
    expect(m.viommu.mappings(dmaId)).toHaveLength(1);

    const unmanaged = core.domainAlloc(dev);
    core.attachDevice(unmanaged, dev);
    expect(m.viommu.domainOf(5)).toBe(idOf(unmanaged));
    expect(m.viommu.domain(dmaId)).toBeUndefined();
    // The driver keeps the detached domain's mappings, and changes only its own copy meanwhile.
    expect(core.iovaToPhys(dmaDomain, dma)).toBe(buf);
    expect(m.driver.statistics().requests.DETACH).toBe(0);
    const maps = m.driver.statistics().requests.MAP;
    core.map(dmaDomain, 0x1000_0000n, buf, 0x1000n, Prot.READ);
    expect(core.iovaToPhys(dmaDomain, 0x1000_0000n)).toBe(buf);
    expect(core.unmap(dmaDomain, dma, 0x1000n)).toBe(0x1000n);
    expect(m.driver.statistics().requests).toMatchObject({ MAP: maps, UNMAP: 0 });
    expect(m.viommu.domain(dmaId)).toBeUndefined();
  });

  it('back on the default domain, the mappings are replayed before any DMA', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const dmaDomain = core.domainOf(dev);
    if (dmaDomain === null) throw new Error('no default domain');
    const buf = m.buffer();
    m.memory.writeBytes(buf, pattern(64, 3));
    const dma = m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device');
    const unmanaged = core.domainAlloc(dev);
    core.attachDevice(unmanaged, dev);
    expect(m.channel().rawReadVerify(dma, 8, 0n)).toMatchObject({ ok: false, error: 'aborted' });
    core.detachDevice(unmanaged, dev);
    expect(m.viommu.domainOf(5)).toBe(idOf(dmaDomain));
    expect(m.viommu.mappings(idOf(dmaDomain))).toEqual([{ virtStart: dma, virtEnd: dma + 0xfffn, physStart: buf, flags: 1 }]);
    const dst = m.buffer();
    expect(m.channel().copy(buf, dst, 64)).toMatchObject({ ok: true });
    expect(m.memory.readBytes(dst, 64)).toEqual(pattern(64, 3));
  });

  it('two endpoints can share a domain (5.13.6.3: the device MAY); isolated otherwise', () => {
    const m = new VirtioIommuMachine({ engines: [{ endpoint: 5 }, { endpoint: 6 }] });
    const [a, b] = [m.engineDevice(0), m.engineDevice(1)];
    const core = m.kernel.iommu;
    expect(m.viommu.domainOf(5)).not.toBe(m.viommu.domainOf(6));
    const buf = m.buffer();
    const dma = m.kernel.dma.mapSingle(a, buf, 4096, 'to-device');
    expect(m.channel(1).rawReadVerify(dma, 8, 0n)).toMatchObject({ ok: false, error: 'aborted' });
    m.kernel.dma.unmapSingle(a, dma, 4096, 'to-device');

    const shared = core.domainAlloc(a);
    core.attachDevice(shared, a);
    core.attachDevice(shared, b);
    core.map(shared, 0x10_0000n, buf, 0x1000n, Prot.READ);
    expect(m.viommu.domain(idOf(shared))?.endpoints).toEqual([5, 6]);
    expect(m.channel(0).rawReadVerify(0x10_0000n, 8, 0n)).toMatchObject({ ok: true });
    expect(m.channel(1).rawReadVerify(0x10_0000n, 8, 0n)).toMatchObject({ ok: true });
    // One leaves: the domain lives on in the device for the other.
    core.detachDevice(shared, a);
    expect(m.viommu.domain(idOf(shared))?.endpoints).toEqual([6]);
    expect(m.viommu.mappings(idOf(shared))).toHaveLength(1);
  });

  it('freeing a domain forgets its mappings and gives its id back', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    const id = idOf(domain);
    core.map(domain, 0x10_0000n, 0x8000_0000n, 0x1000n, Prot.READ);
    expect(core.iovaToPhys(domain, 0x10_0000n)).toBe(0x8000_0000n);
    // Never attached: the device never heard of it.
    expect(m.viommu.domain(id)).toBeUndefined();
    expect(m.driver.statistics().requests.MAP).toBe(0);
    core.domainFree(domain);
    expect(domain.driverData).toBeNull();
    expect(idOf(core.domainAlloc(dev))).toBe(id);
  });

  it('a device with several endpoint ids attaches each of them', () => {
    const m = new VirtioIommuMachine({
      engines: [{ endpoint: 5 }],
      extraEndpoints: [12],
      editTree: (dt) => {
        const node = dt.find('/soc/dma@3020000');
        const viommu = dt.find('/soc/virtio_mmio@10001000');
        const phandle = viommu?.u32('phandle');
        if (node === undefined || phandle === undefined) throw new Error('tree changed');
        const cells = new Uint8Array(16);
        const v = new DataView(cells.buffer);
        [phandle, 5, phandle, 12].forEach((c, i) => v.setUint32(i * 4, c));
        node.set('iommus', cells);
      },
    });
    expect(m.engineDevice().state, m.logText()).toBe('bound');
    expect(m.viommu.domainOf(5)).toBeDefined();
    expect(m.viommu.domainOf(12)).toBe(m.viommu.domainOf(5));
    expect(m.driver.statistics().requests).toMatchObject({ ATTACH: 2, PROBE: 2 });
  });
});

describe('the driver and the device agree (property)', () => {
  it('after any sequence of maps and unmaps through the core, the device holds exactly the driver\'s mappings', () => {
    const m = new VirtioIommuMachine({ viommu: { pageSizeMask: 0x20_1000n } });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    const id = idOf(domain);
    const window = 1024; // pages
    const step = fc.oneof(
      fc.record({ map: fc.constant(true), page: fc.nat(window - 1), pages: fc.integer({ min: 1, max: 600 }), phys: fc.nat(0x3fff) }),
      fc.record({ map: fc.constant(false), page: fc.nat(window - 1), pages: fc.integer({ min: 1, max: 600 }), phys: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
        core.unmap(domain, 0n, BigInt(window + 600) << 12n);
        for (const s of steps) {
          const iova = BigInt(s.page) << 12n;
          const size = BigInt(s.pages) << 12n;
          if (s.map) {
            try {
              core.map(domain, iova, 0x8000_0000n + (BigInt(s.phys) << 12n), size, Prot.READ | Prot.WRITE);
            } catch (e) {
              if (!(e instanceof IommuError)) throw e;
            }
          } else {
            core.unmap(domain, iova, size);
          }
        }
        const device = m.viommu.mappings(id);
        for (let page = 0; page < window + 600; page++) {
          const pa = core.iovaToPhys(domain, BigInt(page) << 12n);
          const held = device.find((x) => x.virtStart <= BigInt(page) << 12n && BigInt(page) << 12n <= x.virtEnd);
          expect(pa).toBe(held === undefined ? null : held.physStart + (BigInt(page) << 12n) - held.virtStart);
        }
        // Overlapping maps were refused by the driver before the device saw them.
        expect(m.driver.statistics().failed).toEqual({});
      }),
      { numRuns: 40 },
    );
  });
});
