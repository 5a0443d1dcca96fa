import type { Finding } from '../alert/finding.ts';
import type { LoginBurst } from './login-guard.ts';

/** Usernames quoted in the title; the evidence keeps every one the guard reported. */
const TITLE_USERNAMES = 5;

/** The sentence a `dashboard-login-burst` alert shows: who tried from where, and that the address is refused. */
export function loginBurstTitle(burst: LoginBurst): string {
  const names = burst.usernames.slice(0, TITLE_USERNAMES).join(', ') + (burst.usernames.length > TITLE_USERNAMES ? `, … (${burst.usernames.length})` : '');
  return `Dashboard login: ${burst.failures} failed or refused logins from ${burst.address} within ${Math.round(burst.windowMs / 60_000)} min (usernames tried: ${names}); that address is refused until they age out`;
}

/**
 * A burst the login guard reported (auth/login-guard.ts) as the finding `dashboard-login-burst`,
 * the same on an agent (app.ts) and at `wardwatch hub` (hub/hub.ts): keyed by the address,
 * so that repeats from one address fold into one alert within the suppression window.
 */
export function loginBurstFinding(burst: LoginBurst): Finding {
  return { type: 'dashboard-login-burst', ts: burst.ts, device: null, dedupKey: burst.address, title: loginBurstTitle(burst), evidence: { ...burst } };
}
