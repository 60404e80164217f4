// The memory-mapped register file (specification chapter "Memory-mapped register interface"):
// decodes offsets, enforces access rules (4 or 8 bytes, naturally aligned, within one
// register; otherwise reads return the abort value and writes are dropped), gives 8-byte
// registers their 4-byte halves, and forwards to the unit that owns each register.

import { Reg } from '../../formats/riscv-iommu/registers.js';
import type { CommandQueue } from './command-queue.js';
import type { DebugInterface } from './debug-interface.js';
import type { FaultQueue } from './fault-queue.js';
import type { Hpm } from './hpm.js';
import type { Interrupts } from './interrupts.js';
import type { PageRequestQueue } from './page-request-queue.js';
import type { IommuState } from './state.js';

/** Width of the register occupying each 4-byte slot: 4, 8 (either half), or 0 (reserved). */
const SLOT_WIDTH = new Uint8Array(1024);
(() => {
  const r4: number[] = [Reg.fctl, Reg.cqh, Reg.cqt, Reg.fqh, Reg.fqt, Reg.pqh, Reg.pqt, Reg.cqcsr, Reg.fqcsr, Reg.pqcsr, Reg.ipsr, Reg.iocountovf, Reg.iocountinh, Reg.iommu_qosid];
  const r8: number[] = [Reg.capabilities, Reg.ddtp, Reg.cqb, Reg.fqb, Reg.pqb, Reg.iohpmcycles, Reg.tr_req_iova, Reg.tr_req_ctl, Reg.tr_response, Reg.icvec];
  for (let n = 0; n < 31; n++) r8.push(Reg.iohpmctr1 + 8 * n, Reg.iohpmevt1 + 8 * n);
  for (let v = 0; v < 16; v++) {
    r8.push(Reg.msi_cfg_tbl + 16 * v);
    r4.push(Reg.msi_cfg_tbl + 16 * v + 8, Reg.msi_cfg_tbl + 16 * v + 12);
  }
  // The 4-byte slot at offset 12 is designated for custom use: a register of its own (reads 0).
  r4.push(12);
  for (const o of r4) SLOT_WIDTH[o / 4] = 4;
  for (const o of r8) SLOT_WIDTH[o / 4] = SLOT_WIDTH[o / 4 + 1] = 8;
})();

/** Whether `offset` is a valid 4-byte access to a 4-byte register (validate(offset, 4) === 4). */
function isWordRegister(offset: number): boolean {
  // (offset >>> 0) === offset: an integer in [0, 2^32); the rest as validate() checks it
  return offset >>> 0 === offset && offset <= 4092 && (offset & 3) === 0 && SLOT_WIDTH[offset >>> 2] === 4;
}

export interface RegisterUnits {
  state: IommuState;
  cq: CommandQueue;
  fq: FaultQueue;
  pq: PageRequestQueue;
  interrupts: Interrupts;
  hpm: Hpm;
  debug: DebugInterface;
  /** ddtp writes (mode changes) and fctl writes are handled by the IOMMU itself. */
  writeDdtp(value: bigint): void;
  writeFctl(value: number): void;
  readDdtp(): bigint;
  readFctl(): number;
}

export class RegisterFile {
  /** Accesses that were aborted (bad size, misaligned, spanning registers, out of range). */
  aborted = 0;

  constructor(
    private readonly u: RegisterUnits,
    private readonly abortValue: bigint,
  ) {}

  read(offset: number, size: number): bigint {
    const kind = this.validate(offset, size);
    if (kind < 0) {
      this.aborted++;
      // The abort value, truncated to the bytes the access asked for (1, 2, 4 or 8).
      return size >= 8 || !(size > 0) ? this.abortValue : this.abortValue & ((1n << BigInt(8 * Math.ceil(size))) - 1n);
    }
    if (kind === 0) return 0n; // reserved and custom space reads as zero
    if (size === 8) return this.read64(offset);
    if (kind === 4) return BigInt(this.read32(offset) >>> 0);
    const base = offset & ~7;
    const v = this.read64(base);
    return offset === base ? v & 0xffffffffn : v >> 32n;
  }

