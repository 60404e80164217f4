// The interval structure behind each domain's mappings (VIRTIO 1.2/1.3 5.13.6.5: a mapping is
// an inclusive range created by one MAP; mappings of a domain never overlap): lookups,
// overlap checks, inserts and removals agree with a plain reference list.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MappingTable } from '../../../src/hw/virtio-iommu/mapping-table.js';

interface Ref {
  first: number;
  last: number;
  phys: number;
  flags: number;
}

const page = fc.integer({ min: 0, max: 400 });
const op = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), first: page, pages: fc.integer({ min: 1, max: 40 }), phys: fc.integer({ min: 0, max: 2 ** 40 }), flags: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('remove' as const), first: page, last: page }),
  fc.record({ kind: fc.constant('find' as const), page }),
);

function contents(t: MappingTable): Ref[] {
  const out: Ref[] = [];
  for (let i = 0; i < t.count; i++) out.push({ first: t.firstPage(i), last: t.lastPage(i), phys: t.physPage(i), flags: t.flags(i) });
  return out;
}

describe('MappingTable', () => {
  it('agrees with a reference list under random inserts (when free), range removals and lookups', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const t = new MappingTable();
        let ref: Ref[] = [];
        for (const o of ops) {
          if (o.kind === 'insert') {
            const last = o.first + o.pages - 1;
            const overlaps = ref.some((m) => m.first <= last && o.first <= m.last);
            expect(t.overlaps(o.first, last)).toBe(overlaps);
            if (!overlaps) {
              t.insert(o.first, last, o.phys, o.flags);
              ref.push({ first: o.first, last, phys: o.phys, flags: o.flags });
              ref.sort((a, b) => a.first - b.first);
            }
          } else if (o.kind === 'remove') {
            // UNMAP's use: remove the mappings inside [lo, hi] unless one sticks out of it.
            const [lo, hi] = o.first <= o.last ? [o.first, o.last] : [o.last, o.first];
            const from = t.firstEndingAtOrAfter(lo);
            let to = from;
            while (to < t.count && t.firstPage(to) <= hi) to++;
            const sticksOut = to > from && (t.firstPage(from) < lo || t.lastPage(to - 1) > hi);
            if (!sticksOut) t.remove(from, to);
            const refSticksOut = ref.some((m) => m.first <= hi && m.last >= lo && (m.first < lo || m.last > hi));
            expect(sticksOut).toBe(refSticksOut);
            if (!refSticksOut) ref = ref.filter((m) => m.first > hi || m.last < lo);
          } else {
            const i = t.find(o.page);
            const m = ref.find((r) => r.first <= o.page && o.page <= r.last);
            if (m === undefined) expect(i).toBe(-1);
            else expect({ first: t.firstPage(i), last: t.lastPage(i), phys: t.physPage(i), flags: t.flags(i) }).toEqual(m);
          }
          expect(contents(t)).toEqual(ref);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the last-hit entry is dropped when the table changes', () => {
    const t = new MappingTable();
    t.insert(10, 19, 100, 1);
    expect(t.find(15)).toBe(0);
    t.remove(0, 1);
    expect(t.find(15)).toBe(-1);
    t.insert(0, 4, 7, 2);
    t.insert(12, 13, 9, 3);
    expect(t.find(12)).toBe(1);
    t.insert(5, 11, 50, 1);
    expect(t.find(12)).toBe(2);
    expect(t.physPage(t.find(12))).toBe(9);
  });

  it('grows past its initial capacity and keeps page numbers up to 2^52 exact', () => {
    const t = new MappingTable();
    const top = 2 ** 52 - 1;
    for (let i = 0; i < 100; i++) t.insert(top - 2 * i, top - 2 * i, top - i, 1);
    expect(t.count).toBe(100);
    expect(t.find(top - 198)).toBe(0);
    expect(t.physPage(t.find(top))).toBe(top);
    expect(t.find(top - 1)).toBe(-1);
  });
});
