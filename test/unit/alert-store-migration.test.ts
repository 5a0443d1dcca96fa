import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertManager, MAX_RECENT_ALERTS, MAX_SUPPRESSION_ENTRIES } from '../../agent/src/alert/alert-manager.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { AlertStore } from '../../agent/src/store/alert-store.ts';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';
import { sampleAlert } from '../helpers/sample-alert.ts';

/** wardwatch.db as the releases before suppression windows were kept made it. */
const OLD_SCHEMA = `
CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  ts TEXT NOT NULL,
  last_ts TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  device_id TEXT,
  state TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX alerts_ts ON alerts (ts);
CREATE INDEX alerts_open ON alerts (state, ts);
`;

/** The old agent's own INSERT, which names its columns. */
const OLD_INSERT = `INSERT INTO alerts (id, ts, last_ts, type, severity, device_id, state, body)
  VALUES (@id, @ts, @lastTs, @type, @severity, @deviceId, @state, @body)
  ON CONFLICT(id) DO UPDATE SET last_ts = excluded.last_ts, state = excluded.state, body = excluded.body`;

function oldRow(alert: AlertView): Record<string, unknown> {
  return { id: alert.id, ts: alert.ts, lastTs: alert.lastTs, type: alert.type, severity: alert.severity, deviceId: alert.deviceId, state: alert.state, body: JSON.stringify(alert) };
}

function columnsOf(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('alerts')").all();
  } finally {
    db.close();
  }
}

describe('wardwatch.db made before suppression windows were stored', () => {
  it('opens in place: its alerts kept as they were, the two columns added (as a new file has them), old alerts without a key; an old agent can still write it', () => {
    const data = temporaryDataDir();
    try {
      const file = join(data.dir, 'wardwatch.db');
      const open = sampleAlert({ type: 'unauthorized-command', ts: '2026-03-01T10:00:00.000Z', lastTs: '2026-03-01T10:02:00.000Z', count: 3 });
      const acknowledged = sampleAlert({ ts: '2026-03-01T09:00:00.000Z', state: 'acknowledged', ack: { by: 'rn-a', at: '2026-03-01T09:05:00.000Z', reason: 'Checked', from: '10.4.0.10' } });
      const old = new Database(file);
      old.exec(OLD_SCHEMA);
      const insert = old.prepare(OLD_INSERT);
      insert.run(oldRow(open));
      insert.run(oldRow(acknowledged));
      const rowsBefore = old.prepare('SELECT * FROM alerts ORDER BY id').all();
      old.close();

      const store = new AlertStore(file);
      try {
        expect(store.loadRecent(MAX_RECENT_ALERTS)).toEqual([acknowledged, open]);
        expect(store.get(open.id)).toEqual(open);
        expect(store.loadSuppressions(MAX_SUPPRESSION_ENTRIES)).toEqual([]);
        // A new alert keeps its window; an old one updated keeps none.
        const fresh = sampleAlert({ ts: '2026-03-01T11:00:00.000Z' });
        store.alertRaised(fresh, { key: 'dose-above-hard-limit|pump-01|heparin', until: 1_772_363_100_000 });
        store.alertUpdated({ ...open, count: 4 });
        expect(store.loadSuppressions(MAX_SUPPRESSION_ENTRIES)).toEqual([{ alertId: fresh.id, key: 'dose-above-hard-limit|pump-01|heparin', until: 1_772_363_100_000 }]);
        expect(store.get(open.id)?.count).toBe(4);
      } finally {
        store.close();
      }

      const fresh = join(data.dir, 'fresh.db');
      new AlertStore(fresh).close();
      expect(columnsOf(file)).toEqual(columnsOf(fresh));
      const db = new Database(file);
      try {
        const migrated = db.prepare('SELECT id, ts, last_ts, type, severity, device_id, state, body FROM alerts WHERE id = ?').get(acknowledged.id);
        expect(migrated).toEqual(rowsBefore.find((row) => (row as { id: string }).id === acknowledged.id));
        expect(db.prepare('SELECT dedup_key, suppressed_until FROM alerts WHERE id IN (?, ?)').all(open.id, acknowledged.id)).toEqual([
          { dedup_key: null, suppressed_until: null },
          { dedup_key: null, suppressed_until: null },
        ]);
        // Going back to the previous release: its INSERT names its columns, so the added ones are no obstacle.
        db.prepare(OLD_INSERT).run(oldRow(sampleAlert()));
        expect(db.prepare('SELECT count(*) FROM alerts').pluck().get()).toBe(4);
      } finally {
        db.close();
      }
      // Opened again: nothing left to add, the file opens as it is.
      const again = new AlertStore(file);
      expect(again.loadRecent(MAX_RECENT_ALERTS)).toHaveLength(4);
      again.close();
      expect(columnsOf(file)).toEqual(columnsOf(fresh));
    } finally {
      data.remove();
    }
  });

  it('after the upgrade, an old open alert has no window: its next repeat raises a new alert, whose own repeats then fold across the next restart', () => {
    const data = temporaryDataDir();
    try {
      const file = join(data.dir, 'wardwatch.db');
      const t0 = Date.parse('2026-03-01T10:00:00.000Z');
      const open = sampleAlert({ type: 'unauthorized-command', ts: '2026-03-01T10:00:00.000Z', lastTs: '2026-03-01T10:00:00.000Z' });
      const old = new Database(file);
      old.exec(OLD_SCHEMA);
      old.prepare(OLD_INSERT).run(oldRow(open));
      old.close();
      const repeat = { type: 'unauthorized-command' as const, device: null, dedupKey: 'pump-01|guest|stop', title: 'stop from guest', evidence: {} };

      const restart = (at: number): { store: AlertStore; manager: AlertManager } => {
        const store = new AlertStore(file);
        const manager = new AlertManager([store], 300_000, pino({ level: 'silent' }), { alerts: store.loadRecent(MAX_RECENT_ALERTS), suppressions: store.loadSuppressions(MAX_SUPPRESSION_ENTRIES), at });
        return { store, manager };
      };
      const upgraded = restart(t0 + 10_000);
      upgraded.manager.raise({ ...repeat, ts: t0 + 20_000 });
      upgraded.manager.stop();
      upgraded.store.close();
      const afterUpgrade = restart(t0 + 30_000);
      expect(afterUpgrade.manager.list().map((alert) => [alert.id === open.id, alert.count])).toEqual([
        [false, 1],
        [true, 1],
      ]);
      afterUpgrade.manager.raise({ ...repeat, ts: t0 + 40_000 });
      afterUpgrade.manager.stop();
      afterUpgrade.store.close();
      const last = new AlertStore(file);
      expect(last.loadRecent(MAX_RECENT_ALERTS).map((alert) => alert.count)).toEqual([1, 2]);
      last.close();
    } finally {
      data.remove();
    }
  });
});
