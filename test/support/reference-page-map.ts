// The reference the drivers' map/unmap properties compare against: what the IOMMU core and an
// io-pgtable should leave mapped, page by page, after a sequence of map and unmap calls. It
// knows the rules, not the code (Linux iommu_pgsize and io-pgtable): map picks at each step the
// largest of 4 KiB, 2 MiB and 1 GiB that both addresses are aligned to and that fits, and fails
// without change when anything in the range is mapped; unmap walks the same way, stops at a hole
// or at a leaf larger than the step (a block is never split), and a step that covers a table of
// smaller leaves removes them all. Also the random operations and the step that applies one to
// the core and to the reference, checking that both agree.

import fc from 'fast-check';
import { expect } from 'vitest';
import type { IommuCore } from '../../src/os/core/iommu-core.js';
import { IommuError, Prot, type IommuDomain } from '../../src/os/core/types.js';

/** Sizes in 4 KiB pages. */
export const GIB = 1 << 18;
export const MIB2 = 1 << 9;
/** log2 of the leaf sizes in pages, largest first. */
const LEAVES = [18, 9, 0];

export interface Leaf {
  phys: number;
  log2: number;
}

/** The expected contents of a domain, page by page. */
export class ReferencePageMap {
  readonly pages = new Map<number, Leaf>();

  private mappedIn(start: number, n: number): boolean {
    if (n > 4096) {
      for (const k of this.pages.keys()) if (k >= start && k < start + n) return true;
      return false;
    }
    for (let p = start; p < start + n; p++) if (this.pages.has(p)) return true;
    return false;
  }

  private drop(start: number, n: number): void {
    if (n > 4096) {
      for (const k of [...this.pages.keys()]) if (k >= start && k < start + n) this.pages.delete(k);
    } else {
      for (let p = start; p < start + n; p++) this.pages.delete(p);
    }
  }

  /** Applies a map when it succeeds; returns whether it does. */
  map(iova: number, phys: number, n: number): boolean {
    if (this.mappedIn(iova, n)) return false;
    let i = iova;
    let p = phys;
    for (let left = n; left > 0; ) {
      const log2 = LEAVES.find((s) => i % 2 ** s === 0 && p % 2 ** s === 0 && 2 ** s <= left) ?? 0;
      for (let k = 0; k < 2 ** log2; k++) this.pages.set(i + k, { phys: p + k, log2 });
      i += 2 ** log2;
      p += 2 ** log2;
      left -= 2 ** log2;
    }
    return true;
  }

  /** Applies an unmap; returns the pages it removes from `iova` on. */
  unmap(iova: number, n: number): number {
    let i = iova;
    for (let left = n; left > 0; ) {
      const step = LEAVES.find((s) => i % 2 ** s === 0 && 2 ** s <= left) ?? 0;
      const leaf = this.pages.get(i);
      if ((leaf !== undefined && leaf.log2 > step) || !this.mappedIn(i, 2 ** step)) break;
      this.drop(i, 2 ** step);
      i += 2 ** step;
      left -= 2 ** step;
    }
    return i - iova;
  }
}

export interface PageOp {
  kind: 'map' | 'unmap';
  at: { gib: number; slot: number; page: number };
  length: number;
  /** Pages added to the co-aligned physical target (0: blocks possible). */
  skew: number;
  /** Which 4 GiB of physical space a map targets. */
  target: number;
}

/**
 * Random map and unmap operations in a small universe, so that they collide: two 1 GiB regions,
 * a few 2 MiB slots in each, the given pages in each slot, the given lengths (in pages).
 */
export function pageOpArbitrary(pages: readonly number[], lengths: readonly number[]): fc.Arbitrary<PageOp> {
  const at = fc.record({ gib: fc.constantFrom(1, 2), slot: fc.constantFrom(0, 1, 2, 511), page: fc.constantFrom(...pages) });
  const length = fc.constantFrom(...lengths);
  return fc.oneof(
    fc.record({ kind: fc.constant('map' as const), at, length, skew: fc.constantFrom(0, 0, 1, MIB2), target: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ kind: fc.constant('unmap' as const), at, length, skew: fc.constant(0), target: fc.constant(0) }),
  );
}

/** The pages probed after each operation: `pages` in slots 0-3 and 511 of both regions. */
export function probePages(pages: readonly number[]): number[] {
  const out: number[] = [];
  for (const gib of [1, 2]) for (const slot of [0, 1, 2, 3, 511]) for (const page of pages) out.push(gib * GIB + slot * MIB2 + page);
  return out;
}

/**
 * Applies `op` to the domain through the core and to the reference: a map the reference refuses
 * must throw IommuError, an unmap must remove as much as the reference says.
 */
export function applyPageOp(core: IommuCore, domain: IommuDomain, ref: ReferencePageMap, op: PageOp): void {
  const iova = op.at.gib * GIB + op.at.slot * MIB2 + op.at.page;
  if (op.kind === 'map') {
    // Targets co-aligned with the IOVA (so blocks are possible) unless skewed.
    const phys = op.target * 4 * GIB + (iova % GIB) + op.skew;
    const ok = ref.map(iova, phys, op.length);
    const call = () => core.map(domain, BigInt(iova) << 12n, BigInt(phys) << 12n, BigInt(op.length) << 12n, Prot.READ | Prot.WRITE);
    if (ok) call();
    else expect(call).toThrow(IommuError);
  } else {
    const want = ref.unmap(iova, op.length);
    expect(core.unmap(domain, BigInt(iova) << 12n, BigInt(op.length) << 12n)).toBe(BigInt(want) << 12n);
  }
}
