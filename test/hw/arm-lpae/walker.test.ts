// The VMSAv8-64 walker on hand-built tables (Arm ARM D8.2 translation process, D8.3 descriptor
// formats, D8.4 permissions, D8.5 hardware updates, D8.15.4 fault checking): each granule's
// pages and blocks, every fault at its level, stage-2 concatenated tables, big-endian
// descriptors, hierarchical permissions, FEAT_LPA 52-bit addresses.

import { describe, expect, it } from 'vitest';
import type { Encodable } from '../../../src/formats/bitfield.js';
import {
  Ap,
  initialLevel,
  leafDescriptor,
  levelShift,
  nextTableAddress,
  Perm,
  S2Ap,
  Stage1LeafLayout,
  Stage1TableLayout,
  Stage2LeafLayout,
  tableDescriptor,
  type GranuleLog2,
} from '../../../src/formats/arm-lpae/index.js';
import { PhysicalDescriptorMemory, VmsaFault, VmsaWalker, type DescriptorMemory, type VmsaWalkConfig } from '../../../src/hw/arm-lpae/index.js';
import { halves, Tables } from './tables.js';

function s1(g: GranuleLog2, inputBits: number, over: Partial<VmsaWalkConfig> = {}): VmsaWalkConfig {
  return {
    stage: 1,
    granuleLog2: g,
    inputBits,
    startLevel: initialLevel(g, inputBits),
    concatenated: 1,
    outputBits: 48,
    bigEndian: false,
    hardwareAccessFlag: false,
    hardwareDirty: false,
    hierarchicalPermissionsDisabled: false,
    ...over,
  };
}

function s2(g: GranuleLog2, inputBits: number, startLevel: number, over: Partial<VmsaWalkConfig> = {}): VmsaWalkConfig {
  const extra = inputBits - levelShift(g, startLevel) - (g - 3);
  return { ...s1(g, inputBits), stage: 2, startLevel, concatenated: extra > 0 ? 2 ** extra : 1, ...over };
}

const RW = { AP: Ap.ReadWrite, AF: 1, SH: 3 } as const;

/** Table descriptors from the start level down to `leafLevel`, then the leaf; returns each level's descriptor address. */
function chain(t: Tables, root: bigint, ia: bigint, leafLevel: number, leaf: bigint, tableAttrs: Encodable<typeof Stage1TableLayout>[] = []): bigint[] {
  const c = t.config;
  const lpa = c.largePhysicalAddresses === true;
  const slots: bigint[] = [];
  let table = root;
  for (let level = c.startLevel; level < leafLevel; level++) {
    const slot = t.slot(table, ia, level);
    slots.push(slot);
    const existing = t.get(slot);
    if ((existing & 3n) === 3n) {
      table = nextTableAddress(existing, c.granuleLog2, lpa);
    } else {
      table = t.alloc();
      t.set(slot, tableDescriptor(table, c.granuleLog2, lpa, tableAttrs[level - c.startLevel] ?? {}));
    }
  }
  const slot = t.slot(table, ia, leafLevel);
  t.set(slot, leaf);
  slots.push(slot);
  return slots;
}

function leaf1(t: Tables, level: number, oa: bigint, attrs: Encodable<typeof Stage1LeafLayout> = RW): bigint {
  return leafDescriptor(1, t.config.granuleLog2, level, oa, t.config.largePhysicalAddresses === true, attrs);
}

function leaf2(t: Tables, level: number, oa: bigint, attrs: Encodable<typeof Stage2LeafLayout>): bigint {
  return leafDescriptor(2, t.config.granuleLog2, level, oa, t.config.largePhysicalAddresses === true, attrs);
}

interface Walked {
  w: VmsaWalker;
  fault: number;
  address: bigint;
}

