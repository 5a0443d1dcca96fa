import { randomBytes } from 'node:crypto';
import type { PendingEnrolment } from '../auth/enrolment.ts';
import { UNATTENDED_ROLES, type UserRole } from '../auth/roles.ts';

/**
 * Dashboard sessions (issue 6), after the OWASP Session Management Cheat Sheet: the id is
 * 32 bytes from the CSPRNG (256 bits, far above the sheet's 64 bits of entropy), sent as
 * base64url in an HttpOnly, SameSite=Strict cookie (server/cookies.ts) and meaning nothing
 * by itself; everything it stands for stays here, in memory. A restart of the agent ends
 * every session: people log in again, which a monitor that restarts rarely can afford,
 * and nothing about a session is ever written to disk.
 *
 * - Idle timeout (default 15 min): a session not used by a request for that long ends.
 *   What counts as use is an HTTP request carrying the cookie (the dashboard sends one
 *   when the person at the screen touches it, dashboard/src/activity.ts); an open live
 *   feed does not, so a station left alone is signed out. When a session ends its live
 *   feeds are closed (the hub listens to `onEnd`) and the screen says so loudly.
 * - Absolute lifetime (default 12 h, a long shift): whatever the activity.
 * - A wall display's session (the roles of auth/roles.ts UNATTENDED_ROLES, which may only
 *   look) has no idle timeout: nobody touches a screen on the wall, and signing it out
 *   would blank the ward's alerts there. It keeps an absolute lifetime of its own
 *   (`displayAbsoluteMs`, default 7 days, `dashboard.displaySessionHours`), so that a
 *   display left logged in is still made to log in again now and then.
 * - The id changes at login (a new session is made; any the browser held is deleted),
 *   so an id planted before login is worth nothing after it (session fixation).
 * - Bounded (DESIGN.md, principle 3): at most `maxSessionsPerUser` per account, past which
 *   that account's least recently used session ends, so that one account logging in over
 *   and over cannot push anyone else out; and at most `maxSessions` in all, past which the
 *   least recently used session of an attended role ends. A wall display is never touched
 *   (it is never "used"), so plain LRU would end it first and blank the ward's alerts on
 *   the wall; it goes only when every session left is a display's. Both count in
 *   `evictions`.
 *
 * A pre-login session is the short-lived state between a right password and a confirmed
 * TOTP enrolment (auth/enrolment.ts): it holds the fresh secret, which must not reach a
 * cookie or the disk before a code proves it was scanned. Its own cookie, its own cap.
 *
 * Time comes from `now`, so tests walk through an idle timeout without waiting.
 */

export interface SessionOptions {
  readonly idleMs: number;
  readonly absoluteMs: number;
  /** The absolute lifetime of a session of an unattended role (a wall display), which has no idle timeout. */
  readonly displayAbsoluteMs: number;
  readonly maxSessions: number;
  /** Sessions one account may hold at once (a person's browsers and stations). */
  readonly maxSessionsPerUser: number;
  /** How long a pre-login (enrolment) session lives, from its creation. */
  readonly preLoginMs: number;
  readonly maxPreLogin: number;
  /** Wrong enrolment codes a pre-login session takes before it is ended. */
  readonly maxEnrolAttempts: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  idleMs: 15 * 60_000,
  absoluteMs: 12 * 3_600_000,
  displayAbsoluteMs: 168 * 3_600_000,
  maxSessions: 1_024,
  maxSessionsPerUser: 32,
  preLoginMs: 10 * 60_000,
  maxPreLogin: 256,
  maxEnrolAttempts: 5,
};

/** 32 bytes from the CSPRNG, base64url (43 characters). */
export const SESSION_ID_BYTES = 32;
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function isUnattended(session: Pick<Session, 'role'>): boolean {
  return UNATTENDED_ROLES.has(session.role);
}

export function newSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString('base64url');
}

export interface Session {
  readonly id: string;
  readonly username: string;
  readonly role: UserRole;
  /** The address the login came from. */
  readonly from: string;
  readonly createdAt: number;
  lastUsedAt: number;
}

export interface PreLoginSession {
  readonly id: string;
  readonly username: string;
  readonly enrolment: PendingEnrolment;
  readonly createdAt: number;
  attempts: number;
}

/** `replaced`: the same browser logged in again; `stopped`: the agent stops. */
export type SessionEndReason = 'logout' | 'idle' | 'expired' | 'evicted' | 'replaced' | 'stopped';

export type SessionEndListener = (session: Session, reason: SessionEndReason) => void;

export class SessionStore {
  readonly options: SessionOptions;
  /** Insertion order is least recently used first: `touch` moves a session to the end. */
  private readonly sessions = new Map<string, Session>();
  private readonly preLogin = new Map<string, PreLoginSession>();
  private readonly listeners: SessionEndListener[] = [];
  /** Sessions ended because the table was full. */
  evictions = 0;
  preLoginEvictions = 0;

