/**
 * The numeric history of one device, downsampled to fixed buckets of event time: for each
 * series, the last value written in each bucket with the bucket's minimum and maximum (a
 * ten-second spike inside a quiet minute still shows). All series of a device share one
 * time axis that ends at the newest bucket any event reached; moving it forward clears
 * the buckets it passes, so memory is fixed per series: `buckets` × 3 Float32 values
 * (12 bytes a bucket; 17,280 bytes for a day of minutes). A series is allocated when its
 * first value comes, and at `maxSeries` the series written longest ago makes room.
 *
 * Times are event times (DESIGN.md: detectors and stores read the event, never the wall
 * clock). A value older than the axis's first bucket is dropped and counted, never
 * rewritten into the ring. Hitting a cap is counted (principle 3).
 */

export interface HistoryBucketOptions {
  /** Width of one bucket in milliseconds of event time. */
  readonly bucketMs: number;
  /** Buckets kept per series: the window is bucketMs × buckets. */
  readonly buckets: number;
  readonly maxSeries: number;
}

export interface BucketCounters {
  /** Values older than the window when they came (a late or replayed event). */
  late: number;
  /** Series dropped to make room for a new one at `maxSeries`. */
  seriesEvicted: number;
  /** Values that do not fit a 32-bit float (beyond ±3.4e38, or not finite). */
  unrepresentable: number;
}

/** One series read out, oldest bucket first; only buckets that hold a value. */
export interface BucketSeriesReadout {
  /** Start of each bucket, epoch milliseconds of event time. */
  readonly t: number[];
  readonly last: number[];
  readonly min: number[];
  readonly max: number[];
}

interface SeriesSlots {
  /** [last, min, max] per bucket, interleaved; NaN `last` marks an empty bucket. */
  readonly values: Float32Array;
  /** Bucket index of the newest value written, for eviction. */
  writtenAt: number;
}

/** Float32 keeps about 7 significant digits: read back as such, 14.4 stays 14.4 instead of 14.399999618530273. */
function readBack(value: number): number {
  return Number(value.toPrecision(7));
}

export class HistoryBuckets {
  private readonly series = new Map<string, SeriesSlots>();
  /** Bucket index (floor(ts / bucketMs)) of the axis's newest bucket; -Infinity while empty. */
  private newest = -Infinity;

  constructor(private readonly options: HistoryBucketOptions, private readonly counters: BucketCounters) {}

  /** Bucket index of the newest bucket, or null before the first event. */
  get newestBucket(): number | null {
    return this.newest === -Infinity ? null : this.newest;
  }

  /** Start of the oldest bucket in the window, epoch ms; null before the first event. */
  get windowStart(): number | null {
    return this.newest === -Infinity ? null : (this.newest - this.options.buckets + 1) * this.options.bucketMs;
  }

  get seriesCount(): number {
    return this.series.size;
  }

  /** Bytes held by the series' arrays (the figure the caps bound). */
  get bytes(): number {
    let total = 0;
    for (const slots of this.series.values()) total += slots.values.byteLength;
    return total;
  }

  keys(): IterableIterator<string> {
    return this.series.keys();
  }

  /**
   * Moves the axis to the bucket of `ts` when it is newer; false when `ts` lies before
   * the window (counted as late). Every event of the device goes through here, so a
   * command with no number still moves the window.
   */
  advance(ts: number): boolean {
    const bucket = Math.floor(ts / this.options.bucketMs);
    if (bucket > this.newest) {
      this.clearBetween(this.newest, bucket);
      this.newest = bucket;
      return true;
    }
    if (bucket <= this.newest - this.options.buckets) {
      this.counters.late += 1;
      return false;
    }
    return true;
  }

  /** Records `value` at event time `ts` in series `key` (created on first use). */
  record(key: string, ts: number, value: number): void {
    if (!Number.isFinite(Math.fround(value))) {
      this.counters.unrepresentable += 1;
      return;
    }
    if (!this.advance(ts)) return;
    const bucket = Math.floor(ts / this.options.bucketMs);
    const slots = this.slotsFor(key);
    const at = this.slotOf(bucket) * 3;
    const values = slots.values;
    const last = values[at] ?? Number.NaN;
    if (Number.isNaN(last)) {
      values[at] = value;
      values[at + 1] = value;
      values[at + 2] = value;
    } else {
      values[at] = value;
      if (value < (values[at + 1] ?? value)) values[at + 1] = value;
      if (value > (values[at + 2] ?? value)) values[at + 2] = value;
    }
    if (bucket > slots.writtenAt) slots.writtenAt = bucket;
  }

  /** The series' buckets in the window, oldest first; null when there is no such series. */
  read(key: string): BucketSeriesReadout | null {
    const slots = this.series.get(key);
    if (slots === undefined || this.newest === -Infinity) return null;
    const readout: BucketSeriesReadout = { t: [], last: [], min: [], max: [] };
    const { buckets, bucketMs } = this.options;
    for (let bucket = this.newest - buckets + 1; bucket <= this.newest; bucket += 1) {
      const at = this.slotOf(bucket) * 3;
      const last = slots.values[at] ?? Number.NaN;
      if (Number.isNaN(last)) continue;
      readout.t.push(bucket * bucketMs);
      readout.last.push(readBack(last));
      readout.min.push(readBack(slots.values[at + 1] ?? last));
      readout.max.push(readBack(slots.values[at + 2] ?? last));
    }
    return readout;
  }

  private slotOf(bucket: number): number {
    const { buckets } = this.options;
    return ((bucket % buckets) + buckets) % buckets;
  }

  private slotsFor(key: string): SeriesSlots {
    const existing = this.series.get(key);
    if (existing !== undefined) return existing;
    if (this.series.size >= this.options.maxSeries) this.evictOldestSeries();
    const slots: SeriesSlots = { values: new Float32Array(this.options.buckets * 3).fill(Number.NaN), writtenAt: -Infinity };
    this.series.set(key, slots);
    return slots;
  }

  private evictOldestSeries(): void {
    let oldestKey: string | null = null;
    let oldestAt = Infinity;
    for (const [key, slots] of this.series) {
      if (slots.writtenAt < oldestAt) {
        oldestAt = slots.writtenAt;
        oldestKey = key;
      }
    }
    if (oldestKey === null) return;
    this.series.delete(oldestKey);
    this.counters.seriesEvicted += 1;
  }

  /**
   * Empties the buckets after `from` up to and including `to` in every series (all of
   * them after a long gap); a series with nothing left in the window is let go (a drug
   * that ran yesterday), which is expiry, not eviction.
   */
  private clearBetween(from: number, to: number): void {
    const { buckets } = this.options;
    const first = from === -Infinity || to - from >= buckets ? to - buckets + 1 : from + 1;
    for (const [key, slots] of this.series) {
      if (slots.writtenAt <= to - buckets) {
        this.series.delete(key);
        continue;
      }
      for (let bucket = first; bucket <= to; bucket += 1) slots.values[this.slotOf(bucket) * 3] = Number.NaN;
    }
  }
}
