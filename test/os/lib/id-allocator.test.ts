// The id allocator drivers use for address-space ids (PSCIDs, ASIDs, VMIDs, virtio-iommu
// domain ids, which must stay inside domain_range, VIRTIO 1.3 5.13.6.1): lowest free id
// first, never one twice, inside its range.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdAllocator } from '../../../src/os/lib/id-allocator.js';

describe('IdAllocator', () => {
  it('hands out the lowest free id inside the range, never one twice, null when used up', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 20 }), fc.integer({ min: 0, max: 15 }), fc.array(fc.boolean(), { maxLength: 60 }), (first, span, steps) => {
        const ids = new IdAllocator(first, first + span);
        const used = new Set<number>();
        for (const alloc of steps) {
          if (alloc || used.size === 0) {
            const id = ids.alloc();
            if (used.size === span + 1) {
              expect(id).toBeNull();
              continue;
            }
            let lowest = first;
            while (used.has(lowest)) lowest++;
            expect(id).toBe(lowest);
            used.add(lowest);
          } else {
            const victim = [...used][0];
            ids.free(victim);
            used.delete(victim);
          }
          expect(ids.count).toBe(used.size);
        }
      }),
    );
  });

  it('refuses to free an id it did not hand out', () => {
    expect(() => new IdAllocator(1, 5).free(3)).toThrow(/id 3 is not allocated/);
  });
});
