// The scenario format of docs/scenarios.md as a zod schema, and the typed Scenario it yields.
// Leaf values go through the parsers of values.ts (so that every message says what was
// expected and what was found); mappings are strict (an unknown key is an error naming the
// key and listing the valid ones); a step is checked for exactly one action key before its
// fields are parsed, so a typo in the action key gets a message listing the step kinds.
//
// Two kinds of scenario share the top level and `config`: a kernel scenario (steps through
// the kernel's IOMMU core and DMA API, below) and, with `hypervisor: xen`, a hypervisor
// scenario whose steps create guests and run DMA inside them (xen/schema.ts).

import * as z from 'zod';
import { DEFAULT_CAPABILITIES, type RiscvIommuCapabilities } from '../hw/riscv-iommu/parameters.js';
import { DEFAULT_CAPABILITIES as SMMUV3_DEFAULT_CAPABILITIES, type SmmuV3Capabilities } from '../hw/smmuv3/parameters.js';
import { listBuiltinPlatforms } from '../platform/builtin/index.js';
import { hex } from '../sim/u64.js';
import { causeByName } from './faults.js';
import { address, boolean, checkDmaFields, choice, count, cpuLength, cycles, CYCLES_MAX, data, device, DMA_OPS, length, mapping, name, pattern, seed, size, stepDispatcher, text, value, workloadFields, workloadSpec, type WorkloadSpec } from './schema-parts.js';
import { describeValue, formatSize, parseAddress, parseInteger, parseNumber, Problem, type AddressExpr, type DataSpec, type Parsed } from './values.js';
import { STEP_KINDS, XEN_STEP_KINDS } from './step-kinds.js';
import { xenStepSchema, type XenStep } from './xen/schema.js';

export { MAX_CPU_LENGTH, MAX_TRANSFER } from './schema-parts.js';
export { STEP_KINDS } from './step-kinds.js';

// ---- the typed scenario ----------------------------------------------------------------

export type PlatformSpec = { kind: 'builtin'; name: string } | { kind: 'dts'; path: string } | { kind: 'dtb'; path: string };

export type Prot = 'r' | 'w' | 'rw';
export type Direction = 'to-device' | 'from-device' | 'bidirectional';
export type DmaOp = 'copy' | 'fill' | 'read';
export type DomainKind = 'paging' | 'identity' | 'blocked';

export interface CacheConfig {
  sets: number;
  ways: number;
}

export interface ScenarioConfig {
  kernel: {
    defaultDomain: 'translated' | 'passthrough';
    invalidation: 'strict' | 'lazy';
    flushQueue: { size?: number; timeout?: number };
  };
  riscvIommu: {
    capabilities: Partial<RiscvIommuCapabilities>;
    directoryLevels?: 1 | 2 | 3;
    caches: { iotlb?: CacheConfig; deviceContexts?: CacheConfig; processContexts?: CacheConfig };
  };
  smmuv3: {
    /** The driver's paging domains: stage 1 (default when the SMMU has it), or stage 2. */
    domainStage: 'auto' | 's1' | 's2';
    capabilities: Partial<SmmuV3Capabilities>;
    caches: { tlb?: CacheConfig; ste?: CacheConfig; cd?: CacheConfig };
  };
  virtioIommu: {
    pageSizeMask?: bigint;
    inputRange?: { start: bigint; end: bigint };
    domainRange?: { start: number; end: number };
    bypass?: boolean;
    /** The driver's UNMAP batching. */
    batching?: boolean;
    /**
     * On a VM guest platform (riscv-virt-vfio-guest): 'host', the guest's requests are mirrored
     * onto the host's RISC-V IOMMU, which translates the assigned engines (VFIO); 'none', the
     * virtio-iommu translates them itself. Undefined on other platforms.
     */
    backend?: 'host' | 'none';
    /** RESV_MEM regions, inclusive; endpoint null: every endpoint has it. */
    reservedRegions: VirtioReservedRegion[];
  };
  dmaEngine: { bytesPerCycle: number; burstBytes: number | undefined };
  ipmmu: {
    /** Each IPMMU's TLB geometry. */
    tlb?: CacheConfig;
    /** A transaction through a disabled micro-TLB, or to a disabled context: passed through untranslated, or aborted. */
    utlbDisabled?: 'bypass' | 'abort';
    contextDisabled?: 'bypass' | 'abort';
  };
  xen: {
    /** Devices no domain owns go to dom_io, whose empty P2M faults their DMA (default true). */
    quarantine?: boolean;
    /** dom0's RAM in MiB (default 16). */
    dom0MemoryMiB?: number;
  };
}

