// The request queue (VIRTIO 1.2/1.3 5.13.6 "Device operations"): parsing and the general
// rules (5.13.6.2), ATTACH (5.13.6.3), DETACH (5.13.6.4), MAP (5.13.6.5), UNMAP (5.13.6.6) and
// PROBE (5.13.6.7, 5.13.6.8), every status, driven through virtio-mmio and real rings.

import { describe, expect, it } from 'vitest';
import { VirtioMmio } from '../../../src/formats/virtio/mmio.js';
import {
  AttachFlag,
  encodeRequest,
  featureMask,
  MapFlag,
  ResvMemSubtype,
  VirtioIommuFeature as F,
  VirtioIommuStatus as S,
} from '../../../src/formats/virtio-iommu/index.js';
import { ViommuHarness } from './harness.js';

const RW = MapFlag.Read | MapFlag.Write;
const ALL_BUT_MMIO = featureMask(F.InputRange, F.DomainRange, F.MapUnmap, F.Probe, F.BypassConfig);
const MSI = { subtype: ResvMemSubtype.Msi, start: 0x0800_0000n, end: 0x080f_ffffn };
const RESERVED = { subtype: ResvMemSubtype.Reserved, start: 0xfee0_0000n, end: 0xfeef_ffffn };

function harness(options: ConstructorParameters<typeof ViommuHarness>[0] = {}): ViommuHarness {
  return new ViommuHarness({ endpoints: [1, 2, 3], ...options });
}

describe('5.13.6 parsing: requests without a findable tail or type are returned unwritten', () => {
  it('no writable part, or one shorter than a tail: used length 0, nothing written', () => {
    const h = harness();
    const attach = encodeRequest({ type: 1, domain: 1, endpoint: 1, flags: 0 });
    expect(h.send(attach, 0).used).toBe(0);
    const r = h.send(attach, 3);
    expect(r.used).toBe(0);
    expect([...r.writable]).toEqual([0xee, 0xee, 0xee]);
    expect(h.iommu.domainOf(1)).toBeUndefined();
    expect(h.iommu.statistics().unanswered).toBe(2);
  });

  it('a readable part shorter than a head: used length 0', () => {
    const h = harness();
    const r = h.send(new Uint8Array([1, 0, 0]), 4);
    expect(r.used).toBe(0);
    expect([...r.writable]).toEqual([0xee, 0xee, 0xee, 0xee]);
  });

  it('5.13.6.2: an unknown type is returned unwritten (used length 0) by default', () => {
    const h = harness();
    for (const type of [0, 6, 0xff]) {
      const r = h.send(new Uint8Array([type, 0, 0, 0, 1, 0, 0, 0]), 4);
      expect(r.used).toBe(0);
      expect([...r.writable]).toEqual([0xee, 0xee, 0xee, 0xee]);
    }
    expect(h.iommu.statistics().requests.unknown).toBe(3);
  });

  it("with unsupportedRequests 'unsupp' an unknown type gets UNSUPP (QEMU's choice)", () => {
    const h = harness({ unsupportedRequests: 'unsupp' });
    const r = h.send(new Uint8Array([9, 0, 0, 0]), 4);
    expect(r.used).toBe(4);
    expect([...r.writable]).toEqual([S.Unsupp, 0, 0, 0]);
  });
});

