// How the SMMU's interrupt sources reach the kernel (IHI 0070 3.18, 6.3.16 - 6.3.23; binding
// arm,smmu-v3.yaml), chosen as Linux does: a single `combined` wire when the node names one;
// otherwise MSIs when the SMMU can send them (IDR0.MSI) and the node's msi-parent is an MSI
// controller (the *_IRQ_CFG0/1/2 registers hold each source's doorbell, payload and memory
// attributes); otherwise the wires named "eventq", "gerror" and "priq". "cmdq-sync" is not
// used: CMD_SYNC completion is polled. Unlike Linux, which only warns, a node that gives the
// driver no way to hear about events or global errors fails the probe with the reason.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { IrqCfg2Layout, Reg } from '../../../formats/smmuv3/registers.js';
import { encode } from '../../../formats/bitfield.js';
import { hex } from '../../../sim/u64.js';
import { IrqError } from '../../kernel/irq.js';
import { enabled, type Kernel } from '../../kernel/kernel.js';
import type { SmmuContext } from './context.js';
import { ArmSmmuV3Error } from './errors.js';
import type { SmmuV3Features } from './features.js';

/** The interrupt sources the driver services. */
export type IrqSourceName = 'eventq' | 'priq' | 'gerror';

export type InterruptPlan =
  | { kind: 'combined'; index: number }
  | { kind: 'msi' }
  /** Indexes into the node's interrupts; priq null when the node names none. */
  | { kind: 'wired'; eventq: number; gerror: number; priq: number | null };

/** The MSI registers of each source (Linux arm_smmu_msi_cfg). */
const MSI_REGS: Record<IrqSourceName, { cfg0: number; cfg1: number; cfg2: number }> = {
  eventq: { cfg0: Reg.EVENTQ_IRQ_CFG0, cfg1: Reg.EVENTQ_IRQ_CFG1, cfg2: Reg.EVENTQ_IRQ_CFG2 },
  gerror: { cfg0: Reg.GERROR_IRQ_CFG0, cfg1: Reg.GERROR_IRQ_CFG1, cfg2: Reg.GERROR_IRQ_CFG2 },
  priq: { cfg0: Reg.PRIQ_IRQ_CFG0, cfg1: Reg.PRIQ_IRQ_CFG1, cfg2: Reg.PRIQ_IRQ_CFG2 },
};
/** MSI writes as Device-nGnRE (Linux ARM_SMMU_MEMATTR_DEVICE_nGnRE). */
const MEMATTR_DEVICE_NGNRE = 0x1;
/** *_IRQ_CFG0.ADDR holds bits [55:2]. */
const MSI_ADDR_MASK = ((1n << 56n) - 1n) & ~3n;

export interface MsiSetup {
  source: IrqSourceName;
  address: bigint;
  data: number;
}

/** Decides how interrupts are signalled, from the node and the SMMU's features. */
export function planInterrupts(kernel: Kernel, node: DtNode, f: SmmuV3Features): InterruptPlan | { defer: string } | { error: string } {
  const names = node.strings('interrupt-names') ?? [];
  let wires: number;
  try {
    wires = kernel.irq.count(node);
  } catch (e) {
    return { error: (e as Error).message };
  }
  const at = (name: string): number | null => {
    const i = names.indexOf(name);
    return i >= 0 && i < wires ? i : null;
  };
  const combined = at('combined');
  if (combined !== null) return { kind: 'combined', index: combined };
  // msi-parent = <&controller [msi-specifier]>: the phandle is the first cell.
  const msiParent = node.u32s('msi-parent')?.[0];
  const eventq = at('eventq');
  const gerror = at('gerror');
  if (f.msi && msiParent !== undefined) {
    if (kernel.irq.hasMsi) return { kind: 'msi' };
    // Without an MSI domain yet: wires when the node has them (as Linux falls back when it
    // finds no MSI domain), else wait for the controller's driver.
    const parent = kernel.dt.byPhandle(msiParent);
    if ((eventq === null || gerror === null) && parent !== undefined && enabled(parent)) return { defer: `waiting for the MSI controller ${parent.path}` };
  }
  if (eventq === null || gerror === null) {
    const missing = [eventq === null && '"eventq"', gerror === null && '"gerror"'].filter((m) => m !== false).join(' and ');
    const seen = names.length > 0 ? `interrupt-names is <${names.map((n) => `"${n}"`).join(', ')}> for ${wires} interrupt(s)` : `${wires} interrupt(s) without interrupt-names`;
    const msi = f.msi ? '' : ' (the SMMU cannot send MSIs: IDR0.MSI == 0)';
    return { error: `no interrupt for ${missing}: ${seen}; the binding needs interrupt-names with "eventq" and "gerror" (or "combined"), or msi-parent${msi}` };
  }
  return { kind: 'wired', eventq, gerror, priq: at('priq') };
}

