// The event queue (VIRTIO 1.3 section 5.13.6.9 "Fault reporting"): the driver keeps it full of
// device-writable buffers of one fault report each; on a used buffer notification it decodes
// every report the device returned, hands it on, and makes the buffer available again.
// A report with a non-zero `reserved` field is ignored (the driver MUST), `reserved1` and
// undefined flags are ignored, and a buffer returned shorter than a report carries nothing.
// Buffers sit 32 bytes apart in one shared area so that none crosses a page and each is read
// as 32-bit words.

import { FAULT_EVENT_SIZE, FaultEventLayout } from '../../../formats/virtio-iommu/fault.js';
import { VirtioIommuQueue } from '../../../formats/virtio-iommu/features.js';
import type { PhysicalMemory } from '../../../sim/physical-memory.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { VirtioDevice } from '../virtio/device.js';
import type { SplitVirtqueue, VirtqSegment } from '../virtio/virtqueue.js';

const STRIDE = 32;

/** A decoded fault report; the object is reused for the next report. */
export interface FaultReport {
  reason: number;
  flags: number;
  endpoint: number;
  /** Meaningful when flags has FAULT_F_ADDRESS. */
  address: bigint;
}

export interface EventQueueCounters {
  /** Fault reports decoded and handed on. */
  reports: number;
  /** Reports ignored because their `reserved` field was not zero. */
  reservedSet: number;
  /** Buffers returned with fewer bytes than a report. */
  short: number;
  /** Buffers made available again. */
  recycled: number;
}

export interface EventQueueOptions {
  name: string;
  kernel: Kernel;
  vdev: VirtioDevice;
  onFault: (report: FaultReport) => void;
}

export class EventQueue {
  readonly vq: SplitVirtqueue<number>;
  readonly counters: EventQueueCounters = { reports: 0, reservedSet: 0, short: 0, recycled: 0 };
  private readonly memory: PhysicalMemory;
  private readonly area: ReturnType<VirtioDevice['allocShared']>;
  /** Each buffer as the one-segment list the virtqueue takes. */
  private readonly buffers: (readonly VirtqSegment[])[] = [];
  private readonly report: FaultReport = { reason: 0, flags: 0, endpoint: 0, address: 0n };

  constructor(private readonly o: EventQueueOptions) {
    this.memory = o.kernel.memory;
    this.vq = o.vdev.setUpQueue<number>(VirtioIommuQueue.Event, { callback: () => this.drain() });
    this.area = o.vdev.allocShared(this.vq.size * STRIDE);
    for (let i = 0; i < this.vq.size; i++) this.buffers.push([{ address: this.area.dmaAddress + BigInt(i * STRIDE), length: FAULT_EVENT_SIZE, writable: true }]);
  }

  /** Makes every buffer available (once the device is live) and notifies the device. */
  fill(): void {
    for (let i = 0; i < this.buffers.length; i++) this.vq.add(this.buffers[i], i);
    this.vq.kick();
  }

  /** Gives the buffer memory back (the device must no longer use the queue). */
  release(): void {
    this.o.vdev.freeShared(this.area);
  }

  /** Takes every returned buffer: decodes its report, hands it on, and recycles the buffer. */
  drain(): void {
    const vq = this.vq;
    let taken = 0;
    for (let u = vq.getUsed(); u !== null; u = vq.getUsed()) {
      const i = u.token;
      if (u.length < FAULT_EVENT_SIZE) this.counters.short++;
      else this.decode(i);
      vq.add(this.buffers[i], i);
      this.counters.recycled++;
      taken++;
    }
    if (taken > 0) vq.kick();
  }

  private decode(i: number): void {
    const at = this.area.paddr + BigInt(i * STRIDE);
    const ppn = Number(at >> 12n);
    const off = Number(at & 0xfffn);
    const m = this.memory;
    const l = FaultEventLayout;
    const head = m.read32(ppn, off + l.reason);
    if (head >>> 8 !== 0) {
      this.counters.reservedSet++;
      return;
    }
    const r = this.report;
    r.reason = head & 0xff;
    r.flags = m.read32(ppn, off + l.flags) >>> 0;
    r.endpoint = m.read32(ppn, off + l.endpoint) >>> 0;
    r.address = (BigInt(m.read32(ppn, off + l.address + 4) >>> 0) << 32n) | BigInt(m.read32(ppn, off + l.address) >>> 0);
    this.counters.reports++;
    this.o.onFault(r);
  }
}
