// First-stage and second-stage page-table walks (Privileged Architecture "Two-Stage Address
// Translation", as the RISC-V IOMMU specification applies it in "Process to translate an
// IOVA"). Addresses travel as page numbers (< 2^52, exact doubles) and PTEs as 32-bit
// halves; results are left in fields so that a walk allocates nothing.

import { AccessStatus } from '../../sim/physical-memory.js';
import { HpmEvent } from '../../formats/riscv-iommu/records.js';
import { TlbFlag } from './iotlb.js';
import type { Hpm } from './hpm.js';
import type { IommuState } from './state.js';
import type { TableReader } from './table-reader.js';
import { alignDown, lowBits, pageBits, POW2 } from './page-number.js';

/** Outcome of a walk. */
export const Walk = {
  Ok: 0,
  PageFault: 1, // page fault (first stage) or guest-page fault (second stage)
  AccessFault: 2,
  DataCorruption: 3,
} as const;
export type WalkStatus = (typeof Walk)[keyof typeof Walk];

/** Access kinds of the original transaction; cause codes are derived from them. */
export interface AccessKind {
  read: boolean;
  write: boolean;
  exec: boolean;
}

/** Geometry of one paging mode, in the form the walker uses. */
export interface ModeGeometry {
  levels: number;
  pteSize: number; // 4 or 8
  vpnBits: number; // 10 for Sv32/Sv32x4, 9 otherwise
  rootExtraBits: number; // 2 for x4 modes
  inputBits: number; // width of the input address
  indexMask: number; // 2^vpnBits - 1
  rootIndexMask: number; // 2^(vpnBits + rootExtraBits) - 1
}

const G = (levels: number, pteSize: number, vpnBits: number, x4: boolean): ModeGeometry => ({
  levels,
  pteSize,
  vpnBits,
  rootExtraBits: x4 ? 2 : 0,
  inputBits: 12 + levels * vpnBits + (x4 ? 2 : 0),
  indexMask: 2 ** vpnBits - 1,
  rootIndexMask: 2 ** (vpnBits + (x4 ? 2 : 0)) - 1,
});

export const GEOMETRY = {
  Sv32: G(2, 4, 10, false),
  Sv39: G(3, 8, 9, false),
  Sv48: G(4, 8, 9, false),
  Sv57: G(5, 8, 9, false),
  Sv32x4: G(2, 4, 10, true),
  Sv39x4: G(3, 8, 9, true),
  Sv48x4: G(4, 8, 9, true),
  Sv57x4: G(5, 8, 9, true),
} as const;

// Bits of the high half of a 64-bit PTE.
const HI_PPN_MASK = 0x3fffff; // PPN[43:22] in bits 21:0
const HI_RESERVED = 0x1f << 22; // bits 58:54
const HI_RSW60T59 = 0x3 << 27; // bits 60:59
const HI_PBMT_SHIFT = 29; // bits 62:61
const HI_N = 0x8000_0000; // bit 63

export class PageWalker {
  // ---- configuration of the walk in progress (set by the translation process) -----------
  /** Second stage: geometry (null = Bare), root PPN, GADE. */
  g: ModeGeometry | null = null;
  gRoot = 0;
  gade = false;
  /** First stage: geometry (null = Bare), root (guest) PPN, SADE, SBE. */
  s: ModeGeometry | null = null;
  sRoot = 0;
  sade = false;
  sbe = false;
  /** Privilege of the transaction: supervisor when true. SUM of the process context. */
  supervisor = false;
  sum = false;
  /** Whether permissions are checked against the access (false for ATS translation requests). */
  checkPerms = true;
  access: AccessKind = { read: true, write: false, exec: false };
  // HPM filter identity of the transaction
  did = 0;
  pv = false;
  pid = 0;
  pscv = false;
  pscid = 0;
  gv = false;
  gscid = 0;

  // ---- second-stage results -----------------------------------------------------------
  gPpn = 0;
  gLog2Pages = 0;
  gFlags = 0; // TlbFlag.G_*
  gPbmt = 0;

  // ---- first-stage results ------------------------------------------------------------
  sPpn = 0; // output (guest-)physical page number
  sLog2Pages = 0;
  sFlags = 0; // TlbFlag.VS_*
  sPbmt = 0;
  /** For a guest-page fault in an implicit access: the GPA (byte address) and whether it was a write. */
  implicitGpa = 0;
  implicitOffset = 0;
  implicitWrite = false;
  /** Set when the first stage faulted while accessing its own tables through the second stage. */
  implicitFault = false;
  /** Set when an ATS request asked a supervisor execute permission on a user page: X is denied. */
  denyExec = false;

