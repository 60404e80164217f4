// The transport-independent half of a virtio device: the device status field and its rules
// (VIRTIO 1.3 section 2.1), feature negotiation (2.2, chapter 6), the configuration space
// with its generation count (2.5), the virtqueues' configuration, reset (2.4), and
// DEVICE_NEEDS_RESET. Both transports (virtio-mmio, virtio-pci) decode their registers
// into calls on this object and deliver its notifications in their own way (a wired
// interrupt with InterruptStatus, or the ISR byte with INTx, or MSI-X messages).
//
// Choices the specification leaves open, made here:
//  - FEATURES_OK is refused (reads back clear) when the driver accepted a bit the device did
//    not offer, did not accept VIRTIO_F_VERSION_1 (this is a non-transitional device), or
//    when the model refuses the set.
//  - DRIVER_OK without a successful FEATURES_OK, and enabling a queue whose size is not a
//    power of two up to its maximum or whose areas are misaligned (2.7: descriptors 16,
//    available ring 2, used ring 4), put the device in DEVICE_NEEDS_RESET.
//  - Writes to a queue's size or addresses while it is enabled, to driver features after
//    FEATURES_OK, and notifications for queues that do not exist or are not live are
//    ignored (the latter counted as spurious).
//  - The generation count follows the note of 4.1.4.3: a change marks the configuration
//    dirty, and the next driver read of it advances the generation.
//  - No configuration change notification is sent before DRIVER_OK (as QEMU).

import { DeviceStatus } from '../../formats/virtio/status.js';
import { DEVICE_TYPE_FEATURES, featureBit, featureWord, hasFeature, VirtioFeature, withFeatureWord } from '../../formats/virtio/features.js';
import { RingAlign, validQueueSize } from '../../formats/virtio/split-ring.js';
import type { DmaPort, DmaRequester } from '../../devices/dma-port.js';
import type { VirtioDeviceContext, VirtioDeviceModel } from './device.js';
import { GuestMemory } from './guest-memory.js';
import { resolveTransportParameters, type ResolvedTransportParameters, type VirtioTransportParameters } from './parameters.js';
import { DeviceVirtqueue, type VirtqueueHost } from './virtqueue.js';

/** How the transport delivers the device's notifications to the driver. */
export interface NotificationSink {
  usedBufferNotification(queue: number): void;
  configChangeNotification(): void;
  /** The device was reset: clear pending interrupt state. */
  deviceReset(): void;
}

export interface VirtioDeviceCounters {
  resets: number;
  /** FEATURES_OK writes refused. */
  featuresRefused: number;
  /** Times the device entered DEVICE_NEEDS_RESET. */
  needsReset: number;
  configChanges: number;
  /** Available buffer notifications for queues that do not exist or are not live. */
  spuriousNotifications: number;
  queueResets: number;
}

export interface VirtioDeviceCoreOptions extends VirtioTransportParameters {
  name: string;
  model: VirtioDeviceModel;
  /** The device's upstream DMA port and the identity it uses. */
  port: DmaPort;
  requester: DmaRequester;
}

const DEVICE_OWNED = DeviceStatus.DEVICE_NEEDS_RESET | DeviceStatus.SUSPEND;

export class VirtioDeviceCore implements VirtioDeviceContext, VirtqueueHost {
  readonly name: string;
  readonly model: VirtioDeviceModel;
  readonly parameters: ResolvedTransportParameters;
  /** Every feature the device offers (model bits plus the transport's reserved-range bits). */
  readonly offered: bigint;
  readonly memory: GuestMemory;
  readonly queues: readonly DeviceVirtqueue[];
  readonly counters: VirtioDeviceCounters = { resets: 0, featuresRefused: 0, needsReset: 0, configChanges: 0, spuriousNotifications: 0, queueResets: 0 };
  /** Why the device entered DEVICE_NEEDS_RESET, oldest first. */
  readonly errors: string[] = [];

  deviceFeatureSelect = 0;
  driverFeatureSelect = 0;
  queueSelect = 0;
  private status = 0;
  private driverFeatures = 0n;
  private negotiated = 0n;
  private broken = false;
  private generationCount = 0;
  private configDirty = false;
  private eventIdxOn = false;
  private indirectOn = false;
  private readonly translatedPort: DmaPort;

