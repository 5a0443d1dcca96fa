/**
 * Waits between retries of an output whose peer is away: doubling from `initialMs` up to
 * `maxMs`, with "equal jitter" (half the wait fixed, half random; AWS Architecture Blog,
 * "Exponential Backoff And Jitter") so that the agents of many wards do not retry a
 * central database in step after it comes back.
 */
export class CappedBackoff {
  private failures = 0;

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(initialMs > 0) || !(maxMs >= initialMs)) throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got ${initialMs} and ${maxMs}`);
  }

  /** Failures in a row since the last success. */
  get attempts(): number {
    return this.failures;
  }

  /** One more failure: the wait before the next attempt, in ms. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 40));
    this.failures += 1;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** A success: the next failure waits `initialMs` again (at most). */
  reset(): void {
    this.failures = 0;
  }
}
