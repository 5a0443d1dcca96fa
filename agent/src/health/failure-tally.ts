/**
 * Failures of one kind of unit (alert outputs, detectors) by name: how many since start,
 * for /metrics, and when the last one was, so health can say "failing" while it is
 * recent and recover once the unit has worked again for a while. A count alone would keep
 * the agent degraded (and /healthz at 503) for ever after one full disk. Keyed by unit
 * names that come from the code, so the map is bounded by the number of units.
 */
export interface FailureRecord {
  readonly count: number;
  /** Wall-clock ms of the latest failure. */
  readonly lastAt: number;
}

export class FailureTally {
  private readonly records = new Map<string, FailureRecord>();

  /** Counts one failure now; returns the unit's total so far. */
  record(name: string, now = Date.now()): number {
    const count = (this.records.get(name)?.count ?? 0) + 1;
    this.records.set(name, { count, lastAt: now });
    return count;
  }

  count(name: string): number {
    return this.records.get(name)?.count ?? 0;
  }

  entries(): IterableIterator<[string, FailureRecord]> {
    return this.records.entries();
  }
}
