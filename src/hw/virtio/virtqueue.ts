// The device side of a split virtqueue (VIRTIO 1.3 section 2.7 "Split Virtqueues"): taking
// descriptor chains from the available ring, returning them through the used ring, and the
// notification suppression rules in both directions.
//
// Everything in guest memory is untrusted. A malformed ring (a head or `next` outside the
// table, a chain longer than the queue - a loop -, INDIRECT without the feature, with NEXT,
// nested, or with a table length that is zero or not a multiple of 16, a device-readable
// descriptor after a device-writable one, a chain of 2^32 bytes or more, an available index
// that moved by more than the queue size, a memory access that fails) is an error the
// device cannot recover from: it sets DEVICE_NEEDS_RESET through its host (which sends the
// configuration change notification, 2.1.2) and uses no further buffers until reset.
//
// pop/push allocate nothing: the chain is an object the queue reuses, its segments live in
// typed arrays sized for the longest legal chain (the queue size).

import { Avail, availEventOffset, availRingEntry, AVAIL_F_NO_INTERRUPT, DESC_SIZE, DescFlags, needsEvent, Used, usedEventOffset, usedRingEntry, USED_F_NO_NOTIFY } from '../../formats/virtio/split-ring.js';
import { describeDmaStatus, type GuestMemory } from './guest-memory.js';

/** What a queue needs from the device it belongs to (VirtioDeviceCore). */
export interface VirtqueueHost {
  /** DRIVER_OK is set and the device does not need a reset. */
  readonly live: boolean;
  /** VIRTIO_F_EVENT_IDX and VIRTIO_F_INDIRECT_DESC were negotiated. */
  readonly eventIdx: boolean;
  readonly indirectDesc: boolean;
  readonly memory: GuestMemory;
  needsReset(reason: string): void;
  /** Sends a used buffer notification for queue `index` through the transport. */
  usedBufferNotification(index: number): void;
}

const MAX_CHAIN_BYTES = 0xffff_ffff;

/** A validated descriptor chain: its device-readable segments, then its device-writable ones. */
export class DescriptorChain {
  /** Index of the head descriptor (what the used ring returns). */
  head = 0;
  /** Total bytes of the driver-readable (device-read) part and of the device-writable part. */
  readableLength = 0;
  writableLength = 0;
  /** Number of buffer descriptors, and how many of them are device-readable. */
  segments = 0;
  readableSegments = 0;
  /** Whether the buffers came from an indirect table. */
  indirect = false;
  private readonly addrHi: Uint32Array;
  private readonly addrLo: Uint32Array;
  private readonly len: Float64Array;

  constructor(
    private readonly memory: GuestMemory,
    capacity: number,
  ) {
    this.addrHi = new Uint32Array(capacity);
    this.addrLo = new Uint32Array(capacity);
    this.len = new Float64Array(capacity);
  }

  /** Copies `length` bytes of the readable part from `offset` into `into[at..]`; false on a memory error or past its end. */
  read(offset: number, length: number, into: Uint8Array, at = 0): boolean {
    if (offset < 0 || length < 0 || offset + length > this.readableLength || at + length > into.length) return false;
    return this.copy(0, this.readableSegments, offset, length, into, at, false);
  }

  /** Copies bytes into the writable part at `offset`; false on a memory error or past its end. */
  write(offset: number, from: Uint8Array, at = 0, length = from.length - at): boolean {
    if (offset < 0 || length < 0 || offset + length > this.writableLength || at + length > from.length) return false;
    return this.copy(this.readableSegments, this.segments, offset, length, from, at, true);
  }

  /** Segment `i` (0-based over the whole chain): bus address and length (tools and tests). */
  segment(i: number): { address: bigint; length: number; writable: boolean } {
    return { address: (BigInt(this.addrHi[i]) << 32n) | BigInt(this.addrLo[i]), length: this.len[i], writable: i >= this.readableSegments };
  }

  /** @internal The queue starts a new chain. */
  begin(head: number): void {
    this.head = head;
    this.readableLength = 0;
    this.writableLength = 0;
    this.segments = 0;
    this.readableSegments = 0;
    this.indirect = false;
  }

