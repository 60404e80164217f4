// The checks and fix-ups dtc runs once the whole source is read (checks.c), in dtc's order:
// duplicate labels, explicit phandles, phandle and path references (allocating phandles
// on demand), /omit-if-no-ref/ pruning, /__symbols__ when asked (dtc -@), and for an overlay
// (/plugin/) the __fixups__ and __local_fixups__ nodes that let a loader patch phandles into
// the base tree.

import {
  DeviceTreeError,
  DtNode,
  encodeStrings,
  encodeU32s,
  type DeviceTree,
  type Property,
  type SourceLocation,
} from '../../formats/devicetree/tree.js';
import type { Token } from './lexer.js';

export interface LabelSite {
  name: string;
  loc: SourceLocation;
}

export type RefToken = Extract<Token, { kind: 'ref' | 'pathref' }>;

/** A piece of a property value: literal bytes, or a reference fixed up at the end.
 *  A 'phandle' reference (inside <...>) becomes the target's 4-byte phandle; a 'path'
 *  reference (outside cells) becomes the target's full path and a NUL. */
export type ValuePart = Uint8Array | { kind: 'phandle' | 'path'; ref: RefToken };

export interface PropInfo {
  /** Labels on the property and inside its value; dtc only checks them for duplicates. */
  labels: LabelSite[];
  /** The value's pieces when it contains references, else null. */
  parts: ValuePart[] | null;
}

/** What the parser learns beyond the tree itself. */
export interface ParseState {
  props: Map<Property, PropInfo>;
  /** Where each node label was written (node.labels holds the names). */
  nodeLabels: Map<DtNode, LabelSite[]>;
  omitIfNoRef: Set<DtNode>;
  /** Tombstones of deleted nodes and properties (see parser.ts), gone before resolution. */
  deletedNodes: Set<DtNode>;
  deletedProps: Set<Property>;
  /** The source is an overlay: references to labels it does not define are left for the
   *  overlay loader (phandle 0xffffffff plus a __fixups__ entry) instead of being errors. */
  plugin: boolean;
  /** Generate /__symbols__ (dtc -@). */
  symbols: boolean;
}

/** The phandle value of an unresolved overlay reference (and never a valid phandle). */
export const PHANDLE_UNRESOLVED = 0xffffffff;

/** A phandle cell of a property that an overlay loader must patch. */
interface FixupSite {
  /** The label for an unresolved reference; null for one to a node of the overlay itself. */
  label: string | null;
  offset: number;
}

/** Exact path lookup, as dtc does it: every component must equal a node name, unit address
 *  included ("/soc/uart" does not find "/soc/uart@1000"). */
export function findExactPath(tree: DeviceTree, path: string): DtNode | undefined {
  let node: DtNode = tree.root;
  for (const part of path.split('/')) {
    if (part === '') continue;
    const child = node.child(part);
    if (!child) return undefined;
    node = child;
  }
  return node;
}

function fail(message: string, loc: SourceLocation | undefined): never {
  throw new DeviceTreeError(message, loc);
}

function describeRef(ref: RefToken): string {
  return ref.kind === 'ref' ? `&${ref.text}` : `&{${ref.text}}`;
}

function checkDuplicateLabels(tree: DeviceTree, state: ParseState): void {
  const seen = new Map<string, string>();
  const note = (name: string, where: string, loc: SourceLocation | undefined): void => {
    const before = seen.get(name);
    if (before !== undefined) fail(`duplicate label "${name}" on ${where} (already on ${before})`, loc);
    seen.set(name, where);
  };
  for (const node of tree.root.walk()) {
    const sites = state.nodeLabels.get(node) ?? [];
    for (const name of node.labels) note(name, node.path, sites.find((s) => s.name === name)?.loc ?? node.location);
    for (const prop of node.properties) {
      for (const l of state.props.get(prop)?.labels ?? []) note(l.name, `property ${prop.name} of ${node.path}`, l.loc);
    }
  }
}

/** dtc's name_is_string and name_properties checks: a `name` property must be the node's
 *  name without the unit address, and is then dropped as redundant. */
