// The device configuration as the driver reads it (VIRTIO 1.3 section 5.13.4): page_size_mask
// always; input_range, domain_range and probe_size only when their feature was negotiated
// (the whole 64-bit IOVA space, every 32-bit domain id and no PROBE otherwise, 5.13.6); and
// what the configuration means for this kernel's domains (page sizes in 4 KiB units).

import { VirtioIommuConfigOffset } from '../../../formats/virtio-iommu/config.js';
import { VirtioIommuFeature } from '../../../formats/virtio-iommu/features.js';
import { hex } from '../../../sim/u64.js';
import type { VirtioDevice } from '../virtio/device.js';

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;

export interface ViommuConfig {
  pageSizeMask: bigint;
  /** Inclusive range of IOVAs the device translates. */
  inputStart: bigint;
  inputEnd: bigint;
  /** Inclusive range of domain ids the device accepts. */
  firstDomain: number;
  lastDomain: number;
  /** Bytes of the PROBE properties buffer; 0 when PROBE was not negotiated. */
  probeSize: number;
}

/** Reads the configuration fields the negotiated features make meaningful. */
export function readViommuConfig(vdev: VirtioDevice): ViommuConfig {
  const o = VirtioIommuConfigOffset;
  const F = VirtioIommuFeature;
  const inputRange = vdev.hasFeature(F.InputRange);
  const domainRange = vdev.hasFeature(F.DomainRange);
  return {
    pageSizeMask: vdev.config64(o.pageSizeMask),
    inputStart: inputRange ? vdev.config64(o.inputRangeStart) : 0n,
    inputEnd: inputRange ? vdev.config64(o.inputRangeEnd) : U64_MAX,
    firstDomain: domainRange ? vdev.config32(o.domainRangeStart) : 0,
    lastDomain: domainRange ? vdev.config32(o.domainRangeEnd) : U32_MAX,
    probeSize: vdev.hasFeature(F.Probe) ? vdev.config32(o.probeSize) : 0,
  };
}

/** Why a configuration cannot be used (the device broke a MUST of 5.13.4.2), or null. */
export function configProblem(c: ViommuConfig): string | null {
  if (c.pageSizeMask === 0n) return 'page_size_mask has no bit set (5.13.4.2: the device MUST set at least one)';
  if (c.inputStart > c.inputEnd) return `input_range ${hex(c.inputStart)}..${hex(c.inputEnd)} is empty`;
  if (c.firstDomain > c.lastDomain) return `domain_range ${c.firstDomain}..${c.lastDomain} is empty`;
  return null;
}

/**
 * The page sizes of paging domains, as log2 of bytes, ascending: the device's granule (the
 * lowest bit of page_size_mask) and every larger size it lists. Mappings are made of whole
 * 4 KiB kernel pages, so a granule below 4 KiB maps 4 KiB pages (a multiple of it); a granule
 * above 4 KiB would make the DMA API expose the neighbours of every buffer it maps, so such a
 * device is refused, as Linux does (viommu_domain_alloc_paging). Returns an error message then.
 */
export function domainPageSizes(pageSizeMask: bigint): number[] | string {
  const granule = pageSizeMask & -pageSizeMask;
  if (granule > 4096n) return `the device's granule ${hex(granule)} is larger than the 4 KiB kernel page`;
  const sizes = [12];
  for (let bit = 13; bit < 64; bit++) if (((pageSizeMask >> BigInt(bit)) & 1n) === 1n) sizes.push(bit);
  return sizes;
}
