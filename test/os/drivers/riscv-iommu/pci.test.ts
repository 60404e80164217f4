// The RISC-V IOMMU as a PCIe function (class 08h/06h/00h, registers in BAR0, MSIs through the
// MSI configuration table): probed when a PCI bus adds the function, registered under the
// device-tree node of the function so that the host bridge's iommu-map and platform `iommus`
// can name it, and translating for PCI endpoints by requester id.

import { describe, expect, it } from 'vitest';
import { msiAddrOffset, Reg } from '../../../../src/formats/riscv-iommu/index.js';
import { Prot } from '../../../../src/os/core/types.js';
import { riscvIommuOf } from '../../../../src/os/drivers/riscv-iommu/index.js';
import { IMSIC_BASE, OsMachine, PCI_MEM_BASE } from '../../../support/os-machine.js';

const IOMMU_FN = { devfn: 0x08, vendor: 0xabcd, device: 0x0001, classCode: 0x080600, bars: [{ index: 0, base: PCI_MEM_BASE, size: 0x1000n }] };

describe('RISC-V IOMMU driver: PCI function', () => {
  it('binds by class code, uses MSIs, and serves platform and PCI endpoints named through its node', () => {
    const m = new OsMachine({ platformIommu: false });
    // The platform endpoint refers to the PCI IOMMU and waits for it.
    expect(m.endpoint.state).toBe('deferred');
    const fn = m.addPciFunction('0000:00:01.0', IOMMU_FN, true);
    expect(fn.state).toBe('bound');
    const d = riscvIommuOf(m.kernel.iommu.instanceFor(fn.node!));
    expect(d?.name).toBe('0000:00:01.0');
    expect(d?.interrupts.method).toBe('msi');
    expect(m.reg64(msiAddrOffset(0))).toBe(IMSIC_BASE);
    expect(m.reg32(Reg.fctl) & 2).toBe(0);
    expect(m.endpoint.state).toBe('bound');

    // A PCI endpoint behind the bridge: requester id 0x10 is device_id 0x10 (iommu-map).
    const ep = m.addPciFunction('0000:00:02.0', { devfn: 0x10, vendor: 0x1234, device: 0x1, classCode: 0xff0000, bars: [] });
    expect(ep.state).toBe('bound');
    const domain = m.kernel.iommu.domainOf(ep)!;
    m.kernel.iommu.map(domain, 0x8000n, 0x8800_0000n, 0x1000n, Prot.READ | Prot.WRITE);
    expect(m.translate(0x10, 0x8010n, { write: true })).toEqual({ address: 0x8800_0010n });

    // Its faults arrive by MSI and reach the endpoint's domain.
    const causes: number[] = [];
    m.kernel.iommu.setFaultHandler(domain, (f) => causes.push(f.cause) > 0 && f.device === ep);
    m.translate(0x10, 0x9000n);
    m.kernel.poll();
    expect(causes).toEqual([13]);
  });

  it('refuses an IOMMU that can signal only wires', () => {
    const m = new OsMachine({ platformIommu: false, iommu: { capabilities: { IGS: 'WSI' } } });
    const fn = m.addPciFunction('0000:00:01.0', IOMMU_FN, true);
    expect(fn.state).toBe('failed');
    expect(fn.reason).toMatch(/cannot send MSIs/);
  });
});
