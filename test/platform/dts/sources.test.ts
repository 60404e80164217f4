// Source handling: comments, cpp line markers and directives, /include/, /incbin/, files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDts, parseDtsFile } from '../../../src/platform/dts/index.js';
import { cellsHex, errorOf, memoryFs, parseError, paths, propHex, stringsHex } from './helpers.js';

describe('comments and layout', () => {
  it('skips // and /* */ comments anywhere, including inside values and byte strings', () => {
    const tree = parseDts(`/dts-v1/; // header
/* block
   comment */ / {
	a = /* before */ <1 /* between */ 2> /* after */ ; // trailing
	b = [00 /* x */ 11 // y
	     22];
	c /* odd place */ = "s";
};`);
    expect(propHex(tree, '/', 'a')).toBe(cellsHex(1, 2));
    expect(propHex(tree, '/', 'b')).toBe('00 11 22');
    expect(propHex(tree, '/', 'c')).toBe(stringsHex('s'));
  });

  it('accepts CRLF line endings and a byte-order mark', () => {
    const tree = parseDts('\uFEFF/dts-v1/;\r\n/ {\r\n\ta = <1>;\r\n};\r\n');
    expect(propHex(tree, '/', 'a')).toBe(cellsHex(1));
  });

  it('rejects an unterminated comment', () => {
    expect(parseError('/dts-v1/;\n/ { /* oops\n};')).toBe("input.dts:2:5: unterminated comment: expected '*/' before the end of the file");
  });
});

describe('C preprocessor output', () => {
  it('follows cpp line markers in error locations', () => {
    const text = '# 1 "board.dts"\n# 1 "<built-in>" 1\n# 1 "board.dts" 2\n/dts-v1/;\n# 40 "board.dts"\n/ {\n x = <1>\n};\n';
    expect(parseError(text)).toBe('board.dts:42:1: expected \';\' after property "x", found \'}\'');
    const text2 = '/dts-v1/;\n#line 7 "inc/soc.dtsi"\n/ { y = <1 2> z; };\n';
    expect(parseError(text2)).toBe('inc/soc.dtsi:7:15: expected \';\' after property "y", found \'z\'');
  });

  it('parses a preprocessed file with line markers', () => {
    const tree = parseDts('# 1 "a.dts"\n/dts-v1/;\n# 1 "a.dtsi" 1\n/ { from-dtsi; };\n# 3 "a.dts" 2\n/ { from-dts; };\n');
    expect(tree.root.properties.map((p) => [p.name, p.location?.file, p.location?.line])).toEqual([
      ['from-dtsi', 'a.dtsi', 1],
      ['from-dts', 'a.dts', 3],
    ]);
  });

  it('tells the user to run cpp first for #include, #define and other directives', () => {
    expect(parseError('/dts-v1/;\n#include <dt-bindings/gpio/gpio.h>\n/ { };')).toBe(
      "input.dts:2:1: C preprocessor directive '#include' is not DTS syntax: dtc does not run the C preprocessor. " +
        'Preprocess the file first (for example: cpp -nostdinc -undef -x assembler-with-cpp -I <include dir> board.dts > board.pp.dts), ' +
        'or use the dtc directive /include/ "file" instead of #include',
    );
    expect(parseError('/dts-v1/;\n/ {\n  #define IRQ 5\n};')).toMatch(/^input\.dts:3:3: C preprocessor directive '#define' is not DTS syntax/);
    expect(parseError('/dts-v1/;\n#ifdef CONFIG_X\n/ { };\n#endif\n')).toMatch(/^input\.dts:2:1: C preprocessor directive '#ifdef'/);
  });

  it('does not mistake #-properties at the start of a line for directives', () => {
    const tree = parseDts('/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\n#interrupt-cells = <1>;\n};');
    expect(tree.root.properties.map((p) => p.name)).toEqual(['#address-cells', '#size-cells', '#interrupt-cells']);
  });
});

