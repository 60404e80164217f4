// analyseIommuTopology: reads a device tree's IOMMU bindings without running anything.
// Nothing here throws for a property's content: what cannot be resolved becomes a warning.

import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import { assignedAddresses, isPciBus, regions } from './address.js';
import { hex, isEnabled, PhandleIndex, readCell, readCells, readStrings, statusOf, type AnalysisContext } from './cells.js';
import { lookupId, readIdMap, type ResolvedIdMap } from './id-map.js';
import { interruptsOf, type InterruptInfo } from './interrupts.js';
import { iommusOf } from './iommus.js';
import { classifyIommu, IOMMU_KINDS, type IommuKind } from './kinds.js';
import { msiParentsOf } from './msi.js';
import { busRangeOf, pciFunctions, type PciChild } from './pci.js';
import type {
  EndpointInfo,
  HostBridgeInfo,
  IommuInfo,
  IommuTopology,
  MsiTarget,
  PciFunctionInfo,
  ServedSet,
  Signalling,
} from './topology.js';
import { Warnings, type BindingWarning } from './warnings.js';

interface BridgeWork {
  node: DtNode;
  info: HostBridgeInfo;
  iommuMap: ResolvedIdMap | null;
  children: PciChild[];
}

function firstMsiParent(node: DtNode, ctx: AnalysisContext): MsiTarget | null {
  const parent = msiParentsOf(node, ctx)[0];
  if (parent === undefined || parent.controller === null) return null;
  return { controller: parent.controller, via: 'msi-parent', id: parent.args[0] ?? null };
}

/** `intx`: a PCI function whose bridge routes legacy INTx through interrupt-map. */
function signalling(interrupts: InterruptInfo[], msi: MsiTarget | null, intx: boolean): Signalling {
  if (interrupts.length > 0 || intx) return msi !== null ? 'wired-or-msi' : 'wired';
  return msi !== null ? 'msi' : 'none';
}

/** Arm SMMU v1/v2 list `#global-interrupts` global interrupts first, then one per context bank. */
function nameArmSmmuInterrupts(node: DtNode, interrupts: InterruptInfo[], ctx: AnalysisContext): void {
  if (interrupts.some((i) => i.name !== null)) return;
  const global = readCell(node, '#global-interrupts', ctx.warnings);
  if (global === undefined) return;
  interrupts.forEach((irq, i) => {
    irq.name = i < global ? `global${i}` : `context${i - global}`;
  });
}

function bridgeInfo(node: DtNode, ctx: AnalysisContext): BridgeWork {
  const pci = isPciBus(node);
  if (pci) {
    const ac = readCell(node, '#address-cells', ctx.warnings);
    const sc = readCell(node, '#size-cells', ctx.warnings);
    if (ac !== 3 || sc !== 2) {
      ctx.warnings.add(
        'address-cells-mismatch',
        node,
        '#address-cells',
        `a PCI bus has #address-cells = 3 and #size-cells = 2, this one has ${ac ?? 'none'} and ${sc ?? 'none'}`,
      );
    }
  }
  const iommuMap = readIdMap(node, 'iommu-map', pci, ctx);
  const msiMap = readIdMap(node, 'msi-map', pci, ctx);
  const msiParent = firstMsiParent(node, ctx);
  const children = pci ? pciFunctions(node, ctx) : [];
  const functions: PciFunctionInfo[] = children.map(({ node: fn, location }) => {
    const hit = iommuMap === null ? null : lookupId(iommuMap, location.rid);
    const msiHit = msiMap === null ? null : lookupId(msiMap, location.rid);
    const msi: MsiTarget | null =
      msiHit !== null ? { controller: msiHit.target.path, via: 'msi-map', id: msiHit.id } : msiMap === null ? msiParent : null;
    return {
      ...location,
      path: fn.path,
      compatible: readStrings(fn, 'compatible') ?? [],
      status: statusOf(fn),
      enabled: isEnabled(fn),
      isIommu: classifyIommu(fn) !== null,
      iommu: hit === null ? null : { iommu: hit.target.path, id: hit.id, entry: hit.entry.index },
      msi,
    };
  });
  return {
    node,
    iommuMap,
    children,
    info: {
      path: node.path,
      compatible: readStrings(node, 'compatible') ?? [],
      status: statusOf(node),
      enabled: isEnabled(node),
      pci,
      registers: regions(node, ctx),
      busRange: pci ? busRangeOf(node, ctx) : null,
      iommuMap: iommuMap?.map ?? null,
      msiMap: msiMap?.map ?? null,
      msiParent,
      functions,
    },
  };
}

function emptyServed(): ServedSet {
  return { endpoints: [], pciRanges: [], pciFunctions: [], ipmmuCaches: [] };
}

