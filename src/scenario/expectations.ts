// The expectations of a run, kernel or hypervisor scenario alike: how many were checked, held
// and failed (the report's `expectations`), and the `expect faults` check over the faults
// reported since the previous one, whatever a fault record looks like.

import { failStep } from './errors.js';

export class Expectations {
  checked = 0;
  passed = 0;
  failed = 0;

  /** Fails the step with `message` as a failed expectation. */
  fail(message: string): never {
    this.failed++;
    return failStep(`expectation failed: ${message}`);
  }

  /** The counts as the report holds them. */
  counts(): { checked: number; passed: number; failed: number } {
    return { checked: this.checked, passed: this.passed, failed: this.failed };
  }
}

/** An `expect faults` check: the faults since the previous check, those the check's filters keep, and how they read. */
export interface FaultWindowCheck<F> {
  window: readonly F[];
  matching: readonly F[];
  /** How many must match (undefined: at least one). */
  count: number | undefined;
  /** The filters in words ("of dma0 with cause 13 ..."), empty without any. */
  filters: string;
  describe: (f: F) => string;
}

/** Counts the check and returns its summary; a count that does not hold fails the step. */
export function expectFaultCount<F>(expectations: Expectations, c: FaultWindowCheck<F>): string {
  const { window, matching, count, describe } = c;
  const filters = c.filters === '' ? '' : ` ${c.filters}`;
  const ok = count === undefined ? matching.length > 0 : matching.length === count;
  if (!ok) {
    const wanted = count === undefined ? 'at least one fault' : `${count} fault${count === 1 ? '' : 's'}`;
    const seen = window.length === 0 ? 'no faults were reported since the previous check' : `faults since the previous check: ${window.slice(0, 3).map(describe).join('; ')}${window.length > 3 ? `; and ${window.length - 3} more` : ''}`;
    expectations.fail(`expected ${wanted}${filters}, got ${matching.length}; ${seen}`);
  }
  expectations.passed++;
  return `faults: ${matching.length}${filters}${matching.length > 0 ? ` (${describe(matching[0])})` : ''}`;
}
