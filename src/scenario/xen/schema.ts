// The steps of a hypervisor scenario (`hypervisor: xen`, docs/scenarios.md "Hypervisor
// scenarios"): guests created, given devices and memory, DMA programmed by a guest's driver
// through its engine's registers, workloads inside guests, guests destroyed and rebooted, and
// checks of guest memory, faults and device ownership. Addresses are guest-physical (a number,
// or a guest buffer's name plus offset), or machine addresses written `machine:NAME+OFFSET`
// (where a guest buffer really is: what a device would have to reach to touch it).

import * as z from 'zod';
import { checkDmaFields, choice, count, cpuLength, cycles, data, DMA_OPS, length, mapping, name, pattern, size, stepDispatcher, value, workloadFields, workloadSpec, type WorkloadSpec } from '../schema-parts.js';
import { STEP_KINDS, XEN_STEP_KINDS } from '../step-kinds.js';
import { describeValue, parseAddress, parseName, parseNumber, parseText, Problem, type AddressExpr, type DataSpec, type Parsed } from '../values.js';

/** Names that denote the hypervisor's own domains in hypervisor steps; no guest may take them. */
export const DOM0 = 'dom0';
export const QUARANTINE = 'quarantine';
export const NOBODY = 'nobody';
const RESERVED_NAMES = [DOM0, QUARANTINE, NOBODY, 'dom_io'];

/** An address in a hypervisor step: as a guest (or its device) sees it, or a machine address (`machine:`). */
export interface XenAddress {
  space: 'guest' | 'machine';
  expr: AddressExpr;
}

export type FaultKind = 'translation' | 'permission' | 'walk-abort' | 'multiple-hits';

export interface XenMemoryCheck {
  /** The guest whose CPU reads (guest-physical address); null: machine memory. */
  guest: string | null;
  address: XenAddress;
  length: bigint;
  equals: DataSpec;
}

export interface XenFaultsCheck {
  /** The domain the fault was attributed to: a guest, dom0, or quarantine (dom_io). */
  guest?: string;
  /** A device among those the hypervisor named for the fault. */
  device?: string;
  kind?: FaultKind;
  /** The faulting input address (IPA), within the same 4 KiB page. */
  address?: AddressExpr;
  count?: number;
}

export interface XenDeviceCheck {
  device: string;
  /** A guest's name, dom0, quarantine (dom_io), or nobody. */
  assignedTo: string;
}

export type XenStepAction =
  | { kind: 'guest'; name: string; memoryMiB: number; devices: string[] }
  | { kind: 'assign'; guest: string; device: string }
  | { kind: 'deassign'; guest: string; device: string }
  | { kind: 'alloc'; guest: string; name: string; size: bigint; fill: DataSpec }
  | { kind: 'write'; guest: string; address: XenAddress; length: bigint; data: DataSpec }
  | { kind: 'populate'; guest: string; gpa: AddressExpr; size: bigint; access: 'rw' | 'ro' }
  | { kind: 'protect'; guest: string; gpa: AddressExpr; size: bigint; access: 'rw' | 'ro' }
  | { kind: 'release'; guest: string; gpa: AddressExpr; size: bigint }
  | { kind: 'dma'; guest: string | null; device: string; op: (typeof DMA_OPS)[number]; src: XenAddress | null; dst: XenAddress | null; length: bigint; pattern: bigint; expect: 'ok' | 'fault' }
  | ({ kind: 'workload'; guest: string } & WorkloadSpec)
  | { kind: 'destroy'; guest: string }
  | { kind: 'reboot'; guest: string }
  | { kind: 'advance'; cycles: number }
  | { kind: 'expect'; memory: XenMemoryCheck | null; faults: XenFaultsCheck | null; device: XenDeviceCheck | null };

export type XenStepKind = XenStepAction['kind'];

export type XenStep = XenStepAction & {
  /** Position in `steps` (0-based, as in error messages: steps[3]). */
  index: number;
  label: string | null;
};


// ---- values --------------------------------------------------------------------------------

const MACHINE_PREFIX = 'machine:';
const MIB = 1n << 20n;
const PAGE = 4096n;

function parseXenAddress(v: unknown): Parsed<XenAddress> {
  if (typeof v === 'string' && v.trim().startsWith(MACHINE_PREFIX)) {
    const rest = v.trim().slice(MACHINE_PREFIX.length).trim();
    const a = parseAddress(rest);
    if (a instanceof Problem) return new Problem(`expected machine: followed by a number or a guest buffer's name with an optional offset (machine:secret+0x40), got ${describeValue(v)}`);
    return { space: 'machine', expr: a };
  }
  const a = parseAddress(v);
  return a instanceof Problem ? a : { space: 'guest', expr: a };
}

