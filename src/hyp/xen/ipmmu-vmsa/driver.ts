// The hypervisor's IPMMU-VMSA driver, after Xen's xen/drivers/passthrough/arm/ipmmu-vmsa.c:
// it probes every IPMMU node of the compatibles it knows (R-Car Gen3 and Gen4). A node without
// `renesas,ipmmu-main` is a root (IPMMU-MM): its interrupt is requested, its contexts disabled,
// the stage-2 table format selected (IMSAUXCTLR.S2PTE, so that it walks the P2M as is),
// context 0 reserved (as both drivers do on Gen3), and the P2M restricted to the 40-bit IPA it
// can translate. A cache IPMMU waits (-EAGAIN) until the root its `renesas,ipmmu-main` names has
// registered. Security groups are not used (IMSCTLR.USE_SECGRP cleared). One driver instance
// manages every IPMMU of the machine.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { ContextReg, ControlReg, IPMMU_COMPATIBLES, IPMMU_MAIN_PROPERTY, ipmmuLayoutFor, Imsauxctlr, Imsctlr } from '../../../formats/ipmmu-vmsa/index.js';
import type { IoMem } from '../../../os/kernel/iomem.js';
import { regions } from '../../../os/of/address.js';
import { isEnabled } from '../iommu/framework.js';
import type { XenIommuDriver, XenIommuDriverInstance, XenProbeResult } from '../iommu/types.js';
import type { Xen } from '../xen.js';
import { handleIpmmuInterrupt } from './faults.js';
import { IpmmuDevice } from './ipmmu.js';
import { IpmmuOps } from './ops.js';

/** The IPA size an IPMMU context translates (IPMMU_MAX_P2M_IPA_BITS). */
export const IPMMU_MAX_P2M_IPA_BITS = 40;

class IpmmuDriverInstance implements XenIommuDriverInstance {
  readonly ops: IpmmuOps;
  private readonly mmus = new Map<DtNode, IpmmuDevice>();

  constructor(private readonly xen: Xen) {
    this.ops = new IpmmuOps(xen, this.mmus);
  }

  probe(node: DtNode): XenProbeResult {
    if (this.mmus.has(node)) return 'ok';
    const layout = ipmmuLayoutFor(node.strings('compatible') ?? []);
    if (layout === null) return { error: 'not an IPMMU-VMSA this driver knows' };
    const log = this.xen.log;
    let io: IoMem;
    try {
      const reg = regions(node)[0];
      if (reg === undefined) return { error: 'no reg: failed to get MMIO' };
      io = this.xen.ioremap(reg.base, reg.size);
    } catch (e) {
      return { error: `failed to ioremap MMIO: ${(e as Error).message}` };
    }

    // A node without renesas,ipmmu-main is a root; a cache IPMMU needs its root registered.
    let root: IpmmuDevice | null = null;
    const main = node.u32s(IPMMU_MAIN_PROPERTY);
    if (main !== undefined) {
      const target = main.length >= 1 ? this.xen.dt.byPhandle(main[0]) : undefined;
      if (target === undefined) return { error: `${IPMMU_MAIN_PROPERTY} names no node` };
      if (!isEnabled(target)) return { error: `its root ${target.path} is disabled` };
      const found = this.mmus.get(target);
      if (found === undefined) return { defer: `waiting for the root IPMMU ${target.path}` };
      if (!found.isRoot) return { error: `${IPMMU_MAIN_PROPERTY} names ${target.path}, a cache IPMMU` };
      root = found;
    }
    const mmu = new IpmmuDevice(node, io, layout, root);

    if (mmu.isRoot) {
      // Root devices have a mandatory interrupt.
      let requested: boolean;
      try {
        if (this.xen.irq.count(node) === 0) return { error: 'no IRQ found' };
        requested = this.xen.irq.request(node, 0, () => handleIpmmuInterrupt(this.xen, mmu), `ipmmu ${node.path}`);
      } catch (e) {
        return { error: `failed to request the IRQ: ${(e as Error).message}` };
      }
      if (!requested) return { defer: 'its interrupt controller has not probed' };
      this.xen.restrictP2mIpaBits(IPMMU_MAX_P2M_IPA_BITS);
      for (let c = 0; c < layout.contexts; c++) mmu.ctxWrite(c, ContextReg.IMCTR, 0);
      log.info('ipmmu', `${node.path}: reset completed, disabled ${layout.contexts} contexts`);
      mmu.controlWrite(ControlReg.IMSAUXCTLR, mmu.controlRead(ControlReg.IMSAUXCTLR) | Imsauxctlr.S2PTE);
      mmu.allocContext({ domain: null });
      log.info('ipmmu', `${node.path}: IPMMU context 0 is reserved`);
    }
    mmu.controlWrite(ControlReg.IMSCTLR, mmu.controlRead(ControlReg.IMSCTLR) & ~Imsctlr.USE_SECGRP);
    this.mmus.set(node, mmu);
    log.info('ipmmu', `${node.path}: registered ${mmu.isRoot ? 'root' : 'cache'} IPMMU${mmu.isRoot ? '' : ` (root ${mmu.root.path})`}`);
    return 'ok';
  }
}

export const ipmmuVmsaXenDriver: XenIommuDriver = {
  name: 'ipmmu-vmsa',
  compatible: Object.keys(IPMMU_COMPATIBLES),
  attach: (xen) => new IpmmuDriverInstance(xen),
};
