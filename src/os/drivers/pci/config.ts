// Configuration-space access as the PCI core does it over ECAM (PCIe Base 7.2.2): the
// register at `reg` of function (bus, devfn) is at ((bus - busStart) << 20 | devfn << 12 | reg)
// in the host bridge's ECAM window. Dword accesses go through the ioremapped window; byte
// and word accesses are CPU loads and stores of that size, so that writing a 16-bit register
// never rewrites (and so never clears RW1C bits of) its neighbour.

import type { SystemBus } from '../../../sim/system-bus.js';
import type { IoMem } from '../../kernel/iomem.js';

/** Type 0 header registers (include/uapi/linux/pci_regs.h names). */
export const PCI = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  CLASS_REVISION: 0x08,
  HEADER_TYPE: 0x0e,
  BASE_ADDRESS_0: 0x10,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  CAPABILITY_LIST: 0x34,
  INTERRUPT_PIN: 0x3d,
} as const;

export const PCI_COMMAND = { IO: 0x1, MEMORY: 0x2, MASTER: 0x4, INTX_DISABLE: 0x400 } as const;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_HEADER_TYPE_MFD = 0x80;
export const PCI_BASE_ADDRESS = { SPACE_IO: 0x1, MEM_TYPE_MASK: 0x6, MEM_TYPE_64: 0x4, MEM_PREFETCH: 0x8, MEM_MASK: ~0xf } as const;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_EXT_CAP_ID_ATS = 0x0f;

export class PciConfigAccess {
  constructor(
    private readonly ecam: IoMem,
    private readonly bus: SystemBus,
    readonly busStart: number,
  ) {}

  offset(bus: number, devfn: number, reg: number): number {
    return (bus - this.busStart) * 0x10_0000 + devfn * 0x1000 + reg;
  }

  read32(bus: number, devfn: number, reg: number): number {
    return this.ecam.read32(this.offset(bus, devfn, reg)) >>> 0;
  }

  write32(bus: number, devfn: number, reg: number, value: number): void {
    this.ecam.write32(this.offset(bus, devfn, reg), value >>> 0);
  }

  read16(bus: number, devfn: number, reg: number): number {
    return Number(this.bus.access(this.address(bus, devfn, reg), 2, false).value);
  }

  write16(bus: number, devfn: number, reg: number, value: number): void {
    this.bus.access(this.address(bus, devfn, reg), 2, true, BigInt(value & 0xffff));
  }

  read8(bus: number, devfn: number, reg: number): number {
    return Number(this.bus.access(this.address(bus, devfn, reg), 1, false).value);
  }

  write8(bus: number, devfn: number, reg: number, value: number): void {
    this.bus.access(this.address(bus, devfn, reg), 1, true, BigInt(value & 0xff));
  }

  /** Offset of capability `id` in the function's list, or 0. */
  findCapability(bus: number, devfn: number, id: number): number {
    if ((this.read16(bus, devfn, PCI.STATUS) & PCI_STATUS_CAP_LIST) === 0) return 0;
    let p = this.read8(bus, devfn, PCI.CAPABILITY_LIST) & 0xfc;
    for (let ttl = 48; p !== 0 && ttl > 0; ttl--) {
      const header = this.read16(bus, devfn, p);
      if ((header & 0xff) === id) return p;
      p = (header >>> 8) & 0xfc;
    }
    return 0;
  }

  /** Offset of extended capability `id`, or 0 (needs the PCI Express capability). */
  findExtendedCapability(bus: number, devfn: number, id: number): number {
    if (this.findCapability(bus, devfn, PCI_CAP_ID_EXP) === 0) return 0;
    let p = 0x100;
    for (let ttl = 960; p !== 0 && ttl > 0; ttl--) {
      const header = this.read32(bus, devfn, p);
      if (header === 0 || header === 0xffff_ffff) return 0;
      if ((header & 0xffff) === id) return p;
      p = (header >>> 20) & 0xffc;
    }
    return 0;
  }

  private address(bus: number, devfn: number, reg: number): bigint {
    return this.ecam.base + BigInt(this.offset(bus, devfn, reg));
  }
}
