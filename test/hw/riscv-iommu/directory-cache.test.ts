// Conformance: the directory caches (RISC-V IOMMU spec v1.0, "IOMMU directory cache
// invalidation commands"): a cached DC or PC stays in use after memory changes until
// IODIR.INVAL_DDT / IODIR.INVAL_PDT; their scope; and the cache geometry parameters.

import { describe, expect, it } from 'vitest';
import { iodirInvalDdt, iodirInvalPdt, iotinvalGvma, iotinvalVma, iofenceC, Reg } from '../../../src/formats/index.js';
import { ResponseStatus } from '../../../src/hw/riscv-iommu/index.js';
import type { BenchOptions, RiscvIommuBench } from '../../support/riscv-iommu-bench.js';
import { bench, DEFAULT_IOVA, PDTP_MODE, processDirectory, send, type ProcessDirectory } from './directory-support.js';

const A = 0x000101;
const B = 0x000202;

/** Clears DC.tc.V of `did` in memory (the DC stays in memory otherwise unchanged). */
function invalidateInMemory(b: RiscvIommuBench, did: number): void {
  const addr = b.dcAddress(did);
  b.writeStruct(addr, b.readStruct(addr) & ~1n);
}

function validateInMemory(b: RiscvIommuBench, did: number): void {
  const addr = b.dcAddress(did);
  b.writeStruct(addr, b.readStruct(addr) | 1n);
}

function twoDevices(o: BenchOptions = {}): RiscvIommuBench {
  const b = bench(o);
  b.setDeviceContext(A, {});
  b.setDeviceContext(B, {});
  expect(send(b, A).status).toBe(ResponseStatus.Success);
  expect(send(b, B).status).toBe(ResponseStatus.Success);
  return b;
}

describe('DDT cache: IODIR.INVAL_DDT', () => {
  it('a cached DC is used after its memory changes, until IODIR.INVAL_DDT with DV=1 for that device', () => {
    const b = twoDevices();
    invalidateInMemory(b, A);
    expect(send(b, A).status).toBe(ResponseStatus.Success); // stale but architecturally allowed
    b.submit(iodirInvalDdt(B)); // another device: A stays cached
    expect(send(b, A).status).toBe(ResponseStatus.Success);
    b.submit(iodirInvalDdt(A));
    expect(send(b, A).cause).toBe(258);
    expect(b.faults().map((f) => [f.cause, f.did])).toEqual([[258, A]]);
    expect(b.cqcsr & (1 << 10)).toBe(0); // no cmd_ill
  });

  it('IODIR.INVAL_DDT with DV=0 drops every cached DC', () => {
    const b = twoDevices();
    invalidateInMemory(b, A);
    invalidateInMemory(b, B);
    expect(send(b, A).status).toBe(ResponseStatus.Success);
    expect(send(b, B).status).toBe(ResponseStatus.Success);
    b.submit(iodirInvalDdt());
    expect(send(b, A).cause).toBe(258);
    expect(send(b, B).cause).toBe(258);
  });

  it('a changed DC (new first-stage mapping) takes effect after INVAL_DDT (the IOTLB tag changes with the PSCID)', () => {
    const b = bench();
    const pt1 = b.pageTable('Sv39');
    pt1.map(DEFAULT_IOVA & ~0xfffn, 0x1_0000_0000n);
    const pt2 = b.pageTable('Sv39');
    pt2.map(DEFAULT_IOVA & ~0xfffn, 0x2_0000_0000n);
    b.setDeviceContext(A, { fsc: { mode: 8, ppn: pt1.root }, ta: { pscid: 1 } });
    expect(send(b, A).address).toBe(0x1_0000_0234n);
    b.setDeviceContext(A, { fsc: { mode: 8, ppn: pt2.root }, ta: { pscid: 2 } });
    expect(send(b, A).address).toBe(0x1_0000_0234n);
    b.submit(iodirInvalDdt(A));
    expect(send(b, A).address).toBe(0x2_0000_0234n);
  });

  it('IOTINVAL commands have no effect on the directory caches', () => {
    const b = twoDevices();
    invalidateInMemory(b, A);
    b.submit(iotinvalVma(), iotinvalGvma(), iofenceC());
    expect(send(b, A).status).toBe(ResponseStatus.Success);
    b.submit(iodirInvalDdt(A));
    expect(send(b, A).cause).toBe(258);
  });

  it('a DC that failed to be located is not cached: fixing memory is enough', () => {
    const b = bench();
    b.setDeviceContext(A, {});
    invalidateInMemory(b, A);
    expect(send(b, A).cause).toBe(258);
    validateInMemory(b, A);
    expect(send(b, A).status).toBe(ResponseStatus.Success);
  });
});

