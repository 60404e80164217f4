// Bringing the virtio-iommu up (VIRTIO 1.3 section 5.13): feature negotiation (5.13.3), the
// refusal of a device without MAP_UNMAP (5.13.5), config.bypass (5.13.4.1), the event queue
// filled with buffers (5.13.6.9), request completions collected without interrupts, and the
// endpoints that wait for the IOMMU to register.

import { describe, expect, it } from 'vitest';
import { DmaPortStatus, DmaRequester } from '../../../../src/devices/dma-port.js';
import { VirtioIommuConfigOffset } from '../../../../src/formats/virtio-iommu/config.js';
import { featureMask, VirtioIommuFeature } from '../../../../src/formats/virtio-iommu/features.js';
import { DeviceStatus } from '../../../../src/formats/virtio/status.js';
import { IommuError, Prot } from '../../../../src/os/core/types.js';
import { virtioDeviceOf } from '../../../../src/os/drivers/virtio/bus.js';
import { VirtioIommuMachine } from '../../../support/virtio-iommu-machine.js';

const F = VirtioIommuFeature;
const DEVICE_TYPE_BITS = 0xff_ffffn;

function negotiated(m: VirtioIommuMachine): bigint {
  const vdev = virtioDeviceOf(m.viommuDevice);
  if (vdev === null) throw new Error(`no virtio device; log:\n${m.logText()}`);
  return vdev.features & DEVICE_TYPE_BITS;
}

/** One DMA read by endpoint `id` straight into the model's port; the status. */
function dmaRead(m: VirtioIommuMachine, id: number, address: bigint): number {
  return m.viommu.dmaPort.read(new DmaRequester(id), address, 4);
}

describe('5.13.3 feature bits', () => {
  it('accepts INPUT_RANGE, DOMAIN_RANGE, MAP_UNMAP, PROBE, MMIO and BYPASS_CONFIG when offered', () => {
    const m = new VirtioIommuMachine();
    expect(m.viommuDevice.state, m.logText()).toBe('bound');
    expect(negotiated(m)).toBe(featureMask(F.InputRange, F.DomainRange, F.MapUnmap, F.Probe, F.Mmio, F.BypassConfig));
    expect(m.kernel.iommu.instances).toEqual([m.driver]);
    expect(m.driver.node.path).toBe('/soc/virtio_mmio@10001000');
  });

  it('never accepts the legacy BYPASS: without BYPASS_CONFIG unattached endpoints stay blocked (5.13.6)', () => {
    const m = new VirtioIommuMachine({ viommu: { features: { bypass: true, bypassConfig: false } }, extraEndpoints: [9] });
    expect(negotiated(m)).toBe(featureMask(F.InputRange, F.DomainRange, F.MapUnmap, F.Probe, F.Mmio));
    expect(dmaRead(m, 9, 0x8000_0000n)).toBe(DmaPortStatus.Aborted);
    m.kernel.poll();
    expect(m.driver.statistics().faults.byReason.DOMAIN).toBe(1);
    expect(m.driver.blockedDomain).toBeDefined();
  });
});

describe('5.13.5 device initialization: MAP_UNMAP is required', () => {
  it('refuses a device without VIRTIO_IOMMU_F_MAP_UNMAP: FAILED, nothing registered, endpoints left waiting', () => {
    const m = new VirtioIommuMachine({ viommu: { features: { mapUnmap: false } } });
    expect(m.viommuDevice.state).toBe('failed');
    expect(m.viommuDevice.reason).toMatch(/VIRTIO_IOMMU_F_MAP_UNMAP/);
    expect(m.transport.core.deviceStatus & DeviceStatus.FAILED).toBe(DeviceStatus.FAILED);
    expect(m.transport.core.deviceStatus & DeviceStatus.DRIVER_OK).toBe(0);
    expect(m.kernel.iommu.instances).toHaveLength(0);
    expect(m.engineDevice().state).toBe('deferred');
    expect(m.engineDevice().reason).toMatch(/waiting for IOMMU/);
  });
});

describe('queues the driver cannot use', () => {
  it('a request queue of one descriptor cannot hold a request (two descriptors): the probe fails and the device is reset', () => {
    const m = new VirtioIommuMachine({ viommu: { requestQueueSize: 1 } });
    expect(m.viommuDevice.state).toBe('failed');
    expect(m.viommuDevice.reason).toMatch(/request queue of 1 descriptor cannot hold a request/);
    expect(m.transport.core.deviceStatus).toBe(DeviceStatus.FAILED);
    expect(m.kernel.iommu.instances).toHaveLength(0);
  });
});

describe('5.13.4.1 config.bypass', () => {
  it('is set to 0, so that an endpoint the device would have let through is blocked once the driver runs', () => {
    const before = new VirtioIommuMachine({ viommu: { bypass: true }, extraEndpoints: [9], boot: false });
    expect(before.viommu.readConfig(VirtioIommuConfigOffset.bypass, 1)).toBe(1);
    expect(dmaRead(before, 9, 0x8000_0000n)).toBe(DmaPortStatus.Ok);

    const m = new VirtioIommuMachine({ viommu: { bypass: true }, extraEndpoints: [9] });
    expect(m.viommu.readConfig(VirtioIommuConfigOffset.bypass, 1)).toBe(0);
    expect(dmaRead(m, 9, 0x8000_0000n)).toBe(DmaPortStatus.Aborted);
    m.kernel.poll();
    const faults = m.driver.statistics().faults;
    expect(faults).toMatchObject({ received: 1, unknownEndpoint: 1 });
    expect(faults.byReason.DOMAIN).toBe(1);
  });
});

