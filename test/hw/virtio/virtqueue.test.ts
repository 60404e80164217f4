// Conformance of the device side of split virtqueues (VIRTIO 1.3 section 2.7 "Split
// Virtqueues"), driven by hand through virtio-mmio registers and ring memory: descriptor
// chains (2.7.5), indirect tables (2.7.5.3), the available and used rings (2.7.6, 2.7.8),
// notification suppression in both directions (2.7.7, 2.7.10), and the device's answer to
// every malformed ring: DEVICE_NEEDS_RESET with a configuration change notification (2.1.2),
// nothing thrown, and no further buffers used.

import { describe, expect, it } from 'vitest';
import { VirtioMmio, VirtioMmioInterrupt } from '../../../src/formats/virtio/mmio.js';
import { AVAIL_F_NO_INTERRUPT, DescFlags, USED_F_NO_NOTIFY } from '../../../src/formats/virtio/split-ring.js';
import { DeviceStatus } from '../../../src/formats/virtio/status.js';
import { AVAIL, DATA, DESC, DeviceBench, F, USED } from './bench.js';

const { NEXT, WRITE, INDIRECT } = DescFlags;
const LIVE = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK;

/** A two-descriptor echo request at descriptors `d`, `d+1`: 4 readable bytes, 8 writable ones. */
function request(b: DeviceBench, d: number, payload: number[] = [1, 2, 3, 4]): { out: bigint; into: bigint } {
  const out = DATA + BigInt(0x100 * d);
  const into = out + 0x80n;
  b.bytes(out, payload);
  b.desc(d, out, payload.length, NEXT, d + 1);
  b.desc(d + 1, into, 8, WRITE);
  return { out, into };
}

describe('2.7.5 The Virtqueue Descriptor Table, 2.7.8 The Virtqueue Used Ring', () => {
  it('a readable+writable chain is used: used element {id: head, len: bytes written}, used idx advanced, one notification', () => {
    const b = new DeviceBench();
    expect(b.start()).toBe(LIVE);
    const { into } = request(b, 0, [9, 8, 7, 6]);
    b.publish(0);
    b.kick();
    expect(b.usedIdx()).toBe(1);
    expect(b.used(0)).toEqual({ id: 0, len: 4 });
    expect(b.readBytes(into, 4)).toEqual([9, 8, 7, 6]);
    expect(b.interruptStatus()).toBe(VirtioMmioInterrupt.USED_BUFFER);
    expect(b.irq.asserted).toBe(true);
    expect(b.queue.counters).toEqual({ popped: 1, pushed: 1, notificationsSent: 1, notificationsSuppressed: 0, kicks: 1 });
  });

  it('segments are read and written across descriptors and 4 KiB page boundaries', () => {
    const b = new DeviceBench();
    b.start();
    const payload = Array.from({ length: 40 }, (_, i) => i + 1);
    const out = DATA + 0xff0n; // crosses into the next page
    b.bytes(out, payload);
    b.desc(0, out, 24, NEXT, 3);
    b.desc(3, out + 24n, 16, NEXT, 5);
    b.desc(5, DATA + 0x1ffcn, 10, WRITE | NEXT, 6); // crosses a page too
    b.desc(6, DATA + 0x3000n, 30, WRITE);
    b.publish(0);
    b.kick();
    expect(b.used(0)).toEqual({ id: 0, len: 40 });
    expect([...b.readBytes(DATA + 0x1ffcn, 10), ...b.readBytes(DATA + 0x3000n, 30)]).toEqual(payload);
  });

  it('chains are taken in available-ring order and wrap around the ring (free-running 16-bit indices)', () => {
    const b = new DeviceBench();
    b.start();
    for (let round = 0; round < 5; round++) {
      const heads = [6, 0, 4, 2];
      for (const h of heads) request(b, h, [round, h, 0, 0]);
      for (const h of heads) b.publish(h);
      b.kick();
      for (let i = 0; i < 4; i++) expect(b.used((round * 4 + i) % 8).id).toBe(heads[i]);
    }
    expect(b.usedIdx()).toBe(20);
    expect(b.queue.counters.popped).toBe(20);
  });

  it('a chain without a writable part is used with length 0', () => {
    const b = new DeviceBench();
    b.start();
    b.bytes(DATA, [1, 2]);
    b.desc(0, DATA, 2);
    b.publish(0);
    b.kick();
    expect(b.used(0)).toEqual({ id: 0, len: 0 });
  });
});

