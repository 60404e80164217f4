// One DMA engine as workloads use it: a transfer at a time, synchronous for the caller. The
// mapped operations (copy, fill, readVerify) take physical addresses of kernel buffers and
// map them through the DMA API for the device, as a Linux driver does with dma_map_single;
// the raw operations program DMA addresses as given (no DMA API), so that a scenario can make
// the device reach any IOVA, with any PASID, to show faults and isolation.
//
// Completion: the engine's interrupt when the device has one (the handler snapshots STATUS
// and acknowledges it), otherwise polling STATUS. While waiting, the CPU idles: simulated time
// runs from event to event (as after a WFI) until the transfer ends. A transfer still running
// once `timeoutCycles` have passed (checked at each event), or when no event is left that
// could end it, is aborted (CONTROL.ABORT) and reported as a timeout.

import { hex } from '../../../sim/u64.js';
import { DmaDirection, type DmaDirectionValue } from '../../dma/types.js';
import type { Device } from '../../driver-model/device.js';
import type { IoMem } from '../../kernel/iomem.js';
import type { Kernel } from '../../kernel/kernel.js';
import { DMAE, DMAE_CAUSES, DMAE_CTRL, DMAE_OP, DMAE_STATUS, type DmaEngineOp } from './registers.js';

export type DmaEngineErrorKind = 'aborted' | 'bus-error' | 'poisoned' | 'mismatch' | 'invalid-operation' | 'software-abort' | 'timeout';

export type DmaEngineResult =
  | { ok: true; bytes: number; cycles: number }
  | {
      ok: false;
      error: DmaEngineErrorKind;
      /** The DMA address (IOVA when translated) of the access that failed. */
      dmaAddress: bigint;
      /** The physical address it stands for, when it falls in a buffer this call mapped. */
      paddr: bigint | null;
      write: boolean;
      /** Bytes completed before the failure. */
      bytes: number;
      cycles: number;
    };

export interface RawTransferOptions {
  /** Send the requests with this PASID (CONTROL.PV). */
  pasid?: number;
  /** Privileged requests (with a PASID). */
  privileged?: boolean;
}

export interface DmaEngineChannelStats {
  transfers: number;
  errors: number;
  timeouts: number;
  interrupts: number;
  /** Bytes of successful transfers. */
  bytes: number;
}

interface Completion {
  status: number;
  errorAddress: bigint;
  progress: number;
}

interface Mapped {
  dma: bigint;
  paddr: bigint;
  length: number;
}

const MAX_LENGTH = 0xffff_ffff;

export class DmaEngineChannel {
  readonly stats: DmaEngineChannelStats = { transfers: 0, errors: 0, timeouts: 0, interrupts: 0, bytes: 0 };
  /** How long the CPU waits for a transfer, in cycles of simulated time. */
  timeoutCycles = 100_000_000;
  private completion: Completion | null = null;

  constructor(
    private readonly kernel: Kernel,
    readonly dev: Device,
    private readonly regs: IoMem,
    /** 'irq': completion by interrupt; 'poll': by reading STATUS. */
    readonly mode: 'irq' | 'poll',
  ) {}

  // ---- through the DMA API --------------------------------------------------------------------

  /** Copies `length` bytes from physical `srcPaddr` to `dstPaddr`. */
  copy(srcPaddr: bigint, dstPaddr: bigint, length: number): DmaEngineResult {
    this.checkLength(length, true);
    return this.mapped(
      [
        [srcPaddr, DmaDirection.ToDevice],
        [dstPaddr, DmaDirection.FromDevice],
      ],
      length,
      ([src, dst]) => this.run('copy', src.dma, dst.dma, length, 0n, {}),
    );
  }

  /** Fills `length` bytes at `dstPaddr` with the 64-bit `pattern` (byte A gets pattern byte A mod 8). */
  fill(dstPaddr: bigint, length: number, pattern: bigint): DmaEngineResult {
    this.checkLength(length, true);
    return this.mapped([[dstPaddr, DmaDirection.FromDevice]], length, ([dst]) => this.run('fill', 0n, dst.dma, length, pattern, {}));
  }

  /** Reads `length` bytes at `srcPaddr` and checks them against `pattern`. */
  readVerify(srcPaddr: bigint, length: number, pattern: bigint): DmaEngineResult {
    this.checkLength(length, true);
    return this.mapped([[srcPaddr, DmaDirection.ToDevice]], length, ([src]) => this.run('read-verify', src.dma, 0n, length, pattern, {}));
  }

  // ---- raw: DMA addresses as given ----------------------------------------------------------

  rawCopy(srcDma: bigint, dstDma: bigint, length: number, o: RawTransferOptions = {}): DmaEngineResult {
    this.checkLength(length, false);
    return this.result(this.run('copy', srcDma, dstDma, length, 0n, o), []);
  }

  rawFill(dstDma: bigint, length: number, pattern: bigint, o: RawTransferOptions = {}): DmaEngineResult {
    this.checkLength(length, false);
    return this.result(this.run('fill', 0n, dstDma, length, pattern, o), []);
  }

  rawReadVerify(srcDma: bigint, length: number, pattern: bigint, o: RawTransferOptions = {}): DmaEngineResult {
    this.checkLength(length, false);
    return this.result(this.run('read-verify', srcDma, 0n, length, pattern, o), []);
  }

  /** The interrupt handler: snapshot and acknowledge a completion. */
  handleInterrupt(): void {
    this.stats.interrupts++;
    const c = this.readCompletion();
    if (c === null) this.kernel.log.warn(this.dev.name, 'interrupt without a completed transfer');
    else this.completion = c;
  }

  // ---- internals ------------------------------------------------------------------------------

