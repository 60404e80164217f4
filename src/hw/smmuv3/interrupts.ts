// Interrupts and global errors (IHI 0070 3.18, 6.3.16 - 6.3.23, 7.5). Each source (Event
// queue, PRI queue, GERROR, CMD_SYNC) pulses its wired output and, when MSIs are implemented
// and the source's MSI address is not zero, sends a 32-bit MSI. IRQ_CTRL enables the Event,
// PRI and GERROR sources; updates complete at once, so IRQ_CTRLACK follows IRQ_CTRL.
// A GERROR bit is activated by toggling it, only when it is not already active (GERROR !=
// GERRORN); software acknowledges by toggling GERRORN.

import { Gerror } from '../../formats/smmuv3/registers.js';
import type { InterruptLine } from '../../sim/irq.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import { pageAddress, type BusPort, type PageAddress } from './bus-port.js';

/** Interrupt sources that IRQ_CTRL enables, by their IRQ_CTRL bit. */
export const IrqSource = { Gerror: 0, Priq: 1, Eventq: 2 } as const;
export type IrqSourceValue = (typeof IrqSource)[keyof typeof IrqSource];

/** The wired interrupt outputs of the model; each is optional. */
export interface SmmuV3InterruptLines {
  eventq?: InterruptLine;
  priq?: InterruptLine;
  cmdqSync?: InterruptLine;
  gerror?: InterruptLine;
  /** One output for every source (some implementations wire a combined interrupt). */
  combined?: InterruptLine;
  /** WFE wake-up events (SEV): CMD_SYNC with SIG_SEV, and the Command queue leaving full. */
  sev?: InterruptLine;
}

/** MSI configuration of one source: *_IRQ_CFG0 (address [55:2]), CFG1 (data), CFG2 (attributes). */
export class MsiConfig {
  addrLo = 0;
  addrHi = 0;
  data = 0;
  attr = 0;

  reset(): void {
    this.addrLo = this.addrHi = this.data = this.attr = 0;
  }
}

/** The GERROR bits this implementation can raise. */
const IMPLEMENTED_GERRORS =
  Gerror.CMDQ_ERR | Gerror.EVENTQ_ABT_ERR | Gerror.PRIQ_ABT_ERR | Gerror.MSI_CMDQ_ABT_ERR | Gerror.MSI_EVENTQ_ABT_ERR | Gerror.MSI_PRIQ_ABT_ERR | Gerror.MSI_GERROR_ABT_ERR;

export interface InterruptCounters {
  /** Pulses of each wired output. */
  wired: { eventq: number; priq: number; cmdqSync: number; gerror: number; sev: number };
  msisSent: number;
  msiAborts: number;
}

export class Interrupts {
  irqCtrl = 0;
  gerror = 0;
  gerrorn = 0;
  readonly eventq = new MsiConfig();
  readonly priq = new MsiConfig();
  readonly gerrorCfg = new MsiConfig();
  readonly counters: InterruptCounters = { wired: { eventq: 0, priq: 0, cmdqSync: 0, gerror: 0, sev: 0 }, msisSent: 0, msiAborts: 0 };
  /** Called when a GERROR bit becomes inactive through GERRORN (the Command queue restarts on CMDQ_ERR). */
  onAcknowledge: (bits: number) => void = () => {};
  private readonly addr: PageAddress = { page: 0, offset: 0 };

  constructor(
    private readonly port: BusPort,
    private readonly lines: SmmuV3InterruptLines,
    private readonly msiSupported: boolean,
    private readonly priSupported: boolean,
    private readonly oasBits: number,
  ) {}

  reset(): void {
    this.irqCtrl = this.gerror = this.gerrorn = 0;
    this.eventq.reset();
    this.priq.reset();
    this.gerrorCfg.reset();
  }

  /** IRQ_CTRL: PRIQ_IRQEN is RES0 without PRI. */
  writeIrqCtrl(value: number): void {
    this.irqCtrl = value & (this.priSupported ? 7 : 5);
  }

  /** IRQ_CTRLACK: updates complete at once. */
  get irqCtrlAck(): number {
    return this.irqCtrl;
  }

  enabled(source: IrqSourceValue): boolean {
    return (this.irqCtrl & (1 << source)) !== 0;
  }

