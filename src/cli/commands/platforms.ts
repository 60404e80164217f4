// `iommu-lab platforms [--json]`: the built-in platforms, usable by name wherever a device
// tree is expected.

import type { Command } from 'commander';
import { listBuiltinPlatforms } from '../../platform/builtin/index.js';
import type { CliIo } from '../io.js';

export function registerPlatforms(program: Command, io: CliIo): void {
  program
    .command('platforms')
    .description('list the built-in platforms')
    .option('--json', 'print name, description and DTS file as JSON')
    .action((options: { json?: boolean }) => {
      const platforms = listBuiltinPlatforms();
      if (options.json) {
        io.out(`${JSON.stringify(platforms, null, 2)}\n`);
        return;
      }
      const width = Math.max(...platforms.map((p) => p.name.length));
      for (const p of platforms) io.out(`${p.name.padEnd(width)}  ${p.description}\n`);
    });
}
