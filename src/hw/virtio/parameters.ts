// What the virtio specification leaves to the device, as named parameters shared by both
// transports. Every default is documented; platforms and tests override them.

import type { DmaPort } from '../../devices/dma-port.js';

export interface VirtioTransportParameters {
  /**
   * Offer VIRTIO_F_EVENT_IDX (2.7.7, 2.7.10): used_event/avail_event notification
   * suppression. Default true.
   */
  eventIdx?: boolean;
  /** Offer VIRTIO_F_INDIRECT_DESC (2.7.5.3): indirect descriptor tables. Default true. */
  indirectDesc?: boolean;
  /** Offer VIRTIO_F_RING_RESET (2.6.1): resetting one queue. Default true. */
  ringReset?: boolean;
  /**
   * Offer VIRTIO_F_ACCESS_PLATFORM (chapter 6): the device's addresses are bus addresses that
   * the platform (an IOMMU) may translate, so the driver uses the DMA API. Default true, as
   * for a device behind the platform's IOMMU (QEMU offers it only with iommu_platform=on).
   */
  accessPlatform?: boolean;
  /**
   * Where the device's memory accesses go when the driver did not accept
   * VIRTIO_F_ACCESS_PLATFORM: the specification then has the device use physical addresses
   * "not translated further", which a hypervisor-emulated device does by reaching guest
   * memory directly. Default: the device's own upstream port (a hardware device cannot
   * bypass the platform, so an unconfigured IOMMU then faults its accesses).
   */
  physicalPort?: DmaPort;
}

/** The parameters with their defaults applied. */
export interface ResolvedTransportParameters {
  readonly eventIdx: boolean;
  readonly indirectDesc: boolean;
  readonly ringReset: boolean;
  readonly accessPlatform: boolean;
  readonly physicalPort: DmaPort | null;
}

export function resolveTransportParameters(p: VirtioTransportParameters): ResolvedTransportParameters {
  return {
    eventIdx: p.eventIdx ?? true,
    indirectDesc: p.indirectDesc ?? true,
    ringReset: p.ringReset ?? true,
    accessPlatform: p.accessPlatform ?? true,
    physicalPort: p.physicalPort ?? null,
  };
}
