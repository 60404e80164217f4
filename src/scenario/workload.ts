// The `workload` step: a generated stream of DMA buffers, each mapped with the DMA API, used by
// the device's engine and unmapped, as a network or block driver does; the kernel's
// invalidation policy decides whether each unmap invalidates at once or through the flush
// queue. The loop allocates nothing per buffer beyond what the DMA API and the engine do, and
// logs nothing: it runs at the models' speed.

import type { RiscvIommuStatistics } from '../hw/riscv-iommu/riscv-iommu.js';
import type { Device } from '../os/driver-model/device.js';
import type { DmaEngineChannel, DmaEngineResult } from '../os/drivers/dma-engine/index.js';
import { riscvIommuOf } from '../os/drivers/riscv-iommu/index.js';
import type { Kernel } from '../os/kernel/kernel.js';
import type { Machine } from '../platform/machine/machine.js';
import { hex } from '../sim/u64.js';
import type { WorkloadReport } from '../report/types.js';
import { hardwareIdentity } from './devices.js';
import { holdsPattern, patternStream, randomStream, sameWords, writeStream } from './memory.js';
import { Prng } from './prng.js';
import type { Step } from './schema.js';

export type WorkloadStep = Extract<Step, { kind: 'workload' }>;

export interface WorkloadContext {
  machine: Machine;
  kernel: Kernel;
  dev: Device;
  channel: DmaEngineChannel;
  seed: bigint;
  /** Called every 1% of the buffers (and at the end). */
  progress: (done: number, total: number) => void;
  /** Stops the step with a message. */
  fail: (message: string) => never;
}

const INVALIDATION = /^(IOTINVAL|IODIR|ATS\.INVAL)/;

export function runWorkload(step: WorkloadStep, ctx: WorkloadContext): WorkloadReport {
  const { kernel, dev, channel, fail } = ctx;
  const memory = kernel.memory;
  const prng = new Prng(ctx.seed);
  const sizes = step.sizes;
  const maxSize = Math.max(...sizes);
  const pages = Math.ceil(maxSize / 4096);
  const working = Math.min(step.workingSet, step.buffers);

  // What to measure: the driver's commands and the model's translations, before and after.
  const driver = riscvIommuOf(kernel.iommu.deviceIommu(dev)?.fwspec.iommu);
  const model = hardwareIdentity(ctx.machine, dev)?.iommu.model ?? null;
  const commandsBefore = driver === null ? null : { ...driver.stats.commands };
  const modelBefore: RiscvIommuStatistics | null = model?.statistics() ?? null;
  const dmaBefore = { ...kernel.dma.stats };
  const cyclesBefore = kernel.clock.now;

  const allocated: number[] = [];
  const alloc = (): number => {
    try {
      const first = kernel.pages.allocPages(pages);
      allocated.push(first);
      return first * 4096;
    } catch (e) {
      return fail(`cannot allocate the working set (${working} buffers of ${pages} pages): ${(e as Error).message}`);
    }
  };
  let bytes = 0;
  let verified = 0;
  try {
    const buffers: number[] = [];
    const patternsLo: number[] = [];
    const patternsHi: number[] = [];
    for (let k = 0; k < working; k++) {
      const at = alloc();
      buffers.push(at);
      // Sources get distinct contents: random data to copy, or a pattern the engine reads back.
      if (step.op === 'copy') writeStream(memory, BigInt(at), maxSize, randomStream(prng.nextU64()));
      if (step.op === 'read') {
        const lo = prng.nextU32();
        const hi = prng.nextU32();
        patternsLo.push(lo);
        patternsHi.push(hi);
        writeStream(memory, BigInt(at), maxSize, patternStream((BigInt(hi) << 32n) | BigInt(lo)));
      }
    }
    const dst = step.op === 'copy' ? alloc() : 0;
    const dstBig = BigInt(dst);
    const bufferBig = buffers.map((b) => BigInt(b));
    const every = Math.max(1, Math.floor(step.buffers / 100));

    for (let i = 0; i < step.buffers; i++) {
      const size = sizes.length === 1 ? sizes[0] : sizes[prng.below(sizes.length)];
      const k = step.access === 'sequential' ? i % working : prng.below(working);
      let r: DmaEngineResult;
      if (step.op === 'copy') {
        // Make the destination differ from the source first, so a lost copy cannot pass.
        if (step.verify) memory.write32(Math.floor(dst / 4096), 0, ~memory.read32(Math.floor(buffers[k] / 4096), 0) >>> 0);
        r = channel.copy(bufferBig[k], dstBig, size);
        if (r.ok && step.verify) {
          if (!sameWords(memory, buffers[k], dst, size)) fail(`buffer ${i}: copy of ${size} bytes from working-set buffer ${k} (${hex(buffers[k])}) reported success but the destination differs`);
          verified++;
        }
      } else if (step.op === 'fill') {
        const lo = prng.nextU32();
        const hi = prng.nextU32();
        r = channel.fill(bufferBig[k], size, (BigInt(hi) << 32n) | BigInt(lo));
        if (r.ok && step.verify) {
          if (!holdsPattern(memory, buffers[k], size, lo, hi)) fail(`buffer ${i}: fill of ${size} bytes at ${hex(buffers[k])} reported success but memory does not hold the pattern`);
          verified++;
        }
      } else {
        r = channel.readVerify(bufferBig[k], size, (BigInt(patternsHi[k]) << 32n) | BigInt(patternsLo[k]));
        if (r.ok && step.verify) verified++;
      }
      if (!r.ok && !(r.error === 'mismatch' && !step.verify)) {
        fail(`buffer ${i}: ${step.op} of ${size} bytes (working-set buffer ${k} at ${hex(buffers[k])}) failed: ${r.error} at DMA address ${hex(r.dmaAddress)} after ${r.bytes} bytes`);
      }
      bytes += size;
      if ((i + 1) % every === 0 || i + 1 === step.buffers) ctx.progress(i + 1, step.buffers);
    }
    kernel.poll();
  } finally {
    for (const first of allocated) kernel.pages.freePages(first, pages);
  }

  let invalidationCommands = 0;
  let fences = 0;
  if (driver !== null && commandsBefore !== null) {
    for (const [name, n] of Object.entries(driver.stats.commands)) {
      const delta = n - (commandsBefore[name] ?? 0);
      if (INVALIDATION.test(name)) invalidationCommands += delta;
      else if (name === 'IOFENCE.C') fences += delta;
    }
  }
  let hitRate = 0;
  let translations = 0;
  if (model !== null && modelBefore !== null) {
    const after = model.statistics();
    const hits = after.iotlb.hits - modelBefore.iotlb.hits;
    const misses = after.iotlb.misses - modelBefore.iotlb.misses;
    translations = after.requests.untranslated - modelBefore.requests.untranslated;
    hitRate = hits + misses === 0 ? 0 : hits / (hits + misses);
  }
  return {
    step: -1, // set by the runner
    label: null,
    device: dev.name,
    op: step.op,
    access: step.access,
    buffers: step.buffers,
    bytes,
    verified,
    cycles: kernel.clock.now - cyclesBefore,
    dmaMaps: kernel.dma.stats.mapped - dmaBefore.mapped,
    dmaUnmaps: kernel.dma.stats.unmapped - dmaBefore.unmapped,
    invalidationCommands,
    fences,
    invalidationsPerBuffer: invalidationCommands / step.buffers,
    iotlbHitRate: hitRate,
    translations,
  };
}
