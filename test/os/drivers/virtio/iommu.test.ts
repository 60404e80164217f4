// A virtio-pci device behind the RISC-V IOMMU model (chapter 6, VIRTIO_F_ACCESS_PLATFORM):
// with the feature negotiated the driver shares memory through the DMA API, so the rings and
// buffers the device reaches are IOVAs of its DMA domain; without it the driver must pass
// physical addresses, which the IOMMU then faults, and the device asks for a reset.

import { describe, expect, it } from 'vitest';
import { DeviceStatus } from '../../../../src/formats/virtio/status.js';
import { VirtioPciFunction } from '../../../../src/hw/virtio/index.js';
import { plicDriver } from '../../../../src/os/drivers/irqchip/plic.js';
import { pciHostEcamDriver } from '../../../../src/os/drivers/pci/index.js';
import { riscvIommuPlatformDriver } from '../../../../src/os/drivers/riscv-iommu/index.js';
import { VirtioBus, virtioDeviceOf } from '../../../../src/os/drivers/virtio/index.js';
import { buildDevicesMachine } from '../../../support/devices-machine.js';
import { EchoDevice } from '../../../hw/virtio/echo-device.js';
import { echoDriver, echoOf } from './echo-driver.js';

function machine(accessPlatform: boolean) {
  const bus = new VirtioBus({ drivers: [echoDriver()] });
  const fn = new VirtioPciFunction({ model: new EchoDevice({ queueSize: 16 }), accessPlatform });
  const m = buildDevicesMachine({ iommu: 'platform', pciEngineAt: null, extraFunctions: [{ device: 3, func: 0, fn }], drivers: [plicDriver, riscvIommuPlatformDriver, pciHostEcamDriver, bus.pciDriver] });
  const dev = m.kernel.drivers.find((d) => d.name === '0000:00:03.0');
  const vdev = dev === undefined ? null : virtioDeviceOf(dev);
  if (vdev === null) throw new Error(m.kernel.log.records.map((r) => `${r.source}: ${r.message}`).join('\n'));
  return { m, fn, vdev };
}

describe('chapter 6 VIRTIO_F_ACCESS_PLATFORM behind an IOMMU', () => {
  it('negotiated: the device reaches rings and buffers at IOVAs, translated by the IOMMU', () => {
    const { m, vdev } = machine(true);
    expect(vdev.usesDmaApi).toBe(true);
    const vq = vdev.queues[0]!;
    expect(vq.ring.dmaAddress).not.toBe(vq.ring.paddr);
    const c = echoOf(vdev);
    const before = m.iommu!.statistics().requests.untranslated;
    for (let i = 0; i < 8; i++) expect(c.add([i, i * 2, i * 3])).toBe(true); // 8 chains of 2 fill the 16 descriptors
    c.kick();
    vdev.poll();
    expect(c.completions.map((x) => x.data)).toEqual(Array.from({ length: 8 }, (_, i) => [i, i * 2, i * 3]));
    expect(m.iommu!.statistics().requests.untranslated).toBeGreaterThan(before);
    expect(vdev.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('not offered: physical addresses fault in the IOMMU, the device sets DEVICE_NEEDS_RESET and the driver sees it', () => {
    const { fn, vdev } = machine(false);
    expect(vdev.usesDmaApi).toBe(false);
    const vq = vdev.queues[0]!;
    expect(vq.ring.dmaAddress).toBe(vq.ring.paddr);
    const c = echoOf(vdev);
    c.add([1]);
    c.kick();
    vdev.poll();
    expect(c.completions).toEqual([]);
    expect(fn.core.errors[0]).toMatch(/reading the available index failed: the access was aborted \(an IOMMU fault\)/);
    expect(vdev.needsReset).toBe(true);
  });
});
