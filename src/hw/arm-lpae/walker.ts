// The VMSAv8-64 translation table walk (Arm ARM D8.2 "Translation process", D8.3 descriptor
// formats, D8.5 hardware updates, D8.15.4 fault-checking sequence), as a hardware model does it:
// one translation stage per walk, for the SMMUv3 and IPMMU-VMSA models. The caller owns
// everything around the walk: how a descriptor address becomes a memory access (a physical read,
// or an IPA it translates through stage 2 first), TLBs, permission checks (whose rules differ
// between a CPU and an SMMU; `permits` applies the common ones) and fault records.
//
// Addresses travel as numbers: input addresses as 4 KiB page numbers (below 2^40 for 52-bit
// inputs, exact doubles), byte addresses as two 32-bit halves at the interfaces and as exact
// doubles (below 2^53) inside. A walk allocates nothing: results are left in fields.
//
// Modelled: the 4 KiB, 16 KiB and 64 KiB granules; stage-2 concatenated initial tables; 48-bit
// addresses everywhere and 52-bit ones with the 64 KiB granule (FEAT_LVA, FEAT_LPA); big-endian
// descriptors; hierarchical permissions (APTable, UXNTable/XNTable, PXNTable) and HPD; NSTable;
// hardware Access flag and dirty state updates (FEAT_HAFDBS) by compare-and-swap. The Contiguous
// bit is decoded and reported but does not change the translation (a TLB may use it as a hint,
// D8.7.1; this walk reads the descriptor it needs either way). Not modelled: FEAT_LPA2 (TCR.DS,
// 52-bit 4 KiB / 16 KiB formats, level -1), VMSAv9-128, Indirect and Overlay permissions,
// hardware-managed Table descriptor Access flags (FEAT_HAFT), PBHA.

import { applyApTable, blockAllowed, DescHi, DescLo, FINAL_LEVEL as LEAF_LEVEL, MAX_CONCATENATION_BITS, Perm, permits, stage1Permissions, stage2Permissions, type GranuleLog2 } from '../../formats/arm-lpae/index.js';
import { bswap32 } from '../../sim/u64.js';

export interface VmsaWalkConfig {
  stage: 1 | 2;
  granuleLog2: GranuleLog2;
  /** Input address size in bits: 64 - TxSZ. */
  inputBits: number;
  /**
   * Level of the first lookup (0..3). Level -1 (FEAT_LPA2) is not modelled: a config asking for
   * it, or one whose level does not fit `inputBits`, walks into a level 0 Translation fault.
   */
  startLevel: number;
  /** Stage 2: number of concatenated tables at the start level (1 = none). Stage 1: 1. */
  concatenated: number;
  /** Output address size in bits (the effective PA/IPA size: IPS/PS clamped to the implementation's OAS). */
  outputBits: number;
  /** Descriptors are big-endian (CD.ENDI / STE.S2ENDI / SCTLR.EE). */
  bigEndian: boolean;
  /** Hardware update of the access flag (HA) and of dirty state (HD, DBM). */
  hardwareAccessFlag: boolean;
  hardwareDirty: boolean;
  /** Stage 1 only: hierarchical permissions disabled (HPD). */
  hierarchicalPermissionsDisabled: boolean;
  /**
   * FEAT_LPA is implemented: with the 64 KiB granule, descriptor bits [15:12] hold address bits
   * [51:48] (then checked against `outputBits`) and level 1 holds 4 TiB blocks. Default false:
   * those bits are RES0 and ignored, and a level-1 block descriptor is invalid.
   */
  largePhysicalAddresses?: boolean;
  /**
   * Stage 1 only: a translation regime with one privilege level (EL2, EL3; an SMMUv3 StreamWorld
   * of EL2 or EL3): AP[1] is RES1, bit 54 is XN, PXN and nG do not exist. Default false: the
   * EL1&0 regime, with unprivileged (EL0) and privileged (EL1) permissions.
   */
  singlePrivilegeLevel?: boolean;
  /** Stage 1 only: SCTLR_ELx.WXN (SMMUv3 CD.WXN), writable memory is execute-never. Default false. */
  writeExecuteNever?: boolean;
  /** Stage 2 only: FEAT_XNX, XN[1:0] tell EL1 and EL0 execution apart. Default false: bit 54 alone. */
  xnx?: boolean;
}

