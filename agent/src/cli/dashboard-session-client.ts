import { base32Decode, hotp, totpStep } from '../auth/totp.ts';

/**
 * A command-line client of the dashboard API (`sim scenario run --agent` reads the agent's
 * alerts): logs in with password and second factor like the page does, keeps the session
 * cookie, logs out at the end. The second factor is a code typed by the user (`--code`),
 * or computed here from the account's TOTP secret when one is given (WARDWATCH_TOTP_SECRET,
 * a test or automation account; the demo's published secret with `--demo-login`).
 */

export interface DashboardCredentials {
  readonly username: string;
  readonly password: string;
  /** A 6-digit code or a recovery code, used as given. */
  readonly code?: string;
  /** The account's TOTP secret, base32: codes are made here. */
  readonly totpSecretBase32?: string;
}

export class DashboardLoginError extends Error {
  readonly code = 'DASHBOARD_LOGIN';
}

export interface DashboardSession {
  get(path: string): Promise<Response>;
  logout(): Promise<void>;
}

async function postLogin(agentUrl: string, credentials: DashboardCredentials, code: string | undefined): Promise<Response> {
  return fetch(new URL('api/login', agentUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: credentials.username, password: credentials.password, ...(code === undefined ? {} : { code }) }),
  });
}

function sessionCookie(response: Response): string | null {
  for (const line of response.headers.getSetCookie()) {
    const pair = line.split(';')[0] ?? '';
    if (pair.startsWith('wardwatch_session=') && pair.length > 'wardwatch_session='.length) return pair;
  }
  return null;
}

async function errorText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
  } catch {
    // not JSON
  }
  return `HTTP ${response.status}`;
}

export async function openDashboardSession(agentUrl: string, credentials: DashboardCredentials): Promise<DashboardSession> {
  let response: Response;
  if (credentials.totpSecretBase32 !== undefined) {
    const secret = base32Decode(credentials.totpSecretBase32);
    const step = totpStep(Date.now());
    response = await postLogin(agentUrl, credentials, hotp(secret, step));
    // This step's code may have been used already (the demo user logged in in a browser a
    // moment ago): the agent also accepts the next step's, once (RFC 6238 §5.2 window).
    if (response.status === 401) response = await postLogin(agentUrl, credentials, hotp(secret, step + 1));
  } else {
    response = await postLogin(agentUrl, credentials, credentials.code);
  }
  if (response.status === 409) throw new DashboardLoginError(`${credentials.username} has no authenticator enrolled yet: log in once in the dashboard to enrol one`);
  if (response.status !== 200) throw new DashboardLoginError(`login to ${agentUrl} as ${credentials.username} refused: ${await errorText(response)}`);
  const cookie = sessionCookie(response);
  if (cookie === null) throw new DashboardLoginError(`${agentUrl} accepted the login but set no session cookie`);
  return {
    get: (path) => fetch(new URL(path, agentUrl), { headers: { cookie } }),
    logout: async () => {
      await fetch(new URL('api/logout', agentUrl), { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
    },
  };
}
