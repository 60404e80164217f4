// The SMMUv3 DMA port: device DMA as transactions (IHI 0070 3.2, 13.7: the requester's id is
// the StreamID, its PASID the SubstreamID), single accesses and bursts, aborts, RAZ/WI
// termination (5.5), target errors and poisoned data, and requests broken before the SMMU.
import { describe, expect, it } from 'vitest';
import { DmaPortStatus, DmaRequester } from '../../../src/devices/dma-port.js';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { SteConfig } from '../../../src/formats/smmuv3/structures.js';
import { SmmuV3DmaPort } from '../../../src/hw/smmuv3/dma-port.js';
import { Bench } from './bench.js';

function setup(cd: Record<string, number> = {}) {
  const b = new Bench().init();
  const { pt } = b.stage1Stream(3, { cd });
  pt.map(0x4000_0000n, 0x8000_0000n);
  return { b, port: new SmmuV3DmaPort(b.smmu), dev: new DmaRequester(3) };
}

describe('SmmuV3DmaPort', () => {
  it('reads and writes through the translation', () => {
    const { b, port, dev } = setup();
    expect(port.write(dev, 0x4000_0010n, 8, 0x1122_3344_5566_7788n)).toBe(DmaPortStatus.Ok);
    expect(b.memory.read(0x8000_0010n, 8)).toBe(0x1122_3344_5566_7788n);
    expect(port.read(dev, 0x4000_0014n, 4)).toBe(DmaPortStatus.Ok);
    expect(port.value).toBe(0x1122_3344n);
  });

  it('bursts are translated once and moved in one transaction', () => {
    const { b, port, dev } = setup();
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(port.writeBurst(dev, 0x4000_0f00n, 256, data, 0)).toBe(DmaPortStatus.Ok);
    const back = new Uint8Array(256);
    expect(port.readBurst(dev, 0x4000_0f00n, 256, back, 0)).toBe(DmaPortStatus.Ok);
    expect(back).toEqual(data);
    expect(b.memory.read(0x8000_0f01n, 1)).toBe(1n);
    expect(b.smmu.statistics().requests.untranslated).toBe(2);
  });

  it('a faulting access is aborted (and recorded)', () => {
    const { b, port, dev } = setup();
    expect(port.read(dev, 0x5000_0000n, 4)).toBe(DmaPortStatus.Aborted);
    expect(port.writeBurst(dev, 0x5000_0000n, 16, new Uint8Array(16), 0)).toBe(DmaPortStatus.Aborted);
    expect(b.events().map((e) => Number(e.EventType))).toEqual([EventType.F_TRANSLATION, EventType.F_TRANSLATION]);
    expect(port.counters.aborted).toBe(2);
  });

  it('5.5 RAZ/WI termination (CD.A == 0): reads return zeros and writes are dropped, successfully', () => {
    const { b, port, dev } = setup({ A: 0 });
    const into = new Uint8Array(8).fill(0xee);
    expect(port.readBurst(dev, 0x5000_0000n, 8, into, 0)).toBe(DmaPortStatus.Ok);
    expect(into).toEqual(new Uint8Array(8));
    expect(port.read(dev, 0x5000_0000n, 8)).toBe(DmaPortStatus.Ok);
    expect(port.value).toBe(0n);
    expect(port.write(dev, 0x5000_0000n, 4, 1n)).toBe(DmaPortStatus.Ok);
    expect(port.writeBurst(dev, 0x5000_0000n, 4, new Uint8Array(4), 0)).toBe(DmaPortStatus.Ok);
    expect(port.counters.razWi).toBe(4);
    expect(b.events()).toHaveLength(4);
  });

  it('the PASID is the SubstreamID; privilege counts only with a PASID (13.7)', () => {
    const b = new Bench().init();
    const { pt, cd } = b.stage1Stream(3, { ste: { S1CDMax: 1, S1DSS: 2 } });
    b.writeDwords(cd + 64n, b.readDwords(cd, 8));
    pt.map(0x1000n, 0x9000n, { AP: 0 });
    const port = new SmmuV3DmaPort(b.smmu);
    expect(port.read(new DmaRequester(3, true, 1, true), 0x1000n, 4)).toBe(DmaPortStatus.Ok);
    expect(port.read(new DmaRequester(3, false, 0, true), 0x1000n, 4)).toBe(DmaPortStatus.Aborted);
    const [e] = b.events();
    expect([e.PnU, e.SSV]).toEqual([0n, 0n]);
  });

  it('a target fault behind the translation is a bus error; poisoned data is reported', () => {
    const { b, port, dev } = setup();
    b.memory.markAccessFault(0x8000_0000n, 8n);
    expect(port.read(dev, 0x4000_0000n, 4)).toBe(DmaPortStatus.BusError);
    b.memory.clearMarks();
    b.memory.markDataCorruption(0x8000_0100n, 8n);
    expect(port.read(dev, 0x4000_0100n, 4)).toBe(DmaPortStatus.Poisoned);
    expect(port.readBurst(dev, 0x4000_0100n, 8, new Uint8Array(8), 0)).toBe(DmaPortStatus.Poisoned);
  });

  it('misaligned accesses and bursts crossing 4 KiB are bus errors before the SMMU sees them', () => {
    const { b, port, dev } = setup();
    expect(port.read(dev, 0x4000_0002n, 4)).toBe(DmaPortStatus.BusError);
    expect(port.readBurst(dev, 0x4000_0ff0n, 32, new Uint8Array(32), 0)).toBe(DmaPortStatus.BusError);
    expect(b.smmu.statistics().requests.untranslated).toBe(0);
  });

  it('a bypass stream and a disabled SMMU pass addresses through', () => {
    const b = new Bench().init();
    b.writeSte(4, { V: 1, Config: SteConfig.Bypass });
    const port = new SmmuV3DmaPort(b.smmu);
    expect(port.write(new DmaRequester(4), 0x6000_0000n, 4, 5n)).toBe(DmaPortStatus.Ok);
    expect(b.memory.read(0x6000_0000n, 4)).toBe(5n);
    b.write32(0x20, 0);
    expect(port.write(new DmaRequester(99), 0x6000_0004n, 4, 6n)).toBe(DmaPortStatus.Ok);
    expect(b.memory.read(0x6000_0004n, 4)).toBe(6n);
  });

  it('a translated MSI reaches an MMIO target on the system bus', () => {
    const b = new Bench().init();
    const writes: bigint[] = [];
    b.bus.mmio.map('doorbell', 0xf000_0000n, 0x1000n, { mmioRead: () => 0n, mmioWrite: (_o, _s, v) => void writes.push(v) });
    const { pt } = b.stage1Stream(5);
    pt.map(0x0800_0000n, 0xf000_0000n);
    const port = new SmmuV3DmaPort(b.smmu);
    expect(port.write(new DmaRequester(5), 0x0800_0040n, 4, 0x23n)).toBe(DmaPortStatus.Ok);
    expect(writes).toEqual([0x23n]);
  });
});
