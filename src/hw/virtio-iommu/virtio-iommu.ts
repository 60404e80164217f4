// The virtio-iommu device (VIRTIO 1.2/1.3 section 5.13), as a VMM implements it: a virtio
// device model (any transport: virtio-mmio or virtio-pci carries it) whose request queue
// takes ATTACH/DETACH/MAP/UNMAP/PROBE requests, whose event queue carries fault reports, and
// whose `dmaPort` is the upstream port of the endpoints it translates. With a backend, it
// mirrors domains and mappings onto a host IOMMU as it processes the requests.
//
// Reset (status 0) detaches every endpoint: domains and mappings cease to exist (5.13.5);
// config.bypass survives it and returns to its initial value only on `systemReset`
// (5.13.4.2: "SHOULD NOT change on device reset, but SHOULD be restored ... on system reset").

import type { DmaPort } from '../../devices/dma-port.js';
import { DEVICE_TYPE_FEATURES } from '../../formats/virtio/features.js';
import { VIRTIO_IOMMU_CONFIG_SIZE, VirtioIommuConfigOffset, encodeConfig } from '../../formats/virtio-iommu/config.js';
import { FaultReason } from '../../formats/virtio-iommu/fault.js';
import { VIRTIO_IOMMU_DEVICE_ID, VirtioIommuFeature, VirtioIommuQueue } from '../../formats/virtio-iommu/features.js';
import { VIRTIO_IOMMU_REQUEST_NAMES, VIRTIO_IOMMU_STATUS_NAMES } from '../../formats/virtio-iommu/requests.js';
import type { VirtioDeviceContext, VirtioDeviceModel } from '../virtio/device.js';
import type { VirtioIommuBackend } from './backend.js';
import { VirtioIommuDmaPort } from './dma-port.js';
import { FaultReporter } from './fault-reporter.js';
import { offeredFeatureMask, resolveParameters, type VirtioIommuOptions, type VirtioIommuParameters } from './parameters.js';
import { RequestProcessor } from './request-processor.js';
import { DeviceState } from './state.js';

export interface VirtioIommuConfig extends VirtioIommuOptions {
  /** Where the endpoints' translated (and bypassing) accesses go: the system bus, typically a DirectDmaPort. */
  upstream: DmaPort;
  /** The host IOMMU the device mirrors the guest's domains and mappings onto. */
  backend?: VirtioIommuBackend;
}

/** One mapping of a domain, for inspection (inclusive IOVA range). */
export interface VirtioIommuMapping {
  virtStart: bigint;
  virtEnd: bigint;
  physStart: bigint;
  flags: number;
}

export interface VirtioIommuStatistics {
  /** Requests by type name (and 'unknown'), and answered requests by status name. */
  requests: Record<string, number>;
  statuses: Record<string, number>;
  /** Requests returned with used length 0 (no tail found, or unsupported with `unsupportedRequests: 'unused'`). */
  unanswered: number;
  domains: { current: number; created: number; destroyed: number };
  mappings: { current: number; created: number; removed: number };
  translations: { translated: number; bypassed: number; msi: number; aborted: number; busErrors: number };
  /** Faults detected by reason, lost, and waiting for an event buffer. */
  faults: { unknown: number; domain: number; mapping: number; lost: number; pending: number };
  /** Fault reports written to the event queue, and event buffers returned unwritten because they were too small. */
  events: { written: number; buffersTooSmall: number };
}

const BYPASS_OFFSET = VirtioIommuConfigOffset.bypass;

