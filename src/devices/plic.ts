// A platform-level interrupt controller in the register layout of the RISC-V PLIC
// (riscv,plic0 / sifive,plic-1.0.0): per-source priority, pending bits, per-context enables,
// threshold and claim/complete. Sources are level-sensitive wires; each context drives one
// hart interrupt pin.

import { InterruptLine } from '../sim/irq.js';
import type { MmioDevice, MmioSize } from '../sim/mmio.js';

const PRIORITY_BASE = 0x0;
const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x200000;
const CONTEXT_STRIDE = 0x1000;

export const PLIC_REGION_SIZE = 0x4000000n;

export class Plic implements MmioDevice {
  /** Inputs: source i is wired to sources[i] (source 0 does not exist). */
  readonly sources: InterruptLine[];
  /** Outputs: one pin per context. */
  readonly contexts: InterruptLine[];
  private readonly priority: Uint32Array;
  private readonly pending: Uint8Array;
  private readonly claimed: Uint8Array;
  private readonly enable: Uint8Array[]; // per context, per source
  private readonly threshold: Uint32Array;

  constructor(
    readonly name: string,
    readonly sourceCount: number,
    contextCount: number,
  ) {
    if (sourceCount < 1 || sourceCount > 1023) throw new RangeError('a PLIC has 1..1023 sources');
    this.priority = new Uint32Array(sourceCount + 1);
    this.pending = new Uint8Array(sourceCount + 1);
    this.claimed = new Uint8Array(sourceCount + 1);
    this.threshold = new Uint32Array(contextCount);
    this.enable = Array.from({ length: contextCount }, () => new Uint8Array(sourceCount + 1));
    this.contexts = Array.from({ length: contextCount }, (_, c) => new InterruptLine(`${name}.context${c}`));
    this.sources = Array.from({ length: sourceCount + 1 }, (_, i) => {
      const line = new InterruptLine(`${name}.source${i}`);
      // The gateway latches a level into pending unless the source is being serviced.
      if (i > 0) line.onChange((level) => level && this.gateway(i));
      return line;
    });
  }

  mmioRead(offset: number, size: MmioSize): bigint {
    if (size !== 4 || offset % 4 !== 0) return 0n;
    if (offset < PENDING_BASE) {
      const src = (offset - PRIORITY_BASE) / 4;
      return src >= 1 && src <= this.sourceCount ? BigInt(this.priority[src]) : 0n;
    }
    if (offset < ENABLE_BASE) return BigInt(this.bitsWord(this.pending, (offset - PENDING_BASE) / 4));
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      if (ctx >= this.contexts.length) return 0n;
      return BigInt(this.bitsWord(this.enable[ctx], ((offset - ENABLE_BASE) % ENABLE_STRIDE) / 4));
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contexts.length) return 0n;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) return BigInt(this.threshold[ctx]);
    if (reg === 4) return BigInt(this.claim(ctx));
    return 0n;
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (size !== 4 || offset % 4 !== 0) return;
    const v = Number(value & 0xffffffffn);
    if (offset < PENDING_BASE) {
      const src = (offset - PRIORITY_BASE) / 4;
      if (src >= 1 && src <= this.sourceCount) this.priority[src] = v & 7;
    } else if (offset >= ENABLE_BASE && offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      if (ctx >= this.contexts.length) return;
      const word = ((offset - ENABLE_BASE) % ENABLE_STRIDE) / 4;
      for (let b = 0; b < 32; b++) {
        const src = word * 32 + b;
        if (src >= 1 && src <= this.sourceCount) this.enable[ctx][src] = (v >>> b) & 1;
      }
    } else if (offset >= CONTEXT_BASE) {
      const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
      if (ctx >= this.contexts.length) return;
      const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
      if (reg === 0) this.threshold[ctx] = v & 7;
      else if (reg === 4) this.complete(v);
    }
    this.update();
  }

  private gateway(src: number): void {
    if (this.claimed[src] === 0) this.pending[src] = 1;
    this.update();
  }

  /** The highest-priority pending enabled source above the threshold (ties: lowest id). */
  private best(ctx: number): number {
    let best = 0;
    let bestPrio = this.threshold[ctx];
    for (let src = 1; src <= this.sourceCount; src++) {
      if (this.pending[src] === 1 && this.enable[ctx][src] === 1 && this.priority[src] > bestPrio) {
        best = src;
        bestPrio = this.priority[src];
      }
    }
    return best;
  }

  private claim(ctx: number): number {
    const src = this.best(ctx);
    if (src !== 0) {
      this.pending[src] = 0;
      this.claimed[src] = 1;
    }
    this.update();
    return src;
  }

  private complete(src: number): void {
    if (src < 1 || src > this.sourceCount || this.claimed[src] === 0) return;
    this.claimed[src] = 0;
    if (this.sources[src].asserted) this.pending[src] = 1; // still asserted: pending again
  }

  private update(): void {
    for (let ctx = 0; ctx < this.contexts.length; ctx++) this.contexts[ctx].set(this.best(ctx) !== 0);
  }

  private bitsWord(bits: Uint8Array, word: number): number {
    let v = 0;
    for (let b = 0; b < 32; b++) {
      const src = word * 32 + b;
      if (src < bits.length && bits[src] === 1) v |= 1 << b;
    }
    return v >>> 0;
  }
}
