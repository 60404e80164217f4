import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/sim/clock.js';

describe('Clock', () => {
  it('runs events in time order, ties in scheduling order, and lands on the target', () => {
    const c = new Clock();
    const seen: string[] = [];
    c.schedule(10, () => seen.push(`b@${c.now}`));
    c.schedule(5, () => seen.push(`a@${c.now}`));
    c.schedule(10, () => seen.push(`c@${c.now}`));
    c.advance(7);
    expect(seen).toEqual(['a@5']);
    expect(c.now).toBe(7);
    c.advance(100);
    expect(seen).toEqual(['a@5', 'b@10', 'c@10']);
    expect(c.now).toBe(107);
  });

  it('a callback that advances time further never makes time go backwards', () => {
    const c = new Clock();
    c.schedule(5, () => c.advance(50));
    c.advance(10);
    expect(c.now).toBe(55);
  });

  it('cancelled events do not run; step() jumps to the next event', () => {
    const c = new Clock();
    let ran = 0;
    const e = c.schedule(3, () => ran++);
    c.schedule(8, () => ran++);
    c.cancel(e);
    expect(c.pending).toBe(1);
    expect(c.step()).toBe(true);
    expect([ran, c.now]).toEqual([1, 8]);
    expect(c.step()).toBe(false);
  });

  it('refuses to schedule in the past or advance by a negative amount', () => {
    const c = new Clock();
    c.advance(5);
    expect(() => c.scheduleAt(4, () => undefined)).toThrow(RangeError);
    expect(() => c.advance(-1)).toThrow(RangeError);
  });
});
