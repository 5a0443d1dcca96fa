/**
 * Simulated time. Every simulator reads time from a SimClock, never from the wall clock,
 * so that the same code runs in real time for a demo, faster than real time for a fleet,
 * and as a discrete-event simulation in tests (DESIGN.md: "every detector reads time from
 * the event"; the devices that produce the events follow the same rule).
 */

/** A pending callback; opaque to callers, who only hand it back to `cancel`. */
export interface SimTimer {
  /** Sim time (epoch ms) at which the callback is due. */
  readonly dueMs: number;
}

export interface SimClock {
  /** Current sim time, epoch milliseconds. */
  now(): number;
  /** Runs `fn` once `simMs` of sim time have passed (0 or less: as soon as possible). */
  after(simMs: number, fn: () => void): SimTimer;
  /** Cancels a pending timer; cancelling a fired or already cancelled timer does nothing. */
  cancel(timer: SimTimer): void;
}

/** Largest delay Node's setTimeout honours; longer ones fire immediately (Node docs, setTimeout). */
const MAX_TIMEOUT_MS = 2_147_483_647;

function sanitizeDelay(simMs: number): number {
  return Number.isFinite(simMs) && simMs > 0 ? simMs : 0;
}

class RealTimer implements SimTimer {
  handle: NodeJS.Timeout | null = null;
  constructor(readonly dueMs: number) {}
}

/**
 * Sim time runs `speed` times faster than real time from `startMs`. Timers are real
 * setTimeouts of simMs / speed, so a fleet at speed 600 lives ten simulated minutes per
 * real second.
 */
export class RealTimeClock implements SimClock {
  readonly speed: number;
  private readonly startMs: number;
  private readonly realStart: number;

  constructor(speed: number, startMs: number = Date.now()) {
    if (!Number.isFinite(speed) || speed <= 0) throw new RangeError(`clock speed must be a positive number, not ${speed}`);
    this.speed = speed;
    this.startMs = startMs;
    // performance.now() is monotonic: an NTP step of the wall clock must not make sim time jump.
    this.realStart = performance.now();
  }

  now(): number {
    return this.startMs + (performance.now() - this.realStart) * this.speed;
  }

  after(simMs: number, fn: () => void): SimTimer {
    const delay = sanitizeDelay(simMs);
    const timer = new RealTimer(this.now() + delay);
    timer.handle = setTimeout(fn, Math.min(delay / this.speed, MAX_TIMEOUT_MS));
    return timer;
  }

  cancel(timer: SimTimer): void {
    if (timer instanceof RealTimer && timer.handle !== null) {
      clearTimeout(timer.handle);
      timer.handle = null;
    }
  }
}

class VirtualTimer implements SimTimer {
  /** Position in the heap, or -1 once fired or cancelled (makes cancel O(log n) and idempotent). */
  heapIndex = -1;
  constructor(readonly dueMs: number, readonly seq: number, readonly fn: () => void) {}
}

/** Earlier due time first; equal due times in the order they were scheduled. */
function runsBefore(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
}

/**
 * Discrete-event clock for tests and fast simulation: time stands still until
 * `advanceTo`/`advanceBy`, which run every due timer synchronously in time order. A timer
 * scheduled by a running callback is honoured within the same advance if it falls due.
 * Pending timers live in an indexed binary heap.
 */
export class VirtualClock implements SimClock {
  private current: number;
  private readonly heap: VirtualTimer[] = [];
  private nextSeq = 0;

  constructor(startMs: number) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** Number of pending timers (for tests that prove components clean up after themselves). */
  get pendingTimers(): number {
    return this.heap.length;
  }

  after(simMs: number, fn: () => void): SimTimer {
    const timer = new VirtualTimer(this.current + sanitizeDelay(simMs), this.nextSeq++, fn);
    timer.heapIndex = this.heap.length;
    this.heap.push(timer);
    this.siftUp(timer.heapIndex);
    return timer;
  }

  cancel(timer: SimTimer): void {
    if (!(timer instanceof VirtualTimer) || timer.heapIndex < 0 || this.heap[timer.heapIndex] !== timer) return;
    this.removeAt(timer.heapIndex);
  }

  /** When the next pending timer falls due, or null when none is pending. */
  nextDueAt(): number | null {
    return this.heap[0]?.dueMs ?? null;
  }

  /** Runs every timer due at or before `targetMs`, then sets the time to `targetMs`. */
  advanceTo(targetMs: number): void {
    if (targetMs < this.current) throw new RangeError(`cannot move a VirtualClock backwards (${targetMs} < ${this.current})`);
    for (let next = this.heap[0]; next !== undefined && next.dueMs <= targetMs; next = this.heap[0]) {
      this.removeAt(0);
      this.current = next.dueMs;
      next.fn();
    }
    this.current = targetMs;
  }

  advanceBy(simMs: number): void {
    this.advanceTo(this.current + sanitizeDelay(simMs));
  }

  private removeAt(index: number): void {
    const removed = this.heap[index];
    const last = this.heap.pop();
    if (removed === undefined || last === undefined) return;
    removed.heapIndex = -1;
    if (last === removed) return;
    this.heap[index] = last;
    last.heapIndex = index;
    this.siftUp(index);
    this.siftDown(last.heapIndex);
  }

  private siftUp(start: number): void {
    let index = start;
    const timer = this.heap[index];
    if (timer === undefined) return;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.heap[parentIndex];
      if (parent === undefined || !runsBefore(timer, parent)) break;
      this.heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    this.heap[index] = timer;
    timer.heapIndex = index;
  }

  private siftDown(start: number): void {
    let index = start;
    const timer = this.heap[index];
    if (timer === undefined) return;
    const length = this.heap.length;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= length) break;
      const rightIndex = leftIndex + 1;
      const left = this.heap[leftIndex] as VirtualTimer;
      const right = this.heap[rightIndex];
      const childIndex = right !== undefined && runsBefore(right, left) ? rightIndex : leftIndex;
      const child = this.heap[childIndex] as VirtualTimer;
      if (!runsBefore(child, timer)) break;
      this.heap[index] = child;
      child.heapIndex = index;
      index = childIndex;
    }
    this.heap[index] = timer;
    timer.heapIndex = index;
  }
}

/** ISO-8601 text of a sim time, as carried in the `ts` field of every wire message. */
export function isoTime(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}
