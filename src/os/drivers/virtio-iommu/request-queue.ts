// The request queue (VIRTIO 1.3 section 5.13.6): every request is a device-readable part
// followed by a device-writable tail whose first byte the device sets to a status. After
// Linux's viommu_add_req / viommu_sync_req split, adding a request only publishes it in the
// available ring; the device is notified and waited for at a sync point, which then checks
// the status of every request that completed. A caller that needs a result (ATTACH, DETACH,
// PROBE) adds and syncs at once. MAPs of one map call wait together for the core's
// iotlbSyncMap (Linux iotlb_sync_map), and UNMAPs for the next iotlbSync, so that many share
// one notification and one wait. With batching off every request is waited for.
//
// Requests live in preallocated 64-byte slots of one shared area (readable part at 0, the
// 4-byte tail at 48), so adding one allocates nothing; fields are written as 32-bit words
// (little-endian, as every virtio structure) with 64-bit addresses as two halves. A PROBE,
// whose writable part is probe_size + 4 bytes, gets a buffer of its own. A request returned
// with a used length too short for its tail failed (5.13.6.1): it counts as IOERR.

import { VirtioIommuQueue } from '../../../formats/virtio-iommu/features.js';
import { MapFlag, REQUEST_TAIL_SIZE, RequestLayout, VIRTIO_IOMMU_REQUEST_NAMES, VIRTIO_IOMMU_STATUS_NAMES, VirtioIommuRequestType, VirtioIommuStatus } from '../../../formats/virtio-iommu/requests.js';
import type { PhysicalMemory } from '../../../sim/physical-memory.js';
import { hex } from '../../../sim/u64.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { VirtioDevice } from '../virtio/device.js';
import type { SplitVirtqueue, VirtqSegment } from '../virtio/virtqueue.js';
import { VirtioIommuError } from './errors.js';

const T = VirtioIommuRequestType;
const S = VirtioIommuStatus;
const L = RequestLayout;
/** Where the domain field sits in every request that has one (ATTACH, DETACH, MAP, UNMAP). */
const DOMAIN_AT = L.head.length;

/** Bytes per request slot, and where its tail sits (after the longest readable part but PROBE's). */
const SLOT_BYTES = 64;
const TAIL_AT = 48;
/** Polls of the used ring before a sync gives up on the device, and simulated cycles per poll. */
export const SYNC_POLL_LIMIT = 10_000;
const POLL_DELAY_CYCLES = 10;
/** Failed batched requests logged one by one before the log only counts them. */
const FAILURE_LOG_LIMIT = 16;
/** The status recorded for a request the device returned without a tail (5.13.6.1). */
const NO_TAIL = S.IoErr;

/** A buffer segment whose fields the queue rewrites for each request of a slot. */
interface Segment extends VirtqSegment {
  address: bigint;
  length: number;
}

/** One request in flight: where it lives and what it asked, kept to describe a failure. */
class Request {
  type = 0;
  domain = 0;
  endpoint = 0;
  /** Page range and target of a MAP or UNMAP (4 KiB page numbers). */
  first = 0;
  last = 0;
  phys = 0;
  flags = 0;
  /** The caller waits for the status (collect) instead of a later sync checking it. */
  waited = false;
  status = 0;
  readonly segments: readonly [Segment, Segment];

  constructor(
    /** Where the readable part starts, for the CPU (page and offset). */
    readonly ppn: number,
    readonly offset: number,
    /** Device address of the readable part, and of the writable part. */
    readableAddress: bigint,
    writableAddress: bigint,
    writableLength: number,
    /** A pooled slot (returned to the pool when done) or a one-off buffer. */
    readonly slot: number,
  ) {
    this.segments = [
      { address: readableAddress, length: 0, writable: false },
      { address: writableAddress, length: writableLength, writable: true },
    ];
  }
}

export interface RequestQueueCounters {
  /** Requests added, by type code (index 1..5 = ATTACH..PROBE). */
  byType: number[];
  /** Requests whose status was not OK, by status name (IOERR also counts requests returned without a tail). */
  failed: Record<string, number>;
  /** Requests returned with a used length too short to hold their tail. */
  unanswered: number;
  /** Waits for the device (each kicks the queue first and takes back every request in flight). */
  syncs: number;
  /** Adds that found the ring (or every request slot) in use and synced first. */
  queueFull: number;
}

