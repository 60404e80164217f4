// The endpoint side of ATS (PCIe Base 10.5.1, Linux drivers/pci/ats.c as the SMMUv3 driver uses
// it): the ATS Extended Capability of a PCI function, its Smallest Translation Unit, and the
// Enable bit. The SMMU driver turns ATS on only for functions whose root complex supports it
// (the host bridge's `ats-supported` property, Linux IOMMU_FWSPEC_PCI_RC_ATS).

import type { Device } from '../../driver-model/device.js';
import { pciConfigOf, type PciFunctionConfig } from '../pci/host-ecam.js';
import { PCI_EXT_CAP_ID_ATS } from '../pci/config.js';
import type { Kernel } from '../../kernel/kernel.js';

/** ATS Control register (offset 6 in the capability): STU in bits 4:0, Enable in bit 15. */
const ATS_CTRL = 6;
const ATS_CTRL_ENABLE = 0x8000;
const ATS_CTRL_STU_MASK = 0x1f;
/** The STU field counts from 4 KiB (PCI_ATS_MIN_STU). */
const ATS_MIN_STU_LOG2 = 12;

/** A PCI function's ATS capability, reached through configuration space. */
export class AtsCapability {
  private constructor(
    private readonly config: PciFunctionConfig,
    /** Offset of the capability in configuration space. */
    readonly offset: number,
  ) {}

  /** The function's ATS capability, or null (not PCI, no host bridge driver, no capability). */
  static find(kernel: Kernel, dev: Device): AtsCapability | null {
    if (dev.pci === null) return null;
    let config: PciFunctionConfig;
    try {
      config = pciConfigOf(kernel, dev);
    } catch {
      return null; // no host-bridge driver to reach its configuration space
    }
    const offset = config.findExtendedCapability(PCI_EXT_CAP_ID_ATS);
    return offset === 0 ? null : new AtsCapability(config, offset);
  }

  get control(): number {
    return this.config.read16(this.offset + ATS_CTRL);
  }

  get enabled(): boolean {
    return (this.control & ATS_CTRL_ENABLE) !== 0;
  }

  /** Sets Enable with STU = 2^stuLog2 bytes, in one write (Linux pci_enable_ats). */
  enable(stuLog2: number): void {
    const stu = (stuLog2 - ATS_MIN_STU_LOG2) & ATS_CTRL_STU_MASK;
    this.config.write16(this.offset + ATS_CTRL, stu | ATS_CTRL_ENABLE);
  }

  /** Clears Enable, keeping STU (Linux pci_disable_ats). */
  disable(): void {
    this.config.write16(this.offset + ATS_CTRL, this.control & ~ATS_CTRL_ENABLE);
  }
}

/** Whether the root complex above `dev` supports ATS: its host bridge node says `ats-supported`. */
export function rootComplexSupportsAts(dev: Device): boolean {
  return dev.pci !== null && dev.pci.hostBridge.has('ats-supported');
}
