// A device-side test bench: a virtio-mmio transport in front of a device model, on a system
// bus over sparse RAM, with the test playing the driver by hand: it programs the registers
// and writes descriptors and ring entries straight into memory, hostile ones included.

import { DirectDmaPort } from '../../../src/devices/dma-port.js';
import { featureBit, VirtioFeature } from '../../../src/formats/virtio/features.js';
import { VirtioMmio } from '../../../src/formats/virtio/mmio.js';
import { availEventOffset, usedEventOffset } from '../../../src/formats/virtio/split-ring.js';
import { DeviceStatus } from '../../../src/formats/virtio/status.js';
import { VirtioMmioTransport, type VirtioDeviceModel, type VirtioTransportParameters } from '../../../src/hw/virtio/index.js';
import { InterruptLine } from '../../../src/sim/irq.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';
import { EchoDevice, type EchoDeviceOptions } from './echo-device.js';

export const DESC = 0x8000_0000n;
export const AVAIL = 0x8000_1000n;
export const USED = 0x8000_2000n;
/** Where tests put buffers and indirect tables. */
export const DATA = 0x8010_0000n;

export const F = {
  VERSION_1: featureBit(VirtioFeature.VERSION_1),
  EVENT_IDX: featureBit(VirtioFeature.EVENT_IDX),
  INDIRECT_DESC: featureBit(VirtioFeature.INDIRECT_DESC),
  RING_RESET: featureBit(VirtioFeature.RING_RESET),
  ACCESS_PLATFORM: featureBit(VirtioFeature.ACCESS_PLATFORM),
} as const;

export interface BenchOptions extends VirtioTransportParameters {
  echo?: EchoDeviceOptions;
  vendorId?: number;
  model?: VirtioDeviceModel;
}

export class DeviceBench {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory);
  readonly port = new DirectDmaPort(this.bus);
  readonly irq = new InterruptLine('virtio.irq');
  readonly model: VirtioDeviceModel;
  readonly transport: VirtioMmioTransport;
  /** The queue size the bench configures. */
  size = 8;
  private availIdx = 0;

  constructor(o: BenchOptions = {}) {
    this.model = o.model ?? new EchoDevice({ queueSize: 8, ...o.echo });
    this.transport = new VirtioMmioTransport({ ...o, model: this.model, port: this.port, irq: this.irq, deviceId: 7 });
  }

  get echo(): EchoDevice {
    return this.model as EchoDevice;
  }

  get core() {
    return this.transport.core;
  }

  get queue() {
    return this.transport.core.queues[0];
  }

  read(reg: number): number {
    return this.transport.mmioRead32(reg);
  }

  write(reg: number, value: number): void {
    this.transport.mmioWrite32(reg, value);
  }

  status(): number {
    return this.read(VirtioMmio.STATUS);
  }

  /** The initialization sequence (3.1.1) accepting `features`, with queue 0 at DESC/AVAIL/USED; returns the status read back. */
  start(features: bigint = F.VERSION_1, size = 8): number {
    this.size = size;
    this.write(VirtioMmio.STATUS, 0);
    this.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE);
    this.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    this.setDriverFeatures(features);
    this.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
    this.setUpQueue(0, size);
    this.write(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    return this.status();
  }

  setDriverFeatures(features: bigint): void {
    this.write(VirtioMmio.DRIVER_FEATURES_SEL, 0);
    this.write(VirtioMmio.DRIVER_FEATURES, Number(features & 0xffff_ffffn));
    this.write(VirtioMmio.DRIVER_FEATURES_SEL, 1);
    this.write(VirtioMmio.DRIVER_FEATURES, Number(features >> 32n));
  }

  setUpQueue(index: number, size: number, desc = DESC, avail = AVAIL, used = USED): void {
    this.write(VirtioMmio.QUEUE_SEL, index);
    this.write(VirtioMmio.QUEUE_SIZE, size);
    this.write(VirtioMmio.QUEUE_DESC_LOW, Number(desc & 0xffff_ffffn));
    this.write(VirtioMmio.QUEUE_DESC_HIGH, Number(desc >> 32n));
    this.write(VirtioMmio.QUEUE_DRIVER_LOW, Number(avail & 0xffff_ffffn));
    this.write(VirtioMmio.QUEUE_DRIVER_HIGH, Number(avail >> 32n));
    this.write(VirtioMmio.QUEUE_DEVICE_LOW, Number(used & 0xffff_ffffn));
    this.write(VirtioMmio.QUEUE_DEVICE_HIGH, Number(used >> 32n));
    this.write(VirtioMmio.QUEUE_READY, 1);
    this.availIdx = 0;
  }

  /** Writes descriptor `i` of the table at `table`. */
  desc(i: number, addr: bigint, len: number, flags = 0, next = 0, table = DESC): void {
    const at = table + BigInt(16 * i);
    this.memory.write(at, 8, addr);
    this.memory.write(at + 8n, 4, BigInt(len));
    this.memory.write(at + 12n, 2, BigInt(flags));
    this.memory.write(at + 14n, 2, BigInt(next));
  }

  /** Puts `head` in the next available ring slot and publishes the index. */
  publish(head: number): void {
    this.memory.write(AVAIL + 4n + BigInt(2 * (this.availIdx % this.size)), 2, BigInt(head));
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.memory.write(AVAIL + 2n, 2, BigInt(this.availIdx));
  }

  /** Writes the available index directly (hostile tests). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.memory.write(AVAIL + 2n, 2, BigInt(this.availIdx));
  }

  kick(queue = 0): void {
    this.write(VirtioMmio.QUEUE_NOTIFY, queue);
  }

  usedIdx(): number {
    return Number(this.memory.read(USED + 2n, 2));
  }

  usedFlags(): number {
    return Number(this.memory.read(USED, 2));
  }

  used(slot: number): { id: number; len: number } {
    const at = USED + 4n + BigInt(8 * slot);
    return { id: Number(this.memory.read(at, 4)), len: Number(this.memory.read(at + 4n, 4)) };
  }

  setAvailFlags(flags: number): void {
    this.memory.write(AVAIL, 2, BigInt(flags));
  }

  setUsedEvent(value: number): void {
    this.memory.write(AVAIL + BigInt(usedEventOffset(this.size)), 2, BigInt(value));
  }

  availEvent(): number {
    return Number(this.memory.read(USED + BigInt(availEventOffset(this.size)), 2));
  }

  interruptStatus(): number {
    return this.read(VirtioMmio.INTERRUPT_STATUS);
  }

  ack(bits: number): void {
    this.write(VirtioMmio.INTERRUPT_ACK, bits);
  }

  bytes(at: bigint, data: readonly number[]): void {
    this.memory.writeBytes(at, Uint8Array.from(data));
  }

  readBytes(at: bigint, length: number): number[] {
    return [...this.memory.readBytes(at, length)];
  }
}