describe('5.13.6.2 general device rules', () => {
  it('the tail is status then reserved bytes written 0; used length = tail size', () => {
    const h = harness();
    const r = h.send(encodeRequest({ type: 1, domain: 1, endpoint: 1, flags: 0 }), 4);
    expect(r.used).toBe(4);
    expect([...r.writable]).toEqual([S.Ok, 0, 0, 0]);
  });

  it('the reserved bytes of the head are ignored', () => {
    const h = harness();
    const req = encodeRequest({ type: 1, domain: 1, endpoint: 1, flags: 0 });
    req.set([0xff, 0xff, 0xff], 1);
    expect(h.send(req, 4).writable[0]).toBe(S.Ok);
  });

  it('a request and its tail may be split over any number of descriptors', () => {
    const h = harness();
    h.attach(1, 1);
    const req = encodeRequest({ type: 3, domain: 1, virtStart: 0x4000n, virtEnd: 0x7fffn, physStart: 0x8000_0000n, flags: RW });
    const r = h.send([req.subarray(0, 3), req.subarray(3, 10), req.subarray(10)], [1, 1, 2]);
    expect(r.used).toBe(4);
    expect([...r.writable]).toEqual([S.Ok, 0, 0, 0]);
    expect(h.iommu.mappings(1)).toEqual([{ virtStart: 0x4000n, virtEnd: 0x7fffn, physStart: 0x8000_0000n, flags: RW }]);
  });

  it('a writable part longer than the tail: the tail is its first 4 bytes', () => {
    const h = harness();
    const r = h.send(encodeRequest({ type: 2, domain: 9, endpoint: 1 }), 16);
    expect(r.used).toBe(4);
    expect([...r.writable.subarray(0, 5)]).toEqual([S.Inval, 0, 0, 0, 0xee]);
  });

  it('a readable part shorter than its type needs: INVAL', () => {
    const h = harness();
    for (const type of [1, 2, 3, 4] as const) {
      const full = encodeRequest(type === 3 || type === 4 ? { type, domain: 1, virtStart: 0n, virtEnd: 0xfffn, physStart: 0n, flags: 1 } : { type, domain: 1, endpoint: 1, flags: 0 });
      expect(h.send(full.subarray(0, full.length - 1), 4).writable[0]).toBe(S.Inval);
    }
    expect(h.iommu.domainOf(1)).toBeUndefined();
  });

  it('a memory error reading the request body: IOERR', () => {
    const h = harness();
    const req = encodeRequest({ type: 1, domain: 1, endpoint: 1, flags: 0 });
    const body = h.buffer(req.subarray(4));
    h.memory.markAccessFault(body, 16n);
    h.requestq.add([
      { address: h.buffer(req.subarray(0, 4)), length: 4, writable: false },
      { address: body, length: 16, writable: false },
      { address: h.buffer(4), length: 4, writable: true },
    ]);
    h.setReg(VirtioMmio.QUEUE_NOTIFY, 0);
    expect(h.requestq.takeUsed()[0].length).toBe(4);
    expect(h.iommu.statistics().statuses.IOERR).toBe(1);
    expect(h.iommu.domainOf(1)).toBeUndefined();
  });

  it('a memory error writing the tail: returned with used length 0', () => {
    const h = harness();
    const tail = h.buffer(4);
    h.memory.markAccessFault(tail, 4n);
    h.requestq.add([
      { address: h.buffer(encodeRequest({ type: 1, domain: 1, endpoint: 1, flags: 0 })), length: 20, writable: false },
      { address: tail, length: 4, writable: true },
    ]);
    h.setReg(VirtioMmio.QUEUE_NOTIFY, 0);
    expect(h.requestq.takeUsed()).toEqual([{ head: expect.any(Number), length: 0 }]);
  });

  it('every chain available at a notification is processed, with one used-buffer interrupt', () => {
    const h = harness();
    const tails = [1, 2, 3].map((ep) => {
      const tail = h.buffer(4);
      h.requestq.add([
        { address: h.buffer(encodeRequest({ type: 1, domain: 10 + ep, endpoint: ep, flags: 0 })), length: 20, writable: false },
        { address: tail, length: 4, writable: true },
      ]);
      return tail;
    });
    const rises = h.irq.rises;
    h.setReg(VirtioMmio.QUEUE_NOTIFY, 0);
    expect(h.requestq.takeUsed().map((u) => u.length)).toEqual([4, 4, 4]);
    expect(tails.map((t) => Number(h.memory.read(t, 1)))).toEqual([0, 0, 0]);
    expect([1, 2, 3].map((ep) => h.iommu.domainOf(ep))).toEqual([11, 12, 13]);
    expect(h.irq.rises - rises).toBe(1);
  });
});

