// The command queue, producer side (specification "Command-Queue (CQ)"): commands are written
// at the tail and cqt is advanced; an IOFENCE.C whose completion write (AV=1) stores a sequence
// number in a memory word tells the driver that everything before it has completed. Errors
// (cmd_ill, cqmf, cmd_to) stop the queue until software clears them.

import { commandName, iofenceC, Opcode, type CommandWords } from '../../../formats/riscv-iommu/commands.js';
import { CqcsrLayout, Reg } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import type { IommuContext } from './context.js';
import { RiscvIommuError } from './errors.js';
import { allocQueue, CQ_LAYOUT, enableQueue, QueueCsr, type QueueRing } from './queue.js';
import { pollUntil } from '../../kernel/poll.js';

/** Linux's default command-queue length. */
export const CQ_LOG2_ENTRIES = 13;

const CQCSR_CMD_ILL = 1 << CqcsrLayout.cmd_ill.lsb;
const CQCSR_CQMF = 1 << CqcsrLayout.cqmf.lsb;
const CQCSR_CMD_TO = 1 << CqcsrLayout.cmd_to.lsb;
const CQCSR_FENCE_W_IP = 1 << CqcsrLayout.fence_w_ip.lsb;
const CQCSR_ERRORS = CQCSR_CMD_ILL | CQCSR_CQMF | CQCSR_CMD_TO | CQCSR_FENCE_W_IP;
/** Memory faults cleared (retried) in a row before the driver stops retrying. */
const MEMORY_FAULT_RETRIES = 3;

export class CommandQueue {
  /** Software's producer index: where the next command goes. */
  private tail = 0;
  /** The hardware's consumer index as last read. */
  private head = 0;
  /** Fence completion data: a sequence number that never repeats soon. */
  private sequence = 0;
  private memoryFaults = 0;
  private stopped = false;

  private constructor(
    private readonly ctx: IommuContext,
    readonly ring: QueueRing,
    /** Where IOFENCE.C writes its completion data. */
    readonly fenceAddress: bigint,
  ) {}

  /** Allocates the ring and the fence word, programs cqb and cqt, and enables the queue. */
  static create(ctx: IommuContext, log2Entries = CQ_LOG2_ENTRIES): CommandQueue {
    const ring = allocQueue(ctx, CQ_LAYOUT, log2Entries);
    let fencePage = -1;
    try {
      fencePage = ctx.kernel.pages.allocPages(1);
      ctx.regs.write32(Reg.cqt, 0);
      enableQueue(ctx, CQ_LAYOUT);
    } catch (e) {
      ctx.kernel.pages.freePages(ring.page, ring.pages);
      if (fencePage >= 0) ctx.kernel.pages.freePages(fencePage);
      throw e;
    }
    return new CommandQueue(ctx, ring, BigInt(fencePage) << 12n);
  }

  get entries(): number {
    return this.ring.entries;
  }

  /** Software's producer index (the value last written to cqt). */
  get producerIndex(): number {
    return this.tail;
  }

  /** The command stored at ring index `index` (what the IOMMU fetches). */
  entry(index: number): CommandWords {
    const m = this.ctx.kernel.memory;
    const a = this.ring.address(index % this.ring.entries);
    return [m.read(a, 8), m.read(a + 8n, 8)];
  }

  /** Writes one command at the tail and rings the doorbell (cqt). */
  submit(cmd: CommandWords): void {
    const { regs, kernel } = this.ctx;
    if (this.stopped) throw this.failure('the command queue is stopped by persistent memory faults');
    const n = this.ring.entries;
    const next = (this.tail + 1) % n;
    if (next === this.head) {
      // Looks full: one slot always stays empty. Wait for the IOMMU to consume.
      const room = pollUntil(
        kernel,
        () => {
          this.head = regs.read32(Reg.cqh) % n;
          return next !== this.head;
        },
        () => this.handleErrors(),
      );
      if (!room) throw this.failure('the command queue stayed full');
    }
    const a = this.ring.address(this.tail);
    kernel.memory.write(a, 8, cmd[0]);
    kernel.memory.write(a + 8n, 8, cmd[1]);
    this.tail = next;
    regs.write32(Reg.cqt, this.tail);
    this.count(cmd);
  }

