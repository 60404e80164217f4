// The device as a virtio device (VIRTIO 1.2/1.3 5.13.1-5.13.5), seen through virtio-mmio
// registers: device id and queues, offered features and negotiation, the configuration space,
// config.bypass, reset, and the construction parameters' checks.

import { describe, expect, it } from 'vitest';
import { DeviceStatus } from '../../../src/formats/virtio/status.js';
import { VirtioMmio } from '../../../src/formats/virtio/mmio.js';
import { featureMask, VirtioIommuConfigOffset as C, VirtioIommuFeature as F } from '../../../src/formats/virtio-iommu/index.js';
import { ParameterError, resolveParameters, VirtioIommu } from '../../../src/hw/virtio-iommu/index.js';
import { UnconnectedDmaPort } from '../../../src/devices/dma-port.js';
import { ViommuHarness } from './harness.js';

describe('5.13.1 Device ID, 5.13.2 Virtqueues', () => {
  it('DeviceID reads 23; queue 0 (requestq) and 1 (eventq) exist, queue 2 does not', () => {
    const h = new ViommuHarness({ requestQueueSize: 128, eventQueueSize: 32, noStart: true });
    expect(h.reg(VirtioMmio.DEVICE_ID)).toBe(23);
    const max = (q: number) => {
      h.setReg(VirtioMmio.QUEUE_SEL, q);
      return h.reg(VirtioMmio.QUEUE_SIZE_MAX);
    };
    expect([max(0), max(1), max(2)]).toEqual([128, 32, 0]);
  });
});

describe('5.13.3 Feature bits', () => {
  it('offers what the parameters say: by default INPUT_RANGE, DOMAIN_RANGE, MAP_UNMAP, PROBE, MMIO, BYPASS_CONFIG, not BYPASS', () => {
    const h = new ViommuHarness({ noStart: true });
    h.setReg(VirtioMmio.DEVICE_FEATURES_SEL, 0);
    expect(h.reg(VirtioMmio.DEVICE_FEATURES) & 0xffffff).toBe(0b111_0111);
    const legacy = new ViommuHarness({ noStart: true, features: { bypass: true, bypassConfig: false, mmio: false, probe: false } });
    legacy.setReg(VirtioMmio.DEVICE_FEATURES_SEL, 0);
    expect(legacy.reg(VirtioMmio.DEVICE_FEATURES) & 0xffffff).toBe(0b000_1111);
  });

  it('FEATURES_OK is refused when the driver accepts a device bit that was not offered', () => {
    const h = new ViommuHarness({ features: { mmio: false }, accept: featureMask(F.MapUnmap, F.Mmio) });
    expect(h.featuresOk).toBe(false);
    expect(h.status & DeviceStatus.FEATURES_OK).toBe(0);
    expect(new ViommuHarness({ features: { mmio: false }, accept: featureMask(F.MapUnmap) }).featuresOk).toBe(true);
  });

  it('a driver may accept a subset, even without MAP_UNMAP (5.13.5.1)', () => {
    const h = new ViommuHarness({ accept: featureMask(F.Probe) });
    expect(h.featuresOk).toBe(true);
    expect(h.status & DeviceStatus.DRIVER_OK).toBe(DeviceStatus.DRIVER_OK);
  });
});

describe('5.13.4 Device configuration layout', () => {
  const options = {
    pageSizeMask: 0x4020_1000n,
    inputRange: { start: 0x1000n, end: 0xffff_ffff_ffffn },
    domainRange: { start: 1, end: 1000 },
    probeSize: 256,
    bypass: true,
  };

  it('presents page_size_mask, input_range, domain_range, probe_size and bypass little-endian at 0x100', () => {
    const h = new ViommuHarness({ ...options, noStart: true });
    expect(h.config(C.pageSizeMask, 8)).toBe(0x4020_1000n);
    expect(h.config(C.inputRangeStart, 8)).toBe(0x1000n);
    expect(h.config(C.inputRangeEnd, 8)).toBe(0xffff_ffff_ffffn);
    expect(h.config(C.domainRangeStart, 4)).toBe(1n);
    expect(h.config(C.domainRangeEnd, 4)).toBe(1000n);
    expect(h.config(C.probeSize, 4)).toBe(256n);
    expect(h.config(C.bypass, 1)).toBe(1n);
    expect(h.config(C.bypass, 4)).toBe(1n); // reserved bytes read 0
    expect(h.config(C.domainRangeEnd + 1, 2)).toBe(0x03n); // 1000 = 0x3e8: byte 1 is 0x03
  });

  it('without INPUT_RANGE / DOMAIN_RANGE / PROBE / BYPASS_CONFIG the fields show what then applies: the whole space, every id, 0, 0', () => {
    const h = new ViommuHarness({
      ...options,
      bypass: false,
      features: { inputRange: false, domainRange: false, probe: false, bypassConfig: false },
      noStart: true,
    });
    expect([h.config(C.inputRangeStart, 8), h.config(C.inputRangeEnd, 8)]).toEqual([0n, (1n << 64n) - 1n]);
    expect([h.config(C.domainRangeStart, 4), h.config(C.domainRangeEnd, 4)]).toEqual([0n, 0xffff_ffffn]);
    expect(h.config(C.probeSize, 4)).toBe(0n);
    expect(h.config(C.bypass, 1)).toBe(0n);
  });

  it('5.13.4.1: with BYPASS_CONFIG negotiated the driver may write bypass (0 or 1); other fields are read-only', () => {
    const h = new ViommuHarness({ ...options, bypass: false });
    h.setConfig(C.bypass, 1, 1);
    expect(h.config(C.bypass, 1)).toBe(1n);
    h.setConfig(C.bypass, 1, 0);
    expect(h.config(C.bypass, 1)).toBe(0n);
    h.setConfig(C.probeSize, 4, 4096);
    h.setConfig(C.domainRangeStart, 4, 7);
    expect(h.config(C.probeSize, 4)).toBe(256n);
    expect(h.config(C.domainRangeStart, 4)).toBe(1n);
    // A 32-bit write covering bypass and its reserved bytes sets bypass from its low byte.
    h.setConfig(C.bypass, 4, 0x0000_0001);
    expect(h.config(C.bypass, 4)).toBe(1n);
  });

  it('5.13.4.2: the device never presents a bypass other than 0 or 1 (a write of 2 is ignored)', () => {
    const h = new ViommuHarness({ ...options, bypass: false });
    h.setConfig(C.bypass, 1, 2);
    expect(h.config(C.bypass, 1)).toBe(0n);
    h.setConfig(C.bypass, 1, 0xff);
    expect(h.config(C.bypass, 1)).toBe(0n);
  });

  it('bypass is read-only when the driver did not accept BYPASS_CONFIG', () => {
    const h = new ViommuHarness({ ...options, accept: featureMask(F.MapUnmap) });
    h.setConfig(C.bypass, 1, 0);
    expect(h.config(C.bypass, 1)).toBe(1n);
  });

  it('5.13.4.2: bypass survives a device reset and returns to its initial value on a system reset', () => {
    const h = new ViommuHarness({ ...options, bypass: true });
    h.setConfig(C.bypass, 1, 0);
    h.reset();
    expect(h.config(C.bypass, 1)).toBe(0n);
    h.iommu.systemReset();
    expect(h.config(C.bypass, 1)).toBe(1n);
  });
});

