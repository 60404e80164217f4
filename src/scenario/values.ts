// The value syntax of scenario files (docs/scenarios.md "Values"): exact numbers with size
// suffixes, symbolic addresses, data specifications and names. Each parser returns the value
// or a `Problem` whose message says what was expected and what was found; schema.ts turns
// problems into zod issues, so every message reaches the user with its file, line and key.

/** Why a value was rejected (a message without location: the loader adds file, line, key). */
export class Problem {
  constructor(readonly message: string) {}
}

/** A missing required key: the loader words it as `missing required key "x"`. */
export const MISSING = new Problem('required');

export type Parsed<T> = T | Problem;

/** How a rejected value is quoted in messages: `"big"`, `-3`, `a mapping`, `a list`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const SUFFIX: Readonly<Record<string, bigint>> = { K: 10n, M: 20n, G: 30n };
const NUMBER_TEXT = /^(0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[bB][01](?:_?[01])*|[0-9](?:_?[0-9])*)\s*([kKmMgG])?$/;

/** A number in the text form (`0x1000`, `"0x8000_0000"`, `4K`), or null when it is not one. */
export function numberFromText(text: string): bigint | null {
  const m = NUMBER_TEXT.exec(text.trim());
  if (m === null) return null;
  const digits = m[1].replace(/_/g, '');
  const value = BigInt(digits); // BigInt understands 0x and 0b prefixes
  return m[2] === undefined ? value : value << SUFFIX[m[2].toUpperCase()];
}

/** A non-negative exact number: a YAML integer, or a string as `numberFromText` reads it. */
export function parseNumber(v: unknown, what = 'a number or size such as 4K'): Parsed<bigint> {
  if (v === undefined) return MISSING;
  let n: bigint | null = null;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string') n = numberFromText(v);
  if (n === null) return new Problem(`expected ${what}, got ${describeValue(v)}`);
  if (n < 0n) return new Problem(`expected ${what} (not negative), got ${describeValue(v)}`);
  return n;
}

/** A number that must also fit [min, max] (as a JavaScript number: counts, cycles, sizes). */
export function parseInteger(v: unknown, min: number, max: number, what: string): Parsed<number> {
  const n = parseNumber(v, what);
  if (n instanceof Problem) return n;
  if (n < BigInt(min) || n > BigInt(max)) return new Problem(`expected ${what} from ${min} to ${max}, got ${describeValue(v)}`);
  return Number(n);
}

/** A byte count: positive and exact below 2^53 (what the DMA API and the allocator take). */
export function parseSize(v: unknown): Parsed<bigint> {
  const n = parseNumber(v);
  if (n instanceof Problem) return n;
  if (n === 0n) return new Problem(`expected a size greater than 0, got ${describeValue(v)}`);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return new Problem(`size ${describeValue(v)} is too large`);
  return n;
}

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A buffer, mapping or domain name: letters, digits and underscores, not starting with a digit. */
export function parseName(v: unknown): Parsed<string> {
  if (v === undefined) return MISSING;
  if (typeof v !== 'string' || !NAME_PATTERN.test(v)) {
    return new Problem(`expected a name (letters, digits and _, not starting with a digit), got ${describeValue(v)}`);
  }
  return v;
}

export function parseText(v: unknown, what = 'text'): Parsed<string> {
  if (v === undefined) return MISSING;
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  return new Problem(`expected ${what}, got ${describeValue(v)}`);
}