describe('5.13.6.3 ATTACH', () => {
  it('creates the domain and attaches the endpoint', () => {
    const h = harness();
    expect(h.attach(7, 1)).toBe(S.Ok);
    expect(h.iommu.domainOf(1)).toBe(7);
    expect(h.iommu.domain(7)).toEqual({ bypass: false, endpoints: [1] });
  });

  it('reserved not zero: INVAL (MUST)', () => {
    const h = harness();
    const req = encodeRequest({ type: 1, domain: 1, endpoint: 1, flags: 0 });
    req[19] = 0x80;
    expect(h.send(req, 4).writable[0]).toBe(S.Inval);
    expect(h.iommu.domainOf(1)).toBeUndefined();
  });

  it('unrecognised flags: INVAL (MUST); ATTACH_F_BYPASS is recognised only with BYPASS_CONFIG negotiated', () => {
    const h = harness();
    expect(h.attach(1, 1, 2)).toBe(S.Inval);
    expect(h.attach(1, 1, 0x8000_0000)).toBe(S.Inval);
    expect(h.attach(1, 1, AttachFlag.Bypass)).toBe(S.Ok);
    const noConfig = harness({ accept: featureMask(F.MapUnmap) });
    expect(noConfig.attach(1, 1, AttachFlag.Bypass)).toBe(S.Inval);
  });

  it('an endpoint that does not exist: NOENT (MUST)', () => {
    expect(harness().attach(1, 99)).toBe(S.NoEnt);
  });

  it('a domain outside domain_range: RANGE; any id is valid without DOMAIN_RANGE', () => {
    const h = harness({ domainRange: { start: 10, end: 20 } });
    expect([h.attach(9, 1), h.attach(21, 1), h.attach(10, 1), h.attach(20, 2)]).toEqual([S.Range, S.Range, S.Ok, S.Ok]);
    const any = harness({ domainRange: { start: 10, end: 20 }, features: { domainRange: false } });
    expect(any.attach(0xffff_ffff, 1)).toBe(S.Ok);
  });

  it('several endpoints may share a domain; with sharedDomains off the second gets UNSUPP', () => {
    const h = harness();
    expect([h.attach(1, 1), h.attach(1, 2)]).toEqual([S.Ok, S.Ok]);
    expect(h.iommu.domain(1)?.endpoints).toEqual([1, 2]);
    const alone = harness({ sharedDomains: false });
    expect([alone.attach(1, 1), alone.attach(1, 2)]).toEqual([S.Ok, S.Unsupp]);
    expect(alone.iommu.domainOf(2)).toBeUndefined();
  });

  it('ATTACH_F_BYPASS not consistent with an existing domain: INVAL, both ways', () => {
    const h = harness();
    h.attach(1, 1);
    h.attach(2, 2, AttachFlag.Bypass);
    expect(h.attach(1, 3, AttachFlag.Bypass)).toBe(S.Inval);
    expect(h.attach(2, 3)).toBe(S.Inval);
    expect(h.iommu.domainOf(3)).toBeUndefined();
  });

  it('an endpoint attached elsewhere is first detached, as by DETACH: its old domain ceases to exist when it was the last', () => {
    const h = harness();
    h.attach(1, 1);
    h.map(1, 0x1000n, 0x1fffn, 0x8000_0000n, RW);
    expect(h.attach(2, 1)).toBe(S.Ok);
    expect(h.iommu.domainOf(1)).toBe(2);
    expect(h.iommu.domain(1)).toBeUndefined();
    expect(h.map(1, 0x1000n, 0x1fffn, 0x8000_0000n, RW)).toBe(S.NoEnt);
    expect(h.iommu.statistics().mappings).toEqual({ current: 0, created: 1, removed: 1 });
  });

  it('the old domain keeps its mappings while another endpoint remains in it', () => {
    const h = harness();
    h.attach(1, 1);
    h.attach(1, 2);
    h.map(1, 0x1000n, 0x1fffn, 0x8000_0000n, RW);
    h.attach(2, 1);
    expect(h.iommu.domain(1)?.endpoints).toEqual([2]);
    expect(h.iommu.mappings(1)).toHaveLength(1);
  });

  it('attaching again to the same domain succeeds and keeps its mappings', () => {
    const h = harness();
    h.attach(1, 1);
    h.map(1, 0x1000n, 0x1fffn, 0x8000_0000n, RW);
    expect(h.attach(1, 1)).toBe(S.Ok);
    expect(h.iommu.mappings(1)).toHaveLength(1);
  });

  it("a domain with mappings over the endpoint's reserved regions is incompatible with it: UNSUPP", () => {
    const h = harness({ endpoints: [1, { id: 2, reservedRegions: [MSI] }] });
    h.attach(1, 1);
    h.map(1, 0x0800_0000n, 0x0800_ffffn, 0x8000_0000n, RW);
    expect(h.attach(1, 2)).toBe(S.Unsupp);
    expect(h.iommu.domainOf(2)).toBeUndefined();
  });
});

