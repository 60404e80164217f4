// Isolation: what a device may reach is its domain's P2M and nothing else. A device of guest A
// that targets guest B's memory (B's machine addresses, or dom0's), a device no domain owns,
// and a device whose guest was destroyed: each transaction faults in the IPMMU (the root's
// context records it, its interrupt is taken and logged with the domain and the device) and
// nothing is written. Without quarantine a device left with its micro-TLB disabled bypasses
// the IPMMU (the model's utlbDisabled 'bypass', R-Car's behaviour): the hazard quarantine closes.

import { describe, expect, it } from 'vitest';
import { ErrorCause, Status } from '../../../src/devices/dma-engine/index.js';
import { GUEST_RAM0_BASE } from '../../../src/hyp/xen/index.js';
import { nodePath, XenMachine } from '../../support/xen-machine.js';

function aborted(status: number): boolean {
  return (status & Status.ERROR) !== 0 && (status & Status.CAUSE_MASK) >> Status.CAUSE_SHIFT === ErrorCause.Aborted;
}

function twoGuests() {
  const m = new XenMachine();
  const a = m.xen.createDomain({ name: 'a', memoryMiB: 2, devices: [nodePath('dmac1')] });
  const b = m.xen.createDomain({ name: 'b', memoryMiB: 2, devices: [nodePath('dmac2')] });
  b.memory.write(GUEST_RAM0_BASE, new Uint8Array(64).fill(0xbb));
  return { m, a, b };
}

describe('a device of guest A', () => {
  it("faults on guest B's memory (by machine address): nothing is written, the fault names A and the device", () => {
    const { m, a, b } = twoGuests();
    const target = b.p2m.translate(GUEST_RAM0_BASE)!;
    expect(aborted(m.fill(a, 'dmac1', target, 64, 0x4141_4141_4141_4141n))).toBe(true);
    expect([...b.memory.read(GUEST_RAM0_BASE, 64)]).toEqual(new Array(64).fill(0xbb));
    expect(m.poll()).toBeGreaterThan(0);
    expect(m.xen.faults).toHaveLength(1);
    const f = m.xen.faults[0];
    expect(f).toMatchObject({ domain: a, devices: [nodePath('dmac1')], address: target, kinds: ['translation fault'] });
    expect(m.logMatching(/translation fault/)).toEqual([
      `ipmmu: /soc/iommu@e67b0000: ${a.label}: translation fault @0x${target.toString(16)} (IMSTR 0x${f.status.toString(16).padStart(8, '0')}, context ${f.context}, device ${nodePath('dmac1')})`,
    ]);
    expect(a.counters.iommuFaults).toBe(1);
    expect(b.counters.iommuFaults).toBe(0);
  });

  it('writes its own RAM when it uses the same guest-physical address as B: address spaces are separate', () => {
    const { m, a, b } = twoGuests();
    expect(m.fill(a, 'dmac1', GUEST_RAM0_BASE, 64, 0x4141_4141_4141_4141n)).toBe(Status.DONE);
    expect(a.memory.read(GUEST_RAM0_BASE, 1)[0]).toBe(0x41);
    expect(b.memory.read(GUEST_RAM0_BASE, 1)[0]).toBe(0xbb);
  });

  it("faults on dom0's direct-mapped RAM and on the hypervisor's P2M tables", () => {
    const { m, a, b } = twoGuests();
    const dom0Ram = BigInt(m.xen.dom0!.ram[0].mfn) << 12n;
    m.memory.writeBytes(dom0Ram, new Uint8Array([1, 2, 3, 4]));
    expect(aborted(m.fill(a, 'dmac1', dom0Ram, 4, 0n))).toBe(true);
    expect([...m.memory.readBytes(dom0Ram, 4)]).toEqual([1, 2, 3, 4]);
    m.poll();
    expect(aborted(m.fill(a, 'dmac1', b.p2m.rootAddress, 8, 0n))).toBe(true);
    expect(m.memory.read(b.p2m.rootAddress + 8n, 8)).not.toBe(0n); // B's table entry for its RAM survives
    m.poll();
    expect(m.xen.faults.map((f) => f.domain)).toEqual([a, a]);
  });
});

