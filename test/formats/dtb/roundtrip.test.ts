import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceTree, DeviceTreeError, DtNode, encodeStrings } from '../../../src/formats/devicetree/tree.js';
import { readDtb, readDtbFile, readDtbHeader, writeDtb, writeDtbFile } from '../../../src/formats/dtb/index.js';
import { T, arbitraryTree, assemble, buildTree, sampleTree, snapshot, struct, u32At, u64, withU32 } from './helpers.js';

const hexBytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('writeDtb layout (Devicetree Specification v0.4, chapter 5)', () => {
  it('writes the smallest tree: header, terminator-only reservation block, empty root, FDT_END', () => {
    const blob = writeDtb(new DeviceTree());
    expect(Buffer.from(blob).toString('hex')).toBe(
      [
        // magic    totalsize off_struct off_strings off_rsvmap version last_comp boot_cpu size_strings size_struct
        'd00dfeed 00000048 00000038 00000048 00000028 00000011 00000010 00000000 00000000 00000010',
        '00000000000000000000000000000000', // reservation terminator (5.3.2)
        '00000001 00000000 00000002 00000009', // BEGIN_NODE "" (padded), END_NODE, END
      ]
        .join('')
        .replace(/\s+/g, ''),
    );
  });

  it('lays out header, reservations, structure and strings exactly as dtc does', () => {
    const tree = buildTree({ props: { compatible: 'a' }, children: { 'c@1': { props: { reg: [1] } } } }, { reservations: [[0x1000n, 0x2000n]], bootCpuId: 3 });
    const expected = hexBytes(`
      d00dfeed 00000093 00000048 00000084 00000028 00000011 00000010 00000003 0000000f 0000003c
      0000000000001000 0000000000002000  00000000000000000000000000000000
      00000001 00000000
      00000003 00000002 00000000 61000000
      00000001 63403100
      00000003 00000004 0000000b 00000001
      00000002 00000002 00000009
      636f6d70617469626c6500 72656700`);
    expect(writeDtb(tree)).toEqual(expected);
  });

  it('shares property names in the strings block like dtc, including as suffixes of longer names', () => {
    const tree = buildTree({ props: { 'linux,phandle': [1], phandle: [1], '#size-cells': [1], 'size-cells': [1], cells: [1], reg: [1] } });
    const blob = writeDtb(tree);
    const header = readDtbHeader(blob);
    const strings = Buffer.from(blob.subarray(header.offDtStrings, header.offDtStrings + header.sizeDtStrings)).toString('latin1');
    expect(strings).toBe('linux,phandle\0#size-cells\0reg\0');
    // nameoff fields of the six FDT_PROPs, in order: 0, 6 ("phandle" inside "linux,phandle"), 14, 15, 20, 26.
    const nameoffs: number[] = [];
    for (let pos = header.offDtStruct + 8; u32At(blob, pos) === T.PROP; ) {
      nameoffs.push(u32At(blob, pos + 8));
      pos += 12 + 4;
    }
    expect(nameoffs).toEqual([0, 6, 14, 15, 20, 26]);
    expect(snapshot(readDtb(blob))).toEqual(snapshot(tree));
  });

  it('does not share a name that only occurs before a longer name ends', () => {
    // "phandle" first: "linux,phandle" cannot reuse it, and a later "phandle" finds its own entry.
    const blob = writeDtb(buildTree({ props: { phandle: [1], 'linux,phandle': [1] } }));
    const h = readDtbHeader(blob);
    expect(Buffer.from(blob.subarray(h.offDtStrings, h.offDtStrings + h.sizeDtStrings)).toString('latin1')).toBe('phandle\0linux,phandle\0');
  });

  it('appends padding inside totalsize, like dtc -p', () => {
    const tree = sampleTree();
    const plain = writeDtb(tree);
    const padded = writeDtb(tree, { padding: 37 });
    expect(padded.length).toBe(plain.length + 37);
    expect(readDtbHeader(padded).totalSize).toBe(plain.length + 37);
    expect(padded.subarray(plain.length).every((b) => b === 0)).toBe(true);
    expect(padded.subarray(8, plain.length)).toEqual(plain.subarray(8));
    expect(snapshot(readDtb(padded))).toEqual(snapshot(tree));
  });

  it('takes boot_cpuid_phys from the tree unless the options override it', () => {
    const tree = sampleTree();
    expect(readDtbHeader(writeDtb(tree)).bootCpuidPhys).toBe(3);
    expect(readDtbHeader(writeDtb(tree, { bootCpuId: 0xffffffff })).bootCpuidPhys).toBe(0xffffffff);
    expect(readDtb(writeDtb(tree, { bootCpuId: 9 })).bootCpuId).toBe(9);
  });

  it('writes version 17, last_comp_version 16, 8-aligned reservations and 4-aligned structure', () => {
    const h = readDtbHeader(writeDtb(sampleTree()));
    expect([h.version, h.lastCompVersion, h.offMemRsvmap, h.offDtStruct % 4]).toEqual([17, 16, 40, 0]);
    expect(h.offDtStruct).toBe(40 + 3 * 16);
    expect(h.offDtStrings).toBe(h.offDtStruct + (h.sizeDtStruct ?? -1));
    expect(h.totalSize).toBe(h.offDtStrings + h.sizeDtStrings);
  });
});

