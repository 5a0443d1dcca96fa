import type { Finding } from '../alert/finding.ts';

export { MANY_ADDRESSES_KEY, overflowTitle } from '../auth/login-burst-finding.ts';

/**
 * The one alert into which the hub folds login bursts once it holds its cap of its own
 * open alerts (hub/hub-own-alerts.ts): the bounded evidence it carries (its key and title
 * are the agent's too, auth/login-burst-finding.ts).
 */

/** Addresses the overflow alert lists (the first seen); every attempt of every address is in the audit log. */
export const OVERFLOW_LISTED_ADDRESSES = 20;

function listedAddresses(evidence: Readonly<Record<string, unknown>> | null): string[] {
  const listed = evidence?.['addresses'];
  return Array.isArray(listed) ? listed.filter((address): address is string => typeof address === 'string').slice(0, OVERFLOW_LISTED_ADDRESSES) : [];
}

/**
 * The overflow alert's evidence after one more burst: the cap, the first addresses seen (at
 * most OVERFLOW_LISTED_ADDRESSES, carried in the evidence itself so that they survive a
 * restart of the hub), and the latest burst as the guard reported it.
 */
export function overflowEvidence(cap: number, held: Readonly<Record<string, unknown>> | null, burst: Finding): Record<string, unknown> {
  const addresses = listedAddresses(held);
  const address = burst.evidence['address'];
  if (typeof address === 'string' && addresses.length < OVERFLOW_LISTED_ADDRESSES && !addresses.includes(address)) addresses.push(address);
  return { openAlertCap: cap, addresses, latest: burst.evidence, auditLog: 'every failed login is in the audit log (login-failed; "burst": true marks each address crossing the limit)' };
}
