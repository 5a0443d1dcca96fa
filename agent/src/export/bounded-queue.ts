/**
 * A FIFO with a fixed capacity that drops its oldest item when full and counts the drop
 * (DESIGN.md, principle 3: hitting a cap is itself observable). Used by every outbound
 * output while its peer is away. A ring buffer: push and shift are O(1), no copying.
 */
export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;
  /** Items dropped (oldest first) because the queue was full. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Appends; when full, the oldest item is dropped and returned. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.count === this.capacity) {
      evicted = this.shift();
      this.dropped += 1;
    }
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count += 1;
    return evicted;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count -= 1;
    return item;
  }

  /** Up to `max` items from the front, left in place (send them, then `drop` as many). */
  front(max: number): T[] {
    const taken: T[] = [];
    for (let i = 0; i < Math.min(max, this.count); i += 1) taken.push(this.items[(this.head + i) % this.capacity] as T);
    return taken;
  }

  /** Removes `n` items from the front (after they were delivered). */
  discard(n: number): void {
    for (let i = 0; i < n && this.count > 0; i += 1) this.shift();
  }
}