describe('5.13.6.4 DETACH', () => {
  it('detaches; the reserved field is ignored (MUST)', () => {
    const h = harness();
    h.attach(1, 1);
    const req = encodeRequest({ type: 2, domain: 1, endpoint: 1 });
    req.fill(0xff, 12);
    expect(h.send(req, 4).writable[0]).toBe(S.Ok);
    expect(h.iommu.domainOf(1)).toBeUndefined();
  });

  it('an endpoint that does not exist: NOENT (MUST)', () => {
    expect(harness().detach(1, 42)).toBe(S.NoEnt);
  });

  it("a domain that does not exist or that the endpoint is not attached to: INVAL, or OK with detachMismatch 'ok'", () => {
    const h = harness();
    h.attach(1, 1);
    h.attach(2, 2);
    expect([h.detach(3, 1), h.detach(2, 1), h.detach(1, 3)]).toEqual([S.Inval, S.Inval, S.Inval]);
    expect(h.iommu.domainOf(1)).toBe(1);
    const lax = harness({ detachMismatch: 'ok' });
    lax.attach(1, 1);
    expect(lax.detach(2, 1)).toBe(S.Ok);
    expect(lax.iommu.domainOf(1)).toBe(1);
  });

  it('a domain outside domain_range: RANGE', () => {
    expect(harness({ domainRange: { start: 1, end: 4 } }).detach(5, 1)).toBe(S.Range);
  });

  it('after its last endpoint leaves, a domain ceases to exist and its id can be reused, even as a bypass domain', () => {
    const h = harness();
    h.attach(1, 1);
    h.map(1, 0x1000n, 0x1fffn, 0x8000_0000n, RW);
    expect(h.detach(1, 1)).toBe(S.Ok);
    expect(h.iommu.domain(1)).toBeUndefined();
    expect(h.attach(1, 2, AttachFlag.Bypass)).toBe(S.Ok);
    expect(h.iommu.domain(1)).toEqual({ bypass: true, endpoints: [2] });
  });
});

