// The device tree an argument names: a .dts file (with /include/), a .dtb file (recognised by
// its magic number whatever its name, or by a .dtb suffix), or the name of a built-in platform. A file wins over a
// platform of the same name.

import { readFileSync, statSync } from 'node:fs';
import type { DeviceTree } from '../formats/devicetree/tree.js';
import { FDT_MAGIC, readDtb } from '../formats/dtb/index.js';
import { findBuiltinPlatform, listBuiltinPlatforms, loadBuiltinPlatform } from '../platform/builtin/index.js';
import { parseDtsFile } from '../platform/dts/index.js';
import { CliError } from './errors.js';

export type TreeFormat = 'dts' | 'dtb';

export interface LoadedTree {
  tree: DeviceTree;
  /** The file read (for a built-in platform, its DTS file). */
  file: string;
  format: TreeFormat;
  /** The built-in platform's name, or null for a file. */
  platform: string | null;
}

export interface LoadOptions {
  /** Directories searched for /include/ after the including file's own (dtc -i). */
  includeDirs?: string[];
}

function isDtb(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false) === FDT_MAGIC;
}

function reason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

export function loadDeviceTree(spec: string, options: LoadOptions = {}): LoadedTree {
  let exists = false;
  try {
    exists = statSync(spec).isFile();
    if (!exists) throw new CliError(`${spec}: is a directory, not a device tree file`);
  } catch (err) {
    if (err instanceof CliError) throw err;
  }
  if (!exists) {
    if (findBuiltinPlatform(spec) !== undefined) {
      const p = loadBuiltinPlatform(spec);
      return { tree: p.tree, file: p.file, format: 'dts', platform: p.name };
    }
    const names = listBuiltinPlatforms().map((p) => p.name).join(', ');
    throw new CliError(`${spec}: no such file, and no built-in platform of that name (built-in: ${names})`);
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(spec);
  } catch (err) {
    throw new CliError(`${spec}: cannot read: ${reason(err)}`);
  }
  // A .dtb without the magic is still read as a blob, so the error says what is wrong with it.
  if (isDtb(bytes) || spec.toLowerCase().endsWith('.dtb')) return { tree: readDtb(bytes, { file: spec }), file: spec, format: 'dtb', platform: null };
  return { tree: parseDtsFile(spec, { includeDirs: options.includeDirs }), file: spec, format: 'dts', platform: null };
}
