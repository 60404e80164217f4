// Conformance of the virtio-mmio transport, version 2 (VIRTIO 1.3 section 4.2.2 "MMIO Device
// Register Layout", 4.2.3 "MMIO-specific Initialization And Device Operation"), and of the
// device status and feature negotiation rules it carries (2.1 "Device Status Field", 2.2
// "Feature Bits", 3.1 "Device Initialization", 2.5 "Device Configuration Space").

import { describe, expect, it } from 'vitest';
import { DirectDmaPort } from '../../../src/devices/dma-port.js';
import { VIRTIO_MMIO_MAGIC, VirtioMmio, VirtioMmioInterrupt } from '../../../src/formats/virtio/mmio.js';
import { DeviceStatus } from '../../../src/formats/virtio/status.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';
import { DATA, DESC, DeviceBench, F } from './bench.js';
import { ECHO_DEVICE_ID, ECHO_F_XOR, EchoConfig } from './echo-device.js';

const S = DeviceStatus;
const LIVE = S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK;

function echoRequest(b: DeviceBench, payload: number[]): bigint {
  b.bytes(DATA, payload);
  b.desc(0, DATA, payload.length, 1, 1);
  b.desc(1, DATA + 0x100n, payload.length, 2);
  b.publish(0);
  b.kick();
  return DATA + 0x100n;
}

describe('4.2.2 MMIO Device Register Layout: identification', () => {
  it('MagicValue "virt", Version 2, DeviceID, VendorID (a parameter, default 0x1af4)', () => {
    const b = new DeviceBench();
    expect(b.read(VirtioMmio.MAGIC_VALUE)).toBe(VIRTIO_MMIO_MAGIC);
    expect(b.read(VirtioMmio.MAGIC_VALUE)).toBe(0x74726976);
    expect(b.read(VirtioMmio.VERSION)).toBe(2);
    expect(b.read(VirtioMmio.DEVICE_ID)).toBe(ECHO_DEVICE_ID);
    expect(b.read(VirtioMmio.VENDOR_ID)).toBe(0x1af4);
    expect(new DeviceBench({ vendorId: 0x554d4551 }).read(VirtioMmio.VENDOR_ID)).toBe(0x554d4551);
  });

  it('read-only registers ignore writes; write-only registers read 0; no shared memory region (SHMLen/SHMBase all ones)', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.MAGIC_VALUE, 0);
    b.write(VirtioMmio.DEVICE_ID, 5);
    expect(b.read(VirtioMmio.MAGIC_VALUE)).toBe(VIRTIO_MMIO_MAGIC);
    expect(b.read(VirtioMmio.DEVICE_ID)).toBe(ECHO_DEVICE_ID);
    b.write(VirtioMmio.QUEUE_SEL, 0);
    for (const r of [VirtioMmio.DEVICE_FEATURES_SEL, VirtioMmio.DRIVER_FEATURES, VirtioMmio.QUEUE_SEL, VirtioMmio.QUEUE_SIZE, VirtioMmio.QUEUE_NOTIFY, VirtioMmio.INTERRUPT_ACK, VirtioMmio.QUEUE_DESC_LOW]) expect(b.read(r)).toBe(0);
    b.write(VirtioMmio.SHM_SEL, 0);
    for (const r of [VirtioMmio.SHM_LEN_LOW, VirtioMmio.SHM_LEN_HIGH, VirtioMmio.SHM_BASE_LOW, VirtioMmio.SHM_BASE_HIGH]) expect(b.read(r)).toBe(0xffff_ffff);
  });

  it('control registers answer only aligned 32-bit accesses (others read 0, are ignored, and are counted)', () => {
    const b = new DeviceBench();
    expect(b.transport.mmioRead(VirtioMmio.MAGIC_VALUE, 2)).toBe(0n);
    expect(b.transport.mmioRead32(VirtioMmio.MAGIC_VALUE + 2)).toBe(0);
    b.transport.mmioWrite(VirtioMmio.STATUS, 1, 1n);
    expect(b.status()).toBe(0);
    expect(b.transport.badAccesses).toBe(3);
    expect(b.transport.mmioRead(VirtioMmio.VERSION, 4)).toBe(2n);
  });
});

