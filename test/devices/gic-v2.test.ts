// The GICv2 model (IHI 0048B, without the Security Extensions) driven only through its
// registers and its interrupt wires, as a verification bench would drive silicon.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GICC, GICD, GicV2, type GicOptions } from '../../src/devices/gic/index.js';
import type { MmioDevice, MmioSize } from '../../src/sim/mmio.js';

const SPI = (n: number) => 32 + n;

function bench(options: GicOptions = {}) {
  const gic = new GicV2(options);
  const regs = (dev: MmioDevice) => ({
    read: (offset: number, size: MmioSize = 4) => Number(dev.mmioRead(offset, size)),
    write: (offset: number, value: number, size: MmioSize = 4) => dev.mmioWrite(offset, size, BigInt(value >>> 0)),
  });
  const d = regs(gic.distributor(0));
  const c = regs(gic.cpuInterface(0));
  /** Bit `intid` of the one-bit-per-interrupt register at `base`. */
  const bit = (base: number, intid: number) => (d.read(base + 4 * (intid >> 5)) >>> (intid & 31)) & 1;
  const setBit = (base: number, intid: number) => d.write(base + 4 * (intid >> 5), 1 << (intid & 31));
  /** Enables `intid` at `priority`, both groups in the Distributor and Group 0 in the CPU interface, PMR open. */
  const enable = (intid: number, priority = 0xa0) => {
    d.write(GICD.IPRIORITYR + intid, priority, 1);
    setBit(GICD.ISENABLER, intid);
    d.write(GICD.CTLR, 0b11);
    c.write(GICC.CTLR, c.read(GICC.CTLR) | 0b1);
    c.write(GICC.PMR, 0xf0);
  };
  const setEdge = (intid: number) => {
    const off = GICD.ICFGR + 4 * (intid >> 4);
    d.write(off, d.read(off) | (2 << (2 * (intid & 15))));
  };
  return { gic, d, c, bit, setBit, enable, setEdge, regs };
}

describe('GICv2 Distributor identification (IHI 0048B 4.3.2 GICD_TYPER, 4.3.3 GICD_IIDR)', () => {
  it('reports ITLinesNumber for 32(N+1) INTIDs, CPUNumber, no Security Extensions, and ArchRev 2', () => {
    const { d } = bench({ spis: 64, cpus: 2 });
    expect(d.read(GICD.TYPER)).toBe(2 | (1 << 5)); // 96 INTIDs, 2 CPU interfaces, SecurityExtn 0
    expect(d.read(GICD.IIDR)).toBe(0x43b);
    expect((d.read(GICD.V2_PIDR2) >> 4) & 0xf).toBe(2);
    expect(bench({ spis: 256 }).d.read(GICD.TYPER)).toBe(8); // QEMU virt: 288 INTIDs
  });

  it('makes INTIDs past the last SPI RAZ/WI (4.3.5)', () => {
    const { d } = bench({ spis: 40 }); // INTIDs 32..71 exist; 72..95 of the last word do not
    d.write(GICD.ISENABLER + 8, 0xffff_ffff);
    expect(d.read(GICD.ISENABLER + 8) >>> 0).toBe(0xff);
    d.write(GICD.IPRIORITYR + SPI(40), 0x80, 1);
    expect(d.read(GICD.IPRIORITYR + SPI(40), 1)).toBe(0);
  });

  it('ignores accesses of the wrong size: word registers take 32-bit accesses only', () => {
    const { d } = bench();
    d.write(GICD.ISENABLER + 4, 0xff, 1);
    expect(d.read(GICD.ISENABLER + 4)).toBe(0);
    d.write(GICD.ISENABLER + 4, 0x1);
    expect(d.read(GICD.ISENABLER + 4, 2)).toBe(0);
    expect(d.read(GICD.ISENABLER + 4, 8)).toBe(0);
    expect(d.read(GICD.ISENABLER + 4)).toBe(1);
  });
});

