// `iommu-lab inspect FILE|PLATFORM [--json]`: the IOMMU topology of a device tree, read
// without running anything, and what the machine boots (a kernel, or the Xen hypervisor when
// /chosen is Xen's).

import type { Command } from 'commander';
import { analyseIommuTopology, formatTopology, topologyToJson, type TopologyJson } from '../../platform/bindings/index.js';
import { hypervisorOf, XEN_BOOTARGS } from '../../platform/machine/hypervisor.js';
import type { CliIo } from '../io.js';
import { loadDeviceTree, type TreeFormat } from '../load-tree.js';

export interface InspectJson extends TopologyJson {
  input: { file: string; format: TreeFormat; platform: string | null };
  /** What a machine built from the tree boots. */
  boots: 'kernel' | 'xen';
}

interface InspectOptions {
  json?: boolean;
  include?: string[];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerInspect(program: Command, io: CliIo): void {
  program
    .command('inspect')
    .description('show the IOMMU topology of a device tree: IOMMUs, what each translates for, and binding problems')
    .argument('<tree>', 'a .dts or .dtb file, or the name of a built-in platform (see `iommu-lab platforms`)')
    .option('--json', 'print the topology as JSON')
    .option('-i, --include <dir>', 'also search <dir> for /include/ files (repeatable)', collect)
    .action((spec: string, options: InspectOptions) => {
      const loaded = loadDeviceTree(spec, { includeDirs: options.include ?? [] });
      const topology = analyseIommuTopology(loaded.tree);
      const boots = hypervisorOf(loaded.tree) ?? 'kernel';
      if (options.json) {
        const json: InspectJson = { input: { file: loaded.file, format: loaded.format, platform: loaded.platform }, boots, ...topologyToJson(topology) };
        io.out(`${JSON.stringify(json, null, 2)}\n`);
        return;
      }
      const what = loaded.platform !== null ? `built-in platform ${loaded.platform} (${loaded.file})` : `${loaded.file} (${loaded.format.toUpperCase()})`;
      const booting = boots === 'xen' ? `boots: the Xen hypervisor (/chosen has ${XEN_BOOTARGS} or a multiboot module)\n` : '';
      io.out(`device tree: ${what}\n${booting}${formatTopology(topology)}`);
    });
}
