// The driver side of a split virtqueue (VIRTIO 1.3 section 2.7, after Linux's
// drivers/virtio/virtio_ring.c): a descriptor table with a free list, the available ring the
// driver publishes chains in, the used ring it takes them back from, and notification
// suppression in both directions (VIRTQ_USED_F_NO_NOTIFY / avail_event when deciding to kick,
// VIRTQ_AVAIL_F_NO_INTERRUPT / used_event to ask for fewer interrupts).
//
// The rings live in one physically contiguous, zeroed area that the CPU reaches by physical
// address (kernel memory) and the device by its DMA address: descriptors at 0, the
// available ring right after them, the used ring at the next 4-byte boundary (2.7, alignment
// table). With VIRTIO_F_INDIRECT_DESC a chain of several segments takes one descriptor that
// points at an indirect table; each descriptor owns one preallocated table of
// `maxSegments` entries, so adding never allocates guest memory.
//
// The driver keeps its own shadow of the chains it published (the next links and chain
// lengths) and trusts nothing the device writes beyond the used ring entries, which it
// checks: an id that is not the head of an outstanding chain, or a used index that moved by
// more than the queue size, marks the queue broken (as Linux's BAD_RING).

import { Avail, availEventOffset, availRingEntry, availRingSize, AVAIL_F_NO_INTERRUPT, DESC_SIZE, descTableSize, DescFlags, needsEvent, RingAlign, Used, usedEventOffset, usedRingEntry, usedRingSize, USED_F_NO_NOTIFY, validQueueSize } from '../../../formats/virtio/split-ring.js';
import type { PhysicalMemory } from '../../../sim/physical-memory.js';
import { VirtioError } from './errors.js';

/** One physically contiguous piece of a buffer, as the device will address it. */
export interface VirtqSegment {
  /** DMA (bus) address. */
  readonly address: bigint;
  readonly length: number;
  /** Device-writable (otherwise device-readable); readable segments come first. */
  readonly writable: boolean;
}

/** Memory shared with the device: where the CPU and the device see it. */
export interface SharedArea {
  readonly paddr: bigint;
  readonly dmaAddress: bigint;
}

/** Offsets of the three parts in the ring area, and its size. */
export interface SplitRingLayout {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly bytes: number;
}

export function splitRingLayout(size: number): SplitRingLayout {
  const avail = descTableSize(size);
  const used = Math.ceil((avail + availRingSize(size)) / RingAlign.USED) * RingAlign.USED;
  return { desc: 0, avail, used, bytes: used + usedRingSize(size) };
}

export interface SplitVirtqueueOptions {
  index: number;
  /** Queue size: a power of two up to 32768. */
  size: number;
  /** The CPU's view of RAM. */
  memory: PhysicalMemory;
  /** The ring area (splitRingLayout(size).bytes, zeroed, 16-byte aligned). */
  ring: SharedArea;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  eventIdx: boolean;
  /** Indirect tables (VIRTIO_F_INDIRECT_DESC negotiated): size * maxSegments descriptors. */
  indirect: { area: SharedArea; maxSegments: number } | null;
  /** Sends the available buffer notification (the transport's queue notify). */
  notify: (index: number) => void;
}

export interface VirtqueueCounters {
  /** Chains made available, and chains taken back used. */
  added: number;
  completed: number;
  /** Chains that went through an indirect table. */
  indirect: number;
  /** Available buffer notifications sent, and those the device's suppression avoided. */
  kicks: number;
  kicksSuppressed: number;
  /** Used buffer notifications delivered to the callback, and those that found nothing used. */
  notifications: number;
  spuriousNotifications: number;
}

/** A used buffer: the token given to add(), and the bytes the device wrote. Valid until the next getUsed(). */
export interface UsedBuffer<T> {
  token: T;
  length: number;
}

const NO_NEXT = 0xffff;

