// Optional observation of a translation, read by read, for `explain`-style tools and tests.
// The model calls the tracer only when one is attached (one null check otherwise).

/** The structures the SMMU reads on behalf of a transaction. */
export type SmmuTracedStructure =
  | 'l1std' // Level 1 Stream Table Descriptor (5.1)
  | 'ste' // Stream Table Entry (5.2)
  | 'l1cd' // Level 1 Context Descriptor (5.3)
  | 'cd' // Context Descriptor (5.4)
  | 's1tt' // stage 1 translation table descriptor
  | 's2tt'; // stage 2 translation table descriptor

export interface SmmuV3Tracer {
  /**
   * A read (or, for translation tables, an update) of `dwords` doublewords at physical page
   * `page`, byte `offset`. `words` holds them as 32-bit halves [lo0, hi0, lo1, ...], as the SMMU
   * interprets them (endianness applied). `level` is the walk level of a translation table
   * descriptor (-1 when unknown), 0 otherwise. `status` is 0 ok, 1 external abort, 2 poisoned.
   */
  fetch(structure: SmmuTracedStructure, level: number, page: number, offset: number, words: Uint32Array, dwords: number, status: number, write: boolean): void;
  /** A decision or an event of the translation process, in words. */
  step(message: string): void;
}

export interface SmmuTracedFetch {
  structure: SmmuTracedStructure;
  level: number;
  address: bigint;
  dwords: bigint[];
  status: 'ok' | 'external-abort' | 'poisoned';
  write: boolean;
}

export type SmmuTraceEvent = ({ kind: 'fetch' } & SmmuTracedFetch) | { kind: 'step'; message: string };

/** A tracer that records everything, in order. */
export class RecordingTracer implements SmmuV3Tracer {
  readonly events: SmmuTraceEvent[] = [];

  fetch(structure: SmmuTracedStructure, level: number, page: number, offset: number, words: Uint32Array, dwords: number, status: number, write: boolean): void {
    const values: bigint[] = [];
    for (let i = 0; i < dwords; i++) values.push((BigInt(words[2 * i + 1] >>> 0) << 32n) | BigInt(words[2 * i] >>> 0));
    this.events.push({
      kind: 'fetch',
      structure,
      level,
      address: BigInt(page) * 4096n + BigInt(offset),
      dwords: values,
      status: status === 0 ? 'ok' : status === 1 ? 'external-abort' : 'poisoned',
      write,
    });
  }

  step(message: string): void {
    this.events.push({ kind: 'step', message });
  }

  get fetches(): SmmuTracedFetch[] {
    return this.events.filter((e): e is { kind: 'fetch' } & SmmuTracedFetch => e.kind === 'fetch');
  }

  get steps(): string[] {
    return this.events.filter((e): e is { kind: 'step'; message: string } => e.kind === 'step').map((e) => e.message);
  }
}
