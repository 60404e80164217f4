// The `iommu-lab` command line: one commander program, one file per command under commands/.
// runCli never throws and never exits the process: it returns the exit code, so tests can run
// it in-process and main.ts decides what to do with the code.

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerExplain } from './commands/explain.js';
import { registerInspect } from './commands/inspect.js';
import { registerPlatforms } from './commands/platforms.js';
import { registerRun } from './commands/run.js';
import { registerScenarios } from './commands/scenarios.js';
import { isUserError, oneLine } from './errors.js';
import type { CliIo } from './io.js';

/** The package version: package.json is two levels up from both src/cli and dist/cli. */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Each command registers itself here; add new ones to this list. `run` is the default command. */
const COMMANDS: readonly ((program: Command, io: CliIo) => void)[] = [registerRun, registerExplain, registerInspect, registerPlatforms, registerScenarios];

export function createProgram(io: CliIo): Command {
  const program = new Command('iommu-lab')
    .description('Executable models of IOMMU hardware and the software that drives it')
    .version(version())
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  for (const register of COMMANDS) register(program, io);
  // Subcommands inherit neither exitOverride nor the output streams.
  for (const sub of program.commands) sub.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  return program;
}

/** Runs the command line `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own message (usage errors, --help, --version).
    if (err instanceof CommanderError) return err.exitCode;
    if (isUserError(err)) {
      io.err(`iommu-lab: ${oneLine(err.message)}\n`);
      return 'exitCode' in err && typeof err.exitCode === 'number' ? err.exitCode : 1;
    }
    const detail = err instanceof Error ? (process.env.IOMMU_LAB_DEBUG ? (err.stack ?? err.message) : err.message) : String(err);
    io.err(`iommu-lab: internal error: ${oneLine(detail)}\n`);
    return 70; // EX_SOFTWARE: our bug, not the user's input
  }
}
