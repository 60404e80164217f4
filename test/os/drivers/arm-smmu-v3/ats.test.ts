// ATS on the SMMUv3 driver with PCIe functions that have an Address Translation Cache (PCIe
// Base chapter 10, IHI 0070 3.9): STE.EATS and ATS Control (Enable, STU) in the right order
// around STE updates (Linux arm_smmu_attach_prepare / arm_smmu_attach_commit), DMA served from
// the function's ATC, and ATC invalidation after the TLB invalidation has completed (3.9.1:
// CMD_TLBI_* + CMD_SYNC, then CMD_ATC_INV + CMD_SYNC, as Linux's arm_smmu_atc_inv_domain).

import { describe, expect, it } from 'vitest';
import { decodeSte, Eats, SteConfig } from '../../../../src/formats/smmuv3/structures.js';
import { Reg } from '../../../../src/formats/smmuv3/registers.js';
import { ecamOffset } from '../../../../src/devices/pcie/index.js';
import { DomainType, IotlbGather, Prot } from '../../../../src/os/core/types.js';
import { dmaEngineOf } from '../../../../src/os/drivers/dma-engine/index.js';
import type { MmioDevice } from '../../../../src/sim/mmio.js';
import { SmmuV3Machine, type SmmuV3MachineOptions } from '../../../support/smmuv3-machine.js';

const FN = '0000:00:01.0';
/** The function's StreamID: its requester id (bus 0, device 1, function 0) through iommu-map. */
const SID = 0x08;
const RW = Prot.READ | Prot.WRITE;

/** A machine whose timeline records the driver's commands and the function's ATS Control writes, in order. */
function atsMachine(o: SmmuV3MachineOptions = {}) {
  const timeline: string[] = [];
  let m: SmmuV3Machine | null = null;
  const machine = new SmmuV3Machine({
    pci: [{ device: 1 }],
    ...o,
    wrapRegisters: (model: MmioDevice): MmioDevice => ({
      mmioRead: (off, size) => model.mmioRead(off, size),
      mmioWrite: (off, size, v) => {
        if (off === Reg.CMDQ_PROD && m !== null && m.kernel.iommu.instances.length > 0) {
          const before = m.driver.cmdq.producerIndex;
          const mask = (2 << m.driver.cmdq.ring.log2Entries) - 1;
          timeline.push(m.commandsSince((before - 1) & mask)[0].name);
        }
        model.mmioWrite(off, size, v);
      },
    }),
    wrapEcam: (ecam: MmioDevice): MmioDevice => ({
      mmioRead: (off, size) => ecam.mmioRead(off, size),
      mmioWrite: (off, size, v) => {
        const fn = m?.pciEngines[0];
        if (fn !== undefined && off === ecamOffset(0, 1, 0, fn.capabilities.ats + 6)) {
          timeline.push(`ATS Control ${(Number(v) & 0x8000) !== 0 ? 'Enable' : 'disable'} STU ${Number(v) & 0x1f} (STE.EATS ${m === null ? '?' : decodeSte(m.driver.readSte(SID)!).EATS})`);
        }
        ecam.mmioWrite(off, size, v);
      },
    }),
    boot: false,
  });
  m = machine;
  machine.kernel.boot();
  return { m: machine, timeline };
}

