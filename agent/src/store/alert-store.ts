import Database from 'better-sqlite3';
import type { AlertSink } from '../alert/alert-sink.ts';
import type { StoredSuppression, SuppressionWindow } from '../alert/suppression-window.ts';
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
  body TEXT NOT NULL,
  dedup_key TEXT,
  suppressed_until INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (state, ts);
`;

/**
 * Columns added after the first release, in the order CREATE TABLE above ends with them,
 * so that a migrated table and a new one are alike. Nullable: an alert stored before
 * has none (and an older agent, which names its columns on INSERT, can still write).
 * - `dedup_key`, `suppressed_until`: the alert's suppression window (alert/suppression-window.ts),
 *   the key `type|dedupKey` and the event time (epoch ms) it runs to. Kept beside the
 *   row, never in `body` (the AlertView that leaves the agent).
 */
const ADDED_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ['dedup_key', 'TEXT'],
  ['suppressed_until', 'INTEGER'],
];

/**
 * Brings a wardwatch.db made by an earlier release up to date in place: ALTER TABLE ADD
 * COLUMN (https://www.sqlite.org/lang_altertable.html §4, "ALTER TABLE ADD COLUMN") changes
 * only the schema, not the rows, so it takes the same time whatever the table's size. In one IMMEDIATE transaction, the check
 * made again inside the lock, so that two processes opening the file at once (the agent,
 * `wardwatch baseline accept`) add each column once. Returns the columns it added.
 */
function addMissingColumns(db: Database.Database): string[] {
  const missing = (): (readonly [string, string])[] => {
    const present = new Set(db.prepare("SELECT name FROM pragma_table_info('alerts')").pluck().all() as string[]);
    return ADDED_COLUMNS.filter(([name]) => !present.has(name));
  };
  // The usual case takes no write lock.
  if (missing().length === 0) return [];
  const migrate = db.transaction(() => {
    const columns = missing();
    for (const [name, type] of columns) db.exec(`ALTER TABLE alerts ADD COLUMN ${name} ${type}`);
    return columns.map(([name]) => name);
  });
  return migrate.immediate();
}

/**
 * The embedded store: alerts with their acknowledgements, and the suppression window of
 * each, survive a restart. SQLite in WAL mode, one row per alert, the full view as JSON
 * beside indexed columns and the window.
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
    addMissingColumns(this.db);
    // An update leaves the window as the alert was raised with: repeats fold into it, they do not extend it.
    this.upsertStatement = this.db.prepare(
      `INSERT INTO alerts (id, ts, last_ts, type, severity, device_id, state, body, dedup_key, suppressed_until)
       VALUES (@id, @ts, @lastTs, @type, @severity, @deviceId, @state, @body, @dedupKey, @suppressedUntil)
       ON CONFLICT(id) DO UPDATE SET last_ts = excluded.last_ts, state = excluded.state, body = excluded.body`,
    );
  }

  private upsert(alert: AlertView, suppression: SuppressionWindow | null): void {
    this.upsertStatement.run({
      id: alert.id,
      ts: alert.ts,
      lastTs: alert.lastTs,
      type: alert.type,
      severity: alert.severity,
      deviceId: alert.deviceId,
      state: alert.state,
      body: JSON.stringify(alert),
      dedupKey: suppression?.key ?? null,
      suppressedUntil: suppression?.until ?? null,
    });
  }

  /** `suppression` absent: an alert that was not raised here (`wardwatch hub` keeps the wards' alerts in an AlertStore too). */
  alertRaised(alert: AlertView, suppression: SuppressionWindow | null = null): void {
    this.upsert(alert, suppression);
  }

  alertUpdated(alert: AlertView): void {
    this.upsert(alert, null);
  }

  /** Every open alert and the most recent others, oldest first, for the start-up snapshot. */
  loadRecent(limit: number): AlertView[] {
    const rows = this.db
      .prepare(`SELECT body FROM alerts WHERE state = 'open' OR id IN (SELECT id FROM alerts ORDER BY ts DESC LIMIT ?) ORDER BY ts ASC`)
      .all(limit) as { body: string }[];
    return rows.map((row) => JSON.parse(row.body) as AlertView);
  }

  /**
   * The suppression windows of open alerts, newest `until` first, at most `limit`, for the
   * alert manager to rebuild its table at start (it decides which still run). Alerts
   * stored before windows were kept have none and are left out.
   */
  loadSuppressions(limit: number): StoredSuppression[] {
    const rows = this.db
      .prepare(`SELECT id, dedup_key, suppressed_until FROM alerts WHERE state = 'open' AND dedup_key IS NOT NULL AND suppressed_until IS NOT NULL ORDER BY suppressed_until DESC LIMIT ?`)
      .all(limit) as { id: string; dedup_key: string; suppressed_until: number }[];
    return rows.map((row) => ({ alertId: row.id, key: row.dedup_key, until: row.suppressed_until }));
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
