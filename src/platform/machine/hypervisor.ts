// Whether a device tree asks the machine to boot a hypervisor rather than a kernel. A board
// boots Xen on Arm when its boot loader loads Xen and hands it the device tree with Xen's own
// entries in /chosen (Xen's docs/misc/arm/device-tree/booting.txt): its command line
// `xen,xen-bootargs`, and the dom0 kernel and ramdisk as `multiboot,module` nodes (older
// loaders write `xen,multiboot-module`). Either marks a Xen device tree here. The hypervisor
// model takes its options from the machine's options, not from the command line's words.

import type { DeviceTree } from '../../formats/devicetree/tree.js';

export type HypervisorKind = 'xen';

/** The property of /chosen that holds Xen's command line. */
export const XEN_BOOTARGS = 'xen,xen-bootargs';

const XEN_MODULES = ['multiboot,module', 'xen,multiboot-module'];

/** The hypervisor the tree's /chosen asks for, or null for a kernel. */
export function hypervisorOf(tree: DeviceTree): HypervisorKind | null {
  const chosen = tree.find('/chosen');
  if (chosen === undefined) return null;
  if (chosen.has(XEN_BOOTARGS)) return 'xen';
  const modules = [...chosen.walk()].filter((n) => (n.strings('compatible') ?? []).some((c) => XEN_MODULES.includes(c)));
  return modules.length > 0 ? 'xen' : null;
}
