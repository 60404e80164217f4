// Finding the virtio structures of a virtio-pci function (VIRTIO 1.3 section 4.1.4 "Virtio
// Structure PCI Capabilities"): the vendor-specific capabilities in its capability list, each
// naming a structure type, a BAR, and an offset and length in it. The first capability of
// each type is used (the device lists them in order of preference); capabilities with a
// reserved type or BAR number, or shorter than their structure, are ignored.

import { NOTIFY_OFF_MULTIPLIER, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_SIZE, VIRTIO_PCI_NOTIFY_CAP_SIZE, VirtioPciCap, VirtioPciCapType } from '../../../formats/virtio/pci.js';
import type { PciFunctionConfig } from '../pci/host-ecam.js';
import { PCI, PCI_STATUS_CAP_LIST } from '../pci/config.js';

export interface VirtioPciStructure {
  /** Where the capability is in configuration space. */
  readonly capability: number;
  readonly bar: number;
  readonly offset: number;
  readonly length: number;
}

export interface VirtioPciCapabilities {
  readonly common: VirtioPciStructure;
  readonly notify: VirtioPciStructure & { readonly multiplier: number };
  readonly isr: VirtioPciStructure;
  readonly device: VirtioPciStructure | null;
  readonly pciCfg: VirtioPciStructure | null;
}

/** The function's virtio structures, or why it has no usable modern interface. */
export function readVirtioPciCapabilities(cfg: PciFunctionConfig): VirtioPciCapabilities | { error: string } {
  const found = new Map<number, VirtioPciStructure & { multiplier: number }>();
  if ((cfg.read16(PCI.STATUS) & PCI_STATUS_CAP_LIST) !== 0) {
    let p = cfg.read8(PCI.CAPABILITY_LIST) & 0xfc;
    for (let ttl = 48; p !== 0 && ttl > 0; ttl--) {
      if (cfg.read8(p) === PCI_CAP_ID_VNDR) {
        const type = cfg.read8(p + VirtioPciCap.CFG_TYPE);
        const bar = cfg.read8(p + VirtioPciCap.BAR);
        const capLen = cfg.read8(p + VirtioPciCap.CAP_LEN);
        const known = type >= VirtioPciCapType.COMMON_CFG && type <= VirtioPciCapType.PCI_CFG;
        const minLen = type === VirtioPciCapType.NOTIFY_CFG ? VIRTIO_PCI_NOTIFY_CAP_SIZE : VIRTIO_PCI_CAP_SIZE;
        if (known && !found.has(type) && capLen >= minLen && (bar <= 5 || type === VirtioPciCapType.PCI_CFG)) {
          found.set(type, {
            capability: p,
            bar,
            offset: cfg.read32(p + VirtioPciCap.OFFSET),
            length: cfg.read32(p + VirtioPciCap.LENGTH),
            multiplier: type === VirtioPciCapType.NOTIFY_CFG ? cfg.read32(p + NOTIFY_OFF_MULTIPLIER) : 0,
          });
        }
      }
      p = cfg.read8(p + 1) & 0xfc;
    }
  }
  const common = found.get(VirtioPciCapType.COMMON_CFG);
  const notify = found.get(VirtioPciCapType.NOTIFY_CFG);
  const isr = found.get(VirtioPciCapType.ISR_CFG);
  const missing = [common === undefined ? 'common configuration' : '', notify === undefined ? 'notification' : '', isr === undefined ? 'ISR' : ''].filter((m) => m !== '');
  if (common === undefined || notify === undefined || isr === undefined) return { error: `no virtio ${missing.join(', ')} capability (not a modern virtio-pci device)` };
  return { common, notify, isr, device: found.get(VirtioPciCapType.DEVICE_CFG) ?? null, pciCfg: found.get(VirtioPciCapType.PCI_CFG) ?? null };
}