describe('5.13.6.5 MAP', () => {
  function mapped(o: ConstructorParameters<typeof ViommuHarness>[0] = {}): ViommuHarness {
    const h = harness(o);
    h.attach(1, 1);
    return h;
  }

  it('creates a mapping [virt_start, virt_end] -> phys_start with its flags', () => {
    const h = mapped();
    expect(h.map(1, 0x10_0000n, 0x2f_ffffn, 0x9000_0000n, MapFlag.Read)).toBe(S.Ok);
    expect(h.iommu.mappings(1)).toEqual([{ virtStart: 0x10_0000n, virtEnd: 0x2f_ffffn, physStart: 0x9000_0000n, flags: MapFlag.Read }]);
  });

  it('the whole 64-bit space can be one mapping', () => {
    const h = mapped();
    expect(h.map(1, 0n, (1n << 64n) - 1n, 0n, RW)).toBe(S.Ok);
    expect(h.iommu.mappings(1)[0].virtEnd).toBe((1n << 64n) - 1n);
  });

  it('unrecognised flags: INVAL (MUST); MMIO is recognised only with the MMIO feature negotiated', () => {
    const h = mapped();
    expect(h.map(1, 0x1000n, 0x1fffn, 0n, 1 << 3)).toBe(S.Inval);
    expect(h.map(1, 0x1000n, 0x1fffn, 0n, RW | 0x8000_0000)).toBe(S.Inval);
    expect(h.map(1, 0x1000n, 0x1fffn, 0n, MapFlag.Write | MapFlag.Mmio)).toBe(S.Ok);
    const noMmio = mapped({ accept: ALL_BUT_MMIO });
    expect(noMmio.map(1, 0x1000n, 0x1fffn, 0n, MapFlag.Write | MapFlag.Mmio)).toBe(S.Inval);
    expect(h.iommu.mappings(1)[0].flags).toBe(MapFlag.Write | MapFlag.Mmio);
  });

  it('a domain that does not exist: NOENT; outside domain_range: RANGE', () => {
    const h = mapped({ domainRange: { start: 0, end: 100 } });
    expect(h.map(2, 0x1000n, 0x1fffn, 0n, RW)).toBe(S.NoEnt);
    expect(h.map(101, 0x1000n, 0x1fffn, 0n, RW)).toBe(S.Range);
  });

  it('a bypass domain: INVAL', () => {
    const h = harness();
    h.attach(5, 1, AttachFlag.Bypass);
    expect(h.map(5, 0x1000n, 0x1fffn, 0n, RW)).toBe(S.Inval);
  });

  it('virt_start, phys_start or virt_end + 1 off the granule: RANGE', () => {
    const h = mapped({ pageSizeMask: 0xffff_0000n }); // 64 KiB granule
    expect(h.map(1, 0x1000n, 0x1_0fffn, 0n, RW)).toBe(S.Range);
    expect(h.map(1, 0x1_0000n, 0x1_ffffn, 0x1000n, RW)).toBe(S.Range);
    expect(h.map(1, 0x1_0000n, 0x1_fffen, 0n, RW)).toBe(S.Range);
    expect(h.map(1, 0x1_0000n, 0x2_0fffn, 0n, RW)).toBe(S.Range);
    expect(h.map(1, 0x1_0001n, 0x1_ffffn, 0n, RW)).toBe(S.Range);
    expect(h.map(1, 0x1_0000n, 0x2_ffffn, 0x3_0000n, RW)).toBe(S.Ok);
  });

  it('virt_end before virt_start: INVAL', () => {
    expect(mapped().map(1, 0x2000n, 0xfffn, 0n, RW)).toBe(S.Inval);
  });

  it('outside input_range: RANGE', () => {
    const h = mapped({ inputRange: { start: 0x1_0000n, end: 0xffff_ffffn } });
    expect(h.map(1, 0xf000n, 0x1_ffffn, 0n, RW)).toBe(S.Range);
    expect(h.map(1, 0xffff_f000n, 0x1_0000_0fffn, 0n, RW)).toBe(S.Range);
    expect(h.map(1, 0x1_0000n, 0xffff_ffffn, 0n, RW)).toBe(S.Ok);
  });

  it('a physical range beyond physicalAddressBits, or past 2^64: RANGE', () => {
    const h = mapped({ physicalAddressBits: 40 });
    expect(h.map(1, 0x1000n, 0x2fffn, 0xff_ffff_f000n, RW)).toBe(S.Range);
    expect(h.map(1, 0x1000n, 0x1fffn, 0xff_ffff_f000n, RW)).toBe(S.Ok);
    const wide = mapped();
    expect(wide.map(1, 0x1000n, 0x2fffn, 0xffff_ffff_ffff_f000n, RW)).toBe(S.Range);
  });

  it('over an existing mapping (partly, inside, around): INVAL', () => {
    const h = mapped();
    h.map(1, 0x4000n, 0x7fffn, 0x8000_0000n, RW);
    expect(h.map(1, 0x3000n, 0x4fffn, 0n, RW)).toBe(S.Inval);
    expect(h.map(1, 0x5000n, 0x5fffn, 0n, RW)).toBe(S.Inval);
    expect(h.map(1, 0x0n, 0xffffn, 0n, RW)).toBe(S.Inval);
    expect(h.map(1, 0x7000n, 0x8fffn, 0n, RW)).toBe(S.Inval);
    expect(h.map(1, 0x8000n, 0x8fffn, 0n, RW)).toBe(S.Ok);
    expect(h.iommu.mappings(1)).toHaveLength(2);
  });

  it("5.13.6.8.1.2: over a RESV_MEM region of an endpoint of the domain (RESERVED or MSI): INVAL", () => {
    const h = harness({ reservedRegions: [MSI], endpoints: [1, { id: 2, reservedRegions: [RESERVED] }] });
    h.attach(1, 1);
    expect(h.map(1, 0x080f_f000n, 0x0810_0fffn, 0n, RW)).toBe(S.Inval);
    expect(h.map(1, 0xfee0_0000n, 0xfee0_0fffn, 0n, RW)).toBe(S.Ok); // endpoint 2 is not in domain 1
    h.attach(2, 2);
    expect(h.map(2, 0xfeef_f000n, 0xfeef_ffffn, 0n, RW)).toBe(S.Inval);
    expect(h.map(2, 0x0800_0000n, 0x0800_0fffn, 0n, RW)).toBe(S.Inval);
  });

  it('maxMappings reached: NOMEM', () => {
    const h = mapped({ maxMappings: 2 });
    expect([0, 1, 2].map((i) => h.map(1, BigInt(i) * 0x1000n, BigInt(i) * 0x1000n + 0xfffn, 0n, RW))).toEqual([S.Ok, S.Ok, S.NoMem]);
    h.unmap(1, 0n, 0xfffn);
    expect(h.map(1, 0x5000n, 0x5fffn, 0n, RW)).toBe(S.Ok);
  });

  it('MAP and UNMAP without MAP_UNMAP negotiated are unavailable: unwritten, or UNSUPP', () => {
    const h = harness({ accept: featureMask(F.Probe, F.BypassConfig) });
    h.attach(1, 1);
    const map = encodeRequest({ type: 3, domain: 1, virtStart: 0n, virtEnd: 0xfffn, physStart: 0n, flags: RW });
    expect(h.send(map, 4).used).toBe(0);
    expect(h.send(encodeRequest({ type: 4, domain: 1, virtStart: 0n, virtEnd: 0xfffn }), 4).used).toBe(0);
    const q = harness({ accept: featureMask(F.Probe), unsupportedRequests: 'unsupp' });
    q.attach(1, 1);
    expect(q.send(map, 4).writable[0]).toBe(S.Unsupp);
    expect(q.iommu.mappings(1)).toEqual([]);
  });
});

