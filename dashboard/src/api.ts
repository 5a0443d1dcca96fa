/**
 * The page's calls to the agent's session API (docs/protocol.md, "Dashboard API"). The
 * session itself is an HttpOnly cookie the page never sees; these calls only carry it
 * (`credentials: 'same-origin'`). Every failure comes back as a value with a message for
 * the person at the screen, never a throw.
 */
import type { ApiError, EnrolmentOffer, EnrolResponse, LoginRequest, LoginResponse, SessionView } from '../../agent/src/server/dashboard-protocol.ts';

const REQUEST_TIMEOUT_MS = 15_000;

export type Reply<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'refused'; readonly status: number; readonly message: string; readonly body: unknown }
  | { readonly kind: 'unreachable' };

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply<T>> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch {
    return { kind: 'unreachable' };
  }
  let parsed: unknown = null;
  try {
    parsed = await response.json();
  } catch {
    // not JSON: handled by status below
  }
  if (response.ok) return { kind: 'ok', value: parsed as T };
  const error = typeof parsed === 'object' && parsed !== null ? (parsed as Partial<ApiError>).error : undefined;
  return { kind: 'refused', status: response.status, message: typeof error === 'string' && error !== '' ? error : `The agent answered with an error (HTTP ${response.status}).`, body: parsed };
}

export function fetchSession(): Promise<Reply<SessionView>> {
  return call<SessionView>('GET', '/api/session');
}

export type LoginReply =
  | { readonly kind: 'ok'; readonly value: LoginResponse }
  | { readonly kind: 'enrol'; readonly offer: EnrolmentOffer['enrol'] }
  | { readonly kind: 'refused'; readonly status: number; readonly message: string }
  | { readonly kind: 'unreachable' };

export async function postLogin(request: LoginRequest): Promise<LoginReply> {
  const reply = await call<LoginResponse>('POST', '/api/login', request);
  if (reply.kind === 'refused' && reply.status === 409) {
    const offer = (reply.body as Partial<EnrolmentOffer> | null)?.enrol;
    if (offer !== undefined && typeof offer.secretBase32 === 'string') return { kind: 'enrol', offer };
  }
  return reply.kind === 'refused' ? { kind: 'refused', status: reply.status, message: reply.message } : reply;
}

export function postEnrol(code: string): Promise<Reply<EnrolResponse>> {
  return call<EnrolResponse>('POST', '/api/enrol', { code });
}

export function postLogout(): Promise<Reply<SessionView>> {
  return call<SessionView>('POST', '/api/logout', {});
}

export function getJson<T>(path: string): Promise<Reply<T>> {
  return call<T>('GET', path);
}

export function postJson<T>(path: string, body: unknown): Promise<Reply<T>> {
  return call<T>('POST', path, body);
}
