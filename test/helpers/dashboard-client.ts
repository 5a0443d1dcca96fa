/**
 * A logged-in dashboard client for tests: adds a user to the agent's data directory through
 * the real UserStore (TOTP already enrolled, its secret sealed with the agent's own
 * secret.key), logs in over HTTP with password and a code from the real TOTP functions,
 * and keeps the session cookie. Tests that do not care about accounts call
 * `loggedInClient(agent, dataDir)` and go on as before; nothing switches authentication off.
 *
 * Test users' passwords are hashed at a low scrypt cost (N=2^12) to keep the suite fast;
 * verifyPassword reads the cost from the hash, so the login path is the real one.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RunningAgent } from '../../agent/src/app.ts';

/** What the client needs of a server: an agent, or a `wardwatch hub` (the same dashboard). */
export type DashboardHost = Pick<RunningAgent, 'tls' | 'httpPort'>;
import { totpSecretContext } from '../../agent/src/auth/authenticate.ts';
import { hashPassword, type ScryptCost } from '../../agent/src/auth/password-hash.ts';
import { issueRecoveryCodes } from '../../agent/src/auth/recovery-codes.ts';
import type { UserRole } from '../../agent/src/auth/roles.ts';
import { SecretBox } from '../../agent/src/auth/secret-box.ts';
import { generateTotpSecret, hotp, totpStep, TOTP_STEP_SECONDS } from '../../agent/src/auth/totp.ts';
import { UserStore } from '../../agent/src/auth/user-store.ts';

export const TEST_SCRYPT_COST: ScryptCost = { N: 2 ** 12, r: 8, p: 1 };

export interface TestUser {
  readonly username: string;
  readonly password: string;
  readonly role: UserRole;
  /** The TOTP secret; null for a user who has not enrolled yet. */
  readonly secret: Buffer | null;
  readonly recoveryCodes: readonly string[];
  /** The last TOTP step a code was made for, so that no code is sent twice (the agent refuses replays). */
  lastStep: number | null;
}

let counter = 0;

/** Adds a user to the data directory (the agent may be running: users.db is shared, WAL). */
export async function addTestUser(dataDir: string, role: UserRole, options: { readonly username?: string; readonly enrolled?: boolean; readonly password?: string } = {}): Promise<TestUser> {
  counter += 1;
  const username = options.username ?? `${role}-${process.pid}-${counter}`;
  const password = options.password ?? `a long test passphrase ${counter}`;
  const now = Date.now();
  const store = UserStore.forDataDir(dataDir);
  try {
    store.add({ username, role, passwordHash: await hashPassword(password, TEST_SCRYPT_COST) }, now);
    if (options.enrolled === false) return { username, password, role, secret: null, recoveryCodes: [], lastStep: null };
    const secret = generateTotpSecret();
    const recovery = issueRecoveryCodes(username);
    // As if enrolled two steps ago: the current code is accepted.
    store.enrolMfa(username, SecretBox.forDataDir(dataDir).seal(secret, totpSecretContext(username)), totpStep(now) - 2, recovery.hashes, now);
    return { username, password, role, secret, recoveryCodes: recovery.codes, lastStep: null };
  } finally {
    store.close();
  }
}

/**
 * A code the agent has not seen for this user: the current step's, or the next one's when
 * the current was used (the agent accepts ±1 step), or it waits for a fresh step.
 */
export async function nextCode(user: TestUser): Promise<string> {
  if (user.secret === null) throw new Error(`${user.username} has no authenticator`);
  let step = totpStep(Date.now());
  if (user.lastStep !== null && step <= user.lastStep) {
    step = user.lastStep + 1;
    const waitMs = (step - 1) * TOTP_STEP_SECONDS * 1000 - Date.now() + 50;
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  user.lastStep = step;
  return hotp(user.secret, step);
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  json<T = unknown>(): T;
  /** `name=value` of each Set-Cookie. */
  readonly setCookies: readonly string[];
}

export interface RequestOptions {
  readonly cookie?: string;
  readonly origin?: string | null;
  readonly body?: unknown;
  readonly contentType?: string;
  /** The client's source address (any 127.x.y.z on Linux): separates tests that the per-address login limit would otherwise join. */
  readonly localAddress?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The agent's own origin, as a browser on its page would send it. */
export function agentOrigin(agent: DashboardHost): string {
  return `${agent.tls === null ? 'http' : 'https'}://127.0.0.1:${agent.httpPort}`;
}

/** One HTTP(S) request to the agent (https trusting only the agent's certificate). POSTs carry the same Origin unless told otherwise. */
export function agentRequest(agent: DashboardHost, method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  const origin = options.origin === undefined ? (method === 'POST' ? agentOrigin(agent) : null) : options.origin;
  if (origin !== null) headers.origin = origin;
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  const url = `${agentOrigin(agent)}${path}`;
  const send = agent.tls === null ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers, agent: false, ...(agent.tls === null ? {} : { ca: agent.tls.cert }), ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        const raw = response.headers['set-cookie'] ?? [];
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body,
          json: <T>() => JSON.parse(body) as T,
          setCookies: raw.map((line) => line.split(';')[0] ?? ''),
        });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The session cookie (`wardwatch_session=…`) a response set, or throws. */
export function sessionCookieOf(answer: HttpAnswer): string {
  const cookie = answer.setCookies.find((line) => line.startsWith('wardwatch_session=') && line.length > 'wardwatch_session='.length);
  if (cookie === undefined) throw new Error(`no session cookie in the answer (${answer.status} ${answer.body})`);
  return cookie;
}

/** Logs `user` in with password and a fresh TOTP code; returns the session cookie. */
export async function logIn(agent: DashboardHost, user: TestUser, options: Pick<RequestOptions, 'localAddress'> = {}): Promise<string> {
  const answer = await agentRequest(agent, 'POST', '/api/login', { body: { username: user.username, password: user.password, code: await nextCode(user) }, ...options });
  if (answer.status !== 200) throw new Error(`login of ${user.username} answered ${answer.status}: ${answer.body}`);
  return sessionCookieOf(answer);
}

/** A user of `role` with a session: GET and POST to the API as that user. */
export class DashboardClient {
  private constructor(
    readonly agent: DashboardHost,
    readonly user: TestUser,
    readonly cookie: string,
  ) {}

  /** Adds a fresh user of `role` to `dataDir` and logs in. */
  static async logIn(agent: DashboardHost, dataDir: string, role: UserRole = 'nurse'): Promise<DashboardClient> {
    const user = await addTestUser(dataDir, role);
    return new DashboardClient(agent, user, await logIn(agent, user));
  }

  get(path: string): Promise<HttpAnswer> {
    return agentRequest(this.agent, 'GET', path, { cookie: this.cookie });
  }

  post(path: string, body: unknown): Promise<HttpAnswer> {
    return agentRequest(this.agent, 'POST', path, { cookie: this.cookie, body });
  }

  /** GET that must answer 200; the parsed body. */
  async json<T>(path: string): Promise<T> {
    const answer = await this.get(path);
    if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${answer.body}`);
    return answer.json<T>();
  }
}

/** The usual case: a logged-in nurse (view and acknowledge). */
export function loggedInClient(agent: DashboardHost, dataDir: string, role: UserRole = 'nurse'): Promise<DashboardClient> {
  return DashboardClient.logIn(agent, dataDir, role);
}
