// DTS tokenizer. Like dtc's flex lexer, it is modal, and the mode is driven by the tokens it
// produces rather than by the parser: after '{' or ';' (and after /delete-node/,
// /delete-property/ and /omit-if-no-ref/) the next word is a property or node name, which may
// contain characters such as ',', '#', '+' and '-' that are operators elsewhere; after '['
// the input is two-digit hex bytes until ']'. Elsewhere it lexes C-like values.
//
// /include/ is handled here, as in dtc: the named file's tokens are spliced into the stream.
// cpp line markers (# 12 "file") update the reported location; other preprocessor
// directives are an error that tells the user to run cpp first.

import { DeviceTreeError, type SourceLocation } from '../../formats/devicetree/tree.js';
import { decodeEscapes, EscapeError } from './escapes.js';
import { normalizePath, type SourceLoader } from './sources.js';

export const KEYWORDS = [
  '/dts-v1/',
  '/plugin/',
  '/memreserve/',
  '/bits/',
  '/delete-property/',
  '/delete-node/',
  '/omit-if-no-ref/',
  '/incbin/',
] as const;
export type Keyword = (typeof KEYWORDS)[number];

export type Token =
  | { kind: 'eof'; text: ''; loc: SourceLocation }
  /** Operators and punctuation, including the two-character operators "<<", "&&", ... */
  | { kind: 'punct'; text: string; loc: SourceLocation }
  | { kind: 'keyword'; text: Keyword; loc: SourceLocation }
  /** A property or node name (only in name mode); a leading '\' escape is removed. */
  | { kind: 'name'; text: string; loc: SourceLocation }
  /** `label:`; text is the label without the colon. */
  | { kind: 'label'; text: string; loc: SourceLocation }
  /** `&label`; text is the label. */
  | { kind: 'ref'; text: string; loc: SourceLocation }
  /** `&{/path}`; text is the path. */
  | { kind: 'pathref'; text: string; loc: SourceLocation }
  | { kind: 'number'; text: string; value: bigint; loc: SourceLocation }
  | { kind: 'char'; text: string; value: bigint; loc: SourceLocation }
  /** text is the source spelling including quotes; bytes excludes the terminating NUL;
   *  source is the file it was read from (the base for /incbin/'s relative names). */
  | { kind: 'string'; text: string; bytes: Uint8Array; source: string; loc: SourceLocation }
  /** One two-hex-digit byte inside [...]. */
  | { kind: 'byte'; text: string; value: number; loc: SourceLocation }
  /** Anything else (a bare word, a stray character): always a syntax error in the parser. */
  | { kind: 'word'; text: string; loc: SourceLocation };

export type TokenKind = Token['kind'];

type Mode = 'default' | 'name' | 'bytes';

interface Frame {
  text: string;
  pos: number;
  line: number;
  column: number;
  /** The file name reported in locations; cpp line markers may change it. */
  file: string;
  /** The file actually read, the base for relative /include/s. */
  path: string;
}

