// Prints a DeviceTree as DTS text, laid out like `dtc -O dts`. A tree keeps no value types,
// so each value's representation is guessed from its bytes the way dtc guesses for a blob
// (treesource.c guess_value_type): printable NUL-terminated strings as a string list, a
// whole number of 4-byte cells as <0x..>, anything else as [bytes]. Parsing the output
// gives back the same bytes, names, labels and reservations.

import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';

/** C isprint() in the "C" locale. */
function isPrint(b: number): boolean {
  return b >= 0x20 && b <= 0x7e;
}

/** dtc's isstring(): printable, NUL, or one of \a \b \t \n \v \f \r. */
function isStringByte(b: number): boolean {
  return isPrint(b) || b === 0 || (b >= 0x07 && b <= 0x0d);
}

function looksLikeStrings(v: Uint8Array): boolean {
  if (v.length === 0 || v[v.length - 1] !== 0) return false;
  let nul = 0;
  for (const b of v) {
    if (!isStringByte(b)) return false;
    if (b === 0) nul++;
  }
  // Mostly NULs means binary data that happens to end in 0, not text.
  return nul <= v.length - nul;
}

const ESCAPES: Readonly<Record<number, string>> = {
  0x07: '\\a',
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0b: '\\v',
  0x0c: '\\f',
  0x0d: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
};

function quote(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    const e = ESCAPES[b];
    s += e ?? (isPrint(b) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`);
  }
  return `${s}"`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** The text after the property name: "" for an empty property, else " = value". */
export function formatValue(v: Uint8Array): string {
  if (v.length === 0) return '';
  if (looksLikeStrings(v)) {
    const strings: string[] = [];
    let start = 0;
    for (let i = 0; i < v.length; i++) {
      if (v[i] === 0) {
        strings.push(quote(v.subarray(start, i)));
        start = i + 1;
      }
    }
    return ` = ${strings.join(', ')}`;
  }
  if (v.length % 4 === 0) {
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const cells: string[] = [];
    for (let i = 0; i < v.length; i += 4) cells.push(`0x${hex2(view.getUint32(i, false))}`);
    return ` = <${cells.join(' ')}>`;
  }
  return ` = [${Array.from(v, hex2).join(' ')}]`;
}

function formatNode(node: DtNode, depth: number, out: string[]): void {
  const indent = '\t'.repeat(depth);
  // The root cannot carry labels in DTS syntax, so only other nodes print theirs.
  const labels = node.parent === null ? '' : node.labels.map((l) => `${l}: `).join('');
  out.push(`${indent}${labels}${node.parent === null ? '/' : node.name} {\n`);
  for (const p of node.properties) out.push(`${indent}\t${p.name}${formatValue(p.value)};\n`);
  for (const c of node.children) {
    out.push('\n');
    formatNode(c, depth + 1, out);
  }
  out.push(`${indent}};\n`);
}

export function formatDts(tree: DeviceTree): string {
  const out: string[] = ['/dts-v1/;\n\n'];
  for (const r of tree.reservations) {
    const a = BigInt.asUintN(64, r.address).toString(16).padStart(16, '0');
    const s = BigInt.asUintN(64, r.size).toString(16).padStart(16, '0');
    out.push(`/memreserve/\t0x${a} 0x${s};\n`);
  }
  formatNode(tree.root, 0, out);
  return out.join('');
}
