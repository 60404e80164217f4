// The generic ECAM PCI host-bridge driver (Linux drivers/pci/controller/pci-host-generic.c
// with the probe part of drivers/pci/probe.c): maps the ECAM window from `reg`, scans the
// root bus (the first bus of `bus-range`), reads each function's ids, class and BARs through
// configuration reads (sizing BARs with memory decoding off, as __pci_read_base does), keeps
// firmware's BAR assignment, turns on memory decoding and bus mastering, and adds a PCI
// device per function to the kernel.
//
// Only the root bus is scanned: PCI-PCI bridges (Type 1 headers) are reported and skipped,
// and so are I/O BARs and BARs outside the bridge's memory windows (not assigned).

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { hex } from '../../../sim/u64.js';
import { Device, type Driver, type PciFunction, type ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';
import { PCI, PCI_BASE_ADDRESS, PCI_COMMAND, PCI_HEADER_TYPE_MFD, PciConfigAccess } from './config.js';
import { hostWindows, pciToCpu, type PciHostWindow } from './ranges.js';

export const PCI_HOST_ECAM_COMPATIBLE = 'pci-host-ecam-generic';

/** What the driver keeps for a host bridge (the host bridge Device's driverData). */
export class PciHostBridge {
  /** The PCI devices found, in scan order. */
  readonly devices: Device[] = [];

  constructor(
    readonly node: DtNode,
    readonly segment: number,
    readonly busStart: number,
    readonly busEnd: number,
    readonly config: PciConfigAccess,
    readonly windows: readonly PciHostWindow[],
  ) {}
}

export const pciHostEcamDriver: Driver = {
  name: 'pci-host-generic',
  compatible: [PCI_HOST_ECAM_COMPATIBLE],
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const node = dev.node as DtNode;
    const ecam = region(node);
    const range = node.u32s('bus-range') ?? [0, 255];
    if (range.length !== 2 || range[0] > range[1] || range[1] > 255) return { error: `bad bus-range <${range.join(' ')}>` };
    const buses = Number(ecam.size >> 20n);
    if (buses < 1) return { error: `ECAM window of ${hex(ecam.size)} bytes holds no bus` };
    const busStart = range[0];
    const busEnd = Math.min(range[1], busStart + buses - 1);
    let windows: PciHostWindow[];
    try {
      windows = hostWindows(node);
    } catch (e) {
      return { error: (e as Error).message };
    }
    const segment = node.u32('linux,pci-domain') ?? kernel.drivers.devices.filter((d) => d !== dev && d.driver === pciHostEcamDriver).length;
    const size = BigInt(busEnd - busStart + 1) << 20n;
    const host = new PciHostBridge(node, segment, busStart, busEnd, new PciConfigAccess(kernel.ioremap(ecam.base, size), kernel.bus, busStart), windows);
    dev.driverData = host;
    kernel.log.info(dev.name, `ECAM at ${hex(ecam.base)} for buses ${busStart}-${busEnd}, domain ${hex(segment, 4)}`);
    for (const w of windows) {
      if (w.space === 'mem32' || w.space === 'mem64') kernel.log.info(dev.name, `${w.space}${w.prefetchable ? ' prefetchable' : ''} window ${hex(w.cpuBase)}..${hex(w.cpuBase + w.size - 1n)} -> PCI ${hex(w.pciBase)}`);
    }
    for (const f of scanBus(kernel, dev.name, host, busStart)) {
      const pciDev = new Device(pciName(f), 'pci', childNode(node, f.bus, f.devfn), f);
      host.devices.push(pciDev);
      kernel.addDevice(pciDev);
    }
    return 'bound';
  },
};

