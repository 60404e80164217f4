// Property: for random sets of 4 KiB mappings and random probes, the model's stage 1 and
// nested translations agree with a reference map, including after invalidations that must make
// changed mappings visible (IHI 0070 3.3, 4.4).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cmdSync, cmdTlbiNhVa } from '../../../src/formats/smmuv3/commands.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, identityTables } from './bench.js';

const page = fc.integer({ min: 1, max: 0xf_ffff }).map((p) => BigInt(p) << 12n);

describe('translations agree with a reference map', () => {
  it('stage 1', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(page, page), { minLength: 1, maxLength: 12, selector: ([va]) => va }), fc.array(page, { maxLength: 8 }), (mappings, probes) => {
        const b = new Bench().init();
        const { pt } = b.stage1Stream(1);
        const ref = new Map<bigint, bigint>();
        for (const [va, pa] of mappings) {
          pt.map(va, pa, { nG: 1 });
          ref.set(va, pa);
        }
        for (const va of [...mappings.map(([v]) => v), ...probes]) {
          const r = b.translate({ sid: 1, address: va + 0x18n });
          const want = ref.get(va);
          if (want === undefined) expect(r.outcome).toBe(Outcome.Abort);
          else expect(r.address(0x18)).toBe(want + 0x18n);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('remapping followed by CMD_TLBI_NH_VA and CMD_SYNC is seen; without it the old translation may stay', () => {
    fc.assert(
      fc.property(fc.tuple(page, page, page), ([va, pa1, pa2]) => {
        const b = new Bench().init();
        const { pt } = b.stage1Stream(1, { ste: { S2VMID: 3 } });
        pt.map(va, pa1, { nG: 1 });
        expect(b.translate({ sid: 1, address: va }).address(0)).toBe(pa1);
        pt.map(va, pa2, { nG: 1 });
        expect(b.translate({ sid: 1, address: va }).address(0)).toBe(pa1); // cached
        b.submit(cmdTlbiNhVa(3, 1, va, { leaf: true }), cmdSync());
        expect(b.translate({ sid: 1, address: va }).address(0)).toBe(pa2);
      }),
      { numRuns: 30 },
    );
  });

  it('nested: VA -> IPA -> PA composes the two maps', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(page, fc.integer({ min: 0x100, max: 0xfff })), { minLength: 1, maxLength: 6, selector: ([va]) => va }), (mappings) => {
        const b = new Bench().init();
        const n = b.nestedStream(1, 2);
        const ipaOf = (i: number) => 0x8000_0000n + (BigInt(i) << 12n);
        for (const [va, i] of mappings) {
          n.s1.map(va, ipaOf(i), { nG: 1 });
          identityTables(n.s1, n.s2, va);
          n.s2.map(ipaOf(i), 0x1_0000_0000n + (BigInt(i) << 12n));
        }
        for (const [va, i] of mappings) expect(b.translate({ sid: 1, address: va }).address(0)).toBe(0x1_0000_0000n + (BigInt(i) << 12n));
      }),
      { numRuns: 25 },
    );
  });
});
