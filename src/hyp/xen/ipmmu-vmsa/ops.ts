// The IPMMU driver's iommu_ops, after Xen's ipmmu-vmsa.c: one context per domain and root IPMMU,
// shared by every device of the domain behind that root; its table is the domain's P2M, as is
// (IMTTLBR0/IMTTUBR0 = P2M root, IMTTBCR = EAE | PMB | SL0 level 1 | TSZ0 = 64 - IPA bits, the
// root's IMSAUXCTLR.S2PTE set at probe). A context is taken when the domain's first device is
// assigned and given back when the domain is torn down. Per cache IPMMU a domain has a "cache
// domain" enabling the context there (IMCTR of the cache IPMMU) while devices use it; each
// device's micro-TLBs point at the context (IMUCTR.TTSEL | MMUEN), reference-counted because
// masters may share a micro-TLB, and a micro-TLB serving one context is refused to another.
// The hardware flushes whole contexts only: every P2M change flushes the domain's context in the
// root and in each cache IPMMU it uses, then waits for IMCTR.FLUSH to clear.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { ContextReg, Imctr, Imttbcr, Imuctr, MAX_UTLBS } from '../../../formats/ipmmu-vmsa/index.js';
import type { XenDomain } from '../domain/domain.js';
import type { DtDevice, XenIommuInstanceReport, XenIommuOps, XenProbeResult } from '../iommu/types.js';
import type { Xen } from '../xen.js';
import type { ContextOwner, IpmmuDevice } from './ipmmu.js';

/** Polls of IMCTR.FLUSH before a flush is declared stuck (TLB_LOOP_TIMEOUT). */
const TLB_LOOP_TIMEOUT = 100;

/** A domain's context on one root (Xen's root ipmmu_vmsa_domain). */
interface RootDomain extends ContextOwner {
  domain: XenDomain;
  mmu: IpmmuDevice;
  context: number;
}

/** A domain's use of the context in one IPMMU its devices sit behind (Xen's cache ipmmu_vmsa_domain). */
interface CacheDomain {
  mmu: IpmmuDevice;
  root: RootDomain;
  /** Devices attached. */
  refcount: number;
}

/** The driver's data of a domain (Xen's ipmmu_vmsa_xen_domain). */
class IpmmuXenDomain {
  readonly roots: RootDomain[] = [];
  readonly caches: CacheDomain[] = [];
}

/** The driver's data of a device (fwspec->iommu_priv). */
export interface IpmmuMaster {
  mmu: IpmmuDevice;
  cache: CacheDomain | null;
}

export class IpmmuOps implements XenIommuOps {
  readonly name = 'ipmmu-vmsa';

  constructor(
    private readonly xen: Xen,
    /** The registered IPMMUs, by node. */
    private readonly mmus: Map<DtNode, IpmmuDevice>,
  ) {}

  init(d: XenDomain): void {
    d.iommu = new IpmmuXenDomain();
  }

  teardown(d: XenDomain): void {
    const xd = d.iommu as IpmmuXenDomain;
    if (xd.caches.length > 0) this.xen.log.error('ipmmu', `${d.label}: torn down with devices still attached`);
    for (const r of xd.roots) {
      // Disable the context in the root, flushing its TLB, and give the context back.
      r.mmu.ctxWrite(r.context, ContextReg.IMCTR, Imctr.FLUSH);
      this.sync(r);
      r.mmu.freeContext(r.context);
      this.xen.log.info('ipmmu', `${r.mmu.path}: ${d.label}: IPMMU context ${r.context} freed`);
    }
    xd.roots.length = 0;
    d.iommu = null;
  }

  iotlbFlush(d: XenDomain): void {
    const xd = d.iommu as IpmmuXenDomain;
    for (const r of xd.roots) {
      const imctr = r.mmu.ctxRead(r.context, ContextReg.IMCTR) | Imctr.FLUSH;
      for (const c of xd.caches) if (c.root === r) this.writeCache(c, imctr);
      r.mmu.ctxWrite(r.context, ContextReg.IMCTR, imctr);
      this.sync(r);
    }
  }