/**
 * Connects the wires of a plan to their handlers. Returns false when the interrupt controller
 * has not probed yet (the caller defers).
 */
export function requestWires(ctx: SmmuContext, node: DtNode, plan: InterruptPlan, handlers: Record<IrqSourceName | 'combined', () => void>, pri: boolean): boolean {
  const wanted: [number, string, () => void][] = [];
  if (plan.kind === 'combined') wanted.push([plan.index, 'combined', handlers.combined]);
  else if (plan.kind === 'wired') {
    wanted.push([plan.eventq, 'eventq', handlers.eventq], [plan.gerror, 'gerror', handlers.gerror]);
    if (pri && plan.priq !== null) wanted.push([plan.priq, 'priq', handlers.priq]);
  }
  for (const [index, name, handler] of wanted) {
    let ok: boolean;
    try {
      ok = ctx.kernel.irq.request(node, index, handler, `${ctx.name} ${name}`);
    } catch (e) {
      if (e instanceof IrqError) throw new ArmSmmuV3Error(e.message);
      throw e;
    }
    if (!ok) return false;
  }
  return true;
}

/** Clears the MSI doorbells (Linux does so before choosing wires or MSIs): ADDR 0 sends no MSI. */
export function clearMsiAddresses(ctx: SmmuContext, pri: boolean): void {
  ctx.regs.write64(Reg.GERROR_IRQ_CFG0, 0n);
  ctx.regs.write64(Reg.EVENTQ_IRQ_CFG0, 0n);
  if (pri) ctx.regs.write64(Reg.PRIQ_IRQ_CFG0, 0n);
}

/** Allocates an MSI per source and programs *_IRQ_CFG0/1/2 (Linux arm_smmu_write_msi_msg). */
export function setUpMsis(ctx: SmmuContext, handlers: Record<IrqSourceName, () => void>, pri: boolean): MsiSetup[] {
  const sources: IrqSourceName[] = pri ? ['eventq', 'gerror', 'priq'] : ['eventq', 'gerror'];
  const out: MsiSetup[] = [];
  for (const source of sources) {
    let msi;
    try {
      msi = ctx.kernel.irq.allocMsi(handlers[source], `${ctx.name} ${source}`);
    } catch (e) {
      if (e instanceof IrqError) throw new ArmSmmuV3Error(e.message);
      throw e;
    }
    if (msi === null) throw new ArmSmmuV3Error('the platform has no MSI controller');
    const r = MSI_REGS[source];
    ctx.regs.write64(r.cfg0, msi.address & MSI_ADDR_MASK);
    ctx.regs.write32(r.cfg1, msi.data);
    ctx.regs.write32(r.cfg2, Number(encode(IrqCfg2Layout, { MemAttr: MEMATTR_DEVICE_NGNRE })));
    const kept = ctx.regs.read64(r.cfg0);
    if (kept !== (msi.address & MSI_ADDR_MASK)) throw new ArmSmmuV3Error(`the SMMU cannot send MSIs to ${hex(msi.address)} (${source.toUpperCase()}_IRQ_CFG0 kept ${hex(kept)})`);
    out.push({ source, address: msi.address, data: msi.data });
  }
  return out;
}
