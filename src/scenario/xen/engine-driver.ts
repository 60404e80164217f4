// A guest's driver for its passed-through DMA engine: it programs the engine through the
// engine's registers, which the hypervisor mapped 1:1 into the guest's P2M, with the
// guest-physical addresses its own memory has (the IPMMU translates them with the guest's
// P2M), and waits for STATUS by polling (guests get no virtual interrupts here). The same
// sequence over the system bus is a test bench poking a device nobody programs any more, as a
// device does that still holds the last addresses its (destroyed) guest gave it.
//
// While it waits, simulated time runs from event to event; the hypervisor takes interrupts
// (IOMMU faults) at each. A transfer still running when nothing is left to happen, or after
// `timeoutCycles`, is aborted (CONTROL.ABORT) and reported as a timeout.

import { Control, DmaEngineReg, ErrorCause, Operation, Status } from '../../devices/dma-engine/registers.js';
import type { XenDomain } from '../../hyp/xen/index.js';
import type { Clock } from '../../sim/clock.js';
import type { SystemBus } from '../../sim/system-bus.js';

export type EngineOp = 'copy' | 'fill' | 'read';

/** The engine's registers as one CPU reaches them. */
export interface EngineRegisters {
  load(offset: number, size: 4 | 8): bigint;
  store(offset: number, size: 4 | 8, value: bigint): void;
}

/** Registers at `base` as the guest's CPU reaches them, through its P2M (a GuestMemoryFault when they are not mapped there). */
export function guestRegisters(domain: XenDomain, base: bigint): EngineRegisters {
  return {
    load: (offset, size) => domain.memory.load(base + BigInt(offset), size),
    store: (offset, size, value) => domain.memory.store(base + BigInt(offset), size, value),
  };
}

/** Registers at `base` reached over the system bus directly (a test bench). */
export function busRegisters(bus: SystemBus, base: bigint): EngineRegisters {
  return {
    load: (offset, size) => bus.access(base + BigInt(offset), size, false).value,
    store: (offset, size, value) => void bus.access(base + BigInt(offset), size, true, value),
  };
}

export interface EngineOutcome {
  ok: boolean;
  /** Why it failed: the engine's STATUS.CAUSE by name, or 'timeout'. */
  error: string | null;
  /** Bytes completed (PROGRESS). */
  bytes: number;
  /** Where it stopped (ERROR_ADDRESS) and whether that access was a write. */
  errorAddress: bigint;
  write: boolean;
  cycles: number;
}

const CAUSES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(ErrorCause).map(([name, code]) => [code, name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `-${c.toLowerCase()}`))]));

const OPS: Readonly<Record<EngineOp, number>> = { copy: Operation.Copy, fill: Operation.Fill, read: Operation.ReadVerify };

export interface TransferRequest {
  op: EngineOp;
  src: bigint;
  dst: bigint;
  length: number;
  pattern: bigint;
}

export class EngineDriver {
  /** How long the driver waits for a transfer, in cycles. */
  timeoutCycles = 100_000_000;

  constructor(
    private readonly clock: Clock,
    /** Takes pending interrupts (the hypervisor's poll). */
    private readonly poll: () => void,
  ) {}

  /** Programs one transfer and waits for it. */
  transfer(regs: EngineRegisters, t: TransferRequest): EngineOutcome {
    const started = this.clock.now;
    regs.store(DmaEngineReg.STATUS, 4, BigInt(Status.DONE | Status.ERROR)); // acknowledge anything stale
    regs.store(DmaEngineReg.SOURCE, 8, t.src);
    regs.store(DmaEngineReg.DESTINATION, 8, t.dst);
    regs.store(DmaEngineReg.LENGTH, 4, BigInt(t.length));
    regs.store(DmaEngineReg.FILL, 8, t.pattern);
    regs.store(DmaEngineReg.CONTROL, 4, BigInt(Control.START | (OPS[t.op] << Control.OP_SHIFT)));
    let timedOut = false;
    let status = 0;
    for (;;) {
      this.poll();
      status = Number(regs.load(DmaEngineReg.STATUS, 4));
      if ((status & Status.BUSY) === 0 && (status & Status.DONE) !== 0) break;
      if (this.clock.now - started >= this.timeoutCycles || !this.clock.step()) {
        regs.store(DmaEngineReg.CONTROL, 4, BigInt(Control.ABORT));
        this.poll();
        status = Number(regs.load(DmaEngineReg.STATUS, 4));
        timedOut = true;
        break;
      }
    }
    const bytes = Number(regs.load(DmaEngineReg.PROGRESS, 4));
    const errorAddress = regs.load(DmaEngineReg.ERROR_ADDRESS, 8);
    regs.store(DmaEngineReg.STATUS, 4, BigInt(Status.DONE | Status.ERROR));
    const cycles = this.clock.now - started;
    if (!timedOut && (status & Status.ERROR) === 0) return { ok: true, error: null, bytes, errorAddress: 0n, write: false, cycles };
    const cause = (status & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT;
    return { ok: false, error: timedOut ? 'timeout' : (CAUSES[cause] ?? `cause ${cause}`), bytes, errorAddress, write: (status & Status.ERR_WRITE) !== 0, cycles };
  }
}
