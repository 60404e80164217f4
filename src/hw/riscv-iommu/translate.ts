// The process to translate an IOVA (specification section "Process to translate an IOVA"),
// with the locating of device and process contexts ("Process to locate the Device-context",
// "... the Process-context"), MSI address translation ("Process to translate addresses of
// MSIs"), the IOATC, and the response rules for ATS translation requests ("PCIe ATS
// translation request handling"). This is the model's hot path: no allocation per request.

import { Cause, HpmEvent, Ttyp } from '../../formats/riscv-iommu/records.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { TagCache } from '../caches/tag-cache.js';
import { decodeDeviceContext, decodeProcessContext, DeviceContext, ProcessContext } from './contexts.js';
import type { FaultQueue } from './fault-queue.js';
import type { Hpm } from './hpm.js';
import { gscidTag, NO_G_LEAF, pscidTag, TlbFlag, type Iotlb, type TlbFill } from './iotlb.js';
import { PageWalker, Walk, type AccessKind, type ModeGeometry, type WalkStatus } from './page-walk.js';
import type { IommuState } from './state.js';
import type { TableReader } from './table-reader.js';
import { RequestKind, ResponseStatus, type TranslationRequest, type TranslationResponse } from './transaction.js';

const POW2 = Array.from({ length: 64 }, (_, n) => 2 ** n);
const TWO_32 = 4294967296;
const INV_TWO_32 = 2 ** -32;

// Cause codes by access type: index 0 execute, 1 read, 2 write.
const PAGE_FAULT = [Cause.InstructionPageFault, Cause.ReadPageFault, Cause.WritePageFault];
const GUEST_PAGE_FAULT = [Cause.InstructionGuestPageFault, Cause.ReadGuestPageFault, Cause.WriteGuestPageFault];
const ACCESS_FAULT = [Cause.InstructionAccessFault, Cause.ReadAccessFault, Cause.WriteAccessFault];

/** ATS translation requests: causes answered with Completer Abort (and recorded). */
const ATS_COMPLETER_ABORT = new Set<number>([1, 5, 7, 261, 263, 265, 267, 268, 269, 270, 271, 272, 274]);
/** ATS translation requests: causes answered with Unsupported Request (and recorded). */
const ATS_UNSUPPORTED = new Set<number>([256, 257, 258, 259, 260]);

const ALL_VS = TlbFlag.VS_R | TlbFlag.VS_W | TlbFlag.VS_X | TlbFlag.VS_U | TlbFlag.VS_G | TlbFlag.VS_D;
const ALL_G = TlbFlag.G_R | TlbFlag.G_W | TlbFlag.G_X | TlbFlag.G_D;

export interface TranslationStats {
  /** Requests by kind: untranslated, translated, ATS translation. */
  requests: [number, number, number];
  /** Debug-interface requests (also counted as untranslated). */
  debugRequests: number;
  iotlbHits: number;
  iotlbMisses: number;
  /** Device-directory walks (device-context cache misses). */
  ddtWalks: number;
  pdtWalks: number;
  /** Translations that walked the first stage / the second stage for the final address. */
  firstStageWalks: number;
  secondStageWalks: number;
  msiTranslations: number;
  /** Faults detected, recorded or not, by cause. */
  faults: Map<number, number>;
}

/** Result of MSI address translation (scratch fields, no allocation). */
const MsiResult = { NotMsi: 0, Flat: 1, Mrif: 2, Fault: 3 } as const;

export class Translator {
  readonly stats: TranslationStats = {
    requests: [0, 0, 0],
    debugRequests: 0,
    iotlbHits: 0,
    iotlbMisses: 0,
    ddtWalks: 0,
    pdtWalks: 0,
    firstStageWalks: 0,
    secondStageWalks: 0,
    msiTranslations: 0,
    faults: new Map(),
  };
  readonly walker: PageWalker;
  // Range sizes (log2 of 4 KiB pages) reported for a Bare stage.
  private readonly bareFirstLog2: number;
  private readonly bareFirstSv32Log2: number;
  private readonly bareSecondLog2: number;
  private readonly bareSecondSv32x4Log2: number;

  /** DC.tc.DTF of the device of the most recent request (for faults found after translation). */
  lastDtf = false;
  // The device context found last, valid while the device-context cache is unchanged.
  private lastDid = -1;
  private lastDc: DeviceContext | null = null;
  private lastDcVersion = -1;
  // Where the next directory walks decode their context: a fresh object, or one that left its
  // cache unseen by anyone else (TagCache.insert), so that a walk need not allocate.
  private spareDc = new DeviceContext();
  private sparePc = new ProcessContext();
  /**
   * Requests and messages being handled. Contexts are reused only when one is: a nested
   * request (from an interrupt listener or a tracer) must not recycle a context the outer
   * request still uses.
   */
  private busy = 0;

