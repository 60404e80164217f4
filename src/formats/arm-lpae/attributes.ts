// Attribute and permission encodings of VMSAv8-64 Block and Page descriptors (Arm ARM D8.4,
// D8.6): stage-1 AP[2:1] and APTable, stage-2 S2AP and XN, Shareability, stage-2 MemAttr, the
// MAIR_ELx attribute bytes that stage-1 AttrIndx selects, and the Direct-permissions rules that
// turn them into the Arm ARM's PrivRead ... UnprivExecute (as a bit set, `Perm`).

/** Stage-1 AP[2:1] (Table D8-63; one privilege level: AP[1] is RES1, Table D8-62). */
export const Ap = {
  /** Privileged read/write, no unprivileged access. */
  PrivReadWrite: 0,
  /** Read/write at both privilege levels. */
  ReadWrite: 1,
  /** Privileged read-only, no unprivileged access. */
  PrivReadOnly: 2,
  /** Read-only at both privilege levels. */
  ReadOnly: 3,
} as const;

/** Table descriptor APTable[1:0] (Table D8-64): what it removes at subsequent levels. */
export const ApTable = {
  NoEffect: 0,
  /** Removes UnprivRead and UnprivWrite. */
  NoUnprivileged: 1,
  /** Removes UnprivWrite and PrivWrite. */
  ReadOnly: 2,
  /** Removes UnprivRead, UnprivWrite and PrivWrite. */
  PrivReadOnly: 3,
} as const;

/** Stage-2 S2AP[1:0] (Table D8-76). */
export const S2Ap = { None: 0, ReadOnly: 1, WriteOnly: 2, ReadWrite: 3 } as const;

/** Stage-2 XN[1:0] (Tables D8-77, D8-78): without FEAT_XNX only XN[1] (bit 54) counts. */
export const S2Xn = {
  Execute: 0,
  /** FEAT_XNX: no execution at EL1, execution at EL0. */
  PrivExecuteNever: 1,
  ExecuteNever: 2,
  /** FEAT_XNX: execution at EL1, none at EL0. */
  UnprivExecuteNever: 3,
} as const;

/** SH[1:0] (D8.6.2, Table D8-102); 0b01 is reserved. */
export const Shareability = { NonShareable: 0, OuterShareable: 2, InnerShareable: 3 } as const;

/** Stage-2 MemAttr[3:0] values (Table D8-96, FWB disabled). */
export const S2MemAttr = {
  DeviceNGnRnE: 0x0,
  DeviceNGnRE: 0x1,
  DeviceNGRE: 0x2,
  DeviceGRE: 0x3,
  /** Outer and Inner Non-cacheable. */
  NormalNonCacheable: 0x5,
  /** Outer Non-cacheable, Inner Write-Back. */
  NormalInnerWriteBack: 0x7,
  /** Outer and Inner Write-Back Cacheable. */
  NormalWriteBack: 0xf,
} as const;

/** The memory type a stage-2 MemAttr selects: 0b0100 (without FEAT_MTE_PERM), 0b1000 and 0b1100 are reserved. */
export function s2MemAttrType(memAttr: number): 'device' | 'normal' | 'reserved' {
  const m = memAttr & 0xf;
  if (m === 0x4 || m === 0x8 || m === 0xc) return 'reserved';
  return m < 4 ? 'device' : 'normal';
}

/** MAIR_ELx attribute bytes (Attr<n>): Device types have [7:4] = 0; Normal has outer [7:4], inner [3:0]. */
export const MairAttr = {
  DeviceNGnRnE: 0x00,
  DeviceNGnRE: 0x04,
  DeviceNGRE: 0x08,
  DeviceGRE: 0x0c,
  /** Normal, Inner and Outer Non-cacheable. */
  NormalNonCacheable: 0x44,
  /** Normal, Inner and Outer Write-Back non-transient, Read- and Write-Allocate. */
  NormalWriteBack: 0xff,
  /** Normal, Inner Non-cacheable, Outer Write-Back Read/Write-Allocate. */
  NormalInnerNcOuterWriteBack: 0xf4,
} as const;

/** A MAIR value from up to eight attribute bytes, Attr0 first. */
export function mairValue(attrs: readonly number[]): bigint {
  if (attrs.length > 8) throw new RangeError('MAIR holds eight attributes');
  let value = 0n;
  attrs.forEach((a, n) => {
    if (!Number.isInteger(a) || a < 0 || a > 0xff) throw new RangeError(`MAIR attribute ${n} is not a byte: ${a}`);
    value |= BigInt(a) << BigInt(8 * n);
  });
  return value;
}

