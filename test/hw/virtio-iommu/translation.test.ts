// The endpoints' DMA through the device (VIRTIO 1.2/1.3 5.13.6: bypass mode; 5.13.6.4: no
// access to a domain's mappings after DETACH; 5.13.6.5: PA = VA - virt_start + phys_start and
// protection flags; 5.13.6.8.1: MSI doorbell regions) and the fault reports that aborted
// accesses produce on the event queue (5.13.6.9).

import { describe, expect, it } from 'vitest';
import { DmaPortStatus, DmaRequester } from '../../../src/devices/dma-port.js';
import { VirtioMmio, VirtioMmioInterrupt } from '../../../src/formats/virtio/mmio.js';
import {
  AttachFlag,
  featureMask,
  FaultFlag,
  FaultReason,
  MapFlag,
  ResvMemSubtype,
  VirtioIommuConfigOffset as C,
  VirtioIommuFeature as F,
  VirtioIommuStatus as S,
} from '../../../src/formats/virtio-iommu/index.js';
import { ViommuHarness } from './harness.js';

const RAM = 0x8000_0000n;
const MSI = { subtype: ResvMemSubtype.Msi, start: 0x0800_0000n, end: 0x080f_ffffn };

function translating(options: ConstructorParameters<typeof ViommuHarness>[0] = {}): ViommuHarness {
  const h = new ViommuHarness({ endpoints: [1, 2], ...options });
  expect(h.attach(1, 1)).toBe(S.Ok);
  return h;
}