  constructor(options: Partial<SessionOptions> = {}, private readonly now: () => number = Date.now) {
    this.options = { ...DEFAULT_SESSION_OPTIONS, ...options };
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Called whenever a session ends, for whatever reason (closes its live feeds). */
  onEnd(listener: SessionEndListener): void {
    this.listeners.push(listener);
  }

  /** A new session for a user who has just logged in. */
  create(user: { readonly username: string; readonly role: UserRole }, from: string): Session {
    const at = this.now();
    const session: Session = { id: newSessionId(), username: user.username, role: user.role, from, createdAt: at, lastUsedAt: at };
    this.sessions.set(session.id, session);
    let own = 0;
    for (const held of this.sessions.values()) if (held.username === user.username) own++;
    while (own > this.options.maxSessionsPerUser) {
      this.evict(this.leastRecentlyUsed((held) => held.username === user.username));
      own--;
    }
    while (this.sessions.size > this.options.maxSessions) this.evict(this.leastRecentlyUsed((held) => !isUnattended(held)));
    return session;
  }

  /** The least recently used session that `prefer` accepts, else the least recently used of all (the table is never empty here). */
  private leastRecentlyUsed(prefer: (session: Session) => boolean): Session {
    for (const session of this.sessions.values()) if (prefer(session)) return session;
    return this.sessions.values().next().value as Session;
  }

  private evict(session: Session): void {
    this.evictions++;
    this.end(session, 'evicted');
  }

  /** The live session with this id, or null; an expired one is ended on the way. Does not count as use. */
  peek(id: string | undefined): Session | null {
    if (id === undefined || !SESSION_ID_PATTERN.test(id)) return null;
    const session = this.sessions.get(id);
    if (session === undefined) return null;
    const ended = this.expiry(session, this.now());
    if (ended !== null) {
      this.end(session, ended);
      return null;
    }
    return session;
  }

  /** As `peek`, and the request counts as use: the idle clock starts again. */
  use(id: string | undefined): Session | null {
    const session = this.peek(id);
    if (session === null) return null;
    session.lastUsedAt = this.now();
    this.sessions.delete(session.id);
    this.sessions.set(session.id, session);
    return session;
  }

  /** Ends a session (logout, or replaced by a new login); false when there was none. */
  delete(id: string | undefined, reason: SessionEndReason = 'logout'): boolean {
    if (id === undefined) return false;
    const session = this.sessions.get(id);
    if (session === undefined) return false;
    this.end(session, reason);
    return true;
  }

  /** Ends every session past its idle or absolute limit; the agent calls this on a timer. */
  sweep(): number {
    const at = this.now();
    let ended = 0;
    for (const session of [...this.sessions.values()]) {
      const reason = this.expiry(session, at);
      if (reason !== null) {
        this.end(session, reason);
        ended++;
      }
    }
    for (const pending of [...this.preLogin.values()]) if (at - pending.createdAt >= this.options.preLoginMs) this.deletePreLogin(pending.id);
    return ended;
  }

  /** How long until `session` ends if it is not used, in ms. */
  remainingMs(session: Session): number {
    const ends = isUnattended(session) ? session.createdAt + this.options.displayAbsoluteMs : Math.min(session.lastUsedAt + this.options.idleMs, session.createdAt + this.options.absoluteMs);
    return Math.max(0, ends - this.now());
  }

  /** The idle timeout that applies to `session`, in ms, or null when it has none (a wall display). */
  idleMsOf(session: Pick<Session, 'role'>): number | null {
    return isUnattended(session) ? null : this.options.idleMs;
  }

  createPreLogin(username: string, enrolment: PendingEnrolment): PreLoginSession {
    const pending: PreLoginSession = { id: newSessionId(), username, enrolment, createdAt: this.now(), attempts: 0 };
    this.preLogin.set(pending.id, pending);
    while (this.preLogin.size > this.options.maxPreLogin) {
      const oldest = this.preLogin.values().next().value as PreLoginSession;
      this.preLoginEvictions++;
      this.deletePreLogin(oldest.id);
    }
    return pending;
  }

  getPreLogin(id: string | undefined): PreLoginSession | null {
    if (id === undefined || !SESSION_ID_PATTERN.test(id)) return null;
    const pending = this.preLogin.get(id);
    if (pending === undefined) return null;
    if (this.now() - pending.createdAt >= this.options.preLoginMs) {
      this.deletePreLogin(id);
      return null;
    }
    return pending;
  }

  /** Forgets a pending enrolment and wipes its secret from memory. */
  deletePreLogin(id: string | undefined): void {
    if (id === undefined) return;
    const pending = this.preLogin.get(id);
    if (pending === undefined) return;
    pending.enrolment.secret.fill(0);
    this.preLogin.delete(id);
  }

  /** Ends every session (the agent stops). Listeners are told, so feeds close with the reason. */
  clear(): void {
    for (const session of [...this.sessions.values()]) this.end(session, 'stopped');
    for (const id of [...this.preLogin.keys()]) this.deletePreLogin(id);
  }

  private expiry(session: Session, at: number): SessionEndReason | null {
    if (isUnattended(session)) return at - session.createdAt >= this.options.displayAbsoluteMs ? 'expired' : null;
    if (at - session.createdAt >= this.options.absoluteMs) return 'expired';
    if (at - session.lastUsedAt >= this.options.idleMs) return 'idle';
    return null;
  }

  private end(session: Session, reason: SessionEndReason): void {
    if (!this.sessions.delete(session.id)) return;
    for (const listener of this.listeners) listener(session, reason);
  }
}