describe('5.13.6.6 UNMAP', () => {
  // The specification's seven examples, with 4 KiB pages as the unit: map(a, b) maps pages a..b.
  const P = 0x1000n;
  function pages(h: ViommuHarness): [bigint, bigint][] {
    return h.iommu.mappings(1).map((m) => [m.virtStart / P, (m.virtEnd + 1n) / P - 1n]);
  }
  function setup(...maps: [number, number][]): ViommuHarness {
    const h = harness();
    h.attach(1, 1);
    for (const [a, b] of maps) expect(h.map(1, BigInt(a) * P, BigInt(b + 1) * P - 1n, 0n, RW)).toBe(S.Ok);
    return h;
  }
  const unmap = (h: ViommuHarness, a: number, b: number) => h.unmap(1, BigInt(a) * P, BigInt(b + 1) * P - 1n);

  it('(1) unmap(0, 4) on a blank space succeeds and unmaps nothing', () => {
    const h = setup();
    expect(unmap(h, 0, 4)).toBe(S.Ok);
  });

  it('(2) a = map(0, 9); unmap(0, 9) unmaps a', () => {
    const h = setup([0, 9]);
    expect(unmap(h, 0, 9)).toBe(S.Ok);
    expect(pages(h)).toEqual([]);
  });

  it('(3) a = map(0, 4); b = map(5, 9); unmap(0, 9) unmaps a and b', () => {
    const h = setup([0, 4], [5, 9]);
    expect(unmap(h, 0, 9)).toBe(S.Ok);
    expect(pages(h)).toEqual([]);
  });

  it('(4) a = map(0, 9); unmap(0, 4) fails (RANGE) and unmaps nothing', () => {
    const h = setup([0, 9]);
    expect(unmap(h, 0, 4)).toBe(S.Range);
    expect(pages(h)).toEqual([[0n, 9n]]);
  });

  it('(5) a = map(0, 4); b = map(5, 9); unmap(0, 4) unmaps a only', () => {
    const h = setup([0, 4], [5, 9]);
    expect(unmap(h, 0, 4)).toBe(S.Ok);
    expect(pages(h)).toEqual([[5n, 9n]]);
  });

  it('(6) a = map(0, 4); unmap(0, 9) unmaps a', () => {
    const h = setup([0, 4]);
    expect(unmap(h, 0, 9)).toBe(S.Ok);
    expect(pages(h)).toEqual([]);
  });

  it('(7) a = map(0, 4); b = map(10, 14); unmap(0, 14) unmaps a and b', () => {
    const h = setup([0, 4], [10, 14]);
    expect(unmap(h, 0, 14)).toBe(S.Ok);
    expect(pages(h)).toEqual([]);
  });

  it('a range whose last byte falls inside a mapping would split it: RANGE, nothing removed (even mappings wholly inside)', () => {
    const h = setup([0, 0], [2, 3]);
    expect(h.unmap(1, 0n, 0x3ffen)).toBe(S.Range);
    expect(h.unmap(1, 0x2001n, 0x3fffn)).toBe(S.Range);
    expect(pages(h)).toEqual([[0n, 0n], [2n, 3n]]);
    expect(h.unmap(1, 0x1800n, 0x4fffn)).toBe(S.Ok); // starts and ends outside any mapping
    expect(pages(h)).toEqual([[0n, 0n]]);
  });

  it('a domain that does not exist: NOENT; outside domain_range: RANGE; a bypass domain: INVAL; virt_end < virt_start: INVAL', () => {
    const h = harness({ domainRange: { start: 0, end: 9 } });
    expect(h.unmap(3, 0n, 0xfffn)).toBe(S.NoEnt);
    expect(h.unmap(10, 0n, 0xfffn)).toBe(S.Range);
    h.attach(4, 1, AttachFlag.Bypass);
    expect(h.unmap(4, 0n, 0xfffn)).toBe(S.Inval);
    h.attach(5, 2);
    expect(h.unmap(5, 0x2000n, 0x1fffn)).toBe(S.Inval);
  });

  it("reserved not zero: per unmapReserved - 'ignore' unmaps (OK), 'reject' answers INVAL and unmaps nothing, 'unmap-and-inval' unmaps and answers INVAL", () => {
    const outcomes = (['ignore', 'reject', 'unmap-and-inval'] as const).map((policy) => {
      const h = harness({ unmapReserved: policy });
      h.attach(1, 1);
      h.map(1, 0x1000n, 0x1fffn, 0n, RW);
      const req = encodeRequest({ type: 4, domain: 1, virtStart: 0x1000n, virtEnd: 0x1fffn });
      req[25] = 1;
      return [h.send(req, 4).writable[0], h.iommu.mappings(1).length];
    });
    expect(outcomes).toEqual([
      [S.Ok, 0],
      [S.Inval, 1],
      [S.Inval, 0],
    ]);
  });
});

