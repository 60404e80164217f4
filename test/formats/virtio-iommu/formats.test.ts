// The virtio-iommu datasheet (VIRTIO 1.2/1.3 section 5.13): feature bits, configuration
// layout, request and tail layouts, PROBE properties and fault reports, byte for byte.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AttachFlag,
  decodeConfig,
  decodeFaultEvent,
  decodeProperties,
  decodeRequest,
  decodeTail,
  describeVirtioIommuFeatures,
  encodeConfig,
  encodeFaultEvent,
  encodeProperties,
  encodeRequest,
  encodeTail,
  FAULT_EVENT_SIZE,
  FaultFlag,
  FaultReason,
  featureMask,
  MapFlag,
  pageGranule,
  ProbePropertyType,
  RESV_MEM_PROPERTY_SIZE,
  requestLength,
  ResvMemSubtype,
  VIRTIO_IOMMU_CONFIG_SIZE,
  VIRTIO_IOMMU_DEVICE_ID,
  VIRTIO_IOMMU_KNOWN_FEATURES,
  VirtioIommuConfigOffset,
  VirtioIommuFeature,
  VirtioIommuQueue,
  VirtioIommuRequestType,
  VirtioIommuStatus,
  writableLength,
  type VirtioIommuRequest,
} from '../../../src/formats/virtio-iommu/index.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

describe('identity and feature bits (5.13.1-5.13.3)', () => {
  it('device id 23, requestq 0, eventq 1', () => {
    expect(VIRTIO_IOMMU_DEVICE_ID).toBe(23);
    expect(VirtioIommuQueue).toEqual({ Request: 0, Event: 1 });
  });

  it('feature bits INPUT_RANGE 0 .. BYPASS_CONFIG 6', () => {
    expect(VirtioIommuFeature).toEqual({ InputRange: 0, DomainRange: 1, MapUnmap: 2, Bypass: 3, Probe: 4, Mmio: 5, BypassConfig: 6 });
    expect(VIRTIO_IOMMU_KNOWN_FEATURES).toBe(0x7fn);
    expect(describeVirtioIommuFeatures(featureMask(2, 4, 6) | (1n << 32n))).toEqual(['MAP_UNMAP', 'PROBE', 'BYPASS_CONFIG']);
  });
});

describe('configuration layout (5.13.4)', () => {
  it('page_size_mask@0, input_range@8/16, domain_range@24/28, probe_size@32, bypass@36; 40 bytes', () => {
    expect(VirtioIommuConfigOffset).toMatchObject({ pageSizeMask: 0, inputRangeStart: 8, inputRangeEnd: 16, domainRangeStart: 24, domainRangeEnd: 28, probeSize: 32, bypass: 36 });
    const bytes = encodeConfig({
      pageSizeMask: 0x0000_0040_0020_1000n,
      inputRange: { start: 0x1000n, end: 0xffff_ffff_ffffn },
      domainRange: { start: 1, end: 0x1234 },
      probeSize: 512,
      bypass: 1,
    });
    expect(bytes.length).toBe(VIRTIO_IOMMU_CONFIG_SIZE);
    expect([...bytes.subarray(0, 8)]).toEqual([0x00, 0x10, 0x20, 0x00, 0x40, 0x00, 0x00, 0x00]);
    expect([...bytes.subarray(24, 40)]).toEqual([1, 0, 0, 0, 0x34, 0x12, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0]);
  });

  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(u64, u64, u64, u32, u32, u32, fc.integer({ min: 0, max: 1 }), (mask, start, end, ds, de, probe, bypass) => {
        const c = { pageSizeMask: mask, inputRange: { start, end }, domainRange: { start: ds, end: de }, probeSize: probe, bypass };
        expect(decodeConfig(encodeConfig(c))).toEqual(c);
      }),
    );
  });

  it('the granule is the least significant bit of page_size_mask', () => {
    expect(pageGranule(0xffff_ffff_ffff_f000n)).toBe(0x1000n);
    expect(pageGranule(0x4020_0000n)).toBe(0x20_0000n);
    expect(pageGranule(0n)).toBe(0n);
  });
});

