// The DMA API as device drivers use it (after Linux's dma-mapping API): drivers hand buffers'
// physical addresses to the device through DMA addresses, which are IOVAs when the device's
// default domain translates, and physical addresses otherwise.

import type { Device } from '../driver-model/device.js';

export const DmaDirection = {
  ToDevice: 'to-device',
  FromDevice: 'from-device',
  Bidirectional: 'bidirectional',
} as const;
export type DmaDirectionValue = (typeof DmaDirection)[keyof typeof DmaDirection];

/** One physically contiguous piece of a scatter-gather list. */
export interface SgEntry {
  paddr: bigint;
  length: number;
}

/** The device's view of a mapped scatter-gather list. */
export interface MappedSg {
  /** The DMA segments the device should use (merged where contiguous in IOVA space). */
  segments: { dmaAddress: bigint; length: number }[];
  /** What unmapSg needs back. */
  readonly entries: readonly SgEntry[];
}

export class DmaMappingError extends Error {}

export interface DmaStats {
  mapped: number;
  unmapped: number;
  /** Invalidations the DMA layer asked the IOMMU driver for (syncs and full flushes). */
  syncs: number;
  flushes: number;
}

export interface DmaApi {
  /** Maps `size` bytes at `paddr` for `dev`; returns the DMA address to program. */
  mapSingle(dev: Device, paddr: bigint, size: number, dir: DmaDirectionValue): bigint;
  unmapSingle(dev: Device, dmaAddress: bigint, size: number, dir: DmaDirectionValue): void;
  mapSg(dev: Device, entries: readonly SgEntry[], dir: DmaDirectionValue): MappedSg;
  unmapSg(dev: Device, mapped: MappedSg, dir: DmaDirectionValue): void;
  /** Allocates zeroed, page-aligned memory mapped for `dev` (coherent: no syncs needed). */
  allocCoherent(dev: Device, size: number): { paddr: bigint; dmaAddress: bigint };
  freeCoherent(dev: Device, size: number, paddr: bigint, dmaAddress: bigint): void;
  /** Sets the highest DMA address `dev` can drive, 2^n - 1 (Linux dma_set_mask); default 64 bits. */
  setMask(dev: Device, mask: bigint): void;
  getMask(dev: Device): bigint;
  readonly stats: DmaStats;
}