function walk(t: Tables, root: bigint, ia: bigint, o: { write?: boolean; privileged?: boolean; memory?: DescriptorMemory } = {}): Walked {
  const w = new VmsaWalker();
  const [hi, lo] = halves(root);
  const fault = w.walk(t.config, o.memory ?? new PhysicalDescriptorMemory(t.memory), hi, lo, Number(ia >> 12n), o.write ?? false, o.privileged ?? true);
  return { w, fault, address: (BigInt(w.descriptorAddressHi) << 32n) | BigInt(w.descriptorAddressLo) };
}

describe('successful walks (D8.2.8-D8.2.10)', () => {
  it('walks a 4 KiB page through four levels, decoding its attributes', () => {
    const t = new Tables(s1(12, 48));
    const root = t.allocRoot();
    const ia = 0x7f12_3456_7abcn;
    const slots = chain(t, root, ia, 3, leaf1(t, 3, 0x1_2345_6000n, { AttrIndx: 1, AP: Ap.ReadWrite, SH: 3, AF: 1, nG: 1 }));
    const { w, fault, address } = walk(t, root, ia);
    expect(fault).toBe(VmsaFault.None);
    expect(w.outputPage).toBe(0x123456);
    expect([w.leafLevel, w.leafLog2, w.faultLevel, w.descriptorReads]).toEqual([3, 12, 3, 4]);
    expect(address).toBe(slots[3]);
    expect([w.attrIndex, w.shareability, w.notGlobal, w.contiguous]).toEqual([1, 3, true, false]);
    // AP 01: read/write at both privileges; unprivileged write removes privileged execute (R VWLLR).
    expect(w.permissions).toBe(Perm.PrivRead | Perm.PrivWrite | Perm.UnprivRead | Perm.UnprivWrite | Perm.UnprivExec);
    expect(w.permits(false, true, true, false)).toBe(true);
    expect(w.permits(true, false, false, true)).toBe(false);
  });

  // [granule, input bits, leaf level, FEAT_LPA]
  const leaves: [GranuleLog2, number, number, boolean][] = [
    [12, 48, 1, false],
    [12, 48, 2, false],
    [12, 39, 3, false],
    [14, 48, 2, false],
    [14, 47, 3, false],
    [16, 48, 2, false],
    [16, 42, 3, false],
    [16, 48, 1, true],
  ];
  for (const [g, bits, level, lpa] of leaves) {
    it(`maps a ${level === 3 ? 'page' : 'block'} at level ${level} of granule 2^${g} (2^${levelShift(g, level)} bytes)`, () => {
      const t = new Tables(s1(g, bits, { largePhysicalAddresses: lpa }));
      const root = t.allocRoot();
      const size = 1n << BigInt(levelShift(g, level));
      const ia = 3n * size + (size >> 1n) + 0x1234n; // the middle of the fourth leaf
      const oa = 5n * size;
      chain(t, root, ia & ((1n << BigInt(bits)) - 1n), level, leaf1(t, level, oa));
      const { w, fault } = walk(t, root, ia & ((1n << BigInt(bits)) - 1n));
      expect(fault).toBe(VmsaFault.None);
      expect([w.leafLevel, w.leafLog2]).toEqual([level, levelShift(g, level)]);
      expect(BigInt(w.outputPage)).toBe((oa + (ia & (size - 1n))) >> 12n);
      expect(w.descriptorReads).toBe(level - t.config.startLevel + 1);
    });
  }

  it('keeps the input offset inside 16 KiB and 64 KiB pages in the output page number', () => {
    for (const g of [14, 16] as const) {
      const t = new Tables(s1(g, 40));
      const root = t.allocRoot();
      const ia = 0x12_3456_7000n + 0x1000n * BigInt(2 ** (g - 12) - 1); // last 4 KiB of its page
      chain(t, root, ia, 3, leaf1(t, 3, 0x9_0000_0000n));
      const { w } = walk(t, root, ia);
      expect(BigInt(w.outputPage)).toBe((0x9_0000_0000n + (ia & ((1n << BigInt(g)) - 1n))) >> 12n);
    }
  });

  it('ignores table base bits below the initial table size (the table is aligned to it)', () => {
    const t = new Tables(s1(12, 39));
    const root = t.allocRoot();
    chain(t, root, 0x4000_0000n, 3, leaf1(t, 3, 0x7000n));
    const w = new VmsaWalker();
    const [hi, lo] = halves(root + 0x7f8n);
    expect(w.walk(t.config, new PhysicalDescriptorMemory(t.memory), hi, lo, 0x40000, false)).toBe(VmsaFault.None);
    expect(w.outputPage).toBe(7);
  });

  it('decodes the Contiguous bit without letting it change the translation (D8.7.1)', () => {
    const t = new Tables(s1(12, 39));
    const root = t.allocRoot();
    chain(t, root, 0x5000n, 3, leaf1(t, 3, 0x6000n, { ...RW, Contiguous: 1 }));
    const { w } = walk(t, root, 0x5000n);
    expect([w.contiguous, w.outputPage]).toEqual([true, 6]);
  });
});

