import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AcceptIntoBaselineOutcome } from '../alert/accept-into-baseline.ts';
import { MAX_RECENT_ALERTS, type AcknowledgeOutcome } from '../alert/alert-manager.ts';
import { normalizeAddress } from '../ingest/address.ts';
import { accessFor, roleMay } from './access.ts';
import { alertsCsv, exportFileName, isExportFormat } from './alert-export.ts';
import type { DashboardAuth } from './dashboard-auth.ts';
import type { AlertView, AuditView, BaselineAcceptedResponse, BaselineStatusView, DashboardUserView, DeviceHistoryView, DeviceView, HealthView, SiteConfigView, WardSummaryView } from './dashboard-protocol.ts';
import type { DashboardAssets } from './dashboard-assets.ts';
import { readJsonRequest, send, sendJson } from './http-io.ts';
import { isSameOrigin } from './same-origin.ts';
import type { Session } from './sessions.ts';
import type { WebSocketHub } from './websocket-hub.ts';
import { listen } from './listen.ts';

export { MAX_BODY_BYTES, SECURITY_HEADERS } from './http-io.ts';

/** An acknowledgement's outcome; `acknowledged-at-ward`: at `wardwatch hub`, a ward's alert, acknowledged at that ward (405). */
export type DashboardAcknowledgeOutcome = AcknowledgeOutcome | { readonly ok: false; readonly error: 'acknowledged-at-ward' };

/** What the HTTP API needs from the agent; the composition root provides it. */
export interface DashboardApi {
  alerts(limit: number): AlertView[];
  devices(): DeviceView[];
  /** The device's last 24 h (issue 6, engineer view); null for a device not in the inventory. */
  deviceHistory(deviceId: string): DeviceHistoryView | null;
  health(): HealthView;
  /** `by` is the session's user; the composition root also writes the audit entry. At `wardwatch hub` only its own alerts; a ward's answers 405. */
  acknowledge?(id: string, by: string, reason: string, from: string): DashboardAcknowledgeOutcome;
  baseline(): BaselineStatusView;
  /** Accepts a learned alert into the live baseline as `by` (alert/accept-into-baseline.ts); absent at `wardwatch hub`, which learns nothing (405). */
  acceptBaseline?(id: string, by: string, reason: string, from: string): Promise<AcceptIntoBaselineOutcome>;
  users(): DashboardUserView[];
  /** Async: it verifies the whole audit chain, streamed (audit/audit-log.ts `verifyAuditLog`). */
  audit(limit: number): Promise<AuditView>;
  /** `wardwatch hub` only (agent/src/hub/): the ward overview; absent on an agent (404). */
  wards?(): WardSummaryView[];
  /** The site configuration, read-only and without secrets (server/config-view.ts); absent at `wardwatch hub`, which has no site (404). */
  siteConfig?(): SiteConfigView;
}

const acknowledgeBody = z.strictObject({
  reason: z.string().trim().min(1, 'give a reason').max(200),
});

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

function refuseUpgrade(socket: Duplex, status: '401 Unauthorized' | '403 Forbidden'): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function boundedLimit(url: URL, fallback: number, max: number): number {
  return Math.min(Math.max(Number(url.searchParams.get('limit') ?? fallback) || fallback, 1), max);
}

/** The agent's HTTP side: the dashboard page and assets, the JSON API and the WebSocket. */
export class DashboardServer {
  private server: Server | HttpsServer | null = null;

