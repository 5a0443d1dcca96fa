import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AcknowledgeOutcome } from '../alert/alert-manager.ts';
import { normalizeAddress } from '../ingest/address.ts';
import type { AlertView, DeviceView, HealthView } from './dashboard-protocol.ts';
import type { DashboardAssets } from './dashboard-assets.ts';
import { isSameOrigin, type WebSocketHub } from './websocket-hub.ts';

/** What the HTTP API needs from the agent; the composition root provides it. */
export interface DashboardApi {
  alerts(limit: number): AlertView[];
  devices(): DeviceView[];
  health(): HealthView;
  acknowledge(id: string, by: string, reason: string, from: string): AcknowledgeOutcome;
}

const MAX_BODY_BYTES = 4 * 1024;

const acknowledgeBody = z.strictObject({
  by: z.string().trim().min(1, 'say who acknowledges').max(64),
  reason: z.string().trim().min(1, 'give a reason').max(200),
});

/**
 * Security headers on every response. The dashboard has no inline script or style, so
 * the policy can forbid both; `connect-src 'self'` covers the same-origin WebSocket.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  'Cache-Control': 'no-store',
};

/**
 * HSTS over TLS (RFC 6797): a year, this host only (the agent knows nothing of its
 * siblings). Not for `localhost`: HSTS is per host, not per port, and would turn every
 * other local http:// service (the plain-HTTP demo among them) into https:// in that
 * browser. Browsers ignore it from IP literals (§8.1.1) and from a certificate they do
 * not trust, so a self-signed agent pins nothing until the user trusts its certificate.
 */
const HSTS = 'max-age=31536000';

function isLocalhost(host: string | undefined): boolean {
  return host !== undefined && /^localhost(:\d+)?$/i.test(host);
}

function send(response: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value));
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

/** The agent's HTTP side: the dashboard page and assets, the JSON API and the WebSocket. */
export class DashboardServer {
  private server: Server | HttpsServer | null = null;

  constructor(
    private readonly api: DashboardApi,
    private readonly assets: DashboardAssets | null,
    private readonly hub: WebSocketHub,
    private readonly logger: Logger,
  ) {}

  /** With `tls`, HTTPS (and WSS for the live feed) on the same port; the bound port is returned. */
  async start(host: string, port: number, tls: Pick<TlsOptions, 'cert' | 'key'> | null = null): Promise<number> {
    const handler = (request: IncomingMessage, response: ServerResponse): void => {
      if (tls !== null && !isLocalhost(request.headers.host)) response.setHeader('Strict-Transport-Security', HSTS);
      this.route(request, response).catch((error: unknown) => {
        this.logger.error({ err: error, url: request.url }, 'http handler failed');
        if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
        else response.destroy();
      });
    };
    const server = tls === null ? createServer(handler) : createHttpsServer({ ...tls, minVersion: 'TLSv1.2' }, handler);
    server.on('upgrade', (request, socket, head) => {
      // After an upgrade Node no longer watches the socket: a reset while we refuse or accept it must not crash the agent.
      socket.on('error', () => socket.destroy());
      if (request.url === '/ws') this.hub.handleUpgrade(request, socket, head);
      else socket.destroy();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    this.hub.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return sendJson(response, 400, { error: 'bad request target' });
    }
    const method = request.method ?? 'GET';
    if (method === 'GET') {
      switch (url.pathname) {
        case '/':
        case '/index.html':
          return this.sendAsset(response, 'indexHtml', 'text/html; charset=utf-8');
        case '/assets/app.js':
          return this.sendAsset(response, 'appJs', 'text/javascript; charset=utf-8');
        case '/assets/style.css':
          return this.sendAsset(response, 'styleCss', 'text/css; charset=utf-8');
        case '/api/alerts': {
          const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 200) || 200, 1), 1000);
          return sendJson(response, 200, this.api.alerts(limit));
        }
        case '/api/devices':
          return sendJson(response, 200, this.api.devices());
        case '/api/health':
          return sendJson(response, 200, this.api.health());
      }
    }
    const ack = /^\/api\/alerts\/([0-9a-f-]{36})\/ack$/.exec(url.pathname);
    if (ack !== null && method === 'POST') return this.acknowledge(request, response, ack[1] ?? '');
    sendJson(response, 404, { error: 'not found' });
  }

  private sendAsset(response: ServerResponse, name: keyof DashboardAssets, contentType: string): void {
    if (this.assets === null) {
      send(response, 503, 'text/plain; charset=utf-8', 'The dashboard could not be built; see the agent log. The API under /api/ still works.');
      return;
    }
    send(response, 200, contentType, this.assets[name]);
  }

  private async acknowledge(request: IncomingMessage, response: ServerResponse, id: string): Promise<void> {
    // A browser always sends Origin on a POST; a page elsewhere must not acknowledge alerts.
    if (request.headers.origin !== undefined && !isSameOrigin(request)) {
      return sendJson(response, 403, { error: 'cross-origin request refused' });
    }
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
      return sendJson(response, 415, { error: 'send application/json' });
    }
    const body = await readBody(request);
    if (body === null) return sendJson(response, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return sendJson(response, 400, { error: 'body is not valid JSON' });
    }
    const input = acknowledgeBody.safeParse(parsed);
    if (!input.success) {
      return sendJson(response, 400, { error: input.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ') });
    }
    const outcome = this.api.acknowledge(id, input.data.by, input.data.reason, normalizeAddress(request.socket.remoteAddress));
    if (outcome.ok) return sendJson(response, 200, outcome.alert);
    return sendJson(response, outcome.error === 'not-found' ? 404 : 409, { error: outcome.error === 'not-found' ? 'no such alert' : 'already acknowledged' });
  }
}
