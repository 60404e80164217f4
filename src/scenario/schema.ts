// The scenario format of docs/scenarios.md as a zod schema, and the typed Scenario it yields.
// Leaf values go through the parsers of values.ts (so that every message says what was
// expected and what was found); mappings are strict (an unknown key is an error naming the
// key and listing the valid ones); a step is checked for exactly one action key before its
// fields are parsed, so a typo in the action key gets a message listing the step kinds.

import * as z from 'zod';
import { DEFAULT_CAPABILITIES, type RiscvIommuCapabilities } from '../hw/riscv-iommu/parameters.js';
import { DEFAULT_CAPABILITIES as SMMUV3_DEFAULT_CAPABILITIES, type SmmuV3Capabilities } from '../hw/smmuv3/parameters.js';
import { listBuiltinPlatforms } from '../platform/builtin/index.js';
import { hex } from '../sim/u64.js';
import { causeByName } from './faults.js';
import {
  describeValue,
  formatSize,
  listWords,
  parseAddress,
  parseBoolean,
  parseChoice,
  parseData,
  parseInteger,
  parseName,
  parseNumber,
  parseSize,
  parseText,
  Problem,
  type AddressExpr,
  type DataSpec,
  type Parsed,
} from './values.js';

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
    /** RESV_MEM regions, inclusive; endpoint null: every endpoint has it. */
    reservedRegions: VirtioReservedRegion[];
  };
  dmaEngine: { bytesPerCycle: number; burstBytes: number | undefined };
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
  | {
      kind: 'workload';
      device: string;
      buffers: number;
      /** Bytes per buffer: one size, or sizes picked at random per buffer. */
      sizes: number[];
      op: DmaOp;
      access: 'sequential' | 'random';
      workingSet: number;
      /** null: the scenario's seed. */
      seed: bigint | null;
      verify: boolean;
    }
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
  steps: Step[];
}

export const STEP_KINDS: readonly StepKind[] = ['alloc', 'write', 'domain', 'attach', 'detach', 'map', 'unmap', 'dma-map', 'dma-unmap', 'dma', 'advance', 'workload', 'expect'];

/** Largest DMA-engine transfer (its LENGTH register is 32 bits). */
export const MAX_TRANSFER = 0xffff_ffff;

// ---- schema building blocks ------------------------------------------------------------

/** A zod schema running one of the value parsers. */
function value<T>(parse: (v: unknown) => Parsed<T>): z.ZodType<T> {
  return z.unknown().transform((v, ctx): T => {
    const r = parse(v);
    if (r instanceof Problem) {
      ctx.addIssue({ code: 'custom', message: r.message });
      return z.NEVER;
    }
    return r;
  });
}

/** A strict mapping: unknown keys and non-mappings get messages naming `what` and its keys. */
function mapping<S extends z.ZodRawShape>(what: string, shape: S) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') return `unknown key ${iss.keys.map((k) => `"${k}"`).join(', ')}; ${what} takes ${listWords(keys)}`;
      if (iss.code === 'invalid_type') return `${what}: expected a mapping with keys ${listWords(keys)}, got ${describeValue(iss.input)}`;
      return undefined;
    },
  });
}

