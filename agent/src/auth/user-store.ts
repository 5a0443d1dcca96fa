import { chmodSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isUserRole, USER_ROLES, type UserRole } from './roles.ts';
import type { DashboardUserView } from '../server/dashboard-protocol.ts';

/**
 * The dashboard's accounts, in SQLite (better-sqlite3, as store/alert-store.ts).
 *
 * A file of its own, `<data-dir>/users.db`, not a table in wardwatch.db: credentials and
 * alerts have different lives. wardwatch.db is evidence that gets copied for an incident
 * review, exported or deleted to start afresh; users.db holds password hashes and sealed
 * TOTP secrets, is created owner-only (0600; SQLite gives its -wal and -shm files the
 * same mode) and is backed up apart from secret.key. Deleting the alert history must not
 * delete the accounts, nor the reverse.
 *
 * WAL mode and a busy timeout let `wardwatch users …` change accounts while the agent
 * runs: a disabled user is refused at the next login without a restart. Every state
 * change that a login races with (claiming a TOTP step, using a recovery code, counting a
 * failure) is a single statement or an IMMEDIATE transaction, atomic across processes.
 */

export const USERS_DB_FILE = 'users.db';

/** The roles the table accepts, from auth/roles.ts: a role added there is accepted here after `migrateRoleCheck`. */
const ROLE_CHECK = `CHECK (role IN (${USER_ROLES.map((role) => `'${role}'`).join(', ')}))`;

const usersTable = (name: string): string => `
CREATE TABLE IF NOT EXISTS ${name} (
  username TEXT PRIMARY KEY COLLATE NOCASE,
  role TEXT NOT NULL ${ROLE_CHECK},
  password_hash TEXT NOT NULL,
  totp_secret BLOB,
  totp_last_step INTEGER,
  recovery_codes TEXT NOT NULL DEFAULT '[]',
  disabled INTEGER NOT NULL DEFAULT 0,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`;

const COLUMNS = 'username, role, password_hash, totp_secret, totp_last_step, recovery_codes, disabled, failed_logins, locked_until, created_at, updated_at';

/**
 * A users.db made before a role was added (`display`) has a CHECK that refuses it, and
 * SQLite cannot alter a CHECK in place: the table is rebuilt with the current one, rows
 * copied as they are (the procedure of https://www.sqlite.org/lang_altertable.html §7,
 * in one IMMEDIATE transaction, so that a `wardwatch users …` running beside the agent
 * sees either table, never half of one). Returns whether it rebuilt.
 */
function migrateRoleCheck(db: Database.Database): boolean {
  const current = (): boolean => {
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'users'").pluck().get() as string | undefined;
    return sql === undefined || sql.includes(ROLE_CHECK);
  };
  // The usual case takes no write lock; the check is made again inside the lock, since another process may have rebuilt it meanwhile.
  if (current()) return false;
  const migrate = db.transaction(() => {
    if (current()) return false;
    db.exec('DROP TABLE IF EXISTS users_rebuilt');
    db.exec(usersTable('users_rebuilt'));
    db.exec(`INSERT INTO users_rebuilt (${COLUMNS}) SELECT ${COLUMNS} FROM users`);
    db.exec('DROP TABLE users');
    db.exec('ALTER TABLE users_rebuilt RENAME TO users');
    return true;
  });
  return migrate.immediate();
}