  constructor(
    options: VirtioDeviceCoreOptions,
    private readonly sink: NotificationSink,
  ) {
    this.name = options.name;
    this.model = options.model;
    this.parameters = resolveTransportParameters(options);
    const p = this.parameters;
    let transport = featureBit(VirtioFeature.VERSION_1);
    if (p.eventIdx) transport |= featureBit(VirtioFeature.EVENT_IDX);
    if (p.indirectDesc) transport |= featureBit(VirtioFeature.INDIRECT_DESC);
    if (p.ringReset) transport |= featureBit(VirtioFeature.RING_RESET);
    if (p.accessPlatform) transport |= featureBit(VirtioFeature.ACCESS_PLATFORM);
    this.offered = (options.model.deviceFeatures & DEVICE_TYPE_FEATURES) | transport;
    this.translatedPort = options.port;
    this.memory = new GuestMemory(options.port, options.requester);
    this.queues = options.model.queueMaxSizes.map((max, i) => new DeviceVirtqueue(i, max, this));
  }

  // ---- VirtioDeviceContext / VirtqueueHost ------------------------------------------------

  get features(): bigint {
    return this.negotiated;
  }

  get live(): boolean {
    return (this.status & DeviceStatus.DRIVER_OK) !== 0 && !this.broken;
  }

  get eventIdx(): boolean {
    return this.eventIdxOn;
  }

  get indirectDesc(): boolean {
    return this.indirectOn;
  }

  queue(index: number): DeviceVirtqueue | null {
    const q = this.queues[index];
    return q !== undefined && q.enabled ? q : null;
  }

  needsReset(reason: string): void {
    if (this.broken) return;
    this.broken = true;
    this.status |= DeviceStatus.DEVICE_NEEDS_RESET;
    this.errors.push(reason);
    this.counters.needsReset++;
    // 2.1.2: with DRIVER_OK set, the device must then send a configuration change notification.
    if ((this.status & DeviceStatus.DRIVER_OK) !== 0) this.sink.configChangeNotification();
  }

  configChanged(): void {
    this.configDirty = true;
    this.counters.configChanges++;
    if ((this.status & DeviceStatus.DRIVER_OK) !== 0) this.sink.configChangeNotification();
  }

  usedBufferNotification(index: number): void {
    this.sink.usedBufferNotification(index);
  }

  // ---- device status ----------------------------------------------------------------------

  get deviceStatus(): number {
    return this.status;
  }

  /** Whether the device entered DEVICE_NEEDS_RESET since its last reset. */
  get needsResetSet(): boolean {
    return this.broken;
  }

  writeStatus(value: number): void {
    value &= 0xff;
    if (value === 0) {
      this.reset();
      return;
    }
    const old = this.status;
    let next = (value & ~DEVICE_OWNED) | (old & DEVICE_OWNED);
    if ((next & DeviceStatus.FEATURES_OK) !== 0 && (old & DeviceStatus.FEATURES_OK) === 0 && !this.negotiate()) {
      next &= ~DeviceStatus.FEATURES_OK;
    }
    this.status = next;
    if ((next & DeviceStatus.DRIVER_OK) !== 0 && (old & DeviceStatus.DRIVER_OK) === 0) {
      if ((next & DeviceStatus.FEATURES_OK) === 0) this.needsReset('DRIVER_OK was set without a successful FEATURES_OK');
      else if (!this.broken) this.model.start(this);
    }
  }

  reset(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    this.negotiated = 0n;
    this.eventIdxOn = false;
    this.indirectOn = false;
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.queueSelect = 0;
    this.broken = false;
    this.configDirty = false;
    this.memory.port = this.translatedPort;
    for (const q of this.queues) q.reset();
    this.counters.resets++;
    this.sink.deviceReset();
    this.model.reset();
  }

  // ---- features ---------------------------------------------------------------------------

  /** DeviceFeatures / device_feature: the offered word selected by the feature select register. */
  readDeviceFeatures(): number {
    return featureWord(this.offered, this.deviceFeatureSelect);
  }

  /** DriverFeatures / driver_feature: what the driver wrote to the selected word. */
  readDriverFeatures(): number {
    return featureWord(this.driverFeatures, this.driverFeatureSelect);
  }

  writeDriverFeatures(value: number): void {
    if ((this.status & DeviceStatus.FEATURES_OK) !== 0) return;
    if (this.driverFeatureSelect > 3) return; // no feature bit exists above 127
    this.driverFeatures = withFeatureWord(this.driverFeatures, this.driverFeatureSelect, value);
  }