describe('translation through a domain (5.13.6.5)', () => {
  it('an access at VA reaches VA - virt_start + phys_start', () => {
    const h = translating();
    h.map(1, 0x10_0000n, 0x10_ffffn, RAM, MapFlag.Read | MapFlag.Write);
    h.memory.write(RAM + 0x5678n, 4, 0xcafe_f00dn);
    expect(h.dma(1, 0x10_5678n)).toEqual({ status: DmaPortStatus.Ok, value: 0xcafe_f00dn });
    expect(h.dma(1, 0x10_fff8n, { write: true, size: 8, data: 0x0102_0304_0506_0708n }).status).toBe(DmaPortStatus.Ok);
    expect(h.memory.read(RAM + 0xfff8n, 8)).toBe(0x0102_0304_0506_0708n);
    expect(h.iommu.statistics().translations.translated).toBe(2);
  });

  it('bursts are translated once, to the same place', () => {
    const h = translating();
    h.map(1, 0x4000n, 0x4fffn, RAM + 0x3000n, MapFlag.Read | MapFlag.Write);
    const req = new DmaRequester(1);
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(h.iommu.dmaPort.writeBurst(req, 0x4f00n, 256, data, 0)).toBe(DmaPortStatus.Ok);
    expect([...h.memory.readBytes(RAM + 0x3f00n, 256)]).toEqual([...data]);
    const back = new Uint8Array(256);
    expect(h.iommu.dmaPort.readBurst(req, 0x4f00n, 256, back, 0)).toBe(DmaPortStatus.Ok);
    expect(back).toEqual(data);
  });

  it('malformed accesses (misaligned, a burst crossing 4 KiB) are bus errors, not faults', () => {
    const h = translating();
    h.map(1, 0x4000n, 0x5fffn, RAM, MapFlag.Read);
    expect(h.dma(1, 0x4002n).status).toBe(DmaPortStatus.BusError);
    expect(h.iommu.dmaPort.readBurst(new DmaRequester(1), 0x4f00n, 512, new Uint8Array(512), 0)).toBe(DmaPortStatus.BusError);
    expect(h.iommu.statistics().faults).toMatchObject({ mapping: 0, domain: 0, unknown: 0 });
  });

  it('addresses above 2^53 translate exactly, both ways', () => {
    const h = translating();
    const va = 0xffff_ffff_ffff_0000n;
    const pa = 0x00ff_ffff_ff00_0000n;
    expect(h.map(1, va, va + 0xffffn, pa, MapFlag.Read | MapFlag.Write)).toBe(S.Ok);
    expect(h.dma(1, va + 0x1234n, { write: true, data: 0x1122_3344n }).status).toBe(DmaPortStatus.Ok);
    expect(h.memory.read(pa + 0x1234n, 4)).toBe(0x1122_3344n);
  });

  it('5.13.6.5 MUST: no write through a mapping without WRITE; no read without READ (by default)', () => {
    const h = translating();
    h.map(1, 0x1000n, 0x1fffn, RAM, MapFlag.Read);
    h.map(1, 0x2000n, 0x2fffn, RAM, MapFlag.Write);
    expect(h.dma(1, 0x1000n, { write: true, data: 1n }).status).toBe(DmaPortStatus.Aborted);
    expect(h.memory.read(RAM, 4)).toBe(0n);
    expect(h.dma(1, 0x2000n).status).toBe(DmaPortStatus.Aborted);
    expect(h.dma(1, 0x2000n, { write: true, data: 7n }).status).toBe(DmaPortStatus.Ok);
  });

  it('writeImpliesRead: WRITE without READ also allows reads (5.13.6.5: MAY)', () => {
    const h = translating({ writeImpliesRead: true });
    h.map(1, 0x2000n, 0x2fffn, RAM, MapFlag.Write);
    expect(h.dma(1, 0x2000n).status).toBe(DmaPortStatus.Ok);
  });

  it('endpoints of one domain share its mappings; other domains are isolated', () => {
    const h = new ViommuHarness({ endpoints: [1, 2, 3] });
    h.attach(1, 1);
    h.attach(1, 2);
    h.attach(2, 3);
    h.map(1, 0x1000n, 0x1fffn, RAM, MapFlag.Read);
    expect([h.dma(1, 0x1000n).status, h.dma(2, 0x1000n).status, h.dma(3, 0x1000n).status]).toEqual([DmaPortStatus.Ok, DmaPortStatus.Ok, DmaPortStatus.Aborted]);
  });

  it('5.13.6.4 MUST: after DETACH the endpoint cannot access the mappings of that domain', () => {
    const h = translating();
    h.map(1, 0x1000n, 0x1fffn, RAM, MapFlag.Read);
    expect(h.dma(1, 0x1000n).status).toBe(DmaPortStatus.Ok);
    h.detach(1, 1);
    expect(h.dma(1, 0x1000n).status).toBe(DmaPortStatus.Aborted);
    expect(h.iommu.statistics().faults.domain).toBe(1);
  });

  it('after UNMAP the range faults again', () => {
    const h = translating();
    h.map(1, 0x1000n, 0x1fffn, RAM, MapFlag.Read);
    h.unmap(1, 0x1000n, 0x1fffn);
    expect(h.dma(1, 0x1000n).status).toBe(DmaPortStatus.Aborted);
  });
});

