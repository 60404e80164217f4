// Shared helpers for the DTS parser tests.
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { DeviceTreeError, type DeviceTree, type DtNode } from '../../../src/formats/devicetree/tree.js';
import { parseDts, type ParseDtsOptions } from '../../../src/platform/dts/index.js';

/** "de ad be ef" (spaces optional) → bytes. */
export function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** bytes → "de ad be ef", the form assertions compare. */
export function hexOf(value: Uint8Array): string {
  return Array.from(value, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Big-endian 32-bit cells → the hexOf form. */
export function cellsHex(...cells: number[]): string {
  return cells.map((c) => (c >>> 0).toString(16).padStart(8, '0').replace(/(..)(?!$)/g, '$1 ')).join(' ');
}

/** The ASCII strings, each NUL-terminated → the hexOf form. */
export function stringsHex(...strings: string[]): string {
  return hexOf(new TextEncoder().encode(strings.map((s) => `${s}\0`).join('')));
}

/** Parses a DTS fragment given as the body of the root node. */
export function parseRoot(body: string, options?: ParseDtsOptions): DeviceTree {
  return parseDts(`/dts-v1/;\n/ {\n${body}\n};\n`, options);
}

/** The hexOf form of property `prop` of the node at `path`. */
export function propHex(tree: DeviceTree, path: string, prop: string): string {
  const node = tree.find(path);
  expect(node, `node ${path}`).toBeDefined();
  const p = (node as DtNode).property(prop);
  expect(p, `property ${prop} of ${path}`).toBeDefined();
  return hexOf(p?.value ?? new Uint8Array());
}

/** Runs `fn`, which must throw a DeviceTreeError, and returns its message. */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DeviceTreeError);
    return (err as DeviceTreeError).message;
  }
  throw new Error('expected a DeviceTreeError, but nothing was thrown');
}

/** The message of parsing `text` as input.dts, which must fail. */
export function parseError(text: string, options: ParseDtsOptions = {}): string {
  return errorOf(() => parseDts(text, { file: 'input.dts', ...options }));
}

/** Every node path in depth-first order. */
export function paths(tree: DeviceTree): string[] {
  return [...tree.root.walk()].map((n) => n.path);
}

/** Whether the device tree compiler is installed (CI installs it). */
export const haveDtc: boolean = (() => {
  const r = spawnSync('dtc', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
})();

/** An in-memory file system for /include/ tests. */
export function memoryFs(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };
}
