/** The learned baseline's progress in plain words; no DOM, so unit tests import it directly. */
import type { BaselineHealthView } from '../../agent/src/server/dashboard-protocol.ts';

function hours(value: number): string {
  return value >= 48 ? `${Math.floor(value / 24)} days` : `${Math.round(value)} h`;
}

/** One line under the device list: whether learned alerts are on, and how much was learned. */
export function baselineText(view: BaselineHealthView): string {
  if (view.mode === 'off') return 'Learned baseline: off';
  if (view.mode === 'learn') return `Learned baseline: learning only, ${hours(view.hoursLearned)} so far; no learned alerts`;
  if (!view.judging) return `Learned baseline: learning, ${hours(view.hoursLearned)} of ${hours(view.learningHours)} done; no learned alerts yet`;
  return `Learned baseline: watching, learned over ${hours(view.hoursLearned)} on ${view.devicesLearned} devices`;
}
