import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertManager, MAX_RECENT_ALERTS, MAX_SUPPRESSION_ENTRIES, type RestoredAlerts } from '../../agent/src/alert/alert-manager.ts';
import type { AlertSink } from '../../agent/src/alert/alert-sink.ts';
import type { Finding } from '../../agent/src/alert/finding.ts';
import { restorableWindows, type StoredSuppression, type SuppressionWindow } from '../../agent/src/alert/suppression-window.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { AlertStore } from '../../agent/src/store/alert-store.ts';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';

const WINDOW_MS = 300_000;
const T0 = Date.parse('2026-11-28T08:00:00Z');
const silent = pino({ level: 'silent' });

/** Records what the manager hands its outputs, the suppression window with each new alert. */
class RecordingSink implements AlertSink {
  readonly name = 'recorder';
  readonly raised: { alert: AlertView; window: SuppressionWindow }[] = [];
  readonly updated: { alert: AlertView; change: string }[] = [];

  alertRaised(alert: AlertView, window: SuppressionWindow): void {
    this.raised.push({ alert, window });
  }

  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void {
    this.updated.push({ alert, change });
  }
}

/** The dedup key names an account and an address, as real ones do: they must stay out of every view. */
function finding(ts: number, dedupKey = 'pump-02|acct-probe-7|10.9.8.7|stop'): Finding {
  return { type: 'unauthorized-command', ts, device: null, dedupKey, title: 'Bed 2 · pump-02: stop from an account not allowed to', evidence: { account: 'acct-probe-7' } };
}

/** A manager before the restart raises one alert; returns what the store would have kept of it. */
function raisedBefore(ts: number, dedupKey?: string): { alert: AlertView; stored: StoredSuppression } {
  const sink = new RecordingSink();
  new AlertManager([sink], WINDOW_MS, silent).raise(finding(ts, dedupKey));
  const raised = sink.raised[0];
  if (raised === undefined) throw new Error('no alert raised');
  return { alert: raised.alert, stored: { alertId: raised.alert.id, ...raised.window } };
}

function restarted(restored: RestoredAlerts): { manager: AlertManager; sink: RecordingSink } {
  const sink = new RecordingSink();
  return { manager: new AlertManager([sink], WINDOW_MS, silent, restored), sink };
}

