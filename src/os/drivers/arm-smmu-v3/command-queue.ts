// The Command queue, producer side (IHI 0070 3.5, 4.1, 4.7.3): commands are written at PROD and
// PROD is advanced; a CMD_SYNC tells the driver when everything before it has completed. Two
// ways to see a CMD_SYNC complete, as Linux has:
//  - 'msi': CMD_SYNC with CS = SIG_IRQ and its MSI aimed at the CMD_SYNC's own slot with data
//    0, so that completion clears the command's first word (Linux ARM_SMMU_OPT_MSIPOLL, used
//    when IDR0.MSI is set and the SMMU is coherent);
//  - 'cons': CS = SIG_SEV (SIG_NONE without IDR0.SEV), and CMDQ_CONS polled until it has moved
//    past the CMD_SYNC (3.5.2: consumption of a CMD_SYNC means its guarantees are met, 4.8).
// A command the SMMU cannot process stops the queue with CMDQ_CONS.ERR and GERROR.CMDQ_ERR
// (7.1); `skipError` repairs the queue the way Linux's arm_smmu_cmdq_skip_err does, before the
// global-error handler acknowledges the error in GERRORN.

import { Opcode, SyncCs, cmdSync, commandName, commandOpcode, type CommandWords } from '../../../formats/smmuv3/commands.js';
import { CMDQ_ERROR_NAMES, CmdqError, CmdqConsLayout, queueFull, Reg, Shareability } from '../../../formats/smmuv3/registers.js';
import { extract } from '../../../formats/bitfield.js';
import { hex } from '../../../sim/u64.js';
import type { SmmuContext } from './context.js';
import { ArmSmmuV3Error } from './errors.js';
import { readLe32, readLe64, writeLe64 } from './le64.js';
import type { QueueRing } from './queue.js';
import { bump } from './stats.js';
import { pollUntil } from '../../kernel/poll.js';

export type SyncCompletion = 'msi' | 'cons';

/** MSI attributes of CMD_SYNC completions: Inner/Outer Write-Back (Linux ARM_SMMU_MEMATTR_OIWB). */
const MEMATTR_OIWB = 0xf;
const TG_SHIFT = 10n;

export class CommandQueue {
  /** Software's producer pointer (index and wrap flag): where the next command goes. */
  private prod = 0;
  /** The SMMU's consumer pointer as last read. */
  private cons = 0;
  /**
   * Runs while the driver waits for the queue: the global-error check that repairs a queue
   * stopped by a command error (Linux relies on the GERROR interrupt alone; polling it as well
   * also covers an SMMU whose gerror interrupt is not wired).
   */
  onWait: () => void = () => undefined;

  constructor(
    private readonly ctx: SmmuContext,
    readonly ring: QueueRing,
    readonly completion: SyncCompletion,
    /** IDR0.SEV: a CMD_SYNC without an MSI asks for a wake-up event. */
    private readonly sev: boolean,
  ) {}

  get entries(): number {
    return this.ring.entries;
  }

  /** Software's producer pointer (the value last written to CMDQ_PROD). */
  get producerIndex(): number {
    return this.prod;
  }

  /** The command stored at pointer `pointer` (what the SMMU fetches). */
  entry(pointer: number): CommandWords {
    const m = this.ctx.kernel.memory;
    const a = this.ring.address(pointer);
    return [readLe64(m, a), readLe64(m, a + 8n)];
  }

  /** Writes one command at PROD and advances CMDQ_PROD, waiting for room when the queue is full. */
  submit(cmd: CommandWords): void {
    const { kernel } = this.ctx;
    const log2 = this.ring.log2Entries;
    if (queueFull(this.prod, this.cons, log2)) {
      const room = pollUntil(
        kernel,
        () => {
          this.cons = this.readCons();
          return !queueFull(this.prod, this.cons, log2);
        },
        this.onWait,
      );
      if (!room) throw this.failure('the command queue stayed full');
    }
    const a = this.ring.address(this.prod);
    writeLe64(kernel.memory, a, cmd[0]);
    writeLe64(kernel.memory, a + 8n, cmd[1]);
    this.prod = this.ring.next(this.prod);
    this.ctx.regs.write32(Reg.CMDQ_PROD, this.prod);
    this.count(cmd);
  }

  /** Submits a CMD_SYNC and waits until it completed: every command before it has then completed. */
  sync(): void {
    const { kernel, stats } = this.ctx;
    const at = this.prod;
    const slot = this.ring.address(at);
    const msi = this.completion === 'msi';
    this.submit(
      msi
        ? cmdSync({ cs: SyncCs.SIG_IRQ, msiAddress: slot, msiData: 0, msh: Shareability.InnerShareable, msiAttr: MEMATTR_OIWB })
        : cmdSync({ cs: this.sev ? SyncCs.SIG_SEV : SyncCs.SIG_NONE, msh: Shareability.InnerShareable, msiAttr: MEMATTR_OIWB }),
    );
    stats.syncs++;
    const done = pollUntil(
      kernel,
      msi
        ? () => readLe32(kernel.memory, slot) === 0
        : () => {
            this.cons = this.readCons();
            return this.consumed(at);
          },
      this.onWait,
    );
    if (!done) {
      stats.syncTimeouts++;
      throw this.failure(`CMD_SYNC at index ${at & (this.entries - 1)} did not complete`);
    }
    // The CMD_SYNC's slot is free again: the SMMU consumed it before signalling completion.
    if (msi) this.cons = this.ring.next(at);
  }

