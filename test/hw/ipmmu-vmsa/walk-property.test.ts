// Property: the IPMMU's translation (micro-TLB -> cache TLB -> root TLB -> VMSAv8-64 walk, Arm
// ARM D8.2) agrees with a reference map of what the software builder (src/os/io-pgtable, the
// P2M builder) was asked to map, for any sequence of page and block maps, unmaps and
// permission changes followed by the flush the drivers issue (IMCTR.FLUSH in the cache IPMMU
// and the root): mapped pages translate to their output with S2AP enforced (IMSTR.PF), holes
// fault (IMSTR.TF); the result is the same through either cache IPMMU, cold or warm.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Imstr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { Bench, Prot } from './bench.js';

interface Leaf {
  page: number;
  pages: number;
  out: number;
  prot: number;
}

/** Slots of 2 MiB (as page numbers): low IPAs, 1 GiB, 4 GiB and at the top of the 40-bit space (every level-1 index bit set). */
const SLOT_BASES = [0x0, 0x200, 0x40000, 0x10_0000, 0xfff_fe00, 0xfff_fc00];
const prot = fc.constantFrom(Prot.READ, Prot.WRITE, Prot.READ | Prot.WRITE);

const op = fc.record({
  kind: fc.constantFrom('map' as const, 'unmap' as const, 'protect' as const),
  slot: fc.integer({ min: 0, max: SLOT_BASES.length - 1 }),
  block: fc.boolean(),
  index: fc.integer({ min: 0, max: 511 }),
  prot,
});

describe('IPMMU translation agrees with the P2M builder (property)', () => {
  it('for any sequence of maps, unmaps and permission changes, each followed by the drivers\u2019 flush', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 24 }), fc.integer({ min: 0, max: 7 }), (ops, utlb) => {
        const b = new Bench();
        const t = b.table();
        b.programContext(1, t);
        b.enableUtlb(b.cache0, utlb, 1);
        b.enableUtlb(b.cache1, utlb + 8, 1);
        const leaves: Leaf[] = [];
        let nextOut = Number(0x4800_0000n >> 12n);
        for (const o of ops) {
          const slot = SLOT_BASES[o.slot];
          const page = o.block ? slot : slot + o.index;
          const pages = o.block ? 512 : 1;
          const overlapping = leaves.filter((l) => l.page < page + pages && page < l.page + l.pages);
          if (o.kind === 'map' && overlapping.length === 0) {
            const out = o.block ? Math.ceil(nextOut / 512) * 512 : nextOut;
            nextOut = out + pages;
            b.map(t, BigInt(page) << 12n, BigInt(out) << 12n, { pageLog2: o.block ? 21 : 12, prot: o.prot });
            leaves.push({ page, pages, out, prot: o.prot });
          } else if (o.kind !== 'map' && overlapping.length === 1 && overlapping[0].page === page && overlapping[0].pages === pages) {
            const leaf = overlapping[0];
            expect(b.unmap(t, BigInt(page) << 12n, o.block ? 21 : 12)).toBe(pages * 4096);
            leaves.splice(leaves.indexOf(leaf), 1);
            if (o.kind === 'protect') {
              b.map(t, BigInt(page) << 12n, BigInt(leaf.out) << 12n, { pageLog2: o.block ? 21 : 12, prot: o.prot });
              leaves.push({ ...leaf, prot: o.prot });
            }
          } else {
            continue;
          }
          b.flush(1, b.cache0, b.cache1, b.root);
          // Check a few pages of every slot after each step, through alternating cache IPMMUs.
          for (const base of SLOT_BASES) {
            for (const probe of [0, 1, o.index, 511]) {
              const p = base + probe;
              const leaf = leaves.find((l) => l.page <= p && p < l.page + l.pages);
              for (const [ipmmu, u] of [[b.cache0, utlb], [b.cache1, utlb + 8]] as const) {
                for (const write of [false, true]) {
                  const r = b.translate(ipmmu, u, (BigInt(p) << 12n) + 0x18n, write);
                  if (leaf === undefined) {
                    expect(r).toMatchObject({ outcome: 'fault', fault: Imstr.TF });
                  } else if ((leaf.prot & (write ? Prot.WRITE : Prot.READ)) === 0) {
                    expect(r).toMatchObject({ outcome: 'fault', fault: Imstr.PF });
                  } else {
                    expect(r.address).toBe((BigInt(leaf.out + (p - leaf.page)) << 12n) + 0x18n);
                  }
                  b.setCtx(b.root, 1, 0x20, 0); // clear IMSTR so each fault is recorded afresh
                }
              }
            }
          }
        }
        // No fault was ever a multiple hit: every change was flushed.
        expect(b.root.statistics().faults.multipleHits).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('for the stage-1 format over a 32-bit input (Linux on Gen3), pages and 2 MiB blocks', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ page: fc.integer({ min: 0, max: 0xfffff }), block: fc.boolean(), prot }), { selector: (r) => r.page >> 9, maxLength: 12 }), (maps) => {
        const b = new Bench();
        const t = b.table('ARM_64_LPAE_S1');
        b.programContext(0, t);
        b.enableUtlb(b.cache0, 0, 0);
        let out = Number(0x4800_0000n >> 12n);
        const leaves: Leaf[] = [];
        for (const m of maps) {
          const pages = m.block ? 512 : 1;
          const page = m.block ? m.page - (m.page % 512) : m.page;
          out = Math.ceil(out / 512) * 512;
          b.map(t, BigInt(page) << 12n, BigInt(out) << 12n, { pageLog2: m.block ? 21 : 12, prot: m.prot });
          leaves.push({ page, pages, out, prot: m.prot });
          out += pages;
        }
        for (const l of leaves) {
          for (const p of [l.page, l.page + l.pages - 1]) {
            const read = b.translate(b.cache0, 0, BigInt(p) << 12n);
            // Stage-1 AP always grants read (Arm ARM Table D8-63): a WRITE-only leaf is read/write.
            expect(read.address).toBe(BigInt(l.out + (p - l.page)) << 12n);
            const write = b.translate(b.cache0, 0, BigInt(p) << 12n, true);
            if ((l.prot & Prot.WRITE) !== 0) expect(write.address).toBe(BigInt(l.out + (p - l.page)) << 12n);
            else expect(write).toMatchObject({ outcome: 'fault', fault: Imstr.PF });
            b.setCtx(b.root, 0, 0x20, 0);
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
