// The virtio-iommu guest driver (after Linux's drivers/iommu/virtio-iommu.c): the virtio driver
// for device id 23, the instance it registers with the IOMMU core, and what platforms, tests and
// reports use.

export { createVirtioIommuDriver, createVirtioIommuBus, virtioIommuDriver, VIRTIO_IOMMU_DRIVER_FEATURES, type VirtioIommuDriverOptions, type VirtioIommuBusOptions } from './driver.js';
export { VirtioIommuDevice, type VirtioIommuStats } from './iommu.js';
export { ViommuDomain, identityPieces } from './domains.js';
export { ViommuEndpoint, parseProperties, type ReservedRegion, type ParsedProperties } from './endpoint.js';
export { readViommuConfig, domainPageSizes, configProblem, type ViommuConfig } from './config.js';
export { RequestQueue, statusName, SYNC_POLL_LIMIT, type RequestQueueCounters, type ProbeAnswer } from './request-queue.js';
export { EventQueue, type FaultReport, type EventQueueCounters } from './event-queue.js';
export { MappingList } from './mappings.js';
export { VirtioIommuError } from './errors.js';

import type { IommuInstance } from '../../core/types.js';
import { VirtioIommuDevice } from './iommu.js';

/** The driver's state behind a registered IOMMU instance, or null for another driver's. */
export function virtioIommuInstanceOf(instance: IommuInstance | null | undefined): VirtioIommuDevice | null {
  return instance instanceof VirtioIommuDevice ? instance : null;
}
