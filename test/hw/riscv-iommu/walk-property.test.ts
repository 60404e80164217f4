// Property tests: the bench's page-table builder, the model's walker and a reference map agree.
// Random sets of non-overlapping mappings (random modes, leaf levels, Svnapot, permissions) are
// built with the bench's PageTable; then every mapped address translates to the expected
// address with the expected range (Privileged "Virtual Address Translation Process"; IOMMU
// "Process to translate an IOVA"; tr_response/ATS range encoding), every access the leaf does
// not permit is a page fault of its type, and every unmapped address faults. The two-stage
// property composes a first stage held in guest memory with a second stage ("Two-Stage Address
// Translation"): unmapped GPAs are guest-page faults reporting the GPA in iotval2.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reg } from '../../../src/formats/index.js';
import { RequestKind, ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import { PTE, RiscvIommuBench, type PageTable } from '../../support/riscv-iommu-bench.js';

type SMode = 'Sv32' | 'Sv39' | 'Sv48' | 'Sv57';
type GMode = 'Sv32x4' | 'Sv39x4' | 'Sv48x4' | 'Sv57x4';

const GEOM: Record<SMode | GMode, { levels: number; bits: number; va: number }> = {
  Sv32: { levels: 2, bits: 10, va: 32 },
  Sv39: { levels: 3, bits: 9, va: 39 },
  Sv48: { levels: 4, bits: 9, va: 48 },
  Sv57: { levels: 5, bits: 9, va: 57 },
  Sv32x4: { levels: 2, bits: 10, va: 34 },
  Sv39x4: { levels: 3, bits: 9, va: 41 },
  Sv48x4: { levels: 4, bits: 9, va: 50 },
  Sv57x4: { levels: 5, bits: 9, va: 59 },
};
const MODE_FIELD: Record<SMode | GMode, number> = { Sv32: 8, Sv39: 8, Sv48: 9, Sv57: 10, Sv32x4: 8, Sv39x4: 8, Sv48x4: 9, Sv57x4: 10 };
const MASK64 = (1n << 64n) - 1n;
const DID = 0x2c;

interface Mapping {
  va: bigint; // base of the range (IOVA or GPA)
  size: bigint;
  pa: bigint; // base of the target range
  perms: bigint; // R/W/X
  napot: boolean;
}

const PERMS = [PTE.R, PTE.R | PTE.W, PTE.R | PTE.X, PTE.R | PTE.W | PTE.X, PTE.X];

/** Index choices: small indices (shared tables) and the last index (sign-extended upper half). */
const indexChoice = fc.integer({ min: 0, max: 4 });
const indices = fc.array(indexChoice, { minLength: 5, maxLength: 5 });

function indexValue(choice: number, bits: number): bigint {
  return choice === 4 ? (1n << BigInt(bits)) - 1n : BigInt(choice);
}

/** A canonical address from per-level index choices, zero below `level`. */
function addressOf(mode: SMode | GMode, idx: number[], level: number, topChoices?: readonly bigint[]): bigint {
  const g = GEOM[mode];
  let a = 0n;
  for (let l = level; l < g.levels; l++) {
    const v = l === g.levels - 1 && topChoices !== undefined ? topChoices[idx[l] % topChoices.length] : indexValue(idx[l], g.bits);
    a |= v << BigInt(12 + l * g.bits);
  }
  if (mode !== 'Sv32' && !mode.endsWith('x4') && ((a >> BigInt(g.va - 1)) & 1n) === 1n) a = (a | ~((1n << BigInt(g.va)) - 1n)) & MASK64;
  return a;
}

function leafSize(mode: SMode | GMode, level: number): bigint {
  return 1n << BigInt(12 + level * GEOM[mode].bits);
}

function overlaps(a: Mapping, b: Mapping): boolean {
  return a.va < b.va + b.size && b.va < a.va + a.size;
}

function find(maps: Mapping[], addr: bigint): Mapping | undefined {
  return maps.find((m) => addr >= m.va && addr < m.va + m.size);
}

function log2(x: bigint): number {
  return x.toString(2).length - 1;
}

/** Installs a mapping with the bench's builder (all 16 PTEs of a NAPOT range). */
function install(pt: PageTable, m: Mapping, level: number, extraFlags: bigint): void {
  const flags = m.perms | PTE.U | PTE.A | PTE.D | extraFlags;
  if (m.napot) {
    for (let i = 0n; i < 16n; i++) pt.map(m.va + i * 0x1000n, m.pa | 0x8000n, { flags, extra: 1n << 63n });
  } else {
    pt.map(m.va, m.pa, { level, flags });
  }
}

const rawMapping = fc.record({
  idx: indices,
  level: fc.integer({ min: 0, max: 4 }),
  perms: fc.integer({ min: 0, max: PERMS.length - 1 }),
  napot: fc.boolean(),
  global: fc.boolean(),
  paSeed: fc.bigInt({ min: 0n, max: 1n << 40n }),
});

describe('property: single-stage walks agree with a reference map (Sv32/Sv39/Sv48/Sv57)', () => {
  it('mapped addresses translate with the leaf range; other accesses and unmapped addresses fault', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<SMode>('Sv32', 'Sv39', 'Sv48', 'Sv57'),
        fc.array(rawMapping, { minLength: 1, maxLength: 10 }),
        fc.array(indices, { maxLength: 8 }),
        fc.integer({ min: 0, max: 0xfff }),
        (mode, raws, holes, pageOffset) => {
          const g = GEOM[mode];
          const paLimit = mode === 'Sv32' ? 1n << 34n : 1n << 56n;
          const b = new RiscvIommuBench({ mode: '1LVL', bareSecondStageBytes: 1n << 52n, bareSecondStageBytesSv32x4: 1n << 52n, fqEntries: 1024 });
          const pt = b.pageTable(mode);
          b.setDeviceContext(DID, { tc: { EN_ATS: true, SXL: mode === 'Sv32' }, fsc: { mode: MODE_FIELD[mode], ppn: pt.root }, ta: { pscid: 1 } });

          const maps: Mapping[] = [];
          const levels: number[] = [];
          for (const r of raws) {
            const level = r.level % g.levels;
            const napot = r.napot && level === 0 && mode !== 'Sv32'; // Svnapot needs 64-bit PTEs
            const size = napot ? 0x10000n : leafSize(mode, level);
            const idx = [...r.idx];
            if (napot) idx[0] = idx[0] === 4 ? 4 : 0; // 64 KiB aligned: index 0 or the last 16
            let va = addressOf(mode, idx, level);
            if (napot) va &= ~0xffffn;
            const pa = ((r.paSeed * size) % paLimit) & ~(size - 1n);
            const m: Mapping = { va, size, pa, perms: PERMS[r.perms], napot };
            if (maps.some((x) => overlaps(x, m))) continue;
            install(pt, m, level, r.global ? PTE.G : 0n);
            maps.push(m);
            levels.push(level);
          }

          const probe = (iova: bigint, a: 'r' | 'w' | 'x') => b.iommu.translate({ deviceId: DID, iova, write: a === 'w', execute: a === 'x' });
          for (const m of maps) {
            for (const off of [0n, m.size - 0x1000n + BigInt(pageOffset), (m.size / 2n) & ~0xfffn]) {
              const iova = m.va + off;
              const want = m.pa + off;
              // The builder's own view agrees with the reference map (it does not decode NAPOT).
              const leaf = pt.lookup(iova);
              if (m.napot) expect(leaf?.pte === undefined ? 0n : leaf.pte >> 63n).toBe(1n);
              else expect(leaf?.address).toBe(want);
              for (const a of ['r', 'w', 'x'] as const) {
                const allowed = a === 'r' ? (m.perms & PTE.R) !== 0n : a === 'w' ? (m.perms & PTE.W) !== 0n : (m.perms & PTE.X) !== 0n;
                const rsp = probe(iova, a);
                if (allowed) {
                  expect(rsp.status, `${a} ${iova.toString(16)} cause ${rsp.cause}`).toBe(ResponseStatus.Success);
                  expect(rsp.address(Number(iova & 0xfffn))).toBe(want);
                  expect(rsp.log2Pages).toBe(log2(m.size) - 12);
                } else {
                  expect(rsp.cause).toBe({ r: 13, w: 15, x: 12 }[a]);
                }
              }
            }
            if ((m.perms & PTE.R) !== 0n) {
              const d = b.debugTranslate(DID, m.va + m.size - 0x1000n);
              expect(d).toMatchObject({ fault: false, size: m.size, address: m.pa });
              const ats = b.iommu.translate({ deviceId: DID, iova: m.va, kind: RequestKind.AtsTranslation });
              expect(ats.atsAddress().address).toBe(m.size === 0x1000n ? m.pa : m.pa | ((m.size / 2n - 1n) & ~0xfffn));
            }
          }
          for (const h of holes) {
            const iova = addressOf(mode, h, 0) + BigInt(pageOffset);
            if (find(maps, iova) !== undefined) continue;
            expect(pt.lookup(iova)).toBeNull();
            expect(probe(iova, 'r').cause).toBe(13);
          }
          // Every fault was recorded with its cause and the IOVA.
          for (const f of b.faults()) expect([12, 13, 15]).toContain(f.cause);
        },
      ),
      { numRuns: 120 },
    );
  });
});

