import Database from 'better-sqlite3';
import type { AlertSink } from '../alert/alert-sink.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY,
  ts TEXT NOT NULL,
  last_ts TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  device_id TEXT,
  state TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (state, ts);
`;

/**
 * The embedded store: alerts with their acknowledgements survive a restart. SQLite in
 * WAL mode, one row per alert, the full view as JSON beside indexed columns.
 * Writes are synchronous; alerts are rare after suppression (repeats are batched by the
 * alert manager), so this stays off the per-message path.
 */
export class AlertStore implements AlertSink {
  readonly name = 'store';
  private readonly db: Database.Database;
  private readonly upsertStatement: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.upsertStatement = this.db.prepare(
      `INSERT INTO alerts (id, ts, last_ts, type, severity, device_id, state, body)
       VALUES (@id, @ts, @lastTs, @type, @severity, @deviceId, @state, @body)
       ON CONFLICT(id) DO UPDATE SET last_ts = excluded.last_ts, state = excluded.state, body = excluded.body`,
    );
  }

  private upsert(alert: AlertView): void {
    this.upsertStatement.run({
      id: alert.id,
      ts: alert.ts,
      lastTs: alert.lastTs,
      type: alert.type,
      severity: alert.severity,
      deviceId: alert.deviceId,
      state: alert.state,
      body: JSON.stringify(alert),
    });
  }

  alertRaised(alert: AlertView): void {
    this.upsert(alert);
  }

  alertUpdated(alert: AlertView): void {
    this.upsert(alert);
  }

  /** Every open alert and the most recent others, oldest first, for the start-up snapshot. */
  loadRecent(limit: number): AlertView[] {
    const rows = this.db
      .prepare(`SELECT body FROM alerts WHERE state = 'open' OR id IN (SELECT id FROM alerts ORDER BY ts DESC LIMIT ?) ORDER BY ts ASC`)
      .all(limit) as { body: string }[];
    return rows.map((row) => JSON.parse(row.body) as AlertView);
  }

  /** One alert by id, or null. */
  get(id: string): AlertView | null {
    const row = this.db.prepare('SELECT body FROM alerts WHERE id = ?').get(id) as { body: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.body) as AlertView);
  }

  close(): void {
    this.db.close();
  }
}
