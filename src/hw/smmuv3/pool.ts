// Decoded structures that left a configuration cache unseen by anyone else (TagCache.insert
// returns them), kept for the next decode: a stack that never shrinks, so that taking an object
// and giving one back allocate nothing once it has reached its largest size (Array pop and push
// may shrink and regrow the backing store).

export class Pool<T> {
  private readonly items: (T | null)[] = [];
  private count = 0;

  constructor(private readonly create: () => T) {}

  /** An object to decode into: a returned one, or a new one. */
  take(): T {
    if (this.count === 0) return this.create();
    const item = this.items[--this.count] as T;
    this.items[this.count] = null;
    return item;
  }

  give(item: T): void {
    if (this.count === this.items.length) this.items.push(item);
    else this.items[this.count] = item;
    this.count++;
  }
}
