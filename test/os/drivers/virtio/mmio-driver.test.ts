// The virtio-mmio driver's checks of what it finds (VIRTIO 1.3 section 4.2.3.1.1, driver
// requirements of 4.2.2): MagicValue and Version must be right, and a configuration that
// keeps changing under the generation loop (2.5.1) ends in an error, not a hang.

import { describe, expect, it } from 'vitest';
import { VirtioMmio } from '../../../../src/formats/virtio/mmio.js';
import { VirtioError } from '../../../../src/os/drivers/virtio/index.js';
import type { MmioDevice, MmioSize } from '../../../../src/sim/mmio.js';
import { EchoConfig } from '../../../hw/virtio/echo-device.js';
import { echoDriver, echoOf } from './echo-driver.js';
import { MMIO_NAME, VirtioMachine } from './machine.js';

/** The registers with `override` answering some 32-bit reads. */
function wrap(override: (offset: number) => number | undefined): (d: MmioDevice) => MmioDevice {
  return (d) => ({
    mmioRead: (offset: number, size: MmioSize) => (size === 4 ? BigInt(override(offset) ?? Number(d.mmioRead(offset, 4))) : d.mmioRead(offset, size)),
    mmioWrite: (offset: number, size: MmioSize, value: bigint) => d.mmioWrite(offset, size, value),
    mmioRead32: (offset: number) => override(offset) ?? (d.mmioRead32 as (o: number) => number)(offset),
    mmioWrite32: (offset: number, value: number) => (d.mmioWrite32 as (o: number, v: number) => void)(offset, value),
  });
}

describe('4.2.2 driver requirements: MagicValue and Version', () => {
  it('a wrong MagicValue fails the probe', () => {
    const m = new VirtioMachine({ pci: null, drivers: [echoDriver()], wrapMmio: wrap((o) => (o === VirtioMmio.MAGIC_VALUE ? 0x1234_5678 : undefined)) });
    expect(m.device(MMIO_NAME).state).toBe('failed');
    expect(m.device(MMIO_NAME).reason).toBe('wrong MagicValue 0x12345678 (expected 0x74726976)');
  });

  it('Version 1 (the legacy interface) is not driven', () => {
    const m = new VirtioMachine({ pci: null, drivers: [echoDriver()], wrapMmio: wrap((o) => (o === VirtioMmio.VERSION ? 1 : undefined)) });
    expect(m.device(MMIO_NAME).reason).toBe('legacy virtio-mmio (Version 1) is not supported');
  });
});

describe('2.5.1 the generation loop is bounded', () => {
  it('a ConfigGeneration that changes on every read makes configuration reads fail with VirtioError', () => {
    let generation = 0;
    const m = new VirtioMachine({ pci: null, drivers: [echoDriver()], wrapMmio: wrap((o) => (o === VirtioMmio.CONFIG_GENERATION ? generation++ : undefined)) });
    const c = echoOf(m.vdev(MMIO_NAME));
    expect(() => c.key()).toThrow(VirtioError);
    expect(() => c.vdev.config8(EchoConfig.KEY)).toThrow(/changed on 64 reads in a row/);
    expect(c.vdev.counters.configRetries).toBe(128);
  });
});