function checkNameProperties(tree: DeviceTree, state: ParseState): void {
  for (const node of tree.root.walk()) {
    const prop = node.property('name');
    if (!prop) continue;
    const v = prop.value;
    if (state.props.get(prop)?.parts || v.length === 0 || v[v.length - 1] !== 0 || v.indexOf(0) !== v.length - 1) {
      fail(`${node.path}: property "name" is not a string`, prop.location);
    }
    const text = new TextDecoder().decode(v.subarray(0, v.length - 1));
    if (text !== node.baseName) fail(`${node.path}: "name" property is incorrect ("${text}" instead of base node name)`, prop.location);
    node.deleteProperty('name');
  }
}

/** Phandles given in the source (`phandle` or legacy `linux,phandle`), checked like dtc. A
 *  reference to the node itself (`phandle = <&me>`) asks for a phandle to be allocated. */
function explicitPhandles(tree: DeviceTree, state: ParseState, find: (ref: RefToken) => DtNode | undefined): Map<DtNode, number> {
  const byNode = new Map<DtNode, number>();
  const owner = new Map<number, DtNode>();
  for (const node of tree.root.walk()) {
    let value: number | undefined;
    for (const name of ['phandle', 'linux,phandle']) {
      const prop = node.property(name);
      if (!prop) continue;
      if (prop.value.length !== 4) fail(`${node.path}: property ${name} has bad length ${prop.value.length} (must be 4 bytes)`, prop.location);
      const parts = state.props.get(prop)?.parts;
      const ref = parts?.find((p) => !(p instanceof Uint8Array));
      if (ref && !(ref instanceof Uint8Array)) {
        if (ref.kind !== 'phandle' || find(ref.ref) !== node) fail(`${node.path}: property ${name} is a reference to another node`, prop.location);
        continue;
      }
      const v = new DataView(prop.value.buffer, prop.value.byteOffset, 4).getUint32(0, false);
      if (v === 0 || v === PHANDLE_UNRESOLVED) fail(`${node.path}: property ${name} has bad value 0x${v.toString(16)}`, prop.location);
      if (value !== undefined && value !== v) fail(`${node.path}: mismatching 'phandle' and 'linux,phandle' properties`, prop.location);
      value = v;
    }
    if (value === undefined) continue;
    const other = owner.get(value);
    if (other) {
      fail(`${node.path}: duplicate phandle 0x${value.toString(16)} (already used by ${other.path})`, (node.property('phandle') ?? node.property('linux,phandle'))?.location);
    }
    owner.set(value, node);
    byNode.set(node, value);
  }
  return byNode;
}