describe('PDT cache: IODIR.INVAL_PDT and IODIR.INVAL_DDT', () => {
  function withProcesses(o: BenchOptions = {}): { b: RiscvIommuBench; pdtA: ProcessDirectory; pdtB: ProcessDirectory } {
    const b = bench(o);
    const pdtA = processDirectory(b, 'PD17');
    const pdtB = processDirectory(b, 'PD17');
    for (const pid of [1, 2, 0x1_0000]) {
      pdtA.setProcessContext(pid, {});
      pdtB.setProcessContext(pid, {});
    }
    b.setDeviceContext(A, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE.PD17, ppn: pdtA.root } });
    b.setDeviceContext(B, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE.PD17, ppn: pdtB.root } });
    for (const did of [A, B]) for (const pid of [1, 2, 0x1_0000]) expect(send(b, did, { pid }).status).toBe(ResponseStatus.Success);
    return { b, pdtA, pdtB };
  }

  it('a cached PC is used after its memory changes until IODIR.INVAL_PDT for that (device, process)', () => {
    const { b, pdtA } = withProcesses();
    pdtA.setProcessContext(1, { v: false });
    expect(send(b, A, { pid: 1 }).status).toBe(ResponseStatus.Success);
    b.submit(iodirInvalPdt(A, 2)); // other process
    b.submit(iodirInvalPdt(B, 1)); // same process id, other device
    expect(send(b, A, { pid: 1 }).status).toBe(ResponseStatus.Success);
    b.submit(iodirInvalPdt(A, 1));
    expect(send(b, A, { pid: 1 }).cause).toBe(266);
    expect(b.faults().map((f) => [f.cause, f.did, f.pid])).toEqual([[266, A, 1]]);
  });

  it('IODIR.INVAL_DDT with DV=1 also drops the cached PCs of that device, not those of others', () => {
    const { b, pdtA, pdtB } = withProcesses();
    for (const pid of [1, 2, 0x1_0000]) {
      pdtA.setProcessContext(pid, { v: false });
      pdtB.setProcessContext(pid, { v: false });
    }
    b.submit(iodirInvalDdt(A));
    for (const pid of [1, 2, 0x1_0000]) {
      expect(send(b, A, { pid }).cause).toBe(266);
      expect(send(b, B, { pid }).status).toBe(ResponseStatus.Success);
    }
    b.submit(iodirInvalDdt());
    expect(send(b, B, { pid: 2 }).cause).toBe(266);
  });

  it('IODIR.INVAL_PDT with DV=0 is an illegal command and invalidates nothing', () => {
    const { b, pdtA } = withProcesses();
    pdtA.setProcessContext(1, { v: false });
    const w0 = iodirInvalPdt(A, 1)[0] & ~(1n << 33n); // clear DV
    b.submit([w0, 0n]);
    expect(b.cqcsr & (1 << 10)).not.toBe(0); // cmd_ill
    expect(send(b, A, { pid: 1 }).status).toBe(ResponseStatus.Success);
    expect(b.read32(Reg.cqh)).toBe(0); // the queue stopped on the illegal command
  });
});

describe('directory cache geometry (the `caches` construction parameter)', () => {
  it('a 1-entry DC cache evicts the first device when a second one is located', () => {
    const b = twoDevices({ caches: { deviceContexts: { sets: 1, ways: 1 } } });
    invalidateInMemory(b, A);
    // A was evicted by B: it is read again from memory without any invalidation.
    expect(send(b, A).cause).toBe(258);
    const s = b.iommu.statistics().deviceContextCache;
    expect(s.evictions).toBeGreaterThanOrEqual(1);
  });

  it('with room for both, the first device stays cached', () => {
    const b = twoDevices({ caches: { deviceContexts: { sets: 1, ways: 2 } } });
    invalidateInMemory(b, A);
    expect(send(b, A).status).toBe(ResponseStatus.Success);
    expect(b.iommu.statistics().deviceContextCache.evictions).toBe(0);
  });

  it('a 1-entry PC cache evicts the first process when a second one is located', () => {
    const b = bench({ caches: { processContexts: { sets: 1, ways: 1 } } });
    const pdt = processDirectory(b, 'PD8');
    pdt.setProcessContext(1, {});
    pdt.setProcessContext(2, {});
    b.setDeviceContext(A, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE.PD8, ppn: pdt.root } });
    expect(send(b, A, { pid: 1 }).status).toBe(ResponseStatus.Success);
    expect(send(b, A, { pid: 2 }).status).toBe(ResponseStatus.Success);
    pdt.setProcessContext(1, { v: false });
    pdt.setProcessContext(2, { v: false });
    expect(send(b, A, { pid: 1 }).cause).toBe(266); // evicted by pid 2
    expect(b.iommu.statistics().processContextCache.evictions).toBeGreaterThanOrEqual(1);
    const big = bench({ caches: { processContexts: { sets: 1, ways: 2 } } });
    const pdt2 = processDirectory(big, 'PD8');
    pdt2.setProcessContext(1, {});
    pdt2.setProcessContext(2, {});
    big.setDeviceContext(A, { tc: { PDTV: true }, fsc: { mode: PDTP_MODE.PD8, ppn: pdt2.root } });
    send(big, A, { pid: 1 });
    send(big, A, { pid: 2 });
    pdt2.setProcessContext(1, { v: false });
    expect(send(big, A, { pid: 1 }).status).toBe(ResponseStatus.Success);
  });

  it('hits, misses and directory walks are counted', () => {
    const b = bench();
    b.setDeviceContext(A, {});
    for (let i = 0; i < 5; i++) send(b, A, { iova: BigInt(i) << 12n });
    const s = b.iommu.statistics();
    expect(s.deviceContextCache.misses).toBe(1);
    expect(s.deviceContextCache.hits).toBe(4);
    expect(s.walks.deviceDirectory).toBe(1);
  });
});
