// File helpers. Reading names the file in every error; writing builds the whole blob
// before touching the disk and then renames a temporary file into place, so a failure
// never leaves a half-written DTB behind.

import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { DeviceTreeError, type DeviceTree } from '../devicetree/tree.js';
import { readDtb } from './reader.js';
import { writeDtb, type WriteDtbOptions } from './writer.js';

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads and parses a .dtb file. */
export function readDtbFile(path: string): DeviceTree {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DeviceTreeError(`${path}: cannot read device tree blob: ${reason(err)}`);
  }
  return readDtb(bytes, { file: path });
}

/** Serialises `tree` and writes it to `path`, replacing the file atomically. */
export function writeDtbFile(path: string, tree: DeviceTree, options: WriteDtbOptions = {}): void {
  const bytes = writeDtb(tree, options);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw new DeviceTreeError(`${path}: cannot write device tree blob: ${reason(err)}`);
  }
}