  write(offset: number, size: number, value: bigint): void {
    const kind = this.validate(offset, size);
    if (kind < 0) {
      this.aborted++;
      return;
    }
    if (kind === 0) return;
    if (size === 8) return this.write64(offset, value & 0xffff_ffff_ffff_ffffn);
    const v32 = value & 0xffffffffn;
    if (kind === 4) return this.write32(offset, Number(v32));
    // A 4-byte write to half of an 8-byte register updates that half, keeping the other.
    const base = offset & ~7;
    const old = this.read64(base);
    const merged = offset === base ? (old & 0xffffffff00000000n) | v32 : (old & 0xffffffffn) | (v32 << 32n);
    this.write64(base, merged);
  }

  /** A 4-byte read without BigInt (the same semantics as read(offset, 4)). */
  readWord(offset: number): number {
    if (isWordRegister(offset)) return this.read32(offset) >>> 0;
    return Number(this.read(offset, 4));
  }

  /** A 4-byte write without BigInt (the same semantics as write(offset, 4, value)). */
  writeWord(offset: number, value: number): void {
    if (isWordRegister(offset)) return this.write32(offset, value >>> 0);
    this.write(offset, 4, BigInt(value >>> 0));
  }

  /** -1 invalid access; 0 reserved space; 4 or 8: width of the register addressed. */
  private validate(offset: number, size: number): number {
    if ((size !== 4 && size !== 8) || !Number.isInteger(offset) || offset < 0 || offset + size > 4096 || offset % size !== 0) return -1;
    const w = SLOT_WIDTH[offset >>> 2];
    if (size === 4) return w;
    const w2 = SLOT_WIDTH[(offset >>> 2) + 1];
    if (w === 8 && w2 === 8) return 8;
    if (w === 0 && w2 === 0) return 0;
    return -1; // an 8-byte access spanning two registers, or a register and reserved space
  }

  // ---- 8-byte registers -------------------------------------------------------------------

  /** The current value of an 8-byte register (also used to merge 4-byte writes). */
  private read64(offset: number): bigint {
    const u = this.u;
    const st = u.state;
    switch (offset) {
      case Reg.capabilities:
        return st.capabilities;
      case Reg.ddtp:
        return u.readDdtp();
      case Reg.cqb:
        return u.cq.q.readBase();
      case Reg.fqb:
        return u.fq.q.readBase();
      case Reg.pqb:
        return st.ats ? u.pq.q.readBase() : 0n;
      case Reg.iohpmcycles:
        return st.hpm ? u.hpm.readCyclesRegister() : 0n;
      case Reg.tr_req_iova:
        return st.dbg ? u.debug.iova : 0n;
      case Reg.tr_req_ctl:
        return st.dbg ? u.debug.ctl : 0n;
      case Reg.tr_response:
        return st.dbg ? u.debug.response : 0n;
      case Reg.icvec:
        return u.interrupts.readIcvec();
    }
    if (offset >= Reg.iohpmctr1 && offset < Reg.iohpmevt1) return st.hpm ? u.hpm.readCounter((offset - Reg.iohpmctr1) / 8 + 1) : 0n;
    if (offset >= Reg.iohpmevt1 && offset < Reg.tr_req_iova) return st.hpm ? u.hpm.readSelector((offset - Reg.iohpmevt1) / 8 + 1) : 0n;
    if (offset >= Reg.msi_cfg_tbl && offset < Reg.end) {
      const v = (offset - Reg.msi_cfg_tbl) / 16;
      return u.interrupts.hasMsiEntry(v) ? u.interrupts.msiTable[v].address : 0n;
    }
    return 0n;
  }

