// Bringing a RISC-V IOMMU up, common to the platform and PCI drivers (specification
// "Guidelines for initialization", in Linux's order): capabilities and version, byte order
// and interrupt method in fctl, interrupt vectors, command, fault and page-request queues,
// the device directory in the deepest mode the IOMMU accepts, a global invalidation, and
// registration with the IOMMU core.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { iodirInvalDdt, iotinvalVma } from '../../../formats/riscv-iommu/commands.js';
import { FctlLayout, IOMMU_MODE_NAMES, IommuMode, InterruptCause, Reg, SPEC_VERSION } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import type { Device, ProbeResult } from '../../driver-model/device.js';
import type { IoMem } from '../../kernel/iomem.js';
import type { Kernel } from '../../kernel/kernel.js';
import { decodeCapabilities, describeCapabilities, type RiscvIommuCaps } from './capabilities.js';
import { CommandQueue } from './command-queue.js';
import type { IommuContext } from './context.js';
import { DeviceDirectory, readDdtp, writeDdtp } from './directory.js';
import { RiscvIommuError } from './errors.js';
import { createFaultQueue } from './fault-queue.js';
import { formatFaultRecord } from './fault-record.js';
import { MAX_VECTORS, planVectors, probeVectorCount, programIcvec, requestWires, setUpMsis, type InterruptMethod, type InterruptSetup } from './interrupts.js';
import { RiscvIommuDevice } from './iommu.js';
import { createPageRequestQueue } from './page-request-queue.js';
import { CQ_LAYOUT, disableQueue, FQ_LAYOUT, PQ_LAYOUT } from './queue.js';
import { newStats } from './stats.js';

const FCTL_BE = 1 << FctlLayout.BE.lsb;
const FCTL_WSI = 1 << FctlLayout.WSI.lsb;
const IPSR_ALL = 0xf;

export type InterruptChoice = InterruptMethod | { defer: string } | { error: string };

export interface ProbeInput {
  kernel: Kernel;
  device: Device;
  /** The node devices name in `iommus` / `iommu-map`. */
  node: DtNode;
  /** The mapped register page. */
  regs: IoMem;
  /** How interrupts will be signalled, given the capabilities (platform and PCI differ). */
  chooseInterrupts(caps: RiscvIommuCaps, fctl: number): InterruptChoice;
}

