// Every malformed blob becomes a DtbError naming the file, the byte offset, and what was
// expected vs found (DESIGN.md "Errors"); never a RangeError or TypeError from the runtime.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceTreeError, encodeStrings } from '../../../src/formats/devicetree/tree.js';
import { DtbError, readDtb, writeDtb } from '../../../src/formats/dtb/index.js';
import { T, assemble, buildTree, struct, withU32 } from './helpers.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * The base blob (offsets in hex):
 *   00 header  28 reservation {0x1000, 0x2000}  38 terminator
 *   48 BEGIN_NODE ""   50 PROP len=4 nameoff=0 (reg) <1>
 *   60 BEGIN_NODE "n@1"   68 PROP len=0 nameoff=4 (leaf)   74 END_NODE  78 END_NODE  7c END
 *   80 strings "reg\0leaf\0"   89 end
 */
const base = assemble({
  reservations: [[0x1000n, 0x2000n]],
  struct: struct(T.BEGIN_NODE, '', T.PROP, 4, 0, 1, T.BEGIN_NODE, 'n@1', T.PROP, 0, 4, T.END_NODE, T.END_NODE, T.END),
  strings: encodeStrings(['reg', 'leaf']),
});

/** A blob with no reservations (struct at 0x38) and the given structure block and strings. */
const raw = (s: Uint8Array, strings: Uint8Array = encodeStrings(['reg']), patch?: Record<number, number>): Uint8Array =>
  assemble({ struct: s, strings, patch });

function errorOf(read: () => unknown): DtbError {
  try {
    read();
  } catch (err) {
    if (err instanceof DtbError) return err;
    throw new Error(`expected a DtbError, got ${String(err)}`);
  }
  throw new Error('expected a DtbError, but reading succeeded');
}

describe('the base blob', () => {
  it('is valid', () => {
    const tree = readDtb(base);
    expect(tree.root.u32('reg')).toBe(1);
    expect(tree.find('/n@1')?.has('leaf')).toBe(true);
    expect(tree.reservations).toEqual([{ address: 0x1000n, size: 0x2000n }]);
    expect(base.length).toBe(0x89);
  });
});

