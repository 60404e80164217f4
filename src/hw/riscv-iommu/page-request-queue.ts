// The page-request queue and PCIe "Page Request" handling (specification sections
// "Page-Request-Queue (PQ)" and "PCIe ATS Page Request handling"): requests from devices with
// PRI enabled are queued as 16-byte records; otherwise, or when the queue cannot take them,
// the IOMMU answers a request that needs a response with its own Page Request Group Response.

import { Cause, MessageCode, PAGE_REQUEST_RECORD_SIZE, PrgResponseCode, Ttyp } from '../../formats/riscv-iommu/records.js';
import { InterruptCause } from '../../formats/riscv-iommu/registers.js';
import type { SystemBus } from '../../sim/system-bus.js';
import type { FaultQueue } from './fault-queue.js';
import type { Interrupts } from './interrupts.js';
import { OutboundQueue } from './outbound-queue.js';
import type { PcieMessage } from './pcie-messages.js';
import type { QueueBase } from './queue-base.js';
import type { IommuState } from './state.js';
import type { Translator } from './translate.js';

export interface PageRequestStats {
  received: number;
  queued: number;
  stopMarkers: number;
  /** Requests the IOMMU answered itself, by response code. */
  autoResponses: Map<number, number>;
  discarded: number;
  overflows: number;
  memoryFaults: number;
}

export class PageRequestQueue extends OutboundQueue {
  readonly stats: PageRequestStats = { received: 0, queued: 0, stopMarkers: 0, autoResponses: new Map(), discarded: 0, overflows: 0, memoryFaults: 0 };

  constructor(
    q: QueueBase,
    state: IommuState,
    bus: SystemBus,
    interrupts: Interrupts,
    private readonly faultQueue: FaultQueue,
    private readonly translator: Translator,
    private readonly send: (msg: PcieMessage) => void,
  ) {
    super(q, state, bus, interrupts, InterruptCause.PQ);
  }

  /** The page-request queue's registers exist only with ATS. */
  protected override get implemented(): boolean {
    return this.state.ats;
  }

  /** Handles a "Page Request" or "Stop Marker" message from a device. */
  receive(msg: PcieMessage): void {
    this.stats.received++;
    const did = ((msg.segment ?? 0) << 16) | msg.rid;
    const pv = msg.pasid !== null;
    const pid = msg.pasid ?? 0;
    let prpr = false;
    let code: number;
    const dc = this.translator.messageRequester(did, pv, pid, msg.privileged, MessageCode.PageRequest);
    if (dc === null) {
      // Bare mode and too-wide ids are invalid requests; Off and directory faults are failures.
      code = this.translator.lastCause === Cause.TransactionTypeDisallowed ? PrgResponseCode.InvalidRequest : PrgResponseCode.ResponseFailure;
    } else {
      prpr = dc.prpr;
      if (!dc.enPri) {
        this.faultQueue.report(Cause.TransactionTypeDisallowed, Ttyp.PcieMessage, did, pv, pid, msg.privileged, 0, MessageCode.PageRequest, 0, 0, dc.dtf);
        code = PrgResponseCode.InvalidRequest;
      } else if (!this.on || !this.enabled || this.memoryFault) {
        code = PrgResponseCode.ResponseFailure;
      } else if (this.overflow) {
        code = PrgResponseCode.Success;
      } else if (this.q.isFull()) {
        this.overflow = true;
        this.stats.overflows++;
        this.interrupts.raise(InterruptCause.PQ);
        code = PrgResponseCode.Success;
      } else if (!this.record(did, msg)) {
        this.memoryFault = true;
        this.stats.memoryFaults++;
        this.interrupts.raise(InterruptCause.PQ);
        code = PrgResponseCode.ResponseFailure;
      } else {
        this.stats.queued++;
        if ((msg.payload & 7n) === 4n) this.stats.stopMarkers++;
        this.interrupts.raise(InterruptCause.PQ);
        return;
      }
    }
    this.autoRespond(msg, code, prpr);
  }

  /** The IOMMU's own response, sent only for requests that need one (last in group, not a stop marker). */
  private autoRespond(msg: PcieMessage, code: number, prpr: boolean): void {
    const last = (msg.payload & 4n) !== 0n;
    const stopMarker = last && (msg.payload & 3n) === 0n;
    if (!last || stopMarker) {
      this.stats.discarded++;
      return;
    }
    this.stats.autoResponses.set(code, (this.stats.autoResponses.get(code) ?? 0) + 1);
    // A failure response carries the request's PASID; the others only when PRPR asks for it.
    const withPasid = code === PrgResponseCode.ResponseFailure || prpr;
    const prgi = (msg.payload >> 3n) & 0x1ffn;
    this.send({
      code: MessageCode.PrgResponse,
      rid: msg.rid,
      segment: msg.segment,
      pasid: withPasid ? msg.pasid : null,
      privileged: false,
      execute: false,
      tag: 0,
      payload: (BigInt(msg.rid & 0xffff) << 48n) | (BigInt(code) << 44n) | (prgi << 32n),
    });
  }

  private record(did: number, msg: PcieMessage): boolean {
    const q = this.q;
    const pv = msg.pasid !== null;
    const w0lo = ((pv ? msg.pasid ?? 0 : 0) << 12) >>> 0;
    const w0hi = ((pv ? 1 : 0) | (pv && msg.privileged ? 2 : 0) | (pv && msg.execute ? 4 : 0) | ((did & 0xffffff) << 8)) >>> 0;
    const payloadLo = Number(msg.payload & 0xffffffffn);
    const payloadHi = Number((msg.payload >> 32n) & 0xffffffffn);
    const ppn = q.entryPage(q.tail, PAGE_REQUEST_RECORD_SIZE);
    const off = q.entryOffset(q.tail, PAGE_REQUEST_RECORD_SIZE);
    if (!this.writeDoubleword(ppn, off, w0lo, w0hi) || !this.writeDoubleword(ppn, off + 8, payloadLo, payloadHi)) return false;
    q.tail = q.next(q.tail);
    return true;
  }
}
