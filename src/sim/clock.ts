// Deterministic simulated time: a cycle counter and an event queue. Nothing in the models
// reads the wall clock; same inputs give the same schedule, byte for byte.

export type EventCallback = () => void;

export interface ScheduledEvent {
  readonly at: number;
  readonly seq: number;
  readonly callback: EventCallback;
  cancelled: boolean;
}

export class Clock {
  private current = 0;
  private seq = 0;
  private readonly heap: ScheduledEvent[] = [];

  /** Current simulated time in cycles. */
  get now(): number {
    return this.current;
  }

  /** Runs `callback` when time reaches `at` (ties run in scheduling order). */
  scheduleAt(at: number, callback: EventCallback): ScheduledEvent {
    if (!Number.isFinite(at) || at < this.current) {
      throw new RangeError(`cannot schedule an event at cycle ${at}: now is ${this.current}`);
    }
    const event: ScheduledEvent = { at, seq: this.seq++, callback, cancelled: false };
    this.push(event);
    return event;
  }

  /** Runs `callback` after `delay` cycles. */
  schedule(delay: number, callback: EventCallback): ScheduledEvent {
    if (delay < 0) throw new RangeError(`negative delay ${delay}`);
    return this.scheduleAt(this.current + delay, callback);
  }

  cancel(event: ScheduledEvent): void {
    event.cancelled = true;
  }

  /** Advances time by `cycles`, running every event that falls due, in order. */
  advance(cycles: number): void {
    if (!(cycles >= 0)) throw new RangeError(`cannot advance by ${cycles} cycles`);
    this.runUntil(this.current + cycles);
  }

  /** Advances to the next pending event and runs it; returns false when none is pending. */
  step(): boolean {
    const next = this.peekLive();
    if (next === undefined) return false;
    this.runUntil(next.at);
    return true;
  }

  /** Number of events still pending. */
  get pending(): number {
    let n = 0;
    for (const e of this.heap) if (!e.cancelled) n++;
    return n;
  }

  private runUntil(target: number): void {
    for (;;) {
      const next = this.peekLive();
      if (next === undefined || next.at > target) break;
      this.pop();
      this.current = next.at;
      next.callback();
    }
    // A callback may itself have advanced time further (a nested advance): never go back.
    if (target > this.current) this.current = target;
  }

  private peekLive(): ScheduledEvent | undefined {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop();
    return this.heap[0];
  }

  private push(e: ScheduledEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): ScheduledEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
