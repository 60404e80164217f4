// Domain ids, handed out inside the device's domain_range (5.13.6: the driver MUST NOT send
// a domain outside it). The lowest free id goes first, as Linux's IDA does, so that runs are
// deterministic; freed ids are reused before new ones.

export class DomainIds {
  private next: number;
  /** Freed ids below `next`, sorted ascending. */
  private readonly freed: number[] = [];
  private readonly used = new Set<number>();

  constructor(
    readonly first: number,
    readonly last: number,
  ) {
    this.next = first;
  }

  /** The lowest free id, or null when the range is used up. */
  alloc(): number | null {
    let id: number;
    if (this.freed.length > 0) id = this.freed.shift() as number;
    else if (this.next <= this.last) id = this.next++;
    else return null;
    this.used.add(id);
    return id;
  }

  free(id: number): void {
    if (!this.used.delete(id)) throw new RangeError(`domain id ${id} is not allocated`);
    let i = 0;
    while (i < this.freed.length && this.freed[i] < id) i++;
    this.freed.splice(i, 0, id);
  }

  /** Ids in use. */
  get count(): number {
    return this.used.size;
  }
}
