// The split virtqueue layout (VIRTIO 1.3 section 2.7 "Split Virtqueues": the alignment and
// size table, 2.7.5 struct virtq_desc, 2.7.6 struct virtq_avail, 2.7.8 struct virtq_used) and
// the event-index rule of 2.7.7 / 2.7.10.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Avail,
  availEventOffset,
  availRingEntry,
  availRingSize,
  Desc,
  DESC_SIZE,
  DescFlags,
  descTableSize,
  MAX_QUEUE_SIZE,
  needsEvent,
  RingAlign,
  Used,
  usedEventOffset,
  usedRingEntry,
  usedRingSize,
  USED_ELEM_SIZE,
  validQueueSize,
} from '../../../src/formats/virtio/split-ring.js';

describe('2.7 Split Virtqueues: sizes and alignments', () => {
  it('descriptor table 16 * N aligned 16, available ring 6 + 2 * N aligned 2, used ring 6 + 8 * N aligned 4', () => {
    expect(RingAlign).toEqual({ DESC: 16, AVAIL: 2, USED: 4 });
    for (const n of [1, 2, 256, 32768]) {
      expect(descTableSize(n)).toBe(16 * n);
      expect(availRingSize(n)).toBe(6 + 2 * n);
      expect(usedRingSize(n)).toBe(6 + 8 * n);
    }
  });

  it('queue sizes are powers of two up to 32768', () => {
    expect(MAX_QUEUE_SIZE).toBe(32768);
    expect([1, 2, 64, 32768].every(validQueueSize)).toBe(true);
    expect([0, 3, 6, 65536, 1.5, -2].some(validQueueSize)).toBe(false);
  });
});

describe('2.7.5 The Virtqueue Descriptor Table: struct virtq_desc', () => {
  it('le64 addr at 0, le32 len at 8, le16 flags at 12, le16 next at 14; NEXT 1, WRITE 2, INDIRECT 4', () => {
    expect(DESC_SIZE).toBe(16);
    expect(Desc).toEqual({ ADDR: 0, LEN: 8, FLAGS: 12, NEXT: 14 });
    expect(DescFlags).toEqual({ NEXT: 1, WRITE: 2, INDIRECT: 4 });
  });
});

describe('2.7.6 / 2.7.8: the rings', () => {
  it('available ring: flags 0, idx 2, ring[i] at 4 + 2i, used_event after the ring', () => {
    expect(Avail).toEqual({ FLAGS: 0, IDX: 2, RING: 4 });
    expect(availRingEntry(5)).toBe(14);
    expect(usedEventOffset(256)).toBe(4 + 512);
    expect(usedEventOffset(256) + 2).toBe(availRingSize(256));
  });

  it('used ring: flags 0, idx 2, elements {le32 id, le32 len} at 4 + 8i, avail_event after the ring', () => {
    expect(Used).toEqual({ FLAGS: 0, IDX: 2, RING: 4 });
    expect(USED_ELEM_SIZE).toBe(8);
    expect(usedRingEntry(3)).toBe(28);
    expect(availEventOffset(256)).toBe(4 + 2048);
    expect(availEventOffset(256) + 2).toBe(usedRingSize(256));
  });
});

describe('2.7.7 / 2.7.10: the event index rule', () => {
  it('notify when the entry at index `event` was among those just published (old <= event < new, modulo 2^16)', () => {
    expect(needsEvent(0, 1, 0)).toBe(true); // used_event 0: notified after the first buffer (2.7.7 note)
    expect(needsEvent(0, 2, 1)).toBe(false);
    expect(needsEvent(2, 4, 0)).toBe(true);
    expect(needsEvent(4, 4, 0)).toBe(false);
    expect(needsEvent(0xffff, 1, 0xfffe)).toBe(true); // across the wrap
    expect(needsEvent(0, 0, 0)).toBe(false); // nothing published
  });

  it('agrees with the definition over every 16-bit index (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 2048 }), (event, old, count) => {
        const published = new Set(Array.from({ length: count }, (_, i) => (old + i) & 0xffff));
        expect(needsEvent(event, (old + count) & 0xffff, old)).toBe(published.has(event));
      }),
      { numRuns: 500 },
    );
  });
});
