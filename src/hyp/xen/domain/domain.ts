// A Xen domain: the hardware domain (dom0, direct-mapped: its guest-physical frames are the
// machine frames), guests (RAM at GUEST_RAM0_BASE backed by whatever machine frames the heap
// gives), and the system domain dom_io (DOMID_IO), whose empty P2M is where quarantined
// devices point: any DMA of theirs faults. Each has its P2M, the devices assigned to it, and the
// IOMMU driver's per-domain data.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import type { SystemBus } from '../../../sim/system-bus.js';
import type { DtDevice } from '../iommu/types.js';
import { GuestMemory } from './guest-memory.js';
import { P2m, type P2mConfig } from './p2m.js';

/** Xen's DOMID_IO: the owner of quarantined devices. */
export const DOMID_IO = 0x7ff1;

/** Guest RAM starts here in the guest-physical map (Xen's GUEST_RAM0_BASE on Arm). */
export const GUEST_RAM0_BASE = 0x4000_0000n;

export type DomainKind = 'hardware' | 'guest' | 'system';
export type DomainState = 'running' | 'dying' | 'dead';

/** What a guest is built from; kept so that a reboot rebuilds the same guest. */
export interface DomainConfig {
  name: string;
  /** RAM in MiB (default 16). */
  memoryMiB?: number;
  /** Device-tree paths of the devices to pass through. */
  devices?: readonly string[];
}

/** A run of machine frames backing guest RAM. */
export interface RamExtent {
  gfn: number;
  mfn: number;
  pages: number;
}

export interface DomainCounters {
  /** IOMMU TLB flushes issued for this domain's P2M changes and context changes. */
  iommuFlushes: number;
  /** IOMMU faults attributed to this domain. */
  iommuFaults: number;
  /** Devices assigned over the domain's life. */
  assignments: number;
}

export class XenDomain {
  readonly p2m: P2m;
  /** The domain's CPU's accesses, through its P2M. */
  readonly memory: GuestMemory;
  /** Devices assigned to the domain (for dom_io: the quarantined ones). */
  readonly devices = new Set<DtDevice>();
  /** Machine frames backing its RAM. */
  readonly ram: RamExtent[] = [];
  /** Device register windows mapped 1:1 into its P2M, by device node. */
  readonly iomem = new Map<DtNode, { gfn: number; pages: number }[]>();
  readonly counters: DomainCounters = { iommuFlushes: 0, iommuFaults: 0, assignments: 0 };
  state: DomainState = 'running';
  /** The IOMMU driver's data for this domain (its contexts). */
  iommu: unknown = null;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly kind: DomainKind,
    readonly config: DomainConfig,
    p2m: Omit<P2mConfig, 'flush'>,
    /** The IOMMU TLB flush that follows every change of the domain's P2M. */
    flush: (d: XenDomain) => void,
    bus: SystemBus,
  ) {
    this.p2m = new P2m({ ...p2m, flush: () => flush(this) });
    this.memory = new GuestMemory(() => this.label, this.p2m, bus, () => this.state === 'running');
  }

  /** "d1 (guest-a)", as the hypervisor log names domains. */
  get label(): string {
    return this.id === DOMID_IO ? 'dom_io' : `d${this.id} (${this.name})`;
  }

  /** 4 KiB frames of RAM. */
  get ramPages(): number {
    return this.ram.reduce((n, e) => n + e.pages, 0);
  }
}
