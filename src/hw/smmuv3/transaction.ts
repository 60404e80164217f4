// Inbound transactions as the SMMU sees them (IHI 0070 3.2, 13.1.1, 16.7) and the result of
// translating one. Both are mutable so that a caller reuses one pair for every request.

/** What arrives at the SMMU: an ordinary (untranslated) access, an ATS Translated access, or an ATS Translation Request. */
export const TransactionKind = {
  Untranslated: 0,
  /** PCIe AT = Translated: the address came from an ATS Translation Completion. */
  Translated: 1,
  /** A PCIe ATS Translation Request. */
  AtsRequest: 2,
} as const;
export type TransactionKindValue = (typeof TransactionKind)[keyof typeof TransactionKind];

export class SmmuTransaction {
  sid = 0;
  /** SubstreamID valid (PCIe PASID present). */
  ssv = false;
  ssid = 0;
  kind: TransactionKindValue = TransactionKind.Untranslated;
  /** RnW == 0. For an ATS Translation Request: NW == 0 (write access requested). */
  write = false;
  /** InD: an instruction fetch (reads only). For an ATS Translation Request: Exe requested. */
  instruction = false;
  /** PnU: privileged. */
  privileged = false;
  /** The 64-bit input address as halves. */
  addressHi = 0;
  addressLo = 0;

  set address(value: bigint) {
    this.addressHi = Number((value >> 32n) & 0xffff_ffffn);
    this.addressLo = Number(value & 0xffff_ffffn);
  }

  get address(): bigint {
    return (BigInt(this.addressHi >>> 0) << 32n) | BigInt(this.addressLo >>> 0);
  }
}

/** How a transaction ends. */
export const Outcome = {
  /** Translated (or bypassed): the access goes ahead at `outputPage`. */
  Ok: 0,
  /** Terminated with an abort reported to the client. */
  Abort: 1,
  /** Terminated with RAZ/WI behaviour (stage 1 fault with CD.A == 0): reads return zero, writes are dropped. */
  RazWi: 2,
} as const;
export type OutcomeValue = (typeof Outcome)[keyof typeof Outcome];

/** Completion status of an ATS Translation Request (PCIe): Success, Unsupported Request, Completer Abort. */
export const AtsResult = { Success: 0, UnsupportedRequest: 1, CompleterAbort: 2 } as const;
export type AtsResultValue = (typeof AtsResult)[keyof typeof AtsResult];

// Non-exported copies for reset(): V8 folds a module constant into optimized code, not an
// exported binding.
const OK = Outcome.Ok;
const ATS_SUCCESS = AtsResult.Success;

export class SmmuResult {
  outcome: OutcomeValue = Outcome.Ok;
  /** Output page (4 KiB units) of the page that contains the input address. */
  outputPage = 0;
  /** The translation covers 2^log2Pages pages, naturally aligned (0 = 4 KiB). */
  log2Pages = 0;
  /** Perm bits the translation grants (both stages combined); all for bypass. */
  perms = 0;
  /** No translation took place (SMMU disabled, STE bypass, ATS Translated traffic passing through). */
  bypassed = false;
  /** Event type of the fault or error detected (0 when none), whether or not it was recorded. */
  event = 0;
  /** Whether an event record was written to the Event queue. */
  recorded = false;
  // ATS Translation Completion
  ats: AtsResultValue = AtsResult.Success;
  atsRead = false;
  atsWrite = false;
  atsExec = false;
  atsPriv = false;

  reset(): void {
    this.outcome = OK;
    this.outputPage = 0;
    this.log2Pages = 0;
    this.perms = 0;
    this.bypassed = false;
    this.event = 0;
    this.recorded = false;
    this.ats = ATS_SUCCESS;
    this.atsRead = this.atsWrite = this.atsExec = this.atsPriv = false;
  }

  /** reset(), then a bypassed access: Ok at `outputPage` (4 KiB) with `perms` (all fields written once). */
  passThrough(outputPage: number, perms: number): void {
    this.outcome = OK;
    this.outputPage = outputPage;
    this.log2Pages = 0;
    this.perms = perms;
    this.bypassed = true;
    this.event = 0;
    this.recorded = false;
    this.ats = ATS_SUCCESS;
    this.atsRead = this.atsWrite = this.atsExec = this.atsPriv = false;
  }

  /** The translated byte address for an input address with page offset `offset`. */
  address(offset: number): bigint {
    return BigInt(this.outputPage) * 4096n + BigInt(offset & 0xfff);
  }
}