describe('GICv2 priority, target and configuration registers', () => {
  it('keeps the implemented priority bits only, byte or word at a time (4.3.11 GICD_IPRIORITYR)', () => {
    const { d } = bench({ priorityBits: 5 });
    d.write(GICD.IPRIORITYR + SPI(1), 0xff, 1);
    expect(d.read(GICD.IPRIORITYR + SPI(1), 1)).toBe(0xf8);
    d.write(GICD.IPRIORITYR + SPI(4), 0x1234_5678);
    expect(d.read(GICD.IPRIORITYR + SPI(4)) >>> 0).toBe(0x1030_5078);
    expect(bench({ priorityBits: 8 }).gic.priorityMask).toBe(0xff);
  });

  it('has RAZ/WI targets in a uniprocessor GIC (4.3.12 GICD_ITARGETSR)', () => {
    const { d } = bench({ cpus: 1 });
    d.write(GICD.ITARGETSR + SPI(0), 0xff, 1);
    expect(d.read(GICD.ITARGETSR + SPI(0), 1)).toBe(0);
    expect(d.read(GICD.ITARGETSR)).toBe(0);
  });

  it('with two CPU interfaces, reads the reading PE in the private fields and keeps implemented SPI targets', () => {
    const { gic, d, regs } = bench({ cpus: 2 });
    expect(d.read(GICD.ITARGETSR)).toBe(0x0101_0101);
    expect(regs(gic.distributor(1)).read(GICD.ITARGETSR + 28)).toBe(0x0202_0202);
    d.write(GICD.ITARGETSR + SPI(0), 0xff, 1);
    expect(d.read(GICD.ITARGETSR + SPI(0), 1)).toBe(0x3);
    d.write(GICD.ITARGETSR, 0, 1);
    expect(d.read(GICD.ITARGETSR, 1)).toBe(1); // read-only
  });

  it('keeps SGIs edge-triggered and Int_config[0] RES0; SPIs take either trigger (4.3.13 GICD_ICFGR)', () => {
    const { d } = bench();
    d.write(GICD.ICFGR, 0);
    expect(d.read(GICD.ICFGR) >>> 0).toBe(0xaaaa_aaaa);
    d.write(GICD.ICFGR + 8, 0xffff_ffff);
    expect(d.read(GICD.ICFGR + 8) >>> 0).toBe(0xaaaa_aaaa);
    d.write(GICD.ICFGR + 8, 0x8);
    expect(d.read(GICD.ICFGR + 8)).toBe(0x8);
  });

  it('makes PPI triggers fixed (level) when the implementation does not let software choose', () => {
    const fixed = bench({ ppiTriggerProgrammable: false });
    fixed.d.write(GICD.ICFGR + 4, 0xffff_ffff);
    expect(fixed.d.read(GICD.ICFGR + 4)).toBe(0);
    const programmable = bench();
    programmable.d.write(GICD.ICFGR + 4, 0xffff_ffff);
    expect(programmable.d.read(GICD.ICFGR + 4) >>> 0).toBe(0xaaaa_aaaa);
  });
});

