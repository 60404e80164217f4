// Phandle-with-arguments lists (Devicetree Specification v0.4, 2.4 "Interrupts and Interrupt
// Mapping" for interrupts-extended; the iommus binding for #iommu-cells).
import { describe, expect, it } from 'vitest';
import { phandleSpecifiers } from '../../../src/formats/devicetree/specifiers.js';
import { parseDts } from '../../../src/platform/dts/index.js';

const tree = parseDts(`/dts-v1/;
/ {
  a: ctl-a { #interrupt-cells = <1>; };
  b: ctl-b { #interrupt-cells = <2>; };
  c: no-cells { };
  good { interrupts-extended = <&a 9>, <&b 3 4>, <&a 11>; };
  dangling { interrupts-extended = <77 1>; };
  uncounted { interrupts-extended = <&c 1>; };
  short { interrupts-extended = <&b 3>; };
};`);

const read = (path: string) => {
  const node = tree.find(path);
  if (node === undefined) throw new Error(path);
  return phandleSpecifiers(tree, node, 'interrupts-extended', '#interrupt-cells', (m) => new RangeError(m));
};

describe('phandleSpecifiers', () => {
  it("splits entries by each target's cell count", () => {
    expect(read('/good')?.map((s) => [s.target.path, s.args])).toEqual([
      ['/ctl-a', [9]],
      ['/ctl-b', [3, 4]],
      ['/ctl-a', [11]],
    ]);
    expect(read('/ctl-a')).toBeUndefined();
  });

  it('throws the caller\'s error for a dangling phandle, a target without cells, and a short list', () => {
    expect(() => read('/dangling')).toThrow(new RangeError('/dangling: interrupts-extended refers to phandle 77, which no node has'));
    expect(() => read('/uncounted')).toThrow(new RangeError('/uncounted: interrupts-extended refers to /no-cells, which has no #interrupt-cells'));
    expect(() => read('/short')).toThrow(new RangeError('/short: interrupts-extended ends inside the specifier for /ctl-b (#interrupt-cells = 2)'));
  });
});
