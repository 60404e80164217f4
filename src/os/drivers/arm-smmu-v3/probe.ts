// Bringing an SMMUv3 up, in Linux's order (arm_smmu_device_probe): the device-tree node
// (#iommu-cells, dma-coherent, driver options), the ID registers, the interrupts, the queues
// and the Stream table in memory, then the reset sequence of arm_smmu_device_reset (IHI 0070
// 6.3.9 - 6.3.14: every CR0 change waits for CR0ACK), and registration with the IOMMU core.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { cmdCfgiAll, cmdTlbiEl2All, cmdTlbiNsnhAll } from '../../../formats/smmuv3/commands.js';
import { decodePriEntry } from '../../../formats/smmuv3/records.js';
import { Cr0Layout, Cr1Cache, Cr1Layout, Cr2Layout, GbpaLayout, IrqCtrlLayout, Reg, Shareability } from '../../../formats/smmuv3/registers.js';
import { encode } from '../../../formats/bitfield.js';
import { hex } from '../../../sim/u64.js';
import type { Device, ProbeResult } from '../../driver-model/device.js';
import type { IoMem } from '../../kernel/iomem.js';
import type { Kernel } from '../../kernel/kernel.js';
import { CommandQueue } from './command-queue.js';
import type { SmmuContext } from './context.js';
import { ArmSmmuV3Error } from './errors.js';
import { decodeEventRecord } from './event-record.js';
import { describeFeatures, probeFeatures } from './features.js';
import { InboundQueue } from './inbound-queue.js';
import { clearMsiAddresses, planInterrupts, requestWires, setUpMsis, type InterruptPlan } from './interrupts.js';
import { ArmSmmuV3Device } from './iommu.js';
import { DEFAULT_OPTIONS, type ArmSmmuV3Options } from './options.js';
import { allocRing, CMDQ_REGS, EVENTQ_REGS, PRIQ_REGS, programRing, type QueueRing } from './queue.js';
import { writeRegSync } from './register-sync.js';
import { newStats } from './stats.js';
import { StreamTable } from './stream-table.js';
import { pollUntil } from '../../kernel/poll.js';

const CR0_SMMUEN = 1 << Cr0Layout.SMMUEN.lsb;
const CR0_PRIQEN = 1 << Cr0Layout.PRIQEN.lsb;
const CR0_EVENTQEN = 1 << Cr0Layout.EVENTQEN.lsb;
const CR0_CMDQEN = 1 << Cr0Layout.CMDQEN.lsb;
const CR0_ATSCHK = 1 << Cr0Layout.ATSCHK.lsb;
const GBPA_ABORT = 1 << GbpaLayout.ABORT.lsb;
const GBPA_UPDATE = 0x8000_0000;
const IRQ_CTRL_GERROR = 1 << IrqCtrlLayout.GERROR_IRQEN.lsb;
const IRQ_CTRL_PRIQ = 1 << IrqCtrlLayout.PRIQ_IRQEN.lsb;
const IRQ_CTRL_EVENTQ = 1 << IrqCtrlLayout.EVENTQ_IRQEN.lsb;

export interface ProbeInput {
  kernel: Kernel;
  device: Device;
  node: DtNode;
  /** The mapped 128 KiB register frame. */
  regs: IoMem;
  options: ArmSmmuV3Options;
}

/** The pieces of memory allocated along the way, given back if the probe fails. */
interface Allocations {
  rings: QueueRing[];
  streamTable: StreamTable | null;
}