describe('GICv2 interrupt handling state machine (IHI 0048B chapter 3)', () => {
  it('takes a level-sensitive SPI: pending while asserted, active and pending after the acknowledge, pending again after EOI', () => {
    const { gic, c, bit, enable } = bench();
    enable(SPI(5));
    const line = gic.input(SPI(5))!;
    line.set(true);
    expect(bit(GICD.ISPENDR, SPI(5))).toBe(1);
    expect(gic.irq(0).asserted).toBe(true);
    expect(c.read(GICC.HPPIR)).toBe(SPI(5));
    expect(c.read(GICC.IAR)).toBe(SPI(5));
    expect([bit(GICD.ISACTIVER, SPI(5)), bit(GICD.ISPENDR, SPI(5))]).toEqual([1, 1]);
    expect(gic.irq(0).asserted).toBe(false); // active: not signalled again
    expect(c.read(GICC.RPR)).toBe(0xa0);
    c.write(GICC.EOIR, SPI(5));
    expect(c.read(GICC.RPR)).toBe(0xff);
    expect(bit(GICD.ISACTIVER, SPI(5))).toBe(0);
    expect(gic.irq(0).asserted).toBe(true); // the device still asserts its line
    expect(c.read(GICC.IAR)).toBe(SPI(5));
    line.set(false);
    c.write(GICC.EOIR, SPI(5));
    expect(bit(GICD.ISPENDR, SPI(5))).toBe(0);
    expect(gic.irq(0).asserted).toBe(false);
    expect(c.read(GICC.IAR)).toBe(1023);
  });

  it('latches an edge-triggered SPI once per rising edge; an edge while active makes it active and pending', () => {
    const { gic, c, bit, enable, setEdge } = bench();
    setEdge(SPI(9));
    enable(SPI(9));
    const line = gic.input(SPI(9))!;
    line.set(true);
    line.set(false);
    expect(bit(GICD.ISPENDR, SPI(9))).toBe(1);
    expect(c.read(GICC.IAR)).toBe(SPI(9));
    expect(bit(GICD.ISPENDR, SPI(9))).toBe(0);
    line.set(true);
    line.set(false);
    expect([bit(GICD.ISACTIVER, SPI(9)), bit(GICD.ISPENDR, SPI(9))]).toEqual([1, 1]);
    c.write(GICC.EOIR, SPI(9));
    expect(c.read(GICC.IAR)).toBe(SPI(9));
    c.write(GICC.EOIR, SPI(9));
    expect(c.read(GICC.IAR)).toBe(1023);
    expect(gic.irq(0).asserted).toBe(false);
  });

  it('sets and clears pending by software; ICPENDR cannot clear a level-sensitive interrupt whose line is asserted (4.3.7, 4.3.8)', () => {
    const { gic, d, c, bit, setBit, enable } = bench();
    enable(SPI(3));
    setBit(GICD.ISPENDR, SPI(3));
    expect(bit(GICD.ISPENDR, SPI(3))).toBe(1);
    setBit(GICD.ICPENDR, SPI(3));
    expect(bit(GICD.ISPENDR, SPI(3))).toBe(0);
    gic.input(SPI(3))!.set(true);
    setBit(GICD.ICPENDR, SPI(3));
    expect(bit(GICD.ISPENDR, SPI(3))).toBe(1);
    gic.input(SPI(3))!.set(false);
    expect(bit(GICD.ISPENDR, SPI(3))).toBe(0);
    // A software pending state outlives the line, until the interrupt is acknowledged.
    setBit(GICD.ISPENDR, SPI(3));
    expect(c.read(GICC.IAR)).toBe(SPI(3));
    expect(bit(GICD.ISPENDR, SPI(3))).toBe(0);
    expect(d.read(GICD.ISACTIVER + 4)).toBe(1 << 3);
  });

  it('forwards nothing while the interrupt, the Distributor or the CPU interface is disabled (4.3.1, 4.3.6, 4.4.1)', () => {
    const { gic, d, c, setBit, enable } = bench();
    enable(SPI(2));
    gic.input(SPI(2))!.set(true);
    expect(gic.irq(0).asserted).toBe(true);
    setBit(GICD.ICENABLER, SPI(2));
    expect(gic.irq(0).asserted).toBe(false);
    expect(c.read(GICC.IAR)).toBe(1023);
    setBit(GICD.ISENABLER, SPI(2));
    d.write(GICD.CTLR, 0);
    expect(gic.irq(0).asserted).toBe(false);
    d.write(GICD.CTLR, 1);
    c.write(GICC.CTLR, 0);
    expect(gic.irq(0).asserted).toBe(false);
    c.write(GICC.CTLR, 1);
    expect(gic.irq(0).asserted).toBe(true);
  });
});

