import { describe, expect, it } from 'vitest';
import { DirectDmaPort, DmaPortStatus, DmaRequester, UnconnectedDmaPort } from '../../src/devices/dma-port.js';
import { Cause } from '../../src/formats/index.js';
import { RiscvIommuDmaPort } from '../../src/hw/riscv-iommu/index.js';
import { MsiController } from '../../src/sim/irq.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';
import { RiscvIommuBench } from '../support/riscv-iommu-bench.js';

const who = new DmaRequester(4);

describe('DirectDmaPort', () => {
  it('reads and writes RAM by physical address, the data in `value`', () => {
    const memory = new PhysicalMemory();
    const port = new DirectDmaPort(new SystemBus(memory));
    expect(port.write(who, 0x8000_0008n, 8, 0x1122_3344_5566_7788n)).toBe(DmaPortStatus.Ok);
    expect(port.read(who, 0x8000_000cn, 4)).toBe(DmaPortStatus.Ok);
    expect(port.value).toBe(0x1122_3344n);
    expect(memory.read(0x8000_0008n, 8)).toBe(0x1122_3344_5566_7788n);
    expect(port.counters).toEqual({ reads: 1, writes: 1, errors: 0 });
  });

  it('answers misaligned and faulting accesses with a bus error, poisoned reads with Poisoned', () => {
    const memory = new PhysicalMemory();
    const port = new DirectDmaPort(new SystemBus(memory));
    expect(port.read(who, 0x8000_0004n, 8)).toBe(DmaPortStatus.BusError);
    expect(port.write(who, 0x8000_0001n, 2, 0n)).toBe(DmaPortStatus.BusError);
    expect(port.read(who, (1n << 64n) - 4n, 8)).toBe(DmaPortStatus.BusError);
    memory.markAccessFault(0x9000_0000n, 0x1000n);
    expect(port.write(who, 0x9000_0010n, 4, 1n)).toBe(DmaPortStatus.BusError);
    memory.write(0xa000_0000n, 4, 0xdeadn);
    memory.markDataCorruption(0xa000_0000n, 0x10n);
    expect(port.read(who, 0xa000_0000n, 4)).toBe(DmaPortStatus.Poisoned);
    expect(port.value).toBe(0xdeadn);
    expect(port.write(who, 0xa000_0000n, 4, 1n)).toBe(DmaPortStatus.Ok); // poison only marks reads
  });

  it('reaches MMIO targets: a write to an interrupt file doorbell is an MSI', () => {
    const bus = new SystemBus(new PhysicalMemory());
    const imsic = new MsiController('imsic', 0x2800_0000n);
    bus.mmio.map('imsic', 0x2800_0000n, 0x1000n, imsic);
    const port = new DirectDmaPort(bus);
    expect(port.write(who, 0x2800_0000n, 4, 17n)).toBe(DmaPortStatus.Ok);
    expect(imsic.isPending(17)).toBe(true);
  });

  it('an unconnected port fails everything', () => {
    const port = new UnconnectedDmaPort();
    expect(port.read()).toBe(DmaPortStatus.BusError);
    expect(port.write()).toBe(DmaPortStatus.BusError);
  });
});

describe('RiscvIommuDmaPort', () => {
  it('issues untranslated requests through the IO bridge', () => {
    const b = new RiscvIommuBench({ mode: 'Bare' });
    const port = new RiscvIommuDmaPort(b.iommu);
    b.memory.write(0x8000_0000n, 8, 0x0102_0304_0506_0708n);
    expect(port.read(who, 0x8000_0000n, 8)).toBe(DmaPortStatus.Ok);
    expect(port.value).toBe(0x0102_0304_0506_0708n);
    expect(port.write(who, 0x8000_0010n, 2, 0xbeefn)).toBe(DmaPortStatus.Ok);
    expect(b.memory.read(0x8000_0010n, 2)).toBe(0xbeefn);
    expect(b.iommu.statistics().requests.untranslated).toBe(2);
  });

  it('checks alignment before the IOMMU sees the request', () => {
    const b = new RiscvIommuBench({ mode: 'Bare' });
    const port = new RiscvIommuDmaPort(b.iommu);
    expect(port.read(who, 0x8000_0002n, 4)).toBe(DmaPortStatus.BusError);
    expect(b.iommu.statistics().requests.untranslated).toBe(0);
    expect(port.counters.busErrors).toBe(1);
  });

  it('carries the device id, PASID and privilege into the transaction (and its fault record)', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    b.setDeviceContext(0x21, { fsc: { mode: 8, ppn: pt.root } });
    const port = new RiscvIommuDmaPort(b.iommu);
    const requester = new DmaRequester(0x21, true, 0x155, true);
    // A PASID to a context without a process directory (DC.tc.PDTV = 0) is a disallowed
    // transaction type (spec "Process to translate an IOVA", step 7); the record names all.
    expect(port.read(requester, 0x4000_0000n, 8)).toBe(DmaPortStatus.Aborted);
    const [fault] = b.faults();
    expect(fault.did).toBe(0x21);
    expect(fault.pv).toBe(true);
    expect(fault.pid).toBe(0x155);
    expect(fault.priv).toBe(true);
    expect(fault.cause).toBe(Cause.TransactionTypeDisallowed);
    expect(port.counters.aborted).toBe(1);
  });
});