const name = value(parseName);
const text = value((v) => parseText(v));
const device = value((v) => parseText(v, 'a device: its kernel name, device-tree path or label'));
const size = value(parseSize);
const address = value(parseAddress);
const data = value(parseData);
const count = (min: number, max: number, what: string) => value((v) => parseInteger(v, min, max, what));
const choice = <T extends string>(choices: readonly T[]) => value((v) => parseChoice(v, choices));
const length = value((v) => {
  const n = parseSize(v);
  if (n instanceof Problem) return n;
  return n > BigInt(MAX_TRANSFER) ? new Problem(`a transfer is at most 0xffffffff bytes, got ${describeValue(v)}`) : n;
});
/** Bytes the CPU writes or compares in one step (memory is sparse: this bounds what a typo costs). */
export const MAX_CPU_LENGTH = 1 << 30;
const cpuLength = value((v) => {
  const n = parseSize(v);
  if (n instanceof Problem) return n;
  return n > BigInt(MAX_CPU_LENGTH) ? new Problem(`the CPU writes or compares at most 1 GiB in a step, got ${describeValue(v)}`) : n;
});
const pattern = value((v) => {
  const n = parseNumber(v, 'a 64-bit pattern');
  if (n instanceof Problem) return n;
  return n >= 1n << 64n ? new Problem(`pattern ${describeValue(v)} does not fit 64 bits`) : n;
});
const CYCLES_MAX = Number.MAX_SAFE_INTEGER;

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
    else shape[key] = value(parseBoolean).optional();
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
    shape[key] = (r !== undefined ? count(r[0], r[1], r[2]) : c !== undefined ? choice(c) : value(parseBoolean)).optional();
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
    bypass: value(parseBoolean).optional(),
    batching: value(parseBoolean).optional(),
    'reserved-regions': z.array(reservedRegion, { error: (iss) => `expected a list of reserved regions, got ${describeValue(iss.input)}` }).optional(),
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
    smmuv3: { capabilities: (raw?.smmuv3?.capabilities ?? {}) as Partial<SmmuV3Capabilities>, caches: { ...raw?.smmuv3?.caches } },
    virtioIommu: {
      pageSizeMask: v?.['page-size-mask'],
      inputRange: v?.['input-range'],
      domainRange: v?.['domain-range'],
      bypass: v?.bypass,
      batching: v?.batching,
      reservedRegions: v?.['reserved-regions'] ?? [],
    },
    dmaEngine: { bytesPerCycle: raw?.['dma-engine']?.['bytes-per-cycle'] ?? 0, burstBytes: raw?.['dma-engine']?.['burst-bytes'] },
  };
}

// ---- steps -------------------------------------------------------------------------------

const PROTS = ['r', 'w', 'rw'] as const;
const DIRECTIONS = ['to-device', 'from-device', 'bidirectional'] as const;
const OPS = ['copy', 'fill', 'read'] as const;

const physOrNone = value((v): Parsed<AddressExpr | null> => (v === 'none' ? null : parseAddress(v)));
const cause = value((v): Parsed<number> => {
  if (typeof v === 'string' && v.trim() !== '' && parseNumber(v) instanceof Problem) {
    const code = causeByName(v);
    return code ?? new Problem(`unknown fault cause ${describeValue(v)}; name it as the RISC-V IOMMU specification's cause table does (e.g. "Read page fault" or ReadPageFault), as an SMMUv3 event (e.g. F_TRANSLATION) or a virtio-iommu fault reason (e.g. MAPPING), or give its code (e.g. 13)`);
  }
  const n = parseInteger(v, 0, 4095, 'a fault cause code');
  return n;
});
const sizes = value((v): Parsed<number[]> => {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return new Problem('expected a size or a non-empty list of sizes, got an empty list');
  const out: number[] = [];
  for (const [i, item] of list.entries()) {
    const n = parseSize(item);
    if (n instanceof Problem) return Array.isArray(v) ? new Problem(`[${i}]: ${n.message}`) : n;
    if (n > BigInt(MAX_TRANSFER)) return new Problem(`a buffer is at most 0xffffffff bytes, got ${describeValue(item)}`);
    out.push(Number(n));
  }
  return out;
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
    op: choice(OPS),
    src: address.optional(),
    dst: address.optional(),
    length,
    pattern: pattern.optional(),
    pasid: count(0, 0xfffff, 'a PASID (20 bits)').optional(),
    expect: choice(['ok', 'fault'] as const).optional(),
  })
    .superRefine((s, ctx) => {
      // Each operation uses some of src, dst and pattern; a field it ignores is a mistake.
      const uses = { copy: ['src', 'dst'], fill: ['dst', 'pattern'], read: ['src', 'pattern'] }[s.op];
      for (const f of ['src', 'dst'] as const) {
        if (uses.includes(f) && s[f] === undefined) ctx.addIssue({ code: 'custom', message: `op ${s.op} needs ${f}`, path: [] });
      }
      for (const f of ['src', 'dst', 'pattern'] as const) {
        if (!uses.includes(f) && s[f] !== undefined) ctx.addIssue({ code: 'custom', message: `op ${s.op} does not use ${f} (it uses ${listWords(uses, 'and')})`, path: [f] });
      }
    })
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
  advance: mapping('advance', { cycles: count(0, CYCLES_MAX, 'a number of cycles') }).transform((s): StepAction => ({ kind: 'advance', ...s })),
  workload: mapping('workload', {
    device,
    buffers: count(1, 100_000_000, 'a number of buffers'),
    size: sizes,
    op: choice(OPS).optional(),
    access: choice(['sequential', 'random'] as const).optional(),
    'working-set': count(1, 65_536, 'a number of buffers').optional(),
    seed: value((v) => parseNumber(v, 'a seed')).optional(),
    verify: value(parseBoolean).optional(),
  }).transform(
    (s): StepAction => ({
      kind: 'workload',
      device: s.device,
      buffers: s.buffers,
      sizes: s.size,
      op: s.op ?? 'copy',
      access: s.access ?? 'sequential',
      workingSet: s['working-set'] ?? 16,
      seed: s.seed ?? null,
      verify: s.verify ?? true,
    }),
  ),
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