describe('4.2.2 DeviceFeatures / DriverFeatures: 32-bit words selected by *FeaturesSel', () => {
  it('DeviceFeatures shows bits 0-31 for DeviceFeaturesSel 0, 32-63 for 1, and 0 beyond', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.DEVICE_FEATURES_SEL, 0);
    // ECHO_F_XOR (0), INDIRECT_DESC (28), EVENT_IDX (29)
    expect(b.read(VirtioMmio.DEVICE_FEATURES)).toBe((1 | (1 << 28) | (1 << 29)) >>> 0);
    b.write(VirtioMmio.DEVICE_FEATURES_SEL, 1);
    // VERSION_1 (32), ACCESS_PLATFORM (33), RING_RESET (40)
    expect(b.read(VirtioMmio.DEVICE_FEATURES)).toBe(1 | 2 | (1 << 8));
    b.write(VirtioMmio.DEVICE_FEATURES_SEL, 2);
    expect(b.read(VirtioMmio.DEVICE_FEATURES)).toBe(0);
  });

  it('the transport offers only the reserved bits its parameters enable, and always VERSION_1', () => {
    const b = new DeviceBench({ eventIdx: false, indirectDesc: false, ringReset: false, accessPlatform: false });
    expect(b.core.offered).toBe(ECHO_F_XOR | F.VERSION_1);
  });

  it('the driver writes both halves; FEATURES_OK hands the joined set to the model', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER);
    b.setDriverFeatures(F.VERSION_1 | F.EVENT_IDX | ECHO_F_XOR);
    b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    expect(b.status()).toBe(S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    expect(b.echo.calls.accepted).toEqual([F.VERSION_1 | F.EVENT_IDX | ECHO_F_XOR]);
    expect(b.core.features).toBe(F.VERSION_1 | F.EVENT_IDX | ECHO_F_XOR);
    // 3.1.1 step 5: no new feature bits after FEATURES_OK.
    b.setDriverFeatures(F.VERSION_1);
    expect(b.core.features).toBe(F.VERSION_1 | F.EVENT_IDX | ECHO_F_XOR);
  });
});

describe('2.2.2 / 3.1.1: FEATURES_OK is refused (reads back clear) when the features are not acceptable', () => {
  const cases: { name: string; features: bigint; refuse?: boolean }[] = [
    { name: 'the model refuses the set', features: F.VERSION_1, refuse: true },
    { name: 'the driver accepted a bit the device did not offer', features: F.VERSION_1 | (1n << 5n) },
    { name: 'the driver did not accept VIRTIO_F_VERSION_1 (a non-transitional device)', features: ECHO_F_XOR },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const b = new DeviceBench({ echo: { refuseFeatures: c.refuse } });
      b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER);
      b.setDriverFeatures(c.features);
      b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
      expect(b.status()).toBe(S.ACKNOWLEDGE | S.DRIVER);
      expect(b.core.counters.featuresRefused).toBe(1);
      expect(b.core.features).toBe(0n);
    });
  }

  it('DRIVER_OK after a refused FEATURES_OK: DEVICE_NEEDS_RESET and a configuration change notification; the model never starts', () => {
    const b = new DeviceBench({ echo: { refuseFeatures: true } });
    b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER);
    b.setDriverFeatures(F.VERSION_1);
    b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    expect(b.status()).toBe(S.ACKNOWLEDGE | S.DRIVER | S.DRIVER_OK | S.DEVICE_NEEDS_RESET);
    expect(b.interruptStatus()).toBe(VirtioMmioInterrupt.CONFIG_CHANGE);
    expect(b.echo.calls.start).toBe(0);
  });

  it('a successful initialization starts the model once, at DRIVER_OK', () => {
    const b = new DeviceBench();
    expect(b.start()).toBe(LIVE);
    expect(b.echo.calls.start).toBe(1);
  });
});

