import { may, type Permission } from '../auth/roles.ts';

/**
 * Who may call which part of the dashboard API, as data (DESIGN.md, principle 4), read
 * with auth/roles.ts: every route under /api/ needs a session and the permission listed
 * here, except the four that make or report a session. A route missing from this table
 * does not exist (404), and an unknown role is refused (`may` denies by default).
 *
 * Static files (the page, its script and style sheet) are public: the login form is part
 * of them, and they hold nothing about the ward; the data comes from /api/ and /ws.
 */

export interface ApiRoute {
  readonly method: 'GET' | 'POST';
  /** Matched against the whole path. */
  readonly path: RegExp;
  /** null: public (the login itself). */
  readonly permission: Permission | null;
  /** For docs and errors: what the route is. */
  readonly name: string;
}

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'POST', path: /^\/api\/login$/, permission: null, name: 'log in' },
  { method: 'POST', path: /^\/api\/enrol$/, permission: null, name: 'confirm the authenticator enrolment' },
  { method: 'POST', path: /^\/api\/logout$/, permission: null, name: 'log out' },
  { method: 'GET', path: /^\/api\/session$/, permission: null, name: 'who is logged in' },
  { method: 'GET', path: /^\/api\/alerts$/, permission: 'alerts.view', name: 'the alerts' },
  { method: 'GET', path: /^\/api\/alerts\/export$/, permission: 'alerts.view', name: 'the alerts export' },
  { method: 'GET', path: /^\/api\/devices$/, permission: 'alerts.view', name: 'the devices' },
  { method: 'GET', path: /^\/api\/devices\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/history$/, permission: 'alerts.view', name: 'a device\'s history' },
  { method: 'GET', path: /^\/api\/health$/, permission: 'alerts.view', name: 'the agent\'s health' },
  { method: 'POST', path: /^\/api\/alerts\/[0-9a-f-]{36}\/ack$/, permission: 'alerts.acknowledge', name: 'acknowledge an alert' },
  { method: 'GET', path: /^\/api\/baseline$/, permission: 'baseline.configure', name: 'the learned baseline' },
  { method: 'POST', path: /^\/api\/alerts\/[0-9a-f-]{36}\/accept-baseline$/, permission: 'baseline.configure', name: 'the learned baseline (accepting an alert into it)' },
  { method: 'GET', path: /^\/api\/config$/, permission: 'devices.configure', name: 'the site configuration' },
  { method: 'GET', path: /^\/api\/users$/, permission: 'users.manage', name: 'the dashboard users' },
  { method: 'GET', path: /^\/api\/audit$/, permission: 'audit.view', name: 'the audit log' },
  { method: 'GET', path: /^\/api\/wards$/, permission: 'alerts.view', name: 'the wards (wardwatch hub)' },
];

export type Access =
  | { readonly kind: 'public' }
  /** A session is needed; whether it may is `allows(role)`. */
  | { readonly kind: 'protected'; readonly route: ApiRoute }
  | { readonly kind: 'unknown' };

export function accessFor(method: string, path: string): Access {
  const route = API_ROUTES.find((candidate) => candidate.method === method && candidate.path.test(path));
  if (route === undefined) return { kind: 'unknown' };
  return route.permission === null ? { kind: 'public' } : { kind: 'protected', route };
}

export function roleMay(role: string, route: ApiRoute): boolean {
  return route.permission === null || may(role, route.permission);
}
