// What every architecture's part of `explain` shares: what a cache did, the status of a traced
// read, decoded fields worth showing, and sizes in words.

import { decode, type Layout } from '../../formats/bitfield.js';
import type { CacheOutcome, ExplainedAccess, ExplainedField } from './types.js';

/** What a cache did for the request, from its counters before and after it: a miss counts over a hit (a miss refills, then hits). */
export function cacheOutcome(before: { hits: number; misses: number }, after: { hits: number; misses: number }): CacheOutcome {
  if (after.misses > before.misses) return 'miss';
  if (after.hits > before.hits) return 'hit';
  return 'not used';
}

/** A traced table read's status (external abort, poisoned data) in the explanation's words. */
export function readStatus(status: 'ok' | 'external-abort' | 'poisoned'): ExplainedAccess['status'] {
  return status === 'ok' ? 'ok' : status === 'poisoned' ? 'data-corruption' : 'access-fault';
}

/** Fields of `layout` worth showing: those that are not zero, and the `always` ones. */
export function nonZeroFields(layout: Layout, raw: bigint, always: readonly string[] = []): ExplainedField[] {
  const d = decode(layout, raw);
  return Object.keys(layout)
    .filter((name) => d[name] !== 0n || always.includes(name))
    .map((name) => ({ name, value: d[name] }));
}

/** 2^log2 bytes in words ("4 KiB", "2 MiB", "1 GiB"). */
export function sizeName(log2: number): string {
  return log2 >= 30 ? `${2 ** (log2 - 30)} GiB` : log2 >= 20 ? `${2 ** (log2 - 20)} MiB` : `${2 ** (log2 - 10)} KiB`;
}
