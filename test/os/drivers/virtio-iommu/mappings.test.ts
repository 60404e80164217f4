// The driver's own record of a domain's mappings, checked against a reference model: mappings
// never overlap (a MAP over an existing one is refused, 5.13.6.5), lookups find the entry
// holding a page, removal keeps the rest.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MappingList } from '../../../../src/os/drivers/virtio-iommu/index.js';

type Op = { kind: 'insert'; first: number; pages: number; phys: number } | { kind: 'remove'; at: number; count: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), first: fc.integer({ min: 0, max: 200 }), pages: fc.integer({ min: 1, max: 12 }), phys: fc.integer({ min: 0, max: 2 ** 40 }) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(40), count: fc.integer({ min: 0, max: 3 }) }),
);

describe('MappingList', () => {
  it('agrees with a reference list of non-overlapping ranges (insert, remove, find, overlaps)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const list = new MappingList();
        let ref: { first: number; last: number; phys: number }[] = [];
        for (const o of ops) {
          if (o.kind === 'insert') {
            const last = o.first + o.pages - 1;
            const clash = ref.some((r) => r.first <= last && o.first <= r.last);
            expect(list.insert(o.first, last, o.phys, 3)).toBe(!clash);
            if (!clash) ref = [...ref, { first: o.first, last, phys: o.phys }].sort((a, b) => a.first - b.first);
          } else {
            const from = Math.min(o.at, ref.length);
            const to = Math.min(from + o.count, ref.length);
            list.remove(from, to);
            ref.splice(from, to - from);
          }
          expect(list.count).toBe(ref.length);
        }
        ref.forEach((r, i) => expect([list.first(i), list.last(i), list.phys(i)]).toEqual([r.first, r.last, r.phys]));
        for (let page = 0; page <= 215; page++) {
          const i = ref.findIndex((r) => r.first <= page && page <= r.last);
          expect(list.find(page)).toBe(i);
          expect(list.overlaps(page, page + 2)).toBe(ref.some((r) => r.first <= page + 2 && page <= r.last));
        }
      }),
    );
  });

  it('holds 52-bit page numbers exactly', () => {
    const list = new MappingList();
    const top = 2 ** 52 - 1;
    expect(list.insert(top - 15, top, top - 1000, 1)).toBe(true);
    expect(list.find(top)).toBe(0);
    expect(list.phys(0)).toBe(top - 1000);
  });
});
