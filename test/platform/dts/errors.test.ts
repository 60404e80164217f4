// Syntax errors: each names the file, line and column, what was expected and what was found.
import { describe, expect, it } from 'vitest';
import { DeviceTreeError } from '../../../src/formats/devicetree/tree.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { parseError } from './helpers.js';

describe('syntax errors', () => {
  it('reports a missing semicolon after a property at the token found instead', () => {
    const board = [
      '/dts-v1/;',
      '',
      '/ {',
      '\t#address-cells = <2>;',
      '\t#size-cells = <2>;',
      '',
      '\tsoc {',
      '\t\tcompatible = "simple-bus";',
      '',
      '\t\tuart@10000000 {',
      '\t\t\treg = <0x0 0x10000000 0x0 0x100>',
      '\t\t};',
      '\t};',
      '};',
    ].join('\n');
    let caught: unknown;
    try {
      parseDts(board, { file: 'board.dts' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DeviceTreeError);
    const err = caught as DeviceTreeError;
    expect(err.message).toBe('board.dts:12:3: expected \';\' after property "reg", found \'}\'');
    expect(err.location).toEqual({ file: 'board.dts', line: 12, column: 3 });
  });

  it('reports the token after a node body that lacks its semicolon', () => {
    expect(parseError('/dts-v1/;\n/ {\n\ta { }\n\tb { };\n};')).toBe("input.dts:4:2: expected ';' after '}' closing node /a, found 'b'");
    expect(parseError('/dts-v1/;\n/ { }\n')).toBe("input.dts:3:1: expected ';' after '}' closing node /, found end of input");
  });

  it('reports an unclosed node at the end of input', () => {
    expect(parseError('/dts-v1/;\n/ {\n\ta = <1>;\n')).toBe("input.dts:4:1: expected a property, a child node or '}' in node /, found end of input");
    expect(parseError('/dts-v1/;\n/ { a = <1 2')).toBe("input.dts:2:13: expected '>' to close the cell list, found end of input");
    expect(parseError('/dts-v1/;\n/ { a = [00 11')).toBe("input.dts:2:15: expected a byte (two hex digits) or ']' in a byte string, found end of input");
  });

  it('reports what may follow a name', () => {
    expect(parseError('/dts-v1/;\n/ { compatible "x"; };')).toBe('input.dts:2:16: expected \'=\', \';\' or \'{\' after "compatible", found string "x"');
    expect(parseError('/dts-v1/;\n/ { a: = <1>; };')).toBe("input.dts:2:8: expected a property or node name after label 'a:', found '='");
  });

  it('reports unexpected tokens at the top level and inside nodes', () => {
    expect(parseError('/dts-v1/;\n/ { };\nfoo { };')).toBe(
      "input.dts:3:1: expected '/ {', '&label {', '&{/path} {', '/delete-node/' or '/omit-if-no-ref/' at the top level, found 'foo'",
    );
    expect(parseError('/dts-v1/;\n/ { };\n&{/} = <1>;')).toBe("input.dts:3:6: expected '{' after node reference '&{/}', found '='");
    expect(parseError('/dts-v1/;\n/ { = <1>; };')).toBe("input.dts:2:5: expected a property, a child node or '}' in node /, found '='");
    expect(parseError('/dts-v1/;\n/ { a { $x; }; };')).toBe("input.dts:2:9: expected a property, a child node or '}' in node /a, found '$'");
    expect(parseError('/dts-v1/;\n/ { };\n/delete-node/ foo;')).toBe(
      "input.dts:3:15: expected a node reference (&label or &{/path}) after /delete-node/, found 'foo'",
    );
    expect(parseError('/dts-v1/;\n/ { /delete-node/ &x; };')).toBe(
      "input.dts:2:19: expected a node name after /delete-node/ (use &label or &{/path} only at the top level), found reference '&x'",
    );
  });

  it('reports unknown /directives/ by name', () => {
    expect(parseError('/dts-v1/;\n/ { /delete-nodes/ a; };')).toBe("input.dts:2:5: expected a property, a child node or '}' in node /, found '/delete-nodes/'");
  });

  it('rejects path references that are not absolute or not closed', () => {
    expect(parseError('/dts-v1/;\n/ { a = <&{soc}>; };')).toBe("input.dts:2:10: path reference &{soc} must start with '/' (for a label write &soc)");
    expect(parseError('/dts-v1/;\n/ { a = <&{/soc>; };')).toBe("input.dts:2:10: unterminated path reference: expected '&{/path}'");
  });

  it('uses <input> as the file name by default', () => {
    try {
      parseDts('/dts-v1/;\n/ { a };');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toBe("<input>:2:7: expected '=', ';' or '{' after \"a\", found '}'");
    }
  });

  it('counts columns from 1, with a tab as one column', () => {
    expect(parseError('/dts-v1/;\n/ {\n\t\tx = <1>\n};')).toBe('input.dts:4:1: expected \';\' after property "x", found \'}\'');
    expect(parseError('/dts-v1/;\n/ {\n\t\tx = <1> y;\n};')).toBe('input.dts:3:11: expected \';\' after property "x", found \'y\'');
  });
});
