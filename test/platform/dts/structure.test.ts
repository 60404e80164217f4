// Nodes, labels, merging, deletion and the top-level statements.
import { describe, expect, it } from 'vitest';
import { parseDts } from '../../../src/platform/dts/index.js';
import { cellsHex, hexOf, parseError, parseRoot, paths, propHex, stringsHex } from './helpers.js';

describe('headers and memory reservations', () => {
  it('accepts repeated /dts-v1/; and reads /memreserve/ entries as 64-bit values', () => {
    const tree = parseDts(`/dts-v1/;
/dts-v1/;
/memreserve/ 0x80000000 0x80000;
lbl: /memreserve/ 0x1234567890 (1 << 40);
/ { };`);
    expect(tree.reservations).toEqual([
      { address: 0x80000000n, size: 0x80000n },
      { address: 0x1234567890n, size: 1n << 40n },
    ]);
    expect(paths(tree)).toEqual(['/']);
  });

  it('requires /dts-v1/; first', () => {
    expect(parseError('/ { };')).toBe("input.dts:1:1: expected '/dts-v1/;' at the start of the source (only version 1 DTS is supported), found '/'");
    expect(parseError('/dts-v1/\n/ { };')).toBe("input.dts:2:1: expected ';' after '/dts-v1/', found '/'");
  });

  it('rejects /memreserve/ after the first node and a source without a root node', () => {
    expect(parseError('/dts-v1/;\n/ { };\n/memreserve/ 0 1;')).toBe('input.dts:3:1: /memreserve/ entries must come before the first node');
    expect(parseError('/dts-v1/;\n/memreserve/ 0 1;\n')).toBe("input.dts:3:1: expected a root node '/ { ... };', found end of input");
  });
});

describe('nodes', () => {
  it('builds nested nodes with unit addresses and source locations', () => {
    const tree = parseDts('/dts-v1/;\n/ {\n\tsoc {\n\t\tserial@10000000 { reg = <0x10000000>; };\n\t};\n};\n', { file: 'b.dts' });
    expect(paths(tree)).toEqual(['/', '/soc', '/soc/serial@10000000']);
    const serial = tree.find('/soc/serial@10000000');
    expect(serial?.baseName).toBe('serial');
    expect(serial?.unitAddress).toBe('10000000');
    expect(serial?.location).toEqual({ file: 'b.dts', line: 4, column: 3 });
    expect(serial?.property('reg')?.location).toEqual({ file: 'b.dts', line: 4, column: 21 });
  });

  it('accepts every property-name character dtc does, and a \\-escaped name', () => {
    const tree = parseRoot('#address-cells = <2>; A?*#,.+_-9; \\delete-me = <1>; 1v8-supply;');
    expect(tree.root.properties.map((p) => p.name)).toEqual(['#address-cells', 'A?*#,.+_-9', 'delete-me', '1v8-supply']);
  });

  it('keeps properties and children in source order', () => {
    const tree = parseRoot('b; a; z {}; y {};');
    expect(tree.root.properties.map((p) => p.name)).toEqual(['b', 'a']);
    expect(tree.root.children.map((c) => c.name)).toEqual(['z', 'y']);
  });

  it('records node labels', () => {
    const tree = parseRoot('uart0: l2: serial@0 { };');
    expect(tree.byLabel('uart0')?.path).toBe('/serial@0');
    expect(tree.find('/serial@0')?.labels).toEqual(['uart0', 'l2']);
  });

  it('rejects bad node and property names, like dtc', () => {
    expect(parseError('/dts-v1/;\n/ { a#b { }; };')).toBe('input.dts:2:5: bad character \'#\' in node name "a#b"');
    expect(parseError('/dts-v1/;\n/ { a@1@2 { }; };')).toBe('input.dts:2:5: node name "a@1@2" has more than one \'@\'');
    expect(parseError('/dts-v1/;\n/ { a@b; };')).toBe('input.dts:2:5: bad character \'@\' in property name "a@b"');
  });

  it('rejects duplicate names within one new node, like dtc', () => {
    expect(parseError('/dts-v1/;\n/ { x = <1>; x = <2>; };')).toBe('input.dts:2:14: duplicate property name "x" in /');
    expect(parseError('/dts-v1/;\n/ { a { }; a { }; };')).toBe('input.dts:2:12: duplicate node name "a" in /');
  });

  it('requires properties before subnodes, like dtc', () => {
    expect(parseError('/dts-v1/;\n/ { a { };\n  x; };')).toBe('input.dts:3:3: properties must precede subnodes: x comes after a child node of /');
    expect(parseError('/dts-v1/;\n/ { a { }; /delete-property/ x; };')).toBe(
      'input.dts:2:12: properties must precede subnodes: /delete-property/ comes after a child node of /',
    );
  });
});

