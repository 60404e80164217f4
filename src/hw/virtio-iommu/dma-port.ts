// The upstream port of the endpoints a virtio-iommu translates. The requester's deviceId is
// the endpoint id. An access of an endpoint in bypass mode goes upstream unchanged; one of
// an endpoint attached to a translating domain goes to PA = VA - virt_start + phys_start of
// the mapping containing it (5.13.6.5) if the mapping's flags allow it, or unchanged when it
// hits the endpoint's MSI doorbell window (RESV_MEM MSI, 5.13.6.8.1); anything else is
// aborted and reported on the event queue (5.13.6.9):
//   - an id the device does not manage:                 UNKNOWN
//   - an unattached endpoint not in bypass mode:        DOMAIN
//   - no mapping, or one without the access's permission: MAPPING
// A burst never crosses 4 KiB and mappings are whole 4 KiB pages (the model's smallest
// granule), so one lookup translates a whole burst. Nothing here allocates except the
// translated address handed upstream.

import { burstValid, dmaAddress, dmaAligned, dmaPage, DmaPortStatus, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../devices/dma-port.js';
import { FaultFlag, FaultReason } from '../../formats/virtio-iommu/fault.js';
import { MapFlag } from '../../formats/virtio-iommu/requests.js';
import type { MmioSize } from '../../sim/mmio.js';
import type { FaultReporter } from './fault-reporter.js';
import type { DeviceState, Endpoint } from './state.js';

export class VirtioIommuDmaPort implements DmaPort {
  value = 0n;
  readonly counters = {
    reads: 0,
    writes: 0,
    /** Accesses translated through a mapping. */
    translated: 0,
    /** Accesses of endpoints in bypass mode. */
    bypassed: 0,
    /** Accesses to an MSI doorbell window, passed untranslated. */
    msi: 0,
    /** Accesses the IOMMU aborted (faults). */
    aborted: 0,
    /** Malformed accesses refused before translation. */
    busErrors: 0,
  };
  private target = 0n;
  // The endpoints are fixed at construction, so the last lookup stays valid.
  private cachedId = -1;
  private cachedEndpoint: Endpoint | undefined = undefined;
  private readonly readMask: number;

  constructor(
    private readonly state: DeviceState,
    private readonly faults: FaultReporter,
    /** Where translated accesses go: the system bus (a DirectDmaPort), typically. */
    private readonly upstream: DmaPort,
  ) {
    this.readMask = state.params.writeImpliesRead ? MapFlag.Read | MapFlag.Write : MapFlag.Read;
  }

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.counters.reads++;
    if (!dmaAligned(address, size)) return this.busError();
    if (!this.translate(requester.deviceId, address, size, false)) return DmaPortStatus.Aborted;
    const s = this.upstream.read(requester, this.target, size);
    if (s === DmaPortStatus.Ok || s === DmaPortStatus.Poisoned) this.value = this.upstream.value;
    return s;
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.counters.writes++;
    if (!dmaAligned(address, size)) return this.busError();
    if (!this.translate(requester.deviceId, address, size, true)) return DmaPortStatus.Aborted;
    return this.upstream.write(requester, this.target, size, data);
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.reads++;
    if (!burstValid(address, length)) return this.busError();
    if (!this.translate(requester.deviceId, address, length, false)) return DmaPortStatus.Aborted;
    return this.upstream.readBurst(requester, this.target, length, into, offset);
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.writes++;
    if (!burstValid(address, length)) return this.busError();
    if (!this.translate(requester.deviceId, address, length, true)) return DmaPortStatus.Aborted;
    return this.upstream.writeBurst(requester, this.target, length, from, offset);
  }

  /** Translates `length` bytes at `address` (inside one 4 KiB page) into `target`, or reports a fault. */
  private translate(id: number, address: bigint, length: number, write: boolean): boolean {
    let ep = this.cachedEndpoint;
    if (id !== this.cachedId) {
      ep = this.state.endpoints.get(id);
      this.cachedId = id;
      this.cachedEndpoint = ep;
    }
    if (ep === undefined) return this.fault(FaultReason.Unknown, id, address, write);
    const domain = ep.domain;
    if (domain === null ? this.state.unattachedBypass : domain.bypass) {
      this.counters.bypassed++;
      this.target = address;
      return true;
    }
    if (domain === null) return this.fault(FaultReason.Domain, id, address, write);
    const page = dmaPage(address);
    const offset = Number(address & 0xfffn);
    const table = domain.mappings;
    const i = table.find(page);
    if (i >= 0) {
      if ((table.flags(i) & (write ? MapFlag.Write : this.readMask)) === 0) return this.fault(FaultReason.Mapping, id, address, write);
      this.counters.translated++;
      this.target = dmaAddress(table.physPage(i) + (page - table.firstPage(i)), offset);
      return true;
    }
    if (ep.inMsiWindow(page, offset, offset + length - 1)) {
      this.counters.msi++;
      this.target = address;
      return true;
    }
    return this.fault(FaultReason.Mapping, id, address, write);
  }

  private fault(reason: number, endpoint: number, address: bigint, write: boolean): false {
    this.counters.aborted++;
    let flags = write ? FaultFlag.Write : FaultFlag.Read;
    if (this.state.params.reportFaultAddress) flags |= FaultFlag.Address;
    this.faults.report(reason, flags, endpoint >>> 0, flags & FaultFlag.Address ? address : 0n);
    return false;
  }

  private busError(): DmaPortStatusValue {
    this.counters.busErrors++;
    return DmaPortStatus.BusError;
  }
}
