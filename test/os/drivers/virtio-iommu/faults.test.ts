// Fault reporting (VIRTIO 1.3 section 5.13.6.9): the device writes a report into an event-queue
// buffer and notifies; the driver decodes reason, flags, endpoint and address, reports the fault
// to the IOMMU core with the device that owns the endpoint, and makes the buffer available again.

import { describe, expect, it } from 'vitest';
import { DmaPortStatus, DmaRequester } from '../../../../src/devices/dma-port.js';
import { FaultReason } from '../../../../src/formats/virtio-iommu/fault.js';
import type { IommuFault } from '../../../../src/os/core/types.js';
import { VirtioIommuMachine } from '../../../support/virtio-iommu-machine.js';

function watch(m: VirtioIommuMachine): IommuFault[] {
  const faults: IommuFault[] = [];
  m.kernel.iommu.faultObservers.push((f) => faults.push(f));
  return faults;
}

describe('5.13.6.9 fault reports', () => {
  it('DMA to an unmapped IOVA: a MAPPING fault reported to the core with the device, to its domain owner', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const domain = m.kernel.iommu.domainOf(dev);
    if (domain === null) throw new Error('no domain');
    const handled: IommuFault[] = [];
    m.kernel.iommu.setFaultHandler(domain, (f) => {
      handled.push(f);
      return true;
    });
    const r = m.channel().rawReadVerify(0x1234_5000n, 8, 0n);
    expect(r).toMatchObject({ ok: false, error: 'aborted', dmaAddress: 0x1234_5000n, write: false });
    m.kernel.poll();
    expect(handled).toEqual([
      {
        device: dev,
        iova: 0x1234_5000n,
        read: true,
        write: false,
        exec: false,
        privileged: false,
        pasid: null,
        cause: FaultReason.Mapping,
        reason: 'MAPPING: the address is not mapped, or not with this access',
        iommu: m.driver.name,
      },
    ]);
    expect(domain.stats.faults).toBe(1);
    expect(m.driver.statistics().faults).toMatchObject({ received: 1, byReason: { MAPPING: 1, DOMAIN: 0, UNKNOWN: 0 }, unknownEndpoint: 0, ignored: 0 });
    expect(m.logMatching(/MAPPING fault from endpoint 5 \(3020000\.dma\) at 0x12345000 \[R\]/)).toHaveLength(1);
  });

  it('a write to a blocked endpoint: a DOMAIN fault with the write flag', () => {
    const m = new VirtioIommuMachine();
    const dev = m.engineDevice();
    const faults = watch(m);
    m.kernel.iommu.attachDevice(m.kernel.iommu.staticDomain(dev, 'blocked'), dev);
    expect(m.channel().rawFill(0x8000_0000n, 64, 0n)).toMatchObject({ ok: false, error: 'aborted', write: true });
    m.kernel.poll();
    expect(faults).toEqual([expect.objectContaining({ device: dev, iova: 0x8000_0000n, read: false, write: true, cause: FaultReason.Domain })]);
  });

  it('an endpoint no device of the driver uses: reported without a device, and counted', () => {
    const m = new VirtioIommuMachine({ extraEndpoints: [77] });
    const faults = watch(m);
    expect(m.viommu.dmaPort.write(new DmaRequester(77), 0x8000_0000n, 4, 0n)).toBe(DmaPortStatus.Aborted);
    m.kernel.poll();
    expect(faults).toEqual([expect.objectContaining({ device: null, write: true, cause: FaultReason.Domain })]);
    expect(m.driver.statistics().faults.unknownEndpoint).toBe(1);
    expect(m.kernel.iommu.stats.faultsUnhandled).toBe(1);
  });

  it('a report without FAULT_F_ADDRESS (the device MAY omit it) carries no address', () => {
    const m = new VirtioIommuMachine({ viommu: { reportFaultAddress: false } });
    const faults = watch(m);
    m.channel().rawReadVerify(0x5000n, 8, 0n);
    m.kernel.poll();
    expect(faults).toEqual([expect.objectContaining({ iova: 0n, read: true, cause: FaultReason.Mapping })]);
    expect(m.logMatching(/MAPPING fault from endpoint 5 \(3020000\.dma\) \[R\]$/)).toHaveLength(1);
  });

  it('buffers are recycled: more faults than the event queue holds all arrive, none lost', () => {
    const m = new VirtioIommuMachine({ viommu: { eventQueueSize: 4 } });
    const faults = watch(m);
    for (let i = 0; i < 10; i++) {
      m.channel().rawReadVerify(BigInt(0x10_0000 + i * 0x1000), 8, 0n);
      m.kernel.poll();
    }
    expect(faults.map((f) => f.iova)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(0x10_0000 + i * 0x1000)));
    expect(m.driver.events.counters).toMatchObject({ reports: 10, recycled: 10 });
    expect(m.driver.events.vq.inFlight).toBe(4);
    expect(m.viommu.statistics().faults.lost).toBe(0);
  });

  it('faults beyond the first sixteen are counted, not logged as warnings (a rate limit)', () => {
    const m = new VirtioIommuMachine();
    for (let i = 0; i < 20; i++) {
      m.channel().rawReadVerify(BigInt(0x10_0000 + i * 0x1000), 8, 0n);
      m.kernel.poll();
    }
    const warnings = m.kernel.log.records.filter((r) => r.level === 'warn' && /MAPPING fault/.test(r.message));
    expect(warnings).toHaveLength(16);
    expect(m.driver.statistics().faults.received).toBe(20);
  });
});