/** A row as stored. `totpSecret` is sealed (auth/secret-box.ts), never the secret itself. */
export interface UserRecord {
  readonly username: string;
  readonly role: UserRole;
  readonly passwordHash: string;
  /** AES-256-GCM box of the TOTP secret; null until the user enrolled at first login. */
  readonly totpSecret: Buffer | null;
  /** RFC 6238 §5.2: the time step of the last accepted code, so that it is not accepted again. */
  readonly totpLastStep: number | null;
  /** SHA-256 (hex) of each unused recovery code. */
  readonly recoveryCodeHashes: readonly string[];
  readonly disabled: boolean;
  /** Consecutive failed logins since the last success or lockout. */
  readonly failedLogins: number;
  /** Epoch ms until which logins are refused, or null. */
  readonly lockedUntil: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What may leave the auth layer, as GET /api/users sends it: no hash, no secret. */
export type UserView = DashboardUserView;

export function userView(record: UserRecord): UserView {
  return {
    username: record.username,
    role: record.role,
    mfaEnrolled: record.totpSecret !== null,
    recoveryCodesLeft: record.recoveryCodeHashes.length,
    disabled: record.disabled,
    failedLogins: record.failedLogins,
    lockedUntil: record.lockedUntil,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

export interface NewUser {
  readonly username: string;
  readonly role: UserRole;
  readonly passwordHash: string;
}

export class UserExistsError extends Error {
  readonly code = 'USER_EXISTS';

  constructor(username: string) {
    super(`user ${username} already exists`);
  }
}

interface Row {
  username: string;
  role: string;
  password_hash: string;
  totp_secret: Buffer | null;
  totp_last_step: number | null;
  recovery_codes: string;
  disabled: number;
  failed_logins: number;
  locked_until: number | null;
  created_at: string;
  updated_at: string;
}

function parseCodes(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

function toRecord(row: Row): UserRecord {
  return {
    username: row.username,
    // The CHECK constraint keeps other values out; a row edited by hand to another role gets the least privilege.
    role: isUserRole(row.role) ? row.role : 'display',
    passwordHash: row.password_hash,
    totpSecret: row.totp_secret,
    totpLastStep: row.totp_last_step,
    recoveryCodeHashes: parseCodes(row.recovery_codes),
    disabled: row.disabled !== 0,
    failedLogins: row.failed_logins,
    lockedUntil: row.locked_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function iso(now: number): string {
  return new Date(now).toISOString();
}

/** Creates the file owner-only before SQLite opens it, so that it is never readable by others, even briefly. */
function createPrivate(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

export class UserStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    createPrivate(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(usersTable('users'));
    migrateRoleCheck(this.db);
  }

  static forDataDir(dataDir: string): UserStore {
    return new UserStore(join(dataDir, USERS_DB_FILE));
  }

  /** Adds a user without MFA (enrolled at first login); throws UserExistsError for a taken name (case-insensitive). */
  add(user: NewUser, now: number): UserRecord {
    try {
      this.db
        .prepare('INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
        .run(user.username, user.role, user.passwordHash, iso(now), iso(now));
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new UserExistsError(user.username);
      throw error;
    }
    return this.get(user.username) as UserRecord;
  }

  get(username: string): UserRecord | null {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
    return row === undefined ? null : toRecord(row);
  }

  list(): UserRecord[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as Row[]).map(toRecord);
  }

  /** False when there is no such user. */
  setDisabled(username: string, disabled: boolean, now: number): boolean {
    return this.db.prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE username = ?').run(disabled ? 1 : 0, iso(now), username).changes === 1;
  }

  /** Ends a lockout early and forgets counted failures (an administrator's decision). */
  clearLockout(username: string, now: number): boolean {
    return this.db.prepare('UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = ? WHERE username = ?').run(iso(now), username).changes === 1;
  }

  /**
   * Stores a confirmed enrolment: the sealed secret, the step of the code that confirmed
   * it (already used, RFC 6238 §5.2) and fresh recovery code hashes. Only for a user not
   * enrolled yet: replacing a second factor needs `users reset-mfa` first, so that someone
   * who learned a password cannot enrol a factor of their own over the user's.
   */
  enrolMfa(username: string, sealedSecret: Buffer, confirmedStep: number, recoveryCodeHashes: readonly string[], now: number): boolean {
    return (
      this.db
        .prepare('UPDATE users SET totp_secret = ?, totp_last_step = ?, recovery_codes = ?, updated_at = ? WHERE username = ? AND totp_secret IS NULL')
        .run(sealedSecret, confirmedStep, JSON.stringify(recoveryCodeHashes), iso(now), username).changes === 1
    );
  }

  /** Clears the TOTP secret and the recovery codes: the user enrols again at the next login. */
  resetMfa(username: string, now: number): boolean {
    return this.db.prepare("UPDATE users SET totp_secret = NULL, totp_last_step = NULL, recovery_codes = '[]', updated_at = ? WHERE username = ?").run(iso(now), username).changes === 1;
  }

  /** Replaces every recovery code (the old ones stop working). */
  setRecoveryCodes(username: string, hashes: readonly string[], now: number): boolean {
    return this.db.prepare('UPDATE users SET recovery_codes = ?, updated_at = ? WHERE username = ?').run(JSON.stringify(hashes), iso(now), username).changes === 1;
  }

  /**
   * Records `step` as used if it is later than the last used one; false if it is not (the
   * code was replayed, possibly by a concurrent login that got there first). One
   * conditional UPDATE, atomic across processes.
   */
  claimTotpStep(username: string, step: number): boolean {
    return (
      this.db
        .prepare('UPDATE users SET totp_last_step = ? WHERE username = ? AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < ?)')
        .run(step, username, step).changes === 1
    );
  }

  /**
   * Removes the recovery code that `pick` finds among the stored hashes (its index, or -1)
   * and reports how many are left. Read, compare and remove are one IMMEDIATE transaction,
   * so a code cannot be spent twice by two logins at once.
   */
  consumeRecoveryCode(username: string, pick: (hashes: readonly string[]) => number, now: number): { readonly consumed: boolean; readonly left: number } {
    const run = this.db.transaction(() => {
      const record = this.get(username);
      if (record === null) return { consumed: false, left: 0 };
      const index = pick(record.recoveryCodeHashes);
      if (index < 0) return { consumed: false, left: record.recoveryCodeHashes.length };
      const left = record.recoveryCodeHashes.filter((_, position) => position !== index);
      this.db.prepare('UPDATE users SET recovery_codes = ?, updated_at = ? WHERE username = ?').run(JSON.stringify(left), iso(now), username);
      return { consumed: true, left: left.length };
    });
    return run.immediate();
  }

  /**
   * Counts a failed login. `lockUntil` is the guard's policy (auth/login-guard.ts): given
   * the new count of consecutive failures, the time the account is locked until, or null.
   * A lockout starts the count again, so after it ends the user has the full number of
   * attempts before the next one.
   */
  recordFailure(username: string, lockUntil: (failures: number) => number | null): { readonly failedLogins: number; readonly lockedUntil: number | null } {
    const run = this.db.transaction(() => {
      const row = this.db.prepare('SELECT failed_logins FROM users WHERE username = ?').get(username) as { failed_logins: number } | undefined;
      if (row === undefined) return { failedLogins: 0, lockedUntil: null };
      const failures = row.failed_logins + 1;
      const until = lockUntil(failures);
      const failedLogins = until === null ? failures : 0;
      this.db
        .prepare('UPDATE users SET failed_logins = ?, locked_until = COALESCE(?, locked_until) WHERE username = ?')
        .run(failedLogins, until, username);
      return { failedLogins, lockedUntil: until };
    });
    return run.immediate();
  }

  /** A successful login: no failures counted, no lock. */
  recordSuccess(username: string): void {
    this.db.prepare('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?').run(username);
  }

  close(): void {
    this.db.close();
  }
}
