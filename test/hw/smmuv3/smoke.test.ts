// End-to-end: a driver-like bring-up of the SMMUv3 model through its registers (3.11), a
// stage 1 translation, a nested translation, a fault recorded in the Event queue (7.3).
import { describe, expect, it } from 'vitest';
import { cmdCfgiSte, cmdSync, cmdTlbiNhAll } from '../../../src/formats/smmuv3/commands.js';
import { EventType } from '../../../src/formats/smmuv3/records.js';
import { SteConfig } from '../../../src/formats/smmuv3/structures.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, PageTable } from './bench.js';

describe('SMMUv3 smoke', () => {
  it('3.3 translates through STE, CD and a 4 KiB stage 1 table', () => {
    const b = new Bench().init();
    const pt = new PageTable(b, { stage: 1 });
    pt.map(0x4000_1000n, 0x8765_4000n);
    const cd = b.alloc(64);
    b.writeCd(cd, { V: 1, AA64: 1, T0SZ: 16, TG0: 0, IPS: 5, EPD1: 1, A: 1, R: 1, ASID: 3, TTB0: pt.root >> 4n });
    b.writeSte(5, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: cd >> 6n, S2VMID: 1 });
    const r = b.translate({ sid: 5, address: 0x4000_1234n });
    expect(r.outcome).toBe(Outcome.Ok);
    expect(r.address(0x234)).toBe(0x8765_4234n);
    expect(b.events()).toEqual([]);
  });

  it('7.3.13 an unmapped address records F_TRANSLATION with the input address', () => {
    const b = new Bench().init();
    const pt = new PageTable(b, { stage: 1 });
    const cd = b.alloc(64);
    b.writeCd(cd, { V: 1, AA64: 1, T0SZ: 16, IPS: 5, EPD1: 1, A: 1, R: 1, TTB0: pt.root >> 4n });
    b.writeSte(2, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: cd >> 6n });
    const r = b.translate({ sid: 2, address: 0x1234_5000n, write: true });
    expect(r.outcome).toBe(Outcome.Abort);
    const [e] = b.events();
    expect(e.EventType).toBe(BigInt(EventType.F_TRANSLATION));
    expect(e.StreamID).toBe(2n);
    expect(e.InputAddr).toBe(0x1234_5000n);
    expect(e.RnW).toBe(0n);
  });

  it('nested: stage 1 tables and output translated by stage 2', () => {
    const b = new Bench().init();
    const s2 = new PageTable(b, { stage: 2, inputBits: 40, startLevel: 1 });
    const s1 = new PageTable(b, { stage: 1 });
    // Identity-map the stage 1 tables and CD at stage 2, and the data IPA elsewhere.
    const cd = b.alloc(64);
    s2.map(cd & ~0xfffn, cd & ~0xfffn);
    s1.map(0x10_0000n, 0x2000_0000n);
    for (const t of [s1.root, s1.descriptorAddress(0x10_0000n, 1), s1.descriptorAddress(0x10_0000n, 2), s1.descriptorAddress(0x10_0000n, 3)]) s2.map(t & ~0xfffn, t & ~0xfffn);
    s2.map(0x2000_0000n, 0x3000_0000n);
    b.writeCd(cd, { V: 1, AA64: 1, T0SZ: 16, IPS: 5, EPD1: 1, A: 1, R: 1, TTB0: s1.root >> 4n });
    b.writeSte(1, { V: 1, Config: SteConfig.Nested, S1ContextPtr: cd >> 6n, S2VMID: 9, S2T0SZ: 24, S2SL0: 1, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1, S2TTB: s2.root >> 4n });
    const r = b.translate({ sid: 1, address: 0x10_0010n });
    expect(b.events()).toEqual([]);
    expect(r.outcome).toBe(Outcome.Ok);
    expect(r.address(0x10)).toBe(0x3000_0010n);
    b.submit(cmdCfgiSte(1), cmdTlbiNhAll(9), cmdSync());
    expect(b.gerror).toBe(0);
  });
});
