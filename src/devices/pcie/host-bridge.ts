// A PCI Express host bridge with ECAM configuration access (PCIe Base 7.2.2, the
// "pci-host-ecam-generic" binding): the configuration space of bus b, device d, function f
// is the 4 KiB at offset ((b - busStart) << 20 | d << 15 | f << 12) of the ECAM window.
// Only the root bus is modelled: every function sits on `busStart` or on a bus number given
// explicitly, with no PCI-PCI bridges in between.
//
// Configuration reads of absent functions complete with all ones (Vendor ID 0xffff), writes
// to them are dropped. Accesses must be naturally aligned; an 8-byte access is split into
// two dword accesses. Inbound DMA from the functions goes to `upstream` with the device id
// `deviceIdFor(rid)` (the platform derives it from the device tree's iommu-map). Writes are
// posted: an error on a write is counted here and not returned to the function (the PCIe
// completer signals it with an error message, not a completion), unless `postedWriteErrors`
// is 'report'. A burst (readBurst/writeBurst: one memory request TLP) follows the same rules
// and counts as one DMA read or write.
//
// ATS and PRI (PCIe Base chapter 10) pass through the root complex too. Translation Requests
// go to `upstream` under the same device id as DMA when it is an AtsTranslationAgent (an
// IOMMU); a root complex without a translation agent answers them with Unsupported Request.
// Translated requests (AT = Translated) go upstream marked as such. Page Requests go to
// `pageRequestSink`. Messages carry the device id the upstream sees for the function,
// split into segment (bits 23:16) and routing id (bits 15:0); the other way, Invalidation
// Requests and Page Request Group Responses are routed to the function whose device id they
// name (with the default mapping: the function at that requester id in this segment).

import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import { join64 } from '../../sim/u64.js';
import { DmaPortStatus, DmaRequester, type DmaPort, type DmaPortStatusValue } from '../dma-port.js';
import { AtsStatus, type AtsCompletion, type AtsInvalidation, type AtsInvalidationTarget, type AtsStatusValue, type AtsTranslationAgent, type PageRequest, type PageRequestSink, type PageResponse, type PageResponseTarget } from './ats.js';
import { isAtsTranslationAgent } from './ats-port.js';
import type { PciFunction } from './pci-function.js';

export interface PcieHostBridgeOptions {
  name?: string;
  /** PCI segment (domain) number; bits 23:16 of the default device id. */
  segment?: number;
  /** Bus range decoded by the ECAM window (bus-range); default 0..255. */
  busStart?: number;
  busEnd?: number;
  /** Where the functions' DMA goes (an IOMMU's port, or the system bus); may be set later. */
  upstream?: DmaPort | null;
  /**
   * The device id the upstream sees for requester id `rid`; -1 aborts the request as an
   * Unsupported Request. Default: segment << 16 | rid.
   */
  deviceIdFor?: (rid: number) => number;
  /** 'silent' (PCIe posted-write semantics, the default) or 'report' errors of writes to the function. */
  postedWriteErrors?: 'silent' | 'report';
}

export interface PcieHostBridgeCounters {
  configReads: number;
  configWrites: number;
  /** Configuration accesses to functions that are not there, or misaligned. */
  configUnsupported: number;
  dmaReads: number;
  dmaWrites: number;
  /** Writes the upstream did not complete (posted: the function did not learn). */
  postedWriteErrors: number;
  /** Requests of requester ids that map to no device id. */
  unmappedRequesters: number;
  /** Requests with a translated address (AT = Translated). */
  translatedRequests: number;
  atsTranslationRequests: number;
  /** Translation Requests answered Unsupported Request because no translation agent is upstream. */
  atsUnsupported: number;
  /** Invalidation Requests received, and those no function completed. */
  atsInvalidations: number;
  atsInvalidationsUnclaimed: number;
  /** Page Requests from functions, and those dropped (no sink, unmapped requester). */
  pageRequests: number;
  pageRequestsDropped: number;
  /** Page Request Group Responses received, and those no function took. */
  pageResponses: number;
  pageResponsesUnclaimed: number;
}

export class PcieHostBridge implements MmioDevice, AtsInvalidationTarget, PageResponseTarget, PageRequestSink {
  readonly name: string;
  readonly segment: number;
  readonly busStart: number;
  readonly busEnd: number;
  /** The root complex's inbound port, which every function's DMA and Translation Requests go through. */
  readonly inbound: DmaPort & AtsTranslationAgent;
  /** Where Page Requests from the functions go (an IOMMU's page-request port); dropped while null. */
  pageRequestSink: PageRequestSink | null = null;
  readonly counters: PcieHostBridgeCounters = {
    configReads: 0,
    configWrites: 0,
    configUnsupported: 0,
    dmaReads: 0,
    dmaWrites: 0,
    postedWriteErrors: 0,
    unmappedRequesters: 0,
    translatedRequests: 0,
    atsTranslationRequests: 0,
    atsUnsupported: 0,
    atsInvalidations: 0,
    atsInvalidationsUnclaimed: 0,
    pageRequests: 0,
    pageRequestsDropped: 0,
    pageResponses: 0,
    pageResponsesUnclaimed: 0,
  };
  private up: DmaPort | null = null;
  private agent: AtsTranslationAgent | null = null;
  readonly deviceIdFor: (rid: number) => number;
  readonly reportPostedWriteErrors: boolean;
  private readonly byRid = new Map<number, PciFunction>();

