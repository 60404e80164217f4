// Construction parameters of the SMMUv3 model: defaults, the constraints between ID register
// fields the specification imposes (IHI 0070 6.3.1 - 6.3.6), and the statistics shape.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, idRegisters, ParameterError, resolveParameters } from '../../../src/hw/smmuv3/parameters.js';
import { Bench } from './bench.js';

describe('resolveParameters', () => {
  it('fills the documented defaults', () => {
    const p = resolveParameters();
    expect(p.capabilities).toEqual(DEFAULT_CAPABILITIES);
    expect([p.gbpaAbortAtReset, p.page0QueueAliases, p.checkReservedCommandFields, p.atsFillsTlb]).toEqual([false, false, true, true]);
    expect(p.caches.tlb).toEqual({ sets: 64, ways: 8 });
  });

  const bad: [string, Parameters<typeof resolveParameters>[0]][] = [
    ['no translation stage', { capabilities: { stage1: false, stage2: false } }],
    ['SIDSIZE above 32', { capabilities: { sidBits: 33 } }],
    ['SSIDSIZE above 20', { capabilities: { ssidBits: 21 } }],
    ['CMDQS above 19', { capabilities: { cmdqLog2Max: 20 } }],
    ['PRI without ATS (IDR0.PRI)', { capabilities: { ats: false, pri: true } }],
    ['an OAS with no IDR5.OAS encoding', { capabilities: { oasBits: 50 } }],
    ['no translation granule', { capabilities: { gran4K: false, gran16K: false, gran64K: false } }],
    ['52-bit VAs without the 64 KiB granule', { capabilities: { vaBits: 52, gran64K: false } }],
    ['substreams without stage 1', { capabilities: { stage1: false, ssidBits: 8, twoLevelCdTable: false, hyp: false } }],
    ['HYP without stage 1', { capabilities: { stage1: false, ssidBits: 0, twoLevelCdTable: false, hyp: true } }],
    ['a cache whose set count is not a power of two', { caches: { tlb: { sets: 3, ways: 2 } } }],
    ['a cache with no ways', { caches: { ste: { sets: 4, ways: 0 } } }],
    ['an IIDR implementer wider than 12 bits', { iidr: { implementer: 0x1000 } }],
  ];
  for (const [name, options] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => resolveParameters(options)).toThrow(ParameterError);
    });
  }

  it('idRegisters encodes a stage-2-only implementation', () => {
    const ids = idRegisters(resolveParameters({ capabilities: { stage1: false, ssidBits: 0, twoLevelCdTable: false, hyp: false } }));
    expect(ids.idr0 & 3).toBe(1);
    expect((ids.idr1 >>> 6) & 0x1f).toBe(0);
  });
});

describe('statistics()', () => {
  it('reports every counter group, zero after construction', () => {
    const s = new Bench().smmu.statistics();
    expect(s.requests).toEqual({ untranslated: 0, translated: 0, atsTranslation: 0, bypassed: 0 });
    expect(s.faults).toEqual({});
    expect(s.events).toEqual({ written: 0, overflowed: 0, discarded: 0, aborts: 0 });
    expect(Object.keys(s.caches)).toEqual(['tlb', 'ste', 'cd', 'l1std', 'l1cd']);
    expect(s.commands).toEqual({});
    expect(s.pageRequests).toEqual({ received: 0, queued: 0, discarded: 0, overflows: 0, autoResponses: 0 });
    expect(s.illegalRegisterAccesses).toBe(0);
  });

  it('computes hit rates and counts memory accesses', () => {
    const b = new Bench().init();
    b.stage1Stream(1).pt.map(0x1000n, 0x2000n);
    for (let i = 0; i < 4; i++) b.translate({ sid: 1, address: 0x1000n });
    const s = b.smmu.statistics();
    expect(s.caches.tlb.hitRate).toBe(0.75);
    expect(s.requests.untranslated).toBe(4);
    expect(s.memory.reads).toBe(6); // STE, CD, 4 descriptors
  });
});
