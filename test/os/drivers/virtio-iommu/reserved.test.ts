// PROBE and reserved regions (VIRTIO 1.3 sections 5.13.6.7 "PROBE request", 5.13.6.8.1
// "Property RESV_MEM"): the driver probes each endpoint before attaching it, keeps RESERVED and
// MSI regions (an unknown subtype as RESERVED), never lets the DMA API hand out an IOVA inside
// one, and lets the device pass MSI doorbell writes through untranslated.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DmaPortStatus, DmaRequester } from '../../../../src/devices/dma-port.js';
import { encodeProperties, ProbePropertyType, RESV_MEM_PROPERTY_SIZE, ResvMemSubtype } from '../../../../src/formats/virtio-iommu/probe.js';
import type { ReservedRegion as ModelRegion } from '../../../../src/hw/virtio-iommu/index.js';
import { IommuError, Prot } from '../../../../src/os/core/types.js';
import { DmaMappingError } from '../../../../src/os/dma/types.js';
import { parseProperties } from '../../../../src/os/drivers/virtio-iommu/index.js';
import { VirtioIommuMachine } from '../../../support/virtio-iommu-machine.js';

const MSI: ModelRegion = { subtype: ResvMemSubtype.Msi, start: 0x0800_0000n, end: 0x080f_ffffn };
const HOLE: ModelRegion = { subtype: ResvMemSubtype.Reserved, start: 0x1000_0000n, end: 0x1000_ffffn };

describe('5.13.6.7 PROBE', () => {
  it('is sent for the endpoint before it is attached, and its RESV_MEM regions are kept', () => {
    const m = new VirtioIommuMachine({ viommu: { reservedRegions: [MSI] }, engines: [{ endpoint: 5, reservedRegions: [HOLE, { subtype: 9, start: 0x2000_0000n, end: 0x2000_0fffn }] }] });
    const dev = m.engineDevice();
    expect(dev.state, m.logText()).toBe('bound');
    expect(m.driver.reservedRegions(dev)).toEqual([
      { start: MSI.start, end: MSI.end, kind: 'msi', subtype: 1 },
      { start: HOLE.start, end: HOLE.end, kind: 'reserved', subtype: 0 },
      // 5.13.6.8.1.1: an unknown subtype is treated as RESERVED.
      { start: 0x2000_0000n, end: 0x2000_0fffn, kind: 'reserved', subtype: 9 },
    ]);
    const probe = m.kernel.log.records.findIndex((r) => /MSI doorbell region 0x8000000..0x80fffff/.test(r.message));
    const attached = m.kernel.log.records.findIndex((r) => /added to IOMMU group/.test(r.message));
    expect(probe).toBeGreaterThanOrEqual(0);
    expect(probe).toBeLessThan(attached);
    expect(m.driver.statistics().requests.PROBE).toBe(1);
  });

  it('an endpoint the device does not know fails its PROBE (NOENT), and with it the device probe', () => {
    const m = new VirtioIommuMachine({ engines: [{ endpoint: 5, dtEndpoint: 9 }] });
    expect(m.engineDevice().state).toBe('failed');
    expect(m.engineDevice().reason).toMatch(/PROBE of endpoint 9: NOENT/);
    expect(m.driver.deviceFor(9)).toBeNull();
  });
});

