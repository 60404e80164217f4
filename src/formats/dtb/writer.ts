// Flattened device tree writer (Devicetree Specification v0.4, chapter 5), laid out the
// way dtc lays out a blob so that the two can be compared byte for byte:
//   header (40 bytes) | reservation block, 8-aligned, ending in an all-zero entry |
//   structure block | strings block | `padding` zero bytes (dtc -p), counted in totalsize.
// Property names are deduplicated with dtc's rule: a name reuses the first place in the
// strings block where it already occurs NUL-terminated, including as the tail of a longer
// name ("phandle" inside "linux,phandle").

import { DeviceTreeError, type DeviceTree, type DtNode } from '../devicetree/tree.js';
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_PROP,
  FDT_RESERVE_ALIGN,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_TAGSIZE,
  FDT_V17_HEADER_SIZE,
  FDT_VERSION,
  HEADER,
} from './constants.js';

export interface WriteDtbOptions {
  /** Blob version; only 17 is written (with last_comp_version 16), as dtc does by default. */
  version?: 17;
  /** boot_cpuid_phys; defaults to `tree.bootCpuId`. */
  bootCpuId?: number;
  /** Zero bytes appended after the strings block and counted in totalsize, like `dtc -p`. */
  padding?: number;
}

const MAX_U32 = 0xffffffff;
const MAX_U64 = (1n << 64n) - 1n;
const encoder = new TextEncoder();

function fail(message: string): never {
  throw new DeviceTreeError(`cannot write DTB: ${message}`);
}

/** A growable big-endian byte buffer. */
class ByteSink {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value);
    this.length += 4;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  /** Appends a NUL-terminated string. */
  cString(data: Uint8Array): void {
    this.bytes(data);
    this.reserve(1);
    this.buf[this.length++] = 0;
  }

  /** Zero-pads to a multiple of `to`. */
  align(to: number): void {
    const padded = Math.ceil(this.length / to) * to;
    this.reserve(padded - this.length);
    this.buf.fill(0, this.length, padded);
    this.length = padded;
  }

  contents(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** Raw access for the strings-table search. */
  at(i: number): number {
    return this.buf[i];
  }
}

/** The strings block, with dtc's first-occurrence (suffix-sharing) deduplication. */
class StringTable {
  readonly sink = new ByteSink();
  private readonly offsets = new Map<string, number>();

  offsetOf(name: string, encoded: Uint8Array): number {
    const known = this.offsets.get(name);
    if (known !== undefined) return known;
    const offset = this.find(encoded) ?? this.append(encoded);
    this.offsets.set(name, offset);
    return offset;
  }

  /** First i with table[i..i+n) == name and table[i+n] == NUL, as dtc's stringtable_insert scans. */
  private find(encoded: Uint8Array): number | undefined {
    const n = encoded.length;
    const len = this.sink.length;
    for (let i = 0; i + n < len; i++) {
      if (this.sink.at(i + n) !== 0) continue;
      let j = 0;
      while (j < n && this.sink.at(i + j) === encoded[j]) j++;
      if (j === n) return i;
    }
    return undefined;
  }

  private append(encoded: Uint8Array): number {
    const offset = this.sink.length;
    this.sink.cString(encoded);
    return offset;
  }
}

function flattenNode(node: DtNode, isRoot: boolean, struct: ByteSink, strings: StringTable): void {
  const path = node.path;
  if (isRoot) {
    if (node.name !== '') fail(`the root node must have the empty name, found ${JSON.stringify(node.name)}`);
  } else {
    if (node.name === '') fail(`a child of ${node.parent?.path ?? '/'} has an empty name`);
    if (node.name.includes('/')) fail(`node name ${JSON.stringify(node.name)} in ${node.parent?.path ?? '/'} contains "/"`);
    if (node.name.includes('\0')) fail(`node name ${JSON.stringify(node.name)} in ${node.parent?.path ?? '/'} contains NUL`);
  }
  struct.u32(FDT_BEGIN_NODE);
  struct.cString(encoder.encode(node.name));
  struct.align(FDT_TAGSIZE);

  const propertyNames = new Set<string>();
  for (const p of node.properties) {
    if (p.name === '') fail(`${path}: a property has an empty name`);
    if (p.name.includes('\0')) fail(`${path}: property name ${JSON.stringify(p.name)} contains NUL`);
    if (propertyNames.has(p.name)) fail(`${path}: property ${JSON.stringify(p.name)} appears twice`);
    propertyNames.add(p.name);
    if (p.value.length > MAX_U32) fail(`${path}: property ${p.name} is longer than 2^32-1 bytes`);
    struct.u32(FDT_PROP);
    struct.u32(p.value.length);
    struct.u32(strings.offsetOf(p.name, encoder.encode(p.name)));
    struct.bytes(p.value);
    struct.align(FDT_TAGSIZE);
  }

  const childNames = new Set<string>();
  for (const c of node.children) {
    if (childNames.has(c.name)) fail(`${path}: node ${JSON.stringify(c.name)} appears twice`);
    childNames.add(c.name);
    flattenNode(c, false, struct, strings);
  }
  struct.u32(FDT_END_NODE);
}