  /** @internal Appends a segment (the queue has checked order and capacity). */
  append(hi: number, lo: number, length: number, writable: boolean): void {
    const i = this.segments++;
    this.addrHi[i] = hi;
    this.addrLo[i] = lo;
    this.len[i] = length;
    if (writable) this.writableLength += length;
    else {
      this.readableLength += length;
      this.readableSegments++;
    }
  }

  private copy(first: number, end: number, offset: number, length: number, data: Uint8Array, at: number, write: boolean): boolean {
    let skip = offset;
    let done = 0;
    for (let i = first; i < end && done < length; i++) {
      const segLen = this.len[i];
      if (skip >= segLen) {
        skip -= segLen;
        continue;
      }
      const n = Math.min(segLen - skip, length - done);
      const ok = write ? this.memory.write(this.addrHi[i], this.addrLo[i], skip, n, data, at + done) : this.memory.read(this.addrHi[i], this.addrLo[i], skip, n, data, at + done);
      if (!ok) return false;
      done += n;
      skip = 0;
    }
    return done === length;
  }
}

export interface DeviceVirtqueueCounters {
  /** Chains taken from the available ring, and returned through the used ring. */
  popped: number;
  pushed: number;
  /** Used buffer notifications sent, and those the driver's suppression avoided. */
  notificationsSent: number;
  notificationsSuppressed: number;
  /** Available buffer notifications received from the driver. */
  kicks: number;
}

export class DeviceVirtqueue {
  /** Queue size the driver chose (QueueSize / queue_size); the maximum after reset. */
  size: number;
  /** Descriptor, driver (available ring) and device (used ring) area addresses, as 32-bit halves. */
  descHi = 0;
  descLo = 0;
  driverHi = 0;
  driverLo = 0;
  deviceHi = 0;
  deviceLo = 0;
  /** QueueReady / queue_enable. */
  enabled = false;
  readonly counters: DeviceVirtqueueCounters = { popped: 0, pushed: 0, notificationsSent: 0, notificationsSuppressed: 0, kicks: 0 };

  /** Next available ring index to take, the driver's last published index, and the used index. */
  private lastAvail = 0;
  private shadowAvail = 0;
  private usedIdx = 0;
  /** Used elements written but not yet published (fill without flush). */
  private pending = 0;
  private notifications = true;
  private readonly chain: DescriptorChain;

  constructor(
    readonly index: number,
    /** QueueSizeMax: the largest size the device supports (0: the queue does not exist). */
    readonly maxSize: number,
    private readonly host: VirtqueueHost,
  ) {
    this.size = maxSize;
    this.chain = new DescriptorChain(host.memory, Math.max(1, maxSize));
  }

  /** The next available descriptor chain, validated; null when the ring is empty or the device stopped (see the file comment). The object is reused by the next pop(). */
  pop(): DescriptorChain | null {
    if (!this.enabled || !this.host.live) return null;
    const mem = this.host.memory;
    if (this.lastAvail === this.shadowAvail) {
      const idx = mem.read16(this.driverHi, this.driverLo, Avail.IDX);
      if (idx < 0) return this.fail(`reading the available index failed: ${describeDmaStatus(mem.lastError)}`);
      if (((idx - this.lastAvail) & 0xffff) > this.size) return this.fail(`the available index moved from ${this.lastAvail} to ${idx}, more than the queue size ${this.size}`);
      this.shadowAvail = idx;
      if (idx === this.lastAvail) return null;
    }
    const slot = this.lastAvail & (this.size - 1);
    const head = mem.read16(this.driverHi, this.driverLo, availRingEntry(slot));
    if (head < 0) return this.fail(`reading available ring entry ${slot} failed: ${describeDmaStatus(mem.lastError)}`);
    if (head >= this.size) return this.fail(`available ring entry ${slot} names descriptor ${head}, outside the table of ${this.size}`);
    if (!this.walk(head)) return null;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    // 2.7.10: with EVENT_IDX the device asks to be notified when the driver publishes the next entry.
    if (this.host.eventIdx && this.notifications && !mem.write16(this.deviceHi, this.deviceLo, availEventOffset(this.size), this.lastAvail)) {
      return this.fail(`writing avail_event failed: ${describeDmaStatus(mem.lastError)}`);
    }
    this.counters.popped++;
    return this.chain;
  }

