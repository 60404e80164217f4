import { describe, expect, it } from 'vitest';
import { DmaEngineReg } from '../../../src/devices/dma-engine/index.js';
import type { IommuFault } from '../../../src/os/core/types.js';
import { dmaEngineOf } from '../../../src/os/drivers/dma-engine/index.js';
import type { Kernel } from '../../../src/os/kernel/kernel.js';
import { buildDevicesMachine, type DevicesMachineOptions } from '../../support/devices-machine.js';

const PLATFORM = '3020000.dma-controller';
const PCI = '0000:00:01.0';

function machine(o: DevicesMachineOptions) {
  const m = buildDevicesMachine(o);
  const dev = (name: string) => {
    const d = m.kernel.drivers.find((x) => x.name === name);
    if (d === undefined) throw new Error(`no device ${name}`);
    return d;
  };
  const log = () => m.kernel.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
  return { ...m, dev, log };
}

function buffer(kernel: Kernel, pages = 1): bigint {
  return BigInt(kernel.pages.allocPages(pages)) << 12n;
}

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 11 + seed) & 0xff);
}

describe('DMA engines behind a RISC-V IOMMU (platform)', () => {
  it('copy through IOVAs the DMA API maps, and fault once they are unmapped', () => {
    const m = machine({ iommu: 'platform' });
    const dev = m.dev(PLATFORM);
    expect(dev.state, m.log()).toBe('bound');
    expect(m.kernel.iommu.domainOf(dev)?.type).toBe('dma');
    const ch = dmaEngineOf(dev);
    const src = buffer(m.kernel, 2);
    const dst = buffer(m.kernel, 2);
    m.memory.writeBytes(src, bytes(8192, 1));
    expect(ch.copy(src, dst, 8192)).toMatchObject({ ok: true, bytes: 8192 });
    expect(m.memory.readBytes(dst, 8192)).toEqual(bytes(8192, 1));
    // The engine was given IOVAs, not the buffers' physical addresses.
    const iova = m.engine.mmioRead(DmaEngineReg.SOURCE, 8);
    expect(iova).not.toBe(src);
    // 8 KiB read and written in 64-byte transactions, one translation each: 2 * 8192 / 64.
    expect(m.iommu?.statistics().requests.untranslated).toBe(256);

    // The mapping is gone after the call: the same IOVA now faults in the IOMMU.
    const faults: IommuFault[] = [];
    const domain = m.kernel.iommu.domainOf(dev);
    if (domain === null) throw new Error('no domain');
    m.kernel.iommu.setFaultHandler(domain, (f) => {
      faults.push(f);
      return true;
    });
    const r = ch.rawReadVerify(iova, 8, 0n);
    expect(r).toMatchObject({ ok: false, error: 'aborted', dmaAddress: iova, write: false });
    m.kernel.poll();
    expect(faults).toEqual([expect.objectContaining({ device: dev, iova, read: true, write: false })]);
  });

  it('isolates the engines from each other', () => {
    const m = machine({ iommu: 'platform' });
    const platform = dmaEngineOf(m.dev(PLATFORM));
    const pci = dmaEngineOf(m.dev(PCI));
    expect(m.kernel.iommu.domainOf(m.dev(PCI))).not.toBe(m.kernel.iommu.domainOf(m.dev(PLATFORM)));
    const buf = buffer(m.kernel);
    m.memory.writeBytes(buf, bytes(4096, 3));
    // Map a buffer for the PCI engine, and let the platform engine try its IOVA.
    const dma = m.kernel.dma.mapSingle(m.dev(PCI), buf, 4096, 'to-device');
    expect(pci.rawCopy(dma, dma, 8)).toMatchObject({ ok: true });
    const stolen = platform.rawCopy(dma, dma, 8);
    expect(stolen.ok).toBe(false);
    // And the physical address itself means nothing to a translated device either.
    expect(platform.rawReadVerify(buf, 8, 0n)).toMatchObject({ ok: false, error: 'aborted' });
    m.kernel.dma.unmapSingle(m.dev(PCI), dma, 4096, 'to-device');
    m.kernel.poll();
    expect(m.kernel.iommu.stats.faultsReported).toBeGreaterThanOrEqual(2);
  });

  it('translates the PCI endpoint under its requester id through iommu-map', () => {
    const m = machine({ iommu: 'platform' });
    const ch = dmaEngineOf(m.dev(PCI));
    const src = buffer(m.kernel);
    const dst = buffer(m.kernel);
    m.memory.writeBytes(src, bytes(4096, 5));
    expect(ch.fill(dst, 4096, 0x0101_0101_0101_0101n)).toMatchObject({ ok: true });
    expect(ch.copy(src, dst, 4096)).toMatchObject({ ok: true });
    expect(m.memory.readBytes(dst, 4096)).toEqual(bytes(4096, 5));
    // The IOMMU knows the function as device id 8 (requester id 00:01.0, iommu-map 1:1).
    const dma = m.kernel.dma.mapSingle(m.dev(PCI), src, 4096, 'to-device');
    const rsp = m.iommu?.translate({ deviceId: 8, iova: dma + 0x10n });
    expect(rsp?.status).toBe(0);
    expect(rsp?.address(0x10)).toBe(src + 0x10n);
    m.kernel.dma.unmapSingle(m.dev(PCI), dma, 4096, 'to-device');
  });
});

describe('DMA engines behind a RISC-V IOMMU that is itself a PCI function', () => {
  it('enumerates the IOMMU at 00:02.0, binds its PCI driver and translates both engines', () => {
    const m = machine({ iommu: 'pci' });
    const iommuDev = m.dev('0000:00:02.0');
    expect(iommuDev.state, m.log()).toBe('bound');
    expect(iommuDev.pci?.classCode).toBe(0x080600);
    expect(iommuDev.node?.path).toBe('/soc/pci@30000000/iommu@2,0');
    for (const name of [PLATFORM, PCI]) {
      const dev = m.dev(name);
      expect(dev.state, m.log()).toBe('bound');
      expect(m.kernel.iommu.domainOf(dev)?.type).toBe('dma');
      const src = buffer(m.kernel);
      const dst = buffer(m.kernel);
      m.memory.writeBytes(src, bytes(256, 9));
      expect(dmaEngineOf(dev).copy(src, dst, 256)).toMatchObject({ ok: true, bytes: 256 });
      expect(m.memory.readBytes(dst, 256)).toEqual(bytes(256, 9));
    }
  });
});