  // scratch state of the request in progress
  private cause = 0;
  private iotval2Hi = 0;
  private iotval2Lo = 0;
  private readonly access: AccessKind = { read: true, write: false, exec: false };
  private readonly implicitRead: AccessKind = { read: true, write: false, exec: false };
  private readonly fill: TlbFill = { gTag: 0, pTag: 0, vpn: 0, ppn: 0, log2Pages: 0, flags: 0, pbmt: 0, gpaVpn: 0, gLog2Pages: NO_G_LEAF, sLog2Pages: 0 };
  // MSI translation results
  private msiPpn = 0;
  private msiMrifAddress = 0n;
  private msiNoticeAddress = 0n;
  private msiNoticeData = 0;

  constructor(
    private readonly state: IommuState,
    private readonly reader: TableReader,
    private readonly hpm: Hpm,
    private readonly faultQueue: FaultQueue,
    readonly dcCache: TagCache<DeviceContext>,
    readonly pcCache: TagCache<ProcessContext>,
    readonly iotlb: Iotlb,
  ) {
    this.walker = new PageWalker(state, reader, hpm);
    this.walker.access = this.access;
    const p = state.params;
    this.bareFirstLog2 = log2Pages(p.bareFirstStageBytes);
    this.bareFirstSv32Log2 = log2Pages(p.bareFirstStageBytesSv32);
    this.bareSecondLog2 = log2Pages(p.bareSecondStageBytes);
    this.bareSecondSv32x4Log2 = log2Pages(p.bareSecondStageBytesSv32x4);
  }

  /** The cause of the most recent failure to locate a context. */
  get lastCause(): number {
    return this.cause;
  }

  /**
   * Translates one request. `debug` marks a request from the translation-request interface,
   * which is processed as an untranslated request but stops on MRIF-mode MSI pages.
   */
  translate(req: TranslationRequest, rsp: TranslationResponse, debug = false): void {
    const st = this.state;
    const kind = req.kind;
    rsp.status = ResponseStatus.Success;
    rsp.cause = 0;
    rsp.isMsi = false;
    rsp.isMrif = false;
    rsp.u = false;
    rsp.priv = false;
    rsp.global = false;
    rsp.n = false;
    rsp.cxlIo = false;
    rsp.ama = 0;
    rsp.pbmt = 0;
    rsp.rcid = 0;
    rsp.mcid = 0;
    this.stats.requests[kind]++;
    if (debug) this.stats.debugRequests++;
    if (this.hpm.active !== 0) {
      this.hpm.count(HpmEvent.UntranslatedRequests + kind, req.pidValid, req.processId, false, 0, req.deviceId & 0xffffff, false, 0);
    }

    // 1. Off: nothing passes. 2. Bare: untranslated requests pass through untouched.
    if (st.mode <= 1) {
      if (st.mode === 1 && kind === RequestKind.Untranslated) return this.identity(req, rsp, st.rcid, st.mcid);
      return this.fault(req, rsp, st.mode === 0 ? Cause.AllInboundDisallowed : Cause.TransactionTypeDisallowed, false);
    }
    this.busy++;
    this.translateInDirectory(req, rsp, debug);
    this.busy--;
  }