describe('2.7.5.3 Indirect Descriptors', () => {
  it('a descriptor with INDIRECT points at a table whose chain starts at entry 0', () => {
    const b = new DeviceBench();
    b.start(F.VERSION_1 | F.INDIRECT_DESC);
    const table = DATA + 0x800n;
    b.bytes(DATA, [5, 6, 7]);
    b.desc(0, DATA, 3, NEXT, 2, table);
    b.desc(2, DATA + 0x40n, 3, WRITE, 0, table);
    b.desc(1, table, 48, INDIRECT | WRITE); // the WRITE flag of the pointing descriptor is ignored
    b.publish(1);
    b.kick();
    expect(b.used(0)).toEqual({ id: 1, len: 3 });
    expect(b.readBytes(DATA + 0x40n, 3)).toEqual([5, 6, 7]);
    expect(b.core.needsResetSet).toBe(false);
  });

  it('the device handles normal chained descriptors followed by one INDIRECT descriptor', () => {
    const b = new DeviceBench();
    b.start(F.VERSION_1 | F.INDIRECT_DESC);
    const table = DATA + 0x800n;
    b.bytes(DATA, [1, 2, 3, 4]);
    b.desc(0, DATA, 2, NEXT, 1);
    b.desc(1, table, 32, INDIRECT);
    b.desc(0, DATA + 2n, 2, NEXT, 1, table);
    b.desc(1, DATA + 0x40n, 4, WRITE, 0, table);
    b.publish(0);
    b.kick();
    expect(b.used(0)).toEqual({ id: 0, len: 4 });
    expect(b.readBytes(DATA + 0x40n, 4)).toEqual([1, 2, 3, 4]);
  });
});

interface HostileCase {
  name: string;
  features?: bigint;
  /** Sets up the ring (the chain is published at head `head`, default 0). */
  setUp(b: DeviceBench): void;
  head?: number;
  /** Publish nothing: setUp wrote the available index itself. */
  noPublish?: boolean;
  error: RegExp;
}

const TABLE = DATA + 0x800n;

