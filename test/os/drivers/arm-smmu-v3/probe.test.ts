// Probing the SMMUv3 driver against the model (IHI 0070 6.3, Linux arm_smmu_device_probe and
// arm_smmu_device_reset): features from the ID registers, linear or 2-level Stream tables,
// queue and Stream-table registers read back from the model, the reset sequence in order with
// every CR0 change acknowledged, the interrupt choices of the binding, and the refusals.

import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../../../../src/formats/smmuv3/commands.js';
import { Cr0Layout, QueueBaseLayout, Reg, StrtabBaseCfgLayout, StrtabBaseLayout, StrtabFmt } from '../../../../src/formats/smmuv3/registers.js';
import { decode } from '../../../../src/formats/bitfield.js';
import { encodeU32s } from '../../../../src/formats/devicetree/tree.js';
import { L1stdLayout, SteConfig, decodeSte } from '../../../../src/formats/smmuv3/structures.js';
import { DomainType, Prot } from '../../../../src/os/core/types.js';
import { dmaEngineDriver } from '../../../../src/os/drivers/dma-engine/index.js';
import { imsicDriver } from '../../../../src/os/drivers/irqchip/imsic.js';
import { plicDriver } from '../../../../src/os/drivers/irqchip/plic.js';
import { armSmmuV3Driver, STRTAB_SPLIT } from '../../../../src/os/drivers/arm-smmu-v3/index.js';
import type { MmioDevice, MmioSize } from '../../../../src/sim/mmio.js';
import { testEndpointDriver } from '../../../support/os-machine.js';
import { ENGINE_SID, IMSIC_BASE, SmmuV3Machine } from '../../../support/smmuv3-machine.js';

const CR0 = { SMMUEN: 1 << Cr0Layout.SMMUEN.lsb, PRIQEN: 1 << Cr0Layout.PRIQEN.lsb, EVENTQEN: 1 << Cr0Layout.EVENTQEN.lsb, CMDQEN: 1 << Cr0Layout.CMDQEN.lsb, ATSCHK: 1 << Cr0Layout.ATSCHK.lsb };

/** A register frame that records every write (offset, size, value) and every CMD_SYNC seen at PROD. */
function recorder(log: { offset: number; value: bigint }[]): (model: MmioDevice) => MmioDevice {
  return (model) => ({
    mmioRead: (off: number, size: MmioSize) => model.mmioRead(off, size),
    mmioWrite: (off: number, size: MmioSize, value: bigint) => {
      log.push({ offset: off, value });
      model.mmioWrite(off, size, value);
    },
  });
}

/** A register frame whose 32-bit register at `offset` reads as `value` (other registers unchanged). */
function override(offset: number, value: number): (model: MmioDevice) => MmioDevice {
  return (model) => ({
    mmioRead: (off: number, size: MmioSize) => (off === offset && size === 4 ? BigInt(value >>> 0) : model.mmioRead(off, size)),
    mmioWrite: (off: number, size: MmioSize, v: bigint) => model.mmioWrite(off, size, v),
  });
}

