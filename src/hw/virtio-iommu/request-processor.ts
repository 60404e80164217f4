// The request queue's work (VIRTIO 1.2/1.3 section 5.13.6): one descriptor chain in, a status
// in its tail, the used length out. Requests are parsed from a scratch copy of the
// device-readable part; 64-bit fields are read as two 32-bit halves and carried as
// (page, offset) pairs.
//
// A request is answered without writing anything (used length 0) when the device cannot
// find its tail or type: a writable part shorter than a tail, a readable part shorter than a
// head, or a head it cannot read (5.13.6: "returns the buffers without writing to them"); so
// is one whose tail cannot be written. An unknown type, or a type whose feature was not
// negotiated, is answered as `unsupportedRequests` says. Otherwise the tail is the first 4
// writable bytes, except for PROBE: after probe_size bytes of properties, or at the end of a
// writable part too short for them (then INVAL). A readable part too short for its type is
// INVAL, one the device cannot read IOERR ("virtio communication error"). The checks of each
// request run in a fixed order, documented on each handler; the first that fails gives the
// status.

import { VirtioIommuFeature } from '../../formats/virtio-iommu/features.js';
import { encodeProperties, type ResvMemProperty } from '../../formats/virtio-iommu/probe.js';
import { AttachFlag, MapFlag, REQUEST_TAIL_SIZE, RequestLayout, VirtioIommuRequestType, VirtioIommuStatus, requestLength } from '../../formats/virtio-iommu/requests.js';
import { dmaAddress } from '../../devices/dma-port.js';
import type { DescriptorChain } from '../virtio/virtqueue.js';
import { compareAddress, pageOfHalves, PAGE_MASK, PAGE_SIZE } from './address.js';
import type { VirtioIommuBackend, VirtioIommuBackendResult } from './backend.js';
import { Domain, type DeviceState, type Endpoint } from './state.js';

const S = VirtioIommuStatus;
const T = VirtioIommuRequestType;
const LONGEST_REQUEST = RequestLayout.probe.length;

export interface RequestCounters {
  /** Requests by type: index 0 counts unknown types, 1..5 ATTACH..PROBE. */
  byType: number[];
  /** Requests answered with each status (index = status code). */
  byStatus: number[];
  /** Requests returned without a status (used length 0). */
  unanswered: number;
  mappingsCreated: number;
  mappingsRemoved: number;
  domainsCreated: number;
  domainsDestroyed: number;
}

export class RequestProcessor {
  readonly counters: RequestCounters = {
    byType: [0, 0, 0, 0, 0, 0],
    byStatus: [0, 0, 0, 0, 0, 0, 0, 0, 0],
    unanswered: 0,
    mappingsCreated: 0,
    mappingsRemoved: 0,
    domainsCreated: 0,
    domainsDestroyed: 0,
  };
  private readonly request = new Uint8Array(LONGEST_REQUEST);
  private readonly view = new DataView(this.request.buffer);
  private readonly tail = new Uint8Array(REQUEST_TAIL_SIZE);
  private readonly properties: Uint8Array;
  /** The granule in 4 KiB pages. */
  private readonly granulePages: number;
  /** Input range bounds as (page, offset) pairs; the whole space without INPUT_RANGE. */
  private readonly inputFirstPage: number;
  private readonly inputFirstOffset: number;
  private readonly inputLastPage: number;
  private readonly inputLastOffset: number;
  private readonly lastPhysPage: number;
  private readonly probeProperties = new Map<number, ResvMemProperty[]>();

  constructor(
    private readonly state: DeviceState,
    private readonly backend: VirtioIommuBackend | null,
  ) {
    const p = state.params;
    this.properties = new Uint8Array(p.probeSize);
    const granule = p.pageSizeMask & -p.pageSizeMask;
    this.granulePages = Number(granule >> 12n);
    const input = p.features.inputRange ? p.inputRange : { start: 0n, end: (1n << 64n) - 1n };
    this.inputFirstPage = Number(input.start >> 12n);
    this.inputFirstOffset = Number(input.start & 0xfffn);
    this.inputLastPage = Number(input.end >> 12n);
    this.inputLastOffset = Number(input.end & 0xfffn);
    this.lastPhysPage = 2 ** (p.physicalAddressBits - 12) - 1;
    for (const e of p.endpoints) {
      this.probeProperties.set(
        e.id,
        e.reservedRegions.map((r) => ({ type: 1, subtype: r.subtype, start: r.start, end: r.end })),
      );
    }
  }