describe('5.13.6.8.1 RESV_MEM regions', () => {
  it('an MSI doorbell write passes untranslated while the rest of the endpoint is translated', () => {
    const m = new VirtioIommuMachine({ viommu: { reservedRegions: [MSI] } });
    const port = m.viommu.dmaPort;
    const ep = new DmaRequester(5);
    expect(port.write(ep, 0x0800_0040n, 4, 1n)).toBe(DmaPortStatus.Ok);
    expect(m.viommu.statistics().translations.msi).toBe(1);
    expect(port.read(ep, 0x8000_0000n, 4)).toBe(DmaPortStatus.Aborted);
  });

  it('the device refuses to map a reserved region (INVAL), and the driver reports it', () => {
    const m = new VirtioIommuMachine({ engines: [{ endpoint: 5, reservedRegions: [HOLE] }] });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    expect(() => core.map(domain, HOLE.start, 0x8000_0000n, 0x1000n, Prot.READ)).toThrow(IommuError);
    expect(m.driver.statistics().failed).toEqual({ INVAL: 1 });
    expect(m.logMatching(/MAP domain \d+ 0x10000000..0x10000fff -> 0x80000000 .*: INVAL/)).toHaveLength(1);
    expect(core.iovaToPhys(domain, HOLE.start)).toBeNull();
  });

  it('the DMA API never hands out a reserved IOVA, whatever the aperture and the regions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 0x1000 }),
        fc.integer({ min: 8, max: 48 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 0, maxLength: 6 }),
        fc.boolean(),
        (firstPage, pages, cuts, msiFirst) => {
          // Disjoint regions from sorted cut points (pairs), inside or straddling the aperture.
          const points = cuts.map((c) => firstPage - 4 + c).sort((a, b) => a - b);
          const regions: ModelRegion[] = [];
          for (let i = 0; i + 1 < points.length; i += 2) {
            const subtype = regions.length === 0 && msiFirst ? ResvMemSubtype.Msi : ResvMemSubtype.Reserved;
            regions.push({ subtype, start: BigInt(points[i]) << 12n, end: (BigInt(points[i + 1]) << 12n) | 0xfffn });
          }
          const inputRange = { start: BigInt(firstPage) << 12n, end: (BigInt(firstPage + pages) << 12n) - 1n };
          const m = new VirtioIommuMachine({ viommu: { inputRange }, engines: [{ endpoint: 5, reservedRegions: regions }] });
          const dev = m.engineDevice();
          const buf = m.buffer();
          const got: number[] = [];
          for (;;) {
            let dma: bigint;
            try {
              dma = m.kernel.dma.mapSingle(dev, buf, 4096, 'to-device');
            } catch (e) {
              if (e instanceof DmaMappingError) break;
              throw e;
            }
            got.push(Number(dma >> 12n));
          }
          const reserved = (p: number) => regions.some((r) => BigInt(p) >= r.start >> 12n && BigInt(p) <= r.end >> 12n);
          const free = Array.from({ length: pages }, (_, i) => firstPage + i).filter((p) => !reserved(p));
          expect(got.filter(reserved)).toEqual([]);
          // Everything else was handed out, once each, and every MAP succeeded.
          expect([...got].sort((a, b) => a - b)).toEqual(free);
          expect(m.driver.statistics().failed).toEqual({});
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('5.13.6.7 parsing the properties buffer', () => {
  function buffer(size: number): Uint8Array {
    const bytes = new Uint8Array(size);
    encodeProperties(
      [
        { type: 1, subtype: 0, start: 0x1000n, end: 0x1fffn },
        { type: 1, subtype: 1, start: 0x3000n, end: 0x3fffn },
        { type: 1, subtype: 0, start: 0x5000n, end: 0x5fffn },
      ],
      bytes,
    );
    return bytes;
  }

  it('ignores a property whose reserved header bits are set (MUST) and goes on', () => {
    const bytes = buffer(128);
    bytes[RESV_MEM_PROPERTY_SIZE + 1] |= 0x10; // reserved bit 12 of the second header
    const parsed = parseProperties(bytes);
    expect(parsed.regions.map((r) => r.start)).toEqual([0x1000n, 0x5000n]);
    expect(parsed.skipped).toEqual([`property at ${RESV_MEM_PROPERTY_SIZE}: reserved header bits 1`]);
  });

  it('skips unknown types by their length, and a RESV_MEM too short for its fields', () => {
    const bytes = new Uint8Array(64);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0x7ff, true); // unknown type, 4 bytes of value
    view.setUint16(2, 4, true);
    view.setUint16(8, ProbePropertyType.ResvMem, true); // RESV_MEM with 8 bytes of value
    view.setUint16(10, 8, true);
    const parsed = parseProperties(bytes);
    expect(parsed.regions).toEqual([]);
    expect(parsed.skipped).toEqual(['property at 0: unknown type 2047', 'property at 8: RESV_MEM of 8 bytes is too short']);
  });

  it('stops at a NONE property, even with properties after it', () => {
    const bytes = buffer(256);
    bytes[RESV_MEM_PROPERTY_SIZE] = 0; // the second header's type becomes NONE
    bytes[RESV_MEM_PROPERTY_SIZE + 1] = 0;
    expect(parseProperties(bytes).regions.map((r) => r.start)).toEqual([0x1000n]);
  });
});
