import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { commanderOf } from '../../agent/src/detect/baseline/commander.ts';
import { boundedKey, KEY_HASH_HEX, MAX_KEY_LENGTH } from '../../agent/src/detect/bounded-key.ts';
import { formatDuration } from '../../agent/src/detect/duration.ts';
import { SlidingWindowCounter } from '../../agent/src/detect/sliding-window-counter.ts';
import type { EventSource } from '../../agent/src/normalize/events.ts';

describe('sliding window counter', () => {
  it('reaches the threshold only when that many events fall within the window, and says how tightly', () => {
    const counter = new SlidingWindowCounter(3, 10_000, 100);
    expect(counter.record('a', 0)).toBeNull();
    expect(counter.record('a', 4_000)).toBeNull();
    expect(counter.record('a', 9_000)).toBe(9_000);
    // 0 has left the window of 12,000; 4,000, 9,000 and 12,000 are within it.
    expect(counter.record('a', 12_000)).toBe(8_000);
    // Everything before 15,000 has left the window of 25,000.
    expect(counter.record('a', 25_000)).toBeNull();
  });

  it('events exactly one window apart still count; a millisecond more does not', () => {
    const counter = new SlidingWindowCounter(2, 10_000, 100);
    counter.record('a', 0);
    expect(counter.record('a', 10_000)).toBe(10_000);
    const other = new SlidingWindowCounter(2, 10_000, 100);
    other.record('b', 0);
    expect(other.record('b', 10_001)).toBeNull();
  });

  it('keeps only the last `threshold` stamps of a flooding key and grows its ring on demand', () => {
    const counter = new SlidingWindowCounter(200, 10_000, 100);
    let span: number | null = null;
    for (let i = 0; i < 10_000; i += 1) span = counter.record('flood', i);
    // The last 200 stamps: 9,800 … 9,999.
    expect(span).toBe(199);
  });

  it('keys are bounded: least recently seen evicted first, and counted', () => {
    const counter = new SlidingWindowCounter(2, 10_000, 3);
    counter.record('a', 0);
    counter.record('b', 1);
    counter.record('c', 2);
    counter.record('a', 3); // a is now the most recent
    counter.record('d', 4); // evicts b
    expect(counter.size).toBe(3);
    expect(counter.evictions).toBe(1);
    expect(counter.record('a', 5)).toBe(2); // a kept its stamp at 3
    expect(counter.record('b', 6)).toBeNull(); // b started over
  });

  it('threshold 1 fires on every event', () => {
    const counter = new SlidingWindowCounter(1, 1_000, 10);
    expect(counter.record('x', 5)).toBe(0);
    expect(counter.record('x', 6)).toBe(0);
  });
});

describe('durations and keys for titles', () => {
  it.each([
    [1_900, '1.9 s'],
    [7_960, '8 s'],
    [16_000, '16 s'],
    [45_400, '45 s'],
    [600_000, '10 min'],
    [2 * 3_600_000 + 5 * 60_000, '2 h 5 min'],
    [24 * 3_600_000, '24 h'],
    [3 * 86_400_000 + 4 * 3_600_000, '3 d 4 h'],
  ])('%i ms reads "%s"', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('cuts keys off the wire at MAX_KEY_LENGTH', () => {
    expect(boundedKey('x'.repeat(70_000))).toHaveLength(MAX_KEY_LENGTH);
    expect(boundedKey('station-4w')).toBe('station-4w');
    expect(boundedKey('y'.repeat(MAX_KEY_LENGTH))).toBe('y'.repeat(MAX_KEY_LENGTH));
  });

  it('keeps long keys that share a prefix apart, with a hash of the whole name', () => {
    const prefix = 'c'.repeat(MAX_KEY_LENGTH);
    const [first, second] = [boundedKey(`${prefix}-ward-4w`), boundedKey(`${prefix}-attacker`)];
    expect(first).not.toBe(second);
    expect(first).toHaveLength(MAX_KEY_LENGTH);
    expect(second).toHaveLength(MAX_KEY_LENGTH);
    expect(first.startsWith('c'.repeat(MAX_KEY_LENGTH - KEY_HASH_HEX - 1))).toBe(true);
    expect(first.slice(-KEY_HASH_HEX - 1)).toBe(`~${createHash('sha256').update(`${prefix}-ward-4w`).digest('hex').slice(0, KEY_HASH_HEX)}`);
    // The same name gives the same key every time: the baseline finds it again after a restart.
    expect(boundedKey(`${prefix}-ward-4w`)).toBe(first);
  });

  it('a long client id accepted as a commander does not make one sharing its prefix known', () => {
    const prefix = 'ward-4w-station-'.padEnd(MAX_KEY_LENGTH + 10, 'x');
    const source = (clientId: string): EventSource => ({ transport: 'mqtt', address: '10.4.0.21', account: null, role: null, clientId });
    expect(commanderOf(source(`${prefix}A`))).not.toBe(commanderOf(source(`${prefix}B`)));
    expect(commanderOf(source('station-4w'))).toBe('client:station-4w');
  });
});
