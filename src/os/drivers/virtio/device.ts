// A virtio device as virtio device drivers see it, whatever the transport (after Linux's
// struct virtio_device and virtio_config_ops): the status handshake (3.1 "Device
// Initialization"), feature negotiation, configuration reads that retry until the
// generation count holds still (2.5), virtqueue setup, the interrupt handler that dispatches
// used buffer and configuration change notifications, and memory shared with the device
// through the DMA API when VIRTIO_F_ACCESS_PLATFORM was negotiated (physical addresses
// otherwise, as the specification requires).

import { DeviceStatus, describeStatus } from '../../../formats/virtio/status.js';
import { hasFeature, VirtioFeature } from '../../../formats/virtio/features.js';
import { validQueueSize } from '../../../formats/virtio/split-ring.js';
import { virtioDeviceName } from '../../../formats/virtio/device-ids.js';
import type { DmaDirectionValue } from '../../dma/types.js';
import type { Device } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { VirtioError } from './errors.js';
import type { VirtioTransport } from './transport.js';
import { splitRingLayout, SplitVirtqueue, type SharedArea } from './virtqueue.js';

export interface VirtioDeviceCounters {
  /** Interrupts taken (wired interrupts and MSI-X messages). */
  interrupts: number;
  /** Wired interrupts whose status had no bit set. */
  spuriousInterrupts: number;
  configChanges: number;
  /** Interrupt status reads done by poll() for a device without a routable interrupt. */
  polls: number;
  /** Configuration reads repeated because the generation changed. */
  configRetries: number;
}

export interface QueueOptions<T> {
  /** Queue size (a power of two no larger than the device's maximum); default the maximum. */
  size?: number;
  /** With VIRTIO_F_INDIRECT_DESC: the most segments a chain may put in an indirect table (0: none). Default 0. */
  indirectSegments?: number;
  callback?: (vq: SplitVirtqueue<T>) => void;
}

/** How many times a configuration read is retried before giving up on a device that keeps changing it. */
const CONFIG_RETRIES = 64;

/** Memory shared with the device, and whether it came from the DMA API (coherent) or the page allocator. */
export type AllocatedArea = SharedArea & { bytes: number; coherent: boolean };

interface QueueMemory {
  ring: AllocatedArea;
  indirect: AllocatedArea | null;
}

export class VirtioDevice {
  readonly deviceId: number;
  readonly name: string;
  /** What the device offered, and what was negotiated (after FEATURES_OK). */
  offeredFeatures = 0n;
  features = 0n;
  readonly queues: (SplitVirtqueue<unknown> | null)[] = [];
  readonly counters: VirtioDeviceCounters = { interrupts: 0, spuriousInterrupts: 0, configChanges: 0, polls: 0, configRetries: 0 };
  /** Set when a configuration change notification found DEVICE_NEEDS_RESET. */
  needsReset = false;
  /** The virtio driver bound to the device, and what it keeps for it. */
  driverName: string | null = null;
  driverData: unknown = undefined;
  /** Called on configuration change notifications (after the device's status is checked). */
  configHandler: (() => void) | null = null;
  private readonly memory: (QueueMemory | null)[] = [];

  constructor(
    readonly kernel: Kernel,
    /** The transport's device in the driver model (platform device or PCI function). */
    readonly device: Device,
    readonly transport: VirtioTransport,
  ) {
    this.deviceId = transport.deviceId;
    this.name = device.name;
  }

  get kind(): string {
    return virtioDeviceName(this.deviceId);
  }

  hasFeature(bit: number): boolean {
    return hasFeature(this.features, bit);
  }

  // ---- status ---------------------------------------------------------------------------

  get status(): number {
    return this.transport.getStatus();
  }

  addStatus(bits: number): void {
    this.transport.setStatus(this.transport.getStatus() | bits);
  }

  /** Resets the device (2.4), then drops every queue and the memory it used. */
  reset(): void {
    this.transport.reset();
    for (let i = 0; i < this.queues.length; i++) this.releaseQueue(i);
    this.features = 0n;
    this.needsReset = false;
  }

