// The GICv3 model (IHI 0069, one Security state, affinity routing) driven through its
// Distributor and Redistributor frames and through a PE's system registers, as a kernel
// running on that PE reaches them.
import { describe, expect, it } from 'vitest';
import { GICD, GICR, GicV3, ICC, type GicOptions } from '../../src/devices/gic/index.js';
import { Hart, UndefinedInstructionError } from '../../src/sim/hart.js';
import type { MmioDevice, MmioSize } from '../../src/sim/mmio.js';

const SPI = (n: number) => 32 + n;
const SGI_BASE = GICR.FRAME_SIZE;

function regs(dev: MmioDevice) {
  return {
    read: (offset: number, size: MmioSize = 4) => dev.mmioRead(offset, size),
    read32: (offset: number) => Number(dev.mmioRead(offset, 4)),
    write: (offset: number, value: number | bigint, size: MmioSize = 4) => dev.mmioWrite(offset, size, BigInt(value)),
  };
}

function bench(options: GicOptions = {}) {
  const gic = new GicV3(options);
  const cpus = Array.from({ length: gic.cpus }, (_, c) => {
    const hart = new Hart(c, null, { architecture: 'arm', affinity: gic.parameters.affinities[c] });
    hart.systemRegisters.connect(gic.cpuInterface(c));
    return hart;
  });
  const d = regs(gic.distributor);
  const r = regs(gic.redistributorRegion(0, BigInt(GICR.STRIDE * gic.cpus)));
  const sys = (cpu = 0) => ({
    read: (encoding: number) => Number(cpus[cpu].systemRegisters.read(encoding)),
    write: (encoding: number, value: number | bigint) => cpus[cpu].systemRegisters.write(encoding, BigInt(value)),
  });
  const bit = (base: number, intid: number) => (d.read32(base + 4 * (intid >> 5)) >>> (intid & 31)) & 1;
  /** Wakes PE `cpu`, opens its Group 1 and priority mask, enables Group 1 in the Distributor. */
  const upCpu = (cpu = 0) => {
    r.write(GICR.STRIDE * cpu + GICR.WAKER, 0);
    sys(cpu).write(ICC.PMR_EL1, 0xf0);
    sys(cpu).write(ICC.IGRPEN1_EL1, 1);
    d.write(GICD.CTLR, 0b10);
  };
  /** A Group 1 SPI at `priority`, routed to affinity `route` (default PE 0's), enabled. */
  const spi = (n: number, priority = 0xa0, route: number | bigint = gic.parameters.affinities[0]) => {
    d.write(GICD.IGROUPR + 4 * (SPI(n) >> 5), d.read32(GICD.IGROUPR + 4 * (SPI(n) >> 5)) | (1 << (SPI(n) & 31)));
    d.write(GICD.IPRIORITYR + SPI(n), priority, 1);
    d.write(GICD.IROUTER + 8 * SPI(n), route, 8);
    d.write(GICD.ISENABLER + 4 * (SPI(n) >> 5), 1 << (SPI(n) & 31));
  };
  return { gic, cpus, d, r, sys, bit, upCpu, spi };
}

