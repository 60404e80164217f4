// A verification bench for the IPMMU-VMSA model, driven only through its registers and memory:
// a root IPMMU-MM and two cache IPMMUs on a bus, stage-2 (or stage-1) tables built in RAM by the
// software builder (src/os/io-pgtable), and helpers that program a context and micro-TLBs the
// way the Xen and Linux drivers do.

import { IpmmuVmsa, type IpmmuVmsaOptions } from '../../../src/hw/ipmmu-vmsa/index.js';
import {
  ContextReg,
  contextRegisterOffset,
  ControlReg,
  controlRegisterOffset,
  Imctr,
  Imsauxctlr,
  Imttbcr,
  ImttbcrSl0,
  Imuctr,
  imuasidOffset,
  imuctrOffset,
} from '../../../src/formats/ipmmu-vmsa/index.js';
import { IotlbGather, Prot } from '../../../src/os/core/types.js';
import { ArmLpaeIoPgtable, type ArmLpaeFormat } from '../../../src/os/io-pgtable/arm-lpae.js';
import { PageAllocator } from '../../../src/os/kernel/page-allocator.js';
import { MmioBus } from '../../../src/sim/mmio.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';

export const RAM_BASE = 0x4000_0000n;
export const RAM_SIZE = 0x1000_0000n;
export const ROOT_BASE = 0xe67b_0000n;
export const CACHE0_BASE = 0xe674_0000n;
export const CACHE1_BASE = 0xe657_0000n;

