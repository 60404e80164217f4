// The GICv2 and GICv3 kernel drivers against the GIC models: probe (what they program, read
// back from the model's registers), translation of arm,gic specifiers, and taking interrupts
// (acknowledge, handler, end of interrupt) when a device's wire rises.
import { describe, expect, it } from 'vitest';
import { GICC, GICD, GICR, GicV2, GicV3, ICC, type GicOptions } from '../../../src/devices/gic/index.js';
import { writeDtb } from '../../../src/formats/dtb/index.js';
import type { Driver } from '../../../src/os/driver-model/device.js';
import { gicV2Driver } from '../../../src/os/drivers/irqchip/gic-v2.js';
import { gicV3Driver } from '../../../src/os/drivers/irqchip/gic-v3.js';
import { IrqError } from '../../../src/os/kernel/irq.js';
import { Kernel } from '../../../src/os/kernel/kernel.js';
import { parseDts } from '../../../src/platform/dts/index.js';
import { Clock } from '../../../src/sim/clock.js';
import { Hart } from '../../../src/sim/hart.js';
import { MmioBus } from '../../../src/sim/mmio.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';

const GICD_BASE = 0x0800_0000n;
const GICC_BASE = 0x0801_0000n;
const GICR_BASE = 0x080a_0000n;
const GICR_SIZE = 0x4_0000n; // room for two Redistributors

interface Options {
  version: 2 | 3;
  gic?: GicOptions;
  /** The CPU's MPIDR affinity (default 0). */
  affinity?: number;
  /** Whether the GICv3 CPU interface is connected to the CPU's system registers (default true). */
  sysregs?: boolean;
  /** Interrupt specifiers of the test device. */
  interrupts?: string;
}

/** A GIC, a CPU and a kernel with the GIC drivers and a driver for a device that requests every interrupt it has. */
function boot(o: Options) {
  const memory = new PhysicalMemory();
  const bus = new SystemBus(memory, new MmioBus());
  const affinity = o.affinity ?? 0;
  const hart = new Hart(0, null, { architecture: 'arm', affinity });
  let gic: GicV2 | GicV3;
  let gicNode: string;
  if (o.version === 2) {
    const g = new GicV2(o.gic);
    bus.mmio.map('gicd', GICD_BASE, 0x1000n, g.distributor(0));
    bus.mmio.map('gicc', GICC_BASE, 0x2000n, g.cpuInterface(0));
    gic = g;
    gicNode = `compatible = "arm,gic-400"; reg = <0x0 0x08000000 0x0 0x1000>, <0x0 0x08010000 0x0 0x2000>;`;
  } else {
    const g = new GicV3({ affinities: [affinity], ...o.gic });
    bus.mmio.map('gicd', GICD_BASE, 0x1_0000n, g.distributor);
    bus.mmio.map('gicr', GICR_BASE, GICR_SIZE, g.redistributorRegion(0, GICR_SIZE));
    if (o.sysregs ?? true) hart.systemRegisters.connect(g.cpuInterface(0));
    gic = g;
    gicNode = `compatible = "arm,gic-v3"; reg = <0x0 0x08000000 0x0 0x10000>, <0x0 0x080a0000 0x0 0x40000>;`;
  }
  gic.irq(0).onChange((level) => hart.externalInterrupt.set(level));
  const dts = `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&gic>;
	memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x0 0x1000000>; };
	gic: intc@8000000 { #interrupt-cells = <3>; interrupt-controller; ${gicNode} };
	dev@9000000 { compatible = "test,irq-device"; reg = <0x0 0x09000000 0x0 0x1000>; interrupts = ${o.interrupts ?? '<0 5 4>, <0 6 1>, <1 14 4>'}; };
	bad@9001000 { compatible = "test,unbound"; reg = <0x0 0x09001000 0x0 0x1000>; interrupts = <0 5 4>, <0 300 4>, <0 5 2>, <2 1 4>, <1 16 4>, <7 0 4>; };
};`;
  const taken: number[] = [];
  /** What the handler of interrupt i does beyond counting: by default, quieten the device (lower its wire). */
  const quieten = new Map<number, () => void>();
  const driver: Driver = {
    name: 'test-irq-device',
    compatible: ['test,irq-device'],
    probe(dev, kernel) {
      for (let i = 0; i < kernel.irq.count(dev.node!); i++) {
        if (!kernel.irq.request(dev.node!, i, () => (taken.push(i), quieten.get(i)?.()), `irq${i}`)) return { defer: 'no interrupt controller yet' };
      }
      return 'bound';
    },
  };
  const kernel = new Kernel({ dtb: writeDtb(parseDts(dts)), memory, bus, clock: new Clock(), hart }, { drivers: [driver, gicV2Driver, gicV3Driver] });
  kernel.boot();
  const log = () => kernel.log.records.map((r) => `[${r.level}] ${r.source}: ${r.message}`).join('\n');
  const state = (name: string) => kernel.drivers.find((d) => d.name === name)?.state;
  const reg = (base: bigint, offset: number) => Number(bus.access(base + BigInt(offset), 4, false).value);
  return { gic, hart, kernel, taken, quieten, log, state, reg };
}