  /** Steps 3-16 and the IOTLB: the request's contexts, and a hit if the IOTLB has one. */
  private translateInDirectory(req: TranslationRequest, rsp: TranslationResponse, debug: boolean): void {
    const kind = req.kind;
    // 3-5. The device_id may not be wider than the directory's levels index.
    const did = req.deviceId & 0xffffff;
    if (!this.state.deviceIdFits(did)) return this.fault(req, rsp, Cause.TransactionTypeDisallowed, false);

    // 6. Locate the device context.
    const dc = this.locateDeviceContext(did, req.pidValid, req.processId);
    if (dc === null) return this.fault(req, rsp, this.cause, false);
    const dtf = dc.dtf;
    this.lastDtf = dtf;

    // 7. Transaction types the context does not allow.
    if (kind !== RequestKind.Untranslated && !dc.enAts) return this.fault(req, rsp, Cause.TransactionTypeDisallowed, dtf);
    if (req.pidValid) {
      if (!dc.pdtv) return this.fault(req, rsp, Cause.TransactionTypeDisallowed, dtf);
      const pidBits = dc.fscMode === 1 ? 8 : dc.fscMode === 2 ? 17 : 20;
      if (req.processId >= POW2[pidBits]) return this.fault(req, rsp, Cause.TransactionTypeDisallowed, dtf);
    }
    // 8. Translated requests are complete unless the context returns GPAs (T2GPA).
    if (kind === RequestKind.Translated && !dc.t2gpa) return this.identity(req, rsp, dc.rcid, dc.mcid);

    // 9-16. Select the first-stage table and the address space.
    const walker = this.walker;
    let s: ModeGeometry | null = null;
    let sRoot = 0;
    let pscid = 0;
    let sum = false;
    let supervisor = false;
    if (kind === RequestKind.Translated) {
      // T2GPA: the address is a GPA; only the second stage applies.
    } else if (!dc.pdtv) {
      s = dc.s;
      sRoot = dc.fscPpn;
      pscid = dc.pscid;
    } else {
      let pidValid = req.pidValid;
      let pid = req.processId;
      supervisor = req.pidValid && req.privileged;
      if (dc.dpe && !pidValid) {
        pidValid = true; // default process_id 0
        pid = 0;
        supervisor = false;
      }
      if (pidValid && dc.fscMode !== 0) {
        // The PDT may live in guest memory: its walk needs this context's second stage.
        this.prepareWalker(dc, did, req);
        walker.pscv = false;
        walker.pscid = 0;
        const pc = this.locateProcessContext(dc, did, pid, req);
        if (pc === null) return this.fault(req, rsp, this.cause, dtf);
        if (supervisor && !pc.ens) return this.fault(req, rsp, Cause.TransactionTypeDisallowed, dtf);
        s = pc.s;
        sRoot = pc.fscPpn;
        pscid = pc.pscid;
        sum = pc.sum;
      }
    }
    const pscv = s !== null;
    if (!pscv) pscid = 0;
    const pTag = pscidTag(pscv, pscid);
    const vpn = req.iovaHi * 1048576 + (req.iovaLo >>> 12);

    // IOTLB lookup.
    const iotlb = this.iotlb;
    const hit = iotlb.lookup(gscidTag(dc.g !== null, dc.gscid), pTag, vpn);
    if (hit >= 0) {
      // What the transaction asks for, as the IO bridge classifies it.
      const isAts = kind === RequestKind.AtsTranslation;
      const write = req.write;
      const exec = executes(req);
      const read = isAts || (!write && !(exec && kind === RequestKind.Untranslated));
      let f = iotlb.hitFlags;
      let usable = true;
      if (!isAts) {
        if ((exec && (f & TlbFlag.VS_X) === 0) || (read && (f & TlbFlag.VS_R) === 0) || (write && (f & TlbFlag.VS_W) === 0)) {
          return this.fault(req, rsp, PAGE_FAULT[accessIndexOf(req)], dtf);
        }
      }
      if (pscv) {
        const user = (f & TlbFlag.VS_U) !== 0;
        if (!supervisor && !user) return this.fault(req, rsp, PAGE_FAULT[accessIndexOf(req)], dtf);
        if (supervisor && user) {
          if (!sum || (exec && !isAts)) return this.fault(req, rsp, PAGE_FAULT[accessIndexOf(req)], dtf);
          if (exec) f &= ~TlbFlag.VS_X; // ATS: execute on a user page is denied to supervisor
        }
      }
      // A second-stage denial or a store to a clean page needs the walk (guest-page fault, D update).
      if ((exec && (f & TlbFlag.G_X) === 0) || (read && (f & TlbFlag.G_R) === 0) || (write && (f & TlbFlag.G_W) === 0)) usable = false;
      if (write && (f & (TlbFlag.VS_D | TlbFlag.G_D)) !== (TlbFlag.VS_D | TlbFlag.G_D)) usable = false;
      if (usable) {
        this.stats.iotlbHits++;
        iotlb.counters.hits++;
        return this.complete(req, rsp, dc, iotlb.hitPpn, iotlb.hitLog2Pages, f, iotlb.hitPbmt, (f & TlbFlag.MSI) !== 0, false, iotlb.hitGppn);
      }
      iotlb.invalidateEntry(hit);
    }
    walker.s = s;
    walker.sRoot = sRoot;
    walker.pscv = pscv;
    walker.pscid = pscid;
    walker.sum = sum;
    walker.supervisor = supervisor;
    this.translateMiss(req, rsp, dc, did, pTag, vpn, debug);
  }