export class Bench {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory, new MmioBus());
  readonly pages = new PageAllocator(this.memory);
  readonly root: IpmmuVmsa;
  readonly cache0: IpmmuVmsa;
  readonly cache1: IpmmuVmsa;

  constructor(options: IpmmuVmsaOptions = {}) {
    this.pages.addRange(RAM_BASE, RAM_SIZE);
    this.root = new IpmmuVmsa({ ...options, name: 'ipmmu_mm', memory: this.memory, bus: this.bus });
    this.cache0 = new IpmmuVmsa({ ...options, name: 'ipmmu_ds0', memory: this.memory, bus: this.bus, root: this.root });
    this.cache1 = new IpmmuVmsa({ ...options, name: 'ipmmu_hc', memory: this.memory, bus: this.bus, root: this.root });
    this.bus.mmio.map('ipmmu_mm', ROOT_BASE, BigInt(this.root.registerWindowSize), this.root);
    this.bus.mmio.map('ipmmu_ds0', CACHE0_BASE, BigInt(this.cache0.registerWindowSize), this.cache0);
    this.bus.mmio.map('ipmmu_hc', CACHE1_BASE, BigInt(this.cache1.registerWindowSize), this.cache1);
  }

  /** A table as the drivers build them: stage 2 over a 40-bit IPA (Xen's P2M) or Linux's 32-bit stage 1. */
  table(format: ArmLpaeFormat = 'ARM_64_LPAE_S2'): ArmLpaeIoPgtable {
    return new ArmLpaeIoPgtable({
      format,
      granuleLog2: 12,
      ias: format === 'ARM_64_LPAE_S2' ? 40 : 32,
      oas: 40,
      memory: this.memory,
      allocTable: (n) => this.pages.allocPages(n, n),
      freeTable: (p, n) => this.pages.freePages(p, n),
    });
  }

  /** Maps `count` 4 KiB pages (or leaves of 2^pageLog2 bytes) read/write unless told otherwise. */
  map(t: ArmLpaeIoPgtable, iova: bigint, phys: bigint, options: { pageLog2?: number; count?: number; prot?: number } = {}): void {
    const log2 = options.pageLog2 ?? 12;
    const n = t.map(Number(iova >> 12n), Number(phys >> 12n), log2, options.count ?? 1, options.prot ?? Prot.READ | Prot.WRITE, new IotlbGather());
    if (n !== (options.count ?? 1)) throw new Error(`bench: mapped ${n} of ${options.count ?? 1}`);
  }

  unmap(t: ArmLpaeIoPgtable, iova: bigint, pageLog2 = 12, count = 1): number {
    return t.unmap(Number(iova >> 12n), pageLog2, count, new IotlbGather());
  }

  ctx(ipmmu: IpmmuVmsa, context: number, reg: number): number {
    return ipmmu.read32(contextRegisterOffset(ipmmu.parameters.layout, context, reg));
  }

  setCtx(ipmmu: IpmmuVmsa, context: number, reg: number, value: number): void {
    ipmmu.write32(contextRegisterOffset(ipmmu.parameters.layout, context, reg), value);
  }

  /**
   * Programs root context `context` for table `t` as Xen does (stage-2 format: IMSAUXCTLR.S2PTE,
   * IMTTBCR EAE | PMB | SL0 level 1 | TSZ0, VA64 | INTEN | FLUSH | MMUEN) or as Linux does on
   * Gen3 (stage-1: EAE | two-bit SL0 level 1, TSZ0 0, IMMAIR0, INTEN | FLUSH | MMUEN), and
   * enables it in the cache IPMMUs too.
   */
  programContext(context: number, t: ArmLpaeIoPgtable, options: { inten?: boolean; caches?: IpmmuVmsa[] } = {}): void {
    const root = this.root;
    const stage2 = t.stage === 2;
    const aux = controlRegisterOffset(root.parameters.layout, ControlReg.IMSAUXCTLR);
    root.write32(aux, stage2 ? root.read32(aux) | Imsauxctlr.S2PTE : root.read32(aux) & ~Imsauxctlr.S2PTE);
    const ttbr = t.rootAddress;
    this.setCtx(root, context, ContextReg.IMTTLBR0, Number(ttbr & 0xffff_f000n));
    this.setCtx(root, context, ContextReg.IMTTUBR0, Number((ttbr >> 32n) & 0xffn));
    const ttbcr = stage2
      ? Imttbcr.EAE | Imttbcr.PMB | (ImttbcrSl0.Stage2Level1 << Imttbcr.SL0_SHIFT) | (64 - t.ias)
      : Imttbcr.EAE | (ImttbcrSl0.Stage1Level1 << Imttbcr.SL0_SHIFT) | (32 - t.ias);
    this.setCtx(root, context, ContextReg.IMTTBCR, ttbcr >>> 0);
    if (!stage2) this.setCtx(root, context, ContextReg.IMMAIR0, Number((t.control.mair ?? 0n) & 0xffff_ffffn));
    this.setCtx(root, context, ContextReg.IMSTR, this.ctx(root, context, ContextReg.IMSTR));
    const inten = options.inten ?? true ? Imctr.INTEN : 0;
    this.setCtx(root, context, ContextReg.IMCTR, (stage2 ? Imctr.VA64 : 0) | inten | Imctr.FLUSH | Imctr.MMUEN);
    for (const cache of options.caches ?? [this.cache0, this.cache1]) this.setCtx(cache, context, ContextReg.IMCTR, inten | Imctr.FLUSH | Imctr.MMUEN);
  }

  /** Points micro-TLB `utlb` of `ipmmu` at `context` (IMUASID 0, IMUCTR TTSEL | FLUSH | MMUEN). */
  enableUtlb(ipmmu: IpmmuVmsa, utlb: number, context: number): void {
    ipmmu.write32(imuasidOffset(ipmmu.parameters.layout, utlb), 0);
    ipmmu.write32(imuctrOffset(ipmmu.parameters.layout, utlb), (context << Imuctr.TTSEL_SHIFT) | Imuctr.FLUSH | Imuctr.MMUEN);
  }

  disableUtlb(ipmmu: IpmmuVmsa, utlb: number): void {
    ipmmu.write32(imuctrOffset(ipmmu.parameters.layout, utlb), 0);
  }

  /** IMCTR.FLUSH of `context` in each of `ipmmus`, keeping the other bits. */
  flush(context: number, ...ipmmus: IpmmuVmsa[]): void {
    for (const m of ipmmus) this.setCtx(m, context, ContextReg.IMCTR, this.ctx(m, context, ContextReg.IMCTR) | Imctr.FLUSH);
  }

  /** A translation through `ipmmu`'s micro-TLB `utlb`. */
  translate(ipmmu: IpmmuVmsa, utlb: number, address: bigint, write = false, privileged = false) {
    return ipmmu.translate({ utlb, address, write, privileged });
  }

  /** A zeroed page of RAM; its address. */
  page(): bigint {
    return this.pages.allocPage();
  }
}

export { Prot };