  private readonly implicitAccess: AccessKind = { read: true, write: false, exec: false };

  constructor(
    private readonly state: IommuState,
    private readonly reader: TableReader,
    private readonly hpm: Hpm,
  ) {}

  // ==== second stage ====================================================================

  /**
   * Translates guest page `gppn` through the second stage. `implicit` marks an access made
   * on behalf of the first stage (a PTE or PDT read). Results in g* fields.
   */
  secondStage(gppn: number, access: AccessKind, implicit: boolean, checkPerms: boolean, sxl: boolean): WalkStatus {
    if (this.g === null) {
      this.gPpn = gppn;
      this.gLog2Pages = 0; // the caller substitutes the Bare range size
      this.gFlags = TlbFlag.G_R | TlbFlag.G_W | TlbFlag.G_X | TlbFlag.G_D;
      this.gPbmt = 0;
      return Walk.Ok;
    }
    return this.walkSecondStage(this.g, gppn, access, implicit, checkPerms, sxl);
  }

  /** The second-stage walk proper (small secondStage() is what callers inline). */
  private walkSecondStage(m: ModeGeometry, gppn: number, access: AccessKind, implicit: boolean, checkPerms: boolean, sxl: boolean): WalkStatus {
    // GPA bits beyond the mode's width (beyond bit 33 when SXL=1) must be zero.
    const limit = sxl ? 22 : m.inputBits - 12;
    if (gppn >= POW2[limit]) return Walk.PageFault;

    const be = this.state.be;
    const reader = this.reader;
    let table = this.gRoot;
    for (let level = m.levels - 1; level >= 0; level--) {
      const shift = level * m.vpnBits;
      const byte = pageBits(gppn, shift, level === m.levels - 1 ? m.rootIndexMask : m.indexMask) * m.pteSize;
      const ppn = table + (byte >>> 12); // an x4 root table spans 4 pages
      const offset = byte & 4095;
      if (this.hpm.active !== 0) this.countWalk(HpmEvent.SecondStageWalks);
      let lo: number;
      let hi: number;
      if (m.pteSize === 8) {
        lo = reader.read64('gpte', level, ppn, offset, be);
        hi = reader.hi;
      } else {
        lo = reader.read32('gpte', level, ppn, offset, be);
        hi = 0;
      }
      if (reader.status !== AccessStatus.Ok) return reader.status === AccessStatus.AccessFault ? Walk.AccessFault : Walk.DataCorruption;

      if (!this.pteWellFormed(lo, hi, m.pteSize)) return Walk.PageFault;
      const leaf = (lo & 0xa) !== 0; // R or X
      if (!leaf) {
        if (level === 0 || (hi & HI_N) !== 0 || hi >>> HI_PBMT_SHIFT !== 0 || (lo & 0xd0) !== 0) return Walk.PageFault;
        table = pteppn(lo, hi, m.pteSize);
        continue;
      }
      // Leaf: permissions. The second stage always checks as user mode (U must be set).
      if (checkPerms) {
        if (access.exec && (lo & 0x8) === 0) return Walk.PageFault;
        if (access.read && (lo & 0x2) === 0) return Walk.PageFault;
        if (access.write && (lo & 0x4) === 0) return Walk.PageFault;
      }
      if ((lo & 0x10) === 0) return Walk.PageFault;
      let leafPpn = pteppn(lo, hi, m.pteSize);
      if ((hi & HI_N) !== 0) {
        if (level !== 0 || (leafPpn & 15) !== 8) return Walk.PageFault; // only 64 KiB NAPOT is defined
      } else if (lowBits(leafPpn, shift) !== 0) {
        return Walk.PageFault; // misaligned superpage
      }
      // Accessed/dirty. An implicit access for a first stage with SADE may set D ahead of a
      // first-stage A/D update (permitted by the specification when the PTE grants write).
      const w = (lo & 0x4) !== 0;
      const a = (lo & 0x40) !== 0;
      let d = (lo & 0x80) !== 0;
      const wantD = w && !d && (access.write || (implicit && this.sade));
      if (!a || wantD) {
        if (!this.gade) {
          // Without hardware updating: an unaccessed page faults, and so does a store to a clean
          // one; an ATS request asking for write just gets no write permission (D stays 0).
          if (!a || (access.write && checkPerms)) return Walk.PageFault;
        } else {
          if (this.hpm.active !== 0) this.countWalk(HpmEvent.SecondStageWalks);
          const newLo = (lo | 0x40 | (wantD ? 0x80 : 0)) >>> 0;
          const st = m.pteSize === 8 ? reader.write64('gpte', level, ppn, offset, newLo, hi, be) : reader.write32('gpte', level, ppn, offset, newLo, be);
          if (st === AccessStatus.AccessFault) return Walk.AccessFault;
          d = d || wantD;
        }
      }
      const napot = (hi & HI_N) !== 0;
      const log2Pages = napot ? 4 : shift;
      if (log2Pages !== 0) leafPpn = alignDown(leafPpn, log2Pages) + lowBits(gppn, log2Pages);
      this.gPpn = leafPpn;
      this.gLog2Pages = log2Pages;
      this.gFlags =
        ((lo & 0x2) !== 0 ? TlbFlag.G_R : 0) | (w ? TlbFlag.G_W : 0) | ((lo & 0x8) !== 0 ? TlbFlag.G_X : 0) | (d ? TlbFlag.G_D : 0);
      this.gPbmt = m.pteSize === 8 ? hi >>> HI_PBMT_SHIFT & 3 : 0;
      return Walk.Ok;
    }
    return Walk.PageFault;
  }

