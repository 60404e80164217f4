// Probing the RISC-V IOMMU driver against the model: the initialization guidelines of the
// specification ("Guidelines for initialization": version, fctl.BE and fctl.WSI, icvec and the
// MSI configuration table, queues programmed and polled on, ddtp mode discovery through WARL
// read-back honouring busy), the choices that follow from capabilities (directory mode, first-
// stage mode), and deferred probe in both directions.

import { describe, expect, it } from 'vitest';
import { IommuMode, Reg, msiAddrOffset, msiDataOffset, msiVecCtlOffset } from '../../../../src/formats/riscv-iommu/index.js';
import { DomainType, Prot } from '../../../../src/os/core/types.js';
import { plicDriver } from '../../../../src/os/drivers/irqchip/plic.js';
import { imsicDriver } from '../../../../src/os/drivers/irqchip/imsic.js';
import { riscvIommuPlatformDriver } from '../../../../src/os/drivers/riscv-iommu/index.js';
import type { MmioDevice } from '../../../../src/sim/mmio.js';
import { IMSIC_BASE, OsMachine, testEndpointDriver } from '../../../support/os-machine.js';

const CQON = 1 << 16;

describe('RISC-V IOMMU driver: bring-up', () => {
  it('programs fctl, icvec, the three queues and a 3LVL directory, then invalidates everything', () => {
    const m = new OsMachine();
    const d = m.driver;
    // ddtp: 3LVL with the driver's root page.
    const ddtp = m.reg64(Reg.ddtp);
    expect(Number(ddtp & 0xfn)).toBe(IommuMode.Lvl3);
    expect(ddtp >> 10n).toBe(BigInt(d.directory.rootPage));
    // Queues: Linux's sizes (CQ 8192, FQ 4096 entries), base registers as programmed, on.
    expect(m.reg64(Reg.cqb)).toBe((BigInt(d.cmdq.ring.page) << 10n) | 12n);
    expect(m.reg64(Reg.fqb)).toBe((BigInt(d.fltq.ring.page) << 10n) | 11n);
    expect(d.cmdq.ring.page % 32).toBe(0); // naturally aligned to its 128 KiB
    for (const csr of [Reg.cqcsr, Reg.fqcsr, Reg.pqcsr]) expect(m.reg32(csr) & (CQON | 3)).toBe(CQON | 3);
    // Wired interrupts selected, vectors by interrupt-names (cmdq 0, fltq 1, pm 2, priq 3).
    expect(m.reg32(Reg.fctl) & 3).toBe(2);
    expect(m.reg64(Reg.icvec)).toBe(0x3210n);
    expect(d.interrupts).toMatchObject({ method: 'wsi', vectors: [0, 1, 2, 3] });
    // Nothing cached from before survives: IODIR.INVAL_DDT (all), IOTINVAL.VMA (all), IOFENCE.C.
    const first = m.commandsSince(0).slice(0, 3);
    expect(first.map((c) => c.name)).toEqual(['IODIR.INVAL_DDT', 'IOTINVAL.VMA', 'IOFENCE.C']);
    expect(first[0].words[0]).toBe(3n); // DV=0
    expect(first[1].words[0]).toBe(1n); // AV=PSCV=GV=0
    expect(m.iommu.statistics().commands['IOFENCE.C']).toBeGreaterThanOrEqual(1);
    expect(m.logMatching(/RISC-V IOMMU version 1\.0.*directory 3LVL.*first stage Sv57/).length).toBe(1);
  });

  it('chooses the deepest directory mode the IOMMU keeps', () => {
    for (const [levels, mode, name] of [
      [3, IommuMode.Lvl3, '3LVL'],
      [2, IommuMode.Lvl2, '2LVL'],
      [1, IommuMode.Lvl1, '1LVL'],
    ] as const) {
      const m = new OsMachine({ iommu: { maxDirectoryLevels: levels } });
      expect(Number(m.reg64(Reg.ddtp) & 0xfn)).toBe(mode);
      expect(m.driver.directory.modeName).toBe(name);
      // The endpoint (device_id 5) still translates through its default domain.
      m.kernel.iommu.map(m.kernel.iommu.domainOf(m.endpoint)!, 0x1000n, 0x8100_0000n, 0x1000n, Prot.READ);
      expect(m.translate(5, 0x1010n)).toEqual({ address: 0x8100_0010n });
    }
  });

  it('sizes directories by context format: 1LVL indexes 7 bits with base contexts, 6 with extended ones', () => {
    const base = new OsMachine({ iommu: { maxDirectoryLevels: 1, capabilities: { MSI_FLAT: false, MSI_MRIF: false, AMO_MRIF: false } } });
    expect(base.driver.directory.contextSize).toBe(32);
    expect(base.driver.directory.deviceIdBits).toBe(7);
    const ext = new OsMachine({ iommu: { maxDirectoryLevels: 1 }, endpoints: [{ name: 'dma', deviceIds: [100] }] });
    expect(ext.driver.directory.deviceIdBits).toBe(6);
    // device_id 100 does not fit a 1LVL directory of extended contexts: the endpoint fails clearly.
    expect(ext.endpoint.state).toBe('failed');
    expect(ext.endpoint.reason).toMatch(/device_id 0x64 does not fit the 1LVL directory \(6-bit ids\)/);
  });

  it('chooses the widest first-stage mode: Sv57, else Sv48, else Sv39', () => {
    for (const [caps, mode, field, bits] of [
      [{}, 'Sv57', 10n, 57],
      [{ Sv57: false }, 'Sv48', 9n, 48],
      [{ Sv57: false, Sv48: false }, 'Sv39', 8n, 39],
    ] as const) {
      const m = new OsMachine({ iommu: { capabilities: caps } });
      const domain = m.kernel.iommu.domainOf(m.endpoint)!;
      expect(m.driver.firstStage).toBe(mode);
      expect(domain.geometry).toEqual({ start: 0n, end: (1n << BigInt(bits - 1)) - 1n });
      expect(domain.pageSizes).toEqual([12, 21, 30]);
      const dc = m.driver.directory.read(m.driver.directory.contextAddress(5, false)!);
      expect(dc.fsc >> 60n).toBe(field);
      // The highest address of the aperture translates (all levels of the mode are walked).
      const top = domain.geometry.end & ~0xfffn;
      m.kernel.iommu.map(domain, top, 0x8200_0000n, 0x1000n, Prot.READ);
      expect(m.translate(5, top + 8n)).toEqual({ address: 0x8200_0008n });
    }
  });

  it('fails a default translated domain clearly when the IOMMU has no first stage, and passes through by policy', () => {
    const caps = { Sv39: false, Sv48: false, Sv57: false };
    const m = new OsMachine({ iommu: { capabilities: caps } });
    expect(m.endpoint.state).toBe('failed');
    expect(m.endpoint.reason).toMatch(/no first-stage mode/);
    const p = new OsMachine({ iommu: { capabilities: caps }, policy: { defaultDomain: 'passthrough' } });
    expect(p.kernel.iommu.domainOf(p.endpoint)?.type).toBe(DomainType.Identity);
    expect(p.translate(5, 0x8765_4000n)).toEqual({ address: 0x8765_4000n });
  });

  it('honours busy: control writes that take simulated time complete through polling', () => {
    const m = new OsMachine({ iommu: { controlBusyCycles: 35 } });
    expect(m.driver.directory.modeName).toBe('3LVL');
    expect(m.reg32(Reg.cqcsr) & CQON).toBe(CQON);
    expect(m.clock.now).toBeGreaterThanOrEqual(35 * 3); // three queues, each waited for
  });

  it('enters a directory mode from a Bare reset state, changing fctl only while Off', () => {
    const m = new OsMachine({ iommu: { resetMode: 'Bare' } });
    expect(m.driver.directory.modeName).toBe('3LVL');
    expect(m.reg32(Reg.fctl) & 2).toBe(2);
  });

  it('sets fctl.BE to the CPU byte order when both are supported, and refuses when not', () => {
    const le = new OsMachine({ iommu: { bigEndianAtReset: true } });
    expect(le.reg32(Reg.fctl) & 1).toBe(0);
    const fixed = new OsMachine({ iommu: { bigEndianAtReset: true, capabilities: { END: false } } });
    const dev = fixed.device('3010000.iommu');
    expect(dev.state).toBe('failed');
    expect(dev.reason).toMatch(/memory is little-endian but the IOMMU accesses memory only big-endian/);
    // A big-endian CPU: fctl.BE=1, contexts with SBE, and translation still works end to end.
    const be = new OsMachine({ endianness: 'big' });
    expect(be.reg32(Reg.fctl) & 1).toBe(1);
    const domain = be.kernel.iommu.domainOf(be.endpoint)!;
    be.kernel.iommu.map(domain, 0x20_0000n, 0x8040_0000n, 0x20_0000n, Prot.READ | Prot.WRITE);
    expect(be.translate(5, 0x21_2345n, { write: true })).toEqual({ address: 0x8041_2345n });
  });

  it('refuses a version it does not know, and an IOMMU already translating', () => {
    const v2 = (model: MmioDevice): MmioDevice => ({
      mmioRead: (off, size) => (off === Reg.capabilities ? (model.mmioRead(off, size) & ~0xffn) | 0x20n : model.mmioRead(off, size)),
      mmioWrite: (off, size, value) => model.mmioWrite(off, size, value),
    });
    const m = new OsMachine({ wrapRegisters: v2 });
    expect(m.device('3010000.iommu').reason).toMatch(/unsupported specification version 0x20/);
    expect(m.endpoint.state).toBe('deferred');

    const on = new OsMachine({ boot: false });
    on.iommu.mmio.write(Reg.ddtp, 8, BigInt(IommuMode.Lvl1) | (0x80100n << 10n));
    on.kernel.boot();
    expect(on.device('3010000.iommu').reason).toMatch(/translation is already on \(ddtp mode 1LVL\)/);
  });
});