export interface VirtioReservedRegion {
  endpoint: number | null;
  start: bigint;
  end: bigint;
  type: 'msi' | 'reserved';
}

export interface MemoryCheck {
  address: AddressExpr;
  length: bigint;
  equals: DataSpec;
}

export interface TranslationCheck {
  domain: string;
  iova: AddressExpr;
  /** null: the IOVA must be unmapped (`phys: none`). */
  phys: AddressExpr | null;
}

export interface FaultsCheck {
  device?: string;
  /** A cause code (names are resolved while loading). */
  cause?: number;
  iova?: AddressExpr;
  count?: number;
}

export type StepAction =
  | { kind: 'alloc'; name: string; size: bigint; fill: DataSpec }
  | { kind: 'write'; address: AddressExpr; length: bigint; data: DataSpec }
  | { kind: 'domain'; name: string; device: string; type: DomainKind }
  | { kind: 'attach'; device: string; domain: string }
  | { kind: 'detach'; device: string }
  | { kind: 'map'; domain: string; iova: AddressExpr; phys: AddressExpr; size: bigint; prot: Prot }
  | { kind: 'unmap'; domain: string; iova: AddressExpr; size: bigint }
  | { kind: 'dma-map'; name: string; device: string; buffer: AddressExpr; size: bigint; direction: Direction }
  | { kind: 'dma-unmap'; name: string }
  | { kind: 'dma'; device: string; op: DmaOp; src: AddressExpr | null; dst: AddressExpr | null; length: bigint; pattern: bigint; pasid: number | null; expect: 'ok' | 'fault' }
  | { kind: 'advance'; cycles: number }
  | ({ kind: 'workload' } & WorkloadSpec)
  | { kind: 'expect'; memory: MemoryCheck | null; translation: TranslationCheck | null; faults: FaultsCheck | null };

export type StepKind = StepAction['kind'];

export type Step = StepAction & {
  /** Position in `steps` (0-based, as in error messages: steps[3]). */
  index: number;
  label: string | null;
};

export interface Scenario {
  name: string | null;
  description: string | null;
  platform: PlatformSpec;
  seed: bigint;
  config: ScenarioConfig;
  /** Kernel steps; none in a hypervisor scenario, whose steps are `hypervisor.steps`. */
  steps: Step[];
  /** A hypervisor scenario (`hypervisor: xen`) and its steps; null for a kernel scenario. */
  hypervisor: { kind: 'xen'; steps: XenStep[] } | null;
}


// ---- platform ----------------------------------------------------------------------------

function parsePlatform(v: unknown): Parsed<PlatformSpec> {
  const builtins = listBuiltinPlatforms().map((p) => p.name);
  const builtin = (n: unknown): Parsed<PlatformSpec> => {
    if (typeof n === 'string' && builtins.includes(n)) return { kind: 'builtin', name: n };
    return new Problem(`unknown built-in platform ${describeValue(n)}; built-in platforms: ${builtins.join(', ')}`);
  };
  if (typeof v === 'string') return builtin(v);
  const help = `expected a built-in platform name, { builtin: NAME }, { dts: PATH } or { dtb: PATH }, got`;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return new Problem(`${help} ${describeValue(v)}`);
  const entries = Object.entries(v);
  if (entries.length !== 1 || !['builtin', 'dts', 'dtb'].includes(entries[0][0])) {
    return new Problem(`${help} a mapping with key${entries.length === 1 ? '' : 's'} ${entries.map(([k]) => `"${k}"`).join(', ') || '(none)'}`);
  }
  const [kind, arg] = entries[0];
  if (kind === 'builtin') return builtin(arg);
  if (typeof arg !== 'string' || arg.length === 0) return new Problem(`${kind}: expected a file path, got ${describeValue(arg)}`);
  return kind === 'dts' ? { kind: 'dts', path: arg } : { kind: 'dtb', path: arg };
}

// ---- config ------------------------------------------------------------------------------

