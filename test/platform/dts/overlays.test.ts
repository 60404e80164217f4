// /plugin/ overlays, compiled the way dtc 1.6 compiles them: fragments for references to the
// base tree, 0xffffffff phandles with __fixups__, and __local_fixups__ for the overlay's own.
import { describe, expect, it } from 'vitest';
import { parseDts } from '../../../src/platform/dts/index.js';
import { cellsHex, hexOf, parseError, paths, propHex, stringsHex } from './helpers.js';

describe('/plugin/ overlays', () => {
  const tree = parseDts(`/dts-v1/;
/plugin/;

&i2c1 {
	#address-cells = <1>;
	sensor: sensor@48 {
		reg = <0x48>;
		interrupt-parent = <&gpio1>;
		other = <&sensor 1 &gpio1>;
	};
	mux { sensor-path = &sensor; };
};

&{/soc/uart@1000} {
	status = "okay";
};

&gpio1 {
	line-name = "sensor-irq";
};

&sensor {
	merged-locally;
};`);

  it('turns each reference to the base tree into a numbered fragment', () => {
    expect(paths(tree)).toEqual([
      '/',
      '/fragment@0',
      '/fragment@0/__overlay__',
      '/fragment@0/__overlay__/sensor@48',
      '/fragment@0/__overlay__/mux',
      '/fragment@1',
      '/fragment@1/__overlay__',
      '/fragment@2',
      '/fragment@2/__overlay__',
      '/__fixups__',
      '/__local_fixups__',
      '/__local_fixups__/fragment@0',
      '/__local_fixups__/fragment@0/__overlay__',
      '/__local_fixups__/fragment@0/__overlay__/sensor@48',
    ]);
    expect(propHex(tree, '/fragment@0', 'target')).toBe(cellsHex(0xffffffff));
    expect(propHex(tree, '/fragment@1', 'target-path')).toBe(stringsHex('/soc/uart@1000'));
    expect(propHex(tree, '/fragment@2', 'target')).toBe(cellsHex(0xffffffff));
  });

  it('merges a reference to a label the overlay defines itself', () => {
    expect(tree.find('/fragment@0/__overlay__/sensor@48')?.properties.map((p) => p.name)).toEqual([
      'reg',
      'interrupt-parent',
      'other',
      'merged-locally',
      'phandle',
    ]);
  });

  it('resolves local references, leaves unresolved ones as 0xffffffff and records both', () => {
    expect(propHex(tree, '/fragment@0/__overlay__/sensor@48', 'other')).toBe(cellsHex(1, 1, 0xffffffff));
    expect(propHex(tree, '/fragment@0/__overlay__/mux', 'sensor-path')).toBe(stringsHex('/fragment@0/__overlay__/sensor@48'));
    expect(tree.find('/__fixups__')?.properties.map((p) => [p.name, tree.find('/__fixups__')?.strings(p.name)])).toEqual([
      ['i2c1', ['/fragment@0:target:0']],
      [
        'gpio1',
        [
          '/fragment@0/__overlay__/sensor@48:interrupt-parent:0',
          '/fragment@0/__overlay__/sensor@48:other:8',
          '/fragment@2:target:0',
        ],
      ],
    ]);
    const local = tree.find('/__local_fixups__/fragment@0/__overlay__/sensor@48');
    expect(local?.properties.map((p) => [p.name, hexOf(p.value)])).toEqual([['other', cellsHex(0)]]);
  });

  it('still rejects unknown path references outside cells', () => {
    expect(parseError('/dts-v1/;\n/plugin/;\n&a { p = &b; };')).toBe('input.dts:3:10: reference to unknown label "b" in property "p" of /fragment@0/__overlay__');
  });

  it('accepts an overlay written with explicit fragments', () => {
    const t = parseDts('/dts-v1/;\n/plugin/;\n/ { fragment@0 { target = <&foo>; __overlay__ { x = <1>; }; }; };');
    expect(t.find('/__fixups__')?.strings('foo')).toEqual(['/fragment@0:target:0']);
  });

  it('needs at least one node or node reference', () => {
    expect(parseError('/dts-v1/;\n/plugin/;\n')).toBe(
      "input.dts:3:1: expected a root node '/ { ... };' or a node reference '&label { ... };', found end of input",
    );
  });
});
