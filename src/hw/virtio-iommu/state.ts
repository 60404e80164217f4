// The device's state: the endpoints it manages (fixed by the platform), the domains the
// driver created with ATTACH, each domain's mappings, and the negotiated features and
// config.bypass that decide what unattached endpoints do.

import { hasFeature } from '../../formats/virtio/features.js';
import { VirtioIommuFeature } from '../../formats/virtio-iommu/features.js';
import { ResvMemSubtype } from '../../formats/virtio-iommu/probe.js';
import { compareAddress } from './address.js';
import { MappingTable } from './mapping-table.js';
import type { ReservedRegion, VirtioIommuParameters } from './parameters.js';

export class Endpoint {
  domain: Domain | null = null;
  /** Page bounds of every RESV_MEM region (MAP may not touch them). */
  readonly reservedFirstPages: readonly number[];
  readonly reservedLastPages: readonly number[];
  /** The MSI doorbell window, byte-exact as (page, offset) pairs; hasMsiWindow false if none. */
  readonly hasMsiWindow: boolean;
  private readonly msiFirstPage: number = 0;
  private readonly msiFirstOffset: number = 0;
  private readonly msiLastPage: number = 0;
  private readonly msiLastOffset: number = 0;

  constructor(
    readonly id: number,
    readonly reservedRegions: readonly ReservedRegion[],
  ) {
    this.reservedFirstPages = reservedRegions.map((r) => Number(r.start >> 12n));
    this.reservedLastPages = reservedRegions.map((r) => Number(r.end >> 12n));
    const msi = reservedRegions.find((r) => r.subtype === ResvMemSubtype.Msi);
    this.hasMsiWindow = msi !== undefined;
    if (msi !== undefined) {
      this.msiFirstPage = Number(msi.start >> 12n);
      this.msiFirstOffset = Number(msi.start & 0xfffn);
      this.msiLastPage = Number(msi.end >> 12n);
      this.msiLastOffset = Number(msi.end & 0xfffn);
    }
  }

  /** Whether bytes [offset, lastOffset] of `page` all lie in the MSI window. */
  inMsiWindow(page: number, offset: number, lastOffset: number): boolean {
    return (
      this.hasMsiWindow &&
      compareAddress(page, offset, this.msiFirstPage, this.msiFirstOffset) >= 0 &&
      compareAddress(page, lastOffset, this.msiLastPage, this.msiLastOffset) <= 0
    );
  }

  /** Whether pages [firstPage, lastPage] touch one of this endpoint's reserved regions. */
  touchesReserved(firstPage: number, lastPage: number): boolean {
    for (let i = 0; i < this.reservedFirstPages.length; i++) {
      if (firstPage <= this.reservedLastPages[i] && this.reservedFirstPages[i] <= lastPage) return true;
    }
    return false;
  }
}

export class Domain {
  readonly endpoints: Endpoint[] = [];
  readonly mappings = new MappingTable();

  constructor(
    readonly id: number,
    /** Created by ATTACH with ATTACH_F_BYPASS: its endpoints are in bypass mode and it has no mappings. */
    readonly bypass: boolean,
  ) {}
}

export class DeviceState {
  readonly endpoints = new Map<number, Endpoint>();
  readonly domains = new Map<number, Domain>();
  /** Features the driver accepted (FEATURES_OK); 0 before negotiation and after reset. */
  negotiated = 0n;
  /** config.bypass as the driver sees it (always 0 without BYPASS_CONFIG). */
  configBypass: number;
  /** Whether an endpoint attached to no domain is in bypass mode (5.13.6, "An endpoint is in bypass mode if"). */
  unattachedBypass = false;
  /** Mappings in all domains. */
  mappingCount = 0;

  constructor(readonly params: VirtioIommuParameters) {
    for (const e of params.endpoints) this.endpoints.set(e.id, new Endpoint(e.id, e.reservedRegions));
    this.configBypass = params.bypass ? 1 : 0;
    this.updateBypass();
  }

  /** Whether the driver negotiated device feature `bit`. */
  negotiatedFeature(bit: number): boolean {
    return hasFeature(this.negotiated, bit);
  }

  /**
   * Unattached endpoints bypass when BYPASS_CONFIG is offered and config.bypass is 1 (whether
   * or not the driver accepted the feature), or when the legacy BYPASS was negotiated.
   */
  updateBypass(): void {
    const offered = this.params.features.bypassConfig && this.configBypass === 1;
    this.unattachedBypass = offered || this.negotiatedFeature(VirtioIommuFeature.Bypass);
  }
}