  assignDevice(d: XenDomain, dev: DtDevice): string | null {
    const master = dev.iommuPriv as IpmmuMaster | null;
    if (master === null || dev.fwspec === null) return 'cannot attach to IPMMU: the device was not added';
    if (master.cache !== null) return 'already attached to an IPMMU domain';
    const xd = d.iommu as IpmmuXenDomain;
    let root = xd.roots.find((r) => r.mmu === master.mmu.root);
    if (root === undefined) {
      const created = this.initContext(d, master.mmu.root);
      if (typeof created === 'string') return created;
      root = created;
      xd.roots.push(root);
    }
    let cache = xd.caches.find((c) => c.mmu === master.mmu);
    const fresh = cache === undefined;
    if (cache === undefined) cache = { mmu: master.mmu, root, refcount: 0 };
    if (fresh) {
      // The context is enabled in the root already; enable it in this cache IPMMU, flushing.
      this.writeCache(cache, root.mmu.ctxRead(root.context, ContextReg.IMCTR) | Imctr.FLUSH);
      this.xen.log.info('ipmmu', `${dev.path}: using IPMMU context ${root.context}`);
    } else {
      this.xen.log.info('ipmmu', `${dev.path}: reusing IPMMU context ${root.context}`);
    }
    const ids = dev.fwspec.ids;
    for (let i = 0; i < ids.length; i++) {
      const err = this.utlbEnable(cache, ids[i]);
      if (err !== null) {
        while (i-- > 0) this.utlbDisable(cache, ids[i]);
        if (fresh) this.writeCache(cache, Imctr.FLUSH);
        return err;
      }
    }
    if (fresh) xd.caches.push(cache);
    cache.refcount++;
    master.cache = cache;
    return null;
  }

  deassignDevice(from: XenDomain, dev: DtDevice): string | null {
    const master = dev.iommuPriv as IpmmuMaster | null;
    const xd = from.iommu as IpmmuXenDomain | null;
    const cache = master?.cache ?? null;
    if (master === null || cache === null || xd === null || !xd.caches.includes(cache)) return `not attached to ${from.label}`;
    for (const id of dev.fwspec?.ids ?? []) this.utlbDisable(cache, id);
    master.cache = null;
    if (--cache.refcount === 0) {
      xd.caches.splice(xd.caches.indexOf(cache), 1);
      // No device of the domain left behind this IPMMU: disable the context here, flushing.
      this.writeCache(cache, Imctr.FLUSH);
    }
    return null;
  }

  dtXlate(dev: DtDevice, iommu: DtNode, args: readonly number[]): XenProbeResult {
    // #iommu-cells = <1>: the one cell is the master's micro-TLB.
    if (args.length !== 1 || args[0] >= MAX_UTLBS) return { error: `an IPMMU specifier has one cell, a micro-TLB below ${MAX_UTLBS} (got <${args.join(' ')}>)` };
    const mmu = this.mmus.get(iommu);
    if (mmu === undefined) return { defer: `IPMMU ${iommu.path} has not registered` };
    if (args[0] >= mmu.layout.utlbs) return { error: `micro-TLB ${args[0]}: ${iommu.path} has ${mmu.layout.utlbs}` };
    const fwspec = dev.fwspec;
    if (fwspec === null) return { error: 'no fwspec' };
    if (!fwspec.ids.includes(args[0])) fwspec.ids.push(args[0]);
    const master = dev.iommuPriv as IpmmuMaster | null;
    if (master === null) dev.iommuPriv = { mmu, cache: null } satisfies IpmmuMaster;
    else if (master.mmu !== mmu) return { error: `micro-TLBs on ${master.mmu.path} and ${mmu.path}` };
    return 'ok';
  }

  addDevice(dev: DtDevice): string | null {
    const master = dev.iommuPriv as IpmmuMaster | null;
    if (master === null || dev.fwspec === null) return 'no IPMMU specifier was accepted';
    if (dev.protected) return 'already added to IPMMU';
    dev.protected = true;
    this.xen.log.info('ipmmu', `${dev.path}: added master device (IPMMU ${master.mmu.path} micro-TLBs ${dev.fwspec.ids.join(', ')})`);
    return null;
  }

