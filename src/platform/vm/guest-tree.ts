// What the guest's device tree asks of the VMM, checked against the host's: its RAM (which the
// host kernel must not be able to allocate), its interrupt controller (a PLIC), its
// virtio-iommu (a `virtio,mmio` node with #iommu-cells), and the devices assigned to it (DMA
// engines behind the virtio-iommu, each paired with the host's engine at the same address:
// the VM layout is the identity, guest-physical = host-physical, for registers as for RAM).
// Anything else in the guest tree is a device this VMM does not model: a VmError.

import { DMA_ENGINE_COMPATIBLE } from '../../devices/dma-engine/registers.js';
import { phandleSpecifiers } from '../../formats/devicetree/specifiers.js';
import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import { VIRTIO_MMIO_COMPATIBLE } from '../../formats/virtio/mmio.js';
import { IommuBindingError, iommusOf } from '../../os/core/of-iommu.js';
import { enabled } from '../../os/kernel/kernel.js';
import { region, regions, type Region } from '../../os/of/address.js';
import { hex } from '../../sim/u64.js';
import { VmError } from './errors.js';

const PLIC_COMPATIBLE = ['riscv,plic0', 'sifive,plic-1.0.0'];
/** Nodes that describe structure, not a device: buses, processors and their local interrupt controllers. */
const STRUCTURAL_COMPATIBLE = ['simple-bus', 'riscv', 'riscv,cpu-intc'];
/** The supervisor external interrupt of a RISC-V hart: the PLIC context that drives the vCPU. */
const SUPERVISOR_EXTERNAL = 9;

export interface GuestPlic {
  node: DtNode;
  base: bigint;
  sources: number;
  /** One per interrupts-extended entry; those on the supervisor external interrupt drive the vCPU. */
  contexts: number;
  vcpuContexts: number[];
}

export interface GuestVirtioIommu {
  node: DtNode;
  base: bigint;
  size: bigint;
  /** Its PLIC source, or null (the driver polls). */
  irq: number | null;
}

export interface GuestAssignment {
  /** The guest's node and the host's node of the same device. */
  node: DtNode;
  hostNode: DtNode;
  /** The endpoint id the guest's `iommus` gives it on the virtio-iommu. */
  endpoint: number;
  base: bigint;
  size: bigint;
  irq: number | null;
}

export interface GuestDescription {
  ram: Region[];
  plic: GuestPlic;
  viommu: GuestVirtioIommu;
  assigned: GuestAssignment[];
}

export function describeGuest(guest: DeviceTree, host: DeviceTree): GuestDescription {
  const ram = guest.root.children.filter((n) => n.string('device_type') === 'memory').flatMap((n) => regions(n));
  if (ram.length === 0) throw new VmError('guest device tree: no /memory node with a reg: the guest has no RAM');
  checkMemoryLayout(host, ram);

  const devices = [...guest.root.walk()].filter((n) => n.has('compatible') && enabled(n) && n.parent !== null && n.string('device_type') !== 'cpu' && !isA(n, STRUCTURAL_COMPATIBLE));
  const plics = devices.filter((n) => isA(n, PLIC_COMPATIBLE));
  if (plics.length !== 1) throw new VmError(`guest device tree: expected one PLIC (riscv,plic0), found ${plics.length}`);
  const plic = describePlic(guest, plics[0]);
  const viommus = devices.filter((n) => isA(n, [VIRTIO_MMIO_COMPATIBLE]) && n.has('#iommu-cells'));
  if (viommus.length !== 1) throw new VmError(`guest device tree: expected one virtio-iommu (a virtio,mmio node with #iommu-cells), found ${viommus.length}`);
  const v = region(viommus[0]);
  const viommu = { node: viommus[0], base: v.base, size: v.size, irq: plicSource(guest, viommus[0], plic.node) };

  const hostEngines = [...host.root.walk()].filter((n) => isA(n, [DMA_ENGINE_COMPATIBLE]) && enabled(n));
  const assigned: GuestAssignment[] = [];
  for (const node of devices) {
    if (node === plic.node || node === viommu.node) continue;
    if (!isA(node, [DMA_ENGINE_COMPATIBLE])) throw new VmError(`guest device tree: ${node.path} (${node.strings('compatible')?.join(', ')}) is not a device this VMM gives guests (a PLIC, a virtio-iommu, assigned DMA engines)`);
    const r = region(node);
    const hostNode = hostEngines.find((h) => region(h).base === r.base);
    if (hostNode === undefined) throw new VmError(`guest device tree: ${node.path}: the host has no DMA engine at ${hex(r.base)} to assign (guest devices sit at their host addresses)`);
    if (assigned.some((a) => a.hostNode === hostNode)) throw new VmError(`guest device tree: ${node.path}: the host's ${hostNode.path} is already assigned`);
    assigned.push({ node, hostNode, endpoint: endpointOf(guest, node, viommu.node), base: r.base, size: r.size, irq: plicSource(guest, node, plic.node) });
  }
  return { ram, plic, viommu, assigned };
}