const LABEL_AT = /[a-zA-Z_][a-zA-Z0-9_]*:/y;
/** dtc's PROPNODECHAR+: a property or node name, optionally escaped with a backslash. */
const NAME_AT = /\\?[a-zA-Z0-9,._+*#?@-]+/y;
const WORD_AT = /[a-zA-Z0-9_][a-zA-Z0-9,._+*#?@-]*/y;
const NUMBER_AT = /[0-9][a-zA-Z0-9_]*/y;
const LABEL_REF_AT = /&([a-zA-Z_][a-zA-Z0-9_]*)/y;
const PATH_REF_AT = /&\{([a-zA-Z0-9,._+*#?@\-/]*)\}/y;
const DIRECTIVE_AT = /\/[a-zA-Z][a-zA-Z0-9-]*\//y;
const HEX_BYTE_AT = /[0-9a-fA-F]{2}/y;
/** cpp line marker: `# 12 "file" 2` or `#line 12 "file"`, a whole line. */
const LINE_MARKER_AT = /#(?:line)?[ \t]+([0-9]+)(?:[ \t]+"((?:[^"\\\n]|\\.)*)")?(?:[ \t]+[0-9]+)*[ \t]*(?:\r?\n|$)/y;
const CPP_DIRECTIVE_AT =
  /#[ \t]*(include_next|include|define|undef|ifdef|ifndef|if|elif|else|endif|error|warning|pragma|import|line)(?![a-zA-Z0-9,._+*#?@-])/y;
const TWO_CHAR_OPS = new Set(['<<', '>>', '<=', '>=', '==', '!=', '&&', '||']);
const ONE_CHAR_PUNCT = new Set([...'{};=<>[](),+-*/%&|^~!?:']);
const VALID_NUMBER = /^(0[xX][0-9a-fA-F]+|[0-9]+)(U|L|UL|LL|ULL)?$/;
const U64_LIMIT = 1n << 64n;
/** dtc's limit on nested source files; here it also stops /include/ cycles. */
const MAX_INCLUDE_DEPTH = 200;

function matchAt(re: RegExp, text: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(text);
}

export class Lexer {
  private readonly frames: Frame[];
  private mode: Mode = 'default';

  constructor(
    text: string,
    file: string,
    private readonly loader: SourceLoader,
  ) {
    this.frames = [this.frame(text, file, file)];
  }

  private frame(text: string, file: string, path: string): Frame {
    // A byte-order mark is not part of the source.
    const pos = text.startsWith('\uFEFF') ? 1 : 0;
    return { text, pos, line: 1, column: 1, file, path };
  }

  private get top(): Frame {
    return this.frames[this.frames.length - 1];
  }

  private loc(f: Frame = this.top): SourceLocation {
    return { file: f.file, line: f.line, column: f.column };
  }

  private fail(message: string, loc: SourceLocation): never {
    throw new DeviceTreeError(message, loc);
  }

  /** Consumes n characters of the top frame, keeping line and column up to date. */
  private advance(n: number): void {
    const f = this.top;
    const end = Math.min(f.pos + n, f.text.length);
    for (let i = f.pos; i < end; i++) {
      if (f.text.charCodeAt(i) === 10) {
        f.line++;
        f.column = 1;
      } else {
        f.column++;
      }
    }
    f.pos = end;
  }

  /** True when only blanks precede `pos` on its line. */
  private atLineStart(f: Frame, pos: number): boolean {
    for (let i = pos - 1; i >= 0; i--) {
      const c = f.text[i];
      if (c === '\n') return true;
      if (c !== ' ' && c !== '\t') return false;
    }
    return true;
  }

  /** Skips blanks, comments, line markers and /include/s (which push a frame); pops
   *  finished included files. Returns with the top frame at a token or at the end of input. */
  private skipTrivia(): void {
    for (;;) {
      const f = this.top;
      if (f.pos >= f.text.length) {
        if (this.frames.length === 1) return;
        this.frames.pop();
        continue;
      }
      const c = f.text[f.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f') {
        this.advance(1);
        continue;
      }
      if (c === '/' && f.text[f.pos + 1] === '*') {
        const end = f.text.indexOf('*/', f.pos + 2);
        if (end < 0) this.fail("unterminated comment: expected '*/' before the end of the file", this.loc());
        this.advance(end + 2 - f.pos);
        continue;
      }
      if (c === '/' && f.text[f.pos + 1] === '/') {
        const end = f.text.indexOf('\n', f.pos);
        this.advance((end < 0 ? f.text.length : end) - f.pos);
        continue;
      }
      if (c === '#' && this.atLineStart(f, f.pos)) {
        const marker = f.column === 1 ? matchAt(LINE_MARKER_AT, f.text, f.pos) : null;
        if (marker) {
          const loc = this.loc();
          this.advance(marker[0].length);
          f.line = Number(marker[1]);
          f.column = 1;
          if (marker[2] !== undefined) f.file = new TextDecoder().decode(this.decodeLiteral(marker[2], loc, 1));
          continue;
        }
        const directive = matchAt(CPP_DIRECTIVE_AT, f.text, f.pos);
        if (directive) this.cppDirective(directive[1], this.loc());
      }
      if (c === '/' && f.text.startsWith('/include/', f.pos)) {
        this.include();
        continue;
      }
      return;
    }
  }

  private cppDirective(name: string, loc: SourceLocation): never {
    const hint =
      name === 'include' || name === 'include_next' ? ', or use the dtc directive /include/ "file" instead of #include' : '';
    this.fail(
      `C preprocessor directive '#${name}' is not DTS syntax: dtc does not run the C preprocessor. ` +
        `Preprocess the file first (for example: cpp -nostdinc -undef -x assembler-with-cpp -I <include dir> board.dts > board.pp.dts)${hint}`,
      loc,
    );
  }

  private include(): void {
    const f = this.top;
    const loc = this.loc();
    this.advance('/include/'.length);
    while (f.pos < f.text.length && /\s/.test(f.text[f.pos])) this.advance(1);
    if (f.text[f.pos] !== '"') {
      this.fail(`expected a quoted file name after /include/, found ${this.describeHere()}`, loc);
    }
    const str = this.lexString();
    const name = new TextDecoder().decode(str.bytes);
    if (this.frames.length >= MAX_INCLUDE_DEPTH) {
      this.fail(`/include/ "${name}": includes nested more than ${MAX_INCLUDE_DEPTH} deep (recursive /include/?)`, loc);
    }
    const { path, text } = this.loader.loadText(name, f.path, loc);
    const key = normalizePath(path);
    if (this.frames.some((fr) => normalizePath(fr.path) === key)) {
      this.fail(`/include/ "${name}" includes ${path} recursively`, loc);
    }
    this.frames.push(this.frame(text, path, path));
  }

  /** A short description of the text at the current position, for errors raised while skipping. */
  private describeHere(): string {
    const f = this.top;
    if (f.pos >= f.text.length) return 'end of input';
    const word = f.text.slice(f.pos).match(/^\S+/)?.[0] ?? f.text[f.pos];
    return `'${word.length > 20 ? `${word.slice(0, 20)}...` : word}'`;
  }

  /** Decodes escapes in a literal's body; `bodyStart` is the column offset of the body. */
  private decodeLiteral(body: string, loc: SourceLocation, bodyStart: number): Uint8Array {
    try {
      return Uint8Array.from(decodeEscapes(body));
    } catch (err) {
      if (err instanceof EscapeError) {
        const before = body.slice(0, err.offset);
        const nl = before.lastIndexOf('\n');
        const line = loc.line + (before.match(/\n/g)?.length ?? 0);
        const column = nl < 0 ? loc.column + bodyStart + err.offset : err.offset - nl;
        this.fail(err.message, { file: loc.file, line, column });
      }
      throw err;
    }
  }

  private lexString(): { text: string; bytes: Uint8Array; loc: SourceLocation } {
    const f = this.top;
    const loc = this.loc();
    let i = f.pos + 1;
    while (i < f.text.length && f.text[i] !== '"') i += f.text[i] === '\\' ? 2 : 1;
    if (i >= f.text.length) this.fail('unterminated string: expected a closing \'"\' before the end of the file', loc);
    const text = f.text.slice(f.pos, i + 1);
    const bytes = this.decodeLiteral(text.slice(1, -1), loc, 1);
    this.advance(text.length);
    return { text, bytes, loc };
  }

  next(): Token {
    this.skipTrivia();
    const f = this.top;
    const loc = this.loc();
    if (f.pos >= f.text.length) return { kind: 'eof', text: '', loc };
    const text = f.text;
    const pos = f.pos;
    const c = text[pos];

    if (c === '"') {
      const s = this.lexString();
      return { kind: 'string', text: s.text, bytes: s.bytes, source: f.path, loc };
    }

    if (c === "'") {
      let i = pos + 1;
      while (i < text.length && text[i] !== "'" && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length || text[i] !== "'") this.fail("unterminated character literal: expected a closing \"'\"", loc);
      const spelling = text.slice(pos, i + 1);
      const bytes = this.decodeLiteral(spelling.slice(1, -1), loc, 1);
      if (bytes.length !== 1) {
        this.fail(
          bytes.length === 0
            ? 'empty character literal'
            : `character literal ${spelling} has ${bytes.length} characters instead of 1`,
          loc,
        );
      }
      this.advance(spelling.length);
      return { kind: 'char', text: spelling, value: BigInt(bytes[0]), loc };
    }

    if (c === '&') {
      const pathRef = matchAt(PATH_REF_AT, text, pos);
      if (pathRef) {
        if (!pathRef[1].startsWith('/')) {
          this.fail(`path reference ${pathRef[0]} must start with '/' (for a label write &${pathRef[1]})`, loc);
        }
        this.advance(pathRef[0].length);
        return { kind: 'pathref', text: pathRef[1], loc };
      }
      if (text[pos + 1] === '{') this.fail("unterminated path reference: expected '&{/path}'", loc);
      const labelRef = matchAt(LABEL_REF_AT, text, pos);
      if (labelRef) {
        this.advance(labelRef[0].length);
        return { kind: 'ref', text: labelRef[1], loc };
      }
    }

    if (c === '/') {
      const directive = matchAt(DIRECTIVE_AT, text, pos);
      if (directive) {
        this.advance(directive[0].length);
        const kw = KEYWORDS.find((k) => k === directive[0]);
        if (kw === undefined) return { kind: 'word', text: directive[0], loc };
        if (kw === '/delete-property/' || kw === '/delete-node/' || kw === '/omit-if-no-ref/') this.mode = 'name';
        else this.mode = 'default';
        return { kind: 'keyword', text: kw, loc };
      }
    }

    const label = matchAt(LABEL_AT, text, pos);
    if (label) {
      this.advance(label[0].length);
      return { kind: 'label', text: label[0].slice(0, -1), loc };
    }

    if (this.mode === 'name') {
      const name = matchAt(NAME_AT, text, pos);
      if (name && name[0] !== '\\') {
        this.advance(name[0].length);
        this.mode = 'default';
        return { kind: 'name', text: name[0].replace(/^\\/, ''), loc };
      }
    } else if (this.mode === 'bytes') {
      const byte = matchAt(HEX_BYTE_AT, text, pos);
      if (byte) {
        this.advance(2);
        return { kind: 'byte', text: byte[0], value: parseInt(byte[0], 16), loc };
      }
      if (c === ']') {
        this.advance(1);
        this.mode = 'default';
        return { kind: 'punct', text: ']', loc };
      }
    } else {
      const num = matchAt(NUMBER_AT, text, pos);
      if (num) {
        this.advance(num[0].length);
        return { kind: 'number', text: num[0], value: this.numberValue(num[0], loc), loc };
      }
    }

    // A bare word where none belongs (status = okay;): one token, so the error shows it whole.
    const word = matchAt(WORD_AT, text, pos);
    if (word) {
      this.advance(word[0].length);
      return { kind: 'word', text: word[0], loc };
    }

    const two = text.slice(pos, pos + 2);
    if (TWO_CHAR_OPS.has(two)) {
      this.advance(2);
      return { kind: 'punct', text: two, loc };
    }
    if (ONE_CHAR_PUNCT.has(c)) {
      this.advance(1);
      if (c === '{' || c === ';') this.mode = 'name';
      else if (c === '[') this.mode = 'bytes';
      return { kind: 'punct', text: c, loc };
    }
    // A stray character (whole code point, so the message shows it intact).
    const ch = String.fromCodePoint(text.codePointAt(pos) ?? 0);
    this.advance(ch.length);
    return { kind: 'word', text: ch, loc };
  }

  /** Value of an integer literal, as dtc reads it with strtoull(..., 0): leading 0x is hex,
   *  a leading 0 octal; U/L suffixes are accepted and ignored. */
  private numberValue(spelling: string, loc: SourceLocation): bigint {
    const m = VALID_NUMBER.exec(spelling);
    const digits = m?.[1];
    if (digits === undefined || (digits.length > 1 && digits[0] === '0' && !/^0[xX]/.test(digits) && /[89]/.test(digits))) {
      this.fail(`bad integer literal '${spelling}'`, loc);
    }
    let value: bigint;
    if (/^0[xX]/.test(digits)) value = BigInt(digits);
    else if (digits.length > 1 && digits[0] === '0') value = BigInt(`0o${digits.slice(1)}`);
    else value = BigInt(digits);
    if (value >= U64_LIMIT) this.fail(`integer literal '${spelling}' out of range (more than 64 bits)`, loc);
    return value;
  }
}
