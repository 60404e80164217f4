// What the virtio core needs from a transport (virtio-mmio or virtio-pci): the device status,
// feature words, the configuration space and its generation, queue setup and notification,
// and the device's interrupt status. VirtioDevice builds the transport-neutral API on it.

import type { VirtioDevice } from './device.js';

/**
 * How the device's notifications reach the driver: one wired interrupt (virtio-mmio), MSI-X
 * messages per queue and for configuration changes (virtio-pci), or nothing the kernel can
 * route, so that the driver reads the interrupt status when it polls.
 */
export type VirtioInterruptMode = 'wired' | 'msix' | 'polled';

export type ConnectResult = 'ok' | { defer: string } | { error: string };

export interface VirtioTransport {
  readonly kind: 'virtio-mmio' | 'virtio-pci';
  /** The virtio device id (chapter 5). */
  readonly deviceId: number;
  readonly interruptMode: VirtioInterruptMode;
  /** Connects the device's notifications to `vdev` (requests the interrupt, allocates MSI-X vectors). */
  connect(vdev: VirtioDevice): ConnectResult;
  getStatus(): number;
  setStatus(status: number): void;
  /** Writes 0 to the status and waits until it reads 0 (2.4); then re-maps what a reset unmapped. */
  reset(): void;
  getFeatures(): bigint;
  setFeatures(features: bigint): void;
  generation(): number;
  readConfig(offset: number, size: 1 | 2 | 4): number;
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  /** The largest size queue `index` supports; 0 when it does not exist. */
  queueMaxSize(index: number): number;
  /** Programs queue `index` with its size and areas and enables it; returns why it failed, or null. */
  activateQueue(index: number, size: number, desc: bigint, driver: bigint, device: bigint): string | null;
  /** Resets queue `index` alone (VIRTIO_F_RING_RESET); returns whether the device completed it. */
  resetQueue(index: number): boolean;
  /** The available buffer notification for queue `index`. */
  notify(index: number): void;
  /** Reads and acknowledges the interrupt status: bit 0 used buffers, bit 1 configuration change. */
  takeInterruptStatus(): number;
}