describe('Translation faults (D8.15.1.1, Table D8-48)', () => {
  it('stops at the level of an invalid descriptor, with its address', () => {
    for (let level = 0; level <= 3; level++) {
      const t = new Tables(s1(12, 48));
      const root = t.allocRoot();
      const ia = 0x1234_5678_9000n;
      const slots = chain(t, root, ia, 3, leaf1(t, 3, 0x1000n));
      t.set(slots[level], 0x0fff_ffff_ffff_fffen); // bit 0 clear: invalid, whatever the rest holds
      const { w, fault, address } = walk(t, root, ia);
      expect([fault, w.faultLevel]).toEqual([VmsaFault.Translation, level]);
      expect(address).toBe(slots[level]);
    }
  });

  it('treats blocks where the granule has none, and 0b01 at level 3, as invalid', () => {
    const cases: [GranuleLog2, number, number][] = [
      [12, 48, 0],
      [14, 47, 1],
      [16, 48, 1],
    ];
    for (const [g, bits, level] of cases) {
      const t = new Tables(s1(g, bits));
      const root = t.allocRoot();
      const slots = chain(t, root, 0n, level, 1n | (1n << 10n)); // a block-shaped descriptor
      const { w, fault, address } = walk(t, root, 0n);
      expect([fault, w.faultLevel, address]).toEqual([VmsaFault.Translation, level, slots[slots.length - 1]]);
    }
    const t = new Tables(s1(12, 39));
    const root = t.allocRoot();
    chain(t, root, 0x3000n, 3, leaf1(t, 3, 0x3000n) & ~2n);
    expect(walk(t, root, 0x3000n).w.faultLevel).toBe(3);
    expect(walk(t, root, 0x3000n).fault).toBe(VmsaFault.Translation);
  });

  it('faults an input beyond the configured size at level 0, whatever the start level (D8.1.9)', () => {
    const t = new Tables(s1(12, 39)); // starts at level 1
    const root = t.allocRoot();
    chain(t, root, 0n, 3, leaf1(t, 3, 0n));
    const { w, fault, address } = walk(t, root, 1n << 39n);
    expect([fault, w.faultLevel, w.descriptorReads, address]).toEqual([VmsaFault.Translation, 0, 0, root]);
  });

  it('faults a configuration it cannot walk at level 0 (AArch64.S2InconsistentSL)', () => {
    const t = new Tables(s2(12, 40, 1));
    const root = t.allocRoot();
    for (const bad of [{ concatenated: 1 }, { startLevel: 2, concatenated: 1 }, { startLevel: 0 }, { startLevel: -1 }]) {
      const w = new VmsaWalker();
      const [hi, lo] = halves(root);
      expect(w.walk({ ...t.config, ...bad }, new PhysicalDescriptorMemory(t.memory), hi, lo, 0, false)).toBe(VmsaFault.Translation);
      expect([w.faultLevel, w.descriptorReads]).toEqual([0, 0]);
    }
  });
});