/**
 * How the walker reads and atomically updates descriptors; the caller decides what an address
 * means (physical, or an IPA that the caller translates through stage 2 for nested walks) and
 * counts/traces accesses. A caller whose access failed for a reason of its own (a stage-2 fault
 * on a stage-1 table) returns false and reports that fault instead of the walker's
 * ExternalAbort: it is the one that knows.
 */
export interface DescriptorMemory {
  /**
   * Reads the 8-byte descriptor at byte address (addressHi * 2^32 + addressLo); returns false on
   * an external abort. On success leaves the raw little-endian-as-stored halves in `lo`/`hi`
   * (the walker byte-swaps when bigEndian).
   */
  read64(addressHi: number, addressLo: number): boolean;
  lo: number;
  hi: number;
  /**
   * Compare-and-swap of the 8-byte descriptor (hardware AF/dirty updates), values as stored;
   * returns false on an external abort; sets `swapped` false if memory no longer held the
   * expected value.
   */
  cas64(addressHi: number, addressLo: number, expectLo: number, expectHi: number, newLo: number, newHi: number): boolean;
  swapped: boolean;
}

export const VmsaFault = { None: 0, Translation: 1, AddressSize: 2, AccessFlag: 3, Permission: 4, ExternalAbort: 5 } as const;
export type VmsaFaultValue = (typeof VmsaFault)[keyof typeof VmsaFault];

// A non-exported copy for the walk: V8 folds a module constant into optimized code, not an
// exported (or imported) binding.
const Fault = VmsaFault;

/** The Arm ARM's names of the faults, for messages and traces. */
export const VMSA_FAULT_NAMES: readonly string[] = ['none', 'Translation fault', 'Address size fault', 'Access flag fault', 'Permission fault', 'Synchronous External abort on translation table walk'];

const TWO_32 = 4294967296;
const INV_TWO_32 = 2 ** -32;
/** 2^n and 2^-n, n = 0..64, as exact doubles. */
const POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** n);
const INV_POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** -n);
/** 2^n - 1 for n = 0..31, as 32-bit integers. */
const LOW_MASK = Int32Array.from({ length: 32 }, (_, n) => 2 ** n - 1);

/** pn >> shift (pn a non-negative integer below 2^53). */
function shiftDown(pn: number, shift: number): number {
  return shift < 32 && pn < TWO_32 ? pn >>> shift : Math.floor(pn * INV_POW2[shift]);
}

// The descriptor fields and the last level as module constants, which the compiler folds (it
// does not fold imported bindings, nor an imported object's properties).
const FINAL_LEVEL = LEAF_LEVEL;
const { AF, AP2, AP_MASK, AP_SHIFT, ATTR_INDX_MASK, ATTR_INDX_SHIFT, MEM_ATTR_MASK, MEM_ATTR_SHIFT, NG, NS, OA_51_48_MASK, OA_51_48_SHIFT, SH_MASK, SH_SHIFT, TABLE_OR_PAGE, VALID } = DescLo;
const { ADDRESS_MASK, AP_TABLE_MASK, AP_TABLE_SHIFT, CONTIGUOUS, DBM, NS_TABLE, PXN, PXN_TABLE, S2_XN_MASK, S2_XN_SHIFT, UXN, XN_TABLE } = DescHi;

