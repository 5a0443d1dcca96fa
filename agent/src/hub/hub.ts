import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { MAX_RECENT_ALERTS, MAX_SUPPRESSION_ENTRIES } from '../alert/alert-manager.ts';
import { loginBurstFinding } from '../auth/login-burst-finding.ts';
import { isRecentFailure } from '../health/agent-health.ts';
import type { TlsConfig } from '../model/site-schema.ts';
import { loadDashboardAssets, type DashboardAssets } from '../server/dashboard-assets.ts';
import { HEALTH_INTERVAL_MS, type BaselineStatusView, type HealthView, type ServerMessage, type WardSummaryView } from '../server/dashboard-protocol.ts';
import { DashboardServer, type DashboardApi } from '../server/http-server.ts';
import type { SessionOptions } from '../server/sessions.ts';
import { DashboardAccess } from '../server/dashboard-access.ts';
import { WebSocketHub } from '../server/websocket-hub.ts';
import { AlertStore } from '../store/alert-store.ts';
import { lockDataDir } from '../store/data-dir-lock.ts';
import { readCertificatePair } from '../tls/certificate-pair.ts';
import { prepareServerTls, type ServerTls } from '../tls/server-tls.ts';
import { HubAlertBook, type HubAlertCounts } from './hub-alerts.ts';
import { MAX_HUB_WARDS, type HubConfig } from './hub-config.ts';
import { HubOwnAlerts } from './hub-own-alerts.ts';
import { HubSubscriber, unusedMessagesReason, type RejectReason } from './hub-subscriber.ts';
import { WardRegistry, type HubLinkState } from './ward-registry.ts';

export interface HubOptions {
  readonly config: HubConfig;
  readonly dataDir: string;
  readonly httpHost?: string;
  /** 0 = a free port. */
  readonly httpPort: number;
  /** TLS for the dashboard; absent: plain HTTP. `wardwatch hub` passes the config's `tls`, or self-signed. */
  readonly tls?: TlsConfig;
  readonly openssl?: string;
  readonly logger?: Logger;
  readonly sessions?: Partial<SessionOptions>;
}

export interface RunningHub {
  readonly httpPort: number;
  readonly url: string;
  readonly tls: ServerTls | null;
  readonly alerts: HubAlertBook;
  wards(): WardSummaryView[];
  /** Whether the hub is connected to the central broker now. */
  readonly brokerConnected: boolean;
  /** Messages from the broker, and those not used by reason. */
  messages(): { readonly received: number; readonly rejected: Readonly<Partial<Record<RejectReason, number>>>; readonly alerts: HubAlertCounts };
  stop(): Promise<void>;
}

export const HUB_ALERTS_FILE = 'hub-alerts.db';
/** The ward overview is pushed at most this often, and only when it changed. */
const WARDS_PUSH_MS = 1_000;
/** Ward reasons shown in the hub's health banner; the rest are summed up. */
const MAX_BANNER_WARDS = 10;

/** The hub keeps no baseline: the baseline page has nothing to show. */
const NO_BASELINE: BaselineStatusView = { saved: false, mode: 'off', learningHours: 0, learnedUntil: null, events: 0, devicesCovered: 0, devicesTotal: 0, devices: [] };

/**
 * `wardwatch hub` (issue 8, many wards): one dashboard over every ward whose agent sends
 * its alerts, health and device summary to the hospital's central broker (export/uplink.ts).
 * The same dashboard server, logins, sessions, roles, audit log and TLS as an agent, with
 * the hub's own users in its own data directory; the ward overview comes from the
 * retained health and uplink state, the alert list from every ward's alerts (each marked
 * with its ward). A ward's alerts are acknowledged at the ward, where the nurse is
 * answerable: the hub only shows them (its acknowledge route answers 405 for them).
 *
 * The hub raises one alert of its own: `dashboard-login-burst`, when its login guard
 * reports a burst of failed logins from one address (hub/hub-own-alerts.ts). The hub is
 * the dashboard reachable from across the hospital, so password guessing against it must
 * reach its watchers as it would at a ward. That alert is local (origin HUB_ORIGIN), so
 * the roles that may acknowledge (nurse and up) acknowledge it here, with an audit entry.
 */
