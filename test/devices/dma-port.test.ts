import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirectDmaPort, dmaAddress, dmaAligned, dmaPage, DmaPortStatus, DmaRequester, UnconnectedDmaPort } from '../../src/devices/dma-port.js';
import { Cause } from '../../src/formats/index.js';
import { DmaStatus, RiscvIommuDmaPort, TranslationRequest } from '../../src/hw/riscv-iommu/index.js';
import { MsiController } from '../../src/sim/irq.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';
import { RiscvIommuBench } from '../support/riscv-iommu-bench.js';

// Bursts are bus transactions: PCIe Base Specification section 2.2.7 (4.0 and later) says
// memory requests "must not cross a 4-KB boundary" (AXI has the same rule for bursts), so a
// transaction that would is a broken master's and is refused as a bus error.

const bytes = (length: number, seed = 1) => Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff);

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
    expect(port.readBurst()).toBe(DmaPortStatus.BusError);
    expect(port.writeBurst()).toBe(DmaPortStatus.BusError);
  });

  it('moves a burst as one transaction, at any byte alignment, into and out of the given range', () => {
    const memory = new PhysicalMemory();
    const port = new DirectDmaPort(new SystemBus(memory));
    const data = bytes(300);
    expect(port.writeBurst(who, 0x8000_0f00n - 3n, 200, data, 50)).toBe(DmaPortStatus.Ok);
    expect(memory.readBytes(0x8000_0f00n - 3n, 200)).toEqual(data.subarray(50, 250));
    const into = new Uint8Array(210).fill(0xee);
    expect(port.readBurst(who, 0x8000_0f00n - 3n, 200, into, 5)).toBe(DmaPortStatus.Ok);
    expect(into.subarray(5, 205)).toEqual(data.subarray(50, 250));
    expect([...into.subarray(0, 5), ...into.subarray(205)]).toEqual(new Array(10).fill(0xee)); // nothing outside
    // A whole page, from its start.
    expect(port.writeBurst(who, 0x8000_1000n, 4096, bytes(4096, 2), 0)).toBe(DmaPortStatus.Ok);
    expect(memory.readBytes(0x8000_1000n, 4096)).toEqual(bytes(4096, 2));
    expect(port.counters).toEqual({ reads: 1, writes: 2, errors: 0 });
  });

  it('refuses a burst that crosses a 4 KiB boundary, is empty or longer than 4 KiB as a bus error (a broken master)', () => {
    const memory = new PhysicalMemory();
    const port = new DirectDmaPort(new SystemBus(memory));
    const buf = new Uint8Array(8192).fill(0x77);
    expect(port.writeBurst(who, 0x8000_0ff8n, 9, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(port.readBurst(who, 0x8000_0ff8n, 16, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(port.writeBurst(who, 0x8000_0000n, 0, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(port.writeBurst(who, 0x8000_0000n, 4097, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(port.readBurst(who, -8n, 8, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(port.readBurst(who, 1n << 64n, 8, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(memory.residentPages).toBe(0); // nothing was written
    expect(buf.every((b) => b === 0x77)).toBe(true); // nothing was read
    expect(port.counters).toEqual({ reads: 3, writes: 3, errors: 6 });
    // The last bytes below 2^64 are one page like any other.
    expect(port.writeBurst(who, (1n << 64n) - 8n, 8, bytes(8), 0)).toBe(DmaPortStatus.Ok);
    expect(memory.readBytes((1n << 64n) - 8n, 8)).toEqual(bytes(8));
  });

  it('answers a burst under a fault mark with a bus error (nothing moves), under a poison mark with Poisoned (data delivered)', () => {
    const memory = new PhysicalMemory();
    const port = new DirectDmaPort(new SystemBus(memory));
    memory.writeBytes(0x9000_0000n, bytes(64));
    memory.markAccessFault(0x9000_003fn, 1n);
    const into = new Uint8Array(64);
    expect(port.readBurst(who, 0x9000_0000n, 64, into, 0)).toBe(DmaPortStatus.BusError);
    expect(into).toEqual(new Uint8Array(64));
    expect(port.writeBurst(who, 0x9000_0000n, 64, new Uint8Array(64).fill(1), 0)).toBe(DmaPortStatus.BusError);
    expect(memory.readBytes(0x9000_0000n, 64)).toEqual(bytes(64));
    memory.writeBytes(0xa000_0000n, bytes(64, 5));
    memory.markDataCorruption(0xa000_0020n, 1n);
    expect(port.readBurst(who, 0xa000_0000n, 64, into, 0)).toBe(DmaPortStatus.Poisoned);
    expect(into).toEqual(bytes(64, 5));
    expect(port.readBurst(who, 0xa000_0000n, 32, into, 0)).toBe(DmaPortStatus.Ok); // stops short of the mark
    expect(port.writeBurst(who, 0xa000_0000n, 64, bytes(64, 6), 0)).toBe(DmaPortStatus.Ok); // poison only marks reads
    expect(memory.readBytes(0xa000_0000n, 64)).toEqual(bytes(64, 6));
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

  it('translates a burst once, at its start address', () => {
    const b = new RiscvIommuBench({ mode: '1LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x4000_0000n, 0x8000_5000n);
    b.setDeviceContext(4, { fsc: { mode: 8, ppn: pt.root } });
    const port = new RiscvIommuDmaPort(b.iommu);
    expect(port.writeBurst(who, 0x4000_0010n, 4000, bytes(4000), 0)).toBe(DmaPortStatus.Ok);
    expect(b.memory.readBytes(0x8000_5010n, 4000)).toEqual(bytes(4000));
    const into = new Uint8Array(4096);
    expect(port.readBurst(who, 0x4000_0000n, 4096, into, 0)).toBe(DmaPortStatus.Ok);
    expect(into.subarray(16, 4016)).toEqual(bytes(4000));
    expect(b.iommu.statistics().requests.untranslated).toBe(2);
    expect(port.counters).toMatchObject({ reads: 1, writes: 1, aborted: 0, busErrors: 0 });
    // Outside the mapping: aborted, with one fault record for the transaction.
    expect(port.readBurst(who, 0x4000_1000n, 64, into, 0)).toBe(DmaPortStatus.Aborted);
    expect(b.faults()).toEqual([expect.objectContaining({ did: 4, iotval: 0x4000_1000n })]);
    expect(port.counters.aborted).toBe(1);
  });

  it('refuses a burst crossing a 4 KiB boundary before the IOMMU sees it; the bridge itself aborts one', () => {
    const b = new RiscvIommuBench({ mode: 'Bare' });
    const port = new RiscvIommuDmaPort(b.iommu);
    const buf = new Uint8Array(64);
    expect(port.readBurst(who, 0x8000_0fc1n, 64, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(port.writeBurst(who, 0x8000_0fc1n, 64, buf, 0)).toBe(DmaPortStatus.BusError);
    expect(b.iommu.statistics().requests.untranslated).toBe(0);
    expect(port.counters.busErrors).toBe(2);
    // Presented to the IO bridge directly, it is translated and then aborted (the bridge does
    // not split requests at page boundaries, as for single accesses).
    const req = new TranslationRequest();
    req.iova = 0x8000_0fc1n;
    expect(b.iommu.bridge.readBurst(req, 64, buf, 0)).toBe(DmaStatus.Aborted);
    expect(b.iommu.bridge.writeBurst(req, 64, buf, 0)).toBe(DmaStatus.Aborted);
    expect(b.memory.readBytes(0x8000_0fc0n, 128)).toEqual(new Uint8Array(128));
  });

  it('reports poisoned read data as Poisoned, for bursts and for single accesses; a bus fault as a bus error', () => {
    const b = new RiscvIommuBench({ mode: 'Bare' });
    const port = new RiscvIommuDmaPort(b.iommu);
    b.memory.write(0x8000_0040n, 8, 0x1122n);
    b.memory.markDataCorruption(0x8000_0040n, 8n);
    const into = new Uint8Array(128);
    expect(port.readBurst(who, 0x8000_0000n, 128, into, 0)).toBe(DmaPortStatus.Poisoned);
    expect(into[0x40]).toBe(0x22); // the data is delivered, flagged
    expect(port.read(who, 0x8000_0040n, 8)).toBe(DmaPortStatus.Poisoned);
    expect(port.value).toBe(0x1122n);
    expect(port.writeBurst(who, 0x8000_0000n, 128, into, 0)).toBe(DmaPortStatus.Ok); // poison only marks reads
    expect(port.counters.poisoned).toBe(2);
    b.memory.markAccessFault(0x9000_0000n, 1n);
    expect(port.readBurst(who, 0x9000_0000n, 64, into, 0)).toBe(DmaPortStatus.BusError);
    expect(port.writeBurst(who, 0x8fff_ffc0n, 64, into, 0)).toBe(DmaPortStatus.Ok); // just below the mark
    expect(port.writeBurst(who, 0x8fff_ffc0n + 0x40n, 64, into, 0)).toBe(DmaPortStatus.BusError);
    expect(b.faults()).toEqual([]); // target errors are not IOMMU faults
  });

  it('checks alignment and the 64-bit bound before the IOMMU sees the request', () => {
    const b = new RiscvIommuBench({ mode: 'Bare' });
    const port = new RiscvIommuDmaPort(b.iommu);
    expect(port.read(who, 0x8000_0002n, 4)).toBe(DmaPortStatus.BusError);
    expect(port.write(who, 1n << 64n, 8, 0n)).toBe(DmaPortStatus.BusError);
    expect(b.iommu.statistics().requests.untranslated).toBe(0);
    expect(port.counters.busErrors).toBe(2);
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

describe('RiscvIommuDmaPort bursts to an MRIF page (AIA "MSI PTE, MRIF mode")', () => {
  const DID = 0x101;
  const PATTERN = 0x28_0000n; // msi_addr_pattern: interrupt files at GPA 0x2_8000_0000 + file << 12
  const FILE_GPA = ((PATTERN & ~0xffn) | 0x23n) << 12n;
  const NID = 0x12;

  function rig() {
    const b = new RiscvIommuBench({ mode: '2LVL' });
    const g = b.pageTable('Sv39x4');
    const msiRoot = b.alloc.alloc(16, 0x10000n);
    b.setDeviceContext(DID, { iohgatp: { mode: 8, ppn: g.root, gscid: 7 }, fsc: { mode: 0 }, msiptp: { mode: 1, ppn: msiRoot }, msiAddrMask: 0xffn, msiAddrPattern: PATTERN });
    const mrifAddr = b.alloc.alloc() + 0x200n;
    const notice = b.alloc.alloc();
    // MSI PTE of file 0x23 in MRIF mode (M=1): MRIF address bits 55:9 at 53:7; NPPN and NID.
    b.memory.write(msiRoot + 0x23n * 16n, 8, 1n | (1n << 1n) | ((mrifAddr >> 9n) << 7n));
    b.memory.write(msiRoot + 0x23n * 16n + 8n, 8, BigInt(NID) | ((notice >> 12n) << 10n));
    const port = new RiscvIommuDmaPort(b.iommu);
    const requester = new DmaRequester(DID);
    const le32 = (v: number) => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    return { b, port, requester, mrifAddr, notice, le32 };
  }

  it('a naturally aligned 4-byte write at seteipnum_le is an MSI: the pending bit is set and the notice sent', () => {
    const { b, port, requester, mrifAddr, notice, le32 } = rig();
    expect(port.writeBurst(requester, FILE_GPA, 4, le32(70), 0)).toBe(DmaPortStatus.Ok);
    expect(b.memory.read(mrifAddr + 16n, 8)).toBe(1n << 6n); // id 70: doubleword pair 1, bit 6
    expect(b.memory.read(notice, 4)).toBe(BigInt(NID));
    expect(b.iommu.bridge.mrif).toMatchObject({ msisStored: 1, discarded: 0, noticesSent: 1 });
    expect(b.iommu.statistics().requests.untranslated).toBe(1);
  });

  it('any other write is accepted and discarded (the master sees a completed posted write)', () => {
    const { b, port, requester, mrifAddr, notice, le32 } = rig();
    const eight = new Uint8Array(8).fill(1);
    expect(port.writeBurst(requester, FILE_GPA, 8, eight, 0)).toBe(DmaPortStatus.Ok); // too long
    expect(port.writeBurst(requester, FILE_GPA + 2n, 4, le32(5), 0)).toBe(DmaPortStatus.Ok); // misaligned
    expect(port.writeBurst(requester, FILE_GPA, 2, le32(5), 0)).toBe(DmaPortStatus.Ok); // too short
    expect(port.writeBurst(requester, FILE_GPA, 64, new Uint8Array(64).fill(5), 0)).toBe(DmaPortStatus.Ok);
    expect(port.writeBurst(requester, FILE_GPA + 8n, 4, le32(5), 0)).toBe(DmaPortStatus.Ok); // not seteipnum
    expect(port.counters.discarded).toBe(5);
    expect(b.iommu.bridge.mrif).toMatchObject({ msisStored: 0, discarded: 5, noticesSent: 0 });
    for (let k = 0n; k < 64n; k++) expect(b.memory.read(mrifAddr + k * 8n, 8)).toBe(0n);
    expect(b.memory.read(notice, 4)).toBe(0n);
    // The bridge itself says Discarded.
    const req = new TranslationRequest();
    req.deviceId = DID;
    req.iova = FILE_GPA;
    expect(b.iommu.bridge.writeBurst(req, 8, eight, 0)).toBe(DmaStatus.Discarded);
  });

  it('reads of any length return zeros', () => {
    const { b, port, requester, mrifAddr } = rig();
    b.memory.write(mrifAddr, 8, 0xffn);
    const into = new Uint8Array(70).fill(0xee);
    expect(port.readBurst(requester, FILE_GPA + 0x200n, 64, into, 3)).toBe(DmaPortStatus.Ok);
    expect(into.subarray(3, 67)).toEqual(new Uint8Array(64));
    expect([into[2], into[67]]).toEqual([0xee, 0xee]);
  });
});

describe('DMA address helpers', () => {
  it('dmaAligned accepts naturally aligned accesses inside the 64-bit space only', () => {
    expect(dmaAligned((1n << 64n) - 8n, 8)).toBe(true);
    expect(dmaAligned((1n << 64n) - 1n, 1)).toBe(true);
    expect(dmaAligned(1n << 64n, 1)).toBe(false);
    expect(dmaAligned(-8n, 8)).toBe(false);
    expect(dmaAligned(0x1000_0006n, 4)).toBe(false);
  });

  it('dmaPage and dmaAddress split and join every 64-bit address exactly, on both sides of 2^53', () => {
    const exact = 1n << 53n;
    const address = fc.oneof(fc.bigInt(0n, (1n << 64n) - 1n), fc.bigInt(exact - 0x2000n, exact + 0x2000n));
    fc.assert(
      fc.property(address, (a) => {
        const page = dmaPage(a);
        expect(page).toBe(Number(a >> 12n));
        expect(dmaAddress(page, Number(a & 0xfffn))).toBe(a);
      }),
    );
  });
});