  /** Errors currently active (GERROR != GERRORN). */
  get active(): number {
    return (this.gerror ^ this.gerrorn) & IMPLEMENTED_GERRORS;
  }

  isActive(bit: number): boolean {
    return (this.active & bit) !== 0;
  }

  /** GERRORN: software toggles bits to acknowledge errors; the register reads back as written. */
  writeGerrorn(value: number): void {
    const before = this.active;
    this.gerrorn = value & IMPLEMENTED_GERRORS;
    const acknowledged = before & ~this.active;
    if (acknowledged !== 0) this.onAcknowledge(acknowledged);
  }

  /**
   * Activates the GERROR bits in `bits` that are not active yet (7.5) and raises the GERROR
   * interrupt for them, except for MSI_GERROR_ABT_ERR alone (7.5.1).
   */
  raiseGlobalError(bits: number): void {
    const fresh = bits & ~this.active & IMPLEMENTED_GERRORS;
    if (fresh === 0) return;
    this.gerror ^= fresh;
    if ((fresh & ~Gerror.MSI_GERROR_ABT_ERR) === 0 || !this.enabled(IrqSource.Gerror)) return;
    this.pulse(this.lines.gerror, 'gerror');
    if (this.sendMsi(this.gerrorCfg) === AccessStatus.AccessFault) this.raiseGlobalError(Gerror.MSI_GERROR_ABT_ERR);
  }

  /** The Event queue went from empty to non-empty (3.18.2). */
  eventqInterrupt(): void {
    if (!this.enabled(IrqSource.Eventq)) return;
    this.pulse(this.lines.eventq, 'eventq');
    if (this.sendMsi(this.eventq) === AccessStatus.AccessFault) this.raiseGlobalError(Gerror.MSI_EVENTQ_ABT_ERR);
  }

  /** The PRI queue interrupt condition of PRIQ_IRQ_CFG2.LO happened. */
  priqInterrupt(): void {
    if (!this.enabled(IrqSource.Priq)) return;
    this.pulse(this.lines.priq, 'priq');
    if (this.sendMsi(this.priq) === AccessStatus.AccessFault) this.raiseGlobalError(Gerror.MSI_PRIQ_ABT_ERR);
  }

  /** PRIQ_IRQ_CFG2.LO: interrupt only for requests with Last set. */
  get priqLastOnly(): boolean {
    return (this.priq.attr & 0x8000_0000) !== 0;
  }

  /**
   * A CMD_SYNC with SIG_IRQ completed (4.7.3): the wired output always; an MSI of `data` to the
   * address hi:lo (bits [55:2]) when MSIs are implemented and the address is not zero.
   */
  cmdSyncInterrupt(addrHi: number, addrLo: number, data: number): void {
    this.pulse(this.lines.cmdqSync, 'cmdqSync');
    if (!this.msiSupported || (addrHi === 0 && addrLo === 0)) return;
    if (this.write(addrHi, addrLo, data) === AccessStatus.AccessFault) this.raiseGlobalError(Gerror.MSI_CMDQ_ABT_ERR);
  }

  /** A WFE wake-up event. */
  sendEvent(): void {
    this.pulse(this.lines.sev, 'sev');
  }

  /** Sends the MSI of a register-configured source; ADDR == 0 disables it (3.18.2). */
  private sendMsi(cfg: MsiConfig): AccessStatus {
    if (!this.msiSupported || (cfg.addrLo === 0 && cfg.addrHi === 0)) return AccessStatus.Ok;
    return this.write(cfg.addrHi, cfg.addrLo, cfg.data);
  }

  /** A 32-bit MSI write; the address is truncated to the OAS (3.4.3). */
  private write(addrHi: number, addrLo: number, data: number): AccessStatus {
    const a = pageAddress(addrHi, addrLo, this.oasBits, 2, this.addr);
    const status = this.port.write32(a.page, a.offset, data);
    if (status === AccessStatus.AccessFault) this.counters.msiAborts++;
    else this.counters.msisSent++;
    return status;
  }

  private pulse(line: InterruptLine | undefined, name: keyof InterruptCounters['wired']): void {
    this.counters.wired[name]++;
    if (line !== undefined) {
      line.set(true);
      line.set(false);
    }
    if (name !== 'sev' && this.lines.combined !== undefined) {
      this.lines.combined.set(true);
      this.lines.combined.set(false);
    }
  }
}
