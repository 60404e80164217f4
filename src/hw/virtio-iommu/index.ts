export { VirtioIommu, type VirtioIommuConfig, type VirtioIommuMapping, type VirtioIommuStatistics } from './virtio-iommu.js';
export {
  resolveParameters,
  offeredFeatureMask,
  DEFAULT_FEATURES,
  ParameterError,
  type VirtioIommuOptions,
  type VirtioIommuParameters,
  type VirtioIommuFeatureOffer,
  type VirtioIommuEndpointOptions,
  type ReservedRegion,
} from './parameters.js';
export type { VirtioIommuBackend, VirtioIommuBackendResult } from './backend.js';
export { VirtioIommuDmaPort } from './dma-port.js';
export { MappingTable } from './mapping-table.js';
