import type { Finding } from '../alert/finding.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import type { LoginBurst } from './login-guard.ts';

/** Usernames quoted in the title; the evidence keeps every one the guard reported. */
const TITLE_USERNAMES = 5;

/**
 * The sentence a `dashboard-login-burst` alert shows: who tried from where, and that the
 * address is refused; or, for an IPv6 /64 that crossed its own limit (auth/login-guard.ts),
 * that the whole prefix is.
 */
export function loginBurstTitle(burst: LoginBurst): string {
  const names = burst.usernames.slice(0, TITLE_USERNAMES).join(', ') + (burst.usernames.length > TITLE_USERNAMES ? `, … (${burst.usernames.length})` : '');
  const prefix = burst.address.includes('/');
  const from = prefix ? `the IPv6 prefix ${burst.address} (many addresses)` : burst.address;
  return `Dashboard login: ${burst.failures} failed or refused logins from ${from} within ${Math.round(burst.windowMs / 60_000)} min (usernames tried: ${names}); ${prefix ? 'every address in that prefix' : 'that address'} is refused until they age out`;
}

/**
 * A burst the login guard reported (auth/login-guard.ts) as the finding `dashboard-login-burst`,
 * the same on an agent (app.ts) and at `wardwatch hub` (hub/hub.ts): keyed by the address,
 * so that repeats from one address fold into one alert within the suppression window.
 */
export function loginBurstFinding(burst: LoginBurst): Finding {
  return { type: 'dashboard-login-burst', ts: burst.ts, device: null, dedupKey: burst.address, title: loginBurstTitle(burst), evidence: { ...burst } };
}

/**
 * The key of the one alert into which further bursts fold once `cap` sources have open
 * alerts of their own. It names no address: no address on the wire can be it (an address
 * has no spaces or parentheses), so no burst folds into it by its key, only by the cap.
 */
export const MANY_ADDRESSES_KEY = '(many addresses)';

export function overflowTitle(cap: number): string {
  return `Dashboard login: bursts of failed logins from more than ${cap} addresses at once; each further address is counted here rather than alerted on its own (each is refused as it crosses the limit)`;
}

/**
 * Open `dashboard-login-burst` alerts an agent shows one per source before further sources
 * fold into one (MANY_ADDRESSES_KEY): an attacker with many IPv6 /64s must not fill the
 * nurses' alert list with login alerts. The hub, seen by fewer people about more wards,
 * keeps more (hub/hub-own-alerts.ts).
 */
export const AGENT_OPEN_LOGIN_BURST_CAP = 10;

/** Addresses the overflow alert lists (the first seen); every attempt of every address is in the audit log. */
export const OVERFLOW_LISTED_ADDRESSES = 20;

function listedAddresses(evidence: Readonly<Record<string, unknown>> | null): string[] {
  const listed = evidence?.['addresses'];
  return Array.isArray(listed) ? listed.filter((address): address is string => typeof address === 'string').slice(0, OVERFLOW_LISTED_ADDRESSES) : [];
}

/**
 * The overflow alert's evidence after one more burst: the cap, the first addresses seen (at
 * most OVERFLOW_LISTED_ADDRESSES, carried in the evidence itself so that they survive a
 * restart), and the latest burst as the guard reported it.
 */
export function overflowEvidence(cap: number, held: Readonly<Record<string, unknown>> | null, burst: Finding): Record<string, unknown> {
  const addresses = listedAddresses(held);
  const address = burst.evidence['address'];
  if (typeof address === 'string' && addresses.length < OVERFLOW_LISTED_ADDRESSES && !addresses.includes(address)) addresses.push(address);
  return { openAlertCap: cap, addresses, latest: burst.evidence, auditLog: 'every failed login is in the audit log (login-failed; "burst": true marks each address crossing the limit)' };
}

/**
 * The finding for `burst` on an agent, given the alerts it holds: the source's own (it folds
 * into that source's open alert, if any), until AGENT_OPEN_LOGIN_BURST_CAP sources have open
 * alerts; then the one "many addresses" finding.
 */
export function cappedLoginBurstFinding(burst: LoginBurst, alerts: readonly AlertView[]): Finding {
  const finding = loginBurstFinding(burst);
  const openSources = new Set<unknown>();
  for (const alert of alerts) {
    if (alert.type !== 'dashboard-login-burst' || alert.state !== 'open' || 'openAlertCap' in alert.evidence) continue;
    openSources.add(alert.evidence['address']);
  }
  if (openSources.has(burst.address) || openSources.size < AGENT_OPEN_LOGIN_BURST_CAP) return finding;
  // Each burst folded in adds its source to the listed ones and becomes the latest, so the alert names who is trying now.
  return { ...finding, dedupKey: MANY_ADDRESSES_KEY, title: overflowTitle(AGENT_OPEN_LOGIN_BURST_CAP), evidence: overflowEvidence(AGENT_OPEN_LOGIN_BURST_CAP, null, finding), foldEvidence: (held) => overflowEvidence(AGENT_OPEN_LOGIN_BURST_CAP, held, finding) };
}
