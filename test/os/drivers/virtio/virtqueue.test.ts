// The driver side of a split virtqueue on its own (VIRTIO 1.3 section 2.7): what it writes
// into guest memory (2.7.5 descriptors, 2.7.6 the available ring, 2.7.13 supplying buffers),
// the free list, kick decisions (2.7.10), used ring processing (2.7.14) with its checks of
// what the device wrote, callbacks suppression (2.7.7), and indirect tables (2.7.5.3). The
// test plays the device by writing the used ring by hand.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AVAIL_F_NO_INTERRUPT, DescFlags, USED_F_NO_NOTIFY } from '../../../../src/formats/virtio/split-ring.js';
import { SplitVirtqueue, splitRingLayout, VirtioError, type VirtqSegment } from '../../../../src/os/drivers/virtio/index.js';
import { PhysicalMemory } from '../../../../src/sim/physical-memory.js';

const RING = 0x8000_0000n;
const DMA = 0x1_0000_0000n; // the device sees the ring elsewhere (an IOVA)
const INDIRECT = 0x8010_0000n;

function queue(o: { size?: number; eventIdx?: boolean; indirect?: number } = {}) {
  const memory = new PhysicalMemory();
  const notified: number[] = [];
  const size = o.size ?? 8;
  const vq = new SplitVirtqueue<string>({
    index: 3,
    size,
    memory,
    ring: { paddr: RING, dmaAddress: DMA },
    eventIdx: o.eventIdx ?? false,
    indirect: o.indirect === undefined ? null : { area: { paddr: INDIRECT, dmaAddress: INDIRECT + DMA }, maxSegments: o.indirect },
    notify: (i) => notified.push(i),
  });
  const layout = splitRingLayout(size);
  const desc = (i: number, table = RING) => {
    const at = table + BigInt(16 * i);
    return { addr: memory.read(at, 8), len: Number(memory.read(at + 8n, 4)), flags: Number(memory.read(at + 12n, 2)), next: Number(memory.read(at + 14n, 2)) };
  };
  const avail = () => ({ flags: Number(memory.read(RING + BigInt(layout.avail), 2)), idx: Number(memory.read(RING + BigInt(layout.avail + 2), 2)) });
  const availEntry = (slot: number) => Number(memory.read(RING + BigInt(layout.avail + 4 + 2 * slot), 2));
  const usedEvent = () => Number(memory.read(RING + BigInt(layout.avail + 4 + 2 * size), 2));
  let usedIdx = 0;
  /** The device returns `id` with `len` bytes written. */
  const use = (id: number, len = 0) => {
    const at = RING + BigInt(layout.used + 4 + 8 * (usedIdx % size));
    memory.write(at, 4, BigInt(id));
    memory.write(at + 4n, 4, BigInt(len));
    usedIdx = (usedIdx + 1) & 0xffff;
    memory.write(RING + BigInt(layout.used + 2), 2, BigInt(usedIdx));
  };
  const setUsedIdx = (idx: number) => memory.write(RING + BigInt(layout.used + 2), 2, BigInt(idx));
  const setUsedFlags = (f: number) => memory.write(RING + BigInt(layout.used), 2, BigInt(f));
  const setAvailEvent = (v: number) => memory.write(RING + BigInt(layout.used + 4 + 8 * size), 2, BigInt(v));
  return { memory, vq, notified, layout, desc, avail, availEntry, usedEvent, use, setUsedIdx, setUsedFlags, setAvailEvent };
}

const seg = (address: bigint, length: number, writable = false): VirtqSegment => ({ address, length, writable });

describe('2.7 layout of the ring area', () => {
  it('descriptors at 0, the available ring right after, the used ring at the next 4-byte boundary', () => {
    expect(splitRingLayout(8)).toEqual({ desc: 0, avail: 128, used: 152, bytes: 152 + 6 + 64 }); // 128 + 22 = 150, rounded up to 152
    expect(splitRingLayout(1)).toEqual({ desc: 0, avail: 16, used: 24, bytes: 24 + 14 });
    expect(splitRingLayout(256).used % 4).toBe(0);
  });
});