describe('Address size faults (D8.1.7, D8.2.3, D8.15.4 step 6)', () => {
  it('checks the table base, next-level table addresses and output addresses against the output size', () => {
    const t = new Tables(s1(12, 39, { outputBits: 40 }));
    const root = t.allocRoot();
    const ia = 0x12_3456_7000n;
    // The table base beyond 40 bits: level 0, before any read.
    const far = walk(t, 1n << 40n, ia);
    expect([far.fault, far.w.faultLevel, far.w.descriptorReads]).toEqual([VmsaFault.AddressSize, 0, 0]);
    // A next-level table beyond 40 bits, at the level of the Table descriptor.
    const slots = chain(t, root, ia, 3, leaf1(t, 3, 0xff_ffff_f000n));
    const level2Table = nextTableAddress(t.get(slots[0]), 12, false);
    t.set(slots[0], tableDescriptor(level2Table | (1n << 41n), 12, false));
    const table = walk(t, root, ia);
    expect([table.fault, table.w.faultLevel, table.address]).toEqual([VmsaFault.AddressSize, 1, slots[0]]);
    t.set(slots[0], tableDescriptor(level2Table, 12, false));
    // The output address just fits; one bit more faults at the leaf's level.
    expect(walk(t, root, ia).w.outputPage).toBe(0xfff_ffff);
    t.set(slots[2], leaf1(t, 3, 1n << 40n));
    const out = walk(t, root, ia);
    expect([out.fault, out.w.faultLevel, out.address]).toEqual([VmsaFault.AddressSize, 3, slots[2]]);
  });
});

describe('FEAT_LPA 52-bit addresses with the 64 KiB granule (D8.2.10, Figure D8-12)', () => {
  it('walks 52-bit inputs from level 1 through tables and to outputs above 2^48', () => {
    const t = new Tables(s1(16, 52, { outputBits: 52, largePhysicalAddresses: true }));
    const root = t.allocRoot(); // 1024 entries at level 1
    const ia = 0xf_1234_5678_9abcn;
    const oa = 0xa_bcde_f012_0000n;
    // Put the level-2 and level-3 tables above 2^48 too.
    const high = 0x3_0000_0000_0000n;
    const l2 = high;
    const l3 = high + 0x10000n;
    t.set(t.slot(root, ia, 1), tableDescriptor(l2, 16, true));
    t.set(t.slot(l2, ia, 2), tableDescriptor(l3, 16, true));
    t.set(t.slot(l3, ia, 3), leaf1(t, 3, oa));
    const { w, fault } = walk(t, root, ia);
    expect(fault).toBe(VmsaFault.None);
    expect(BigInt(w.outputPage)).toBe((oa + (ia & 0xffffn)) >> 12n);
    expect(w.descriptorReads).toBe(3);
    // With a 48-bit output size the same tables fault at level 1 (the level-2 table is beyond it).
    const narrow = new Tables({ ...t.config, outputBits: 48 });
    const r = new VmsaWalker();
    const [hi, lo] = halves(root);
    expect(r.walk(narrow.config, new PhysicalDescriptorMemory(t.memory), hi, lo, Number(ia >> 12n), false)).toBe(VmsaFault.AddressSize);
    expect(r.faultLevel).toBe(1);
  });

  it('ignores bits [15:12] without FEAT_LPA (RES0)', () => {
    const t = new Tables(s1(16, 48));
    const root = t.allocRoot();
    chain(t, root, 0x20000n, 3, leaf1(t, 3, 0x50000n) | (0xfn << 12n));
    const { w, fault } = walk(t, root, 0x20000n);
    expect([fault, w.outputPage]).toEqual([VmsaFault.None, 0x50]);
  });
});

