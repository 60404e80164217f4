// The building blocks of the scenario schemas (schema.ts for kernel scenarios, xen/schema.ts
// for hypervisor ones): zod schemas that run the value parsers of values.ts, strict mappings
// whose messages name the valid keys, and the step dispatcher that checks a step for exactly
// one action key before its fields are parsed.

import * as z from 'zod';
import {
  describeValue,
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
  type Parsed,
} from './values.js';

/** Largest DMA-engine transfer (its LENGTH register is 32 bits). */
export const MAX_TRANSFER = 0xffff_ffff;

/** Bytes the CPU writes or compares in one step (memory is sparse: this bounds what a typo costs). */
export const MAX_CPU_LENGTH = 1 << 30;

export const CYCLES_MAX = Number.MAX_SAFE_INTEGER;

/** A zod schema running one of the value parsers. */
export function value<T>(parse: (v: unknown) => Parsed<T>): z.ZodType<T> {
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
export function mapping<S extends z.ZodRawShape>(what: string, shape: S) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') return `unknown key ${iss.keys.map((k) => `"${k}"`).join(', ')}; ${what} takes ${listWords(keys)}`;
      if (iss.code === 'invalid_type') return `${what}: expected a mapping with keys ${listWords(keys)}, got ${describeValue(iss.input)}`;
      return undefined;
    },
  });
}

export const name = value(parseName);
export const text = value((v) => parseText(v));
export const device = value((v) => parseText(v, 'a device: its kernel name, device-tree path or label'));
export const size = value(parseSize);
export const address = value(parseAddress);
export const data = value(parseData);
export const count = (min: number, max: number, what: string) => value((v) => parseInteger(v, min, max, what));
export const choice = <T extends string>(choices: readonly T[]) => value((v) => parseChoice(v, choices));
export const boolean = value(parseBoolean);
export const seed = value((v) => parseNumber(v, 'a seed'));
export const cycles = count(0, CYCLES_MAX, 'a number of cycles');

export const length = value((v) => {
  const n = parseSize(v);
  if (n instanceof Problem) return n;
  return n > BigInt(MAX_TRANSFER) ? new Problem(`a transfer is at most 0xffffffff bytes, got ${describeValue(v)}`) : n;
});

export const cpuLength = value((v) => {
  const n = parseSize(v);
  if (n instanceof Problem) return n;
  return n > BigInt(MAX_CPU_LENGTH) ? new Problem(`the CPU writes or compares at most 1 GiB in a step, got ${describeValue(v)}`) : n;
});

export const pattern = value((v) => {
  const n = parseNumber(v, 'a 64-bit pattern');
  if (n instanceof Problem) return n;
  return n >= 1n << 64n ? new Problem(`pattern ${describeValue(v)} does not fit 64 bits`) : n;
});

/** A buffer size, or a list of sizes picked at random (workloads). */
export const sizes = value((v): Parsed<number[]> => {
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

export const DMA_OPS = ['copy', 'fill', 'read'] as const;

/** A generated stream of DMA buffers (the `workload` step of kernel and hypervisor scenarios). */
export interface WorkloadSpec {
  device: string;
  buffers: number;
  /** Bytes per buffer: one size, or sizes picked at random per buffer. */
  sizes: number[];
  op: (typeof DMA_OPS)[number];
  access: 'sequential' | 'random';
  workingSet: number;
  /** null: the scenario's seed. */
  seed: bigint | null;
  verify: boolean;
}

/** The keys of a `workload` step. */
export const workloadFields = {
  device,
  buffers: count(1, 100_000_000, 'a number of buffers'),
  size: sizes,
  op: choice(DMA_OPS).optional(),
  access: choice(['sequential', 'random'] as const).optional(),
  'working-set': count(1, 65_536, 'a number of buffers').optional(),
  seed: seed.optional(),
  verify: boolean.optional(),
};

/** A parsed `workload` mapping with its defaults filled in. */
export function workloadSpec(s: z.output<z.ZodObject<typeof workloadFields>>): WorkloadSpec {
  return {
    device: s.device,
    buffers: s.buffers,
    sizes: s.size,
    op: s.op ?? 'copy',
    access: s.access ?? 'sequential',
    workingSet: s['working-set'] ?? 16,
    seed: s.seed ?? null,
    verify: s.verify ?? true,
  };
}

/** The fields each DMA operation uses: a field it does not use is a mistake, a missing one too. */
export function checkDmaFields(s: { op: (typeof DMA_OPS)[number]; src?: unknown; dst?: unknown; pattern?: unknown }, ctx: z.RefinementCtx): void {
  const uses = { copy: ['src', 'dst'], fill: ['dst', 'pattern'], read: ['src', 'pattern'] }[s.op];
  for (const f of ['src', 'dst'] as const) {
    if (uses.includes(f) && s[f] === undefined) ctx.addIssue({ code: 'custom', message: `op ${s.op} needs ${f}`, path: [] });
  }
  for (const f of ['src', 'dst', 'pattern'] as const) {
    if (!uses.includes(f) && s[f] !== undefined) ctx.addIssue({ code: 'custom', message: `op ${s.op} does not use ${f} (it uses ${listWords(uses, 'and')})`, path: [f] });
  }
}

/**
 * A step: one action key (plus `label`), dispatched to that action's schema. `foreign` names
 * step kinds of the other scenario kind, with the hint a message gives when one is used.
 */
export function stepDispatcher<A extends { kind: string }>(schemas: Readonly<Record<string, z.ZodType<A>>>, foreign: { kinds: readonly string[]; hint: string }) {
  const kinds = Object.keys(schemas);
  const kindsText = kinds.join(', ');
  return z.unknown().transform((v, ctx): A & { label: string | null } => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      ctx.addIssue({ code: 'custom', message: `expected a step (a mapping with one action key: ${kindsText}), got ${describeValue(v)}` });
      return z.NEVER;
    }
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record).filter((k) => k !== 'label');
    const actions = keys.filter((k) => kinds.includes(k));
    const others = keys.filter((k) => !kinds.includes(k));
    if (actions.length === 0) {
      const other = others[0];
      const message =
        other === undefined ? `a step needs one action key: ${kindsText}` : foreign.kinds.includes(other) ? `"${other}" ${foreign.hint}; valid step kinds: ${kindsText}` : `unknown step kind "${other}"; valid step kinds: ${kindsText}`;
      ctx.addIssue({ code: 'custom', message, path: other === undefined ? [] : [other] });
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
    const r = schemas[kind].safeParse(record[kind]);
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
}
