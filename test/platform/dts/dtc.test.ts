// Byte-for-byte agreement with the reference compiler: each source is compiled by
// `dtc -I dts -O dtb`, the blob is read back with readDtb, and every node, property (name,
// order and bytes) and memory reservation must equal what parseDts built. Skipped when
// dtc is not installed; CI installs it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceTree } from '../../../src/formats/devicetree/tree.js';
import { readDtb } from '../../../src/formats/dtb/index.js';
import { formatDts, parseDts, parseDtsFile } from '../../../src/platform/dts/index.js';
import { haveDtc, hexOf } from './helpers.js';

const FIXTURES = new URL('../../fixtures/dts/', import.meta.url).pathname;

if (!haveDtc) {
  console.warn('test/platform/dts/dtc.test.ts: dtc not found, comparisons with dtc SKIPPED (apt-get install device-tree-compiler)');
}

function compile(file: string, includeDirs: string[] = [], extra: string[] = []): { ok: true; tree: DeviceTree } | { ok: false; stderr: string } {
  const args = ['-q', '-I', 'dts', '-O', 'dtb', ...extra, ...includeDirs.flatMap((d) => ['-i', d]), file];
  const r = spawnSync('dtc', args, { encoding: 'buffer' });
  if (r.status !== 0) return { ok: false, stderr: r.stderr.toString('utf8') };
  return { ok: true, tree: readDtb(new Uint8Array(r.stdout), { file: `${file} (dtc output)` }) };
}

/** One line per node and per property: easy to read when a comparison fails. */
function listing(tree: DeviceTree): string[] {
  const out = tree.reservations.map((r) => `/memreserve/ 0x${r.address.toString(16)} 0x${r.size.toString(16)}`);
  for (const node of tree.root.walk()) {
    out.push(`${node.path} {`);
    for (const p of node.properties) out.push(`  ${p.name} = [${hexOf(p.value)}]`);
  }
  return out;
}

const SNIPPETS: Record<string, string> = {
  values: String.raw`/dts-v1/;
/memreserve/ 0x1000 0x2000;
/memreserve/ 0xffffffff00000000 (1 << 40);
/ {
	empty;
	s = "a\tb\"\\\x41\101\q", "", "µ";
	c = <1 0x10 010 4294967295 'a' '\n' (-1) (~0) (!5)>;
	e = <(1 + 2 * 3) ((1 + 2) * 3) (7 / 2) (7 % 3) (1 << 31) (0x80000000 >> 31) (6 & 3) (6 | 3) (6 ^ 3)>;
	f = <(1 && 2) (0 || 0) (1 ? 2 : 3) (0 ? 2 : 0 ? 3 : 4) (1 < 2) (2 <= 1) (3 > 2) (3 >= 4) (5 == 5) (5 != 5) ((-1) > 0)>;
	g = /bits/ 8 <1 (-1) 0xff (-128)>, /bits/ 16 <0xabcd (-2)>, /bits/ 64 <0x123456789abcdef0 (-1)>;
	h = [00 11 2233 aB], "x", <l: 5 m:> n:, [];
	i = <>, [], "";
	u = <1U 2L 3UL 4LL 5ULL>;
};`,
  references: String.raw`/dts-v1/;
/ {
	user { a = <&second 7 &first>; b = <&first &{/}>; c = &first, "x", &{/second}; };
	first: first { compatible = "x"; };
	second: second { };
	fixed { phandle = <2>; };
	legacy { linux,phandle = <4>; };
	others { x = <&{/fixed} &{/legacy} &{/others} &self>; self: s { me = <&self>; }; };
};`,
  merging: String.raw`/dts-v1/;
/ { a = <1>; b = <2>; soc { uart: serial@1000 { status = "disabled"; clk = <5>; }; t: test { }; keep { }; gone@1 { }; }; };
/ { c; a = <3>; soc { x { }; }; };
extra: &uart { status = "okay"; /delete-property/ clk; fifo { depth = <16>; }; };
&extra { fifo { width = <4>; }; };
&{/soc} { /delete-node/ keep; /delete-node/ gone; };
/delete-node/ &t;
/ { r = <&o2>; /omit-if-no-ref/ o1: o1 { }; /omit-if-no-ref/ o2: o2 { }; o3: o3 { }; };
/omit-if-no-ref/ &o3;`,
  deletion: String.raw`/dts-v1/;
/ { a; b = <1>; c; n { p; x { }; y { }; z { old; }; }; m { }; };
/ { /delete-property/ b; /delete-node/ n; };
/ { b = <2>; n { z { new; }; w { }; }; };
/ { fresh { x = <1>; /delete-property/ x; }; };`,
  'self phandles and name properties': String.raw`/dts-v1/;
/ { x = <&c>; name = ""; a: a { linux,phandle = <&a>; }; c: c { phandle = <&c>; }; memory@0 { name = "memory"; reg = <0>; }; };`,
  overlay: String.raw`/dts-v1/;
/plugin/;
&i2c1 {
	#address-cells = <1>;
	lcl: sensor@48 { compatible = "ti,tmp102"; reg = <0x48>; interrupt-parent = <&gpio1>; other = <&lcl 1 &gpio1 &lcl2>; };
	lcl2: x { p = &lcl; };
};
&{/soc/uart@1000} { status = "okay"; q = <&gpio2 &{/abs/path}>; };
/ { fragment@9 { target = <&foo>; __overlay__ { z = <&lcl>; }; }; };
&gpio1 { more; };
&lcl { merged-locally; };
&{/fragment@9} { path-ref-in-overlay-is-a-fragment; };`,
  names: String.raw`/dts-v1/;
/ {
	#address-cells = <2>;
	A?*#,.+_-9;
	\delete-me = <1>;
	1v8-supply;
	node_with.odd,chars+-@1,2 { };
};`,
};

