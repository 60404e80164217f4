// ASIDs and VMIDs (Linux's xarray and IDA for them): the lowest free id of a range, so that runs
// are deterministic.

export class IdSpace {
  private readonly used: Uint8Array;
  private lowestFree: number;
  private inUse = 0;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    this.used = new Uint8Array(max + 1);
    this.lowestFree = min;
  }

  /** The lowest free id, or null when every id is taken. */
  alloc(): number | null {
    for (let id = this.lowestFree; id <= this.max; id++) {
      if (this.used[id] !== 0) continue;
      this.used[id] = 1;
      this.inUse++;
      this.lowestFree = id + 1;
      return id;
    }
    return null;
  }

  free(id: number): void {
    if (id < this.min || id > this.max || this.used[id] === 0) throw new RangeError(`id ${id} is not allocated`);
    this.used[id] = 0;
    this.inUse--;
    if (id < this.lowestFree) this.lowestFree = id;
  }

  get count(): number {
    return this.inUse;
  }
}
