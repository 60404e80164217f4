// Construction parameters of the virtio-iommu device model. The configuration space values,
// the feature bits offered, the endpoints and their reserved regions are what a VMM decides;
// every SHOULD/MAY of VIRTIO 1.2/1.3 section 5.13 that leaves the device a choice is a named
// parameter with a documented default.

import { ResvMemSubtype, RESV_MEM_PROPERTY_SIZE } from '../../formats/virtio-iommu/probe.js';
import { featureMask, VirtioIommuFeature } from '../../formats/virtio-iommu/features.js';
import { hex } from '../../sim/u64.js';

/** The device-specific feature bits the device offers (5.13.3). */
export interface VirtioIommuFeatureOffer {
  inputRange: boolean;
  domainRange: boolean;
  mapUnmap: boolean;
  /** Legacy bypass; the specification says new devices SHOULD NOT offer it. */
  bypass: boolean;
  probe: boolean;
  mmio: boolean;
  bypassConfig: boolean;
}

/** A RESV_MEM region of an endpoint (5.13.6.8.1), inclusive bounds. */
export interface ReservedRegion {
  /** ResvMemSubtype: Reserved (0), Msi (1); other values are presented as given and treated as Reserved. */
  subtype: number;
  start: bigint;
  end: bigint;
}

export interface VirtioIommuEndpointOptions {
  /** The endpoint id (for PCI functions usually the requester id). */
  id: number;
  /** Regions of this endpoint, in addition to the device-wide `reservedRegions`. */
  reservedRegions?: readonly ReservedRegion[];
}

export interface VirtioIommuParameters {
  features: VirtioIommuFeatureOffer;
  /** config.page_size_mask. This model needs a granule (lowest set bit) of at least 4 KiB. */
  pageSizeMask: bigint;
  /** config.input_range, inclusive; with INPUT_RANGE not offered the whole 64-bit space applies. */
  inputRange: { start: bigint; end: bigint };
  /** config.domain_range, inclusive; with DOMAIN_RANGE not offered every 32-bit id is valid. */
  domainRange: { start: number; end: number };
  /** config.probe_size: bytes of the PROBE properties buffer (presented as 0 without PROBE). */
  probeSize: number;
  /** Initial (system reset) value of config.bypass; only with BYPASS_CONFIG ("MAY initialize to 1"). */
  bypass: boolean;
  /** Endpoint ids that exist, with their reserved regions. */
  endpoints: readonly { id: number; reservedRegions: readonly ReservedRegion[] }[];
  /** Size of the request queue and the event queue (QueueNumMax). */
  requestQueueSize: number;
  eventQueueSize: number;
  /**
   * What the device does with a request whose type it does not recognise (or that a feature the
   * driver did not negotiate makes unavailable: MAP/UNMAP without MAP_UNMAP, PROBE without PROBE):
   * 'unused' returns the buffers without writing them, used length 0 (the specification's
   * SHOULD, 5.13.6.2 and 5.13.6.7); 'unsupp' writes status UNSUPP, as QEMU does.
   */
  unsupportedRequests: 'unused' | 'unsupp';
  /** Whether an endpoint may join a domain that has endpoints already (5.13.6.3: "MAY"; UNSUPP otherwise). */
  sharedDomains: boolean;
  /** DETACH from a domain that does not exist or the endpoint is not attached to: status INVAL ("MAY") or OK. */
  detachMismatch: 'inval' | 'ok';
  /**
   * UNMAP with a non-zero reserved field (5.13.6.6: the device "MAY set INVAL, in which case it
   * MAY perform the UNMAP"): 'ignore' performs it normally, 'reject' answers INVAL and unmaps
   * nothing, 'unmap-and-inval' performs it and answers INVAL.
   */
  unmapReserved: 'ignore' | 'reject' | 'unmap-and-inval';
  /** Whether WRITE without READ also allows reads (5.13.6.5: MAY, for architectures without write-only mappings). */
  writeImpliesRead: boolean;
  /** Whether fault reports carry FAULT_F_ADDRESS and the address (5.13.6.9: the device MAY omit them). */
  reportFaultAddress: boolean;
  /**
   * Faults kept while the event queue has no buffer (5.13.6.9: the device "can either wait for one
   * to be consumed, or drop the event"); 0 drops at once. Older ones are kept, newer ones dropped.
   */
  pendingFaults: number;
  /** Guest-physical address width: MAP of a physical range beyond it answers RANGE (5.13.6.5). */
  physicalAddressBits: number;
  /** Mappings the device can hold in all; a MAP beyond answers NOMEM. */
  maxMappings: number;
}

export type VirtioIommuOptions = Partial<Omit<VirtioIommuParameters, 'features' | 'endpoints'>> & {
  features?: Partial<VirtioIommuFeatureOffer>;
  /** Endpoint ids, or endpoints with reserved regions. */
  endpoints?: readonly (number | VirtioIommuEndpointOptions)[];
  /** Reserved regions every endpoint has (an MSI doorbell window, typically). */
  reservedRegions?: readonly ReservedRegion[];
};

/** What QEMU's virtio-iommu offers: everything but the legacy BYPASS. */
export const DEFAULT_FEATURES: VirtioIommuFeatureOffer = {
  inputRange: true,
  domainRange: true,
  mapUnmap: true,
  bypass: false,
  probe: true,
  mmio: true,
  bypassConfig: true,
};

export class ParameterError extends Error {}

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;
/** Keeps the one probe buffer the device allocates at a sane size. */
const MAX_PROBE_SIZE = 0x1_0000;

