import { formatValue, type Sample } from './prometheus-text.ts';

/**
 * A Prometheus histogram with fixed bucket bounds: observe is a short scan and three
 * additions, no allocation (DESIGN.md, principle 8). Bucket counts are kept per bucket and
 * made cumulative only when rendered, as the format wants (`le` = less than or equal).
 */
export class Histogram {
  /** One count per bound, and a last one for values above every bound (+Inf). */
  private readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    if (bounds.length === 0) throw new RangeError('a histogram needs at least one bucket bound');
    for (let i = 0; i < bounds.length; i += 1) {
      const bound = bounds[i] as number;
      if (!Number.isFinite(bound) || (i > 0 && bound <= (bounds[i - 1] as number))) throw new RangeError(`bucket bounds must be finite and increasing, got ${bounds.join(', ')}`);
    }
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && value > (this.bounds[bucket] as number)) bucket += 1;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += value;
    this.count += 1;
  }

  /** `_bucket` samples (cumulative, ending with `le="+Inf"`, equal to `_count`), `_sum`, `_count`. */
  samples(labels: Readonly<Record<string, string>> = {}): Sample[] {
    const samples: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.counts.length; i += 1) {
      cumulative += this.counts[i] as number;
      const le = i < this.bounds.length ? formatValue(this.bounds[i] as number) : '+Inf';
      samples.push({ suffix: '_bucket', labels: { ...labels, le }, value: cumulative });
    }
    samples.push({ suffix: '_sum', labels, value: this.sum });
    samples.push({ suffix: '_count', labels, value: this.count });
    return samples;
  }
}
