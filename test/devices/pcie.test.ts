import { describe, expect, it } from 'vitest';
import { DirectDmaPort, DmaPortStatus, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../src/devices/dma-port.js';
import { Control, DMA_ENGINE_ID, DmaEngineReg, ErrorCause, Operation, Status } from '../../src/devices/dma-engine/index.js';
import {
  assignBars,
  ecamOffset,
  PCI_DMA_ENGINE_IDS,
  PCI_RISCV_IOMMU_IDS,
  PciCapId,
  PciCfg,
  PciCommand,
  PciDmaEngineFunction,
  PcieHostBridge,
  PciExtCapId,
  PciFunction,
  PciMmioFunction,
  PciResourceError,
  PciStatus,
  pciWindowsOf,
  type PciWindow,
} from '../../src/devices/pcie/index.js';
import { RiscvIommu } from '../../src/hw/riscv-iommu/index.js';
import { parseDts } from '../../src/platform/dts/index.js';
import type { MmioDevice, MmioSize } from '../../src/sim/mmio.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';

/** A register block that answers its offset, for checking forwarding. */
class Echo implements MmioDevice {
  readonly writes: [number, bigint][] = [];
  mmioRead(offset: number, _size: MmioSize): bigint {
    return BigInt(offset) | 0xabc0_0000n;
  }
  mmioWrite(offset: number, _size: MmioSize, value: bigint): void {
    this.writes.push([offset, value]);
  }
}

const MEM32: PciWindow = { space: 'mem32', prefetchable: false, pciBase: 0x4000_0000n, cpuBase: 0x4000_0000n, size: 0x1000_0000n };

function bridgeWith(...fns: [number, number, PciFunction][]): PcieHostBridge {
  const b = new PcieHostBridge({ name: 'pcie', busEnd: 15 });
  for (const [dev, fn, f] of fns) b.attach(f, dev, fn);
  return b;
}

function cfg(b: PcieHostBridge, dev: number, fn: number, reg: number, size: 1 | 2 | 4 = 4): number {
  return b.configRead(ecamOffset(0, dev, fn, reg), size);
}

function cfgWrite(b: PcieHostBridge, dev: number, fn: number, reg: number, value: number, size: 1 | 2 | 4 = 4): void {
  b.configWrite(ecamOffset(0, dev, fn, reg), size, value);
}

describe('PCIe configuration space over ECAM', () => {
  it('places functions at (bus << 20 | device << 15 | function << 12) and reads their Type 0 header', () => {
    const e = new PciDmaEngineFunction();
    const b = bridgeWith([3, 0, e]);
    expect(ecamOffset(1, 3, 2, 0x10)).toBe(0x11a010);
    expect(cfg(b, 3, 0, PciCfg.VENDOR_ID)).toBe((PCI_DMA_ENGINE_IDS.device << 16) | PCI_DMA_ENGINE_IDS.vendor);
    expect(cfg(b, 3, 0, PciCfg.VENDOR_ID, 2)).toBe(0x1b36);
    expect(cfg(b, 3, 0, PciCfg.DEVICE_ID, 2)).toBe(0x00d1);
    expect(cfg(b, 3, 0, PciCfg.REVISION_ID)).toBe(((0xff0000 << 8) | 1) >>> 0); // class code and revision
    expect(cfg(b, 3, 0, PciCfg.HEADER_TYPE, 1)).toBe(0);
    expect(cfg(b, 3, 0, PciCfg.SUBSYSTEM_VENDOR_ID)).toBe(0x00d1_1b36);
    expect(cfg(b, 3, 0, PciCfg.INTERRUPT_PIN, 1)).toBe(1);
    expect(e.rid).toBe(3 << 3);
    expect(e.bdf).toBe('00:03.0');
    // The 64-bit MMIO form splits into two dword reads.
    expect(b.mmioRead(ecamOffset(0, 3, 0, 0), 8)).toBe(BigInt(cfg(b, 3, 0, 4)) * 0x1_0000_0000n + BigInt(cfg(b, 3, 0, 0)));
  });

  it('answers all ones for absent functions and misaligned accesses', () => {
    const b = bridgeWith([0, 0, new PciDmaEngineFunction()]);
    expect(cfg(b, 1, 0, 0)).toBe(0xffff_ffff);
    expect(cfg(b, 0, 1, 0, 2)).toBe(0xffff);
    expect(b.configRead(ecamOffset(2, 0, 0, 0), 4)).toBe(0xffff_ffff); // bus 2 is empty
    expect(b.configRead(16 << 20, 4)).toBe(0xffff_ffff); // beyond bus-range
    expect(cfg(b, 0, 0, 2, 4)).toBe(0xffff_ffff);
    cfgWrite(b, 1, 0, PciCfg.COMMAND, 0xffff); // dropped
    expect(b.counters.configUnsupported).toBe(6);
    expect(b.ecamSize).toBe(16n << 20n);
  });

  it('keeps read-only fields, writable Command bits and RW1C Status bits', () => {
    const e = new PciDmaEngineFunction();
    const b = bridgeWith([0, 0, e]);
    cfgWrite(b, 0, 0, PciCfg.VENDOR_ID, 0);
    cfgWrite(b, 0, 0, PciCfg.REVISION_ID, 0);
    expect(cfg(b, 0, 0, PciCfg.VENDOR_ID, 2)).toBe(0x1b36);
    expect(cfg(b, 0, 0, PciCfg.REVISION_ID, 1)).toBe(1);
    cfgWrite(b, 0, 0, PciCfg.COMMAND, 0xffff, 2);
    expect(cfg(b, 0, 0, PciCfg.COMMAND, 2)).toBe(PciCommand.MEMORY_SPACE | PciCommand.BUS_MASTER | PciCommand.PARITY_ERROR_RESPONSE | PciCommand.SERR_ENABLE | PciCommand.INTX_DISABLE);
    expect(e.memoryEnabled && e.busMasterEnabled).toBe(true);
    e.noteCompletionError(DmaPortStatus.Aborted);
    const status = cfg(b, 0, 0, PciCfg.STATUS, 2);
    expect(status).toBe(PciStatus.CAPABILITIES_LIST | PciStatus.RECEIVED_MASTER_ABORT);
    cfgWrite(b, 0, 0, PciCfg.STATUS, PciStatus.CAPABILITIES_LIST, 2); // RO bit: no effect
    expect(cfg(b, 0, 0, PciCfg.STATUS, 2)).toBe(status);
    cfgWrite(b, 0, 0, PciCfg.STATUS, PciStatus.RECEIVED_MASTER_ABORT, 2);
    expect(cfg(b, 0, 0, PciCfg.STATUS, 2)).toBe(PciStatus.CAPABILITIES_LIST);
    cfgWrite(b, 0, 0, PciCfg.INTERRUPT_LINE, 0x2a, 1);
    expect(cfg(b, 0, 0, PciCfg.INTERRUPT_LINE, 1)).toBe(0x2a);
  });

  it('sizes BARs by writing all ones', () => {
    const f = new PciFunction({
      name: 'bars',
      vendor: 0x1234,
      device: 0x5678,
      classCode: 0xff0000,
      bars: [
        { size: 0x1000n, device: new Echo() },
        { size: 0x10_0000n, is64: true, prefetchable: true, device: new Echo() },
        null,
        { size: 0x2_0000_0000n, is64: true, device: new Echo() },
      ],
    });
    const b = bridgeWith([0, 0, f]);
    const size = (i: number) => {
      const reg = PciCfg.BAR0 + 4 * i;
      const old = cfg(b, 0, 0, reg);
      cfgWrite(b, 0, 0, reg, 0xffff_ffff);
      const v = cfg(b, 0, 0, reg);
      cfgWrite(b, 0, 0, reg, old);
      return v;
    };
    expect(size(0)).toBe(0xffff_f000);
    expect(size(1)).toBe(0xfff0_000c); // 64-bit, prefetchable
    expect(size(2)).toBe(0xffff_ffff);
    expect(size(3)).toBe(0x0000_0004); // 8 GiB: no writable bits in the low dword
    expect(size(4)).toBe(0xffff_fffe);
    expect(size(5)).toBe(0);
    expect(cfg(b, 0, 0, PciCfg.EXPANSION_ROM)).toBe(0);
    cfgWrite(b, 0, 0, PciCfg.BAR0 + 4, 0x4010_0000);
    cfgWrite(b, 0, 0, PciCfg.BAR0 + 8, 0x1);
    expect(f.barBase(1)).toBe(0x1_4010_0000n);
    expect(f.barBase(2)).toBeNull();
  });

  it('lists the PCI Express capability and the ATS extended capability', () => {
    const e = new PciDmaEngineFunction();
    const b = bridgeWith([0, 0, e]);
    const cap = cfg(b, 0, 0, PciCfg.CAPABILITIES_POINTER, 1);
    expect(cap).toBe(0x40);
    expect(cfg(b, 0, 0, cap, 1)).toBe(PciCapId.PCIE);
    expect(cfg(b, 0, 0, cap + 1, 1)).toBe(0); // last in the list
    expect(cfg(b, 0, 0, cap + 2, 2)).toBe(0x92); // version 2, root-complex integrated endpoint
    const ext = cfg(b, 0, 0, 0x100);
    expect(ext & 0xffff).toBe(PciExtCapId.ATS);
    expect((ext >>> 16) & 0xf).toBe(1);
    expect(ext >>> 20).toBe(0);
    expect(cfg(b, 0, 0, 0x104, 2)).toBe(0); // queue depth 32 encoded as 0
    expect(e.atsEnabled).toBe(false);
    cfgWrite(b, 0, 0, 0x106, 0xffff, 2);
    expect(cfg(b, 0, 0, 0x106, 2)).toBe(0x801f);
    expect(e.atsEnabled).toBe(true);
    expect(e.atsStu).toBe(0x1f);
    const plain = new PciFunction({ name: 'x', vendor: 1, device: 2, classCode: 0, pcieType: 'endpoint' });
    expect(plain.config.read(0x42, 2)).toBe(0x02);
    expect(plain.config.read(0x100, 4)).toBe(0);
  });

  it('sets the multi-function bit on every function of a multi-function device', () => {
    const f0 = new PciDmaEngineFunction({ name: 'f0' });
    const f2 = new PciDmaEngineFunction({ name: 'f2' });
    const other = new PciDmaEngineFunction({ name: 'other' });
    const b = bridgeWith([4, 0, f0], [4, 2, f2], [5, 0, other]);
    expect(cfg(b, 4, 0, PciCfg.HEADER_TYPE, 1)).toBe(0x80);
    expect(cfg(b, 4, 2, PciCfg.HEADER_TYPE, 1)).toBe(0x80);
    expect(cfg(b, 5, 0, PciCfg.HEADER_TYPE, 1)).toBe(0);
    expect(b.functions.map((f) => f.rid)).toEqual([0x20, 0x22, 0x28]);
    expect(() => b.attach(new PciDmaEngineFunction(), 4, 0)).toThrow(/both at/);
  });
});

describe('BAR assignment and decoding', () => {
  it('assigns BARs from the memory window in requester-id order and maps them on the bus', () => {
    const bus = new SystemBus(new PhysicalMemory());
    const big = new PciFunction({ name: 'big', vendor: 1, device: 1, classCode: 0, bars: [{ size: 0x10_0000n, device: new Echo() }, { size: 0x100n, device: new Echo() }] });
    const e = new PciDmaEngineFunction();
    const b = bridgeWith([2, 0, big], [1, 0, e]);
    const io: PciWindow = { space: 'io', prefetchable: false, pciBase: 0n, cpuBase: 0x300_0000n, size: 0x1_0000n };
    const bars = assignBars(b, [io, MEM32], bus);
    expect(bars.map((a) => [a.fn.name, a.index, a.pciAddress, a.cpuAddress])).toEqual([
      ['pci-dma-engine', 0, 0x4000_0000n, 0x4000_0000n],
      ['big', 0, 0x4010_0000n, 0x4010_0000n],
      ['big', 1, 0x4020_0000n, 0x4020_0000n],
    ]);
    expect(cfg(b, 2, 0, PciCfg.BAR0)).toBe(0x4010_0000);
    expect(bus.mmio.find(0x4000_0000n)?.name).toBe('pcie 00:01.0 BAR0 (pci-dma-engine)');
  });

  it('forwards BAR accesses only while memory decoding is on and the BAR is where it was mapped', () => {
    const bus = new SystemBus(new PhysicalMemory());
    const e = new PciDmaEngineFunction();
    const b = bridgeWith([1, 0, e]);
    const [bar] = assignBars(b, [MEM32], bus);
    const read = () => bus.access(bar.cpuAddress + BigInt(DmaEngineReg.ID), 4, false).value;
    expect(read()).toBe(0xffff_ffffn); // decoding off: nobody answers
    cfgWrite(b, 1, 0, PciCfg.COMMAND, PciCommand.MEMORY_SPACE, 2);
    expect(read()).toBe(BigInt(DMA_ENGINE_ID));
    bus.access(bar.cpuAddress + BigInt(DmaEngineReg.LENGTH), 4, true, 0x40n);
    expect(e.engine.mmioRead32(DmaEngineReg.LENGTH)).toBe(0x40);
    cfgWrite(b, 1, 0, PciCfg.BAR0, 0x5000_0000); // moved by software: the old place is dead
    expect(read()).toBe(0xffff_ffffn);
    cfgWrite(b, 1, 0, PciCfg.BAR0, 0x4000_0000);
    expect(read()).toBe(BigInt(DMA_ENGINE_ID));
  });

  it('puts 64-bit BARs in a 64-bit window first and fails clearly when nothing fits', () => {
    const bus = new SystemBus(new PhysicalMemory());
    const f = new PciFunction({ name: 'wide', vendor: 1, device: 1, classCode: 0, bars: [{ size: 0x1000n, device: new Echo() }, { size: 0x4000_0000n, is64: true, device: new Echo() }] });
    const mem64: PciWindow = { space: 'mem64', prefetchable: true, pciBase: 0x10_0000_0000n, cpuBase: 0x10_0000_0000n, size: 0x10_0000_0000n };
    const bars = assignBars(bridgeWith([0, 0, f]), [MEM32, mem64], bus);
    expect(bars.map((a) => a.pciAddress)).toEqual([0x4000_0000n, 0x10_0000_0000n]);
    const g = new PciFunction({ name: 'huge', vendor: 1, device: 1, classCode: 0, bars: [{ size: 0x2000_0000n, device: new Echo() }] });
    expect(() => assignBars(bridgeWith([0, 0, g]), [MEM32], new SystemBus(new PhysicalMemory()))).toThrow(PciResourceError);
  });

  it('reads the windows from a host bridge node', () => {
    const dt = parseDts(`/dts-v1/;
/ { #address-cells = <2>; #size-cells = <2>;
  pci@30000000 { compatible = "pci-host-ecam-generic"; device_type = "pci"; #address-cells = <3>; #size-cells = <2>;
    ranges = <0x01000000 0x0 0x0 0x0 0x3000000 0x0 0x10000>,
             <0x02000000 0x0 0x40000000 0x0 0x40000000 0x0 0x40000000>,
             <0x43000000 0x4 0x0 0x4 0x0 0x4 0x0>; }; };`);
    const node = dt.find('/pci@30000000');
    expect(node).toBeDefined();
    expect(pciWindowsOf(node!)).toEqual([
      { space: 'io', prefetchable: false, pciBase: 0n, cpuBase: 0x300_0000n, size: 0x1_0000n },
      { space: 'mem32', prefetchable: false, pciBase: 0x4000_0000n, cpuBase: 0x4000_0000n, size: 0x4000_0000n },
      { space: 'mem64', prefetchable: true, pciBase: 0x4_0000_0000n, cpuBase: 0x4_0000_0000n, size: 0x4_0000_0000n },
    ]);
  });
});

/** An upstream that records requester ids and can refuse some addresses. */
class Upstream implements DmaPort {
  value = 0n;
  readonly ids: number[] = [];
  /** The length of each transaction (burst) seen. */
  readonly lengths: number[] = [];
  constructor(
    private readonly inner: DmaPort,
    private readonly refuse: (a: bigint) => boolean = () => false,
  ) {}
  read(r: DmaRequester, a: bigint, s: MmioSize): DmaPortStatusValue {
    this.ids.push(r.deviceId);
    if (this.refuse(a)) return DmaPortStatus.Aborted;
    const st = this.inner.read(r, a, s);
    this.value = this.inner.value;
    return st;
  }
  write(r: DmaRequester, a: bigint, s: MmioSize, d: bigint): DmaPortStatusValue {
    this.ids.push(r.deviceId);
    return this.refuse(a) ? DmaPortStatus.Aborted : this.inner.write(r, a, s, d);
  }
  readBurst(r: DmaRequester, a: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.ids.push(r.deviceId);
    this.lengths.push(length);
    return this.refuse(a) ? DmaPortStatus.Aborted : this.inner.readBurst(r, a, length, into, offset);
  }
  writeBurst(r: DmaRequester, a: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.ids.push(r.deviceId);
    this.lengths.push(length);
    return this.refuse(a) ? DmaPortStatus.Aborted : this.inner.writeBurst(r, a, length, from, offset);
  }
}

describe('the DMA-engine endpoint', () => {
  function endpoint(o: { postedWriteErrors?: 'silent' | 'report'; refuse?: (a: bigint) => boolean; deviceIdFor?: (rid: number) => number } = {}) {
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory);
    const up = new Upstream(new DirectDmaPort(bus), o.refuse);
    const b = new PcieHostBridge({ segment: 1, upstream: up, postedWriteErrors: o.postedWriteErrors, deviceIdFor: o.deviceIdFor });
    const e = new PciDmaEngineFunction();
    b.attach(e, 2, 1, 3);
    const start = (op: number, src: bigint, dst: bigint, len: number, extra = 0) => {
      const r = e.engine;
      r.mmioWrite(DmaEngineReg.SOURCE, 8, src);
      r.mmioWrite(DmaEngineReg.DESTINATION, 8, dst);
      r.mmioWrite32(DmaEngineReg.LENGTH, len);
      r.mmioWrite32(DmaEngineReg.CONTROL, Control.START | (op << Control.OP_SHIFT) | extra);
      return r.mmioRead32(DmaEngineReg.STATUS);
    };
    const cause = () => (e.engine.mmioRead32(DmaEngineReg.STATUS) & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT;
    return { memory, up, b, e, start, cause };
  }

  it('masters only with Bus Master Enable, as its requester id', () => {
    const { memory, up, b, e, start, cause } = endpoint();
    memory.write(0x8000_0000n, 8, 0x1234n);
    start(Operation.Copy, 0x8000_0000n, 0x8000_1000n, 8);
    expect(cause()).toBe(ErrorCause.BusError);
    expect(up.ids).toEqual([]);
    expect(e.counters.dmaBlocked).toBe(1);
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    expect(start(Operation.Copy, 0x8000_0000n, 0x8000_1000n, 8)).toBe(Status.DONE);
    expect(memory.read(0x8000_1000n, 8)).toBe(0x1234n);
    // Requester id 03:02.1 = 0x311, in segment 1 by default.
    expect(e.rid).toBe(0x311);
    expect(e.engine.requester.deviceId).toBe(0x311);
    expect(up.ids).toEqual([0x1_0311, 0x1_0311]);
  });

  it('sends each transaction upstream whole, as one memory request of its requester id', () => {
    const { memory, up, b, e, start } = endpoint();
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    memory.writeBytes(0x8000_0fc0n, Uint8Array.from({ length: 200 }, (_, i) => i));
    // Source 64 bytes before a page boundary: 64, then 64, 64 and the last 8.
    expect(start(Operation.Copy, 0x8000_0fc0n, 0x8000_3000n, 200)).toBe(Status.DONE);
    expect(memory.readBytes(0x8000_3000n, 200)).toEqual(Uint8Array.from({ length: 200 }, (_, i) => i));
    expect(up.lengths).toEqual([64, 64, 64, 64, 64, 64, 8, 8]);
    expect(up.ids.every((id) => id === 0x1_0311)).toBe(true);
    expect(e.counters).toMatchObject({ dmaReads: 4, dmaWrites: 4, dmaBlocked: 0, dmaErrors: 0 });
    expect(b.counters).toMatchObject({ dmaReads: 4, dmaWrites: 4 });
  });

  it('flags a poisoned burst read in Status (Detected Parity Error, and Master Data Parity Error with Parity Error Response)', () => {
    const { memory, b, e, start, cause } = endpoint();
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER | PciCommand.PARITY_ERROR_RESPONSE);
    memory.markDataCorruption(0x8000_0010n, 1n);
    start(Operation.Copy, 0x8000_0000n, 0x8000_1000n, 64);
    expect(cause()).toBe(ErrorCause.Poisoned);
    const both = PciStatus.DETECTED_PARITY_ERROR | PciStatus.MASTER_DATA_PARITY_ERROR;
    expect(b.configRead(ecamOffset(3, 2, 1, PciCfg.STATUS), 2) & both).toBe(both);
    expect(e.counters.dmaErrors).toBe(1);
  });

  it('delivers the data of a poisoned single read through the function and the root complex, flagged Poisoned', () => {
    const { memory, b, e } = endpoint();
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    memory.write(0x8000_0010n, 8, 0x1122_3344_5566_7788n);
    memory.markDataCorruption(0x8000_0010n, 8n);
    expect(e.dma.read(e.engine.requester, 0x8000_0010n, 8)).toBe(DmaPortStatus.Poisoned);
    expect(e.dma.value).toBe(0x1122_3344_5566_7788n);
  });

  it('maps requester ids to device ids the way the platform says', () => {
    const { up, b, start } = endpoint({ deviceIdFor: (rid) => (rid === 0x311 ? 0x77 : -1) });
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    start(Operation.Fill, 0n, 0x8000_0000n, 8);
    expect(up.ids).toEqual([0x77]);
  });

  it('learns of failed reads (Status bits) but not of failed posted writes', () => {
    const refuse = (a: bigint) => a >= 0x9000_0000n;
    const { b, e, start, cause } = endpoint({ refuse });
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    start(Operation.Copy, 0x9000_0000n, 0x8000_0000n, 8);
    expect(cause()).toBe(ErrorCause.Aborted);
    expect(b.configRead(ecamOffset(3, 2, 1, PciCfg.STATUS), 2) & PciStatus.RECEIVED_MASTER_ABORT).toBe(PciStatus.RECEIVED_MASTER_ABORT);
    // 512 bytes in 64-byte transactions: 8 posted writes, each refused upstream.
    expect(start(Operation.Fill, 0n, 0x9000_0000n, 512)).toBe(Status.DONE);
    expect(b.counters.postedWriteErrors).toBe(8);
    expect(e.counters.dmaErrors).toBe(1);
    const reporting = endpoint({ refuse, postedWriteErrors: 'report' });
    reporting.b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    reporting.start(Operation.Fill, 0n, 0x9000_0000n, 64);
    expect(reporting.cause()).toBe(ErrorCause.Aborted);
  });

  it('raises INTA on completion, reflected in Status and masked by Interrupt Disable', () => {
    const { b, e, start } = endpoint();
    const status = () => b.configRead(ecamOffset(3, 2, 1, PciCfg.STATUS), 2);
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    start(Operation.Fill, 0n, 0x8000_0000n, 8, Control.IE);
    expect(e.intx.asserted).toBe(true);
    expect(status() & PciStatus.INTERRUPT).toBe(PciStatus.INTERRUPT);
    b.configWrite(ecamOffset(3, 2, 1, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER | PciCommand.INTX_DISABLE);
    expect(e.intx.asserted).toBe(false);
    expect(status() & PciStatus.INTERRUPT).toBe(PciStatus.INTERRUPT);
    e.engine.mmioWrite32(DmaEngineReg.STATUS, Status.DONE);
    expect(status() & PciStatus.INTERRUPT).toBe(0);
  });
});

describe('a PCI function hosting an MMIO device', () => {
  it('makes the RISC-V IOMMU a PCIe function with its registers in BAR0', () => {
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory);
    const iommu = new RiscvIommu({ memory });
    const f = new PciMmioFunction({
      name: 'riscv-iommu',
      ...PCI_RISCV_IOMMU_IDS,
      registers: iommu,
      size: 0x1000n,
      msix: { vectors: 4, tableBar: 0, tableOffset: 0x300, pbaBar: 0, pbaOffset: 0x400 },
    });
    const b = bridgeWith([1, 0, f]);
    expect(cfg(b, 1, 0, PciCfg.REVISION_ID) >>> 8).toBe(0x080600);
    expect(cfg(b, 1, 0, PciCfg.VENDOR_ID)).toBe(0x0014_1b36);
    expect(cfg(b, 1, 0, PciCfg.BAR0)).toBe(0x4); // 64-bit memory BAR
    const msix = f.config.findCapability(PciCapId.MSIX);
    expect(msix).toBe(0x7c); // right after the PCI Express capability (0x40, 0x3c bytes)
    expect(cfg(b, 1, 0, 0x41, 1)).toBe(msix);
    expect(cfg(b, 1, 0, msix + 2, 2)).toBe(3); // table size - 1
    expect(cfg(b, 1, 0, msix + 4)).toBe(0x300);
    expect(cfg(b, 1, 0, msix + 8)).toBe(0x400);
    cfgWrite(b, 1, 0, msix + 2, 0xffff, 2);
    expect(cfg(b, 1, 0, msix + 2, 2)).toBe(0xc003);
    expect(f.msixEnabled).toBe(true);
    const [bar] = assignBars(b, [MEM32], bus);
    cfgWrite(b, 1, 0, PciCfg.COMMAND, PciCommand.MEMORY_SPACE, 2);
    expect(bus.access(bar.cpuAddress, 8, false).value).toBe(iommu.mmioRead(0, 8)); // the capabilities register
    expect(() => new PciMmioFunction({ name: 'bad', vendor: 1, device: 1, classCode: 0, registers: iommu, msix: { vectors: 1, tableBar: 2, tableOffset: 0, pbaBar: 0, pbaOffset: 8 } })).toThrow(/BAR2/);
  });
});
