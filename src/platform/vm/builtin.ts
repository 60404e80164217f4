// The built-in host + guest pair: riscv-virt-vfio-host and riscv-virt-vfio-guest, DTS files
// in src/platform/builtin (copied beside the compiled module by the build, like every
// built-in platform), read from there.
//
//   const vm = builtinVirtualMachinePair({ backend: 'host' });
//   vm.device('/soc/dma-controller@3020000').guestDevice; // the guest's DMA engine

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeviceTreeError, type DeviceTree } from '../../formats/devicetree/tree.js';
import { parseDts } from '../dts/index.js';
import { VirtualMachinePair, type VirtualMachinePairOptions } from './vm-pair.js';

export const BUILTIN_PAIR = { host: 'riscv-virt-vfio-host', guest: 'riscv-virt-vfio-guest' } as const;

/** The root compatible of the built-in guest, and of any tree written to run as its guest. */
export const BUILTIN_GUEST_COMPATIBLE = 'iommu-lab,riscv-virt-vfio-guest';

/** Whether `tree` describes a guest of the built-in host (its root is compatible with the built-in guest). */
export function isBuiltinPairGuest(tree: DeviceTree): boolean {
  return tree.root.strings('compatible')?.includes(BUILTIN_GUEST_COMPATIBLE) ?? false;
}

/** Reads and parses built-in platform `name` (a DTS file of src/platform/builtin). */
function load(name: string): DeviceTree {
  const file = fileURLToPath(new URL(`../builtin/${name}.dts`, import.meta.url));
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DeviceTreeError(`${file}: cannot read built-in platform "${name}": ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseDts(source, { file });
}

/** The host and guest device trees of the built-in pair. */
export function loadBuiltinPair(): { host: DeviceTree; guest: DeviceTree } {
  return { host: load(BUILTIN_PAIR.host), guest: load(BUILTIN_PAIR.guest) };
}

/** The built-in pair, built and booted. */
export function builtinVirtualMachinePair(options: VirtualMachinePairOptions = {}): VirtualMachinePair {
  const { host, guest } = loadBuiltinPair();
  return new VirtualMachinePair(host, guest, options);
}
