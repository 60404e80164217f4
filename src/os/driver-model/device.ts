// Devices and drivers, in the style of the Linux driver model: devices come from the device
// tree (platform bus) or from PCI enumeration; drivers bind by compatible string or PCI id;
// a probe that needs something not yet available is deferred and retried later.

import type { DtNode } from '../../formats/devicetree/tree.js';
import type { Kernel } from '../kernel/kernel.js';

export type BusType = 'platform' | 'pci';

export interface PciFunction {
  segment: number;
  bus: number;
  /** device << 3 | function */
  devfn: number;
  vendor: number;
  device: number;
  /** 24-bit class code: base class, sub-class, programming interface. */
  classCode: number;
  /** Memory BARs assigned by firmware: CPU base address and size. */
  bars: { index: number; base: bigint; size: bigint }[];
  /** The host bridge this function sits under. */
  hostBridge: DtNode;
}

export type DeviceState = 'unbound' | 'deferred' | 'bound' | 'failed';

export class Device {
  driver: Driver | null = null;
  /** Whatever the bound driver keeps for the device. */
  driverData: unknown = undefined;
  state: DeviceState = 'unbound';
  /** Why the last probe deferred or failed. */
  reason = '';
  /** IOMMU state the core keeps for the device (fwspec, group); see core/. */
  iommu: unknown = null;

  constructor(
    readonly name: string,
    readonly bus: BusType,
    readonly node: DtNode | null,
    readonly pci: PciFunction | null = null,
  ) {}

  /** PCIe requester id (bus << 8 | devfn) of a PCI function. */
  get requesterId(): number | undefined {
    return this.pci === null ? undefined : (this.pci.bus << 8) | this.pci.devfn;
  }

  compatible(): string[] {
    return this.node?.strings('compatible') ?? [];
  }
}

export type ProbeResult = 'bound' | { defer: string } | { error: string };

export interface PciMatch {
  vendor?: number;
  device?: number;
  /** Match the class code, masked with classMask (default all 24 bits). */
  classCode?: number;
  classMask?: number;
}

export interface Driver {
  readonly name: string;
  /** Compatible strings of platform devices it drives. */
  readonly compatible?: readonly string[];
  /** PCI functions it drives. */
  readonly pci?: readonly PciMatch[];
  probe(dev: Device, kernel: Kernel): ProbeResult;
  remove?(dev: Device, kernel: Kernel): void;
}

export function driverMatches(driver: Driver, dev: Device): boolean {
  if (dev.bus === 'platform') {
    const compat = dev.compatible();
    return driver.compatible?.some((c) => compat.includes(c)) ?? false;
  }
  const f = dev.pci;
  if (f === null || driver.pci === undefined) return false;
  return driver.pci.some(
    (m) =>
      (m.vendor === undefined || m.vendor === f.vendor) &&
      (m.device === undefined || m.device === f.device) &&
      (m.classCode === undefined || (f.classCode & (m.classMask ?? 0xffffff)) === (m.classCode & (m.classMask ?? 0xffffff))),
  );
}
