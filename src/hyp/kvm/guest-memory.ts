// Where a guest's RAM lives in the host: the VMM's table of guest-physical ranges and the
// host-physical memory backing each (QEMU's RAM memory regions, which its VFIO listener maps
// into the host IOMMU). The host backend of a virtio-iommu translates the guest-physical
// address of every MAP through it, and maps the whole table when an endpoint bypasses.

import { hex } from '../../sim/u64.js';
import { HostBackendError } from './errors.js';

/** One guest-physical range and the host-physical memory behind it (bytes, 4 KiB aligned). */
export interface GuestMemoryRegion {
  guest: bigint;
  host: bigint;
  size: bigint;
}

const PAGE_MASK = 0xfffn;

export class GuestMemoryMap {
  /** The regions, in guest-physical order. */
  readonly regions: readonly GuestMemoryRegion[];

  /** Throws HostBackendError for an empty or unaligned region, or regions overlapping in either space. */
  constructor(regions: readonly GuestMemoryRegion[]) {
    const sorted = [...regions].sort((a, b) => (a.guest < b.guest ? -1 : a.guest > b.guest ? 1 : 0));
    for (const r of sorted) {
      if (r.size <= 0n || r.guest < 0n || r.host < 0n || ((r.guest | r.host | r.size) & PAGE_MASK) !== 0n) {
        throw new HostBackendError(`guest memory ${hex(r.guest)} (+${hex(r.size)}) -> ${hex(r.host)}: regions must be non-empty and 4 KiB aligned`);
      }
    }
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      if (sorted[i].guest < prev.guest + prev.size) throw new HostBackendError(`guest memory regions at ${hex(prev.guest)} and ${hex(sorted[i].guest)} overlap in guest-physical space`);
    }
    for (const a of sorted) {
      for (const b of sorted) {
        if (a !== b && a.host < b.host + b.size && b.host < a.host + a.size) throw new HostBackendError(`guest memory regions at ${hex(a.guest)} and ${hex(b.guest)} share host memory at ${hex(a.host > b.host ? a.host : b.host)}`);
      }
    }
    this.regions = sorted;
  }

  /** Guest-physical = host-physical over `ranges` (an identity VM layout). */
  static identity(ranges: readonly { base: bigint; size: bigint }[]): GuestMemoryMap {
    return new GuestMemoryMap(ranges.map((r) => ({ guest: r.base, host: r.base, size: r.size })));
  }

  /** The host-physical address of guest-physical `gpa`, or null outside guest RAM. */
  toHost(gpa: bigint): bigint | null {
    for (const r of this.regions) if (gpa >= r.guest && gpa < r.guest + r.size) return r.host + (gpa - r.guest);
    return null;
  }

  /**
   * [gpa, gpa + size) cut where it crosses from one region to the next, each piece with its
   * host-physical address; null when any byte of it is not guest RAM.
   */
  pieces(gpa: bigint, size: bigint): GuestMemoryRegion[] | null {
    const out: GuestMemoryRegion[] = [];
    let at = gpa;
    const end = gpa + size;
    while (at < end) {
      const r = this.regions.find((x) => at >= x.guest && at < x.guest + x.size);
      if (r === undefined) return null;
      const stop = r.guest + r.size < end ? r.guest + r.size : end;
      out.push({ guest: at, host: r.host + (at - r.guest), size: stop - at });
      at = stop;
    }
    return out;
  }
}
