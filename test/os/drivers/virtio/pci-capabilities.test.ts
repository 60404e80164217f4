// Decoding a virtio-pci function's capability list on the driver side (VIRTIO 1.3 section
// 4.1.4 "Virtio Structure PCI Capabilities", driver requirements): the first capability of
// each type is used; reserved cfg_type and bar values, and capabilities too short for their
// structure, are ignored; a function without the common, notification and ISR structures has
// no modern interface.

import { describe, expect, it } from 'vitest';
import { ConfigSpace, PciCfg } from '../../../../src/devices/pcie/index.js';
import type { PciFunctionConfig } from '../../../../src/os/drivers/pci/index.js';
import { readVirtioPciCapabilities } from '../../../../src/os/drivers/virtio/index.js';

function config(caps: { type: number; bar?: number; offset?: number; length?: number; capLen?: number; multiplier?: number }[], id = 0x09): { cfg: PciFunctionConfig; space: ConfigSpace; at: number[] } {
  const space = new ConfigSpace();
  const at = caps.map((c) => {
    const capLen = c.capLen ?? (c.type === 2 ? 20 : 16);
    const p = space.addCapability(id, Math.max(capLen, 20));
    space.set(p + 2, 1, capLen);
    space.set(p + 3, 1, c.type);
    space.set(p + 4, 1, c.bar ?? 4);
    space.set(p + 8, 4, c.offset ?? 0);
    space.set(p + 12, 4, c.length ?? 0x100);
    if (c.multiplier !== undefined) space.set(p + 16, 4, c.multiplier);
    return p;
  });
  const cfg: PciFunctionConfig = {
    read8: (r) => space.read(r, 1),
    read16: (r) => space.read(r, 2),
    read32: (r) => space.read(r, 4),
    write8: () => undefined,
    write16: () => undefined,
    write32: () => undefined,
    findCapability: (cap) => space.findCapability(cap),
    findExtendedCapability: (cap) => space.findExtendedCapability(cap),
  };
  return { cfg, space, at };
}

const STANDARD = [
  { type: 1, offset: 0x0000, length: 0x40 },
  { type: 3, offset: 0x1000, length: 1 },
  { type: 4, offset: 0x2000, length: 0x20 },
  { type: 2, offset: 0x3000, length: 8, multiplier: 4 },
];

describe('4.1.4 Virtio Structure PCI Capabilities (driver side)', () => {
  it('finds the common, notification (with notify_off_multiplier), ISR and device structures', () => {
    const { cfg, at } = config(STANDARD);
    const caps = readVirtioPciCapabilities(cfg);
    expect(caps).toEqual({
      common: { capability: at[0], bar: 4, offset: 0, length: 0x40, multiplier: 0 },
      isr: { capability: at[1], bar: 4, offset: 0x1000, length: 1, multiplier: 0 },
      device: { capability: at[2], bar: 4, offset: 0x2000, length: 0x20, multiplier: 0 },
      notify: { capability: at[3], bar: 4, offset: 0x3000, length: 8, multiplier: 4 },
      pciCfg: null,
    });
  });

  it('the first capability of a type is the one used (the device lists them by preference)', () => {
    const { cfg } = config([{ type: 1, bar: 2, offset: 0x800 }, ...STANDARD]);
    const caps = readVirtioPciCapabilities(cfg);
    expect('error' in caps ? null : caps.common).toMatchObject({ bar: 2, offset: 0x800 });
  });

  it('capabilities with a reserved cfg_type or bar, or too short, are ignored', () => {
    const { cfg } = config([{ type: 7 }, { type: 1, bar: 6 }, { type: 2, capLen: 16, multiplier: 8 }, ...STANDARD]);
    const caps = readVirtioPciCapabilities(cfg);
    expect('error' in caps ? null : [caps.common.bar, caps.notify.multiplier]).toEqual([4, 4]);
  });

  it('without the common, notification or ISR structure the function has no modern interface', () => {
    expect(readVirtioPciCapabilities(config([STANDARD[0], STANDARD[2]]).cfg)).toEqual({ error: 'no virtio notification, ISR capability (not a modern virtio-pci device)' });
    expect(readVirtioPciCapabilities(config(STANDARD, 0x05).cfg)).toEqual({ error: 'no virtio common configuration, notification, ISR capability (not a modern virtio-pci device)' });
    // No capability list at all (Status.Capabilities List clear).
    const bare = config([]);
    expect(bare.space.read(PciCfg.STATUS, 2) & 0x10).toBe(0);
    expect(readVirtioPciCapabilities(bare.cfg)).toEqual({ error: 'no virtio common configuration, notification, ISR capability (not a modern virtio-pci device)' });
  });

  it('a capability list that loops ends after 48 entries', () => {
    const { cfg, space, at } = config(STANDARD);
    space.set(at[3] + 1, 1, at[0]); // the last capability points back at the first
    expect('error' in readVirtioPciCapabilities(cfg)).toBe(false);
  });
});