/** The offered features as a virtio feature mask. */
export function offeredFeatureMask(f: VirtioIommuFeatureOffer): bigint {
  const F = VirtioIommuFeature;
  const bits: number[] = [];
  if (f.inputRange) bits.push(F.InputRange);
  if (f.domainRange) bits.push(F.DomainRange);
  if (f.mapUnmap) bits.push(F.MapUnmap);
  if (f.bypass) bits.push(F.Bypass);
  if (f.probe) bits.push(F.Probe);
  if (f.mmio) bits.push(F.Mmio);
  if (f.bypassConfig) bits.push(F.BypassConfig);
  return featureMask(...bits);
}

/** Fills defaults and checks the combination against the specification and the model's limits. */
export function resolveParameters(options: VirtioIommuOptions = {}): VirtioIommuParameters {
  const fail = (what: string): never => {
    throw new ParameterError(`virtio-iommu parameters: ${what}`);
  };
  const features = { ...DEFAULT_FEATURES, ...options.features };
  const global = options.reservedRegions ?? [];
  const endpoints = (options.endpoints ?? []).map((e) => {
    const o = typeof e === 'number' ? { id: e } : e;
    return { id: o.id, reservedRegions: [...global, ...(o.reservedRegions ?? [])] };
  });
  const p: VirtioIommuParameters = {
    features,
    pageSizeMask: options.pageSizeMask ?? 0xffff_ffff_ffff_f000n,
    inputRange: options.inputRange ?? { start: 0n, end: U64_MAX },
    domainRange: options.domainRange ?? { start: 0, end: U32_MAX },
    probeSize: options.probeSize ?? 512,
    bypass: options.bypass ?? false,
    endpoints,
    requestQueueSize: options.requestQueueSize ?? 256,
    eventQueueSize: options.eventQueueSize ?? 256,
    unsupportedRequests: options.unsupportedRequests ?? 'unused',
    sharedDomains: options.sharedDomains ?? true,
    detachMismatch: options.detachMismatch ?? 'inval',
    unmapReserved: options.unmapReserved ?? 'ignore',
    writeImpliesRead: options.writeImpliesRead ?? false,
    reportFaultAddress: options.reportFaultAddress ?? true,
    pendingFaults: options.pendingFaults ?? 0,
    physicalAddressBits: options.physicalAddressBits ?? 64,
    maxMappings: options.maxMappings ?? Number.POSITIVE_INFINITY,
  };

  if (p.pageSizeMask <= 0n || p.pageSizeMask > U64_MAX) fail('page_size_mask must have at least one bit set (5.13.4.2) and fit 64 bits');
  if ((p.pageSizeMask & 0xfffn) !== 0n) fail(`page_size_mask ${hex(p.pageSizeMask)}: this model needs a granule of at least 4 KiB`);
  if (p.inputRange.start < 0n || p.inputRange.end > U64_MAX || p.inputRange.start > p.inputRange.end) fail('input_range must satisfy 0 <= start <= end < 2^64');
  const { start: ds, end: de } = p.domainRange;
  if (!Number.isInteger(ds) || !Number.isInteger(de) || ds < 0 || de > U32_MAX || ds > de) fail('domain_range must satisfy 0 <= start <= end < 2^32');
  if (!Number.isInteger(p.probeSize) || p.probeSize < 0 || p.probeSize > MAX_PROBE_SIZE) fail(`probe_size must be 0..${MAX_PROBE_SIZE}`);
  if (p.bypass && !features.bypassConfig) fail('config.bypass can start at 1 only when BYPASS_CONFIG is offered (5.13.4.2)');
  for (const size of [p.requestQueueSize, p.eventQueueSize]) {
    if (!Number.isInteger(size) || size < 1 || size > 32768) fail('queue sizes must be 1..32768');
  }
  if (!Number.isInteger(p.pendingFaults) || p.pendingFaults < 0) fail('pendingFaults must be a non-negative integer');
  if (!Number.isInteger(p.physicalAddressBits) || p.physicalAddressBits < 32 || p.physicalAddressBits > 64) fail('physicalAddressBits must be 32..64');
  if (!(p.maxMappings >= 0)) fail('maxMappings must not be negative');

  const seen = new Set<number>();
  for (const e of endpoints) {
    if (!Number.isInteger(e.id) || e.id < 0 || e.id > U32_MAX) fail(`endpoint id ${e.id} is not a 32-bit id`);
    if (seen.has(e.id)) fail(`endpoint ${e.id} is listed twice (5.13.6.3: endpoint ids are unique)`);
    seen.add(e.id);
    checkRegions(e.id, e.reservedRegions, fail);
    if (features.probe && e.reservedRegions.length * RESV_MEM_PROPERTY_SIZE > p.probeSize) {
      fail(`endpoint ${e.id}: ${e.reservedRegions.length} RESV_MEM properties do not fit probe_size ${p.probeSize}`);
    }
  }
  return p;
}

function checkRegions(id: number, regions: readonly ReservedRegion[], fail: (what: string) => never): void {
  let msi = 0;
  for (const [i, r] of regions.entries()) {
    if (!Number.isInteger(r.subtype) || r.subtype < 0 || r.subtype > 0xff) fail(`endpoint ${id}: RESV_MEM subtype must be a byte`);
    if (r.start < 0n || r.end > U64_MAX || r.start > r.end) fail(`endpoint ${id}: reserved region ${hex(r.start)}..${hex(r.end)} is not a 64-bit range`);
    if (r.subtype === ResvMemSubtype.Msi && ++msi > 1) fail(`endpoint ${id}: more than one MSI region (5.13.6.8.1.2: SHOULD NOT)`);
    for (const o of regions.slice(0, i)) {
      if (r.start <= o.end && o.start <= r.end) fail(`endpoint ${id}: reserved regions overlap (5.13.6.8.1.2: SHOULD NOT)`);
    }
  }
}
