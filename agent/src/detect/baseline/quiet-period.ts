import type { SightingTable } from './baseline-model.ts';
import { hourKey } from './hour-key.ts';

/** A quiet period shorter than this is a lull, not a closing time: nothing is judged. */
const MIN_QUIET_HOURS = 4;
/**
 * Hours at each end of the unseen run that still count as usual: a first day of learning
 * rarely sees the first and last hour the clinic actually works (its last session began at
 * 15:00, the clinic closes at 18:00).
 */
const MARGIN_HOURS = 2;

export interface QuietPeriod {
  /** First and last local hour of the period, inside its margins (a clinic last used at 17:00 and first at 08:00 is quiet 20:00–05:59). */
  readonly from: number;
  readonly to: number;
}

/**
 * The longest run of hours in which nothing was ever commanded, less MARGIN_HOURS at each end:
 * the time a kind of device is not used (the EP clinic at night). A day of learning leaves
 * gaps inside the working day too (no session happened to start at 11:00); only the
 * longest run counts, so those gaps are not "unusual". Null when no run of at least
 * MIN_QUIET_HOURS + 2 × MARGIN_HOURS hours exists (pumps, programmed around the clock).
 */
export function quietPeriod(hours: SightingTable): QuietPeriod | null {
  const seen = Array.from({ length: 24 }, (_, hour) => hours.has(hourKey(hour)));
  if (!seen.some(Boolean)) return null;
  let bestStart = -1;
  let bestLength = 0;
  for (let start = 0; start < 24; start++) {
    if (seen[start] === true || seen[(start + 23) % 24] !== true) continue;
    let length = 0;
    while (length < 24 && seen[(start + length) % 24] !== true) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  if (bestLength < MIN_QUIET_HOURS + 2 * MARGIN_HOURS) return null;
  return { from: (bestStart + MARGIN_HOURS) % 24, to: (bestStart + bestLength - 1 - MARGIN_HOURS) % 24 };
}

export function inQuietPeriod(period: QuietPeriod, hour: number): boolean {
  const span = (period.to - period.from + 24) % 24;
  return (hour - period.from + 24) % 24 <= span;
}

/** "19:00–06:59" */
export function describeQuietPeriod(period: QuietPeriod): string {
  return `${String(period.from).padStart(2, '0')}:00–${String(period.to).padStart(2, '0')}:59`;
}