const KINDS_TEXT = STEP_KINDS.join(', ');

/** A step: one action key (plus `label`), dispatched to that action's schema. */
const stepSchema = z.unknown().transform((v, ctx): Omit<Step, 'index'> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    ctx.addIssue({ code: 'custom', message: `expected a step (a mapping with one action key: ${KINDS_TEXT}), got ${describeValue(v)}` });
    return z.NEVER;
  }
  const record = v as Record<string, unknown>;
  const keys = Object.keys(record).filter((k) => k !== 'label');
  const actions = keys.filter((k): k is StepKind => (STEP_KINDS as readonly string[]).includes(k));
  const others = keys.filter((k) => !(STEP_KINDS as readonly string[]).includes(k));
  if (actions.length === 0) {
    const message = others.length > 0 ? `unknown step kind "${others[0]}"; valid step kinds: ${KINDS_TEXT}` : `a step needs one action key: ${KINDS_TEXT}`;
    ctx.addIssue({ code: 'custom', message, path: others.length > 0 ? [others[0]] : [] });
    return z.NEVER;
  }
  if (actions.length > 1) {
    ctx.addIssue({ code: 'custom', message: `a step has exactly one action key, found ${listWords(actions, 'and')}; write one step for each`, path: [actions[1]] });
    return z.NEVER;
  }
  let ok = true;
  for (const k of others) {
    ctx.addIssue({ code: 'custom', message: `unknown key "${k}" beside "${actions[0]}"; a step holds one action key and an optional label`, path: [k] });
    ok = false;
  }
  const label = record.label === undefined ? null : parseText(record.label, 'a label');
  if (label instanceof Problem) {
    ctx.addIssue({ code: 'custom', message: label.message, path: ['label'] });
    ok = false;
  }
  const kind = actions[0];
  const r = STEP_SCHEMAS[kind].safeParse(record[kind]);
  if (!r.success) {
    for (const issue of r.error.issues) {
      // Unknown keys: point at the key itself (its line), like any other field.
      const extra = issue.code === 'unrecognized_keys' ? [issue.keys[0]] : [];
      ctx.addIssue({ code: 'custom', message: issue.message, path: [kind, ...issue.path, ...extra] });
    }
    return z.NEVER;
  }
  if (!ok || label instanceof Problem) return z.NEVER;
  return { ...r.data, label };
});

export const scenarioSchema = mapping('a scenario', {
  name: text.optional(),
  description: text.optional(),
  platform: value(parsePlatform).optional(),
  seed: value((v) => parseNumber(v, 'a seed')).optional(),
  config: configSchema.optional(),
  steps: z.array(stepSchema, { error: (iss) => `expected a list of steps, got ${describeValue(iss.input)}` }),
}).transform(
  (s): Scenario => ({
    name: s.name ?? null,
    description: s.description ?? null,
    platform: s.platform ?? { kind: 'builtin', name: 'riscv-virt' },
    seed: s.seed ?? 1n,
    config: toConfig(s.config),
    steps: s.steps.map((step, index) => ({ ...step, index }) as Step),
  }),
);
