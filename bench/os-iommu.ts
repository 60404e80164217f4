// Throughput of the software side on each IOMMU driver, on a built-in machine (the IOMMU model
// behind the bus, the kernel talking to it through registers, memory and virtqueues only): the
// RISC-V IOMMU driver on riscv-virt, the SMMUv3 driver on arm-virt, the virtio-iommu driver on
// riscv-virt-virtio-iommu. The same six workloads run on each architecture, named
// <architecture>/<workload>:
//
//   map-unmap-4k / map-unmap-2m  iommu_map + iommu_unmap of one 4 KiB / 2 MiB page in an
//                                unmanaged paging domain of PCI function 00:01.0, at IOVAs
//                                that walk over 1 GiB, so page-table pages are allocated and
//                                freed as a real workload would. One operation = map + unmap
//                                (with its invalidation and sync).
//   dma-map-unmap-strict / -lazy the DMA API alone: dma_map_single + dma_unmap_single of a
//                                4 KiB buffer for the platform DMA engine, whose default DMA
//                                domain invalidates at once (strict) or through the flush
//                                queue (lazy). One operation = one buffer.
//   dma-stream-strict / -lazy    the same with the device in the loop: between map and unmap
//                                the engine reads the buffer through the IOMMU and checks it.
//
// Invalidations and syncs are counted by the IOMMU model, so they are what the driver really
// submitted: on RISC-V, IOTINVAL.*, IODIR.* and ATS.INVAL, and IOFENCE.C; on SMMUv3,
// CMD_TLBI_*, CMD_CFGI_* and CMD_ATC_INV, and CMD_SYNC; on virtio-iommu, whose only
// invalidation is an UNMAP request, UNMAPs, and the request-queue notifications (the driver
// notifies the device when it waits for its requests). A fault the model detected, a command
// it refused or a request it failed counts as an error.

import { VirtioIommuQueue } from '../src/formats/virtio-iommu/features.js';
import type { Device } from '../src/os/driver-model/device.js';
import { DomainType, Prot } from '../src/os/core/types.js';
import { DmaDirection } from '../src/os/dma/types.js';
import { dmaEngineOf } from '../src/os/drivers/dma-engine/index.js';
import type { Kernel } from '../src/os/kernel/kernel.js';
import { loadBuiltinPlatform } from '../src/platform/builtin/index.js';
import { Machine, type MachineIommu, type MachineOptions } from '../src/platform/machine/machine.js';

export interface OsWorkloadResult {
  /** "<architecture>/<workload>". */
  workload: string;
  architecture: OsArchitectureName;
  platform: string;
  operations: number;
  seconds: number;
  operationsPerSecond: number;
  /** What an operation is, for the text output. */
  unit: string;
  /** Invalidation commands (UNMAP requests on virtio-iommu) per operation. */
  invalidationCommandsPerOperation: number;
  /** IOFENCE.C on RISC-V, CMD_SYNC on SMMUv3, request-queue notifications on virtio-iommu. */
  syncsPerOperation: number;
  errors: number;
}

export type OsArchitectureName = 'riscv-iommu' | 'smmuv3' | 'virtio-iommu';

interface ModelCounts {
  invalidations: number;
  syncs: number;
  /** Faults the model detected, commands it refused, requests it failed. */
  failures: number;
}

interface OsArchitecture {
  name: OsArchitectureName;
  /** The built-in platform the workloads boot. */
  platform: string;
  /** The kernel's device names of the platform DMA engine and of PCI function 00:01.0. */
  platformEngine: string;
  pciFunction: string;
  /** What the machine's IOMMU models of this architecture have counted so far. */
  count(iommus: readonly MachineIommu[]): ModelCounts;
}

