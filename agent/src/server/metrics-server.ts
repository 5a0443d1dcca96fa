import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CONTENT_TYPE } from '../health/prometheus-text.ts';
import type { HealthView } from './dashboard-protocol.ts';
import { listen } from './listen.ts';

/** What the listener serves; the composition root provides it. */
export interface MetricsEndpoints {
  /** The Prometheus text exposition (counts only, never patient data). */
  metrics(): string;
  health(): HealthView;
}

/** Scrapers and health checkers keep one or two connections each; more are refused (DESIGN.md, principle 3). */
export const MAX_METRICS_CONNECTIONS = 16;
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 8 * 1024;
/** A connection that sends nothing for this long is closed: a scraper asks and goes; Prometheus keeps its connection alive between scrapes and reconnects when it is gone. */
export const IDLE_SOCKET_MS = 5_000;

const HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' } as const;

function answer(request: IncomingMessage, response: ServerResponse, status: number, contentType: string, body: string, extra: Readonly<Record<string, string>> = {}): void {
  response.writeHead(status, { ...HEADERS, ...extra, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  // HEAD: the headers of a GET, no body (RFC 9110 §9.3.2).
  response.end(request.method === 'HEAD' ? undefined : body);
}

/**
 * A small plain-HTTP listener apart from the dashboard, so that Prometheus and container
 * or systemd health checks need no login and no TLS trust: `GET /metrics` (the text
 * exposition, version 0.0.4) and `GET /healthz` (200 `ok`, or 503 `degraded` with one
 * reason per line). It reads no request body and serves nothing else. It carries counts
 * and the health reasons only, never a payload, a patient or a credential; it listens on
 * 127.0.0.1 unless told otherwise (docs/operations.md, "Metrics and health checks").
 */
export class MetricsServer {
  private server: Server | null = null;

  constructor(
    private readonly endpoints: MetricsEndpoints,
    private readonly logger: Logger,
  ) {}

  /** Returns the bound port. */
  async start(host: string, port: number): Promise<number> {
    // Node enforces headersTimeout only on its connection sweep (every 30 s by default), so 16
    // idle sockets could hold every slot and fail /healthz for half a minute at a time: the
    // sweep runs every second here, and a socket idle for IDLE_SOCKET_MS is closed.
    const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1_000 }, (request, response) => {
      try {
        this.route(request, response);
      } catch (error) {
        // A scrape failing must never take the agent down (principle 7).
        this.logger.error({ err: error, url: request.url }, 'metrics request failed');
        if (!response.headersSent) answer(request, response, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else response.destroy();
      }
    });
    server.maxConnections = MAX_METRICS_CONNECTIONS;
    server.on('connection', (socket) => socket.setTimeout(IDLE_SOCKET_MS, () => socket.destroy()));
    this.server = server;
    const bound = await listen(server, port, host);
    server.on('error', (error) => this.logger.error({ err: error }, 'metrics listener error'));
    return bound;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private route(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' && path !== '/healthz') return answer(request, response, 404, 'text/plain; charset=utf-8', 'not found: GET /metrics or /healthz\n');
    if (request.method !== 'GET' && request.method !== 'HEAD') return answer(request, response, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    if (path === '/metrics') return answer(request, response, 200, CONTENT_TYPE, this.endpoints.metrics());
    const health = this.endpoints.health();
    // Degraded is 503: every reason means wards are not fully watched (ingest stalled, an
    // output or a detector failing, the tap cut off), which an operator must hear about
    // even when nobody looks at the dashboard (docs/operations.md).
    if (health.status === 'ok') return answer(request, response, 200, 'text/plain; charset=utf-8', 'ok\n');
    answer(request, response, 503, 'text/plain; charset=utf-8', `degraded\n${health.reasons.map((reason) => `${reason.replace(/[\r\n]+/g, ' ')}\n`).join('')}`);
  }
}