  /** An IOTLB miss: steps 17-19 (walks, MSI translation) and the IOTLB fill. */
  private translateMiss(req: TranslationRequest, rsp: TranslationResponse, dc: DeviceContext, did: number, pTag: number, vpn: number, debug: boolean): void {
    const st = this.state;
    const walker = this.walker;
    const kind = req.kind;
    const dtf = dc.dtf;
    const isAts = kind === RequestKind.AtsTranslation;
    const write = req.write;
    const exec = executes(req);
    const read = isAts || (!write && !(exec && kind === RequestKind.Untranslated));
    const s = walker.s;
    const pscv = walker.pscv;
    this.stats.iotlbMisses++;
    this.iotlb.counters.misses++;
    if (this.hpm.active !== 0) this.hpm.count(HpmEvent.TlbMiss, req.pidValid, req.processId, pscv, walker.pscid, did, dc.g !== null, dc.gscid);
    this.prepareWalker(dc, did, req);
    const access = this.access;
    access.read = read;
    access.write = write;
    access.exec = exec;
    walker.checkPerms = !isAts;

    // 17. First stage (two-stage translation of the IOVA to a GPA).
    let gppn: number;
    let sLog2: number;
    let sFlags: number;
    let sPbmt = 0;
    let denyX = false; // the response (not the cached entry) withholds execute permission
    if (s !== null) {
      this.stats.firstStageWalks++;
      const r = walker.firstStage(vpn, req.iovaHi, dc.sxl);
      if (r !== Walk.Ok) return this.fault(req, rsp, this.firstStageCause(r, accessIndexOf(req)), dtf);
      gppn = walker.sPpn;
      sLog2 = walker.sLog2Pages;
      sFlags = walker.sFlags;
      denyX = walker.denyExec;
      sPbmt = walker.sPbmt;
    } else {
      gppn = vpn;
      sLog2 = dc.sxl ? this.bareFirstSv32Log2 : this.bareFirstLog2;
      sFlags = ALL_VS;
    }

    // 18. MSI address translation, when the GPA is a virtual interrupt file.
    if (dc.msiMode !== 0) {
      const m = this.translateMsi(dc, gppn);
      if (m === MsiResult.Fault) return this.fault(req, rsp, this.cause, dtf);
      if (m !== MsiResult.NotMsi) {
        this.stats.msiTranslations++;
        // An MSI page grants R and W (and U), never X.
        if (exec && !isAts) return this.fault(req, rsp, Cause.InstructionAccessFault, dtf);
        const mrif = m === MsiResult.Mrif;
        if (mrif && debug) return this.fault(req, rsp, Cause.TransactionTypeDisallowed, dtf);
        const flags = (sFlags & ALL_VS) | TlbFlag.G_R | TlbFlag.G_W | TlbFlag.G_D | TlbFlag.MSI;
        if (mrif) {
          rsp.mrifAddress = this.msiMrifAddress;
          rsp.noticeAddress = this.msiNoticeAddress;
          rsp.noticeData = this.msiNoticeData;
        } else {
          this.fill.sLog2Pages = s !== null ? sLog2 : 0;
          this.cacheFill(req, dc, pTag, vpn, gppn, this.msiPpn, 0, flags, sPbmt, gppn, 0, pscv);
        }
        // The MSI PTE acts as a second-stage PTE of type PMA: a first-stage PBMT overrides it.
        return this.complete(req, rsp, dc, this.msiPpn, 0, flags, sPbmt, true, mrif, gppn);
      }
    }

    // 19. Second stage: GPA to SPA.
    let ppn: number;
    let gLog2: number;
    let gFlags: number;
    let gPbmt = 0;
    if (dc.g !== null) {
      this.stats.secondStageWalks++;
      const r = walker.secondStage(gppn, access, false, !isAts, dc.sxl);
      if (r !== Walk.Ok) {
        if (r === Walk.PageFault) {
          // iotval2 holds the faulting GPA, bits 63:2 (page offset as requested).
          this.setIotval2(gppn, req.iovaLo & 0xffc, false, false);
          return this.fault(req, rsp, GUEST_PAGE_FAULT[accessIndexOf(req)], dtf);
        }
        return this.fault(req, rsp, r === Walk.AccessFault ? ACCESS_FAULT[accessIndexOf(req)] : Cause.PtDataCorruption, dtf);
      }
      ppn = walker.gPpn;
      gLog2 = walker.gLog2Pages;
      gFlags = walker.gFlags;
      gPbmt = walker.gPbmt;
    } else {
      ppn = gppn;
      gLog2 = st.gxl ? this.bareSecondSv32x4Log2 : this.bareSecondLog2;
      gFlags = ALL_G;
    }

    // The translation covers the smaller of the two stages' pages, never a virtual interrupt file.
    let size = sLog2 < gLog2 ? sLog2 : gLog2;
    if (dc.msiMode !== 0 && size > 0) size = this.avoidMsiPages(dc, gppn, size);
    const flags = sFlags | gFlags;
    const pbmt = sPbmt !== 0 ? sPbmt : gPbmt;
    this.fill.sLog2Pages = s !== null ? sLog2 : size;
    this.cacheFill(req, dc, pTag, vpn, gppn, ppn, size, flags, pbmt, gppn, dc.g !== null ? gLog2 : NO_G_LEAF, pscv);
    return this.complete(req, rsp, dc, ppn, size, denyX ? flags & ~TlbFlag.VS_X : flags, pbmt, false, false, gppn);
  }

  /** Loads the walker with the context's second stage and the HPM identity of the request (but PSCV/PSCID). */
  private prepareWalker(dc: DeviceContext, did: number, req: TranslationRequest): void {
    const walker = this.walker;
    walker.g = dc.g;
    walker.gRoot = dc.gPpn;
    walker.gade = dc.gade;
    walker.sade = dc.sade;
    walker.sbe = dc.sbe;
    walker.did = did;
    walker.pv = req.pidValid;
    walker.pid = req.processId;
    walker.gv = dc.g !== null;
    walker.gscid = dc.gscid;
  }

  // ==== completion ======================================================================

