import { describe, expect, it } from 'vitest';
import { example } from '../../examples/riscv-iommu-testbench.js';

describe('README examples', () => {
  it('the test-bench example translates through a 1 GiB Sv39 leaf (debug interface, tr_response)', () => {
    expect(example()).toEqual({ translated: 0x8000_1000n, fault: false });
  });
});