export interface ProbeAnswer {
  status: number;
  /** The properties buffer (probe_size bytes) when the status is OK. */
  properties: Uint8Array;
}

export interface RequestQueueOptions {
  name: string;
  kernel: Kernel;
  vdev: VirtioDevice;
  /** Add requests that need no answer without waiting (true), or wait for every request. */
  batching: boolean;
}

export class RequestQueue {
  readonly name: string;
  readonly batching: boolean;
  readonly vq: SplitVirtqueue<Request>;
  readonly counters: RequestQueueCounters = { byType: [0, 0, 0, 0, 0, 0], failed: {}, unanswered: 0, syncs: 0, queueFull: 0 };
  private readonly kernel: Kernel;
  private readonly vdev: VirtioDevice;
  private readonly memory: PhysicalMemory;
  private readonly area: ReturnType<VirtioDevice['allocShared']>;
  private readonly slots: Request[] = [];
  /** Free slot indices (a stack). */
  private readonly free: number[] = [];
  /** Requests added and not yet taken back. */
  private outstanding = 0;
  /** Descriptions of batched requests that failed, not yet reported to a sync point's caller. */
  private failures: string[] = [];
  private failuresLogged = 0;

  constructor(o: RequestQueueOptions) {
    this.name = o.name;
    this.kernel = o.kernel;
    this.vdev = o.vdev;
    this.batching = o.batching;
    this.memory = o.kernel.memory;
    // Completions are collected at sync points, never from an interrupt (Linux gives the
    // request queue no callback): ask the device not to interrupt for them.
    this.vq = o.vdev.setUpQueue<Request>(VirtioIommuQueue.Request);
    this.vq.disableCallbacks();
    // Each request takes two descriptors: half the ring can be in flight at once.
    const count = this.vq.size >> 1;
    if (count === 0) throw new VirtioIommuError(`${o.name}: a request queue of ${this.vq.size} descriptor cannot hold a request (two descriptors)`);
    this.area = o.vdev.allocShared(count * SLOT_BYTES);
    for (let i = 0; i < count; i++) {
      const cpu = this.area.paddr + BigInt(i * SLOT_BYTES);
      const dma = this.area.dmaAddress + BigInt(i * SLOT_BYTES);
      this.slots.push(new Request(Number(cpu >> 12n), Number(cpu & 0xfffn), dma, dma + BigInt(TAIL_AT), REQUEST_TAIL_SIZE, i));
      this.free.push(count - 1 - i);
    }
  }

  /** Requests added in all. */
  get requests(): number {
    let n = 0;
    for (const c of this.counters.byType) n += c;
    return n;
  }

  /** Requests added and not yet returned by the device. */
  get inFlight(): number {
    return this.outstanding;
  }

  /** Gives the slot memory back (the device must no longer use the queue). */
  release(): void {
    this.vdev.freeShared(this.area);
  }

  // ---- requests -----------------------------------------------------------------------------

  /** ATTACH (5.13.6.3), waited for; returns the status. */
  attach(domain: number, endpoint: number, flags: number): number {
    const a = L.attach;
    const r = this.begin(T.Attach, domain, a.length);
    r.endpoint = endpoint;
    r.flags = flags;
    const m = this.memory;
    m.write32(r.ppn, r.offset + a.endpoint, endpoint);
    m.write32(r.ppn, r.offset + a.flags, flags);
    m.write32(r.ppn, r.offset + a.reserved, 0);
    return this.send(r, true);
  }

  /** DETACH (5.13.6.4), waited for; returns the status. */
  detach(domain: number, endpoint: number): number {
    const d = L.detach;
    const r = this.begin(T.Detach, domain, d.length);
    r.endpoint = endpoint;
    const m = this.memory;
    m.write32(r.ppn, r.offset + d.endpoint, endpoint);
    m.write64(r.ppn, r.offset + d.reserved, 0, 0);
    return this.send(r, true);
  }

