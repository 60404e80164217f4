// The translation-request interface for debug (specification chapter "Debug support"):
// software writes tr_req_iova, then tr_req_ctl with Go/Busy set; the model translates the
// IOVA as an untranslated request, synchronously, and leaves the result in tr_response.

import type { Translator } from './translate.js';
import { RequestKind, ResponseStatus, TranslationRequest, TranslationResponse } from './transaction.js';

export class DebugInterface {
  iova = 0n; // tr_req_iova (bits 11:0 read as zero)
  ctl = 0n; // tr_req_ctl (Go/Busy reads 0 once the translation completes)
  response = 0n; // tr_response
  private readonly req = new TranslationRequest();
  private readonly rsp = new TranslationResponse();

  constructor(
    private readonly implemented: boolean,
    private readonly translator: Translator,
  ) {}

  reset(): void {
    this.iova = 0n;
    this.ctl = 0n;
    this.response = 0n;
  }

  writeIova(value: bigint): void {
    if (!this.implemented) return;
    this.iova = value & ~0xfffn;
  }

  writeCtl(value: bigint): void {
    if (!this.implemented) return;
    // Keep the defined fields (Go, Priv, Exe, NW, PID, PV, DID); reserved and custom read 0.
    this.ctl = value & 0xffff_ff01_ffff_f00fn;
    if ((this.ctl & 1n) === 0n) return;
    const ctl = this.ctl;
    const req = this.req;
    req.kind = RequestKind.Untranslated;
    req.deviceId = Number((ctl >> 40n) & 0xffffffn);
    req.pidValid = ((ctl >> 32n) & 1n) === 1n;
    req.processId = req.pidValid ? Number((ctl >> 12n) & 0xfffffn) : 0;
    req.privileged = req.pidValid && ((ctl >> 1n) & 1n) === 1n;
    req.execute = ((ctl >> 2n) & 1n) === 1n;
    // NW=1: read permission requested; NW=0: read and write (a write needs both on RISC-V).
    req.write = ((ctl >> 3n) & 1n) === 0n;
    if (req.execute) req.write = false;
    req.iova = this.iova;
    this.translator.translate(req, this.rsp, true);
    const rsp = this.rsp;
    if (rsp.status !== ResponseStatus.Success) {
      this.response = 1n; // fault; PBMT, S and PPN read as zero (UNSPECIFIED)
    } else {
      const ats = rsp.atsAddress();
      const ppnField = (ats.address >> 12n) & ((1n << 44n) - 1n);
      this.response = (BigInt(rsp.pbmt) << 7n) | (ats.s ? 1n << 9n : 0n) | (ppnField << 10n);
    }
    this.ctl &= ~1n; // completion: Go/Busy returns to 0
  }
}
