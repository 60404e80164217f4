// Recursive-descent parser for Device Tree Source version 1, following the grammar of dtc
// (dtc-parser.y). It builds the DeviceTree directly: a node body is applied to its target
// node statement by statement, so a second `/ { ... };`, `&label { ... };` or
// `&{/path} { ... };` merges into the existing node (properties replaced in place, new ones
// appended, children merged recursively). References inside values are recorded and
// resolved after the whole source has been read (see references.ts), as dtc does.
//
// Deletion follows dtc (livetree.c) exactly, because real trees depend on it: a deleted node
// or property stays in place as a tombstone until the end, and a later merge that defines the
// same name brings it back *at its old position* (the node without its old contents). Inside
// the body that first creates a node, dtc builds the node before any merging, so a
// /delete-property/ there has no effect and a /delete-node/ of a sibling is a duplicate name.

import {
  DeviceTree,
  DeviceTreeError,
  DtNode,
  encodeStrings,
  encodeU32s,
  type MemoryReservation,
  type Property,
  type SourceLocation,
} from '../../formats/devicetree/tree.js';
import { Lexer, type Keyword, type Token } from './lexer.js';
import {
  PHANDLE_UNRESOLVED,
  resolveReferences,
  type LabelSite,
  type ParseState,
  type PropInfo,
  type RefToken,
  type ValuePart,
} from './references.js';
import { DEFAULT_FILE_NAME, SourceLoader, type DtsOptions } from './sources.js';

const U64_MASK = (1n << 64n) - 1n;

