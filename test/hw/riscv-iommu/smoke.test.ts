import { describe, expect, it } from 'vitest';
import { iodirInvalDdt, iotinvalVma, iofenceC } from '../../../src/formats/index.js';
import { RiscvIommuBench } from '../../support/riscv-iommu-bench.js';

describe('RISC-V IOMMU smoke', () => {
  it('translates an Sv39 mapping through a 3-level DDT via the debug interface', () => {
    const b = new RiscvIommuBench({ mode: '3LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x8000_0000n, 0x20_0000_0000n);
    b.setDeviceContext(0x012345, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 0x5a5 } });
    const r = b.debugTranslate(0x012345, 0x8000_0000n);
    expect(r.fault).toBe(false);
    expect(r.address).toBe(0x20_0000_0000n);
    expect(b.faults()).toEqual([]);
  });

  it('uses a stale translation until IOTINVAL.VMA', () => {
    const b = new RiscvIommuBench({ mode: '3LVL' });
    const pt = b.pageTable('Sv39');
    pt.map(0x8000_0000n, 0x20_0000_0000n);
    b.setDeviceContext(7, { fsc: { mode: 8, ppn: pt.root }, ta: { pscid: 1 } });
    expect(b.debugTranslate(7, 0x8000_0000n).address).toBe(0x20_0000_0000n);
    pt.map(0x8000_0000n, 0x30_0000_0000n);
    expect(b.debugTranslate(7, 0x8000_0000n).address).toBe(0x20_0000_0000n);
    b.submit(iotinvalVma({ pscid: 1, address: 0x8000_0000n }), iofenceC());
    expect(b.debugTranslate(7, 0x8000_0000n).address).toBe(0x30_0000_0000n);
    b.submit(iodirInvalDdt());
    expect(b.cqcsr & (1 << 10)).toBe(0);
  });
});
