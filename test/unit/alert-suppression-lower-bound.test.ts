/**
 * The suppression window is bounded below (agent/src/alert/alert-manager.ts `raise`): a
 * finding folds into an open alert of its key only when its event time lies between that
 * alert's first occurrence (`ts`) and the end of its window. An event stamped before the
 * alert, such as a capture with past event times replayed after a restart beside a window
 * rebuilt from the store, raises its own alert; live repeats keep folding into theirs.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertManager, MAX_WINDOWS_PER_KEY, type RestoredAlerts } from '../../agent/src/alert/alert-manager.ts';
import type { AlertSink } from '../../agent/src/alert/alert-sink.ts';
import type { Finding } from '../../agent/src/alert/finding.ts';
import type { StoredSuppression, SuppressionWindow } from '../../agent/src/alert/suppression-window.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';

const WINDOW_MS = 300_000;
const T0 = Date.parse('2026-11-28T08:00:00Z');
const HOUR = 3_600_000;
const silent = pino({ level: 'silent' });

class RecordingSink implements AlertSink {
  readonly name = 'recorder';
  readonly raised: { alert: AlertView; window: SuppressionWindow }[] = [];

  alertRaised(alert: AlertView, window: SuppressionWindow): void {
    this.raised.push({ alert, window });
  }

  alertUpdated(): void {}
}

function finding(ts: number, dedupKey = 'pump-02|acct-probe-7|10.9.8.7|stop'): Finding {
  return { type: 'unauthorized-command', ts, device: null, dedupKey, title: 'Bed 2 · pump-02: stop from an account not allowed to', evidence: { account: 'acct-probe-7' } };
}

function managerWith(restored?: RestoredAlerts, windowMs = WINDOW_MS): { manager: AlertManager; sink: RecordingSink } {
  const sink = new RecordingSink();
  return { manager: new AlertManager([sink], windowMs, silent, restored), sink };
}

/** One alert raised before a restart (with `windowMs`), and what the store kept of it. */
function raisedBefore(ts: number, windowMs = WINDOW_MS): { alert: AlertView; stored: StoredSuppression } {
  const { manager, sink } = managerWith(undefined, windowMs);
  manager.raise(finding(ts));
  const raised = sink.raised[0];
  if (raised === undefined) throw new Error('no alert raised');
  return { alert: raised.alert, stored: { alertId: raised.alert.id, ...raised.window } };
}

describe('the suppression window runs from the alert\'s first occurrence', () => {
  it('an occurrence stamped before the alert raises its own; one at its first occurrence, or at the window\'s end, folds', () => {
    const { manager, sink } = managerWith();
    manager.raise(finding(T0));
    manager.raise(finding(T0));
    const first = sink.raised[0]?.alert;
    expect(manager.get(first?.id ?? '')?.count).toBe(2);
    manager.raise(finding(T0 - 1));
    expect(sink.raised.map((raised) => raised.alert.ts)).toEqual(['2026-11-28T08:00:00.000Z', '2026-11-28T07:59:59.999Z']);
    expect(manager.get(first?.id ?? '')?.count).toBe(2);
    // Past the earlier alert's window (it ends 1 ms sooner), still within the first's.
    manager.raise(finding(T0 + WINDOW_MS));
    expect(manager.get(first?.id ?? '')).toMatchObject({ count: 3, lastTs: '2026-11-28T08:05:00.000Z' });
    expect(sink.raised).toHaveLength(2);
  });

  it('after a restart: a capture replayed with past event times raises its own alert and folds its repeats there; live repeats still fold into the restored one', () => {
    const restored = raisedBefore(T0);
    const { manager, sink } = managerWith({ alerts: [restored.alert], suppressions: [restored.stored], at: T0 + 60_000 });
    expect(manager.suppressionEntries).toBe(1);
    // Yesterday's capture, replayed: three occurrences a minute apart, interleaved with live ones.
    const replayed = T0 - 24 * HOUR;
    manager.raise(finding(replayed));
    manager.raise(finding(T0 + 90_000));
    manager.raise(finding(replayed + 60_000));
    manager.raise(finding(T0 + 120_000));
    manager.raise(finding(replayed + 120_000));
    expect(sink.raised.map((raised) => raised.alert.ts)).toEqual(['2026-11-27T08:00:00.000Z']);
    expect(sink.raised[0]?.window.until).toBe(replayed + WINDOW_MS);
    const ownAlert = sink.raised[0]?.alert.id ?? '';
    expect(manager.get(ownAlert)).toMatchObject({ count: 3, lastTs: '2026-11-27T08:02:00.000Z' });
    expect(manager.get(restored.alert.id)).toMatchObject({ count: 3, lastTs: '2026-11-28T08:02:00.000Z' });
    expect(manager.raisedCount).toBe(1);
  });

  it('the lower bound after a restart is the alert\'s own first occurrence, not the end of its (possibly cut) window less the window now configured', () => {
    // Raised with a 10 min window; the agent restarts 10 s later with suppressionSeconds 300.
    const restored = raisedBefore(T0, 2 * WINDOW_MS);
    expect(restored.stored.until).toBe(T0 + 2 * WINDOW_MS);
    const { manager, sink } = managerWith({ alerts: [restored.alert], suppressions: [restored.stored], at: T0 + 10_000 });
    // Cut to one (new) window past the start: T0 + 310 s; `until - suppressionMs` would be T0 + 10 s.
    manager.raise(finding(T0 + 5_000));
    expect(sink.raised).toEqual([]);
    expect(manager.get(restored.alert.id)?.count).toBe(2);
    manager.raise(finding(T0 + 10_000 + WINDOW_MS + 1));
    expect(sink.raised).toHaveLength(1);
  });

  it(`at most ${MAX_WINDOWS_PER_KEY} windows per key: a third timeline lets go of the least recently used, whose next occurrence then raises anew`, () => {
    const { manager, sink } = managerWith();
    const live = T0;
    const yesterday = T0 - 24 * HOUR;
    const lastWeek = T0 - 7 * 24 * HOUR;
    manager.raise(finding(live));
    manager.raise(finding(yesterday));
    manager.raise(finding(live + 1_000));
    expect(sink.raised).toHaveLength(2);
    // The third: yesterday's window was used least recently, so it goes.
    manager.raise(finding(lastWeek));
    manager.raise(finding(live + 2_000));
    manager.raise(finding(lastWeek + 1_000));
    expect(sink.raised).toHaveLength(3);
    manager.raise(finding(yesterday + 1_000));
    expect(sink.raised.map((raised) => raised.alert.ts)).toEqual(['2026-11-28T08:00:00.000Z', '2026-11-27T08:00:00.000Z', '2026-11-21T08:00:00.000Z', '2026-11-27T08:00:01.000Z']);
    expect(manager.suppressionEntries).toBe(1);
    expect(manager.list().map((alert) => alert.count).sort()).toEqual([1, 1, 2, 3]);
  });
});
