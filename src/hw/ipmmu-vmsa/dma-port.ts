// The upstream port of the masters behind one IPMMU: each transaction carries its micro-TLB
// number as the requester's deviceId (the cell of the master's `iommus` specifier), is
// translated once (a burst never crosses a 4 KiB boundary), and goes to the system bus at the
// physical address. A transaction the IPMMU faults or aborts never reaches the bus: a write
// writes nothing, a read returns no data (DmaPortStatus.Aborted). Misaligned accesses and
// broken bursts are bus errors before the IPMMU sees them.

import { burstValid, dmaAddress, dmaAligned, dmaPage, DmaPortStatus, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../devices/dma-port.js';
import type { MmioSize } from '../../sim/mmio.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { IpmmuVmsa } from './ipmmu-vmsa.js';

/** IpmmuOutcome.Translated and Bypassed: the transaction proceeds. */
const PROCEEDS = 1;

export class IpmmuDmaPort implements DmaPort {
  value = 0n;
  readonly counters = { reads: 0, writes: 0, aborted: 0, busErrors: 0, poisoned: 0 };

  constructor(private readonly ipmmu: IpmmuVmsa) {}

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    this.counters.reads++;
    if (!dmaAligned(address, size)) return this.busError();
    const offset = Number(address & 0xfffn);
    if (!this.translate(requester, dmaPage(address), offset, false)) return this.abort();
    const a = this.ipmmu.bus.access(dmaAddress(this.ipmmu.outputPage, offset), size, false);
    if (a.status === AccessStatus.AccessFault) return this.busError();
    this.value = a.value;
    this.ipmmu.countBytes(requester.deviceId, size);
    if (a.status === AccessStatus.DataCorruption) return this.poisoned();
    return DmaPortStatus.Ok;
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    this.counters.writes++;
    if (!dmaAligned(address, size)) return this.busError();
    const offset = Number(address & 0xfffn);
    if (!this.translate(requester, dmaPage(address), offset, true)) return this.abort();
    const a = this.ipmmu.bus.access(dmaAddress(this.ipmmu.outputPage, offset), size, true, data);
    if (a.status === AccessStatus.AccessFault) return this.busError();
    this.ipmmu.countBytes(requester.deviceId, size);
    return DmaPortStatus.Ok;
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.reads++;
    if (!burstValid(address, length)) return this.busError();
    const pageOffset = Number(address & 0xfffn);
    if (!this.translate(requester, dmaPage(address), pageOffset, false)) return this.abort();
    const s = this.ipmmu.bus.readBurstAt(this.ipmmu.outputPage, pageOffset, length, into, offset);
    if (s === AccessStatus.AccessFault) return this.busError();
    this.ipmmu.countBytes(requester.deviceId, length);
    if (s === AccessStatus.DataCorruption) return this.poisoned();
    return DmaPortStatus.Ok;
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    this.counters.writes++;
    if (!burstValid(address, length)) return this.busError();
    const pageOffset = Number(address & 0xfffn);
    if (!this.translate(requester, dmaPage(address), pageOffset, true)) return this.abort();
    if (this.ipmmu.bus.writeBurstAt(this.ipmmu.outputPage, pageOffset, length, from, offset) === AccessStatus.AccessFault) return this.busError();
    this.ipmmu.countBytes(requester.deviceId, length);
    return DmaPortStatus.Ok;
  }

  private translate(requester: DmaRequester, page: number, offset: number, write: boolean): boolean {
    return this.ipmmu.translatePage(requester.deviceId, page, offset, write, requester.privileged) <= PROCEEDS;
  }

  private abort(): DmaPortStatusValue {
    this.counters.aborted++;
    return DmaPortStatus.Aborted;
  }

  private busError(): DmaPortStatusValue {
    this.counters.busErrors++;
    return DmaPortStatus.BusError;
  }

  private poisoned(): DmaPortStatusValue {
    this.counters.poisoned++;
    return DmaPortStatus.Poisoned;
  }
}
