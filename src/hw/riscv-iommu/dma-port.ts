// A DMA master's upstream port when a RISC-V IOMMU translates it: each access becomes a
// transaction presented to the IOMMU's IO bridge, untranslated (PCIe AT = 00b) or, when the
// requester says so, translated (AT = 10b, an address from an ATS completion), which the IO
// bridge translates, aborts on a fault, or performs (including MSI writes that the MSI page
// table sends to a memory-resident interrupt file). A burst (one PCIe memory request of up to
// 4 KiB that does not cross a 4 KiB boundary) is one transaction: translated once.
// Misaligned accesses and bursts that cross a 4 KiB boundary are refused as bus errors before
// the IOMMU sees them (the master is broken).
//
// The port is also the IOMMU's side of PCIe ATS and PRI for what sits below it (a host
// bridge): it answers ATS Translation Requests (AtsTranslationAgent), takes Page Requests
// (PageRequestSink) into the IOMMU's page-request handling, and, once `connect`ed, delivers the
// Invalidation Requests (ATS.INVAL) and Page Request Group Responses (ATS.PRGR) the IOMMU
// sends. An Invalidation Request the target completes is answered with an Invalidation
// Completion for its ITAG (one completion: CC = 1); one nobody completes is left to the
// IOMMU's invalidation timeout.

import type { DmaPort, DmaPortStatusValue, DmaRequester } from '../../devices/dma-port.js';
import { burstValid, dmaAddress, DmaPortStatus, dmaAligned } from '../../devices/dma-port.js';
import {
  AtsStatus,
  type AtsCompletion,
  type AtsInvalidationTarget,
  type AtsStatusValue,
  type AtsTranslationAgent,
  type PageRequest,
  type PageRequestSink,
  type PageResponseTarget,
} from '../../devices/pcie/ats.js';
import { MessageCode } from '../../formats/riscv-iommu/records.js';
import type { MmioSize } from '../../sim/mmio.js';
import { DmaStatus, type DmaStatusValue, type IoBridge } from './io-bridge.js';
import { fromPageRequest, invalidationCompletion, toAtsInvalidation, toPageResponse, type PcieMessage } from './pcie-messages.js';
import type { RiscvIommu } from './riscv-iommu.js';
import { RequestKind, ResponseStatus, TranslationRequest, TranslationResponse } from './transaction.js';

/** Where the IOMMU's messages to devices go. */
export interface RiscvIommuDownstream {
  /** Takes Invalidation Requests (a host bridge). */
  invalidations?: AtsInvalidationTarget | null;
  /** Takes Page Request Group Responses (a host bridge). */
  responses?: PageResponseTarget | null;
  /** The PCI segment of messages whose command named none (DSV = 0); default 0. */
  segment?: number;
}

export interface RiscvIommuDmaPortCounters {
  reads: number;
  writes: number;
  /** Reads and writes with a translated address. */
  translated: number;
  aborted: number;
  busErrors: number;
  discarded: number;
  poisoned: number;
  atsTranslations: number;
  pageRequests: number;
  invalidationsCompleted: number;
  invalidationsUnclaimed: number;
  pageResponsesDelivered: number;
  pageResponsesUnclaimed: number;
}

export class RiscvIommuDmaPort implements DmaPort, AtsTranslationAgent, PageRequestSink {
  value = 0n;
  readonly counters: RiscvIommuDmaPortCounters = {
    reads: 0,
    writes: 0,
    translated: 0,
    aborted: 0,
    busErrors: 0,
    discarded: 0,
    poisoned: 0,
    atsTranslations: 0,
    pageRequests: 0,
    invalidationsCompleted: 0,
    invalidationsUnclaimed: 0,
    pageResponsesDelivered: 0,
    pageResponsesUnclaimed: 0,
  };
  private readonly bridge: IoBridge;
  private readonly request = new TranslationRequest();
  private readonly atsRequest = new TranslationRequest();
  private readonly atsResponse = new TranslationResponse();
  private downstream: RiscvIommuDownstream | null = null;

  constructor(private readonly iommu: RiscvIommu) {
    this.bridge = iommu.bridge;
  }

  /** Sends the IOMMU's Invalidation Requests and Page Request Group Responses to `downstream`. */
  connect(downstream: RiscvIommuDownstream): void {
    if (this.downstream === null) this.iommu.onMessage((msg) => this.deliver(msg));
    this.downstream = downstream;
  }

  // ---- ATS and PRI from devices ---------------------------------------------------------------