describe('the suppression table after a restart', () => {
  it('a new alert hands its window (type|dedupKey, event time + suppressionSeconds) to the outputs beside the view, never inside it', () => {
    const { alert, stored } = raisedBefore(T0);
    expect(stored).toEqual({ alertId: alert.id, key: 'unauthorized-command|pump-02|acct-probe-7|10.9.8.7|stop', until: T0 + WINDOW_MS });
    expect(Object.keys(alert).sort()).toEqual(['ack', 'bed', 'count', 'deviceId', 'evidence', 'id', 'lastTs', 'location', 'severity', 'state', 'title', 'ts', 'type', 'ward']);
    expect(JSON.stringify(alert)).not.toContain('10.9.8.7');
  });

  it('rebuilt from the reloaded open alerts: a repeat after the restart folds into the old alert (count + 1, lastTs), written as a repeat', () => {
    const { alert, stored } = raisedBefore(T0);
    const { manager, sink } = restarted({ alerts: [alert], suppressions: [stored], at: T0 + 60_000 });
    expect(manager.suppressionEntries).toBe(1);
    manager.raise(finding(T0 + 120_000));
    expect(sink.raised).toEqual([]);
    expect(manager.list()).toEqual([{ ...alert, count: 2, lastTs: '2026-11-28T08:02:00.000Z' }]);
    expect(manager.raisedCount).toBe(0);
    manager.flush();
    expect(sink.updated).toEqual([{ alert: { ...alert, count: 2, lastTs: '2026-11-28T08:02:00.000Z' }, change: 'repeated' }]);
    // The window is the one raised before the restart, not extended: past it, a new alert.
    manager.raise(finding(T0 + WINDOW_MS + 1));
    expect(sink.raised.map((raised) => raised.window.until)).toEqual([T0 + 2 * WINDOW_MS + 1]);
  });

  it('a window that ended before the restart is not rebuilt: the next occurrence is a new alert; one still running is', () => {
    const ended = raisedBefore(T0, 'pump-02|ended');
    const running = raisedBefore(T0 + 2_000, 'pump-02|running');
    const { manager, sink } = restarted({ alerts: [ended.alert, running.alert], suppressions: [ended.stored, running.stored], at: T0 + WINDOW_MS + 1_000 });
    expect(manager.suppressionEntries).toBe(1);
    manager.raise(finding(T0 + WINDOW_MS + 1_500, 'pump-02|running'));
    // A capture replayed with past event times that fell into the ended window: its own alert, not a fold into the old one.
    manager.raise(finding(T0 + 1_000, 'pump-02|ended'));
    expect(sink.raised.map((raised) => raised.window.key)).toEqual(['unauthorized-command|pump-02|ended']);
    expect(manager.get(ended.alert.id)?.count).toBe(1);
    expect(manager.get(running.alert.id)?.count).toBe(2);
  });

  it('an acknowledged alert absorbs no repeat after the restart either; an open one beside it does', () => {
    const { alert, stored } = raisedBefore(T0);
    const open = raisedBefore(T0, 'pump-01|still-open');
    const acknowledged: AlertView = { ...alert, state: 'acknowledged', ack: { by: 'rn-a', at: '2026-11-28T08:00:30.000Z', reason: 'Investigating', from: '10.4.0.10' } };
    const { manager, sink } = restarted({ alerts: [acknowledged, open.alert], suppressions: [stored, open.stored], at: T0 + 60_000 });
    expect(manager.suppressionEntries).toBe(1);
    manager.raise(finding(T0 + 120_000));
    manager.raise(finding(T0 + 120_000, 'pump-01|still-open'));
    expect(sink.raised.map((raised) => raised.window.key)).toEqual(['unauthorized-command|pump-02|acct-probe-7|10.9.8.7|stop']);
    expect(manager.get(alert.id)?.count).toBe(1);
    expect(manager.get(open.alert.id)?.count).toBe(2);
  });

  it('a window raised by future event times (a capture) is cut to one window past the restart: it cannot swallow live repeats for years', () => {
    // Half a window ahead of the start: from its first occurrence to the cut (T0 + WINDOW_MS), not to T0 + 1.5 windows.
    const { alert, stored } = raisedBefore(T0 + WINDOW_MS / 2);
    const { manager, sink } = restarted({ alerts: [alert], suppressions: [stored], at: T0 });
    manager.raise(finding(T0 + WINDOW_MS));
    expect(sink.raised).toHaveLength(0);
    expect(manager.get(alert.id)?.count).toBe(2);
    manager.raise(finding(T0 + WINDOW_MS + 1));
    expect(sink.raised).toHaveLength(1);
    // Years ahead: every live occurrence is stamped before the alert's first, so none folds into it.
    const farOff = raisedBefore(Date.parse('2035-01-01T00:00:00Z'), 'pump-02|far-off');
    const later = restarted({ alerts: [farOff.alert], suppressions: [farOff.stored], at: T0 });
    later.manager.raise(finding(T0 + 1_000, 'pump-02|far-off'));
    expect(later.sink.raised).toHaveLength(1);
    expect(later.manager.get(farOff.alert.id)?.count).toBe(1);
  });

  it('only windows of alerts still held in memory are rebuilt (a repeat never folds into one let go); newest kept per key', () => {
    const older = raisedBefore(T0);
    const newer = raisedBefore(T0 + 1_000);
    const { manager, sink } = restarted({ alerts: [older.alert, newer.alert], suppressions: [newer.stored, older.stored, { alertId: 'gone', key: 'x|y', until: T0 + WINDOW_MS }], at: T0 + 2_000 });
    expect(manager.suppressionEntries).toBe(1);
    manager.raise(finding(T0 + 3_000));
    expect(sink.raised).toHaveLength(0);
    expect(manager.get(newer.alert.id)?.count).toBe(2);
    expect(manager.get(older.alert.id)?.count).toBe(1);
  });

  it('the table stays within MAX_SUPPRESSION_ENTRIES, newest kept; and within what memory holds of the alerts', () => {
    const now = T0;
    const windows: StoredSuppression[] = [];
    for (let i = 0; i <= MAX_SUPPRESSION_ENTRIES; i += 1) windows.push({ alertId: `a${i}`, key: `k${i}`, until: now + 1 + i });
    const kept = restorableWindows([...windows].reverse(), () => true, now, WINDOW_MS, MAX_SUPPRESSION_ENTRIES);
    expect(kept.windows).toHaveLength(MAX_SUPPRESSION_ENTRIES);
    expect(kept.overCap).toBe(1);
    expect(kept.windows[0]?.alertId).toBe('a1');
    expect(kept.windows.at(-1)?.alertId).toBe(`a${MAX_SUPPRESSION_ENTRIES}`);

    // Through the manager: open critical alerts beyond twice MAX_RECENT_ALERTS are let go, and so are their windows.
    const alerts: AlertView[] = [];
    const stored: StoredSuppression[] = [];
    for (let i = 0; i < 2 * MAX_RECENT_ALERTS + 500; i += 1) {
      const { alert, stored: window } = raisedBefore(T0 + i, `pump-02|sender-${i}`);
      alerts.push(alert);
      stored.push(window);
    }
    const { manager, sink } = restarted({ alerts, suppressions: stored, at: T0 + 10_000 });
    expect(manager.suppressionEntries).toBe(2 * MAX_RECENT_ALERTS);
    manager.raise(finding(T0 + 20_000, `pump-02|sender-${2 * MAX_RECENT_ALERTS + 499}`));
    manager.raise(finding(T0 + 20_000, 'pump-02|sender-0'));
    expect(sink.raised.map((raised) => raised.window.key)).toEqual(['unauthorized-command|pump-02|sender-0']);
  });

  it('through the real store file: raise, stop, reopen, repeat: one alert with count 2 on disk, the key beside it and not in its body', () => {
    const data = temporaryDataDir();
    try {
      const file = join(data.dir, 'wardwatch.db');
      const before = new AlertStore(file);
      const first = new AlertManager([before], WINDOW_MS, silent);
      first.raise(finding(T0));
      first.stop();
      before.close();

      const after = new AlertStore(file);
      const alerts = after.loadRecent(MAX_RECENT_ALERTS);
      const second = new AlertManager([after], WINDOW_MS, silent, { alerts, suppressions: after.loadSuppressions(MAX_SUPPRESSION_ENTRIES), at: T0 + 30_000 });
      expect(second.suppressionEntries).toBe(1);
      second.raise(finding(T0 + 60_000));
      second.stop();
      after.close();

      const db = new Database(file, { readonly: true });
      const rows = db.prepare('SELECT body, dedup_key, suppressed_until FROM alerts').all() as { body: string; dedup_key: string; suppressed_until: number }[];
      db.close();
      expect(rows).toHaveLength(1);
      expect(JSON.parse(rows[0]?.body ?? '{}')).toMatchObject({ id: alerts[0]?.id, count: 2, lastTs: '2026-11-28T08:01:00.000Z' });
      expect(rows[0]?.dedup_key).toBe('unauthorized-command|pump-02|acct-probe-7|10.9.8.7|stop');
      expect(rows[0]?.suppressed_until).toBe(T0 + WINDOW_MS);
      expect(rows[0]?.body).not.toContain('10.9.8.7');
    } finally {
      data.remove();
    }
  });
});