describe('bypass mode (5.13.6 "An endpoint is in bypass mode if")', () => {
  it('unattached, BYPASS_CONFIG offered, config.bypass 0: accesses are aborted (DOMAIN)', () => {
    const h = new ViommuHarness({ endpoints: [1] });
    expect(h.dma(1, RAM).status).toBe(DmaPortStatus.Aborted);
    expect(h.iommu.statistics().faults.domain).toBe(1);
  });

  it('unattached, config.bypass 1: identity, even before DRIVER_OK and when the driver did not accept BYPASS_CONFIG', () => {
    const early = new ViommuHarness({ endpoints: [1], bypass: true, noStart: true });
    early.memory.write(RAM, 4, 0x55n);
    expect(early.dma(1, RAM)).toEqual({ status: DmaPortStatus.Ok, value: 0x55n });
    const refused = new ViommuHarness({ endpoints: [1], bypass: true, accept: featureMask(F.MapUnmap) });
    expect(refused.dma(1, RAM).status).toBe(DmaPortStatus.Ok);
    expect(refused.iommu.statistics().translations.bypassed).toBe(1);
  });

  it('the driver turns bypass off and on through config.bypass', () => {
    const h = new ViommuHarness({ endpoints: [1], bypass: true });
    h.setConfig(C.bypass, 1, 0);
    expect(h.dma(1, RAM).status).toBe(DmaPortStatus.Aborted);
    h.setConfig(C.bypass, 1, 1);
    expect(h.dma(1, RAM).status).toBe(DmaPortStatus.Ok);
  });

  it('an attached endpoint translates whatever config.bypass says', () => {
    const h = new ViommuHarness({ endpoints: [1], bypass: true });
    h.attach(1, 1);
    expect(h.dma(1, RAM).status).toBe(DmaPortStatus.Aborted);
  });

  it('an endpoint attached to a bypass domain (ATTACH_F_BYPASS) accesses by identity, even with config.bypass 0', () => {
    const h = new ViommuHarness({ endpoints: [1] });
    expect(h.attach(3, 1, AttachFlag.Bypass)).toBe(S.Ok);
    h.memory.write(RAM + 8n, 4, 9n);
    expect(h.dma(1, RAM + 8n)).toEqual({ status: DmaPortStatus.Ok, value: 9n });
  });

  it('legacy BYPASS: unattached endpoints bypass only once the feature is negotiated', () => {
    const features = { bypass: true, bypassConfig: false };
    const before = new ViommuHarness({ endpoints: [1], features, noStart: true, accept: 0n });
    expect(before.dma(1, RAM).status).toBe(DmaPortStatus.Aborted);
    const negotiated = new ViommuHarness({ endpoints: [1], features, accept: featureMask(F.MapUnmap, F.Bypass) });
    expect(negotiated.dma(1, RAM).status).toBe(DmaPortStatus.Ok);
    const declined = new ViommuHarness({ endpoints: [1], features, accept: featureMask(F.MapUnmap) });
    expect(declined.dma(1, RAM).status).toBe(DmaPortStatus.Aborted);
    negotiated.reset();
    expect(negotiated.dma(1, RAM).status).toBe(DmaPortStatus.Aborted);
  });

  it('a requester the device does not manage is aborted and reported as UNKNOWN', () => {
    const h = new ViommuHarness({ endpoints: [1], bypass: true });
    h.postEventBuffers(1);
    expect(h.dma(0x99, RAM).status).toBe(DmaPortStatus.Aborted);
    expect(h.events()).toEqual([{ used: 24, event: { reason: FaultReason.Unknown, flags: FaultFlag.Read | FaultFlag.Address, endpoint: 0x99, address: RAM, reservedZero: true } }]);
  });
});

describe('MSI doorbell regions (5.13.6.8.1 RESV_MEM MSI)', () => {
  it('a translated endpoint reaches its MSI window untranslated, without a mapping', () => {
    const h = translating({ reservedRegions: [MSI] });
    expect(h.dma(1, 0x0800_0040n, { write: true, data: 0x21n }).status).toBe(DmaPortStatus.Ok);
    expect(h.memory.read(0x0800_0040n, 4)).toBe(0x21n);
    expect(h.iommu.statistics().translations.msi).toBe(1);
  });

  it('an endpoint without the region, or an unattached one not in bypass, cannot reach it', () => {
    const h = new ViommuHarness({ endpoints: [{ id: 1, reservedRegions: [MSI] }, 2] });
    h.attach(1, 2);
    expect(h.dma(2, 0x0800_0040n, { write: true }).status).toBe(DmaPortStatus.Aborted);
    expect(h.dma(1, 0x0800_0040n, { write: true }).status).toBe(DmaPortStatus.Aborted);
    expect(h.iommu.statistics().faults).toMatchObject({ mapping: 1, domain: 1 });
  });

  it('a burst that runs past the end of the window is not let through', () => {
    const h = translating({ reservedRegions: [{ subtype: ResvMemSubtype.Msi, start: 0x0800_0000n, end: 0x0800_003fn }] });
    const req = new DmaRequester(1);
    expect(h.iommu.dmaPort.writeBurst(req, 0x0800_0020n, 32, new Uint8Array(32), 0)).toBe(DmaPortStatus.Ok);
    expect(h.iommu.dmaPort.writeBurst(req, 0x0800_0020n, 64, new Uint8Array(64), 0)).toBe(DmaPortStatus.Aborted);
  });
});

