// How the root IPMMU's table walks read descriptors: by physical address from memory, where a
// fault or poison mark makes the read fail (IMSTR.ABORT, "page table walk abort"). Every read
// is counted and, with a tracer, reported. The IPMMU never updates descriptors (no hardware
// Access flag or dirty state management), so the compare-and-swap the walker may ask for is
// refused as an abort; the walker asks only when the configuration enables those updates,
// which no IPMMU configuration does.

import { AccessStatus, type PhysicalMemory } from '../../sim/physical-memory.js';
import type { DescriptorMemory, VmsaWalker } from '../arm-lpae/walker.js';
import type { IpmmuTracer } from './trace.js';

const PAGES_PER_4G = 0x10_0000;

export class IpmmuWalkMemory implements DescriptorMemory {
  lo = 0;
  hi = 0;
  swapped = false;
  /** Descriptor reads made since construction. */
  reads = 0;
  tracer: IpmmuTracer | null = null;
  /** The context of the walk in progress, for the tracer. */
  context = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    /** The walker reading through this memory: it knows the level of each read. */
    private readonly walker: VmsaWalker,
  ) {}

  read64(addressHi: number, addressLo: number): boolean {
    const page = addressHi * PAGES_PER_4G + (addressLo >>> 12);
    const offset = addressLo & 0xfff;
    this.reads++;
    const status = this.memory.check(page, offset, 8);
    if (status === AccessStatus.Ok) {
      this.lo = this.memory.read64(page, offset);
      this.hi = this.memory.hi;
    }
    if (this.tracer !== null) this.tracer.descriptor(this.context, this.walker.faultLevel, page, offset, status === AccessStatus.Ok ? this.lo : 0, status === AccessStatus.Ok ? this.hi : 0, status);
    return status === AccessStatus.Ok;
  }

  cas64(): boolean {
    return false;
  }
}
