// The VMM's guest memory table: guest-physical ranges and the host memory behind them, which the
// host backend uses to turn a MAP's guest-physical address into the host-physical address the
// host IOMMU maps (QEMU: the RAM section under the guest address, VFIO: its host pages).
import { describe, expect, it } from 'vitest';
import { GuestMemoryMap, HostBackendError } from '../../../src/hyp/kvm/index.js';

describe('GuestMemoryMap', () => {
  const map = new GuestMemoryMap([
    { guest: 0x5000_0000n, host: 0xa000_0000n, size: 0x1000_0000n },
    { guest: 0x4000_0000n, host: 0xb000_0000n, size: 0x1000_0000n },
  ]);

  it('keeps the regions in guest-physical order and translates inside them only', () => {
    expect(map.regions.map((r) => r.guest)).toEqual([0x4000_0000n, 0x5000_0000n]);
    expect(map.toHost(0x4000_0123n)).toBe(0xb000_0123n);
    expect(map.toHost(0x5fff_ffffn)).toBe(0xafff_ffffn);
    expect(map.toHost(0x3fff_ffffn)).toBeNull();
    expect(map.toHost(0x6000_0000n)).toBeNull();
  });

  it('cuts a range where it crosses into the next region, each piece at its own host address', () => {
    expect(map.pieces(0x4fff_f000n, 0x2000n)).toEqual([
      { guest: 0x4fff_f000n, host: 0xbfff_f000n, size: 0x1000n },
      { guest: 0x5000_0000n, host: 0xa000_0000n, size: 0x1000n },
    ]);
    expect(map.pieces(0x4000_1000n, 0x3000n)).toEqual([{ guest: 0x4000_1000n, host: 0xb000_1000n, size: 0x3000n }]);
  });

  it('refuses a range with any byte outside guest RAM', () => {
    expect(map.pieces(0x3fff_f000n, 0x2000n)).toBeNull();
    expect(map.pieces(0x5fff_f000n, 0x2000n)).toBeNull();
  });

  it('identity: guest-physical = host-physical', () => {
    const id = GuestMemoryMap.identity([{ base: 0xa000_0000n, size: 0x2000_0000n }]);
    expect(id.toHost(0xa123_4000n)).toBe(0xa123_4000n);
    expect(id.toHost(0x9fff_f000n)).toBeNull();
  });

  it('rejects empty, unaligned and overlapping regions', () => {
    expect(() => new GuestMemoryMap([{ guest: 0n, host: 0n, size: 0n }])).toThrow(HostBackendError);
    expect(() => new GuestMemoryMap([{ guest: 0x800n, host: 0n, size: 0x1000n }])).toThrow(/4 KiB aligned/);
    expect(() => new GuestMemoryMap([{ guest: 0n, host: 0n, size: 0x2000n }, { guest: 0x1000n, host: 0x10000n, size: 0x1000n }])).toThrow(/overlap in guest-physical space/);
    expect(() => new GuestMemoryMap([{ guest: 0n, host: 0x10000n, size: 0x2000n }, { guest: 0x4000n, host: 0x11000n, size: 0x1000n }])).toThrow(/share host memory/);
  });
});