describe('the Access flag (D8.5.1)', () => {
  it('faults AF = 0 at the leaf level without hardware management, leaving memory alone', () => {
    const t = new Tables(s1(12, 39));
    const root = t.allocRoot();
    const slots = chain(t, root, 0x8000n, 3, leaf1(t, 3, 0x9000n, { AP: Ap.ReadWrite }));
    const before = t.get(slots[2]);
    const { w, fault } = walk(t, root, 0x8000n);
    expect([fault, w.faultLevel, w.descriptorUpdates]).toEqual([VmsaFault.AccessFlag, 3, 0]);
    expect(t.get(slots[2])).toBe(before);
  });

  it('sets AF by compare-and-swap with HA, once', () => {
    const t = new Tables(s1(12, 39, { hardwareAccessFlag: true }));
    const root = t.allocRoot();
    const slots = chain(t, root, 0x8000n, 3, leaf1(t, 3, 0x9000n, { AP: Ap.ReadWrite }));
    const first = walk(t, root, 0x8000n);
    expect([first.fault, first.w.accessFlagUpdated, first.w.descriptorUpdates]).toEqual([VmsaFault.None, true, 1]);
    expect((t.get(slots[2]) >> 10n) & 1n).toBe(1n);
    expect(first.w.leafLo & 0x400).toBe(0x400);
    const second = walk(t, root, 0x8000n);
    expect([second.w.accessFlagUpdated, second.w.descriptorUpdates]).toEqual([false, 0]);
  });
});

describe('dirty state (D8.5.2)', () => {
  const hd = { hardwareAccessFlag: true, hardwareDirty: true };

  it('makes a stage-1 writable-clean leaf writable-dirty on a write, and only on a write', () => {
    const t = new Tables(s1(12, 39, hd));
    const root = t.allocRoot();
    const slots = chain(t, root, 0xa000n, 3, leaf1(t, 3, 0xb000n, { AP: Ap.ReadOnly, DBM: 1 })); // AF = 0 too
    const read = walk(t, root, 0xa000n);
    expect([read.w.writableClean, read.w.dirtyStateUpdated, read.w.permits(false, false, true, false)]).toEqual([true, false, false]);
    expect((t.get(slots[2]) >> 6n) & 3n).toBe(BigInt(Ap.ReadOnly));
    const write = walk(t, root, 0xa000n, { write: true, privileged: false });
    expect([write.w.writableClean, write.w.dirtyStateUpdated, write.w.permits(false, true, true, false)]).toEqual([false, true, true]);
    expect((t.get(slots[2]) >> 6n) & 3n).toBe(BigInt(Ap.ReadWrite)); // AP[2] cleared
    expect(write.w.descriptorUpdates).toBe(1); // AF and AP[2] in one update (R PRHKD)
  });

  it('updates only when the write would then be permitted (R NSXRD)', () => {
    const cases: { ap: number; apTable: number; privileged: boolean; updated: boolean }[] = [
      { ap: Ap.PrivReadOnly, apTable: 0, privileged: false, updated: false }, // EL0 has no access at all
      { ap: Ap.PrivReadOnly, apTable: 0, privileged: true, updated: true },
      { ap: Ap.ReadOnly, apTable: 2, privileged: true, updated: false }, // APTable forbids writes
      { ap: Ap.ReadOnly, apTable: 1, privileged: false, updated: false }, // APTable removes EL0 access
    ];
    for (const c of cases) {
      const t = new Tables(s1(12, 39, hd));
      const root = t.allocRoot();
      const slots = chain(t, root, 0xa000n, 3, leaf1(t, 3, 0xb000n, { AP: c.ap, AF: 1, DBM: 1 }), [{ APTable: c.apTable }]);
      const { w } = walk(t, root, 0xa000n, { write: true, privileged: c.privileged });
      expect(w.dirtyStateUpdated, JSON.stringify(c)).toBe(c.updated);
      expect(((t.get(slots[2]) >> 7n) & 1n) === 0n).toBe(c.updated);
    }
  });

  it('leaves DBM alone without HD: a write to a read-only leaf is the caller’s permission fault', () => {
    const t = new Tables(s1(12, 39, { hardwareAccessFlag: true }));
    const root = t.allocRoot();
    chain(t, root, 0xa000n, 3, leaf1(t, 3, 0xb000n, { AP: Ap.ReadOnly, AF: 1, DBM: 1 }));
    const { w } = walk(t, root, 0xa000n, { write: true });
    expect([w.writableClean, w.dirtyStateUpdated, w.descriptorUpdates, w.permits(true, false, true, false)]).toEqual([false, false, 0, false]);
    expect(w.dirtyBitModifier).toBe(true);
  });

  it('sets S2AP[1] on a stage-2 writable-clean leaf', () => {
    const t = new Tables(s2(12, 40, 1, hd));
    const root = t.allocRoot();
    const slots = chain(t, root, 0x80_0000_0000n - 0x1000n, 3, leaf2(t, 3, 0x4000n, { S2AP: S2Ap.ReadOnly, AF: 1, DBM: 1, MemAttr: 0xf }));
    const { w } = walk(t, root, 0x80_0000_0000n - 0x1000n, { write: true });
    expect([w.dirtyStateUpdated, w.s2Read, w.s2Write]).toEqual([true, true, true]);
    expect((t.get(slots[2]) >> 6n) & 3n).toBe(BigInt(S2Ap.ReadWrite));
  });
});