describe('readDtb(writeDtb(tree))', () => {
  it('round-trips a board-like tree: nodes, byte-exact properties, reservations, boot CPU', () => {
    const tree = sampleTree();
    const back = readDtb(writeDtb(tree));
    expect(snapshot(back)).toEqual(snapshot(tree));
    expect(back.find('/soc/pcie@30000000')?.property('lab,dma-mask')?.value).toEqual(u64(0x000fffffffffffffn));
    expect(back.find('/soc/iommu@3010000')?.u32('#iommu-cells')).toBe(1);
    expect(back.find('/soc/iommu@3010000')?.property('dma-coherent')?.value.length).toBe(0);
    expect(back.root.strings('compatible')).toEqual(['iommu-lab,virt', 'riscv-virtio']);
    expect(back.find('/ünicode-node')?.string('name-with-utf8')).toBe('µs');
    expect(back.byPhandle(5)?.path).toBe('/soc/iommu@3010000');
    expect(back.reservations).toEqual([
      { address: 0x80000000n, size: 0x200000n },
      { address: 0xffffffffffff0000n, size: 0xffffn },
    ]);
    expect(back.bootCpuId).toBe(3);
    expect(back.find('/soc/iommu@3010000')?.parent).toBe(back.find('/soc'));
  });

  it('is a fixed point: writing what was read gives the same bytes', () => {
    const blob = writeDtb(sampleTree());
    expect(writeDtb(readDtb(blob))).toEqual(blob);
  });

  it('copies property values out of the input buffer', () => {
    const blob = writeDtb(sampleTree());
    const tree = readDtb(blob);
    blob.fill(0xaa);
    expect(tree.root.strings('compatible')).toEqual(['iommu-lab,virt', 'riscv-virtio']);
  });

  it('reads a blob that is a view into a larger buffer, with bytes after totalsize', () => {
    const blob = writeDtb(sampleTree());
    const big = new Uint8Array(blob.length + 13).fill(0x55);
    big.set(blob, 5);
    expect(snapshot(readDtb(big.subarray(5)))).toEqual(snapshot(sampleTree()));
  });

  it('skips FDT_NOP tokens wherever they appear', () => {
    const blob = assemble({
      struct: struct(T.NOP, T.BEGIN_NODE, '', T.NOP, T.PROP, 4, 0, 7, T.NOP, T.BEGIN_NODE, 'n', T.NOP, T.END_NODE, T.NOP, T.END_NODE, T.NOP, T.END),
      strings: encodeStrings(['x']),
    });
    const tree = readDtb(blob);
    expect(snapshot(tree).root).toEqual({ name: '', properties: [['x', '00000007']], children: [{ name: 'n', properties: [], children: [] }] });
  });

  it('reads a version 16 blob, which has no size_dt_struct', () => {
    const v17 = writeDtb(sampleTree());
    const v16 = withU32(withU32(v17, 20, 16), 36, 0xdeadbeef);
    const h = readDtbHeader(v16);
    expect([h.version, h.headerSize, h.sizeDtStruct]).toEqual([16, 36, undefined]);
    expect(snapshot(readDtb(v16))).toEqual(snapshot(sampleTree()));
  });

  it('reads a later version that stays compatible with 17', () => {
    const blob = withU32(writeDtb(sampleTree()), 20, 18);
    expect(readDtb(blob).bootCpuId).toBe(3);
  });

  it('round-trips random trees (fast-check)', () => {
    fc.assert(
      fc.property(arbitraryTree(), fc.nat({ max: 64 }), (tree, padding) => {
        const blob = writeDtb(tree, { padding });
        const back = readDtb(blob);
        expect(snapshot(back)).toEqual(snapshot(tree));
        expect(writeDtb(back, { padding })).toEqual(blob);
      }),
      { numRuns: 200 },
    );
  });
});

