// Property: MAP, UNMAP and translation agree with a reference model of VIRTIO 1.2/1.3
// 5.13.6.5 and 5.13.6.6 written at byte level. MAP over an existing mapping is INVAL; UNMAP
// of [virt_start, virt_end] removes every mapping it covers, unless one of them sticks out of
// the range (RANGE, nothing removed); an access at VA inside a mapping reaches
// PA = VA - virt_start + phys_start when the flags allow it, and is aborted otherwise.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DmaPortStatus } from '../../../src/devices/dma-port.js';
import { MapFlag, VirtioIommuStatus as S } from '../../../src/formats/virtio-iommu/index.js';
import { ViommuHarness } from './harness.js';

interface RefMapping {
  start: bigint;
  end: bigint;
  phys: bigint;
  flags: number;
}

const PAGES = 48;
const P = 0x1000n;
const byte = fc.bigInt({ min: 0n, max: BigInt(PAGES + 1) * P - 1n });
const op = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), first: fc.integer({ min: 0, max: PAGES }), pages: fc.integer({ min: 1, max: 12 }), phys: fc.integer({ min: 0x8_0000, max: 0x8_1000 }), flags: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('unmap' as const), start: byte, end: byte }),
  fc.record({ kind: fc.constant('access' as const), address: byte, write: fc.boolean() }),
);

function refMap(ref: RefMapping[], m: RefMapping): number {
  if (ref.some((o) => o.start <= m.end && m.start <= o.end)) return S.Inval;
  ref.push(m);
  ref.sort((a, b) => (a.start < b.start ? -1 : 1));
  return S.Ok;
}

function refUnmap(ref: RefMapping[], start: bigint, end: bigint): number {
  if (end < start) return S.Inval;
  const affected = ref.filter((m) => m.start <= end && start <= m.end);
  if (affected.some((m) => m.start < start || m.end > end)) return S.Range;
  for (const m of affected) ref.splice(ref.indexOf(m), 1);
  return S.Ok;
}

describe('MAP/UNMAP/translation against a byte-level reference model (5.13.6.5, 5.13.6.6)', () => {
  it('statuses, the mapping list and every access agree', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const h = new ViommuHarness({ endpoints: [1] });
        expect(h.attach(1, 1)).toBe(S.Ok);
        const ref: RefMapping[] = [];
        let stamp = 1n;
        for (const o of ops) {
          if (o.kind === 'map') {
            const m = { start: BigInt(o.first) * P, end: BigInt(o.first + o.pages) * P - 1n, phys: BigInt(o.phys) * P, flags: o.flags };
            expect(h.map(1, m.start, m.end, m.phys, m.flags)).toBe(refMap(ref, m));
          } else if (o.kind === 'unmap') {
            expect(h.unmap(1, o.start, o.end)).toBe(refUnmap(ref, o.start, o.end));
          } else {
            const address = o.address & ~3n;
            const m = ref.find((r) => r.start <= address && address <= r.end);
            const allowed = m !== undefined && (m.flags & (o.write ? MapFlag.Write : MapFlag.Read)) !== 0;
            stamp++;
            const r = h.dma(1, address, { write: o.write, data: stamp });
            expect(r.status).toBe(allowed ? DmaPortStatus.Ok : DmaPortStatus.Aborted);
            if (allowed && o.write) expect(h.memory.read(address - m.start + m.phys, 4)).toBe(stamp);
            if (allowed && !o.write) expect(r.value).toBe(h.memory.read(address - m.start + m.phys, 4));
          }
          expect(h.iommu.mappings(1).map((x) => ({ start: x.virtStart, end: x.virtEnd, phys: x.physStart, flags: x.flags }))).toEqual(ref);
        }
      }),
      { numRuns: 150 },
    );
  });
});
