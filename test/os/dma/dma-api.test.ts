import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainType, Prot } from '../../../src/os/core/types.js';
import { IommuDmaApi } from '../../../src/os/dma/dma-api.js';
import { DEFAULT_FQ_SIZE, DEFAULT_FQ_TIMEOUT_CYCLES, DMA_CYCLES_PER_MS } from '../../../src/os/dma/flush-queue.js';
import { DmaDirection, DmaMappingError } from '../../../src/os/dma/types.js';
import { makeMachine, RAM_BASE, type FakeDomainOps } from '../../support/fake-iommu.js';

const PAGE = 4096n;
const buf = (page: number, offset = 0): bigint => RAM_BASE + 0x100_0000n + BigInt(page) * PAGE + BigInt(offset);

/** Physical address the fake maps `dma` to, or null. */
function walk(fake: FakeDomainOps, dma: bigint): bigint | null {
  const m = fake.mapped.get(Number(dma >> 12n));
  return m === undefined ? null : (BigInt(m.page) << 12n) | (dma & 0xfffn);
}

describe('DMA API: wiring', () => {
  it('the kernel builds an IommuDmaApi with its flush-queue options, and the device gets a DMA domain', () => {
    const m = makeMachine({ dma: { fqSize: 32, fqTimeoutCycles: 5000 } });
    expect(m.kernel.dma).toBeInstanceOf(IommuDmaApi);
    expect(m.dma.fqSize).toBe(32);
    expect(m.dma.fqTimeoutCycles).toBe(5000);
    expect(m.kernel.iommu.domainOf(m.dev)?.type).toBe(DomainType.Dma);
    expect(m.kernel.iommu.domainOf(m.plain)).toBeNull();
    const d = makeMachine();
    expect(d.dma.fqSize).toBe(DEFAULT_FQ_SIZE);
    expect(DEFAULT_FQ_SIZE).toBe(256);
    expect(d.dma.fqTimeoutCycles).toBe(10 * DMA_CYCLES_PER_MS);
  });
});

