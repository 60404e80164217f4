// The DMA path of a PCIe function with ATS (PCIe Base Specification, chapter 10): a DmaPort
// that, while ATS Control.Enable is set, serves each request from the function's Address
// Translation Cache and sends it upstream with a translated address (AT = Translated), asking
// the translation agent above (an AtsTranslationAgent: the root complex, the IOMMU) for the
// translations it lacks. With Enable clear, or with an upstream that is no translation agent,
// every request goes up untranslated (10.1.1: a function not enabled issues no Translation
// Requests and only untranslated requests).
//
// The response to each completion, with the section that leads to it:
//  - Success with the needed permission (R for reads, W for writes): cached, and the request
//    sent translated (10.2.3). Translated requests carry no PASID (the PASID TLP prefix is
//    for untranslated requests, translation requests and ATS messages, 10.1.3).
//  - Success with R = W = 0 ("no access"): not cached; the request goes untranslated, so that
//    the translation agent faults it and records why (a PRI-capable function would send a
//    Page Request instead, 10.4).
//  - Success with U = 1: cached (later requests to the range skip the Translation Request)
//    and the request goes untranslated, as U demands (10.2.3).
//  - Success without the permission needed: cached; the request goes untranslated (the agent
//    faults it). A cached translation that lacks the permission a later request needs is
//    asked for again, with NW clear for a write (10.1.2: a function that needs to write a page
//    it translated with NW set must issue a new Translation Request).
//  - A range smaller than the Smallest Translation Unit: the agent broke the contract STU
//    sets (10.5.1.3); the function does not cache it and sends the request untranslated.
//  - Unsupported Request: the request is aborted (DmaPortStatus.Aborted: the function's
//    Status gets Received Master Abort). Completer Abort: the request fails as a target abort
//    (DmaPortStatus.BusError: Received Target Abort). Neither is cached (10.2.3).
//  - A malformed completion (a range size the encoding cannot express, an address outside
//    the 64-bit space): dropped as a malformed TLP, so the request ends as at a Completion
//    Timeout: aborted.
// A failed translation is known to the function even for a posted write (its completion is a
// completion): `failedAtTranslation` says so after each request.

import type { MmioSize } from '../../sim/mmio.js';
import { burstValid, dmaAddress, dmaAligned, dmaPage, DmaPortStatus, DmaRequester, UnconnectedDmaPort, type DmaPort, type DmaPortStatusValue } from '../dma-port.js';
import { AddressTranslationCache, AtcFlag, NO_PASID } from './atc.js';
import { AtsCompletion, AtsStatus, type AtsInvalidation, type AtsTranslationAgent } from './ats.js';

/** Whether `port` answers ATS Translation Requests. */
export function isAtsTranslationAgent(port: object): port is AtsTranslationAgent {
  return typeof (port as Partial<AtsTranslationAgent>).atsTranslate === 'function';
}

export interface AtsPortCounters {
  /** Translation Requests sent upstream. */
  translationRequests: number;
  /** Requests sent with a translated address. */
  translatedRequests: number;
  /** Requests sent with an untranslated address (ATS disabled or not usable, or by a rule above). */
  untranslatedRequests: number;
  /** Completions granting no access. */
  noAccess: number;
  /** Completions (or cached translations) with U set. */
  untranslatedOnly: number;
  /** Completions that did not grant the permission the request needed. */
  permissionDenied: number;
  /** Cached translations asked for again because they lacked a permission. */
  permissionUpgrades: number;
  /** Completions covering less than the Smallest Translation Unit. */
  stuViolations: number;
  unsupportedRequests: number;
  completerAborts: number;
  malformedCompletions: number;
  /** Invalidation Requests completed, and those dropped (ATS disabled, malformed). */
  invalidations: number;
  invalidationsDropped: number;
}

const UNTRANSLATED = 0;
const TRANSLATED = 1;
const FAILED = 2;

const TWO_64 = 1n << 64n;

export interface AtsDmaPortOptions {
  /** The function's cache (default: 16 sets x 4 ways). */
  atc?: AddressTranslationCache;
  /**
   * Global Invalidate Supported (ATS Capability): the function honours the Global Invalidate
   * bit of Invalidation Requests, and caches completions marked Global as Global.
   */
  globalInvalidate?: boolean;
}