const HOSTILE: HostileCase[] = [
  { name: 'an available ring entry naming a descriptor beyond the queue size', head: 8, setUp: () => undefined, error: /available ring entry 0 names descriptor 8, outside the table of 8/ },
  { name: 'next beyond the queue size', setUp: (b) => b.desc(0, DATA, 4, NEXT, 9), error: /descriptor 0 chains to 9, outside the table of 8/ },
  {
    name: 'a loop through two descriptors',
    setUp: (b) => {
      b.desc(0, DATA, 4, NEXT, 1);
      b.desc(1, DATA, 4, NEXT, 0);
    },
    error: /longer than the queue size 8 \(a loop\?\)/,
  },
  { name: 'a descriptor chained to itself', setUp: (b) => b.desc(0, DATA, 4, NEXT, 0), error: /longer than the queue size/ },
  { name: 'INDIRECT without VIRTIO_F_INDIRECT_DESC', setUp: (b) => b.desc(0, TABLE, 16, INDIRECT), error: /INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated/ },
  {
    name: 'INDIRECT together with NEXT',
    features: F.VERSION_1 | F.INDIRECT_DESC,
    setUp: (b) => {
      b.desc(0, TABLE, 16, INDIRECT | NEXT, 1);
      b.desc(0, DATA, 4, 0, 0, TABLE);
    },
    error: /both INDIRECT and NEXT/,
  },
  {
    name: 'a nested indirect table',
    features: F.VERSION_1 | F.INDIRECT_DESC,
    setUp: (b) => {
      b.desc(0, TABLE, 16, INDIRECT);
      b.desc(0, TABLE + 0x100n, 16, INDIRECT, 0, TABLE);
    },
    error: /itself INDIRECT \(nested tables are forbidden\)/,
  },
  { name: 'an indirect table of length 0', features: F.VERSION_1 | F.INDIRECT_DESC, setUp: (b) => b.desc(0, TABLE, 0, INDIRECT), error: /indirect table length 0 is not a non-zero multiple of 16/ },
  { name: 'an indirect table length not a multiple of 16', features: F.VERSION_1 | F.INDIRECT_DESC, setUp: (b) => b.desc(0, TABLE, 24, INDIRECT), error: /indirect table length 24/ },
  { name: 'an indirect table longer than the queue size', features: F.VERSION_1 | F.INDIRECT_DESC, setUp: (b) => b.desc(0, TABLE, 16 * 9, INDIRECT), error: /indirect table of 9 descriptors is longer than the queue size 8/ },
  {
    name: 'a loop inside an indirect table',
    features: F.VERSION_1 | F.INDIRECT_DESC,
    setUp: (b) => {
      b.desc(0, TABLE, 32, INDIRECT);
      b.desc(0, DATA, 4, NEXT, 1, TABLE);
      b.desc(1, DATA, 4, NEXT, 0, TABLE);
    },
    error: /longer than the queue size/,
  },
  {
    name: 'next beyond the end of an indirect table',
    features: F.VERSION_1 | F.INDIRECT_DESC,
    setUp: (b) => {
      b.desc(0, TABLE, 32, INDIRECT);
      b.desc(0, DATA, 4, NEXT, 2, TABLE);
    },
    error: /descriptor 0 chains to 2, outside the indirect table of 2/,
  },
  {
    name: 'a device-readable descriptor after a device-writable one',
    setUp: (b) => {
      b.desc(0, DATA, 4, WRITE | NEXT, 1);
      b.desc(1, DATA, 4, 0);
    },
    error: /device-readable descriptor 1 follows a device-writable one/,
  },
  {
    name: 'a device-readable indirect descriptor after a device-writable direct one',
    features: F.VERSION_1 | F.INDIRECT_DESC,
    setUp: (b) => {
      b.desc(0, DATA, 4, WRITE | NEXT, 1);
      b.desc(1, TABLE, 16, INDIRECT);
      b.desc(0, DATA, 4, 0, 0, TABLE);
    },
    error: /device-readable descriptor 0 follows a device-writable one/,
  },
  {
    name: 'a chain of 2^32 bytes',
    setUp: (b) => {
      b.desc(0, DATA, 0x8000_0000, NEXT, 1);
      b.desc(1, DATA, 0x8000_0000, WRITE);
    },
    error: /2\^32 bytes or more/,
  },
  { name: 'an available index that moved by more than the queue size', noPublish: true, setUp: (b) => b.setAvailIdx(9), error: /available index moved from 0 to 9, more than the queue size 8/ },
  {
    name: 'a descriptor table the device cannot read (access fault)',
    setUp: (b) => {
      request(b, 0);
      b.memory.markAccessFault(DESC, 0x1000n);
    },
    error: /reading descriptor 0 failed: a bus error/,
  },
  {
    name: 'a descriptor read with poisoned data',
    setUp: (b) => {
      request(b, 0);
      b.memory.markDataCorruption(DESC, 0x10n);
    },
    error: /reading descriptor 0 failed: poisoned data/,
  },
  {
    name: 'an indirect table the device cannot read',
    features: F.VERSION_1 | F.INDIRECT_DESC,
    setUp: (b) => {
      b.desc(0, TABLE, 16, INDIRECT);
      b.memory.markAccessFault(TABLE, 0x10n);
    },
    error: /reading indirect descriptor 0 failed/,
  },
  {
    name: 'an available ring the device cannot read',
    setUp: (b) => {
      request(b, 0);
      b.memory.markAccessFault(AVAIL + 4n, 2n);
    },
    error: /reading available ring entry 0 failed/,
  },
  {
    name: 'a used ring the device cannot write',
    setUp: (b) => {
      request(b, 0);
      b.memory.markAccessFault(USED + 4n, 8n);
    },
    error: /writing used ring entry 0 failed/,
  },
  {
    name: 'a buffer the device model cannot read (the model asks for the reset)',
    setUp: (b) => {
      request(b, 0);
      b.memory.markAccessFault(DATA, 4n);
    },
    error: /echo: reading the request failed/,
  },
];