export class VirtioIommu implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_IOMMU_DEVICE_ID;
  readonly deviceFeatures: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = VIRTIO_IOMMU_CONFIG_SIZE;
  readonly params: VirtioIommuParameters;
  /** The upstream port of every endpoint this device translates; the requester's deviceId is the endpoint id. */
  readonly dmaPort: VirtioIommuDmaPort;
  private readonly state: DeviceState;
  private readonly faults: FaultReporter;
  private readonly requests: RequestProcessor;
  private readonly config: Uint8Array;
  private context: VirtioDeviceContext | null = null;

  constructor(config: VirtioIommuConfig) {
    const params = resolveParameters(config);
    this.params = params;
    this.deviceFeatures = offeredFeatureMask(params.features);
    this.queueMaxSizes = [params.requestQueueSize, params.eventQueueSize];
    this.state = new DeviceState(params);
    this.faults = new FaultReporter(params.pendingFaults);
    this.requests = new RequestProcessor(this.state, config.backend ?? null);
    this.dmaPort = new VirtioIommuDmaPort(this.state, this.faults, config.upstream);
    const f = params.features;
    this.config = encodeConfig({
      pageSizeMask: params.pageSizeMask,
      inputRange: f.inputRange ? params.inputRange : { start: 0n, end: (1n << 64n) - 1n },
      domainRange: f.domainRange ? params.domainRange : { start: 0, end: 0xffff_ffff },
      probeSize: f.probe ? params.probeSize : 0,
      bypass: this.state.configBypass,
    });
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + (this.config[offset + i] ?? 0);
    return value;
  }

  /**
   * Only `bypass` is writable, and only once BYPASS_CONFIG is negotiated (5.13.4.1). A value
   * other than 0 or 1 is one the driver MUST NOT write and the device MUST NOT present: it is
   * ignored. Writes to the other fields are ignored.
   */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset > BYPASS_OFFSET || offset + size <= BYPASS_OFFSET) return;
    if (!this.state.negotiatedFeature(VirtioIommuFeature.BypassConfig)) return;
    const byte = Math.floor(value / 2 ** (8 * (BYPASS_OFFSET - offset))) & 0xff;
    if (byte > 1) return;
    this.state.configBypass = byte;
    this.config[BYPASS_OFFSET] = byte;
    this.state.updateBypass();
  }

  /** Refuses device-type bits the device did not offer (the transport checks its own). */
  acceptFeatures(features: bigint): boolean {
    if ((features & DEVICE_TYPE_FEATURES & ~this.deviceFeatures) !== 0n) return false;
    this.state.negotiated = features;
    this.state.updateBypass();
    return true;
  }

  start(context: VirtioDeviceContext): void {
    this.context = context;
    this.state.negotiated = context.features;
    this.state.updateBypass();
    this.faults.connect(context);
  }

  queueNotified(index: number): void {
    if (index === VirtioIommuQueue.Request) this.processRequests();
    else if (index === VirtioIommuQueue.Event) this.faults.flush();
  }

  reset(): void {
    this.context = null;
    this.faults.connect(null);
    this.faults.clear();
    this.requests.detachAll();
    this.state.negotiated = 0n;
    this.state.updateBypass();
  }

  /** A reset of the whole machine: a device reset, and config.bypass back to its initial value. */
  systemReset(): void {
    this.reset();
    this.state.configBypass = this.params.features.bypassConfig && this.params.bypass ? 1 : 0;
    this.config[BYPASS_OFFSET] = this.state.configBypass;
    this.state.updateBypass();
  }

  /** The domain `endpoint` is attached to, or undefined. */
  domainOf(endpoint: number): number | undefined {
    return this.state.endpoints.get(endpoint)?.domain?.id;
  }

  /** Whether domain `domain` exists, and whether it is a bypass domain. */
  domain(domain: number): { bypass: boolean; endpoints: number[] } | undefined {
    const d = this.state.domains.get(domain);
    return d === undefined ? undefined : { bypass: d.bypass, endpoints: d.endpoints.map((e) => e.id) };
  }

  /** The mappings of `domain`, in IOVA order (empty for a domain that does not exist). */
  mappings(domain: number): VirtioIommuMapping[] {
    const t = this.state.domains.get(domain)?.mappings;
    const out: VirtioIommuMapping[] = [];
    if (t === undefined) return out;
    for (let i = 0; i < t.count; i++) {
      out.push({
        virtStart: BigInt(t.firstPage(i)) << 12n,
        virtEnd: (BigInt(t.lastPage(i)) << 12n) | 0xfffn,
        physStart: BigInt(t.physPage(i)) << 12n,
        flags: t.flags(i),
      });
    }
    return out;
  }

  statistics(): VirtioIommuStatistics {
    const r = this.requests.counters;
    const f = this.faults.counters;
    const port = this.dmaPort.counters;
    const requests: Record<string, number> = { unknown: r.byType[0] };
    for (let t = 1; t <= 5; t++) requests[VIRTIO_IOMMU_REQUEST_NAMES[t]] = r.byType[t];
    const statuses: Record<string, number> = {};
    for (let s = 0; s < r.byStatus.length; s++) statuses[VIRTIO_IOMMU_STATUS_NAMES[s]] = r.byStatus[s];
    return {
      requests,
      statuses,
      unanswered: r.unanswered,
      domains: { current: this.state.domains.size, created: r.domainsCreated, destroyed: r.domainsDestroyed },
      mappings: { current: this.state.mappingCount, created: r.mappingsCreated, removed: r.mappingsRemoved },
      translations: { translated: port.translated, bypassed: port.bypassed, msi: port.msi, aborted: port.aborted, busErrors: port.busErrors },
      faults: {
        unknown: f.detected[FaultReason.Unknown],
        domain: f.detected[FaultReason.Domain],
        mapping: f.detected[FaultReason.Mapping],
        lost: f.lost,
        pending: this.faults.pending,
      },
      events: { written: f.reported, buffersTooSmall: f.buffersTooSmall },
    };
  }

  /** Every chain available on the request queue, answered in order; one used-buffer notification for the batch. */
  private processRequests(): void {
    const q = this.context?.queue(VirtioIommuQueue.Request) ?? null;
    if (q === null) return;
    for (let chain = q.pop(); chain !== null; chain = q.pop()) q.fill(chain, this.requests.process(chain));
    q.flush();
  }
}