describe('GICv2 prioritization (IHI 0048B 3.3, 4.4.2 GICC_PMR, 4.4.3 GICC_BPR, 4.4.6 GICC_RPR)', () => {
  it('signals only priorities above the mask; HPPIR shows the pending interrupt regardless', () => {
    const { gic, c, enable } = bench();
    enable(SPI(1), 0xf0);
    gic.input(SPI(1))!.set(true);
    expect(gic.irq(0).asserted).toBe(false); // 0xf0 is not higher than PMR 0xf0
    expect(c.read(GICC.HPPIR)).toBe(SPI(1));
    expect(c.read(GICC.IAR)).toBe(1023);
    c.write(GICC.PMR, 0xff);
    expect(c.read(GICC.PMR)).toBe(0xf8); // 5 priority bits
    expect(c.read(GICC.IAR)).toBe(SPI(1));
  });

  it('preempts only with a higher group priority; the binary point splits group and subpriority', () => {
    const { gic, c, enable } = bench();
    enable(SPI(0), 0x80);
    enable(SPI(1), 0x88);
    enable(SPI(2), 0x70);
    gic.input(SPI(0))!.set(true);
    expect(c.read(GICC.IAR)).toBe(SPI(0));
    expect(c.read(GICC.RPR)).toBe(0x80);
    gic.input(SPI(1))!.set(true);
    expect(gic.irq(0).asserted).toBe(false); // 0x88 is lower priority than the running 0x80
    c.write(GICC.BPR, 3); // group priority bits 7:4
    gic.input(SPI(2))!.set(true);
    expect(gic.irq(0).asserted).toBe(true); // group priority 0x70 < 0x80
    expect(c.read(GICC.IAR)).toBe(SPI(2));
    expect(c.read(GICC.RPR)).toBe(0x70);
    expect(c.read(GICC.APR)).toBe((1 << (0x80 >> 3)) | (1 << (0x70 >> 3)));
    c.write(GICC.EOIR, SPI(2));
    expect(c.read(GICC.RPR)).toBe(0x80);
    c.write(GICC.EOIR, SPI(0));
    expect(c.read(GICC.RPR)).toBe(0xff);
  });

  it('clamps the binary point to its minimum (7 - group priority bits, one more for Group 1)', () => {
    const { c } = bench({ priorityBits: 5 });
    c.write(GICC.BPR, 0);
    expect(c.read(GICC.BPR)).toBe(2);
    c.write(GICC.ABPR, 0);
    expect(c.read(GICC.ABPR)).toBe(3);
    c.write(GICC.BPR, 6);
    expect(c.read(GICC.BPR)).toBe(6);
  });

  it('acknowledges in priority order, ties to the lowest INTID, then reads 1023 (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ n: fc.integer({ min: 0, max: 63 }), priority: fc.integer({ min: 0, max: 29 }) }), { selector: (r) => r.n, maxLength: 20 }), (spis) => {
        const { gic, c, enable } = bench({ spis: 64 });
        for (const s of spis) {
          enable(SPI(s.n), s.priority << 3);
          gic.input(SPI(s.n))!.set(true);
        }
        const expected = [...spis].sort((a, b) => a.priority - b.priority || a.n - b.n).map((s) => SPI(s.n));
        const taken: number[] = [];
        for (let i = 0; i < spis.length; i++) {
          // The handler quietens its device before the EOI, so nothing is taken twice.
          const id = c.read(GICC.IAR);
          taken.push(id);
          gic.input(id)?.set(false);
          c.write(GICC.EOIR, id);
        }
        expect(taken).toEqual(expected);
        expect(c.read(GICC.IAR)).toBe(1023);
      }),
      { numRuns: 100 },
    );
  });
});

describe('GICv2 groups, FIQ and split EOI (IHI 0048B 4.4.1 GICC_CTLR, 4.4.4 GICC_IAR, 4.4.9 GICC_AIAR, 4.4.15 GICC_DIR)', () => {
  it('answers 1022 to GICC_IAR for a Group 1 interrupt unless AckCtl; GICC_AIAR acknowledges it', () => {
    const { gic, c, setBit, enable } = bench();
    enable(SPI(7));
    setBit(GICD.IGROUPR, SPI(7));
    c.write(GICC.CTLR, 0b11); // both groups, AckCtl 0
    gic.input(SPI(7))!.set(true);
    expect(gic.irq(0).asserted).toBe(true);
    expect(c.read(GICC.HPPIR)).toBe(1022);
    expect(c.read(GICC.IAR)).toBe(1022);
    expect(c.read(GICC.AHPPIR)).toBe(SPI(7));
    expect(c.read(GICC.AIAR)).toBe(SPI(7));
    c.write(GICC.AEOIR, SPI(7));
    gic.input(SPI(7))!.set(false);
    gic.input(SPI(7))!.set(true);
    c.write(GICC.CTLR, 0b111); // AckCtl
    expect(c.read(GICC.IAR)).toBe(SPI(7));
  });

  it('signals Group 0 as FIQ when FIQEn is set, Group 1 always as IRQ', () => {
    const { gic, c, enable } = bench();
    enable(SPI(1));
    c.write(GICC.CTLR, 0b1001); // EnableGrp0, FIQEn
    gic.input(SPI(1))!.set(true);
    expect([gic.irq(0).asserted, gic.fiq(0).asserted]).toEqual([false, true]);
    c.write(GICC.CTLR, 0b0001);
    expect([gic.irq(0).asserted, gic.fiq(0).asserted]).toEqual([true, false]);
  });

  it('with EOImodeS, GICC_EOIR only drops the priority and GICC_DIR deactivates', () => {
    const { gic, c, bit, enable } = bench();
    enable(SPI(4));
    c.write(GICC.CTLR, 1 | (1 << 9));
    gic.input(SPI(4))!.set(true);
    expect(c.read(GICC.IAR)).toBe(SPI(4));
    c.write(GICC.EOIR, SPI(4));
    expect(c.read(GICC.RPR)).toBe(0xff);
    expect(bit(GICD.ISACTIVER, SPI(4))).toBe(1);
    expect(gic.irq(0).asserted).toBe(false);
    c.write(GICC.DIR, SPI(4));
    expect(bit(GICD.ISACTIVER, SPI(4))).toBe(0);
    expect(gic.irq(0).asserted).toBe(true);
  });

  it('ignores an EOI of a special INTID', () => {
    const { gic, c, enable } = bench();
    enable(SPI(4));
    gic.input(SPI(4))!.set(true);
    c.read(GICC.IAR);
    c.write(GICC.EOIR, 1023);
    expect(c.read(GICC.RPR)).toBe(0xa0);
  });
});

