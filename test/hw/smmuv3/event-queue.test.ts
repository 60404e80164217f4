// The Event queue (IHI 0070 3.5.3, 7.2, 7.4) and interrupts (3.18, 6.3.16, 7.5): records
// written at PROD, writability (EVENTQEN, full, EVENTQ_ABT_ERR), overflow (OVFLG), aborted
// writes, the queue and GERROR interrupts, wired and MSI, and MSI aborts.
import { describe, expect, it } from 'vitest';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { Gerror, Reg } from '../../../src/formats/smmuv3/registers.js';
import { Bench, CR0 } from './bench.js';

/** Causes one C_BAD_STE (StreamID `sid` has no valid STE). */
function fault(b: Bench, sid = 1): void {
  b.translate({ sid, address: 0n });
}

describe('7.2 recording events', () => {
  it('records are written at EVENTQ_PROD, which advances; CONS is software-owned', () => {
    const b = new Bench().init();
    fault(b, 1);
    fault(b, 2);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(2);
    expect(b.read32(Reg.EVENTQ_CONS)).toBe(0);
    expect(b.events().map((e) => e.StreamID)).toEqual([1n, 2n]);
    expect(b.read32(Reg.EVENTQ_CONS)).toBe(2);
  });

  it('the queue wraps and toggles the wrap flag', () => {
    const b = new Bench().init({ eventqLog2: 1 });
    for (let i = 0; i < 3; i++) {
      fault(b, i);
      expect(b.events().map((e) => e.StreamID)).toEqual([BigInt(i)]);
    }
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0b11);
  });

  it('7.2.1 nothing is written while EVENTQEN == 0; the records are discarded without overflow', () => {
    const b = new Bench().init();
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.CMDQEN);
    fault(b);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0);
    expect(b.smmu.statistics().events).toEqual({ written: 0, overflowed: 0, discarded: 1, aborts: 0 });
  });

  it('3.5.1 EVENTQ_BASE is aligned to the queue size', () => {
    const b = new Bench().init({ eventqLog2: 2 });
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.CMDQEN);
    b.write64(Reg.EVENTQ_BASE, b.eventq | 0x60n | 2n); // 4 x 32 bytes: bits [6:0] ignored
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.CMDQEN | CR0.EVENTQEN);
    fault(b, 9);
    expect(b.memory.read(b.eventq + 4n, 4)).toBe(9n);
  });
});

describe('7.4 Event queue overflow', () => {
  it('a record finding the queue full is lost and toggles EVENTQ_PROD.OVFLG', () => {
    const b = new Bench().init({ eventqLog2: 1 });
    fault(b, 1);
    fault(b, 2);
    fault(b, 3);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0x8000_0002);
    expect(b.smmu.statistics().events.overflowed).toBe(1);
  });

  it('OVFLG does not toggle again until software acknowledges (OVACKFLG = OVFLG)', () => {
    const b = new Bench().init({ eventqLog2: 1 });
    for (let i = 0; i < 5; i++) fault(b, i);
    expect(b.read32(Reg.EVENTQ_PROD) >>> 31).toBe(1);
    b.write32(Reg.EVENTQ_CONS, 0x8000_0001); // consume one, acknowledge
    fault(b, 7); // fits
    fault(b, 8); // full again: a new overflow toggles OVFLG back
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0x0000_0003);
  });

  it('an unacknowledged overflow does not stop recording when there is space', () => {
    const b = new Bench().init({ eventqLog2: 1 });
    for (let i = 0; i < 3; i++) fault(b, i);
    b.write32(Reg.EVENTQ_CONS, 1); // free one entry, overflow left unacknowledged
    fault(b, 9);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0x8000_0003);
  });
});

describe('7.2.2 Event queue access external abort', () => {
  it('an aborted write raises EVENTQ_ABT_ERR and does not advance PROD', () => {
    const b = new Bench().init();
    b.memory.markAccessFault(b.eventq, 32n);
    fault(b);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0);
    expect(b.gerror).toBe(Gerror.EVENTQ_ABT_ERR);
    expect(b.smmu.statistics().events.aborts).toBe(1);
  });

  it('while EVENTQ_ABT_ERR is active the queue is not writable; acknowledging it restores recording', () => {
    const b = new Bench().init();
    b.memory.markAccessFault(b.eventq, 32n);
    fault(b);
    b.memory.clearMarks();
    fault(b);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0);
    b.ackGerror();
    fault(b);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(1);
  });
});

