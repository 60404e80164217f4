import { describe, expect, it } from 'vitest';
import { PciCfg, PciFunction, type PciBar } from '../../../src/devices/pcie/index.js';
import { DtNode, encodeU32s } from '../../../src/formats/devicetree/tree.js';
import { PCI_CAP_ID_EXP, PCI_EXT_CAP_ID_ATS, pciConfigOf, pciHostOf } from '../../../src/os/drivers/pci/index.js';
import type { MmioDevice } from '../../../src/sim/mmio.js';
import { buildDevicesMachine, PCI_MEM_BASE } from '../../support/devices-machine.js';

const regs: MmioDevice = { mmioRead: () => 0n, mmioWrite: () => undefined };

function fn(name: string, bars: (PciBar | null)[] = [], o: { vendor?: number; device?: number; classCode?: number } = {}): PciFunction {
  return new PciFunction({ name, vendor: o.vendor ?? 0x1af4, device: o.device ?? 0x1000, classCode: o.classCode ?? 0x020000, bars });
}

describe('generic ECAM host-bridge driver', () => {
  it('enumerates bus 0 and adds a PCI device per function with ids, class, BARs and requester id', () => {
    const m = buildDevicesMachine();
    const host = m.kernel.drivers.find((d) => d.name === '30000000.pci');
    expect(host?.state).toBe('bound');
    const pci = m.kernel.drivers.devices.filter((d) => d.bus === 'pci');
    expect(pci.map((d) => d.name)).toEqual(['0000:00:01.0']);
    const dev = pci[0];
    expect(dev.pci).toMatchObject({ segment: 0, bus: 0, devfn: 0x08, vendor: 0x1b36, device: 0x00d1, classCode: 0xff0000 });
    expect(dev.pci?.bars).toEqual([{ index: 0, base: PCI_MEM_BASE, size: 0x1000n }]);
    expect(dev.pci?.hostBridge).toBe(host?.node);
    expect(dev.requesterId).toBe(0x08);
    expect(dev.requesterId).toBe(m.pciEngine?.rid);
    expect(pciHostOf(m.kernel, dev)?.devices).toEqual([dev]);
    // Memory decoding and bus mastering are on; the BAR still holds firmware's address.
    expect(m.pciEngine?.memoryEnabled).toBe(true);
    expect(m.pciEngine?.busMasterEnabled).toBe(true);
    expect(m.pciEngine?.barBase(0)).toBe(PCI_MEM_BASE);
    expect(m.kernel.log.records.some((r) => r.message.includes('0000:00:01.0 BAR0: [mem 0x40000000-0x40000fff]'))).toBe(true);
  });

  it('scans functions 1-7 only of multi-function devices, and sizes 64-bit BARs', () => {
    const m = buildDevicesMachine({
      extraFunctions: [
        { device: 2, func: 0, fn: fn('net0', [{ size: 0x4000n, device: regs }]) },
        { device: 2, func: 5, fn: fn('net5', [null, null, { size: 0x10_0000n, is64: true, prefetchable: true, device: regs }], { device: 0x1041 }) },
        { device: 3, func: 1, fn: fn('orphan') }, // no function 0: invisible
        { device: 31, func: 0, fn: fn('last', [], { classCode: 0x0c0330 }) },
      ],
    });
    const pci = m.kernel.drivers.devices.filter((d) => d.bus === 'pci');
    expect(pci.map((d) => [d.name, d.requesterId])).toEqual([
      ['0000:00:01.0', 0x08],
      ['0000:00:02.0', 0x10],
      ['0000:00:02.5', 0x15],
      ['0000:00:1f.0', 0xf8],
    ]);
    const net5 = pci[2].pci;
    expect(net5?.device).toBe(0x1041);
    // BARs in requester-id order: 01.0 BAR0 (4 KiB), 02.0 BAR0 (16 KiB), 02.5 BAR2 (1 MiB).
    expect(net5?.bars).toEqual([{ index: 2, base: PCI_MEM_BASE + 0x10_0000n, size: 0x10_0000n }]);
    expect(pci[1].pci?.bars).toEqual([{ index: 0, base: PCI_MEM_BASE + 0x4000n, size: 0x4000n }]);
    expect(pci[3].pci?.classCode).toBe(0x0c0330);
  });

  it('skips bridges and BARs outside the memory windows, with a warning', () => {
    const bridge = fn('bridge');
    bridge.config.set(PciCfg.HEADER_TYPE, 1, 1); // a Type 1 header
    const stray = fn('stray', [{ size: 0x1000n, device: regs }]);
    const m = buildDevicesMachine({ extraFunctions: [{ device: 4, func: 0, fn: bridge }, { device: 5, func: 0, fn: stray }], boot: false });
    stray.configWrite(PciCfg.BAR0, 4, 0x9000_0000); // moved outside the window behind firmware's back
    m.kernel.boot();
    const names = m.kernel.drivers.devices.filter((d) => d.bus === 'pci').map((d) => d.name);
    expect(names).toEqual(['0000:00:01.0', '0000:00:05.0']);
    expect(m.kernel.drivers.find((d) => d.name === '0000:00:05.0')?.pci?.bars).toEqual([]);
    const warnings = m.kernel.log.records.filter((r) => r.level === 'warn').map((r) => r.message);
    expect(warnings.some((w) => w.includes('0000:00:04.0') && w.includes('header type 1'))).toBe(true);
    expect(warnings.some((w) => w.includes('0000:00:05.0 BAR0') && w.includes('not assigned'))).toBe(true);
  });

  it('gives drivers configuration access to their function', () => {
    const m = buildDevicesMachine();
    const dev = m.kernel.drivers.find((d) => d.name === '0000:00:01.0');
    expect(dev).toBeDefined();
    const cfg = pciConfigOf(m.kernel, dev!);
    expect(cfg.read16(PciCfg.VENDOR_ID)).toBe(0x1b36);
    expect(cfg.read8(PciCfg.HEADER_TYPE)).toBe(0);
    expect(cfg.findCapability(PCI_CAP_ID_EXP)).toBe(0x40);
    const ats = cfg.findExtendedCapability(PCI_EXT_CAP_ID_ATS);
    expect(ats).toBe(0x100);
    cfg.write16(ats + 6, 0x8000); // enable ATS
    expect(m.pciEngine?.atsEnabled).toBe(true);
    expect(cfg.findCapability(0x05)).toBe(0); // no MSI capability
  });

  it('links a function to its device-tree child node by reg (phys.hi bus and devfn)', () => {
    const m = buildDevicesMachine({
      editTree: (dt) => {
        const host = dt.find('/soc/pci@30000000');
        if (host === undefined) throw new Error('test tree changed');
        const node = new DtNode('dma@1,0');
        node.set('reg', encodeU32s([0x0800, 0, 0, 0, 0])); // bus 0, devfn 0x08
        host.addChild(node);
      },
    });
    const dev = m.kernel.drivers.find((d) => d.name === '0000:00:01.0');
    expect(dev?.node?.path).toBe('/soc/pci@30000000/dma@1,0');
  });

  it('finds nothing on an empty bus', () => {
    const m = buildDevicesMachine({ pciEngineAt: null });
    expect(m.kernel.drivers.devices.filter((d) => d.bus === 'pci')).toEqual([]);
    expect(m.kernel.drivers.find((d) => d.name === '30000000.pci')?.state).toBe('bound');
  });
});
