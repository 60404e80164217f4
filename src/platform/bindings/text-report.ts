// The topology as a readable report: each IOMMU with what it serves, each host bridge with
// its requester-id map and functions, then the warnings.

import type { Region } from './address.js';
import { hex } from './cells.js';
import type { IdMap } from './id-map.js';
import { IOMMU_KINDS } from './kinds.js';
import type { HostBridgeInfo, IommuInfo, IommuTopology, MsiTarget } from './topology.js';

function rid(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}

function bus(v: number): string {
  return `0x${v.toString(16).padStart(2, '0')}`;
}

function region(r: Region): string {
  const where = r.base === null ? 'not visible to the CPU' : `${hex(r.base)}-${hex(r.base + (r.size > 0n ? r.size - 1n : 0n))}`;
  return `${where} (size ${hex(r.size)})`;
}

function ids(iommu: IommuInfo | undefined, cells: number[]): string {
  const name = iommu === undefined ? 'id' : IOMMU_KINDS[iommu.kind].idName;
  if (cells.length === 0) return 'no id';
  if (cells.length === 1) return `${name} ${hex(cells[0])}`;
  return `${name} <${cells.map((c) => hex(c)).join(' ')}>`;
}

function msi(m: MsiTarget): string {
  return m.id === null ? `${m.controller} (${m.via})` : `${m.controller} (${m.via}, device id ${hex(m.id)})`;
}

function masked(mask: number): string {
  return mask === 0xffffffff ? 'requester ids' : `(requester id & ${hex(mask)})`;
}

const SIGNALLING: Record<IommuInfo['signalling'], string> = {
  wired: 'wired interrupts',
  msi: 'MSIs',
  'wired-or-msi': 'wired interrupts or MSIs',
  none: 'no interrupt described',
};