/**
 * Guest RAM must be memory the host kernel cannot allocate: outside the host's /memory, or
 * inside its /reserved-memory (or /memreserve/) ranges.
 */
export function checkMemoryLayout(host: DeviceTree, guestRam: readonly Region[]): void {
  const hostRam = host.root.children.filter((n) => n.string('device_type') === 'memory').flatMap((n) => regions(n));
  const reserved: Region[] = [...host.reservations.map((r) => ({ base: r.address, size: r.size })), ...(host.find('/reserved-memory')?.children.flatMap((n) => regions(n)) ?? [])];
  for (const g of guestRam) {
    for (const h of hostRam) {
      const start = g.base > h.base ? g.base : h.base;
      const end = g.base + g.size < h.base + h.size ? g.base + g.size : h.base + h.size;
      if (start >= end) continue;
      const hole = firstUncovered(start, end, reserved);
      if (hole !== null) throw new VmError(`guest RAM ${hex(g.base)} (+${hex(g.size)}) overlaps host RAM at ${hex(hole)}, which the host kernel may allocate: reserve it in the host's /reserved-memory`);
    }
  }
}

/** The first address of [start, end) that no range of `covers` contains, or null. */
function firstUncovered(start: bigint, end: bigint, covers: readonly Region[]): bigint | null {
  let at = start;
  for (let progress = true; progress && at < end; ) {
    progress = false;
    for (const c of covers) {
      if (c.base <= at && at < c.base + c.size) {
        at = c.base + c.size;
        progress = true;
      }
    }
  }
  return at < end ? at : null;
}

function describePlic(tree: DeviceTree, node: DtNode): GuestPlic {
  const sources = node.u32('riscv,ndev');
  if (sources === undefined) throw new VmError(`guest device tree: ${node.path}: a PLIC needs riscv,ndev`);
  const ext = phandleSpecifiers(tree, node, 'interrupts-extended', '#interrupt-cells', (m) => new VmError(`guest device tree: ${m}`)) ?? [];
  const vcpuContexts = ext.flatMap((s, c) => (s.args[0] === SUPERVISOR_EXTERNAL ? [c] : []));
  return { node, base: region(node).base, sources, contexts: Math.max(1, ext.length), vcpuContexts };
}

/** The PLIC source of `node`'s first interrupt (null without one); it must be the guest PLIC's. */
function plicSource(tree: DeviceTree, node: DtNode, plic: DtNode): number | null {
  const extended = phandleSpecifiers(tree, node, 'interrupts-extended', '#interrupt-cells', (m) => new VmError(`guest device tree: ${m}`));
  let controller: DtNode | null;
  let cells: number[] | undefined;
  if (extended !== undefined) {
    controller = extended[0]?.target ?? null;
    cells = extended[0]?.args;
  } else {
    cells = node.u32s('interrupts');
    controller = cells === undefined ? null : interruptParent(tree, node);
  }
  if (cells === undefined || cells.length === 0) return null;
  if (controller !== plic) throw new VmError(`guest device tree: ${node.path}: its interrupt goes to ${controller?.path ?? 'no controller'}, not the guest PLIC ${plic.path}`);
  return cells[0];
}

/** `interrupt-parent`, else the tree parent, up to a node with #interrupt-cells. */
function interruptParent(tree: DeviceTree, node: DtNode): DtNode | null {
  let current = node;
  for (let depth = 0; depth < 64; depth++) {
    const phandle = current.u32('interrupt-parent');
    const next = phandle === undefined ? current.parent : (tree.byPhandle(phandle) ?? null);
    if (next === null) return null;
    if (next.has('#interrupt-cells')) return next;
    current = next;
  }
  return null;
}

function endpointOf(tree: DeviceTree, node: DtNode, viommu: DtNode): number {
  let refs;
  try {
    refs = iommusOf(tree, node);
  } catch (e) {
    if (e instanceof IommuBindingError) throw new VmError(`guest device tree: ${e.message}`);
    throw e;
  }
  if (refs.length !== 1 || refs[0].iommu !== viommu || refs[0].args.length !== 1) {
    throw new VmError(`guest device tree: ${node.path}: an assigned device needs iommus = <&${viommu.name} endpoint-id> (one entry, on the guest's virtio-iommu)`);
  }
  return refs[0].args[0];
}

function isA(node: DtNode, names: readonly string[]): boolean {
  const c = node.strings('compatible') ?? [];
  return names.some((n) => c.includes(n));
}