describe('GICv3 Distributor (IHI 0069 GICD_CTLR, GICD_TYPER, GICD_PIDR2)', () => {
  it('reports one Security state with affinity routing, RWP clear, and the SPIs and INTID bits it has', () => {
    const { d } = bench({ spis: 64 });
    d.write(GICD.CTLR, 0);
    expect(d.read32(GICD.CTLR)).toBe((1 << 4) | (1 << 6)); // ARE and DS RAO/WI
    d.write(GICD.CTLR, 0b11);
    expect(d.read32(GICD.CTLR)).toBe(0b101_0011);
    expect(d.read32(GICD.TYPER)).toBe(2 | (15 << 19)); // ITLinesNumber 2, IDbits 16, no LPIs
    expect((d.read32(GICD.V3_PIDR2) >> 4) & 0xf).toBe(3);
  });

  it('makes the Distributor copies of INTIDs 0-31 and ITARGETSR RES0 under affinity routing', () => {
    const { d } = bench();
    d.write(GICD.ISENABLER, 0xffff_ffff);
    expect(d.read32(GICD.ISENABLER)).toBe(0);
    d.write(GICD.IPRIORITYR, 0xa0, 1);
    expect(d.read32(GICD.IPRIORITYR)).toBe(0);
    d.write(GICD.ITARGETSR + SPI(0), 1, 1);
    expect(d.read32(GICD.ITARGETSR + SPI(0))).toBe(0);
    d.write(GICD.ISENABLER + 4, 0xffff_ffff);
    expect(d.read32(GICD.ISENABLER + 4) >>> 0).toBe(0xffff_ffff);
  });

  it('holds GICD_IROUTER as 64 bits or 32-bit halves, with Aff3 RES0, for implemented SPIs only', () => {
    const { d } = bench({ spis: 32 });
    d.write(GICD.IROUTER + 8 * SPI(3), 0xff_8001_0203n, 8);
    expect(d.read(GICD.IROUTER + 8 * SPI(3), 8)).toBe(0x8001_0203n);
    expect(d.read(GICD.IROUTER + 8 * SPI(3) + 4)).toBe(0n);
    d.write(GICD.IROUTER + 8 * SPI(3), 0x0000_0102);
    expect(d.read32(GICD.IROUTER + 8 * SPI(3))).toBe(0x102);
    d.write(GICD.IROUTER + 8 * 5, 0x1, 8); // an SGI's IROUTER does not exist
    expect(d.read(GICD.IROUTER + 8 * 5, 8)).toBe(0n);
    d.write(GICD.IROUTER + 8 * SPI(32), 0x1, 8);
    expect(d.read(GICD.IROUTER + 8 * SPI(32), 8)).toBe(0n);
  });
});

describe('GICv3 Redistributors (IHI 0069 GICR_TYPER, GICR_WAKER)', () => {
  it('describes each PE: affinity, processor number, and Last at the end of the region', () => {
    const affinities = [0x00_0000, 0x00_0001, 0x01_0100];
    const { gic } = bench({ cpus: 3, affinities });
    const region = regs(gic.redistributorRegion(0, BigInt(3 * GICR.STRIDE)));
    expect(region.read(GICR.TYPER, 8)).toBe(0n);
    expect(region.read(GICR.STRIDE + GICR.TYPER, 8)).toBe((1n << 32n) | (1n << 8n));
    expect(region.read(2 * GICR.STRIDE + GICR.TYPER, 8)).toBe((0x01_0100n << 32n) | (2n << 8n) | (1n << 4n));
    expect(region.read32(2 * GICR.STRIDE + GICR.TYPER + 4)).toBe(0x01_0100);
    // A region that ends after one frame: its only PE is Last there; past the PEs reads zero.
    expect(regs(gic.redistributorRegion(1, BigInt(GICR.STRIDE))).read32(GICR.TYPER)).toBe((1 << 8) | (1 << 4));
    expect(regs(gic.redistributorRegion(3, BigInt(GICR.STRIDE))).read32(GICR.TYPER)).toBe(0);
    expect((region.read32(GICR.PIDR2) >> 4) & 0xf).toBe(3);
  });

  it('starts with the PE asleep and forwards nothing to it until ProcessorSleep is cleared', () => {
    const { gic, r, sys, upCpu, spi } = bench();
    expect(r.read32(GICR.WAKER)).toBe(0b110); // ProcessorSleep, ChildrenAsleep
    upCpu();
    r.write(GICR.WAKER, 0b10);
    spi(4);
    gic.input(SPI(4))!.set(true);
    expect(gic.irq(0).asserted).toBe(false);
    expect(sys().read(ICC.IAR1_EL1)).toBe(1023);
    r.write(GICR.WAKER, 0);
    expect(r.read32(GICR.WAKER)).toBe(0);
    expect(gic.irq(0).asserted).toBe(true);
  });

  it('holds the PE private interrupts in the SGI_base frame: SGIs always edge, PPIs by configuration', () => {
    const { gic, r, sys, upCpu } = bench();
    upCpu();
    r.write(SGI_BASE + GICD.ICFGR, 0);
    expect(r.read32(SGI_BASE + GICD.ICFGR) >>> 0).toBe(0xaaaa_aaaa);
    // PPI 14 (INTID 30, the EL1 physical timer in QEMU virt), level-sensitive, Group 1.
    r.write(SGI_BASE + GICD.IGROUPR, 1 << 30);
    r.write(SGI_BASE + GICD.IPRIORITYR + 30, 0x80, 1);
    r.write(SGI_BASE + GICD.ISENABLER, 1 << 30);
    gic.input(30, 0)!.set(true);
    expect(r.read32(SGI_BASE + GICD.ISPENDR)).toBe(1 << 30);
    expect(sys().read(ICC.IAR1_EL1)).toBe(30);
    expect(r.read32(SGI_BASE + GICD.ISACTIVER)).toBe(1 << 30);
    sys().write(ICC.EOIR1_EL1, 30);
    expect(r.read32(SGI_BASE + GICD.ISACTIVER)).toBe(0);
  });
});

