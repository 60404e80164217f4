// A DMA master's upstream port when a RISC-V IOMMU translates it: each access becomes an
// untranslated transaction (PCIe AT = 00b) presented to the IOMMU's IO bridge, which
// translates it, aborts it on a fault, or performs it (including MSI writes that the MSI
// page table sends to a memory-resident interrupt file). A burst (one PCIe memory request of
// up to 4 KiB that does not cross a 4 KiB boundary) is one transaction: translated once.
// Misaligned accesses and bursts that cross a 4 KiB boundary are refused as bus errors before
// the IOMMU sees them (the master is broken).

import { burstValid, DmaPortStatus, dmaAligned, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../devices/dma-port.js';
import type { MmioSize } from '../../sim/mmio.js';
import { DmaStatus, type DmaStatusValue, type IoBridge } from './io-bridge.js';
import type { RiscvIommu } from './riscv-iommu.js';
import { RequestKind, TranslationRequest } from './transaction.js';

export class RiscvIommuDmaPort implements DmaPort {
  value = 0n;
  readonly counters = { reads: 0, writes: 0, aborted: 0, busErrors: 0, discarded: 0, poisoned: 0 };
  private readonly bridge: IoBridge;
  private readonly request = new TranslationRequest();

  constructor(iommu: RiscvIommu) {
    this.bridge = iommu.bridge;
  }

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.counters.reads++;
    if (!dmaAligned(address, size)) return this.busError();
    const s = this.bridge.read(this.fill(requester, address), size);
    if (s === DmaStatus.Ok || s === DmaStatus.Poisoned) this.value = this.bridge.value;
    return this.status(s);
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.counters.writes++;
    if (!dmaAligned(address, size)) return this.busError();
    return this.status(this.bridge.write(this.fill(requester, address), size, data));
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.reads++;
    if (!burstValid(address, length)) return this.busError();
    return this.status(this.bridge.readBurst(this.fill(requester, address), length, into, offset));
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.writes++;
    if (!burstValid(address, length)) return this.busError();
    return this.status(this.bridge.writeBurst(this.fill(requester, address), length, from, offset));
  }

  private fill(requester: DmaRequester, address: bigint): TranslationRequest {
    const req = this.request;
    req.deviceId = requester.deviceId;
    req.pidValid = requester.pasidValid;
    req.processId = requester.pasidValid ? requester.pasid : 0;
    req.privileged = requester.pasidValid && requester.privileged;
    req.kind = RequestKind.Untranslated;
    req.execute = false;
    req.iova = address;
    return req;
  }

  private status(s: DmaStatusValue): DmaPortStatusValue {
    switch (s) {
      case DmaStatus.Ok:
        return DmaPortStatus.Ok;
      case DmaStatus.Aborted:
        this.counters.aborted++;
        return DmaPortStatus.Aborted;
      case DmaStatus.BusError:
        this.counters.busErrors++;
        return DmaPortStatus.BusError;
      case DmaStatus.Poisoned:
        this.counters.poisoned++;
        return DmaPortStatus.Poisoned;
      default:
        // A write to an MRIF page the IOMMU cannot store is accepted and discarded: to the
        // master it is an ordinary posted write.
        this.counters.discarded++;
        return DmaPortStatus.Ok;
    }
  }

  private busError(): DmaPortStatusValue {
    this.counters.busErrors++;
    return DmaPortStatus.BusError;
  }
}
