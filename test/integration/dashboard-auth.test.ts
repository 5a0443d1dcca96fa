/**
 * The dashboard login over real HTTP and WebSocket against the real agent (issue 6):
 * password + TOTP from the real TOTP functions, one generic 401 for any wrong part, the
 * lockout (423) and the per-address limit (429) with its `dashboard-login-burst` alert,
 * enrolment with recovery codes, roles on every route, the live feed's session and Origin
 * checks, the idle timeout closing the feed, the cookie's attributes, and the audit log
 * recording who, when and from where.
 *
 * The per-address limit counts every failure from an address, so each test that fails
 * logins on purpose sends them from its own 127.0.0.x (Linux routes all of 127/8 to lo).
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/src/app.ts';
import { readAuditLines, verifyAuditLog, type AuditEntry } from '../../agent/src/audit/audit-log.ts';
import { base32Decode, totp } from '../../agent/src/auth/totp.ts';
import { UserStore } from '../../agent/src/auth/user-store.ts';
import { SESSION_ENDED_CLOSE_CODE, type EnrolmentOffer, type EnrolResponse, type LoginResponse, type SessionView } from '../../agent/src/server/dashboard-protocol.ts';
import { addTestUser, agentRequest, DashboardClient, logIn, nextCode, startTestAgent, temporaryDataDir, type HttpAnswer } from '../helpers/agent-fixture.ts';
import { sessionCookieOf } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { missingPeer } from '../helpers/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noOpenssl = missingPeer('openssl', 'openssl');

function auditEntries(dataDir: string): AuditEntry[] {
  return readAuditLines(join(dataDir, 'audit.jsonl')).flatMap((line) => (line.entry === null ? [] : [line.entry]));
}

function rawSetCookie(answer: HttpAnswer, name: string): string {
  const line = (answer.headers['set-cookie'] ?? []).find((candidate) => candidate.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no ${name} cookie set`);
  return line;
}

type SocketOutcome = { readonly kind: 'open'; readonly socket: WebSocket; readonly messages: string[] } | { readonly kind: 'refused'; readonly status: number } | { readonly kind: 'error'; readonly message: string };

function openFeed(agent: RunningAgent, headers: Record<string, string>): Promise<SocketOutcome> {
  const socket = new WebSocket(`ws://127.0.0.1:${agent.httpPort}/ws`, { headers });
  const messages: string[] = [];
  socket.on('message', (data) => messages.push(String(data)));
  return new Promise((resolve) => {
    socket.once('open', () => resolve({ kind: 'open', socket, messages }));
    socket.once('unexpected-response', (_request, response) => {
      resolve({ kind: 'refused', status: response.statusCode ?? 0 });
      socket.terminate();
    });
    socket.once('error', (error) => resolve({ kind: 'error', message: error.message }));
  });
}

function closeCode(socket: WebSocket, ms = 5_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the feed was not closed')), ms);
    socket.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('dashboard login, roles and sessions', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent;
  const origin = (): string => `http://127.0.0.1:${agent.httpPort}`;

  beforeAll(async () => {
    agent = await startTestAgent(data.dir);
  });

  afterAll(async () => {
    await agent.stop();
    data.remove();
  });

  it('logs in with password and TOTP code: 200 with name, role and permissions, an HttpOnly SameSite=Strict cookie (not Secure over plain http), audited', async () => {
    const user = await addTestUser(data.dir, 'nurse');
    const answer = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: await nextCode(user) }, localAddress: '127.0.0.21' });
    expect(answer.status).toBe(200);
    const body = answer.json<LoginResponse>();
    expect(body.user).toEqual({ name: user.username, role: 'nurse' });
    expect(body.permissions).toEqual(['alerts.view', 'alerts.acknowledge']);
    expect(body.method).toBe('totp');
    expect(body.idleTimeoutSeconds).toBe(15 * 60);
    const cookie = rawSetCookie(answer, 'wardwatch_session');
    expect(cookie).toMatch(/^wardwatch_session=[A-Za-z0-9_-]{43}; /);
    const attributes = cookie.split('; ').slice(1);
    expect(attributes).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Strict']));
    expect(attributes).not.toContain('Secure');

    const session = await agentRequest(agent, 'GET', '/api/session', { cookie: sessionCookieOf(answer) });
    expect(session.json<SessionView>()).toMatchObject({ user: { name: user.username, role: 'nurse' } });
    expect((await agentRequest(agent, 'GET', '/api/session')).json<SessionView>()).toEqual({ user: null });

    const login = auditEntries(data.dir).filter((entry) => entry.action === 'login' && entry.actor === user.username);
    expect(login).toHaveLength(1);
    expect(login[0]).toMatchObject({ from: '127.0.0.21', details: { role: 'nurse', method: 'totp' } });

    // Logout ends the session on the server, clears the cookie, and is audited.
    const logout = await agentRequest(agent, 'POST', '/api/logout', { cookie: sessionCookieOf(answer), body: {} });
    expect(logout.status).toBe(200);
    expect(rawSetCookie(logout, 'wardwatch_session')).toMatch(/^wardwatch_session=; .*Max-Age=0/);
    expect((await agentRequest(agent, 'GET', '/api/alerts', { cookie: sessionCookieOf(answer) })).status).toBe(401);
    expect(auditEntries(data.dir).find((entry) => entry.action === 'logout' && entry.actor === user.username)).toMatchObject({ details: { reason: 'logout' } });
  });

  it('a wrong code, a wrong password, a missing code and an unknown user all get the same 401', async () => {
    const user = await addTestUser(data.dir, 'nurse');
    const attempts = [
      { username: user.username, password: user.password, code: String((Number(await nextCode(user)) + 1) % 1_000_000).padStart(6, '0') },
      { username: user.username, password: 'not the password at all', code: await nextCode(user) },
      { username: user.username, password: user.password },
      { username: 'nobody-here', password: user.password, code: '123456' },
    ];
    const answers: HttpAnswer[] = [];
    for (const body of attempts) answers.push(await agentRequest(agent, 'POST', '/api/login', { body, localAddress: '127.0.0.22' }));
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401]);
    expect(new Set(answers.map((answer) => answer.body)).size).toBe(1);
    expect(answers[0]?.json()).toEqual({ error: 'Wrong username, password or code.' });
    expect(answers.every((answer) => answer.setCookies.length === 0)).toBe(true);
    // The audit log (for admins) records which factor failed.
    const failed = auditEntries(data.dir).filter((entry) => entry.action === 'login-failed' && entry.from === '127.0.0.22');
    expect(failed.map((entry) => entry.details.factor)).toEqual(['second-factor', 'password', 'second-factor', 'password']);
  });

  it('five failures lock the account (423, Retry-After), even for the right password and code', async () => {
    const user = await addTestUser(data.dir, 'nurse');
    for (let i = 0; i < 5; i++) {
      const answer = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: `wrong guess ${i}`, code: '000000' }, localAddress: '127.0.0.23' });
      expect(answer.status).toBe(401);
    }
    const locked = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: await nextCode(user) }, localAddress: '127.0.0.23' });
    expect(locked.status).toBe(423);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);
    expect(locked.json<{ error: string }>().error).toMatch(/this account is locked\. Try again in 15 minutes/);
    expect(UserStore.forDataDir(data.dir).get(user.username)?.lockedUntil).toBeGreaterThan(Date.now());
  });

  it('ten failures from one address raise dashboard-login-burst and refuse that address (429); other addresses still log in', async () => {
    const user = await addTestUser(data.dir, 'nurse');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const answer = await agentRequest(agent, 'POST', '/api/login', { body: { username: i % 2 === 0 ? user.username : `sprayed-${i}`, password: `guess ${i}`, code: '000000' }, localAddress: '127.0.0.24' });
      statuses.push(answer.status);
    }
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    const burst = await waitFor(() => agent.alerts.list().find((alert) => alert.type === 'dashboard-login-burst'), 2_000, 'the burst alert');
    expect(burst.severity).toBe('high');
    expect(burst.evidence).toMatchObject({ address: '127.0.0.24', failures: 10 });
    expect(burst.title).toContain('from 127.0.0.24');
    const refused = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: await nextCode(user) }, localAddress: '127.0.0.24' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not refused.
    const other = await addTestUser(data.dir, 'nurse');
    expect(sessionCookieOf(await agentRequest(agent, 'POST', '/api/login', { body: { username: other.username, password: other.password, code: await nextCode(other) }, localAddress: '127.0.0.25' }))).toMatch(/^wardwatch_session=/);
  });

  it('a nurse acknowledges (200; audited with who, when, from) but is refused the users, the audit log and the baseline (403)', async () => {
    const station = agent.alerts;
    station.raise({ type: 'unauthorized-command', ts: Date.now(), device: null, dedupKey: `auth-test-${Date.now()}`, title: 'test alert for acknowledgement', evidence: {} });
    const alert = station.list().find((candidate) => candidate.title === 'test alert for acknowledgement');
    if (alert === undefined) throw new Error('alert not raised');
    const nurse = await DashboardClient.logIn(agent, data.dir, 'nurse');
    // Who acknowledges is the session's user: a `by` in the body is refused, not believed.
    expect((await nurse.post(`/api/alerts/${alert.id}/ack`, { by: 'Someone Else', reason: 'Investigating' })).status).toBe(400);
    const before = Date.now();
    const ack = await nurse.post(`/api/alerts/${alert.id}/ack`, { reason: 'Investigating' });
    expect(ack.status).toBe(200);
    expect(ack.json<{ ack: { by: string; from: string } }>().ack).toMatchObject({ by: nurse.user.username, from: '127.0.0.1' });
    const entry = auditEntries(data.dir).find((candidate) => candidate.action === 'alert-acknowledged' && candidate.details.alertId === alert.id);
    expect(entry).toMatchObject({ actor: nurse.user.username, from: '127.0.0.1', details: { reason: 'Investigating', type: 'unauthorized-command' } });
    expect(Date.parse(entry?.ts ?? '')).toBeGreaterThanOrEqual(before - 1_000);

    for (const path of ['/api/alerts', '/api/devices', '/api/health']) expect((await nurse.get(path)).status, path).toBe(200);
    for (const path of ['/api/users', '/api/audit', '/api/baseline']) {
      const refused = await nurse.get(path);
      expect(refused.status, path).toBe(403);
      expect(refused.json<{ error: string }>().error).toMatch(/^the nurse role may not/);
    }
  });

  it('a biomed gets the baseline but not the users or the audit log; an admin gets everything', async () => {
    const biomed = await DashboardClient.logIn(agent, data.dir, 'biomed');
    const baseline = await biomed.get('/api/baseline');
    expect(baseline.status).toBe(200);
    expect(baseline.json()).toMatchObject({ mode: loadDemoConfig().baseline.mode, devicesTotal: 8 });
    expect((await biomed.get('/api/users')).status).toBe(403);
    expect((await biomed.get('/api/audit')).status).toBe(403);

    const admin = await DashboardClient.logIn(agent, data.dir, 'admin');
    for (const path of ['/api/alerts', '/api/devices', '/api/health', '/api/baseline', '/api/users', '/api/audit']) expect((await admin.get(path)).status, path).toBe(200);
    const users = await admin.json<{ username: string; role: string; mfaEnrolled: boolean }[]>('/api/users');
    expect(users.find((user) => user.username === admin.user.username)).toMatchObject({ role: 'admin', mfaEnrolled: true });
    expect(JSON.stringify(users)).not.toMatch(/scrypt|passwordHash|totpSecret/);
    const audit = await admin.json<{ chainIntact: boolean; entries: { action: string; actor: string }[] }>('/api/audit?limit=5');
    expect(audit.chainIntact).toBe(true);
    expect(audit.entries).toHaveLength(5);
    expect(audit.entries.at(-1)).toMatchObject({ action: 'login', actor: admin.user.username });
  });

  it('every API route but the login ones needs a session: 401 without one (even for routes that do not exist), 404 with one', async () => {
    for (const path of ['/api/alerts', '/api/devices', '/api/health', '/api/baseline', '/api/users', '/api/audit', '/api/nothing-here']) {
      expect((await agentRequest(agent, 'GET', path)).status, path).toBe(401);
    }
    expect((await agentRequest(agent, 'GET', '/api/alerts', { cookie: 'wardwatch_session=not-a-session' })).status).toBe(401);
    expect((await agentRequest(agent, 'POST', '/api/alerts/00000000-0000-0000-0000-000000000000/ack', { body: { reason: 'x' } })).status).toBe(401);
    const nurse = await DashboardClient.logIn(agent, data.dir);
    expect((await nurse.get('/api/nothing-here')).status).toBe(404);
    // The page and its assets are public: the login form is in them.
    for (const path of ['/', '/assets/app.js', '/assets/style.css']) expect((await agentRequest(agent, 'GET', path)).status, path).toBe(200);
  });

  it('login requests are bounded and same-origin: too big 413, a field too long 400, not JSON 415, another origin 403', async () => {
    const user = await addTestUser(data.dir, 'nurse');
    const options = { localAddress: '127.0.0.26' };
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: 'x'.repeat(5_000) }, ...options })).status).toBe(413);
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: 'u'.repeat(129), password: 'p' }, ...options })).status).toBe(400);
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: 'p'.repeat(257) }, ...options })).status).toBe(400);
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: '1'.repeat(33) }, ...options })).status).toBe(400);
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, extra: 1 }, ...options })).status).toBe(400);
    expect((await agentRequest(agent, 'POST', '/api/login', { body: 'username=a&password=b', contentType: 'application/x-www-form-urlencoded', ...options })).status).toBe(415);
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: await nextCode(user) }, origin: 'http://evil.example', ...options })).status).toBe(403);
  });

  it('first login without an authenticator: 409 with the secret, wrong code 401, right code logs in with 10 recovery codes shown once; a recovery code then works once', async () => {
    const user = await addTestUser(data.dir, 'biomed', { enrolled: false });
    const first = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password }, localAddress: '127.0.0.27' });
    expect(first.status).toBe(409);
    const offer = first.json<EnrolmentOffer>().enrol;
    expect(offer.uri).toMatch(new RegExp(`^otpauth://totp/Wardwatch:${user.username}\\?secret=${offer.secretBase32}&issuer=Wardwatch`));
    expect(first.setCookies.find((line) => line.startsWith('wardwatch_session='))).toBeUndefined();
    const preLogin = first.setCookies.find((line) => line.startsWith('wardwatch_prelogin=')) ?? '';
    expect(rawSetCookie(first, 'wardwatch_prelogin')).toMatch(/HttpOnly; SameSite=Strict; Max-Age=600$/);

    const secret = base32Decode(offer.secretBase32);
    const right = totp(secret, Date.now());
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    expect((await agentRequest(agent, 'POST', '/api/enrol', { body: { code: right } })).status).toBe(401); // no pre-login cookie
    const bad = await agentRequest(agent, 'POST', '/api/enrol', { cookie: preLogin, body: { code: wrong }, localAddress: '127.0.0.27' });
    expect(bad.status).toBe(401);
    expect(bad.json<{ error: string }>().error).toMatch(/4 tries left/);
    const done = await agentRequest(agent, 'POST', '/api/enrol', { cookie: preLogin, body: { code: right }, localAddress: '127.0.0.27' });
    expect(done.status).toBe(200);
    const enrolled = done.json<EnrolResponse>();
    expect(enrolled.user).toEqual({ name: user.username, role: 'biomed' });
    expect(enrolled.recoveryCodes).toHaveLength(10);
    const cookie = sessionCookieOf(done);
    expect((await agentRequest(agent, 'GET', '/api/baseline', { cookie })).status).toBe(200);
    // The pending enrolment is gone: the same pre-login cookie cannot enrol again.
    expect((await agentRequest(agent, 'POST', '/api/enrol', { cookie: preLogin, body: { code: right } })).status).toBe(401);
    expect(auditEntries(data.dir).filter((entry) => entry.actor === user.username).map((entry) => entry.action)).toEqual(['login-failed', 'mfa-enrolled', 'login']);

    const code = enrolled.recoveryCodes[0] ?? '';
    const withRecovery = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code }, localAddress: '127.0.0.27' });
    expect(withRecovery.status).toBe(200);
    expect(withRecovery.json<LoginResponse>()).toMatchObject({ method: 'recovery-code', recoveryCodesLeft: 9 });
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code }, localAddress: '127.0.0.27' })).status).toBe(401);
  });

  it('a disabled user is told so (403) only after the right password', async () => {
    const user = await addTestUser(data.dir, 'nurse');
    const store = UserStore.forDataDir(data.dir);
    store.setDisabled(user.username, true, Date.now());
    store.close();
    expect((await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: 'the wrong password', code: '000000' }, localAddress: '127.0.0.28' })).status).toBe(401);
    const refused = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: await nextCode(user) }, localAddress: '127.0.0.28' });
    expect(refused.status).toBe(403);
    expect(refused.json<{ error: string }>().error).toMatch(/disabled/);
  });

  it('the live feed: refused without a session cookie (401) or from another origin (403); with both it opens, and logout closes it', async () => {
    const nurse = await DashboardClient.logIn(agent, data.dir);
    expect(await openFeed(agent, { origin: origin() })).toEqual({ kind: 'refused', status: 401 });
    expect(await openFeed(agent, { origin: origin(), cookie: 'wardwatch_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).toEqual({ kind: 'refused', status: 401 });
    expect(await openFeed(agent, { origin: 'http://evil.example', cookie: nurse.cookie })).toEqual({ kind: 'refused', status: 403 });
    expect(await openFeed(agent, { cookie: nurse.cookie })).toEqual({ kind: 'refused', status: 403 });
    const opened = await openFeed(agent, { origin: origin(), cookie: nurse.cookie });
    if (opened.kind !== 'open') throw new Error(`feed refused: ${JSON.stringify(opened)}`);
    const first = await waitFor(() => opened.messages[0], 2_000, 'the snapshot');
    expect(JSON.parse(first)).toMatchObject({ type: 'snapshot' });
    const closed = closeCode(opened.socket);
    expect((await nurse.post('/api/logout', {})).status).toBe(200);
    expect(await closed).toBe(SESSION_ENDED_CLOSE_CODE);
  });

  it('a new login rotates the session id: the cookie the browser brought stops working', async () => {
    const user = await addTestUser(data.dir, 'nurse');
    const first = await logIn(agent, user);
    const again = await agentRequest(agent, 'POST', '/api/login', { cookie: first, body: { username: user.username, password: user.password, code: await nextCode(user) } });
    const second = sessionCookieOf(again);
    expect(second).not.toBe(first);
    expect((await agentRequest(agent, 'GET', '/api/alerts', { cookie: first })).status).toBe(401);
    expect((await agentRequest(agent, 'GET', '/api/alerts', { cookie: second })).status).toBe(200);
  });
});

describe('session idle timeout', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent;

  beforeAll(async () => {
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { sessions: { idleMs: 1_000 } });
  });

  afterAll(async () => {
    await agent.stop();
    data.remove();
  });

  it('a session used keeps going; left alone past the idle timeout it ends, its feed is closed and the end is audited', async () => {
    const nurse = await DashboardClient.logIn(agent, data.dir);
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await nurse.get('/api/health')).status).toBe(200);
    }
    const opened = await openFeed(agent, { origin: `http://127.0.0.1:${agent.httpPort}`, cookie: nurse.cookie });
    if (opened.kind !== 'open') throw new Error('feed refused');
    // An open feed is not use: the screen left alone is signed out.
    expect(await closeCode(opened.socket, 3_000)).toBe(SESSION_ENDED_CLOSE_CODE);
    expect((await nurse.get('/api/health')).status).toBe(401);
    expect((await nurse.get('/api/session')).json()).toEqual({ user: null });
    expect(auditEntries(data.dir).find((entry) => entry.action === 'logout' && entry.actor === nurse.user.username)).toMatchObject({ details: { reason: 'idle' } });
    expect((await verifyAuditLog(join(data.dir, 'audit.jsonl'))).ok).toBe(true);
  });
});

describe('an agent with no users', () => {
  it('says how to add the first admin, and refuses every login with the same 401', async () => {
    const data = temporaryDataDir();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const agent = await startAgent({ config: loadDemoConfig(), dataDir: data.dir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, logger: pino({ level: 'warn' }, sink) });
    try {
      expect(lines.join('')).toContain(`no dashboard users yet: wardwatch users add NAME --role admin -d ${data.dir}`);
      const answer = await agentRequest(agent, 'POST', '/api/login', { body: { username: 'admin', password: 'admin', code: '123456' } });
      expect(answer.status).toBe(401);
      expect(answer.json()).toEqual({ error: 'Wrong username, password or code.' });
    } finally {
      await agent.stop();
      data.remove();
    }
  });
});

describe.skipIf(noOpenssl !== null)('the session cookie over TLS', () => {
  it('is marked Secure, as well as HttpOnly and SameSite=Strict', async () => {
    const data = temporaryDataDir();
    const agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { tls: { mode: 'self-signed', names: [] } });
    try {
      const user = await addTestUser(data.dir, 'nurse');
      const answer = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: await nextCode(user) } });
      expect(answer.status).toBe(200);
      const attributes = rawSetCookie(answer, 'wardwatch_session').split('; ').slice(1);
      expect(attributes).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Strict', 'Secure']));
    } finally {
      await agent.stop();
      data.remove();
    }
  });
});