describe('merging', () => {
  it('merges repeated root nodes: properties replaced in place, new ones appended, children merged', () => {
    const tree = parseDts(`/dts-v1/;
/ { a = <1>; b = <2>; n { x = <1>; m { }; }; };
/ { c; a = <3>; n { x = "s"; y; k { }; }; o { }; };`);
    expect(tree.root.properties.map((p) => [p.name, hexOf(p.value)])).toEqual([
      ['a', cellsHex(3)],
      ['b', cellsHex(2)],
      ['c', ''],
    ]);
    expect(paths(tree)).toEqual(['/', '/n', '/n/m', '/n/k', '/o']);
    expect(propHex(tree, '/n', 'x')).toBe(stringsHex('s'));
    expect(tree.find('/n')?.properties.map((p) => p.name)).toEqual(['x', 'y']);
  });

  it('merges into a node named by &label, adding labels written before the reference', () => {
    const tree = parseDts(`/dts-v1/;
/ { soc { uart: serial@1000 { status = "disabled"; }; }; };
extra: &uart { status = "okay"; current-speed = <115200>; };
&extra { fifo { }; };`);
    const uart = tree.find('/soc/serial@1000');
    // As in dtc, labels added by a later statement come first.
    expect(uart?.labels).toEqual(['extra', 'uart']);
    expect(propHex(tree, '/soc/serial@1000', 'status')).toBe(stringsHex('okay'));
    expect(propHex(tree, '/soc/serial@1000', 'current-speed')).toBe(cellsHex(115200));
    expect(paths(tree)).toEqual(['/', '/soc', '/soc/serial@1000', '/soc/serial@1000/fifo']);
  });

  it('merges into a node named by &{/path}, matching names exactly', () => {
    const tree = parseDts(`/dts-v1/;
/ { soc { serial@1000 { }; }; };
&{/soc/serial@1000} { status = "okay"; };
&{/} { top; };`);
    expect(propHex(tree, '/soc/serial@1000', 'status')).toBe(stringsHex('okay'));
    expect(tree.root.has('top')).toBe(true);
    expect(parseError('/dts-v1/;\n/ { soc { serial@1000 { }; }; };\n&{/soc/serial} { };')).toBe(
      'input.dts:3:1: no node at path "/soc/serial" in a top-level node reference',
    );
  });

  it('names the label when a top-level reference is unknown (labels must be defined earlier)', () => {
    expect(parseError('/dts-v1/;\n/ { };\n&uart0 { status = "okay"; };')).toBe(
      'input.dts:3:1: unknown label "uart0" in a top-level node reference (no node has this label at this point)',
    );
    expect(parseError('/dts-v1/;\n/ { };\n&late { };\n/ { late: n { }; };')).toBe(
      'input.dts:3:1: unknown label "late" in a top-level node reference (no node has this label at this point)',
    );
  });

  it('merges a node repeated inside a merging body, as dtc does', () => {
    const tree = parseDts('/dts-v1/;\n/ { a { x; }; };\n/ { a { y; }; a { z; }; };');
    expect(tree.find('/a')?.properties.map((p) => p.name)).toEqual(['x', 'y', 'z']);
  });

  it('lets a merging body redefine a property', () => {
    const tree = parseDts('/dts-v1/;\n/ { x = <1>; };\n/ { x = <2>; x = <3>; };');
    expect(propHex(tree, '/', 'x')).toBe(cellsHex(3));
  });
});

