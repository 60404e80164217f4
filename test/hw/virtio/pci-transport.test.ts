// Conformance of the virtio-pci modern transport (VIRTIO 1.3 section 4.1 "Virtio Over PCI
// Bus"): discovery ids (4.1.2), the vendor-specific capability chain (4.1.4), the common
// configuration structure (4.1.4.3), notifications (4.1.4.4), the ISR status and INTx
// (4.1.4.5), MSI-X vector configuration (4.1.5.1.2) with the MSI-X table and PBA (PCIe Base
// 7.7.2), and the PCI configuration access capability (4.1.4.9).

import { describe, expect, it } from 'vitest';
import { DirectDmaPort } from '../../../src/devices/dma-port.js';
import { PciCfg, PciCommand, PciStatus, PcieHostBridge } from '../../../src/devices/pcie/index.js';
import { CommonCfg, VIRTIO_MSI_NO_VECTOR, VirtioPciCapType } from '../../../src/formats/virtio/pci.js';
import { DescFlags } from '../../../src/formats/virtio/split-ring.js';
import { DeviceStatus } from '../../../src/formats/virtio/status.js';
import { VirtioPciConfigurationError, VirtioPciFunction, VirtioPciLayout, type VirtioPciFunctionOptions } from '../../../src/hw/virtio/index.js';
import { MsiController } from '../../../src/sim/irq.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';
import { F } from './bench.js';
import { EchoDevice, EchoConfig, type EchoDeviceOptions } from './echo-device.js';

const IMSIC = 0x2800_0000n;
const RING = 0x8000_0000n;
const DATA = 0x8010_0000n;
const S = DeviceStatus;
const LIVE = S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK;
const { ISR, NOTIFY, DEVICE } = VirtioPciLayout;

class PciBench {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory);
  readonly imsic = new MsiController('imsic', IMSIC, 255);
  readonly bridge = new PcieHostBridge({ upstream: new DirectDmaPort(this.bus) });
  readonly echo: EchoDevice;
  readonly fn: VirtioPciFunction;
  private availIdx = 0;

  constructor(o: Partial<VirtioPciFunctionOptions> & { echo?: EchoDeviceOptions } = {}) {
    this.bus.mmio.map('imsic', IMSIC, 0x1000n, this.imsic);
    this.echo = new EchoDevice({ queueSize: 8, ...o.echo });
    this.fn = new VirtioPciFunction({ ...o, model: o.model ?? this.echo });
    this.bridge.attach(this.fn, 1, 0);
    this.fn.configWrite(PciCfg.COMMAND, 2, PciCommand.MEMORY_SPACE | PciCommand.BUS_MASTER);
  }

  read(offset: number, size: 1 | 2 | 4 = 4): number {
    return Number(this.fn.bars[VirtioPciLayout.VIRTIO_BAR]!.device.mmioRead(offset, size));
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.fn.bars[VirtioPciLayout.VIRTIO_BAR]!.device.mmioWrite(offset, size, BigInt(value));
  }

  msixWrite(offset: number, value: number): void {
    this.fn.bars[VirtioPciLayout.MSIX_BAR]!.device.mmioWrite(offset, 4, BigInt(value));
  }

  msixRead(offset: number): number {
    return Number(this.fn.bars[VirtioPciLayout.MSIX_BAR]!.device.mmioRead(offset, 4));
  }

  /** 3.1.1 over the common configuration, queue 0 at RING; returns device_status. */
  start(features: bigint = F.VERSION_1, vector?: number): number {
    this.write(CommonCfg.DEVICE_STATUS, 1, 0);
    this.write(CommonCfg.DEVICE_STATUS, 1, S.ACKNOWLEDGE | S.DRIVER);
    this.write(CommonCfg.DRIVER_FEATURE_SELECT, 4, 0);
    this.write(CommonCfg.DRIVER_FEATURE, 4, Number(features & 0xffff_ffffn));
    this.write(CommonCfg.DRIVER_FEATURE_SELECT, 4, 1);
    this.write(CommonCfg.DRIVER_FEATURE, 4, Number(features >> 32n));
    this.write(CommonCfg.DEVICE_STATUS, 1, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    this.write(CommonCfg.QUEUE_SELECT, 2, 0);
    this.write(CommonCfg.QUEUE_SIZE, 2, 8);
    if (vector !== undefined) this.write(CommonCfg.QUEUE_MSIX_VECTOR, 2, vector);
    this.write(CommonCfg.QUEUE_DESC, 4, Number(RING & 0xffff_ffffn));
    this.write(CommonCfg.QUEUE_DESC + 4, 4, 0);
    this.write(CommonCfg.QUEUE_DRIVER, 4, Number((RING + 0x1000n) & 0xffff_ffffn));
    this.write(CommonCfg.QUEUE_DEVICE, 4, Number((RING + 0x2000n) & 0xffff_ffffn));
    this.write(CommonCfg.QUEUE_ENABLE, 2, 1);
    this.write(CommonCfg.DEVICE_STATUS, 1, LIVE);
    this.availIdx = 0;
    return this.read(CommonCfg.DEVICE_STATUS, 1);
  }

  /** One echo request (descriptors 0 and 1), published and notified through queue 0's notification address. */
  request(payload: number[]): void {
    this.memory.writeBytes(DATA, Uint8Array.from(payload));
    const d = (i: number, addr: bigint, len: number, flags: number, next: number) => {
      const at = RING + BigInt(16 * i);
      this.memory.write(at, 8, addr);
      this.memory.write(at + 8n, 4, BigInt(len));
      this.memory.write(at + 12n, 2, BigInt(flags));
      this.memory.write(at + 14n, 2, BigInt(next));
    };
    d(0, DATA, payload.length, DescFlags.NEXT, 1);
    d(1, DATA + 0x100n, payload.length, DescFlags.WRITE, 0);
    this.memory.write(RING + 0x1004n + BigInt(2 * (this.availIdx % 8)), 2, 0n);
    this.availIdx++;
    this.memory.write(RING + 0x1002n, 2, BigInt(this.availIdx));
    this.write(NOTIFY + this.read(CommonCfg.QUEUE_NOTIFY_OFF, 2) * this.fn.notifyOffMultiplier, 2, 0);
  }

  usedIdx(): number {
    return Number(this.memory.read(RING + 0x2002n, 2));
  }

  /** The capability list: [id, offset] from the capabilities pointer. */
  capabilityList(): [number, number][] {
    const out: [number, number][] = [];
    for (let p = this.fn.configRead(PciCfg.CAPABILITIES_POINTER, 1); p !== 0; p = this.fn.configRead(p + 1, 1)) out.push([this.fn.configRead(p, 1), p]);
    return out;
  }
}

