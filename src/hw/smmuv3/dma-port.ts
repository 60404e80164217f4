// A DMA master's upstream port when an SMMUv3 translates it, and the SMMU's side of PCIe ATS.
// Each access is one transaction: untranslated (PCIe AT = 00b), or Translated when the
// requester says so (its address came from an ATS Translation Completion). The requester's
// device id is the StreamID; a PASID is the SubstreamID, and without one a PCIe access is
// unprivileged Data (13.7). A burst (up to 4 KiB, not crossing a 4 KiB boundary) is translated
// once. Misaligned accesses and broken bursts are bus errors before the SMMU sees them.
// A stage 1 fault with CD.A == 0 completes with RAZ/WI behaviour: reads return zeros, writes
// are dropped, and the master sees success (5.5).

import { AtsStatus as AtsStatusImport, type AtsCompletion, type AtsStatusValue, type AtsTranslationAgent } from '../../devices/pcie/ats.js';
import { burstValid, DmaPortStatus as DmaPortStatusImport, dmaAligned, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../devices/dma-port.js';
import type { MmioSize } from '../../sim/mmio.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import type { SmmuV3 } from './smmuv3.js';
import { AtsResult as AtsResultImport, Outcome as OutcomeImport, SmmuResult, SmmuTransaction, TransactionKind as TransactionKindImport } from './transaction.js';

// Local copies of imported constants, read on every access: V8 folds a module constant's
// properties into optimized code, not an import's.
const AtsStatus = AtsStatusImport;
const DmaPortStatus = DmaPortStatusImport;
const AtsResult = AtsResultImport;
const Outcome = OutcomeImport;
const TransactionKind = TransactionKindImport;
const ACCESS_FAULT = AccessStatus.AccessFault;
const DATA_CORRUPTION = AccessStatus.DataCorruption;

export class SmmuV3DmaPort implements DmaPort, AtsTranslationAgent {
  value = 0n;
  readonly counters = { reads: 0, writes: 0, aborted: 0, busErrors: 0, poisoned: 0, razWi: 0, atsRequests: 0 };
  private readonly txn = new SmmuTransaction();
  private readonly result = new SmmuResult();
  private readonly bus: SystemBus;

  constructor(private readonly smmu: SmmuV3) {
    this.bus = smmu.bus;
  }

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.counters.reads++;
    if (!dmaAligned(address, size)) return this.busError();
    const r = this.translate(requester, address, false);
    if (r.outcome === Outcome.Abort) return this.aborted();
    if (r.outcome === Outcome.RazWi) {
      this.counters.razWi++;
      this.value = 0n;
      return DmaPortStatus.Ok;
    }
    const a = this.bus.access(r.address(Number(address & 0xfffn)), size, false);
    if (a.status === ACCESS_FAULT) return this.busError();
    this.value = a.value;
    if (a.status === DATA_CORRUPTION) {
      this.counters.poisoned++;
      return DmaPortStatus.Poisoned;
    }
    return DmaPortStatus.Ok;
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.counters.writes++;
    if (!dmaAligned(address, size)) return this.busError();
    const r = this.translate(requester, address, true);
    if (r.outcome === Outcome.Abort) return this.aborted();
    if (r.outcome === Outcome.RazWi) {
      this.counters.razWi++;
      return DmaPortStatus.Ok;
    }
    const a = this.bus.access(r.address(Number(address & 0xfffn)), size, true, data);
    return a.status === ACCESS_FAULT ? this.busError() : DmaPortStatus.Ok;
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.reads++;
    if (!burstValid(address, length)) return this.busError();
    const r = this.translate(requester, address, false);
    if (r.outcome === Outcome.Abort) return this.aborted();
    if (r.outcome === Outcome.RazWi) {
      this.counters.razWi++;
      into.fill(0, offset, offset + length);
      return DmaPortStatus.Ok;
    }
    const s = this.bus.readBurstAt(r.outputPage, this.txn.addressLo & 0xfff, length, into, offset);
    if (s === ACCESS_FAULT) return this.busError();
    if (s === DATA_CORRUPTION) {
      this.counters.poisoned++;
      return DmaPortStatus.Poisoned;
    }
    return DmaPortStatus.Ok;
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.writes++;
    if (!burstValid(address, length)) return this.busError();
    const r = this.translate(requester, address, true);
    if (r.outcome === Outcome.Abort) return this.aborted();
    if (r.outcome === Outcome.RazWi) {
      this.counters.razWi++;
      return DmaPortStatus.Ok;
    }
    const s = this.bus.writeBurstAt(r.outputPage, this.txn.addressLo & 0xfff, length, from, offset);
    return s === ACCESS_FAULT ? this.busError() : DmaPortStatus.Ok;
  }

  /**
   * AtsTranslationAgent: an ATS Translation Request (3.9.1.2, 13.7). Success fills `into` with
   * the translated range (aligned to its size) and the permissions granted; R == W == 0 means
   * no access (the endpoint may issue a Page Request).
   */
  atsTranslate(requester: DmaRequester, address: bigint, noWrite: boolean, into: AtsCompletion): AtsStatusValue {
    this.counters.atsRequests++;
    const t = this.fill(requester, address, !noWrite);
    t.kind = TransactionKind.AtsRequest;
    const r = this.smmu.translate(t, this.result);
    if (r.ats === AtsResult.UnsupportedRequest) return AtsStatus.UnsupportedRequest;
    if (r.ats === AtsResult.CompleterAbort) return AtsStatus.CompleterAbort;
    const pages = 2 ** r.log2Pages;
    into.address = BigInt(Math.floor(r.outputPage / pages) * pages) * 4096n;
    into.sizeLog2 = 12 + r.log2Pages;
    into.read = r.atsRead;
    into.write = r.atsWrite;
    into.exec = r.atsExec;
    into.privileged = r.atsPriv;
    // Completions for a PASID must not be Global (3.9.1); none is, as global translations of
    // different contexts need not share an address space layout.
    into.global = false;
    into.untranslatedOnly = false;
    return AtsStatus.Success;
  }

  private translate(requester: DmaRequester, address: bigint, write: boolean): SmmuResult {
    const t = this.fill(requester, address, write);
    t.kind = requester.translated ? TransactionKind.Translated : TransactionKind.Untranslated;
    return this.smmu.translate(t, this.result);
  }

  private fill(requester: DmaRequester, address: bigint, write: boolean): SmmuTransaction {
    const t = this.txn;
    t.sid = requester.deviceId;
    t.ssv = requester.pasidValid;
    t.ssid = requester.pasidValid ? requester.pasid : 0;
    t.privileged = requester.pasidValid && requester.privileged;
    t.instruction = false;
    t.write = write;
    t.address = address;
    return t;
  }

  private aborted(): DmaPortStatusValue {
    this.counters.aborted++;
    return DmaPortStatus.Aborted;
  }

  private busError(): DmaPortStatusValue {
    this.counters.busErrors++;
    return DmaPortStatus.BusError;
  }
}
