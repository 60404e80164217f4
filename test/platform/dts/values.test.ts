// Property values: every DTS value form becomes exactly the bytes dtc puts in a DTB.
import { describe, expect, it } from 'vitest';
import { cellsHex, parseError, parseRoot, propHex, stringsHex } from './helpers.js';

function value(v: string): string {
  return propHex(parseRoot(`p = ${v};`), '/', 'p');
}

describe('empty and string values', () => {
  it('an empty (boolean) property has no bytes', () => {
    const tree = parseRoot('dma-coherent;');
    expect(tree.root.property('dma-coherent')?.value.length).toBe(0);
  });

  it('a string is its bytes and a NUL', () => {
    expect(value('"ns16550a"')).toBe(stringsHex('ns16550a'));
    expect(value('""')).toBe('00');
  });

  it('a string list concatenates NUL-terminated strings', () => {
    expect(value('"arm,pl011", "arm,primecell"')).toBe(stringsHex('arm,pl011', 'arm,primecell'));
  });

  it('decodes C escapes: \\n \\t \\\\ \\" \\xNN, octal, \\a..\\r and an escaped ordinary character', () => {
    expect(value(String.raw`"a\nb\tc\\d\"e"`)).toBe('61 0a 62 09 63 5c 64 22 65 00');
    expect(value(String.raw`"\x41\x4a\x4\0015"`)).toBe('41 4a 04 01 35 00');
    expect(value(String.raw`"\101\60\7"`)).toBe('41 30 07 00');
    expect(value(String.raw`"\a\b\v\f\r"`)).toBe('07 08 0b 0c 0d 00');
    expect(value(String.raw`"\q\'"`)).toBe('71 27 00');
    expect(value(String.raw`"\xff"`)).toBe('ff 00');
  });

  it('an embedded \\0 splits the value the way QEMU dumps write string lists', () => {
    expect(value(String.raw`"arm,psci-1.0\0arm,psci"`)).toBe(stringsHex('arm,psci-1.0', 'arm,psci'));
  });

  it('keeps non-ASCII text as UTF-8 and allows a string to span lines', () => {
    expect(value('"µ"')).toBe('c2 b5 00');
    expect(value('"a\nb"')).toBe('61 0a 62 00');
  });
});

describe('cell arrays', () => {
  it('encodes 32-bit big-endian cells in decimal, hex and octal', () => {
    expect(value('<1 0x10 010 0xffffffff 4294967295>')).toBe(cellsHex(1, 0x10, 8, 0xffffffff, 0xffffffff));
  });

  it('accepts the U, L, UL, LL and ULL suffixes', () => {
    expect(value('<1U 2L 3UL 4LL 0x5ULL>')).toBe(cellsHex(1, 2, 3, 4, 5));
  });

  it('an empty cell list is empty', () => {
    expect(value('<>')).toBe('');
  });

  it('character literals are cells', () => {
    expect(value(String.raw`<'a' '\n' '\x41' '\101' '\'' '"'>`)).toBe(cellsHex(0x61, 10, 0x41, 0x41, 0x27, 0x22));
  });

  it('evaluates C integer expressions in parentheses', () => {
    const exprs: [string, number][] = [
      ['(1 + 2 * 3)', 7],
      ['((1 + 2) * 3)', 9],
      ['(-1)', 0xffffffff],
      ['(~0)', 0xffffffff],
      ['(!0)', 1],
      ['(!7)', 0],
      ['(5 / 2)', 2],
      ['(7 % 3)', 1],
      ['(1 << 4)', 16],
      ['(256 >> 4)', 16],
      ['(6 & 3)', 2],
      ['(6 | 3)', 7],
      ['(6 ^ 3)', 5],
      ['(1 && 0)', 0],
      ['(2 && 3)', 1],
      ['(1 || 0)', 1],
      ['(0 || 0)', 0],
      ['(1 ? 2 : 3)', 2],
      ['(0 ? 2 : 3)', 3],
      ['(0 ? 1 : 0 ? 2 : 4)', 4],
      ['(1 < 2)', 1],
      ['(2 <= 1)', 0],
      ['(3 > 2)', 1],
      ['(3 >= 3)', 1],
      ['(1 == 1)', 1],
      ['(1 != 1)', 0],
      ["('a' + 1)", 0x62],
      ['(1 << 64)', 0],
      ['(0x100000000 >> 32)', 1],
      ['(0x10 - 0x20 + 0x20)', 0x10],
      ['(2 + 3 << 1)', 10],
      ['(1 | 2 ^ 3 & 4)', 3],
      ['(-1 > 0)', 1], // unsigned 64-bit comparison, as in dtc
      ['(256 * 1024 * 1024)', 0x10000000],
    ];
    for (const [e, v] of exprs) expect(value(`<${e}>`), e).toBe(cellsHex(v));
  });

  it('/bits/ 8, 16, 32 and 64 set the element size', () => {
    expect(value('/bits/ 8 <1 (-1) 0xff>')).toBe('01 ff ff');
    expect(value('/bits/ 16 <0x1234 5>')).toBe('12 34 00 05');
    expect(value('/bits/ 32 <0x12345678>')).toBe('12 34 56 78');
    expect(value('/bits/ 64 <0x123456789abcdef0 (-1)>')).toBe('12 34 56 78 9a bc de f0 ff ff ff ff ff ff ff ff');
  });

  it('keeps the low bits of a value whose excess bits are a sign extension (as dtc does)', () => {
    expect(value('/bits/ 8 <(-129)>')).toBe('7f');
  });

  it('ignores labels inside cells', () => {
    expect(value('<a: 1 b: 2 c:>')).toBe(cellsHex(1, 2));
  });
});

