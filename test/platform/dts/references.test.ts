// Phandle and path references: resolved after the whole source is read, phandles allocated
// the way dtc allocates them.
import { describe, expect, it } from 'vitest';
import { parseDts } from '../../../src/platform/dts/index.js';
import { cellsHex, hexOf, parseError, parseRoot, propHex, stringsHex } from './helpers.js';

describe('phandle references in cells', () => {
  it('allocates phandles from 1 in reference order and appends a phandle property to each target', () => {
    const tree = parseRoot(`
	user { a = <&second 7 &first>; b = <&first>; };
	first: first { compatible = "x"; };
	second: second { };`);
    expect(propHex(tree, '/user', 'a')).toBe(cellsHex(1, 7, 2));
    expect(propHex(tree, '/user', 'b')).toBe(cellsHex(2));
    expect(propHex(tree, '/second', 'phandle')).toBe(cellsHex(1));
    expect(propHex(tree, '/first', 'phandle')).toBe(cellsHex(2));
    expect(tree.find('/first')?.properties.map((p) => p.name)).toEqual(['compatible', 'phandle']);
    expect(tree.byPhandle(2)?.path).toBe('/first');
  });

  it('resolves forward references and references to nodes added by later merges', () => {
    const tree = parseDts(`/dts-v1/;
/ { dev { iommus = <&iommu 5>; }; };
/ { iommu: iommu@1000 { #iommu-cells = <1>; }; };`);
    expect(propHex(tree, '/dev', 'iommus')).toBe(cellsHex(1, 5));
  });

  it('uses explicit phandles and skips values already taken', () => {
    const tree = parseRoot(`
	x = <&{/b} &{/c} &{/a} &{/d} &{/e}>;
	a { phandle = <2>; };
	b { };
	c { };
	d { };
	e { linux,phandle = <4>; };`);
    expect(propHex(tree, '/', 'x')).toBe(cellsHex(1, 3, 2, 5, 4));
    expect(tree.find('/e')?.has('phandle')).toBe(false);
  });

  it('resolves path references in cells, including the root', () => {
    const tree = parseRoot('x = <&{/} &{/n@1}>; n@1 { };');
    expect(propHex(tree, '/', 'x')).toBe(cellsHex(1, 2));
    expect(propHex(tree, '/', 'phandle')).toBe(cellsHex(1));
  });

  it('a node referencing itself gets a phandle too', () => {
    const tree = parseRoot('self: n { me = <&self>; };');
    expect(tree.find('/n')?.properties.map((p) => [p.name, p.value.length])).toEqual([
      ['me', 4],
      ['phandle', 4],
    ]);
    expect(propHex(tree, '/n', 'me')).toBe(cellsHex(1));
  });

  it('the reference is to the node, wherever its label was attached', () => {
    const tree = parseDts('/dts-v1/;\n/ { n { }; };\nlate: &{/n} { };\n/ { p = <&late>; };');
    expect(propHex(tree, '/', 'p')).toBe(cellsHex(1));
    expect(propHex(tree, '/n', 'phandle')).toBe(cellsHex(1));
  });

  it('names an unknown label, and says when it labels a property instead of a node', () => {
    expect(parseError('/dts-v1/;\n/ { dev { iommus = <&iommu 5>; }; };')).toBe(
      'input.dts:2:21: reference to unknown label "iommu" in property "iommus" of /dev',
    );
    expect(parseError('/dts-v1/;\n/ { pl: x = <1>; p = <&pl>; };')).toBe(
      'input.dts:2:23: reference to unknown label "pl" in property "p" of / (it labels a property or value, not a node)',
    );
    expect(parseError('/dts-v1/;\n/ { p = <&{/no/such}>; };')).toBe(
      'input.dts:2:10: reference &{/no/such} in property "p" of /: no node at path "/no/such"',
    );
  });

  it('a phandle property referring to its own node asks for a phandle to be allocated', () => {
    const tree = parseRoot('x = <&c>; a: a { linux,phandle = <&a>; }; c: c { phandle = <&c>; };');
    // References are fixed up in tree order: /'s x (for c), then /a's own linux,phandle.
    expect(propHex(tree, '/c', 'phandle')).toBe(cellsHex(1));
    expect(tree.find('/c')?.properties.map((p) => p.name)).toEqual(['phandle']);
    expect(tree.find('/a')?.properties.map((p) => [p.name, hexOf(p.value)])).toEqual([
      ['linux,phandle', cellsHex(2)],
      ['phandle', cellsHex(2)],
    ]);
    expect(parseError('/dts-v1/;\n/ { a { phandle = <&b>; }; b: b { }; };')).toBe('input.dts:2:9: /a: property phandle is a reference to another node');
  });

  it('checks explicit phandles like dtc', () => {
    expect(parseError('/dts-v1/;\n/ { a { phandle = <1>; }; b { phandle = <1>; }; };')).toBe(
      'input.dts:2:31: /b: duplicate phandle 0x1 (already used by /a)',
    );
    expect(parseError('/dts-v1/;\n/ { a { phandle = <0>; }; };')).toBe('input.dts:2:9: /a: property phandle has bad value 0x0');
    expect(parseError('/dts-v1/;\n/ { a { phandle = <0xffffffff>; }; };')).toBe('input.dts:2:9: /a: property phandle has bad value 0xffffffff');
    expect(parseError('/dts-v1/;\n/ { a { phandle = [01]; }; };')).toBe('input.dts:2:9: /a: property phandle has bad length 1 (must be 4 bytes)');
    expect(parseError('/dts-v1/;\n/ { a { phandle = <1>; linux,phandle = <2>; }; };')).toBe(
      "input.dts:2:24: /a: mismatching 'phandle' and 'linux,phandle' properties",
    );
  });
});

describe('path references outside cells', () => {
  it('become the full path of the target and a NUL', () => {
    const tree = parseDts(`/dts-v1/;
/ {
	aliases { serial0 = &uart0; root = &{/}; both = &uart0, "x", &{/soc}; };
	chosen { stdout-path = &uart0; };
	soc { uart0: serial@10000000 { }; };
};`);
    expect(propHex(tree, '/chosen', 'stdout-path')).toBe(stringsHex('/soc/serial@10000000'));
    expect(propHex(tree, '/aliases', 'root')).toBe(stringsHex('/'));
    expect(propHex(tree, '/aliases', 'both')).toBe(stringsHex('/soc/serial@10000000', 'x', '/soc'));
    expect(tree.alias('serial0')?.path).toBe('/soc/serial@10000000');
    // A path reference allocates no phandle.
    expect(tree.find('/soc/serial@10000000')?.has('phandle')).toBe(false);
  });

  it('use the final path, after later merges and deletions', () => {
    const tree = parseDts(`/dts-v1/;
/ { a = &n; x { n: n@1 { }; }; };
/ { /delete-property/ unused; };`);
    expect(propHex(tree, '/', 'a')).toBe(stringsHex('/x/n@1'));
  });
});