  private mapped(buffers: [bigint, DmaDirectionValue][], length: number, body: (m: Mapped[]) => RawOutcome): DmaEngineResult {
    const dma = this.kernel.dma;
    const maps: (Mapped & { dir: DmaDirectionValue })[] = [];
    try {
      for (const [paddr, dir] of buffers) maps.push({ dma: dma.mapSingle(this.dev, paddr, length, dir), paddr, length, dir });
      return this.result(body(maps), maps);
    } finally {
      for (const m of maps.reverse()) dma.unmapSingle(this.dev, m.dma, m.length, m.dir);
    }
  }

  private run(op: DmaEngineOp, src: bigint, dst: bigint, length: number, pattern: bigint, o: RawTransferOptions): RawOutcome {
    const r = this.regs;
    const clock = this.kernel.clock;
    const started = clock.now;
    this.completion = null;
    r.write32(DMAE.STATUS, DMAE_STATUS.DONE | DMAE_STATUS.ERROR); // acknowledge anything stale
    r.write32(DMAE.SRC_LO, lo(src));
    r.write32(DMAE.SRC_HI, hi(src));
    r.write32(DMAE.DST_LO, lo(dst));
    r.write32(DMAE.DST_HI, hi(dst));
    r.write32(DMAE.LENGTH, length);
    r.write32(DMAE.FILL_LO, lo(pattern));
    r.write32(DMAE.FILL_HI, hi(pattern));
    r.write32(DMAE.PASID, o.pasid ?? 0);
    let control = DMAE_CTRL.START | (DMAE_OP[op] << DMAE_CTRL.OP_SHIFT) | (this.mode === 'irq' ? DMAE_CTRL.IE : 0);
    if (o.pasid !== undefined) control |= DMAE_CTRL.PV | (o.privileged === true ? DMAE_CTRL.PRIV : 0);
    r.write32(DMAE.CONTROL, control);

    for (;;) {
      this.kernel.poll();
      const c = this.completion ?? (this.mode === 'poll' ? this.readCompletion() : null);
      if (c !== null) return { completion: c, cycles: clock.now - started, timedOut: false };
      if (clock.now - started >= this.timeoutCycles || !clock.step()) break;
    }
    // Nothing more will happen (or we gave up): a completion whose interrupt never came?
    const late = this.readCompletion();
    if (late !== null) {
      if (this.mode === 'irq') this.kernel.log.warn(this.dev.name, 'transfer completed but its interrupt did not arrive');
      return { completion: late, cycles: clock.now - started, timedOut: false };
    }
    r.write32(DMAE.CONTROL, DMAE_CTRL.ABORT);
    this.kernel.poll();
    const aborted = this.completion ?? this.readCompletion() ?? { status: 0, errorAddress: 0n, progress: r.read32(DMAE.PROGRESS) };
    this.kernel.log.error(this.dev.name, `${op} of ${length} bytes timed out after ${clock.now - started} cycles; aborted`);
    return { completion: aborted, cycles: clock.now - started, timedOut: true };
  }

  /** Reads STATUS; on a finished transfer, snapshots it and acknowledges DONE/ERROR. */
  private readCompletion(): Completion | null {
    const r = this.regs;
    const status = r.read32(DMAE.STATUS);
    if ((status & DMAE_STATUS.BUSY) !== 0 || (status & DMAE_STATUS.DONE) === 0) return null;
    const c = { status, errorAddress: (BigInt(r.read32(DMAE.ERR_ADDR_HI)) << 32n) | BigInt(r.read32(DMAE.ERR_ADDR_LO)), progress: r.read32(DMAE.PROGRESS) };
    r.write32(DMAE.STATUS, DMAE_STATUS.DONE | DMAE_STATUS.ERROR);
    return c;
  }

  private result(o: RawOutcome, maps: readonly Mapped[]): DmaEngineResult {
    const { completion: c, cycles } = o;
    if (!o.timedOut && (c.status & DMAE_STATUS.ERROR) === 0) {
      this.stats.transfers++;
      this.stats.bytes += c.progress;
      return { ok: true, bytes: c.progress, cycles };
    }
    const error: DmaEngineErrorKind = o.timedOut ? 'timeout' : causeName((c.status >>> DMAE_STATUS.CAUSE_SHIFT) & DMAE_STATUS.CAUSE_MASK);
    if (o.timedOut) this.stats.timeouts++;
    else this.stats.errors++;
    const m = maps.find((b) => c.errorAddress >= b.dma && c.errorAddress < b.dma + BigInt(b.length));
    return {
      ok: false,
      error,
      dmaAddress: c.errorAddress,
      paddr: m === undefined ? null : m.paddr + (c.errorAddress - m.dma),
      write: (c.status & DMAE_STATUS.ERR_WRITE) !== 0,
      bytes: c.progress,
      cycles,
    };
  }

  private checkLength(length: number, mapped: boolean): void {
    if (!Number.isInteger(length) || length < (mapped ? 1 : 0) || length > MAX_LENGTH) {
      throw new RangeError(`${this.dev.name}: transfer length ${length} is outside ${mapped ? 1 : 0}..${hex(MAX_LENGTH)}`);
    }
  }
}

interface RawOutcome {
  completion: Completion;
  cycles: number;
  timedOut: boolean;
}

function causeName(cause: number): DmaEngineErrorKind {
  const name = DMAE_CAUSES[cause];
  // 'none' with ERROR set, or a reserved code, cannot come from a working engine: call it a bus error.
  return name === 'none' || name === 'reserved' ? 'bus-error' : name;
}

function lo(v: bigint): number {
  return Number(v & 0xffff_ffffn);
}

function hi(v: bigint): number {
  return Number((v >> 32n) & 0xffff_ffffn);
}