describe('property: two-stage walks agree with the composition of two reference maps', () => {
  /** Guest-physical data lives below 2^33; first-stage tables live at 2^33 (reachable by every x4 mode). */
  const TABLE_GPA = 1n << 33n;
  const gTop9 = [0n, 1n, 2n, 3n, 5n]; // level-2 indices of 9-bit x4 modes: below 2^33
  const gTop32 = [0n, 1n, 2n, 3n, 1000n]; // level-1 indices of Sv32x4: below 2^33

  const gRaw = fc.record({ idx: indices, level: fc.integer({ min: 0, max: 2 }), writable: fc.boolean(), exec: fc.boolean() });
  const sRaw = fc.record({ idx: indices, gidx: indices, level: fc.integer({ min: 0, max: 2 }), perms: fc.integer({ min: 0, max: 3 }) });

  /** A GPA below 2^33 from index choices, zero below `level` (levels 0..2 only). */
  function gpaOf(gMode: GMode, idx: number[], level: number): bigint {
    const g = GEOM[gMode];
    let a = 0n;
    const top = gMode === 'Sv32x4' ? 1 : 2;
    for (let l = level; l <= top; l++) {
      const v = l === top ? (gMode === 'Sv32x4' ? gTop32 : gTop9)[idx[l]] : indexValue(idx[l], g.bits);
      a |= v << BigInt(12 + l * g.bits);
    }
    return a;
  }

  it('IOVA -> GPA -> SPA with range min(first, second); page faults, guest-page faults with iotval2 = GPA', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<[SMode, GMode]>(['Sv32', 'Sv32x4'], ['Sv39', 'Sv39x4'], ['Sv48', 'Sv39x4'], ['Sv39', 'Sv48x4'], ['Sv57', 'Sv57x4'], ['Sv48', 'Sv57x4']),
        fc.array(gRaw, { minLength: 1, maxLength: 8 }),
        fc.array(sRaw, { minLength: 1, maxLength: 8 }),
        fc.array(indices, { maxLength: 6 }),
        fc.bigInt({ min: 0n, max: 1n << 30n }),
        ([sMode, gMode], gRaws, sRaws, holes, spaSeed) => {
          const gxl = gMode === 'Sv32x4';
          const b = new RiscvIommuBench({ cqEntries: 0, fqEntries: 0, pqEntries: 0 });
          b.write32(Reg.fctl, gxl ? 4 : 0);
          b.enableCommandQueue(64);
          b.enableFaultQueue(1024);
          b.setMode('1LVL');
          const gpt = b.pageTable(gMode);
          const spt = b.guestPageTable(sMode, gpt, TABLE_GPA);
          b.setDeviceContext(DID, {
            tc: { EN_ATS: true, SXL: sMode === 'Sv32' },
            iohgatp: { mode: MODE_FIELD[gMode], ppn: gpt.root, gscid: 4 },
            fsc: { mode: MODE_FIELD[sMode], ppn: spt.root },
            ta: { pscid: 8 },
          });
          const spaLimit = gxl ? 1n << 34n : 1n << 50n;
          const gMax = gxl ? 1 : 2;
          const sMax = sMode === 'Sv32' ? 1 : 2;

          const gMaps: Mapping[] = [];
          let n = spaSeed;
          for (const r of gRaws) {
            const level = r.level % (gMax + 1);
            const size = leafSize(gMode, level);
            const m: Mapping = { va: gpaOf(gMode, r.idx, level), size, pa: ((n * size) % spaLimit) & ~(size - 1n), perms: PTE.R | (r.writable ? PTE.W : 0n) | (r.exec ? PTE.X : 0n), napot: false };
            n = n * 7n + 13n;
            if (gMaps.some((x) => overlaps(x, m))) continue;
            install(gpt, m, level, 0n);
            gMaps.push(m);
          }
          const sMaps: Mapping[] = [];
          for (const r of sRaws) {
            const level = r.level % (sMax + 1);
            const size = leafSize(sMode, level);
            // Targets use the same index alphabet as the second stage, so most land on mapped GPAs.
            const gpa = gpaOf(gMode, r.gidx, 0) & ~(size - 1n);
            const m: Mapping = { va: addressOf(sMode, r.idx, level), size, pa: gpa, perms: PERMS[r.perms], napot: false };
            if (sMaps.some((x) => overlaps(x, m))) continue;
            install(spt, m, level, 0n);
            sMaps.push(m);
          }

          const check = (iova: bigint) => {
            const s = find(sMaps, iova);
            for (const a of ['r', 'w'] as const) {
              const rsp = b.iommu.translate({ deviceId: DID, iova, write: a === 'w' });
              const faults = b.faults();
              if (s === undefined) {
                expect(rsp.cause).toBe(a === 'r' ? 13 : 15);
                continue;
              }
              if (a === 'w' && (s.perms & PTE.W) === 0n) {
                expect(rsp.cause).toBe(15);
                continue;
              }
              const gpa = s.pa + (iova - s.va);
              const gm = find(gMaps, gpa);
              if (gm === undefined || (a === 'w' && (gm.perms & PTE.W) === 0n)) {
                expect(rsp.cause, `${a} iova ${iova.toString(16)} gpa ${gpa.toString(16)}`).toBe(a === 'r' ? 21 : 23);
                expect(faults).toHaveLength(1);
                expect(faults[0].iotval2 >> 12n).toBe(gpa >> 12n);
                expect(faults[0].iotval2 & 3n).toBe(0n);
                continue;
              }
              expect(rsp.status, `${a} iova ${iova.toString(16)} cause ${rsp.cause}`).toBe(ResponseStatus.Success);
              expect(rsp.address(Number(iova & 0xfffn))).toBe(gm.pa + (gpa - gm.va));
              const range = s.size < gm.size ? s.size : gm.size;
              expect(rsp.log2Pages).toBe(log2(range) - 12);
              if (a === 'r') {
                const d = b.debugTranslate(DID, iova);
                expect(d).toMatchObject({ fault: false, size: range });
                expect(d.address).toBe((gm.pa + (gpa - gm.va)) & ~(range - 1n));
              }
            }
          };
          for (const s of sMaps) for (const off of [0n, s.size - 0x1000n + 0x7f8n, (s.size / 3n) & ~0xfffn]) check(s.va + off);
          for (const h of holes) check(addressOf(sMode, h, 0) + 0x10n);
        },
      ),
      { numRuns: 80 },
    );
  });
});
