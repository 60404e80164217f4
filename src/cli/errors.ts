// User errors the CLI reports as one line (no stack trace) with a non-zero exit: a missing
// file, a device tree that does not parse, an unknown platform. Anything else is a bug.

import { DeviceTreeError } from '../formats/devicetree/tree.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Whether `err` is the user's mistake rather than ours. */
export function isUserError(err: unknown): err is Error {
  return err instanceof CliError || err instanceof DeviceTreeError;
}

/** The message on one line: a file name or a quoted value could carry a newline. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