describe('malformed blobs produce exact DtbError messages', () => {
  const cases: [string, Uint8Array, string][] = [
    // ---- header (5.2)
    ['empty buffer', new Uint8Array(0), 'byte offset 0x0: expected an FDT header of 40 bytes, found a blob of only 0 bytes'],
    ['three bytes', Uint8Array.of(0xd0, 0x0d, 0xfe), 'byte offset 0x0: expected an FDT header of 40 bytes, found a blob of only 3 bytes'],
    ['bad magic', withU32(base, 0, 0x12345678), 'byte offset 0x0: expected magic 0xd00dfeed, found 0x12345678'],
    ['little-endian magic', withU32(base, 0, 0xedfe0dd0), 'byte offset 0x0: expected magic 0xd00dfeed, found 0xedfe0dd0'],
    ['short file with another magic', text('hello'), 'byte offset 0x0: expected magic 0xd00dfeed, found 0x68656c6c'],
    ['truncated header', base.subarray(0, 20), 'byte offset 0x0: expected an FDT header of 40 bytes, found a blob of only 20 bytes'],
    ['truncated blob', base.subarray(0, 100), 'byte offset 0x4: expected totalsize <= 100 (the length of the buffer), found 137 (truncated blob)'],
    ['version 15', withU32(base, 20, 15), 'byte offset 0x14: expected version >= 16, found 15'],
    ['last_comp_version 18', withU32(withU32(base, 20, 18), 24, 18), 'byte offset 0x18: expected last_comp_version <= 17, found 18'],
    ['last_comp_version above version', withU32(withU32(base, 20, 16), 24, 17), 'byte offset 0x18: expected last_comp_version <= version 16, found 17'],
    ['totalsize below the header', withU32(base, 4, 20), 'byte offset 0x4: expected totalsize >= 40 (the header size), found 20'],
    ['misaligned reservation block', withU32(base, 16, 0x2c), 'byte offset 0x10: expected off_mem_rsvmap aligned to 8 bytes, found 0x2c'],
    ['reservation block inside the header', withU32(base, 16, 0x20), 'byte offset 0x10: expected off_mem_rsvmap between the end of the header 0x28 and totalsize 0x89, found 0x20'],
    ['misaligned structure block', withU32(base, 8, 0x4a), 'byte offset 0x8: expected off_dt_struct aligned to 4 bytes, found 0x4a'],
    ['structure block past totalsize', withU32(base, 8, 0x100), 'byte offset 0x8: expected off_dt_struct between the end of the header 0x28 and totalsize 0x89, found 0x100'],
    ['strings block past totalsize', withU32(base, 12, 0x90), 'byte offset 0xc: expected off_dt_strings between the end of the header 0x28 and totalsize 0x89, found 0x90'],
    ['strings block too long', withU32(base, 32, 10), 'byte offset 0x20: expected size_dt_strings <= 9 (from 0x80 to totalsize), found 10'],
    ['structure block too long', withU32(base, 36, 0x44), 'byte offset 0x24: expected size_dt_struct <= 65 (from 0x48 to totalsize), found 68'],
    // ---- memory reservation block (5.3)
    [
      'unterminated reservation list',
      // off_mem_rsvmap moved onto 20 non-zero bytes at the end of the blob: one entry, then 4 bytes.
      assemble({ struct: struct(T.BEGIN_NODE, '', T.END_NODE, T.END), strings: text('x'.repeat(20)), patch: { 16: 0x48 } }),
      'byte offset 0x58: expected a 16-byte memory reservation entry (the list ends with an all-zero entry), found 4 bytes before totalsize',
    ],
    [
      'zero-size reservation before the terminator',
      assemble({ reservations: [[0x1000n, 0x2000n], [0x3000n, 0n]], struct: struct(T.BEGIN_NODE, '', T.END_NODE, T.END) }),
      'byte offset 0x40: expected a non-zero reservation size or the all-zero terminator (libfdt, dtc and Linux end the list at any zero size), found address 0x3000 with size 0',
    ],
    // ---- structure block (5.4)
    ['unknown token', withU32(base, 0x50, 7), 'byte offset 0x50: expected FDT_PROP, FDT_BEGIN_NODE or FDT_END_NODE in /, found unknown token 0x00000007'],
    ['unknown token in a subnode', withU32(base, 0x68, 0x0a), 'byte offset 0x68: expected FDT_PROP, FDT_BEGIN_NODE or FDT_END_NODE in /n@1, found unknown token 0x0000000a'],
    ['name offset outside the strings block', withU32(base, 0x58, 9), 'byte offset 0x58: expected a property name offset below size_dt_strings 9, found 9'],
    ['name offset far outside the strings block', withU32(base, 0x70, 0xffffffff), 'byte offset 0x70: expected a property name offset below size_dt_strings 9, found 4294967295'],
    ['unterminated property name', raw(struct(T.BEGIN_NODE, '', T.PROP, 0, 0, T.END_NODE, T.END), text('reg')), 'byte offset 0x54: expected a NUL-terminated property name, found end of strings block'],
    ['empty property name', raw(struct(T.BEGIN_NODE, '', T.PROP, 0, 3, T.END_NODE, T.END)), 'byte offset 0x57: expected a property name, found an empty string'],
    ['unterminated node name', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, text('abcd'))), 'byte offset 0x44: expected a NUL-terminated node name, found end of structure block'],
    ['node name that is not UTF-8', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, Uint8Array.of(0x61, 0xff, 0), T.END_NODE, T.END_NODE, T.END)), 'byte offset 0x44: expected a UTF-8 node name, found invalid UTF-8 bytes'],
    ['named root node', raw(struct(T.BEGIN_NODE, 'root', T.END_NODE, T.END)), 'byte offset 0x3c: expected the empty root node name, found "root"'],
    ['empty child name', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, '', T.END_NODE, T.END_NODE, T.END)), 'byte offset 0x44: expected a node name for a child of /, found an empty name'],
    ['slash in a node name', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, 'a/b', T.END_NODE, T.END_NODE, T.END)), 'byte offset 0x44: expected a node name without "/", found "a/b"'],
    ['duplicate node name', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, 'n', T.END_NODE, T.BEGIN_NODE, 'n', T.END_NODE, T.END_NODE, T.END)), 'byte offset 0x4c: expected node names unique within /, found a second node "n"'],
    ['duplicate property name', raw(struct(T.BEGIN_NODE, '', T.PROP, 0, 0, T.PROP, 0, 0, T.END_NODE, T.END)), 'byte offset 0x4c: expected property names unique within /, found a second property "reg"'],
    ['property before the root node', raw(struct(T.PROP, 0, 0, T.BEGIN_NODE, '', T.END_NODE, T.END)), 'byte offset 0x38: expected FDT_BEGIN_NODE of the root node, found FDT_PROP'],
    ['property after a subnode', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, 'n', T.END_NODE, T.PROP, 0, 0, T.END_NODE, T.END)), 'byte offset 0x4c: expected FDT_BEGIN_NODE or FDT_END_NODE in / (properties must precede subnodes), found FDT_PROP'],
    ['property after the root node', raw(struct(T.BEGIN_NODE, '', T.END_NODE, T.PROP, 0, 0, T.END)), 'byte offset 0x44: expected FDT_END, found FDT_PROP'],
    ['second root node', raw(struct(T.BEGIN_NODE, '', T.END_NODE, T.BEGIN_NODE, '', T.END_NODE, T.END)), 'byte offset 0x44: expected FDT_END, found FDT_BEGIN_NODE (a second root node)'],
    ['unbalanced: FDT_END inside a node', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, 'n', T.END_NODE, T.END)), 'byte offset 0x4c: expected FDT_END_NODE closing /, found FDT_END'],
    ['unbalanced: FDT_END inside a subnode', raw(struct(T.BEGIN_NODE, '', T.BEGIN_NODE, 'n', T.END)), 'byte offset 0x48: expected FDT_END_NODE closing /n, found FDT_END'],
    ['unbalanced: extra FDT_END_NODE', raw(struct(T.BEGIN_NODE, '', T.END_NODE, T.END_NODE, T.END)), 'byte offset 0x44: expected FDT_END, found FDT_END_NODE'],
    ['FDT_END_NODE before the root', raw(struct(T.END_NODE, T.END)), 'byte offset 0x38: expected FDT_BEGIN_NODE of the root node, found FDT_END_NODE'],
    ['FDT_END before the root', raw(struct(T.NOP, T.END)), 'byte offset 0x3c: expected FDT_BEGIN_NODE of the root node, found FDT_END'],
    ['empty structure block', raw(new Uint8Array(0)), 'byte offset 0x38: expected FDT_BEGIN_NODE of the root node, found end of structure block'],
    ['no FDT_END', raw(struct(T.BEGIN_NODE, '', T.END_NODE)), 'byte offset 0x44: expected FDT_END, found end of structure block'],
    ['structure block ends inside a node', raw(struct(T.BEGIN_NODE, '', T.PROP, 0, 0)), 'byte offset 0x4c: expected FDT_PROP, FDT_BEGIN_NODE or FDT_END_NODE in /, found end of structure block'],
    ['data past FDT_END', raw(struct(T.BEGIN_NODE, '', T.END_NODE, T.END, 0)), 'byte offset 0x48: expected the structure block to end after FDT_END (size_dt_struct 20), found 4 more bytes'],
    ['FDT_PROP without len and nameoff', raw(struct(T.BEGIN_NODE, '', T.PROP, 0)), 'byte offset 0x44: expected the 8-byte len and nameoff of FDT_PROP, found 4 bytes before end of structure block'],
    ['property value past the structure block', withU32(base, 0x54, 100), 'byte offset 0x54: expected a property value of 100 bytes (len), found 36 bytes before end of structure block'],
    [
      'property value padding past the structure block',
      // size_dt_struct cut to end right after a 1-byte value, before its padding.
      raw(struct(T.BEGIN_NODE, '', T.PROP, 1, 0, Uint8Array.of(5), T.END_NODE, T.END), undefined, { 36: 0x15 }),
      'byte offset 0x4d: expected padding to a 4-byte boundary, found end of structure block',
    ],
  ];

  it.each(cases)('%s', (_what, blob, message) => {
    const err = errorOf(() => readDtb(blob, { file: 'board.dtb' }));
    expect(err).toBeInstanceOf(DeviceTreeError);
    expect(err.message).toBe(`board.dtb: ${message}`);
  });

  it('names "<dtb>" when no file is given, and exposes offset, expected and found', () => {
    const err = errorOf(() => readDtb(withU32(base, 0x50, 7)));
    expect(err.message).toBe('<dtb>: byte offset 0x50: expected FDT_PROP, FDT_BEGIN_NODE or FDT_END_NODE in /, found unknown token 0x00000007');
    expect([err.file, err.offset, err.expected, err.found]).toEqual(['<dtb>', 0x50, 'FDT_PROP, FDT_BEGIN_NODE or FDT_END_NODE in /', 'unknown token 0x00000007']);
  });
});

