import type { Finding } from '../alert/finding.ts';

/**
 * The one alert into which the hub folds login bursts once it holds its cap of its own
 * open alerts (hub/hub-own-alerts.ts): what it says, and the bounded evidence it carries.
 * Its key names no address: no address on the wire can be it (an address has no spaces
 * or parentheses), so no burst can fold into it by its key, only by the cap.
 */
export const MANY_ADDRESSES_KEY = '(many addresses)';

/** Addresses the overflow alert lists (the first seen); every attempt of every address is in the audit log. */
export const OVERFLOW_LISTED_ADDRESSES = 20;

export function overflowTitle(cap: number): string {
  return `Dashboard login: bursts of failed logins from more than ${cap} addresses at once; each further address is counted here rather than alerted on its own (each is refused as it crosses the limit)`;
}

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