/** Serialises a DeviceTree as a version 17 flattened device tree blob. */
export function writeDtb(tree: DeviceTree, options: WriteDtbOptions = {}): Uint8Array {
  const version = options.version ?? FDT_VERSION;
  if (version !== FDT_VERSION) fail(`version ${String(version)} is not supported; only ${FDT_VERSION} is written`);
  const bootCpuId = options.bootCpuId ?? tree.bootCpuId;
  if (!Number.isInteger(bootCpuId) || bootCpuId < 0 || bootCpuId > MAX_U32) {
    fail(`boot CPU id ${bootCpuId} is not a 32-bit unsigned integer`);
  }
  const padding = options.padding ?? 0;
  if (!Number.isInteger(padding) || padding < 0) fail(`padding ${padding} is not a non-negative integer`);

  tree.reservations.forEach((r, i) => {
    for (const [what, v] of [['address', r.address], ['size', r.size]] as const) {
      if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) fail(`memory reservation ${i}: ${what} ${String(v)} is not a 64-bit unsigned integer`);
    }
    // The spec ends the list at an all-zero entry, but libfdt, dtc and Linux stop at any zero
    // size: either way the entries after it would be lost.
    if (r.size === 0n) fail(`memory reservation ${i} (address 0x${r.address.toString(16)}) has size 0, which would end the reservation list`);
  });

  const struct = new ByteSink();
  const strings = new StringTable();
  flattenNode(tree.root, true, struct, strings);
  struct.u32(FDT_END);

  const offMemRsvmap = Math.ceil(FDT_V17_HEADER_SIZE / FDT_RESERVE_ALIGN) * FDT_RESERVE_ALIGN;
  const offDtStruct = offMemRsvmap + (tree.reservations.length + 1) * FDT_RESERVE_ENTRY_SIZE;
  const offDtStrings = offDtStruct + struct.length;
  const totalSize = offDtStrings + strings.sink.length + padding;
  if (totalSize > MAX_U32) fail(`the blob would be ${totalSize} bytes, more than totalsize can describe`);

  const out = new Uint8Array(totalSize);
  const view = new DataView(out.buffer);
  view.setUint32(HEADER.magic, FDT_MAGIC);
  view.setUint32(HEADER.totalsize, totalSize);
  view.setUint32(HEADER.off_dt_struct, offDtStruct);
  view.setUint32(HEADER.off_dt_strings, offDtStrings);
  view.setUint32(HEADER.off_mem_rsvmap, offMemRsvmap);
  view.setUint32(HEADER.version, FDT_VERSION);
  view.setUint32(HEADER.last_comp_version, FDT_LAST_COMP_VERSION);
  view.setUint32(HEADER.boot_cpuid_phys, bootCpuId);
  view.setUint32(HEADER.size_dt_strings, strings.sink.length);
  view.setUint32(HEADER.size_dt_struct, struct.length);
  tree.reservations.forEach((r, i) => {
    view.setBigUint64(offMemRsvmap + i * FDT_RESERVE_ENTRY_SIZE, r.address);
    view.setBigUint64(offMemRsvmap + i * FDT_RESERVE_ENTRY_SIZE + 8, r.size);
  });
  // The terminating all-zero entry and the padding are already zero.
  out.set(struct.contents(), offDtStruct);
  out.set(strings.sink.contents(), offDtStrings);
  return out;
}