export class SplitVirtqueue<T = unknown> {
  readonly index: number;
  readonly size: number;
  readonly ring: SharedArea;
  readonly layout: SplitRingLayout;
  readonly eventIdx: boolean;
  readonly counters: VirtqueueCounters = { added: 0, completed: 0, indirect: 0, kicks: 0, kicksSuppressed: 0, notifications: 0, spuriousNotifications: 0 };
  /** Called on a used buffer notification for this queue (typically drains getUsed()). */
  callback: ((vq: SplitVirtqueue<T>) => void) | null = null;
  /** Set when the device broke the ring protocol; the queue then takes nothing more back. */
  broken = false;
  brokenReason = '';

  private readonly memory: PhysicalMemory;
  private readonly notifyDevice: (index: number) => void;
  private readonly ringPpn: number;
  private readonly ringBase: number;
  private readonly indirectArea: SharedArea | null;
  private readonly indirectPpn: number;
  private readonly indirectBase: number;
  private readonly maxIndirect: number;
  /** The next link of every descriptor: chain links for published chains, the free list otherwise. */
  private readonly next: Uint16Array;
  /** Number of descriptors of the chain headed by each descriptor (0: not a head). */
  private readonly chainLength: Uint16Array;
  private readonly tokens: (T | undefined)[];
  private freeHead = 0;
  private free: number;
  private availIdx = 0;
  /** Chains published since the last kick. */
  private added = 0;
  private lastUsed = 0;
  private callbacksEnabled = true;
  private used: UsedBuffer<T> | null = null;

  constructor(o: SplitVirtqueueOptions) {
    if (!validQueueSize(o.size)) throw new VirtioError(`virtqueue ${o.index}: size ${o.size} is not a power of two from 1 to 32768`);
    if ((o.ring.paddr & 0xfn) !== 0n || (o.ring.dmaAddress & 0xfn) !== 0n) throw new VirtioError(`virtqueue ${o.index}: the ring area must be 16-byte aligned`);
    this.index = o.index;
    this.size = o.size;
    this.ring = o.ring;
    this.layout = splitRingLayout(o.size);
    this.eventIdx = o.eventIdx;
    this.memory = o.memory;
    this.notifyDevice = o.notify;
    this.ringPpn = Number(o.ring.paddr >> 12n);
    this.ringBase = Number(o.ring.paddr & 0xfffn);
    this.indirectArea = o.indirect?.area ?? null;
    this.indirectPpn = this.indirectArea === null ? 0 : Number(this.indirectArea.paddr >> 12n);
    this.indirectBase = this.indirectArea === null ? 0 : Number(this.indirectArea.paddr & 0xfffn);
    this.maxIndirect = o.indirect?.maxSegments ?? 0;
    this.next = new Uint16Array(o.size);
    for (let i = 0; i < o.size; i++) this.next[i] = i + 1 < o.size ? i + 1 : NO_NEXT;
    this.chainLength = new Uint16Array(o.size);
    this.tokens = new Array<T | undefined>(o.size).fill(undefined);
    this.free = o.size;
  }

  /** Descriptors not in use. */
  get freeDescriptors(): number {
    return this.free;
  }