const sum = (r: Record<string | number, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Adds the commands of `byName` that invalidate, and those that sync, to `counts`. */
function addCommands(counts: ModelCounts, byName: Record<string, number>, isInvalidation: (c: string) => boolean, isSync: (c: string) => boolean): void {
  for (const [name, count] of Object.entries(byName)) {
    if (isInvalidation(name)) counts.invalidations += count;
    else if (isSync(name)) counts.syncs += count;
  }
}

const ARCHITECTURES: readonly OsArchitecture[] = [
  {
    name: 'riscv-iommu',
    platform: 'riscv-virt',
    platformEngine: '3020000.dma-controller',
    pciFunction: '0000:00:01.0',
    count(iommus) {
      const counts: ModelCounts = { invalidations: 0, syncs: 0, failures: 0 };
      for (const iommu of iommus) {
        if (iommu.kind !== 'riscv-iommu') continue;
        const s = iommu.model.statistics();
        addCommands(counts, s.commands, (c) => c.startsWith('IOTINVAL') || c.startsWith('IODIR') || c === 'ATS.INVAL', (c) => c === 'IOFENCE.C');
        counts.failures += sum(s.faults.detected);
      }
      return counts;
    },
  },
  {
    name: 'smmuv3',
    platform: 'arm-virt',
    platformEngine: 'c000000.dma-controller',
    pciFunction: '0000:00:01.0',
    count(iommus) {
      const counts: ModelCounts = { invalidations: 0, syncs: 0, failures: 0 };
      for (const iommu of iommus) {
        if (iommu.kind !== 'smmuv3') continue;
        const s = iommu.model.statistics();
        addCommands(counts, s.commands, (c) => c.startsWith('CMD_TLBI_') || c.startsWith('CMD_CFGI_') || c === 'CMD_ATC_INV', (c) => c === 'CMD_SYNC');
        counts.failures += sum(s.faults) + s.commandErrors.ill + s.commandErrors.abt + s.commandErrors.atcInvSync;
      }
      return counts;
    },
  },
  {
    name: 'virtio-iommu',
    platform: 'riscv-virt-virtio-iommu',
    platformEngine: '3020000.dma-controller',
    pciFunction: '0000:00:01.0',
    count(iommus) {
      const counts: ModelCounts = { invalidations: 0, syncs: 0, failures: 0 };
      for (const iommu of iommus) {
        if (iommu.kind !== 'virtio-iommu') continue;
        const s = iommu.model.statistics();
        counts.invalidations += s.requests.UNMAP;
        counts.syncs += iommu.transport.core.queues[VirtioIommuQueue.Request].counters.kicks;
        counts.failures += sum(s.statuses) - s.statuses.OK + s.unanswered + s.faults.unknown + s.faults.domain + s.faults.mapping;
      }
      return counts;
    },
  },
];

interface OsWorkloadKind {
  name: string;
  unit: string;
  defaultOperations: number;
  options: MachineOptions;
  /** Prepares the machine and returns the operation to time (returns false on a wrong result). */
  setup(kernel: Kernel, arch: OsArchitecture): (i: number) => boolean;
}

interface OsWorkload {
  /** "<architecture>/<workload>". */
  name: string;
  arch: OsArchitecture;
  kind: OsWorkloadKind;
}

const GIB = 1n << 30n;

function device(kernel: Kernel, name: string, platform: string): Device {
  const dev = kernel.drivers.find((d) => d.name === name);
  if (dev === undefined || dev.state !== 'bound') throw new Error(`bench: ${name} is not bound on ${platform}`);
  return dev;
}

function mapUnmap(pageLog2: number): OsWorkloadKind['setup'] {
  return (kernel, arch) => {
    const dev = device(kernel, arch.pciFunction, arch.platform);
    const domain = kernel.iommu.domainAlloc(dev, DomainType.Unmanaged);
    kernel.iommu.attachDevice(domain, dev);
    const size = 1n << BigInt(pageLog2);
    const slots = Number(GIB / size);
    const pages = 1 << (pageLog2 - 12);
    const target = BigInt(kernel.pages.allocPages(pages, pages)) << 12n;
    return (i) => {
      const iova = GIB + BigInt(((i * 7919) % slots) >>> 0) * size;
      kernel.iommu.map(domain, iova, target, size, Prot.READ | Prot.WRITE);
      return kernel.iommu.unmap(domain, iova, size) === size;
    };
  };
}

function dmaStream(withTransfer: boolean): OsWorkloadKind['setup'] {
  return (kernel, arch) => {
    const dev = device(kernel, arch.platformEngine, arch.platform);
    const channel = dmaEngineOf(dev);
    // A ring of 64 buffers, each filled with its own pattern, read back by the engine.
    const buffers = Array.from({ length: 64 }, (_, k) => {
      const paddr = BigInt(kernel.pages.allocPages(1)) << 12n;
      kernel.memory.writeBytes(paddr, new Uint8Array(4096).fill(k + 1));
      return { paddr, pattern: 0x0101_0101_0101_0101n * BigInt(k + 1) };
    });
    return (i) => {
      const b = buffers[i & 63];
      const dma = kernel.dma.mapSingle(dev, b.paddr, 4096, DmaDirection.ToDevice);
      const ok = !withTransfer || channel.rawReadVerify(dma, 4096, b.pattern).ok;
      kernel.dma.unmapSingle(dev, dma, 4096, DmaDirection.ToDevice);
      return ok;
    };
  };
}

const STRICT: MachineOptions = { kernel: { iommu: { strict: true } } };
const LAZY: MachineOptions = { kernel: { iommu: { strict: false } } };

const KINDS: readonly OsWorkloadKind[] = [
  { name: 'map-unmap-4k', unit: 'map+unmap/s', defaultOperations: 100_000, options: {}, setup: mapUnmap(12) },
  { name: 'map-unmap-2m', unit: 'map+unmap/s', defaultOperations: 100_000, options: {}, setup: mapUnmap(21) },
  { name: 'dma-map-unmap-strict', unit: 'buffers/s', defaultOperations: 100_000, options: STRICT, setup: dmaStream(false) },
  { name: 'dma-map-unmap-lazy', unit: 'buffers/s', defaultOperations: 100_000, options: LAZY, setup: dmaStream(false) },
  { name: 'dma-stream-strict', unit: 'buffers/s', defaultOperations: 3_000, options: STRICT, setup: dmaStream(true) },
  { name: 'dma-stream-lazy', unit: 'buffers/s', defaultOperations: 3_000, options: LAZY, setup: dmaStream(true) },
];

/** Every workload on every architecture, architecture by architecture. */
const OS_WORKLOADS: readonly OsWorkload[] = ARCHITECTURES.flatMap((arch) => KINDS.map((kind) => ({ name: `${arch.name}/${kind.name}`, arch, kind })));

export const OS_WORKLOAD_NAMES = OS_WORKLOADS.map((w) => w.name);

export function runOsWorkload(name: string, scale = 1): OsWorkloadResult {
  const workload = OS_WORKLOADS.find((w) => w.name === name);
  if (workload === undefined) throw new Error(`unknown workload ${name}; known: ${OS_WORKLOAD_NAMES.join(', ')}`);
  const { arch, kind } = workload;
  const machine = new Machine(loadBuiltinPlatform(arch.platform).tree, kind.options);
  const kernel = machine.boot();
  const op = kind.setup(kernel, arch);
  const operations = Math.max(1, Math.round(kind.defaultOperations * scale));
  // Warm up (JIT, page-table pages) on a tenth of the run, then measure.
  let errors = 0;
  for (let i = 0; i < operations / 10; i++) if (!op(i)) errors++;
  const before = arch.count(machine.iommus);
  const start = process.hrtime.bigint();
  for (let i = 0; i < operations; i++) if (!op(i)) errors++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const after = arch.count(machine.iommus);
  errors += after.failures - before.failures;
  return {
    workload: workload.name,
    architecture: arch.name,
    platform: arch.platform,
    operations,
    seconds,
    operationsPerSecond: operations / seconds,
    unit: kind.unit,
    invalidationCommandsPerOperation: (after.invalidations - before.invalidations) / operations,
    syncsPerOperation: (after.syncs - before.syncs) / operations,
    errors,
  };
}