describe('4.2.2 Queue registers: QueueSel, QueueSizeMax, QueueSize, QueueReady, Queue{Desc,Driver,Device}{Low,High}', () => {
  it('QueueSizeMax is the maximum of the selected queue, 0 for a queue that does not exist', () => {
    const b = new DeviceBench({ echo: { queueSize: 256, queues: 2 } });
    b.write(VirtioMmio.QUEUE_SEL, 1);
    expect(b.read(VirtioMmio.QUEUE_SIZE_MAX)).toBe(256);
    b.write(VirtioMmio.QUEUE_SEL, 2);
    expect(b.read(VirtioMmio.QUEUE_SIZE_MAX)).toBe(0);
    b.write(VirtioMmio.QUEUE_READY, 1);
    expect(b.read(VirtioMmio.QUEUE_READY)).toBe(0);
  });

  it('QueueReady reads back 1 once the queue is configured and enabled; the addresses reach the queue as 64-bit values', () => {
    const b = new DeviceBench();
    b.start();
    b.write(VirtioMmio.QUEUE_SEL, 0);
    expect(b.read(VirtioMmio.QUEUE_READY)).toBe(1);
    const q = b.queue;
    expect([q.size, q.descLo, q.descHi, q.driverLo, q.deviceLo]).toEqual([8, 0x8000_0000, 0, 0x8000_1000, 0x8000_2000]);
  });

  it('writes to QueueSize and the area registers are ignored while the queue is ready', () => {
    const b = new DeviceBench();
    b.start();
    b.write(VirtioMmio.QUEUE_SIZE, 4);
    b.write(VirtioMmio.QUEUE_DESC_LOW, 0x1234_0000);
    expect(b.queue.size).toBe(8);
    expect(b.queue.descLo).toBe(0x8000_0000);
  });

  it('QueueReady = 0 stops the device from using the queue', () => {
    const b = new DeviceBench();
    b.start();
    b.write(VirtioMmio.QUEUE_SEL, 0);
    b.write(VirtioMmio.QUEUE_READY, 0);
    expect(b.read(VirtioMmio.QUEUE_READY)).toBe(0);
    echoRequest(b, [1, 2]);
    expect(b.usedIdx()).toBe(0);
    expect(b.core.counters.spuriousNotifications).toBe(1);
  });

  const bad: { name: string; size: number; desc?: bigint; avail?: bigint; used?: bigint; error: RegExp }[] = [
    { name: 'a size that is not a power of two', size: 6, error: /size 6 is not a power of two from 1 to 8/ },
    { name: 'a size above QueueSizeMax', size: 16, error: /size 16 is not a power of two from 1 to 8/ },
    { name: 'a size of 0', size: 0, error: /size 0/ },
    { name: 'a descriptor table not 16-byte aligned', size: 8, desc: DESC + 8n, error: /descriptor table is not 16-byte aligned/ },
    { name: 'an available ring not 2-byte aligned', size: 8, avail: 0x8000_1001n, error: /available ring is not 2-byte aligned/ },
    { name: 'a used ring not 4-byte aligned', size: 8, used: 0x8000_2002n, error: /used ring is not 4-byte aligned/ },
  ];
  for (const c of bad) {
    it(`QueueReady = 1 with ${c.name} (2.7 alignment table): DEVICE_NEEDS_RESET, the queue stays off`, () => {
      const b = new DeviceBench();
      b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER);
      b.setDriverFeatures(F.VERSION_1);
      b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
      b.setUpQueue(0, c.size, c.desc, c.avail, c.used);
      expect(b.read(VirtioMmio.QUEUE_READY)).toBe(0);
      expect(b.status() & S.DEVICE_NEEDS_RESET).toBe(S.DEVICE_NEEDS_RESET);
      expect(b.core.errors[0]).toMatch(c.error);
    });
  }

  it('QueueReset (VIRTIO_F_RING_RESET negotiated) resets the selected queue: it reads 0, QueueReady reads 0, the model is told', () => {
    const b = new DeviceBench();
    b.start(F.VERSION_1 | F.RING_RESET);
    echoRequest(b, [1]);
    b.write(VirtioMmio.QUEUE_SEL, 0);
    b.write(VirtioMmio.QUEUE_RESET, 1);
    expect(b.read(VirtioMmio.QUEUE_RESET)).toBe(0);
    expect(b.read(VirtioMmio.QUEUE_READY)).toBe(0);
    expect(b.echo.calls.queueReset).toBe(1);
    expect(b.read(VirtioMmio.QUEUE_SIZE_MAX)).toBe(8);
    // Re-enabled, its indices start from 0 again.
    b.memory.writeBytes(0x8000_1000n, new Uint8Array(0x2000));
    b.setUpQueue(0, 8);
    echoRequest(b, [2]);
    expect(b.usedIdx()).toBe(1);
  });

  it('QueueReset without VIRTIO_F_RING_RESET negotiated does nothing', () => {
    const b = new DeviceBench();
    b.start();
    b.write(VirtioMmio.QUEUE_RESET, 1);
    expect(b.read(VirtioMmio.QUEUE_READY)).toBe(1);
    expect(b.core.counters.queueResets).toBe(0);
  });

  it('QueueNotify for a queue that does not exist is ignored and counted', () => {
    const b = new DeviceBench();
    b.start();
    b.kick(5);
    expect(b.core.counters.spuriousNotifications).toBe(1);
    expect(b.echo.calls.notified).toBe(0);
  });
});

