/**
 * Counts events per key and says when `threshold` of them fall within `windowMs` of
 * event time. Each key keeps only the last `threshold` timestamps (a ring), and at most
 * `maxKeys` keys are kept, least recently seen evicted first (DESIGN.md, principle 3:
 * everything is bounded; evictions are counted).
 */
export class BurstCounter {
  private readonly rings = new Map<string, { stamps: number[]; next: number }>();
  evictions = 0;

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Records one event; true when this key has reached the threshold within the window. */
  record(key: string, ts: number): boolean {
    let ring = this.rings.get(key);
    if (ring === undefined) {
      if (this.rings.size >= this.maxKeys) {
        const oldest = this.rings.keys().next().value;
        if (oldest !== undefined) this.rings.delete(oldest);
        this.evictions += 1;
      }
      ring = { stamps: [], next: 0 };
    } else {
      // Re-insert so that Map order is least recently seen first.
      this.rings.delete(key);
    }
    this.rings.set(key, ring);
    if (ring.stamps.length < this.threshold) {
      ring.stamps.push(ts);
      ring.next = ring.stamps.length % this.threshold;
    } else {
      ring.stamps[ring.next] = ts;
      ring.next = (ring.next + 1) % this.threshold;
    }
    if (ring.stamps.length < this.threshold) return false;
    // The oldest kept stamp sits where the next write goes.
    const oldest = ring.stamps[ring.next] ?? ts;
    return ts - oldest <= this.windowMs;
  }

  get size(): number {
    return this.rings.size;
  }
}
