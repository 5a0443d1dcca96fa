import type { Logger } from 'pino';
import { AuditLog, readAuditTail, verifyAuditLog } from '../audit/audit-log.ts';
import { LoginGuard, type LoginBurst } from '../auth/login-guard.ts';
import { SecretBox } from '../auth/secret-box.ts';
import { UserStore, userView } from '../auth/user-store.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { DashboardAuth } from './dashboard-auth.ts';
import type { AuditView, DashboardUserView } from './dashboard-protocol.ts';
import { SessionStore, type SessionEndReason, type SessionOptions } from './sessions.ts';

/** What a closed live feed tells the page, per reason its session ended. */
export const SESSION_END_TEXT: Readonly<Record<SessionEndReason, string>> = {
  logout: 'logged out',
  idle: 'signed out after a time without use',
  expired: 'the session reached its maximum length',
  evicted: 'too many sessions: the oldest was ended',
  replaced: 'logged in again in this browser',
  stopped: 'the agent is stopping',
};

/** How often ended sessions are swept (and their feeds closed): a quarter of the idle timeout, between 250 ms and 15 s. */
export function sweepInterval(idleMs: number): number {
  return Math.min(15_000, Math.max(250, Math.floor(idleMs / 4)));
}

export interface DashboardAccessOptions {
  readonly dataDir: string;
  /** Session lengths from the site (or hub) config's `dashboard` section. */
  readonly limits: Pick<SiteConfig['dashboard'], 'sessionIdleMinutes' | 'sessionHours' | 'displaySessionHours'>;
  /** Tests shorten the idle timeout. */
  readonly sessionOverrides?: Partial<SessionOptions>;
  /** Over TLS: Secure cookies. */
  readonly secure: boolean;
  /** Closes the live feeds of an ended session with the text shown; returns how many. */
  readonly closeFeeds: (sessionId: string, text: string) => number;
  readonly onLoginBurst: (burst: LoginBurst) => void;
  readonly logger: Logger;
}

/**
 * The dashboard's people and their sessions (issue 6), the same for an agent and for the
 * hub: users and TOTP secrets in the data directory, the hash-chained audit log, the
 * session store and the login endpoints. There is no default account: the first admin
 * is made with `wardwatch users add`, and until then every login is refused (401).
 */
export class DashboardAccess {
  private sweeper: NodeJS.Timeout | null = null;

  private constructor(
    readonly users: UserStore,
    readonly auditLog: AuditLog,
    readonly sessions: SessionStore,
    readonly auth: DashboardAuth,
  ) {}

  /** Opens the user store and the audit log of `dataDir` (I/O, so not a constructor). */
  static open(options: DashboardAccessOptions): DashboardAccess {
    const { dataDir, limits, logger } = options;
    const users = UserStore.forDataDir(dataDir);
    if (users.list().length === 0) logger.warn({ dataDir }, `no dashboard users yet: wardwatch users add NAME --role admin -d ${dataDir}`);
    const auditLog = AuditLog.forDataDir(dataDir);
    const sessions = new SessionStore({
      idleMs: limits.sessionIdleMinutes * 60_000,
      absoluteMs: limits.sessionHours * 3_600_000,
      displayAbsoluteMs: limits.displaySessionHours * 3_600_000,
      ...options.sessionOverrides,
    });
    sessions.onEnd((session, reason) => {
      // A stopping server drops every feed at once: the page must show MONITORING OFFLINE
      // then, not a signed-out screen, so those feeds are not closed as "session ended".
      const closed = reason === 'stopped' ? 0 : options.closeFeeds(session.id, SESSION_END_TEXT[reason]);
      logger.info({ user: session.username, reason, feedsClosed: closed }, 'dashboard session ended');
    });
    const auth = new DashboardAuth({
      context: { users, guard: new LoginGuard(), secrets: SecretBox.forDataDir(dataDir), audit: auditLog },
      sessions,
      secure: options.secure,
      onLoginBurst: options.onLoginBurst,
      logger,
    });
    return new DashboardAccess(users, auditLog, sessions, auth);
  }

  userViews(): DashboardUserView[] {
    return this.users.list().map(userView);
  }

  /** Verifies the whole chain at each request, streamed so that the monitor keeps running meanwhile (`verifyAuditLog`). */
  async auditView(limit: number): Promise<AuditView> {
    return {
      chainIntact: (await verifyAuditLog(this.auditLog.file)).ok,
      entries: readAuditTail(this.auditLog.file, limit).flatMap(({ entry }) => (entry === null ? [] : [{ seq: entry.seq, ts: entry.ts, actor: entry.actor, from: entry.from, action: entry.action, details: entry.details }])),
    };
  }

  /** Sweeps ended sessions (and closes their feeds) on a timer. */
  startSweeper(): void {
    this.sweeper = setInterval(() => this.sessions.sweep(), sweepInterval(this.sessions.options.idleMs));
    this.sweeper.unref();
  }

  close(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    this.sessions.clear();
    this.users.close();
  }
}