describe('4.2.2 InterruptStatus / InterruptACK and 4.2.3.4: the interrupt is asserted while InterruptStatus != 0', () => {
  it('a used buffer sets bit 0 and raises the wire; a configuration change sets bit 1; acknowledging both lowers it', () => {
    const b = new DeviceBench();
    b.start();
    echoRequest(b, [1, 2, 3]);
    expect(b.interruptStatus()).toBe(VirtioMmioInterrupt.USED_BUFFER);
    b.echo.bump(3n);
    expect(b.interruptStatus()).toBe(VirtioMmioInterrupt.USED_BUFFER | VirtioMmioInterrupt.CONFIG_CHANGE);
    expect(b.irq.rises).toBe(1);
    b.ack(VirtioMmioInterrupt.USED_BUFFER);
    expect(b.irq.asserted).toBe(true);
    b.ack(VirtioMmioInterrupt.CONFIG_CHANGE);
    expect(b.irq.asserted).toBe(false);
    expect(b.interruptStatus()).toBe(0);
  });
});

describe('4.2.2 Status: writing 0 resets the device (2.4)', () => {
  it('reset: status 0, InterruptStatus and every QueueReady cleared, features forgotten, the model reset', () => {
    const b = new DeviceBench({ echo: { queues: 2 } });
    b.start(F.VERSION_1 | F.EVENT_IDX);
    b.setUpQueue(1, 8, 0x8001_0000n, 0x8001_1000n, 0x8001_2000n);
    echoRequest(b, [1]);
    const resets = b.echo.calls.reset;
    b.write(VirtioMmio.STATUS, 0);
    expect(b.status()).toBe(0);
    expect(b.interruptStatus()).toBe(0);
    expect(b.irq.asserted).toBe(false);
    for (const q of [0, 1]) {
      b.write(VirtioMmio.QUEUE_SEL, q);
      expect(b.read(VirtioMmio.QUEUE_READY)).toBe(0);
    }
    expect(b.core.features).toBe(0n);
    expect(b.core.queues[0].size).toBe(8);
    expect(b.echo.calls.reset).toBe(resets + 1);
    expect(b.core.counters.resets).toBe(resets + 1);
  });

  it('the driver cannot set DEVICE_NEEDS_RESET (a device-owned bit)', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.STATUS, S.ACKNOWLEDGE | S.DEVICE_NEEDS_RESET);
    expect(b.status()).toBe(S.ACKNOWLEDGE);
  });
});