  private write64(offset: number, value: bigint): void {
    const u = this.u;
    const st = u.state;
    switch (offset) {
      case Reg.capabilities:
      case Reg.tr_response:
        return; // read-only
      case Reg.ddtp:
        return u.writeDdtp(value);
      case Reg.cqb:
        return u.cq.writeBase(value);
      case Reg.fqb:
        return u.fq.writeBase(value);
      case Reg.pqb:
        return u.pq.writeBase(value);
      case Reg.iohpmcycles:
        return u.hpm.writeCyclesRegister(value);
      case Reg.tr_req_iova:
        return u.debug.writeIova(value);
      case Reg.tr_req_ctl:
        return u.debug.writeCtl(value);
      case Reg.icvec:
        return u.interrupts.writeIcvec(value);
    }
    if (offset >= Reg.iohpmctr1 && offset < Reg.iohpmevt1) {
      if (st.hpm) u.hpm.writeCounter((offset - Reg.iohpmctr1) / 8 + 1, value);
      return;
    }
    if (offset >= Reg.iohpmevt1 && offset < Reg.tr_req_iova) {
      if (st.hpm) u.hpm.writeSelector((offset - Reg.iohpmevt1) / 8 + 1, value);
      return;
    }
    if (offset >= Reg.msi_cfg_tbl && offset < Reg.end) u.interrupts.writeMsiAddress((offset - Reg.msi_cfg_tbl) / 16, value);
  }

  // ---- 4-byte registers -------------------------------------------------------------------

  private read32(offset: number): number {
    const u = this.u;
    const st = u.state;
    switch (offset) {
      case Reg.fctl:
        return u.readFctl();
      case Reg.cqh:
        return u.cq.q.head;
      case Reg.cqt:
        return u.cq.q.tail;
      case Reg.fqh:
        return u.fq.q.head;
      case Reg.fqt:
        return u.fq.q.tail;
      case Reg.pqh:
        return st.ats ? u.pq.q.head : 0;
      case Reg.pqt:
        return st.ats ? u.pq.q.tail : 0;
      case Reg.cqcsr:
        return u.cq.readCsr();
      case Reg.fqcsr:
        return u.fq.readCsr();
      case Reg.pqcsr:
        return u.pq.readCsr();
      case Reg.ipsr:
        return u.interrupts.ipsr;
      case Reg.iocountovf:
        return st.hpm ? u.hpm.readOverflow() : 0;
      case Reg.iocountinh:
        return st.hpm ? u.hpm.readInhibit() : 0;
      case Reg.iommu_qosid:
        return st.qosid ? st.rcid | (st.mcid << 16) : 0;
    }
    if (offset >= Reg.msi_cfg_tbl && offset < Reg.end) {
      const v = (offset - Reg.msi_cfg_tbl) >>> 4;
      if (!u.interrupts.hasMsiEntry(v)) return 0;
      const e = u.interrupts.msiTable[v];
      return (offset & 0xf) === 8 ? e.data : e.masked ? 1 : 0;
    }
    return 0; // custom slot at 12
  }

  private write32(offset: number, value: number): void {
    const u = this.u;
    const st = u.state;
    switch (offset) {
      case Reg.fctl:
        return u.writeFctl(value);
      case Reg.cqt:
        return u.cq.writeTail(value);
      case Reg.fqh:
        return u.fq.writeHead(value);
      case Reg.pqh:
        return u.pq.writeHead(value);
      case Reg.cqcsr:
        return u.cq.writeCsr(value);
      case Reg.fqcsr:
        return u.fq.writeCsr(value);
      case Reg.pqcsr:
        return u.pq.writeCsr(value);
      case Reg.ipsr:
        return u.interrupts.writeIpsr(value);
      case Reg.iocountinh:
        return u.hpm.writeInhibit(value);
      case Reg.iommu_qosid:
        if (st.qosid) {
          st.rcid = value & 0xfff & (2 ** st.params.rcidBits - 1);
          st.mcid = (value >>> 16) & 0xfff & (2 ** st.params.mcidBits - 1);
        }
        return;
    }
    if (offset >= Reg.msi_cfg_tbl && offset < Reg.end) {
      const v = (offset - Reg.msi_cfg_tbl) >>> 4;
      if ((offset & 0xf) === 8) u.interrupts.writeMsiData(v, value);
      else u.interrupts.writeMsiVectorControl(v, value);
    }
    // cqh, fqt, pqt, iocountovf and the custom slot are read-only
  }
}