  // ==== first stage =====================================================================

  /**
   * Translates the IOVA (page `vpn`, upper address word `iovaHi`) through the first stage,
   * with every table access translated by the second stage. Results in s* fields; the output
   * page is a guest-physical page when the second stage is active.
   */
  firstStage(vpn: number, iovaHi: number, sxl: boolean): WalkStatus {
    const m = this.s as ModeGeometry;
    this.implicitFault = false;
    this.implicitWrite = false;
    // Canonical check: SXL=0 requires bits 63:VA-1 to be equal; SXL=1 requires bits 63:32 zero.
    if (sxl) {
      if (iovaHi !== 0) return Walk.PageFault;
    } else {
      const top = iovaHi >> (m.inputBits - 1 - 32);
      if (top !== 0 && top !== -1) return Walk.PageFault;
    }
    const access = this.access;
    const sbe = this.sbe;
    const reader = this.reader;
    let table = this.sRoot;
    let globalMapping = false;
    for (let level = m.levels - 1; level >= 0; level--) {
      const shift = level * m.vpnBits;
      const byte = pageBits(vpn, shift, m.indexMask) * m.pteSize;
      // The PTE's address is guest-physical when the second stage is active.
      const st = this.secondStage(table, this.implicitAccess, true, true, sxl);
      if (st !== Walk.Ok) return this.implicitFailure(st, table, byte, false);
      const gPpnOfTable = this.gPpn;
      // An A/D update of this PTE is a store to the table page: the second stage must grant W
      // and hold D=1 (set by the implicit read when GADE=1; with GADE=0 a clean page faults).
      const gWritable = (this.gFlags & (TlbFlag.G_W | TlbFlag.G_D)) === (TlbFlag.G_W | TlbFlag.G_D);
      if (this.hpm.active !== 0) this.countWalk(HpmEvent.FirstStageWalks);
      let lo: number;
      let hi: number;
      if (m.pteSize === 8) {
        lo = reader.read64('pte', level, gPpnOfTable, byte, sbe);
        hi = reader.hi;
      } else {
        lo = reader.read32('pte', level, gPpnOfTable, byte, sbe);
        hi = 0;
      }
      if (reader.status !== AccessStatus.Ok) return reader.status === AccessStatus.AccessFault ? Walk.AccessFault : Walk.DataCorruption;
      if (!this.pteWellFormed(lo, hi, m.pteSize)) return Walk.PageFault;
      const leaf = (lo & 0xa) !== 0;
      if (!leaf) {
        if (level === 0 || (hi & HI_N) !== 0 || hi >>> HI_PBMT_SHIFT !== 0 || (lo & 0xd0) !== 0) return Walk.PageFault;
        globalMapping = globalMapping || (lo & 0x20) !== 0;
        table = pteppn(lo, hi, m.pteSize);
        continue;
      }
      // Leaf permissions for the original access.
      if (this.checkPerms) {
        if (access.exec && (lo & 0x8) === 0) return Walk.PageFault;
        if (access.read && (lo & 0x2) === 0) return Walk.PageFault;
        if (access.write && (lo & 0x4) === 0) return Walk.PageFault;
      }
      const user = (lo & 0x10) !== 0;
      if (!this.supervisor && !user) return Walk.PageFault;
      // Supervisor access to a user page needs SUM; execute there is never allowed. An ATS
      // request is answered with execute denied rather than a fault.
      this.denyExec = false;
      if (this.supervisor && user) {
        if (!this.sum || (access.exec && this.checkPerms)) return Walk.PageFault;
        this.denyExec = access.exec;
      }
      let leafPpn = pteppn(lo, hi, m.pteSize);
      const napot = (hi & HI_N) !== 0;
      if (napot) {
        if (level !== 0 || (leafPpn & 15) !== 8) return Walk.PageFault;
      } else if (lowBits(leafPpn, shift) !== 0) {
        return Walk.PageFault;
      }
      const w = (lo & 0x4) !== 0;
      let d = (lo & 0x80) !== 0;
      const a = (lo & 0x40) !== 0;
      const wantD = access.write && w && !d;
      if ((!a || wantD) && !this.sade) {
        // Without hardware updating: fault, except that an ATS request for write permission on
        // an accessed, clean page is answered without write permission.
        if (!a || this.checkPerms) return Walk.PageFault;
      } else if (!a || wantD) {
        // The A/D update is an implicit write: the second stage must grant write permission.
        if (!gWritable) {
          this.implicitWrite = true;
          return this.implicitFailure(Walk.PageFault, table, byte, true);
        }
        if (this.hpm.active !== 0) this.countWalk(HpmEvent.FirstStageWalks);
        const newLo = (lo | 0x40 | (wantD ? 0x80 : 0)) >>> 0;
        const ws = m.pteSize === 8 ? reader.write64('pte', level, gPpnOfTable, byte, newLo, hi, sbe) : reader.write32('pte', level, gPpnOfTable, byte, newLo, sbe);
        if (ws === AccessStatus.AccessFault) return Walk.AccessFault;
        d = d || wantD;
      }
      const log2Pages = napot ? 4 : shift;
      if (log2Pages !== 0) leafPpn = alignDown(leafPpn, log2Pages) + lowBits(vpn, log2Pages);
      this.sPpn = leafPpn;
      this.sLog2Pages = log2Pages;
      this.sFlags =
        ((lo & 0x2) !== 0 ? TlbFlag.VS_R : 0) |
        (w ? TlbFlag.VS_W : 0) |
        ((lo & 0x8) !== 0 ? TlbFlag.VS_X : 0) |
        (user ? TlbFlag.VS_U : 0) |
        (globalMapping || (lo & 0x20) !== 0 ? TlbFlag.VS_G : 0) |
        (d ? TlbFlag.VS_D : 0);
      this.sPbmt = m.pteSize === 8 ? hi >>> HI_PBMT_SHIFT & 3 : 0;
      return Walk.Ok;
    }
    return Walk.PageFault;
  }

