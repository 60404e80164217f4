// Flattened device tree reader (Devicetree Specification v0.4, chapter 5). Every length
// and offset is checked against the block it must lie in before it is used, so a
// malformed blob becomes a DtbError naming the byte offset, never a RangeError.

import { DeviceTree, DtNode } from '../devicetree/tree.js';
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_FIRST_SUPPORTED_VERSION,
  FDT_LAST_SUPPORTED_VERSION,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_RESERVE_ALIGN,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_TAGSIZE,
  FDT_V16_HEADER_SIZE,
  FDT_V17_HEADER_SIZE,
  HEADER,
} from './constants.js';
import { DtbError, hexOffset, hexWord } from './errors.js';

export interface ReadDtbOptions {
  /** Name used in error messages; defaults to "<dtb>". */
  file?: string;
}

/** The decoded header fields (5.2). `sizeDtStruct` is absent from version 16 blobs. */
export interface DtbHeader {
  totalSize: number;
  offDtStruct: number;
  offDtStrings: number;
  offMemRsvmap: number;
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  sizeDtStrings: number;
  sizeDtStruct: number | undefined;
  /** Bytes of header this version defines (36 for v16, 40 for v17 and later). */
  headerSize: number;
}

const DEFAULT_FILE = '<dtb>';

// fatal: a name that is not UTF-8 could not be written back byte for byte.
// ignoreBOM: keep a leading U+FEFF instead of silently dropping its bytes.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Parses a flattened device tree blob into a DeviceTree. */
export function readDtb(bytes: Uint8Array, options: ReadDtbOptions = {}): DeviceTree {
  const file = options.file ?? DEFAULT_FILE;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readDtbHeader(bytes, options);
  const tree = new DeviceTree();
  tree.bootCpuId = header.bootCpuidPhys;
  readReservations(view, file, header, tree);
  new StructureReader(bytes, view, file, header, tree).read();
  return tree;
}

