import { describe, expect, it } from 'vitest';
import { RealTimeClock, VirtualClock, isoTime } from '../../simulators/src/clock.ts';
import { Random } from '../../simulators/src/random.ts';

const START = Date.UTC(2026, 0, 12, 7, 0, 0);

describe('VirtualClock', () => {
  it('runs timers in due-time order, whatever the order they were scheduled in, at their due time', () => {
    const clock = new VirtualClock(START);
    const seen: Array<[string, number]> = [];
    clock.after(300, () => seen.push(['c', clock.now() - START]));
    clock.after(100, () => seen.push(['a', clock.now() - START]));
    clock.after(200, () => seen.push(['b', clock.now() - START]));
    clock.advanceBy(1_000);
    expect(seen).toEqual([['a', 100], ['b', 200], ['c', 300]]);
    expect(clock.now()).toBe(START + 1_000);
  });

  it('runs timers due at the same instant in the order they were scheduled', () => {
    const clock = new VirtualClock(START);
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) clock.after(50, () => seen.push(i));
    clock.advanceBy(50);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('does not run timers that fall due after the target time, and runs them on a later advance', () => {
    const clock = new VirtualClock(START);
    const seen: string[] = [];
    clock.after(100, () => seen.push('early'));
    clock.after(500, () => seen.push('late'));
    clock.advanceTo(START + 499);
    expect(seen).toEqual(['early']);
    clock.advanceTo(START + 500);
    expect(seen).toEqual(['early', 'late']);
  });

  it('honours timers scheduled by a running timer when they fall due within the same advance', () => {
    const clock = new VirtualClock(START);
    const seen: Array<[string, number]> = [];
    clock.after(100, () => {
      seen.push(['first', clock.now() - START]);
      clock.after(0, () => seen.push(['immediate', clock.now() - START]));
      clock.after(50, () => seen.push(['chained', clock.now() - START]));
      clock.after(10_000, () => seen.push(['beyond', clock.now() - START]));
    });
    clock.after(120, () => seen.push(['other', clock.now() - START]));
    clock.advanceBy(1_000);
    expect(seen).toEqual([['first', 100], ['immediate', 100], ['other', 120], ['chained', 150]]);
    expect(clock.pendingTimers).toBe(1);
  });

  it('keeps the order of the remaining timers after arbitrary cancellations (heap removal)', () => {
    const clock = new VirtualClock(START);
    const random = new Random(99);
    const fired: number[] = [];
    const timers = Array.from({ length: 500 }, () => {
      const delay = random.int(0, 10_000);
      return { delay, timer: clock.after(delay, () => fired.push(clock.now() - START)) };
    });
    const kept = timers.filter((_, index) => index % 3 !== 0);
    timers.forEach((entry, index) => {
      if (index % 3 === 0) clock.cancel(entry.timer);
    });
    expect(clock.pendingTimers).toBe(kept.length);
    clock.advanceBy(10_000);
    expect(fired).toEqual(kept.map((entry) => entry.delay).sort((a, b) => a - b));
  });

  it('treats cancelling a fired or already cancelled timer as a no-op', () => {
    const clock = new VirtualClock(START);
    let count = 0;
    const fired = clock.after(10, () => count++);
    const other = clock.after(20, () => count++);
    clock.advanceBy(15);
    clock.cancel(fired);
    clock.cancel(other);
    clock.cancel(other);
    clock.advanceBy(100);
    expect(count).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses to go backwards and treats negative delays as zero', () => {
    const clock = new VirtualClock(START);
    expect(() => clock.advanceTo(START - 1)).toThrow(RangeError);
    let at = 0;
    clock.after(-500, () => { at = clock.now(); });
    clock.advanceBy(0);
    expect(at).toBe(START);
  });
});

describe('RealTimeClock', () => {
  it('runs sim time `speed` times faster than real time and fires timers at their sim due time', async () => {
    const clock = new RealTimeClock(1_000, START);
    const scheduledAt = clock.now();
    const firedAt = await new Promise<number>((resolve) => clock.after(50_000, () => resolve(clock.now())));
    // 50 simulated seconds at 1000× take about 50 ms of real time.
    expect(firedAt - scheduledAt).toBeGreaterThanOrEqual(50_000 - 1_000);
    expect(firedAt - scheduledAt).toBeLessThan(50_000 + 1_000_000);
    expect(scheduledAt - START).toBeLessThan(50_000);
  });

  it('does not fire a cancelled timer', async () => {
    const clock = new RealTimeClock(1_000);
    let fired = false;
    const timer = clock.after(5_000, () => { fired = true; });
    clock.cancel(timer);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fired).toBe(false);
  });

  it('rejects a speed that is not a positive number', () => {
    expect(() => new RealTimeClock(0)).toThrow(RangeError);
    expect(() => new RealTimeClock(Number.NaN)).toThrow(RangeError);
  });
});

describe('isoTime', () => {
  it('formats sim time as ISO-8601 UTC', () => {
    expect(isoTime(START + 1_500)).toBe('2026-01-12T07:00:01.500Z');
  });
});
