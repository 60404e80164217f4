// Interrupts as the hardware sees them: level-sensitive wires, and message-signalled
// interrupts, which are nothing but 32-bit writes of data to an address.

import type { MmioDevice, MmioSize } from './mmio.js';

export type LevelListener = (level: boolean) => void;

/** A wired interrupt: a level that a device drives and a controller samples. */
export class InterruptLine {
  private level = false;
  private readonly listeners: LevelListener[] = [];
  /** Number of low-to-high transitions seen. */
  rises = 0;

  constructor(readonly name: string) {}

  get asserted(): boolean {
    return this.level;
  }

  set(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    if (level) this.rises++;
    for (const l of this.listeners) l(level);
  }

  onChange(listener: LevelListener): void {
    this.listeners.push(listener);
  }
}

export interface MsiRecord {
  readonly address: bigint;
  readonly data: number;
}

export type MsiListener = (msi: MsiRecord) => void;

/**
 * A minimal message-signalled interrupt receiver, in the style of an IMSIC interrupt file:
 * a 32-bit write of data D to its doorbell (offset 0, little-endian) makes identity D pending.
 * It records every message so tests and reports can observe them.
 */
export class MsiController implements MmioDevice {
  readonly received: MsiRecord[] = [];
  private readonly pendingIds = new Set<number>();
  private readonly listeners: MsiListener[] = [];

  constructor(
    readonly name: string,
    readonly base: bigint,
  ) {}

  mmioRead(_offset: number, _size: MmioSize): bigint {
    return 0n; // the doorbell reads as zero
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (size !== 4 || offset !== 0) return; // only 32-bit doorbell writes are messages
    const msi = { address: this.base + BigInt(offset), data: Number(value & 0xffff_ffffn) };
    this.received.push(msi);
    this.pendingIds.add(msi.data);
    for (const l of this.listeners) l(msi);
  }

  onMessage(listener: MsiListener): void {
    this.listeners.push(listener);
  }

  isPending(identity: number): boolean {
    return this.pendingIds.has(identity);
  }

  claim(identity: number): boolean {
    return this.pendingIds.delete(identity);
  }
}
