// The IOMMU topology of a device tree as plain data: which IOMMUs there are, what each one
// serves (platform endpoints through `iommus`, PCI requester ids through a host bridge's
// `iommu-map`), and what could not be resolved. Paths name nodes; 64-bit addresses are bigint.

import type { Region } from './address.js';
import type { IdMap } from './id-map.js';
import type { InterruptInfo } from './interrupts.js';
import type { IommuReference } from './iommus.js';
import type { IommuKind } from './kinds.js';
import type { PciLocation } from './pci.js';
import type { BindingWarning } from './warnings.js';

/** How an IOMMU can interrupt the CPU: wired lines, message-signalled writes, or either
 *  (the driver chooses; a RISC-V IOMMU reports both in its capabilities). */
export type Signalling = 'wired' | 'msi' | 'wired-or-msi' | 'none';

/** Where a device's MSIs go: a platform device's `msi-parent`, or its host bridge's
 *  `msi-map` / `msi-parent` for a PCI function. */
export interface MsiTarget {
  controller: string;
  via: 'msi-parent' | 'msi-map';
  /** The device id the controller sees (msi-map output or msi-parent specifier), if any. */
  id: number | null;
}

export interface ServedEndpoint {
  path: string;
  /** The specifier cells of one `iommus` reference. */
  ids: number[];
}

export interface ServedRange {
  bridge: string;
  /** Index of the iommu-map entry. */
  entry: number;
  /** iommu-map-mask applied to requester ids first. */
  mask: number;
  ridBase: number;
  ridLast: number;
  idBase: number;
  idLast: number;
}

export interface ServedFunction {
  bridge: string;
  path: string;
  bdf: string;
  rid: number;
  id: number;
}

export interface ServedSet {
  endpoints: ServedEndpoint[];
  pciRanges: ServedRange[];
  pciFunctions: ServedFunction[];
  /** Renesas: cache IPMMUs whose interrupts this main IPMMU reports (`renesas,ipmmu-main`). */
  ipmmuCaches: string[];
}

export interface IommuInfo {
  path: string;
  /** DTS labels (a DTB has none). */
  labels: string[];
  phandle: number | null;
  compatible: string[];
  kind: IommuKind;
  status: string;
  enabled: boolean;
  iommuCells: number | null;
  /** Register windows in CPU addresses; for a PCI function, its BARs from assigned-addresses
   *  (usually absent: the OS assigns BARs when it enumerates the bus). */
  registers: Region[];
  /** Where an IOMMU that is a PCI function sits. */
  pci: (PciLocation & { bridge: string }) | null;
  interrupts: InterruptInfo[];
  msi: MsiTarget | null;
  signalling: Signalling;
  /** Renesas cache IPMMU: the main IPMMU and the interrupt bit it reports through. */
  ipmmuMain: { iommu: string | null; bit: number | null } | null;
  serves: ServedSet;
}

export interface EndpointInfo {
  path: string;
  compatible: string[];
  status: string;
  enabled: boolean;
  iommus: IommuReference[];
}

export interface PciFunctionInfo extends PciLocation {
  path: string;
  compatible: string[];
  status: string;
  enabled: boolean;
  /** The function is itself an IOMMU (riscv,pci-iommu, virtio,pci-iommu). */
  isIommu: boolean;
  /** Where iommu-map sends its requester id; null when no entry covers it. */
  iommu: { iommu: string; id: number; entry: number } | null;
  msi: MsiTarget | null;
}

export interface HostBridgeInfo {
  path: string;
  compatible: string[];
  status: string;
  enabled: boolean;
  /** device_type "pci" (a node with only an iommu-map may be another bus, e.g. fsl-mc). */
  pci: boolean;
  /** Configuration space (ECAM) and other register windows, in CPU addresses. */
  registers: Region[];
  busRange: [number, number] | null;
  iommuMap: IdMap | null;
  msiMap: IdMap | null;
  msiParent: MsiTarget | null;
  functions: PciFunctionInfo[];
}

export interface IommuTopology {
  model: string | null;
  compatible: string[];
  iommus: IommuInfo[];
  endpoints: EndpointInfo[];
  hostBridges: HostBridgeInfo[];
  warnings: BindingWarning[];
}