  /** Records where an implicit (first-stage table) access failed in the second stage. */
  private implicitFailure(st: WalkStatus, tableGppn: number, byte: number, write: boolean): WalkStatus {
    this.implicitFault = true;
    this.implicitGpa = tableGppn;
    this.implicitOffset = byte;
    this.implicitWrite = write;
    return st;
  }

  /** Checks V, the reserved W-without-R encodings, reserved bits and PBMT legality. */
  private pteWellFormed(lo: number, hi: number, pteSize: number): boolean {
    if ((lo & 1) === 0) return false;
    if ((lo & 0x6) === 0x4) return false; // W without R (xwr=010 and 110) is reserved
    if (pteSize === 8) {
      if ((hi & HI_RESERVED) !== 0) return false;
      if ((hi & HI_RSW60T59) !== 0 && !this.state.svrsw60t59b) return false;
      const pbmt = (hi >>> HI_PBMT_SHIFT) & 3;
      if (pbmt === 3 || (pbmt !== 0 && !this.state.svpbmt)) return false;
    }
    return true;
  }

  private countWalk(event: number): void {
    this.hpm.count(event, this.pv, this.pid, this.pscv, this.pscid, this.did, this.gv, this.gscid);
  }
}

/** PPN of a PTE given as halves. */
export function pteppn(lo: number, hi: number, pteSize: number): number {
  if (pteSize === 4) return lo >>> 10;
  return (hi & HI_PPN_MASK) * 4194304 + (lo >>> 10);
}