describe('GICv2 software-generated interrupts (IHI 0048B 4.3.15 GICD_SGIR, 4.3.16, 4.3.17)', () => {
  it('delivers an SGI with its source PE in GICC_IAR bits 12:10, per target list filter', () => {
    const { gic, d, c, regs, enable } = bench({ cpus: 2 });
    enable(3);
    const c1 = regs(gic.cpuInterface(1));
    const d1 = regs(gic.distributor(1));
    d1.write(GICD.ISENABLER, 1 << 3); // PE 1's banked enable
    d1.write(GICD.IPRIORITYR + 3, 0xa0, 1);
    c1.write(GICC.CTLR, 1);
    c1.write(GICC.PMR, 0xf0);
    regs(gic.distributor(1)).write(GICD.SGIR, (0b01 << 16) | 3); // PE 1 sends SGI 3 to PE 0
    expect(gic.irq(0).asserted).toBe(true);
    expect(gic.irq(1).asserted).toBe(false);
    expect(d.read(GICD.SPENDSGIR)).toBe(0b10 << 24); // SGI 3 pending from source PE 1
    expect(c.read(GICC.IAR)).toBe((1 << 10) | 3);
    c.write(GICC.EOIR, (1 << 10) | 3);
    d.write(GICD.SGIR, (1 << 24) | 3); // every other PE
    expect(c1.read(GICC.IAR)).toBe((0 << 10) | 3);
    d.write(GICD.SGIR, (3 << 24) | 3); // reserved filter: nothing
    expect(gic.irq(0).asserted || gic.irq(1).asserted).toBe(false);
  });

  it('sets and clears SGI pending state per source, and ignores ISPENDR for SGIs', () => {
    const { d, bit, setBit } = bench({ cpus: 2 });
    setBit(GICD.ISPENDR, 1);
    expect(bit(GICD.ISPENDR, 1)).toBe(0);
    d.write(GICD.SPENDSGIR + 1, 0xff, 1);
    expect(d.read(GICD.SPENDSGIR + 1, 1)).toBe(0x3); // two implemented source PEs
    expect(bit(GICD.ISPENDR, 1)).toBe(1);
    d.write(GICD.CPENDSGIR + 1, 0x1, 1);
    expect(d.read(GICD.CPENDSGIR + 1, 1)).toBe(0x2);
  });

  it('keeps SGIs enabled when the implementation makes them permanently enabled (4.3.5)', () => {
    const { d } = bench({ sgisAlwaysEnabled: true });
    d.write(GICD.ICENABLER, 0xffff_ffff);
    expect(d.read(GICD.ISENABLER)).toBe(0xffff);
  });
});

describe('GICv2 CPU interface identification (IHI 0048B 4.4.14 GICC_IIDR)', () => {
  it('reports architecture version 2 and the implementer', () => {
    const { c } = bench({ productId: 0x12, revision: 3 });
    expect(c.read(GICC.IIDR) >>> 0).toBe((0x12 << 20) | (2 << 16) | (3 << 12) | 0x43b);
  });
});

describe('GICv2 parameters', () => {
  it('rejects impossible configurations', () => {
    expect(() => new GicV2({ cpus: 9 })).toThrow(RangeError);
    expect(() => new GicV2({ spis: 989 })).toThrow(/spis/);
    expect(() => new GicV2({ priorityBits: 3 })).toThrow(/priorityBits/);
  });
});