describe('fault reporting (5.13.6.9)', () => {
  it('a fault fills the next event buffer: reason, READ/WRITE and ADDRESS flags, endpoint, address; reserved zero', () => {
    const h = translating();
    h.map(1, 0x1000n, 0x1fffn, RAM, MapFlag.Read);
    h.postEventBuffers(4);
    h.setReg(VirtioMmio.INTERRUPT_ACK, 0xffff_ffff);
    expect(h.irq.asserted).toBe(false);
    h.dma(1, 0x1008n, { write: true });
    h.dma(1, 0x9000n);
    h.dma(2, 0x3000n, { write: true });
    expect(h.events()).toEqual([
      { used: 24, event: { reason: FaultReason.Mapping, flags: FaultFlag.Write | FaultFlag.Address, endpoint: 1, address: 0x1008n, reservedZero: true } },
      { used: 24, event: { reason: FaultReason.Mapping, flags: FaultFlag.Read | FaultFlag.Address, endpoint: 1, address: 0x9000n, reservedZero: true } },
      { used: 24, event: { reason: FaultReason.Domain, flags: FaultFlag.Write | FaultFlag.Address, endpoint: 2, address: 0x3000n, reservedZero: true } },
    ]);
    // Each report is a used buffer: the driver is interrupted.
    expect(h.irq.asserted).toBe(true);
    expect(h.reg(VirtioMmio.INTERRUPT_STATUS) & VirtioMmioInterrupt.USED_BUFFER).toBe(VirtioMmioInterrupt.USED_BUFFER);
    expect(h.iommu.statistics().events.written).toBe(3);
  });

  it('reportFaultAddress off: no ADDRESS flag and a zero address (5.13.6.9: MAY omit)', () => {
    const h = translating({ reportFaultAddress: false });
    h.postEventBuffers(1);
    h.dma(1, 0x7000n);
    expect(h.events()[0].event).toMatchObject({ flags: FaultFlag.Read, address: 0n });
  });

  it('without event buffers the fault is lost by default', () => {
    const h = translating();
    h.dma(1, 0x7000n);
    h.postEventBuffers(2);
    expect(h.events()).toEqual([]);
    expect(h.iommu.statistics().faults).toMatchObject({ mapping: 1, lost: 1, pending: 0 });
  });

  it('pendingFaults: faults wait for buffers (oldest kept, the overflow lost), delivered in order when the driver adds some', () => {
    const h = translating({ pendingFaults: 2 });
    for (const a of [0x1000n, 0x2000n, 0x3000n]) h.dma(1, a);
    expect(h.iommu.statistics().faults).toMatchObject({ lost: 1, pending: 2 });
    h.postEventBuffers(1);
    expect(h.events().map((e) => e.event.address)).toEqual([0x1000n]);
    h.dma(1, 0x4000n);
    h.postEventBuffers(4);
    expect(h.events().map((e) => e.event.address)).toEqual([0x2000n, 0x4000n]);
    expect(h.iommu.statistics().faults).toMatchObject({ lost: 1, pending: 0 });
  });

  it('a buffer too small for a report is returned unwritten and the report goes into the next one', () => {
    const h = translating();
    h.postEventBuffers(1, 16);
    h.postEventBuffers(1, 32);
    h.dma(1, 0x5000n);
    const events = h.events();
    expect(events.map((e) => e.used)).toEqual([0, 24]);
    expect(events[1].event.address).toBe(0x5000n);
    expect(h.iommu.statistics().events.buffersTooSmall).toBe(1);
  });

  it('a device reset drops waiting faults and stops reporting until the driver sets the queues up again', () => {
    const h = translating({ pendingFaults: 4, bypass: false });
    h.dma(1, 0x1000n);
    h.reset();
    expect(h.iommu.statistics().faults).toMatchObject({ pending: 0, lost: 1 });
    h.dma(1, 0x1000n);
    expect(h.iommu.statistics().faults).toMatchObject({ domain: 1, pending: 1 });
  });
});
