// `iommu-lab explain [scenario.yaml] --device D --iova A [--write] [--pasid N] [--cold] [--json]`:
// runs the scenario (default: the embedded one), then presents one request of D at A to D's
// IOMMU model and prints the translation step by step: each memory read with its structure,
// level, address, value and decoded fields, what the caches did, and the translated address
// or the fault cause and its reason. --cold first has the driver invalidate the IOMMU's caches.
//
// A scenario step that fails does not stop the explanation (explaining the machine as the
// failure left it is often the point): its error line goes to stderr as a note, exit status 0.

import type { Command } from 'commander';
import { formatExplanation, reportJson } from '../../report/index.js';
import { explainTranslation, parseAddressText, ScenarioError } from '../../scenario/index.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';
import { failWith, prepareRun, runPrepared } from './run.js';

interface ExplainOptions {
  device: string;
  iova: string;
  write?: boolean;
  pasid?: string;
  cold?: boolean;
  json?: boolean;
  platform?: string;
  seed?: string;
}

export function registerExplain(program: Command, io: CliIo): void {
  program
    .command('explain')
    .description("run a scenario, then show one translation of a device's request step by step")
    .argument('[scenario]', 'a scenario file (YAML) or a built-in scenario; default: riscv-virt-tour')
    .requiredOption('--device <device>', 'the requester: kernel name (0000:00:01.0), device-tree path or label')
    .requiredOption('--iova <address>', 'the address the device uses: a number (0x40000000) or a buffer/mapping name of the scenario (rx+0x40)')
    .option('--write', 'a write request (default: a read)')
    .option('--pasid <n>', 'send the request with this PASID (process_id)')
    .option('--cold', "first invalidate the IOMMU's caches through the driver's command queue")
    .option('--json', 'print the explanation as JSON (64-bit values as hex strings)')
    .option('--platform <name|file>', "run on this platform instead of the scenario's")
    .option('--seed <n>', "seed of the scenario's workloads")
    .action((file: string | undefined, options: ExplainOptions) => {
      const iova = parseAddressText(options.iova);
      if (iova === null) throw new CliError(`--iova: expected an address such as 0x40000000 or rx+0x40, got "${options.iova}"`);
      let pasid: number | null = null;
      if (options.pasid !== undefined) {
        const n = /^(0x[0-9a-f]+|[0-9]+)$/i.test(options.pasid) ? Number(options.pasid) : NaN;
        if (!Number.isInteger(n) || n < 0 || n > 0xfffff) throw new CliError(`--pasid: expected a PASID from 0 to 0xfffff, got "${options.pasid}"`);
        pasid = n;
      }
      const { runner, result } = runPrepared(io, prepareRun(io, file, options));
      if (result.error !== null) for (const p of result.error.problems) io.err(`iommu-lab: note: the scenario stopped early: ${p}\n`);
      let explanation;
      try {
        explanation = explainTranslation(runner, { device: options.device, iova, write: options.write === true, pasid, cold: options.cold === true });
      } catch (e) {
        if (e instanceof ScenarioError) failWith(io, e);
        throw e;
      }
      io.out(options.json === true ? `${reportJson(explanation)}\n` : formatExplanation(explanation));
    });
}