/** Reads and validates only the header: magic, versions, and that every block lies inside totalsize. */
export function readDtbHeader(bytes: Uint8Array, options: ReadDtbOptions = {}): DtbHeader {
  const file = options.file ?? DEFAULT_FILE;
  const fail = (offset: number, expected: string, found: string): never => {
    throw new DtbError(file, offset, expected, found);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.byteLength;

  // Magic first, so that a short file of the wrong kind says "bad magic", not "truncated".
  if (length >= 4) {
    const magic = view.getUint32(HEADER.magic);
    if (magic !== FDT_MAGIC) fail(HEADER.magic, `magic ${hexWord(FDT_MAGIC)}`, hexWord(magic));
  }
  // Any valid blob of any supported version is at least 40 bytes long: even a version 16
  // header (36 bytes) is followed by the 8-aligned reservation block at offset 40.
  if (length < FDT_V17_HEADER_SIZE) {
    fail(0, `an FDT header of ${FDT_V17_HEADER_SIZE} bytes`, `a blob of only ${length} bytes`);
  }
  const field = (offset: number): number => view.getUint32(offset);

  const version = field(HEADER.version);
  const lastCompVersion = field(HEADER.last_comp_version);
  if (version < FDT_FIRST_SUPPORTED_VERSION) {
    fail(HEADER.version, `version >= ${FDT_FIRST_SUPPORTED_VERSION}`, `${version}`);
  }
  if (lastCompVersion > FDT_LAST_SUPPORTED_VERSION) {
    fail(HEADER.last_comp_version, `last_comp_version <= ${FDT_LAST_SUPPORTED_VERSION}`, `${lastCompVersion}`);
  }
  if (lastCompVersion > version) {
    fail(HEADER.last_comp_version, `last_comp_version <= version ${version}`, `${lastCompVersion}`);
  }
  const headerSize = version >= 17 ? FDT_V17_HEADER_SIZE : FDT_V16_HEADER_SIZE;

  const totalSize = field(HEADER.totalsize);
  if (totalSize > length) {
    fail(HEADER.totalsize, `totalsize <= ${length} (the length of the buffer)`, `${totalSize} (truncated blob)`);
  }
  if (totalSize < headerSize) fail(HEADER.totalsize, `totalsize >= ${headerSize} (the header size)`, `${totalSize}`);

  const checkOffset = (fieldOffset: number, name: string, value: number, alignment: number): void => {
    if (value % alignment !== 0) fail(fieldOffset, `${name} aligned to ${alignment} bytes`, hexOffset(value));
    if (value < headerSize || value > totalSize) {
      fail(fieldOffset, `${name} between the end of the header ${hexOffset(headerSize)} and totalsize ${hexOffset(totalSize)}`, hexOffset(value));
    }
  };
  const checkSize = (fieldOffset: number, name: string, value: number, blockOffset: number): void => {
    if (value > totalSize - blockOffset) {
      fail(fieldOffset, `${name} <= ${totalSize - blockOffset} (from ${hexOffset(blockOffset)} to totalsize)`, `${value}`);
    }
  };

  const offMemRsvmap = field(HEADER.off_mem_rsvmap);
  checkOffset(HEADER.off_mem_rsvmap, 'off_mem_rsvmap', offMemRsvmap, FDT_RESERVE_ALIGN);
  const offDtStruct = field(HEADER.off_dt_struct);
  checkOffset(HEADER.off_dt_struct, 'off_dt_struct', offDtStruct, FDT_TAGSIZE);
  const offDtStrings = field(HEADER.off_dt_strings);
  checkOffset(HEADER.off_dt_strings, 'off_dt_strings', offDtStrings, 1);
  const sizeDtStrings = field(HEADER.size_dt_strings);
  checkSize(HEADER.size_dt_strings, 'size_dt_strings', sizeDtStrings, offDtStrings);
  let sizeDtStruct: number | undefined;
  if (version >= 17) {
    sizeDtStruct = field(HEADER.size_dt_struct);
    checkSize(HEADER.size_dt_struct, 'size_dt_struct', sizeDtStruct, offDtStruct);
  }

  return {
    totalSize,
    offDtStruct,
    offDtStrings,
    offMemRsvmap,
    version,
    lastCompVersion,
    bootCpuidPhys: field(HEADER.boot_cpuid_phys),
    sizeDtStrings,
    sizeDtStruct,
    headerSize,
  };
}

function readReservations(view: DataView, file: string, header: DtbHeader, tree: DeviceTree): void {
  // The block has no size field: it runs to the all-zero entry, which must lie inside the blob.
  for (let pos = header.offMemRsvmap; ; pos += FDT_RESERVE_ENTRY_SIZE) {
    const left = header.totalSize - pos;
    if (left < FDT_RESERVE_ENTRY_SIZE) {
      throw new DtbError(
        file,
        pos,
        `a ${FDT_RESERVE_ENTRY_SIZE}-byte memory reservation entry (the list ends with an all-zero entry)`,
        `${left} bytes before totalsize`,
      );
    }
    const address = view.getBigUint64(pos);
    const size = view.getBigUint64(pos + 8);
    if (address === 0n && size === 0n) return;
    // 5.3.2 ends the list only at an all-zero entry, but libfdt, dtc and Linux end it at the
    // first zero size; such a blob means different things to different readers, so refuse it.
    if (size === 0n) {
      throw new DtbError(
        file,
        pos + 8,
        'a non-zero reservation size or the all-zero terminator (libfdt, dtc and Linux end the list at any zero size)',
        `address 0x${address.toString(16)} with size 0`,
      );
    }
    tree.reservations.push({ address, size });
  }
}

/** One open node while reading the structure block. */
interface OpenNode {
  node: DtNode;
  /** Once a child has begun, further properties are out of order (5.4.2). */
  sawChild: boolean;
  propertyNames: Set<string>;
  childNames: Set<string>;
}

class StructureReader {
  private readonly end: number;
  private readonly stringsEnd: number;
  private readonly stack: OpenNode[] = [];
  private rootDone = false;
  /** Property names by strings-block offset: most names repeat many times. */
  private readonly names = new Map<number, string>();

  constructor(
    private readonly bytes: Uint8Array,
    private readonly view: DataView,
    private readonly file: string,
    private readonly header: DtbHeader,
    private readonly tree: DeviceTree,
  ) {
    // A version 16 blob does not say where its structure block ends; FDT_END does, within totalsize.
    this.end = header.sizeDtStruct === undefined ? header.totalSize : header.offDtStruct + header.sizeDtStruct;
    this.stringsEnd = header.offDtStrings + header.sizeDtStrings;
  }

  private fail(offset: number, expected: string, found: string): never {
    throw new DtbError(this.file, offset, expected, found);
  }

  /** What the grammar allows next, for messages. */
  private expectation(): string {
    const top = this.stack[this.stack.length - 1];
    if (top) {
      return top.sawChild
        ? `FDT_BEGIN_NODE or FDT_END_NODE in ${top.node.path} (properties must precede subnodes)`
        : `FDT_PROP, FDT_BEGIN_NODE or FDT_END_NODE in ${top.node.path}`;
    }
    return this.rootDone ? 'FDT_END' : 'FDT_BEGIN_NODE of the root node';
  }

  read(): void {
    let pos = this.header.offDtStruct;
    for (;;) {
      const at = pos;
      if (this.end - pos < FDT_TAGSIZE) this.fail(at, this.expectation(), 'end of structure block');
      const token = this.view.getUint32(pos);
      pos += FDT_TAGSIZE;
      const top = this.stack[this.stack.length - 1];
      switch (token) {
        case FDT_NOP:
          break;
        case FDT_BEGIN_NODE:
          if (this.rootDone) this.fail(at, this.expectation(), 'FDT_BEGIN_NODE (a second root node)');
          pos = this.beginNode(at, pos, top);
          break;
        case FDT_END_NODE:
          if (!top) this.fail(at, this.expectation(), 'FDT_END_NODE');
          this.stack.pop();
          if (this.stack.length === 0) this.rootDone = true;
          else this.stack[this.stack.length - 1].sawChild = true;
          break;
        case FDT_PROP:
          if (!top || top.sawChild) this.fail(at, this.expectation(), 'FDT_PROP');
          pos = this.property(at, pos, top);
          break;
        case FDT_END:
          if (top) this.fail(at, `FDT_END_NODE closing ${top.node.path}`, 'FDT_END');
          if (!this.rootDone) this.fail(at, this.expectation(), 'FDT_END');
          if (this.header.sizeDtStruct !== undefined && pos !== this.end) {
            this.fail(pos, `the structure block to end after FDT_END (size_dt_struct ${this.header.sizeDtStruct})`, `${this.end - pos} more bytes`);
          }
          return;
        default:
          this.fail(at, this.expectation(), `unknown token ${hexWord(token)}`);
      }
    }
  }

  /** Reads the node name after FDT_BEGIN_NODE at `at`; returns the offset of the next token. */
  private beginNode(at: number, pos: number, parent: OpenNode | undefined): number {
    const nul = this.bytes.subarray(pos, this.end).indexOf(0);
    if (nul < 0) this.fail(pos, 'a NUL-terminated node name', 'end of structure block');
    const name = this.decode(pos, pos + nul, 'node name');
    const next = this.afterPadding(pos + nul + 1);

    let node: DtNode;
    if (!parent) {
      // Version 16 and later store the root's name as the empty string (5.4.1).
      if (name !== '') this.fail(pos, 'the empty root node name', JSON.stringify(name));
      node = this.tree.root;
    } else {
      if (name === '') this.fail(pos, `a node name for a child of ${parent.node.path}`, 'an empty name');
      if (name.includes('/')) this.fail(pos, 'a node name without "/"', JSON.stringify(name));
      if (parent.childNames.has(name)) {
        this.fail(at, `node names unique within ${parent.node.path}`, `a second node ${JSON.stringify(name)}`);
      }
      parent.childNames.add(name);
      parent.sawChild = true;
      node = parent.node.addChild(new DtNode(name));
    }
    this.stack.push({ node, sawChild: false, propertyNames: new Set(), childNames: new Set() });
    return next;
  }

  /** Reads an FDT_PROP body (5.4.1: len, nameoff, value); returns the offset of the next token. */
  private property(at: number, pos: number, owner: OpenNode): number {
    if (this.end - pos < 8) {
      this.fail(pos, 'the 8-byte len and nameoff of FDT_PROP', `${this.end - pos} bytes before end of structure block`);
    }
    const length = this.view.getUint32(pos);
    const nameOffset = this.view.getUint32(pos + 4);
    const valueAt = pos + 8;
    if (length > this.end - valueAt) {
      this.fail(pos, `a property value of ${length} bytes (len)`, `${this.end - valueAt} bytes before end of structure block`);
    }
    const name = this.propertyName(pos + 4, nameOffset);
    if (owner.propertyNames.has(name)) {
      this.fail(at, `property names unique within ${owner.node.path}`, `a second property ${JSON.stringify(name)}`);
    }
    owner.propertyNames.add(name);
    // slice, not subarray: the tree must not keep the caller's buffer alive or alias it.
    owner.node.properties.push({ name, value: this.bytes.slice(valueAt, valueAt + length) });
    return this.afterPadding(valueAt + length);
  }

  private propertyName(fieldAt: number, nameOffset: number): string {
    const cached = this.names.get(nameOffset);
    if (cached !== undefined) return cached;
    if (nameOffset >= this.header.sizeDtStrings) {
      this.fail(fieldAt, `a property name offset below size_dt_strings ${this.header.sizeDtStrings}`, `${nameOffset}`);
    }
    const start = this.header.offDtStrings + nameOffset;
    const nul = this.bytes.subarray(start, this.stringsEnd).indexOf(0);
    if (nul < 0) this.fail(start, 'a NUL-terminated property name', 'end of strings block');
    if (nul === 0) this.fail(start, 'a property name', 'an empty string');
    const name = this.decode(start, start + nul, 'property name');
    this.names.set(nameOffset, name);
    return name;
  }

  private decode(start: number, end: number, what: string): string {
    try {
      return utf8.decode(this.bytes.subarray(start, end));
    } catch {
      return this.fail(start, `a UTF-8 ${what}`, 'invalid UTF-8 bytes');
    }
  }

  /** Skips the zero padding to the next token boundary, which must still be inside the block. */
  private afterPadding(pos: number): number {
    const next = align(pos, FDT_TAGSIZE); // off_dt_struct itself is 4-aligned
    if (next > this.end) this.fail(pos, 'padding to a 4-byte boundary', 'end of structure block');
    return next;
  }
}