const xenAddress = value(parseXenAddress);
const guestAddress = value((v) => {
  const a = parseXenAddress(v);
  if (a instanceof Problem) return a;
  return a.space === 'machine' ? new Problem(`expected a guest-physical address (a number, or a buffer name with an optional offset), got ${describeValue(v)}: machine addresses mean nothing here`) : a.expr;
});

/** A guest's name: letters, digits and _; not one of the names of the hypervisor's domains. */
const guestName = value((v) => {
  const n = parseName(v);
  if (n instanceof Problem) return n;
  return RESERVED_NAMES.includes(n) ? new Problem(`"${n}" names one of the hypervisor's own domains; choose another guest name`) : n;
});

/** A domain a step acts in: a guest's name, or dom0. */
const domainName = name;

const device = value((v) => parseText(v, 'a device: its device-tree path or label'));

/** A guest-physical address that must be 4 KiB-aligned (a number is checked now, a buffer's address when it runs). */
const gpa = value((v) => {
  const a = parseXenAddress(v);
  if (a instanceof Problem) return a;
  if (a.space === 'machine') return new Problem(`expected a guest-physical address, got ${describeValue(v)}: machine addresses mean nothing here`);
  if (a.expr.kind === 'number' && a.expr.value % PAGE !== 0n) return new Problem(`expected a 4 KiB-aligned guest-physical address, got ${describeValue(v)}`);
  return a.expr;
});

/** A whole number of 4 KiB pages. */
const pages = value((v) => {
  const n = parseNumber(v, 'a size such as 2M');
  if (n instanceof Problem) return n;
  if (n === 0n || n % PAGE !== 0n) return new Problem(`expected a size that is a whole number of 4 KiB pages, got ${describeValue(v)}`);
  return n > 1n << 40n ? new Problem(`size ${describeValue(v)} is too large`) : n;
});

const memory = value((v) => {
  const n = parseNumber(v, 'a size in MiB such as 16M');
  if (n instanceof Problem) return n;
  if (n === 0n || n % MIB !== 0n) return new Problem(`a guest's memory is a whole number of MiB (such as 16M), got ${describeValue(v)}`);
  return n > 1n << 40n ? new Problem(`memory ${describeValue(v)} is too large`) : Number(n / MIB);
});

const FAULT_KINDS: Readonly<Record<string, FaultKind>> = {
  translation: 'translation',
  tf: 'translation',
  permission: 'permission',
  pf: 'permission',
  'walk-abort': 'walk-abort',
  abort: 'walk-abort',
  'multiple-hits': 'multiple-hits',
  mhit: 'multiple-hits',
};

const faultKind = value((v): Parsed<FaultKind> => {
  const k = typeof v === 'string' ? FAULT_KINDS[v.toLowerCase()] : undefined;
  return k ?? new Problem(`expected a fault kind: translation (TF), permission (PF), walk-abort (ABORT) or multiple-hits (MHIT), got ${describeValue(v)}`);
});

const devices = value((v): Parsed<string[]> => {
  if (!Array.isArray(v)) return new Problem(`expected a list of devices (device-tree paths or labels), got ${describeValue(v)}`);
  const out: string[] = [];
  for (const [i, item] of v.entries()) {
    const t = parseText(item, 'a device: its device-tree path or label');
    if (t instanceof Problem) return new Problem(`[${i}]: ${t.message}`);
    out.push(t);
  }
  return out;
});

// ---- steps -----------------------------------------------------------------------------------

