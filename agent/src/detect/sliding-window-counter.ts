/** One key's recent event times: a ring that grows on demand up to the threshold. */
interface Window {
  stamps: number[];
  head: number;
  length: number;
}

const INITIAL_CAPACITY = 4;

/**
 * Counts events per key over a sliding window of event time and, once `threshold` of them
 * fall within `windowMs`, says how tightly: the span from the oldest of those events to
 * this one. It drops stamps as they leave the window, so a key costs
 * memory in proportion to its recent rate: a device at one message per 5 s keeps two or
 * three stamps, a flooder at most `threshold`. At most `maxKeys` keys are kept, least
 * recently seen evicted first, and every eviction is counted (DESIGN.md, principle 3).
 */
export class SlidingWindowCounter {
  private readonly windows = new Map<string, Window>();
  /** Keys dropped because the table was full: a flood of distinct keys shows here. */
  evictions = 0;

  constructor(
    readonly threshold: number,
    readonly windowMs: number,
    readonly maxKeys: number,
  ) {}

  /**
   * Records one event at `ts`. Returns the span in ms of the last `threshold` events when
   * all of them lie within the window (the threshold is reached), otherwise null.
   */
  record(key: string, ts: number): number | null {
    let window = this.windows.get(key);
    if (window === undefined) {
      if (this.windows.size >= this.maxKeys) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
        this.evictions += 1;
      }
      window = { stamps: new Array<number>(Math.min(INITIAL_CAPACITY, this.threshold)), head: 0, length: 0 };
    } else {
      // Re-insert so that Map order is least recently seen first.
      this.windows.delete(key);
    }
    this.windows.set(key, window);
    const cutoff = ts - this.windowMs;
    while (window.length > 0 && (window.stamps[window.head] ?? ts) < cutoff) this.dropOldest(window);
    if (window.length >= this.threshold) this.dropOldest(window);
    if (window.length === window.stamps.length) this.grow(window);
    window.stamps[(window.head + window.length) % window.stamps.length] = ts;
    window.length += 1;
    if (window.length < this.threshold) return null;
    return Math.max(0, ts - (window.stamps[window.head] ?? ts));
  }

  get size(): number {
    return this.windows.size;
  }

  private dropOldest(window: Window): void {
    window.head = (window.head + 1) % window.stamps.length;
    window.length -= 1;
  }

  private grow(window: Window): void {
    const capacity = Math.min(this.threshold, Math.max(INITIAL_CAPACITY, window.stamps.length * 2));
    const stamps = new Array<number>(capacity);
    for (let i = 0; i < window.length; i += 1) stamps[i] = window.stamps[(window.head + i) % window.stamps.length] ?? 0;
    window.stamps = stamps;
    window.head = 0;
  }
}