describe.skipIf(!haveDtc)('agreement with dtc -I dts -O dtb', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-lab-dtc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fixtures: [string, string[]][] = [
    ['riscv-virt-iommu.dts', [`${FIXTURES}include`]],
    ['qemu-arm-virt-dump.dts', []],
  ];
  for (const [name, includeDirs] of fixtures) {
    it(`fixture ${name}`, () => {
      const ours = parseDtsFile(`${FIXTURES}${name}`, { includeDirs });
      const theirs = compile(`${FIXTURES}${name}`, includeDirs);
      if (!theirs.ok) throw new Error(`dtc failed: ${theirs.stderr}`);
      expect(listing(ours)).toEqual(listing(theirs.tree));
    });
  }

  for (const [name, text] of Object.entries(SNIPPETS)) {
    it(`snippet "${name}"`, () => {
      const file = join(dir, `${name}.dts`);
      writeFileSync(file, text);
      const theirs = compile(file);
      if (!theirs.ok) throw new Error(`dtc failed: ${theirs.stderr}`);
      expect(listing(parseDts(text))).toEqual(listing(theirs.tree));
    });
  }

  it('symbols: the fixture and an overlay with dtc -@', () => {
    const includeDirs = [`${FIXTURES}include`];
    const theirs = compile(`${FIXTURES}riscv-virt-iommu.dts`, includeDirs, ['-@']);
    if (!theirs.ok) throw new Error(`dtc failed: ${theirs.stderr}`);
    expect(listing(parseDtsFile(`${FIXTURES}riscv-virt-iommu.dts`, { includeDirs, symbols: true }))).toEqual(listing(theirs.tree));
    const file = join(dir, 'overlay-symbols.dts');
    const text = SNIPPETS.overlay;
    writeFileSync(file, text);
    const overlay = compile(file, [], ['-@']);
    if (!overlay.ok) throw new Error(`dtc failed: ${overlay.stderr}`);
    expect(listing(parseDts(text, { symbols: true }))).toEqual(listing(overlay.tree));
  });

  it('include, incbin and cpp line markers', () => {
    writeFileSync(join(dir, 'blob.bin'), Uint8Array.from([1, 2, 3, 4, 5, 6, 7]));
    writeFileSync(join(dir, 'inc.dtsi'), '/ { from-include = <1>; bin = /incbin/("blob.bin", 2, 4); };\n');
    const text = '# 1 "x.dts"\n/dts-v1/;\n/include/ "inc.dtsi"\n# 20 "elsewhere.dts"\n/ { all = /incbin/("blob.bin"); };\n';
    const file = join(dir, 'main.dts');
    writeFileSync(file, text);
    const theirs = compile(file);
    if (!theirs.ok) throw new Error(`dtc failed: ${theirs.stderr}`);
    expect(listing(parseDtsFile(file))).toEqual(listing(theirs.tree));
  });

  it('formatDts output compiles with dtc to the same tree', () => {
    const ours = parseDtsFile(`${FIXTURES}riscv-virt-iommu.dts`, { includeDirs: [`${FIXTURES}include`] });
    const file = join(dir, 'formatted.dts');
    writeFileSync(file, formatDts(ours));
    const theirs = compile(file);
    if (!theirs.ok) throw new Error(`dtc failed: ${theirs.stderr}`);
    expect(listing(theirs.tree)).toEqual(listing(ours));
  });

  // Sources both must reject: the parser is no more permissive than dtc here.
  const invalid: Record<string, string> = {
    'no header': '/ { };',
    'unparenthesised expression': '/dts-v1/;\n/ { a = <1 -1>; };',
    'cell out of range': '/dts-v1/;\n/ { a = <0x100000000>; };',
    'bits out of range': '/dts-v1/;\n/ { a = /bits/ 8 <256>; };',
    'bad bits': '/dts-v1/;\n/ { a = /bits/ 7 <1>; };',
    'reference in bits 16': '/dts-v1/;\n/ { l: n { }; };\n/ { a = /bits/ 16 <&l>; };',
    'division by zero': '/dts-v1/;\n/ { a = <(0 && (1 / 0))>; };',
    'octal 08': '/dts-v1/;\n/ { a = <08>; };',
    'two-character char literal': "/dts-v1/;\n/ { a = <'ab'>; };",
    'odd byte string': '/dts-v1/;\n/ { a = [001]; };',
    'unknown label': '/dts-v1/;\n/ { a = <&nope>; };',
    'unknown path': '/dts-v1/;\n/ { a = <&{/nope}>; };',
    'path without unit address': '/dts-v1/;\n/ { n@1 { }; a = &{/n}; };',
    'top-level label defined later': '/dts-v1/;\n/ { };\n&l { };\n/ { l: n { }; };',
    'duplicate label': '/dts-v1/;\n/ { l: a { }; l: b { }; };',
    'duplicate property': '/dts-v1/;\n/ { x; x; };',
    'duplicate node': '/dts-v1/;\n/ { a { }; a { }; };',
    'property after subnode': '/dts-v1/;\n/ { a { }; x; };',
    'bad node name': '/dts-v1/;\n/ { a#b { }; };',
    'two @ in node name': '/dts-v1/;\n/ { a@1@2 { }; };',
    'bad property name': '/dts-v1/;\n/ { a@b; };',
    'duplicate phandle': '/dts-v1/;\n/ { a { phandle = <1>; }; b { phandle = <1>; }; };',
    'phandle zero': '/dts-v1/;\n/ { a { phandle = <0>; }; };',
    'label on root': '/dts-v1/;\nr: / { };',
    'memreserve after root': '/dts-v1/;\n/ { };\n/memreserve/ 0 1;',
    'cpp include': '/dts-v1/;\n#include "x.h"\n/ { };',
    'missing semicolon': '/dts-v1/;\n/ { a = <1> };',
  };
  for (const [name, text] of Object.entries(invalid)) {
    it(`both reject: ${name}`, () => {
      const file = join(dir, `invalid-${name.replace(/\W+/g, '-')}.dts`);
      writeFileSync(file, text);
      expect(compile(file).ok, 'dtc accepted it').toBe(false);
      expect(() => parseDts(text)).toThrow();
    });
  }
});