describe('writeDtb refuses trees a blob cannot represent', () => {
  const cases: [string, () => Uint8Array, string][] = [
    ['duplicate property', () => {
      const t = new DeviceTree();
      t.root.properties.push({ name: 'x', value: new Uint8Array(0) }, { name: 'x', value: new Uint8Array(0) });
      return writeDtb(t);
    }, 'cannot write DTB: /: property "x" appears twice'],
    ['duplicate node', () => {
      const t = buildTree({ children: { soc: {} } });
      t.root.addChild(new DtNode('soc'));
      return writeDtb(t);
    }, 'cannot write DTB: /: node "soc" appears twice'],
    ['empty node name', () => writeDtb(buildTree({ children: { soc: { children: { '': {} } } } })), 'cannot write DTB: a child of /soc has an empty name'],
    ['slash in node name', () => writeDtb(buildTree({ children: { 'a/b': {} } })), 'cannot write DTB: node name "a/b" in / contains "/"'],
    ['NUL in node name', () => writeDtb(buildTree({ children: { 'a\0b': {} } })), 'cannot write DTB: node name "a\\u0000b" in / contains NUL'],
    ['named root', () => {
      const t = new DeviceTree();
      t.root.name = 'root';
      return writeDtb(t);
    }, 'cannot write DTB: the root node must have the empty name, found "root"'],
    ['empty property name', () => writeDtb(buildTree({ children: { n: { props: { '': [1] } } } })), 'cannot write DTB: /n: a property has an empty name'],
    ['NUL in property name', () => writeDtb(buildTree({ props: { 'a\0': [1] } })), 'cannot write DTB: /: property name "a\\u0000" contains NUL'],
    ['terminator-like reservation', () => writeDtb(buildTree({}, { reservations: [[1n, 1n], [0n, 0n]] })), 'cannot write DTB: memory reservation 1 (address 0x0) has size 0, which would end the reservation list'],
    ['zero-size reservation', () => writeDtb(buildTree({}, { reservations: [[0x8000n, 0n]] })), 'cannot write DTB: memory reservation 0 (address 0x8000) has size 0, which would end the reservation list'],
    ['reservation beyond 64 bits', () => writeDtb(buildTree({}, { reservations: [[1n << 64n, 1n]] })), 'cannot write DTB: memory reservation 0: address 18446744073709551616 is not a 64-bit unsigned integer'],
    ['negative reservation size', () => writeDtb(buildTree({}, { reservations: [[0n, -1n]] })), 'cannot write DTB: memory reservation 0: size -1 is not a 64-bit unsigned integer'],
    ['boot CPU id out of range', () => writeDtb(new DeviceTree(), { bootCpuId: 2 ** 32 }), 'cannot write DTB: boot CPU id 4294967296 is not a 32-bit unsigned integer'],
    ['fractional boot CPU id', () => writeDtb(buildTree({}, { bootCpuId: 1.5 })), 'cannot write DTB: boot CPU id 1.5 is not a 32-bit unsigned integer'],
    ['negative padding', () => writeDtb(new DeviceTree(), { padding: -1 }), 'cannot write DTB: padding -1 is not a non-negative integer'],
    ['version 16', () => writeDtb(new DeviceTree(), { version: 16 as 17 }), 'cannot write DTB: version 16 is not supported; only 17 is written'],
  ];
  it.each(cases)('%s', (_what, write, message) => {
    expect(write).toThrowError(DeviceTreeError);
    expect(write).toThrowError(message);
    try {
      write();
    } catch (err) {
      expect((err as Error).message).toBe(message);
    }
  });
});

describe('readDtbFile / writeDtbFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-lab-dtb-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a file that reads back to the same tree, and names the file in errors', () => {
    const path = join(dir, 'board.dtb');
    writeDtbFile(path, sampleTree(), { padding: 8 });
    expect(readFileSync(path)).toEqual(Buffer.from(writeDtb(sampleTree(), { padding: 8 })));
    expect(snapshot(readDtbFile(path))).toEqual(snapshot(sampleTree()));

    const bad = join(dir, 'bad.dtb');
    writeFileSync(bad, Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
    expect(() => readDtbFile(bad)).toThrowError(`${bad}: byte offset 0x0: expected magic 0xd00dfeed, found 0xdeadbeef`);
  });

  it('reports a missing file as a DeviceTreeError naming it', () => {
    const path = join(dir, 'missing.dtb');
    expect(() => readDtbFile(path)).toThrowError(DeviceTreeError);
    expect(() => readDtbFile(path)).toThrowError(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read device tree blob: ENOENT`));
  });

  it('leaves nothing behind when the tree cannot be written', () => {
    const path = join(dir, 'never.dtb');
    const tree = buildTree({}, { reservations: [[0n, 0n]] });
    expect(() => writeDtbFile(path, tree)).toThrowError(DeviceTreeError);
    expect(() => writeDtbFile(join(dir, 'no-such-dir', 'x.dtb'), sampleTree())).toThrowError(/no-such-dir\/x\.dtb: cannot write device tree blob: ENOENT/);
    expect(readdirSync(dir).filter((f) => f.startsWith('never') || f.endsWith('.tmp'))).toEqual([]);
  });
});
