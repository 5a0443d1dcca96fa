import type { IncomingMessage } from 'node:http';

/**
 * Same-origin only: a page elsewhere must not read patient-device alerts, or act, through a
 * visitor's browser. Compares the Origin's host and port with the Host the request was
 * sent to, so it holds under http and https alike.
 */
export function isSameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (origin === undefined || host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
