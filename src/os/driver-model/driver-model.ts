// Binding drivers to devices, with deferred probe: when a probe returns `defer` (its IOMMU,
// interrupt controller or another supplier has not probed yet), the device is retried each
// time another device binds, until nothing changes.

import { DeviceTreeError } from '../../formats/devicetree/tree.js';
import type { Kernel } from '../kernel/kernel.js';
import { Device, driverMatches, type Driver, type ProbeResult } from './device.js';

export class DriverModel {
  readonly drivers: Driver[] = [];
  readonly devices: Device[] = [];
  private probing = false;

  constructor(private readonly kernel: Kernel) {}

  register(driver: Driver): void {
    this.drivers.push(driver);
    this.probeAll();
  }

  add(dev: Device): void {
    this.devices.push(dev);
    this.probeAll();
  }

  /** Probes every unbound or deferred device until no further binding happens. */
  probeAll(): void {
    if (this.probing) return; // a probe that adds devices triggers this; the outer loop continues
    this.probing = true;
    try {
      let progress = true;
      while (progress) {
        progress = false;
        for (const dev of this.devices) {
          if (dev.state === 'bound' || dev.state === 'failed') continue;
          if (this.tryBind(dev)) progress = true;
        }
      }
    } finally {
      this.probing = false;
    }
  }

  /** Devices still waiting, with the reason their last probe gave. */
  get deferred(): Device[] {
    return this.devices.filter((d) => d.state === 'deferred');
  }

  find(predicate: (d: Device) => boolean): Device | undefined {
    return this.devices.find(predicate);
  }

  private tryBind(dev: Device): boolean {
    const driver = this.drivers.find((d) => driverMatches(d, dev));
    if (driver === undefined) return false;
    const log = this.kernel.log;
    // The bus sets up DMA (and so the IOMMU) before the driver probes, as Linux's dma_configure.
    const dma = this.kernel.iommu.configure(dev);
    if (dma !== true) {
      if ('defer' in dma) return this.defer(dev, dma.defer);
      dev.state = 'failed';
      dev.reason = dma.error;
      log.error(dev.name, `IOMMU setup failed: ${dma.error}`);
      return false;
    }
    let result: ProbeResult;
    try {
      result = driver.probe(dev, this.kernel);
    } catch (e) {
      // A driver that trips over its device (a malformed device-tree property, say) fails
      // that device's probe, as a Linux probe returning an error; the boot goes on.
      if (!(e instanceof DeviceTreeError)) throw e;
      result = { error: e.message };
    }
    if (result === 'bound') {
      dev.driver = driver;
      dev.state = 'bound';
      dev.reason = '';
      log.info(dev.name, `bound to ${driver.name}`);
      return true;
    }
    if ('defer' in result) return this.defer(dev, result.defer);
    dev.state = 'failed';
    dev.reason = result.error;
    log.error(dev.name, `probe with ${driver.name} failed: ${result.error}`);
    return false;
  }

  private defer(dev: Device, reason: string): boolean {
    if (dev.state !== 'deferred' || dev.reason !== reason) this.kernel.log.info(dev.name, `probe deferred: ${reason}`);
    dev.state = 'deferred';
    dev.reason = reason;
    return false;
  }
}