describe('RISC-V IOMMU driver: interrupt methods', () => {
  it('uses MSIs when the node has msi-parent: msi_cfg_tbl holds the interrupt file doorbell', () => {
    const m = new OsMachine({ interrupts: 'msi-parent' });
    const d = m.driver;
    expect(m.reg32(Reg.fctl) & 2).toBe(0);
    expect(d.interrupts.method).toBe('msi');
    // Four vectors exist: CQ 0, FQ 1, PQ 2 (Linux's assignment), each with its own identity.
    expect(d.interrupts.vectors).toEqual([0, 1, 3, 2]);
    for (const { vector, data } of d.interrupts.msis) {
      expect(m.reg64(msiAddrOffset(vector))).toBe(IMSIC_BASE);
      expect(m.reg32(msiDataOffset(vector))).toBe(data);
      expect(m.reg32(msiVecCtlOffset(vector))).toBe(0);
    }
    expect(d.interrupts.msis.map((x) => x.vector)).toEqual([0, 1, 2]);
    // A fault arrives as an MSI and is handled.
    const seen: number[] = [];
    m.kernel.iommu.setFaultHandler(m.kernel.iommu.domainOf(m.endpoint)!, (f) => seen.push(f.cause) > 0);
    m.translate(5, 0x4000n);
    expect(m.imsic.received.length).toBeGreaterThan(0);
    m.kernel.poll();
    expect(seen).toEqual([13]);
  });

  it('uses MSIs when the IOMMU signals only MSIs, even with wires described', () => {
    const m = new OsMachine({ iommu: { capabilities: { IGS: 'MSI' } } });
    expect(m.driver.interrupts.method).toBe('msi');
  });

  it('uses wires when the IOMMU has only wires, and Linux vectors without interrupt-names', () => {
    const m = new OsMachine({ iommu: { capabilities: { IGS: 'WSI' } }, interrupts: 'wsi-unnamed' });
    expect(m.driver.interrupts).toMatchObject({ method: 'wsi', vectors: [0, 1, 3, 2] });
    expect(m.reg64(Reg.icvec)).toBe(0x2310n);
  });

  it('maps every cause to vector 0 when the IOMMU implements one vector', () => {
    const m = new OsMachine({ iommu: { interruptVectorBits: 0 }, interrupts: 'msi-parent' });
    expect(m.driver.interrupts.vectors).toEqual([0, 0, 0, 0]);
    expect(m.driver.interrupts.msis.length).toBe(1);
  });

  it('defers while an MSI-only IOMMU has no MSI controller, and fails without any interrupt', () => {
    const noFile = new OsMachine({ iommu: { capabilities: { IGS: 'MSI' } }, imsic: false });
    expect(noFile.device('3010000.iommu').state).toBe('deferred');
    expect(noFile.device('3010000.iommu').reason).toMatch(/waiting for an MSI controller/);
    const none = new OsMachine({ iommu: { capabilities: { IGS: 'WSI' } }, interrupts: 'none' });
    expect(none.device('3010000.iommu').reason).toMatch(/no `interrupts`/);
  });
});

