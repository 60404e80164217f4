// Naming devices in scenarios (docs/scenarios.md "Values": kernel name, device-tree path or
// label) and, for tools that look at the hardware (explain, workloads), the platform's view of
// a device: which IOMMU model its requests reach and with which device_id (a virtio-iommu's
// endpoint id, from `iommus` or the host bridge's iommu-map), and which kernel drives that
// IOMMU. On a host + guest pair a guest device's DMA reaches the host's IOMMU when the
// virtio-iommu has the host backend, the virtio-iommu otherwise. Only the platform layer knows
// both, so this lives above it.

import type { DeviceTree } from '../formats/devicetree/tree.js';
import { iommusOf } from '../os/core/of-iommu.js';
import type { Device } from '../os/driver-model/device.js';
import type { Kernel } from '../os/kernel/kernel.js';
import { Machine, type MachineIommu } from '../platform/machine/machine.js';
import type { VirtualMachinePair } from '../platform/vm/index.js';

/** The kernel's device named `ref`: kernel name, then device-tree path, then label. */
export function findDevice(kernel: Kernel, tree: DeviceTree, ref: string): Device | null {
  const devices = kernel.drivers.devices;
  const byName = devices.find((d) => d.name === ref);
  if (byName !== undefined) return byName;
  const path = ref.startsWith('/') ? ref : tree.byLabel(ref)?.path;
  if (path === undefined) return null;
  return devices.find((d) => d.node !== null && d.node.path === path) ?? null;
}

/** "unknown device "x"; devices: a, b, c" */
export function unknownDevice(kernel: Kernel, ref: string): string {
  const names = kernel.drivers.devices.filter((d) => d.driver !== null || d.pci !== null).map((d) => d.name);
  return `unknown device "${ref}"; devices (by kernel name): ${names.join(', ')}`;
}

export interface HardwareIdentity {
  iommu: MachineIommu;
  /** The device_id the device's requests carry at that IOMMU. */
  deviceId: number;
  /** The kernel whose driver programs that IOMMU (on a pair with the host backend: the host's). */
  kernel: Kernel;
}

/** Where `dev`'s DMA goes: the IOMMU model, its device_id and its kernel; null if untranslated. */
export function hardwareIdentity(target: Machine | VirtualMachinePair, dev: Device): HardwareIdentity | null {
  if (!(target instanceof Machine)) {
    const assigned = target.assigned.find((a) => a.guestDevice === dev);
    return assigned === undefined ? null : target.translatorOf(assigned);
  }
  const machine = target;
  if (dev.pci !== null) {
    const host = machine.pcie.find((p) => p.node.path === dev.pci?.hostBridge.path);
    const rid = dev.requesterId;
    if (host === undefined || rid === undefined || host.iommu === null) return null;
    // Unmapped requester ids (-1), and a virtio-iommu function's own requests (ids beyond 32 bits), are not translated.
    const deviceId = host.bridge.deviceIdFor(rid);
    return deviceId < 0 || deviceId > 0xffff_ffff ? null : { iommu: host.iommu, deviceId, kernel: machine.kernel };
  }
  const engine = machine.dmaEngines.find((e) => e.node.path === dev.node?.path);
  if (engine === undefined || engine.deviceId === null) return null;
  const ref = iommusOf(machine.tree, engine.node)[0];
  const iommu = ref === undefined ? undefined : machine.iommuFor(ref.iommu);
  return iommu === undefined ? null : { iommu, deviceId: engine.deviceId, kernel: machine.kernel };
}