describe('malformed rings: DEVICE_NEEDS_RESET and a configuration change notification (2.1.2), nothing more used', () => {
  for (const c of HOSTILE) {
    it(c.name, () => {
      const b = new DeviceBench();
      expect(b.start(c.features ?? F.VERSION_1)).toBe(LIVE);
      c.setUp(b);
      if (c.noPublish !== true) b.publish(c.head ?? 0);
      expect(() => b.kick()).not.toThrow();
      expect(b.status()).toBe(LIVE | DeviceStatus.DEVICE_NEEDS_RESET);
      expect(b.interruptStatus() & VirtioMmioInterrupt.CONFIG_CHANGE).toBe(VirtioMmioInterrupt.CONFIG_CHANGE);
      expect(b.irq.asserted).toBe(true);
      expect(b.core.errors).toHaveLength(1);
      expect(b.core.errors[0]).toMatch(c.error);
      expect(b.usedIdx()).toBe(0);
      expect(b.queue.counters.pushed).toBe(0);
      // A valid request afterwards is not used: the device stopped using its queues.
      b.memory.clearMarks();
      request(b, 4);
      b.publish(4);
      b.kick();
      expect(b.usedIdx()).toBe(0);
      expect(b.core.errors).toHaveLength(1);
      expect(b.core.counters.needsReset).toBe(1);
      // The driver may not clear DEVICE_NEEDS_RESET; a reset does.
      b.write(VirtioMmio.STATUS, LIVE | DeviceStatus.FAILED);
      expect(b.status() & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
      b.write(VirtioMmio.STATUS, 0);
      expect(b.status()).toBe(0);
      expect(b.interruptStatus()).toBe(0);
      expect(b.irq.asserted).toBe(false);
    });
  }

  it('after a reset and a fresh initialization the same ring works again from index 0', () => {
    const b = new DeviceBench();
    b.start();
    b.desc(0, DATA, 4, NEXT, 0);
    b.publish(0);
    b.kick();
    expect(b.core.needsResetSet).toBe(true);
    b.memory.writeBytes(AVAIL, new Uint8Array(0x100));
    expect(b.start()).toBe(LIVE);
    request(b, 0);
    b.publish(0);
    b.kick();
    expect(b.usedIdx()).toBe(1);
    expect(b.used(0).id).toBe(0);
  });

  it('without DRIVER_OK the device does not set the configuration change bit (no notification before DRIVER_OK)', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    b.setDriverFeatures(F.VERSION_1);
    b.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
    b.setUpQueue(0, 8, DESC + 8n); // misaligned descriptor table
    expect(b.status() & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
    expect(b.interruptStatus()).toBe(0);
  });
});

describe('2.1.2: no buffer is used before DRIVER_OK', () => {
  it('a notification before DRIVER_OK is ignored (and counted as spurious)', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    b.setDriverFeatures(F.VERSION_1);
    b.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
    b.setUpQueue(0, 8);
    request(b, 0);
    b.publish(0);
    b.kick();
    expect(b.usedIdx()).toBe(0);
    expect(b.core.counters.spuriousNotifications).toBe(1);
    expect(b.queue.counters.kicks).toBe(1);
  });
});

describe('2.7.7 Used Buffer Notification Suppression', () => {
  it('without EVENT_IDX: VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the notification, flags 0 sends it', () => {
    const b = new DeviceBench();
    b.start();
    b.setAvailFlags(AVAIL_F_NO_INTERRUPT);
    request(b, 0);
    b.publish(0);
    b.kick();
    expect(b.usedIdx()).toBe(1);
    expect(b.interruptStatus()).toBe(0);
    expect(b.irq.asserted).toBe(false);
    b.setAvailFlags(0);
    request(b, 2);
    b.publish(2);
    b.kick();
    expect(b.interruptStatus()).toBe(VirtioMmioInterrupt.USED_BUFFER);
    expect(b.queue.counters).toMatchObject({ notificationsSent: 1, notificationsSuppressed: 1 });
  });

  it('with EVENT_IDX: a notification exactly when the used idx passes used_event, the flags ignored', () => {
    const b = new DeviceBench();
    b.start(F.VERSION_1 | F.EVENT_IDX);
    b.setAvailFlags(AVAIL_F_NO_INTERRUPT); // MUST be ignored with EVENT_IDX
    b.setUsedEvent(2);
    const sent: number[] = [];
    for (let i = 0; i < 4; i++) {
      request(b, 2 * (i % 4));
      b.publish(2 * (i % 4));
      b.kick();
      sent.push(b.queue.counters.notificationsSent);
    }
    // used idx goes 1, 2, 3, 4: only the third chain is written at index 2 = used_event.
    expect(sent).toEqual([0, 0, 1, 1]);
    expect(b.queue.counters.notificationsSuppressed).toBe(3);
  });

  it('with EVENT_IDX and batched completions (fill/flush): one notification for a batch that passes used_event', () => {
    const b = new DeviceBench({ echo: { batch: 4 } });
    b.start(F.VERSION_1 | F.EVENT_IDX);
    b.setUsedEvent(1);
    for (const h of [0, 2, 4, 6]) request(b, h);
    for (const h of [0, 2, 4, 6]) b.publish(h);
    b.kick();
    expect(b.usedIdx()).toBe(4);
    expect(b.queue.counters).toMatchObject({ pushed: 4, notificationsSent: 1, notificationsSuppressed: 0 });
    // The next batch (indices 4..7) does not pass used_event 1: suppressed.
    for (const h of [0, 2, 4, 6]) request(b, h);
    for (const h of [0, 2, 4, 6]) b.publish(h);
    b.kick();
    expect(b.queue.counters).toMatchObject({ pushed: 8, notificationsSent: 1, notificationsSuppressed: 1 });
  });
});