  /** Fills the response of a successful translation; `gppn` is the guest-physical page. */
  private complete(req: TranslationRequest, rsp: TranslationResponse, dc: DeviceContext, ppn: number, log2: number, flags: number, pbmt: number, isMsi: boolean, isMrif: boolean, gppn: number): void {
    rsp.status = ResponseStatus.Success;
    rsp.ppn = ppn;
    rsp.log2Pages = log2;
    rsp.pbmt = pbmt;
    rsp.isMsi = isMsi;
    rsp.isMrif = isMrif;
    rsp.rcid = dc.rcid;
    rsp.mcid = dc.mcid;
    if (req.kind === RequestKind.AtsTranslation) {
      const r = (flags & TlbFlag.VS_R) !== 0 && (flags & TlbFlag.G_R) !== 0;
      rsp.r = r;
      rsp.w = (flags & (TlbFlag.VS_W | TlbFlag.G_W | TlbFlag.VS_D | TlbFlag.G_D)) === (TlbFlag.VS_W | TlbFlag.G_W | TlbFlag.VS_D | TlbFlag.G_D);
      rsp.x = r && req.execute && req.pidValid && (flags & TlbFlag.VS_X) !== 0 && (flags & TlbFlag.G_X) !== 0;
      rsp.u = isMrif;
      rsp.priv = req.pidValid && req.privileged;
      rsp.global = req.pidValid && !isMsi && (flags & TlbFlag.VS_G) !== 0;
      rsp.cxlIo = req.cxl && (pbmt !== 0 || isMsi || dc.t2gpa);
      // T2GPA: the device caches the GPA; its translated requests come back for the second stage.
      if (dc.t2gpa) rsp.ppn = gppn;
    } else {
      rsp.r = true;
      rsp.w = true;
      rsp.x = true;
    }
  }

  /** Pass-through (Bare mode, or a translated request without T2GPA): a 4 KiB identity. */
  private identity(req: TranslationRequest, rsp: TranslationResponse, rcid: number, mcid: number): void {
    rsp.status = ResponseStatus.Success;
    rsp.ppn = req.iovaHi * 1048576 + (req.iovaLo >>> 12);
    rsp.log2Pages = 0;
    rsp.r = rsp.w = rsp.x = true;
    rsp.rcid = rcid;
    rsp.mcid = mcid;
  }

  private cacheFill(req: TranslationRequest, dc: DeviceContext, pTag: number, vpn: number, gppn: number, ppn: number, log2: number, flags: number, pbmt: number, gpaVpn: number, gLog2: number, pscv: boolean): void {
    const f = this.fill;
    f.log2Pages = log2;
    f.flags = flags;
    f.pbmt = pbmt;
    f.gpaVpn = gpaVpn;
    f.gLog2Pages = gLog2 === NO_G_LEAF ? NO_G_LEAF : gLog2;
    f.ppn = ppn;
    f.gTag = gscidTag(dc.g !== null, dc.gscid);
    if (req.kind === RequestKind.Untranslated) {
      f.pTag = pTag;
      f.vpn = vpn;
      this.iotlb.insert(f);
    } else if (req.kind === RequestKind.AtsTranslation) {
      const policy = this.state.params.atsFillsIotlb;
      if (policy === 'never' || (policy === 't2gpa' && !dc.t2gpa)) return;
      if (dc.t2gpa) {
        // Cache GPA -> SPA: translated requests of this context will look up the GPA.
        if (pscv && log2 > 0) f.log2Pages = Math.min(log2, gLog2 === NO_G_LEAF ? log2 : gLog2);
        f.pTag = 0;
        f.sLog2Pages = 0;
        f.vpn = gppn;
        f.flags = (flags & ~(ALL_VS)) | ALL_VS;
      } else {
        f.pTag = pTag;
        f.vpn = vpn;
      }
      this.iotlb.insert(f);
    }
  }

  // ==== faults ==========================================================================

  private firstStageCause(r: WalkStatus, accessIndex: number): number {
    const w = this.walker;
    if (w.implicitFault) {
      if (r === Walk.PageFault) {
        this.setIotval2(w.implicitGpa, w.implicitOffset, true, w.implicitWrite);
        return GUEST_PAGE_FAULT[accessIndex];
      }
      return r === Walk.AccessFault ? ACCESS_FAULT[accessIndex] : Cause.PtDataCorruption;
    }
    return r === Walk.PageFault ? PAGE_FAULT[accessIndex] : r === Walk.AccessFault ? ACCESS_FAULT[accessIndex] : Cause.PtDataCorruption;
  }

  /** iotval2 = GPA bits 63:2, bit 0 = implicit access of the first stage, bit 1 = implicit write. */
  private setIotval2(gppn: number, offset: number, implicit: boolean, implicitWrite: boolean): void {
    this.iotval2Hi = Math.floor(gppn / 1048576) >>> 0;
    this.iotval2Lo = (((gppn % 1048576) * 4096 + (offset & 0xffc)) | (implicit ? 1 : 0) | (implicitWrite ? 2 : 0)) >>> 0;
  }

  /**
   * Stops the translation with `cause`. Untranslated and translated requests are aborted
   * (Unsupported Request) and the fault is recorded; ATS translation requests get the
   * completion the specification assigns to the cause.
   */
  private fault(req: TranslationRequest, rsp: TranslationResponse, cause: number, dtf: boolean): void {
    // iotval2 is 0 unless this fault's guest-page fault set it
    const iotval2Hi = this.iotval2Hi;
    const iotval2Lo = this.iotval2Lo;
    this.iotval2Hi = 0;
    this.iotval2Lo = 0;
    rsp.cause = cause;
    this.stats.faults.set(cause, (this.stats.faults.get(cause) ?? 0) + 1);
    if (req.kind === RequestKind.AtsTranslation && !ATS_COMPLETER_ABORT.has(cause) && !ATS_UNSUPPORTED.has(cause)) {
      // Success with no access granted; nothing is recorded.
      rsp.status = ResponseStatus.Success;
      rsp.ppn = 0;
      rsp.log2Pages = 0;
      rsp.r = rsp.w = rsp.x = false;
      rsp.u = false;
      rsp.priv = req.pidValid && req.privileged;
      rsp.isMsi = false;
      return;
    }
    rsp.status = req.kind === RequestKind.AtsTranslation && ATS_COMPLETER_ABORT.has(cause) ? ResponseStatus.CompleterAbort : ResponseStatus.UnsupportedRequest;
    rsp.r = rsp.w = rsp.x = false;
    this.faultQueue.report(cause, transactionType(req), req.deviceId & 0xffffff, req.pidValid, req.processId, req.privileged, req.iovaHi, req.iovaLo, iotval2Hi, iotval2Lo, dtf);
  }

