import { describe, expect, it } from 'vitest';
import { Random } from '../../simulators/src/random.ts';

function draw(random: Random, count: number): number[] {
  return Array.from({ length: count }, () => random.next());
}

describe('Random', () => {
  it('repeats the same sequence for the same seed and a different one for another seed', () => {
    expect(draw(new Random(42), 50)).toEqual(draw(new Random(42), 50));
    expect(draw(new Random(42), 50)).not.toEqual(draw(new Random(43), 50));
  });

  it('stays in [0, 1) with a mean near one half', () => {
    const values = draw(new Random(7), 20_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(mean).toBeGreaterThan(0.49);
    expect(mean).toBeLessThan(0.51);
  });

  it('draws integers in an inclusive range, reaching both ends', () => {
    const random = new Random(3);
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) seen.add(random.int(5, 9));
    expect([...seen].sort()).toEqual([5, 6, 7, 8, 9]);
  });

  it('draws exponential waits with the requested mean', () => {
    const random = new Random(11);
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += random.exponential(8);
    expect(sum / 20_000).toBeGreaterThan(7.6);
    expect(sum / 20_000).toBeLessThan(8.4);
  });

  it('makes chance(p) true about p of the time', () => {
    const random = new Random(5);
    let hits = 0;
    for (let i = 0; i < 20_000; i++) if (random.chance(0.3)) hits++;
    expect(hits / 20_000).toBeGreaterThan(0.28);
    expect(hits / 20_000).toBeLessThan(0.32);
  });

  it('forks streams that depend on the seed and the label only, not on what the parent drew', () => {
    const parent = new Random(1234);
    const before = draw(parent.fork('device:pump-01'), 10);
    draw(parent, 100);
    expect(draw(parent.fork('device:pump-01'), 10)).toEqual(before);
    expect(draw(parent.fork('device:pump-02'), 10)).not.toEqual(before);
    expect(draw(new Random(1235).fork('device:pump-01'), 10)).not.toEqual(before);
  });

  it('refuses to pick from an empty list', () => {
    expect(() => new Random(1).pick([])).toThrow(RangeError);
  });
});
