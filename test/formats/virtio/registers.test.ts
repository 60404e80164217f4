// The register and structure layouts of the virtio transports and the basic facilities:
// device status bits (2.1), feature bits (2.2, chapter 6), device ids (chapter 5), the
// virtio-mmio register table (4.2.2), and the virtio-pci ids, capabilities and common
// configuration structure (4.1.2, 4.1.4, 4.1.4.3).

import { describe, expect, it } from 'vitest';
import {
  COMMON_CFG_FIELDS,
  COMMON_CFG_SIZE,
  CommonCfg,
  DEVICE_TYPE_FEATURES,
  DeviceStatus,
  describeFeatures,
  describeStatus,
  featureBit,
  featureWord,
  hasFeature,
  TRANSPORT_FEATURES,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MSI_NO_VECTOR,
  VirtioDeviceId,
  virtioDeviceName,
  VirtioFeature,
  virtioIdOfPciDevice,
  VirtioMmio,
  VirtioPciCap,
  VirtioPciCapType,
  virtioPciDeviceId,
  VirtioPciIsr,
  withFeatureWord,
} from '../../../src/formats/virtio/index.js';

describe('2.1 Device Status Field', () => {
  it('ACKNOWLEDGE 1, DRIVER 2, DRIVER_OK 4, FEATURES_OK 8, SUSPEND 16, DEVICE_NEEDS_RESET 64, FAILED 128', () => {
    expect(DeviceStatus).toEqual({ ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, SUSPEND: 16, DEVICE_NEEDS_RESET: 64, FAILED: 128 });
    expect(describeStatus(0)).toBe('0');
    expect(describeStatus(0x4f)).toBe('ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK|DEVICE_NEEDS_RESET');
    expect(describeStatus(0x20)).toBe('0x20');
  });
});

describe('2.2 Feature Bits and chapter 6 Reserved Feature Bits', () => {
  it('the device-independent bit numbers', () => {
    expect(VirtioFeature).toMatchObject({ INDIRECT_DESC: 28, EVENT_IDX: 29, VERSION_1: 32, ACCESS_PLATFORM: 33, RING_PACKED: 34, IN_ORDER: 35, NOTIFICATION_DATA: 38, RING_RESET: 40, SUSPEND: 43 });
  });

  it('device-type bits are 0-23, 41, 42 and 50-127; transport bits 24-40 and 43', () => {
    const type = (b: number) => hasFeature(DEVICE_TYPE_FEATURES, b);
    const transport = (b: number) => hasFeature(TRANSPORT_FEATURES, b);
    expect([0, 23, 41, 42, 50, 127].every(type)).toBe(true);
    expect([24, 40, 43, 44, 49, 128].some(type)).toBe(false);
    expect([24, 28, 32, 40, 43].every(transport)).toBe(true);
    expect([23, 41, 44, 50].some(transport)).toBe(false);
    expect(DEVICE_TYPE_FEATURES & TRANSPORT_FEATURES).toBe(0n);
  });

  it('feature words are 32-bit halves selected by number', () => {
    const f = featureBit(0) | featureBit(31) | featureBit(32) | featureBit(63) | featureBit(100);
    expect(featureWord(f, 0)).toBe(0x8000_0001);
    expect(featureWord(f, 1)).toBe(0x8000_0001);
    expect(featureWord(f, 3)).toBe(1 << 4);
    expect(featureWord(f, 4)).toBe(0);
    expect(withFeatureWord(f, 1, 0)).toBe(featureBit(0) | featureBit(31) | featureBit(100));
    expect(describeFeatures(featureBit(32) | featureBit(29) | featureBit(3))).toBe('3 EVENT_IDX VERSION_1');
  });
});

describe('chapter 5 Device Types', () => {
  it('device ids and names', () => {
    expect(VirtioDeviceId.NET).toBe(1);
    expect(VirtioDeviceId.BLOCK).toBe(2);
    expect(VirtioDeviceId.IOMMU).toBe(23);
    expect(virtioDeviceName(23)).toBe('iommu');
    expect(virtioDeviceName(14)).toBe('device type 14');
  });
});