  // ==== device and process contexts =====================================================

  /**
   * Locates the device context of the requester of a PCIe message (a page request or an
   * invalidation completion), as steps 1-6 of the translation process do for transactions.
   * On failure the fault is recorded (TTYP "PCIe message request", iotval = the message code)
   * and null returned, with `lastCause` set.
   */
  messageRequester(did: number, pv: boolean, pid: number, priv: boolean, code: number): DeviceContext | null {
    const st = this.state;
    let cause: number;
    if (st.mode === 0) cause = Cause.AllInboundDisallowed;
    else if (st.mode === 1 || !this.state.deviceIdFits(did)) cause = Cause.TransactionTypeDisallowed;
    else {
      this.busy++;
      const dc = this.locateDeviceContext(did, pv, pid);
      this.busy--;
      if (dc !== null) return dc;
      cause = this.cause;
    }
    this.cause = cause;
    this.faultQueue.report(cause, Ttyp.PcieMessage, did, pv, pid, priv, 0, code, 0, 0, false);
    return null;
  }

  /** Locates the device context of `did` (cache or DDT walk). Null with `cause` set on failure. */
  locateDeviceContext(did: number, pv: boolean, pid: number): DeviceContext | null {
    // The same device as last time, with the cache unchanged since: the entry is still the
    // most recently used of its set, so this is exactly a cache hit.
    if (did === this.lastDid && this.dcCache.version === this.lastDcVersion) {
      this.dcCache.counters.hits++;
      return this.lastDc;
    }
    return this.findDeviceContext(did, pv, pid);
  }

  /** The device-context cache lookup and, on a miss, the DDT walk. */
  private findDeviceContext(did: number, pv: boolean, pid: number): DeviceContext | null {
    const cached = this.dcCache.lookup(did);
    if (cached !== undefined) {
      this.lastDid = did;
      this.lastDc = cached;
      this.lastDcVersion = this.dcCache.version;
      return cached;
    }
    const st = this.state;
    this.stats.ddtWalks++;
    const ext = st.msiFlat;
    const lowBits = ext ? 6 : 7;
    const levels = st.mode - 1; // 1LVL=2, 2LVL=3, 3LVL=4
    const reader = this.reader;
    let table = st.ddtPpn;
    for (let level = levels - 1; level > 0; level--) {
      const index = level === 1 ? (did >>> lowBits) & 0x1ff : did >>> (lowBits + 9);
      if (this.hpm.active !== 0) this.hpm.count(HpmEvent.DdtWalks, pv, pid, false, 0, did, false, 0);
      const lo = reader.read64('ddte', level, table, index * 8, st.be);
      const hi = reader.hi;
      if (reader.status === AccessStatus.AccessFault) return this.failContext(Cause.DdtLoadAccessFault);
      if (reader.status === AccessStatus.DataCorruption) return this.failContext(Cause.DdtDataCorruption);
      if ((lo & 1) === 0) return this.failContext(Cause.DdtEntryNotValid);
      if ((lo & 0x3fe) !== 0 || (hi & 0xffc00000) !== 0) return this.failContext(Cause.DdtEntryMisconfigured);
      table = (hi & 0x3fffff) * 4194304 + (lo >>> 10);
    }
    if (this.hpm.active !== 0) this.hpm.count(HpmEvent.DdtWalks, pv, pid, false, 0, did, false, 0);
    const dwords = ext ? 8 : 4;
    const index = did & (ext ? 0x3f : 0x7f);
    const byte = index * dwords * 8;
    const status = reader.readBlock('dc', 0, table, byte, dwords, st.be);
    if (status === AccessStatus.AccessFault) return this.failContext(Cause.DdtLoadAccessFault);
    if (status === AccessStatus.DataCorruption) return this.failContext(Cause.DdtDataCorruption);
    if ((reader.block[reader.blockAt] & 1) === 0) return this.failContext(Cause.DdtEntryNotValid);
    const dc = decodeDeviceContext(reader.block, reader.blockAt, st, this.spareDc);
    if (dc === null) return this.failContext(Cause.DdtEntryMisconfigured);
    const displaced = this.dcCache.insert(did, dc);
    this.spareDc = displaced !== undefined && this.busy === 1 ? displaced : new DeviceContext();
    return dc;
  }