  constructor(options: PcieHostBridgeOptions = {}) {
    this.name = options.name ?? 'pcie';
    this.segment = options.segment ?? 0;
    this.busStart = options.busStart ?? 0;
    this.busEnd = options.busEnd ?? 255;
    if (this.busStart < 0 || this.busEnd > 255 || this.busEnd < this.busStart) throw new RangeError(`${this.name}: bad bus range ${this.busStart}..${this.busEnd}`);
    this.upstream = options.upstream ?? null;
    const segment = this.segment;
    this.deviceIdFor = options.deviceIdFor ?? ((rid) => ((segment << 16) | rid) >>> 0);
    this.reportPostedWriteErrors = options.postedWriteErrors === 'report';
    this.inbound = new RootComplexPort(this);
  }

  /** Where the functions' DMA goes (an IOMMU's port, or the system bus); null refuses it. */
  get upstream(): DmaPort | null {
    return this.up;
  }

  set upstream(port: DmaPort | null) {
    this.up = port;
    this.agent = port !== null && isAtsTranslationAgent(port) ? port : null;
  }

  /** The upstream as a translation agent, when it is one. */
  get translationAgent(): AtsTranslationAgent | null {
    return this.agent;
  }

  /** Size of the ECAM window for the bus range. */
  get ecamSize(): bigint {
    return BigInt(this.busEnd - this.busStart + 1) << 20n;
  }

  /** Places `fn` at bus `bus`, device `device`, function `func`. */
  attach(fn: PciFunction, device: number, func = 0, bus = this.busStart): PciFunction {
    if (device < 0 || device > 31 || func < 0 || func > 7) throw new RangeError(`${this.name}: no device ${device} function ${func}`);
    if (bus < this.busStart || bus > this.busEnd) throw new RangeError(`${this.name}: bus ${bus} is outside ${this.busStart}..${this.busEnd}`);
    const devfn = (device << 3) | func;
    const rid = (bus << 8) | devfn;
    const existing = this.byRid.get(rid);
    if (existing !== undefined) throw new RangeError(`${this.name}: ${fn.name} and ${existing.name} both at ${rid.toString(16)}`);
    this.byRid.set(rid, fn);
    fn.attach(this, this.segment, bus, devfn);
    // Header Type bit 7: set on every function of a device that has more than one.
    const siblings = [...this.byRid.values()].filter((f) => f.bus === bus && f.devfn >> 3 === device);
    for (const f of siblings) f.setMultiFunction(siblings.length > 1);
    return fn;
  }

  /** The function with requester id `rid` (bus << 8 | devfn). */
  functionAt(rid: number): PciFunction | undefined {
    return this.byRid.get(rid);
  }

  /** Every function, in requester-id order. */
  get functions(): PciFunction[] {
    return [...this.byRid.values()].sort((a, b) => a.rid - b.rid);
  }

  /**
   * The function that device id (segment << 16 | rid) names: the one whose requests the
   * upstream sees under that id.
   */
  functionForDeviceId(segment: number, rid: number): PciFunction | undefined {
    const id = ((segment << 16) | rid) >>> 0;
    for (const fn of this.byRid.values()) {
      const mapped = this.deviceIdFor(fn.rid);
      if (mapped >= 0 && mapped >>> 0 === id) return fn;
    }
    return undefined;
  }

  // ---- ATS and PRI messages ------------------------------------------------------------------

  /** Routes an Invalidation Request to its function; true once the function completed it. */
  invalidateAtc(request: AtsInvalidation): boolean {
    this.counters.atsInvalidations++;
    const fn = this.functionForDeviceId(request.segment, request.rid);
    if (fn !== undefined && fn.invalidateAtc(request)) return true;
    this.counters.atsInvalidationsUnclaimed++;
    return false;
  }

  /** Routes a Page Request Group Response to its function. */
  pageResponse(response: PageResponse): boolean {
    this.counters.pageResponses++;
    const fn = this.functionForDeviceId(response.segment, response.rid);
    if (fn !== undefined && fn.pageResponse(response)) return true;
    this.counters.pageResponsesUnclaimed++;
    return false;
  }

  /** A Page Request from the function at requester id `request.rid`, on its way to `pageRequestSink`. */
  pageRequest(request: PageRequest): void {
    this.counters.pageRequests++;
    const id = this.deviceIdFor(request.rid);
    const sink = this.pageRequestSink;
    if (id < 0) this.counters.unmappedRequesters++;
    if (id < 0 || sink === null) {
      this.counters.pageRequestsDropped++;
      return;
    }
    sink.pageRequest({ ...request, rid: id & 0xffff, segment: (id >>> 16) & 0xff });
  }

