// The host backend (a VMM mirroring the guest's domains and mappings onto a host IOMMU): the
// device calls it while processing each request, before the request is returned, and turns
// its failures into the request's status (VIRTIO 1.2/1.3 5.13.6: NOMEM "insufficient
// resources", UNSUPP, DEVERR "internal device error"). When a domain ceases to exist
// (5.13.6.4) its remaining mappings are unmapped before its last endpoint is detached.

import { describe, expect, it } from 'vitest';
import { Used } from '../../../src/formats/virtio/split-ring.js';
import { AttachFlag, MapFlag, VirtioIommuStatus as S } from '../../../src/formats/virtio-iommu/index.js';
import type { VirtioIommuBackend, VirtioIommuBackendResult } from '../../../src/hw/virtio-iommu/index.js';
import { ViommuHarness } from './harness.js';

type Call = [string, ...(number | bigint | boolean)[]];

/** Records every call, with the request queue's used index at that moment; answers from `failures`. */
class FakeBackend implements VirtioIommuBackend {
  readonly calls: Call[] = [];
  readonly usedIndexAtCall: number[] = [];
  readonly failures = new Map<string, VirtioIommuBackendResult[]>();
  harness: ViommuHarness | null = null;

  attach(endpoint: number, domain: number, bypass: boolean): VirtioIommuBackendResult {
    return this.record(['attach', endpoint, domain, bypass]);
  }

  detach(endpoint: number, domain: number): VirtioIommuBackendResult {
    return this.record(['detach', endpoint, domain]);
  }

  map(domain: number, iova: bigint, physical: bigint, size: bigint, flags: number): VirtioIommuBackendResult {
    return this.record(['map', domain, iova, physical, size, flags]);
  }

  unmap(domain: number, iova: bigint, size: bigint): VirtioIommuBackendResult {
    return this.record(['unmap', domain, iova, size]);
  }

  take(): Call[] {
    return this.calls.splice(0);
  }

  private record(call: Call): VirtioIommuBackendResult {
    this.calls.push(call);
    const h = this.harness;
    if (h !== null) this.usedIndexAtCall.push(Number(h.memory.read(h.requestq.used + BigInt(Used.IDX), 2)));
    return this.failures.get(call[0] as string)?.shift() ?? 'ok';
  }
}

function setup(): { h: ViommuHarness; b: FakeBackend } {
  const b = new FakeBackend();
  const h = new ViommuHarness({ endpoints: [1, 2, 3], backend: b });
  b.harness = h;
  return { h, b };
}

const RW = MapFlag.Read | MapFlag.Write;