describe('5.13.6.7 PROBE, 5.13.6.8 RESV_MEM', () => {
  it("fills probe_size bytes with the endpoint's RESV_MEM properties, zero after them; used length probe_size + tail", () => {
    const h = harness({ probeSize: 128, reservedRegions: [MSI], endpoints: [{ id: 1, reservedRegions: [RESERVED] }, 2] });
    const r = h.probe(1);
    expect(r.used).toBe(132);
    expect(r.status).toBe(S.Ok);
    expect(r.properties.map((p) => p.property)).toEqual([
      { type: 1, subtype: ResvMemSubtype.Msi, start: MSI.start, end: MSI.end },
      { type: 1, subtype: ResvMemSubtype.Reserved, start: RESERVED.start, end: RESERVED.end },
    ]);
    expect(r.properties.map((p) => [p.offset, p.reserved])).toEqual([
      [0, 0],
      [24, 0],
    ]);
    expect(r.raw.subarray(48).every((b) => b === 0)).toBe(true);
    expect(h.probe(2).properties).toHaveLength(1);
  });

  it('an endpoint without properties gets an empty list (all zero: NONE)', () => {
    const r = harness({ probeSize: 64 }).probe(3);
    expect(r.status).toBe(S.Ok);
    expect(r.raw.every((b) => b === 0)).toBe(true);
  });

  it('an endpoint that does not exist: NOENT; the properties read as an empty list', () => {
    const r = harness({ probeSize: 64 }).probe(77);
    expect([r.used, r.status, r.properties.length]).toEqual([68, S.NoEnt, 0]);
  });

  it('a properties buffer smaller than probe_size: INVAL in the tail at its end, no property written', () => {
    const h = harness({ probeSize: 64, reservedRegions: [MSI] });
    const r = h.send(encodeRequest({ type: 5, endpoint: 1 }), 40 + 4);
    expect(r.used).toBe(44);
    expect([...r.writable.subarray(40)]).toEqual([S.Inval, 0, 0, 0]);
    expect(r.writable.subarray(0, 40).every((b) => b === 0)).toBe(true);
  });

  it('a writable part longer than probe_size + tail: the tail still follows probe_size bytes', () => {
    const h = harness({ probeSize: 32, reservedRegions: [MSI] });
    const r = h.send(encodeRequest({ type: 5, endpoint: 1 }), 64);
    expect(r.used).toBe(36);
    expect([...r.writable.subarray(32, 37)]).toEqual([S.Ok, 0, 0, 0, 0xee]);
  });

  it('the reserved field of PROBE is ignored (MUST); a request shorter than 72 bytes is INVAL', () => {
    const h = harness({ probeSize: 32 });
    const req = encodeRequest({ type: 5, endpoint: 1 });
    req.fill(0x5a, 8);
    expect(h.send(req, 36).writable[32]).toBe(S.Ok);
    expect(h.send(req.subarray(0, 71), 36).writable[32]).toBe(S.Inval);
  });

  it('without PROBE negotiated the request is unavailable: unwritten (used length 0)', () => {
    const h = harness({ accept: featureMask(F.MapUnmap) });
    const r = h.send(encodeRequest({ type: 5, endpoint: 1 }), 516);
    expect(r.used).toBe(0);
    expect(r.writable.every((b) => b === 0xee)).toBe(true);
  });
});

describe('statistics', () => {
  it('count requests by type and status, domains and mappings', () => {
    const h = harness();
    h.attach(1, 1);
    h.attach(1, 9);
    h.map(1, 0n, 0xfffn, 0n, RW);
    h.map(1, 0n, 0xfffn, 0n, RW);
    h.unmap(1, 0n, 0xfffn);
    h.probe(1);
    h.send(new Uint8Array([42, 0, 0, 0]), 4);
    const s = h.iommu.statistics();
    expect(s.requests).toEqual({ unknown: 1, ATTACH: 2, DETACH: 0, MAP: 2, UNMAP: 1, PROBE: 1 });
    expect(s.statuses).toMatchObject({ OK: 4, INVAL: 1, NOENT: 1 });
    expect(s.unanswered).toBe(1);
    expect(s.domains).toEqual({ current: 1, created: 1, destroyed: 0 });
    expect(s.mappings).toEqual({ current: 0, created: 1, removed: 1 });
  });
});