describe('RISC-V IOMMU driver: deferred probe', () => {
  it('an endpoint listed before its IOMMU is deferred, then bound once the IOMMU registers', () => {
    const m = new OsMachine({ endpointsFirst: true });
    expect(m.logMatching(/3020000\.dma: probe deferred: waiting for IOMMU \/soc\/iommu@3010000/).length).toBe(1);
    expect(m.endpoint.state).toBe('bound');
    expect(m.kernel.iommu.domainOf(m.endpoint)?.type).toBe(DomainType.Dma);
  });

  it('an endpoint waits for an IOMMU driver registered after boot', () => {
    const m = new OsMachine({ drivers: [plicDriver, imsicDriver, testEndpointDriver] });
    expect(m.endpoint.state).toBe('deferred');
    m.kernel.drivers.register(riscvIommuPlatformDriver);
    expect(m.endpoint.state).toBe('bound');
    const domain = m.kernel.iommu.domainOf(m.endpoint)!;
    m.kernel.iommu.map(domain, 0x3000n, 0x8300_0000n, 0x1000n, Prot.READ);
    expect(m.translate(5, 0x3004n)).toEqual({ address: 0x8300_0004n });
  });

  it('the IOMMU waits for the interrupt controller of its wires', () => {
    const m = new OsMachine({ drivers: [imsicDriver, riscvIommuPlatformDriver, testEndpointDriver] });
    const iommu = m.device('3010000.iommu');
    expect(iommu.state).toBe('deferred');
    expect(iommu.reason).toMatch(/waiting for the interrupt controller/);
    m.kernel.drivers.register(plicDriver);
    expect(iommu.state).toBe('bound');
    expect(m.endpoint.state).toBe('bound');
    // Interrupts work: a fault reaches the handler through the PLIC.
    const seen: string[] = [];
    m.kernel.iommu.setFaultHandler(m.kernel.iommu.domainOf(m.endpoint)!, (f) => seen.push(f.reason) > 0);
    m.translate(5, 0x9000n, { write: true });
    m.kernel.poll();
    expect(seen).toEqual(['Write/AMO page fault']);
  });
});