describe('GICv3 CPU interface system registers (IHI 0069 ICC_*_EL1)', () => {
  it('has the system register interface always on and reports its priority bits', () => {
    const { sys } = bench({ priorityBits: 5 });
    sys().write(ICC.SRE_EL1, 0);
    expect(sys().read(ICC.SRE_EL1)).toBe(0b111);
    expect((sys().read(ICC.CTLR_EL1) >> 8) & 7).toBe(4);
    sys().write(ICC.PMR_EL1, 0xff);
    expect(sys().read(ICC.PMR_EL1)).toBe(0xf8);
  });

  it('clamps the binary points, and with CBPR reads BPR1 as BPR0 + 1 and ignores writes to it', () => {
    const { sys } = bench();
    sys().write(ICC.BPR0_EL1, 0);
    sys().write(ICC.BPR1_EL1, 0);
    expect([sys().read(ICC.BPR0_EL1), sys().read(ICC.BPR1_EL1)]).toEqual([2, 3]);
    sys().write(ICC.CTLR_EL1, 1);
    sys().write(ICC.BPR0_EL1, 4);
    sys().write(ICC.BPR1_EL1, 7);
    expect(sys().read(ICC.BPR1_EL1)).toBe(5);
  });

  it('makes reads of write-only registers, writes of read-only ones and absent active-priority registers UNDEFINED', () => {
    const { cpus } = bench({ priorityBits: 5 });
    const s = cpus[0].systemRegisters;
    expect(() => s.read(ICC.EOIR1_EL1)).toThrow(UndefinedInstructionError);
    expect(() => s.read(ICC.SGI1R_EL1)).toThrow(UndefinedInstructionError);
    expect(() => s.write(ICC.IAR1_EL1, 0n)).toThrow(UndefinedInstructionError);
    expect(() => s.write(ICC.RPR_EL1, 0n)).toThrow(/MSR of S3_0_C12_C11_3 is UNDEFINED/);
    expect(s.read(ICC.AP1R0_EL1)).toBe(0n);
    expect(() => s.read(ICC.AP1R0_EL1 + 1)).toThrow(UndefinedInstructionError); // 5 priority bits: one register
    expect(bench({ priorityBits: 7 }).cpus[0].systemRegisters.read(ICC.AP0R0_EL1 + 3)).toBe(0n);
  });
});