  /** Returns `chain` to the driver as used, `written` bytes written into its device-writable part; raises the used-buffer notification unless suppressed. */
  push(chain: DescriptorChain, written: number): void {
    this.fill(chain, written);
    this.flush();
  }

  /**
   * Writes the used ring element of `chain` without publishing it: several fills then one
   * flush() publish a batch with at most one notification. `written` is clamped to the
   * writable part (the used length may not claim bytes the chain does not have).
   */
  fill(chain: DescriptorChain, written: number): void {
    if (!this.enabled || !this.host.live) return;
    const len = Math.max(0, Math.min(Math.floor(written), chain.writableLength));
    const slot = (this.usedIdx + this.pending) & (this.size - 1);
    const mem = this.host.memory;
    if (!mem.write32x2(this.deviceHi, this.deviceLo, usedRingEntry(slot), chain.head, len)) {
      this.fail(`writing used ring entry ${slot} failed: ${describeDmaStatus(mem.lastError)}`);
      return;
    }
    this.pending++;
    this.counters.pushed++;
  }

  /** Publishes the filled elements (the used index) and notifies the driver unless it suppressed notifications. */
  flush(): void {
    if (this.pending === 0 || !this.enabled || !this.host.live) return;
    const mem = this.host.memory;
    const oldIdx = this.usedIdx;
    const newIdx = (oldIdx + this.pending) & 0xffff;
    this.pending = 0;
    if (!mem.write16(this.deviceHi, this.deviceLo, Used.IDX, newIdx)) {
      this.fail(`writing the used index failed: ${describeDmaStatus(mem.lastError)}`);
      return;
    }
    this.usedIdx = newIdx;
    let notify: boolean;
    if (this.host.eventIdx) {
      const usedEvent = mem.read16(this.driverHi, this.driverLo, usedEventOffset(this.size));
      if (usedEvent < 0) {
        this.fail(`reading used_event failed: ${describeDmaStatus(mem.lastError)}`);
        return;
      }
      notify = needsEvent(usedEvent, newIdx, oldIdx);
    } else {
      const flags = mem.read16(this.driverHi, this.driverLo, Avail.FLAGS);
      if (flags < 0) {
        this.fail(`reading the available ring flags failed: ${describeDmaStatus(mem.lastError)}`);
        return;
      }
      notify = (flags & AVAIL_F_NO_INTERRUPT) === 0;
    }
    if (notify) {
      this.counters.notificationsSent++;
      this.host.usedBufferNotification(this.index);
    } else {
      this.counters.notificationsSuppressed++;
    }
  }

  /**
   * Asks the driver not to send available buffer notifications (2.7.10): VIRTQ_USED_F_NO_NOTIFY
   * without EVENT_IDX; with it, avail_event simply stops following the ring.
   */
  disableNotifications(): void {
    if (!this.enabled || !this.host.live || !this.notifications) return;
    this.notifications = false;
    if (!this.host.eventIdx) this.writeUsedFlags(USED_F_NO_NOTIFY);
  }

  /**
   * Asks for available buffer notifications again; returns whether buffers are already
   * available (the driver will not notify for those, so the device must look now).
   */
  enableNotifications(): boolean {
    if (!this.enabled || !this.host.live) return false;
    this.notifications = true;
    const mem = this.host.memory;
    const idx = mem.read16(this.driverHi, this.driverLo, Avail.IDX);
    if (idx < 0) {
      this.fail(`reading the available index failed: ${describeDmaStatus(mem.lastError)}`);
      return false;
    }
    if (this.host.eventIdx) {
      if (!mem.write16(this.deviceHi, this.deviceLo, availEventOffset(this.size), idx)) {
        this.fail(`writing avail_event failed: ${describeDmaStatus(mem.lastError)}`);
        return false;
      }
    } else if (!this.writeUsedFlags(0)) {
      return false;
    }
    return idx !== this.lastAvail;
  }

  /** Available chains not yet taken (reads the available index; 0 when the queue is stopped). */
  availableCount(): number {
    if (!this.enabled || !this.host.live) return 0;
    const idx = this.host.memory.read16(this.driverHi, this.driverLo, Avail.IDX);
    return idx < 0 ? 0 : (idx - this.lastAvail) & 0xffff;
  }

