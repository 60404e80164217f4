// parseDtsFile: the node:fs front end of the parser, kept out of parser.ts so that the parser
// itself also runs where there is no file system.

import { readFileSync } from 'node:fs';
import { DeviceTreeError, type DeviceTree } from '../../formats/devicetree/tree.js';
import { parseDtsText } from './parser.js';
import type { DtsOptions } from './sources.js';

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads and parses a .dts file. /include/ and /incbin/ read from the file system unless
 *  `options` supplies readFile / readBinaryFile; `options.file` overrides the reported name. */
export function parseDtsFile(path: string, options: DtsOptions = {}): DeviceTree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DeviceTreeError(`${path}: cannot read device tree source: ${reason(err)}`);
  }
  return parseDtsText(text, {
    ...options,
    file: options.file ?? path,
    readFile: options.readFile ?? ((p) => readFileSync(p, 'utf8')),
    readBinaryFile: options.readBinaryFile ?? ((p) => new Uint8Array(readFileSync(p))),
  });
}
