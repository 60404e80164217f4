// Bit-field layouts as data: a field is (lsb, width); a layout names the fields of one
// register or one 64-bit doubleword. Pure functions decode and encode them. These are for
// tools, builders and tests; the hardware models' hot paths use the same numbers inline.

export interface BitField {
  readonly lsb: number;
  readonly width: number;
}

export type Layout = Readonly<Record<string, BitField>>;

export type Decoded<L extends Layout> = { [K in keyof L]: bigint };
export type Encodable<L extends Layout> = Partial<{ [K in keyof L]: bigint | number | boolean }>;

export function bits(lsb: number, width = 1): BitField {
  return { lsb, width };
}

export function fieldMask(f: BitField): bigint {
  return ((1n << BigInt(f.width)) - 1n) << BigInt(f.lsb);
}

export function extract(raw: bigint, f: BitField): bigint {
  return (raw >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n);
}

export function insert(raw: bigint, f: BitField, value: bigint | number | boolean): bigint {
  const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
  const max = (1n << BigInt(f.width)) - 1n;
  if (v < 0n || v > max) {
    throw new RangeError(`value ${v} does not fit a ${f.width}-bit field at bit ${f.lsb}`);
  }
  return (raw & ~fieldMask(f)) | (v << BigInt(f.lsb));
}

export function decode<L extends Layout>(layout: L, raw: bigint): Decoded<L> {
  const out: Record<string, bigint> = {};
  for (const [name, f] of Object.entries(layout)) out[name] = extract(raw, f);
  return out as Decoded<L>;
}

export function encode<L extends Layout>(layout: L, values: Encodable<L>): bigint {
  let raw = 0n;
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const f = layout[name];
    if (f === undefined) throw new RangeError(`unknown field ${name}`);
    raw = insert(raw, f, value as bigint | number | boolean);
  }
  return raw;
}

