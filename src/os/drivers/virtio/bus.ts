// The virtio bus: virtio device drivers register here by virtio device id, and the transport
// drivers (virtio-mmio, virtio-pci) hand it each device they find. Probing a device runs the
// initialization sequence of VIRTIO 1.3 section 3.1.1: reset, ACKNOWLEDGE, DRIVER, feature
// negotiation with FEATURES_OK read back, the virtio driver's own setup (queues,
// configuration), and DRIVER_OK.
//
// A device whose driver is not registered (yet) keeps ACKNOWLEDGE and defers its transport's
// probe, so that the driver model retries it; a virtio driver's deferral resets the device
// first. A failure sets FAILED and fails the probe.

import { DEVICE_TYPE_FEATURES, describeFeatures, featureBit, VirtioFeature } from '../../../formats/virtio/features.js';
import { DeviceStatus } from '../../../formats/virtio/status.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import { VirtioDevice } from './device.js';
import { createVirtioMmioDriver } from './mmio-transport.js';
import { createVirtioPciDriver } from './pci-transport.js';

export interface VirtioDriver {
  readonly name: string;
  /** The virtio device ids it drives (chapter 5). */
  readonly deviceIds: readonly number[];
  /** Device-type feature bits it understands; the device's offer is intersected with them. */
  readonly features?: bigint;
  /**
   * Sets the device up once features are negotiated (status ACKNOWLEDGE|DRIVER|FEATURES_OK):
   * queues, configuration. May call vdev.ready() itself to use the device during probe;
   * the bus sets DRIVER_OK after a successful probe otherwise. A thrown error fails the probe.
   */
  probe(vdev: VirtioDevice): ProbeResult;
  remove?(vdev: VirtioDevice): void;
}

/**
 * The reserved-range features the virtio core accepts when offered (Linux accepts the same
 * set in vring_transport_features): VERSION_1, ACCESS_PLATFORM, EVENT_IDX, INDIRECT_DESC,
 * RING_RESET.
 */
export const DEFAULT_TRANSPORT_FEATURES: bigint =
  featureBit(VirtioFeature.VERSION_1) | featureBit(VirtioFeature.ACCESS_PLATFORM) | featureBit(VirtioFeature.EVENT_IDX) | featureBit(VirtioFeature.INDIRECT_DESC) | featureBit(VirtioFeature.RING_RESET);

export interface VirtioBusOptions {
  drivers?: readonly VirtioDriver[];
  /** Reserved-range feature bits to accept when offered (default DEFAULT_TRANSPORT_FEATURES). */
  transportFeatures?: bigint;
}

export class VirtioBus {
  readonly drivers: VirtioDriver[];
  /** Every virtio device the transports found, in probe order. */
  readonly devices: VirtioDevice[] = [];
  readonly transportFeatures: bigint;
  /** The kernel drivers to register: virtio-mmio ("virtio,mmio" nodes) and virtio-pci (vendor 0x1af4, devices 0x1040-0x107f). */
  readonly mmioDriver: Driver;
  readonly pciDriver: Driver;

  constructor(options: VirtioBusOptions = {}) {
    this.drivers = [...(options.drivers ?? [])];
    this.transportFeatures = (options.transportFeatures ?? DEFAULT_TRANSPORT_FEATURES) & ~DEVICE_TYPE_FEATURES;
    this.mmioDriver = createVirtioMmioDriver(this);
    this.pciDriver = createVirtioPciDriver(this);
  }

  /** Registers a virtio driver; devices waiting for one bind the next time the kernel probes. */
  register(driver: VirtioDriver): void {
    this.drivers.push(driver);
  }

  driverFor(deviceId: number): VirtioDriver | undefined {
    return this.drivers.find((d) => d.deviceIds.includes(deviceId));
  }

  /** The initialization sequence for a device a transport found (see the file comment). */
  probe(vdev: VirtioDevice): ProbeResult {
    if (!this.devices.includes(vdev)) this.devices.push(vdev);
    // Probing a bound device again (recovery after DEVICE_NEEDS_RESET) unbinds its driver first.
    if (vdev.driverName !== null) this.remove(vdev);
    const log = vdev.kernel.log;
    try {
      vdev.reset();
      vdev.addStatus(DeviceStatus.ACKNOWLEDGE);
      const driver = this.driverFor(vdev.deviceId);
      if (driver === undefined) return { defer: `no virtio driver for device id ${vdev.deviceId} (${vdev.kind})` };
      vdev.addStatus(DeviceStatus.DRIVER);
      vdev.negotiate(((driver.features ?? 0n) & DEVICE_TYPE_FEATURES) | this.transportFeatures);
      log.info(vdev.name, `virtio ${vdev.kind} device over ${vdev.transport.kind}: features ${describeFeatures(vdev.features)}`);
      vdev.driverName = driver.name;
      const result = driver.probe(vdev);
      if (result === 'bound') {
        vdev.ready();
        return 'bound';
      }
      vdev.driverName = null;
      if ('defer' in result) vdev.reset();
      else vdev.fail();
      return result;
    } catch (e) {
      // A VirtioError, or a kernel error of the driver's setup (out of memory, a DMA mapping
      // refused): the device failed, the kernel goes on.
      if (!(e instanceof Error)) throw e;
      vdev.driverName = null;
      vdev.fail();
      return { error: e.message };
    }
  }

  /** Unbinds the virtio driver and resets the device. */
  remove(vdev: VirtioDevice): void {
    const driver = vdev.driverName === null ? undefined : this.drivers.find((d) => d.name === vdev.driverName);
    driver?.remove?.(vdev);
    vdev.driverName = null;
    vdev.reset();
  }
}

/** The virtio device behind a transport device bound by a VirtioBus, or null. */
export function virtioDeviceOf(dev: Device): VirtioDevice | null {
  return dev.driverData instanceof VirtioDevice ? dev.driverData : null;
}