/** Host bridges: PCI buses whose parent is not PCI, and any node with an iommu-map or msi-map. */
function isHostBridge(node: DtNode): boolean {
  if (node.has('iommu-map') || node.has('msi-map')) return true;
  return isPciBus(node) && node.parent !== null && !isPciBus(node.parent);
}

type FunctionOf = Map<DtNode, { bridge: BridgeWork; fn: PciFunctionInfo }>;

/** Everything about one IOMMU node except what it serves. */
function iommuInfo(node: DtNode, kind: IommuKind, functionOf: FunctionOf, ctx: AnalysisContext): IommuInfo {
  const { warnings } = ctx;
  const iommuCells = readCell(node, '#iommu-cells', warnings) ?? null;
  if (iommuCells === null && !node.has('#iommu-cells')) {
    warnings.add('missing-iommu-cells', node, '#iommu-cells', `${IOMMU_KINDS[kind].title} node has no #iommu-cells, so no device can refer to it`);
  }
  const asFunction = functionOf.get(node);
  const interrupts = interruptsOf(node, ctx);
  if (kind === 'arm-smmu') nameArmSmmuInterrupts(node, interrupts, ctx);
  const msi = asFunction !== undefined ? asFunction.fn.msi : firstMsiParent(node, ctx);
  let ipmmuMain: IommuInfo['ipmmuMain'] = null;
  const main = kind === 'renesas-ipmmu' ? readCells(node, 'renesas,ipmmu-main', warnings) : undefined;
  if (main !== undefined && main.length > 0) {
    const target = ctx.phandles.get(main[0]);
    if (target === undefined) warnings.add('dangling-phandle', node, 'renesas,ipmmu-main', `renesas,ipmmu-main refers to phandle ${hex(main[0])}, which no node has`);
    ipmmuMain = { iommu: target?.path ?? null, bit: main[1] ?? null };
  }
  if (node.has('mmu-masters')) {
    warnings.add('unsupported-binding', node, 'mmu-masters', 'the deprecated mmu-masters binding is not analysed; its masters are not listed');
  }
  return {
    path: node.path,
    labels: [...node.labels],
    phandle: readCell(node, 'phandle', warnings) ?? readCell(node, 'linux,phandle', warnings) ?? null,
    compatible: readStrings(node, 'compatible') ?? [],
    kind,
    status: statusOf(node),
    enabled: isEnabled(node),
    iommuCells,
    // A PCI function's reg is a configuration-space address; its registers are in BARs,
    // which the tree shows only when firmware wrote assigned-addresses.
    registers: asFunction !== undefined ? assignedAddresses(node, ctx) : regions(node, ctx),
    pci: asFunction !== undefined ? { ...functionLocation(asFunction.fn), bridge: asFunction.bridge.info.path } : null,
    interrupts,
    msi,
    signalling: signalling(interrupts, msi, asFunction?.bridge.node.has('interrupt-map') ?? false),
    ipmmuMain,
    serves: emptyServed(),
  };
}

/** Fills each IOMMU's `serves` from the endpoints, the bridges' maps and the IPMMU links. */
function collectServed(iommuByPath: Map<string, IommuInfo>, endpoints: EndpointInfo[], bridges: BridgeWork[]): void {
  for (const ep of endpoints) {
    for (const ref of ep.iommus) {
      const target = ref.iommu === null ? undefined : iommuByPath.get(ref.iommu);
      // A reference cut short by a bad cell count is reported, not listed as served.
      if (target !== undefined && target.iommuCells !== null && ref.ids.length === target.iommuCells) {
        target.serves.endpoints.push({ path: ep.path, ids: ref.ids });
      }
    }
  }
  for (const b of bridges) {
    const map = b.info.iommuMap;
    for (const e of map?.entries ?? []) {
      const target = e.target === null ? undefined : iommuByPath.get(e.target);
      if (target === undefined || e.ridLast === null || e.targetLast === null) continue;
      target.serves.pciRanges.push({
        bridge: b.info.path,
        entry: e.index,
        mask: map?.mask ?? 0xffffffff,
        ridBase: e.ridBase,
        ridLast: e.ridLast,
        idBase: e.targetBase,
        idLast: e.targetLast,
      });
    }
    for (const fn of b.info.functions) {
      if (fn.iommu === null) continue;
      iommuByPath.get(fn.iommu.iommu)?.serves.pciFunctions.push({ bridge: b.info.path, path: fn.path, bdf: fn.bdf, rid: fn.rid, id: fn.iommu.id });
    }
  }
  for (const iommu of iommuByPath.values()) {
    if (iommu.ipmmuMain?.iommu) iommuByPath.get(iommu.ipmmuMain.iommu)?.serves.ipmmuCaches.push(iommu.path);
  }
}

