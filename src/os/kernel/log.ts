// The kernel log: messages stamped with simulated time, kept in order, optionally echoed.

import type { Clock } from '../../sim/clock.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogRecord {
  /** Simulated cycle at which the message was logged. */
  time: number;
  level: LogLevel;
  /** The subsystem or device that logged it. */
  source: string;
  message: string;
}

export class KernelLog {
  readonly records: LogRecord[] = [];
  private readonly listeners: ((r: LogRecord) => void)[] = [];

  constructor(
    private readonly clock: Clock,
    /** Records beyond this many are dropped (the oldest first) to bound memory. */
    private readonly capacity = 100_000,
  ) {}

  log(level: LogLevel, source: string, message: string): void {
    const r = { time: this.clock.now, level, source, message };
    this.records.push(r);
    if (this.records.length > this.capacity) this.records.shift();
    for (const l of this.listeners) l(r);
  }

  error(source: string, message: string): void {
    this.log('error', source, message);
  }

  warn(source: string, message: string): void {
    this.log('warn', source, message);
  }

  info(source: string, message: string): void {
    this.log('info', source, message);
  }

  debug(source: string, message: string): void {
    this.log('debug', source, message);
  }

  onRecord(listener: (r: LogRecord) => void): void {
    this.listeners.push(listener);
  }
}