  private negotiate(): boolean {
    const f = this.driverFeatures;
    const ok = (f & ~this.offered) === 0n && hasFeature(f, VirtioFeature.VERSION_1) && this.model.acceptFeatures(f);
    if (!ok) {
      this.counters.featuresRefused++;
      return false;
    }
    this.negotiated = f;
    this.eventIdxOn = hasFeature(f, VirtioFeature.EVENT_IDX);
    this.indirectOn = hasFeature(f, VirtioFeature.INDIRECT_DESC);
    const p = this.parameters;
    this.memory.port = hasFeature(f, VirtioFeature.ACCESS_PLATFORM) || p.physicalPort === null ? this.translatedPort : p.physicalPort;
    return true;
  }

  // ---- configuration space ----------------------------------------------------------------

  /** ConfigGeneration / config_generation (the PCI field shows its low byte). */
  get generation(): number {
    return this.generationCount;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    if (this.configDirty) {
      this.configDirty = false;
      this.generationCount = (this.generationCount + 1) >>> 0;
    }
    if (offset < 0 || offset + size > this.model.configSize) return 0;
    return this.model.readConfig(offset, size) >>> 0;
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset < 0 || offset + size > this.model.configSize) return;
    this.model.writeConfig(offset, size, value);
  }

  // ---- queues -----------------------------------------------------------------------------

  /** The queue QueueSel / queue_select names, or null when it does not exist. */
  get selectedQueue(): DeviceVirtqueue | null {
    return this.queues[this.queueSelect] ?? null;
  }

  /** QueueSize / queue_size for the selected queue (ignored while it is enabled). */
  setQueueSize(size: number): void {
    const q = this.selectedQueue;
    if (q !== null && !q.enabled && q.maxSize > 0) q.size = size;
  }

  /** Sets half `high` of area `area` of the selected queue (ignored while it is enabled). */
  setQueueAddress(area: 'desc' | 'driver' | 'device', high: boolean, value: number): void {
    const q = this.selectedQueue;
    if (q === null || q.enabled) return;
    value >>>= 0;
    if (area === 'desc') {
      if (high) q.descHi = value;
      else q.descLo = value;
    } else if (area === 'driver') {
      if (high) q.driverHi = value;
      else q.driverLo = value;
    } else if (high) q.deviceHi = value;
    else q.deviceLo = value;
  }

  /** QueueReady=1 / queue_enable=1: checks the configuration (see the file comment), then enables. */
  enableSelectedQueue(): void {
    const q = this.selectedQueue;
    if (q === null || q.enabled || q.maxSize === 0) return;
    let problem = '';
    if (!validQueueSize(q.size) || q.size > q.maxSize) problem = `size ${q.size} is not a power of two from 1 to ${q.maxSize}`;
    else if (q.descLo % RingAlign.DESC !== 0) problem = 'the descriptor table is not 16-byte aligned';
    else if (q.driverLo % RingAlign.AVAIL !== 0) problem = 'the available ring is not 2-byte aligned';
    else if (q.deviceLo % RingAlign.USED !== 0) problem = 'the used ring is not 4-byte aligned';
    if (problem !== '') {
      this.needsReset(`virtqueue ${q.index} enabled with a bad configuration: ${problem}`);
      return;
    }
    q.enable();
  }

  /** QueueReady=0 (virtio-mmio): the device stops using the queue. */
  disableSelectedQueue(): void {
    const q = this.selectedQueue;
    if (q !== null) q.enabled = false;
  }

  /** QueueReset=1 / queue_reset=1 with VIRTIO_F_RING_RESET negotiated (2.6.1); completes at once. */
  resetSelectedQueue(): void {
    const q = this.selectedQueue;
    if (q === null || !hasFeature(this.negotiated, VirtioFeature.RING_RESET)) return;
    q.reset();
    this.counters.queueResets++;
    this.model.queueReset?.(q.index);
  }

  /** An available buffer notification for queue `index`. */
  notify(index: number): void {
    const q = this.queues[index];
    if (q === undefined) {
      this.counters.spuriousNotifications++;
      return;
    }
    q.counters.kicks++;
    if (!this.live || !q.enabled) {
      this.counters.spuriousNotifications++;
      return;
    }
    this.model.queueNotified(index);
  }
}
