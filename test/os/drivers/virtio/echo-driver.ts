// A virtio driver for the echo test device (test/hw/virtio/echo-device.ts): one queue, each
// request a device-readable segment followed by a device-writable one, in slots of a buffer
// pool shared with the device. Completions are collected by the queue callback.

import type { ProbeResult } from '../../../../src/os/driver-model/device.js';
import type { SharedArea, SplitVirtqueue, VirtioDevice, VirtioDriver } from '../../../../src/os/drivers/virtio/index.js';
import { ECHO_DEVICE_ID, ECHO_F_XOR, EchoConfig } from '../../../hw/virtio/echo-device.js';

const SLOT = 0x200;

export interface EchoDriverOptions {
  /** Device-type features the driver accepts (default ECHO_F_XOR). */
  features?: bigint;
  key?: number;
  /** Indirect table size (0: no indirect descriptors). */
  indirectSegments?: number;
  /** Queue size to ask for (default the device maximum). */
  queueSize?: number;
  /** Set DRIVER_OK during probe (as Linux drivers that use the device while probing). */
  readyInProbe?: boolean;
}

export interface Completion {
  slot: number;
  length: number;
  data: number[];
}

export class EchoClient {
  readonly completions: Completion[] = [];
  readonly pool: SharedArea & { bytes: number };
  configChanges = 0;
  private nextSlot = 0;

  constructor(
    readonly vdev: VirtioDevice,
    readonly vq: SplitVirtqueue<number>,
    readonly slots: number,
  ) {
    this.pool = vdev.allocShared(slots * SLOT);
    vq.callback = () => this.collect();
    vdev.configHandler = () => this.configChanges++;
  }

  /** Adds one request (split in `pieces` readable segments and as many writable ones); returns false when the ring is full. */
  add(payload: readonly number[], pieces = 1): boolean {
    const slot = this.nextSlot;
    this.nextSlot = (this.nextSlot + 1) % this.slots;
    const out = this.pool.paddr + BigInt(slot * SLOT);
    this.vdev.kernel.memory.writeBytes(out, Uint8Array.from(payload));
    const dma = this.pool.dmaAddress + BigInt(slot * SLOT);
    const cut = (base: bigint, writable: boolean) => {
      const per = Math.ceil(payload.length / pieces);
      return Array.from({ length: pieces }, (_, i) => ({ address: base + BigInt(i * per), length: Math.max(0, Math.min(per, payload.length - i * per)), writable }));
    };
    return this.vq.add([...cut(dma, false), ...cut(dma + BigInt(SLOT / 2), true)], slot);
  }

  kick(): boolean {
    return this.vq.kick();
  }

  /** Takes every used buffer (the queue callback). */
  collect(): void {
    for (let u = this.vq.getUsed(); u !== null; u = this.vq.getUsed()) {
      const at = this.pool.paddr + BigInt(u.token * SLOT + SLOT / 2);
      this.completions.push({ slot: u.token, length: u.length, data: [...this.vdev.kernel.memory.readBytes(at, u.length)] });
    }
  }

  key(): number {
    return this.vdev.config32(EchoConfig.KEY);
  }

  bytes(): bigint {
    return this.vdev.config64(EchoConfig.BYTES);
  }
}

export function echoDriver(o: EchoDriverOptions = {}): VirtioDriver {
  return {
    name: 'echo',
    deviceIds: [ECHO_DEVICE_ID],
    features: o.features ?? ECHO_F_XOR,
    probe(vdev: VirtioDevice): ProbeResult {
      vdev.writeConfig(EchoConfig.KEY, 4, o.key ?? 0);
      const vq = vdev.setUpQueue<number>(0, { size: o.queueSize, indirectSegments: o.indirectSegments });
      vdev.driverData = new EchoClient(vdev, vq, vq.size);
      if (o.readyInProbe === true) vdev.ready();
      return 'bound';
    },
  };
}

export function echoOf(vdev: VirtioDevice): EchoClient {
  if (!(vdev.driverData instanceof EchoClient)) throw new Error(`${vdev.name} is not bound to the echo driver`);
  return vdev.driverData;
}