describe('optional features missing (5.13.4, 5.13.6)', () => {
  it('uses the whole 64-bit input range and every 32-bit domain id, sends no PROBE, maps identity, refuses MMIO mappings', () => {
    const m = new VirtioIommuMachine({
      // Values the device presents but may not have the driver use: their features are not offered.
      viommu: { features: { inputRange: false, domainRange: false, probe: false, mmio: false, bypassConfig: false }, reservedRegions: [{ subtype: 0, start: 0x1000n, end: 0x1fffn }] },
    });
    expect(negotiated(m)).toBe(featureMask(F.MapUnmap));
    const d = m.driver;
    expect(d.config).toMatchObject({ inputStart: 0n, inputEnd: (1n << 64n) - 1n, firstDomain: 0, lastDomain: 0xffff_ffff, probeSize: 0 });
    const domain = m.kernel.iommu.domainOf(m.engineDevice());
    expect(domain?.geometry).toEqual({ start: 0n, end: (1n << 64n) - 1n });
    expect(d.statistics().requests.PROBE).toBe(0);
    expect(d.reservedRegions(m.engineDevice())).toEqual([]);
    expect(d.identityDomain?.name).toMatch(/identity \(mapped domain 0\)/);
    expect(m.viommu.domainOf(5)).toBe(1);

    const unmanaged = m.kernel.iommu.domainAlloc(m.engineDevice());
    expect(() => m.kernel.iommu.map(unmanaged, 0x10_0000n, 0x8000_0000n, 0x1000n, Prot.READ | Prot.MMIO)).toThrow(IommuError);
    expect(m.logMatching(/MMIO: VIRTIO_IOMMU_F_MMIO was not negotiated/)).toHaveLength(1);
    expect(d.statistics().requests.MAP).toBe(0);
  });

  it('maps MMIO with VIRTIO_IOMMU_MAP_F_MMIO when MMIO was negotiated (5.13.6.5)', () => {
    const m = new VirtioIommuMachine();
    const core = m.kernel.iommu;
    const dev = m.engineDevice();
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    core.map(domain, 0x10_0000n, 0x4000_0000n, 0x1000n, Prot.READ | Prot.WRITE | Prot.MMIO);
    const id = m.viommu.domainOf(5) as number;
    expect(m.viommu.mappings(id)).toEqual([{ virtStart: 0x10_0000n, virtEnd: 0x10_0fffn, physStart: 0x4000_0000n, flags: 7 }]);
  });
});

describe('5.13.6.9 the event queue', () => {
  it('is filled with one device-writable buffer per descriptor at probe', () => {
    const m = new VirtioIommuMachine({ viommu: { eventQueueSize: 8 } });
    const vq = m.driver.events.vq;
    expect(vq.size).toBe(8);
    expect(vq.inFlight).toBe(8);
    expect(vq.freeDescriptors).toBe(0);
  });
});

describe('request completions (2.7.10 notification suppression)', () => {
  it('are taken at sync points: the device is asked not to interrupt for them', () => {
    const m = new VirtioIommuMachine();
    const src = m.buffer();
    const dst = m.buffer();
    expect(m.channel().copy(src, dst, 4096)).toMatchObject({ ok: true });
    const requestq = m.transport.core.queues[0].counters;
    expect(requestq.pushed).toBeGreaterThanOrEqual(m.driver.statistics().totalRequests);
    expect(requestq.notificationsSent).toBe(0);
    expect(requestq.notificationsSuppressed).toBeGreaterThan(0);
    expect(virtioDeviceOf(m.viommuDevice)?.counters.interrupts).toBe(0);
  });
});

describe('probe order', () => {
  it('endpoints before the virtio-iommu in the device tree defer, then bind once it registers', () => {
    const m = new VirtioIommuMachine({ enginesFirst: true });
    expect(m.engineDevice().state, m.logText()).toBe('bound');
    expect(m.logMatching(/3020000\.dma: probe deferred: waiting for IOMMU/)).toHaveLength(1);
    expect(m.kernel.iommu.domainOf(m.engineDevice())?.type).toBe('dma');
  });

  it('works with a polled transport (no interrupt in the device tree)', () => {
    const m = new VirtioIommuMachine({ polled: true });
    expect(m.engineDevice().state, m.logText()).toBe('bound');
    const src = m.buffer();
    const dst = m.buffer();
    m.memory.writeBytes(src, new Uint8Array(64).fill(0x5a));
    expect(m.channel().copy(src, dst, 64)).toMatchObject({ ok: true });
    expect(m.memory.readBytes(dst, 64)).toEqual(new Uint8Array(64).fill(0x5a));
  });

  it('devices naming the same endpoint id share an IOMMU group (the device cannot tell them apart)', () => {
    const m = new VirtioIommuMachine({ engines: [{ endpoint: 5 }, { endpoint: 6, dtEndpoint: 5 }] });
    const [a, b] = [m.engineDevice(0), m.engineDevice(1)];
    const core = m.kernel.iommu;
    expect(core.deviceIommu(a)?.group).toBe(core.deviceIommu(b)?.group);
    expect(core.domainOf(a)).toBe(core.domainOf(b));
    expect(m.logMatching(/3021000\.dma: endpoint id 0x5 is also used by 3020000\.dma/)).toHaveLength(1);
    expect(() => core.attachDevice(core.domainAlloc(a), a)).toThrow(/shares IOMMU group/);
  });
});
