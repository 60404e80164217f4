// The loads and stores of a domain's CPU, by guest-physical address (IPA): each goes through the
// domain's P2M, as the CPU's stage-2 translation takes it, to RAM or to device registers mapped
// 1:1. An IPA the P2M does not map, or a write to read-only RAM, is a stage-2 abort
// (GuestMemoryFault). Scenarios use this to put data in a guest and to check what DMA left.

import type { MmioSize } from '../../../sim/mmio.js';
import { AccessStatus } from '../../../sim/physical-memory.js';
import type { SystemBus } from '../../../sim/system-bus.js';
import { GuestMemoryFault, XenError } from '../errors.js';
import { P2mType, type P2m } from './p2m.js';

export class GuestMemory {
  constructor(
    private readonly name: () => string,
    private readonly p2m: P2m,
    private readonly bus: SystemBus,
    /** Whether the domain's CPU still runs (a dying domain's accesses are refused). */
    private readonly running: () => boolean,
  ) {}

  /** Reads `length` bytes at `gpa`. */
  read(gpa: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.each(gpa, length, false, (machine, done, n) => this.status(this.bus.readBurst(machine, n, out, done), gpa + BigInt(done), false));
    return out;
  }

  /** Writes `data` at `gpa`. */
  write(gpa: bigint, data: Uint8Array): void {
    this.each(gpa, data.length, true, (machine, done, n) => this.status(this.bus.writeBurst(machine, n, data, done), gpa + BigInt(done), true));
  }

  /** A naturally aligned load of 1, 2, 4 or 8 bytes (device registers take these). */
  load(gpa: bigint, size: MmioSize): bigint {
    const machine = this.machine(gpa, false);
    const r = this.bus.access(machine, size, false);
    this.status(r.status, gpa, false);
    return r.value;
  }

  /** A naturally aligned store of 1, 2, 4 or 8 bytes. */
  store(gpa: bigint, size: MmioSize, value: bigint): void {
    const machine = this.machine(gpa, true);
    this.status(this.bus.access(machine, size, true, value).status, gpa, true);
  }

  read32(gpa: bigint): number {
    return Number(this.load(gpa, 4));
  }

  write32(gpa: bigint, value: number): void {
    this.store(gpa, 4, BigInt(value >>> 0));
  }

  read64(gpa: bigint): bigint {
    return this.load(gpa, 8);
  }

  write64(gpa: bigint, value: bigint): void {
    this.store(gpa, 8, value);
  }

  /** The machine address the CPU reaches at `gpa` for a read or a write; a GuestMemoryFault otherwise. */
  machine(gpa: bigint, write: boolean): bigint {
    if (!this.running()) throw new XenError(`${this.name()} is not running: its CPU makes no accesses`);
    if (gpa < 0n) throw new GuestMemoryFault(this.name(), gpa, write, 'unmapped');
    const entry = this.p2m.lookup(Number(gpa >> 12n));
    if (entry === null) throw new GuestMemoryFault(this.name(), gpa, write, 'unmapped');
    if (write && entry.type === P2mType.RamRo) throw new GuestMemoryFault(this.name(), gpa, write, 'permission');
    return (BigInt(entry.mfn) << 12n) | (gpa & 0xfffn);
  }

  private each(gpa: bigint, length: number, write: boolean, access: (machine: bigint, done: number, n: number) => void): void {
    for (let done = 0; done < length; ) {
      const at = gpa + BigInt(done);
      const n = Math.min(length - done, 4096 - Number(at & 0xfffn));
      access(this.machine(at, write), done, n);
      done += n;
    }
  }

  private status(s: AccessStatus, gpa: bigint, write: boolean): void {
    if (s === AccessStatus.AccessFault) throw new XenError(`${this.name()}: external abort on ${write ? 'write' : 'read'} at IPA 0x${gpa.toString(16)}`);
  }
}