  /** An ATS Translation Request (RequestKind.AtsTranslation), its response as a Translation Completion. */
  atsTranslate(requester: DmaRequester, address: bigint, noWrite: boolean, into: AtsCompletion): AtsStatusValue {
    this.counters.atsTranslations++;
    const req = this.atsRequest;
    req.deviceId = requester.deviceId;
    req.pidValid = requester.pasidValid;
    req.processId = requester.pasidValid ? requester.pasid : 0;
    req.privileged = requester.pasidValid && requester.privileged;
    req.kind = RequestKind.AtsTranslation;
    req.write = !noWrite;
    req.execute = false;
    req.iova = address;
    const rsp = this.iommu.translate(req, this.atsResponse);
    if (rsp.status === ResponseStatus.UnsupportedRequest) return AtsStatus.UnsupportedRequest;
    if (rsp.status === ResponseStatus.CompleterAbort) return AtsStatus.CompleterAbort;
    // The response names the 4 KiB page of the request within a 2^log2Pages-page range.
    const pages = 2 ** rsp.log2Pages;
    into.address = dmaAddress(Math.floor(rsp.ppn / pages) * pages, 0);
    into.sizeLog2 = 12 + rsp.log2Pages;
    into.read = rsp.r;
    into.write = rsp.w;
    into.exec = rsp.x;
    into.privileged = rsp.priv;
    into.global = rsp.global;
    into.untranslatedOnly = rsp.u;
    return AtsStatus.Success;
  }

  /** A Page Request (or Stop Marker) from a device. */
  pageRequest(request: PageRequest): void {
    this.counters.pageRequests++;
    this.iommu.receiveMessage(fromPageRequest(request));
  }

  /** An IOMMU message on its way down: translated, delivered, and an invalidation completed. */
  private deliver(msg: PcieMessage): void {
    const d = this.downstream;
    if (d === null) return;
    const segment = d.segment ?? 0;
    if (msg.code === MessageCode.InvalidationRequest) {
      if (d.invalidations?.invalidateAtc(toAtsInvalidation(msg, segment)) === true) {
        this.counters.invalidationsCompleted++;
        this.iommu.receiveMessage(invalidationCompletion(msg.rid, 1 << msg.tag, 1, msg.segment ?? undefined));
      } else {
        this.counters.invalidationsUnclaimed++;
      }
    } else if (msg.code === MessageCode.PrgResponse) {
      if (d.responses?.pageResponse(toPageResponse(msg, segment)) === true) this.counters.pageResponsesDelivered++;
      else this.counters.pageResponsesUnclaimed++;
    }
  }

  // ---- DMA ------------------------------------------------------------------------------------

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.counters.reads++;
    if (!dmaAligned(address, size)) return this.busError();
    const s = this.bridge.read(this.fill(requester, address), size);
    if (s === DmaStatus.Ok || s === DmaStatus.Poisoned) this.value = this.bridge.value;
    return this.status(s);
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.counters.writes++;
    if (!dmaAligned(address, size)) return this.busError();
    return this.status(this.bridge.write(this.fill(requester, address), size, data));
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.reads++;
    if (!burstValid(address, length)) return this.busError();
    return this.status(this.bridge.readBurst(this.fill(requester, address), length, into, offset));
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.writes++;
    if (!burstValid(address, length)) return this.busError();
    return this.status(this.bridge.writeBurst(this.fill(requester, address), length, from, offset));
  }

  private fill(requester: DmaRequester, address: bigint): TranslationRequest {
    const req = this.request;
    req.deviceId = requester.deviceId;
    req.pidValid = requester.pasidValid;
    req.processId = requester.pasidValid ? requester.pasid : 0;
    req.privileged = requester.pasidValid && requester.privileged;
    req.kind = requester.translated ? RequestKind.Translated : RequestKind.Untranslated;
    if (requester.translated) this.counters.translated++;
    req.execute = false;
    req.iova = address;
    return req;
  }

  private status(s: DmaStatusValue): DmaPortStatusValue {
    switch (s) {
      case DmaStatus.Ok:
        return DmaPortStatus.Ok;
      case DmaStatus.Aborted:
        this.counters.aborted++;
        return DmaPortStatus.Aborted;
      case DmaStatus.BusError:
        this.counters.busErrors++;
        return DmaPortStatus.BusError;
      case DmaStatus.Poisoned:
        this.counters.poisoned++;
        return DmaPortStatus.Poisoned;
      default:
        // A write to an MRIF page the IOMMU cannot store is accepted and discarded: to the
        // master it is an ordinary posted write.
        this.counters.discarded++;
        return DmaPortStatus.Ok;
    }
  }

  private busError(): DmaPortStatusValue {
    this.counters.busErrors++;
    return DmaPortStatus.BusError;
  }
}