describe('4.1.2 PCI Device Discovery', () => {
  it('vendor 0x1AF4, device 0x1040 + device id, revision >= 1, subsystem id >= 0x40, class (a parameter)', () => {
    const b = new PciBench();
    expect(b.fn.configRead(PciCfg.VENDOR_ID, 2)).toBe(0x1af4);
    expect(b.fn.configRead(PciCfg.DEVICE_ID, 2)).toBe(0x107f);
    expect(b.fn.configRead(PciCfg.REVISION_ID, 1)).toBe(1);
    expect(b.fn.configRead(PciCfg.SUBSYSTEM_VENDOR_ID, 2)).toBe(0x1af4);
    expect(b.fn.configRead(PciCfg.SUBSYSTEM_ID, 2)).toBe(0x40);
    expect(b.fn.configRead(PciCfg.CLASS_CODE + 1, 2)).toBe(0xff00);
    const iommu = new PciBench({ model: Object.assign(new EchoDevice(), { deviceId: 23 }), classCode: 0x080600 });
    expect(iommu.fn.configRead(PciCfg.DEVICE_ID, 2)).toBe(0x1057);
    expect(iommu.fn.configRead(PciCfg.CLASS_CODE + 1, 2)).toBe(0x0806);
  });
});

describe('4.1.4 Virtio Structure PCI Capabilities', () => {
  it('the capability chain: PCI Express, MSI-X, then the vendor capabilities common, ISR, device, notify, PCI configuration access', () => {
    const b = new PciBench();
    const list = b.capabilityList();
    expect(list.map(([id]) => id)).toEqual([0x10, 0x11, 0x09, 0x09, 0x09, 0x09, 0x09]);
    const virtio = list.filter(([id]) => id === 0x09).map(([, p]) => ({
      capLen: b.fn.configRead(p + 2, 1),
      type: b.fn.configRead(p + 3, 1),
      bar: b.fn.configRead(p + 4, 1),
      offset: b.fn.configRead(p + 8, 4),
      length: b.fn.configRead(p + 12, 4),
    }));
    expect(virtio).toEqual([
      { capLen: 16, type: VirtioPciCapType.COMMON_CFG, bar: 4, offset: 0x0000, length: 0x40 },
      { capLen: 16, type: VirtioPciCapType.ISR_CFG, bar: 4, offset: 0x1000, length: 1 },
      { capLen: 16, type: VirtioPciCapType.DEVICE_CFG, bar: 4, offset: 0x2000, length: EchoConfig.SIZE },
      { capLen: 20, type: VirtioPciCapType.NOTIFY_CFG, bar: 4, offset: 0x3000, length: 4 },
      { capLen: 20, type: VirtioPciCapType.PCI_CFG, bar: 0, offset: 0, length: 0 },
    ]);
    // notify_off_multiplier follows the notify capability's 16 bytes.
    expect(b.fn.configRead(b.fn.virtioCaps.notify + 16, 4)).toBe(4);
    // MSI-X: 2 vectors (one queue + configuration), table in BAR1 at 0, PBA after it.
    const msix = b.fn.capabilities.msix;
    expect(b.fn.configRead(msix + 2, 2) & 0x7ff).toBe(1);
    expect(b.fn.configRead(msix + 4, 4)).toBe(1);
    expect(b.fn.configRead(msix + 8, 4)).toBe(32 | 1);
    // The BARs: 32-bit BAR1 of 4 KiB, 64-bit prefetchable BAR4 of 16 KiB.
    expect(b.fn.bars[1]?.size).toBe(0x1000n);
    expect(b.fn.bars[4]).toMatchObject({ size: 0x4000n, is64: true, prefetchable: true });
  });

  it('no device configuration capability when the device has no configuration space; no MSI-X with 0 vectors', () => {
    const b = new PciBench({ model: Object.assign(new EchoDevice(), { configSize: 0 }), msixVectors: 0 });
    const types = b.capabilityList().filter(([id]) => id === 0x09).map(([, p]) => b.fn.configRead(p + 3, 1));
    expect(types).toEqual([VirtioPciCapType.COMMON_CFG, VirtioPciCapType.ISR_CFG, VirtioPciCapType.NOTIFY_CFG, VirtioPciCapType.PCI_CFG]);
    expect(b.fn.capabilities.msix).toBe(0);
    expect(b.fn.bars[1]).toBeNull();
  });

  it('4.1.4.4.1: notify_off_multiplier must be 0 or an even power of two', () => {
    expect(() => new VirtioPciFunction({ model: new EchoDevice(), notifyOffMultiplier: 2 })).toThrow(VirtioPciConfigurationError);
    expect(() => new VirtioPciFunction({ model: new EchoDevice(), notifyOffMultiplier: 12 })).toThrow(VirtioPciConfigurationError);
    expect(new VirtioPciFunction({ model: new EchoDevice(), notifyOffMultiplier: 16 }).notifyOffMultiplier).toBe(16);
  });
});

