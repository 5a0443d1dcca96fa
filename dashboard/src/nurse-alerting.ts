/**
 * When the nurse screen chimes and when a critical alert counts as escalated. No DOM and
 * no audio here, so unit tests import it directly (test/unit/dashboard-nurse-alerting.test.ts).
 */
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { parseTime } from './format.ts';

/** Used when the agent does not say (an agent that predates `dashboard.escalateCriticalAfterSeconds`). */
export const DEFAULT_ESCALATE_CRITICAL_AFTER_SECONDS = 120;
/** An escalated alert chimes again this often while it stays open. */
export const ESCALATED_CHIME_EVERY_MS = 60_000;

function isOpenCritical(alert: AlertView): boolean {
  return alert.severity === 'critical' && alert.state === 'open';
}

/**
 * Whether an alert that just arrived on the feed chimes: a critical alert, open, that this
 * screen has not shown before. Updates of the same alert (another occurrence, an
 * acknowledgement) are silent; so is the snapshot at page load, which is the past.
 */
export function chimesOnArrival(previous: AlertView | undefined, alert: AlertView): boolean {
  return previous === undefined && isOpenCritical(alert);
}

/** How long an open critical alert has been unacknowledged at `nowMs`, when that makes it escalated; else null. */
export function escalatedFor(alert: AlertView, nowMs: number, escalateAfterSeconds: number): number | null {
  if (!isOpenCritical(alert)) return null;
  const since = parseTime(alert.ts);
  if (Number.isNaN(since)) return null;
  const age = nowMs - since;
  return age >= escalateAfterSeconds * 1_000 ? age : null;
}

/** "UNACKNOWLEDGED for 3 min"; under a minute (a short escalation time) says so rather than "0 min". */
export function escalationLabel(ageMs: number): string {
  const minutes = Math.floor(ageMs / 60_000);
  return minutes < 1 ? 'UNACKNOWLEDGED for under 1 min' : `UNACKNOWLEDGED for ${minutes} min`;
}

/**
 * The escalated alerts due to chime again at `nowMs`: those that have not chimed in the
 * last minute (`lastChimedAt`: alert id → epoch ms of its last chime).
 */
export function escalatedChimesDue(
  alerts: Iterable<AlertView>,
  nowMs: number,
  escalateAfterSeconds: number,
  lastChimedAt: ReadonlyMap<string, number>,
): string[] {
  const due: string[] = [];
  for (const alert of alerts) {
    if (escalatedFor(alert, nowMs, escalateAfterSeconds) === null) continue;
    const last = lastChimedAt.get(alert.id);
    if (last === undefined || nowMs - last >= ESCALATED_CHIME_EVERY_MS) due.push(alert.id);
  }
  return due;
}

/** `?wall` (any value but "0" or "false") asks for the wall-display layout. */
export function wallModeRequested(search: string): boolean {
  const params = new URLSearchParams(search);
  if (!params.has('wall')) return false;
  const value = params.get('wall') ?? '';
  return value !== '0' && value !== 'false';
}