const cacheGeometry = (what: string) =>
  mapping(what, {
    sets: value((v) => {
      const n = parseInteger(v, 1, 1 << 20, 'a number of sets');
      if (n instanceof Problem) return n;
      return (n & (n - 1)) === 0 ? n : new Problem(`sets must be a power of two, got ${describeValue(v)}`);
    }),
    ways: count(1, 64, 'a number of ways'),
  });

function capabilityShape(): Record<keyof RiscvIommuCapabilities, z.ZodOptional<z.ZodType<unknown>>> {
  const shape: Record<string, z.ZodOptional<z.ZodType<unknown>>> = {};
  for (const [key, dflt] of Object.entries(DEFAULT_CAPABILITIES)) {
    if (key === 'IGS') shape[key] = choice(['MSI', 'WSI', 'BOTH'] as const).optional();
    else if (typeof dflt === 'number') shape[key] = count(32, 56, 'a physical address width in bits').optional();
    else shape[key] = boolean.optional();
  }
  return shape as Record<keyof RiscvIommuCapabilities, z.ZodOptional<z.ZodType<unknown>>>;
}

/** The SMMUv3 features a scenario may set: booleans, numbers in their architected ranges, and the named choices. */
function smmuV3CapabilityShape(): Record<keyof SmmuV3Capabilities, z.ZodOptional<z.ZodType<unknown>>> {
  const ranges: Readonly<Record<string, [number, number, string]>> = {
    sidBits: [0, 32, 'a number of StreamID bits'],
    ssidBits: [0, 20, 'a number of SubstreamID bits'],
    cmdqLog2Max: [0, 19, 'a log2 queue size'],
    eventqLog2Max: [0, 19, 'a log2 queue size'],
    priqLog2Max: [0, 19, 'a log2 queue size'],
    oasBits: [32, 52, 'an output address size in bits'],
    vaBits: [48, 52, 'a virtual address size in bits'],
  };
  const choices: Readonly<Record<string, readonly string[]>> = {
    httu: ['none', 'access', 'access-dirty'],
    ttEndian: ['mixed', 'little', 'big'],
    termModel: ['abort-or-raz-wi', 'abort-only'],
  };
  const shape: Record<string, z.ZodOptional<z.ZodType<unknown>>> = {};
  for (const key of Object.keys(SMMUV3_DEFAULT_CAPABILITIES)) {
    const r = ranges[key];
    const c = choices[key];
    shape[key] = (r !== undefined ? count(r[0], r[1], r[2]) : c !== undefined ? choice(c) : boolean).optional();
  }
  return shape as Record<keyof SmmuV3Capabilities, z.ZodOptional<z.ZodType<unknown>>>;
}

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;
const u64 = (what: string) =>
  value((v) => {
    const n = parseNumber(v, what);
    if (n instanceof Problem) return n;
    return n > U64_MAX ? new Problem(`expected ${what} below 2^64, got ${describeValue(v)}`) : n;
  });

/** `{ start, end }`, inclusive, with start <= end. */
function rangeOf<T extends bigint | number>(what: string, bound: z.ZodType<T>, show: (v: T) => string) {
  return mapping(what, { start: bound, end: bound }).superRefine((r, ctx) => {
    if (r.start > r.end) ctx.addIssue({ code: 'custom', message: `start ${show(r.start)} is above end ${show(r.end)}` });
  });
}

const reservedRegion = mapping('a reserved region', {
  endpoint: count(0, U32_MAX, 'an endpoint id').optional(),
  start: u64('an address'),
  end: u64('an address').optional(),
  size: size.optional(),
  type: choice(['msi', 'reserved'] as const).optional(),
})
  .superRefine((r, ctx) => {
    if ((r.end === undefined) === (r.size === undefined)) ctx.addIssue({ code: 'custom', message: 'a reserved region takes either end (inclusive) or size' });
    else if (r.end !== undefined && r.end < r.start) ctx.addIssue({ code: 'custom', message: `end ${hex(r.end)} is below start ${hex(r.start)}`, path: ['end'] });
    else if (r.size !== undefined && r.start + r.size - 1n > U64_MAX) ctx.addIssue({ code: 'custom', message: `${formatSize(r.size)} from ${hex(r.start)} go beyond 2^64`, path: ['size'] });
  })
  .transform((r): VirtioReservedRegion => ({ endpoint: r.endpoint ?? null, start: r.start, end: r.end ?? r.start + (r.size ?? 1n) - 1n, type: r.type ?? 'reserved' }));