describe.each([2, 3] as const)('GICv%i driver', (version) => {
  it('binds, and the device behind it probes after it (deferred until the domain exists)', () => {
    const { state, log } = boot({ version });
    expect(state('8000000.intc'), log()).toBe('bound');
    expect(state('9000000.dev'), log()).toBe('bound');
    expect(log()).not.toMatch(/\[(warn|error)\]/);
  });

  it('programs the Distributor: SPIs level-sensitive at priority 0xa0, then enables as the specifiers say (IHI 0048B 4.3, IHI 0069 GICD)', () => {
    const { reg } = boot({ version, gic: { spis: 64 } });
    // SPI 5 level (INTID 37), SPI 6 rising edge (INTID 38): Int_config[1] of INTID 38 only.
    expect(reg(GICD_BASE, GICD.ICFGR + 8)).toBe(2 << (2 * (38 - 32)));
    expect(reg(GICD_BASE, GICD.ICFGR + 12)).toBe(0);
    expect(reg(GICD_BASE, GICD.IPRIORITYR + 36)).toBe(0xa0a0_a0a0);
    expect(reg(GICD_BASE, GICD.ISENABLER + 4)).toBe((1 << 5) | (1 << 6));
    expect(reg(GICD_BASE, GICD.ISENABLER + 8)).toBe(0);
  });

  it('takes a level-sensitive SPI: the handler runs once per assertion, then the interrupt is inactive and the CPU idle', () => {
    const { gic, hart, kernel, taken, quieten } = boot({ version });
    const line = gic.input(32 + 5)!;
    quieten.set(0, () => line.set(false));
    line.set(true);
    expect(hart.externalInterrupt.asserted).toBe(true);
    expect(kernel.poll()).toBe(1);
    expect(taken).toEqual([0]);
    expect(hart.externalInterrupt.asserted).toBe(false);
    expect(kernel.irq.counts.get('irq0')).toBe(1);
    expect(gic.runningPriority(0)).toBe(0xff);
  });

  it('takes an edge-triggered SPI once per edge, and a PPI', () => {
    const { gic, kernel, taken, quieten } = boot({ version });
    const edge = gic.input(32 + 6)!;
    quieten.set(2, () => gic.input(16 + 14, 0)!.set(false));
    edge.set(true);
    edge.set(false);
    edge.set(true);
    gic.input(16 + 14, 0)!.set(true); // PPI 14, level
    gic.input(16 + 14, 0)!.set(false);
    expect(kernel.poll()).toBe(1); // the PPI's level dropped before the CPU looked
    expect(taken).toEqual([1]);
    edge.set(false);
    edge.set(true);
    gic.input(16 + 14, 0)!.set(true);
    kernel.poll();
    expect(taken.slice(1).sort()).toEqual([1, 2]);
  });

  it('reports a specifier the GIC binding does not allow as an IrqError (SPI range, SPI trigger, type, PPI number)', () => {
    const { kernel } = boot({ version, gic: { spis: 64 } });
    const bad = kernel.dt.find('/bad@9001000')!;
    expect(kernel.irq.request(bad, 0, () => {})).toBe(true);
    expect(() => kernel.irq.request(bad, 1, () => {})).toThrow(new IrqError("SPI 300 is beyond the GIC's 64 SPIs"));
    expect(() => kernel.irq.request(bad, 2, () => {})).toThrow(/SPI 5: trigger flags 2/);
    expect(() => kernel.irq.request(bad, 3, () => {})).toThrow(/extended SPI range/);
    expect(() => kernel.irq.request(bad, 4, () => {})).toThrow(/PPI 16 does not exist/);
    expect(() => kernel.irq.request(bad, 5, () => {})).toThrow(/type 7 is neither SPI/);
  });

  it('warns, and keeps the PPI, when the implementation fixes PPI triggers (IHI 0048B 4.3.13, IHI 0069 GICR_ICFGR1)', () => {
    const { kernel, state, log } = boot({ version, gic: { ppiTriggerProgrammable: false }, interrupts: '<1 14 1>' });
    expect(state('9000000.dev'), log()).toBe('bound');
    expect(kernel.log.records.filter((r) => r.level === 'warn').map((r) => r.message)).toEqual(['PPI 14: the trigger is fixed by the implementation; edge ignored']);
  });

  it('acknowledges and ends an interrupt that has no handler, with a warning', () => {
    const { gic, kernel } = boot({ version });
    // INTID 40 (SPI 8): enabled and made pending behind the kernel's back.
    kernel.bus.access(GICD_BASE + BigInt(GICD.ISENABLER + 4), 4, true, 1n << 8n);
    kernel.bus.access(GICD_BASE + BigInt(GICD.ISPENDR + 4), 4, true, 1n << 8n);
    expect(kernel.poll()).toBe(1);
    expect(kernel.log.records.filter((r) => r.level === 'warn').map((r) => r.message)).toEqual(['INTID 40 has no handler']);
    const slot = gic.slotOf(0, 40);
    expect([gic.active[slot], gic.isPending(slot, 40), gic.runningPriority(0)]).toEqual([0, false, 0xff]);
  });

  it('does not hang on a level-sensitive interrupt whose handler leaves the device asserting: the kernel reports a storm', () => {
    const { gic, kernel, taken } = boot({ version });
    gic.input(32 + 5)!.set(true);
    kernel.poll();
    expect(taken.length).toBe(10_000);
    expect(kernel.log.records.some((r) => r.level === 'error' && /interrupt storm/.test(r.message))).toBe(true);
  });
});

