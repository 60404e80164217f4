// The device tree a scenario's `platform:` names: a built-in platform, or a DTS or DTB file
// relative to the scenario file.

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { DeviceTree } from '../formats/devicetree/tree.js';
import { readDtb } from '../formats/dtb/index.js';
import { loadBuiltinPlatform } from '../platform/builtin/index.js';
import { parseDtsFile } from '../platform/dts/index.js';
import type { PlatformSpec } from './schema.js';

export interface PlatformTree {
  tree: DeviceTree;
  /** For reports: "riscv-virt (built-in)", "boards/x.dts". */
  description: string;
}

/** Reads the platform; a file that cannot be read gives `cannotRead(reason)`'s error. */
export function loadPlatform(spec: PlatformSpec, dir: string, cannotRead: (message: string) => Error): PlatformTree {
  if (spec.kind === 'builtin') return { tree: loadBuiltinPlatform(spec.name).tree, description: `${spec.name} (built-in)` };
  const file = isAbsolute(spec.path) ? spec.path : join(dir, spec.path);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw cannotRead(`cannot read ${spec.kind.toUpperCase()} file ${file}: ${code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)}`);
  }
  // Parse errors are DeviceTreeErrors naming the device-tree file and line.
  const tree = spec.kind === 'dtb' ? readDtb(bytes, { file: spec.path }) : parseDtsFile(file, { file: spec.path });
  return { tree, description: spec.path };
}
