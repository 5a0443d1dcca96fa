import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../agent/src/export/bounded-queue.ts';

describe('BoundedQueue', () => {
  it('keeps order, drops the oldest when full and counts each drop', () => {
    const queue = new BoundedQueue<number>(3);
    for (const n of [1, 2, 3]) expect(queue.push(n)).toBeUndefined();
    expect(queue.push(4)).toBe(1);
    expect(queue.push(5)).toBe(2);
    expect(queue.dropped).toBe(2);
    expect(queue.size).toBe(3);
    expect(queue.front(10)).toEqual([3, 4, 5]);
    expect(queue.shift()).toBe(3);
    expect(queue.peek()).toBe(4);
  });

  it('leaves the front in place until discarded, across the wrap of the ring', () => {
    const queue = new BoundedQueue<string>(4);
    for (const s of ['a', 'b', 'c', 'd', 'e', 'f']) queue.push(s);
    expect(queue.front(2)).toEqual(['c', 'd']);
    expect(queue.size).toBe(4);
    queue.discard(2);
    expect(queue.front(4)).toEqual(['e', 'f']);
    queue.discard(9);
    expect(queue.size).toBe(0);
    expect(queue.shift()).toBeUndefined();
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new BoundedQueue(0)).toThrow(/positive integer/);
    expect(() => new BoundedQueue(1.5)).toThrow(/positive integer/);
  });
});
