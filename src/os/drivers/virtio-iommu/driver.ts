// The virtio driver of the IOMMU device (VIRTIO 1.3 section 5.13, device id 23), after Linux's
// viommu_probe: it accepts INPUT_RANGE, DOMAIN_RANGE, MAP_UNMAP, PROBE, MMIO and BYPASS_CONFIG
// (never the legacy BYPASS), refuses a device without MAP_UNMAP (5.13.5: drivers "fail
// gracefully"), reads the configuration, sets config.bypass to 0 so that endpoints attached to
// no domain are blocked (5.13.4.1: the driver MAY write it once BYPASS_CONFIG is negotiated),
// sets up the request and event queues, goes live (DRIVER_OK, which requests need), fills the
// event queue, and registers with the IOMMU core, whose deferred endpoints then probe.

import { VirtioIommuConfigOffset } from '../../../formats/virtio-iommu/config.js';
import { describeVirtioIommuFeatures, featureMask, VIRTIO_IOMMU_DEVICE_ID, VirtioIommuFeature } from '../../../formats/virtio-iommu/features.js';
import { hex } from '../../../sim/u64.js';
import { IommuError } from '../../core/types.js';
import type { ProbeResult } from '../../driver-model/device.js';
import { VirtioBus, type VirtioBusOptions, type VirtioDriver } from '../virtio/bus.js';
import type { VirtioDevice } from '../virtio/device.js';
import { VirtioError } from '../virtio/errors.js';
import { configProblem, domainPageSizes, readViommuConfig } from './config.js';
import { VirtioIommuError } from './errors.js';
import { VirtioIommuDevice } from './iommu.js';

const F = VirtioIommuFeature;

/** The device-specific features the driver accepts when offered (Linux's feature table). */
export const VIRTIO_IOMMU_DRIVER_FEATURES: bigint = featureMask(F.InputRange, F.DomainRange, F.MapUnmap, F.Probe, F.Mmio, F.BypassConfig);

export interface VirtioIommuDriverOptions {
  /**
   * Let UNMAP requests wait in the queue for the next sync point (iotlbSync, flushIotlbAll,
   * or a request whose answer is needed), as Linux does; false waits for each UNMAP on its
   * own (one notification and one wait per request). Default true.
   */
  batching?: boolean;
}

/** A virtio-iommu driver with `options`, to register on a VirtioBus. */
export function createVirtioIommuDriver(options: VirtioIommuDriverOptions = {}): VirtioDriver {
  const batching = options.batching ?? true;
  return {
    name: 'virtio-iommu',
    deviceIds: [VIRTIO_IOMMU_DEVICE_ID],
    features: VIRTIO_IOMMU_DRIVER_FEATURES,
    probe: (vdev) => probeVirtioIommu(vdev, batching),
  };
}

/** The driver with its defaults (batching on). */
export const virtioIommuDriver: VirtioDriver = createVirtioIommuDriver();

export interface VirtioIommuBusOptions extends VirtioBusOptions {
  /** Options of the virtio-iommu driver added to the bus. */
  iommu?: VirtioIommuDriverOptions;
}

/**
 * A virtio bus with the virtio-iommu driver registered (after `options.drivers`): give the
 * kernel its `mmioDriver` and `pciDriver` and it binds virtio-iommu devices on either transport.
 */
export function createVirtioIommuBus(options: VirtioIommuBusOptions = {}): VirtioBus {
  return new VirtioBus({ ...options, drivers: [...(options.drivers ?? []), createVirtioIommuDriver(options.iommu)] });
}

function probeVirtioIommu(vdev: VirtioDevice, batching: boolean): ProbeResult {
  const log = vdev.kernel.log;
  if (!vdev.hasFeature(F.MapUnmap)) return { error: 'the device does not offer VIRTIO_IOMMU_F_MAP_UNMAP, the only mode of operation this driver knows (5.13.5)' };
  const node = vdev.device.node;
  if (node === null) return { error: 'the device has no device-tree node for endpoints to refer to' };
  const config = readViommuConfig(vdev);
  const problem = configProblem(config);
  if (problem !== null) return { error: problem };
  const pageSizes = domainPageSizes(config.pageSizeMask);
  if (typeof pageSizes === 'string') log.warn(vdev.name, `no paging domains: ${pageSizes}`);

  let unattachedBlocked = true;
  if (vdev.hasFeature(F.BypassConfig)) {
    vdev.writeConfig(VirtioIommuConfigOffset.bypass, 1, 0);
    // 5.13.4.1: bits 1-7 of bypass are ignored.
    unattachedBlocked = (vdev.config8(VirtioIommuConfigOffset.bypass) & 1) === 0;
    if (!unattachedBlocked) log.warn(vdev.name, 'config.bypass stays 1: endpoints attached to no domain bypass translation, so there is no blocked domain');
  }

  let viommu: VirtioIommuDevice;
  try {
    viommu = new VirtioIommuDevice({ vdev, node, config, pageSizes, unattachedBlocked, batching });
  } catch (e) {
    if (e instanceof VirtioError || e instanceof VirtioIommuError) {
      vdev.reset();
      return { error: e.message };
    }
    throw e;
  }
  try {
    vdev.ready();
    viommu.events.fill();
    vdev.driverData = viommu;
    vdev.configHandler = () => log.warn(vdev.name, 'configuration changed');
    const ranges = `input range ${hex(config.inputStart)}..${hex(config.inputEnd)}, domain ids ${config.firstDomain}..${config.lastDomain}`;
    const sizes = viommu.pageSizes.length === 0 ? 'none' : `${hex(config.pageSizeMask)}`;
    log.info(
      vdev.name,
      `virtio-iommu: ${describeVirtioIommuFeatures(vdev.features).join(' ')}; page sizes ${sizes}; ${ranges}; probe_size ${config.probeSize}; ` +
        `unattached endpoints ${unattachedBlocked ? 'blocked' : 'bypass'}; identity domain ${viommu.identityDomain === undefined ? 'none' : viommu.identityDomain.name}; ` +
        `queues ${viommu.requests.vq.size}/${viommu.events.vq.size}, ${batching ? 'batched' : 'unbatched'} unmaps`,
    );
    vdev.kernel.iommu.register(viommu);
    return 'bound';
  } catch (e) {
    if (!(e instanceof IommuError || e instanceof VirtioError || e instanceof VirtioIommuError)) throw e;
    vdev.driverData = undefined;
    vdev.configHandler = null;
    // Nothing is in flight on the request queue here.
    viommu.releaseMemory();
    vdev.reset();
    return { error: e.message };
  }
}
