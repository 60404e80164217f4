// Throughput of the software side on the RISC-V IOMMU driver, on the built-in riscv-virt
// machine (the IOMMU model behind the bus, the kernel talking to it through registers and
// memory only):
//
//   map-unmap-4k / map-unmap-2m  iommu_map + iommu_unmap of one 4 KiB / 2 MiB page in an
//                                unmanaged paging domain of PCI function 00:01.0, at IOVAs
//                                that walk over 1 GiB, so page-table pages are allocated and
//                                freed as a real workload would. One operation = map + unmap
//                                (with its IOTINVAL.VMA and IOFENCE.C).
//   dma-map-unmap-strict / -lazy the DMA API alone: dma_map_single + dma_unmap_single of a
//                                4 KiB buffer for the platform DMA engine, whose default DMA
//                                domain invalidates at once (strict) or through the flush
//                                queue (lazy). One operation = one buffer.
//   dma-stream-strict / -lazy    the same with the device in the loop: between map and unmap
//                                the engine reads the buffer through the IOMMU and checks it.
//
// Invalidation commands are counted by the IOMMU model (IOTINVAL.VMA/GVMA, IODIR), so they
// are what the driver really submitted.

import type { Device } from '../src/os/driver-model/device.js';
import { DomainType, Prot } from '../src/os/core/types.js';
import { DmaDirection } from '../src/os/dma/types.js';
import { dmaEngineOf } from '../src/os/drivers/dma-engine/index.js';
import type { Kernel } from '../src/os/kernel/kernel.js';
import { loadBuiltinPlatform } from '../src/platform/builtin/index.js';
import { Machine, type MachineOptions } from '../src/platform/machine/machine.js';

export interface OsWorkloadResult {
  workload: string;
  operations: number;
  seconds: number;
  operationsPerSecond: number;
  /** What an operation is, for the text output. */
  unit: string;
  invalidationCommandsPerOperation: number;
  fencesPerOperation: number;
  errors: number;
}

interface OsWorkload {
  name: string;
  unit: string;
  defaultOperations: number;
  options: MachineOptions;
  /** Prepares the machine and returns the operation to time (returns false on a wrong result). */
  setup(machine: Machine, kernel: Kernel): (i: number) => boolean;
}

const PLATFORM_ENGINE = '3020000.dma-controller';
const PCI_FUNCTION = '0000:00:01.0';
const GIB = 1n << 30n;

function device(kernel: Kernel, name: string): Device {
  const dev = kernel.drivers.find((d) => d.name === name);
  if (dev === undefined || dev.state !== 'bound') throw new Error(`bench: ${name} is not bound on riscv-virt`);
  return dev;
}

function mapUnmap(pageLog2: number): OsWorkload['setup'] {
  return (_machine, kernel) => {
    const dev = device(kernel, PCI_FUNCTION);
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

function dmaStream(withTransfer: boolean): OsWorkload['setup'] {
  return (_machine, kernel) => streamBuffers(kernel, withTransfer);
}

function streamBuffers(kernel: Kernel, withTransfer: boolean): (i: number) => boolean {
  const dev = device(kernel, PLATFORM_ENGINE);
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
}

const STRICT: MachineOptions = { kernel: { iommu: { strict: true } } };
const LAZY: MachineOptions = { kernel: { iommu: { strict: false } } };

export const OS_WORKLOADS: readonly OsWorkload[] = [
  { name: 'map-unmap-4k', unit: 'map+unmap/s', defaultOperations: 100_000, options: {}, setup: mapUnmap(12) },
  { name: 'map-unmap-2m', unit: 'map+unmap/s', defaultOperations: 100_000, options: {}, setup: mapUnmap(21) },
  { name: 'dma-map-unmap-strict', unit: 'buffers/s', defaultOperations: 100_000, options: STRICT, setup: dmaStream(false) },
  { name: 'dma-map-unmap-lazy', unit: 'buffers/s', defaultOperations: 100_000, options: LAZY, setup: dmaStream(false) },
  { name: 'dma-stream-strict', unit: 'buffers/s', defaultOperations: 3_000, options: STRICT, setup: dmaStream(true) },
  { name: 'dma-stream-lazy', unit: 'buffers/s', defaultOperations: 3_000, options: LAZY, setup: dmaStream(true) },
];

function commandCounts(machine: Machine): { invalidations: number; fences: number } {
  let invalidations = 0;
  let fences = 0;
  for (const { model } of machine.iommus) {
    for (const [name, count] of Object.entries(model.statistics().commands)) {
      if (name.startsWith('IOTINVAL') || name.startsWith('IODIR')) invalidations += count;
      else if (name.startsWith('IOFENCE')) fences += count;
    }
  }
  return { invalidations, fences };
}

export function runOsWorkload(workload: OsWorkload, scale: number): OsWorkloadResult {
  const machine = new Machine(loadBuiltinPlatform('riscv-virt').tree, workload.options);
  const kernel = machine.boot();
  const op = workload.setup(machine, kernel);
  const operations = Math.max(1, Math.round(workload.defaultOperations * scale));
  // Warm up (JIT, page-table pages) on a tenth of the run, then measure.
  let errors = 0;
  for (let i = 0; i < operations / 10; i++) if (!op(i)) errors++;
  const before = commandCounts(machine);
  const start = process.hrtime.bigint();
  for (let i = 0; i < operations; i++) if (!op(i)) errors++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const after = commandCounts(machine);
  return {
    workload: workload.name,
    operations,
    seconds,
    operationsPerSecond: operations / seconds,
    unit: workload.unit,
    invalidationCommandsPerOperation: (after.invalidations - before.invalidations) / operations,
    fencesPerOperation: (after.fences - before.fences) / operations,
    errors,
  };
}