describe('4.1.4.3 Common configuration structure layout', () => {
  it('features through the select registers; num_queues; queue_size is the maximum after reset, 0 for a missing queue', () => {
    const b = new PciBench({ echo: { queues: 2, queueSize: 128 } });
    b.write(CommonCfg.DEVICE_FEATURE_SELECT, 4, 1);
    expect(b.read(CommonCfg.DEVICE_FEATURE)).toBe(1 | 2 | (1 << 8));
    expect(b.read(CommonCfg.DEVICE_FEATURE_SELECT)).toBe(1);
    expect(b.read(CommonCfg.NUM_QUEUES, 2)).toBe(2);
    b.write(CommonCfg.QUEUE_SELECT, 2, 1);
    expect(b.read(CommonCfg.QUEUE_SIZE, 2)).toBe(128);
    expect(b.read(CommonCfg.QUEUE_NOTIFY_OFF, 2)).toBe(1);
    b.write(CommonCfg.QUEUE_SELECT, 2, 2);
    expect(b.read(CommonCfg.QUEUE_SIZE, 2)).toBe(0);
    b.write(CommonCfg.DRIVER_FEATURE_SELECT, 4, 0);
    b.write(CommonCfg.DRIVER_FEATURE, 4, 0x2000_0001);
    expect(b.read(CommonCfg.DRIVER_FEATURE)).toBe(0x2000_0001);
  });

  it('device_status and config_generation are bytes; queue fields read back what the driver wrote; 64-bit fields in halves', () => {
    const b = new PciBench();
    expect(b.start()).toBe(LIVE);
    expect(b.read(CommonCfg.CONFIG_GENERATION, 1)).toBe(0);
    expect(b.read(CommonCfg.QUEUE_ENABLE, 2)).toBe(1);
    expect(b.read(CommonCfg.QUEUE_DRIVER)).toBe(0x8000_1000);
    expect(b.fn.bars[4]!.device.mmioRead(CommonCfg.QUEUE_DEVICE, 8)).toBe(0x8000_2000n);
    expect(b.read(CommonCfg.DEVICE_STATUS, 2)).toBe(LIVE); // with config_generation 0 above it
    b.write(CommonCfg.DEVICE_STATUS, 2, 0); // a 16-bit write does not match the 8-bit field
    expect(b.read(CommonCfg.DEVICE_STATUS, 1)).toBe(LIVE);
    expect(b.fn.common.badAccesses).toBe(1);
  });

  it('4.1.4.3.2: writing 0 to device_status resets; queue_enable=0 is ignored; the queue registers ignore writes while enabled', () => {
    const b = new PciBench();
    b.start();
    b.write(CommonCfg.QUEUE_ENABLE, 2, 0);
    expect(b.read(CommonCfg.QUEUE_ENABLE, 2)).toBe(1);
    b.write(CommonCfg.QUEUE_SIZE, 2, 4);
    expect(b.read(CommonCfg.QUEUE_SIZE, 2)).toBe(8);
    b.write(CommonCfg.DEVICE_STATUS, 1, 0);
    expect(b.read(CommonCfg.DEVICE_STATUS, 1)).toBe(0);
    expect(b.read(CommonCfg.QUEUE_ENABLE, 2)).toBe(0);
  });

  it('queue_reset (VIRTIO_F_RING_RESET): the queue is reset at once, queue_reset and queue_enable read 0', () => {
    const b = new PciBench();
    b.start(F.VERSION_1 | F.RING_RESET, 0);
    b.write(CommonCfg.QUEUE_RESET, 2, 1);
    expect(b.read(CommonCfg.QUEUE_RESET, 2)).toBe(0);
    expect(b.read(CommonCfg.QUEUE_ENABLE, 2)).toBe(0);
    expect(b.read(CommonCfg.QUEUE_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    expect(b.echo.calls.queueReset).toBe(1);
  });

  it('4.1.4.3.2: config_generation changes after the driver read a configuration that changed', () => {
    const b = new PciBench();
    b.start();
    b.echo.bump(1n);
    const before = b.read(CommonCfg.CONFIG_GENERATION, 1);
    b.read(DEVICE + EchoConfig.BYTES);
    expect(b.read(CommonCfg.CONFIG_GENERATION, 1)).toBe((before + 1) & 0xff);
  });

  it('the device configuration structure is the model configuration space (1-, 2-, 4-byte accesses)', () => {
    const b = new PciBench();
    b.write(DEVICE + EchoConfig.KEY, 4, 0xa1b2_c3d4);
    expect(b.read(DEVICE + EchoConfig.KEY + 1, 1)).toBe(0xc3);
    expect(b.read(DEVICE + EchoConfig.KEY + 2, 2)).toBe(0xa1b2);
    expect(b.read(DEVICE + 0x100)).toBe(0);
  });
});

describe('4.1.4.4 Notification structure layout', () => {
  it('a write at queue_notify_off * notify_off_multiplier notifies that queue; other offsets are ignored', () => {
    const b = new PciBench({ echo: { queues: 2 }, notifyOffMultiplier: 16 });
    b.start();
    b.write(NOTIFY + 16, 2, 1);
    expect(b.fn.core.queues[1].counters.kicks).toBe(1);
    b.write(NOTIFY + 8, 2, 0);
    expect(b.fn.core.queues[0].counters.kicks).toBe(0);
    expect(b.fn.virtioCounters.badAccesses).toBe(1);
    b.request([1, 2, 3]);
    expect(b.usedIdx()).toBe(1);
  });

  it('with notify_off_multiplier 0 every queue notifies at one address, the value naming the queue', () => {
    const b = new PciBench({ echo: { queues: 2 }, notifyOffMultiplier: 0 });
    b.start();
    b.write(NOTIFY, 2, 1);
    expect(b.fn.core.queues[1].counters.kicks).toBe(1);
    expect(b.fn.core.queues[0].counters.kicks).toBe(0);
  });
});

describe('4.1.4.5 ISR status and INTx (MSI-X disabled)', () => {
  it('a used buffer sets ISR bit 0 and asserts INTA (Status.Interrupt Status); reading the ISR returns and clears it', () => {
    const b = new PciBench();
    b.start();
    b.request([7]);
    expect(b.fn.isrStatus).toBe(1);
    expect(b.fn.intx.asserted).toBe(true);
    expect(b.fn.configRead(PciCfg.STATUS, 2) & PciStatus.INTERRUPT).toBe(PciStatus.INTERRUPT);
    expect(b.read(ISR, 1)).toBe(1);
    expect(b.fn.intx.asserted).toBe(false);
    expect(b.read(ISR, 1)).toBe(0);
  });

  it('a configuration change sets bit 1; Command.Interrupt Disable keeps the wire low', () => {
    const b = new PciBench();
    b.start();
    b.fn.configWrite(PciCfg.COMMAND, 2, PciCommand.MEMORY_SPACE | PciCommand.BUS_MASTER | PciCommand.INTX_DISABLE);
    b.echo.bump(1n);
    expect(b.fn.isrStatus).toBe(2);
    expect(b.fn.intx.asserted).toBe(false);
    expect(b.read(ISR, 1)).toBe(2);
  });
});

describe('4.1.5.1.2 MSI-X Vector Configuration, with the MSI-X table (PCIe Base 7.7.2)', () => {
  function withMsix(b: PciBench): void {
    // Entry 0 for the queue (identity 5), entry 1 for configuration changes (identity 6).
    for (const [entry, id] of [
      [0, 5],
      [1, 6],
    ]) {
      b.msixWrite(entry * 16, Number(IMSIC));
      b.msixWrite(entry * 16 + 4, 0);
      b.msixWrite(entry * 16 + 8, id);
      b.msixWrite(entry * 16 + 12, 0);
    }
    b.fn.configWrite(b.fn.capabilities.msix + 2, 2, 0x8000);
  }

  it('a vector inside the table is mapped and read back; one outside reads back NO_VECTOR (mapping failure); reset unmaps all', () => {
    const b = new PciBench();
    b.write(CommonCfg.CONFIG_MSIX_VECTOR, 2, 1);
    expect(b.read(CommonCfg.CONFIG_MSIX_VECTOR, 2)).toBe(1);
    b.write(CommonCfg.QUEUE_SELECT, 2, 0);
    b.write(CommonCfg.QUEUE_MSIX_VECTOR, 2, 2);
    expect(b.read(CommonCfg.QUEUE_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    b.write(CommonCfg.QUEUE_MSIX_VECTOR, 2, 0);
    expect(b.read(CommonCfg.QUEUE_MSIX_VECTOR, 2)).toBe(0);
    b.write(CommonCfg.DEVICE_STATUS, 1, 0);
    expect(b.read(CommonCfg.CONFIG_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    expect(b.read(CommonCfg.QUEUE_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
  });

  it('with MSI-X enabled a used buffer sends the queue vector message (no INTx, no ISR bit); configuration changes use their vector', () => {
    const b = new PciBench();
    withMsix(b);
    b.start(F.VERSION_1, 0);
    b.write(CommonCfg.CONFIG_MSIX_VECTOR, 2, 1);
    b.request([1]);
    expect(b.imsic.received).toEqual([{ address: IMSIC, data: 5 }]);
    expect(b.fn.intx.asserted).toBe(false);
    expect(b.fn.isrStatus).toBe(0);
    b.echo.bump(1n);
    expect(b.imsic.received.map((m) => m.data)).toEqual([5, 6]);
    expect(b.fn.isrStatus).toBe(2); // the configuration bit is set whatever the interrupt mode
  });

  it('an event mapped to NO_VECTOR delivers no interrupt at all', () => {
    const b = new PciBench();
    withMsix(b);
    b.start();
    b.request([1]);
    expect(b.usedIdx()).toBe(1);
    expect(b.imsic.received).toEqual([]);
    expect(b.fn.intx.asserted).toBe(false);
  });

  it('a masked vector holds its message pending (PBA bit), sent when unmasked; the Function Mask does the same', () => {
    const b = new PciBench();
    withMsix(b);
    b.msixWrite(12, 1); // mask entry 0
    b.start(F.VERSION_1, 0);
    b.request([1]);
    expect(b.imsic.received).toEqual([]);
    expect(b.msixRead(32)).toBe(1); // PBA bit 0
    b.msixWrite(12, 0);
    expect(b.imsic.received.map((m) => m.data)).toEqual([5]);
    expect(b.msixRead(32)).toBe(0);
    b.fn.configWrite(b.fn.capabilities.msix + 2, 2, 0xc000); // Function Mask
    b.request([2]);
    expect(b.imsic.received).toHaveLength(1);
    b.fn.configWrite(b.fn.capabilities.msix + 2, 2, 0x8000);
    expect(b.imsic.received.map((m) => m.data)).toEqual([5, 5]);
    expect(b.fn.msix?.counters).toEqual({ sent: 2, pended: 2 });
  });

  it('MSI-X messages are memory writes of the function: without Bus Master Enable they do not leave it', () => {
    const b = new PciBench();
    withMsix(b);
    b.start(F.VERSION_1, 0);
    b.fn.configWrite(PciCfg.COMMAND, 2, PciCommand.MEMORY_SPACE);
    b.echo.bump(0n); // nothing mapped: no message
    b.write(CommonCfg.CONFIG_MSIX_VECTOR, 2, 1);
    b.echo.bump(1n);
    expect(b.imsic.received).toEqual([]);
    expect(b.fn.counters.dmaBlocked).toBe(1);
  });
});

describe('a function reset resets the virtio device', () => {
  it('after resetConfig (a Function Level Reset) device_status reads 0, queues are off and MSI-X entries are masked again', () => {
    const b = new PciBench();
    b.msixWrite(12, 0);
    b.start();
    b.fn.resetConfig();
    b.fn.configWrite(PciCfg.COMMAND, 2, PciCommand.MEMORY_SPACE | PciCommand.BUS_MASTER);
    expect(b.read(CommonCfg.DEVICE_STATUS, 1)).toBe(0);
    expect(b.read(CommonCfg.QUEUE_ENABLE, 2)).toBe(0);
    expect(b.msixRead(12)).toBe(1);
    expect(b.echo.calls.reset).toBeGreaterThanOrEqual(2);
  });
});

describe('4.1.4.9 PCI configuration access capability', () => {
  it('pci_cfg_data reads and writes the virtio BAR at cap.offset for cap.length bytes', () => {
    const b = new PciBench();
    const cap = b.fn.virtioCaps.pciCfg;
    b.fn.configWrite(cap + 4, 1, 4);
    b.fn.configWrite(cap + 12, 4, 1);
    b.fn.configWrite(cap + 8, 4, CommonCfg.DEVICE_STATUS);
    b.fn.configWrite(cap + 16, 1, S.ACKNOWLEDGE);
    expect(b.read(CommonCfg.DEVICE_STATUS, 1)).toBe(S.ACKNOWLEDGE);
    b.fn.configWrite(cap + 12, 4, 2);
    b.fn.configWrite(cap + 8, 4, CommonCfg.NUM_QUEUES);
    expect(b.fn.configRead(cap + 16, 2)).toBe(1);
    b.fn.configWrite(cap + 12, 4, 4);
    b.fn.configWrite(cap + 8, 4, DEVICE + EchoConfig.KEY);
    b.fn.configWrite(cap + 16, 4, 0xfeed_beef);
    expect(b.echo.key).toBe(0xfeed_beef);
  });

  it('an access naming another BAR, a bad length, a misaligned offset or no structure does nothing and is counted', () => {
    const b = new PciBench();
    const cap = b.fn.virtioCaps.pciCfg;
    const attempt = (bar: number, length: number, offset: number) => {
      b.fn.configWrite(cap + 4, 1, bar);
      b.fn.configWrite(cap + 12, 4, length);
      b.fn.configWrite(cap + 8, 4, offset);
      b.fn.configWrite(cap + 16, 1, S.ACKNOWLEDGE);
    };
    attempt(0, 1, CommonCfg.DEVICE_STATUS);
    attempt(4, 3, CommonCfg.DEVICE_STATUS);
    attempt(4, 2, CommonCfg.DEVICE_STATUS + 1);
    attempt(4, 1, 0x1800);
    expect(b.read(CommonCfg.DEVICE_STATUS, 1)).toBe(0);
    expect(b.fn.virtioCounters.badPciCfgAccesses).toBe(4);
  });
});