const configSchema = mapping('config', {
  kernel: mapping('config.kernel', {
    'default-domain': choice(['translated', 'passthrough'] as const).optional(),
    invalidation: choice(['strict', 'lazy'] as const).optional(),
    'flush-queue': mapping('flush-queue', {
      size: count(1, 1 << 20, 'a number of entries').optional(),
      timeout: count(1, CYCLES_MAX, 'a timeout in cycles').optional(),
    }).optional(),
  }).optional(),
  'riscv-iommu': mapping('config.riscv-iommu', {
    capabilities: mapping('capabilities', capabilityShape()).optional(),
    'directory-levels': count(1, 3, 'a number of device-directory levels').optional(),
    caches: mapping('caches', {
      iotlb: cacheGeometry('iotlb').optional(),
      'device-contexts': cacheGeometry('device-contexts').optional(),
      'process-contexts': cacheGeometry('process-contexts').optional(),
    }).optional(),
  }).optional(),
  smmuv3: mapping('config.smmuv3', {
    'domain-stage': choice(['auto', 's1', 's2'] as const).optional(),
    capabilities: mapping('capabilities', smmuV3CapabilityShape()).optional(),
    caches: mapping('caches', {
      tlb: cacheGeometry('tlb').optional(),
      ste: cacheGeometry('ste').optional(),
      cd: cacheGeometry('cd').optional(),
    }).optional(),
  }).optional(),
  'virtio-iommu': mapping('config.virtio-iommu', {
    'page-size-mask': value((v) => {
      const n = parseNumber(v, 'a 64-bit page size mask');
      if (n instanceof Problem) return n;
      return n === 0n || n > U64_MAX ? new Problem(`page-size-mask must have a bit set and fit 64 bits, got ${describeValue(v)}`) : n;
    }).optional(),
    'input-range': rangeOf('input-range', u64('an IOVA'), (v) => hex(v)).optional(),
    'domain-range': rangeOf('domain-range', count(0, U32_MAX, 'a domain id'), String).optional(),
    bypass: boolean.optional(),
    batching: boolean.optional(),
    backend: choice(['host', 'none'] as const).optional(),
    'reserved-regions': z.array(reservedRegion, { error: (iss) => `expected a list of reserved regions, got ${describeValue(iss.input)}` }).optional(),
  }).optional(),
  ipmmu: mapping('config.ipmmu', {
    tlb: cacheGeometry('tlb').optional(),
    'utlb-disabled': choice(['bypass', 'abort'] as const).optional(),
    'context-disabled': choice(['bypass', 'abort'] as const).optional(),
  }).optional(),
  xen: mapping('config.xen', {
    quarantine: boolean.optional(),
    'dom0-memory': value((v) => {
      const n = parseNumber(v, 'a size in MiB such as 16M');
      if (n instanceof Problem) return n;
      return n === 0n || n % (1n << 20n) !== 0n || n > 1n << 40n ? new Problem(`dom0-memory is a whole number of MiB (such as 16M), got ${describeValue(v)}`) : Number(n >> 20n);
    }).optional(),
  }).optional(),
  'dma-engine': mapping('config.dma-engine', {
    'bytes-per-cycle': value((v) => {
      if (typeof v === 'number' && v >= 0 && Number.isFinite(v)) return v;
      const n = parseInteger(v, 0, 1 << 30, 'a throughput in bytes per cycle');
      return n;
    }).optional(),
    'burst-bytes': value((v) => {
      const n = parseInteger(v, 8, 4096, 'a transaction size of 8 to 4096 bytes');
      if (n instanceof Problem) return n;
      return (n & (n - 1)) === 0 ? n : new Problem(`burst-bytes must be a power of two, got ${describeValue(v)}`);
    }).optional(),
  }).optional(),
});

type RawConfig = z.output<typeof configSchema>;