  /**
   * MAP (5.13.6.5) of pages [first, last] to `phys`. Waited for when `wait` (returns the
   * status); otherwise it joins the queue like an UNMAP and returns -1, its status checked at
   * the next sync.
   */
  map(domain: number, first: number, last: number, phys: number, flags: number, wait = true): number {
    const p = L.map;
    const r = this.beginRange(T.Map, domain, first, last, p.length);
    r.phys = phys;
    r.flags = flags;
    const m = this.memory;
    writeAddress(m, r.ppn, r.offset + p.physStart, phys, 0);
    m.write32(r.ppn, r.offset + p.flags, flags);
    return this.send(r, wait);
  }

  /**
   * UNMAP (5.13.6.6) of pages [first, last]. With batching it only joins the queue; without,
   * it is synced at once. Either way a sync checks its status and keeps a failure for
   * takeFailures().
   */
  unmap(domain: number, first: number, last: number): void {
    const u = L.unmap;
    const r = this.beginRange(T.Unmap, domain, first, last, u.length);
    this.memory.write32(r.ppn, r.offset + u.reserved, 0);
    this.send(r, false);
    if (!this.batching) this.sync();
  }

  /** PROBE (5.13.6.7) of `endpoint` with a properties buffer of `probeSize` bytes, waited for. */
  probe(endpoint: number, probeSize: number): ProbeAnswer {
    const readable = L.probe.length;
    const writable = probeSize + REQUEST_TAIL_SIZE;
    const area = this.vdev.allocShared(readable + writable);
    try {
      const r = new Request(Number(area.paddr >> 12n), Number(area.paddr & 0xfffn), area.dmaAddress, area.dmaAddress + BigInt(readable), writable, -1);
      r.type = T.Probe;
      r.endpoint = endpoint;
      // The area is zeroed: the reserved bytes are already 0.
      this.memory.write32(r.ppn, r.offset, T.Probe);
      this.memory.write32(r.ppn, r.offset + L.probe.endpoint, endpoint);
      r.segments[0].length = readable;
      const status = this.send(r, true);
      const properties = status === S.Ok ? this.memory.readBytes(area.paddr + BigInt(readable), probeSize) : new Uint8Array(0);
      return { status, properties };
    } finally {
      this.vdev.freeShared(area);
    }
  }

  // ---- sync points --------------------------------------------------------------------------

  /**
   * Notifies the device of everything added and waits until it has returned every request in
   * flight, checking each status. Throws VirtioIommuError when the queue breaks or the device
   * stops answering.
   */
  sync(): void {
    if (this.outstanding === 0) return;
    this.counters.syncs++;
    this.vq.kick();
    let polls = 0;
    for (;;) {
      for (let u = this.vq.getUsed(); u !== null; u = this.vq.getUsed()) this.complete(u.token, u.length);
      if (this.outstanding === 0) return;
      if (this.vq.broken) throw new VirtioIommuError(`${this.name}: the request queue is broken: ${this.vq.brokenReason}`);
      if (++polls > SYNC_POLL_LIMIT) throw new VirtioIommuError(`${this.name}: the device did not return ${this.outstanding} request(s) after ${SYNC_POLL_LIMIT} polls`);
      this.vdev.poll();
      this.kernel.clock.advance(POLL_DELAY_CYCLES);
    }
  }