  /** The next available ring index the device will take, and its used index (tests, tools). */
  get lastAvailIndex(): number {
    return this.lastAvail;
  }

  get usedIndex(): number {
    return this.usedIdx;
  }

  /** QueueReady=1 after the host checked the configuration: ring indices start at 0. */
  enable(): void {
    this.enabled = true;
    this.lastAvail = 0;
    this.shadowAvail = 0;
    this.usedIdx = 0;
    this.pending = 0;
    this.notifications = true;
  }

  /** Back to the reset state: disabled, the maximum size, no ring addresses. */
  reset(): void {
    this.enabled = false;
    this.size = this.maxSize;
    this.descHi = this.descLo = this.driverHi = this.driverLo = this.deviceHi = this.deviceLo = 0;
    this.lastAvail = this.shadowAvail = this.usedIdx = this.pending = 0;
    this.notifications = true;
  }

  /** Walks the chain at `head` into this.chain; false (after needsReset) when it is malformed. */
  private walk(head: number): boolean {
    const mem = this.host.memory;
    const chain = this.chain;
    chain.begin(head);
    const size = this.size;
    let tableHi = this.descHi;
    let tableLo = this.descLo;
    let tableEntries = size;
    let i = head;
    let writable = false;
    for (;;) {
      if (!mem.readDescriptor(tableHi, tableLo, i * DESC_SIZE)) {
        return this.failChain(head, `reading ${chain.indirect ? 'indirect ' : ''}descriptor ${i} failed: ${describeDmaStatus(mem.lastError)}`);
      }
      const flags = mem.descFlags;
      if ((flags & DescFlags.INDIRECT) !== 0) {
        if (!this.host.indirectDesc) return this.failChain(head, `descriptor ${i} is INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`);
        if (chain.indirect) return this.failChain(head, `indirect descriptor ${i} is itself INDIRECT (nested tables are forbidden)`);
        if ((flags & DescFlags.NEXT) !== 0) return this.failChain(head, `descriptor ${i} has both INDIRECT and NEXT`);
        const len = mem.descLen;
        if (len === 0 || len % DESC_SIZE !== 0) return this.failChain(head, `indirect table length ${len} is not a non-zero multiple of ${DESC_SIZE}`);
        if (len / DESC_SIZE > size) return this.failChain(head, `indirect table of ${len / DESC_SIZE} descriptors is longer than the queue size ${size}`);
        chain.indirect = true;
        tableHi = mem.descAddrHi;
        tableLo = mem.descAddrLo;
        tableEntries = len / DESC_SIZE;
        i = 0;
        continue;
      }
      if (chain.segments === size) return this.failChain(head, `the chain is longer than the queue size ${size} (a loop?)`);
      const isWritable = (flags & DescFlags.WRITE) !== 0;
      if (!isWritable && writable) return this.failChain(head, `device-readable descriptor ${i} follows a device-writable one`);
      writable = isWritable;
      chain.append(mem.descAddrHi, mem.descAddrLo, mem.descLen, isWritable);
      if (chain.readableLength + chain.writableLength > MAX_CHAIN_BYTES) return this.failChain(head, 'the chain describes 2^32 bytes or more');
      if ((flags & DescFlags.NEXT) === 0) return true;
      const next = mem.descNext;
      if (next >= tableEntries) return this.failChain(head, `descriptor ${i} chains to ${next}, outside the ${chain.indirect ? 'indirect ' : ''}table of ${tableEntries}`);
      i = next;
    }
  }

  private failChain(head: number, reason: string): false {
    this.fail(`chain at descriptor ${head}: ${reason}`);
    return false;
  }

  private fail(reason: string): null {
    this.host.needsReset(`virtqueue ${this.index}: ${reason}`);
    return null;
  }

  private writeUsedFlags(flags: number): boolean {
    const mem = this.host.memory;
    if (mem.write16(this.deviceHi, this.deviceLo, Used.FLAGS, flags)) return true;
    this.fail(`writing the used ring flags failed: ${describeDmaStatus(mem.lastError)}`);
    return false;
  }
}
