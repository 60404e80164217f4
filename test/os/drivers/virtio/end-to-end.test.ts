// The virtio transports end to end: the driver side (src/os/drivers/virtio) against the device
// side (src/hw/virtio) with the echo device, over virtio-mmio (4.2) and virtio-pci (4.1), with
// and without VIRTIO_F_EVENT_IDX: the initialization sequence (3.1.1), many requests with
// their data checked, and exact counts of notifications sent and suppressed in both
// directions (2.7.7 Used Buffer Notification Suppression, 2.7.10 Available Buffer
// Notification Suppression).

import { describe, expect, it } from 'vitest';
import { featureBit, VirtioFeature } from '../../../../src/formats/virtio/features.js';
import { DeviceStatus } from '../../../../src/formats/virtio/status.js';
import { DescFlags } from '../../../../src/formats/virtio/split-ring.js';
import type { VirtioDevice } from '../../../../src/os/drivers/virtio/index.js';
import { ECHO_F_XOR, EchoDevice } from '../../../hw/virtio/echo-device.js';
import { echoDriver, echoOf } from './echo-driver.js';
import { MMIO_NAME, PCI_NAME, VirtioMachine, type VirtioMachineOptions } from './machine.js';

const LIVE = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK;
const F = (bit: number) => featureBit(bit);

