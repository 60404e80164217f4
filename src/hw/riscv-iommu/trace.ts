// Optional observation of a translation, step by step, for `explain`-style tools and for
// tests. The model calls the tracer only when one is attached (one null check otherwise).

export type TracedStructure =
  | 'ddte' // non-leaf device-directory entry
  | 'dc' // device context
  | 'pdte' // non-leaf process-directory entry
  | 'pc' // process context
  | 'pte' // first-stage page-table entry
  | 'gpte' // second-stage page-table entry
  | 'msipte' // MSI page-table entry
  | 'mrif'; // memory-resident interrupt file

export interface WalkTracer {
  /** An implicit memory access: `lo`/`hi` are the (endian-corrected) value read or written. */
  access(structure: TracedStructure, level: number, ppn: number, offset: number, size: number, lo: number, hi: number, status: number, write: boolean): void;
  /** A decision or an event of the translation process, in words. */
  step(message: string): void;
}

export interface TracedAccess {
  structure: TracedStructure;
  level: number;
  address: bigint;
  size: number;
  value: bigint;
  status: 'ok' | 'access-fault' | 'data-corruption';
  write: boolean;
}

/** A tracer that records everything, in order. */
export class RecordingTracer implements WalkTracer {
  readonly events: ({ kind: 'access' } & TracedAccess | { kind: 'step'; message: string })[] = [];

  access(structure: TracedStructure, level: number, ppn: number, offset: number, size: number, lo: number, hi: number, status: number, write: boolean): void {
    this.events.push({
      kind: 'access',
      structure,
      level,
      address: BigInt(ppn) * 4096n + BigInt(offset),
      size,
      value: (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0),
      status: status === 0 ? 'ok' : status === 1 ? 'access-fault' : 'data-corruption',
      write,
    });
  }

  step(message: string): void {
    this.events.push({ kind: 'step', message });
  }

  get accesses(): TracedAccess[] {
    return this.events.filter((e): e is { kind: 'access' } & TracedAccess => e.kind === 'access');
  }
}