export function probeArmSmmuV3(input: ProbeInput): ProbeResult {
  const { kernel, device, node, regs } = input;
  const options = { ...DEFAULT_OPTIONS, ...input.options };
  const ctx: SmmuContext = { name: device.name, kernel, regs, stats: newStats() };
  const cells = node.u32('#iommu-cells');
  if (cells === undefined) return { error: 'missing #iommu-cells property' };
  if (cells !== 1) return { error: `invalid #iommu-cells value (${cells}); the StreamID takes one cell` };
  const coherent = node.has('dma-coherent');
  const skipPrefetch = node.has('hisilicon,broken-prefetch-cmd');

  const features = probeFeatures(regs, kernel.memory.endianness === 'big');
  if (typeof features === 'string') return { error: features };
  if (features.cohacc !== coherent) kernel.log.warn(ctx.name, `IDR0.COHACC overridden by the device tree (dma-coherent ${coherent ? 'present' : 'absent'})`);

  // ---- interrupts: decided (and wires connected) before anything is allocated --------------
  const plan = planInterrupts(kernel, node, features);
  if ('defer' in plan || 'error' in plan) return plan;
  let iommu: ArmSmmuV3Device | null = null;
  const handlers = {
    eventq: () => iommu?.eventqInterrupt(),
    priq: () => iommu?.priqInterrupt(),
    gerror: () => iommu?.gerrorInterrupt(),
    combined: () => iommu?.combinedInterrupt(),
  };
  try {
    if (!requestWires(ctx, node, plan, handlers, features.pri)) return { defer: 'waiting for the interrupt controller of its wired interrupts' };
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (plan.kind === 'wired' && plan.priq === null && features.pri) kernel.log.warn(ctx.name, 'no priq interrupt: page requests will not be serviced');

  const alloc: Allocations = { rings: [], streamTable: null };
  try {
    // ---- in-memory structures (Linux arm_smmu_init_structures) -----------------------------
    const ring = (r: typeof CMDQ_REGS, idrLog2: number, cap: number): QueueRing => {
      const q = allocRing(ctx, r, Math.min(idrLog2, cap));
      alloc.rings.push(q);
      return q;
    };
    const completion = options.syncCompletion === 'auto' && features.msi && coherent ? 'msi' : 'cons';
    const cmdq = new CommandQueue(ctx, ring(CMDQ_REGS, features.cmdqLog2, options.cmdqLog2), completion, features.sev);
    const eventq = new InboundQueue(ctx, ring(EVENTQ_REGS, features.eventqLog2, options.eventqLog2), {
      decode: decodeEventRecord,
      act: (e) => iommu?.handleEvent(e),
      overflowed: () => {
        ctx.stats.events.overflows++;
        kernel.log.error(ctx.name, 'Event queue overflow detected: events were lost');
      },
    });
    const priq = features.pri
      ? new InboundQueue(ctx, ring(PRIQ_REGS, features.priqLog2, options.priqLog2), {
          decode: decodePriEntry,
          act: (p) => iommu?.handlePageRequest(p),
          overflowed: () => {
            ctx.stats.pageRequests.overflows++;
            kernel.log.error(ctx.name, 'PRI queue overflow detected: page requests were lost');
          },
        })
      : null;
    alloc.streamTable = StreamTable.create(ctx, features.twoLevelStreamTable, features.sidBits);

    iommu = new ArmSmmuV3Device({
      ctx,
      node,
      device,
      features,
      options,
      coherent,
      streamTable: alloc.streamTable,
      cmdq,
      eventq,
      priq,
      interrupts: plan,
      skipPrefetch,
    });
    reset(iommu, plan, handlers);
  } catch (e) {
    writeRegSync(ctx, Reg.CR0, Reg.CR0ACK, 0);
    for (const r of alloc.rings) kernel.pages.freePages(r.page, r.pages);
    if (alloc.streamTable !== null) kernel.pages.freePages(alloc.streamTable.page, alloc.streamTable.pages);
    iommu = null;
    return { error: (e as Error).message };
  }

  device.driverData = iommu;
  const q = [`cmdq ${iommu.cmdq.entries}`, `eventq ${iommu.eventq.ring.entries}`, ...(iommu.priq !== null ? [`priq ${iommu.priq.ring.entries}`] : [])];
  const irq = plan.kind === 'combined' ? 'combined interrupt' : plan.kind === 'msi' ? 'MSIs' : 'wired interrupts';
  kernel.log.info(
    ctx.name,
    `${describeFeatures(features)}; ${iommu.streamTable.twoLevel ? '2-level' : 'linear'} Stream table (${iommu.streamTable.sidBits}-bit StreamIDs); queues ${q.join(', ')}; ${irq}; CMD_SYNC completion by ${iommu.cmdq.completion === 'msi' ? 'MSI write-back' : 'CMDQ_CONS polling'}`,
  );
  kernel.iommu.register(iommu);
  return 'bound';
}

/**
 * Linux arm_smmu_device_reset: disable (GBPA.ABORT first if the SMMU was enabled), CR1 and CR2,
 * the Stream table, the Command queue enabled and every cache invalidated (CMD_CFGI_ALL,
 * CMD_TLBI_EL2_ALL with HYP, CMD_TLBI_NSNH_ALL, each with a CMD_SYNC), the Event and PRI queues,
 * ATS checking, the interrupts, and finally SMMUEN.
 */
function reset(iommu: ArmSmmuV3Device, plan: InterruptPlan, handlers: Record<'eventq' | 'priq' | 'gerror', () => void>): void {
  const { ctx, features: f } = iommu;
  const { regs, kernel, name } = ctx;
  if ((regs.read32(Reg.CR0) & CR0_SMMUEN) !== 0) {
    kernel.log.warn(name, 'SMMU currently enabled; resetting it, aborting incoming transactions meanwhile (GBPA.ABORT)');
    updateGbpa(ctx, GBPA_ABORT, 0);
  }
  if (!iommu.writeCr0(0)) throw failure(ctx, 'failed to clear CR0');

  // Tables and queues: Write-Back, Inner Shareable (Linux's choice, coherent or not).
  const wb = { QUEUE_IC: Cr1Cache.WriteBack, QUEUE_OC: Cr1Cache.WriteBack, QUEUE_SH: Shareability.InnerShareable, TABLE_IC: Cr1Cache.WriteBack, TABLE_OC: Cr1Cache.WriteBack, TABLE_SH: Shareability.InnerShareable };
  regs.write32(Reg.CR1, Number(encode(Cr1Layout, wb)));
  // PTM: no broadcast TLB maintenance; RECINVSID: record C_BAD_STREAMID events.
  regs.write32(Reg.CR2, Number(encode(Cr2Layout, { PTM: 1, RECINVSID: 1 })));

  regs.write64(Reg.STRTAB_BASE, iommu.streamTable.baseRegister);
  regs.write32(Reg.STRTAB_BASE_CFG, iommu.streamTable.cfgRegister);

  programRing(ctx, iommu.cmdq.ring);
  let enables = CR0_CMDQEN;
  if (!iommu.writeCr0(enables)) throw failure(ctx, 'failed to enable the command queue');

  // Nothing cached from before (firmware, an earlier kernel) may survive.
  iommu.issue(cmdCfgiAll());
  if (f.hyp) iommu.issue(cmdTlbiEl2All());
  iommu.issue(cmdTlbiNsnhAll());

  programRing(ctx, iommu.eventq.ring);
  enables |= CR0_EVENTQEN;
  if (!iommu.writeCr0(enables)) throw failure(ctx, 'failed to enable the event queue');
  if (iommu.priq !== null) {
    programRing(ctx, iommu.priq.ring);
    enables |= CR0_PRIQEN;
    if (!iommu.writeCr0(enables)) throw failure(ctx, 'failed to enable the PRI queue');
  }
  if (f.ats) {
    enables |= CR0_ATSCHK;
    if (!iommu.writeCr0(enables)) throw failure(ctx, 'failed to enable ATS check');
  }

  // Interrupts (Linux arm_smmu_setup_irqs): off, sources connected, then on.
  if (!writeRegSync(ctx, Reg.IRQ_CTRL, Reg.IRQ_CTRLACK, 0)) throw failure(ctx, 'failed to disable interrupts');
  clearMsiAddresses(ctx, f.pri);
  if (plan.kind === 'msi') iommu.msis = setUpMsis(ctx, handlers, f.pri);
  const irqen = IRQ_CTRL_EVENTQ | IRQ_CTRL_GERROR | (f.pri ? IRQ_CTRL_PRIQ : 0);
  if (!writeRegSync(ctx, Reg.IRQ_CTRL, Reg.IRQ_CTRLACK, irqen)) kernel.log.warn(name, 'failed to enable interrupts (IRQ_CTRLACK does not follow IRQ_CTRL)');

  enables |= CR0_SMMUEN;
  if (!iommu.writeCr0(enables)) throw failure(ctx, 'failed to enable the SMMU interface');
}


/** GBPA is updated through its Update bit (6.3.14, Linux arm_smmu_update_gbpa). */
function updateGbpa(ctx: SmmuContext, set: number, clear: number): void {
  const { regs, kernel } = ctx;
  let value = 0;
  const idle = (): boolean => {
    value = regs.read32(Reg.GBPA) >>> 0;
    return (value & GBPA_UPDATE) === 0;
  };
  if (!pollUntil(kernel, idle)) throw failure(ctx, 'GBPA not responding to update');
  regs.write32(Reg.GBPA, (((value & ~clear) | set) | GBPA_UPDATE) >>> 0);
  if (!pollUntil(kernel, idle)) throw failure(ctx, 'GBPA not responding to update');
}

function failure(ctx: SmmuContext, what: string): ArmSmmuV3Error {
  const r = ctx.regs;
  return new ArmSmmuV3Error(`${what} (CR0 ${hex(r.read32(Reg.CR0) >>> 0, 8)}, CR0ACK ${hex(r.read32(Reg.CR0ACK) >>> 0, 8)}, GERROR ${hex(r.read32(Reg.GERROR) >>> 0, 8)})`);
}

