import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { authenticate, type AuthContext, type LoginOutcome } from '../auth/authenticate.ts';
import { beginEnrolment, completeEnrolment } from '../auth/enrolment.ts';
import type { LoginBurst } from '../auth/login-guard.ts';
import { MAX_PASSWORD_LENGTH } from '../auth/password-policy.ts';
import { ROLE_PERMISSIONS, type UserRole } from '../auth/roles.ts';
import { normalizeAddress } from '../ingest/address.ts';
import { clearCookie, PRE_LOGIN_COOKIE, readCookie, SESSION_COOKIE, setCookie } from './cookies.ts';
import type { ApiError, EnrolmentOffer, EnrolResponse, LoginResponse, SessionView } from './dashboard-protocol.ts';
import { readJsonRequest, sendJson } from './http-io.ts';
import type { Session, SessionEndReason, SessionStore } from './sessions.ts';

/**
 * The HTTP side of the dashboard login (issue 6): POST /api/login, POST /api/enrol,
 * POST /api/logout and GET /api/session, over auth/authenticate.ts and auth/enrolment.ts,
 * which decide; this file turns their outcomes into status codes, cookies and sessions,
 * raises the login-burst alert and writes the logouts to the audit log.
 *
 * Status codes of a login: 200 logged in; 401 wrong username, password or code (never
 * which); 403 disabled (said only after a right password); 409 the password was right and
 * an authenticator must be enrolled first; 423 the account is locked; 429 this address is
 * refused for a while. Bodies are capped (http-io.ts) and every field is bounded.
 */

const loginBody = z.strictObject({
  username: z.string().min(1, 'give a username').max(128),
  password: z.string().min(1, 'give the password').max(MAX_PASSWORD_LENGTH),
  code: z.string().max(32).optional(),
});

const enrolBody = z.strictObject({
  code: z.string().min(1, 'type the code the app shows').max(32),
});

export const BAD_CREDENTIALS = 'Wrong username, password or code.';

export interface DashboardAuthOptions {
  readonly context: AuthContext;
  readonly sessions: SessionStore;
  /** Served over TLS: cookies are marked Secure. */
  readonly secure: boolean;
  /** A login burst from one address: raise `dashboard-login-burst`. */
  readonly onLoginBurst: (burst: LoginBurst) => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

function addressOf(request: IncomingMessage): string {
  return normalizeAddress(request.socket.remoteAddress);
}

function retryAfter(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000));
}

function minutes(seconds: number): string {
  const value = Math.ceil(seconds / 60);
  return `${value} minute${value === 1 ? '' : 's'}`;
}

export class DashboardAuth {
  private readonly now: () => number;

  constructor(private readonly options: DashboardAuthOptions) {
    this.now = options.now ?? Date.now;
    // Every end of a session is in the audit log (who, since when, why), except those of a
    // stopping agent; a logout is written by `logout` itself, with the address it came from.
    options.sessions.onEnd((session, reason) => {
      if (reason !== 'logout' && reason !== 'stopped') this.auditLogout(session, session.from, reason);
    });
  }

  get sessions(): SessionStore {
    return this.options.sessions;
  }

  /** The session a request carries, counting the request as use (the idle clock starts again). */
  useSession(request: IncomingMessage): Session | null {
    return this.options.sessions.use(readCookie(request, SESSION_COOKIE));
  }

  /** The session a request carries, without counting it as use (a live feed opening). */
  peekSession(request: IncomingMessage): Session | null {
    return this.options.sessions.peek(readCookie(request, SESSION_COOKIE));
  }

  sessionView(session: Session | null): SessionView {
    if (session === null) return { user: null };
    const idleMs = this.options.sessions.idleMsOf(session);
    return {
      user: { name: session.username, role: session.role },
      permissions: [...ROLE_PERMISSIONS[session.role]],
      idleTimeoutSeconds: idleMs === null ? null : Math.round(idleMs / 1000),
    };
  }

  /** GET /api/session: who is logged in here, with which role and permissions; `{user: null}` when nobody. */
  session(request: IncomingMessage, response: ServerResponse): void {
    sendJson(response, 200, this.sessionView(this.useSession(request)));
  }