describe('GICv3 interrupt handling (IHI 0069 chapter 4)', () => {
  it('takes a Group 1 SPI through ICC_IAR1_EL1 and ICC_EOIR1_EL1; ICC_IAR0_EL1 does not see it', () => {
    const { gic, sys, bit, upCpu, spi } = bench();
    upCpu();
    spi(10);
    gic.input(SPI(10))!.set(true);
    expect(gic.irq(0).asserted).toBe(true);
    expect(gic.fiq(0).asserted).toBe(false);
    expect(sys().read(ICC.HPPIR1_EL1)).toBe(SPI(10));
    expect(sys().read(ICC.HPPIR0_EL1)).toBe(1023);
    expect(sys().read(ICC.IAR0_EL1)).toBe(1023);
    expect(sys().read(ICC.IAR1_EL1)).toBe(SPI(10));
    expect(sys().read(ICC.RPR_EL1)).toBe(0xa0);
    expect(sys().read(ICC.AP1R0_EL1)).toBe(1 << (0xa0 >> 3));
    expect(bit(GICD.ISACTIVER, SPI(10))).toBe(1);
    gic.input(SPI(10))!.set(false);
    sys().write(ICC.EOIR1_EL1, SPI(10));
    expect(sys().read(ICC.RPR_EL1)).toBe(0xff);
    expect(bit(GICD.ISACTIVER, SPI(10))).toBe(0);
    expect(sys().read(ICC.IAR1_EL1)).toBe(1023);
  });

  it('signals Group 0 as FIQ and needs ICC_IGRPEN0_EL1 for it', () => {
    const { gic, d, sys, upCpu, spi } = bench();
    upCpu();
    spi(1);
    d.write(GICD.IGROUPR + 4, 0); // back to Group 0
    d.write(GICD.CTLR, 0b11);
    gic.input(SPI(1))!.set(true);
    expect(gic.fiq(0).asserted).toBe(false);
    sys().write(ICC.IGRPEN0_EL1, 1);
    expect([gic.irq(0).asserted, gic.fiq(0).asserted]).toEqual([false, true]);
    expect(sys().read(ICC.IAR1_EL1)).toBe(1023);
    expect(sys().read(ICC.IAR0_EL1)).toBe(SPI(1));
  });

  it('groups Group 1 priorities by ICC_BPR1_EL1: equal group priorities do not preempt (IHI 0069 4.8)', () => {
    const { gic, sys, upCpu, spi } = bench();
    upCpu();
    sys().write(ICC.BPR1_EL1, 5); // group priority bits 7:5
    spi(1, 0x98);
    spi(2, 0x88);
    gic.input(SPI(1))!.set(true);
    expect(sys().read(ICC.IAR1_EL1)).toBe(SPI(1));
    expect(sys().read(ICC.RPR_EL1)).toBe(0x80);
    gic.input(SPI(2))!.set(true);
    expect(gic.irq(0).asserted).toBe(false); // 0x88 is in the running group 0x80
    expect(sys().read(ICC.HPPIR1_EL1)).toBe(SPI(2));
    sys().write(ICC.BPR1_EL1, 3);
    spi(3, 0x70);
    gic.input(SPI(3))!.set(true);
    expect(sys().read(ICC.IAR1_EL1)).toBe(SPI(3));
  });

  it('with ICC_CTLR_EL1.EOImode, EOIR drops the priority and ICC_DIR_EL1 deactivates', () => {
    const { gic, sys, bit, upCpu, spi } = bench();
    upCpu();
    sys().write(ICC.CTLR_EL1, 0b10);
    spi(2);
    gic.input(SPI(2))!.set(true);
    expect(sys().read(ICC.IAR1_EL1)).toBe(SPI(2));
    sys().write(ICC.EOIR1_EL1, SPI(2));
    expect(sys().read(ICC.RPR_EL1)).toBe(0xff);
    expect(bit(GICD.ISACTIVER, SPI(2))).toBe(1);
    sys().write(ICC.DIR_EL1, SPI(2));
    expect(bit(GICD.ISACTIVER, SPI(2))).toBe(0);
  });

  it('routes an SPI by GICD_IROUTER: to the PE of that affinity, to one awake PE with 1 of N, or nowhere', () => {
    const { gic, sys, upCpu, spi } = bench({ cpus: 2, affinities: [0x0, 0x100] });
    upCpu(0);
    upCpu(1);
    spi(6, 0xa0, 0x100);
    gic.input(SPI(6))!.set(true);
    expect([gic.irq(0).asserted, gic.irq(1).asserted]).toEqual([false, true]);
    spi(6, 0xa0, 0x8000_0000); // Interrupt_Routing_Mode: any participating PE
    expect([gic.irq(0).asserted, gic.irq(1).asserted]).toEqual([true, false]);
    sys(0).write(ICC.IGRPEN1_EL1, 0); // PE 0 no longer takes Group 1
    expect([gic.irq(0).asserted, gic.irq(1).asserted]).toEqual([false, true]);
    spi(6, 0xa0, 0x2); // no PE has affinity 0.0.0.2
    expect([gic.irq(0).asserted, gic.irq(1).asserted]).toEqual([false, false]);
    expect(sys(1).read(ICC.HPPIR1_EL1)).toBe(1023);
  });
});

