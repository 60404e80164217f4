// The host of a host + guest pair: an ordinary machine built from the host's device tree, whose
// kernel boots with the platform's drivers except those that would bind the devices assigned
// to the guest (as when Linux is told to leave them to vfio: vfio-pci.ids=, driver_override).
// The assigned devices exist in the host kernel, unbound, until the VMM claims them. A driver is
// left out as a whole, so a host device of the same kind that is not assigned stays unbound too.

import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import type { Driver } from '../../os/driver-model/device.js';
import { Kernel } from '../../os/kernel/kernel.js';
import { Machine, MachineError, PLATFORM_DRIVERS, type MachineOptions } from '../machine/machine.js';

export class HostMachine extends Machine {
  private hostKernel: Kernel | null = null;

  constructor(
    tree: DeviceTree,
    options: MachineOptions,
    /** The host's nodes of the devices the guest gets. */
    readonly assigned: readonly DtNode[],
  ) {
    super(tree, options);
  }

  /** The drivers the host kernel gets: none that would take an assigned device. */
  private hostDrivers(): Driver[] {
    const all = [...PLATFORM_DRIVERS, this.virtioBus.mmioDriver, this.virtioBus.pciDriver];
    return all.filter((d) => !this.assigned.some((node) => (d.compatible ?? []).some((c) => (node.strings('compatible') ?? []).includes(c))));
  }

  override boot(): Kernel {
    if (this.hostKernel !== null) return this.hostKernel;
    const kernel = new Kernel({ dtb: this.dtb, memory: this.memory, bus: this.bus, clock: this.clock, hart: this.hart }, { ...this.options.kernel, drivers: this.hostDrivers() });
    kernel.boot();
    this.hostKernel = kernel;
    return kernel;
  }

  override get kernel(): Kernel {
    if (this.hostKernel === null) throw new MachineError('the host has not booted');
    return this.hostKernel;
  }
}
