// What the driver keeps per device behind the virtio-iommu (Linux struct viommu_endpoint): its
// endpoint ids, the domain they are attached to in the device, and the reserved regions the
// device described with PROBE (VIRTIO 1.3 section 5.13.6.7 "PROBE request", 5.13.6.8.1
// "Property RESV_MEM"), which the driver must never map.

import { decodeProperties, ProbePropertyType, ResvMemSubtype } from '../../../formats/virtio-iommu/probe.js';
import type { Device } from '../../driver-model/device.js';
import type { ViommuDomain } from './domains.js';

export interface ReservedRegion {
  /** Inclusive IOVA range. */
  start: bigint;
  end: bigint;
  /**
   * 'msi': an MSI doorbell the device lets through untranslated; 'reserved': addresses the
   * platform keeps for itself. A subtype the driver does not know is treated as reserved.
   */
  kind: 'reserved' | 'msi';
  /** The RESV_MEM subtype as the device gave it. */
  subtype: number;
}

export class ViommuEndpoint {
  /** The domain the device's endpoints are attached to in the device; null when detached. */
  domain: ViommuDomain | null = null;
  readonly reservedRegions: ReservedRegion[] = [];

  constructor(
    readonly dev: Device,
    /** Endpoint ids (the fwspec ids, in specifier order). */
    readonly ids: readonly number[],
  ) {}
}

export interface ParsedProperties {
  regions: ReservedRegion[];
  /** Why properties were skipped (a reserved header field set, an unknown type, a malformed RESV_MEM). */
  skipped: string[];
}

/**
 * Reads a PROBE properties buffer as 5.13.6.7 tells a driver to: property after property until
 * a NONE property or the end; a property with its `reserved` header bits set is ignored (MUST),
 * one of an unknown type is skipped (SHOULD), the reserved bytes of RESV_MEM are ignored (MUST).
 */
export function parseProperties(bytes: Uint8Array): ParsedProperties {
  const regions: ReservedRegion[] = [];
  const skipped: string[] = [];
  for (const { property, offset, reserved } of decodeProperties(bytes)) {
    if (reserved !== 0) {
      skipped.push(`property at ${offset}: reserved header bits ${reserved}`);
      continue;
    }
    if (property.type !== ProbePropertyType.ResvMem) {
      skipped.push(`property at ${offset}: unknown type ${property.type}`);
      continue;
    }
    if (!('subtype' in property)) {
      skipped.push(`property at ${offset}: RESV_MEM of ${property.value.length} bytes is too short`);
      continue;
    }
    if (property.start > property.end) {
      skipped.push(`property at ${offset}: RESV_MEM ends before it starts`);
      continue;
    }
    regions.push({ start: property.start, end: property.end, kind: property.subtype === ResvMemSubtype.Msi ? 'msi' : 'reserved', subtype: property.subtype });
  }
  return { regions, skipped };
}