export async function startHub(options: HubOptions): Promise<RunningHub> {
  const { config } = options;
  const logger = options.logger ?? pino({ level: 'info' });
  // Read before anything is opened: a CA file gone since the config was checked, or a client
  // certificate changed since (a TlsError naming the file, never the key), stops the start cleanly.
  const brokerCa = config.broker.ca === undefined ? undefined : readFileSync(config.broker.ca);
  const brokerClientCertificate = config.broker.cert === undefined || config.broker.key === undefined ? null : await readCertificatePair(config.broker.cert, config.broker.key);
  await mkdir(options.dataDir, { recursive: true, mode: 0o750 });
  const unlockDataDir = await lockDataDir(options.dataDir);
  const httpHost = options.httpHost ?? '127.0.0.1';
  let tls: ServerTls | null;
  try {
    tls = options.tls === undefined ? null : await prepareServerTls(options.tls, { dataDir: options.dataDir, listenHosts: [httpHost], logger, ...(options.openssl === undefined ? {} : { openssl: options.openssl }) });
  } catch (error) {
    await unlockDataDir();
    throw error;
  }
  const store = new AlertStore(join(options.dataDir, HUB_ALERTS_FILE));
  const book = new HubAlertBook(config.maxAlerts, store, store.loadRecent(config.maxAlerts));
  // The hub's own alerts fold their repeats after a restart too (wards' alerts have no window here).
  const own = new HubOwnAlerts(book, logger, { suppressions: store.loadSuppressions(MAX_SUPPRESSION_ENTRIES), at: Date.now() });
  const registry = new WardRegistry(config.wards, MAX_HUB_WARDS);
  const startedAt = Date.now();
  let link: HubLinkState = { connected: false, reason: 'not connected yet', since: startedAt };
  let subscriber: HubSubscriber | null = null;

  const wards = (): WardSummaryView[] => registry.summaries(Date.now(), { ...link, reason: link.connected ? null : subscriber?.lastError ?? link.reason }, book.openByWard());
  const health = (): HealthView => {
    const now = Date.now();
    const summaries = wards();
    const reasons: string[] = [];
    if (!link.connected) reasons.push(`the hub is not connected to the central broker${subscriber?.lastError === null || subscriber === null ? '' : ` (${subscriber.lastError})`}: no ward's alerts can arrive`);
    const troubled = link.connected ? summaries.filter((ward) => ward.status !== 'ok') : [];
    for (const ward of troubled.slice(0, MAX_BANNER_WARDS)) reasons.push(`ward ${ward.ward} ${ward.status}: ${ward.reasons.join('; ')}`);
    if (troubled.length > MAX_BANNER_WARDS) reasons.push(`and ${troubled.length - MAX_BANNER_WARDS} more wards not ok`);
    // A message the hub could not use may have been an alert: said while recent, as an agent says a failing output.
    const unread = subscriber === null ? null : unusedMessagesReason(subscriber.rejected, now);
    if (unread !== null) reasons.push(unread);
    if (own.storeFailure !== null && isRecentFailure(own.storeFailure, now)) {
      reasons.push(`the hub's alert store (${HUB_ALERTS_FILE}) could not keep its own alerts (${own.storeFailure.count} failed writes, the last at ${new Date(own.storeFailure.lastAt).toISOString().slice(11, 19)} UTC): they are shown until the hub stops`);
    }
    return {
      status: reasons.length === 0 ? 'ok' : 'degraded',
      reasons,
      startedAt: new Date(startedAt).toISOString(),
      now: new Date(now).toISOString(),
      mqttClients: summaries.filter((ward) => ward.uplink === 'online').length,
      publishes: subscriber?.received ?? 0,
      anomalies: subscriber?.rejectedCounts() ?? {},
      alerts: book.size,
    };
  };

  const snapshot = (): ServerMessage => ({
    type: 'snapshot',
    site: { name: config.site.name, ward: 'all wards' },
    devices: [],
    alerts: book.list(MAX_RECENT_ALERTS),
    health: health(),
    screen: { escalateCriticalAfterSeconds: config.dashboard.escalateCriticalAfterSeconds },
    wards: wards(),
  });
  const feed = new WebSocketHub(snapshot);

  let lastWardsJson = '';
  const pushWards = (): void => {
    const current = wards();
    const json = JSON.stringify(current);
    if (json === lastWardsJson) return;
    lastWardsJson = json;
    feed.broadcast({ type: 'wards', wards: current });
  };

  subscriber = new HubSubscriber({
    url: config.broker.url,
    ...(config.broker.username === undefined ? {} : { username: config.broker.username }),
    ...(config.broker.password === undefined ? {} : { password: config.broker.password }),
    ...(brokerCa === undefined ? {} : { ca: brokerCa }),
    ...(brokerClientCertificate === null ? {} : { clientCertificate: { cert: brokerClientCertificate.cert, key: brokerClientCertificate.key } }),
    clientId: config.broker.clientId,
    topicPrefix: config.broker.topicPrefix,
    reconnectMaxSeconds: config.broker.reconnectMaxSeconds,
    logger,
    handlers: {
      alert: (ward, message) => {
        if (!registry.admits(ward)) return;
        registry.touch(ward, message.site, Date.now());
        registry.alertSeq(ward, message.seq, Date.now());
        const arrival = book.accept(ward, message.alert);
        if (arrival === 'new' || arrival === 'updated') {
          const alert = book.get(message.alert.id);
          if (alert !== undefined) feed.broadcast({ type: 'alert', alert });
        } else if (arrival === 'conflict') {
          logger.warn({ ward, alertId: message.alert.id }, 'hub: a ward sent an alert id another ward already has; refused');
        }
      },
      health: (ward, message) => {
        if (registry.admits(ward)) registry.health(ward, message, Date.now());
      },
      devices: (ward, message) => {
        if (registry.admits(ward)) registry.devices(ward, message, Date.now());
      },
      uplink: (ward, message) => {
        if (!registry.admits(ward)) return;
        registry.uplink(ward, message, Date.now());
        if (message.state === 'offline') logger.warn({ ward, reason: message.reason }, 'hub: a ward\'s uplink is offline');
        pushWards();
      },
      link: (connected) => {
        link = connected ? { connected: true, reason: null, since: null } : { connected: false, reason: 'connection lost', since: Date.now() };
        pushWards();
      },
    },
  });

  let assets: DashboardAssets | null = null;
  try {
    assets = await loadDashboardAssets();
  } catch (error) {
    logger.error({ err: error }, 'dashboard assets could not be built; the API under /api/ still works');
  }
  const access = DashboardAccess.open({
    dataDir: options.dataDir,
    limits: config.dashboard,
    ...(options.sessions === undefined ? {} : { sessionOverrides: options.sessions }),
    secure: tls !== null,
    closeFeeds: (sessionId, text) => feed.closeSession(sessionId, text),
    // The same finding as an agent's (auth/login-burst-finding.ts), kept and folded at the hub; the guard already refuses the address.
    onLoginBurst: (burst) => {
      const { alert, change } = own.raise(loginBurstFinding(burst));
      feed.broadcast({ type: 'alert', alert });
      logger.warn({ alertId: alert.id, change, count: alert.count, address: burst.address, failures: burst.failures }, 'hub dashboard: a burst of failed logins; alert dashboard-login-burst raised, that address is refused until they age out');
    },
    logger,
  });
  const api: DashboardApi = {
    alerts: (limit) => book.list(limit),
    // Only the hub's own alerts (HubOwnAlerts answers `acknowledged-at-ward`, 405, for a ward's); audited as at an agent (app.ts).
    acknowledge: (id, by, reason, from) => {
      const at = new Date();
      const outcome = own.acknowledge(id, { by, reason, from, at });
      if (!outcome.ok) return outcome;
      const { alert } = outcome;
      feed.broadcast({ type: 'alert', alert });
      logger.info({ alertId: id, by, from }, 'hub: its own alert acknowledged');
      try {
        access.auditLog.append({ actor: by, from, action: 'alert-acknowledged', details: { alertId: id, type: alert.type, severity: alert.severity, deviceId: alert.deviceId, title: alert.title, reason, origin: alert.origin }, at: at.getTime() });
      } catch (error) {
        // The acknowledgement itself is stored with who, when and from where (hub-alerts.db); the log must say the audit missed it.
        logger.error({ err: error, alertId: id, by }, 'the acknowledgement could not be written to the audit log');
      }
      return outcome;
    },
    devices: () => [],
    deviceHistory: () => null,
    health,
    baseline: () => NO_BASELINE,
    users: () => access.userViews(),
    audit: (limit: number) => access.auditView(limit),
    wards,
  };
  const dashboard = new DashboardServer(api, assets, feed, access.auth, logger);
  let httpPort: number;
  try {
    httpPort = await dashboard.start(httpHost, options.httpPort, tls === null ? null : { cert: tls.cert, key: tls.key });
  } catch (error) {
    store.close();
    access.close();
    await unlockDataDir();
    throw error;
  }
  subscriber.start();
  const wardsTicker = setInterval(pushWards, WARDS_PUSH_MS);
  wardsTicker.unref();
  const healthTicker = setInterval(() => feed.broadcast({ type: 'health', health: health() }), HEALTH_INTERVAL_MS);
  healthTicker.unref();
  access.startSweeper();
  const urlHost = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(httpHost) ? 'localhost' : httpHost;
  logger.info({ httpPort, broker: config.broker.url, tls: tls === null ? 'off' : tls.source }, 'wardwatch hub started');

  let stopped = false;
  return {
    httpPort,
    url: `${tls === null ? 'http' : 'https'}://${urlHost}:${httpPort}/`,
    tls,
    alerts: book,
    wards,
    get brokerConnected() {
      return link.connected;
    },
    messages: () => ({ received: subscriber?.received ?? 0, rejected: subscriber?.rejectedCounts() ?? {}, alerts: book.stats() }),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(wardsTicker);
      clearInterval(healthTicker);
      await subscriber?.stop();
      await dashboard.stop();
      access.close();
      store.close();
      await unlockDataDir();
    },
  };
}