describe('3.18 Event queue interrupt', () => {
  it('pulses the wired output when the queue goes from empty to non-empty, not for later records', () => {
    const b = new Bench().init();
    fault(b);
    fault(b);
    expect(b.lines.eventq.rises).toBe(1);
    expect(b.lines.eventq.asserted).toBe(false); // edge-triggered
    b.events();
    fault(b);
    expect(b.lines.eventq.rises).toBe(2);
  });

  it('sends the MSI configured in EVENTQ_IRQ_CFG0/1', () => {
    const b = new Bench();
    b.write64(Reg.EVENTQ_IRQ_CFG0, 0x2000_0040n);
    b.write32(Reg.EVENTQ_IRQ_CFG1, 0x45);
    b.init();
    fault(b);
    expect(b.memory.read(0x2000_0040n, 4)).toBe(0x45n);
  });

  it('no interrupt while IRQ_CTRL.EVENTQ_IRQEN == 0', () => {
    const b = new Bench().init({ irqCtrl: 1 });
    fault(b);
    expect(b.lines.eventq.rises).toBe(0);
  });

  it('an aborted Event queue MSI raises MSI_EVENTQ_ABT_ERR', () => {
    const b = new Bench();
    b.write64(Reg.EVENTQ_IRQ_CFG0, 0x2000_0040n);
    b.init();
    b.memory.markAccessFault(0x2000_0040n, 4n);
    fault(b);
    expect(b.gerror).toBe(Gerror.MSI_EVENTQ_ABT_ERR);
  });
});

describe('7.5 GERROR and its interrupt', () => {
  it('an error is active while GERROR != GERRORN; a second occurrence is not logged', () => {
    const b = new Bench().init();
    b.memory.markAccessFault(b.eventq, 4096n);
    fault(b);
    b.ackGerror();
    fault(b);
    fault(b);
    // Toggled back to 0 by the second occurrence: active again (GERROR != GERRORN == 4).
    expect(b.gerror).toBe(0);
    expect(b.read32(Reg.GERRORN)).toBe(Gerror.EVENTQ_ABT_ERR);
    expect(b.lines.gerror.rises).toBe(2);
  });

  it('the GERROR MSI goes to GERROR_IRQ_CFG0 with GERROR_IRQ_CFG1', () => {
    const b = new Bench();
    b.write64(Reg.GERROR_IRQ_CFG0, 0x2000_0080n);
    b.write32(Reg.GERROR_IRQ_CFG1, 0x77);
    b.init();
    b.submit([0x31n, 0n]);
    expect(b.memory.read(0x2000_0080n, 4)).toBe(0x77n);
  });

  it('an aborted GERROR MSI raises MSI_GERROR_ABT_ERR without a further GERROR interrupt (7.5.1)', () => {
    const b = new Bench();
    b.write64(Reg.GERROR_IRQ_CFG0, 0x2000_0080n);
    b.init();
    b.memory.markAccessFault(0x2000_0080n, 4n);
    b.submit([0x31n, 0n]);
    expect(b.gerror).toBe(Gerror.CMDQ_ERR | Gerror.MSI_GERROR_ABT_ERR);
    expect(b.lines.gerror.rises).toBe(1);
  });

  it('no GERROR interrupt while IRQ_CTRL.GERROR_IRQEN == 0; the error is still recorded', () => {
    const b = new Bench().init({ irqCtrl: 4 });
    b.submit([0x31n, 0n]);
    expect([b.gerror, b.lines.gerror.rises]).toEqual([Gerror.CMDQ_ERR, 0]);
  });

  it('the combined output pulses for every source', () => {
    const b = new Bench().init();
    fault(b);
    b.submit([0x31n, 0n]);
    expect(b.lines.combined.rises).toBe(2);
  });

  it('counts wired pulses per source', () => {
    const b = new Bench().init();
    fault(b);
    b.submit([0x31n, 0n]);
    expect(b.smmu.statistics().interrupts).toMatchObject({ eventq: 1, gerror: 1, cmdqSync: 0, priq: 0 });
  });
});

describe('7.3 record contents', () => {
  it('every recorded event is counted by type', () => {
    const b = new Bench().init({ log2size: 2 });
    fault(b, 1);
    fault(b, 9);
    expect(b.smmu.statistics().faults).toEqual({ C_BAD_STE: 1, C_BAD_STREAMID: 1 });
    expect(b.events().map((e) => Number(e.EventType))).toEqual([EventType.C_BAD_STE, EventType.C_BAD_STREAMID]);
  });
});