function iommuSection(iommu: IommuInfo): string[] {
  const kind = IOMMU_KINDS[iommu.kind];
  const labels = iommu.labels.length > 0 ? ` (label ${iommu.labels.join(', ')})` : '';
  const out = [`IOMMU ${iommu.path}${labels}`];
  out.push(`  compatible: ${iommu.compatible.join(', ') || '(none)'} [${kind.title}]`);
  out.push(`  status: ${iommu.status}`);
  if (iommu.pci !== null) {
    out.push(`  PCI function: ${iommu.pci.bdf} on ${iommu.pci.bridge} (requester id ${rid(iommu.pci.rid)})`);
    out.push(
      iommu.registers.length === 0
        ? '  registers: in a BAR, assigned when the bus is enumerated'
        : `  registers (assigned-addresses): ${iommu.registers.map(region).join(', ')}`,
    );
  } else if (iommu.registers.length === 0) {
    out.push('  registers: none (no reg)');
  } else {
    out.push(`  registers: ${iommu.registers.map(region).join(', ')}`);
  }
  out.push(`  #iommu-cells: ${iommu.iommuCells === null ? 'missing' : `${iommu.iommuCells} (${kind.idName})`}`);
  const notes: string[] = [];
  if (iommu.pci !== null && (iommu.signalling === 'wired' || iommu.signalling === 'wired-or-msi')) notes.push("INTx through the bridge's interrupt-map");
  if (iommu.signalling === 'none' && iommu.ipmmuMain !== null) notes.push('a cache IPMMU signals through its main IPMMU');
  out.push(`  signals: ${SIGNALLING[iommu.signalling]}${notes.map((n) => ` (${n})`).join('')}`);
  if (iommu.interrupts.length > 0) {
    out.push('  interrupts:');
    iommu.interrupts.forEach((irq, i) => out.push(`    ${irq.name ?? `#${i}`}: ${irq.description} at ${irq.controller ?? '?'}`));
  }
  if (iommu.msi !== null) out.push(`  msi: ${msi(iommu.msi)}`);
  if (iommu.ipmmuMain !== null) {
    const bit = iommu.ipmmuMain.bit === null ? '' : ` (interrupt bit ${iommu.ipmmuMain.bit})`;
    out.push(`  main IPMMU: ${iommu.ipmmuMain.iommu ?? '?'}${bit}`);
  }
  const s = iommu.serves;
  const nothing = s.endpoints.length + s.pciRanges.length + s.pciFunctions.length + s.ipmmuCaches.length === 0;
  out.push(nothing ? '  serves: nothing' : '  serves:');
  for (const e of s.endpoints) out.push(`    ${e.path}: ${ids(iommu, e.ids)}`);
  const bridges = [...new Set(s.pciRanges.map((r) => r.bridge))];
  for (const bridge of bridges) {
    for (const r of s.pciRanges.filter((x) => x.bridge === bridge)) {
      out.push(`    ${bridge}: ${masked(r.mask)} ${rid(r.ridBase)}-${rid(r.ridLast)} -> ${kind.idName}s ${hex(r.idBase)}-${hex(r.idLast)}`);
    }
    for (const f of s.pciFunctions.filter((x) => x.bridge === bridge)) {
      out.push(`      ${f.bdf} ${f.path}: requester id ${rid(f.rid)} -> ${kind.idName} ${hex(f.id)}`);
    }
  }
  for (const c of s.ipmmuCaches) out.push(`    cache IPMMU ${c}`);
  return out;
}

function mapLines(map: IdMap): string[] {
  const out = [`  ${map.property}${map.mask === 0xffffffff ? '' : ` (${map.property}-mask ${hex(map.mask)})`}:`];
  for (const e of map.entries) {
    const span = e.ridLast === null ? `${rid(e.ridBase)} (empty)` : `${rid(e.ridBase)}-${rid(e.ridLast)}`;
    const to = e.targetLast === null ? hex(e.targetBase) : `${hex(e.targetBase)}-${hex(e.targetLast)}`;
    out.push(`    [${e.index}] requester ids ${span} -> ${e.target ?? `phandle ${hex(e.phandle)} (missing)`} ids ${to}`);
  }
  return out;
}

function bridgeSection(b: HostBridgeInfo, byPath: Map<string, IommuInfo>): string[] {
  const out = [`${b.pci ? 'PCI host bridge' : 'Bus'} ${b.path}`];
  out.push(`  compatible: ${b.compatible.join(', ') || '(none)'}`);
  if (b.status !== 'okay') out.push(`  status: ${b.status}`);
  if (b.registers.length > 0) out.push(`  registers: ${b.registers.map(region).join(', ')}`);
  if (b.busRange !== null) out.push(`  buses: ${bus(b.busRange[0])}-${bus(b.busRange[1])}`);
  if (b.iommuMap !== null) out.push(...mapLines(b.iommuMap));
  else out.push('  iommu-map: none (DMA from this bus is not translated)');
  if (b.msiMap !== null) out.push(...mapLines(b.msiMap));
  if (b.msiParent !== null) out.push(`  msi-parent: ${b.msiParent.controller}`);
  if (b.functions.length > 0) {
    out.push('  functions:');
    for (const f of b.functions) {
      const compat = f.compatible.length > 0 ? ` (${f.compatible.join(', ')})` : '';
      const parts: string[] = [];
      if (f.isIommu) parts.push('is an IOMMU');
      if (f.iommu !== null) parts.push(`IOMMU ${f.iommu.iommu} ${ids(byPath.get(f.iommu.iommu), [f.iommu.id])}`);
      else if (!f.isIommu) parts.push('not translated');
      if (f.msi !== null) parts.push(`MSI ${msi(f.msi)}`);
      out.push(`    ${f.bdf} ${f.path}${compat}: ${parts.join('; ')}`);
    }
  }
  return out;
}

/** The report `iommu-lab inspect` prints. */
export function formatTopology(t: IommuTopology): string {
  const byPath = new Map(t.iommus.map((i) => [i.path, i]));
  const out: string[] = [];
  if (t.model !== null) out.push(`model: ${t.model}`);
  if (t.compatible.length > 0) out.push(`compatible: ${t.compatible.join(', ')}`);
  out.push(`IOMMUs: ${t.iommus.length}, endpoints with iommus: ${t.endpoints.length}, host bridges: ${t.hostBridges.length}`);
  for (const iommu of t.iommus) out.push('', ...iommuSection(iommu));
  for (const b of t.hostBridges) out.push('', ...bridgeSection(b, byPath));
  out.push('');
  if (t.warnings.length === 0) {
    out.push('warnings: none');
  } else {
    out.push(`warnings: ${t.warnings.length}`);
    for (const w of t.warnings) out.push(`  ${w.path}${w.property === null ? '' : ` ${w.property}`}: ${w.message} [${w.code}]`);
  }
  return `${out.join('\n')}\n`;
}
