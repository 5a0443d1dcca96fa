import { formatQuantity } from '../../alert/format.ts';
import type { EnvelopeBounds } from './value-envelope.ts';

const HOUR_MS = 3_600_000;

/** "6 days", "20 hours": how long the baseline behind an alert was learned. */
export function learnedFor(firstSeen: number, ts: number): string {
  const hours = Math.max(0, (ts - firstSeen) / HOUR_MS);
  if (hours >= 48) return `${Math.floor(hours / 24)} days`;
  if (hours >= 24) return '1 day';
  const whole = Math.max(1, Math.round(hours));
  return `${whole} hour${whole === 1 ? '' : 's'}`;
}

/** "8–22 mL/h" */
export function formatRange(bounds: EnvelopeBounds, unit: string): string {
  const range = bounds.low === bounds.high ? formatQuantity(bounds.low) : `${formatQuantity(bounds.low)}–${formatQuantity(bounds.high)}`;
  return unit.length === 0 ? range : `${range} ${unit}`;
}

/** The sentence every learned alert ends with: how to make it normal, if it is (without stopping the monitor first). */
export const ACCEPT_HINT = 'If this is normal, accept it: "Accept as normal for this ward" on the alert\'s page in the dashboard (biomed or admin), or with the agent stopped, wardwatch baseline accept <alert id>';