/** dtc's NODECHARS and PROPNODECHARS (checks.c): what a node or property name may contain. */
const NODE_NAME_CHARS = /^[a-zA-Z0-9,._+@-]*$/;
const PROPERTY_NAME_CHARS = /^[a-zA-Z0-9,._+*#?-]*$/;

export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'label':
      return `label '${t.text}:'`;
    case 'ref':
      return `reference '&${t.text}'`;
    case 'pathref':
      return `reference '&{${t.text}}'`;
    case 'string':
      return `string ${t.text.length > 40 ? `${t.text.slice(0, 37)}..."` : t.text}`;
    default:
      return `'${t.text}'`;
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Big-endian encoding of the low `bits` bits of `v`. */
function encodeUint(v: bigint, bits: number): Uint8Array {
  const out = new Uint8Array(bits / 8);
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** Context of one `{ ... }` body: what it defined, for dtc's duplicate-name errors. */
interface Body {
  node: DtNode;
  /** The body creates its node (rather than merging into an existing one). */
  fresh: boolean;
  properties: Set<string>;
  children: Set<string>;
  /** Names given to /delete-node/ in a fresh body (where dtc treats them as siblings). */
  deletedChildren: Set<string>;
  sawSubnode: boolean;
}

export class Parser {
  private readonly lexer: Lexer;
  private readonly loader: SourceLoader;
  private token: Token;
  private readonly tree = new DeviceTree();
  private readonly state: ParseState = {
    props: new Map<Property, PropInfo>(),
    nodeLabels: new Map<DtNode, LabelSite[]>(),
    omitIfNoRef: new Set<DtNode>(),
    deletedNodes: new Set<DtNode>(),
    deletedProps: new Set<Property>(),
    plugin: false,
    symbols: false,
  };
  private nextFragment = 0;

  constructor(text: string, options: DtsOptions = {}) {
    const loader = new SourceLoader(options);
    this.lexer = new Lexer(text, options.file ?? DEFAULT_FILE_NAME, loader);
    this.loader = loader;
    this.state.symbols = options.symbols ?? false;
    this.token = this.lexer.next();
  }

  // ---- token helpers -----------------------------------------------------------------

  private next(): Token {
    const t = this.token;
    this.token = this.lexer.next();
    return t;
  }

  private isPunct(text: string, t: Token = this.token): boolean {
    return t.kind === 'punct' && t.text === text;
  }

  private isKeyword(text: Keyword, t: Token = this.token): boolean {
    return t.kind === 'keyword' && t.text === text;
  }

  private fail(message: string, loc: SourceLocation): never {
    throw new DeviceTreeError(message, loc);
  }

  /** Throws "expected <what>, found <token>" at the current token. */
  private expected(what: string): never {
    this.fail(`expected ${what}, found ${describeToken(this.token)}`, this.token.loc);
  }

  private expectPunct(text: string, context: string): Token {
    if (!this.isPunct(text)) this.expected(`'${text}' ${context}`);
    return this.next();
  }

  private labels(): LabelSite[] {
    const out: LabelSite[] = [];
    while (this.token.kind === 'label') {
      const t = this.next();
      out.push({ name: t.text, loc: t.loc });
    }
    return out;
  }

  // ---- file ------------------------------------------------------------------------------

  parse(): DeviceTree {
    if (!this.isKeyword('/dts-v1/')) {
      this.expected("'/dts-v1/;' at the start of the source (only version 1 DTS is supported)");
    }
    while (this.token.kind === 'keyword' && (this.token.text === '/dts-v1/' || this.token.text === '/plugin/')) {
      const t = this.next();
      if (t.text === '/plugin/') this.state.plugin = true;
      this.expectPunct(';', `after '${t.text}'`);
    }

    let labels = this.labels();
    while (this.isKeyword('/memreserve/')) {
      this.next();
      this.tree.reservations.push(this.memreserve());
      labels = this.labels();
    }

    let sawRoot = false;
    let statements = 0;
    for (;;) {
      const t = this.token;
      if (t.kind === 'eof') {
        if (labels.length > 0) this.expected(`a node reference after label '${labels[0].name}:'`);
        break;
      }
      if (this.isPunct('/')) {
        if (labels.length > 0) this.fail(`a label cannot be attached to the root node '/' (label '${labels[0].name}:')`, labels[0].loc);
        this.next();
        const open = this.expectPunct('{', "after '/'");
        // Only the very first statement creates the root; later ones (also after an
        // overlay's fragments) merge into it.
        const fresh = statements === 0;
        if (fresh) this.tree.root.location = open.loc;
        this.body(this.tree.root, fresh, '/');
        sawRoot = true;
      } else if (t.kind === 'ref' || t.kind === 'pathref') {
        this.next();
        const local = this.find(t);
        if (this.state.plugin && labels.length === 0 && (t.kind === 'pathref' || local === undefined)) {
          // In an overlay, a node of the base tree (any &{/path}, or a label the overlay does
          // not define) is the target of a new fragment, as dtc 1.6 does it.
          this.expectPunct('{', `after node reference ${describeToken(t).replace(/^reference /, '')}`);
          const overlay = this.fragment(t);
          this.body(overlay, true, overlay.path);
        } else {
          const target = local ?? this.lookup(t, 'in a top-level node reference');
          this.addLabels(target, labels);
          this.expectPunct('{', `after node reference ${describeToken(t).replace(/^reference /, '')}`);
          this.body(target, false, target.path);
        }
      } else if (this.isKeyword('/delete-node/') || this.isKeyword('/omit-if-no-ref/')) {
        const kw = this.next();
        if (labels.length > 0) this.fail(`a label cannot be attached to ${kw.text}`, labels[0].loc);
        const ref = this.token;
        if (ref.kind !== 'ref' && ref.kind !== 'pathref') this.expected(`a node reference (&label or &{/path}) after ${kw.text}`);
        this.next();
        const target = this.lookup(ref, `after ${kw.text}`);
        this.expectPunct(';', `after ${kw.text} ${describeToken(ref).replace(/^reference /, '')}`);
        if (kw.text === '/omit-if-no-ref/') {
          this.state.omitIfNoRef.add(target);
        } else if (target.parent === null) {
          this.fail('/delete-node/ cannot delete the root node', ref.loc);
        } else {
          this.deleteNode(target);
        }
      } else if (this.isKeyword('/memreserve/')) {
        this.fail('/memreserve/ entries must come before the first node', t.loc);
      } else if (this.isKeyword('/dts-v1/') || this.isKeyword('/plugin/')) {
        this.fail(`'${t.text};' must come at the start of the source, before any node`, t.loc);
      } else if (labels.length > 0) {
        this.expected(`a node reference (&label or &{/path}) after label '${labels[labels.length - 1].name}:'`);
      } else {
        this.expected("'/ {', '&label {', '&{/path} {', '/delete-node/' or '/omit-if-no-ref/' at the top level");
      }
      statements++;
      labels = this.labels();
    }
    if (!sawRoot && !(this.state.plugin && statements > 0)) {
      const what = this.state.plugin ? "a root node '/ { ... };' or a node reference '&label { ... };'" : "a root node '/ { ... };'";
      this.fail(`expected ${what}, found end of input`, this.token.loc);
    }

    this.removeDeleted(this.tree.root);
    resolveReferences(this.tree, this.state);
    return this.tree;
  }

  private memreserve(): MemoryReservation {
    const address = this.integerPrim('an address after /memreserve/');
    const size = this.integerPrim('a size after the /memreserve/ address');
    this.expectPunct(';', 'after /memreserve/ address and size');
    return { address, size };
  }

  // ---- references --------------------------------------------------------------------

  /** The node a `&label` or `&{/path}` token names at this point of the source. */
  private find(t: Token): DtNode | undefined {
    // Deleted nodes have lost their labels, so only the path lookup must skip them.
    if (t.kind === 'ref') return this.tree.byLabel(t.text);
    let node: DtNode = this.tree.root;
    for (const part of t.text.split('/')) {
      if (part === '') continue;
      const child = this.liveChild(node, part);
      if (!child) return undefined;
      node = child;
    }
    return node;
  }

  // ---- deletion (tombstones, removed for good in removeDeleted) ---------------------------

  private liveChild(node: DtNode, name: string): DtNode | undefined {
    return node.children.find((c) => c.name === name && !this.state.deletedNodes.has(c));
  }

  private deleteProperty(prop: Property): void {
    this.state.deletedProps.add(prop);
    const info = this.state.props.get(prop);
    if (info) info.labels = [];
  }

  /** dtc's delete_node: the node, its live descendants and their properties become
   *  tombstones, and their labels are gone. */
  private deleteNode(node: DtNode): void {
    this.state.deletedNodes.add(node);
    node.labels.length = 0;
    this.state.nodeLabels.delete(node);
    for (const prop of node.properties) if (!this.state.deletedProps.has(prop)) this.deleteProperty(prop);
    for (const child of node.children) if (!this.state.deletedNodes.has(child)) this.deleteNode(child);
  }

  /** Drops the tombstones once the whole source is read. */
  private removeDeleted(node: DtNode): void {
    for (const prop of node.properties.filter((p) => this.state.deletedProps.has(p))) {
      node.properties.splice(node.properties.indexOf(prop), 1);
    }
    for (const child of [...node.children]) {
      if (this.state.deletedNodes.has(child)) node.removeChild(child);
      else this.removeDeleted(child);
    }
  }

  private freshDeleteError(body: Body, at: Token): never {
    return this.fail(
      `duplicate node name "${at.text}" in ${body.node.path}: /delete-node/ cannot delete a sibling inside the body that first ` +
        'defines their parent (dtc treats both as children); delete it in a later reference to the parent',
      at.loc,
    );
  }

  /** Like find, but a missing node is an error. */
  private lookup(t: Token, context: string): DtNode {
    const node = this.find(t);
    if (node) return node;
    if (t.kind === 'ref') this.fail(`unknown label "${t.text}" ${context} (no node has this label at this point)`, t.loc);
    return this.fail(`no node at path "${t.text}" ${context}`, t.loc);
  }

  /** Builds `fragment@N { target = <&label>; __overlay__ { }; }` (or target-path for
   *  &{/path}) at the end of the root, numbering fragments from 0 as dtc does, and returns
   *  the __overlay__ node. */
  private fragment(ref: RefToken): DtNode {
    const name = `fragment@${this.nextFragment++}`;
    if (this.tree.root.child(name)) this.fail(`overlay fragment ${name} would replace the node /${name} defined earlier`, ref.loc);
    const fragment = this.tree.root.addChild(new DtNode(name));
    fragment.location = ref.loc;
    if (ref.kind === 'pathref') {
      fragment.set('target-path', encodeStrings([ref.text]), ref.loc);
    } else {
      fragment.set('target', encodeU32s([PHANDLE_UNRESOLVED]), ref.loc);
      const target = fragment.property('target');
      if (target) this.state.props.set(target, { labels: [], parts: [{ kind: 'phandle', ref }] });
    }
    const overlay = fragment.addChild(new DtNode('__overlay__'));
    overlay.location = ref.loc;
    return overlay;
  }

  private addLabels(node: DtNode, labels: readonly LabelSite[]): void {
    if (labels.length === 0) return;
    let sites = this.state.nodeLabels.get(node);
    if (!sites) this.state.nodeLabels.set(node, (sites = []));
    // dtc prepends each statement's new labels, so labels added later come first (this order
    // shows in formatDts output and in __symbols__).
    const added: string[] = [];
    for (const l of labels) {
      if (node.labels.includes(l.name) || added.includes(l.name)) continue;
      added.push(l.name);
      sites.push(l);
    }
    node.labels.unshift(...added);
  }

  // ---- node bodies ------------------------------------------------------------------------

  /** Parses `... } ;` (the '{' is already consumed) into `node`. */
  private body(node: DtNode, fresh: boolean, displayName: string): void {
    const body: Body = { node, fresh, properties: new Set(), children: new Set(), deletedChildren: new Set(), sawSubnode: false };
    for (;;) {
      if (this.isPunct('}')) break;
      const labels = this.labels();
      const t = this.token;
      if (this.isKeyword('/delete-property/')) {
        this.next();
        this.propertyMustPrecedeSubnodes(body, t);
        const name = this.name(`a property name after /delete-property/`);
        this.expectPunct(';', `after /delete-property/ ${name.text}`);
        const prop = node.property(name.text);
        if (!fresh && prop && !this.state.deletedProps.has(prop)) this.deleteProperty(prop);
      } else if (this.isKeyword('/delete-node/')) {
        this.next();
        const name = this.name('a node name after /delete-node/ (use &label or &{/path} only at the top level)');
        this.expectPunct(';', `after /delete-node/ ${name.text}`);
        if (fresh) {
          if (body.children.has(name.text)) this.freshDeleteError(body, name);
          body.deletedChildren.add(name.text);
        } else {
          const child = this.liveChild(node, name.text);
          if (child) this.deleteNode(child);
        }
        body.sawSubnode = true;
      } else if (this.isKeyword('/omit-if-no-ref/')) {
        this.next();
        const more = this.labels();
        const name = this.name('a node name after /omit-if-no-ref/');
        if (!this.isPunct('{')) this.expected(`'{' after node name "${name.text}" (/omit-if-no-ref/ applies to a node)`);
        this.next();
        this.subnode(body, name, [...labels, ...more], true);
      } else if (t.kind === 'name') {
        this.next();
        if (this.isPunct('{')) {
          this.next();
          this.subnode(body, t, labels, false);
        } else if (this.isPunct('=') || this.isPunct(';')) {
          this.property(body, t, labels);
        } else {
          this.expected(`'=', ';' or '{' after "${t.text}"`);
        }
      } else if (labels.length > 0) {
        this.expected(`a property or node name after label '${labels[labels.length - 1].name}:'`);
      } else {
        this.expected(`a property, a child node or '}' in node ${displayName}`);
      }
    }
    this.next(); // '}'
    this.expectPunct(';', `after '}' closing node ${displayName}`);
  }

  private name(what: string): Token {
    if (this.token.kind !== 'name') this.expected(what);
    return this.next();
  }

  private propertyMustPrecedeSubnodes(body: Body, at: Token): void {
    if (body.sawSubnode) {
      this.fail(`properties must precede subnodes: ${at.text} comes after a child node of ${body.node.path}`, at.loc);
    }
  }

  private subnode(body: Body, nameTok: Token, labels: readonly LabelSite[], omit: boolean): void {
    const name = nameTok.text;
    const bad = [...name].find((c) => !NODE_NAME_CHARS.test(c));
    if (bad !== undefined) this.fail(`bad character '${bad}' in node name "${name}"`, nameTok.loc);
    if (name.indexOf('@') !== name.lastIndexOf('@')) this.fail(`node name "${name}" has more than one '@'`, nameTok.loc);
    if (body.fresh && body.children.has(name)) {
      this.fail(`duplicate node name "${name}" in ${body.node.path}`, nameTok.loc);
    }
    if (body.fresh && body.deletedChildren.has(name)) this.freshDeleteError(body, nameTok);
    body.children.add(name);
    body.sawSubnode = true;
    // A merge finds a deleted node too, and revives it in its old place (dtc merge_nodes).
    let child = body.node.child(name);
    const fresh = child === undefined;
    if (!child) {
      child = body.node.addChild(new DtNode(name));
      child.location = nameTok.loc;
    }
    this.state.deletedNodes.delete(child);
    this.addLabels(child, labels);
    if (omit) this.state.omitIfNoRef.add(child);
    this.body(child, fresh, child.path);
  }

  private property(body: Body, nameTok: Token, labels: readonly LabelSite[]): void {
    const name = nameTok.text;
    this.propertyMustPrecedeSubnodes(body, nameTok);
    const bad = [...name].find((c) => !PROPERTY_NAME_CHARS.test(c));
    if (bad !== undefined) this.fail(`bad character '${bad}' in property name "${name}"`, nameTok.loc);
    if (body.fresh && body.properties.has(name)) {
      this.fail(`duplicate property name "${name}" in ${body.node.path}`, nameTok.loc);
    }
    body.properties.add(name);

    const info: PropInfo = { labels: [...labels], parts: null };
    let value: Uint8Array = new Uint8Array(0);
    if (this.isPunct('=')) {
      this.next();
      const parts = this.value(name, info);
      // Until references are resolved, a phandle is 4 bytes of 0xff and a path is absent,
      // which is the length dtc's checks see at this stage.
      const placeholder = (p: ValuePart): Uint8Array =>
        p instanceof Uint8Array ? p : p.kind === 'phandle' ? new Uint8Array(4).fill(0xff) : new Uint8Array(0);
      value = concat(parts.map(placeholder));
      if (!parts.every((p) => p instanceof Uint8Array)) info.parts = parts;
    }
    if (!this.isPunct(';')) this.expected(`';' after property "${name}"`);
    this.next();

    // A redefinition keeps the property's place, even if it was deleted, and, as in dtc, its
    // earlier labels (a deleted property has lost them).
    const previous = body.node.property(name);
    const kept = previous ? (this.state.props.get(previous)?.labels ?? []) : [];
    info.labels = [...kept, ...info.labels.filter((l) => !kept.some((k) => k.name === l.name))];
    body.node.set(name, value, nameTok.loc);
    const prop = body.node.property(name);
    if (prop === undefined) throw new Error('unreachable: property just set');
    this.state.deletedProps.delete(prop);
    if (info.parts !== null || info.labels.length > 0) this.state.props.set(prop, info);
    else this.state.props.delete(prop);
  }

  // ---- property values ------------------------------------------------------------------

  /** propdata: items separated by ',', each optionally surrounded by labels. */
  private value(propName: string, info: PropInfo): ValuePart[] {
    const parts: ValuePart[] = [];
    let after = "'='";
    for (;;) {
      info.labels.push(...this.labels());
      const t = this.token;
      if (t.kind === 'string') {
        this.next();
        parts.push(concat([t.bytes, new Uint8Array(1)]));
      } else if (this.isPunct('<') || this.isKeyword('/bits/')) {
        this.cells(parts, info);
      } else if (this.isPunct('[')) {
        this.next();
        this.bytes(parts, info);
      } else if (t.kind === 'ref' || t.kind === 'pathref') {
        this.next();
        parts.push({ kind: 'path', ref: t });
      } else if (this.isKeyword('/incbin/')) {
        this.next();
        parts.push(this.incbin());
      } else {
        this.expected(`a value for property "${propName}" after ${after} (a "string", <cells>, [bytes] or &reference)`);
      }
      info.labels.push(...this.labels());
      if (!this.isPunct(',')) return parts;
      this.next();
      after = "','";
    }
  }

  /** `<...>` or `/bits/ N <...>`. */
  private cells(parts: ValuePart[], info: PropInfo): void {
    let bits = 32;
    if (this.isKeyword('/bits/')) {
      this.next();
      const size = this.token;
      if (size.kind !== 'number') this.expected('an element size (8, 16, 32 or 64) after /bits/');
      this.next();
      if (size.value !== 8n && size.value !== 16n && size.value !== 32n && size.value !== 64n) {
        this.fail(`/bits/ ${size.text}: array elements must be 8, 16, 32 or 64 bits`, size.loc);
      }
      bits = Number(size.value);
      if (!this.isPunct('<')) this.expected(`'<' after /bits/ ${size.text}`);
    }
    this.next(); // '<'
    const mask = (1n << BigInt(bits)) - 1n;
    let chunk: Uint8Array[] = [];
    const flush = (): void => {
      if (chunk.length > 0) parts.push(concat(chunk));
      chunk = [];
    };
    for (;;) {
      const t = this.token;
      if (this.isPunct('>')) {
        this.next();
        break;
      }
      if (t.kind === 'label') {
        info.labels.push({ name: t.text, loc: t.loc });
        this.next();
        continue;
      }
      if (t.kind === 'ref' || t.kind === 'pathref') {
        if (bits !== 32) this.fail(`references are only allowed in arrays of 32-bit cells, not /bits/ ${bits}`, t.loc);
        this.next();
        flush();
        parts.push({ kind: 'phandle', ref: t });
        continue;
      }
      if (t.kind === 'number' || t.kind === 'char' || this.isPunct('(')) {
        const v = this.integerPrim('a cell value');
        // Like dtc: accept values that fit, or whose excess bits are a sign extension.
        if ((v & ~mask) !== 0n && (v | mask) !== U64_MASK) {
          this.fail(`value ${hex(v)} out of range for a ${bits}-bit array element`, t.loc);
        }
        chunk.push(encodeUint(v & mask, bits));
        continue;
      }
      if (t.kind === 'eof') this.expected(`'>' to close the cell list`);
      const hint = this.isPunct('-') || this.isPunct('~') || this.isPunct('!') ? ' (write an expression in parentheses, e.g. <(-1)>)' : '';
      this.expected(`a cell (number, 'c', (expression), &label) or '>'${hint}`);
    }
    flush();
  }

  /** `[...]` after the '['. */
  private bytes(parts: ValuePart[], info: PropInfo): void {
    const out: number[] = [];
    for (;;) {
      const t = this.token;
      if (t.kind === 'byte') {
        out.push(t.value);
        this.next();
      } else if (t.kind === 'label') {
        info.labels.push({ name: t.text, loc: t.loc });
        this.next();
      } else if (this.isPunct(']')) {
        this.next();
        break;
      } else {
        this.expected("a byte (two hex digits) or ']' in a byte string");
      }
    }
    parts.push(Uint8Array.from(out));
  }

  /** `/incbin/("file")` or `/incbin/("file", offset, length)`. */
  private incbin(): Uint8Array {
    this.expectPunct('(', 'after /incbin/');
    const file = this.token;
    if (file.kind !== 'string') this.expected('a quoted file name in /incbin/(...)');
    this.next();
    let range: { offset: bigint; length: bigint } | null = null;
    if (this.isPunct(',')) {
      this.next();
      const offset = this.integerPrim('an offset in /incbin/("file", offset, length)');
      this.expectPunct(',', 'after the /incbin/ offset');
      const length = this.integerPrim('a length in /incbin/("file", offset, length)');
      range = { offset, length };
    }
    this.expectPunct(')', 'to close /incbin/(...)');
    const name = new TextDecoder().decode(file.bytes);
    const { path, bytes } = this.loader.loadBinary(name, file.source, file.loc);
    if (range === null) return bytes;
    if (range.offset + range.length > BigInt(bytes.length)) {
      this.fail(
        `/incbin/ ${path}: offset ${range.offset} + length ${range.length} is past the end of the file (${bytes.length} bytes)`,
        file.loc,
      );
    }
    return bytes.slice(Number(range.offset), Number(range.offset + range.length));
  }

  // ---- integer expressions ------------------------------------------------------------------
  // dtc evaluates in unsigned 64-bit arithmetic; every operand is evaluated (there is no
  // short-circuit), so a division by zero is an error even in an untaken branch, as in dtc.

  /** integer_prim: a literal, a character literal or a parenthesised expression. */
  private integerPrim(what: string): bigint {
    const t = this.token;
    if (t.kind === 'number' || t.kind === 'char') {
      this.next();
      return t.value;
    }
    if (this.isPunct('(')) {
      this.next();
      const v = this.expr();
      this.expectPunct(')', 'to close the parenthesised expression');
      return v;
    }
    return this.expected(`${what} (a number, a character literal or a parenthesised expression)`);
  }

  private expr(): bigint {
    const cond = this.binary(0);
    if (!this.isPunct('?')) return cond;
    this.next();
    const a = this.expr();
    this.expectPunct(':', "in the conditional expression 'a ? b : c'");
    const b = this.expr(); // right-associative: a ? b : c ? d : e
    return cond !== 0n ? a : b;
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['||'],
    ['&&'],
    ['|'],
    ['^'],
    ['&'],
    ['==', '!='],
    ['<', '>', '<=', '>='],
    ['<<', '>>'],
    ['+', '-'],
    ['*', '/', '%'],
  ];

  private binary(level: number): bigint {
    if (level >= Parser.LEVELS.length) return this.unary();
    const ops = Parser.LEVELS[level];
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.token;
      if (t.kind !== 'punct' || !ops.includes(t.text)) return left;
      this.next();
      const right = this.binary(level + 1);
      left = this.apply(t, left, right);
    }
  }

  private apply(op: Token, a: bigint, b: bigint): bigint {
    const bool = (x: boolean): bigint => (x ? 1n : 0n);
    switch (op.text) {
      case '||':
        return bool(a !== 0n || b !== 0n);
      case '&&':
        return bool(a !== 0n && b !== 0n);
      case '|':
        return a | b;
      case '^':
        return a ^ b;
      case '&':
        return a & b;
      case '==':
        return bool(a === b);
      case '!=':
        return bool(a !== b);
      case '<':
        return bool(a < b);
      case '>':
        return bool(a > b);
      case '<=':
        return bool(a <= b);
      case '>=':
        return bool(a >= b);
      case '<<':
        return b < 64n ? (a << b) & U64_MASK : 0n;
      case '>>':
        return b < 64n ? a >> b : 0n;
      case '+':
        return (a + b) & U64_MASK;
      case '-':
        return (a - b) & U64_MASK;
      case '*':
        return (a * b) & U64_MASK;
      case '/':
      case '%':
        if (b === 0n) this.fail('division by zero', op.loc);
        return op.text === '/' ? a / b : a % b;
      default:
        throw new Error(`unreachable: operator ${op.text}`);
    }
  }

  private unary(): bigint {
    const t = this.token;
    if (this.isPunct('-') || this.isPunct('~') || this.isPunct('!')) {
      this.next();
      const v = this.unary();
      if (t.text === '-') return -v & U64_MASK;
      if (t.text === '~') return ~v & U64_MASK;
      return v === 0n ? 1n : 0n;
    }
    return this.integerPrim('an operand');
  }
}

export function parseDtsText(text: string, options: DtsOptions = {}): DeviceTree {
  return new Parser(text, options).parse();
}
