// The `workload` step: a generated stream of DMA buffers, each mapped with the DMA API, used by
// the device's engine and unmapped, as a network or block driver does; the kernel's
// invalidation policy decides whether each unmap invalidates at once or through the flush
// queue. The loop allocates nothing per buffer beyond what the DMA API and the engine do, and
// logs nothing: it runs at the models' speed.

import type { Device } from '../os/driver-model/device.js';
import type { DmaEngineChannel, DmaEngineResult } from '../os/drivers/dma-engine/index.js';
import type { Kernel } from '../os/kernel/kernel.js';
import type { Machine } from '../platform/machine/machine.js';
import type { VirtualMachinePair } from '../platform/vm/index.js';
import { hex } from '../sim/u64.js';
import { iommuCounters, type IommuCounters } from '../report/architectures/index.js';
import type { WorkloadReport } from '../report/types.js';
import { hardwareIdentity } from './devices.js';
import { holdsPattern, patternStream, randomStream, sameWords, writeStream } from './memory.js';
import { Prng } from './prng.js';
import type { Step } from './schema.js';

export type WorkloadStep = Extract<Step, { kind: 'workload' }>;

export interface WorkloadContext {
  /** What the device's DMA goes through: a machine, or a host + guest pair (the kernel is its guest's). */
  target: Machine | VirtualMachinePair;
  kernel: Kernel;
  dev: Device;
  channel: DmaEngineChannel;
  seed: bigint;
  /** Called every 1% of the buffers (and at the end). */
  progress: (done: number, total: number) => void;
  /** Stops the step with a message. */
  fail: (message: string) => never;
}

export function runWorkload(step: WorkloadStep, ctx: WorkloadContext): WorkloadReport {
  const { kernel, dev, channel, fail } = ctx;
  const memory = kernel.memory;
  const prng = new Prng(ctx.seed);
  const sizes = step.sizes;
  const maxSize = Math.max(...sizes);
  const pages = Math.ceil(maxSize / 4096);
  const working = Math.min(step.workingSet, step.buffers);

  // What to measure: the driver's commands and the model's translations, before and after, on
  // the IOMMU that translates the device (on a pair with the host backend, the host's, whose
  // commands the host kernel's driver issues for the guest's UNMAPs).
  const hw = hardwareIdentity(ctx.target, dev);
  const counters = (): IommuCounters | null => (hw === null ? null : iommuCounters(hw.iommu, hw.kernel));
  const before = counters();
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

  const after = counters();
  const delta = (pick: (c: IommuCounters) => number): number => (before === null || after === null ? 0 : pick(after) - pick(before));
  const hits = delta((c) => c.tlbHits);
  const misses = delta((c) => c.tlbMisses);
  const invalidationCommands = delta((c) => c.invalidationCommands);
  return {
    step: -1, // set by the runner
    label: null,
    guest: null,
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
    syncs: delta((c) => c.syncs),
    invalidationsPerBuffer: invalidationCommands / step.buffers,
    tlbHitRate: hits + misses === 0 ? null : hits / (hits + misses),
    translations: delta((c) => c.translations),
  };
}