/** Attr<index> of a MAIR value. */
export function mairAttr(mair: bigint, index: number): number {
  return Number((mair >> BigInt(8 * (index & 7))) & 0xffn);
}

/** Whether a MAIR attribute byte is a Device memory type. */
export function isDeviceMairAttr(attr: number): boolean {
  return (attr & 0xf0) === 0;
}

// ---- permissions --------------------------------------------------------------------------

/** The Arm ARM's permissions of a translation (D8.4.1.2.6, D8.4.2), as bits. */
export const Perm = {
  PrivRead: 1,
  PrivWrite: 2,
  PrivExec: 4,
  UnprivRead: 8,
  UnprivWrite: 16,
  UnprivExec: 32,
} as const;

const PRIV_SHIFT = 0;
const UNPRIV_SHIFT = 3;

/**
 * Whether permissions `perms` allow an access: each of read, write and exec that is asked for
 * must be granted at the access's privilege. An instruction fetch that also needs read
 * permission (as the SMMUv3 requires) asks for both.
 */
export function permits(perms: number, privileged: boolean, read: boolean, write: boolean, exec: boolean): boolean {
  const granted = (perms >>> (privileged ? PRIV_SHIFT : UNPRIV_SHIFT)) & 7;
  const needed = (read ? 1 : 0) | (write ? 2 : 0) | (exec ? 4 : 0);
  return (granted & needed) === needed;
}

/** AP[2:1] after a table's APTable: APTable[0] clears AP[1], APTable[1] sets AP[2] (Table D8-64). */
export function applyApTable(ap: number, apTable: number): number {
  let out = ap;
  if ((apTable & 1) !== 0) out &= ~1;
  if ((apTable & 2) !== 0) out |= 2;
  return out;
}

/**
 * Stage-1 Direct permissions (Tables D8-62, D8-63, D8-65, D8-66). `ap` is the effective AP[2:1]
 * (after APTable), `uxn`/`pxn` the effective UXN (XN with one privilege level) and PXN (after
 * XNTable/PXNTable). With two privilege levels, unprivileged write permission removes privileged
 * execution (R VWLLR). `writeExecuteNever` is SCTLR_ELx.WXN. A writable-clean descriptor (hardware
 * dirty state, DBM=1, AP[2]=1) counts as writable when execute permission is worked out
 * (D8.5.2.2, R RNKLQN).
 */
export function stage1Permissions(ap: number, uxn: boolean, pxn: boolean, singlePrivilegeLevel: boolean, writeExecuteNever: boolean, writableClean: boolean): number {
  const privWrite = (ap & 2) === 0;
  const privWritable = privWrite || writableClean;
  if (singlePrivilegeLevel) {
    const exec = !uxn && !(writeExecuteNever && privWritable);
    return Perm.PrivRead | (privWrite ? Perm.PrivWrite : 0) | (exec ? Perm.PrivExec : 0);
  }
  const unpriv = (ap & 1) !== 0;
  const unprivWritable = unpriv && privWritable;
  const privExec = !pxn && !unprivWritable && !(writeExecuteNever && privWritable);
  const unprivExec = !uxn && !(writeExecuteNever && unprivWritable);
  let perms = Perm.PrivRead;
  if (privWrite) perms |= Perm.PrivWrite;
  if (unpriv) perms |= Perm.UnprivRead;
  if (unpriv && privWrite) perms |= Perm.UnprivWrite;
  if (privExec) perms |= Perm.PrivExec;
  if (unprivExec) perms |= Perm.UnprivExec;
  return perms;
}

/**
 * Stage-2 Direct permissions (Tables D8-76, D8-77, D8-78): S2AP does not tell privilege levels
 * apart; XN[1:0] does with FEAT_XNX, otherwise only XN[1] (bit 54) counts.
 */
export function stage2Permissions(s2ap: number, xn: number, xnx: boolean): number {
  let perms = 0;
  if ((s2ap & 1) !== 0) perms |= Perm.PrivRead | Perm.UnprivRead;
  if ((s2ap & 2) !== 0) perms |= Perm.PrivWrite | Perm.UnprivWrite;
  const x = xnx ? xn & 3 : xn & 2;
  if (x === S2Xn.Execute || x === S2Xn.UnprivExecuteNever) perms |= Perm.PrivExec;
  if (x === S2Xn.Execute || x === S2Xn.PrivExecuteNever) perms |= Perm.UnprivExec;
  return perms;
}
