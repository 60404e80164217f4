// Identity and blocked domains (VIRTIO 1.3 section 5.13.6 "An endpoint is in bypass mode if",
// 5.13.6.3 VIRTIO_IOMMU_ATTACH_F_BYPASS, 5.13.6.4 DETACH): passthrough by a bypass domain when
// BYPASS_CONFIG is negotiated, by RAM mapped one to one otherwise (around the endpoints'
// reserved regions); blocking by detaching, with config.bypass 0.

import { describe, expect, it } from 'vitest';
import { FaultReason } from '../../../../src/formats/virtio-iommu/fault.js';
import { ResvMemSubtype } from '../../../../src/formats/virtio-iommu/probe.js';
import type { IommuFault } from '../../../../src/os/core/types.js';
import { identityPieces, ViommuDomain } from '../../../../src/os/drivers/virtio-iommu/index.js';
import { RAM_BASE, RAM_SIZE, VirtioIommuMachine } from '../../../support/virtio-iommu-machine.js';

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff);
}

const NO_BYPASS_CONFIG = { features: { bypassConfig: false } };

describe('identity domain with BYPASS_CONFIG (5.13.6.3 ATTACH_F_BYPASS)', () => {
  it('passthrough default domains attach to a bypass domain; DMA uses physical addresses untranslated', () => {
    const m = new VirtioIommuMachine({ policy: { defaultDomain: 'passthrough' } });
    const dev = m.engineDevice();
    const domain = m.kernel.iommu.domainOf(dev);
    expect(domain).toBe(m.driver.identityDomain);
    expect(domain?.type).toBe('identity');
    const id = (domain?.driverData as ViommuDomain).id;
    expect(m.viommu.domainOf(5)).toBe(id);
    expect(m.viommu.domain(id)).toEqual({ bypass: true, endpoints: [5] });
    const src = m.buffer();
    const dst = m.buffer();
    m.memory.writeBytes(src, pattern(4096, 1));
    expect(m.channel().copy(src, dst, 4096)).toMatchObject({ ok: true });
    expect(m.memory.readBytes(dst, 4096)).toEqual(pattern(4096, 1));
    expect(m.viommu.statistics().translations).toMatchObject({ translated: 0, bypassed: 128 });
    expect(m.driver.statistics().requests.MAP).toBe(0);
  });
});