describe('External aborts on the walk (D8.15.1.3)', () => {
  it('stops at the level whose read aborts', () => {
    const t = new Tables(s1(12, 48));
    const root = t.allocRoot();
    const ia = 0x1_2345_6000n;
    const slots = chain(t, root, ia, 3, leaf1(t, 3, 0x1000n));
    t.memory.markAccessFault(slots[2], 8n);
    const { w, fault, address } = walk(t, root, ia);
    expect([fault, w.faultLevel, address]).toEqual([VmsaFault.ExternalAbort, 2, slots[2]]);
  });

  it('reports an aborted update, and re-reads a descriptor that changed under it', () => {
    const t = new Tables(s1(12, 39, { hardwareAccessFlag: true }));
    const root = t.allocRoot();
    const slots = chain(t, root, 0x8000n, 3, leaf1(t, 3, 0x9000n, { AP: Ap.ReadWrite }));
    const physical = new PhysicalDescriptorMemory(t.memory);
    let casCalls = 0;
    const hook = (onCas: () => boolean | 'changed'): DescriptorMemory => ({
      lo: 0,
      hi: 0,
      swapped: false,
      read64(h, l) {
        const ok = physical.read64(h, l);
        this.lo = physical.lo;
        this.hi = physical.hi;
        return ok;
      },
      cas64(h, l, el, eh, nl, nh) {
        casCalls++;
        const r = onCas();
        if (r === 'changed') {
          // Another agent set AF and moved the page first.
          t.set(slots[2], leaf1(t, 3, 0xc000n, { AP: Ap.ReadWrite, AF: 1 }));
          this.swapped = false;
          return true;
        }
        if (!r) return false;
        const ok = physical.cas64(h, l, el, eh, nl, nh);
        this.swapped = physical.swapped;
        return ok;
      },
    });
    const aborted = walk(t, root, 0x8000n, { memory: hook(() => false) });
    expect([aborted.fault, aborted.w.faultLevel]).toEqual([VmsaFault.ExternalAbort, 3]);
    casCalls = 0;
    const raced = walk(t, root, 0x8000n, { memory: hook(() => 'changed') });
    expect([raced.fault, raced.w.outputPage, raced.w.accessFlagUpdated, casCalls]).toEqual([VmsaFault.None, 0xc, false, 1]);
  });

  it('gives up on a descriptor that never holds still', () => {
    const t = new Tables(s1(12, 39, { hardwareAccessFlag: true }));
    const root = t.allocRoot();
    chain(t, root, 0x8000n, 3, leaf1(t, 3, 0x9000n, { AP: Ap.ReadWrite }));
    const physical = new PhysicalDescriptorMemory(t.memory);
    const fickle: DescriptorMemory = {
      lo: 0,
      hi: 0,
      swapped: false,
      read64(h, l) {
        const ok = physical.read64(h, l);
        this.lo = physical.lo;
        this.hi = physical.hi;
        return ok;
      },
      cas64() {
        this.swapped = false;
        return true;
      },
    };
    const { w, fault } = walk(t, root, 0x8000n, { memory: fickle });
    expect([fault, w.faultLevel, w.descriptorUpdates]).toEqual([VmsaFault.ExternalAbort, 3, VmsaWalker.MAX_UPDATE_RETRIES + 1]);
  });
});