describe('a device no domain owns (quarantined in dom_io)', () => {
  it('faults whatever it targets, and the fault names dom_io and the device', () => {
    const m = new XenMachine();
    // Only dmac4 stays in quarantine: the others go to a guest.
    m.xen.createDomain({ name: 'g', memoryMiB: 2, devices: ['dmac1', 'dmac2', 'dmac3'].map(nodePath) });
    const target = BigInt(m.xen.dom0!.ram[0].mfn) << 12n;
    expect(aborted(m.fill(null, 'dmac4', target, 16, 0x5555n))).toBe(true);
    expect([...m.memory.readBytes(target, 4)]).toEqual([0, 0, 0, 0]);
    m.poll();
    expect(m.xen.faults[0]).toMatchObject({ domain: m.xen.domIo, devices: [nodePath('dmac4')], address: target });
    expect(m.logMatching(/dom_io: translation fault/)).toEqual([expect.stringMatching(/device \/soc\/dma@ee000000\)$/)]);
  });

  it('names every quarantined device behind the root as a candidate when several are', () => {
    const m = new XenMachine();
    m.fill(null, 'dmac1', 0x4900_0000n, 8, 0n);
    m.poll();
    expect(m.xen.faults[0].devices.sort()).toEqual(['dmac1', 'dmac2', 'dmac3', 'dmac4'].map(nodePath).sort());
    expect(m.logMatching(/dom_io: translation fault/)[0]).toMatch(/one of /);
  });
});

describe('a device whose guest was destroyed', () => {
  it('faults instead of writing the freed RAM, even when that RAM went to another guest', () => {
    const m = new XenMachine();
    const g = m.xen.createDomain({ name: 'old', memoryMiB: 2, devices: [nodePath('dmac3')] });
    const machine = g.p2m.translate(GUEST_RAM0_BASE)!;
    m.xen.destroyDomain(g);
    const next = m.xen.createDomain({ name: 'new', memoryMiB: 2 });
    expect(next.p2m.translate(GUEST_RAM0_BASE)).toBe(machine); // the heap gave the same frames back out
    next.memory.write(GUEST_RAM0_BASE, new Uint8Array(16).fill(0x99));
    // The old guest's driver still programs the engine: at its old IPA, and at the machine address.
    expect(aborted(m.fill(null, 'dmac3', GUEST_RAM0_BASE, 16, 0n))).toBe(true);
    m.poll();
    expect(aborted(m.fill(null, 'dmac3', machine, 16, 0n))).toBe(true);
    m.poll();
    expect([...next.memory.read(GUEST_RAM0_BASE, 16)]).toEqual(new Array(16).fill(0x99));
    expect(m.xen.faults.map((f) => [f.domain?.label, f.address])).toEqual([
      ['dom_io', GUEST_RAM0_BASE],
      ['dom_io', machine],
    ]);
  });
});

describe('without quarantine (Xen for device-tree devices: deassigned means detached)', () => {
  it('leaves a deassigned device with its micro-TLB disabled, which the IPMMU bypasses: its DMA reaches any machine address', () => {
    const m = new XenMachine({ xen: { quarantine: false } });
    const g = m.xen.createDomain({ name: 'g', memoryMiB: 2, devices: [nodePath('dmac1')] });
    m.xen.destroyDomain(g);
    expect(m.ipmmu('ipmmu_ds1').utlbState(0).enabled).toBe(false);
    const target = BigInt(m.xen.dom0!.ram[0].mfn) << 12n;
    expect(m.fill(null, 'dmac1', target, 8, 0x6666_6666_6666_6666n)).toBe(Status.DONE);
    expect(m.memory.read(target, 8)).toBe(0x6666_6666_6666_6666n);
    expect(m.ipmmu('ipmmu_ds1').statistics().bypassed).toBeGreaterThan(0);
  });

  it("is safe only on an IPMMU that aborts disabled micro-TLBs (utlbDisabled 'abort'): no write, no fault record", () => {
    const m = new XenMachine({ xen: { quarantine: false }, ipmmu: { utlbDisabled: 'abort' } });
    const target = BigInt(m.xen.dom0!.ram[0].mfn) << 12n;
    expect(aborted(m.fill(null, 'dmac2', target, 8, 0x77n))).toBe(true);
    expect(m.memory.read(target, 8)).toBe(0n);
    expect(m.poll()).toBe(0);
    expect(m.ipmmu('ipmmu_ds1').statistics().aborts.utlbDisabled).toBe(1);
  });
});