describe('no malformation escapes as a raw JavaScript exception', () => {
  const good = writeDtb(
    buildTree(
      {
        props: { compatible: ['a', 'b'], '#address-cells': [2] },
        children: { 'soc@0': { props: { reg: [0, 1, 2, 3], ranges: new Uint8Array(0) }, children: { 'iommu@1': { props: { '#iommu-cells': [1] } } } } },
      },
      { reservations: [[0x1000n, 0x1000n]], bootCpuId: 1 },
    ),
  );

  it('every truncation of a valid blob is a DtbError', () => {
    for (let n = 0; n < good.length; n++) {
      expect(() => readDtb(good.subarray(0, n))).toThrowError(DtbError);
    }
  });

  it('corrupted bytes either read or throw DtbError (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
        const blob = good.slice();
        for (const [at, v] of edits) blob[at] = v;
        try {
          readDtb(blob);
        } catch (err) {
          expect(err).toBeInstanceOf(DtbError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('corrupted header and token words either read or throw DtbError (fast-check)', () => {
    const words = good.length / 4;
    fc.assert(
      fc.property(fc.nat({ max: Math.floor(words) - 1 }), fc.oneof(fc.nat({ max: 0x100 }), fc.nat({ max: 0xffffffff })), (word, v) => {
        try {
          readDtb(withU32(good, word * 4, v));
        } catch (err) {
          expect(err).toBeInstanceOf(DtbError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
