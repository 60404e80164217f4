// Errors of scenario files. Everything the user got wrong is a ScenarioError whose message
// names the file and line: problems found while loading (one line each, all of them at
// once), and the first step that fails while running (its index, label and reason).

export class ScenarioError extends Error {
  constructor(
    /** One line per problem: `file:line: key.path: message`. */
    readonly problems: readonly string[],
    /** The failing step, for errors raised while running. */
    readonly step: { index: number; label: string | null; line: number | null } | null = null,
  ) {
    super(problems.join('\n'));
    this.name = 'ScenarioError';
  }
}

/** `steps[3]` or `steps[3] "unmap rx"`: how messages name a step. */
export function stepName(index: number, label: string | null): string {
  return label === null ? `steps[${index}]` : `steps[${index}] "${label}"`;
}

/** The location prefix of a message: `file:line: ` (or `file: ` without a line). */
export function at(file: string, line: number | null): string {
  return line === null ? `${file}: ` : `${file}:${line}: `;
}

/** A step's failure while running (the runner adds file, line and step name). */
export class StepFailure extends Error {}

export function failStep(message: string): never {
  throw new StepFailure(message);
}
