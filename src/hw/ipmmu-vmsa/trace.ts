// Optional observation of a translation for `explain`-style tools and tests: every descriptor
// the root's table walk reads, and the decisions on the way (micro-TLB, context, TLB levels,
// faults). The model calls the tracer only when one is attached (one null check otherwise).

export interface IpmmuTracer {
  /**
   * A descriptor read by a table walk of `context` at `level`, at physical page `page`, byte
   * `offset`, its halves as stored; `status` 0 ok, 1 external abort, 2 poisoned data.
   */
  descriptor(context: number, level: number, page: number, offset: number, lo: number, hi: number, status: number): void;
  /** A decision or an event, in words. */
  step(message: string): void;
}

export interface IpmmuTracedDescriptor {
  context: number;
  level: number;
  address: bigint;
  value: bigint;
  status: 'ok' | 'external-abort' | 'poisoned';
}

export type IpmmuTraceEvent = ({ kind: 'descriptor' } & IpmmuTracedDescriptor) | { kind: 'step'; message: string };

/** A tracer that records everything, in order. */
export class IpmmuRecordingTracer implements IpmmuTracer {
  readonly events: IpmmuTraceEvent[] = [];

  descriptor(context: number, level: number, page: number, offset: number, lo: number, hi: number, status: number): void {
    this.events.push({
      kind: 'descriptor',
      context,
      level,
      address: BigInt(page) * 4096n + BigInt(offset),
      value: (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0),
      status: status === 0 ? 'ok' : status === 1 ? 'external-abort' : 'poisoned',
    });
  }

  step(message: string): void {
    this.events.push({ kind: 'step', message });
  }

  get descriptors(): IpmmuTracedDescriptor[] {
    return this.events.filter((e): e is { kind: 'descriptor' } & IpmmuTracedDescriptor => e.kind === 'descriptor');
  }

  get steps(): string[] {
    return this.events.filter((e): e is { kind: 'step'; message: string } => e.kind === 'step').map((e) => e.message);
  }
}
