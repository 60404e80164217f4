// The STE/CD update procedure on its own (IHI 0070 3.21.3, Linux arm_smmu_write_entry): whatever
// the old and new entries, the SMMU — which may read the entry between any two synchronised
// steps, 64 bits at a time — sees either an invalid entry, or one whose used bits are exactly
// the old entry's or exactly the new one's; never a mix. And an update that changes a single
// used doubleword never takes V through 0 (it is hitless).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { S1Dss, S1Fmt } from '../../../../src/formats/smmuv3/structures.js';
import { abortSte, bypassSte, cdTableSte, cdUsed, clearCd, s1Cd, s2Ste, steUsed, writeEntry, type EntryUpdate } from '../../../../src/os/drivers/arm-smmu-v3/index.js';
import type { ArmLpaeTranslationControl } from '../../../../src/os/io-pgtable/arm-lpae.js';

const control = (t0sz: number): ArmLpaeTranslationControl => ({ t0sz, tg0: 0, ps: 5, sl0: 1, sh0: 3, irgn0: 1, orgn0: 1, mair: 0x0404ff44n });

const steArb = fc.oneof(
  fc.constant(abortSte()),
  fc.boolean().map((attrTypesOverride) => bypassSte({ attrTypesOverride })),
  fc
    .record({ table: fc.integer({ min: 1, max: 1 << 20 }), cdmax: fc.constantFrom(0, 4, 16), dss: fc.constantFrom(S1Dss.Terminate, S1Dss.Bypass, S1Dss.Substream0), ats: fc.boolean() })
    .map((o) => cdTableSte({ attrTypesOverride: true, cdTable: BigInt(o.table) << 12n, s1fmt: o.cdmax > 10 ? S1Fmt.TwoLevel64K : S1Fmt.Linear, s1cdmax: o.cdmax, s1dss: o.dss, ats: o.ats, disableStalls: false })),
  fc
    .record({ vmid: fc.integer({ min: 1, max: 0xffff }), root: fc.integer({ min: 1, max: 1 << 20 }), t0sz: fc.constantFrom(16, 24), ats: fc.boolean() })
    .map((o) => s2Ste({ attrTypesOverride: false, vmid: o.vmid, root: BigInt(o.root) << 12n, control: control(o.t0sz), bigEndian: false, ats: o.ats, stall: false })),
);

const cdArb = fc.oneof(
  fc.constant(clearCd()),
  fc.record({ asid: fc.integer({ min: 1, max: 0xffff }), root: fc.integer({ min: 1, max: 1 << 20 }), t0sz: fc.constantFrom(16, 25) }).map((o) => s1Cd({ asid: o.asid, root: BigInt(o.root) << 12n, control: control(o.t0sz), bigEndian: false, stall: false })),
);

/** Runs an update in a fake memory, returning the entry as the SMMU could see it at each sync. */
function update(old: bigint[], target: bigint[], used: (e: readonly bigint[]) => bigint[]): { seen: bigint[][]; kind: EntryUpdate; final: bigint[] } {
  const memory = [...old];
  const seen: bigint[][] = [];
  const kind = writeEntry({ read: () => [...memory], write: (i, v) => (memory[i] = v), used, sync: () => seen.push([...memory]) }, target);
  return { seen, kind, final: memory };
}

function sameUsed(a: readonly bigint[], b: readonly bigint[], used: (e: readonly bigint[]) => bigint[]): boolean {
  const ua = used(a);
  const ub = used(b);
  return a.every((_, i) => ua[i] === ub[i] && (a[i] & ua[i]) === (b[i] & ub[i]));
}

function checkNoTornEntry(old: bigint[], target: bigint[], used: (e: readonly bigint[]) => bigint[], validBit: bigint): void {
  const { seen, kind, final } = update(old, target, used);
  expect(final).toEqual(target);
  for (const view of seen) {
    const invalid = (view[0] & validBit) === 0n;
    expect(invalid || sameUsed(view, old, used) || sameUsed(view, target, used)).toBe(true);
  }
  if (kind === 'hitless' && (old[0] & validBit) !== 0n && (target[0] & validBit) !== 0n) expect(seen.every((v) => (v[0] & validBit) !== 0n)).toBe(true);
  if (kind === 'unchanged') expect(seen.length).toBeLessThanOrEqual(1);
}

describe('SMMUv3 driver: entry updates (3.21.3)', () => {
  it('never shows the SMMU a torn STE', () => {
    fc.assert(
      fc.property(steArb, steArb, (a, b) => checkNoTornEntry(a, b, steUsed, 1n)),
      { numRuns: 400 },
    );
  });

  it('never shows the SMMU a torn CD', () => {
    fc.assert(
      fc.property(cdArb, cdArb, (a, b) => checkNoTornEntry(a, b, cdUsed, 1n << 31n)),
      { numRuns: 300 },
    );
  });

  it('updates EATS alone without disturbing the stream, and a stage change by breaking the STE', () => {
    const s1 = (ats: boolean) => cdTableSte({ attrTypesOverride: false, cdTable: 0x8000_0000n, s1fmt: 0, s1cdmax: 0, s1dss: S1Dss.Substream0, ats, disableStalls: false });
    const eats = update(s1(false), s1(true), steUsed);
    expect(eats.kind).toBe('hitless');
    expect(eats.seen).toHaveLength(1);
    const s2 = s2Ste({ attrTypesOverride: false, vmid: 2, root: 0x9000_0000n, control: control(16), bigEndian: false, ats: false, stall: false });
    const change = update(s1(false), s2, steUsed);
    expect(change.kind).toBe('breaking');
    expect(change.seen.map((v) => v[0] & 1n)).toEqual([0n, 0n, 1n]);
    expect(update(s2, s2, steUsed)).toMatchObject({ kind: 'unchanged', seen: [] });
  });
});
