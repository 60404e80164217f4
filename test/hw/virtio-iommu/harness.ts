// A guest's view of a virtio-iommu: the device behind the real virtio-mmio transport, driven
// through its registers with split virtqueues laid out in simulated RAM, as a driver would
// (VIRTIO 1.3 section 3.1 "Device Initialization", 2.7 "Split Virtqueues", 4.2 "Virtio Over
// MMIO"). Requests are encoded with src/formats/virtio-iommu, the driver's side of the
// datasheet; fault reports are decoded from the event queue's used buffers.

import { DirectDmaPort, DmaPortStatus, DmaRequester, type DmaPortStatusValue } from '../../../src/devices/dma-port.js';
import { DescFlags, DESC_SIZE, Used, usedRingEntry, availRingEntry, Avail } from '../../../src/formats/virtio/split-ring.js';
import { DeviceStatus } from '../../../src/formats/virtio/status.js';
import { VirtioFeature, featureBit } from '../../../src/formats/virtio/features.js';
import { VirtioMmio } from '../../../src/formats/virtio/mmio.js';
import { decodeFaultEvent, FAULT_EVENT_SIZE, type DecodedFaultEvent } from '../../../src/formats/virtio-iommu/fault.js';
import { VirtioIommuQueue } from '../../../src/formats/virtio-iommu/features.js';
import { decodeProperties, type DecodedProperty } from '../../../src/formats/virtio-iommu/probe.js';
import { encodeRequest, REQUEST_TAIL_SIZE, type VirtioIommuRequest } from '../../../src/formats/virtio-iommu/requests.js';
import { VirtioMmioTransport } from '../../../src/hw/virtio/mmio-transport.js';
import { VirtioIommu, type VirtioIommuConfig } from '../../../src/hw/virtio-iommu/index.js';
import { InterruptLine } from '../../../src/sim/irq.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';

const QUEUE_SIZE = 64;
const REQUEST_RING = 0x1000_0000n;
const EVENT_RING = 0x1001_0000n;
const BUFFERS = 0x2000_0000n;

/** The driver's half of one split virtqueue: descriptors, available ring, used ring. */
export class DriverQueue {
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
  private availIdx = 0;
  private lastUsed = 0;
  private readonly free: number[] = [];
  private readonly chains = new Map<number, number[]>();

  constructor(
    private readonly memory: PhysicalMemory,
    base: bigint,
    readonly size = QUEUE_SIZE,
  ) {
    this.desc = base;
    this.avail = base + BigInt(DESC_SIZE * size);
    this.used = base + 0x2000n;
    for (let i = 0; i < size; i++) this.free.push(i);
  }

  /** Makes a chain of `segments` available; returns its head. */
  add(segments: readonly { address: bigint; length: number; writable: boolean }[]): number {
    const ids = segments.map(() => this.free.shift() as number);
    segments.forEach((s, k) => {
      const at = this.desc + BigInt(ids[k] * DESC_SIZE);
      const last = k === segments.length - 1;
      this.memory.write(at, 8, s.address);
      this.memory.write(at + 8n, 4, BigInt(s.length));
      this.memory.write(at + 12n, 2, BigInt((s.writable ? DescFlags.WRITE : 0) | (last ? 0 : DescFlags.NEXT)));
      this.memory.write(at + 14n, 2, BigInt(last ? 0 : ids[k + 1]));
    });
    this.chains.set(ids[0], ids);
    this.memory.write(this.avail + BigInt(availRingEntry(this.availIdx % this.size)), 2, BigInt(ids[0]));
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.memory.write(this.avail + BigInt(Avail.IDX), 2, BigInt(this.availIdx));
    return ids[0];
  }