export class VmsaWalker {
  /**
   * How many times a walk re-reads a descriptor whose hardware update found it changed (the
   * compare-and-swap failed) before it gives up with an ExternalAbort: the update must use what
   * memory now holds (D8.5.2.1, I YZSVV), but a descriptor that never holds still cannot be
   * updated. With one thread of simulation a second try always succeeds.
   */
  static readonly MAX_UPDATE_RETRIES = 4;

  // ---- results of the last walk (valid until the next) ---------------------------------

  /** VmsaFault of the last walk. */
  fault: number = Fault.None;
  /**
   * Level at which the walk stopped: the faulting lookup, or the leaf's level. Faults found
   * before the first lookup (input address out of range, table base beyond the output size, a
   * configuration that cannot be walked) are level 0 whatever the start level (D8.1.9, D8.2.3,
   * D8.15.4.2).
   */
  faultLevel = 0;
  /**
   * Address of the descriptor that faulted, or of the leaf (for fault records and traces), as
   * halves. For a fault found before the first lookup: the start-level table base.
   */
  descriptorAddressHi = 0;
  descriptorAddressLo = 0;
  /** Output address of the 4 KiB page containing the input, as a page number (address / 4096). */
  outputPage = 0;
  /** log2 of the leaf's size in bytes (12 for a 4 KiB page, 21 for a 2 MiB block, ...). */
  leafLog2 = 0;
  /** The leaf's lookup level. */
  leafLevel = 0;
  /** The leaf descriptor's halves (byte-swapped when bigEndian; after any hardware update). */
  leafLo = 0;
  leafHi = 0;
  /**
   * Perm bits this stage grants, after hierarchical controls and any dirty-state update. Stage 1:
   * Privileged (EL1) and Unprivileged (EL0) read, write and execute. Stage 2: S2AP grants read
   * and write at both privileges alike; XN (XN[1:0] with FEAT_XNX) grants execute.
   */
  permissions = 0;
  /** Stage 1 AttrIndx[2:0] (the MAIR attribute the caller looks up). */
  attrIndex = 0;
  /** Stage 2 MemAttr[3:0]. */
  memAttr = 0;
  /** SH[1:0]. */
  shareability = 0;
  /** Stage 1 nG (two privilege levels only). */
  notGlobal = false;
  /** The Contiguous bit: a TLB hint; the translation does not depend on it. */
  contiguous = false;
  /** Stage 1: the output is Non-secure (NS, or NSTable on the way down; meaningful for Secure streams). */
  nonSecure = false;
  /** The descriptor's DBM bit. */
  dirtyBitModifier = false;
  /**
   * The leaf is writable-clean (D8.5.2.1): hardware dirty management is on, DBM is set, and only
   * AP[2] (stage 1; APTable not forbidding writes) or S2AP[1] == 0 (stage 2) withholds write
   * permission. A write must walk with `write` set to make it writable-dirty.
   */
  writableClean = false;
  /** The last walk set AF / made the leaf writable-dirty. */
  accessFlagUpdated = false;
  dirtyStateUpdated = false;
  /** Descriptor reads and compare-and-swaps the last walk made. */
  descriptorReads = 0;
  descriptorUpdates = 0;