describe('deletion', () => {
  it('/delete-property/ removes a property, and may be followed by a new definition', () => {
    const tree = parseDts(`/dts-v1/;
/ { a = <1>; b = <2>; c = <3>; };
/ { /delete-property/ b; /delete-property/ not-there; /delete-property/ c; c = <4>; };`);
    expect(tree.root.properties.map((p) => [p.name, hexOf(p.value)])).toEqual([
      ['a', cellsHex(1)],
      ['c', cellsHex(4)],
    ]);
  });

  it('/delete-node/ name removes a child by its exact name', () => {
    const tree = parseDts(`/dts-v1/;
/ { a@1 { }; b { c { }; }; d { }; };
/ { /delete-node/ a; /delete-node/ b; /delete-node/ missing; };`);
    expect(paths(tree)).toEqual(['/', '/a@1', '/d']);
    const tree2 = parseDts('/dts-v1/;\n/ { a@1 { }; };\n/ { /delete-node/ a@1; };');
    expect(paths(tree2)).toEqual(['/']);
  });

  it('revives a deleted node or property at its old position when a later merge redefines it, as dtc does', () => {
    const tree = parseDts(`/dts-v1/;
/ { a; b = <1>; c; n { p; x { }; y { }; z { old; }; }; m { }; };
/ { /delete-property/ b; /delete-node/ n; };
/ { b = <2>; n { z { new; }; w { }; }; };`);
    expect(tree.root.properties.map((p) => [p.name, hexOf(p.value)])).toEqual([
      ['a', ''],
      ['b', cellsHex(2)],
      ['c', ''],
    ]);
    // n keeps its place before m; of its old contents only what was redefined comes back.
    expect(paths(tree)).toEqual(['/', '/n', '/n/z', '/n/w', '/m']);
    expect(tree.find('/n')?.properties).toEqual([]);
    expect(tree.find('/n/z')?.properties.map((p) => p.name)).toEqual(['new']);
  });

  it('a deletion inside the body that first creates a node does not apply, as in dtc', () => {
    // dtc builds the new node before merging anything, so the deletion has nothing to act on.
    const tree = parseRoot('x = <1>; /delete-property/ x;');
    expect(propHex(tree, '/', 'x')).toBe(cellsHex(1));
    expect(parseError('/dts-v1/;\n/ { a { }; /delete-node/ a; };')).toBe(
      'input.dts:2:26: duplicate node name "a" in /: /delete-node/ cannot delete a sibling inside the body that first defines their parent ' +
        '(dtc treats both as children); delete it in a later reference to the parent',
    );
    expect(parseError('/dts-v1/;\n/ { /delete-node/ a; a { }; };')).toMatch(/^input\.dts:2:22: duplicate node name "a" in \//);
  });

  it('/delete-node/ &label and &{/path} at the top level remove the node and its labels', () => {
    const tree = parseDts(`/dts-v1/;
/ { soc { t: test@100 { inner: i { }; }; keep { }; other@2 { }; }; };
/delete-node/ &t;
/delete-node/ &{/soc/other@2};`);
    expect(paths(tree)).toEqual(['/', '/soc', '/soc/keep']);
    expect(tree.byLabel('inner')).toBeUndefined();
    expect(parseError('/dts-v1/;\n/ { t: n { }; };\n/delete-node/ &t;\n/ { p = <&t>; };')).toBe(
      'input.dts:4:10: reference to unknown label "t" in property "p" of /',
    );
    expect(parseError('/dts-v1/;\n/ { };\n/delete-node/ &gone;')).toBe(
      'input.dts:3:15: unknown label "gone" after /delete-node/ (no node has this label at this point)',
    );
    expect(parseError('/dts-v1/;\n/ { };\n/delete-node/ &{/};')).toBe('input.dts:3:15: /delete-node/ cannot delete the root node');
  });
});

describe('/omit-if-no-ref/', () => {
  it('removes marked nodes that nothing references, and keeps referenced ones', () => {
    const tree = parseDts(`/dts-v1/;
/ {
	/omit-if-no-ref/ a: a { };
	b: b { };
	/omit-if-no-ref/ c: c { };
	/omit-if-no-ref/ d: d { };
	user { p = <&c>; q = &d; };
};
/omit-if-no-ref/ &b;
&a { merged; };`);
    // A merge (&a { }) is not a reference, as in dtc.
    expect(paths(tree)).toEqual(['/', '/c', '/d', '/user']);
    expect(propHex(tree, '/user', 'p')).toBe(cellsHex(1));
    expect(propHex(tree, '/c', 'phandle')).toBe(cellsHex(1));
    expect(propHex(tree, '/user', 'q')).toBe(stringsHex('/d'));
  });
});

describe('symbols (dtc -@)', () => {
  it('maps every label to its path in /__symbols__ and gives labelled nodes phandles', () => {
    const tree = parseDts(
      `/dts-v1/;
/ { p = <&y>; a: b: n { }; l: m { }; x { y: z { }; }; };
q: &l { };`,
      { symbols: true },
    );
    const symbols = tree.find('/__symbols__');
    expect(symbols?.properties.map((p) => [p.name, symbols.string(p.name)])).toEqual([
      ['a', '/n'],
      ['b', '/n'],
      ['q', '/m'],
      ['l', '/m'],
      ['y', '/x/z'],
    ]);
    // The reference allocates first; then the labelled nodes in tree order.
    expect([tree.find('/x/z'), tree.find('/n'), tree.find('/m')].map((n) => n?.u32('phandle'))).toEqual([1, 2, 3]);
    expect(parseDts('/dts-v1/;\n/ { l: n { }; };').find('/__symbols__')).toBeUndefined();
    expect(paths(parseDts('/dts-v1/;\n/ { n { }; };', { symbols: true }))).toEqual(['/', '/n']);
  });
});

describe('name properties', () => {
  it('drops a "name" property equal to the node name without unit address, like dtc', () => {
    const tree = parseRoot('name = ""; memory@0 { name = "memory"; device_type = "memory"; };');
    expect(tree.root.has('name')).toBe(false);
    expect(tree.find('/memory@0')?.properties.map((p) => p.name)).toEqual(['device_type']);
  });

  it('rejects a "name" property that disagrees with the node name', () => {
    expect(parseError('/dts-v1/;\n/ { memory@0 { name = "mem"; }; };')).toBe(
      'input.dts:2:16: /memory@0: "name" property is incorrect ("mem" instead of base node name)',
    );
    expect(parseError('/dts-v1/;\n/ { n { name = <1>; }; };')).toBe('input.dts:2:9: /n: property "name" is not a string');
  });
});

describe('labels', () => {
  it('rejects a label used on two nodes, naming both', () => {
    expect(parseError('/dts-v1/;\n/ { l: a { }; };\n/ { l: b { }; };')).toBe('input.dts:3:5: duplicate label "l" on /b (already on /a)');
  });

  it('allows the same label on the same node twice', () => {
    const tree = parseDts('/dts-v1/;\n/ { l: a { }; };\n/ { l: a { }; };\nl: &l { };');
    expect(tree.find('/a')?.labels).toEqual(['l']);
  });

  it('counts property and value labels in the duplicate check', () => {
    expect(parseError('/dts-v1/;\n/ { x = <l: 1>; l: a { }; };')).toBe('input.dts:2:17: duplicate label "l" on /a (already on property x of /)');
    expect(parseError('/dts-v1/;\n/ { x = <1>, l: [00]; y = l: "s"; };')).toBe(
      'input.dts:2:27: duplicate label "l" on property y of / (already on property x of /)',
    );
  });

  it('rejects a label on the root node and a dangling label', () => {
    expect(parseError('/dts-v1/;\nr: / { };')).toBe("input.dts:2:1: a label cannot be attached to the root node '/' (label 'r:')");
    expect(parseError('/dts-v1/;\n/ { };\nl:')).toBe("input.dts:3:3: expected a node reference after label 'l:', found end of input");
  });
});

describe('property labels across merges', () => {
  it('keeps a redefined property\'s earlier labels for the duplicate check, as dtc does', () => {
    expect(parseError('/dts-v1/;\n/ { l: x; };\n/ { x = <1>; };\n/ { l: n { }; };')).toBe(
      'input.dts:4:5: duplicate label "l" on /n (already on property x of /)',
    );
    const tree = parseDts('/dts-v1/;\n/ { l: x; };\n/ { l: x = <2>; };');
    expect(propHex(tree, '/', 'x')).toBe(cellsHex(2));
  });
});

describe('/omit-if-no-ref/ with symbols', () => {
  it('keeps labelled nodes, since an overlay may refer to them (as dtc -@ does)', () => {
    const tree = parseDts('/dts-v1/;\n/ { /omit-if-no-ref/ x { }; /omit-if-no-ref/ l: y { }; };', { symbols: true });
    expect(paths(tree)).toEqual(['/', '/y', '/__symbols__']);
    expect(propHex(tree, '/y', 'phandle')).toBe(cellsHex(1));
  });
});
