// Scenario tests: scenarios written inline (YAML text), loaded as if from a file, and run.
import { fileURLToPath } from 'node:url';
import { parseScenario, ScenarioError, ScenarioRunner, type LoadedScenario, type RunOptions } from '../../src/scenario/index.js';
import type { Report } from '../../src/report/index.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/scenarios/', import.meta.url));

/** Joins lines, so that tests can count lines for expected line numbers. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

export function load(text: string, file = 'test.yaml', dir = FIXTURES): LoadedScenario {
  return parseScenario(text, { file, dir });
}

/** The problems a scenario is rejected with (fails the test if it loads). */
export function loadErrors(text: string): string[] {
  try {
    load(text);
  } catch (e) {
    if (e instanceof ScenarioError) return [...e.problems];
    throw e;
  }
  throw new Error('the scenario loaded');
}

export interface Ran {
  runner: ScenarioRunner;
  report: Report;
  error: ScenarioError | null;
}

export function run(text: string, options: RunOptions = {}): Ran {
  const runner = new ScenarioRunner(load(text), options);
  const { report, error } = runner.run();
  return { runner, report, error };
}

/** Runs a scenario that must succeed; a failure shows its message. */
export function runOk(text: string, options: RunOptions = {}): Ran {
  const r = run(text, options);
  if (r.error !== null) throw new Error(`scenario failed: ${r.error.message}`);
  return r;
}

/** Runs a scenario that must fail at a step; returns its one-line error. */
export function runFails(text: string): { message: string; ran: Ran } {
  const r = run(text);
  if (r.error === null) throw new Error('the scenario did not fail');
  return { message: r.error.message, ran: r };
}

/** A report's list of named counts as an object, for reading counts by name. */
export function named(list: readonly { name: string; count: number }[]): Record<string, number> {
  return Object.fromEntries(list.map((c) => [c.name, c.count]));
}