  /**
   * Locates the process context of (did, pid) through the device's PDT, whose entries are
   * guest-physical when the second stage is active. The walker's second stage must be set up.
   */
  private locateProcessContext(dc: DeviceContext, did: number, pid: number, req: TranslationRequest): ProcessContext | null {
    // The cache key is did * 2^20 + pid, passed as its 32-bit halves (see TagCache).
    const keyHi = did >>> 12;
    const keyLo = (did << 20) | pid;
    const cached = this.pcCache.lookupHalves(keyHi, keyLo);
    if (cached !== undefined) return cached;
    this.stats.pdtWalks++;
    const walker = this.walker;
    const reader = this.reader;
    const levels = dc.fscMode; // PD8=1, PD17=2, PD20=3
    let table = dc.fscPpn;
    for (let level = levels - 1; level >= 0; level--) {
      const byte = level === 0 ? (pid & 0xff) * 16 : level === 1 ? ((pid >>> 8) & 0x1ff) * 8 : ((pid >>> 17) & 7) * 8;
      const g = walker.secondStage(table, this.implicitRead, true, true, dc.sxl);
      if (g !== Walk.Ok) {
        if (g === Walk.PageFault) {
          this.setIotval2(table, byte, true, false);
          this.cause = GUEST_PAGE_FAULT[accessIndexOf(req)];
          return null;
        }
        return this.failContext(g === Walk.AccessFault ? Cause.PdtLoadAccessFault : Cause.PdtDataCorruption);
      }
      const spa = walker.gPpn;
      if (this.hpm.active !== 0) this.hpm.count(HpmEvent.PdtWalks, true, pid, false, 0, did, false, 0);
      if (level > 0) {
        const lo = reader.read64('pdte', level, spa, byte, dc.sbe);
        const hi = reader.hi;
        if (reader.status === AccessStatus.AccessFault) return this.failContext(Cause.PdtLoadAccessFault);
        if (reader.status === AccessStatus.DataCorruption) return this.failContext(Cause.PdtDataCorruption);
        if ((lo & 1) === 0) return this.failContext(Cause.PdtEntryNotValid);
        if ((lo & 0x3fe) !== 0 || (hi & 0xffc00000) !== 0) return this.failContext(Cause.PdtEntryMisconfigured);
        table = (hi & 0x3fffff) * 4194304 + (lo >>> 10);
        continue;
      }
      const status = reader.readBlock('pc', 0, spa, byte, 2, dc.sbe);
      if (status === AccessStatus.AccessFault) return this.failContext(Cause.PdtLoadAccessFault);
      if (status === AccessStatus.DataCorruption) return this.failContext(Cause.PdtDataCorruption);
      if ((reader.block[reader.blockAt] & 1) === 0) return this.failContext(Cause.PdtEntryNotValid);
      const pc = decodeProcessContext(reader.block, reader.blockAt, dc, this.state, this.sparePc);
      if (pc === null) return this.failContext(Cause.PdtEntryMisconfigured);
      const displaced = this.pcCache.insertHalves(keyHi, keyLo, pc);
      this.sparePc = displaced !== undefined && this.busy === 1 ? displaced : new ProcessContext();
      return pc;
    }
    return null; // unreachable: levels >= 1
  }

  private failContext(cause: number): null {
    this.cause = cause;
    return null;
  }

  // ==== MSI translation =================================================================

  /** Whether guest page `gppn` is a virtual interrupt file of `dc`. */
  isMsiPage(dc: DeviceContext, gppn: number): boolean {
    const lo = gppn >>> 0;
    const hi = (gppn - lo) * INV_TWO_32;
    return ((lo ^ dc.msiPatternLo) & ~dc.msiMaskLo) === 0 && ((hi ^ dc.msiPatternHi) & ~dc.msiMaskHi) === 0;
  }