  /** Chains made available and not yet taken back. */
  get inFlight(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.chainLength[i] !== 0) n++;
    return n;
  }

  /** The available index as published, and the next used index the driver will read. */
  get availIndex(): number {
    return this.availIdx;
  }

  get lastUsedIndex(): number {
    return this.lastUsed;
  }

  /**
   * Makes the buffer `segments` (device-readable ones first) available with `token`, which
   * getUsed() returns when the device is done with it. Returns false, changing nothing, when
   * there are not enough free descriptors. The device is not notified until kick().
   */
  add(segments: readonly VirtqSegment[], token: T): boolean {
    const n = segments.length;
    if (n === 0) throw new VirtioError(`virtqueue ${this.index}: a buffer needs at least one segment`);
    let writable = false;
    for (let i = 0; i < n; i++) {
      const s = segments[i];
      if (!(s.length >= 0 && s.length <= 0xffff_ffff && Number.isInteger(s.length))) throw new VirtioError(`virtqueue ${this.index}: segment ${i} has length ${s.length}`);
      if (writable && !s.writable) throw new VirtioError(`virtqueue ${this.index}: device-readable segment ${i} follows a device-writable one (2.7.4.2)`);
      writable = s.writable;
    }
    const indirect = this.indirectArea !== null && n > 1 && n <= this.maxIndirect;
    if (!indirect && n > this.size) throw new VirtioError(`virtqueue ${this.index}: ${n} segments exceed the queue size ${this.size}`);
    if (this.free < (indirect ? 1 : n)) return false;
    const head = this.freeHead;
    if (indirect) {
      const table = head * this.maxIndirect * DESC_SIZE;
      for (let i = 0; i < n; i++) {
        const s = segments[i];
        const flags = (s.writable ? DescFlags.WRITE : 0) | (i + 1 < n ? DescFlags.NEXT : 0);
        this.writeDesc(this.indirectPpn, this.indirectBase + table + i * DESC_SIZE, s.address, s.length, flags, i + 1 < n ? i + 1 : 0);
      }
      const tableAddress = (this.indirectArea as SharedArea).dmaAddress + BigInt(table);
      this.writeDesc(this.ringPpn, this.ringBase + head * DESC_SIZE, tableAddress, n * DESC_SIZE, DescFlags.INDIRECT, 0);
      this.freeHead = this.next[head];
      this.free--;
      this.chainLength[head] = 1;
      this.counters.indirect++;
    } else {
      let d = head;
      for (let i = 0; i < n; i++) {
        const s = segments[i];
        const last = i + 1 === n;
        const flags = (s.writable ? DescFlags.WRITE : 0) | (last ? 0 : DescFlags.NEXT);
        this.writeDesc(this.ringPpn, this.ringBase + d * DESC_SIZE, s.address, s.length, flags, last ? 0 : this.next[d]);
        if (!last) d = this.next[d];
      }
      this.freeHead = this.next[d];
      this.free -= n;
      this.chainLength[head] = n;
    }
    this.tokens[head] = token;
    const ring = this.layout.avail;
    this.write16(this.ringPpn, this.ringBase + ring + availRingEntry(this.availIdx & (this.size - 1)), head);
    // 2.7.13.3: the index is published after the entry (the simulated CPU stores in order).
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.write16(this.ringPpn, this.ringBase + ring + Avail.IDX, this.availIdx);
    this.added++;
    this.counters.added++;
    return true;
  }

  /**
   * Notifies the device of the chains added since the last kick, unless it suppressed
   * notifications (2.7.10: avail_event with EVENT_IDX, VIRTQ_USED_F_NO_NOTIFY without).
   * Returns whether it notified.
   */
  kick(): boolean {
    if (this.added === 0) return false;
    const newIdx = this.availIdx;
    const oldIdx = (newIdx - this.added) & 0xffff;
    this.added = 0;
    const used = this.layout.used;
    const needed = this.eventIdx
      ? needsEvent(this.read16(this.ringPpn, this.ringBase + used + availEventOffset(this.size)), newIdx, oldIdx)
      : (this.read16(this.ringPpn, this.ringBase + used + Used.FLAGS) & USED_F_NO_NOTIFY) === 0;
    if (needed) {
      this.counters.kicks++;
      this.notifyDevice(this.index);
    } else {
      this.counters.kicksSuppressed++;
    }
    return needed;
  }

  /** Whether the device has returned buffers not yet taken with getUsed(). */
  hasUsed(): boolean {
    return !this.broken && this.read16(this.ringPpn, this.ringBase + this.layout.used + Used.IDX) !== this.lastUsed;
  }

  /** The next used buffer, or null. The returned object is reused by the next call. */
  getUsed(): UsedBuffer<T> | null {
    if (this.broken) return null;
    const used = this.layout.used;
    const idx = this.read16(this.ringPpn, this.ringBase + used + Used.IDX);
    if (idx === this.lastUsed) return null;
    if (((idx - this.lastUsed) & 0xffff) > this.size) return this.break(`the used index moved from ${this.lastUsed} to ${idx}, more than the queue size`);
    const entry = this.ringBase + used + usedRingEntry(this.lastUsed & (this.size - 1));
    const id = this.read32(this.ringPpn, entry);
    const length = this.read32(this.ringPpn, entry + 4);
    if (id >= this.size || this.chainLength[id] === 0) return this.break(`used ring entry ${this.lastUsed} returns descriptor ${id}, which heads no outstanding chain`);
    const token = this.tokens[id] as T;
    this.detach(id);
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    // With EVENT_IDX, ask for an interrupt when the device uses the next entry (Linux does the same).
    if (this.eventIdx && this.callbacksEnabled) this.write16(this.ringPpn, this.ringBase + this.layout.avail + usedEventOffset(this.size), this.lastUsed);
    this.counters.completed++;
    if (this.used === null) this.used = { token, length };
    else {
      this.used.token = token;
      this.used.length = length;
    }
    return this.used;
  }

  /** Asks the device not to interrupt for used buffers (2.7.7); advisory. */
  disableCallbacks(): void {
    this.callbacksEnabled = false;
    const avail = this.ringBase + this.layout.avail;
    // With EVENT_IDX the flag is ignored: move used_event as far from the device as it goes.
    if (this.eventIdx) this.write16(this.ringPpn, avail + usedEventOffset(this.size), (this.lastUsed + 0x8000) & 0xffff);
    else this.write16(this.ringPpn, avail + Avail.FLAGS, AVAIL_F_NO_INTERRUPT);
  }

  /**
   * Asks for used buffer interrupts again. Returns true when used buffers are already
   * waiting: no interrupt will announce those, so the caller must take them now.
   */
  enableCallbacks(): boolean {
    this.callbacksEnabled = true;
    const avail = this.ringBase + this.layout.avail;
    if (this.eventIdx) this.write16(this.ringPpn, avail + usedEventOffset(this.size), this.lastUsed);
    else this.write16(this.ringPpn, avail + Avail.FLAGS, 0);
    return this.hasUsed();
  }

  /** A used buffer notification for this queue arrived (from the transport's interrupt). */
  interrupt(): void {
    if (!this.hasUsed()) {
      this.counters.spuriousNotifications++;
      return;
    }
    this.counters.notifications++;
    this.callback?.(this);
  }

  /**
   * Takes back every outstanding buffer without the device (after a device or queue reset,
   * when the device no longer uses the ring); returns their tokens, oldest head first.
   */
  detachUnused(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) {
      if (this.chainLength[i] === 0) continue;
      out.push(this.tokens[i] as T);
      this.detach(i);
    }
    return out;
  }

  /** Returns the chain headed by `head` to the free list. */
  private detach(head: number): void {
    const n = this.chainLength[head];
    let last = head;
    for (let i = 1; i < n; i++) last = this.next[last];
    this.next[last] = this.freeHead;
    this.freeHead = head;
    this.free += n;
    this.chainLength[head] = 0;
    this.tokens[head] = undefined;
  }

  private break(reason: string): null {
    this.broken = true;
    this.brokenReason = `virtqueue ${this.index}: ${reason}`;
    return null;
  }

  // ---- CPU accesses to the shared areas (little-endian, as every virtio structure) ---------

  private writeDesc(ppn: number, offset: number, address: bigint, length: number, flags: number, next: number): void {
    const p = ppn + (offset >>> 12);
    const o = offset & 0xfff;
    const m = this.memory;
    m.write32(p, o, Number(address & 0xffff_ffffn));
    m.write32(p, o + 4, Number((address >> 32n) & 0xffff_ffffn));
    m.write32(p, o + 8, length >>> 0);
    m.write32(p, o + 12, (flags | (next << 16)) >>> 0);
  }

  private read16(ppn: number, offset: number): number {
    const word = this.memory.read32(ppn + (offset >>> 12), offset & 0xffc);
    return (word >>> ((offset & 2) * 8)) & 0xffff;
  }

  private read32(ppn: number, offset: number): number {
    return this.memory.read32(ppn + (offset >>> 12), offset & 0xffc) >>> 0;
  }

  private write16(ppn: number, offset: number, value: number): void {
    const p = ppn + (offset >>> 12);
    const o = offset & 0xffc;
    const shift = (offset & 2) * 8;
    const word = this.memory.read32(p, o);
    this.memory.write32(p, o, ((word & ~(0xffff << shift)) | ((value & 0xffff) << shift)) >>> 0);
  }
}