describe('2.5 Device Configuration Space and 4.2.2 ConfigGeneration', () => {
  it('the configuration space at 0x100 takes 8-, 16-, 32- and 64-bit accesses, little-endian; beyond it reads 0', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.CONFIG + EchoConfig.KEY, 0x1122_3344);
    expect(b.read(VirtioMmio.CONFIG + EchoConfig.KEY)).toBe(0x1122_3344);
    expect(b.transport.mmioRead(VirtioMmio.CONFIG + 1, 1)).toBe(0x33n);
    expect(b.transport.mmioRead(VirtioMmio.CONFIG + 2, 2)).toBe(0x1122n);
    b.echo.bytes = 0x1_0000_0002n;
    expect(b.transport.mmioRead(VirtioMmio.CONFIG + EchoConfig.BYTES, 8)).toBe(0x1_0000_0002n);
    expect(b.read(VirtioMmio.CONFIG + 0x40)).toBe(0);
  });

  it('ConfigGeneration changes when a read may see a changed configuration (the generation loop then retries)', () => {
    const b = new DeviceBench();
    b.start();
    const g0 = b.read(VirtioMmio.CONFIG_GENERATION);
    b.read(VirtioMmio.CONFIG + EchoConfig.REQUESTS);
    expect(b.read(VirtioMmio.CONFIG_GENERATION)).toBe(g0);
    b.echo.bump(10n); // changes the configuration space
    const before = b.read(VirtioMmio.CONFIG_GENERATION);
    const lo = b.read(VirtioMmio.CONFIG + EchoConfig.BYTES);
    const after = b.read(VirtioMmio.CONFIG_GENERATION);
    expect(after).not.toBe(before);
    expect(lo).toBe(10);
    const again = b.read(VirtioMmio.CONFIG_GENERATION);
    b.read(VirtioMmio.CONFIG + EchoConfig.BYTES);
    expect(b.read(VirtioMmio.CONFIG_GENERATION)).toBe(again);
    expect(b.interruptStatus()).toBe(VirtioMmioInterrupt.CONFIG_CHANGE);
  });

  it('no configuration change notification before DRIVER_OK', () => {
    const b = new DeviceBench();
    b.echo.context = b.core; // the model changes its configuration before the driver is ready
    b.echo.bump(1n);
    expect(b.interruptStatus()).toBe(0);
  });
});

describe('negotiated features reach the model; chapter 6 VIRTIO_F_ACCESS_PLATFORM selects the port', () => {
  it('ECHO_F_XOR negotiated: the echo XORs with the configured key', () => {
    const b = new DeviceBench();
    b.write(VirtioMmio.CONFIG + EchoConfig.KEY, 0x0000_00ff);
    b.start(F.VERSION_1 | ECHO_F_XOR);
    const into = echoRequest(b, [0x0f, 0xf0]);
    expect(b.readBytes(into, 2)).toEqual([0xf0, 0xf0]);
  });

  it('without ACCESS_PLATFORM accepted the device uses the physical port (a parameter); with it, its own port', () => {
    // The physical port reaches another (empty) RAM, so that the two paths are told apart.
    const physical = new DirectDmaPort(new SystemBus(new PhysicalMemory()));
    const without = new DeviceBench({ physicalPort: physical });
    without.start(F.VERSION_1);
    echoRequest(without, [1]);
    expect(without.port.counters.reads).toBe(0);
    expect(physical.counters.reads).toBe(1); // the empty available index
    expect(without.usedIdx()).toBe(0);
    const other = new DirectDmaPort(new SystemBus(new PhysicalMemory()));
    const withIt = new DeviceBench({ physicalPort: other });
    withIt.start(F.VERSION_1 | F.ACCESS_PLATFORM);
    echoRequest(withIt, [1]);
    expect(withIt.usedIdx()).toBe(1);
    expect(other.counters.reads).toBe(0);
  });
});