describe('SMMUv3 driver: bring-up (arm_smmu_device_reset)', () => {
  it('programs the Stream table, the three queues and the control registers, and enables translation', () => {
    const m = new SmmuV3Machine();
    const d = m.driver;
    const r = (off: number) => m.smmu.mmio.read32(off) >>> 0;
    const r64 = (off: number) => m.smmu.mmio.read(off, 8);
    // CR0: every queue, ATS checking (IDR0.ATS) and SMMUEN; CR0ACK agrees (6.3.9, 6.3.10).
    const enables = CR0.SMMUEN | CR0.CMDQEN | CR0.EVENTQEN | CR0.PRIQEN | CR0.ATSCHK;
    expect(r(Reg.CR0)).toBe(enables);
    expect(r(Reg.CR0ACK)).toBe(enables);
    // CR1: queues and tables Write-Back, Inner Shareable (Linux); CR2: PTM and RECINVSID.
    expect(r(Reg.CR1)).toBe(0xd75);
    expect(r(Reg.CR2)).toBe(0b110);
    // 2-level Stream table (IDR0.ST_LEVEL, 24-bit StreamIDs > SPLIT 8), RA set (6.3.24, 6.3.25).
    const cfg = decode(StrtabBaseCfgLayout, BigInt(r(Reg.STRTAB_BASE_CFG)));
    expect(cfg).toEqual({ LOG2SIZE: 24n, SPLIT: BigInt(STRTAB_SPLIT), FMT: BigInt(StrtabFmt.TwoLevel) });
    const base = decode(StrtabBaseLayout, r64(Reg.STRTAB_BASE));
    expect(base).toEqual({ ADDR: d.streamTable.baseAddress >> 6n, RA: 1n });
    // Queues (6.3.26 - 6.3.33): base, LOG2SIZE and the allocate hint as programmed, naturally aligned.
    for (const [reg, ring] of [
      [Reg.CMDQ_BASE, d.cmdq.ring],
      [Reg.EVENTQ_BASE, d.eventq.ring],
      [Reg.PRIQ_BASE, d.priq!.ring],
    ] as const) {
      const q = decode(QueueBaseLayout, r64(reg));
      expect(q).toEqual({ LOG2SIZE: BigInt(ring.log2Entries), ADDR: ring.baseAddress >> 5n, RA_WA: 1n });
      expect(ring.baseAddress % BigInt(ring.entries * ring.regs.entryBytes)).toBe(0n);
    }
    // Default caps: 4096 commands, 2048 events, 4096 page requests (each 64 KiB).
    expect([d.cmdq.entries, d.eventq.ring.entries, d.priq!.ring.entries]).toEqual([4096, 2048, 4096]);
    // Interrupts: event queue, PRI queue and global errors enabled (6.3.16).
    expect(r(Reg.IRQ_CTRL)).toBe(0b111);
    expect(r(Reg.IRQ_CTRLACK)).toBe(0b111);
    expect(d.enabled).toBe(true);
    expect(m.logMatching(/SMMUv3\.2 .*S1\+S2.*2-level Stream table \(24-bit StreamIDs\).*CMD_SYNC completion by MSI write-back/).length).toBe(1);
  });

  it('resets in the architected order, each CR0 change waited for, caches invalidated before SMMUEN', () => {
    const writes: { offset: number; value: bigint }[] = [];
    const m = new SmmuV3Machine({ wrapRegisters: recorder(writes) });
    const d = m.driver;
    const at = (offset: number, value?: number) => writes.findIndex((w) => w.offset === offset && (value === undefined || w.value === BigInt(value)));
    const cr0 = writes.filter((w) => w.offset === Reg.CR0).map((w) => Number(w.value));
    // Disabled first, then each queue enabled on its own, ATS checking, and SMMUEN last.
    expect(cr0).toEqual([0, CR0.CMDQEN, CR0.CMDQEN | CR0.EVENTQEN, CR0.CMDQEN | CR0.EVENTQEN | CR0.PRIQEN, 0x1e, 0x1f]);
    const order = [
      at(Reg.CR0, 0),
      at(Reg.CR1),
      at(Reg.CR2),
      at(Reg.STRTAB_BASE),
      at(Reg.STRTAB_BASE_CFG),
      at(Reg.CMDQ_BASE),
      at(Reg.CR0, CR0.CMDQEN),
      at(Reg.CMDQ_PROD, 1), // the first command
      at(Reg.EVENTQ_BASE),
      at(Reg.CR0, CR0.CMDQEN | CR0.EVENTQEN),
      at(Reg.PRIQ_BASE),
      at(Reg.IRQ_CTRL, 0),
      at(Reg.IRQ_CTRL, 7),
      at(Reg.CR0, 0x1f),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The commands before SMMUEN: CMD_CFGI_ALL, CMD_TLBI_EL2_ALL (HYP), CMD_TLBI_NSNH_ALL, each with a CMD_SYNC.
    const first = m.commandsSince(0).slice(0, 6);
    expect(first.map((c) => c.name)).toEqual(['CMD_CFGI_ALL', 'CMD_SYNC', 'CMD_TLBI_EL2_ALL', 'CMD_SYNC', 'CMD_TLBI_NSNH_ALL', 'CMD_SYNC']);
    expect(decodeCommand(first[0].words).fields.Range).toBe(31n);
    expect(d.stats.syncs).toBeGreaterThanOrEqual(3);
    expect(m.smmu.statistics().commands.CMD_CFGI_ALL).toBe(1);
  });

  it('aborts traffic through GBPA while it resets an SMMU found enabled', () => {
    const m = new SmmuV3Machine({ boot: false });
    m.smmu.mmio.write32(Reg.CR0, CR0.SMMUEN);
    m.kernel.boot();
    expect(m.driver.enabled).toBe(true);
    expect(m.smmu.mmio.read32(Reg.GBPA) & (1 << 20)).not.toBe(0);
    expect(m.logMatching(/SMMU currently enabled/).length).toBe(1);
  });

  it('chooses a linear Stream table without ST_LEVEL, or when the StreamIDs fit one level-2 array', () => {
    for (const caps of [{ twoLevelStreamTable: false, sidBits: 13 }, { sidBits: STRTAB_SPLIT }]) {
      const sid = 0x45;
      const m = new SmmuV3Machine({ smmu: { capabilities: caps }, engineSids: [sid] });
      const d = m.driver;
      expect(d.streamTable.twoLevel).toBe(false);
      const cfg = decode(StrtabBaseCfgLayout, BigInt(m.smmu.mmio.read32(Reg.STRTAB_BASE_CFG)));
      expect(cfg).toEqual({ LOG2SIZE: BigInt(caps.sidBits), SPLIT: 0n, FMT: BigInt(StrtabFmt.Linear) });
      // Every STE of the linear table starts valid and aborting; the engine's points at its domain.
      expect(decodeSte(d.readSte(sid + 1)!)).toMatchObject({ V: 1n, Config: BigInt(SteConfig.Abort) });
      expect(decodeSte(d.readSte(sid)!)).toMatchObject({ V: 1n, Config: BigInt(SteConfig.S1Translate) });
      const domain = m.kernel.iommu.domainOf(m.engineDevice)!;
      m.kernel.iommu.map(domain, 0x4000n, 0x8123_4000n, 0x1000n, Prot.READ);
      expect(m.translate(sid, 0x4008n)).toEqual({ address: 0x8123_4008n });
    }
  });

  it('allocates level-2 Stream-table arrays on demand and invalidates their level-1 descriptors (5.1.1)', () => {
    const m = new SmmuV3Machine({ engineSids: [0x1234], endpoints: [{ name: 'ep', sids: [0x1201, 0x3456] }] });
    const d = m.driver;
    // L1STDs of 0x12xx and 0x34xx valid with Span = SPLIT + 1; every other one still invalid.
    expect(d.streamTable.l2Arrays).toBe(2);
    const l1 = (index: number) => decode(L1stdLayout, m.memory.read(d.streamTable.baseAddress + BigInt(8 * index), 8));
    expect(l1(0x12).Span).toBe(BigInt(STRTAB_SPLIT + 1));
    expect(l1(0x34).Span).toBe(BigInt(STRTAB_SPLIT + 1));
    expect(l1(0x13).Span).toBe(0n);
    // The non-leaf CMD_CFGI_STE went out for the first StreamID of each new array.
    const cfgi = m.commandsSince(0).filter((c) => c.name === 'CMD_CFGI_STE' && c.fields.Leaf === 0n);
    expect(cfgi.map((c) => Number(c.fields.StreamID))).toEqual([0x1234, 0x3456]);
    // A StreamID in an absent array is C_BAD_STREAMID (5.1.1); an unclaimed one in a present array
    // meets a valid abort STE: terminated without an event (5.2, Config 0b000).
    expect(m.translate(0x1300, 0n)).toMatchObject({ event: 'C_BAD_STREAMID' });
    expect(m.translate(0x1202, 0n)).toEqual({ event: 'none', reason: '' });
  });

  it('reads features from the ID registers: stage 1 only, stage 2 only, 8-bit ASIDs and VMIDs', () => {
    const s1 = new SmmuV3Machine({ smmu: { capabilities: { stage2: false, asid16: false, vmid16: false } } });
    expect(s1.driver.features).toMatchObject({ stage1: true, stage2: false, asidBits: 8, vmidBits: 8 });
    expect(s1.kernel.iommu.domainOf(s1.engineDevice)?.name).toMatch(/stage-1 ASID 1/);
    const s2 = new SmmuV3Machine({ smmu: { capabilities: { stage1: false, hyp: false, ssidBits: 0, twoLevelCdTable: false } } });
    expect(s2.driver.features).toMatchObject({ stage1: false, stage2: true });
    expect(s2.kernel.iommu.domainOf(s2.engineDevice)?.name).toMatch(/stage-2 VMID 1/);
    // Without HYP no CMD_TLBI_EL2_ALL is issued at reset.
    expect(s2.commandsSince(0).slice(0, 4).map((c) => c.name)).toEqual(['CMD_CFGI_ALL', 'CMD_SYNC', 'CMD_TLBI_NSNH_ALL', 'CMD_SYNC']);
  });

  it('caps queue sizes at IDR1 and leaves the PRI queue out without PRI', () => {
    const m = new SmmuV3Machine({ smmu: { capabilities: { cmdqLog2Max: 5, eventqLog2Max: 3, pri: false } } });
    const d = m.driver;
    expect([d.cmdq.entries, d.eventq.ring.entries, d.priq]).toEqual([32, 8, null]);
    expect(m.smmu.mmio.read32(Reg.CR0) & CR0.PRIQEN).toBe(0);
    expect(m.smmu.mmio.read32(Reg.IRQ_CTRL)).toBe(0b101);
    // A small command queue wraps many times: commands keep flowing.
    const domain = m.kernel.iommu.domainOf(m.engineDevice)!;
    for (let i = 0; i < 40; i++) {
      m.kernel.iommu.map(domain, 0x10000n, 0x8100_0000n, 0x1000n, Prot.READ);
      m.kernel.iommu.unmap(domain, 0x10000n, 0x1000n);
    }
    expect(d.stats.syncTimeouts).toBe(0);
    expect(m.smmu.mmio.read32(Reg.CMDQ_CONS) & 0x3f).toBe(d.cmdq.producerIndex);
  });

  it('polls CMDQ_CONS for CMD_SYNC completion when the SMMU is not coherent or has no MSIs', () => {
    for (const o of [{ coherent: false }, { smmu: { capabilities: { msi: false } } }, { driver: { syncCompletion: 'cons' as const } }]) {
      const m = new SmmuV3Machine(o);
      expect(m.driver.cmdq.completion).toBe('cons');
      // CS = SIG_SEV (IDR0.SEV) and no MSI address; the commands stay readable in the queue.
      const syncs = m.commandsSince(0).filter((c) => c.name === 'CMD_SYNC');
      expect(syncs.length).toBeGreaterThan(0);
      expect(syncs.every((c) => c.fields.CS === 2n && c.fields.MSIAddress === 0n)).toBe(true);
    }
    const msi = new SmmuV3Machine();
    const sync = msi.commandsSince(0).find((c) => c.name === 'CMD_SYNC')!;
    // Completed by its own MSI: the first word reads 0, the MSI address is the command's slot.
    expect(sync.words[0] & 0xffff_ffffn).toBe(0n);
    expect(msi.smmu.statistics().interrupts.cmdqSync).toBeGreaterThan(0);
  });
});

describe('SMMUv3 driver: interrupts (binding arm,smmu-v3)', () => {
  it('connects the wires named eventq, priq and gerror; an event reaches the core through the PLIC', () => {
    const m = new SmmuV3Machine();
    expect(m.driver.interrupts).toEqual({ kind: 'wired', eventq: 0, gerror: 3, priq: 1 });
    const seen: string[] = [];
    m.kernel.iommu.setFaultHandler(m.kernel.iommu.domainOf(m.engineDevice)!, (f) => seen.push(f.reason) > 0);
    expect(m.translate(ENGINE_SID, 0x7000n)).toMatchObject({ event: 'F_TRANSLATION' });
    m.kernel.poll();
    expect(seen).toEqual(['F_TRANSLATION: translation fault']);
    expect(m.driver.stats.interrupts).toEqual({ eventq: 1 });
  });

  it('uses one combined wire for everything', () => {
    const m = new SmmuV3Machine({ interrupts: 'combined' });
    expect(m.driver.interrupts).toEqual({ kind: 'combined', index: 0 });
    m.kernel.poll();
    // The wire also pulses for each CMD_SYNC completion (its cmdq-sync source), which finds nothing to do.
    const before = m.driver.stats.interrupts.combined ?? 0;
    m.translate(ENGINE_SID, 0x7000n);
    m.kernel.poll();
    expect(m.driver.stats.interrupts).toEqual({ combined: before + 1 });
    expect(m.driver.stats.events.handled).toBe(1);
  });

  it('uses MSIs with msi-parent: *_IRQ_CFG0/1/2 hold the doorbell, the payload and Device-nGnRE', () => {
    const m = new SmmuV3Machine({ interrupts: 'msi-only' });
    const d = m.driver;
    expect(d.interrupts).toEqual({ kind: 'msi' });
    expect(d.msis.map((x) => x.source)).toEqual(['eventq', 'gerror', 'priq']);
    const regs = { eventq: [Reg.EVENTQ_IRQ_CFG0, Reg.EVENTQ_IRQ_CFG1, Reg.EVENTQ_IRQ_CFG2], gerror: [Reg.GERROR_IRQ_CFG0, Reg.GERROR_IRQ_CFG1, Reg.GERROR_IRQ_CFG2], priq: [Reg.PRIQ_IRQ_CFG0, Reg.PRIQ_IRQ_CFG1, Reg.PRIQ_IRQ_CFG2] };
    for (const msi of d.msis) {
      const [cfg0, cfg1, cfg2] = regs[msi.source];
      expect(m.smmu.mmio.read(cfg0, 8)).toBe(IMSIC_BASE);
      expect(m.smmu.mmio.read32(cfg1)).toBe(msi.data);
      expect(m.smmu.mmio.read32(cfg2) & 0xf).toBe(1);
    }
    m.translate(ENGINE_SID, 0x7000n);
    expect(m.imsic.received.map((x) => x.data)).toContain(d.msis[0].data);
    m.kernel.poll();
    expect(d.stats.interrupts).toEqual({ eventq: 1 });
  });

  it('falls back to wires when the SMMU cannot send MSIs', () => {
    const m = new SmmuV3Machine({ interrupts: 'msi-parent', smmu: { capabilities: { msi: false } } });
    expect(m.driver.interrupts.kind).toBe('wired');
  });

  it('fails clearly without an interrupt for events or global errors', () => {
    const cases = [
      ['unnamed', /no interrupt for "eventq" and "gerror": 4 interrupt\(s\) without interrupt-names/],
      ['no-gerror', /no interrupt for "gerror": interrupt-names is <"eventq", "priq"> for 2 interrupt\(s\)/],
      ['none', /no interrupt for "eventq" and "gerror".*or msi-parent/],
    ] as const;
    for (const [interrupts, reason] of cases) {
      const m = new SmmuV3Machine({ interrupts });
      expect(m.smmuDevice.state).toBe('failed');
      expect(m.smmuDevice.reason).toMatch(reason);
      expect(m.engineDevice.state).toBe('deferred');
    }
    const noMsi = new SmmuV3Machine({ interrupts: 'msi-only', smmu: { capabilities: { msi: false } } });
    expect(noMsi.smmuDevice.reason).toMatch(/IDR0\.MSI == 0/);
  });

  it('waits for the interrupt controller of its wires, and its devices wait for it', () => {
    const m = new SmmuV3Machine({ drivers: [imsicDriver, armSmmuV3Driver, dmaEngineDriver, testEndpointDriver] });
    expect(m.smmuDevice.state).toBe('deferred');
    expect(m.smmuDevice.reason).toMatch(/waiting for the interrupt controller/);
    expect(m.engineDevice.reason).toMatch(/waiting for IOMMU \/soc\/iommu@9050000/);
    m.kernel.drivers.register(plicDriver);
    expect(m.smmuDevice.state).toBe('bound');
    expect(m.engineDevice.state).toBe('bound');
    expect(m.kernel.iommu.domainOf(m.engineDevice)?.type).toBe(DomainType.Dma);
  });
});

describe('SMMUv3 driver: refusals', () => {
  it('refuses a bad binding: #iommu-cells, a register window smaller than both pages', () => {
    const cells = new SmmuV3Machine({ editTree: (dt) => dt.find('/soc/iommu@9050000')!.set('#iommu-cells', encodeU32s([2])) });
    expect(cells.smmuDevice.reason).toMatch(/invalid #iommu-cells value \(2\)/);
    const small = new SmmuV3Machine({ editTree: (dt) => dt.find('/soc/iommu@9050000')!.set('reg', encodeU32s([0, 0x905_0000, 0, 0x1_0000])) });
    expect(small.smmuDevice.reason).toMatch(/MMIO region too small: reg is 65536 bytes/);
  });

  it('refuses embedded implementations, no VMSAv8-64 tables, and a table byte order the CPU cannot use', () => {
    const preset = new SmmuV3Machine({ wrapRegisters: override(Reg.IDR1, (1 << 29) | (16 << 21) | 16) });
    expect(preset.smmuDevice.reason).toMatch(/embedded implementation not supported/);
    const aarch32 = new SmmuV3Machine({ wrapRegisters: (model) => override(Reg.IDR0, (Number(model.mmioRead(Reg.IDR0, 4)) & ~0xc) | 0x4)(model) });
    expect(aarch32.smmuDevice.reason).toMatch(/IDR0\.TTF 1: the VMSAv8-64 \(AArch64\) table format is not supported/);
    const be = new SmmuV3Machine({ smmu: { capabilities: { ttEndian: 'big' } } });
    expect(be.smmuDevice.reason).toMatch(/walks only big-endian translation tables \(IDR0\.TTENDIAN\) and the CPU is little-endian/);
    // Nothing is left enabled by a refused probe.
    expect(be.smmu.mmio.read32(Reg.CR0)).toBe(0);
  });

  it('fails a device whose StreamID is beyond SIDSIZE, and one that aliases another device\'s StreamID', () => {
    const m = new SmmuV3Machine({ smmu: { capabilities: { sidBits: 12 } }, engineSids: [0x1000], endpoints: [{ name: 'a', sids: [0x12] }, { name: 'b', sids: [0x12] }] });
    expect(m.engineDevice.state).toBe('failed');
    expect(m.engineDevice.reason).toMatch(/StreamID 0x1000 is out of range of the Stream table \(12-bit StreamIDs\)/);
    expect(m.endpoint('a').state).toBe('bound');
    expect(m.endpoint('b').reason).toMatch(/aliasing StreamID 0x12 \(from 3030000\.a\) is not supported/);
  });
});
