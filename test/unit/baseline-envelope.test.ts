import { describe, expect, it } from 'vitest';
import { LogHistogram } from '../../agent/src/detect/baseline/log-histogram.ts';
import { ValueEnvelope } from '../../agent/src/detect/baseline/value-envelope.ts';
import { SightingTable } from '../../agent/src/detect/baseline/baseline-model.ts';
import { Random } from '../../simulators/src/random.ts';

/** Log-normal samples: skewed like doses, where mean ± k·σ misleads. */
function logNormal(random: Random, count: number, median: number, spread: number): number[] {
  return Array.from({ length: count }, () => {
    const normal = Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
    return median * Math.exp(spread * normal);
  });
}

function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.round(q * (sorted.length - 1))] as number;
}

describe('the log histogram behind learned envelopes', () => {
  it('gives quantiles within its 2 % bucket width on skewed data', () => {
    const values = logNormal(new Random(7), 5_000, 12, 0.6);
    const histogram = new LogHistogram();
    for (const value of values) histogram.add(value);
    for (const q of [0.01, 0.25, 0.5, 0.75, 0.99]) {
      const estimate = histogram.quantile(q);
      const truth = exactQuantile(values, q);
      expect(Math.abs(estimate - truth) / truth, `q=${q}`).toBeLessThan(0.025);
    }
  });

  it('is the same after a JSON round trip, and empty is NaN', () => {
    const histogram = new LogHistogram();
    for (const value of [0, 0.5, 3, 3.1, 70]) histogram.add(value);
    const copy = LogHistogram.fromJSON(JSON.parse(JSON.stringify(histogram.toJSON())) as ReturnType<LogHistogram['toJSON']>);
    expect(copy.count).toBe(5);
    expect([copy.min, copy.max]).toEqual([0, 70]);
    for (const q of [0, 0.3, 0.5, 0.9, 1]) expect(copy.quantile(q)).toBe(histogram.quantile(q));
    expect(new LogHistogram().quantile(0.5)).toBeNaN();
  });

  it('stays bounded however wide the values range', () => {
    const histogram = new LogHistogram();
    for (let exponent = -40; exponent <= 40; exponent += 0.001) histogram.add(10 ** exponent);
    // Clamped to [1e-6, 1e6] in 2 % steps: about 1,400 buckets.
    expect(Object.keys(histogram.toJSON().buckets).length).toBeLessThan(1_500);
  });
});

describe('a learned value envelope', () => {
  it('is the observed range while samples are few, and trims a lone outlier once there are 100', () => {
    const envelope = ValueEnvelope.empty('mL/h', 0);
    for (const value of [8, 9, 10, 22]) envelope.learn(value, 1);
    expect(envelope.bounds()).toEqual({ low: 8, high: 22 });
    const random = new Random(3);
    for (let index = 0; index < 200; index++) envelope.learn(random.uniform(8, 22), index);
    envelope.learn(400, 300);
    const bounds = envelope.bounds();
    expect(bounds?.high).toBeLessThan(23);
    expect(bounds?.low).toBeGreaterThan(7.5);
  });

  it('is stable once its bounds held over 20 samples, and pinned bounds override learning', () => {
    const envelope = ValueEnvelope.empty('ppm', 0);
    envelope.learn(60, 0);
    envelope.learn(70, 0);
    expect(envelope.stable).toBe(false);
    for (let index = 0; index < 20; index++) envelope.learn(65, index);
    expect(envelope.stable).toBe(true);
    envelope.learn(120, 30);
    expect(envelope.stable).toBe(false);
    envelope.pinned = { low: 55, high: 75 };
    expect(envelope.bounds()).toEqual({ low: 55, high: 75 });
    expect(envelope.stable).toBe(true);
  });
});

describe('a sighting table', () => {
  it('makes room at its cap by forgetting the least recently seen entry, and counts it', () => {
    let evictions = 0;
    const table = new SightingTable(3, () => (evictions += 1));
    table.see('a', 1);
    table.see('b', 2);
    table.see('c', 3);
    table.see('a', 4);
    table.see('d', 5);
    expect([...table.entries.keys()].sort()).toEqual(['a', 'c', 'd']);
    expect(evictions).toBe(1);
    table.expire(4);
    expect([...table.entries.keys()].sort()).toEqual(['a', 'd']);
  });
});
