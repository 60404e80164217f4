// The driver's invalidation planning, on its own (IHI 0070 4.4.1.1 range invalidation, 4.5.1
// CMD_ATC_INV), checked against what the commands mean rather than how they are built: range
// commands tile exactly the requested granules (one more when NUM = SCALE = 0 would need a
// level hint it cannot have), per-leaf commands step by the leaf, the whole-ASID fallback kicks
// in at CMDQ_MAX_TLBI_OPS, and an ATC span is the smallest aligned power of two holding the range.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCommand, type CommandWords } from '../../../../src/formats/smmuv3/commands.js';
import { atcInvCommand, CMDQ_MAX_TLBI_OPS, tlbiRangeCommands, type TlbiRangeRequest } from '../../../../src/os/drivers/arm-smmu-v3/index.js';

const base: TlbiRangeRequest = { stage: 1, asid: 7, vmid: 0, startPage: 0, endPage: 1, leaf: true, leafLog2: 12, granuleLog2: 12, ril: true };

function fields(cmds: CommandWords[]) {
  return cmds.map((c) => decodeCommand(c));
}

describe('SMMUv3 driver: TLB range commands (4.4.1.1)', () => {
  it('tiles the range exactly with (NUM + 1) * 2^SCALE granules per command', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 1, max: 5000 }), fc.constantFrom(12, 14, 16), fc.boolean(), fc.constantFrom(1, 2), (start, length, granule, leaf, stage) => {
        const step = 2 ** (granule - 12);
        const startPage = start * step;
        const endPage = (start + length) * step;
        const leafLog2 = leaf ? granule : null;
        const cmds = fields(tlbiRangeCommands({ ...base, stage, startPage, endPage, leaf, leafLog2, granuleLog2: granule, vmid: 3 }));
        let at = startPage;
        for (const c of cmds) {
          expect(c.name).toBe(stage === 1 ? 'CMD_TLBI_NH_VA' : 'CMD_TLBI_S2_IPA');
          const f = c.fields;
          expect(f.TG).toBe(BigInt((granule - 10) / 2));
          expect(Number(f.Addr)).toBe(at);
          expect(f.Leaf).toBe(leaf ? 1n : 0n);
          expect(f.TTL).toBe(leaf ? 3n : 0n);
          // Never a single granule without a level hint.
          expect(f.NUM === 0n && f.SCALE === 0n && f.TTL === 0n).toBe(false);
          if (stage === 1) expect(f.ASID).toBe(7n);
          else expect(f.VMID).toBe(3n);
          at += (Number(f.NUM) + 1) * 2 ** Number(f.SCALE) * step;
        }
        const extra = !leaf && length % 32 === 1 ? step : 0;
        expect(at).toBe(endPage + extra);
        // At most one command per set bit of the 5-bit groups of the length.
        expect(cmds.length).toBeLessThanOrEqual(Math.ceil(Math.log2(length + 2) / 5) + 1);
      }),
      { numRuns: 300 },
    );
  });

  it('gives blocks their level (TTL 2 for 2 MiB, 1 for 1 GiB with 4 KiB granules) and drops it for mixed sizes', () => {
    const two = fields(tlbiRangeCommands({ ...base, startPage: 512, endPage: 1024, leafLog2: 21 }));
    expect(two.map((c) => [c.fields.TTL, c.fields.NUM, c.fields.SCALE])).toEqual([[2n, 0n, 9n]]);
    const gig = fields(tlbiRangeCommands({ ...base, startPage: 1 << 18, endPage: 2 << 18, leafLog2: 30 }));
    expect(gig.map((c) => [c.fields.TTL, c.fields.NUM, c.fields.SCALE])).toEqual([[1n, 0n, 18n]]);
    const mixed = fields(tlbiRangeCommands({ ...base, startPage: 0, endPage: 513, leafLog2: null }));
    expect(mixed.every((c) => c.fields.TTL === 0n)).toBe(true);
  });

  it('without RIL: one command per leaf, the ASID or VMID from CMDQ_MAX_TLBI_OPS commands on', () => {
    const pages = fields(tlbiRangeCommands({ ...base, ril: false, startPage: 16, endPage: 19 }));
    expect(pages.map((c) => [c.name, c.fields.Addr, c.fields.TG, c.fields.Leaf])).toEqual([
      ['CMD_TLBI_NH_VA', 16n, 0n, 1n],
      ['CMD_TLBI_NH_VA', 17n, 0n, 1n],
      ['CMD_TLBI_NH_VA', 18n, 0n, 1n],
    ]);
    const blocks = fields(tlbiRangeCommands({ ...base, ril: false, startPage: 0, endPage: 2048, leafLog2: 21 }));
    expect(blocks.map((c) => c.fields.Addr)).toEqual([0n, 512n, 1024n, 1536n]);
    expect(tlbiRangeCommands({ ...base, ril: false, startPage: 0, endPage: CMDQ_MAX_TLBI_OPS - 1 })).toHaveLength(CMDQ_MAX_TLBI_OPS - 1);
    const asid = fields(tlbiRangeCommands({ ...base, ril: false, startPage: 0, endPage: CMDQ_MAX_TLBI_OPS }));
    expect(asid.map((c) => [c.name, c.fields.ASID])).toEqual([['CMD_TLBI_NH_ASID', 7n]]);
    const vmid = fields(tlbiRangeCommands({ ...base, stage: 2, vmid: 9, ril: false, startPage: 0, endPage: CMDQ_MAX_TLBI_OPS, leaf: false, leafLog2: null }));
    expect(vmid.map((c) => [c.name, c.fields.VMID])).toEqual([['CMD_TLBI_S12_VMALL', 9n]]);
    expect(tlbiRangeCommands({ ...base, startPage: 5, endPage: 5 })).toEqual([]);
  });
});

describe('SMMUv3 driver: ATC invalidation spans (4.5.1)', () => {
  it('covers the range with the smallest naturally aligned power-of-two span', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 36 }), fc.integer({ min: 1, max: 2 ** 20 }), fc.integer({ min: 0, max: 0xffff }), (start, length, sid) => {
        const f = decodeCommand(atcInvCommand(sid, start, start + length)).fields;
        const size = Number(f.Size);
        const first = Number(f.Addr);
        expect(f.StreamID).toBe(BigInt(sid));
        expect(f.SSV).toBe(0n);
        expect(first % 2 ** size).toBe(0);
        expect(first).toBeLessThanOrEqual(start);
        expect(first + 2 ** size).toBeGreaterThanOrEqual(start + length);
        // One size smaller, no aligned span holds the range.
        if (size > 0) expect(Math.floor(start / 2 ** (size - 1))).not.toBe(Math.floor((start + length - 1) / 2 ** (size - 1)));
      }),
      { numRuns: 300 },
    );
    expect(decodeCommand(atcInvCommand(3, 0, 0)).fields).toMatchObject({ Addr: 0n, Size: 52n });
  });
});
