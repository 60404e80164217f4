// `iommu-lab scenarios [--json]`: the built-in scenarios, runnable by name
// (`iommu-lab run arm-virt-tour`).

import type { Command } from 'commander';
import { listBuiltinScenarios } from '../../scenario/index.js';
import type { CliIo } from '../io.js';

export function registerScenarios(program: Command, io: CliIo): void {
  program
    .command('scenarios')
    .description('list the built-in scenarios')
    .option('--json', 'print name, description and file as JSON')
    .action((options: { json?: boolean }) => {
      const scenarios = listBuiltinScenarios();
      if (options.json) {
        io.out(`${JSON.stringify(scenarios, null, 2)}\n`);
        return;
      }
      const width = Math.max(...scenarios.map((s) => s.name.length));
      for (const s of scenarios) io.out(`${s.name.padEnd(width)}  ${s.description}\n`);
    });
}