describe('identity domain without BYPASS_CONFIG: RAM mapped one to one', () => {
  it('maps RAM minus the reserved regions of the endpoints attached, and DMA works with physical addresses', () => {
    const hole = { subtype: ResvMemSubtype.Reserved, start: RAM_BASE + 0x10_0000n, end: RAM_BASE + 0x10_ffffn };
    const m = new VirtioIommuMachine({ viommu: NO_BYPASS_CONFIG, engines: [{ endpoint: 5, reservedRegions: [hole] }], policy: { defaultDomain: 'passthrough' } });
    const dev = m.engineDevice();
    expect(m.kernel.iommu.domainOf(dev)).toBe(m.driver.identityDomain);
    const id = m.viommu.domainOf(5) as number;
    expect(m.viommu.domain(id)?.bypass).toBe(false);
    expect(m.viommu.mappings(id)).toEqual([
      { virtStart: RAM_BASE, virtEnd: hole.start - 1n, physStart: RAM_BASE, flags: 3 },
      { virtStart: hole.end + 1n, virtEnd: RAM_BASE + RAM_SIZE - 1n, physStart: hole.end + 1n, flags: 3 },
    ]);
    const src = m.buffer();
    const dst = m.buffer();
    m.memory.writeBytes(src, pattern(256, 2));
    expect(m.channel().copy(src, dst, 256)).toMatchObject({ ok: true });
    expect(m.memory.readBytes(dst, 256)).toEqual(pattern(256, 2));
    expect(m.viommu.statistics().translations.bypassed).toBe(0);
    // Outside RAM nothing is mapped.
    expect(m.channel().rawReadVerify(0x4000_0000n, 8, 0n)).toMatchObject({ ok: false, error: 'aborted' });
  });

  it("a second endpoint's reserved region punches a hole before it attaches (the device would refuse it, 5.13.6.3)", () => {
    const a = { subtype: ResvMemSubtype.Reserved, start: RAM_BASE + 0x10_0000n, end: RAM_BASE + 0x10_0fffn };
    const b = { subtype: ResvMemSubtype.Msi, start: RAM_BASE + 0x20_0000n, end: RAM_BASE + 0x20_0fffn };
    const m = new VirtioIommuMachine({
      viommu: NO_BYPASS_CONFIG,
      engines: [
        { endpoint: 5, reservedRegions: [a] },
        { endpoint: 6, reservedRegions: [b] },
      ],
      policy: { defaultDomain: 'passthrough' },
    });
    expect(m.engineDevice(1).state, m.logText()).toBe('bound');
    const id = m.viommu.domainOf(5) as number;
    expect(m.viommu.domainOf(6)).toBe(id);
    expect(m.viommu.mappings(id).map((x) => [x.virtStart, x.virtEnd])).toEqual([
      [RAM_BASE, a.start - 1n],
      [a.end + 1n, b.start - 1n],
      [b.end + 1n, RAM_BASE + RAM_SIZE - 1n],
    ]);
    expect(m.driver.statistics().failed).toEqual({});
  });

  it('identity pieces: whole RAM pages inside the input range, minus whole pages touching a reserved region', () => {
    const ram = [
      { first: 0x200, last: 0x2ff },
      { first: 0x100, last: 0x1ff },
    ];
    const reserved = [{ start: 0x180_0ffn, end: 0x181_000n, kind: 'reserved' as const, subtype: 0 }];
    expect(identityPieces(ram, reserved, { first: 0x110, last: 0x2f0 })).toEqual([
      { first: 0x110, last: 0x17f },
      { first: 0x182, last: 0x1ff },
      { first: 0x200, last: 0x2f0 },
    ]);
  });
});

describe('blocked domain (5.13.6.4 DETACH with config.bypass 0)', () => {
  it('detaches the endpoint: its DMA faults with DOMAIN; returning to the default domain re-attaches it', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const faults: IommuFault[] = [];
    core.faultObservers.push((f) => faults.push(f));
    const blocked = core.staticDomain(dev, 'blocked');
    const defaultId = m.viommu.domainOf(5);
    core.attachDevice(blocked, dev);
    expect(m.driver.statistics().requests.DETACH).toBe(1);
    expect(m.viommu.domainOf(5)).toBeUndefined();
    // The default domain had only this endpoint: it ceased to exist in the device.
    expect(m.viommu.domain(defaultId as number)).toBeUndefined();
    expect(m.channel().rawReadVerify(0x8000_0000n, 8, 0n)).toMatchObject({ ok: false, error: 'aborted' });
    m.kernel.poll();
    expect(faults.map((f) => f.cause)).toEqual([FaultReason.Domain]);

    core.detachDevice(blocked, dev);
    expect(m.viommu.domainOf(5)).toBe(defaultId);
    const src = m.buffer();
    const dst = m.buffer();
    m.memory.writeBytes(src, pattern(64, 4));
    expect(m.channel().copy(src, dst, 64)).toMatchObject({ ok: true });
    expect(m.memory.readBytes(dst, 64)).toEqual(pattern(64, 4));
  });

  it('blocking an endpoint that is already detached sends nothing; identity from there is one ATTACH', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const blocked = core.staticDomain(dev, 'blocked');
    core.attachDevice(blocked, dev);
    core.attachDevice(blocked, dev);
    expect(m.driver.statistics().requests.DETACH).toBe(1);
    core.detachDevice(blocked, dev);
    const identity = core.staticDomain(dev, 'identity');
    core.attachDevice(identity, dev);
    expect(m.driver.statistics().requests).toMatchObject({ DETACH: 1, ATTACH: 3 });
    expect(m.viommu.domain(m.viommu.domainOf(5) as number)?.bypass).toBe(true);
  });
});