export class AtsDmaPort implements DmaPort {
  value = 0n;
  readonly atc: AddressTranslationCache;
  readonly globalInvalidate: boolean;
  readonly counters: AtsPortCounters = {
    translationRequests: 0,
    translatedRequests: 0,
    untranslatedRequests: 0,
    noAccess: 0,
    untranslatedOnly: 0,
    permissionDenied: 0,
    permissionUpgrades: 0,
    stuViolations: 0,
    unsupportedRequests: 0,
    completerAborts: 0,
    malformedCompletions: 0,
    invalidations: 0,
    invalidationsDropped: 0,
  };
  /** Whether the last request failed at its Translation Request (its status came from there). */
  failedAtTranslation = false;

  private enable = false;
  private stuLog2 = 0;
  private up: DmaPort = new UnconnectedDmaPort();
  private agent: AtsTranslationAgent | null = null;
  private readonly completion = new AtsCompletion();
  /** The requester identity of Translation Requests. */
  private readonly asking = new DmaRequester();
  /** The requester identity of translated requests: AT = Translated, no PASID. */
  private readonly translated = new DmaRequester(0, false, 0, false, true);
  /** Translated page of the request being routed, and its failure status. */
  private targetPage = 0;
  private failure: DmaPortStatusValue = DmaPortStatus.Ok;

  constructor(options: AtsDmaPortOptions = {}) {
    this.atc = options.atc ?? new AddressTranslationCache();
    this.globalInvalidate = options.globalInvalidate ?? false;
  }

  /** Where requests go; translations are asked of it when it is an AtsTranslationAgent. */
  get upstream(): DmaPort {
    return this.up;
  }

  set upstream(port: DmaPort) {
    this.up = port;
    this.agent = isAtsTranslationAgent(port) ? port : null;
  }

  /** ATS Control.Enable. Any change empties the cache: no invalidation reaches a disabled function. */
  get enabled(): boolean {
    return this.enable;
  }

  set enabled(on: boolean) {
    if (on !== this.enable) this.atc.flush();
    this.enable = on;
  }

  /** ATS Control.Smallest Translation Unit: translations cover at least 2^stu pages. Changing it empties the cache. */
  get stu(): number {
    return this.stuLog2;
  }

  set stu(value: number) {
    if (value !== this.stuLog2) this.atc.flush();
    this.stuLog2 = value;
  }