  async login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const input = await readJsonRequest(request, response, loginBody);
    if (input === null) return;
    const address = addressOf(request);
    const now = this.now();
    const outcome = await authenticate(this.options.context, {
      username: input.username,
      password: input.password,
      ...(input.code === undefined || input.code.trim() === '' ? {} : { code: input.code.trim() }),
      address,
      now,
    });
    if ('burst' in outcome && outcome.burst !== null) this.options.onLoginBurst(outcome.burst);
    this.answerLogin(request, response, outcome, address, now);
  }

  private answerLogin(request: IncomingMessage, response: ServerResponse, outcome: LoginOutcome, address: string, now: number): void {
    const secure = this.options.secure;
    switch (outcome.kind) {
      case 'ok': {
        const session = this.startSession(request, outcome.user, address);
        const body: LoginResponse = {
          ...(this.sessionView(session) as Exclude<SessionView, { user: null }>),
          method: outcome.method,
          ...(outcome.method === 'recovery-code' ? { recoveryCodesLeft: outcome.user.recoveryCodesLeft } : {}),
        };
        return sendJson(response, 200, body, { 'Set-Cookie': [setCookie(SESSION_COOKIE, session.id, { secure }), clearCookie(PRE_LOGIN_COOKIE, secure)] });
      }
      case 'needs-enrolment': {
        this.options.sessions.deletePreLogin(readCookie(request, PRE_LOGIN_COOKIE));
        const pending = this.options.sessions.createPreLogin(outcome.user.username, beginEnrolment(outcome.user.username));
        const body: EnrolmentOffer = { enrol: { username: outcome.user.username, uri: pending.enrolment.uri, secretBase32: pending.enrolment.secretBase32 } };
        const maxAgeSeconds = this.options.sessions.options.preLoginMs / 1000;
        return sendJson(response, 409, body, { 'Set-Cookie': setCookie(PRE_LOGIN_COOKIE, pending.id, { secure, maxAgeSeconds }) });
      }
      case 'bad-credentials':
        return sendJson(response, 401, { error: BAD_CREDENTIALS } satisfies ApiError);
      case 'disabled':
        return sendJson(response, 403, { error: 'This account is disabled; ask an administrator.' } satisfies ApiError);
      case 'locked': {
        const seconds = retryAfter(outcome.until, now);
        return sendJson(response, 423, { error: `Too many failed logins: this account is locked. Try again in ${minutes(seconds)}, or ask an administrator to unlock it.`, retryAfterSeconds: seconds } satisfies ApiError, { 'Retry-After': String(seconds) });
      }
      case 'rate-limited': {
        const seconds = retryAfter(outcome.until, now);
        return sendJson(response, 429, { error: `Too many failed logins from this address: try again in ${minutes(seconds)}.`, retryAfterSeconds: seconds } satisfies ApiError, { 'Retry-After': String(seconds) });
      }
    }
  }

  /**
   * POST /api/enrol {code}: confirms the authenticator offered by a 409 to /api/login,
   * with the secret kept in the pre-login session. Right: the secret is stored (sealed),
   * the recovery codes are returned this once and the user is logged in. Wrong: 401, and
   * after `maxEnrolAttempts` the pending enrolment is dropped (log in again for a new one).
   */
  async enrol(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const input = await readJsonRequest(request, response, enrolBody);
    if (input === null) return;
    const { sessions, context } = this.options;
    const secure = this.options.secure;
    const address = addressOf(request);
    const now = this.now();
    const preLoginId = readCookie(request, PRE_LOGIN_COOKIE);
    const pending = sessions.getPreLogin(preLoginId);
    const startAgain = { 'Set-Cookie': clearCookie(PRE_LOGIN_COOKIE, secure) };
    if (pending === null) return sendJson(response, 401, { error: 'No enrolment is waiting (or it expired): log in with your password again.' } satisfies ApiError, startAgain);
    if (context.guard.addressBlockedUntil(address, now) !== null) {
      return sendJson(response, 429, { error: 'Too many failed logins from this address: try again later.' } satisfies ApiError);
    }
    const record = context.users.get(pending.username);
    if (record === null || record.disabled) {
      sessions.deletePreLogin(pending.id);
      return sendJson(response, record === null ? 401 : 403, { error: record === null ? BAD_CREDENTIALS : 'This account is disabled; ask an administrator.' } satisfies ApiError, startAgain);
    }
    const outcome = completeEnrolment(context, { username: pending.username, secret: pending.enrolment.secret, code: input.code.trim(), address, now });
    switch (outcome.kind) {
      case 'enrolled': {
        sessions.deletePreLogin(pending.id);
        const session = this.startSession(request, outcome.user, address);
        const body: EnrolResponse = { ...(this.sessionView(session) as Exclude<SessionView, { user: null }>), recoveryCodes: outcome.recoveryCodes };
        return sendJson(response, 200, body, { 'Set-Cookie': [setCookie(SESSION_COOKIE, session.id, { secure }), clearCookie(PRE_LOGIN_COOKIE, secure)] });
      }
      case 'bad-code': {
        pending.attempts++;
        const left = sessions.options.maxEnrolAttempts - pending.attempts;
        const burst = context.guard.recordAddressFailure(address, pending.username, now);
        if (burst !== null) this.options.onLoginBurst(burst);
        context.audit?.append({ actor: pending.username, from: address, action: 'login-failed', details: { reason: 'enrolment-code-wrong', attemptsLeft: Math.max(0, left), ...(burst === null ? {} : { burst: true }) }, at: now });
        if (left <= 0) {
          sessions.deletePreLogin(pending.id);
          return sendJson(response, 401, { error: 'That code is not right, too many times: log in with your password again to get a new secret.' } satisfies ApiError, startAgain);
        }
        return sendJson(response, 401, { error: `That code is not right. Check that the phone's clock is right and type the code the app shows now (${left} ${left === 1 ? 'try' : 'tries'} left).` } satisfies ApiError);
      }
      case 'already-enrolled':
        sessions.deletePreLogin(pending.id);
        return sendJson(response, 409, { error: 'An authenticator is already enrolled for this account: log in with its code.' } satisfies ApiError, startAgain);
      case 'no-such-user':
        sessions.deletePreLogin(pending.id);
        return sendJson(response, 401, { error: BAD_CREDENTIALS } satisfies ApiError, startAgain);
    }
  }

  /** POST /api/logout: ends the session (its live feeds close) and clears the cookies. Without a session, nothing to do: 200. */
  async logout(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const input = await readJsonRequest(request, response, z.strictObject({}));
    if (input === null) return;
    const secure = this.options.secure;
    const session = this.peekSession(request);
    this.options.sessions.deletePreLogin(readCookie(request, PRE_LOGIN_COOKIE));
    if (session !== null) {
      this.options.sessions.delete(session.id, 'logout');
      this.auditLogout(session, addressOf(request), 'logout');
    }
    sendJson(response, 200, { user: null } satisfies SessionView, { 'Set-Cookie': [clearCookie(SESSION_COOKIE, secure), clearCookie(PRE_LOGIN_COOKIE, secure)] });
  }

  /** A new session id at every login; the one the browser brought (if any) is ended (session fixation). */
  private startSession(request: IncomingMessage, user: { readonly username: string; readonly role: UserRole }, address: string): Session {
    this.options.sessions.delete(readCookie(request, SESSION_COOKIE), 'replaced');
    const session = this.options.sessions.create(user, address);
    this.options.logger.info({ user: user.username, role: user.role, from: address }, 'dashboard login');
    return session;
  }

  private auditLogout(session: Session, from: string, reason: SessionEndReason): void {
    try {
      this.options.context.audit?.append({
        actor: session.username,
        from,
        action: 'logout',
        details: { reason, sessionStartedAt: new Date(session.createdAt).toISOString() },
        at: this.now(),
      });
    } catch (error) {
      this.options.logger.error({ err: error, user: session.username }, 'the logout could not be written to the audit log');
    }
  }
}