  /** Handles one request chain; returns the number of bytes written into its writable part. */
  process(chain: DescriptorChain): number {
    const readable = chain.readableLength;
    const writable = chain.writableLength;
    const buf = this.request;
    if (writable < REQUEST_TAIL_SIZE || readable < RequestLayout.head.length || !chain.read(0, RequestLayout.head.length, buf, 0)) {
      return this.unanswered();
    }
    const type = buf[RequestLayout.head.type];
    const length = requestLength(type);
    this.counters.byType[length === undefined ? 0 : type]++;
    if (length === undefined || !this.available(type)) {
      return this.state.params.unsupportedRequests === 'unused' ? this.unanswered() : this.answer(chain, 0, S.Unsupp);
    }
    // PROBE: properties[probe_size] then the tail; a shorter buffer has its tail at its end.
    const probeSize = this.state.params.probeSize;
    const tailAt = type !== T.Probe ? 0 : Math.min(probeSize, writable - REQUEST_TAIL_SIZE);
    let status: number;
    if (readable < length) status = S.Inval;
    else if (!chain.read(0, length, buf, 0)) status = S.IoErr;
    else if (type === T.Probe && tailAt < probeSize) status = S.Inval;
    else status = this.execute(type);
    if (type === T.Probe) {
      // The properties on success; zeroes (an empty list) otherwise, so that all tailAt bytes are written.
      if (status !== S.Ok) this.properties.fill(0);
      if (tailAt > 0 && !chain.write(0, this.properties, 0, tailAt)) return this.unanswered();
    }
    return this.answer(chain, tailAt, status);
  }

  /** Detaches every endpoint (device reset); domains and their mappings cease to exist. */
  detachAll(): void {
    for (const ep of this.state.endpoints.values()) if (ep.domain !== null) this.detachEndpoint(ep);
  }

  /** Whether a request of a known `type` is available with the negotiated features. */
  private available(type: number): boolean {
    if (type === T.Map || type === T.Unmap) return this.state.negotiatedFeature(VirtioIommuFeature.MapUnmap);
    if (type === T.Probe) return this.state.negotiatedFeature(VirtioIommuFeature.Probe);
    return true;
  }

  private execute(type: number): number {
    switch (type) {
      case T.Attach:
        return this.attach();
      case T.Detach:
        return this.detach();
      case T.Map:
        return this.map();
      case T.Unmap:
        return this.unmap();
      default:
        return this.probe();
    }
  }

  private answer(chain: DescriptorChain, tailAt: number, status: number): number {
    this.tail[0] = status;
    if (!chain.write(tailAt, this.tail, 0, REQUEST_TAIL_SIZE)) return this.unanswered();
    this.counters.byStatus[status]++;
    return tailAt + REQUEST_TAIL_SIZE;
  }

  private unanswered(): number {
    this.counters.unanswered++;
    return 0;
  }

  private u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** Whether `domain` is a valid id (5.13.6: any value when DOMAIN_RANGE is not offered). */
  private domainInRange(domain: number): boolean {
    const p = this.state.params;
    return !p.features.domainRange || (domain >= p.domainRange.start && domain <= p.domainRange.end);
  }

  /**
   * ATTACH (5.13.6.3). Order: reserved non-zero INVAL; unknown flags INVAL (BYPASS is known
   * only with BYPASS_CONFIG negotiated); domain out of range RANGE; unknown endpoint NOENT;
   * BYPASS flag differing from the existing domain's INVAL; already attached to this domain
   * OK; a shared domain when `sharedDomains` is off, or a domain with mappings over the
   * endpoint's reserved regions (incompatible properties) UNSUPP. Then the endpoint leaves its
   * old domain as a DETACH would, and joins (or creates) this one.
   */
  private attach(): number {
    const l = RequestLayout.attach;
    const domainId = this.u32(l.domain);
    const endpointId = this.u32(l.endpoint);
    const flags = this.u32(l.flags);
    if (this.u32(l.reserved) !== 0) return S.Inval;
    const known = this.state.negotiatedFeature(VirtioIommuFeature.BypassConfig) ? AttachFlag.Bypass : 0;
    if ((flags & ~known) !== 0) return S.Inval;
    if (!this.domainInRange(domainId)) return S.Range;
    const ep = this.state.endpoints.get(endpointId);
    if (ep === undefined) return S.NoEnt;
    const bypass = (flags & AttachFlag.Bypass) !== 0;
    const existing = this.state.domains.get(domainId);
    if (existing !== undefined) {
      if (existing.bypass !== bypass) return S.Inval;
      if (ep.domain === existing) return S.Ok;
      if (!this.state.params.sharedDomains) return S.Unsupp;
      for (let i = 0; i < ep.reservedFirstPages.length; i++) {
        if (existing.mappings.overlaps(ep.reservedFirstPages[i], ep.reservedLastPages[i])) return S.Unsupp;
      }
    }
    let status: number = S.Ok;
    if (ep.domain !== null) status = this.detachEndpoint(ep);
    if (this.backend !== null) {
      const r = this.backend.attach(endpointId, domainId, bypass);
      if (r !== 'ok') return status !== S.Ok ? status : backendStatus(r);
    }
    let domain = existing;
    if (domain === undefined) {
      domain = new Domain(domainId, bypass);
      this.state.domains.set(domainId, domain);
      this.counters.domainsCreated++;
    }
    domain.endpoints.push(ep);
    ep.domain = domain;
    return status;
  }