  /**
   * Feature negotiation (3.1.1 steps 4-6): accepts `wanted` & offered, sets FEATURES_OK and
   * checks that it stuck. Throws VirtioError when the device is legacy-only or refuses.
   */
  negotiate(wanted: bigint): void {
    this.offeredFeatures = this.transport.getFeatures();
    if (!hasFeature(this.offeredFeatures, VirtioFeature.VERSION_1)) throw new VirtioError('the device does not offer VIRTIO_F_VERSION_1 (a legacy device)');
    const accepted = this.offeredFeatures & wanted;
    this.transport.setFeatures(accepted);
    this.addStatus(DeviceStatus.FEATURES_OK);
    if ((this.transport.getStatus() & DeviceStatus.FEATURES_OK) === 0) throw new VirtioError(`the device refused features ${accepted.toString(16)} (FEATURES_OK reads back clear)`);
    this.features = accepted;
  }

  /** DRIVER_OK (3.1.1 step 8): the device is live. Idempotent. */
  ready(): void {
    if ((this.transport.getStatus() & DeviceStatus.DRIVER_OK) === 0) this.addStatus(DeviceStatus.DRIVER_OK);
  }

  /** FAILED: the driver gave up on the device. */
  fail(): void {
    this.addStatus(DeviceStatus.FAILED);
  }

  describeStatus(): string {
    return describeStatus(this.status);
  }

  // ---- configuration space --------------------------------------------------------------

  /** Runs `read` until the configuration generation is the same before and after (2.5.1). */
  readConfig<R>(read: () => R): R {
    for (let attempt = 0; attempt < CONFIG_RETRIES; attempt++) {
      const before = this.transport.generation();
      const value = read();
      if (this.transport.generation() === before) return value;
      this.counters.configRetries++;
    }
    throw new VirtioError(`${this.name}: the configuration generation changed on ${CONFIG_RETRIES} reads in a row`);
  }

  config8(offset: number): number {
    return this.readConfig(() => this.transport.readConfig(offset, 1));
  }

  config16(offset: number): number {
    return this.readConfig(() => this.transport.readConfig(offset, 2));
  }

  config32(offset: number): number {
    return this.readConfig(() => this.transport.readConfig(offset, 4));
  }

  /** A 64-bit field: two 32-bit reads (low first) inside one generation. */
  config64(offset: number): bigint {
    return this.readConfig(() => BigInt(this.transport.readConfig(offset, 4)) | (BigInt(this.transport.readConfig(offset + 4, 4)) << 32n));
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    this.transport.writeConfig(offset, size, value);
  }

  // ---- memory shared with the device ----------------------------------------------------

  /** Whether the device addresses memory through the DMA API (VIRTIO_F_ACCESS_PLATFORM negotiated). */
  get usesDmaApi(): boolean {
    return this.hasFeature(VirtioFeature.ACCESS_PLATFORM);
  }

  /** Zeroed, page-aligned memory the device may access: its CPU and device addresses. */
  allocShared(bytes: number): AllocatedArea {
    if (this.usesDmaApi) return { ...this.kernel.dma.allocCoherent(this.device, bytes), bytes, coherent: true };
    const paddr = BigInt(this.kernel.pages.allocPages(Math.ceil(bytes / 4096))) << 12n;
    return { paddr, dmaAddress: paddr, bytes, coherent: false };
  }

  /** Frees an area the way it was allocated (a reset in between clears the negotiated features). */
  freeShared(area: AllocatedArea): void {
    if (area.coherent) this.kernel.dma.freeCoherent(this.device, area.bytes, area.paddr, area.dmaAddress);
    else this.kernel.pages.freePages(Number(area.paddr >> 12n), Math.ceil(area.bytes / 4096));
  }

  /** The address the device must use for the buffer at `paddr` (mapped through the DMA API when negotiated). */
  mapBuffer(paddr: bigint, size: number, dir: DmaDirectionValue): bigint {
    return this.usesDmaApi ? this.kernel.dma.mapSingle(this.device, paddr, size, dir) : paddr;
  }

  unmapBuffer(dmaAddress: bigint, size: number, dir: DmaDirectionValue): void {
    if (this.usesDmaApi) this.kernel.dma.unmapSingle(this.device, dmaAddress, size, dir);
  }

  // ---- virtqueues -----------------------------------------------------------------------