  /**
   * Repairs the queue after GERROR.CMDQ_ERR (Linux __arm_smmu_cmdq_skip_err): logs
   * CMDQ_CONS.ERR; an illegal command (CERROR_ILL, or an unknown code) is replaced by a CMD_SYNC
   * so that processing can resume; a command fetch abort (CERROR_ABT) is retried as it is; a
   * CMD_SYNC that found an ATC invalidation timed out (CERROR_ATC_INV_SYNC) is retried too, and
   * may well time out again. The caller acknowledges the error in GERRORN.
   */
  skipError(): void {
    const { regs, kernel, name, stats } = this.ctx;
    const consValue = regs.read32(Reg.CMDQ_CONS) >>> 0;
    const err = Number(extract(BigInt(consValue), CmdqConsLayout.ERR));
    const errName = CMDQ_ERROR_NAMES[err] ?? `unknown error ${err}`;
    bump(stats.commandErrors, errName);
    const at = consValue & this.ring.pointerMask;
    if (err === CmdqError.None) return;
    if (err === CmdqError.Abort) {
      kernel.log.error(name, `command queue: ${errName} (CMDQ_CONS ${hex(consValue, 8)}): external abort fetching a command; retrying the fetch`);
      return;
    }
    if (err === CmdqError.AtcInvSync) {
      kernel.log.error(name, `command queue: ${errName} (CMDQ_CONS ${hex(consValue, 8)}): an ATC invalidation got no completion; the CMD_SYNC is retried`);
      return;
    }
    const bad = this.entry(at);
    kernel.log.error(name, `command queue: ${errName} (CMDQ_CONS ${hex(consValue, 8)}): skipping ${commandName(bad)} ${hex(bad[0], 16)} ${hex(bad[1], 16)}, replaced by a CMD_SYNC`);
    const replacement = cmdSync({ cs: this.sev ? SyncCs.SIG_SEV : SyncCs.SIG_NONE, msh: Shareability.InnerShareable, msiAttr: MEMATTR_OIWB });
    const a = this.ring.address(at);
    writeLe64(kernel.memory, a, replacement[0]);
    writeLe64(kernel.memory, a + 8n, replacement[1]);
  }

  /** CMDQ_CONS.RD (index and wrap flag, without ERR). */
  private readCons(): number {
    return (this.ctx.regs.read32(Reg.CMDQ_CONS) >>> 0) & this.ring.pointerMask;
  }

  /** Whether the SMMU's consumer pointer has moved past `pointer` (Linux queue_consumed). */
  private consumed(pointer: number): boolean {
    const n = this.ring.log2Entries;
    const idx = (p: number): number => p & ((1 << n) - 1);
    const wrap = (p: number): number => (p >>> n) & 1;
    return wrap(this.cons) === wrap(pointer) ? idx(this.cons) > idx(pointer) : idx(this.cons) <= idx(pointer);
  }

  private count(cmd: CommandWords): void {
    const { stats } = this.ctx;
    const name = commandName(cmd);
    bump(stats.commands, name);
    const inv = stats.invalidations;
    const ranged = ((cmd[1] >> TG_SHIFT) & 3n) !== 0n;
    switch (commandOpcode(cmd)) {
      case Opcode.TLBI_NH_VA:
        if (ranged) inv.nhVaRanges++;
        else inv.nhVaPages++;
        break;
      case Opcode.TLBI_S2_IPA:
        if (ranged) inv.s2IpaRanges++;
        else inv.s2IpaPages++;
        break;
      case Opcode.TLBI_NH_ASID:
        inv.nhAsid++;
        break;
      case Opcode.TLBI_S12_VMALL:
        inv.s12Vmall++;
        break;
      case Opcode.TLBI_NSNH_ALL:
      case Opcode.TLBI_EL2_ALL:
        inv.all++;
        break;
      case Opcode.CFGI_STE:
        inv.cfgiSte++;
        break;
      case Opcode.CFGI_STE_RANGE:
        if (name === 'CMD_CFGI_ALL') inv.cfgiAll++;
        else inv.cfgiSte++;
        break;
      case Opcode.CFGI_CD:
      case Opcode.CFGI_CD_ALL:
        inv.cfgiCd++;
        break;
      case Opcode.ATC_INV:
        inv.atcInv++;
        break;
    }
  }

  private failure(what: string): ArmSmmuV3Error {
    const { regs, kernel, name } = this.ctx;
    const message = `${name}: ${what} after the polling budget (CMDQ_PROD ${hex(regs.read32(Reg.CMDQ_PROD) >>> 0, 8)}, CMDQ_CONS ${hex(regs.read32(Reg.CMDQ_CONS) >>> 0, 8)}, GERROR ${hex(regs.read32(Reg.GERROR) >>> 0, 8)})`;
    kernel.log.error(name, message);
    return new ArmSmmuV3Error(message);
  }
}