describe('/include/', () => {
  const files = {
    'boards/board.dts': '/dts-v1/;\n/include/ "soc.dtsi"\n/include/ "common.dtsi"\n&uart { status = "okay"; };\n',
    'boards/soc.dtsi': '/ { soc { uart: serial@1000 { status = "disabled"; }; }; };\n',
    'lib/common.dtsi': '/ { model = "common"; };\n/include/ "deeper/leaf.dtsi"\n',
    'lib/deeper/leaf.dtsi': '/ { leaf; };\n',
    'boards/bad.dtsi': '/ { x = <1> };\n',
    'boards/loop.dtsi': '/include/ "loop.dtsi"\n',
  };
  const readFile = memoryFs(files);

  it('splices included files, looking beside the including file first, then in includeDirs', () => {
    const tree = parseDts(files['boards/board.dts'], { file: 'boards/board.dts', readFile, includeDirs: ['lib'] });
    expect(paths(tree)).toEqual(['/', '/soc', '/soc/serial@1000']);
    expect(propHex(tree, '/soc/serial@1000', 'status')).toBe(stringsHex('okay'));
    expect(propHex(tree, '/', 'model')).toBe(stringsHex('common'));
    expect(tree.root.has('leaf')).toBe(true);
    expect(tree.find('/soc/serial@1000')?.location).toEqual({ file: 'boards/soc.dtsi', line: 1, column: 17 });
  });

  it('works mid-value, since it is token-level like in dtc', () => {
    const r = memoryFs({ 'cells.dtsi': '2 3' });
    expect(propHex(parseDts('/dts-v1/;\n/ { a = <1 /include/ "cells.dtsi" 4>; };', { readFile: r }), '/', 'a')).toBe(cellsHex(1, 2, 3, 4));
  });

  it('reports errors inside an included file at their own location', () => {
    expect(parseError('/dts-v1/;\n/include/ "bad.dtsi"\n', { file: 'boards/x.dts', readFile })).toBe(
      "boards/bad.dtsi:1:13: expected ';' after property \"x\", found '}'",
    );
  });

  it('names the missing file and where it looked', () => {
    expect(parseError('/dts-v1/;\n/include/ "nope.dtsi"\n', { file: 'boards/x.dts', readFile, includeDirs: ['lib'] })).toBe(
      'boards/x.dts:2:1: /include/ file "nope.dtsi" not found (tried boards/nope.dtsi, lib/nope.dtsi): ENOENT: lib/nope.dtsi',
    );
    expect(parseError('/dts-v1/;\n/include/ "x.dtsi"\n')).toBe(
      'input.dts:2:1: /include/ "x.dtsi" cannot be read: no readFile option was given (use parseDtsFile, or pass readFile)',
    );
    expect(parseError('/dts-v1/;\n/include/ soc.dtsi\n', { readFile })).toBe("input.dts:2:1: expected a quoted file name after /include/, found 'soc.dtsi'");
  });

  it('stops recursive includes', () => {
    expect(parseError('/dts-v1/;\n/include/ "loop.dtsi"\n', { file: 'boards/x.dts', readFile })).toBe(
      'boards/loop.dtsi:1:1: /include/ "loop.dtsi" includes boards/loop.dtsi recursively',
    );
  });
});

describe('files on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-lab-dts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'blob.bin'), Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]));
  writeFileSync(join(dir, 'part.dtsi'), '/ { from-part; };\n');
  writeFileSync(
    join(dir, 'main.dts'),
    '/dts-v1/;\n/include/ "part.dtsi"\n/ { all = /incbin/("blob.bin"); some = /incbin/("blob.bin", 1, 3); mixed = "a", /incbin/("blob.bin", 4, 2); };\n',
  );
  writeFileSync(join(dir, 'bad.dts'), '/dts-v1/;\n/ { x = /incbin/("blob.bin", 4, 3); };\n');

  it('parseDtsFile reads the file, its /include/s and /incbin/s', () => {
    const tree = parseDtsFile(join(dir, 'main.dts'));
    expect(tree.root.has('from-part')).toBe(true);
    expect(propHex(tree, '/', 'all')).toBe('de ad be ef 01 02');
    expect(propHex(tree, '/', 'some')).toBe('ad be ef');
    expect(propHex(tree, '/', 'mixed')).toBe('61 00 01 02');
    expect(tree.root.property('all')?.location?.file).toBe(join(dir, 'main.dts'));
  });

  it('reports an /incbin/ range past the end of the file and a missing source file', () => {
    expect(errorOf(() => parseDtsFile(join(dir, 'bad.dts')))).toBe(
      `${join(dir, 'bad.dts')}:2:18: /incbin/ ${join(dir, 'blob.bin')}: offset 4 + length 3 is past the end of the file (6 bytes)`,
    );
    expect(errorOf(() => parseDtsFile(join(dir, 'missing.dts')))).toMatch(
      new RegExp(`^${join(dir, 'missing.dts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read device tree source: ENOENT`),
    );
  });

  it('parseDts needs readBinaryFile for /incbin/', () => {
    expect(parseError('/dts-v1/;\n/ { x = /incbin/("b.bin"); };')).toBe(
      'input.dts:2:18: /incbin/ "b.bin" cannot be read: no readBinaryFile option was given (use parseDtsFile, or pass readBinaryFile)',
    );
  });
});