  /**
   * Walks the input address of 4 KiB page `inputPage` (input address / 4096; the offset within
   * the page never takes part in a walk) from the table at byte address `tableAddressHi:Lo`
   * (TTBR / CD.TTBx / STE.S2TTB; bits below the initial table's size are ignored, as the table
   * is aligned to it). Returns the fault (also left in `fault`), VmsaFault.None on success with
   * the results in fields. For the upper VA range (TTBR1, CD.TTB1) the caller checks that the
   * address bits above `inputBits` are all ones and passes the page number of the low
   * `inputBits` bits; address tagging (TBI) is the caller's too.
   *
   * Faults, in the order of D8.15.4: Translation (input beyond `inputBits`, at level 0; invalid
   * or reserved descriptors, blocks where the granule has none), AddressSize (the table base, a
   * next-level table address or an output address beyond `outputBits`), ExternalAbort (a read or
   * update `memory` refused), AccessFlag (AF = 0 without `hardwareAccessFlag`; with it, AF is set
   * by compare-and-swap). Permission faults are the caller's (`permits`): SMMU and CPU rules
   * differ.
   *
   * `write` asks for a dirty-state update: with `hardwareDirty`, a writable-clean leaf becomes
   * writable-dirty (stage 1 clears AP[2], stage 2 sets S2AP[1]) when that makes the write
   * permitted at the access's privilege (`privileged`, stage 1 only: AP[1] must grant EL0
   * access to an unprivileged write), R NSXRD. Both updates go in one compare-and-swap.
   */
  walk(config: VmsaWalkConfig, memory: DescriptorMemory, tableAddressHi: number, tableAddressLo: number, inputPage: number, write: boolean, privileged = true): number {
    this.fault = Fault.None;
    this.faultLevel = 0;
    this.accessFlagUpdated = false;
    this.dirtyStateUpdated = false;
    this.writableClean = false;
    this.descriptorReads = 0;
    this.descriptorUpdates = 0;

    const g = config.granuleLog2;
    const stride = g - 3;
    const start = config.startLevel;
    const stage1 = config.stage === 1;
    const lpa = g === 16 && config.largePhysicalAddresses === true;
    const tableBase = tableAddressHi * TWO_32 + (tableAddressLo >>> 0);

    // A configuration the caller should have refused cannot be walked (AArch64.S2InconsistentSL
    // and its stage-1 equivalent: a level 0 Translation fault).
    const startBits = config.inputBits - (g + (FINAL_LEVEL - start) * stride);
    const maxStartBits = stride + (stage1 ? 0 : MAX_CONCATENATION_BITS);
    if (
      (start | 0) !== start ||
      start < 0 ||
      start > FINAL_LEVEL ||
      startBits < 1 ||
      startBits > maxStartBits ||
      config.concatenated !== (startBits > stride ? POW2[startBits - stride] : 1) ||
      config.inputBits > 52 ||
      config.outputBits > 52
    ) {
      return this.stopAt(Fault.Translation, tableBase);
    }
    // An input address beyond the configured size: a level 0 Translation fault (D8.1.9).
    if (!(inputPage >= 0 && inputPage < POW2[config.inputBits - 12])) return this.stopAt(Fault.Translation, tableBase);
    const alignedBase = Math.floor(tableBase * INV_POW2[startBits + 3]) * POW2[startBits + 3];
    // A table base beyond the output size: an Address size fault at level 0 (D8.2.3).
    if (alignedBase >= POW2[config.outputBits]) return this.stopAt(Fault.AddressSize, alignedBase);

    // Table addresses as halves from here on (integer arithmetic, no rounding): a table is
    // aligned to its size, so base + index * 8 never carries into the high half.
    // The high half is below 2^20 here: a 32-bit integer (`| 0`), as nextHi below, so that the
    // compiler keeps it one.
    let baseHi = Math.floor(alignedBase * INV_TWO_32) | 0;
    let baseLo = alignedBase - baseHi * TWO_32;
    const bigEndian = config.bigEndian;
    const outputLimit = POW2[config.outputBits];
    // The output limit as halves: an address is beyond it when hi > limitHi, or hi == limitHi and lo >= limitLo.
    const limitHi = config.outputBits >= 32 ? POW2[config.outputBits - 32] : 0;
    const limitLo = config.outputBits >= 32 ? 0 : POW2[config.outputBits];
    let level = start;
    let width = startBits;
    let apTable = 0;
    let xnTable = false;
    let pxnTable = false;
    let nsTable = false;
    let retries = 0;
    for (;;) {
      const shift = g + (FINAL_LEVEL - level) * stride - 12;
      const index = shiftDown(inputPage, shift) & LOW_MASK[width];
      const addressHi = baseHi;
      const addressLo = baseLo + index * 8;
      this.descriptorAddressHi = addressHi;
      this.descriptorAddressLo = addressLo;
      this.faultLevel = level;
      this.descriptorReads++;
      if (!memory.read64(addressHi, addressLo)) return this.stop(Fault.ExternalAbort, level);
      const rawLo = memory.lo >>> 0;
      const rawHi = memory.hi >>> 0;
      let lo = bigEndian ? bswap32(rawHi) : rawLo;
      const hi = bigEndian ? bswap32(rawLo) : rawHi;

      if ((lo & VALID) === 0) return this.stop(Fault.Translation, level);
      if (level < FINAL_LEVEL && (lo & TABLE_OR_PAGE) !== 0) {
        // Table descriptor: the next-level table address, bits [47:granule] (and [51:48]).
        let nextHi = hi & ADDRESS_MASK;
        if (lpa) nextHi |= ((lo & OA_51_48_MASK) >>> OA_51_48_SHIFT) << 16;
        const nextLo = (lo & ~LOW_MASK[g]) >>> 0;
        if (nextHi > limitHi || (nextHi === limitHi && nextLo >= limitLo)) return this.stop(Fault.AddressSize, level);
        if (stage1) {
          // Stage-2 table descriptors have these bits RES0.
          if ((hi & NS_TABLE) !== 0) nsTable = true;
          if (!config.hierarchicalPermissionsDisabled) {
            apTable |= (hi & AP_TABLE_MASK) >>> AP_TABLE_SHIFT;
            if ((hi & XN_TABLE) !== 0) xnTable = true;
            if ((hi & PXN_TABLE) !== 0) pxnTable = true;
          }
        }
        baseHi = nextHi;
        baseLo = nextLo;
        level++;
        width = stride;
        continue;
      }
      // A block where the granule permits none, or 0b01 at level 3: invalid (Table D8-48).
      if (level < FINAL_LEVEL ? !blockAllowed(g, level, lpa) : (lo & TABLE_OR_PAGE) === 0) return this.stop(Fault.Translation, level);

      // Block or Page descriptor: the output address, bits [47:leafShift] (and [51:48]).
      const leafShift = g + (FINAL_LEVEL - level) * stride;
      let oa = leafShift < 32 ? (hi & ADDRESS_MASK) * TWO_32 + (lo >>> leafShift) * POW2[leafShift] : ((hi & ADDRESS_MASK) >>> (leafShift - 32)) * POW2[leafShift];
      if (lpa) oa += ((lo & OA_51_48_MASK) >>> OA_51_48_SHIFT) * POW2[48];
      if (oa >= outputLimit) return this.stop(Fault.AddressSize, level);

      // Dirty state (D8.5.2.1): writable-clean is write permission withheld only by AP[2] / S2AP[1].
      const dbm = (hi & DBM) !== 0;
      let writableClean = false;
      if (config.hardwareDirty && dbm) writableClean = stage1 ? (lo & AP2) !== 0 && (apTable & 2) === 0 : (lo & AP2) === 0;
      let newLo = lo;
      let dirtyUpdate = false;
      if (write && writableClean) {
        const unprivOk = config.singlePrivilegeLevel === true || privileged || (applyApTable((lo & AP_MASK) >>> AP_SHIFT, apTable) & 1) !== 0;
        if (!stage1 || unprivOk) {
          newLo = stage1 ? (lo & ~AP2) >>> 0 : (lo | AP2) >>> 0;
          dirtyUpdate = true;
        }
      }
      // Access flag (D8.5.1): a fault without hardware management; otherwise set, in the same
      // atomic update as the dirty state (R PRHKD).
      const accessed = (lo & AF) !== 0;
      if (!accessed) {
        if (!config.hardwareAccessFlag) return this.stop(Fault.AccessFlag, level);
        newLo = (newLo | AF) >>> 0;
      }
      if (newLo !== lo) {
        this.descriptorUpdates++;
        const storeLo = bigEndian ? bswap32(hi) : newLo;
        const storeHi = bigEndian ? bswap32(newLo) : hi;
        if (!memory.cas64(addressHi, addressLo, rawLo, rawHi, storeLo, storeHi)) return this.stop(Fault.ExternalAbort, level);
        if (!memory.swapped) {
          // Memory changed under the update: decide again from what it holds now.
          if (++retries > VmsaWalker.MAX_UPDATE_RETRIES) return this.stop(Fault.ExternalAbort, level);
          continue;
        }
        this.accessFlagUpdated = !accessed;
        this.dirtyStateUpdated = dirtyUpdate;
        if (dirtyUpdate) writableClean = false;
        lo = newLo;
      }

      this.leafLevel = level;
      this.leafLog2 = leafShift;
      this.leafLo = lo;
      this.leafHi = hi;
      const leafPages = leafShift - 12;
      const pagesIn = leafPages < 32 && inputPage < TWO_32 ? inputPage & LOW_MASK[leafPages] : inputPage - Math.floor(inputPage * INV_POW2[leafPages]) * POW2[leafPages];
      this.outputPage = oa * INV_POW2[12] + pagesIn;
      this.writableClean = writableClean;
      this.dirtyBitModifier = dbm;
      this.shareability = (lo & SH_MASK) >>> SH_SHIFT;
      this.contiguous = (hi & CONTIGUOUS) !== 0;
      if (stage1) {
        const single = config.singlePrivilegeLevel === true;
        const ap = applyApTable((lo & AP_MASK) >>> AP_SHIFT, apTable);
        const uxn = (hi & UXN) !== 0 || xnTable;
        const pxn = (hi & PXN) !== 0 || pxnTable;
        this.permissions = stage1Permissions(ap, uxn, pxn, single, config.writeExecuteNever === true, writableClean);
        this.attrIndex = (lo & ATTR_INDX_MASK) >>> ATTR_INDX_SHIFT;
        this.memAttr = 0;
        this.notGlobal = !single && (lo & NG) !== 0;
        this.nonSecure = nsTable || (lo & NS) !== 0;
      } else {
        this.permissions = stage2Permissions((lo & AP_MASK) >>> AP_SHIFT, (hi & S2_XN_MASK) >>> S2_XN_SHIFT, config.xnx === true);
        this.attrIndex = 0;
        this.memAttr = (lo & MEM_ATTR_MASK) >>> MEM_ATTR_SHIFT;
        this.notGlobal = false;
        this.nonSecure = false;
      }
      return Fault.None;
    }
  }