  private translateMsi(dc: DeviceContext, gppn: number): number {
    if (!this.isMsiPage(dc, gppn)) return MsiResult.NotMsi;
    // Interrupt-file number: the GPA page bits selected by the mask, packed.
    let file = 0;
    let bit = 1;
    const lo = gppn >>> 0;
    const hi = (gppn - lo) * INV_TWO_32;
    for (let i = 0; i < 32; i++) {
      if (((dc.msiMaskLo >>> i) & 1) !== 0) {
        if (((lo >>> i) & 1) !== 0) file += bit;
        bit *= 2;
      }
    }
    for (let i = 0; i < 20; i++) {
      if (((dc.msiMaskHi >>> i) & 1) !== 0) {
        if (((hi >>> i) & 1) !== 0) file += bit;
        bit *= 2;
      }
    }
    // The MSI PTE is at msiptp.PPN * 4096 | file * 16 (an OR, per the specification).
    const byteAddr = or53(dc.msiPpn * 4096, file * 16);
    const ppn = Math.floor(byteAddr / 4096);
    const off = byteAddr % 4096;
    const be = this.state.be;
    const reader = this.reader;
    const w0lo = reader.read64('msipte', 0, ppn, off, be);
    const w0hi = reader.hi;
    const s0: AccessStatus = reader.status;
    const w1lo = reader.read64('msipte', 0, ppn, off + 8, be);
    const w1hi = reader.hi;
    const s1: AccessStatus = reader.status;
    if (s0 === AccessStatus.AccessFault || s1 === AccessStatus.AccessFault) return this.msiFail(Cause.MsiPteLoadAccessFault);
    if (s0 === AccessStatus.DataCorruption || s1 === AccessStatus.DataCorruption) return this.msiFail(Cause.MsiPtDataCorruption);
    if ((w0lo & 1) === 0) return this.msiFail(Cause.MsiPteNotValid);
    // C=1: implementation defined; this model implements no custom MSI PTE format.
    if ((w0hi & 0x80000000) !== 0) return this.msiFail(Cause.MsiPteMisconfigured);
    const mode = (w0lo >>> 1) & 3;
    if (mode === 3) {
      // Basic translate: reserved bits 9:3 and 62:54 of the first doubleword.
      if ((w0lo & 0x3f8) !== 0 || (w0hi & 0x7fc00000) !== 0) return this.msiFail(Cause.MsiPteMisconfigured);
      this.msiPpn = (w0hi & 0x3fffff) * 4194304 + (w0lo >>> 10);
      return MsiResult.Flat;
    }
    if (mode !== 1 || !this.state.msiMrif) return this.msiFail(Cause.MsiPteMisconfigured);
    // MRIF mode: reserved bits 6:3 and 62:54, and 59:54 and 63:61 of the second doubleword.
    if ((w0lo & 0x78) !== 0 || (w0hi & 0x7fc00000) !== 0) return this.msiFail(Cause.MsiPteMisconfigured);
    if ((w1hi & 0x0fc00000) !== 0 || (w1hi & 0xe0000000) !== 0) return this.msiFail(Cause.MsiPteMisconfigured);
    const mrifAddr55to9 = BigInt(w0hi & 0x3fffff) * 33554432n + BigInt(w0lo >>> 7); // bits 53:7 of the PTE
    this.msiMrifAddress = mrifAddr55to9 << 9n;
    const nppn = (w1hi & 0x3fffff) * 4194304 + (w1lo >>> 10);
    this.msiNoticeAddress = BigInt(nppn) << 12n;
    this.msiNoticeData = (((w1hi >>> 28) & 1) << 10) | (w1lo & 0x3ff);
    this.msiPpn = nppn;
    return MsiResult.Mrif;
  }

  private msiFail(cause: number): number {
    this.cause = cause;
    return MsiResult.Fault;
  }

  /**
   * Shrinks a translation of 2^log2 pages around `gppn` until its GPA range holds no virtual
   * interrupt file, so that a cached superpage never hides an MSI page.
   */
  private avoidMsiPages(dc: DeviceContext, gppn: number, log2: number): number {
    let size = log2;
    while (size > 0) {
      const pages = POW2[size];
      const base = gppn - (gppn % pages);
      // The range [base, base + pages) holds an MSI page iff the bits above `size` match.
      const lo = base % TWO_32;
      const hi = Math.floor(base / TWO_32);
      const freeLo = size >= 32 ? 0xffffffff : (pages - 1) >>> 0;
      const freeHi = size > 32 ? (POW2[size - 32] - 1) >>> 0 : 0;
      const overlaps = ((lo ^ dc.msiPatternLo) & ~dc.msiMaskLo & ~freeLo) === 0 && ((hi ^ dc.msiPatternHi) & ~dc.msiMaskHi & ~freeHi) === 0;
      if (!overlaps) break;
      size--;
    }
    return size;
  }
}

/** Whether a request asks for execute permission, as the IO bridge classifies it. */
function executes(req: TranslationRequest): boolean {
  const kind = req.kind;
  return req.execute && (kind === RequestKind.AtsTranslation ? req.pidValid : !req.write && (kind === RequestKind.Untranslated || req.pidValid));
}

/** Index of a request's access type in the cause tables: 0 execute, 1 read, 2 write. */
function accessIndexOf(req: TranslationRequest): number {
  return executes(req) ? 0 : req.kind === RequestKind.AtsTranslation || !req.write ? 1 : 2;
}

/** The TTYP of a request's fault records. */
function transactionType(req: TranslationRequest): number {
  const write = req.write;
  const exec = executes(req);
  if (req.kind === RequestKind.AtsTranslation) return Ttyp.AtsTranslationRequest;
  if (req.kind === RequestKind.Untranslated) return write ? Ttyp.UntranslatedWrite : exec ? Ttyp.UntranslatedExecute : Ttyp.UntranslatedRead;
  return write ? Ttyp.TranslatedWrite : exec ? Ttyp.TranslatedExecute : Ttyp.TranslatedRead;
}

/** log2 of a byte count (a power of two) in 4 KiB pages. */
function log2Pages(bytes: bigint): number {
  let n = 0;
  let v = bytes >> 12n;
  while (v > 1n) {
    v >>= 1n;
    n++;
  }
  return n;
}

/** Bitwise OR of two non-negative integers below 2^53. */
function or53(a: number, b: number): number {
  const lo = ((a % TWO_32) | (b % TWO_32)) >>> 0;
  const hi = (Math.floor(a / TWO_32) | Math.floor(b / TWO_32)) >>> 0;
  return hi * TWO_32 + lo;
}
