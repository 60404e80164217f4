// Running the CLI as a child process, exactly as a user would (`npx tsx src/cli/main.ts ...`,
// calling the tsx binary directly so that npm's own notices stay out of stderr).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCliProcess(args: string[]): CliRun {
  const r = spawnSync(TSX, ['src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function fixture(name: string): string {
  return `test/fixtures/bindings/${name}`;
}