  constructor(
    private readonly api: DashboardApi,
    private readonly assets: DashboardAssets | null,
    private readonly hub: WebSocketHub,
    private readonly auth: DashboardAuth,
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
      if (request.url !== '/ws') return socket.destroy();
      // Both checks before the upgrade: a page elsewhere (Origin), and anyone without a live
      // session (the cookie), get an HTTP refusal and never a socket.
      if (!isSameOrigin(request)) return refuseUpgrade(socket, '403 Forbidden');
      const session = this.auth.peekSession(request);
      if (session === null) return refuseUpgrade(socket, '401 Unauthorized');
      this.hub.handleUpgrade(request, socket, head, session.id);
    });
    this.server = server;
    return listen(server, port, host);
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
    if (url.pathname.startsWith('/api/')) return this.routeApi(request, response, method, url);
    if (method === 'GET') {
      // Public: the page and its assets hold the login form and nothing about the ward.
      switch (url.pathname) {
        case '/':
        case '/index.html':
          return this.sendAsset(response, 'indexHtml', 'text/html; charset=utf-8');
        case '/assets/app.js':
          return this.sendAsset(response, 'appJs', 'text/javascript; charset=utf-8');
        case '/assets/style.css':
          return this.sendAsset(response, 'styleCss', 'text/css; charset=utf-8');
      }
    }
    sendJson(response, 404, { error: 'not found' });
  }

  /** Every /api/ route: public ones, then the session, then the role (server/access.ts). */
  private async routeApi(request: IncomingMessage, response: ServerResponse, method: string, url: URL): Promise<void> {
    const access = accessFor(method, url.pathname);
    if (access.kind === 'public') {
      switch (url.pathname) {
        case '/api/login':
          return this.auth.login(request, response);
        case '/api/enrol':
          return this.auth.enrol(request, response);
        case '/api/logout':
          return this.auth.logout(request, response);
        case '/api/session':
          return this.auth.session(request, response);
      }
    }
    // No session, no answer about what exists: 401 before 404.
    const session = this.auth.useSession(request);
    if (session === null) return sendJson(response, 401, { error: 'log in first' });
    if (access.kind !== 'protected') return sendJson(response, 404, { error: 'not found' });
    if (!roleMay(session.role, access.route)) {
      return sendJson(response, 403, { error: `the ${session.role} role may not see or change ${access.route.name}` });
    }
    switch (url.pathname) {
      case '/api/alerts':
        return sendJson(response, 200, this.api.alerts(boundedLimit(url, 200, 1000)));
      case '/api/alerts/export':
        return this.exportAlerts(response, url);
      case '/api/devices':
        return sendJson(response, 200, this.api.devices());
      case '/api/health':
        return sendJson(response, 200, this.api.health());
      case '/api/baseline':
        return sendJson(response, 200, this.api.baseline());
      case '/api/users':
        return sendJson(response, 200, this.api.users());
      case '/api/audit':
        return sendJson(response, 200, await this.api.audit(boundedLimit(url, 100, 1000)));
      case '/api/wards':
        return this.api.wards === undefined ? sendJson(response, 404, { error: 'not found' }) : sendJson(response, 200, this.api.wards());
      case '/api/config':
        return this.api.siteConfig === undefined ? sendJson(response, 404, { error: 'the hub has no site configuration: each ward\'s agent shows its own' }) : sendJson(response, 200, this.api.siteConfig());
    }
    const history = /^\/api\/devices\/([^/]+)\/history$/.exec(url.pathname);
    if (history !== null) {
      const view = this.api.deviceHistory(history[1] ?? '');
      return view === null ? sendJson(response, 404, { error: 'no such device' }) : sendJson(response, 200, view);
    }
    const ack = /^\/api\/alerts\/([0-9a-f-]{36})\/ack$/.exec(url.pathname);
    if (ack !== null) return this.acknowledge(request, response, ack[1] ?? '', session);
    const accept = /^\/api\/alerts\/([0-9a-f-]{36})\/accept-baseline$/.exec(url.pathname);
    if (accept !== null) return this.acceptBaseline(request, response, accept[1] ?? '', session);
    sendJson(response, 404, { error: 'not found' });
  }

  /** Every alert the agent keeps (at most MAX_RECENT_ALERTS), as a download. */
  private exportAlerts(response: ServerResponse, url: URL): void {
    const format = url.searchParams.get('format');
    if (!isExportFormat(format)) return sendJson(response, 400, { error: 'format must be csv or json' });
    const alerts = this.api.alerts(MAX_RECENT_ALERTS);
    const disposition = { 'Content-Disposition': `attachment; filename="${exportFileName(format, new Date())}"` };
    if (format === 'json') return sendJson(response, 200, alerts, disposition);
    send(response, 200, 'text/csv; charset=utf-8; header=present', alertsCsv(alerts), disposition);
  }

  private sendAsset(response: ServerResponse, name: keyof DashboardAssets, contentType: string): void {
    if (this.assets === null) {
      send(response, 503, 'text/plain; charset=utf-8', 'The dashboard could not be built; see the agent log. The API under /api/ still works.');
      return;
    }
    send(response, 200, contentType, this.assets[name]);
  }

  private async acknowledge(request: IncomingMessage, response: ServerResponse, id: string, session: Session): Promise<void> {
    if (this.api.acknowledge === undefined) return sendJson(response, 405, { error: 'alerts are acknowledged on the ward\'s own dashboard; the hub only shows them' });
    const input = await readJsonRequest(request, response, acknowledgeBody);
    if (input === null) return;
    const outcome = this.api.acknowledge(id, session.username, input.reason, normalizeAddress(request.socket.remoteAddress));
    if (outcome.ok) return sendJson(response, 200, outcome.alert);
    if (outcome.error === 'acknowledged-at-ward') return sendJson(response, 405, { error: 'a ward\'s alerts are acknowledged on that ward\'s own dashboard; the hub only shows them' });
    return sendJson(response, outcome.error === 'not-found' ? 404 : 409, { error: outcome.error === 'not-found' ? 'no such alert' : 'already acknowledged' });
  }

  /** The same checks as an acknowledgement (same origin, JSON, a reason), after the role's (`baseline.configure`). */
  private async acceptBaseline(request: IncomingMessage, response: ServerResponse, id: string, session: Session): Promise<void> {
    if (this.api.acceptBaseline === undefined) return sendJson(response, 405, { error: 'a ward\'s alerts are accepted into its baseline on that ward\'s own dashboard; the hub learns nothing' });
    const input = await readJsonRequest(request, response, acknowledgeBody);
    if (input === null) return;
    const outcome = await this.api.acceptBaseline(id, session.username, input.reason, normalizeAddress(request.socket.remoteAddress));
    if (outcome.ok) return sendJson(response, 200, { alert: outcome.alert, accepted: outcome.accepted, acknowledged: outcome.acknowledged, saved: outcome.saved } satisfies BaselineAcceptedResponse);
    const status = outcome.error === 'not-found' ? 404 : outcome.error === 'not-audited' || outcome.error === 'audit-unreadable' ? 503 : 409;
    return sendJson(response, status, { error: outcome.message, code: outcome.error });
  }
}
