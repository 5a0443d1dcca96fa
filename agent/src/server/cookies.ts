import type { IncomingMessage } from 'node:http';

/**
 * The two dashboard cookies (RFC 6265). Both are HttpOnly (no script reads them, so an
 * injected script cannot carry them off), SameSite=Strict (a page on another site cannot
 * make the browser send them: no cross-site request forgery of an acknowledgement, no
 * cross-site WebSocket), Path=/, and Secure when the dashboard is served over TLS. The
 * plain-HTTP demo on loopback cannot mark them Secure (a browser would drop a Secure cookie
 * set over http://), which is one more reason the demo listens on 127.0.0.1 only.
 *
 * Cookies belong to a host, not to a host and port (RFC 6265 §8.5): two agents reached as
 * `localhost` on two ports share these cookies, and a login to one signs the browser out
 * of the other. Give each agent its own name (or use another browser profile).
 */

export const SESSION_COOKIE = 'wardwatch_session';
export const PRE_LOGIN_COOKIE = 'wardwatch_prelogin';

/** A cookie value sent back, or undefined. Only the first of duplicate names counts. */
export function readCookie(request: IncomingMessage, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  /** Served over TLS: add Secure. */
  readonly secure: boolean;
  /** Seconds; absent: a browser-session cookie, gone when the browser closes (the server enforces the real limits). */
  readonly maxAgeSeconds?: number;
}

/** A Set-Cookie value. `value` must be cookie-safe already (the session ids are base64url). */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`);
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

/** A Set-Cookie value that deletes the cookie (RFC 6265 §3.1: same name and path, Max-Age=0). */
export function clearCookie(name: string, secure: boolean): string {
  return setCookie(name, '', { secure, maxAgeSeconds: 0 });
}