describe('2.7.13 Supplying Buffers to The Device', () => {
  it('a chain takes free descriptors linked by next, readable ones flagged 0, writable ones WRITE, the last without NEXT', () => {
    const q = queue();
    expect(q.vq.add([seg(0x9000_0000n, 16), seg(0x9000_1000n, 32), seg(0x1_2345_6789_0000n, 64, true)], 'a')).toBe(true);
    expect([0, 1, 2].map((i) => q.desc(i))).toEqual([
      { addr: 0x9000_0000n, len: 16, flags: DescFlags.NEXT, next: 1 },
      { addr: 0x9000_1000n, len: 32, flags: DescFlags.NEXT, next: 2 },
      { addr: 0x1_2345_6789_0000n, len: 64, flags: DescFlags.WRITE, next: 0 },
    ]);
    expect(q.availEntry(0)).toBe(0);
    expect(q.avail()).toEqual({ flags: 0, idx: 1 });
    expect(q.vq.freeDescriptors).toBe(5);
    expect(q.notified).toEqual([]);
  });

  it('refuses (returns false, changing nothing) when too few descriptors are free; rejects malformed buffers', () => {
    const q = queue({ size: 4 });
    expect(q.vq.add([seg(1n, 1), seg(2n, 1), seg(3n, 1)], 'a')).toBe(true);
    expect(q.vq.add([seg(4n, 1), seg(5n, 1)], 'b')).toBe(false);
    expect(q.avail().idx).toBe(1);
    expect(() => q.vq.add([], 'c')).toThrow(VirtioError);
    expect(() => q.vq.add([seg(1n, 1, true), seg(2n, 1)], 'c')).toThrow(/device-readable segment 1 follows a device-writable one/);
    expect(() => q.vq.add([seg(1n, 2 ** 32)], 'c')).toThrow(VirtioError);
    expect(() => queue({ size: 2 }).vq.add([seg(1n, 1), seg(2n, 1), seg(3n, 1)], 'c')).toThrow(/exceed the queue size 2/);
  });

  it('used chains return to the free list and are reused; tokens come back with the used length', () => {
    const q = queue({ size: 4 });
    q.vq.add([seg(1n, 1), seg(2n, 1)], 'a');
    q.vq.add([seg(3n, 1, true)], 'b');
    q.use(2, 7);
    q.use(0, 0);
    expect(q.vq.getUsed()).toEqual({ token: 'b', length: 7 });
    expect(q.vq.getUsed()).toEqual({ token: 'a', length: 0 });
    expect(q.vq.getUsed()).toBeNull();
    expect(q.vq.freeDescriptors).toBe(4);
    expect(q.vq.add([seg(4n, 1), seg(5n, 1), seg(6n, 1), seg(7n, 1)], 'c')).toBe(true);
    expect(q.vq.inFlight).toBe(1);
  });
});

describe('2.7.10 Available Buffer Notification Suppression (the driver side)', () => {
  it('without EVENT_IDX: kick notifies unless the device set VIRTQ_USED_F_NO_NOTIFY; nothing added, no kick', () => {
    const q = queue();
    expect(q.vq.kick()).toBe(false);
    q.vq.add([seg(1n, 1)], 'a');
    expect(q.vq.kick()).toBe(true);
    q.setUsedFlags(USED_F_NO_NOTIFY);
    q.vq.add([seg(1n, 1)], 'b');
    expect(q.vq.kick()).toBe(false);
    expect(q.notified).toEqual([3]);
    expect(q.vq.counters).toMatchObject({ kicks: 1, kicksSuppressed: 1 });
  });

  it('with EVENT_IDX: kick notifies when the published entries include index avail_event (the flags ignored)', () => {
    const q = queue({ eventIdx: true });
    q.setUsedFlags(USED_F_NO_NOTIFY);
    q.setAvailEvent(2);
    const kicks: boolean[] = [];
    q.vq.add([seg(1n, 1)], 'a'); // index 0
    kicks.push(q.vq.kick());
    q.vq.add([seg(1n, 1)], 'b'); // index 1
    kicks.push(q.vq.kick());
    q.vq.add([seg(1n, 1)], 'c'); // index 2
    q.vq.add([seg(1n, 1)], 'd'); // index 3
    kicks.push(q.vq.kick());
    expect(kicks).toEqual([false, false, true]);
    expect(q.vq.counters).toMatchObject({ kicks: 1, kicksSuppressed: 2 });
  });
});

