// The in-memory device tree shared by the DTS parser, the DTB reader and writer, and the
// binding code. A property's value is its raw big-endian byte string, exactly as in a
// flattened device tree; typed accessors interpret it.

/** Where something came from, for error messages: a file and a 1-based line and column. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export class DeviceTreeError extends Error {
  constructor(
    message: string,
    readonly location?: SourceLocation,
  ) {
    super(location ? `${location.file}:${location.line}:${location.column}: ${message}` : message);
  }
}

export interface Property {
  name: string;
  value: Uint8Array;
  location?: SourceLocation;
}

export class DtNode {
  readonly children: DtNode[] = [];
  readonly properties: Property[] = [];
  /** Labels attached to this node in DTS source. */
  readonly labels: string[] = [];
  parent: DtNode | null = null;
  location?: SourceLocation;

  /** Full node name, including the unit address: "serial@10000000". The root is "". */
  constructor(public name: string) {}

  /** Name without the unit address. */
  get baseName(): string {
    const at = this.name.indexOf('@');
    return at < 0 ? this.name : this.name.slice(0, at);
  }

  /** Unit address text after '@', or undefined. */
  get unitAddress(): string | undefined {
    const at = this.name.indexOf('@');
    return at < 0 ? undefined : this.name.slice(at + 1);
  }

  /** Absolute path: "/soc/serial@10000000"; the root is "/". */
  get path(): string {
    if (this.parent === null) return '/';
    const parentPath = this.parent.path;
    return parentPath === '/' ? `/${this.name}` : `${parentPath}/${this.name}`;
  }

  child(name: string): DtNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  addChild(node: DtNode): DtNode {
    node.parent = this;
    this.children.push(node);
    return node;
  }

  removeChild(node: DtNode): void {
    const i = this.children.indexOf(node);
    if (i >= 0) this.children.splice(i, 1);
    node.parent = null;
  }

  property(name: string): Property | undefined {
    return this.properties.find((p) => p.name === name);
  }

  has(name: string): boolean {
    return this.property(name) !== undefined;
  }

  /** Sets (adds or replaces) a property. */
  set(name: string, value: Uint8Array, location?: SourceLocation): void {
    const existing = this.property(name);
    if (existing) {
      existing.value = value;
      existing.location = location;
    } else {
      this.properties.push({ name, value, location });
    }
  }

  deleteProperty(name: string): boolean {
    const i = this.properties.findIndex((p) => p.name === name);
    if (i < 0) return false;
    this.properties.splice(i, 1);
    return true;
  }

  // ---- typed accessors ------------------------------------------------------------

  /** The value as big-endian 32-bit cells; undefined if absent, error if not a multiple of 4. */
  u32s(name: string): number[] | undefined {
    const p = this.property(name);
    if (!p) return undefined;
    if (p.value.length % 4 !== 0) {
      throw new DeviceTreeError(`${this.path}: property ${name} is ${p.value.length} bytes, not a whole number of cells`, p.location);
    }
    const view = new DataView(p.value.buffer, p.value.byteOffset, p.value.byteLength);
    const out: number[] = [];
    for (let i = 0; i < p.value.length; i += 4) out.push(view.getUint32(i, false));
    return out;
  }

  u32(name: string): number | undefined {
    const cells = this.u32s(name);
    if (cells === undefined) return undefined;
    if (cells.length !== 1) throw new DeviceTreeError(`${this.path}: property ${name} has ${cells.length} cells, expected 1`, this.property(name)?.location);
    return cells[0];
  }

  /** The value as NUL-terminated strings. */
  strings(name: string): string[] | undefined {
    const p = this.property(name);
    if (!p) return undefined;
    return decodeStringList(p.value);
  }

  string(name: string): string | undefined {
    return this.strings(name)?.[0];
  }

  /** Depth-first walk over this node and its descendants. */
  *walk(): IterableIterator<DtNode> {
    yield this;
    for (const c of this.children) yield* c.walk();
  }
}

export interface MemoryReservation {
  address: bigint;
  size: bigint;
}

export class DeviceTree {
  readonly root = new DtNode('');
  readonly reservations: MemoryReservation[] = [];
  /** Boot CPU id (DTB header field boot_cpuid_phys). */
  bootCpuId = 0;

  /** Finds a node by absolute path ("/soc/serial@10000000"); a path component without a unit
   *  address matches a child whose base name is that component when exactly one does. */
  find(path: string): DtNode | undefined {
    if (!path.startsWith('/')) return undefined;
    let node: DtNode = this.root;
    for (const part of path.split('/').filter((s) => s.length > 0)) {
      const exact = node.child(part);
      if (exact) {
        node = exact;
        continue;
      }
      const byBase = node.children.filter((c) => c.baseName === part);
      if (byBase.length !== 1) return undefined;
      node = byBase[0];
    }
    return node;
  }

  /** The node whose `phandle` (or legacy `linux,phandle`) property equals `phandle`. */
  byPhandle(phandle: number): DtNode | undefined {
    for (const n of this.root.walk()) {
      const p = n.has('phandle') ? n.u32('phandle') : n.has('linux,phandle') ? n.u32('linux,phandle') : undefined;
      if (p === phandle) return n;
    }
    return undefined;
  }

  /** The node carrying `label` in DTS source. */
  byLabel(label: string): DtNode | undefined {
    for (const n of this.root.walk()) if (n.labels.includes(label)) return n;
    return undefined;
  }

  /** Resolves an alias from /aliases, or returns undefined. */
  alias(name: string): DtNode | undefined {
    const path = this.find('/aliases')?.string(name);
    return path === undefined ? undefined : this.find(path);
  }
}

// ---- value encoding helpers --------------------------------------------------------

export function encodeU32s(cells: readonly number[]): Uint8Array {
  const out = new Uint8Array(cells.length * 4);
  const view = new DataView(out.buffer);
  cells.forEach((c, i) => view.setUint32(i * 4, c >>> 0, false));
  return out;
}

export function encodeStrings(strings: readonly string[]): Uint8Array {
  const parts = strings.map((s) => new TextEncoder().encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length + 1; // NUL terminator already zero
  }
  return out;
}

export function decodeStringList(value: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === 0) {
      out.push(new TextDecoder().decode(value.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start < value.length) out.push(new TextDecoder().decode(value.subarray(start)));
  return out;
}

/** Joins `count` cells starting at `index` into one number (big-endian), e.g. a 2-cell address. */
export function cellsToBigInt(cells: readonly number[], index: number, count: number): bigint {
  let v = 0n;
  for (let i = 0; i < count; i++) v = (v << 32n) | BigInt(cells[index + i] >>> 0);
  return v;
}