const XEN_STEP_SCHEMAS = {
  guest: mapping('guest', { name: guestName, memory: memory.optional(), devices: devices.optional() }).transform(
    (s): XenStepAction => ({ kind: 'guest', name: s.name, memoryMiB: s.memory ?? 16, devices: s.devices ?? [] }),
  ),
  assign: mapping('assign', { guest: domainName, device }).transform((s): XenStepAction => ({ kind: 'assign', ...s })),
  deassign: mapping('deassign', { guest: domainName, device }).transform((s): XenStepAction => ({ kind: 'deassign', ...s })),
  alloc: mapping('alloc', { guest: domainName, name, size, fill: data.optional() }).transform((s): XenStepAction => ({ kind: 'alloc', guest: s.guest, name: s.name, size: s.size, fill: s.fill ?? { kind: 'zero' } })),
  write: mapping('write', { guest: domainName, address: guestAddress, length: cpuLength, data }).transform((s): XenStepAction => ({ kind: 'write', guest: s.guest, address: { space: 'guest', expr: s.address }, length: s.length, data: s.data })),
  populate: mapping('populate', { guest: domainName, gpa, size: pages, access: choice(['rw', 'ro'] as const).optional() }).transform((s): XenStepAction => ({ kind: 'populate', guest: s.guest, gpa: s.gpa, size: s.size, access: s.access ?? 'rw' })),
  protect: mapping('protect', { guest: domainName, gpa, size: pages, access: choice(['rw', 'ro'] as const) }).transform((s): XenStepAction => ({ kind: 'protect', ...s })),
  release: mapping('release', { guest: domainName, gpa, size: pages }).transform((s): XenStepAction => ({ kind: 'release', ...s })),
  dma: mapping('dma', {
    guest: domainName.optional(),
    device,
    op: choice(DMA_OPS),
    src: xenAddress.optional(),
    dst: xenAddress.optional(),
    length,
    pattern: pattern.optional(),
    expect: choice(['ok', 'fault'] as const).optional(),
  })
    .superRefine(checkDmaFields)
    .transform(
      (s): XenStepAction => ({ kind: 'dma', guest: s.guest ?? null, device: s.device, op: s.op, src: s.src ?? null, dst: s.dst ?? null, length: s.length, pattern: s.pattern ?? 0n, expect: s.expect ?? 'ok' }),
    ),
  workload: mapping('workload', { guest: domainName, ...workloadFields }).transform((s): XenStepAction => ({ kind: 'workload', guest: s.guest, ...workloadSpec(s) })),
  destroy: mapping('destroy', { guest: guestName }).transform((s): XenStepAction => ({ kind: 'destroy', ...s })),
  reboot: mapping('reboot', { guest: guestName }).transform((s): XenStepAction => ({ kind: 'reboot', ...s })),
  advance: mapping('advance', { cycles }).transform((s): XenStepAction => ({ kind: 'advance', ...s })),
  expect: mapping('expect', {
    memory: mapping('memory', { guest: domainName.optional(), address: xenAddress, length: cpuLength, equals: data })
      .superRefine((m, ctx) => {
        // A guest reads guest-physical addresses; machine memory is read at machine addresses.
        if (m.guest !== undefined && m.address.space === 'machine') ctx.addIssue({ code: 'custom', message: `guest ${m.guest} reads guest-physical addresses: drop machine: or drop guest to read machine memory`, path: ['address'] });
        if (m.guest === undefined && m.address.space === 'guest' && m.address.expr.kind === 'symbol') {
          ctx.addIssue({ code: 'custom', message: `${m.address.expr.text} is a guest-physical address: name the guest, or write machine:${m.address.expr.text} to read machine memory`, path: ['address'] });
        }
      })
      .optional(),
    faults: mapping('faults', {
      guest: name.optional(),
      device: device.optional(),
      kind: faultKind.optional(),
      address: guestAddress.optional(),
      count: count(0, Number.MAX_SAFE_INTEGER, 'a number of faults').optional(),
    }).optional(),
    device: mapping('device', { device, 'assigned-to': name }).optional(),
  })
    .superRefine((s, ctx) => {
      if (s.memory === undefined && s.faults === undefined && s.device === undefined) ctx.addIssue({ code: 'custom', message: 'expect needs at least one of memory, faults or device' });
    })
    .transform(
      (s): XenStepAction => ({
        kind: 'expect',
        memory: s.memory === undefined ? null : { guest: s.memory.guest ?? null, address: s.memory.address, length: s.memory.length, equals: s.memory.equals },
        faults: s.faults ?? null,
        device: s.device === undefined ? null : { device: s.device.device, assignedTo: s.device['assigned-to'] },
      }),
    ),
} satisfies Record<XenStepKind, z.ZodType<XenStepAction>>;

/** A hypervisor scenario's step. */
export const xenStepSchema = stepDispatcher<XenStepAction>(XEN_STEP_SCHEMAS, {
  kinds: STEP_KINDS.filter((k) => !(XEN_STEP_KINDS as readonly string[]).includes(k)),
  hint: 'is a kernel step; a hypervisor scenario (hypervisor: xen) acts through guests',
});
