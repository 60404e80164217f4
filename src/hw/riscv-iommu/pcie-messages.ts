// PCIe messages between the IOMMU and endpoints (PCIe ATS and PRI): Invalidation Request and
// Completion, Page Request and Page Request Group Response, as typed objects. Payloads keep
// the message body layout the RISC-V IOMMU specification gives for ATS.INVAL/ATS.PRGR and
// for page-request records; the conversions at the end translate them to and from the typed
// messages endpoints exchange through a host bridge (src/devices/pcie/ats.ts).

import { PageResponseCode, type AtsInvalidation, type PageRequest, type PageResponse } from '../../devices/pcie/ats.js';
import { MessageCode } from '../../formats/riscv-iommu/records.js';

export interface PcieMessage {
  /** PCIe message code (MessageCode). */
  readonly code: number;
  /** Routing id: the destination function for IOMMU-to-device messages, the requester otherwise. */
  readonly rid: number;
  /** PCIe segment (hierarchy) number, when the message carries one (DSV/DSEG). */
  readonly segment: number | null;
  /** PASID, when the message carries one. */
  readonly pasid: number | null;
  /** PASID prefix attributes: Privileged Mode Requested, Execute Requested. */
  readonly privileged: boolean;
  readonly execute: boolean;
  /** ITAG of an invalidation request (0 for other messages). */
  readonly tag: number;
  /** The message body (bytes 8..15), as a 64-bit value. */
  readonly payload: bigint;
}

export interface PageRequestFields {
  rid: number;
  segment?: number;
  pasid?: number;
  privileged?: boolean;
  execute?: boolean;
  address: bigint;
  read: boolean;
  write: boolean;
  /** Last request in its page request group. */
  last: boolean;
  groupIndex: number;
}

/** A "Page Request" (or, with read=write=false and last, a "Stop Marker"). */
export function pageRequest(f: PageRequestFields): PcieMessage {
  const payload = (f.address & ~0xfffn) | (BigInt(f.groupIndex & 0x1ff) << 3n) | (f.last ? 4n : 0n) | (f.write ? 2n : 0n) | (f.read ? 1n : 0n);
  return {
    code: MessageCode.PageRequest,
    rid: f.rid,
    segment: f.segment ?? null,
    pasid: f.pasid ?? null,
    privileged: f.privileged ?? false,
    execute: f.execute ?? false,
    tag: 0,
    payload,
  };
}

/** An "Invalidation Completion" for the ITAGs in `itagVector`; `count` 0 means 8. */
export function invalidationCompletion(rid: number, itagVector: number, count: number, segment?: number): PcieMessage {
  return {
    code: MessageCode.InvalidationCompletion,
    rid,
    segment: segment ?? null,
    pasid: null,
    privileged: false,
    execute: false,
    tag: 0,
    payload: (BigInt(rid & 0xffff) << 48n) | (BigInt(count & 7) << 32n) | BigInt(itagVector >>> 0),
  };
}

export interface DecodedPageRequest {
  address: bigint;
  read: boolean;
  write: boolean;
  last: boolean;
  groupIndex: number;
  stopMarker: boolean;
}

export function decodePageRequestPayload(payload: bigint): DecodedPageRequest {
  const read = (payload & 1n) !== 0n;
  const write = (payload & 2n) !== 0n;
  const last = (payload & 4n) !== 0n;
  return {
    address: payload & ~0xfffn,
    read,
    write,
    last,
    groupIndex: Number((payload >> 3n) & 0x1ffn),
    stopMarker: last && !read && !write,
  };
}

export interface DecodedPrgResponse {
  responseCode: number;
  groupIndex: number;
  destinationId: number;
}

export function decodePrgResponsePayload(payload: bigint): DecodedPrgResponse {
  return {
    responseCode: Number((payload >> 44n) & 0xfn),
    groupIndex: Number((payload >> 32n) & 0x1ffn),
    destinationId: Number((payload >> 48n) & 0xffffn),
  };
}

export interface DecodedInvalidationRequest {
  address: bigint;
  /** Global: invalidate entries for all PASIDs' global mappings. */
  global: boolean;
  /** Size bit: the address encodes a NAPOT range (PCIe ATS encoding). */
  s: boolean;
  /** Byte range covered: [base, base + size). */
  base: bigint;
  size: bigint;
}

export function decodeInvalidationPayload(payload: bigint): DecodedInvalidationRequest {
  const s = (payload & (1n << 11n)) !== 0n;
  const address = payload & ~0xfffn;
  const global = (payload & 1n) !== 0n;
  if (!s) return { address, global, s, base: address, size: 4096n };
  // Size in the low address bits: the first zero bit at position X (from bit 12) gives 2^(X+1) bytes.
  let x = 12n;
  while (x < 64n && ((address >> x) & 1n) === 1n) x++;
  const size = x >= 63n ? 1n << 64n : 1n << (x + 1n);
  return { address, global, s, base: address & ~(size - 1n), size };
}

// ---- the typed ATS/PRI messages of src/devices/pcie/ats.ts -----------------------------------

/**
 * An "Invalidation Request" (ATS.INVAL) as the typed message a host bridge routes. The range
 * size comes from the S-bit encoding; `segment` stands in when the command named none (DSV=0).
 */
export function toAtsInvalidation(msg: PcieMessage, segment: number): AtsInvalidation {
  const d = decodeInvalidationPayload(msg.payload);
  return {
    rid: msg.rid,
    segment: msg.segment ?? segment,
    pasid: msg.pasid,
    global: d.global,
    address: d.base,
    sizeLog2: d.size.toString(2).length - 1,
    itag: msg.tag,
  };
}

/**
 * A "Page Request Group Response" (ATS.PRGR) as the typed message a host bridge routes. A
 * response code PCIe reserves (software may write any 4-bit value in ATS.PRGR) is delivered
 * as Response Failure, the code that makes a function stop using PRI for the range rather
 * than act on a meaning it cannot know.
 */
export function toPageResponse(msg: PcieMessage, segment: number): PageResponse {
  const d = decodePrgResponsePayload(msg.payload);
  const code = d.responseCode === PageResponseCode.Success || d.responseCode === PageResponseCode.InvalidRequest ? d.responseCode : PageResponseCode.ResponseFailure;
  return { rid: msg.rid, segment: msg.segment ?? segment, pasid: msg.pasid, groupIndex: d.groupIndex, code };
}

/** A typed Page Request (or Stop Marker) from a host bridge, as the IOMMU receives it. */
export function fromPageRequest(r: PageRequest): PcieMessage {
  return pageRequest({
    rid: r.rid,
    segment: r.segment,
    pasid: r.pasid ?? undefined,
    privileged: r.privileged,
    execute: r.exec,
    address: r.address,
    read: r.read,
    write: r.write,
    last: r.last,
    groupIndex: r.groupIndex,
  });
}