  /**
   * DETACH (5.13.6.4). Reserved is ignored. Order: domain out of range RANGE; unknown endpoint
   * NOENT; domain missing or endpoint not attached to it: `detachMismatch` (INVAL or OK).
   */
  private detach(): number {
    const l = RequestLayout.detach;
    const domainId = this.u32(l.domain);
    if (!this.domainInRange(domainId)) return S.Range;
    const ep = this.state.endpoints.get(this.u32(l.endpoint));
    if (ep === undefined) return S.NoEnt;
    if (ep.domain === null || ep.domain.id !== domainId) return this.state.params.detachMismatch === 'inval' ? S.Inval : S.Ok;
    return this.detachEndpoint(ep);
  }

  /**
   * Takes `ep` out of its domain. The last endpoint out ends the domain (5.13.6.4): its
   * mappings are unmapped in the backend, then the endpoint detached there. The device's own
   * state always completes (after DETACH the endpoint MUST NOT reach the domain's mappings);
   * a backend failure only shows in the status.
   */
  private detachEndpoint(ep: Endpoint): number {
    const domain = ep.domain as Domain;
    let status: number = S.Ok;
    const list = domain.endpoints;
    list.splice(list.indexOf(ep), 1);
    ep.domain = null;
    if (list.length === 0) {
      const t = domain.mappings;
      if (this.backend !== null) {
        for (let i = 0; i < t.count; i++) {
          const r = this.backend.unmap(domain.id, dmaAddress(t.firstPage(i), 0), BigInt(t.lastPage(i) - t.firstPage(i) + 1) * 4096n);
          if (r !== 'ok' && status === S.Ok) status = backendStatus(r);
        }
      }
      this.state.mappingCount -= t.count;
      this.counters.mappingsRemoved += t.count;
      t.clear();
      this.state.domains.delete(domain.id);
      this.counters.domainsDestroyed++;
    }
    if (this.backend !== null) {
      const r = this.backend.detach(ep.id, domain.id);
      if (r !== 'ok' && status === S.Ok) status = backendStatus(r);
    }
    return status;
  }

  /**
   * MAP (5.13.6.5). Order: unknown flags INVAL (MMIO is known only with MMIO negotiated);
   * domain out of range RANGE; missing domain NOENT; bypass domain INVAL; virt_end before
   * virt_start INVAL; virt_start, phys_start or virt_end + 1 off the granule RANGE; outside
   * input_range RANGE; physical range beyond `physicalAddressBits` RANGE; over a reserved
   * region of an endpoint of the domain INVAL; over an existing mapping INVAL; `maxMappings`
   * reached NOMEM; backend failure as the backend says.
   */
  private map(): number {
    const l = RequestLayout.map;
    const domainId = this.u32(l.domain);
    const flags = this.u32(l.flags);
    const known = MapFlag.Read | MapFlag.Write | (this.state.negotiatedFeature(VirtioIommuFeature.Mmio) ? MapFlag.Mmio : 0);
    if ((flags & ~known) !== 0) return S.Inval;
    if (!this.domainInRange(domainId)) return S.Range;
    const domain = this.state.domains.get(domainId);
    if (domain === undefined) return S.NoEnt;
    if (domain.bypass) return S.Inval;
    const firstPage = this.page(l.virtStart);
    const firstOffset = this.u32(l.virtStart) & PAGE_MASK;
    const lastPage = this.page(l.virtEnd);
    const lastOffset = this.u32(l.virtEnd) & PAGE_MASK;
    const physPage = this.page(l.physStart);
    if (compareAddress(lastPage, lastOffset, firstPage, firstOffset) < 0) return S.Inval;
    const g = this.granulePages;
    if (firstOffset !== 0 || lastOffset !== PAGE_MASK || (this.u32(l.physStart) & PAGE_MASK) !== 0) return S.Range;
    if (firstPage % g !== 0 || (lastPage + 1) % g !== 0 || physPage % g !== 0) return S.Range;
    if (compareAddress(firstPage, 0, this.inputFirstPage, this.inputFirstOffset) < 0) return S.Range;
    if (compareAddress(lastPage, PAGE_MASK, this.inputLastPage, this.inputLastOffset) > 0) return S.Range;
    if (physPage + (lastPage - firstPage) > this.lastPhysPage) return S.Range;
    for (const ep of domain.endpoints) if (ep.touchesReserved(firstPage, lastPage)) return S.Inval;
    if (domain.mappings.overlaps(firstPage, lastPage)) return S.Inval;
    if (this.state.mappingCount >= this.state.params.maxMappings) return S.NoMem;
    if (this.backend !== null) {
      const size = BigInt(lastPage - firstPage + 1) * BigInt(PAGE_SIZE);
      const r = this.backend.map(domainId, dmaAddress(firstPage, 0), dmaAddress(physPage, 0), size, flags);
      if (r !== 'ok') return backendStatus(r);
    }
    domain.mappings.insert(firstPage, lastPage, physPage, flags);
    this.state.mappingCount++;
    this.counters.mappingsCreated++;
    return S.Ok;
  }