describe('backend calls', () => {
  it('ATTACH, MAP, UNMAP, DETACH are mirrored in order, each before its request is returned', () => {
    const { h, b } = setup();
    expect(h.attach(4, 1)).toBe(S.Ok);
    expect(h.map(4, 0x10_0000n, 0x1f_ffffn, 0x8000_0000n, RW)).toBe(S.Ok);
    expect(h.unmap(4, 0x10_0000n, 0x1f_ffffn)).toBe(S.Ok);
    expect(h.detach(4, 1)).toBe(S.Ok);
    expect(b.take()).toEqual([
      ['attach', 1, 4, false],
      ['map', 4, 0x10_0000n, 0x8000_0000n, 0x10_0000n, RW],
      ['unmap', 4, 0x10_0000n, 0x10_0000n],
      ['detach', 1, 4],
    ]);
    // The k-th request was returned (used index k) only after its backend call.
    expect(b.usedIndexAtCall).toEqual([0, 1, 2, 3]);
  });

  it('a bypass domain is attached as such', () => {
    const { h, b } = setup();
    h.attach(2, 3, AttachFlag.Bypass);
    expect(b.take()).toEqual([['attach', 3, 2, true]]);
  });

  it('requests the device rejects never reach the backend', () => {
    const { h, b } = setup();
    h.attach(1, 1);
    h.map(1, 0x0n, 0xfffn, 0n, RW);
    b.take();
    expect(h.map(1, 0x0n, 0x1fffn, 0n, RW)).toBe(S.Inval);
    expect(h.map(9, 0x0n, 0xfffn, 0n, RW)).toBe(S.NoEnt);
    expect(h.unmap(1, 0x0n, 0x7ffn)).toBe(S.Range);
    expect(h.attach(1, 77)).toBe(S.NoEnt);
    expect(h.attach(1, 1)).toBe(S.Ok); // already attached: nothing to do
    expect(b.take()).toEqual([]);
  });

  it('the last endpoint leaving a domain: its mappings are unmapped, then the endpoint detached', () => {
    const { h, b } = setup();
    h.attach(1, 1);
    h.attach(1, 2);
    h.map(1, 0x1000n, 0x1fffn, 0xa000n, RW);
    h.map(1, 0x4000n, 0x5fffn, 0xb000n, MapFlag.Read);
    b.take();
    h.detach(1, 1);
    expect(b.take()).toEqual([['detach', 1, 1]]);
    h.attach(2, 2); // moves the last endpoint of domain 1 to domain 2
    expect(b.take()).toEqual([
      ['unmap', 1, 0x1000n, 0x1000n],
      ['unmap', 1, 0x4000n, 0x2000n],
      ['detach', 2, 1],
      ['attach', 2, 2, false],
    ]);
  });

  it('a device reset tears everything down through the backend', () => {
    const { h, b } = setup();
    h.attach(1, 1);
    h.attach(2, 2);
    h.map(2, 0x1000n, 0x1fffn, 0n, RW);
    b.take();
    h.reset();
    expect(b.take()).toEqual([
      ['detach', 1, 1],
      ['unmap', 2, 0x1000n, 0x1000n],
      ['detach', 2, 2],
    ]);
  });
});

describe('backend failures become statuses', () => {
  it("MAP: 'nomem' NOMEM, 'failed' DEVERR, 'unsupported' UNSUPP; the mapping is not created", () => {
    const { h, b } = setup();
    h.attach(1, 1);
    b.failures.set('map', ['nomem', 'failed', 'unsupported']);
    expect([0, 1, 2].map(() => h.map(1, 0x1000n, 0x1fffn, 0n, RW))).toEqual([S.NoMem, S.DevErr, S.Unsupp]);
    expect(h.iommu.mappings(1)).toEqual([]);
    expect(h.map(1, 0x1000n, 0x1fffn, 0n, RW)).toBe(S.Ok);
  });

  it('ATTACH: the endpoint stays unattached and no domain is created', () => {
    const { h, b } = setup();
    b.failures.set('attach', ['nomem']);
    expect(h.attach(5, 1)).toBe(S.NoMem);
    expect(h.iommu.domainOf(1)).toBeUndefined();
    expect(h.iommu.domain(5)).toBeUndefined();
  });

  it('UNMAP: stops at the failing mapping (DEVERR); those before it are gone, it and the rest remain', () => {
    const { h, b } = setup();
    h.attach(1, 1);
    for (const a of [0x1000n, 0x2000n, 0x3000n]) h.map(1, a, a + 0xfffn, 0n, RW);
    b.failures.set('unmap', ['ok', 'failed']);
    expect(h.unmap(1, 0n, 0xffffn)).toBe(S.DevErr);
    expect(h.iommu.mappings(1).map((m) => m.virtStart)).toEqual([0x2000n, 0x3000n]);
    expect(h.unmap(1, 0n, 0xffffn)).toBe(S.Ok);
    expect(h.iommu.mappings(1)).toEqual([]);
  });

  it('DETACH: the device still detaches (the endpoint MUST lose access) and reports DEVERR', () => {
    const { h, b } = setup();
    h.attach(1, 1);
    b.failures.set('detach', ['failed']);
    expect(h.detach(1, 1)).toBe(S.DevErr);
    expect(h.iommu.domainOf(1)).toBeUndefined();
  });
});