describe('byte strings and mixtures', () => {
  it('accepts separated and run-together hex bytes', () => {
    expect(value('[00 11 22]')).toBe('00 11 22');
    expect(value('[001122]')).toBe('00 11 22');
    expect(value('[0011 22 aB]')).toBe('00 11 22 ab');
    expect(value('[]')).toBe('');
  });

  it('ignores labels inside byte strings', () => {
    expect(value('[l1: 00 l2: 11 l3:]')).toBe('00 11');
  });

  it('concatenates comma-separated strings, cells and bytes', () => {
    expect(value('"a", <1>, [02]')).toBe('61 00 00 00 00 01 02');
    expect(value('<1>, <2>')).toBe(cellsHex(1, 2));
    expect(value('<>, [], "", <1>')).toBe('00 00 00 00 01');
  });

  it('ignores labels before and after value items', () => {
    expect(value('l1: "x", l2: <1> l3:, [02] l4:')).toBe('78 00 00 00 00 01 02');
  });
});

describe('value errors', () => {
  it('rejects a value out of range for its element size', () => {
    expect(parseError('/dts-v1/;\n/ { p = <0x100000000>; };')).toBe(
      'input.dts:2:10: value 0x100000000 out of range for a 32-bit array element',
    );
    expect(parseError('/dts-v1/;\n/ { p = /bits/ 8 <256>; };')).toBe('input.dts:2:19: value 0x100 out of range for a 8-bit array element');
  });

  it('rejects /bits/ sizes other than 8, 16, 32 and 64', () => {
    expect(parseError('/dts-v1/;\n/ { p = /bits/ 7 <1>; };')).toBe('input.dts:2:16: /bits/ 7: array elements must be 8, 16, 32 or 64 bits');
  });

  it('rejects references in arrays that are not 32-bit', () => {
    expect(parseError('/dts-v1/;\n/ { l: n {}; };\n/ { p = /bits/ 16 <&l>; };')).toBe(
      'input.dts:3:20: references are only allowed in arrays of 32-bit cells, not /bits/ 16',
    );
  });

  it('rejects division by zero, even in an untaken branch (dtc evaluates every operand)', () => {
    expect(parseError('/dts-v1/;\n/ { p = <(0 && (1 / 0))>; };')).toBe('input.dts:2:19: division by zero');
    expect(parseError('/dts-v1/;\n/ { p = <(1 % 0)>; };')).toBe('input.dts:2:13: division by zero');
  });

  it('rejects bad and oversized integer literals', () => {
    expect(parseError('/dts-v1/;\n/ { p = <08>; };')).toBe("input.dts:2:10: bad integer literal '08'");
    expect(parseError('/dts-v1/;\n/ { p = <12abc>; };')).toBe("input.dts:2:10: bad integer literal '12abc'");
    expect(parseError('/dts-v1/;\n/ { p = <0x>; };')).toBe("input.dts:2:10: bad integer literal '0x'");
    expect(parseError('/dts-v1/;\n/ { p = /bits/ 64 <18446744073709551616>; };')).toBe(
      "input.dts:2:20: integer literal '18446744073709551616' out of range (more than 64 bits)",
    );
  });

  it('requires parentheses around expressions in cells, like dtc', () => {
    expect(parseError('/dts-v1/;\n/ { p = <1 -1>; };')).toBe(
      "input.dts:2:12: expected a cell (number, 'c', (expression), &label) or '>' (write an expression in parentheses, e.g. <(-1)>), found '-'",
    );
  });

  it('rejects malformed character literals', () => {
    expect(parseError("/dts-v1/;\n/ { p = <'ab'>; };")).toBe("input.dts:2:10: character literal 'ab' has 2 characters instead of 1");
    expect(parseError("/dts-v1/;\n/ { p = <''>; };")).toBe('input.dts:2:10: empty character literal');
  });

  it('rejects bad escapes, unterminated strings and odd byte strings', () => {
    expect(parseError('/dts-v1/;\n/ { p = "ab\\xz"; };')).toBe('input.dts:2:12: \\x used with no following hex digits');
    expect(parseError('/dts-v1/;\n/ { p = "abc; };\n')).toBe('input.dts:2:9: unterminated string: expected a closing \'"\' before the end of the file');
    expect(parseError('/dts-v1/;\n/ { p = [001]; };')).toBe("input.dts:2:12: expected a byte (two hex digits) or ']' in a byte string, found '1'");
  });

  it('rejects a missing or unquoted value', () => {
    expect(parseError('/dts-v1/;\n/ { status = okay; };')).toBe(
      'input.dts:2:14: expected a value for property "status" after \'=\' (a "string", <cells>, [bytes] or &reference), found \'okay\'',
    );
    expect(parseError('/dts-v1/;\n/ { p = "a", ; };')).toBe(
      'input.dts:2:14: expected a value for property "p" after \',\' (a "string", <cells>, [bytes] or &reference), found \';\'',
    );
  });

  it('rejects an unclosed parenthesis and a missing conditional branch', () => {
    expect(parseError('/dts-v1/;\n/ { p = <(1 + 2 3>; };')).toBe("input.dts:2:17: expected ')' to close the parenthesised expression, found '3'");
    // Inside parentheses '>' is the comparison operator, so a missing ')' shows at the ';'.
    expect(parseError('/dts-v1/;\n/ { p = <(1 + 2>; };')).toBe(
      "input.dts:2:17: expected an operand (a number, a character literal or a parenthesised expression), found ';'",
    );
    expect(parseError('/dts-v1/;\n/ { p = <(1 ? 2)>; };')).toBe(
      "input.dts:2:16: expected ':' in the conditional expression 'a ? b : c', found ')'",
    );
  });
});
