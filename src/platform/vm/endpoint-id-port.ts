// The upstream port of a device the VMM emulates behind its virtio-iommu (the pair built
// without the host backend): the device's requests reach the virtio-iommu with the endpoint id
// the guest's device tree gives it, not the device id the physical IOMMU knows it by. The
// requester is rewritten in place, allocation-free: one reused DmaRequester per device.

import { DmaRequester, type DmaPort, type DmaPortStatusValue } from '../../devices/dma-port.js';
import type { MmioSize } from '../../sim/mmio.js';

export class EndpointIdPort implements DmaPort {
  private readonly requester: DmaRequester;

  constructor(
    /** The virtio-iommu's port. */
    readonly upstream: DmaPort,
    readonly endpoint: number,
  ) {
    this.requester = new DmaRequester(endpoint);
  }

  get value(): bigint {
    return this.upstream.value;
  }

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    return this.upstream.read(this.as(requester), address, size);
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    return this.upstream.write(this.as(requester), address, size, data);
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    return this.upstream.readBurst(this.as(requester), address, length, into, offset);
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    return this.upstream.writeBurst(this.as(requester), address, length, from, offset);
  }

  /** The request's PASID and flags under the endpoint id. */
  private as(r: DmaRequester): DmaRequester {
    const o = this.requester;
    o.pasidValid = r.pasidValid;
    o.pasid = r.pasid;
    o.privileged = r.privileged;
    o.translated = r.translated;
    return o;
  }
}