describe('SMMUv3 driver: ATS enable and disable', () => {
  it('sets STE.EATS, then enables ATS in the function with STU = the 4 KiB granule', () => {
    const { m, timeline } = atsMachine();
    const fn = m.pciEngines[0];
    expect(m.device(FN).state).toBe('bound');
    expect(decodeSte(m.driver.readSte(SID)!)).toMatchObject({ Config: BigInt(SteConfig.S1Translate), EATS: BigInt(Eats.Full) });
    expect(fn.atsEnabled).toBe(true);
    expect(fn.atsStu).toBe(0);
    expect(m.driver.master(m.device(FN))!.atsEnabled).toBe(true);
    // The enabling write came once the STE allowing ATS was installed and invalidated.
    const enable = timeline.findIndex((t) => t.startsWith('ATS Control'));
    expect(timeline.slice(enable - 3, enable + 1)).toEqual(['CMD_CFGI_STE', 'CMD_SYNC', 'CMD_PREFETCH_CONFIG', 'ATS Control Enable STU 0 (STE.EATS 1)']);
    expect(m.driver.stats.ats).toEqual({ enabled: 1, disabled: 0 });
  });

  it('serves DMA from the function\'s ATC: Translation Requests, then Translated requests', () => {
    const { m } = atsMachine();
    const ch = dmaEngineOf(m.device(FN));
    const src = BigInt(m.kernel.pages.allocPages(1)) << 12n;
    const dst = BigInt(m.kernel.pages.allocPages(1)) << 12n;
    m.memory.writeBytes(src, Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff));
    expect(ch.copy(src, dst, 4096)).toMatchObject({ ok: true, bytes: 4096 });
    expect(m.memory.readBytes(dst, 4)).toEqual(Uint8Array.from([0, 1, 2, 3]));
    const c = m.pciEngines[0].atsPort!.counters;
    expect(c.translationRequests).toBe(2);
    expect(c.translatedRequests).toBeGreaterThan(2);
    expect(m.smmu.statistics().requests.atsTranslation).toBe(2);
  });

  it('disables ATS in the function before its STE stops allowing it, and needs no ATC invalidation then', () => {
    const { m, timeline } = atsMachine();
    const core = m.kernel.iommu;
    const dev = m.device(FN);
    timeline.length = 0;
    core.attachDevice(core.staticDomain(dev, DomainType.Identity), dev);
    expect(timeline[0]).toBe('ATS Control disable STU 0 (STE.EATS 1)');
    expect(timeline.slice(1)).not.toContain('CMD_ATC_INV');
    expect(m.pciEngines[0].atsEnabled).toBe(false);
    expect(decodeSte(m.driver.readSte(SID)!)).toMatchObject({ Config: BigInt(SteConfig.Bypass), EATS: 0n });
    // Back to the default domain: STE first, then Enable.
    timeline.length = 0;
    core.detachDevice(core.staticDomain(dev, DomainType.Identity), dev);
    expect(timeline.at(-1)).toBe('ATS Control Enable STU 0 (STE.EATS 1)');
    expect(m.driver.stats.ats).toEqual({ enabled: 2, disabled: 1 });
  });

  it('invalidates the whole ATC when the device moves to another paging domain with ATS on', () => {
    const { m, timeline } = atsMachine();
    const core = m.kernel.iommu;
    const dev = m.device(FN);
    const domain = core.domainAlloc(dev);
    timeline.length = 0;
    const mark = m.commandMark;
    core.attachDevice(domain, dev);
    const cmds = m.commandsSince(mark);
    const atc = cmds.filter((c) => c.name === 'CMD_ATC_INV');
    expect(atc.map((c) => [c.fields.StreamID, c.fields.Size, c.fields.SSV])).toEqual([[BigInt(SID), 52n, 0n]]);
    // After the new CD and STE are in place.
    expect(cmds.slice(-2).map((c) => c.name)).toEqual(['CMD_ATC_INV', 'CMD_SYNC']);
    expect(timeline.some((t) => t.startsWith('ATS Control'))).toBe(false);
  });

  it('leaves ATS off without ats-supported on the root complex, without IDR0.ATS, or without the capability', () => {
    const cases: SmmuV3MachineOptions[] = [{ atsSupported: false }, { smmu: { capabilities: { ats: false, pri: false } } }, { pci: [{ device: 1, ats: false }] }];
    for (const o of cases) {
      const { m } = atsMachine(o);
      expect(m.device(FN).state).toBe('bound');
      expect(decodeSte(m.driver.readSte(SID)!).EATS).toBe(0n);
      expect(m.pciEngines[0].atsEnabled).toBe(false);
      expect(m.driver.stats.ats.enabled).toBe(0);
    }
  });
});

