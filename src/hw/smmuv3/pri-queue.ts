// The PRI queue (IHI 0070 chapter 8): PCIe Page Requests become 16-byte entries at PRIQ_PROD.
// When the queue cannot take a request the SMMU answers the endpoint itself (8.1, 8.2, 8.3):
// with the queue disabled (effective PRIQEN == 0, which SMMUEN == 0 implies) or in an abort
// condition, every Page Request gets a Response Failure without PASID; when the queue is full
// or an overflow is unacknowledged, the request is discarded and a Page Request with Last == 1
// gets a Success response. Stop Markers (PASID, R = W = 0, Last) are never answered.

import { PRI_ENTRY_SIZE } from '../../formats/smmuv3/records.js';
import { Gerror } from '../../formats/smmuv3/registers.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { BusPort } from './bus-port.js';
import type { Interrupts } from './interrupts.js';
import { QueueRegisters } from './queue-registers.js';

const OVFLG = 0x8000_0000;

/** PCIe PRG Response codes an auto-response uses (8.3). */
export const PrgResponseCode = { Success: 0x0, ResponseFailure: 0xf } as const;

/** An incoming Page Request or Stop Marker, as the SMMU sees it (StreamID, not RequesterID). */
export class PriRequest {
  sid = 0;
  ssv = false;
  ssid = 0;
  priv = false;
  exec = false;
  read = false;
  write = false;
  last = false;
  prgIndex = 0;
  /** Page address [63:12] as halves (low half with bits [11:0] clear). */
  addrHi = 0;
  addrLo = 0;

  get stopMarker(): boolean {
    return this.ssv && !this.read && !this.write && this.last;
  }
}

/** What the PRI queue needs from the rest of the SMMU. */
export interface PriQueueHooks {
  /** The effective PRIQEN: CR0ACK.PRIQEN and CR0ACK.SMMUEN. */
  enabled(): boolean;
  /** Sends a PRG Response to the endpoint behind `sid`; pasid -1 for none. */
  respond(sid: number, pasid: number, prgIndex: number, code: number): void;
  /** STE.PPAR of the stream (0 or 1), or -1 when no valid STE can be found (8.1). */
  ppar(sid: number): number;
}

export interface PriQueueStats {
  received: number;
  queued: number;
  /** Requests discarded: queue disabled, in abort, full, or in overflow. */
  discarded: number;
  overflows: number;
  aborts: number;
  autoResponses: number;
}

export class PriQueue {
  readonly regs: QueueRegisters;
  readonly stats: PriQueueStats = { received: 0, queued: 0, discarded: 0, overflows: 0, aborts: 0, autoResponses: 0 };

  constructor(
    maxLog2: number,
    oasBits: number,
    private readonly port: BusPort,
    private readonly interrupts: Interrupts,
    private readonly hooks: PriQueueHooks,
    /** IDR3.PPS: overflow auto-responses keep the PASID without consulting STE.PPAR. */
    private readonly pps: boolean,
  ) {
    this.regs = new QueueRegisters(maxLog2, PRI_ENTRY_SIZE, oasBits);
  }

  reset(): void {
    this.regs.reset();
  }

  get overflowed(): boolean {
    return ((this.regs.prod ^ this.regs.cons) & OVFLG) !== 0;
  }

  receive(r: PriRequest): void {
    const regs = this.regs;
    this.stats.received++;
    if (!this.hooks.enabled() || this.interrupts.isActive(Gerror.PRIQ_ABT_ERR)) {
      this.stats.discarded++;
      if (!r.stopMarker) this.autoRespond(r.sid, -1, r.prgIndex, PrgResponseCode.ResponseFailure);
      return;
    }
    if (this.overflowed || regs.full) {
      if (!this.overflowed) {
        regs.prod ^= OVFLG;
        this.stats.overflows++;
      }
      this.stats.discarded++;
      if (r.last && !r.stopMarker) this.overflowResponse(r);
      if (r.last && this.interrupts.priqLastOnly) this.interrupts.priqInterrupt();
      return;
    }
    const w = this.port.words;
    w[0] = r.sid >>> 0;
    w[1] =
      ((r.ssv ? r.ssid & 0xfffff : 0) | (r.priv ? 1 << 26 : 0) | (r.exec ? 1 << 27 : 0) | (r.read ? 1 << 28 : 0) | (r.write ? 1 << 29 : 0) | (r.last ? 1 << 30 : 0) | (r.ssv ? 1 << 31 : 0)) >>> 0;
    w[2] = ((r.prgIndex & 0x1ff) | (r.addrLo & 0xffff_f000)) >>> 0;
    w[3] = r.addrHi >>> 0;
    const at = regs.entryAddress(regs.index(regs.prod));
    if (this.port.write(at.page, at.offset, 2) === AccessStatus.AccessFault) {
      // A synchronous abort: PROD does not advance and the request is refused (8.2).
      this.stats.aborts++;
      this.interrupts.raiseGlobalError(Gerror.PRIQ_ABT_ERR);
      if (!r.stopMarker) this.autoRespond(r.sid, -1, r.prgIndex, PrgResponseCode.ResponseFailure);
      return;
    }
    const wasEmpty = regs.empty;
    regs.prod = (regs.prod & OVFLG) | regs.next(regs.prod);
    this.stats.queued++;
    if (this.interrupts.priqLastOnly ? r.last : wasEmpty) this.interrupts.priqInterrupt();
  }

  /** The auto-response to a discarded Page Request with Last == 1 (8.1). */
  private overflowResponse(r: PriRequest): void {
    if (!r.ssv) return this.autoRespond(r.sid, -1, r.prgIndex, PrgResponseCode.Success);
    if (this.pps) return this.autoRespond(r.sid, r.ssid, r.prgIndex, PrgResponseCode.Success);
    const ppar = this.hooks.ppar(r.sid);
    if (ppar < 0) return this.autoRespond(r.sid, -1, r.prgIndex, PrgResponseCode.ResponseFailure);
    this.autoRespond(r.sid, ppar === 1 ? r.ssid : -1, r.prgIndex, PrgResponseCode.Success);
  }

  private autoRespond(sid: number, pasid: number, prgIndex: number, code: number): void {
    this.stats.autoResponses++;
    this.hooks.respond(sid, pasid, prgIndex, code);
  }
}