/** Linux-style PCI device name: "0000:00:01.0". */
export function pciName(f: { segment: number; bus: number; devfn: number }): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(f.segment, 4)}:${h(f.bus, 2)}:${h(f.devfn >> 3, 2)}.${f.devfn & 7}`;
}

/** Scans one bus; returns the functions found, each with decoding and bus mastering enabled. */
function scanBus(kernel: Kernel, source: string, host: PciHostBridge, bus: number): PciFunction[] {
  const cfg = host.config;
  const out: PciFunction[] = [];
  for (let device = 0; device < 32; device++) {
    for (let fn = 0; fn < 8; fn++) {
      const devfn = (device << 3) | fn;
      const id = cfg.read32(bus, devfn, PCI.VENDOR_ID);
      const vendor = id & 0xffff;
      if (vendor === 0xffff || vendor === 0x0000) {
        if (fn === 0) break; // no device here; functions 1..7 exist only with function 0
        continue;
      }
      const headerType = cfg.read8(bus, devfn, PCI.HEADER_TYPE);
      const f = setUpFunction(kernel, source, host, bus, devfn, vendor, id >>> 16, headerType);
      if (f !== null) out.push(f);
      if (fn === 0 && (headerType & PCI_HEADER_TYPE_MFD) === 0) break;
    }
  }
  return out;
}

function setUpFunction(kernel: Kernel, source: string, host: PciHostBridge, bus: number, devfn: number, vendor: number, device: number, headerType: number): PciFunction | null {
  const cfg = host.config;
  const name = pciName({ segment: host.segment, bus, devfn });
  const classRev = cfg.read32(bus, devfn, PCI.CLASS_REVISION);
  const classCode = classRev >>> 8;
  const ids = `[${hex(vendor, 4).slice(2)}:${hex(device, 4).slice(2)}] class ${hex(classCode, 6)}`;
  if ((headerType & 0x7f) !== 0) {
    kernel.log.warn(source, `${name} ${ids}: header type ${headerType & 0x7f} (a bridge?) is not supported; buses behind it are not scanned`);
    return null;
  }
  kernel.log.info(source, `${name} ${ids}`);
  const bars = readBars(kernel, source, host, bus, devfn, name);
  // Memory decoding and bus mastering (pci_enable_device + pci_set_master). The status half of
  // the dword is written as zeros: its RW1C bits stay as they are.
  const command = cfg.read16(bus, devfn, PCI.COMMAND);
  cfg.write16(bus, devfn, PCI.COMMAND, command | PCI_COMMAND.MEMORY | PCI_COMMAND.MASTER);
  return { segment: host.segment, bus, devfn, vendor, device, classCode, bars, hostBridge: host.node };
}

/** Reads and sizes the memory BARs, with decoding off while the BARs hold all ones. */
function readBars(kernel: Kernel, source: string, host: PciHostBridge, bus: number, devfn: number, name: string): PciFunction['bars'] {
  const cfg = host.config;
  const bars: PciFunction['bars'] = [];
  const command = cfg.read16(bus, devfn, PCI.COMMAND);
  cfg.write16(bus, devfn, PCI.COMMAND, command & ~(PCI_COMMAND.MEMORY | PCI_COMMAND.IO));
  for (let index = 0; index < 6; index++) {
    const reg = PCI.BASE_ADDRESS_0 + 4 * index;
    const lo = cfg.read32(bus, devfn, reg);
    cfg.write32(bus, devfn, reg, 0xffff_ffff);
    const sizeLo = cfg.read32(bus, devfn, reg);
    cfg.write32(bus, devfn, reg, lo);
    if (sizeLo === 0 || sizeLo === 0xffff_ffff) continue; // not implemented
    if ((lo & PCI_BASE_ADDRESS.SPACE_IO) !== 0) {
      kernel.log.warn(source, `${name} BAR${index}: I/O space is not supported`);
      continue;
    }
    const is64 = (lo & PCI_BASE_ADDRESS.MEM_TYPE_MASK) === PCI_BASE_ADDRESS.MEM_TYPE_64;
    let hi = 0;
    let sizeHi = 0xffff_ffff;
    if (is64 && index < 5) {
      hi = cfg.read32(bus, devfn, reg + 4);
      cfg.write32(bus, devfn, reg + 4, 0xffff_ffff);
      sizeHi = cfg.read32(bus, devfn, reg + 4);
      cfg.write32(bus, devfn, reg + 4, hi);
    }
    const mask = (BigInt(sizeHi >>> 0) << 32n) | BigInt((sizeLo & PCI_BASE_ADDRESS.MEM_MASK) >>> 0);
    const size = (~mask + 1n) & ((1n << 64n) - 1n);
    const pci = (BigInt(hi >>> 0) << 32n) | BigInt((lo & PCI_BASE_ADDRESS.MEM_MASK) >>> 0);
    const cpu = size === 0n ? null : pciToCpu(host.windows, pci, size);
    if (cpu === null) {
      kernel.log.warn(source, `${name} BAR${index}: ${hex(pci)} (+${hex(size)}) is outside the host bridge's memory windows: not assigned`);
    } else {
      kernel.log.info(source, `${name} BAR${index}: [mem ${hex(cpu)}-${hex(cpu + size - 1n)}${is64 ? ' 64bit' : ''}${(lo & PCI_BASE_ADDRESS.MEM_PREFETCH) !== 0 ? ' pref' : ''}]`);
      bars.push({ index, base: cpu, size });
    }
    if (is64) index++;
  }
  cfg.write16(bus, devfn, PCI.COMMAND, command);
  return bars;
}

/** The host bridge's child node describing (bus, devfn), if any: its reg's phys.hi has bus in 23:16, devfn in 15:8. */
function childNode(host: DtNode, bus: number, devfn: number): DtNode | null {
  for (const child of host.children) {
    const reg = child.u32s('reg');
    if (reg === undefined || reg.length === 0) continue;
    if (((reg[0] >>> 16) & 0xff) === bus && ((reg[0] >>> 8) & 0xff) === devfn) return child;
  }
  return null;
}

/** The host bridge state the PCI driver keeps for the bridge a function sits under. */
export function pciHostOf(kernel: Kernel, dev: Device): PciHostBridge | null {
  const f = dev.pci;
  if (f === null) return null;
  const host = kernel.drivers.find((d) => d.node === f.hostBridge && d.driverData instanceof PciHostBridge);
  return (host?.driverData as PciHostBridge | undefined) ?? null;
}

/** Configuration accessors bound to one PCI function (pci_read_config_* and friends). */
export interface PciFunctionConfig {
  read8(reg: number): number;
  read16(reg: number): number;
  read32(reg: number): number;
  write8(reg: number, value: number): void;
  write16(reg: number, value: number): void;
  write32(reg: number, value: number): void;
  findCapability(id: number): number;
  findExtendedCapability(id: number): number;
}

export function pciConfigOf(kernel: Kernel, dev: Device): PciFunctionConfig {
  const host = pciHostOf(kernel, dev);
  const f = dev.pci;
  if (host === null || f === null) throw new Error(`${dev.name} is not a PCI function under a probed host bridge`);
  const c = host.config;
  const { bus, devfn } = f;
  return {
    read8: (r) => c.read8(bus, devfn, r),
    read16: (r) => c.read16(bus, devfn, r),
    read32: (r) => c.read32(bus, devfn, r),
    write8: (r, v) => c.write8(bus, devfn, r, v),
    write16: (r, v) => c.write16(bus, devfn, r, v),
    write32: (r, v) => c.write32(bus, devfn, r, v),
    findCapability: (id) => c.findCapability(bus, devfn, id),
    findExtendedCapability: (id) => c.findExtendedCapability(bus, devfn, id),
  };
}
