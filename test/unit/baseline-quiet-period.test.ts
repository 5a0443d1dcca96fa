import { describe, expect, it } from 'vitest';
import { SightingTable } from '../../agent/src/detect/baseline/baseline-model.ts';
import { hourKey } from '../../agent/src/detect/baseline/hour-key.ts';
import { describeQuietPeriod, inQuietPeriod, quietPeriod } from '../../agent/src/detect/baseline/quiet-period.ts';

function hoursSeen(...hours: number[]): SightingTable {
  const table = new SightingTable(31, () => undefined);
  for (const hour of hours) table.see(hourKey(hour), 0);
  return table;
}

describe('the quiet period of a kind of device', () => {
  it('is the longest run of unseen hours less an hour each side; gaps inside the working day do not count', () => {
    // A first day of an EP clinic: sessions happened to start at 08, 09, 13, 14 and 17.
    const period = quietPeriod(hoursSeen(8, 9, 13, 14, 17));
    expect(period).toEqual({ from: 20, to: 5 });
    expect(period === null ? '' : describeQuietPeriod(period)).toBe('20:00–05:59');
    if (period === null) return;
    expect([3, 20, 23, 0, 5].map((hour) => inQuietPeriod(period, hour))).toEqual([true, true, true, true, true]);
    expect([11, 15, 19, 6, 7].map((hour) => inQuietPeriod(period, hour))).toEqual([false, false, false, false, false]);
  });

  it('does not exist for pumps programmed around the clock, for a short lull, or with nothing learned', () => {
    expect(quietPeriod(hoursSeen(...Array.from({ length: 24 }, (_, hour) => hour)))).toBeNull();
    expect(quietPeriod(hoursSeen(...Array.from({ length: 24 }, (_, hour) => hour).filter((hour) => hour < 2 || hour > 8)))).toBeNull();
    expect(quietPeriod(hoursSeen())).toBeNull();
  });
});