  // ---- ECAM ---------------------------------------------------------------------------------

  /** A configuration read at ECAM offset `offset`. */
  configRead(offset: number, size: 1 | 2 | 4): number {
    this.counters.configReads++;
    const fn = this.decode(offset, size);
    if (fn === undefined) return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
    return fn.configRead(offset & 0xfff, size);
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    this.counters.configWrites++;
    this.decode(offset, size)?.configWrite(offset & 0xfff, size, value);
  }

  mmioRead(offset: number, size: MmioSize): bigint {
    if (size === 8) return join64(this.configRead(offset + 4, 4), this.configRead(offset, 4));
    return BigInt(this.configRead(offset, size));
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (size === 8) {
      this.configWrite(offset, 4, Number(value & 0xffff_ffffn));
      this.configWrite(offset + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
      return;
    }
    this.configWrite(offset, size, Number(value & 0xffff_ffffn));
  }

  mmioRead32(offset: number): number {
    return this.configRead(offset, 4);
  }

  mmioWrite32(offset: number, value: number): void {
    this.configWrite(offset, 4, value);
  }

  private decode(offset: number, size: number): PciFunction | undefined {
    const bus = this.busStart + Math.floor(offset / 0x10_0000);
    if ((offset & (size - 1)) !== 0 || bus > this.busEnd) {
      this.counters.configUnsupported++;
      return undefined;
    }
    const fn = this.byRid.get((bus << 8) | ((offset >>> 12) & 0xff));
    if (fn === undefined) this.counters.configUnsupported++;
    return fn;
  }
}

/** Requests from functions, on their way upstream. */
class RootComplexPort implements DmaPort, AtsTranslationAgent {
  value = 0n;
  private readonly requester = new DmaRequester();

  constructor(private readonly bridge: PcieHostBridge) {}

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.bridge.counters.dmaReads++;
    const up = this.bridge.upstream;
    const r = this.map(requester);
    if (up === null) return DmaPortStatus.BusError;
    if (r === null) return DmaPortStatus.Aborted;
    const s = up.read(r, address, size);
    // A poisoned completion still delivers its data (DmaPort: the data is there but flagged).
    if (s === DmaPortStatus.Ok || s === DmaPortStatus.Poisoned) this.value = up.value;
    return s;
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.bridge.counters.dmaWrites++;
    const up = this.bridge.upstream;
    const r = this.map(requester);
    return this.posted(up === null ? DmaPortStatus.BusError : r === null ? DmaPortStatus.Aborted : up.write(r, address, size, data));
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.bridge.counters.dmaReads++;
    const up = this.bridge.upstream;
    const r = this.map(requester);
    if (up === null) return DmaPortStatus.BusError;
    if (r === null) return DmaPortStatus.Aborted;
    return up.readBurst(r, address, length, into, offset);
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.bridge.counters.dmaWrites++;
    const up = this.bridge.upstream;
    const r = this.map(requester);
    return this.posted(up === null ? DmaPortStatus.BusError : r === null ? DmaPortStatus.Aborted : up.writeBurst(r, address, length, from, offset));
  }

  atsTranslate(requester: DmaRequester, address: bigint, noWrite: boolean, into: AtsCompletion): AtsStatusValue {
    this.bridge.counters.atsTranslationRequests++;
    const agent = this.bridge.translationAgent;
    const r = this.map(requester);
    if (agent === null) {
      this.bridge.counters.atsUnsupported++;
      return AtsStatus.UnsupportedRequest;
    }
    if (r === null) return AtsStatus.UnsupportedRequest;
    return agent.atsTranslate(r, address, noWrite, into);
  }

  /** A write is posted: its error is counted, and reaches the function only when configured to. */
  private posted(s: DmaPortStatusValue): DmaPortStatusValue {
    if (s === DmaPortStatus.Ok) return s;
    this.bridge.counters.postedWriteErrors++;
    return this.bridge.reportPostedWriteErrors ? s : DmaPortStatus.Ok;
  }

  private map(from: DmaRequester): DmaRequester | null {
    const id = this.bridge.deviceIdFor(from.deviceId);
    if (id < 0) {
      this.bridge.counters.unmappedRequesters++;
      return null;
    }
    const r = this.requester;
    r.deviceId = id;
    r.pasidValid = from.pasidValid;
    r.pasid = from.pasid;
    r.privileged = from.privileged;
    r.translated = from.translated;
    if (from.translated) this.bridge.counters.translatedRequests++;
    return r;
  }
}

/** The configuration-space offset of a register in ECAM. */
export function ecamOffset(bus: number, device: number, func: number, register = 0, busStart = 0): number {
  return (bus - busStart) * 0x10_0000 + ((device << 15) | (func << 12) | register);
}

