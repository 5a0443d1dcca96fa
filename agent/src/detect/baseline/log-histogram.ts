/**
 * A bounded, deterministic histogram of positive values on a logarithmic scale, for
 * robust quantiles of skewed clinical values (doses span decades; a mean ± k·σ on them
 * is pulled by one outlier, a quantile is not). Buckets are 2 % wide, so a quantile is
 * within 2 % of the true one; values are clamped to [1e-6, 1e6], which bounds the table
 * at about 1,400 buckets (DESIGN.md, principle 3). Zero (a pacing output switched off) has
 * its own bucket. The same values in the same order always give the same histogram, so a
 * replay learns what live traffic taught.
 */

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const MIN_VALUE = 1e-6;
const MAX_VALUE = 1e6;
/** Key of the bucket for zero (and for negative values, which no commanded parameter has). */
const ZERO_BUCKET = -1_000_000;

export interface LogHistogramJson {
  readonly n: number;
  readonly min: number;
  readonly max: number;
  /** Bucket index → count. */
  readonly buckets: Readonly<Record<string, number>>;
}

function bucketOf(value: number): number {
  if (!(value > 0)) return ZERO_BUCKET;
  const clamped = Math.min(MAX_VALUE, Math.max(MIN_VALUE, value));
  return Math.floor(Math.log(clamped) / LOG_GROWTH);
}

/** Geometric middle of a bucket: the value a quantile in it reports. */
function bucketValue(bucket: number): number {
  if (bucket === ZERO_BUCKET) return 0;
  return Math.exp((bucket + 0.5) * LOG_GROWTH);
}

export class LogHistogram {
  private readonly counts = new Map<number, number>();
  private total = 0;
  private lowest = Infinity;
  private highest = -Infinity;
  /** Bucket indices in ascending order, rebuilt only when a bucket is added: quantiles run on every command. */
  private sorted: number[] | null = null;

  get count(): number {
    return this.total;
  }

  get min(): number {
    return this.lowest;
  }

  get max(): number {
    return this.highest;
  }

  add(value: number, times = 1): void {
    if (!Number.isFinite(value) || !Number.isInteger(times) || times < 1) return;
    const bucket = bucketOf(value);
    if (!this.counts.has(bucket)) this.sorted = null;
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + times);
    this.total += times;
    if (value < this.lowest) this.lowest = value;
    if (value > this.highest) this.highest = value;
  }

  /**
   * The q-quantile (0 ≤ q ≤ 1), clamped to the observed min and max so that a quantile never
   * lies outside what was seen. NaN when empty.
   */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    if (q <= 0) return this.lowest;
    if (q >= 1) return this.highest;
    const rank = q * (this.total - 1);
    let seen = 0;
    this.sorted ??= [...this.counts.keys()].sort((a, b) => a - b);
    for (const bucket of this.sorted) {
      seen += this.counts.get(bucket) ?? 0;
      if (seen > rank) return Math.min(this.highest, Math.max(this.lowest, bucketValue(bucket)));
    }
    return this.highest;
  }

  /**
   * The mean of the values between the `low` and `high` quantiles (0 ≤ low < high ≤ 1), each
   * taken at its bucket's middle (so within 2 %) clamped to the observed min and max: a mean
   * that neither tail can pull. Telemetry intervals use it: a night switched off or a reboot
   * is one long interval among thousands and drops out at the top, the reports after
   * commands drop out at the bottom, and a device that sends two messages per period still
   * averages to its true rate (a median would give either of the two spacings). NaN when
   * empty.
   */
  trimmedMean(low: number, high: number): number {
    if (this.total === 0 || !(high > low)) return Number.NaN;
    const skip = Math.floor(Math.max(0, low) * this.total);
    const keep = Math.max(1, Math.ceil(Math.min(1, high) * this.total) - skip);
    let skipped = 0;
    let taken = 0;
    let sum = 0;
    this.sorted ??= [...this.counts.keys()].sort((a, b) => a - b);
    for (const bucket of this.sorted) {
      let count = this.counts.get(bucket) ?? 0;
      const skipping = Math.min(count, skip - skipped);
      skipped += skipping;
      count = Math.min(count - skipping, keep - taken);
      if (count <= 0) continue;
      sum += count * Math.min(this.highest, Math.max(this.lowest, bucketValue(bucket)));
      taken += count;
      if (taken >= keep) break;
    }
    return taken === 0 ? Number.NaN : sum / taken;
  }

  toJSON(): LogHistogramJson {
    const buckets: Record<string, number> = {};
    for (const [bucket, count] of [...this.counts].sort((a, b) => a[0] - b[0])) buckets[String(bucket)] = count;
    return { n: this.total, min: this.lowest, max: this.highest, buckets };
  }

  static fromJSON(json: LogHistogramJson): LogHistogram {
    const histogram = new LogHistogram();
    for (const [bucket, count] of Object.entries(json.buckets)) {
      const index = Number(bucket);
      if (Number.isInteger(index) && Number.isInteger(count) && count > 0) histogram.counts.set(index, count);
    }
    histogram.total = [...histogram.counts.values()].reduce((sum, count) => sum + count, 0);
    histogram.lowest = histogram.total === 0 ? Infinity : json.min;
    histogram.highest = histogram.total === 0 ? -Infinity : json.max;
    return histogram;
  }
}
