// IOMMU bindings of a device tree, analysed without running anything: each IOMMU (kind,
// registers in CPU addresses, interrupts by name, wired or MSI), the platform endpoints that
// name it in `iommus`, the PCI requester ids that host bridges send to it through `iommu-map`,
// and warnings for whatever does not resolve.
//
//   const topology = analyseIommuTopology(parseDtsFile('board.dts'));
//   topology.iommus[0].serves.endpoints;      // [{ path: '/soc/dma@3020000', ids: [1] }]
//   formatTopology(topology);                 // the text report of `iommu-lab inspect`
//   JSON.stringify(topologyToJson(topology)); // the --json output

export { analyseIommuTopology } from './analyse.js';
export { formatTopology } from './text-report.js';
export { topologyToJson, type TopologyJson, type Jsonified } from './json.js';
export { classifyIommu, IOMMU_KINDS, type IommuKind, type IommuKindInfo } from './kinds.js';
export { decodePhysHi, formatBdf, type PciLocation } from './pci.js';
export type { Region } from './address.js';
export type { IdMap, IdMapEntry, MapProperty } from './id-map.js';
export type { InterruptInfo } from './interrupts.js';
export type { IommuReference } from './iommus.js';
export type { BindingWarning, WarningCode } from './warnings.js';
export type { IommuTopology } from './topology.js';
export type * from './topology.js';