  /**
   * UNMAP (5.13.6.6). Order: reserved non-zero per `unmapReserved`; domain out of range
   * RANGE; missing domain NOENT; bypass domain INVAL; virt_end before virt_start INVAL; a
   * mapping only partly inside [virt_start, virt_end] RANGE, removing nothing. Otherwise every
   * mapping inside goes (none is fine: OK); a backend failure stops there with its status,
   * keeping the mappings not yet unmapped in the backend.
   */
  private unmap(): number {
    const l = RequestLayout.unmap;
    const policy = this.state.params.unmapReserved;
    const reservedSet = this.u32(l.reserved) !== 0;
    if (reservedSet && policy === 'reject') return S.Inval;
    const domainId = this.u32(l.domain);
    if (!this.domainInRange(domainId)) return S.Range;
    const domain = this.state.domains.get(domainId);
    if (domain === undefined) return S.NoEnt;
    if (domain.bypass) return S.Inval;
    const firstPage = this.page(l.virtStart);
    const firstOffset = this.u32(l.virtStart) & PAGE_MASK;
    const lastPage = this.page(l.virtEnd);
    const lastOffset = this.u32(l.virtEnd) & PAGE_MASK;
    if (compareAddress(lastPage, lastOffset, firstPage, firstOffset) < 0) return S.Inval;
    const t = domain.mappings;
    const from = t.firstEndingAtOrAfter(firstPage);
    let to = from;
    while (to < t.count && t.firstPage(to) <= lastPage) to++;
    if (to > from) {
      // Only the first and the last affected mappings can stick out of the range.
      if (compareAddress(firstPage, firstOffset, t.firstPage(from), 0) > 0) return S.Range;
      if (compareAddress(lastPage, lastOffset, t.lastPage(to - 1), PAGE_MASK) < 0) return S.Range;
    }
    let status: number = reservedSet && policy === 'unmap-and-inval' ? S.Inval : S.Ok;
    let end = to;
    if (this.backend !== null) {
      for (let i = from; i < to; i++) {
        const size = BigInt(t.lastPage(i) - t.firstPage(i) + 1) * BigInt(PAGE_SIZE);
        const r = this.backend.unmap(domainId, dmaAddress(t.firstPage(i), 0), size);
        if (r !== 'ok') {
          status = backendStatus(r);
          end = i;
          break;
        }
      }
    }
    t.remove(from, end);
    this.state.mappingCount -= end - from;
    this.counters.mappingsRemoved += end - from;
    return status;
  }

  /** PROBE (5.13.6.7): reserved ignored; unknown endpoint NOENT; else its RESV_MEM properties. */
  private probe(): number {
    const properties = this.probeProperties.get(this.u32(RequestLayout.probe.endpoint));
    if (properties === undefined) return S.NoEnt;
    // Parameters guarantee the properties fit probe_size.
    encodeProperties(properties, this.properties);
    return S.Ok;
  }

  /** The page number of the 64-bit field at `offset`. */
  private page(offset: number): number {
    return pageOfHalves(this.u32(offset + 4), this.u32(offset));
  }
}

function backendStatus(r: VirtioIommuBackendResult): number {
  if (r === 'nomem') return S.NoMem;
  if (r === 'unsupported') return S.Unsupp;
  return S.DevErr;
}