describe('SMMUv3 driver: ATC invalidation on unmap (3.9.1)', () => {
  function mapped() {
    const { m, timeline } = atsMachine();
    const core = m.kernel.iommu;
    const dev = m.device(FN);
    const domain = core.domainAlloc(dev);
    core.attachDevice(domain, dev);
    const buf = BigInt(m.kernel.pages.allocPages(4, 4)) << 12n;
    core.map(domain, 0x10_0000n, buf, 0x4000n, RW);
    return { m, timeline, domain, buf, ch: dmaEngineOf(dev), fn: m.pciEngines[0] };
  }

  it('invalidates the TLB, waits, then the ATC, and waits again', () => {
    const { m, domain, ch, fn } = mapped();
    const core = m.kernel.iommu;
    expect(ch.rawFill(0x10_1000n, 64, 0x5an)).toMatchObject({ ok: true });
    expect(fn.atc!.entries().map((e) => e.address)).toEqual([0x10_1000n]);
    const invalidations = fn.counters.atsInvalidations;
    const mark = m.commandMark;
    core.unmap(domain, 0x10_1000n, 0x1000n);
    const cmds = m.commandsSince(mark);
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_VA', 'CMD_SYNC', 'CMD_ATC_INV', 'CMD_SYNC']);
    expect(cmds[2].fields).toMatchObject({ StreamID: BigInt(SID), SSV: 0n, Addr: 0x101n, Size: 0n });
    expect(fn.atc!.entries()).toEqual([]);
    expect(fn.counters.atsInvalidations).toBe(invalidations + 1);
    // The device's next access asks again and is refused (a read sees the abort; 0x5a as data).
    expect(ch.rawReadVerify(0x10_1000n, 64, 0x5an)).toMatchObject({ ok: false, error: 'aborted' });
  });

  it('keeps the ATC translation usable until the sync (the window the gather leaves open)', () => {
    const { m, domain, ch, buf } = mapped();
    const core = m.kernel.iommu;
    expect(ch.rawFill(0x10_2000n, 64, 0x11n)).toMatchObject({ ok: true });
    const gather = new IotlbGather();
    core.unmapFast(domain, 0x10_2000n, 0x1000n, gather);
    // Served from the function's ATC with a Translated request: no Translation Request needed.
    expect(ch.rawFill(0x10_2000n, 64, 0x22n)).toMatchObject({ ok: true });
    expect(m.memory.read(buf + 0x2000n, 1)).toBe(0x22n);
    core.iotlbSync(domain, gather);
    // Now the write is sent untranslated after a "no access" completion and dropped by the SMMU
    // (posted: the engine does not learn); a read reports the abort.
    expect(ch.rawFill(0x10_2000n, 64, 0x33n)).toMatchObject({ ok: true });
    expect(m.memory.read(buf + 0x2000n, 1)).toBe(0x22n);
    expect(ch.rawReadVerify(0x10_2000n, 64, 0x22n)).toMatchObject({ ok: false, error: 'aborted' });
    expect(m.pciEngines[0].atsPort!.counters.noAccess).toBe(2);
  });

  it('widens a range to one aligned power-of-two span (pages 1..3 of 0x100 are invalidated as 0x100..0x103)', () => {
    const { m, domain } = mapped();
    const mark = m.commandMark;
    m.kernel.iommu.unmap(domain, 0x10_1000n, 0x3000n);
    const atc = m.commandsSince(mark).find((c) => c.name === 'CMD_ATC_INV')!;
    expect(atc.fields).toMatchObject({ Addr: 0x100n, Size: 2n });
  });

  it('invalidates the ATC after the ASID on a full flush', () => {
    const { m, domain } = mapped();
    const mark = m.commandMark;
    m.kernel.iommu.flushIotlbAll(domain);
    expect(m.commandNamesSince(mark)).toEqual(['CMD_TLBI_NH_ASID', 'CMD_SYNC', 'CMD_ATC_INV', 'CMD_SYNC']);
    expect(m.commandsSince(mark)[2].fields.Size).toBe(52n);
  });
});