  /**
   * IOFENCE.C (PR, PW, AV) and a wait until its completion write lands: every command before
   * it has then completed. Throws when the fence does not complete within the polling budget.
   */
  sync(): void {
    const { kernel, stats } = this.ctx;
    this.sequence = this.sequence >= 0xffffffff ? 1 : this.sequence + 1;
    const seq = BigInt(this.sequence);
    this.submit(iofenceC({ address: this.fenceAddress, data: this.sequence, pr: true, pw: true }));
    const done = pollUntil(
      kernel,
      () => kernel.memory.read(this.fenceAddress, 4) === seq,
      () => this.handleErrors(),
    );
    if (!done) {
      stats.fenceTimeouts++;
      throw this.failure(`IOFENCE.C (data ${this.sequence}) did not complete`);
    }
    this.memoryFaults = 0;
  }

  /**
   * Handles command-queue errors (from the CQ interrupt, or while waiting): logs each, repairs
   * what software can repair, and clears the bits so that command processing resumes. Returns
   * whether any error bit was set.
   */
  handleErrors(): boolean {
    const { regs, kernel, name, stats } = this.ctx;
    const csr = regs.read32(Reg.cqcsr);
    let clear = csr & CQCSR_ERRORS;
    if (clear === 0) return false;
    const keep = csr & (QueueCsr.EN | QueueCsr.IE);
    if ((csr & CQCSR_CMD_ILL) !== 0) {
      stats.queueErrors.commandIllegal++;
      const at = regs.read32(Reg.cqh) % this.ring.entries;
      const cmd = this.entry(at);
      kernel.log.error(name, `command queue: illegal command ${commandName(cmd)} at index ${at} (${hex(cmd[0], 16)} ${hex(cmd[1], 16)}); replaced by IOFENCE.C, processing resumes`);
      // The IOMMU re-fetches the command at cqh once cmd_ill clears: make it a harmless one.
      const a = this.ring.address(at);
      const nop = iofenceC();
      kernel.memory.write(a, 8, nop[0]);
      kernel.memory.write(a + 8n, 8, nop[1]);
    }
    if ((csr & CQCSR_CQMF) !== 0) {
      stats.queueErrors.commandMemoryFault++;
      this.memoryFaults++;
      if (this.memoryFaults > MEMORY_FAULT_RETRIES) {
        // Retrying cannot repair memory: leave cqmf set and stop its interrupt (no storm).
        clear &= ~CQCSR_CQMF;
        if (!this.stopped) kernel.log.error(name, `command queue: memory faults persist after ${MEMORY_FAULT_RETRIES} retries; command processing stays stopped`);
        this.stopped = true;
        regs.write32(Reg.cqcsr, QueueCsr.EN | clear);
        return true;
      }
      kernel.log.error(name, `command queue: memory fault (cqmf) fetching a command or storing a fence completion at cqh=${regs.read32(Reg.cqh)} (ring at ${hex(this.ring.address(0))}); retrying`);
    }
    if ((csr & CQCSR_CMD_TO) !== 0) {
      stats.queueErrors.commandTimeout++;
      kernel.log.error(name, `command queue: an ATS invalidation timed out (cmd_to) before IOFENCE.C at cqh=${regs.read32(Reg.cqh)}; the fence is retried`);
    }
    regs.write32(Reg.cqcsr, keep | clear);
    return true;
  }

  private count(cmd: CommandWords): void {
    const { stats } = this.ctx;
    const name = commandName(cmd);
    stats.commands[name] = (stats.commands[name] ?? 0) + 1;
    const opcode = Number(cmd[0] & 0x7fn);
    if (opcode === Opcode.IOFENCE) stats.fences++;
    else if (opcode === Opcode.IODIR) stats.invalidations.directory++;
    else if (name === 'IOTINVAL.VMA') {
      const av = (cmd[0] >> 10n) & 1n;
      const pscv = (cmd[0] >> 32n) & 1n;
      if (av === 1n) stats.invalidations.pages++;
      else if (pscv === 1n) stats.invalidations.pscid++;
      else stats.invalidations.all++;
    }
  }

  private failure(what: string): RiscvIommuError {
    const { regs, kernel, name } = this.ctx;
    const message = `${name}: ${what} after the polling budget (cqh=${regs.read32(Reg.cqh)}, cqt=${regs.read32(Reg.cqt)}, cqcsr=${hex(regs.read32(Reg.cqcsr))})`;
    kernel.log.error(name, message);
    return new RiscvIommuError(message);
  }
}