/** A deterministic PRNG (mulberry32) for request sizes and batch lengths. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRANSPORTS = [
  { name: 'virtio-mmio', device: MMIO_NAME, only: { pci: null } as VirtioMachineOptions },
  { name: 'virtio-pci (MSI-X)', device: PCI_NAME, only: { mmio: null } as VirtioMachineOptions },
];

function machine(t: (typeof TRANSPORTS)[number], o: VirtioMachineOptions & { eventIdx?: boolean; mode?: 'immediate' | 'deferred'; key?: number; queueSize?: number } = {}): { m: VirtioMachine; vdev: VirtioDevice; echo: EchoDevice } {
  const spec = { echo: { queueSize: o.queueSize ?? 16, mode: o.mode }, parameters: { eventIdx: o.eventIdx ?? true } };
  const m = new VirtioMachine({ ...t.only, ...(t.device === MMIO_NAME ? { mmio: spec } : { pci: spec }), drivers: [echoDriver({ key: o.key })], ...o });
  const vdev = m.vdev(t.device);
  const echo = t.device === MMIO_NAME ? m.mmioEcho : m.pciEcho;
  return { m, vdev, echo };
}

describe('3.1.1 Device Initialization through the virtio bus', () => {
  for (const t of TRANSPORTS) {
    it(`${t.name}: ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue setup, DRIVER_OK; the driver bound`, () => {
      const { m, vdev, echo } = machine(t);
      expect(m.device(t.device).state).toBe('bound');
      expect(vdev.status).toBe(LIVE);
      expect(vdev.driverName).toBe('echo');
      expect(vdev.features).toBe(ECHO_F_XOR | F(VirtioFeature.VERSION_1) | F(VirtioFeature.ACCESS_PLATFORM) | F(VirtioFeature.EVENT_IDX) | F(VirtioFeature.INDIRECT_DESC) | F(VirtioFeature.RING_RESET));
      expect(echo.calls.accepted).toEqual([vdev.features]);
      expect(echo.calls.start).toBe(1);
      expect(vdev.queues[0]?.size).toBe(16);
      expect(m.virtio.devices).toEqual([vdev]);
      expect(m.kernel.log.records.some((r) => r.source === t.device && /virtio device type 63 device over/.test(r.message))).toBe(true);
    });
  }

  it('the virtio-pci device uses MSI-X: vector 0 for configuration changes, vector 1 for its queue', () => {
    const { m, vdev } = machine(TRANSPORTS[1]);
    expect(vdev.transport.interruptMode).toBe('msix');
    expect(m.pci?.msixEnabled).toBe(true);
    expect(m.pci?.common.configVector).toBe(0);
    expect([...(m.pci?.common.queueVectors ?? [])]).toEqual([1]);
  });

  it('the bus accepts only the reserved features it is told to (here not EVENT_IDX nor INDIRECT_DESC)', () => {
    const m = new VirtioMachine({ pci: null, drivers: [echoDriver()], transportFeatures: F(VirtioFeature.VERSION_1) | F(VirtioFeature.ACCESS_PLATFORM) });
    expect(m.vdev(MMIO_NAME).features).toBe(ECHO_F_XOR | F(VirtioFeature.VERSION_1) | F(VirtioFeature.ACCESS_PLATFORM));
  });

  it('FEATURES_OK reading back clear fails the probe and sets FAILED', () => {
    const m = new VirtioMachine({ pci: null, mmio: { echo: { refuseFeatures: true } }, drivers: [echoDriver()] });
    const dev = m.device(MMIO_NAME);
    expect(dev.state).toBe('failed');
    expect(dev.reason).toMatch(/refused features .* \(FEATURES_OK reads back clear\)/);
    expect(m.mmio?.core.deviceStatus).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FAILED);
  });

  it('a device without a registered virtio driver is deferred with ACKNOWLEDGE set, and binds once one registers', () => {
    const m = new VirtioMachine({ pci: null });
    const dev = m.device(MMIO_NAME);
    expect(dev.state).toBe('deferred');
    expect(dev.reason).toBe('no virtio driver for device id 63 (device type 63)');
    expect(m.mmio?.core.deviceStatus).toBe(DeviceStatus.ACKNOWLEDGE);
    m.virtio.register(echoDriver());
    m.kernel.drivers.probeAll();
    expect(dev.state).toBe('bound');
    expect(m.vdev(MMIO_NAME).status).toBe(LIVE);
    expect(m.virtio.devices).toHaveLength(1);
  });

  it('4.2.3.1.1: a virtio-mmio slot with DeviceID 0 is bound without a device and without an error', () => {
    const m = new VirtioMachine({ pci: null, mmio: { model: Object.assign(new EchoDevice(), { deviceId: 0 }) }, drivers: [echoDriver()] });
    expect(m.device(MMIO_NAME).state).toBe('bound');
    expect(m.virtio.devices).toEqual([]);
    expect(m.kernel.log.records.filter((r) => r.level === 'error')).toEqual([]);
    expect(m.mmio?.core.deviceStatus).toBe(0);
  });

  it('a driver that fails its probe leaves FAILED set; one that defers leaves the device reset', () => {
    const failing = new VirtioMachine({ pci: null, drivers: [{ name: 'bad', deviceIds: [63], probe: () => ({ error: 'no' }) }] });
    expect(failing.device(MMIO_NAME).state).toBe('failed');
    expect(failing.mmio?.core.deviceStatus ?? 0).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.FAILED);
    const throwing = new VirtioMachine({
      pci: null,
      drivers: [
        {
          name: 'throws',
          deviceIds: [63],
          probe: (vdev) => {
            vdev.setUpQueue(7);
            return 'bound';
          },
        },
      ],
    });
    expect(throwing.device(MMIO_NAME).reason).toBe(`${MMIO_NAME}: queue 7 does not exist`);
    expect((throwing.mmio?.core.deviceStatus ?? 0) & DeviceStatus.FAILED).toBe(DeviceStatus.FAILED);
    const waiting = new VirtioMachine({ pci: null, drivers: [{ name: 'later', deviceIds: [63], probe: () => ({ defer: 'not yet' }) }] });
    expect(waiting.device(MMIO_NAME).state).toBe('deferred');
    expect(waiting.mmio?.core.deviceStatus).toBe(0);
  });

  it('without an interrupt in the device tree the virtio-mmio device is polled', () => {
    const m = new VirtioMachine({ pci: null, mmioIrq: false, drivers: [echoDriver()] });
    const vdev = m.vdev(MMIO_NAME);
    expect(vdev.transport.interruptMode).toBe('polled');
    const c = echoOf(vdev);
    c.add([1, 2, 3]);
    c.kick();
    m.kernel.poll();
    expect(c.completions).toEqual([]);
    vdev.poll();
    expect(c.completions).toEqual([{ slot: 0, length: 3, data: [1, 2, 3] }]);
    expect(vdev.counters).toMatchObject({ interrupts: 0, polls: 1 });
  });

  it('without an MSI controller the virtio-pci device is polled through its ISR (this kernel routes no INTx)', () => {
    const m = new VirtioMachine({ mmio: null, msi: false, drivers: [echoDriver()] });
    const vdev = m.vdev(PCI_NAME);
    expect(vdev.transport.interruptMode).toBe('polled');
    expect(m.pci?.msixEnabled).toBe(false);
    const c = echoOf(vdev);
    c.add([4, 5]);
    c.kick();
    expect(m.pci?.intx.asserted).toBe(true);
    vdev.poll();
    expect(c.completions).toEqual([{ slot: 0, length: 2, data: [4, 5] }]);
    expect(m.pci?.intx.asserted).toBe(false);
  });
});

describe('many requests, data checked, exact notification counts (an immediate device, one poll per batch)', () => {
  for (const t of TRANSPORTS) {
    for (const eventIdx of [true, false]) {
      it(`${t.name}, ${eventIdx ? 'with' : 'without'} EVENT_IDX`, () => {
        // Up to 8 requests of up to 6 descriptors each fit a queue of 64.
        const { m, vdev, echo } = machine(t, { eventIdx, key: 0x5a5a_5a5a, queueSize: 64 });
        expect(vdev.hasFeature(VirtioFeature.EVENT_IDX)).toBe(eventIdx);
        const c = echoOf(vdev);
        const random = prng(eventIdx ? 7 : 11);
        const expected: number[][] = [];
        let batches = 0;
        while (expected.length < 600) {
          const n = 1 + Math.floor(random() * 8);
          for (let i = 0; i < n; i++) {
            const payload = Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256));
            expect(c.add(payload, 1 + Math.floor(random() * 3))).toBe(true);
            expected.push(payload.map((b) => b ^ 0x5a));
          }
          expect(c.kick()).toBe(true);
          batches++;
          m.kernel.poll();
          expect(c.completions).toHaveLength(expected.length);
        }
        const total = expected.length;
        expect(c.completions.map((x) => x.data)).toEqual(expected);
        expect(c.completions.every((x, i) => x.length === expected[i].length)).toBe(true);
        const vq = vdev.queues[0]!;
        const dq = (t.device === MMIO_NAME ? m.mmio?.core : m.pci?.core)!.queues[0];
        // The device takes every batch at once, so it always wants the next notification.
        expect(vq.counters).toMatchObject({ added: total, completed: total, kicks: batches, kicksSuppressed: 0 });
        expect(dq.counters.kicks).toBe(batches);
        expect(dq.counters.pushed).toBe(total);
        // With EVENT_IDX the driver's used_event asks for one interrupt per batch; without it, every buffer notifies.
        expect(dq.counters.notificationsSent).toBe(eventIdx ? batches : total);
        expect(dq.counters.notificationsSuppressed).toBe(eventIdx ? total - batches : 0);
        // One interrupt taken per poll either way (a level held, or one MSI identity pending).
        expect(vdev.counters.interrupts).toBe(batches);
        expect(vq.counters.notifications).toBe(batches);
        expect(echo.requests).toBe(total);
        expect(c.bytes()).toBe(BigInt(expected.reduce((s, p) => s + p.length, 0)));
      });
    }
  }
});

describe('notification suppression in both directions with a device that works later (exact counts)', () => {
  for (const t of TRANSPORTS) {
    for (const eventIdx of [true, false]) {
      it(`${t.name}, ${eventIdx ? 'avail_event / used_event' : 'VIRTQ_USED_F_NO_NOTIFY / VIRTQ_AVAIL_F_NO_INTERRUPT'}`, () => {
        const { m, vdev, echo } = machine(t, { eventIdx, mode: 'deferred' });
        const c = echoOf(vdev);
        const vq = vdev.queues[0]!;
        const dq = (t.device === MMIO_NAME ? m.mmio?.core : m.pci?.core)!.queues[0];
        // Five requests, each kicked: the first notification makes the device busy; it asks
        // for no more (NO_NOTIFY, or avail_event left behind), so the other four are suppressed.
        const kicked: boolean[] = [];
        for (let i = 0; i < 5; i++) {
          c.add([i]);
          kicked.push(c.kick());
        }
        expect(kicked).toEqual([true, false, false, false, false]);
        expect(vq.counters).toMatchObject({ kicks: 1, kicksSuppressed: 4 });
        expect(dq.counters.kicks).toBe(1);
        // The device completes all five: with used_event 0 only the first is notified; with flags 0 all are.
        echo.service();
        expect(dq.counters.notificationsSent).toBe(eventIdx ? 1 : 5);
        expect(dq.counters.notificationsSuppressed).toBe(eventIdx ? 4 : 0);
        m.kernel.poll();
        expect(c.completions.map((x) => x.data[0])).toEqual([0, 1, 2, 3, 4]);
        // The device is idle and wants notifications again: the next kick goes through.
        c.add([5]);
        expect(c.kick()).toBe(true);
        echo.service();
        m.kernel.poll();
        // The driver turns used buffer interrupts off: the next completions are all suppressed.
        vq.disableCallbacks();
        const sentBefore = dq.counters.notificationsSent;
        for (let i = 0; i < 3; i++) c.add([10 + i]);
        c.kick();
        echo.service();
        expect(dq.counters.notificationsSent).toBe(sentBefore);
        expect(dq.counters.notificationsSuppressed).toBe((eventIdx ? 4 : 0) + 3);
        // Turning them back on reports the buffers already waiting (no interrupt will come for them).
        expect(vq.enableCallbacks()).toBe(true);
        c.collect();
        expect(c.completions.map((x) => x.data[0])).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12]);
        expect(vq.enableCallbacks()).toBe(false);
      });
    }
  }
});

describe('2.5 Device Configuration Space, and configuration change notifications', () => {
  for (const t of TRANSPORTS) {
    it(`${t.name}: configuration reads retry while the generation changes; a change reaches the driver's handler`, () => {
      const { m, vdev, echo } = machine(t, { key: 0x1234_5678 });
      const c = echoOf(vdev);
      expect(c.key()).toBe(0x1234_5678);
      expect(echo.key).toBe(0x1234_5678);
      echo.bump(0x1_0000_0003n);
      expect(vdev.counters.configRetries).toBe(0);
      expect(c.bytes()).toBe(0x1_0000_0003n);
      expect(vdev.counters.configRetries).toBe(1);
      expect(c.bytes()).toBe(0x1_0000_0003n);
      expect(vdev.counters.configRetries).toBe(1);
      expect(c.configChanges).toBe(0);
      m.kernel.poll();
      expect(c.configChanges).toBe(1);
      expect(vdev.counters.configChanges).toBe(1);
    });

    it(`${t.name}: a malformed ring makes the device ask for a reset; the driver sees DEVICE_NEEDS_RESET on the notification`, () => {
      const { m, vdev } = machine(t);
      const c = echoOf(vdev);
      const vq = vdev.queues[0]!;
      c.add([1, 2]);
      // Corrupt descriptor 0 behind the driver's back: it now chains to itself.
      m.memory.write(vq.ring.paddr + 12n, 4, BigInt(DescFlags.NEXT));
      c.kick();
      m.kernel.poll();
      expect(vdev.needsReset).toBe(true);
      expect(vdev.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
      expect(m.kernel.log.records.some((r) => r.level === 'warn' && /needs a reset/.test(r.message))).toBe(true);
      expect(c.completions).toEqual([]);
      // Recovery: reset and set the device up again through the bus.
      expect(m.virtio.probe(vdev)).toBe('bound');
      const again = echoOf(vdev);
      again.add([3]);
      again.kick();
      m.kernel.poll();
      expect(again.completions).toEqual([{ slot: 0, length: 1, data: [3] }]);
      expect(vdev.needsReset).toBe(false);
    });
  }
});

describe('2.6.1 Virtqueue Reset and 2.7.5.3 indirect descriptors, from the driver', () => {
  for (const t of TRANSPORTS) {
    it(`${t.name}: resetting the queue returns the buffers still outstanding; the queue can be set up again`, () => {
      const { m, vdev } = machine(t, { mode: 'deferred' });
      const c = echoOf(vdev);
      c.add([1]);
      c.add([2]);
      c.kick();
      expect(vdev.resetQueue(0)).toEqual([0, 1]);
      expect(vdev.queues[0]).toBeNull();
      const vq = vdev.setUpQueue<number>(0);
      expect(vq.freeDescriptors).toBe(16);
      expect((t.device === MMIO_NAME ? m.mmio?.core : m.pci?.core)?.counters.queueResets).toBe(1);
    });

    it(`${t.name}: with indirect tables a chain of several segments takes one ring descriptor`, () => {
      const m = new VirtioMachine({ ...t.only, drivers: [echoDriver({ indirectSegments: 8 })] });
      const vdev = m.vdev(t.device);
      const c = echoOf(vdev);
      const vq = vdev.queues[0]!;
      for (let i = 0; i < 4; i++) expect(c.add([i, i + 1, i + 2, i + 3, i + 4, i + 5], 3)).toBe(true);
      expect(vq.freeDescriptors).toBe(vq.size - 4);
      c.kick();
      m.kernel.poll();
      expect(c.completions.map((x) => x.data)).toEqual([0, 1, 2, 3].map((i) => [i, i + 1, i + 2, i + 3, i + 4, i + 5]));
      expect(vq.counters.indirect).toBe(4);
      expect(vq.freeDescriptors).toBe(vq.size);
    });
  }
});