describe('2.7.10 Available Buffer Notification Suppression (the device side)', () => {
  it('with EVENT_IDX the device publishes avail_event = the next index it will take', () => {
    const b = new DeviceBench();
    b.start(F.VERSION_1 | F.EVENT_IDX);
    for (const h of [0, 2, 4]) request(b, h);
    for (const h of [0, 2, 4]) b.publish(h);
    b.kick();
    expect(b.availEvent()).toBe(3);
  });

  it('with EVENT_IDX, notifications disabled: avail_event stays; enabling publishes the current available index', () => {
    const b = new DeviceBench({ echo: { mode: 'deferred' } });
    b.start(F.VERSION_1 | F.EVENT_IDX);
    request(b, 0);
    b.publish(0);
    b.kick(); // the device disables notifications and leaves the work for later
    request(b, 2);
    b.publish(2);
    expect(b.availEvent()).toBe(0);
    b.echo.service();
    expect(b.usedIdx()).toBe(2);
    expect(b.availEvent()).toBe(2);
  });

  it('without EVENT_IDX the device sets VIRTQ_USED_F_NO_NOTIFY while busy and clears it after', () => {
    const b = new DeviceBench({ echo: { mode: 'deferred' } });
    b.start();
    request(b, 0);
    b.publish(0);
    b.kick();
    expect(b.usedFlags()).toBe(USED_F_NO_NOTIFY);
    b.echo.service();
    expect(b.usedFlags()).toBe(0);
    expect(b.usedIdx()).toBe(1);
  });

  it('enableNotifications reports buffers that arrived while notifications were off', () => {
    const b = new DeviceBench({ echo: { mode: 'deferred' } });
    b.start();
    request(b, 0);
    b.publish(0);
    b.kick();
    const q = b.queue;
    expect(q.enableNotifications()).toBe(true); // chain 0 is still waiting
    expect(q.availableCount()).toBe(1);
  });
});

describe('2.7.8: the used length never claims more than the writable part', () => {
  it('push clamps `written` to the chain writable length', () => {
    const b = new DeviceBench();
    b.start();
    const q = b.queue;
    b.echo.queueNotified = () => undefined; // take chains by hand
    request(b, 0);
    b.publish(0);
    b.kick();
    const chain = q.pop();
    expect(chain?.writableLength).toBe(8);
    q.push(chain!, 1000);
    expect(b.used(0)).toEqual({ id: 0, len: 8 });
  });

  it('read/write outside the chain parts return false without touching memory', () => {
    const b = new DeviceBench();
    b.start();
    b.echo.queueNotified = () => undefined;
    request(b, 0);
    b.publish(0);
    const chain = b.queue.pop()!;
    expect(chain.read(2, 4, new Uint8Array(8))).toBe(false);
    expect(chain.write(6, new Uint8Array(4))).toBe(false);
    expect(chain.read(0, 4, new Uint8Array(2))).toBe(false);
    expect(chain.segment(1)).toEqual({ address: DATA + 0x80n, length: 8, writable: true });
  });
});