  // ---- requests ----------------------------------------------------------------------------

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.failedAtTranslation = false;
    if (!dmaAligned(address, size)) return DmaPortStatus.BusError;
    const up = this.up;
    const route = this.route(requester, address, false);
    if (route === FAILED) return this.failure;
    const s = route === TRANSLATED ? up.read(this.translated, this.targetAddress(address), size) : up.read(requester, address, size);
    if (s === DmaPortStatus.Ok || s === DmaPortStatus.Poisoned) this.value = up.value;
    return s;
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.failedAtTranslation = false;
    if (!dmaAligned(address, size)) return DmaPortStatus.BusError;
    const route = this.route(requester, address, true);
    if (route === FAILED) return this.failure;
    return route === TRANSLATED ? this.up.write(this.translated, this.targetAddress(address), size, data) : this.up.write(requester, address, size, data);
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.failedAtTranslation = false;
    if (!burstValid(address, length)) return DmaPortStatus.BusError;
    const route = this.route(requester, address, false);
    if (route === FAILED) return this.failure;
    return route === TRANSLATED ? this.up.readBurst(this.translated, this.targetAddress(address), length, into, offset) : this.up.readBurst(requester, address, length, into, offset);
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.failedAtTranslation = false;
    if (!burstValid(address, length)) return DmaPortStatus.BusError;
    const route = this.route(requester, address, true);
    if (route === FAILED) return this.failure;
    return route === TRANSLATED ? this.up.writeBurst(this.translated, this.targetAddress(address), length, from, offset) : this.up.writeBurst(requester, address, length, from, offset);
  }

  // ---- invalidation ------------------------------------------------------------------------

  /**
   * An Invalidation Request for this function (10.3.1). Returns true once its entries are gone
   * and the Invalidation Completion may be sent: requests before it have all been issued,
   * since this model completes each request before the next. Returns false, with no
   * completion, when ATS is disabled or the request is malformed (a size outside 12..64, an
   * ITag outside 0..31, a PASID outside 20 bits): such a message is dropped.
   */
  invalidate(request: AtsInvalidation): boolean {
    const { pasid, address, sizeLog2, itag } = request;
    const wellFormed =
      Number.isInteger(sizeLog2) &&
      sizeLog2 >= 12 &&
      sizeLog2 <= 64 &&
      Number.isInteger(itag) &&
      itag >= 0 &&
      itag <= 31 &&
      address >= 0n &&
      address < TWO_64 &&
      (pasid === null || (Number.isInteger(pasid) && pasid >= 0 && pasid < 1 << 20));
    if (!this.enable || !wellFormed) {
      this.counters.invalidationsDropped++;
      return false;
    }
    // Without Global Invalidate Supported the bit is ignored; it means nothing without a PASID.
    this.atc.invalidate(pasid, pasid !== null && request.global && this.globalInvalidate, address, sizeLog2);
    this.counters.invalidations++;
    return true;
  }

  // ---- the ATS protocol --------------------------------------------------------------------

  /** Decides how a request goes upstream: untranslated, translated (to targetPage), or failed. */
  private route(requester: DmaRequester, address: bigint, write: boolean): number {
    const c = this.counters;
    if (!this.enable || this.agent === null) {
      c.untranslatedRequests++;
      return UNTRANSLATED;
    }
    const page = dmaPage(address);
    const pasid = requester.pasidValid ? requester.pasid : NO_PASID;
    const privileged = requester.pasidValid && requester.privileged;
    const atc = this.atc;
    if (atc.lookup(pasid, privileged, page)) {
      const flags = atc.hitFlags;
      if ((flags & AtcFlag.UntranslatedOnly) !== 0) {
        c.untranslatedOnly++;
        c.untranslatedRequests++;
        return UNTRANSLATED;
      }
      if ((flags & (write ? AtcFlag.Write : AtcFlag.Read)) !== 0) {
        this.targetPage = atc.hitPage;
        return this.sendTranslated(requester);
      }
      c.permissionUpgrades++;
      atc.discardHit();
    }
    return this.translate(requester, address, page, pasid, privileged, write);
  }

  /** A Translation Request (NW set for reads) and what its completion leads to. */
  private translate(requester: DmaRequester, address: bigint, page: number, pasid: number, privileged: boolean, write: boolean): number {
    const c = this.counters;
    c.translationRequests++;
    const ask = this.asking;
    ask.deviceId = requester.deviceId;
    ask.pasidValid = requester.pasidValid;
    ask.pasid = requester.pasid;
    ask.privileged = privileged;
    ask.translated = false;
    const done = this.completion;
    const status = (this.agent as AtsTranslationAgent).atsTranslate(ask, address, !write, done);
    if (status === AtsStatus.UnsupportedRequest) {
      c.unsupportedRequests++;
      return this.fail(DmaPortStatus.Aborted);
    }
    if (status === AtsStatus.CompleterAbort) {
      c.completerAborts++;
      return this.fail(DmaPortStatus.BusError);
    }
    const sizeLog2 = done.sizeLog2;
    if (status !== AtsStatus.Success || !Number.isInteger(sizeLog2) || sizeLog2 < 12 || sizeLog2 > 64 || done.address < 0n || done.address >= TWO_64) {
      c.malformedCompletions++;
      return this.fail(DmaPortStatus.Aborted);
    }
    if (!done.read && !done.write) {
      c.noAccess++;
      c.untranslatedRequests++;
      return UNTRANSLATED;
    }
    const log2Pages = sizeLog2 - 12;
    if (log2Pages < this.stuLog2) {
      c.stuViolations++;
      c.untranslatedRequests++;
      return UNTRANSLATED;
    }
    const flags =
      (done.read ? AtcFlag.Read : 0) |
      (done.write ? AtcFlag.Write : 0) |
      (done.exec ? AtcFlag.Exec : 0) |
      (done.untranslatedOnly ? AtcFlag.UntranslatedOnly : 0) |
      (done.global && this.globalInvalidate ? AtcFlag.Global : 0);
    // The translated range starts at the completion's address: bits below its size are not part of it.
    const rangePages = 2 ** log2Pages;
    const targetBase = Math.floor(dmaPage(done.address) / rangePages) * rangePages;
    this.atc.insert(pasid, privileged, page, log2Pages, targetBase, flags);
    if (done.untranslatedOnly) {
      c.untranslatedOnly++;
      c.untranslatedRequests++;
      return UNTRANSLATED;
    }
    if (!(write ? done.write : done.read)) {
      c.permissionDenied++;
      c.untranslatedRequests++;
      return UNTRANSLATED;
    }
    this.targetPage = targetBase + (page - Math.floor(page / rangePages) * rangePages);
    return this.sendTranslated(requester);
  }

  private sendTranslated(requester: DmaRequester): number {
    this.translated.deviceId = requester.deviceId;
    this.counters.translatedRequests++;
    return TRANSLATED;
  }

  private fail(status: DmaPortStatusValue): number {
    this.failure = status;
    this.failedAtTranslation = true;
    return FAILED;
  }

  private targetAddress(address: bigint): bigint {
    return dmaAddress(this.targetPage, Number(address & 0xfffn));
  }
}