function toConfig(raw: RawConfig | undefined): ScenarioConfig {
  const k = raw?.kernel;
  const r = raw?.['riscv-iommu'];
  const v = raw?.['virtio-iommu'];
  const caches = r?.caches;
  return {
    kernel: {
      defaultDomain: k?.['default-domain'] ?? 'translated',
      invalidation: k?.invalidation ?? 'strict',
      flushQueue: { size: k?.['flush-queue']?.size, timeout: k?.['flush-queue']?.timeout },
    },
    riscvIommu: {
      capabilities: (r?.capabilities ?? {}) as Partial<RiscvIommuCapabilities>,
      directoryLevels: r?.['directory-levels'] as 1 | 2 | 3 | undefined,
      caches: { iotlb: caches?.iotlb, deviceContexts: caches?.['device-contexts'], processContexts: caches?.['process-contexts'] },
    },
    smmuv3: { domainStage: raw?.smmuv3?.['domain-stage'] ?? 'auto', capabilities: (raw?.smmuv3?.capabilities ?? {}) as Partial<SmmuV3Capabilities>, caches: { ...raw?.smmuv3?.caches } },
    virtioIommu: {
      pageSizeMask: v?.['page-size-mask'],
      inputRange: v?.['input-range'],
      domainRange: v?.['domain-range'],
      bypass: v?.bypass,
      batching: v?.batching,
      backend: v?.backend,
      reservedRegions: v?.['reserved-regions'] ?? [],
    },
    dmaEngine: { bytesPerCycle: raw?.['dma-engine']?.['bytes-per-cycle'] ?? 0, burstBytes: raw?.['dma-engine']?.['burst-bytes'] },
    ipmmu: { tlb: raw?.ipmmu?.tlb, utlbDisabled: raw?.ipmmu?.['utlb-disabled'], contextDisabled: raw?.ipmmu?.['context-disabled'] },
    xen: { quarantine: raw?.xen?.quarantine, dom0MemoryMiB: raw?.xen?.['dom0-memory'] },
  };
}

// ---- steps -------------------------------------------------------------------------------

const PROTS = ['r', 'w', 'rw'] as const;
const DIRECTIONS = ['to-device', 'from-device', 'bidirectional'] as const;

const physOrNone = value((v): Parsed<AddressExpr | null> => (v === 'none' ? null : parseAddress(v)));
const cause = value((v): Parsed<number> => {
  if (typeof v === 'string' && v.trim() !== '' && parseNumber(v) instanceof Problem) {
    const code = causeByName(v);
    return code ?? new Problem(`unknown fault cause ${describeValue(v)}; name it as the RISC-V IOMMU specification's cause table does (e.g. "Read page fault" or ReadPageFault), as an SMMUv3 event (e.g. F_TRANSLATION) or a virtio-iommu fault reason (e.g. MAPPING), or give its code (e.g. 13)`);
  }
  const n = parseInteger(v, 0, 4095, 'a fault cause code');
  return n;
});