describe('DMA API: strict domains', () => {
  it('mapSingle allocates an IOVA range over the buffer pages, maps it by direction and keeps the offset', () => {
    const { dma, dev, fake } = makeMachine();
    const paddr = buf(3, 0x123);
    const a = dma.mapSingle(dev, paddr, 0x2000, DmaDirection.ToDevice); // spans 3 pages
    expect(a & 0xfffn).toBe(0x123n);
    expect(a < 1n << 39n).toBe(true);
    for (let off = 0n; off < 0x2000n; off += 0x800n) expect(walk(fake, a + off)).toBe(paddr + off);
    expect(fake.mapped.size).toBe(3);
    expect([...fake.mapped.values()].every((x) => x.prot === (Prot.READ | Prot.CACHE))).toBe(true);
    const b = dma.mapSingle(dev, buf(10), 4096, DmaDirection.FromDevice);
    expect(fake.mapped.get(Number(b >> 12n))?.prot).toBe(Prot.WRITE | Prot.CACHE);
    const c = dma.mapSingle(dev, buf(11), 4096, DmaDirection.Bidirectional);
    expect(fake.mapped.get(Number(c >> 12n))?.prot).toBe(Prot.READ | Prot.WRITE | Prot.CACHE);
    // Top-down: the first allocation (3 pages, rounded to 4) sits at the top of the aperture.
    expect(a >> 12n).toBe((1n << 27n) - 4n);
    expect(dma.stats.mapped).toBe(3);
  });

  it('unmapSingle syncs exactly once per unmap, over the unmapped range, then frees the IOVA', () => {
    const { dma, dev, fake, kernel } = makeMachine();
    const domain = kernel.iommu.domainOf(dev);
    const addrs = [0, 1, 2, 3, 4].map((i) => dma.mapSingle(dev, buf(i * 8), 4096 * (i + 1), DmaDirection.ToDevice));
    addrs.forEach((a, i) => {
      dma.unmapSingle(dev, a, 4096 * (i + 1), DmaDirection.ToDevice);
      expect(fake.syncs.length).toBe(i + 1);
      const s = fake.syncs[i];
      expect(s.start).toBe(Number(a >> 12n));
      expect(s.end - s.start).toBe(i + 1);
    });
    expect(fake.flushAll).toBe(0);
    expect(fake.mapped.size).toBe(0);
    expect(fake.stale.size).toBe(0);
    expect(dma.stats).toMatchObject({ mapped: 5, unmapped: 5, syncs: 5, flushes: 0 });
    // The freed IOVA comes back from the cache at once.
    const again = dma.mapSingle(dev, buf(100), 4096, DmaDirection.ToDevice);
    expect(again).toBe(addrs[0]);
    const st = domain === null ? null : dma.domainStats(domain);
    expect(st).toMatchObject({ lazy: false, mapped: 6, unmapped: 5, syncs: 5, fqFlushes: { full: 0, timeout: 0, explicit: 0 } });
    expect(st?.iovaCacheHitRate).toBeGreaterThan(0);
  });

  it('leaves the emptied page-table pages to the driver sync, which frees them once', () => {
    const { dma, dev, fake, kernel } = makeMachine();
    const before = kernel.pages.stats.allocatedPages;
    const a = dma.mapSingle(dev, buf(0), 4096, DmaDirection.ToDevice);
    expect(kernel.pages.stats.allocatedPages).toBe(before + 1); // the fake's leaf table
    dma.unmapSingle(dev, a, 4096, DmaDirection.ToDevice);
    expect(fake.syncs[0].freelist.length).toBe(1);
    expect(kernel.pages.stats.allocatedPages).toBe(before);
  });

  it('honours the DMA mask', () => {
    const { dma, dev } = makeMachine();
    expect(dma.getMask(dev)).toBe((1n << 64n) - 1n);
    dma.setMask(dev, 0xffff_ffffn);
    const a = dma.mapSingle(dev, buf(0), 0x10000, DmaDirection.ToDevice);
    expect(a + 0x10000n - 1n <= 0xffff_ffffn).toBe(true);
    expect(a).toBe(0x1_0000_0000n - 0x10000n);
    expect(() => dma.setMask(dev, 0x1234n)).toThrow(DmaMappingError);
    expect(() => dma.setMask(dev, 0xffn)).toThrow(/2\^n - 1/);
  });

  it('maps a scatter-gather list into one contiguous IOVA range and merges it into one segment', () => {
    const { dma, dev, fake } = makeMachine();
    const entries = [
      { paddr: buf(40), length: 4096 },
      { paddr: buf(7), length: 8192 },
      { paddr: buf(90), length: 4096 },
    ];
    const sg = dma.mapSg(dev, entries, DmaDirection.FromDevice);
    expect(sg.segments).toEqual([{ dmaAddress: sg.segments[0].dmaAddress, length: 16384 }]);
    const base = sg.segments[0].dmaAddress;
    expect(walk(fake, base)).toBe(buf(40));
    expect(walk(fake, base + 0x1000n)).toBe(buf(7));
    expect(walk(fake, base + 0x2000n)).toBe(buf(8));
    expect(walk(fake, base + 0x3000n)).toBe(buf(90));
    expect(base % 0x4000n).toBe(0n); // four pages, aligned to four
    dma.unmapSg(dev, sg, DmaDirection.FromDevice);
    expect(fake.mapped.size).toBe(0);
    expect(fake.syncs.length).toBe(1);
    expect(fake.syncs[0].end - fake.syncs[0].start).toBe(4);
  });

  it('splits sg segments where an entry has an offset, ends mid-page or exceeds the maximum segment', () => {
    const { dma, dev, fake } = makeMachine();
    const entries = [
      { paddr: buf(1), length: 4096 },
      { paddr: buf(2, 0x200), length: 0x100 }, // offset: starts a new segment, ends mid-page
      { paddr: buf(3), length: 4096 }, // cannot join a segment that ended mid-page
      { paddr: buf(4), length: 4096 },
    ];
    const sg = dma.mapSg(dev, entries, DmaDirection.ToDevice);
    const base = sg.segments[0].dmaAddress;
    expect(sg.segments).toEqual([
      { dmaAddress: base, length: 4096 },
      { dmaAddress: base + 0x1200n, length: 0x100 },
      { dmaAddress: base + 0x2000n, length: 8192 },
    ]);
    expect(walk(fake, base + 0x1200n)).toBe(buf(2, 0x200));
    dma.unmapSg(dev, sg, DmaDirection.ToDevice);
    dma.setMaxSegmentSize(dev, 4096);
    const sg2 = dma.mapSg(dev, [entries[0], entries[2], entries[3]], DmaDirection.ToDevice);
    expect(sg2.segments.map((s) => s.length)).toEqual([4096, 4096, 4096]);
    expect(sg2.segments[1].dmaAddress - sg2.segments[0].dmaAddress).toBe(4096n);
    dma.unmapSg(dev, sg2, DmaDirection.ToDevice);
    expect(fake.mapped.size).toBe(0);
  });

  it('allocCoherent returns zeroed pages mapped bidirectionally; freeCoherent unmaps and frees them', () => {
    const { dma, dev, fake, kernel } = makeMachine();
    const before = kernel.pages.stats.allocatedPages;
    const { paddr, dmaAddress } = dma.allocCoherent(dev, 5000);
    expect(kernel.memory.read(paddr + 4096n, 8)).toBe(0n);
    expect(walk(fake, dmaAddress)).toBe(paddr);
    expect(walk(fake, dmaAddress + 4096n)).toBe(paddr + 4096n);
    expect(fake.mapped.get(Number(dmaAddress >> 12n))?.prot).toBe(Prot.READ | Prot.WRITE | Prot.CACHE);
    expect(kernel.pages.stats.allocatedPages).toBe(before + 2 + 1);
    expect(() => dma.freeCoherent(dev, 4096, paddr, dmaAddress)).toThrow(/no coherent buffer/);
    dma.freeCoherent(dev, 5000, paddr, dmaAddress);
    expect(fake.mapped.size).toBe(0);
    expect(kernel.pages.stats.allocatedPages).toBe(before);
    expect(() => dma.freeCoherent(dev, 5000, paddr, dmaAddress)).toThrow(DmaMappingError);
  });

  it('gives PCI functions a 32-bit IOVA first, unless forceDac', () => {
    const m = makeMachine();
    const f = m.addPci(8);
    expect(m.kernel.iommu.domainOf(f)?.type).toBe(DomainType.Dma);
    expect(m.dma.mapSingle(f, buf(0), 4096, DmaDirection.ToDevice)).toBe(0xffff_f000n);
    const n = makeMachine({ dma: { forceDac: true } });
    const g = n.addPci(8);
    expect(n.dma.mapSingle(g, buf(0), 4096, DmaDirection.ToDevice)).toBe((1n << 39n) - 4096n);
  });

  it('reserves IOVA windows (an MSI doorbell) out of allocation', () => {
    const m = makeMachine({ apertureEnd: 0x3f_ffffn }); // 4 MiB: 1023 usable pages
    const domain = m.kernel.iommu.domainOf(m.dev);
    if (domain === null) throw new Error('no domain');
    m.dma.reserveIova(domain, 0x20_0000n, 0x1000n);
    const got: bigint[] = [];
    for (;;) {
      try {
        got.push(m.dma.mapSingle(m.dev, buf(0), 4096, DmaDirection.ToDevice));
      } catch (e) {
        expect(e).toBeInstanceOf(DmaMappingError);
        expect((e as Error).message).toMatch(/exhausted/);
        break;
      }
    }
    expect(got.length).toBe(1022); // page 0 and the doorbell page are never handed out
    expect(got).not.toContain(0x20_0000n);
    expect(got).not.toContain(0n);
    expect(m.dma.domainStats(domain)?.mapFailures).toBe(1);
  });
});