  /** The used elements the device returned since the last call, in order. */
  takeUsed(): { head: number; length: number }[] {
    const out: { head: number; length: number }[] = [];
    const idx = Number(this.memory.read(this.used + BigInt(Used.IDX), 2));
    while (this.lastUsed !== idx) {
      const at = this.used + BigInt(usedRingEntry(this.lastUsed % this.size));
      const head = Number(this.memory.read(at, 4));
      out.push({ head, length: Number(this.memory.read(at + 4n, 4)) });
      for (const id of this.chains.get(head) ?? []) this.free.push(id);
      this.chains.delete(head);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }
}

export interface RequestResult {
  /** The used length the device reported. */
  used: number;
  /** The device-writable part after the device returned it (pre-filled with 0xee). */
  writable: Uint8Array;
}

export interface HarnessOptions extends Omit<VirtioIommuConfig, 'upstream'> {
  /** Device feature bits the driver accepts (default: all the device offers). */
  accept?: bigint;
  /** Stop after FEATURES_OK (no queues, no DRIVER_OK). */
  noStart?: boolean;
}

export class ViommuHarness {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory);
  readonly upstream = new DirectDmaPort(this.bus);
  readonly irq = new InterruptLine('virtio-iommu');
  readonly iommu: VirtioIommu;
  readonly transport: VirtioMmioTransport;
  readonly requestq: DriverQueue;
  readonly eventq: DriverQueue;
  /** FEATURES_OK read back set after negotiation. */
  readonly featuresOk: boolean;
  private nextBuffer = BUFFERS;
  private readonly requester = new DmaRequester();

  constructor(options: HarnessOptions = {}) {
    this.iommu = new VirtioIommu({ ...options, upstream: this.upstream });
    this.transport = new VirtioMmioTransport({ model: this.iommu, port: this.upstream, irq: this.irq });
    this.requestq = new DriverQueue(this.memory, REQUEST_RING);
    this.eventq = new DriverQueue(this.memory, EVENT_RING);
    this.featuresOk = this.negotiate(options.accept ?? this.iommu.deviceFeatures);
    if (!options.noStart && this.featuresOk) this.start();
  }

  reg(offset: number): number {
    return this.transport.mmioRead32(offset);
  }

  setReg(offset: number, value: number): void {
    this.transport.mmioWrite32(offset, value);
  }

  /** A configuration space read of `size` bytes at `offset` (virtio-mmio 0x100 + offset). */
  config(offset: number, size: 1 | 2 | 4 | 8): bigint {
    return this.transport.mmioRead(VirtioMmio.CONFIG + offset, size);
  }

  setConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    this.transport.mmioWrite(VirtioMmio.CONFIG + offset, size, BigInt(value));
  }

  /** Sets up both queues and DRIVER_OK (3.1.1 steps 7-8). */
  start(): void {
    for (const [index, q] of [
      [VirtioIommuQueue.Request, this.requestq],
      [VirtioIommuQueue.Event, this.eventq],
    ] as const) {
      this.setReg(VirtioMmio.QUEUE_SEL, index);
      this.setReg(VirtioMmio.QUEUE_SIZE, q.size);
      this.setReg(VirtioMmio.QUEUE_DESC_LOW, Number(q.desc & 0xffff_ffffn));
      this.setReg(VirtioMmio.QUEUE_DESC_HIGH, Number(q.desc >> 32n));
      this.setReg(VirtioMmio.QUEUE_DRIVER_LOW, Number(q.avail & 0xffff_ffffn));
      this.setReg(VirtioMmio.QUEUE_DRIVER_HIGH, Number(q.avail >> 32n));
      this.setReg(VirtioMmio.QUEUE_DEVICE_LOW, Number(q.used & 0xffff_ffffn));
      this.setReg(VirtioMmio.QUEUE_DEVICE_HIGH, Number(q.used >> 32n));
      this.setReg(VirtioMmio.QUEUE_READY, 1);
    }
    this.setReg(VirtioMmio.STATUS, this.reg(VirtioMmio.STATUS) | DeviceStatus.DRIVER_OK);
  }

  /** Writes 0 to Status: a device reset. */
  reset(): void {
    this.setReg(VirtioMmio.STATUS, 0);
  }

  get status(): number {
    return this.reg(VirtioMmio.STATUS);
  }

  /** Places `bytes` in a fresh RAM buffer; returns its address. */
  buffer(bytes: Uint8Array | number): bigint {
    const length = typeof bytes === 'number' ? bytes : bytes.length;
    const at = this.nextBuffer;
    this.nextBuffer += BigInt((length + 63) & ~63) + 64n;
    if (typeof bytes !== 'number') this.memory.writeBytes(at, bytes);
    else this.memory.writeBytes(at, new Uint8Array(length).fill(0xee)); // garbage the device must overwrite
    return at;
  }

  /**
   * Sends a request: `readable` as one buffer (or split into the given pieces), a writable
   * part of `writable` bytes (or split), and returns what the device wrote.
   */
  send(readable: Uint8Array | Uint8Array[], writable: number | number[]): RequestResult {
    const rparts = Array.isArray(readable) ? readable : [readable];
    const wparts = Array.isArray(writable) ? writable : [writable];
    const segments = [
      ...rparts.filter((p) => p.length > 0).map((p) => ({ address: this.buffer(p), length: p.length, writable: false })),
      ...wparts.filter((n) => n > 0).map((n) => ({ address: this.buffer(n), length: n, writable: true })),
    ];
    this.requestq.add(segments);
    this.setReg(VirtioMmio.QUEUE_NOTIFY, VirtioIommuQueue.Request);
    const used = this.requestq.takeUsed();
    if (used.length !== 1) throw new Error(`expected one used request, got ${used.length}`);
    const parts = segments.filter((s) => s.writable).map((s) => this.memory.readBytes(s.address, s.length));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return { used: used[0].length, writable: all };
  }

  /** Sends `request` with a writable part of exactly one tail; returns the status (-1 if unanswered). */
  request(request: VirtioIommuRequest): number {
    const r = this.send(encodeRequest(request), REQUEST_TAIL_SIZE);
    return r.used === REQUEST_TAIL_SIZE ? r.writable[0] : -1;
  }

  attach(domain: number, endpoint: number, flags = 0): number {
    return this.request({ type: 1, domain, endpoint, flags });
  }

  detach(domain: number, endpoint: number): number {
    return this.request({ type: 2, domain, endpoint });
  }

  map(domain: number, virtStart: bigint, virtEnd: bigint, physStart: bigint, flags: number): number {
    return this.request({ type: 3, domain, virtStart, virtEnd, physStart, flags });
  }

  unmap(domain: number, virtStart: bigint, virtEnd: bigint): number {
    return this.request({ type: 4, domain, virtStart, virtEnd });
  }

  /** A PROBE with a properties buffer of `probeSize` bytes (default: config.probe_size). */
  probe(endpoint: number, probeSize = Number(this.config(32, 4))): { used: number; status: number; properties: DecodedProperty[]; raw: Uint8Array } {
    const r = this.send(encodeRequest({ type: 5, endpoint }), probeSize + REQUEST_TAIL_SIZE);
    const raw = r.writable.subarray(0, probeSize);
    return { used: r.used, status: r.writable[probeSize], properties: decodeProperties(raw), raw };
  }

  /** Makes `count` device-writable event buffers of `size` bytes available on the event queue. */
  postEventBuffers(count: number, size = FAULT_EVENT_SIZE): void {
    for (let i = 0; i < count; i++) this.eventq.add([{ address: this.buffer(size), length: size, writable: true }]);
    this.setReg(VirtioMmio.QUEUE_NOTIFY, VirtioIommuQueue.Event);
  }

  /** Fault reports the device returned since the last call (used length, decoded report). */
  events(): { used: number; event: DecodedFaultEvent }[] {
    return this.eventq.takeUsed().map(({ head, length }) => {
      const address = this.memory.read(this.eventq.desc + BigInt(head * DESC_SIZE), 8);
      return { used: length, event: decodeFaultEvent(this.memory.readBytes(address, FAULT_EVENT_SIZE)) };
    });
  }

  /** One DMA access of `size` bytes by `endpoint` through the IOMMU; returns the status and read value. */
  dma(endpoint: number, address: bigint, options: { write?: boolean; size?: 1 | 2 | 4 | 8; data?: bigint } = {}): { status: DmaPortStatusValue; value: bigint } {
    this.requester.deviceId = endpoint;
    const port = this.iommu.dmaPort;
    const size = options.size ?? 4;
    const status = options.write ? port.write(this.requester, address, size, options.data ?? 0n) : port.read(this.requester, address, size);
    return { status, value: status === DmaPortStatus.Ok ? port.value : 0n };
  }

  private negotiate(accept: bigint): boolean {
    this.setReg(VirtioMmio.STATUS, 0);
    this.setReg(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE);
    this.setReg(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    const features = accept | featureBit(VirtioFeature.VERSION_1);
    for (const select of [0, 1]) {
      this.setReg(VirtioMmio.DRIVER_FEATURES_SEL, select);
      this.setReg(VirtioMmio.DRIVER_FEATURES, Number((features >> BigInt(32 * select)) & 0xffff_ffffn));
    }
    this.setReg(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
    return (this.reg(VirtioMmio.STATUS) & DeviceStatus.FEATURES_OK) !== 0;
  }
}