describe('2.7.7 Used Buffer Notification Suppression (the driver side)', () => {
  it('without EVENT_IDX: disableCallbacks sets VIRTQ_AVAIL_F_NO_INTERRUPT, enableCallbacks clears it and reports waiting buffers', () => {
    const q = queue();
    q.vq.disableCallbacks();
    expect(q.avail().flags).toBe(AVAIL_F_NO_INTERRUPT);
    expect(q.vq.enableCallbacks()).toBe(false);
    expect(q.avail().flags).toBe(0);
    q.vq.add([seg(1n, 1)], 'a');
    q.use(0);
    q.vq.disableCallbacks();
    expect(q.vq.enableCallbacks()).toBe(true);
  });

  it('with EVENT_IDX: getUsed publishes used_event = the next used index; disabling moves it half the ring space away', () => {
    const q = queue({ eventIdx: true });
    for (const t of ['a', 'b', 'c']) q.vq.add([seg(1n, 1)], t);
    q.use(0);
    q.use(1);
    q.vq.getUsed();
    expect(q.usedEvent()).toBe(1);
    q.vq.getUsed();
    expect(q.usedEvent()).toBe(2);
    q.vq.disableCallbacks();
    expect(q.usedEvent()).toBe(0x8002);
    expect(q.avail().flags).toBe(0);
    q.use(2);
    q.vq.getUsed();
    expect(q.usedEvent()).toBe(0x8002); // callbacks off: used_event stays away
    expect(q.vq.enableCallbacks()).toBe(false);
    expect(q.usedEvent()).toBe(3);
  });

  it('a notification with nothing used is counted as spurious and does not call back', () => {
    const q = queue();
    let calls = 0;
    q.vq.callback = () => calls++;
    q.vq.interrupt();
    expect(q.vq.counters.spuriousNotifications).toBe(1);
    q.vq.add([seg(1n, 1)], 'a');
    q.use(0);
    q.vq.interrupt();
    expect(calls).toBe(1);
    expect(q.vq.counters.notifications).toBe(1);
  });
});

describe('2.7.14 Receiving Used Buffers: the driver checks what the device wrote', () => {
  it('an id outside the table breaks the queue', () => {
    const q = queue();
    q.vq.add([seg(1n, 1)], 'a');
    q.use(9);
    expect(q.vq.getUsed()).toBeNull();
    expect(q.vq.broken).toBe(true);
    expect(q.vq.brokenReason).toMatch(/returns descriptor 9, which heads no outstanding chain/);
    expect(q.vq.hasUsed()).toBe(false);
  });

  it('an id that is not the head of an outstanding chain breaks the queue (the same chain used twice)', () => {
    const q = queue();
    q.vq.add([seg(1n, 1), seg(2n, 1)], 'a');
    q.use(1);
    expect(q.vq.getUsed()).toBeNull();
    expect(q.vq.broken).toBe(true);
    const r = queue();
    r.vq.add([seg(1n, 1)], 'a');
    r.use(0);
    r.use(0);
    expect(r.vq.getUsed()?.token).toBe('a');
    expect(r.vq.getUsed()).toBeNull();
    expect(r.vq.broken).toBe(true);
  });

  it('a used index that moved by more than the queue size breaks the queue', () => {
    const q = queue();
    q.setUsedIdx(9);
    expect(q.vq.getUsed()).toBeNull();
    expect(q.vq.brokenReason).toMatch(/used index moved from 0 to 9/);
  });

  it('detachUnused takes back every outstanding buffer', () => {
    const q = queue();
    q.vq.add([seg(1n, 1), seg(2n, 1)], 'a');
    q.vq.add([seg(1n, 1)], 'b');
    expect(q.vq.detachUnused()).toEqual(['a', 'b']);
    expect(q.vq.freeDescriptors).toBe(8);
  });
});

