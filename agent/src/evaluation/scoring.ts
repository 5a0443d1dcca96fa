import type { ExpectedAlert, Scenario } from '../../../simulators/src/scenarios/scenario-schema.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';

export interface ExpectationOutcome {
  readonly expected: ExpectedAlert;
  /** The first alert that meets the expectation within its bound, or null. */
  readonly alert: AlertView | null;
  /** Time from the trigger step to that alert, ms; null when not detected. */
  readonly latencyMs: number | null;
  /** A matching alert that came too late, to tell "slow" from "missed". */
  readonly lateAlert: AlertView | null;
}

export interface ScenarioScore {
  readonly benign: boolean;
  readonly expectations: readonly ExpectationOutcome[];
  /** Alerts no expectation accounts for. */
  readonly unexpected: readonly AlertView[];
  readonly passed: boolean;
  /** Why it failed, in plain words; empty when passed. */
  readonly problems: readonly string[];
}

const SERIOUS = new Set(['critical', 'high']);

function matches(alert: AlertView, expected: ExpectedAlert): boolean {
  return alert.type === expected.type
    && (expected.severity === undefined || alert.severity === expected.severity)
    && (expected.device === undefined || alert.deviceId === expected.device);
}

/**
 * Scores a scenario run: every expected alert must appear, matching type, severity and
 * device, no earlier than the trigger and within its latency bound; a benign scenario
 * must raise nothing high or critical. The same function scores an evaluation and a
 * live run, so both report alike.
 */
export function scoreScenario(scenario: Scenario, alerts: readonly AlertView[], triggerAt: number): ScenarioScore {
  const chronological = [...alerts].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  const used = new Set<string>();
  const problems: string[] = [];
  const expectations: ExpectationOutcome[] = [];
  const benign = scenario.expect === 'none';
  if (scenario.expect !== 'none') {
    for (const expected of scenario.expect.alerts) {
      let found: AlertView | null = null;
      let late: AlertView | null = null;
      let foundAt = 0;
      for (const alert of chronological) {
        if (!matches(alert, expected)) continue;
        // A live agent may fold this run's occurrence into an alert an earlier run opened
        // (same dedup key within the suppression window): then its latest occurrence counts.
        const at = Date.parse(alert.ts) >= triggerAt ? Date.parse(alert.ts) : alert.count > 1 ? Date.parse(alert.lastTs) : Number.NaN;
        if (!(at >= triggerAt)) continue;
        if (at - triggerAt <= expected.within) {
          found = alert;
          foundAt = at;
          break;
        }
        late ??= alert;
      }
      if (found !== null) used.add(found.id);
      const latencyMs = found === null ? null : foundAt - triggerAt;
      expectations.push({ expected, alert: found, latencyMs, lateAlert: found === null ? late : null });
      if (found === null) {
        const what = `${expected.type}${expected.severity ? ` (${expected.severity})` : ''}${expected.device ? ` on ${expected.device}` : ''}`;
        problems.push(late === null ? `missed ${what}` : `${what} came after ${Date.parse(late.ts) - triggerAt} ms, bound ${expected.within} ms`);
      }
    }
  }
  const unexpected = chronological.filter((alert) => !used.has(alert.id) && !expectations.some((outcome) => outcome.lateAlert?.id === alert.id));
  if (benign) {
    for (const alert of unexpected) {
      if (SERIOUS.has(alert.severity)) problems.push(`benign scenario raised ${alert.severity} ${alert.type}: ${alert.title}`);
    }
  }
  return { benign, expectations, unexpected, passed: problems.length === 0, problems };
}
