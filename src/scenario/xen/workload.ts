// The `workload` step of a hypervisor scenario: a guest's driver streams DMA buffers through
// its passed-through engine. Unlike a kernel's DMA-API workload, nothing is mapped or unmapped
// per buffer: the guest hands the engine guest-physical addresses, and the IPMMU translates
// them with the guest's P2M (Xen shares it with the IOMMU), so the hypervisor issues no TLB
// flush unless the P2M changes. The working set comes from the guest's RAM and goes back at
// the end; data is written and checked by the guest's CPU.

import type { Xen } from '../../hyp/xen/index.js';
import type { Machine, MachineDmaEngine } from '../../platform/machine/machine.js';
import { ipmmuCounters, type IommuCounters } from '../../report/architectures/index.js';
import type { WorkloadReport } from '../../report/types.js';
import { iommusOf } from '../../os/core/of-iommu.js';
import { hex } from '../../sim/u64.js';
import { patternStream, randomStream } from '../memory.js';
import { Prng } from '../prng.js';
import type { EngineDriver, EngineOutcome, EngineRegisters } from './engine-driver.js';
import { writeStreamTo, type GuestAllocator } from './guest-memory.js';
import type { XenStep } from './schema.js';
import type { XenDomain } from '../../hyp/xen/index.js';

export type GuestWorkloadStep = Extract<XenStep, { kind: 'workload' }>;

export interface GuestWorkloadContext {
  machine: Machine;
  xen: Xen;
  guest: { name: string; domain: XenDomain; allocator: GuestAllocator };
  engine: MachineDmaEngine;
  regs: EngineRegisters;
  driver: EngineDriver;
  seed: bigint;
  /** Counts one transfer in the guest's and the device's numbers. */
  account: (r: EngineOutcome) => void;
  /** Called every 1% of the buffers (and at the end). */
  progress: (done: number, total: number) => void;
  fail: (message: string) => never;
}

/** The running totals of the IPMMU in front of `engine` (null if it is behind none). */
function counters(machine: Machine, engine: MachineDmaEngine): (() => IommuCounters) | null {
  const ref = iommusOf(machine.tree, engine.node)[0];
  const iommu = ref === undefined ? undefined : machine.iommuFor(ref.iommu);
  return iommu?.kind === 'ipmmu-vmsa' ? () => ipmmuCounters(iommu) : null;
}

export function runGuestWorkload(step: GuestWorkloadStep, ctx: GuestWorkloadContext): WorkloadReport {
  const { guest, fail } = ctx;
  const memory = guest.domain.memory;
  const prng = new Prng(ctx.seed);
  const maxSize = Math.max(...step.sizes);
  const pages = Math.ceil(maxSize / 4096);
  const working = Math.min(step.workingSet, step.buffers);
  const read = counters(ctx.machine, ctx.engine);
  const before = read?.() ?? null;
  const cyclesBefore = ctx.xen.clock.now;

  const allocated: number[] = [];
  const alloc = (): bigint => {
    const gfn = guest.allocator.alloc(pages);
    if (gfn === null) return fail(`guest ${guest.name} has no room for the working set (${working} buffers of ${pages} pages): ${guest.allocator.freePages} pages are free`);
    allocated.push(gfn);
    return BigInt(gfn) << 12n;
  };
  let bytes = 0;
  let verified = 0;
  try {
    const buffers: bigint[] = [];
    const patterns: bigint[] = [];
    for (let k = 0; k < working; k++) {
      const at = alloc();
      buffers.push(at);
      // Sources get distinct contents: random data to copy, or a pattern the engine reads back.
      if (step.op === 'copy') writeStreamTo(memory, at, maxSize, randomStream(prng.nextU64()));
      if (step.op === 'read') {
        patterns.push(prng.nextU64());
        writeStreamTo(memory, at, maxSize, patternStream(patterns[k]));
      }
    }
    const dst = step.op === 'copy' ? alloc() : 0n;
    const every = Math.max(1, Math.floor(step.buffers / 100));

    for (let i = 0; i < step.buffers; i++) {
      const size = step.sizes.length === 1 ? step.sizes[0] : step.sizes[prng.below(step.sizes.length)];
      const k = step.access === 'sequential' ? i % working : prng.below(working);
      let r: EngineOutcome;
      if (step.op === 'copy') {
        // Make the destination differ from the source first, so a lost copy cannot pass.
        if (step.verify) memory.write32(dst, ~memory.read32(buffers[k]) >>> 0);
        r = ctx.driver.transfer(ctx.regs, { op: 'copy', src: buffers[k], dst, length: size, pattern: 0n });
        if (r.ok && step.verify) {
          if (!sameBytes(memory.read(buffers[k], size), memory.read(dst, size))) fail(`buffer ${i}: copy of ${size} bytes from working-set buffer ${k} (GPA ${hex(buffers[k])}) reported success but the destination differs`);
          verified++;
        }
      } else if (step.op === 'fill') {
        const pattern = prng.nextU64();
        r = ctx.driver.transfer(ctx.regs, { op: 'fill', src: 0n, dst: buffers[k], length: size, pattern });
        if (r.ok && step.verify) {
          if (!holdsPattern(memory.read(buffers[k], size), pattern)) fail(`buffer ${i}: fill of ${size} bytes at GPA ${hex(buffers[k])} reported success but memory does not hold the pattern`);
          verified++;
        }
      } else {
        r = ctx.driver.transfer(ctx.regs, { op: 'read', src: buffers[k], dst: 0n, length: size, pattern: patterns[k] });
        if (r.ok && step.verify) verified++;
      }
      ctx.account(r);
      if (!r.ok && !(r.error === 'mismatch' && !step.verify)) {
        fail(`buffer ${i}: ${step.op} of ${size} bytes (working-set buffer ${k} at GPA ${hex(buffers[k])}) failed: ${r.error} at DMA address ${hex(r.errorAddress)} after ${r.bytes} bytes`);
      }
      bytes += size;
      if ((i + 1) % every === 0 || i + 1 === step.buffers) ctx.progress(i + 1, step.buffers);
    }
  } finally {
    for (const gfn of allocated) guest.allocator.release(gfn, pages);
  }

  const after = read?.() ?? null;
  const delta = (pick: (c: IommuCounters) => number): number => (before === null || after === null ? 0 : pick(after) - pick(before));
  const hits = delta((c) => c.tlbHits);
  const misses = delta((c) => c.tlbMisses);
  const invalidationCommands = delta((c) => c.invalidationCommands);
  return {
    step: step.index,
    label: step.label,
    guest: guest.name,
    device: ctx.engine.node.path,
    op: step.op,
    access: step.access,
    buffers: step.buffers,
    bytes,
    verified,
    cycles: ctx.xen.clock.now - cyclesBefore,
    dmaMaps: 0,
    dmaUnmaps: 0,
    invalidationCommands,
    syncs: 0,
    invalidationsPerBuffer: invalidationCommands / step.buffers,
    tlbHitRate: hits + misses === 0 ? null : hits / (hits + misses),
    translations: delta((c) => c.translations),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `bytes` (starting 8-byte aligned) hold the 64-bit pattern little-endian, as the engine's fill writes it. */
function holdsPattern(bytes: Uint8Array, pattern: bigint): boolean {
  const p = new Uint8Array(8);
  for (let i = 0; i < 8; i++) p[i] = Number((pattern >> BigInt(8 * i)) & 0xffn);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== p[i & 7]) return false;
  return true;
}