describe('GICv2 driver specifics (IHI 0048B)', () => {
  it('opens the CPU interface: Group 0 enabled, priority mask 0xf0, SGIs enabled and PPIs off until requested', () => {
    const { reg } = boot({ version: 2 });
    expect(reg(GICC_BASE, GICC.CTLR)).toBe(1);
    expect(reg(GICC_BASE, GICC.PMR)).toBe(0xf0);
    expect(reg(GICD_BASE, GICD.CTLR)).toBe(1);
    expect(reg(GICD_BASE, GICD.ISENABLER)).toBe(0xffff | (1 << 30)); // PPI 14 was requested
  });

  it('routes SPIs to its own CPU interface on a multiprocessor GIC, found from the banked ITARGETSR', () => {
    const { reg, log } = boot({ version: 2, gic: { cpus: 2 } });
    expect(reg(GICD_BASE, GICD.ITARGETSR + 32)).toBe(0x0101_0101);
    expect(log()).toMatch(/CPU mask 0x01/);
  });
});

describe('GICv3 driver specifics (IHI 0069)', () => {
  it('routes every SPI to the CPU affinity from MPIDR_EL1, finds and wakes that CPU Redistributor, and opens the CPU interface', () => {
    const { gic, hart, reg, state, log } = boot({ version: 3, affinity: 0x0203, gic: { spis: 32 } });
    expect(state('8000000.intc'), log()).toBe('bound');
    expect(reg(GICD_BASE, GICD.IROUTER + 8 * 32)).toBe(0x0203);
    expect(reg(GICD_BASE, GICD.IROUTER + 8 * 63)).toBe(0x0203);
    expect(reg(GICD_BASE, GICD.CTLR) & 0b1_0010).toBe(0b1_0010); // ARE, EnableGrp1
    expect(reg(GICD_BASE, GICD.IGROUPR + 4) >>> 0).toBe(0xffff_ffff);
    expect(reg(GICR_BASE, GICR.WAKER)).toBe(0);
    expect(reg(GICR_BASE, GICR.FRAME_SIZE + GICD.ISENABLER)).toBe(0xffff | (1 << 30));
    const sys = (e: number) => Number(hart.systemRegisters.read(e));
    expect([sys(ICC.PMR_EL1), sys(ICC.IGRPEN1_EL1), sys(ICC.BPR1_EL1), sys(ICC.CTLR_EL1) & 2]).toEqual([0xf0, 1, 3, 0]);
    expect(gic.cpu[0].asleep).toBe(false);
  });

  it('fails the probe, and the device behind it waits, when no Redistributor has the CPU affinity', () => {
    const { state, kernel } = boot({ version: 3, affinity: 0x1, gic: { affinities: [0x2] } });
    expect(state('8000000.intc')).toBe('failed');
    expect(kernel.drivers.find((d) => d.name === '8000000.intc')?.reason).toBe("no Redistributor has this CPU's affinity 0x1");
    expect(state('9000000.dev')).toBe('deferred');
  });

  it('fails the probe when the CPU has no GICv3 system registers (the MRS is UNDEFINED)', () => {
    const { state, kernel } = boot({ version: 3, sysregs: false });
    expect(state('8000000.intc')).toBe('failed');
    expect(kernel.drivers.find((d) => d.name === '8000000.intc')?.reason).toMatch(/no GICv3 system register interface.*S3_0_C12_C12_5/);
  });

  it('refuses a Distributor that is not a GICv3 (GICD_PIDR2.ArchRev)', () => {
    // A GICv2 behind an arm,gic-v3 node: its PIDR2 is at 0xfe8, so 0xffe8 reads zero.
    const memory = new PhysicalMemory();
    const bus = new SystemBus(memory, new MmioBus());
    bus.mmio.map('gicd', GICD_BASE, 0x1_0000n, new GicV2().distributor(0));
    bus.mmio.map('gicr', GICR_BASE, GICR_SIZE, new GicV3().redistributorRegion(0, GICR_SIZE));
    const dts = `/dts-v1/; / { #address-cells = <2>; #size-cells = <2>;
      intc@8000000 { compatible = "arm,gic-v3"; #interrupt-cells = <3>; interrupt-controller; reg = <0x0 0x08000000 0x0 0x10000>, <0x0 0x080a0000 0x0 0x40000>; }; };`;
    const kernel = new Kernel({ dtb: writeDtb(parseDts(dts)), memory, bus, clock: new Clock(), hart: new Hart(0, null, { architecture: 'arm' }) }, { drivers: [gicV3Driver] });
    kernel.boot();
    expect(kernel.drivers.find((d) => d.name === '8000000.intc')?.reason).toBe('no GICv3 Distributor at 0x8000000 (GICD_PIDR2.ArchRev is not 3 or 4)');
  });
});