const STEP_SCHEMAS = {
  alloc: mapping('alloc', { name, size, fill: data.optional() }).transform((s): StepAction => ({ kind: 'alloc', name: s.name, size: s.size, fill: s.fill ?? { kind: 'zero' } })),
  write: mapping('write', { address, length: cpuLength, data }).transform((s): StepAction => ({ kind: 'write', ...s })),
  domain: mapping('domain', { name, device, type: choice(['paging', 'identity', 'blocked'] as const).optional() }).transform(
    (s): StepAction => ({ kind: 'domain', name: s.name, device: s.device, type: s.type ?? 'paging' }),
  ),
  attach: mapping('attach', { device, domain: name }).transform((s): StepAction => ({ kind: 'attach', ...s })),
  detach: mapping('detach', { device }).transform((s): StepAction => ({ kind: 'detach', ...s })),
  map: mapping('map', { domain: name, iova: address, phys: address, size, prot: choice(PROTS).optional() }).transform(
    (s): StepAction => ({ kind: 'map', domain: s.domain, iova: s.iova, phys: s.phys, size: s.size, prot: s.prot ?? 'rw' }),
  ),
  unmap: mapping('unmap', { domain: name, iova: address, size }).transform((s): StepAction => ({ kind: 'unmap', ...s })),
  'dma-map': mapping('dma-map', { name, device, buffer: address, size: length, direction: choice(DIRECTIONS).optional() }).transform(
    (s): StepAction => ({ kind: 'dma-map', name: s.name, device: s.device, buffer: s.buffer, size: s.size, direction: s.direction ?? 'bidirectional' }),
  ),
  'dma-unmap': mapping('dma-unmap', { name }).transform((s): StepAction => ({ kind: 'dma-unmap', ...s })),
  dma: mapping('dma', {
    device,
    op: choice(DMA_OPS),
    src: address.optional(),
    dst: address.optional(),
    length,
    pattern: pattern.optional(),
    pasid: count(0, 0xfffff, 'a PASID (20 bits)').optional(),
    expect: choice(['ok', 'fault'] as const).optional(),
  })
    .superRefine(checkDmaFields)
    .transform(
      (s): StepAction => ({
        kind: 'dma',
        device: s.device,
        op: s.op,
        src: s.src ?? null,
        dst: s.dst ?? null,
        length: s.length,
        pattern: s.pattern ?? 0n,
        pasid: s.pasid ?? null,
        expect: s.expect ?? 'ok',
      }),
    ),
  advance: mapping('advance', { cycles }).transform((s): StepAction => ({ kind: 'advance', ...s })),
  workload: mapping('workload', workloadFields).transform((s): StepAction => ({ kind: 'workload', ...workloadSpec(s) })),
  expect: mapping('expect', {
    memory: mapping('memory', { address, length: cpuLength, equals: data }).optional(),
    translation: mapping('translation', { domain: name, iova: address, phys: physOrNone }).optional(),
    faults: mapping('faults', {
      device: device.optional(),
      cause: cause.optional(),
      iova: address.optional(),
      count: count(0, Number.MAX_SAFE_INTEGER, 'a number of faults').optional(),
    }).optional(),
  })
    .superRefine((s, ctx) => {
      if (s.memory === undefined && s.translation === undefined && s.faults === undefined) ctx.addIssue({ code: 'custom', message: 'expect needs at least one of memory, translation or faults' });
    })
    .transform((s): StepAction => ({ kind: 'expect', memory: s.memory ?? null, translation: s.translation ?? null, faults: s.faults ?? null })),
} satisfies Record<StepKind, z.ZodType<StepAction>>;

/** A kernel scenario's step. */
const stepSchema = stepDispatcher<StepAction>(STEP_SCHEMAS, { kinds: XEN_STEP_KINDS.filter((k) => !(STEP_KINDS as readonly string[]).includes(k)), hint: 'is a hypervisor step: it needs `hypervisor: xen` at the top of the scenario' });

const platform = value(parsePlatform);
const steps = <T>(schema: z.ZodType<T>) => z.array(schema, { error: (iss) => `expected a list of steps, got ${describeValue(iss.input)}` });

/** A kernel scenario (no `hypervisor` key). */
const kernelScenarioSchema = mapping('a scenario', {
  name: text.optional(),
  description: text.optional(),
  platform: platform.optional(),
  seed: seed.optional(),
  config: configSchema.optional(),
  steps: steps(stepSchema),
}).transform(
  (s): Scenario => ({
    name: s.name ?? null,
    description: s.description ?? null,
    platform: s.platform ?? { kind: 'builtin', name: 'riscv-virt' },
    seed: s.seed ?? 1n,
    config: toConfig(s.config),
    steps: s.steps.map((step, index) => ({ ...step, index })),
    hypervisor: null,
  }),
);

/** A hypervisor scenario: `hypervisor: xen`, hypervisor steps, rcar-gen3-xen by default. */
const xenScenarioSchema = mapping('a hypervisor scenario', {
  name: text.optional(),
  description: text.optional(),
  hypervisor: choice(['xen'] as const),
  platform: platform.optional(),
  seed: seed.optional(),
  config: configSchema.optional(),
  steps: steps(xenStepSchema),
}).transform(
  (s): Scenario => ({
    name: s.name ?? null,
    description: s.description ?? null,
    platform: s.platform ?? { kind: 'builtin', name: 'rcar-gen3-xen' },
    seed: s.seed ?? 1n,
    config: toConfig(s.config),
    steps: [],
    hypervisor: { kind: s.hypervisor, steps: s.steps.map((step, index) => ({ ...step, index })) },
  }),
);

/** The schema of a scenario document: a hypervisor scenario when it has a `hypervisor` key. */
export function scenarioSchemaFor(raw: unknown): z.ZodType<Scenario> {
  const hypervisor = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'hypervisor' in raw;
  return hypervisor ? xenScenarioSchema : kernelScenarioSchema;
}
