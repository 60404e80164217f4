// Throughput of the virtio-iommu guest driver (src/os/drivers/virtio-iommu) against the device
// model on the built-in riscv-virt-virtio-iommu machine, with and without request batching, so
// that what batching saves is a measured number. The driver talks to the device only through
// its virtqueues.
//
//   map-unmap-4k-{batched,unbatched}        iommu_map + iommu_unmap of one 4 KiB page in an
//                                           unmanaged domain of PCI function 00:01.0, at IOVAs
//                                           that walk over 1 GiB (as os/*/map-unmap-4k). A MAP
//                                           is always waited for, and so is the UNMAP, at the
//                                           unmap's IOTLB sync: batching should change nothing.
//   dma-map-unmap-lazy-{batched,unbatched}  dma_map_single + dma_unmap_single of a 4 KiB buffer
//                                           for the platform DMA engine, in its lazy default
//                                           domain: the flush queue defers the UNMAPs, and with
//                                           batching those it releases together share one wait.
//
// Counted by the driver (VirtioIommuStats): requests, syncs (a notification and a wait for every
// request in flight) and kicks (notifications the device was sent) per operation, and requests
// per sync. A request the device failed, and for map-unmap a mapping left behind, is an error.

import type { IommuDomain } from '../src/os/core/types.js';
import { DomainType, Prot } from '../src/os/core/types.js';
import type { Device } from '../src/os/driver-model/device.js';
import { DmaDirection } from '../src/os/dma/types.js';
import { virtioIommuInstanceOf, type VirtioIommuDevice } from '../src/os/drivers/virtio-iommu/index.js';
import type { Kernel } from '../src/os/kernel/kernel.js';
import { loadBuiltinPlatform } from '../src/platform/builtin/index.js';
import { Machine, type MachineOptions } from '../src/platform/machine/machine.js';

export interface VirtioIommuWorkloadResult {
  workload: string;
  platform: string;
  batching: boolean;
  operations: number;
  seconds: number;
  operationsPerSecond: number;
  /** What an operation is, for the text output. */
  unit: string;
  requestsPerOperation: number;
  kicksPerOperation: number;
  syncsPerOperation: number;
  requestsPerSync: number;
  errors: number;
}

const PLATFORM = 'riscv-virt-virtio-iommu';
const PLATFORM_ENGINE = '3020000.dma-controller';
const PCI_FUNCTION = '0000:00:01.0';
const GIB = 1n << 30n;
const PAGE = 4096n;

interface VirtioIommuWorkload {
  name: string;
  unit: string;
  batching: boolean;
  defaultOperations: number;
  /** Kernel options (the default-domain policy). */
  kernel: MachineOptions['kernel'];
  /** Prepares the machine; returns the operation to time (false on a wrong result). */
  setup(kernel: Kernel): (i: number) => boolean;
  /** Every operation leaves the device with the mappings it found (a flush queue keeps some). */
  balanced: boolean;
}

function device(kernel: Kernel, name: string): Device {
  const dev = kernel.drivers.find((d) => d.name === name);
  if (dev === undefined || dev.state !== 'bound') throw new Error(`bench: ${name} is not bound on ${PLATFORM}`);
  return dev;
}

function mapUnmap(kernel: Kernel): (i: number) => boolean {
  const dev = device(kernel, PCI_FUNCTION);
  const core = kernel.iommu;
  const domain: IommuDomain = core.domainAlloc(dev, DomainType.Unmanaged);
  core.attachDevice(domain, dev);
  const slots = Number(GIB / PAGE);
  const target = BigInt(kernel.pages.allocPages(1)) << 12n;
  return (i) => {
    const iova = GIB + BigInt(((i * 7919) % slots) >>> 0) * PAGE;
    core.map(domain, iova, target, PAGE, Prot.READ | Prot.WRITE);
    return core.unmap(domain, iova, PAGE) === PAGE;
  };
}

function dmaMapUnmap(kernel: Kernel): (i: number) => boolean {
  const dev = device(kernel, PLATFORM_ENGINE);
  const buffers = Array.from({ length: 64 }, () => BigInt(kernel.pages.allocPages(1)) << 12n);
  return (i) => {
    const dma = kernel.dma.mapSingle(dev, buffers[i & 63], 4096, DmaDirection.ToDevice);
    kernel.dma.unmapSingle(dev, dma, 4096, DmaDirection.ToDevice);
    return true;
  };
}

const MODES = [
  { suffix: 'batched', batching: true },
  { suffix: 'unbatched', batching: false },
] as const;

const WORKLOADS: readonly VirtioIommuWorkload[] = [
  ...MODES.map(({ suffix, batching }) => ({ name: `map-unmap-4k-${suffix}`, unit: 'map+unmap/s', batching, defaultOperations: 100_000, kernel: {}, setup: mapUnmap, balanced: true })),
  ...MODES.map(({ suffix, batching }) => ({
    name: `dma-map-unmap-lazy-${suffix}`,
    unit: 'buffers/s',
    batching,
    defaultOperations: 100_000,
    kernel: { iommu: { strict: false } },
    setup: dmaMapUnmap,
    balanced: false,
  })),
];

export const VIRTIO_IOMMU_WORKLOAD_NAMES = WORKLOADS.map((w) => w.name);

interface Counts {
  requests: number;
  kicks: number;
  syncs: number;
  /** Requests the device failed or returned without a status. */
  failures: number;
  /** Mappings the device holds. */
  mappings: number;
}

function counts(machine: Machine, driver: VirtioIommuDevice): Counts {
  const s = driver.statistics();
  let mappings = 0;
  for (const iommu of machine.iommus) if (iommu.kind === 'virtio-iommu') mappings += iommu.model.statistics().mappings.current;
  return { requests: s.totalRequests, kicks: s.kicks, syncs: s.syncs, failures: Object.values(s.failed).reduce((a, b) => a + b, 0), mappings };
}

export function runVirtioIommuWorkload(name: string, scale = 1): VirtioIommuWorkloadResult {
  const w = WORKLOADS.find((x) => x.name === name);
  if (w === undefined) throw new Error(`unknown workload ${name}; known: ${VIRTIO_IOMMU_WORKLOAD_NAMES.join(', ')}`);
  const machine = new Machine(loadBuiltinPlatform(PLATFORM).tree, { virtioIommu: { driver: { batching: w.batching } }, kernel: w.kernel });
  const kernel = machine.boot();
  const driver = virtioIommuInstanceOf(kernel.iommu.instances[0]);
  if (driver === null) throw new Error(`bench: no virtio-iommu registered on ${PLATFORM}`);
  const op = w.setup(kernel);
  const operations = Math.max(1, Math.round(w.defaultOperations * scale));
  // Warm up (JIT, request slots) on a tenth of the run, then measure.
  let errors = 0;
  for (let i = 0; i < operations / 10; i++) if (!op(i)) errors++;
  const before = counts(machine, driver);
  const start = process.hrtime.bigint();
  for (let i = 0; i < operations; i++) if (!op(i)) errors++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const after = counts(machine, driver);
  errors += after.failures;
  if (w.balanced && after.mappings !== before.mappings) errors++;
  const requests = after.requests - before.requests;
  const syncs = after.syncs - before.syncs;
  return {
    workload: name,
    platform: PLATFORM,
    batching: w.batching,
    operations,
    seconds,
    operationsPerSecond: operations / seconds,
    unit: w.unit,
    requestsPerOperation: requests / operations,
    kicksPerOperation: (after.kicks - before.kicks) / operations,
    syncsPerOperation: syncs / operations,
    requestsPerSync: syncs === 0 ? 0 : requests / syncs,
    errors,
  };
}
