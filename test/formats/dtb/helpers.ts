// Shared helpers for the DTB tests: a plain snapshot of a tree for deep equality, a tiny
// tree builder, a raw blob assembler for hand-made (and malformed) blobs, and dtc.

import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { DeviceTree, DtNode, encodeStrings, encodeU32s } from '../../../src/formats/devicetree/tree.js';

// ---- snapshots ---------------------------------------------------------------------

export interface NodeSnapshot {
  name: string;
  properties: [string, string][];
  children: NodeSnapshot[];
}

export interface TreeSnapshot {
  bootCpuId: number;
  reservations: [string, string][];
  root: NodeSnapshot;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function snapshotNode(node: DtNode): NodeSnapshot {
  return {
    name: node.name,
    properties: node.properties.map((p) => [p.name, hex(p.value)]),
    children: node.children.map(snapshotNode),
  };
}

/** Everything a blob carries, in plain data, with property values as hex (byte-exact). */
export function snapshot(tree: DeviceTree): TreeSnapshot {
  return {
    bootCpuId: tree.bootCpuId,
    reservations: tree.reservations.map((r) => [r.address.toString(16), r.size.toString(16)]),
    root: snapshotNode(tree.root),
  };
}

// ---- building trees ----------------------------------------------------------------

export type Value = Uint8Array | number[] | string | string[];

export function value(v: Value): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return encodeStrings([v]);
  if (v.length > 0 && typeof v[0] === 'string') return encodeStrings(v as string[]);
  return encodeU32s(v as number[]);
}

export interface NodeSpec {
  props?: Record<string, Value>;
  children?: Record<string, NodeSpec>;
}

function fill(node: DtNode, spec: NodeSpec): void {
  for (const [name, v] of Object.entries(spec.props ?? {})) node.set(name, value(v));
  for (const [name, child] of Object.entries(spec.children ?? {})) fill(node.addChild(new DtNode(name)), child);
}

export function buildTree(spec: NodeSpec, extra: { reservations?: [bigint, bigint][]; bootCpuId?: number } = {}): DeviceTree {
  const tree = new DeviceTree();
  fill(tree.root, spec);
  for (const [address, size] of extra.reservations ?? []) tree.reservations.push({ address, size });
  tree.bootCpuId = extra.bootCpuId ?? 0;
  return tree;
}

export const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v);
  return b;
};

/** A board-like tree that exercises every value shape a DTS can produce. */
export function sampleTree(): DeviceTree {
  return buildTree(
    {
      props: { '#address-cells': [2], '#size-cells': [2], compatible: ['iommu-lab,virt', 'riscv-virtio'], model: 'lab' },
      children: {
        chosen: { props: { bootargs: 'console=ttyS0', 'rng-seed': Uint8Array.of(1, 2, 3) } },
        'memory@80000000': { props: { device_type: 'memory', reg: [0, 0x80000000, 1, 0] } },
        soc: {
          props: { ranges: new Uint8Array(0), '#address-cells': [2], '#size-cells': [2], compatible: 'simple-bus' },
          children: {
            'iommu@3010000': {
              props: { compatible: 'riscv,iommu', reg: [0, 0x3010000, 0, 0x1000], '#iommu-cells': [1], phandle: [5], 'dma-coherent': new Uint8Array(0) },
            },
            'pcie@30000000': {
              props: {
                'iommu-map': [0, 5, 0, 0x10000],
                'iommu-map-mask': [0xfff8],
                'lab,dma-mask': u64(0x000fffffffffffffn),
                'lab,odd': Uint8Array.of(0xff, 0, 0xfe, 0, 0x7f),
              },
            },
          },
        },
        'ünicode-node': { props: { 'name-with-utf8': 'µs' } },
      },
    },
    { reservations: [[0x80000000n, 0x200000n], [0xffffffffffff0000n, 0xffffn]], bootCpuId: 3 },
  );
}