describe('5.13.5 Device initialization: reset detaches every endpoint', () => {
  it('after a reset no endpoint is attached, no domain or mapping exists', () => {
    const h = new ViommuHarness({ endpoints: [1, 2] });
    expect(h.attach(5, 1)).toBe(0);
    expect(h.attach(6, 2)).toBe(0);
    expect(h.map(5, 0x1000n, 0x1fffn, 0x8000_0000n, 3)).toBe(0);
    h.reset();
    expect([h.iommu.domainOf(1), h.iommu.domainOf(2)]).toEqual([undefined, undefined]);
    expect(h.iommu.domain(5)).toBeUndefined();
    expect(h.iommu.statistics().mappings.current).toBe(0);
    expect(h.iommu.statistics().domains).toEqual({ current: 0, created: 2, destroyed: 2 });
  });
});

describe('parameters', () => {
  const fails = (o: Parameters<typeof resolveParameters>[0], what: RegExp) => expect(() => resolveParameters(o)).toThrow(what);

  it('refuse what the specification or the model cannot present', () => {
    expect(() => resolveParameters({ pageSizeMask: 0n })).toThrow(ParameterError);
    fails({ pageSizeMask: 0n }, /at least one bit/);
    fails({ pageSizeMask: 0x200n }, /granule of at least 4 KiB/);
    fails({ inputRange: { start: 2n, end: 1n } }, /input_range/);
    fails({ domainRange: { start: 0, end: 2 ** 32 } }, /domain_range/);
    fails({ bypass: true, features: { bypassConfig: false } }, /BYPASS_CONFIG/);
    fails({ endpoints: [1, 1] }, /listed twice/);
    fails({ endpoints: [{ id: 1, reservedRegions: [{ subtype: 1, start: 0x1000n, end: 0x1fffn }, { subtype: 1, start: 0x3000n, end: 0x3fffn }] }] }, /more than one MSI/);
    fails({ endpoints: [{ id: 1, reservedRegions: [{ subtype: 0, start: 0x1000n, end: 0x2fffn }, { subtype: 1, start: 0x2000n, end: 0x3fffn }] }] }, /overlap/);
    fails({ probeSize: 24, endpoints: [{ id: 1, reservedRegions: [{ subtype: 0, start: 0n, end: 1n }, { subtype: 0, start: 2n, end: 3n }] }] }, /do not fit probe_size/);
    fails({ physicalAddressBits: 65 }, /physicalAddressBits/);
    fails({ requestQueueSize: 0 }, /queue sizes/);
  });

  it('device-wide reserved regions apply to every endpoint, before its own', () => {
    const p = resolveParameters({
      reservedRegions: [{ subtype: 1, start: 0x0800_0000n, end: 0x080f_ffffn }],
      endpoints: [1, { id: 2, reservedRegions: [{ subtype: 0, start: 0n, end: 0xfffn }] }],
    });
    expect(p.endpoints.map((e) => e.reservedRegions.length)).toEqual([1, 2]);
    expect(p.endpoints[1].reservedRegions[0].subtype).toBe(1);
  });

  it('the model offers exactly the feature mask and queue sizes of its parameters', () => {
    const d = new VirtioIommu({ upstream: new UnconnectedDmaPort(), features: { probe: false, mmio: false, bypassConfig: false, bypass: true } });
    expect(d.deviceId).toBe(23);
    expect(d.deviceFeatures).toBe(featureMask(F.InputRange, F.DomainRange, F.MapUnmap, F.Bypass));
    expect(d.queueMaxSizes).toEqual([256, 256]);
    expect(d.configSize).toBe(40);
  });
});
