import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { isSameOrigin } from './same-origin.ts';

/** Every request body the dashboard API takes fits in this (a login, an acknowledgement). */
export const MAX_BODY_BYTES = 4 * 1024;

/**
 * Security headers on every response. The dashboard has no inline script or style, so
 * the policy can forbid both; `connect-src 'self'` covers the same-origin WebSocket.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  'Cache-Control': 'no-store',
};

export type ExtraHeaders = Readonly<Record<string, string | readonly string[]>>;

export function send(response: ServerResponse, status: number, contentType: string, body: string | Buffer, extra: ExtraHeaders = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, ...extra, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

export function sendJson(response: ServerResponse, status: number, value: unknown, extra: ExtraHeaders = {}): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value), extra);
}

async function readBody(request: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The checks every state-changing request passes before its body is read: same origin
 * (a browser always sends Origin on a POST; a page elsewhere must not log in, log out or
 * acknowledge through a visitor's browser), JSON (a cross-site form cannot send it without
 * a CORS preflight, which this server never grants), at most MAX_BODY_BYTES, and the
 * body's shape. Answers the request itself and returns null when a check fails.
 */
export async function readJsonRequest<T>(request: IncomingMessage, response: ServerResponse, schema: z.ZodType<T>): Promise<T | null> {
  if (request.headers.origin !== undefined && !isSameOrigin(request)) {
    sendJson(response, 403, { error: 'cross-origin request refused' });
    return null;
  }
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    sendJson(response, 415, { error: 'send application/json' });
    return null;
  }
  const body = await readBody(request);
  if (body === null) {
    sendJson(response, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    sendJson(response, 400, { error: 'body is not valid JSON' });
    return null;
  }
  const input = schema.safeParse(parsed);
  if (!input.success) {
    sendJson(response, 400, { error: input.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ') });
    return null;
  }
  return input.data;
}
