// PCIe Address Translation Services and Page Request Interface (PCIe Base Specification,
// chapter 10) as the interfaces between an endpoint and the translation agent above it (an
// IOMMU): Translation Requests and Completions, Invalidation Requests and Completions, Page
// Requests and Page Request Group Responses. They travel through the host bridge, which
// routes upstream requests by requester id and downstream messages to the function with
// the destination id.

import type { DmaRequester } from '../dma-port.js';

/** Completion status of a Translation Request (PCIe 10.2.3). */
export const AtsStatus = {
  Success: 0,
  /** Unsupported Request: translation refused (e.g. ATS not enabled for the stream). */
  UnsupportedRequest: 1,
  /** Completer Abort: the translation agent hit an error (e.g. a bad configuration structure). */
  CompleterAbort: 2,
} as const;
export type AtsStatusValue = (typeof AtsStatus)[keyof typeof AtsStatus];

/**
 * A Translation Completion's data (PCIe 10.2.3). Mutable, so that an endpoint reuses one.
 * A Success completion with read and write both false means "no access": the endpoint
 * must not cache a translation and may issue a Page Request (PRI) instead.
 */
export class AtsCompletion {
  /** Translated address of the first byte of the range (aligned to 2^sizeLog2). */
  address = 0n;
  /** log2 of the range size in bytes: 12 for 4 KiB, larger when the S bit is used. */
  sizeLog2 = 12;
  read = false;
  write = false;
  exec = false;
  privileged = false;
  /** Global mapping: valid for every PASID of the function. */
  global = false;
  /** U: the range must be accessed with untranslated requests only (e.g. MSI doorbells). */
  untranslatedOnly = false;
}

/** The upstream side of ATS: an IOMMU (through the root complex) answering Translation Requests. */
export interface AtsTranslationAgent {
  /**
   * A Translation Request for the page containing `address`, with the requester's id and PASID
   * and the NW (no write) bit. Fills `into` on Success.
   */
  atsTranslate(requester: DmaRequester, address: bigint, noWrite: boolean, into: AtsCompletion): AtsStatusValue;
}

/** An Invalidation Request message (PCIe 10.3.1), sent by the IOMMU to one function. */
export interface AtsInvalidation {
  /** Destination requester id (bus << 8 | devfn) and the PCI segment of its hierarchy. */
  rid: number;
  segment: number;
  /** The PASID whose translations to drop, or null for translations without a PASID. */
  pasid: number | null;
  /** Global Invalidate: translations of every PASID (only with a PASID, when the function supports it). */
  global: boolean;
  /** First byte of the range (aligned to its size). */
  address: bigint;
  /** log2 of the range size in bytes (12..64; 64 is the whole address space). */
  sizeLog2: number;
  /** Invalidation tag (ITag, 0..31) the completion echoes. */
  itag: number;
}

/** Something downstream of an IOMMU that takes Invalidation Requests (a host bridge, a function). */
export interface AtsInvalidationTarget {
  /**
   * Delivers one Invalidation Request. Returns true once the function has sent its
   * Invalidation Completion; false when no function with ATS enabled took it (no completion
   * will ever come: the IOMMU's wait for it times out).
   */
  invalidateAtc(request: AtsInvalidation): boolean;
}

/** A Page Request message (PCIe 10.4.1) or, with read = write = false and last, a Stop Marker. */
export interface PageRequest {
  rid: number;
  segment: number;
  pasid: number | null;
  privileged: boolean;
  exec: boolean;
  /** The faulting page's address (the low 12 bits are zero). */
  address: bigint;
  read: boolean;
  write: boolean;
  /** Last request of its Page Request Group. */
  last: boolean;
  /** Page Request Group Index, 0..511. */
  groupIndex: number;
}

/** Response Code of a Page Request Group Response (PCIe 10.4.2.1). */
export const PageResponseCode = {
  Success: 0,
  InvalidRequest: 1,
  ResponseFailure: 0xf,
} as const;
export type PageResponseCodeValue = (typeof PageResponseCode)[keyof typeof PageResponseCode];

/** A Page Request Group Response (PCIe 10.4.2), sent by the IOMMU to one function. */
export interface PageResponse {
  rid: number;
  segment: number;
  pasid: number | null;
  groupIndex: number;
  code: PageResponseCodeValue;
}

/** The upstream side of PRI: an IOMMU's page-request queue. */
export interface PageRequestSink {
  pageRequest(request: PageRequest): void;
}

/** Something downstream of an IOMMU that takes Page Request Group Responses. */
export interface PageResponseTarget {
  /** Returns false when no function took the response. */
  pageResponse(response: PageResponse): boolean;
}