describe('2.7.5.3 Indirect Descriptors (the driver side)', () => {
  it('a buffer of several segments takes one INDIRECT descriptor pointing at its own table (device addresses)', () => {
    const q = queue({ indirect: 4 });
    q.vq.add([seg(0xa000n, 8), seg(0xb000n, 8, true), seg(0xc000n, 4, true)], 'a');
    q.vq.add([seg(0xd000n, 8), seg(0xe000n, 8, true)], 'b');
    const tableB = INDIRECT + BigInt(1 * 4 * 16);
    expect(q.desc(0)).toEqual({ addr: INDIRECT + DMA, len: 48, flags: DescFlags.INDIRECT, next: 0 });
    expect(q.desc(1)).toEqual({ addr: tableB + DMA, len: 32, flags: DescFlags.INDIRECT, next: 0 });
    expect([0, 1, 2].map((i) => q.desc(i, INDIRECT))).toEqual([
      { addr: 0xa000n, len: 8, flags: DescFlags.NEXT, next: 1 },
      { addr: 0xb000n, len: 8, flags: DescFlags.WRITE | DescFlags.NEXT, next: 2 },
      { addr: 0xc000n, len: 4, flags: DescFlags.WRITE, next: 0 },
    ]);
    expect(q.vq.freeDescriptors).toBe(6);
    expect(q.vq.counters.indirect).toBe(2);
    // One segment, or more than a table holds: direct descriptors.
    q.vq.add([seg(1n, 1)], 'c');
    q.vq.add([1, 2, 3, 4, 5].map((i) => seg(BigInt(i), 1)), 'd');
    expect(q.vq.freeDescriptors).toBe(0);
    expect(q.vq.counters.indirect).toBe(2);
  });
});

describe('free list invariant (property)', () => {
  it('under random adds and out-of-order completions every token comes back once and no descriptor leaks', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.nat()), { minLength: 1, maxLength: 200 }), fc.boolean(), (ops, indirect) => {
        const q = queue({ size: 16, indirect: indirect ? 3 : undefined });
        const outstanding: { head: number; token: string }[] = [];
        const returned: string[] = [];
        const added: string[] = [];
        let descriptorsInUse = 0;
        const cost = new Map<string, number>();
        ops.forEach(([segments, complete, pick], i) => {
          if (complete && outstanding.length > 0) {
            const [{ head, token }] = outstanding.splice(pick % outstanding.length, 1);
            q.use(head, segments);
            const u = q.vq.getUsed();
            expect(u?.token).toBe(token);
            returned.push(token);
            descriptorsInUse -= cost.get(token) ?? 0;
            return;
          }
          const token = `t${i}`;
          const free = q.vq.freeDescriptors;
          const ok = q.vq.add(Array.from({ length: segments }, (_, k) => seg(BigInt(k), 1, k === segments - 1)), token);
          const needs = indirect && segments > 1 && segments <= 3 ? 1 : segments;
          expect(ok).toBe(free >= needs);
          if (ok) {
            const head = q.availEntry((q.avail().idx + 0xffff) % 16);
            outstanding.push({ head, token });
            added.push(token);
            cost.set(token, needs);
            descriptorsInUse += needs;
          }
          expect(q.vq.freeDescriptors).toBe(16 - descriptorsInUse);
        });
        expect(q.vq.inFlight).toBe(outstanding.length);
        expect([...returned, ...q.vq.detachUnused()].sort()).toEqual([...added].sort());
        expect(q.vq.freeDescriptors).toBe(16);
      }),
      { numRuns: 200 },
    );
  });
});
