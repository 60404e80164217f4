// Driving the RISC-V IOMMU model as a test bench drives silicon: registers and memory only.
// This file is type-checked by `npm run lint` and executed by the test suite.

import { PhysicalMemory, RiscvIommu } from '../src/index.js';

export function example(): { translated: bigint; fault: boolean } {
  const memory = new PhysicalMemory();
  const iommu = new RiscvIommu({ memory }); // every capability on, DBG on, PAS 56, reset mode Off

  // A one-level device directory at 0x1000_0000 with the (64-byte) device context of device 5:
  // first stage Sv39 rooted at 0x1000_1000, PSCID 7.
  const ddt = 0x1000_0000n;
  const root = 0x1000_1000n;
  const dc = ddt + 5n * 64n;
  memory.write(dc + 0n, 8, 1n); // tc.V
  memory.write(dc + 16n, 8, 7n << 12n); // ta.PSCID
  memory.write(dc + 24n, 8, (8n << 60n) | (root >> 12n)); // fsc: Sv39, root PPN

  // Sv39 tables mapping IOVA 0x4000_0000 to 0x8000_0000 with a 1 GiB leaf (R W U A D).
  memory.write(root + 1n * 8n, 8, ((0x8000_0000n >> 12n) << 10n) | 0xd7n);

  // ddtp = 1LVL with the directory's PPN (offset 16).
  iommu.mmio.write(16, 8, ((ddt >> 12n) << 10n) | 2n);

  // Ask the debug interface: tr_req_iova (600), then tr_req_ctl (608) with Go, NW, DID 5.
  iommu.mmio.write(600, 8, 0x4000_1000n);
  iommu.mmio.write(608, 8, (5n << 40n) | 0b1001n);
  const response = iommu.mmio.read(616, 8); // tr_response
  const fault = (response & 1n) === 1n;
  const s = (response >> 9n) & 1n;
  const ppn = (response >> 10n) & ((1n << 44n) - 1n);
  // With S=1 the low PPN bits encode the range size (a 1 GiB page here), so mask them off.
  const pageBase = s === 1n ? (ppn << 12n) & ~((1n << 30n) - 1n) : ppn << 12n;
  return { translated: pageBase + (0x4000_1000n & ((1n << 30n) - 1n)), fault };
}