describe('DMA API: lazy domains (flush queue)', () => {
  const lazy = { iommu: { strict: false } };

  it('unmaps without syncing, and flushes exactly when the queue fills', () => {
    const { dma, dev, fake, kernel } = makeMachine(lazy);
    const domain = kernel.iommu.domainOf(dev);
    expect(domain?.type).toBe(DomainType.DmaFq);
    const addrs = Array.from({ length: 256 }, (_, i) => dma.mapSingle(dev, buf(i), 4096, DmaDirection.ToDevice));
    for (let i = 0; i < 255; i++) dma.unmapSingle(dev, addrs[i], 4096, DmaDirection.ToDevice);
    expect(fake.syncs.length).toBe(0);
    expect(fake.flushAll).toBe(0);
    expect(fake.mapped.size).toBe(1);
    expect(fake.stale.size).toBe(255);
    dma.unmapSingle(dev, addrs[255], 4096, DmaDirection.ToDevice);
    expect(fake.flushAll).toBe(1);
    expect(fake.syncs.length).toBe(0);
    expect(fake.stale.size).toBe(0);
    const st = domain === null ? null : dma.domainStats(domain);
    expect(st).toMatchObject({ lazy: true, unmapped: 256, syncs: 0, fqFlushes: { full: 1, timeout: 0, explicit: 0 }, fqEntriesFlushed: 256, entriesPerFlush: 256, fqPending: 0 });
    expect(dma.stats).toMatchObject({ syncs: 0, flushes: 1 });
  });

  it('flushes when the timeout passes in simulated time, counted from the first queued entry', () => {
    const { dma, dev, fake, kernel } = makeMachine(lazy);
    const clock = kernel.clock;
    const a = dma.mapSingle(dev, buf(0), 4096, DmaDirection.ToDevice);
    const b = dma.mapSingle(dev, buf(1), 4096, DmaDirection.ToDevice);
    const t0 = clock.now;
    dma.unmapSingle(dev, a, 4096, DmaDirection.ToDevice);
    clock.advance(DEFAULT_FQ_TIMEOUT_CYCLES / 2);
    dma.unmapSingle(dev, b, 4096, DmaDirection.ToDevice);
    clock.advance(DEFAULT_FQ_TIMEOUT_CYCLES / 2 - 1);
    expect(fake.flushAll).toBe(0);
    clock.advance(1);
    expect(clock.now - t0).toBe(DEFAULT_FQ_TIMEOUT_CYCLES);
    expect(fake.flushAll).toBe(1);
    const domain = kernel.iommu.domainOf(dev);
    expect(domain === null ? null : dma.domainStats(domain)).toMatchObject({ fqFlushes: { full: 0, timeout: 1, explicit: 0 }, fqEntriesFlushed: 2 });
    // Nothing queued: no further flush.
    clock.advance(10 * DEFAULT_FQ_TIMEOUT_CYCLES);
    expect(fake.flushAll).toBe(1);
  });

  it('uses the configured size and timeout; a full flush cancels the pending timer', () => {
    const { dma, dev, fake, kernel } = makeMachine({ ...lazy, dma: { fqSize: 4, fqTimeoutCycles: 1000 } });
    const addrs = Array.from({ length: 6 }, (_, i) => dma.mapSingle(dev, buf(i), 4096, DmaDirection.ToDevice));
    for (let i = 0; i < 4; i++) dma.unmapSingle(dev, addrs[i], 4096, DmaDirection.ToDevice);
    expect(fake.flushAll).toBe(1);
    kernel.clock.advance(999);
    dma.unmapSingle(dev, addrs[4], 4096, DmaDirection.ToDevice); // arms a new timer
    kernel.clock.advance(999);
    expect(fake.flushAll).toBe(1);
    kernel.clock.advance(1);
    expect(fake.flushAll).toBe(2);
    const domain = kernel.iommu.domainOf(dev);
    expect(domain === null ? null : dma.domainStats(domain)).toMatchObject({ fqFlushes: { full: 1, timeout: 1, explicit: 0 }, entriesPerFlush: 2.5 });
  });

  it('does not reuse an IOVA before the flush that invalidates it, and reuses it after', () => {
    const { dma, dev, fake, kernel } = makeMachine({ ...lazy, dma: { fqSize: 64 } });
    const first = Array.from({ length: 32 }, (_, i) => dma.mapSingle(dev, buf(i), 4096, DmaDirection.ToDevice));
    for (const a of first) dma.unmapSingle(dev, a, 4096, DmaDirection.ToDevice);
    const second = Array.from({ length: 32 }, (_, i) => dma.mapSingle(dev, buf(i), 4096, DmaDirection.ToDevice));
    for (const a of second) expect(first).not.toContain(a);
    expect(fake.flushAll).toBe(0);
    kernel.clock.advance(DEFAULT_FQ_TIMEOUT_CYCLES);
    expect(fake.flushAll).toBe(1);
    const third = dma.mapSingle(dev, buf(99), 4096, DmaDirection.ToDevice);
    expect(first).toContain(third);
    const domain = kernel.iommu.domainOf(dev);
    expect(domain === null ? 0 : dma.domainStats(domain)?.iova.cacheHits).toBeGreaterThanOrEqual(1);
  });

  it('frees page-table pages only at the flush', () => {
    const { dma, dev, kernel } = makeMachine(lazy);
    const before = kernel.pages.stats.allocatedPages;
    const a = dma.mapSingle(dev, buf(0), 4096, DmaDirection.ToDevice);
    dma.unmapSingle(dev, a, 4096, DmaDirection.ToDevice);
    expect(kernel.pages.stats.allocatedPages).toBe(before + 1);
    expect(dma.flushQueues()).toBe(1);
    expect(kernel.pages.stats.allocatedPages).toBe(before);
    const domain = kernel.iommu.domainOf(dev);
    expect(domain === null ? null : dma.domainStats(domain)?.fqFlushes.explicit).toBe(1);
  });

  it('falls back to strict invalidation when the driver cannot flush the whole IOTLB', () => {
    const { dma, dev, fake, kernel } = makeMachine({ ...lazy, noFlushAll: true });
    const a = dma.mapSingle(dev, buf(0), 4096, DmaDirection.ToDevice);
    dma.unmapSingle(dev, a, 4096, DmaDirection.ToDevice);
    expect(fake.syncs.length).toBe(1);
    expect(kernel.log.records.some((r) => r.level === 'warn' && /falling back to strict/.test(r.message))).toBe(true);
  });

  it('never maps over a page an unflushed unmap left in the IOTLB (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ map: fc.integer({ min: 1, max: 40_000 }) }), fc.record({ unmap: fc.nat() }), fc.record({ wait: fc.integer({ min: 1, max: 4_000_000 }) })), { maxLength: 120 }),
        (ops) => {
          const { dma, dev, fake, kernel } = makeMachine({ ...lazy, dma: { fqSize: 8 } });
          const live: { dma: bigint; paddr: bigint; size: number }[] = [];
          let page = 0;
          for (const op of ops) {
            if ('map' in op) {
              const paddr = buf(page, page % 3 === 0 ? 0x40 : 0);
              page += 16;
              const a = dma.mapSingle(dev, paddr, op.map, DmaDirection.Bidirectional);
              // Each new page is mapped fresh, and none may still be in the stale set.
              for (let p = a >> 12n; p <= (a + BigInt(op.map) - 1n) >> 12n; p++) expect(fake.stale.has(Number(p))).toBe(false);
              expect(walk(fake, a)).toBe(paddr);
              expect(walk(fake, a + BigInt(op.map) - 1n)).toBe(paddr + BigInt(op.map) - 1n);
              live.push({ dma: a, paddr, size: op.map });
            } else if ('unmap' in op) {
              if (live.length === 0) continue;
              const [x] = live.splice(op.unmap % live.length, 1);
              dma.unmapSingle(dev, x.dma, x.size, DmaDirection.Bidirectional);
              expect(walk(fake, x.dma)).toBeNull();
            } else {
              kernel.clock.advance(op.wait);
            }
          }
          expect(fake.syncs.length).toBe(0);
          const domain = kernel.iommu.domainOf(dev);
          const st = domain === null ? null : dma.domainStats(domain);
          expect(st?.fqPending ?? 0).toBeLessThan(8);
          expect(st?.iova.liveRanges ?? 0).toBe(live.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('DMA API: direct mapping', () => {
  it('uses physical addresses for identity domains, without touching the IOMMU', () => {
    const { dma, dev, domains, kernel } = makeMachine({ iommu: { defaultDomain: 'passthrough' } });
    expect(kernel.iommu.domainOf(dev)?.type).toBe(DomainType.Identity);
    const a = dma.mapSingle(dev, buf(5, 0x10), 100, DmaDirection.ToDevice);
    expect(a).toBe(buf(5, 0x10));
    const sg = dma.mapSg(dev, [{ paddr: buf(1), length: 4096 }, { paddr: buf(2), length: 4096 }], DmaDirection.ToDevice);
    expect(sg.segments).toEqual([
      { dmaAddress: buf(1), length: 4096 },
      { dmaAddress: buf(2), length: 4096 },
    ]);
    const c = dma.allocCoherent(dev, 4096);
    expect(c.dmaAddress).toBe(c.paddr);
    dma.unmapSingle(dev, a, 100, DmaDirection.ToDevice);
    dma.unmapSg(dev, sg, DmaDirection.ToDevice);
    dma.freeCoherent(dev, 4096, c.paddr, c.dmaAddress);
    expect(domains.length).toBe(0);
    expect(dma.stats).toMatchObject({ mapped: 3, unmapped: 3, syncs: 0, flushes: 0 });
  });

  it('uses physical addresses for devices without an IOMMU, within their DMA mask', () => {
    const { dma, plain } = makeMachine();
    expect(dma.mapSingle(plain, buf(0), 4096, DmaDirection.FromDevice)).toBe(buf(0));
    dma.setMask(plain, 0x7fff_ffffn); // RAM starts at 2 GiB: beyond a 31-bit mask
    expect(() => dma.mapSingle(plain, buf(0), 4096, DmaDirection.FromDevice)).toThrow(/beyond the DMA mask/);
    expect(() => dma.allocCoherent(plain, 4096)).toThrow(/beyond the DMA mask/);
  });
});

describe('DMA API: errors', () => {
  it('rejects zero, negative and fractional sizes and empty lists', () => {
    const { dma, dev, plain } = makeMachine();
    for (const d of [dev, plain]) {
      expect(() => dma.mapSingle(d, buf(0), 0, DmaDirection.ToDevice)).toThrow(/size must be a positive/);
      expect(() => dma.mapSingle(d, buf(0), -4, DmaDirection.ToDevice)).toThrow(DmaMappingError);
      expect(() => dma.mapSingle(d, buf(0), 1.5, DmaDirection.ToDevice)).toThrow(DmaMappingError);
      expect(() => dma.allocCoherent(d, 0)).toThrow(DmaMappingError);
      expect(() => dma.mapSg(d, [], DmaDirection.ToDevice)).toThrow(/empty/);
      expect(() => dma.mapSg(d, [{ paddr: buf(0), length: 0 }], DmaDirection.ToDevice)).toThrow(DmaMappingError);
    }
    expect(dma.stats.mapped).toBe(0);
  });

  it('rejects unmapping addresses never mapped, twice-unmapped addresses and wrong sizes', () => {
    for (const strict of [true, false]) {
      const { dma, dev, plain, fake } = makeMachine({ iommu: { strict } });
      expect(() => dma.unmapSingle(dev, 0x1234_5000n, 4096, DmaDirection.ToDevice)).toThrow(/not allocated/);
      expect(() => dma.unmapSingle(plain, buf(0), 4096, DmaDirection.ToDevice)).toThrow(/not mapped/);
      const a = dma.mapSingle(dev, buf(0), 4096, DmaDirection.ToDevice);
      expect(() => dma.unmapSingle(dev, a, 3 * 4096, DmaDirection.ToDevice)).toThrow(/does not match/);
      expect(() => dma.unmapSingle(dev, a + 4096n, 4096, DmaDirection.ToDevice)).toThrow(/not allocated/);
      expect(fake.unmapCalls).toBe(0); // checked before touching the page tables
      dma.unmapSingle(dev, a, 4096, DmaDirection.ToDevice);
      expect(() => dma.unmapSingle(dev, a, 4096, DmaDirection.ToDevice)).toThrow(strict ? /already freed/ : /already unmapped/);
      expect(fake.unmapCalls).toBe(1);
      const p = dma.mapSingle(plain, buf(0), 4096, DmaDirection.ToDevice);
      dma.unmapSingle(plain, p, 4096, DmaDirection.ToDevice);
      expect(() => dma.unmapSingle(plain, p, 4096, DmaDirection.ToDevice)).toThrow(/not mapped/);
    }
  });

  it('rejects unknown directions and devices attached to non-DMA domains', () => {
    const { dma, dev, kernel } = makeMachine();
    expect(() => dma.mapSingle(dev, buf(0), 4096, 'sideways' as typeof DmaDirection.ToDevice)).toThrow(/unknown DMA direction/);
    const unmanaged = kernel.iommu.domainAlloc(dev);
    kernel.iommu.attachDevice(unmanaged, dev);
    expect(() => dma.mapSingle(dev, buf(0), 4096, DmaDirection.ToDevice)).toThrow(/maps only through DMA domains/);
  });

  it('rolls back an sg mapping the driver fails half-way', () => {
    const { dma, dev, fake, kernel } = makeMachine();
    const domain = kernel.iommu.domainOf(dev);
    if (domain === null) throw new Error('no domain');
    let calls = 0;
    const original = domain.ops.mapPages;
    domain.ops.mapPages = (d, i, p, l, c, prot) => (++calls === 3 ? 0 : (original?.(d, i, p, l, c, prot) ?? 0));
    const entries = [0, 1, 2].map((i) => ({ paddr: buf(i * 10), length: 4096 }));
    expect(() => dma.mapSg(dev, entries, DmaDirection.ToDevice)).toThrow(/mapSg of 3 entries/);
    expect(fake.mapped.size).toBe(0);
    expect(dma.domainStats(domain)?.iova).toMatchObject({ liveRanges: 0, retiredRanges: 0 });
    expect(dma.domainStats(domain)?.mapFailures).toBe(1);
  });
});