describe('GICv3 SGIs (IHI 0069 ICC_SGI1R_EL1, ICC_SGI0R_EL1)', () => {
  function withSgi(options: GicOptions) {
    const b = bench(options);
    for (let c = 0; c < b.gic.cpus; c++) {
      b.upCpu(c);
      b.r.write(c * GICR.STRIDE + SGI_BASE + GICD.IGROUPR, 0xffff); // SGIs in Group 1
      for (let w = 0; w < 4; w++) b.r.write(c * GICR.STRIDE + SGI_BASE + GICD.IPRIORITYR + 4 * w, 0x8080_8080);
      b.r.write(c * GICR.STRIDE + SGI_BASE + GICD.ISENABLER, 0xffff);
    }
    return b;
  }

  it('targets PEs by Aff3.Aff2.Aff1 and a target list of Aff0 values', () => {
    const { gic, sys } = withSgi({ cpus: 3, affinities: [0x0, 0x1, 0x10001] });
    // SGI 2 to Aff1 = 0, Aff0 in {1}: PE 1.
    sys(0).write(ICC.SGI1R_EL1, (2 << 24) | 0b10);
    expect(gic.irq(1).asserted).toBe(true);
    expect([gic.irq(0).asserted, gic.irq(2).asserted]).toEqual([false, false]);
    expect(sys(1).read(ICC.IAR1_EL1)).toBe(2);
    // SGI 5 to Aff2 = 1, Aff1 = 0, Aff0 = 1: PE 2.
    sys(0).write(ICC.SGI1R_EL1, (1n << 32n) | (5n << 24n) | 0b10n);
    expect(sys(2).read(ICC.IAR1_EL1)).toBe(5);
    // IRM: every PE but the sender.
    sys(0).write(ICC.SGI1R_EL1, (1n << 40n) | (7n << 24n));
    expect([gic.irq(0).asserted, gic.irq(1).asserted, gic.irq(2).asserted]).toEqual([false, false, false]); // PEs 1 and 2 are busy at 0x80
    sys(1).write(ICC.EOIR1_EL1, 2);
    sys(2).write(ICC.EOIR1_EL1, 5);
    expect([sys(1).read(ICC.IAR1_EL1), sys(2).read(ICC.IAR1_EL1), sys(0).read(ICC.IAR1_EL1)]).toEqual([7, 7, 1023]);
  });

  it('delivers an SGI only to targets that have it in the group of the register used', () => {
    const { gic, sys } = withSgi({ cpus: 1 });
    sys(0).write(ICC.SGI0R_EL1, (3 << 24) | 0b1); // Group 0 SGI, but SGI 3 is Group 1
    expect(gic.irq(0).asserted).toBe(false);
    sys(0).write(ICC.SGI1R_EL1, (3 << 24) | 0b1);
    expect(sys(0).read(ICC.IAR1_EL1)).toBe(3);
  });
});

describe('GICv3 parameters', () => {
  it('rejects affinities that do not fit the PEs', () => {
    expect(() => new GicV3({ cpus: 2, affinities: [0] })).toThrow(/affinities/);
    expect(() => new GicV3({ cpus: 2, affinities: [1, 1] })).toThrow(/same affinity/);
    expect(() => new GicV3({ affinities: [0x0100_0000] })).toThrow(/Aff3/);
  });
});