  /** Whether the last successful walk's permissions allow the access (see `Perm`, `permits`). */
  permits(privileged: boolean, read: boolean, write: boolean, exec: boolean): boolean {
    return permits(this.permissions, privileged, read, write, exec);
  }

  /** Stage 2: S2AP grants read. */
  get s2Read(): boolean {
    return (this.permissions & Perm.PrivRead) !== 0;
  }

  /** Stage 2: S2AP grants write. */
  get s2Write(): boolean {
    return (this.permissions & Perm.PrivWrite) !== 0;
  }

  /** Stage 2: XN permits execution at both EL1 and EL0 (with FEAT_XNX, `permits` tells them apart). */
  get s2Exec(): boolean {
    return (this.permissions & (Perm.PrivExec | Perm.UnprivExec)) === (Perm.PrivExec | Perm.UnprivExec);
  }

  /** A fault found before the first lookup: level 0, reported at the table base `address`. */
  private stopAt(fault: number, address: number): number {
    const hi = Math.floor(address * INV_TWO_32);
    this.descriptorAddressHi = hi;
    this.descriptorAddressLo = address - hi * TWO_32;
    return this.stop(fault, 0);
  }

  private stop(fault: number, level: number): number {
    this.fault = fault;
    this.faultLevel = level;
    return fault;
  }
}
