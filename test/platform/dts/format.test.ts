// formatDts: dtc-style DTS output whose representation is guessed from the bytes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceTree, DtNode } from '../../../src/formats/devicetree/tree.js';
import { formatDts, formatValue, parseDts, parseDtsFile } from '../../../src/platform/dts/index.js';
import { bytes } from './helpers.js';

const FIXTURES = new URL('../../fixtures/dts/', import.meta.url).pathname;

/** Everything a DTS round trip must keep: node paths, labels, property names and bytes. */
function snapshot(tree: DeviceTree): unknown {
  const nodes = [...tree.root.walk()].map((n) => ({
    path: n.path,
    labels: n.labels,
    props: n.properties.map((p) => [p.name, Array.from(p.value)]),
  }));
  return { reservations: tree.reservations, nodes };
}

describe('formatValue chooses the representation like dtc', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['61 62 63 00', ' = "abc"'],
    ['61 00 62 00', ' = "a", "b"'],
    ['61 62 63 00 00 64 00', ' = "abc", "", "d"'],
    ['61 09 0a 5c 22 07 08 0b 0c 0d 00', ' = "a\\t\\n\\\\\\"\\a\\b\\v\\f\\r"'],
    ['00', ' = [00]'], // more NULs than text: not a string
    ['00 61 00', ' = [00 61 00]'],
    ['00 00 00 01', ' = <0x01>'],
    ['00 00 00 00 00 01 00 00', ' = <0x00 0x10000>'],
    ['ff ff ff ff', ' = <0xffffffff>'],
    ['61 62 63 64', ' = <0x61626364>'], // no NUL at the end
    ['c2 b5 00', ' = [c2 b5 00]'], // non-ASCII is not printable
    ['01 02 03', ' = [01 02 03]'],
    ['7f 00', ' = [7f 00]'],
  ];
  for (const [hex, text] of cases) {
    it(`${hex || '(empty)'} → ${text || '(nothing)'}`, () => expect(formatValue(bytes(hex))).toBe(text));
  }
});

describe('formatDts', () => {
  it('lays the tree out like dtc -O dts', () => {
    const tree = parseDts(`/dts-v1/;
/memreserve/ 0x80000000 0x80000;
/ {
	#address-cells = <2>;
	compatible = "a", "b";
	uart: serial@1000 { reg = <0 0x1000>; dma-coherent; mac = [00 11 22 33 44 55]; };
	user { clocks = <&uart>; };
};`);
    expect(formatDts(tree)).toBe(
      [
        '/dts-v1/;',
        '',
        '/memreserve/\t0x0000000080000000 0x0000000000080000;',
        '/ {',
        '\t#address-cells = <0x02>;',
        '\tcompatible = "a", "b";',
        '',
        '\tuart: serial@1000 {',
        '\t\treg = <0x00 0x1000>;',
        '\t\tdma-coherent;',
        '\t\tmac = [00 11 22 33 44 55];',
        '\t\tphandle = <0x01>;',
        '\t};',
        '',
        '\tuser {',
        '\t\tclocks = <0x01>;',
        '\t};',
        '};',
        '',
      ].join('\n'),
    );
  });

  it('prints an empty tree and a hand-built one', () => {
    expect(formatDts(new DeviceTree())).toBe('/dts-v1/;\n\n/ {\n};\n');
    const tree = new DeviceTree();
    const n = tree.root.addChild(new DtNode('n@1'));
    n.labels.push('l1', 'l2');
    n.set('x', bytes('00 00 00 2a'));
    expect(formatDts(tree)).toBe('/dts-v1/;\n\n/ {\n\n\tl1: l2: n@1 {\n\t\tx = <0x2a>;\n\t};\n};\n');
  });

  it('round-trips the fixtures: parse(format(parse(x))) equals parse(x)', () => {
    for (const file of ['riscv-virt-iommu.dts', 'qemu-arm-virt-dump.dts']) {
      const first = parseDtsFile(`${FIXTURES}${file}`, { includeDirs: [`${FIXTURES}include`] });
      const text = formatDts(first);
      const second = parseDts(text, { file: 'formatted.dts' });
      expect(snapshot(second), file).toEqual(snapshot(first));
      expect(formatDts(second), file).toBe(text);
    }
  });

  it('prints the QEMU dump in the form it was read (apart from string lists)', () => {
    const source = readFileSync(`${FIXTURES}qemu-arm-virt-dump.dts`, 'utf8');
    const printed = formatDts(parseDts(source));
    // dtc 1.6 writes string lists with embedded \0; formatDts writes "a", "b" instead.
    const normalised = source.replace(/"([^"]*)"/g, (_m, s: string) => s.split('\\0').map((x) => `"${x}"`).join(', '));
    expect(printed).toBe(normalised);
  });
});