  /**
   * Sets up queue `index` (3.1.1 step 7, transport queue configuration): allocates and zeroes
   * its rings, programs and enables it. Throws VirtioError when the queue does not exist or
   * the device does not take it.
   */
  setUpQueue<T>(index: number, options: QueueOptions<T> = {}): SplitVirtqueue<T> {
    if (this.queues[index] !== undefined && this.queues[index] !== null) throw new VirtioError(`${this.name}: queue ${index} is already set up`);
    const max = this.transport.queueMaxSize(index);
    if (max === 0) throw new VirtioError(`${this.name}: queue ${index} does not exist`);
    const size = options.size ?? max;
    if (!validQueueSize(size) || size > max) throw new VirtioError(`${this.name}: queue ${index} size ${size} is not a power of two up to ${max}`);
    const layout = splitRingLayout(size);
    const ring = this.allocShared(layout.bytes);
    const segments = this.hasFeature(VirtioFeature.INDIRECT_DESC) ? (options.indirectSegments ?? 0) : 0;
    const indirect = segments > 1 ? this.allocShared(size * segments * 16) : null;
    const vq = new SplitVirtqueue<T>({
      index,
      size,
      memory: this.kernel.memory,
      ring,
      eventIdx: this.hasFeature(VirtioFeature.EVENT_IDX),
      indirect: indirect === null ? null : { area: indirect, maxSegments: segments },
      notify: (i) => this.transport.notify(i),
    });
    vq.callback = options.callback ?? null;
    this.queues[index] = vq as SplitVirtqueue<unknown>;
    this.memory[index] = { ring, indirect };
    const d = ring.dmaAddress;
    const problem = this.transport.activateQueue(index, size, d + BigInt(layout.desc), d + BigInt(layout.avail), d + BigInt(layout.used));
    if (problem !== null) {
      this.releaseQueue(index);
      throw new VirtioError(`${this.name}: queue ${index}: ${problem}`);
    }
    return vq;
  }

  /** Resets queue `index` alone (VIRTIO_F_RING_RESET) and releases it; returns the tokens it still held. */
  resetQueue(index: number): unknown[] {
    const vq = this.queues[index];
    if (vq === null || vq === undefined) return [];
    if (!this.hasFeature(VirtioFeature.RING_RESET)) throw new VirtioError(`${this.name}: VIRTIO_F_RING_RESET was not negotiated`);
    if (!this.transport.resetQueue(index)) throw new VirtioError(`${this.name}: queue ${index} did not complete its reset`);
    const tokens = vq.detachUnused();
    this.releaseQueue(index);
    return tokens;
  }

  private releaseQueue(index: number): void {
    const mem = this.memory[index];
    if (mem !== null && mem !== undefined) {
      this.freeShared(mem.ring);
      if (mem.indirect !== null) this.freeShared(mem.indirect);
    }
    this.memory[index] = null;
    this.queues[index] = null;
  }

  // ---- notifications from the device ----------------------------------------------------

  /** The wired interrupt (virtio-mmio): reads and acknowledges the status, then dispatches. */
  handleInterrupt(): void {
    this.counters.interrupts++;
    const bits = this.transport.takeInterruptStatus();
    if (bits === 0) this.counters.spuriousInterrupts++;
    this.dispatch(bits);
  }

  /** An MSI-X message for queue `index`. */
  handleQueueInterrupt(index: number): void {
    this.counters.interrupts++;
    this.queues[index]?.interrupt();
  }

  /** An MSI-X message on a vector all queues share. */
  handleQueuesInterrupt(): void {
    this.counters.interrupts++;
    this.dispatch(1);
  }

  /** An MSI-X message on the configuration change vector. */
  handleConfigInterrupt(): void {
    this.counters.interrupts++;
    this.configChanged();
  }

  /**
   * Takes pending interrupts (kernel.poll()), and for a device whose interrupt the kernel
   * cannot route reads its interrupt status instead. Drivers call it while they wait.
   */
  poll(): void {
    this.kernel.poll();
    if (this.transport.interruptMode !== 'polled') return;
    this.counters.polls++;
    this.dispatch(this.transport.takeInterruptStatus());
  }

  private dispatch(bits: number): void {
    if ((bits & 1) !== 0) for (const vq of this.queues) vq?.interrupt();
    if ((bits & 2) !== 0) this.configChanged();
  }

  private configChanged(): void {
    this.counters.configChanges++;
    if ((this.transport.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET) !== 0 && !this.needsReset) {
      this.needsReset = true;
      this.kernel.log.warn(this.name, `virtio ${this.kind} device needs a reset (status ${this.describeStatus()})`);
    }
    this.configHandler?.();
  }
}
