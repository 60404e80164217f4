// Fault reports on the event queue (VIRTIO 1.2/1.3 section 5.13.6.9): the driver fills the
// queue with device-writable buffers; for each fault the device takes one, writes a 24-byte
// struct virtio_iommu_fault in it and returns it. With no buffer available the device may
// wait or drop the event: `pendingFaults` faults wait here (oldest first), the rest are
// lost. A buffer too small for a report is returned unwritten (used length 0) and the
// report goes into the next one: the device must not spread one report over several
// buffers, and has no older, shorter format to fall back to.

import { FAULT_EVENT_SIZE, FaultEventLayout, FaultReason } from '../../formats/virtio-iommu/fault.js';
import { VirtioIommuQueue } from '../../formats/virtio-iommu/features.js';
import type { VirtioDeviceContext } from '../virtio/device.js';

export class FaultReporter {
  readonly counters = {
    /** Faults detected, by reason (UNKNOWN, DOMAIN, MAPPING). */
    detected: [0, 0, 0],
    /** Reports written to the event queue. */
    reported: 0,
    /** Faults never reported: no buffer and no room to wait, an unwritable buffer, or a reset while waiting. */
    lost: 0,
    /** Event buffers returned unwritten because they were shorter than a report. */
    buffersTooSmall: 0,
  };
  private context: VirtioDeviceContext | null = null;
  private readonly record = new Uint8Array(FAULT_EVENT_SIZE);
  private readonly view = new DataView(this.record.buffer);
  // Waiting faults, a ring of `capacity` entries.
  private readonly capacity: number;
  private readonly reasons: Uint8Array;
  private readonly flags: Uint32Array;
  private readonly endpoints: Uint32Array;
  private readonly addresses: BigUint64Array;
  private head = 0;
  private waiting = 0;

  constructor(pendingFaults: number) {
    this.capacity = pendingFaults;
    this.reasons = new Uint8Array(pendingFaults);
    this.flags = new Uint32Array(pendingFaults);
    this.endpoints = new Uint32Array(pendingFaults);
    this.addresses = new BigUint64Array(pendingFaults);
  }

  /** Faults waiting for an event buffer. */
  get pending(): number {
    return this.waiting;
  }

  /** The transport once the driver set DRIVER_OK; null before and after a reset. */
  connect(context: VirtioDeviceContext | null): void {
    this.context = context;
  }

  /** Drops every waiting fault (device reset): they are counted as lost. */
  clear(): void {
    this.counters.lost += this.waiting;
    this.head = 0;
    this.waiting = 0;
  }

  /** A fault of `reason` for `endpoint`; `flags` are FaultFlag bits (ADDRESS decides whether `address` counts). */
  report(reason: number, flags: number, endpoint: number, address: bigint): void {
    if (reason <= FaultReason.Mapping) this.counters.detected[reason]++;
    if (this.waiting > 0) this.flush();
    if (this.waiting === 0 && this.deliver(reason, flags, endpoint, address)) return;
    if (this.waiting === this.capacity) {
      this.counters.lost++;
      return;
    }
    const slot = (this.head + this.waiting) % this.capacity;
    this.reasons[slot] = reason;
    this.flags[slot] = flags;
    this.endpoints[slot] = endpoint;
    this.addresses[slot] = address;
    this.waiting++;
  }

  /** Writes waiting faults into the buffers the driver has made available. */
  flush(): void {
    while (this.waiting > 0) {
      const h = this.head;
      if (!this.deliver(this.reasons[h], this.flags[h], this.endpoints[h], this.addresses[h])) return;
      this.head = (h + 1) % this.capacity;
      this.waiting--;
    }
  }

  /** One report into the next event buffer; false when there is no buffer (the fault may wait). */
  private deliver(reason: number, flags: number, endpoint: number, address: bigint): boolean {
    const q = this.context?.queue(VirtioIommuQueue.Event) ?? null;
    if (q === null) return false;
    for (;;) {
      const chain = q.pop();
      if (chain === null) return false;
      if (chain.writableLength < FAULT_EVENT_SIZE) {
        this.counters.buffersTooSmall++;
        q.push(chain, 0);
        continue;
      }
      const v = this.view;
      const l = FaultEventLayout;
      v.setUint32(l.reason, reason & 0xff, true);
      v.setUint32(l.flags, flags, true);
      v.setUint32(l.endpoint, endpoint, true);
      v.setUint32(l.reserved1, 0, true);
      v.setBigUint64(l.address, address, true);
      if (chain.write(0, this.record, 0, FAULT_EVENT_SIZE)) {
        this.counters.reported++;
        q.push(chain, FAULT_EVENT_SIZE);
      } else {
        // The buffer is not writable memory: returned unwritten, the report lost.
        this.counters.lost++;
        q.push(chain, 0);
      }
      return true;
    }
  }
}
