import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const UPLINK_OUTBOX_FILE = 'uplink-outbox.db';

export interface OutboxRow {
  /** Position in the ward's outbox, increasing across restarts (SQLite AUTOINCREMENT never reuses one). */
  readonly seq: number;
  readonly alertId: string;
  readonly change: string;
  /** The alert as JSON, spliced into the message at send time. */
  readonly alertJson: string;
  /** Event time of the alert change (ms): the age of the oldest is the uplink's lag. */
  readonly eventTs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id TEXT NOT NULL,
  change TEXT NOT NULL,
  alert TEXT NOT NULL,
  event_ts INTEGER NOT NULL
);
`;

/**
 * The uplink's queue on disk, `<data-dir>/uplink-outbox.db`: every alert change is
 * written here when it is queued and deleted when the central broker has acknowledged it
 * (PUBACK, MQTT 3.1.1 §4.3.2). After a restart, or a crash between a send and its
 * PUBACK, the agent sends what is left, in order; the hub drops what it already has.
 * The in-memory BoundedQueue is the working copy; this file mirrors it row for row, so it
 * is bounded by the same cap. SQLite in WAL mode; alert changes are rare after the alert
 * manager's suppression, so the writes stay off the per-message path.
 */
export class UplinkOutbox {
  private readonly db: Database.Database;
  private readonly insertStatement: Database.Statement;
  private readonly replaceStatement: Database.Statement;
  private readonly deleteStatement: Database.Statement;
  /** True when the file did not exist: this ward has never had an uplink queue before. */
  readonly created: boolean;

  private constructor(file: string) {
    this.created = !existsSync(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.insertStatement = this.db.prepare('INSERT INTO outbox (alert_id, change, alert, event_ts) VALUES (?, ?, ?, ?)');
    this.replaceStatement = this.db.prepare('UPDATE outbox SET change = ?, alert = ?, event_ts = ? WHERE seq = ?');
    this.deleteStatement = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
  }

  static forDataDir(dataDir: string): UplinkOutbox {
    return new UplinkOutbox(join(dataDir, UPLINK_OUTBOX_FILE));
  }

  /** Appends a change; returns its seq. */
  append(alertId: string, change: string, alertJson: string, eventTs: number): number {
    return Number(this.insertStatement.run(alertId, change, alertJson, eventTs).lastInsertRowid);
  }

  /** A newer version of an alert whose change is still waiting: same place in the order. */
  replace(seq: number, change: string, alertJson: string, eventTs: number): void {
    this.replaceStatement.run(change, alertJson, eventTs, seq);
  }

  remove(seq: number): void {
    this.deleteStatement.run(seq);
  }

  /**
   * What is left from before, oldest first, at most `limit` rows: older rows beyond it are
   * deleted (the queue's cap applies across a restart too) and their number returned.
   */
  load(limit: number): { readonly rows: OutboxRow[]; readonly dropped: number } {
    const total = (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
    let dropped = 0;
    if (total > limit) {
      dropped = total - limit;
      this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq ASC LIMIT ?)').run(dropped);
    }
    const rows = this.db
      .prepare('SELECT seq, alert_id AS alertId, change, alert AS alertJson, event_ts AS eventTs FROM outbox ORDER BY seq ASC')
      .all() as OutboxRow[];
    return { rows, dropped };
  }

  close(): void {
    this.db.close();
  }
}