export function parseBoolean(v: unknown): Parsed<boolean> {
  if (v === undefined) return MISSING;
  if (typeof v === 'boolean') return v;
  return new Problem(`expected true or false, got ${describeValue(v)}`);
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(v: unknown, choices: readonly T[]): Parsed<T> {
  if (v === undefined) return MISSING;
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
  return new Problem(`expected ${listWords(choices)}, got ${describeValue(v)}`);
}

/** "a, b or c" (or "a, b and c") */
export function listWords(words: readonly string[], conjunction: 'or' | 'and' = 'or'): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} ${conjunction} ${words[words.length - 1]}`;
}

// ---- addresses -------------------------------------------------------------------------

/** An address as written: a number, or a symbol (buffer or DMA mapping) plus an offset. */
export type AddressExpr = { kind: 'number'; value: bigint } | { kind: 'symbol'; name: string; offset: bigint; text: string };

const SYMBOL = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:([+-])\s*(\S.*))?$/;

export function parseAddressText(text: string): AddressExpr | null {
  const n = numberFromText(text);
  if (n !== null) return { kind: 'number', value: n };
  const m = SYMBOL.exec(text.trim());
  if (m === null) return null;
  if (m[2] === undefined) return { kind: 'symbol', name: m[1], offset: 0n, text: text.trim() };
  const off = numberFromText(m[3]);
  if (off === null) return null;
  return { kind: 'symbol', name: m[1], offset: m[2] === '-' ? -off : off, text: text.trim() };
}

export const MAX_ADDRESS = (1n << 64n) - 1n;

export function parseAddress(v: unknown): Parsed<AddressExpr> {
  if (v === undefined) return MISSING;
  const n = typeof v === 'string' ? parseAddressText(v) : parseNumber(v);
  if (n === null || n instanceof Problem) {
    return new Problem(`expected an address (a number, or a buffer or mapping name with an optional offset such as rx+0x40), got ${describeValue(v)}`);
  }
  const a: AddressExpr = typeof n === 'bigint' ? { kind: 'number', value: n } : n;
  const big = a.kind === 'number' ? a.value : a.offset < 0n ? -a.offset : a.offset;
  if (big > MAX_ADDRESS) return new Problem(`address ${describeValue(v)} does not fit 64 bits`);
  return a;
}

export function formatAddressExpr(a: AddressExpr): string {
  return a.kind === 'number' ? `0x${a.value.toString(16)}` : a.text;
}

// ---- data --------------------------------------------------------------------------------

/** What `fill` and `equals` describe (docs/scenarios.md "Data"). */
export type DataSpec =
  | { kind: 'zero' }
  | { kind: 'pattern'; value: bigint }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'random'; seed: bigint }
  | { kind: 'buffer'; name: string; offset: bigint; text: string };

const DATA_HELP = 'data: zero, a buffer name, { pattern: N }, { bytes: [...] } or { random: SEED }';

export function parseData(v: unknown): Parsed<DataSpec> {
  if (v === undefined) return MISSING;
  if (v === 'zero') return { kind: 'zero' };
  if (typeof v === 'string') {
    const a = parseAddressText(v);
    if (a !== null && a.kind === 'symbol') return { kind: 'buffer', name: a.name, offset: a.offset, text: a.text };
    return new Problem(`expected ${DATA_HELP}, got ${describeValue(v)}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return new Problem(`expected ${DATA_HELP}, got ${describeValue(v)}`);
  const keys = Object.keys(v);
  const known = ['pattern', 'bytes', 'random'];
  if (keys.length !== 1 || !known.includes(keys[0])) {
    return new Problem(`expected ${DATA_HELP}, got a mapping with ${keys.length === 0 ? 'no keys' : `key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`}`);
  }
  const record = v as Record<string, unknown>;
  if (keys[0] === 'pattern') {
    const n = parseNumber(record.pattern, 'a 64-bit pattern');
    if (n instanceof Problem) return n;
    if (n >= 1n << 64n) return new Problem(`pattern ${describeValue(record.pattern)} does not fit 64 bits`);
    return { kind: 'pattern', value: n };
  }
  if (keys[0] === 'random') {
    const n = parseNumber(record.random, 'a seed');
    return n instanceof Problem ? n : { kind: 'random', seed: n };
  }
  const list = record.bytes;
  if (!Array.isArray(list) || list.length === 0) return new Problem(`bytes: expected a non-empty list of byte values, got ${describeValue(list)}`);
  const bytes = new Uint8Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const b = parseNumber(list[i], 'a byte value');
    if (b instanceof Problem || b > 255n) return new Problem(`bytes[${i}]: expected a byte value 0..255, got ${describeValue(list[i])}`);
    bytes[i] = Number(b);
  }
  return { kind: 'bytes', bytes };
}

// ---- formatting --------------------------------------------------------------------------

/** "4 KiB", "2 MiB", "6000 B": the exact size in the largest unit that divides it. */
export function formatSize(bytes: bigint | number): string {
  const b = BigInt(bytes);
  for (const [unit, shift] of [
    ['GiB', 30n],
    ['MiB', 20n],
    ['KiB', 10n],
  ] as const) {
    if (b >= 1n << shift && b % (1n << shift) === 0n) return `${b >> shift} ${unit}`;
  }
  return `${b} B`;
}
