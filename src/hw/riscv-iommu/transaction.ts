// Inbound transactions as the IO bridge presents them to the IOMMU, and the IOMMU's response.
// Both are mutable so that a caller can reuse one pair for millions of requests.

import { lo32, hi32 } from '../../sim/u64.js';

/** The address type of a transaction (PCIe AT field). */
export const RequestKind = {
  /** A DMA read or write with an untranslated address (an IOVA). */
  Untranslated: 0,
  /** A DMA read or write with an address the device got from an ATS completion. */
  Translated: 1,
  /** A PCIe ATS Translation Request. */
  AtsTranslation: 2,
} as const;
export type RequestKindValue = (typeof RequestKind)[keyof typeof RequestKind];

export const ResponseStatus = {
  Success: 0,
  /** PCIe Unsupported Request; the IO bridge aborts a faulting DMA with it. */
  UnsupportedRequest: 1,
  /** PCIe Completer Abort (ATS translation requests that hit a configuration error). */
  CompleterAbort: 2,
} as const;
export type ResponseStatusValue = (typeof ResponseStatus)[keyof typeof ResponseStatus];

export class TranslationRequest {
  deviceId = 0;
  /** Whether the transaction carries a process_id (PCIe PASID). */
  pidValid = false;
  processId = 0;
  /** PCIe "Privilege Mode Requested" (meaningful only with a PASID). */
  privileged = false;
  kind: RequestKindValue = RequestKind.Untranslated;
  /** Untranslated/translated: a write or AMO. ATS translation request: write access requested (NW=0). */
  write = false;
  /** PCIe "Execute Requested": a read for execute. */
  execute = false;
  /** The requester is a CXL type 1 or type 2 device (affects the ATS CXL.io bit). */
  cxl = false;
  /** The 64-bit IOVA (or translated address) as halves. */
  iovaHi = 0;
  iovaLo = 0;

  set iova(value: bigint) {
    this.iovaHi = hi32(value);
    this.iovaLo = lo32(value);
  }

  get iova(): bigint {
    return (BigInt(this.iovaHi) << 32n) | BigInt(this.iovaLo);
  }
}

export class TranslationResponse {
  status: ResponseStatusValue = ResponseStatus.Success;
  /**
   * Translated page number of the 4 KiB page that contains the request's address (a supervisor
   * physical page; a guest-physical page in ATS completions of T2GPA contexts).
   */
  ppn = 0;
  /** The translation covers 2^log2Pages pages, naturally aligned (0 = 4 KiB). */
  log2Pages = 0;
  /** Resolved page-based memory type (Svpbmt): 0 PMA, 1 NC, 2 IO. */
  pbmt = 0;
  // ATS completion fields
  r = false;
  w = false;
  x = false;
  /** "Untranslated access only": set for MSI pages in MRIF mode. */
  u = false;
  priv = false;
  global = false;
  n = false;
  cxlIo = false;
  ama = 0;
  // MSI handling
  isMsi = false;
  isMrif = false;
  /** Destination MRIF (512-byte aligned) and notice MSI, when isMrif. */
  mrifAddress = 0n;
  noticeAddress = 0n;
  noticeData = 0;
  /** Fault cause detected by the translation (0 when none), whether or not it was recorded. */
  cause = 0;
  /** QoS IDs the IO bridge associates with the access (DC.ta, or iommu_qosid in Bare mode). */
  rcid = 0;
  mcid = 0;

  /** The translated byte address for a request address with page offset `offset`. */
  address(offset: number): bigint {
    return BigInt(this.ppn) * 4096n + BigInt(offset & 0xfff);
  }

  /**
   * The translated address in the PCIe ATS completion encoding: the range size is encoded in
   * the low address bits (bit 12 upwards) when S is set.
   */
  atsAddress(): { address: bigint; s: boolean } {
    if (this.log2Pages === 0) return { address: BigInt(this.ppn) << 12n, s: false };
    const pages = 1n << BigInt(this.log2Pages);
    const base = (BigInt(this.ppn) / pages) * pages;
    return { address: (base | (pages / 2n - 1n)) << 12n, s: true };
  }
}