describe('requests (5.13.6.3-5.13.6.7)', () => {
  it('type codes, statuses and flags', () => {
    expect(VirtioIommuRequestType).toEqual({ Attach: 1, Detach: 2, Map: 3, Unmap: 4, Probe: 5 });
    expect(VirtioIommuStatus).toEqual({ Ok: 0, IoErr: 1, Unsupp: 2, DevErr: 3, Inval: 4, Range: 5, NoEnt: 6, Fault: 7, NoMem: 8 });
    expect(AttachFlag.Bypass).toBe(1);
    expect(MapFlag).toEqual({ Read: 1, Write: 2, Mmio: 4 });
  });

  it('device-readable lengths: ATTACH 20, DETACH 20, MAP 36, UNMAP 28, PROBE 72; the writable part is the tail (PROBE: probe_size + tail)', () => {
    expect([1, 2, 3, 4, 5].map(requestLength)).toEqual([20, 20, 36, 28, 72]);
    expect(requestLength(0)).toBeUndefined();
    expect(requestLength(6)).toBeUndefined();
    expect(writableLength(3, 512)).toBe(4);
    expect(writableLength(5, 512)).toBe(516);
  });

  it('ATTACH: head, le32 domain @4, le32 endpoint @8, le32 flags @12, reserved[4]', () => {
    const bytes = encodeRequest({ type: 1, domain: 0x11223344, endpoint: 0x08, flags: AttachFlag.Bypass });
    expect([...bytes]).toEqual([1, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('MAP: le32 domain @4, le64 virt_start @8, virt_end @16, phys_start @24, le32 flags @32', () => {
    const bytes = encodeRequest({ type: 3, domain: 1, virtStart: 0x1000n, virtEnd: 0x1fffn, physStart: 0x0102_0304_0506_a000n, flags: MapFlag.Read });
    expect(bytes.length).toBe(36);
    expect([...bytes.subarray(8, 36)]).toEqual([
      0, 0x10, 0, 0, 0, 0, 0, 0, 0xff, 0x1f, 0, 0, 0, 0, 0, 0, 0x00, 0xa0, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 1, 0, 0, 0,
    ]);
  });

  it('every request decodes to what was encoded, with reserved fields zero', () => {
    const request = fc.oneof(
      fc.record({ type: fc.constant(1 as const), domain: u32, endpoint: u32, flags: u32 }),
      fc.record({ type: fc.constant(2 as const), domain: u32, endpoint: u32 }),
      fc.record({ type: fc.constant(3 as const), domain: u32, virtStart: u64, virtEnd: u64, physStart: u64, flags: u32 }),
      fc.record({ type: fc.constant(4 as const), domain: u32, virtStart: u64, virtEnd: u64 }),
      fc.record({ type: fc.constant(5 as const), endpoint: u32 }),
    );
    fc.assert(
      fc.property(request, (r: VirtioIommuRequest) => {
        expect(decodeRequest(encodeRequest(r))).toEqual({ ok: true, request: r, reservedZero: true });
      }),
    );
  });

  it('decoding reports a missing head, an unknown type, a short body and non-zero reserved bytes', () => {
    expect(decodeRequest(new Uint8Array(3))).toEqual({ ok: false, reason: 'no-head' });
    expect(decodeRequest(new Uint8Array([9, 0, 0, 0]))).toEqual({ ok: false, reason: 'unknown-type', type: 9 });
    expect(decodeRequest(encodeRequest({ type: 3, domain: 1, virtStart: 0n, virtEnd: 0n, physStart: 0n, flags: 0 }).subarray(0, 35))).toEqual({
      ok: false,
      reason: 'short',
      type: 3,
      length: 35,
    });
    const detach = encodeRequest({ type: 2, domain: 1, endpoint: 2 });
    detach[19] = 1;
    expect(decodeRequest(detach)).toMatchObject({ ok: true, reservedZero: false });
    const probe = encodeRequest({ type: 5, endpoint: 2 });
    probe[71] = 1;
    expect(decodeRequest(probe)).toMatchObject({ ok: true, reservedZero: false });
  });

  it('the tail is u8 status then three reserved bytes', () => {
    expect([...encodeTail(VirtioIommuStatus.NoMem)]).toEqual([8, 0, 0, 0]);
    expect(decodeTail(new Uint8Array([0, 0, 5, 0xff, 0xff, 0xff]), 2)).toBe(5);
  });
});

describe('PROBE properties (5.13.6.7, 5.13.6.8)', () => {
  it('RESV_MEM: le16 type 1, le16 length 20, u8 subtype, reserved[3], le64 start, le64 end; the rest zero (NONE)', () => {
    const buf = new Uint8Array(64).fill(0xaa);
    expect(encodeProperties([{ type: 1, subtype: ResvMemSubtype.Msi, start: 0x0800_0000n, end: 0x080f_ffffn }], buf)).toBe(true);
    expect([...buf.subarray(0, RESV_MEM_PROPERTY_SIZE)]).toEqual([1, 0, 20, 0, 1, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0xff, 0xff, 0x0f, 8, 0, 0, 0, 0]);
    expect(buf.subarray(RESV_MEM_PROPERTY_SIZE).every((b) => b === 0)).toBe(true);
  });

  it('properties that do not fit are not written', () => {
    const buf = new Uint8Array(30).fill(0xaa);
    const p = { type: 1 as const, subtype: 0, start: 0n, end: 0xfffn };
    expect(encodeProperties([p, p], buf)).toBe(false);
    expect(buf.every((b) => b === 0xaa)).toBe(true);
  });

  it('a driver walks properties (length + 4) apart until NONE or the end, keeping unknown ones and their reserved bits', () => {
    const buf = new Uint8Array(80);
    const v = new DataView(buf.buffer);
    v.setUint16(0, 0x7 | (0x3 << 12), true); // unknown type 7, reserved bits 3
    v.setUint16(2, 4, true);
    v.setUint32(4, 0xdeadbeef, true);
    encodeProperties([{ type: 1, subtype: 0, start: 0x1000n, end: 0x1fffn }], buf.subarray(8));
    const props = decodeProperties(buf);
    expect(props).toEqual([
      { property: { type: 7, value: new Uint8Array([0xef, 0xbe, 0xad, 0xde]) }, offset: 0, reserved: 3 },
      { property: { type: ProbePropertyType.ResvMem, subtype: 0, start: 0x1000n, end: 0x1fffn }, offset: 8, reserved: 0 },
    ]);
  });

  it('a property running past the end of the buffer ends the list', () => {
    const buf = new Uint8Array(16);
    new DataView(buf.buffer).setUint16(0, 1, true);
    new DataView(buf.buffer).setUint16(2, 20, true);
    expect(decodeProperties(buf)).toEqual([]);
  });
});

describe('fault reports (5.13.6.9)', () => {
  it('u8 reason, reserved[3], le32 flags @4, le32 endpoint @8, reserved1 @12, le64 address @16: 24 bytes', () => {
    expect(FaultReason).toEqual({ Unknown: 0, Domain: 1, Mapping: 2 });
    expect(FaultFlag).toEqual({ Read: 1, Write: 2, Exec: 4, Address: 0x100 });
    const bytes = encodeFaultEvent({ reason: FaultReason.Mapping, flags: FaultFlag.Write | FaultFlag.Address, endpoint: 0x10, address: 0x1_2345_6789n });
    expect(bytes.length).toBe(FAULT_EVENT_SIZE);
    expect([...bytes]).toEqual([2, 0, 0, 0, 2, 1, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x89, 0x67, 0x45, 0x23, 1, 0, 0, 0]);
    expect(decodeFaultEvent(bytes)).toEqual({ reason: 2, flags: 0x102, endpoint: 0x10, address: 0x1_2345_6789n, reservedZero: true });
  });

  it('a report with reserved bytes set is flagged for the driver to ignore', () => {
    const bytes = encodeFaultEvent({ reason: 1, flags: 0, endpoint: 1, address: 0n });
    bytes[2] = 1;
    expect(decodeFaultEvent(bytes).reservedZero).toBe(false);
  });
});