describe('stage-2 concatenated initial tables (D8.2.2)', () => {
  // [granule, input bits, start level, tables]: Tables D8-22, D8-31, D8-41.
  const cases: [GranuleLog2, number, number, number][] = [
    [12, 40, 1, 2],
    [12, 43, 1, 16],
    [14, 48, 1, 2],
    [16, 31, 3, 4], // T0SZ 33
  ];
  for (const [g, bits, start, tables] of cases) {
    it(`indexes ${tables} tables at level ${start} for a ${bits}-bit input with granule 2^${g}`, () => {
      const t = new Tables(s2(g, bits, start));
      expect(t.config.concatenated).toBe(tables);
      const root = t.allocRoot();
      const ia = (1n << BigInt(bits)) - (1n << BigInt(g)) * 3n; // in the last table
      const slots = chain(t, root, ia, 3, leaf2(t, 3, 0x7_0000_0000n, { S2AP: S2Ap.ReadWrite, AF: 1, MemAttr: 0xf }));
      const tableBytes = 1n << BigInt(g);
      expect((slots[0] - root) / tableBytes).toBe(BigInt(tables - 1)); // the descriptor lies in the last table
      const { w, fault } = walk(t, root, ia);
      expect(fault).toBe(VmsaFault.None);
      expect(w.descriptorReads).toBe(4 - start);
      expect(BigInt(w.outputPage)).toBe((0x7_0000_0000n + (ia & (tableBytes - 1n))) >> 12n);
      expect([w.memAttr, w.s2Read, w.s2Write, w.s2Exec]).toEqual([0xf, true, true, true]);
    });
  }
});

describe('big-endian descriptors (SCTLR_ELx.EE, CD.ENDI, STE.S2ENDI)', () => {
  it('walks tables stored most significant byte first, and updates them in that order', () => {
    const t = new Tables(s1(12, 39, { bigEndian: true, hardwareAccessFlag: true }));
    const root = t.allocRoot();
    const slots = chain(t, root, 0x40_0000n, 3, leaf1(t, 3, 0x12_3000n, { AP: Ap.ReadWrite }));
    expect(t.memory.readBytes(slots[2], 8)[7]).toBe(0x43); // the byte holding bits [7:0] is last: AP 01, page, valid
    const be = walk(t, root, 0x40_0000n);
    expect([be.fault, be.w.outputPage, be.w.accessFlagUpdated]).toEqual([VmsaFault.None, 0x123, true]);
    expect((t.get(slots[2]) >> 10n) & 1n).toBe(1n);
    // Read little-endian, the level-1 descriptor's low byte is its address's top byte: 0, invalid.
    const le = new VmsaWalker();
    const [hi, lo] = halves(root);
    expect(le.walk({ ...t.config, bigEndian: false }, new PhysicalDescriptorMemory(t.memory), hi, lo, 0x400, false)).toBe(VmsaFault.Translation);
    expect(le.faultLevel).toBe(1);
  });
});