/** Random trees with unique names, random byte values, reservations and boot CPU. */
export function arbitraryTree(propPrefix = ''): fc.Arbitrary<DeviceTree> {
  const name = fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,12}(@[0-9a-f]{1,8})?$/);
  // The prefix keeps random names clear of properties dtc checks (reg, phandle, name, ...).
  const propName = fc.stringMatching(/^[a-z#][a-z0-9,._+?#-]{0,20}$/).map((n) => propPrefix + n);
  const u64n = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  // Plain shapes, turned into fresh DtNodes at the end: fast-check may reuse generated values.
  interface Shape {
    props: [string, Uint8Array][];
    children: [string, Shape][];
  }
  const shape: fc.Memo<Shape> = fc.memo((depth) =>
    fc.record({
      props: fc.uniqueArray(fc.tuple(propName, fc.uint8Array({ maxLength: 24 })), { selector: ([n]) => n, maxLength: 6 }),
      children: depth > 1 ? fc.uniqueArray(fc.tuple(name, shape(depth - 1)), { selector: ([n]) => n, maxLength: 4 }) : fc.constant([]),
    }),
  );
  const build = (node: DtNode, s: Shape): void => {
    for (const [p, v] of s.props) node.set(p, v.slice());
    for (const [childName, child] of s.children) build(node.addChild(new DtNode(childName)), child);
  };
  return fc
    .record({
      root: shape(4),
      reservations: fc.array(fc.tuple(u64n, u64n).filter(([, size]) => size !== 0n), { maxLength: 4 }),
      boot: fc.nat({ max: 0xffffffff }),
    })
    .map(({ root, reservations, boot }) => {
      const tree = new DeviceTree();
      build(tree.root, root);
      for (const [address, size] of reservations) tree.reservations.push({ address, size });
      tree.bootCpuId = boot;
      return tree;
    });
}

// ---- raw blobs ---------------------------------------------------------------------

export const T = { BEGIN_NODE: 1, END_NODE: 2, PROP: 3, NOP: 4, END: 9 } as const;

/** A structure block from parts: a number is one big-endian u32, a string is a
 *  NUL-terminated name padded to 4, a Uint8Array is raw bytes padded to 4. */
export function struct(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const chunks: number[] = [];
  const pad = (): void => {
    while (chunks.length % 4 !== 0) chunks.push(0);
  };
  for (const p of parts) {
    if (typeof p === 'number') chunks.push((p >>> 24) & 0xff, (p >>> 16) & 0xff, (p >>> 8) & 0xff, p & 0xff);
    else if (typeof p === 'string') chunks.push(...new TextEncoder().encode(p), 0);
    else chunks.push(...p);
    pad();
  }
  return Uint8Array.from(chunks);
}

export interface RawBlob {
  reservations?: [bigint, bigint][];
  struct: Uint8Array;
  strings?: Uint8Array;
  /** Header fields to overwrite after layout, by byte offset in the header. */
  patch?: Record<number, number>;
  /** Bytes appended after the strings block, inside totalsize. */
  tail?: Uint8Array;
}

/** Lays out a blob the way dtc does (header, reservations, struct, strings) and applies patches. */
export function assemble(raw: RawBlob): Uint8Array {
  const reservations = raw.reservations ?? [];
  const strings = raw.strings ?? new Uint8Array(0);
  const tail = raw.tail ?? new Uint8Array(0);
  const offRsv = 40;
  const offStruct = offRsv + (reservations.length + 1) * 16;
  const offStrings = offStruct + raw.struct.length;
  const total = offStrings + strings.length + tail.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const header = [0xd00dfeed, total, offStruct, offStrings, offRsv, 17, 16, 0, strings.length, raw.struct.length];
  header.forEach((v, i) => view.setUint32(i * 4, v));
  reservations.forEach(([a, s], i) => {
    view.setBigUint64(offRsv + i * 16, a);
    view.setBigUint64(offRsv + i * 16 + 8, s);
  });
  out.set(raw.struct, offStruct);
  out.set(strings, offStrings);
  out.set(tail, offStrings + strings.length);
  for (const [offset, v] of Object.entries(raw.patch ?? {})) view.setUint32(Number(offset), v);
  return out;
}

export function u32At(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset);
}

export function withU32(bytes: Uint8Array, offset: number, v: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(offset, v);
  return copy;
}

// ---- dtc ---------------------------------------------------------------------------

/** dtc's version line, or undefined when dtc is not installed. */
export function dtcVersion(): string | undefined {
  const r = spawnSync('dtc', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export const DTC_MISSING =
  'dtc is not installed: the DTB round-trip tests against dtc need the Debian package device-tree-compiler ' +
  '(apt-get install -y device-tree-compiler)';

/** Runs dtc quietly (-q: fixture warnings are not what these tests check); throws with its stderr on failure. */
export function dtc(args: string[]): Buffer {
  const r = spawnSync('dtc', ['-q', ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`dtc ${args.join(' ')} failed (${r.status}): ${r.stderr.toString()}`);
  return r.stdout;
}
