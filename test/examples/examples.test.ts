import { describe, expect, it } from 'vitest';
import { example as testbench } from '../../examples/riscv-iommu-testbench.js';
import { example as scenario } from '../../examples/scenario.js';

describe('README examples', () => {
  it('the test-bench example translates through a 1 GiB Sv39 leaf (debug interface, tr_response)', () => {
    expect(testbench()).toEqual({ translated: 0x8000_1000n, fault: false });
  });

  it('the scenario example fills a mapped page by DMA and faults on an unmapped one (cause 13)', () => {
    const r = scenario();
    expect(r.ok).toBe(true);
    // The fill moves 4 KiB in 64-byte transactions (the engine's default burstBytes), each
    // translated once: 4096 / 64 = 64 translations, then one for the faulting read.
    expect(r.translations).toBe(4096 / 64 + 1);
    expect(r.faultCauses).toEqual([13]);
    expect(r.text).toMatch(/result: ok/);
  });
});