describe('hierarchical permissions (D8.4.1.2, Table D8-64)', () => {
  function perms(tableAttrs: Encodable<typeof Stage1TableLayout>[], over: Partial<VmsaWalkConfig> = {}, leaf: Encodable<typeof Stage1LeafLayout> = RW): VmsaWalker {
    const t = new Tables(s1(12, 48, over));
    const root = t.allocRoot();
    chain(t, root, 0x7000n, 3, leaf1(t, 3, 0x7000n, leaf), tableAttrs);
    const { w, fault } = walk(t, root, 0x7000n);
    expect(fault).toBe(VmsaFault.None);
    return w;
  }
  const all = Perm.PrivRead | Perm.PrivWrite | Perm.UnprivRead | Perm.UnprivWrite | Perm.UnprivExec;

  it('removes what APTable, UXNTable and PXNTable remove at later levels, accumulated over levels', () => {
    expect(perms([]).permissions).toBe(all);
    expect(perms([{ APTable: 1 }]).permissions).toBe(Perm.PrivRead | Perm.PrivWrite | Perm.PrivExec | Perm.UnprivExec);
    expect(perms([{}, { APTable: 2 }]).permissions).toBe(Perm.PrivRead | Perm.UnprivRead | Perm.PrivExec | Perm.UnprivExec);
    expect(perms([{ APTable: 1 }, {}, { APTable: 2 }]).permissions).toBe(Perm.PrivRead | Perm.PrivExec | Perm.UnprivExec);
    expect(perms([{}, {}, { XNTable: 1 }]).permissions).toBe(all & ~Perm.UnprivExec);
    expect(perms([{ PXNTable: 1 }], {}, { ...RW, AP: Ap.PrivReadWrite }).permissions).toBe(Perm.PrivRead | Perm.PrivWrite | Perm.UnprivExec);
  });

  it('ignores them with HPD, but not NSTable (D8.4.6.1)', () => {
    const w = perms([{ APTable: 3, XNTable: 1, PXNTable: 1, NSTable: 1 }], { hierarchicalPermissionsDisabled: true });
    expect(w.permissions).toBe(all);
    expect(w.nonSecure).toBe(true);
    expect(perms([]).nonSecure).toBe(false);
  });

  it('uses the one-privilege-level format for EL2/EL3 regimes (Table D8-66)', () => {
    const w = perms([{ APTable: 1 }], { singlePrivilegeLevel: true }, { ...RW, nG: 1, PXN: 1 });
    expect([w.permissions, w.notGlobal]).toEqual([Perm.PrivRead | Perm.PrivWrite | Perm.PrivExec, false]);
    expect(perms([], { singlePrivilegeLevel: true }, { ...RW, UXN: 1 }).permissions).toBe(Perm.PrivRead | Perm.PrivWrite);
  });

  it('applies WXN (D8.4.1.2.3)', () => {
    expect(perms([], { writeExecuteNever: true }, { ...RW, AP: Ap.PrivReadWrite }).permissions).toBe(Perm.PrivRead | Perm.PrivWrite | Perm.UnprivExec);
  });
});

describe('stage-2 permissions and attributes (D8.4.2, D8.6.5)', () => {
  it('reads S2AP, XN and MemAttr, with FEAT_XNX when configured', () => {
    const t = new Tables(s2(16, 42, 2));
    const root = t.allocRoot();
    chain(t, root, 0x10000n, 3, leaf2(t, 3, 0x20000n, { S2AP: S2Ap.ReadOnly, XN: 2, AF: 1, MemAttr: 0x1, SH: 2 }));
    chain(t, root, 0x30000n, 3, leaf2(t, 3, 0x40000n, { S2AP: S2Ap.WriteOnly, XN: 1, AF: 1, MemAttr: 0x5 }));
    const a = walk(t, root, 0x10000n).w;
    expect([a.s2Read, a.s2Write, a.s2Exec, a.memAttr, a.shareability, a.attrIndex]).toEqual([true, false, false, 0x1, 2, 0]);
    const b = walk(t, root, 0x30000n).w;
    expect([b.s2Read, b.s2Write, b.s2Exec]).toEqual([false, true, true]); // XN[0] alone means nothing without FEAT_XNX
    const xnx = new Tables({ ...t.config, xnx: true });
    const w = new VmsaWalker();
    const [hi, lo] = halves(root);
    w.walk(xnx.config, new PhysicalDescriptorMemory(t.memory), hi, lo, 0x30, false);
    expect([w.permits(true, false, false, true), w.permits(false, false, false, true), w.s2Exec]).toEqual([false, true, false]);
  });
});
