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
 * A message-signalled interrupt receiver in the style of an IMSIC interrupt file: a 32-bit
 * write of identity D to its doorbell (offset 0, seteipnum_le) makes D pending; identities
 * outside 1..maxIdentity are ignored. `line` is asserted while any identity is pending; the
 * hart claims the lowest pending identity (as its stopei CSR does). Every message is recorded
 * so that tests and reports can observe them.
 */
export class MsiController implements MmioDevice {
  readonly received: MsiRecord[] = [];
  /** The hart's interrupt input driven by this file. */
  readonly line: InterruptLine;
  private readonly pending: Uint8Array;
  private pendingCount = 0;
  private readonly listeners: MsiListener[] = [];

  constructor(
    readonly name: string,
    readonly base: bigint,
    readonly maxIdentity = 2047,
  ) {
    this.pending = new Uint8Array(maxIdentity + 1);
    this.line = new InterruptLine(`${name}.irq`);
  }

  mmioRead(_offset: number, _size: MmioSize): bigint {
    return 0n; // the doorbell reads as zero
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (size !== 4 || offset !== 0) return; // only 32-bit doorbell writes are messages
    const msi = { address: this.base + BigInt(offset), data: Number(value & 0xffff_ffffn) };
    this.received.push(msi);
    if (msi.data >= 1 && msi.data <= this.maxIdentity && this.pending[msi.data] === 0) {
      this.pending[msi.data] = 1;
      this.pendingCount++;
      this.line.set(true);
    }
    for (const l of this.listeners) l(msi);
  }

  onMessage(listener: MsiListener): void {
    this.listeners.push(listener);
  }

  isPending(identity: number): boolean {
    return this.pending[identity] === 1;
  }

  /** Claims the lowest pending identity (0 when none is pending), as stopei does. */
  claimTop(): number {
    if (this.pendingCount === 0) return 0;
    for (let id = 1; id <= this.maxIdentity; id++) {
      if (this.pending[id] === 1) {
        this.pending[id] = 0;
        if (--this.pendingCount === 0) this.line.set(false);
        return id;
      }
    }
    return 0;
  }
}
