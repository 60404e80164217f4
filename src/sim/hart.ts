// The processor the simulated operating system runs on, as far as devices are concerned:
// its interrupt inputs and the system registers that devices implement inside it. Wired
// interrupts reach it through a platform interrupt controller (an external-interrupt pin;
// on Arm, IRQ and FIQ); message-signalled interrupts land in its interrupt file; a GICv3 CPU
// interface is reached with MRS/MSR, as system registers.

import { InterruptLine, MsiController } from './irq.js';

export type CpuArchitecture = 'riscv' | 'arm';

/**
 * An Arm system register's encoding as MRS/MSR name it (op0, op1, CRn, CRm, op2), packed in
 * the instruction's field order: op0 << 14 | op1 << 11 | CRn << 7 | CRm << 3 | op2.
 */
export function systemRegister(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return ((op0 & 3) << 14) | ((op1 & 7) << 11) | ((crn & 15) << 7) | ((crm & 15) << 3) | (op2 & 7);
}

/** MPIDR_EL1, the processor's affinity (S3_0_C0_C0_5). */
export const MPIDR_EL1 = systemRegister(3, 0, 0, 0, 5);

/** Registers that a block inside the processor (a GICv3 CPU interface) implements. */
export interface SystemRegisterBlock {
  /** The value of the register, or undefined when the block does not implement it. */
  readSystemRegister(encoding: number): bigint | undefined;
  /** Performs the write; false when the block does not implement the register. */
  writeSystemRegister(encoding: number, value: bigint): boolean;
}

/**
 * An MRS/MSR of an encoding nothing implements: the architecture makes the instruction
 * UNDEFINED, so software takes a synchronous exception; this is that exception.
 */
export class UndefinedInstructionError extends Error {
  constructor(
    readonly encoding: number,
    readonly write: boolean,
  ) {
    super(`${write ? 'MSR' : 'MRS'} of ${formatSystemRegister(encoding)} is UNDEFINED: no system register has that encoding`);
    this.name = 'UndefinedInstructionError';
  }
}

/** "S3_0_C12_C12_0", the assembler's generic name of an encoding. */
export function formatSystemRegister(encoding: number): string {
  return `S${(encoding >>> 14) & 3}_${(encoding >>> 11) & 7}_C${(encoding >>> 7) & 15}_C${(encoding >>> 3) & 15}_${encoding & 7}`;
}

/** The processor's system-register space: the blocks connected to it answer MRS and MSR. */
export class SystemRegisters {
  private readonly blocks: SystemRegisterBlock[] = [];

  connect(block: SystemRegisterBlock): void {
    this.blocks.push(block);
  }

  /** MRS: throws UndefinedInstructionError when no block implements `encoding`. */
  read(encoding: number): bigint {
    for (const b of this.blocks) {
      const v = b.readSystemRegister(encoding);
      if (v !== undefined) return v;
    }
    throw new UndefinedInstructionError(encoding, false);
  }

  /** MSR: throws UndefinedInstructionError when no block implements `encoding`. */
  write(encoding: number, value: bigint): void {
    for (const b of this.blocks) if (b.writeSystemRegister(encoding, value)) return;
    throw new UndefinedInstructionError(encoding, true);
  }
}

export interface HartOptions {
  /** The instruction set (default 'riscv'). */
  architecture?: CpuArchitecture;
  /**
   * Arm: the affinity fields of MPIDR_EL1 packed as Aff3 << 24 | Aff2 << 16 | Aff1 << 8 | Aff0
   * (the layout of GICR_TYPER.Affinity); the device tree's cpu `reg` (default 0).
   */
  affinity?: number;
}

export class Hart {
  /** The external interrupt input: RISC-V's supervisor external interrupt pin, Arm's IRQ. */
  readonly externalInterrupt: InterruptLine;
  /** Arm's FIQ (Group 0 interrupts of a GIC); a RISC-V hart has no such input and it stays low. */
  readonly fastInterrupt: InterruptLine;
  readonly systemRegisters = new SystemRegisters();
  readonly architecture: CpuArchitecture;
  readonly affinity: number;

  constructor(
    readonly id: number,
    /** The hart's supervisor-level interrupt file for MSIs, when the platform has one. */
    readonly interruptFile: MsiController | null,
    options: HartOptions = {},
  ) {
    this.architecture = options.architecture ?? 'riscv';
    this.affinity = (options.affinity ?? 0) >>> 0;
    const arm = this.architecture === 'arm';
    this.externalInterrupt = new InterruptLine(arm ? `cpu${id}.irq` : 'hart.seip');
    this.fastInterrupt = new InterruptLine(arm ? `cpu${id}.fiq` : 'hart.fiq');
    if (arm) this.systemRegisters.connect(new ProcessorIdentification(this.affinity));
  }
}

/** The identification registers the processor itself answers (Arm). */
class ProcessorIdentification implements SystemRegisterBlock {
  private readonly mpidr: bigint;

  constructor(affinity: number) {
    // Bit 31 is RES1; Aff3 lives in bits 39:32, Aff2..Aff0 in bits 23:0.
    this.mpidr = (BigInt(affinity >>> 24) << 32n) | BigInt((0x8000_0000 | (affinity & 0xff_ffff)) >>> 0);
  }

  readSystemRegister(encoding: number): bigint | undefined {
    return encoding === MPIDR_EL1 ? this.mpidr : undefined;
  }

  /** MPIDR_EL1 is read-only: an MSR to it is UNDEFINED, so this block claims no write. */
  writeSystemRegister(_encoding: number): boolean {
    return false;
  }
}
