// A small id allocator (after Linux's IDA): hands out the lowest free id of a range, freed ids
// before new ones, so that runs are deterministic. Drivers use it for their address-space ids
// (RISC-V PSCIDs, SMMUv3 ASIDs and VMIDs, virtio-iommu domain ids).

export class IdAllocator {
  private next: number;
  /** Released ids below `next`, kept sorted so the lowest goes first. */
  private readonly released: number[] = [];
  private readonly inUse = new Set<number>();

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    this.next = min;
  }

  /** The lowest free id, or null when every id is taken. */
  alloc(): number | null {
    let id: number;
    if (this.released.length > 0) id = this.released.shift() as number;
    else if (this.next <= this.max) id = this.next++;
    else return null;
    this.inUse.add(id);
    return id;
  }

  free(id: number): void {
    if (!this.inUse.delete(id)) throw new RangeError(`id ${id} is not allocated`);
    let i = 0;
    while (i < this.released.length && this.released[i] < id) i++;
    this.released.splice(i, 0, id);
  }

  get count(): number {
    return this.inUse.size;
  }
}