  report(): XenIommuInstanceReport[] {
    const out: XenIommuInstanceReport[] = [];
    const protectedDevices = this.xen.iommu.protectedDevices;
    for (const mmu of this.mmus.values()) {
      const contexts: XenIommuInstanceReport['contexts'] = [];
      if (mmu.isRoot) mmu.contexts.forEach((owner, context) => owner !== null && contexts.push({ context, domain: owner.domain?.label ?? null }));
      const utlbs: XenIommuInstanceReport['utlbs'] = [];
      for (let u = 0; u < mmu.layout.utlbs; u++) {
        const imuctr = mmu.imuctr(u);
        if ((imuctr & Imuctr.MMUEN) === 0) continue;
        const devices = protectedDevices.filter((dev) => (dev.iommuPriv as IpmmuMaster).mmu === mmu && (dev.fwspec?.ids.includes(u) ?? false)).map((dev) => dev.path);
        utlbs.push({ utlb: u, context: mmu.ttsel(imuctr), devices });
      }
      out.push({ path: mmu.path, role: mmu.isRoot ? 'root' : 'cache', root: mmu.isRoot ? null : mmu.root.path, contexts, utlbs });
    }
    return out;
  }

  /** The domain's context on `root` (ipmmu_domain_init_context), or why none is free. */
  private initContext(d: XenDomain, root: IpmmuDevice): RootDomain | string {
    const owner: RootDomain = { domain: d, mmu: root, context: -1 };
    const context = root.allocContext(owner);
    if (context < 0) return `no free IPMMU context on ${root.path} (${root.layout.contexts} contexts in use)`;
    owner.context = context;
    const p2m = d.p2m;
    const ttbr = p2m.rootAddress;
    this.xen.log.info('ipmmu', `${root.path}: ${d.label}: set IPMMU context ${context} (pgd 0x${ttbr.toString(16)})`);
    root.ctxWrite(context, ContextReg.IMTTLBR0, Number(ttbr & 0xffff_f000n));
    root.ctxWrite(context, ContextReg.IMTTUBR0, Number((ttbr >> 32n) & 0xffn));
    // Long descriptors, the whole IPA space in TTBR0, 4 KiB granule, walks from level 1.
    root.ctxWrite(context, ContextReg.IMTTBCR, Imttbcr.EAE | Imttbcr.PMB | (p2m.sl0 << Imttbcr.SL0_SHIFT) | ((64 - p2m.ipaBits) << Imttbcr.TSZ0_SHIFT));
    root.ctxWrite(context, ContextReg.IMSTR, root.ctxRead(context, ContextReg.IMSTR));
    root.ctxWrite(context, ContextReg.IMCTR, Imctr.VA64 | Imctr.INTEN | Imctr.FLUSH | Imctr.MMUEN);
    return owner;
  }

  /** IMCTR of the context in a cache IPMMU (the root's is written separately), common fields only. */
  private writeCache(cache: CacheDomain, imctr: number): void {
    if (!cache.mmu.isRoot) cache.mmu.ctxWrite(cache.root.context, ContextReg.IMCTR, imctr & Imctr.COMMON_MASK);
  }

  /** Waits for a flush of the root context to complete. */
  private sync(r: RootDomain): void {
    for (let count = 0; (r.mmu.ctxRead(r.context, ContextReg.IMCTR) & Imctr.FLUSH) !== 0; count++) {
      if (count === TLB_LOOP_TIMEOUT) {
        this.xen.log.error('ipmmu', `${r.mmu.path}: TLB sync timed out -- MMU may be deadlocked`);
        return;
      }
    }
  }

  /** Points micro-TLB `utlb` at the cache domain's context (ipmmu_utlb_enable). */
  private utlbEnable(cache: CacheDomain, utlb: number): string | null {
    const mmu = cache.mmu;
    const context = cache.root.context;
    const imuctr = mmu.imuctr(utlb);
    // A micro-TLB points at one context: masters sharing it cannot go to different domains.
    if ((imuctr & Imuctr.MMUEN) !== 0 && mmu.ttsel(imuctr) !== context) return `micro-TLB ${utlb} already assigned to IPMMU context ${mmu.ttsel(imuctr)}`;
    if (mmu.utlbUsers[utlb]++ === 0) {
      mmu.setImuasid(utlb, 0);
      mmu.setImuctr(utlb, (context << Imuctr.TTSEL_SHIFT) | Imuctr.FLUSH | Imuctr.MMUEN);
    }
    return null;
  }

  private utlbDisable(cache: CacheDomain, utlb: number): void {
    const mmu = cache.mmu;
    if (mmu.utlbUsers[utlb] > 0 && --mmu.utlbUsers[utlb] === 0) mmu.setImuctr(utlb, 0);
  }
}
