// `iommu-lab run [scenario.yaml|built-in name] [--json] [--platform NAME|FILE] [--seed N] [--quiet]`: runs a
// scenario (docs/scenarios.md; without a file, the embedded default) and prints the report.
// It is the default command: `iommu-lab` alone runs the default scenario.
//
// Output: the report on stdout (text, or JSON with --json; nothing with --quiet), then, if a
// step failed, one line on stderr naming the file, line, step and reason, and exit status 1.
// A scenario that does not load gives one stderr line per problem and exit status 1, before
// anything runs. A progress bar goes to stderr only when stderr is a terminal and the scenario
// has a workload.

import { existsSync } from 'node:fs';
import { CommanderError, type Command } from 'commander';
import { formatReport, formatReportJson } from '../../report/index.js';
import { builtinScenarioFile, defaultScenarioFile, loadScenario, numberFromText, ScenarioError, ScenarioRunner, type LoadedScenario, type PlatformTree, type Progress, type RunResult } from '../../scenario/index.js';
import { CliError } from '../errors.js';
import { processIo, type CliIo } from '../io.js';
import { loadDeviceTree } from '../load-tree.js';

export interface RunCommandOptions {
  json?: boolean;
  platform?: string;
  seed?: string;
  quiet?: boolean;
}

/** Prints each problem as its own `iommu-lab: ` line and ends the command with status 1. */
export function failWith(io: CliIo, err: ScenarioError): never {
  for (const p of err.problems) io.err(`iommu-lab: ${p}\n`);
  throw new CommanderError(1, 'iommu-lab.scenario', err.problems[0] ?? 'scenario error');
}

/** A scenario argument: a file, else a built-in scenario's name; none: the default. */
export function scenarioFile(arg: string | undefined): string {
  if (arg === undefined) return defaultScenarioFile();
  return existsSync(arg) ? arg : (builtinScenarioFile(arg) ?? arg);
}

/** The scenario a command names (or the embedded default), its platform and seed overrides. */
export function prepareRun(io: CliIo, file: string | undefined, options: Pick<RunCommandOptions, 'platform' | 'seed'>): { loaded: LoadedScenario; platform?: PlatformTree; seed?: bigint } {
  let seed: bigint | undefined;
  if (options.seed !== undefined) {
    const n = numberFromText(options.seed);
    if (n === null) throw new CliError(`--seed: expected a number, got "${options.seed}"`);
    seed = n;
  }
  let platform: PlatformTree | undefined;
  if (options.platform !== undefined) {
    const t = loadDeviceTree(options.platform);
    platform = { tree: t.tree, description: t.platform !== null ? `${t.platform} (built-in, --platform)` : `${t.file} (--platform)` };
  }
  try {
    const loaded = loadScenario(scenarioFile(file));
    return { loaded, ...(platform === undefined ? {} : { platform }), ...(seed === undefined ? {} : { seed }) };
  } catch (e) {
    if (e instanceof ScenarioError) failWith(io, e);
    throw e;
  }
}

/** Builds the machine and runs; set-up errors of the scenario end the command. */
export function runPrepared(io: CliIo, prepared: ReturnType<typeof prepareRun>, onProgress?: (p: Progress) => void): { runner: ScenarioRunner; result: RunResult } {
  try {
    const runner = new ScenarioRunner(prepared.loaded, { ...prepared, ...(onProgress === undefined ? {} : { onProgress }) });
    return { runner, result: runner.run() };
  } catch (e) {
    if (e instanceof ScenarioError) failWith(io, e);
    throw e;
  }
}

/** A one-line progress bar redrawn in place on a terminal: only for runs past half a second, ten times a second. */
function progressBar(stream: NodeJS.WriteStream): { update: (p: Progress) => void; clear: () => void } {
  const started = performance.now();
  let drawn = 0;
  let shown = false;
  return {
    update(p) {
      const now = performance.now();
      if (now - started < 500 || now - drawn < 100) return;
      drawn = now;
      const width = 30;
      const filled = Math.round((p.done / p.total) * width);
      const what = p.label === null ? `steps[${p.step}]` : `steps[${p.step}] "${p.label}"`;
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor((p.done / p.total) * 100)).padStart(3)}% ${what}: ${p.done}/${p.total} buffers\x1b[K`);
      shown = true;
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

export function registerRun(program: Command, io: CliIo): void {
  program
    .command('run', { isDefault: true })
    .description('run a scenario (default: the embedded tour of riscv-virt) and print what the machine did')
    .argument('[scenario]', 'a scenario file (YAML, see docs/scenarios.md) or a built-in scenario (iommu-lab scenarios); default: riscv-virt-tour')
    .option('--json', 'print the report as JSON (64-bit values as hex strings)')
    .option('--platform <name|file>', "run on this platform instead of the scenario's: a built-in platform or a .dts/.dtb file")
    .option('--seed <n>', "seed of the generated workloads (replaces the scenario's seed)")
    .option('-q, --quiet', 'print no report and no progress: the exit status and any error line tell the outcome')
    .action(function (this: Command, file: string | undefined, options: RunCommandOptions) {
      // `iommu-lab frobnicate`: commander hands an unknown word to the default command.
      if (file !== undefined && this.parent?.args[0] !== 'run' && !existsSync(file) && !/\.ya?ml$/i.test(file) && builtinScenarioFile(file) === null) {
        this.parent?.error(`error: unknown command '${file}'`, { code: 'commander.unknownCommand', exitCode: 1 });
      }
      const prepared = prepareRun(io, file, options);
      const { scenario } = prepared.loaded;
      const hasWorkload = (scenario.hypervisor?.steps ?? scenario.steps).some((s) => s.kind === 'workload');
      const bar = io === processIo && process.stderr.isTTY && hasWorkload && options.quiet !== true ? progressBar(process.stderr) : null;
      let result: RunResult;
      try {
        result = runPrepared(io, prepared, bar === null ? undefined : (p) => bar.update(p)).result;
      } finally {
        bar?.clear();
      }
      if (options.quiet !== true) io.out(options.json === true ? formatReportJson(result.report) : formatReport(result.report));
      if (result.error !== null) failWith(io, result.error);
    });
}
