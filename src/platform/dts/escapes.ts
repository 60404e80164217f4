// C escape sequences in DTS string and character literals, decoded to raw bytes the way
// dtc does (util.c get_escape_char): \a \b \t \n \v \f \r, up to three octal digits, \x with
// up to two hex digits, and any other escaped character stands for itself (\\ \" \').
// Unescaped text is UTF-8, so a literal's bytes are the bytes of the source file.

/** Thrown by the decoders; the lexer turns it into a located DeviceTreeError. */
export class EscapeError extends Error {
  constructor(
    message: string,
    /** Offset of the offending escape within the literal's body. */
    readonly offset: number,
  ) {
    super(message);
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  t: 0x09,
  n: 0x0a,
  v: 0x0b,
  f: 0x0c,
  r: 0x0d,
};

const utf8 = new TextEncoder();

function isOctal(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '7';
}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

/** Decodes the body of a literal (the text between the quotes) into bytes. */
export function decodeEscapes(body: string): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (c !== '\\') {
      // Whole code point, so a character outside the BMP becomes its 4-byte UTF-8 form.
      const cp = body.codePointAt(i) ?? 0;
      const ch = String.fromCodePoint(cp);
      for (const b of utf8.encode(ch)) out.push(b);
      i += ch.length;
      continue;
    }
    const start = i;
    const e = body[i + 1];
    i += 2;
    if (e === undefined) throw new EscapeError('backslash at the end of a literal', start);
    if (e in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[e]);
    } else if (isOctal(e)) {
      let digits = e;
      while (digits.length < 3 && isOctal(body[i])) digits += body[i++];
      out.push(parseInt(digits, 8) & 0xff); // as C stores it in a char
    } else if (e === 'x') {
      let digits = '';
      while (digits.length < 2 && isHex(body[i])) digits += body[i++];
      if (digits.length === 0) throw new EscapeError('\\x used with no following hex digits', start);
      out.push(parseInt(digits, 16));
    } else {
      const cp = body.codePointAt(start + 1) ?? 0;
      const ch = String.fromCodePoint(cp);
      for (const b of utf8.encode(ch)) out.push(b);
      i = start + 1 + ch.length;
    }
  }
  return out;
}