describe('4.2.2 MMIO Device Register Layout', () => {
  it('register offsets of version 2', () => {
    expect(VIRTIO_MMIO_MAGIC).toBe(0x74726976);
    expect(VirtioMmio).toEqual({
      MAGIC_VALUE: 0x000,
      VERSION: 0x004,
      DEVICE_ID: 0x008,
      VENDOR_ID: 0x00c,
      DEVICE_FEATURES: 0x010,
      DEVICE_FEATURES_SEL: 0x014,
      DRIVER_FEATURES: 0x020,
      DRIVER_FEATURES_SEL: 0x024,
      QUEUE_SEL: 0x030,
      QUEUE_SIZE_MAX: 0x034,
      QUEUE_SIZE: 0x038,
      QUEUE_READY: 0x044,
      QUEUE_NOTIFY: 0x050,
      INTERRUPT_STATUS: 0x060,
      INTERRUPT_ACK: 0x064,
      STATUS: 0x070,
      QUEUE_DESC_LOW: 0x080,
      QUEUE_DESC_HIGH: 0x084,
      QUEUE_DRIVER_LOW: 0x090,
      QUEUE_DRIVER_HIGH: 0x094,
      QUEUE_DEVICE_LOW: 0x0a0,
      QUEUE_DEVICE_HIGH: 0x0a4,
      SHM_SEL: 0x0ac,
      SHM_LEN_LOW: 0x0b0,
      SHM_LEN_HIGH: 0x0b4,
      SHM_BASE_LOW: 0x0b8,
      SHM_BASE_HIGH: 0x0bc,
      QUEUE_RESET: 0x0c0,
      CONFIG_GENERATION: 0x0fc,
      CONFIG: 0x100,
    });
  });
});

describe('4.1 Virtio Over PCI Bus', () => {
  it('4.1.2: device id 0x1040 + virtio id, only 0x1040-0x107f are modern', () => {
    expect(virtioPciDeviceId(23)).toBe(0x1057);
    expect(virtioIdOfPciDevice(0x1041)).toBe(1);
    expect(virtioIdOfPciDevice(0x107f)).toBe(63);
    expect(virtioIdOfPciDevice(0x1000)).toBeNull();
    expect(virtioIdOfPciDevice(0x1080)).toBeNull();
  });

  it('4.1.4: struct virtio_pci_cap fields and cfg_type values', () => {
    expect(VirtioPciCap).toEqual({ CAP_VNDR: 0, CAP_NEXT: 1, CAP_LEN: 2, CFG_TYPE: 3, BAR: 4, ID: 5, OFFSET: 8, LENGTH: 12 });
    expect(VirtioPciCapType).toEqual({ COMMON_CFG: 1, NOTIFY_CFG: 2, ISR_CFG: 3, DEVICE_CFG: 4, PCI_CFG: 5, SHARED_MEMORY_CFG: 8, VENDOR_CFG: 9 });
    expect(VirtioPciIsr).toEqual({ QUEUE: 1, CONFIG: 2 });
    expect(VIRTIO_MSI_NO_VECTOR).toBe(0xffff);
  });

  it('4.1.4.3: struct virtio_pci_common_cfg is packed: each field starts where the previous ends, 64 bytes in all', () => {
    let at = 0;
    for (const f of COMMON_CFG_FIELDS) {
      expect([f.name, f.offset]).toEqual([f.name, at]);
      expect(CommonCfg[f.name]).toBe(f.offset);
      at += f.size;
    }
    expect(at).toBe(COMMON_CFG_SIZE);
    expect(COMMON_CFG_SIZE).toBe(0x40);
    expect(CommonCfg.QUEUE_DESC).toBe(0x20);
    expect(CommonCfg.QUEUE_RESET).toBe(0x3a);
  });
});
