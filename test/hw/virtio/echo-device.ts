// A small virtio device model for the transport tests: one request queue whose every chain is
// echoed, the device-readable bytes copied into the device-writable part (XORed with the
// configuration's `key` when ECHO_F_XOR was negotiated). Its configuration space:
//   0x00 le32 key       read-write
//   0x04 le32 requests  read-only: chains echoed
//   0x08 le64 bytes     read-only: bytes echoed (a 64-bit field that changes)
// In 'deferred' mode a notification only disables further notifications and marks the
// queue busy; service() then drains it, as a device working asynchronously would.

import type { VirtioDeviceContext, VirtioDeviceModel } from '../../../src/hw/virtio/index.js';

/** An unassigned virtio device id: the last one a modern virtio-pci function can carry (0x107f). */
export const ECHO_DEVICE_ID = 63;
export const ECHO_F_XOR = 1n << 0n;
export const EchoConfig = { KEY: 0, REQUESTS: 4, BYTES: 8, SIZE: 16 } as const;

export interface EchoDeviceOptions {
  queueSize?: number;
  /** Number of queues (each echoes); default 1. */
  queues?: number;
  mode?: 'immediate' | 'deferred';
  /** Refuse every feature set at FEATURES_OK. */
  refuseFeatures?: boolean;
  /** Publish every n completions as one batch (fill/flush); default 1 (push each). */
  batch?: number;
}

export class EchoDevice implements VirtioDeviceModel {
  readonly deviceId = ECHO_DEVICE_ID;
  readonly deviceFeatures = ECHO_F_XOR;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = EchoConfig.SIZE;
  readonly mode: 'immediate' | 'deferred';
  /** Calls the model received, for tests. */
  readonly calls = { start: 0, reset: 0, notified: 0, queueReset: 0, accepted: [] as bigint[] };
  context: VirtioDeviceContext | null = null;
  key = 0;
  requests = 0;
  bytes = 0n;
  busy = false;
  private readonly buffer = new Uint8Array(65536);
  private readonly refuse: boolean;
  private readonly batch: number;

  constructor(o: EchoDeviceOptions = {}) {
    this.queueMaxSizes = Array.from({ length: o.queues ?? 1 }, () => o.queueSize ?? 64);
    this.mode = o.mode ?? 'immediate';
    this.refuse = o.refuseFeatures ?? false;
    this.batch = o.batch ?? 1;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    const bytes = new Uint8Array(EchoConfig.SIZE);
    const v = new DataView(bytes.buffer);
    v.setUint32(EchoConfig.KEY, this.key, true);
    v.setUint32(EchoConfig.REQUESTS, this.requests, true);
    v.setBigUint64(EchoConfig.BYTES, this.bytes, true);
    return size === 4 ? v.getUint32(offset, true) : size === 2 ? v.getUint16(offset, true) : v.getUint8(offset);
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset === EchoConfig.KEY && size === 4) this.key = value >>> 0;
  }

  acceptFeatures(features: bigint): boolean {
    this.calls.accepted.push(features);
    return !this.refuse;
  }

  start(context: VirtioDeviceContext): void {
    this.calls.start++;
    this.context = context;
  }

  queueNotified(index: number): void {
    this.calls.notified++;
    if (this.mode === 'deferred') {
      this.context?.queue(index)?.disableNotifications();
      this.busy = true;
      return;
    }
    this.drain(index);
  }

  reset(): void {
    this.calls.reset++;
    this.context = null;
    this.busy = false;
  }

  queueReset(): void {
    this.calls.queueReset++;
  }

  /** Deferred mode: echoes everything available, then asks for notifications again (and drains what raced in). */
  service(): void {
    if (!this.busy) return;
    this.busy = false;
    for (let i = 0; i < this.queueMaxSizes.length; i++) {
      const q = this.context?.queue(i);
      if (q === null || q === undefined) continue;
      for (;;) {
        this.drain(i);
        // Buffers that arrived while notifications were off get no notification: look again.
        if (!q.enableNotifications()) break;
        q.disableNotifications();
      }
    }
  }

  /** Changes `bytes` as the device would on its own, with a configuration change notification. */
  bump(by: bigint): void {
    this.bytes += by;
    this.context?.configChanged();
  }

  private drain(index: number): void {
    const q = this.context?.queue(index);
    if (q === null || q === undefined) return;
    const xor = this.context !== null && (this.context.features & ECHO_F_XOR) !== 0n;
    let filled = 0;
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      const n = Math.min(chain.readableLength, chain.writableLength, this.buffer.length);
      if (!chain.read(0, n, this.buffer)) {
        this.context?.needsReset('echo: reading the request failed');
        return;
      }
      if (xor) for (let i = 0; i < n; i++) this.buffer[i] ^= (this.key >>> ((i & 3) * 8)) & 0xff;
      if (!chain.write(0, this.buffer, 0, n)) {
        this.context?.needsReset('echo: writing the reply failed');
        return;
      }
      this.requests++;
      this.bytes += BigInt(n);
      q.fill(chain, n);
      if (++filled === this.batch) {
        q.flush();
        filled = 0;
      }
    }
    q.flush();
  }
}
