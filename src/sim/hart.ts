// The processor the simulated operating system runs on, as far as devices are concerned:
// its interrupt inputs. Wired interrupts reach it through a platform interrupt controller
// (an external-interrupt pin); message-signalled interrupts land in its interrupt file.

import { InterruptLine, MsiController } from './irq.js';

export class Hart {
  /** Supervisor external interrupt pin (driven by the platform interrupt controller). */
  readonly externalInterrupt = new InterruptLine('hart.seip');

  constructor(
    readonly id: number,
    /** The hart's supervisor-level interrupt file for MSIs, when the platform has one. */
    readonly interruptFile: MsiController | null,
  ) {}
}
