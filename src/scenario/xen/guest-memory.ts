// Memory as a hypervisor scenario's steps see it: a guest's CPU (guest-physical addresses,
// through its P2M: GuestMemory) or machine memory (PhysicalMemory), written and compared a
// chunk at a time from the byte streams of data specifications; and the allocator a guest's
// own kernel would have, handing out guest-physical ranges of its RAM.

import type { RamExtent } from '../../hyp/xen/index.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import type { ByteStream, Mismatch } from '../memory.js';

/** A CPU's view of memory: a guest's (GuestMemory) or the machine's. */
export interface CpuView {
  read(address: bigint, length: number): Uint8Array;
  write(address: bigint, data: Uint8Array): void;
}

export function machineView(memory: PhysicalMemory): CpuView {
  return { read: (address, length) => memory.readBytes(address, length), write: (address, data) => memory.writeBytes(address, data) };
}

const CHUNK = 64 * 1024;

export function writeStreamTo(view: CpuView, address: bigint, length: number, stream: ByteStream): void {
  const chunk = new Uint8Array(Math.min(CHUNK, length));
  for (let done = 0; done < length; ) {
    const n = Math.min(CHUNK, length - done);
    stream.next(chunk, n);
    view.write(address + BigInt(done), n === chunk.length ? chunk : chunk.subarray(0, n));
    done += n;
  }
}

export function compareStreamWith(view: CpuView, address: bigint, length: number, stream: ByteStream): Mismatch | null {
  const expected = new Uint8Array(Math.min(CHUNK, length));
  for (let done = 0; done < length; ) {
    const n = Math.min(CHUNK, length - done);
    stream.next(expected, n);
    const actual = view.read(address + BigInt(done), n);
    for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return { offset: done + i, actual: actual[i], expected: expected[i] };
    done += n;
  }
  return null;
}

/** The contents of memory from `address` on, as a stream (a `buffer` data specification). */
export function viewStream(view: CpuView, address: bigint): ByteStream {
  let pos = 0n;
  return {
    next(chunk, n) {
      chunk.set(view.read(address + pos, n));
      pos += BigInt(n);
    },
  };
}

/**
 * Guest-physical ranges of a guest's RAM, handed out first fit and naturally aligned (to the
 * size rounded up to a power of two, at most 2 MiB), as a guest kernel's page allocator does.
 */
export class GuestAllocator {
  /** Free runs of frames, sorted by gfn. */
  private readonly free: { gfn: number; pages: number }[];

  constructor(ram: readonly RamExtent[]) {
    this.free = ram.map((e) => ({ gfn: e.gfn, pages: e.pages })).sort((a, b) => a.gfn - b.gfn);
    // Adjacent extents (RAM is backed in 2 MiB runs) are one range to the guest.
    for (let i = this.free.length - 1; i > 0; i--) {
      const prev = this.free[i - 1];
      if (prev.gfn + prev.pages === this.free[i].gfn) {
        prev.pages += this.free[i].pages;
        this.free.splice(i, 1);
      }
    }
  }

  /** The first gfn of `pages` free frames, or null when no run is large enough. */
  alloc(pages: number): number | null {
    let align = 1;
    while (align < pages && align < 512) align *= 2;
    for (let i = 0; i < this.free.length; i++) {
      const run = this.free[i];
      const first = Math.ceil(run.gfn / align) * align;
      if (first + pages > run.gfn + run.pages) continue;
      const after = { gfn: first + pages, pages: run.gfn + run.pages - first - pages };
      const before = { gfn: run.gfn, pages: first - run.gfn };
      this.free.splice(i, 1, ...[before, after].filter((r) => r.pages > 0));
      return first;
    }
    return null;
  }

  /** Gives `pages` frames from `gfn` back. */
  release(gfn: number, pages: number): void {
    this.free.push({ gfn, pages });
    this.free.sort((a, b) => a.gfn - b.gfn);
    for (let i = this.free.length - 1; i > 0; i--) {
      const prev = this.free[i - 1];
      if (prev.gfn + prev.pages === this.free[i].gfn) {
        prev.pages += this.free[i].pages;
        this.free.splice(i, 1);
      }
    }
  }

  /** Free frames in all. */
  get freePages(): number {
    return this.free.reduce((n, r) => n + r.pages, 0);
  }
}