/** An enabled IOMMU that no iommus, iommu-map or cache IPMMU refers to is probably a mistake. */
function warnUnused(iommus: { node: DtNode; info: IommuInfo }[], endpoints: EndpointInfo[], bridges: BridgeWork[], ctx: AnalysisContext): void {
  const referenced = new Set<string>();
  for (const ep of endpoints) for (const r of ep.iommus) if (r.iommu !== null) referenced.add(r.iommu);
  for (const b of bridges) for (const e of b.info.iommuMap?.entries ?? []) if (e.target !== null) referenced.add(e.target);
  for (const { node, info } of iommus) {
    if (!info.enabled || referenced.has(info.path) || info.serves.ipmmuCaches.length > 0) continue;
    // The legacy SMMU binding names its masters from the SMMU's side (reported separately).
    if (node.has('mmu-masters')) continue;
    ctx.warnings.add('unused-iommu', node, null, `no iommus or iommu-map refers to this ${IOMMU_KINDS[info.kind].title}`);
  }
}

export function analyseIommuTopology(tree: DeviceTree): IommuTopology {
  const warnings = new Warnings();
  const ctx: AnalysisContext = { phandles: new PhandleIndex(tree, warnings), warnings };
  const nodes = [...tree.root.walk()];

  // Bridges first: a PCI IOMMU takes its location and MSI target from its bridge.
  const bridges = nodes.filter(isHostBridge).map((n) => bridgeInfo(n, ctx));
  const functionOf: FunctionOf = new Map();
  for (const b of bridges) b.children.forEach((c, i) => functionOf.set(c.node, { bridge: b, fn: b.info.functions[i] }));

  const iommus: { node: DtNode; info: IommuInfo }[] = [];
  for (const node of nodes) {
    const kind = classifyIommu(node);
    if (kind !== null) iommus.push({ node, info: iommuInfo(node, kind, functionOf, ctx) });
  }

  const endpoints: EndpointInfo[] = nodes
    .filter((n) => n.has('iommus'))
    .map((n) => ({
      path: n.path,
      compatible: readStrings(n, 'compatible') ?? [],
      status: statusOf(n),
      enabled: isEnabled(n),
      iommus: iommusOf(n, ctx),
    }));

  for (const b of bridges) b.children.forEach((c, i) => checkFunction(b, c.node, b.info.functions[i], ctx));
  collectServed(new Map(iommus.map((i) => [i.info.path, i.info])), endpoints, bridges);
  warnUnused(iommus, endpoints, bridges, ctx);

  return {
    model: readStrings(tree.root, 'model')?.[0] ?? null,
    compatible: readStrings(tree.root, 'compatible') ?? [],
    iommus: iommus.map((i) => i.info),
    endpoints,
    hostBridges: bridges.map((b) => b.info),
    warnings: byTreeOrder(warnings.list, nodes),
  };
}

/** Warnings grouped by node in tree order (stable within a node), whatever pass found them. */
function byTreeOrder(list: BindingWarning[], nodes: DtNode[]): BindingWarning[] {
  const order = new Map(nodes.map((n, i) => [n.path, i]));
  return list
    .map((w, i) => ({ w, i, at: order.get(w.path) ?? nodes.length }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map((x) => x.w);
}

function functionLocation(fn: PciFunctionInfo): { bus: number; device: number; function: number; rid: number; bdf: string } {
  return { bus: fn.bus, device: fn.device, function: fn.function, rid: fn.rid, bdf: fn.bdf };
}

/** Per-function checks that need the whole bridge: a PCI IOMMU must not translate its own
 *  requests, and an ordinary function outside every iommu-map entry bypasses translation. */
function checkFunction(bridge: BridgeWork, node: DtNode, fn: PciFunctionInfo, ctx: AnalysisContext): void {
  if (bridge.iommuMap === null) return;
  if (fn.isIommu) {
    if (fn.iommu !== null && fn.iommu.iommu === fn.path) {
      ctx.warnings.add(
        'iommu-translates-itself',
        bridge.node,
        'iommu-map',
        `iommu-map entry ${fn.iommu.entry} sends requester id ${hex(fn.rid)} of ${fn.path} (${fn.bdf}) to that IOMMU itself; leave its own id out`,
      );
    }
    return;
  }
  if (fn.iommu === null && fn.enabled) {
    ctx.warnings.add('unmapped-requester', node, 'reg', `requester id ${hex(fn.rid)} (${fn.bdf}) is in no iommu-map entry of ${bridge.info.path}; its DMA bypasses the IOMMU`);
  }
}