  /** Descriptions of the batched requests that failed since the last call (empty if none). */
  takeFailures(): string[] {
    const f = this.failures;
    if (f.length > 0) this.failures = [];
    return f;
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * A slot for a request of `type` on `domain` whose readable part is `length` bytes, with its
   * head (the type, then three reserved zero bytes) and domain written: every request but
   * PROBE names a domain, right after the head.
   */
  private begin(type: number, domain: number, length: number): Request {
    const r = this.take(type);
    r.domain = domain;
    this.memory.write32(r.ppn, r.offset, type);
    this.memory.write32(r.ppn, r.offset + DOMAIN_AT, domain);
    r.segments[0].length = length;
    return r;
  }

  /** begin() for MAP and UNMAP, which go on with virt_start and virt_end (pages [first, last]) at the same offsets. */
  private beginRange(type: number, domain: number, first: number, last: number, length: number): Request {
    const r = this.begin(type, domain, length);
    r.first = first;
    r.last = last;
    writeAddress(this.memory, r.ppn, r.offset + L.map.virtStart, first, 0);
    writeAddress(this.memory, r.ppn, r.offset + L.map.virtEnd, last, 0xfff);
    return r;
  }

  private take(type: number): Request {
    if (this.free.length === 0) {
      // Every slot is in flight (the ring holds half as many requests as descriptors): take them back.
      this.counters.queueFull++;
      this.sync();
    }
    const i = this.free.pop();
    if (i === undefined) throw new VirtioIommuError(`${this.name}: no request slot is free`);
    const r = this.slots[i];
    r.type = type;
    return r;
  }

  /** Adds `r`; waits for it when `wait` (then returns its status), else returns -1. */
  private send(r: Request, wait: boolean): number {
    r.waited = wait;
    if (!this.vq.add(r.segments, r)) {
      this.counters.queueFull++;
      this.sync();
      if (!this.vq.add(r.segments, r)) {
        this.giveBack(r);
        throw new VirtioIommuError(`${this.name}: the request queue has no free descriptor even after a sync`);
      }
    }
    this.counters.byType[r.type]++;
    this.outstanding++;
    if (!wait) return -1;
    this.sync();
    const status = r.status;
    this.giveBack(r);
    return status;
  }

  /** The device returned `r` with `length` bytes written into its writable part. */
  private complete(r: Request, length: number): void {
    this.outstanding--;
    const tail = r.segments[1].length - REQUEST_TAIL_SIZE;
    let status: number;
    if (length < tail + REQUEST_TAIL_SIZE) {
      this.counters.unanswered++;
      status = NO_TAIL;
    } else {
      const at = r.offset + (r.slot >= 0 ? TAIL_AT : L.probe.length + tail);
      status = r.slot >= 0 ? this.memory.read32(r.ppn, at) & 0xff : Number(this.memory.read(BigInt(r.ppn) * 4096n + BigInt(at), 1));
    }
    r.status = status;
    if (status !== S.Ok) {
      const name = statusName(status);
      this.counters.failed[name] = (this.counters.failed[name] ?? 0) + 1;
    }
    if (r.waited) return; // the waiter reads the status and frees the slot
    if (status !== S.Ok) this.recordFailure(r, status, length < tail + REQUEST_TAIL_SIZE);
    this.giveBack(r);
  }

  private recordFailure(r: Request, status: number, noTail: boolean): void {
    const text = `${describeRequest(r)}: ${noTail ? 'returned without a status' : statusName(status)}`;
    this.failures.push(text);
    if (++this.failuresLogged <= FAILURE_LOG_LIMIT) this.kernel.log.error(this.name, text);
    if (this.failuresLogged === FAILURE_LOG_LIMIT) this.kernel.log.error(this.name, 'further failed requests are counted, not logged');
  }

  private giveBack(r: Request): void {
    if (r.slot >= 0) this.free.push(r.slot);
  }
}

/** The name of a request status (5.13.6), or its number when the device made one up. */
export function statusName(status: number): string {
  return VIRTIO_IOMMU_STATUS_NAMES[status] ?? `status ${status}`;
}

/** A request in words, for a log line or an error. */
function describeRequest(r: Request): string {
  const name = VIRTIO_IOMMU_REQUEST_NAMES[r.type] ?? `type ${r.type}`;
  const range = `${hex(BigInt(r.first) << 12n)}..${hex((BigInt(r.last) << 12n) | 0xfffn)}`;
  switch (r.type) {
    case T.Map:
      return `${name} domain ${r.domain} ${range} -> ${hex(BigInt(r.phys) << 12n)}${r.flags === 0 ? '' : ` (${mapFlagNames(r.flags)})`}`;
    case T.Unmap:
      return `${name} domain ${r.domain} ${range}`;
    case T.Probe:
      return `${name} endpoint ${r.endpoint}`;
    default:
      return `${name} endpoint ${r.endpoint} domain ${r.domain}`;
  }
}

function mapFlagNames(flags: number): string {
  const names: string[] = [];
  if ((flags & MapFlag.Read) !== 0) names.push('READ');
  if ((flags & MapFlag.Write) !== 0) names.push('WRITE');
  if ((flags & MapFlag.Mmio) !== 0) names.push('MMIO');
  return names.join('|');
}

/** Writes the 64-bit address page * 4096 + byte at `offset` of page `ppn`, as two halves. */
function writeAddress(m: PhysicalMemory, ppn: number, offset: number, page: number, byte: number): void {
  m.write64(ppn, offset, ((page % 0x10_0000) * 4096 + byte) >>> 0, Math.floor(page / 0x10_0000));
}