export function resolveReferences(tree: DeviceTree, state: ParseState): void {
  checkNameProperties(tree, state);
  checkDuplicateLabels(tree, state);

  // First node in depth-first order carrying each label, as dtc's get_node_by_label finds it.
  const byLabel = new Map<string, DtNode>();
  for (const node of tree.root.walk()) for (const l of node.labels) if (!byLabel.has(l)) byLabel.set(l, node);
  const find = (ref: RefToken): DtNode | undefined => (ref.kind === 'ref' ? byLabel.get(ref.text) : findExactPath(tree, ref.text));

  const phandles = explicitPhandles(tree, state, find);
  const used = new Set(phandles.values());
  let nextPhandle = 1;
  const referenced = new Set<DtNode>();

  const labelIsOnProperty = (label: string): boolean => {
    for (const node of tree.root.walk()) {
      for (const prop of node.properties) if (state.props.get(prop)?.labels.some((l) => l.name === label)) return true;
    }
    return false;
  };

  const target = (ref: RefToken, prop: Property, node: DtNode): DtNode => {
    const found = find(ref);
    if (found) return found;
    const where = `in property "${prop.name}" of ${node.path}`;
    if (ref.kind === 'ref') {
      const why = labelIsOnProperty(ref.text) ? ' (it labels a property or value, not a node)' : '';
      return fail(`reference to unknown label "${ref.text}" ${where}${why}`, ref.loc);
    }
    return fail(`reference ${describeRef(ref)} ${where}: no node at path "${ref.text}"`, ref.loc);
  };

  // Like dtc's get_node_phandle: the next value not already in use, counting up from 1,
  // stored in a new `phandle` property appended to the target.
  const phandleOf = (node: DtNode): number => {
    const existing = phandles.get(node);
    if (existing !== undefined) return existing;
    while (used.has(nextPhandle)) nextPhandle++;
    const p = nextPhandle;
    used.add(p);
    phandles.set(node, p);
    node.set('phandle', encodeU32s([p]));
    return p;
  };

  const encoder = new TextEncoder();
  const fixups = new Map<Property, FixupSite[]>();
  for (const node of tree.root.walk()) {
    for (const prop of [...node.properties]) {
      const parts = state.props.get(prop)?.parts;
      if (!parts) continue;
      const chunks: Uint8Array[] = [];
      const sites: FixupSite[] = [];
      let offset = 0;
      for (const part of parts) {
        if (part instanceof Uint8Array) {
          chunks.push(part);
          offset += part.length;
          continue;
        }
        if (part.kind === 'phandle' && state.plugin) {
          const to = find(part.ref);
          if (to) referenced.add(to);
          sites.push({ label: to ? null : part.ref.text, offset });
          chunks.push(encodeU32s([to ? phandleOf(to) : PHANDLE_UNRESOLVED]));
          offset += 4;
          continue;
        }
        const to = target(part.ref, prop, node);
        referenced.add(to);
        if (part.kind === 'phandle') {
          chunks.push(encodeU32s([phandleOf(to)]));
          offset += 4;
        } else {
          const path = encoder.encode(to.path);
          const withNul = new Uint8Array(path.length + 1);
          withNul.set(path);
          chunks.push(withNul);
          offset += withNul.length;
        }
      }
      if (sites.length > 0) fixups.set(prop, sites);
      const value = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        value.set(c, o);
        o += c.length;
      }
      prop.value = value;
    }
  }

  // dtc prunes after fixing up references, so a reference from a pruned node still counts.
  for (const node of [...tree.root.walk()]) {
    // With symbols (dtc -@) a label counts as a reference: the overlay may use it.
    const kept = referenced.has(node) || (state.symbols && node.labels.length > 0);
    if (state.omitIfNoRef.has(node) && !kept && node.parent) node.parent.removeChild(node);
  }

  // dtc -@: after pruning, every label becomes a property of /__symbols__ holding its node's
  // path, and every labelled node gets a phandle (continuing the same allocation).
  if (state.symbols) {
    const labelled = [...tree.root.walk()].filter((n) => n.labels.length > 0);
    // Like dtc, no /__symbols__ at all when there is no label.
    if (labelled.length > 0) {
      const symbols = tree.root.child('__symbols__') ?? tree.root.addChild(new DtNode('__symbols__'));
      for (const node of labelled) {
        for (const label of node.labels) if (!symbols.has(label)) symbols.set(label, encodeStrings([node.path]));
        phandleOf(node);
      }
    }
  }

  if (state.plugin) generateFixups(tree, fixups);
}

/** dtc's __fixups__ (one string list per unresolved label: "path:property:offset") and
 *  __local_fixups__ (a tree mirroring the overlay, whose properties list the offsets of
 *  phandles of the overlay's own nodes), generated from the final tree in depth-first order. */
function generateFixups(tree: DeviceTree, fixups: Map<Property, FixupSite[]>): void {
  const external: [string, string][] = [];
  const local: [DtNode, Property, number][] = [];
  for (const node of tree.root.walk()) {
    for (const prop of node.properties) {
      for (const site of fixups.get(prop) ?? []) {
        if (site.label === null) {
          local.push([node, prop, site.offset]);
          continue;
        }
        if (node.path.includes(':') || prop.name.includes(':')) {
          fail(`${node.path}: property ${prop.name}: an overlay fixup cannot name a path or property containing ':'`, prop.location);
        }
        external.push([site.label, `${node.path}:${prop.name}:${site.offset}`]);
      }
    }
  }
  const append = (node: DtNode, name: string, bytes: Uint8Array): void => {
    const old = node.property(name)?.value ?? new Uint8Array(0);
    const value = new Uint8Array(old.length + bytes.length);
    value.set(old);
    value.set(bytes, old.length);
    node.set(name, value);
  };
  const rootChild = (name: string): DtNode => tree.root.child(name) ?? tree.root.addChild(new DtNode(name));
  if (external.length > 0) {
    const fn = rootChild('__fixups__');
    for (const [label, entry] of external) append(fn, label, encodeStrings([entry]));
  }
  if (local.length > 0) {
    const lfn = rootChild('__local_fixups__');
    for (const [node, prop, offset] of local) {
      let at = lfn;
      for (const part of node.path.split('/').filter((p) => p !== '')) at = at.child(part) ?? at.addChild(new DtNode(part));
      append(at, prop.name, encodeU32s([offset]));
    }
  }
}