export function probeRiscvIommu(input: ProbeInput): ProbeResult {
  const { kernel, device, node, regs } = input;
  const ctx: IommuContext = { name: device.name, kernel, regs, stats: newStats() };
  const log = kernel.log;

  const caps = decodeCapabilities(regs.read64(Reg.capabilities));
  if (caps.version !== SPEC_VERSION) return { error: `unsupported specification version ${hex(caps.version)} in capabilities (this driver knows ${hex(SPEC_VERSION)})` };
  let fctl = regs.read32(Reg.fctl);
  const choice = input.chooseInterrupts(caps, fctl);
  if ('defer' in choice || 'error' in choice) return choice;

  const ddtp = readDdtp(ctx);
  if (ddtp === null) return { error: 'ddtp stays busy' };
  const resetMode = Number(ddtp & 0xfn);
  if (resetMode > IommuMode.Bare) return { error: `translation is already on (ddtp mode ${IOMMU_MODE_NAMES[resetMode] ?? resetMode}); not taking the IOMMU over` };

  // ---- fctl: byte order of in-memory structures, and the interrupt method -----------------
  const wantBe = kernel.memory.endianness === 'big';
  const wantWsi = choice.kind === 'wsi';
  const want = (fctl & ~(FCTL_BE | FCTL_WSI)) | (wantBe ? FCTL_BE : 0) | (wantWsi ? FCTL_WSI : 0);
  if (((fctl ^ want) & FCTL_BE) !== 0 && !caps.end) {
    return { error: `memory is ${wantBe ? 'big' : 'little'}-endian but the IOMMU accesses memory only ${wantBe ? 'little' : 'big'}-endian (capabilities.END=0)` };
  }
  if (want !== fctl) {
    // fctl may change only while the IOMMU is Off.
    try {
      if (resetMode === IommuMode.Bare) writeDdtp(ctx, BigInt(IommuMode.Off));
    } catch (e) {
      return { error: (e as Error).message };
    }
    regs.write32(Reg.fctl, want);
    fctl = regs.read32(Reg.fctl);
    if (((fctl ^ want) & (FCTL_BE | FCTL_WSI)) !== 0) return { error: `fctl kept ${hex(fctl)} instead of ${hex(want)}` };
  }

  // ---- interrupts ---------------------------------------------------------------------------
  let iommu: RiscvIommuDevice | null = null;
  const handler = (): void => {
    if (iommu !== null) iommu.interrupt();
    else regs.write32(Reg.ipsr, IPSR_ALL); // nothing to service yet: just stop the interrupt
  };
  let interrupts: InterruptSetup;
  try {
    const count = Math.min(choice.kind === 'wsi' ? choice.wires : probeVectorCount(ctx), MAX_VECTORS);
    const names = wantWsi ? node.strings('interrupt-names') : undefined;
    const used = [true, true, false, caps.ats]; // CQ, FQ, HPM (unused), PQ
    const vectors = programIcvec(ctx, planVectors(count, names), count, used);
    const inUse = vectors.filter((_, cause) => used[cause]);
    if (wantWsi) {
      if (!requestWires(ctx, node, inUse, handler)) return { defer: 'waiting for the interrupt controller of its wired interrupts' };
      interrupts = { method: 'wsi', vectors, msis: [] };
    } else {
      interrupts = { method: 'msi', vectors, msis: setUpMsis(ctx, inUse, handler) };
    }
  } catch (e) {
    if (e instanceof RiscvIommuError) return { error: e.message };
    throw e;
  }

  // ---- queues and directory -----------------------------------------------------------------
  const undo: (() => void)[] = [];
  try {
    const cmdq = CommandQueue.create(ctx);
    undo.push(() => {
      disableQueue(ctx, CQ_LAYOUT);
      kernel.pages.freePages(cmdq.ring.page, cmdq.ring.pages);
      kernel.pages.freePages(Number(cmdq.fenceAddress >> 12n));
    });
    const fltq = createFaultQueue(ctx, (record) => {
      if (iommu !== null) iommu.handleFault(record);
      else log.warn(ctx.name, `fault before registration: ${formatFaultRecord(record)}`);
    });
    undo.push(() => {
      disableQueue(ctx, FQ_LAYOUT);
      kernel.pages.freePages(fltq.ring.page, fltq.ring.pages);
    });
    const priq = caps.ats ? createPageRequestQueue(ctx, cmdq) : null;
    if (priq !== null) {
      undo.push(() => {
        disableQueue(ctx, PQ_LAYOUT);
        kernel.pages.freePages(priq.ring.page, priq.ring.pages);
      });
    }
    const directory = DeviceDirectory.create(ctx, caps.msiFlat);
    undo.push(() => {
      writeDdtp(ctx, BigInt(IommuMode.Off));
      kernel.pages.freePages(directory.rootPage);
    });

    iommu = new RiscvIommuDevice({ ctx, node, device, caps, fctl, directory, cmdq, fltq, priq, interrupts });
    // Nothing cached from before (firmware or an earlier kernel) may survive.
    cmdq.submit(iodirInvalDdt());
    cmdq.submit(iotinvalVma());
    cmdq.sync();

    device.driverData = iommu;
    const causes = ['CQ', 'FQ', 'HPM', 'PQ'].map((c, i) => `${c}→${interrupts.vectors[i]}`).filter((_, i) => i !== InterruptCause.HPM && (i !== InterruptCause.PQ || caps.ats));
    log.info(ctx.name, `RISC-V IOMMU ${describeCapabilities(caps)}; directory ${directory.modeName}, ${caps.msiFlat ? 'extended' : 'base'}-format contexts; first stage ${iommu.firstStage ?? 'none'}; ${interrupts.method === 'wsi' ? 'wired interrupts' : 'MSIs'} (${causes.join(' ')}); queues CQ ${cmdq.entries}, FQ ${fltq.ring.entries}${priq !== null ? `, PQ ${priq.ring.entries}` : ''} entries`);
    kernel.iommu.register(iommu);
    return 'bound';
  } catch (e) {
    iommu = null;
    for (const u of undo.reverse()) {
      try {
        u();
      } catch {
        // best effort on the way out
      }
    }
    return { error: (e as Error).message };
  }
}
