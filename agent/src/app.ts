import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { SiteConfig, TlsConfig } from './model/site-schema.ts';
import { MAX_RECENT_ALERTS, MAX_SUPPRESSION_ENTRIES, type AlertManager } from './alert/alert-manager.ts';
import type { AlertSink } from './alert/alert-sink.ts';
import { MqttBrokerIngest } from './ingest/mqtt-broker.ts';
import { ModbusGatewayIngest } from './ingest/modbus-gateway.ts';
import { MqttTapIngest, redactUrl } from './ingest/mqtt-tap.ts';
import type { AlertType } from './alert/catalogue.ts';
import type { DeviceState } from './normalize/device-state.ts';
import type { Pipeline } from './pipeline.ts';
import type { PipelineEvent } from './normalize/events.ts';
import type { OutboundChannel } from './export/outbound.ts';
import { createSyslogSinks } from './export/syslog-sink.ts';
import { MqttUplink } from './export/uplink.ts';
import { createMonitor } from './monitor.ts';
import { AlertLog } from './store/alert-log.ts';
import { AlertStore } from './store/alert-store.ts';
import { InfluxSink } from './store/influx-sink.ts';
import { pointContext } from './store/influx-points.ts';
import type { BaselineModel } from './detect/baseline/baseline-model.ts';
import { BaselineKeeper } from './store/baseline-keeper.ts';
import { lockDataDir } from './store/data-dir-lock.ts';
import { loadDashboardAssets, type DashboardAssets } from './server/dashboard-assets.ts';
import { HEALTH_INTERVAL_MS, type AlertView, type DeviceView, type ServerMessage } from './server/dashboard-protocol.ts';
import { deviceView } from './server/device-views.ts';
import { siteConfigView } from './server/config-view.ts';
import { DashboardServer } from './server/http-server.ts';
import { deviceHistoryView } from './server/device-history-view.ts';
import { DeviceHistoryStore } from './store/device-history.ts';
import { WebSocketHub } from './server/websocket-hub.ts';
import { MetricsServer } from './server/metrics-server.ts';
import type { IngestStallTimes } from './health/agent-health.ts';
import { agentMetrics } from './health/agent-metrics.ts';
import { ProcessMetrics } from './health/process-metrics.ts';
import { prepareServerTls, type ServerTls } from './tls/server-tls.ts';
import { cappedLoginBurstFinding } from './auth/login-burst-finding.ts';
import { baselineStatus } from './detect/baseline/baseline-status.ts';
import { BaselineAcceptor } from './alert/accept-into-baseline.ts';
import { DashboardAccess } from './server/dashboard-access.ts';
import type { SessionOptions } from './server/sessions.ts';

export interface AgentOptions {
  readonly config: SiteConfig;
  readonly dataDir: string;
  readonly mqttHost?: string;
  /** Plain MQTT (0 = a free port); null: none, devices must use mqtts. */
  readonly mqttPort: number | null;
  /** MQTT over TLS when `tls` is on: 0 = a free port, null = none; default 8883. */
  readonly mqttsPort?: number | null;
  /**
   * TLS for the dashboard (HTTPS, WSS) and mqtts. Absent: none, plain only. `wardwatch
   * agent` passes the site config's `tls`, or DEFAULT_TLS (self-signed) when it has none.
   */
  readonly tls?: TlsConfig;
  /** The openssl binary that makes a self-signed pair; default `openssl` on the PATH. */
  readonly openssl?: string;
  readonly httpHost?: string;
  readonly httpPort: number;
  /** Moves every Modbus gateway: 0 = each on a free port, n = the i-th gateway on n + i. Default: the config's ports. */
  readonly modbusPort?: number;
  readonly modbusHost?: string;
  /** Also watch the site's own broker by subscribing to `#` there (credentials: config `tap`). */
  readonly tapUrl?: string;
  readonly logger?: Logger;
  /** Extra alert outputs (the demo prints alerts to the console). */
  readonly extraSinks?: readonly AlertSink[];
  /** Dashboard session limits; default from the config's `dashboard` section (tests shorten the idle timeout). */
  readonly sessions?: Partial<SessionOptions>;
  /** /metrics and /healthz, plain HTTP without login (server/metrics-server.ts); default 127.0.0.1. */
  readonly metricsHost?: string;
  /** Their port: 0 = a free port; null or absent = none (`wardwatch agent` passes 9464 unless told `off`). */
  readonly metricsPort?: number | null;
  /** Shorter ingest-stall and start-up grace times for health (tests); default 30 s and 60 s. */
  readonly ingestStall?: Partial<IngestStallTimes>;
}

export interface RunningAgent {
  /** Plain MQTT; null when off. */
  readonly mqttPort: number | null;
  /** MQTT over TLS; null when off. */
  readonly mqttsPort: number | null;
  readonly httpPort: number;
  /** /metrics and /healthz; null when off, or when the port could not be bound (logged; monitoring goes on). */
  readonly metricsPort: number | null;
  /** Dashboard URL: https:// when TLS is on. */
  readonly url: string;
  /** The certificate the dashboard and mqtts present (file, SHA-256 fingerprint, validity); null without TLS. */
  readonly tls: ServerTls | null;
  readonly alertLogFile: string;
  /** Bound Modbus gateway port per device id. */
  readonly modbusPorts: ReadonlyMap<string, number>;
  /** Outputs that send off this machine (InfluxDB, syslog, uplink): name and queue stats of each. */
  readonly outbound: readonly OutboundChannel[];
  readonly pipeline: Pipeline;
  readonly alerts: AlertManager;
  /** The learned baseline, saved in the data directory (issue 5). */
  readonly baseline: BaselineModel;
  stop(): Promise<void>;
}

/** `10.4.2.11:502` or `[fe80::1]:502` → host and port (the schema has checked the form). */
function splitHostPort(target: string): [string, number] {
  const colon = target.lastIndexOf(':');
  return [target.slice(0, colon).replace(/^\[|\]$/g, ''), Number(target.slice(colon + 1))];
}

/** How long start-up waits for the tap's login to be accepted or refused. */
const TAP_START_WAIT_MS = 3_000;

/** Device tile updates are coalesced per device and pushed at most this often. */
const DEVICE_PUSH_MS = 500;

/**
 * The composition root: builds the pipeline from the frozen config and starts the
 * lifecycle units (broker, dashboard server). Nothing happens on import.
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { config } = options;
  const logger = options.logger ?? pino({ level: 'info' });
  const mqttsPortOption = options.tls === undefined || options.tls.mode === 'off' ? null : options.mqttsPort === undefined ? 8883 : options.mqttsPort;
  if (options.mqttPort === null && mqttsPortOption === null) {
    throw new Error('no MQTT listener: plain MQTT is off (--mqtt-port off) and so is mqtts (TLS off, or --mqtts-port off); devices could not connect');
  }
  await mkdir(options.dataDir, { recursive: true, mode: 0o750 });
  const unlockDataDir = await lockDataDir(options.dataDir);
  let tls: ServerTls | null;
  try {
    tls = options.tls === undefined ? null : await prepareServerTls(options.tls, {
      dataDir: options.dataDir,
      listenHosts: [options.httpHost ?? '127.0.0.1', options.mqttHost ?? '0.0.0.0'],
      logger,
      ...(options.openssl === undefined ? {} : { openssl: options.openssl }),
    });
  } catch (error) {
    await unlockDataDir();
    throw error;
  }
  const tlsOptions = tls === null ? null : { cert: tls.cert, key: tls.key };
  const baselineKeeper = new BaselineKeeper(options.dataDir, config.baseline.saveIntervalSeconds * 1000, logger);
  const savedBaseline = await baselineKeeper.load();

  const store = new AlertStore(join(options.dataDir, 'wardwatch.db'));
  const alertLogFile = join(options.dataDir, 'alerts.jsonl');
  const alertLog = new AlertLog(alertLogFile);

  let hub: WebSocketHub | null = null;
  const openAlertsByDevice = (): Map<string, AlertView[]> => {
    const byDevice = new Map<string, AlertView[]>();
    for (const alert of alerts.list()) {
      if (alert.state !== 'open' || alert.deviceId === null) continue;
      const list = byDevice.get(alert.deviceId) ?? [];
      list.push(alert);
      byDevice.set(alert.deviceId, list);
    }
    return byDevice;
  };
  const viewOf = (deviceState: DeviceState, open: Map<string, AlertView[]>): DeviceView =>
    deviceView(deviceState, config.drugLibrary, open.get(deviceState.device.config.id) ?? []);
  const devices = (): DeviceView[] => {
    const open = openAlertsByDevice();
    return [...state.all()].map((deviceState) => viewOf(deviceState, open));
  };

  // Device tiles: coalesce changes, push on a timer (bounded by the inventory size).
  const dirtyDevices = new Set<string>();
  const pushDevices = (): void => {
    if (dirtyDevices.size === 0 || hub === null) return;
    const open = openAlertsByDevice();
    for (const id of dirtyDevices) {
      const deviceState = state.get(id);
      if (deviceState !== undefined) hub.broadcast({ type: 'device', device: viewOf(deviceState, open) });
    }
    dirtyDevices.clear();
  };
  const markDevice = (deviceId: string | null): void => {
    if (deviceId !== null) dirtyDevices.add(deviceId);
  };

  const dashboardSink: AlertSink = {
    name: 'dashboard',
    alertRaised: (alert) => {
      hub?.broadcast({ type: 'alert', alert });
      markDevice(alert.deviceId);
    },
    alertUpdated: (alert) => {
      hub?.broadcast({ type: 'alert', alert });
      markDevice(alert.deviceId);
    },
  };
  // Outputs that want every pipeline event (device history, InfluxDB, metrics) and the
  // outbound channels (InfluxDB, syslog, uplink), each added below by its own section.
  const eventObservers: ((event: PipelineEvent, findings: readonly AlertType[]) => void)[] = [];
  const outbound: OutboundChannel[] = [];
  // The uplink to the central broker (issue 8, many wards): alerts, health and the device
  // summary for `wardwatch hub`; an alert sink and an outbound channel. It reads health,
  // devices and alerts only once the outputs have started.
  const uplink = config.uplink === undefined ? null : new MqttUplink({
    config: config.uplink,
    site: config.site,
    dataDir: options.dataDir,
    health: () => health.view(),
    devices: () => devices(),
    openAlerts: () => alerts.list(),
    logger,
  });
  if (uplink !== null) outbound.push(uplink);
  // InfluxDB (issue 8, config `influxdb`): telemetry, commands and alerts as time series. Its
  // observer and alert calls only queue points; its own timer writes them (store/influx-sink.ts).
  const influx = config.influxdb === undefined ? null : new InfluxSink({ config: config.influxdb, context: pointContext(config.drugLibrary, config.site.ward, config.devices), logger });
  if (influx !== null) {
    eventObservers.push(influx.observe);
    outbound.push(influx);
  }
  // SIEM export (issue 8, config `siem`): raised alerts and acknowledgements as RFC 5424
  // syslog in CEF, one sink and bounded queue per collector (export/syslog-sink.ts).
  const syslogSinks = createSyslogSinks(config.siem, config.site.ward, logger);
  outbound.push(...syslogSinks);
  let broker: MqttBrokerIngest | null = null;
  let tap: MqttTapIngest | null = null;
  const inventoryProfiles = new Map(config.devices.map((device) => [device.id, device.profile]));
  const { pipeline, alerts, state, health, verifier, baseline, engine, replay } = createMonitor(config, {
    ...(savedBaseline === null ? {} : { restoreBaseline: (model) => BaselineKeeper.restore(model, savedBaseline, inventoryProfiles) }),
    tapGapSince: () => tap?.gapOpenSince ?? null,
    sinks: [store, alertLog, dashboardSink, ...(uplink === null ? [] : [uplink]), ...(influx === null ? [] : [influx]), ...syslogSinks, ...(options.extraSinks ?? [])],
    logger,
    initialAlerts: store.loadRecent(MAX_RECENT_ALERTS),
    // Their suppression windows: a repeat right after a restart folds into its open alert, not a second one.
    initialSuppressions: store.loadSuppressions(MAX_SUPPRESSION_ENTRIES),
    ...(options.ingestStall === undefined ? {} : { ingestStall: options.ingestStall }),
    connectedClients: () => broker?.connectedClients ?? 0,
    onDeviceChange: (changed) => markDevice(changed.device.config.id),
    onEvent: (event, findings) => {
      for (const observe of eventObservers) observe(event, findings);
    },
  });
  // The device page's history (issue 6): the last 24 h of each device in memory, bounded as
  // store/device-history.ts states, and not kept across restarts (InfluxDB keeps the long term).
  const deviceHistory = new DeviceHistoryStore(config.drugLibrary, (deviceId) => state.get(deviceId)?.infusion ?? null);
  let historyFailed = false;
  eventObservers.push((event) => {
    try {
      deviceHistory.observe(event);
    } catch (error) {
      // A chart's history must never stop monitoring (principle 7); said once, not per event.
      if (!historyFailed) logger.error({ err: error }, 'device history failed to record an event; the device page may miss points');
      historyFailed = true;
    }
  });

  const snapshot = (): ServerMessage => ({
    type: 'snapshot',
    site: { name: config.site.name, ward: config.site.ward },
    devices: devices(),
    alerts: alerts.list(),
    health: health.view(),
    screen: { escalateCriticalAfterSeconds: config.dashboard.escalateCriticalAfterSeconds },
  });
  hub = new WebSocketHub(snapshot);

  let assets: DashboardAssets | null = null;
  try {
    assets = await loadDashboardAssets();
  } catch (error) {
    // The dashboard failing to build must not stop monitoring (principle 7).
    logger.error({ err: error }, 'dashboard assets could not be built; alerts still go to the store and alerts.jsonl');
  }
  // The dashboard's accounts and sessions (issue 6): server/dashboard-access.ts.
  const access = DashboardAccess.open({
    dataDir: options.dataDir,
    limits: config.dashboard,
    ...(options.sessions === undefined ? {} : { sessionOverrides: options.sessions }),
    secure: tls !== null,
    closeFeeds: (sessionId, text) => hub?.closeSession(sessionId, text) ?? 0,
    onLoginBurst: (burst) => alerts.raise(cappedLoginBurstFinding(burst, alerts.list())),
    logger,
  });
  const { auditLog, sessions } = access;
  const api = {
    alerts: (limit: number) => alerts.list(limit),
    devices,
    deviceHistory: (deviceId: string) => {
      const deviceState = state.get(deviceId);
      if (deviceState === undefined) return null;
      return deviceHistoryView({ device: viewOf(deviceState, openAlertsByDevice()), state: deviceState, history: deviceHistory.snapshot(deviceId), library: config.drugLibrary, baseline });
    },
    health: () => health.view(),
    acknowledge: (id: string, by: string, reason: string, from: string) => {
      const at = new Date();
      const outcome = alerts.acknowledge(id, { by, reason, from, at });
      if (outcome.ok) {
        logger.info({ alertId: id, by, from }, 'alert acknowledged');
        try {
          const { alert } = outcome;
          auditLog.append({ actor: by, from, action: 'alert-acknowledged', details: { alertId: id, type: alert.type, severity: alert.severity, deviceId: alert.deviceId, title: alert.title, reason }, at: at.getTime() });
        } catch (error) {
          // The acknowledgement itself is stored with who, when and from where (wardwatch.db); the log must say the audit missed it.
          logger.error({ err: error, alertId: id, by }, 'the acknowledgement could not be written to the audit log');
        }
      }
      return outcome;
    },
    baseline: () => baselineStatus(baseline, config, existsSync(baselineKeeper.path)),
    acceptBaseline: (id: string, by: string, reason: string, from: string) => baselineAcceptor.accept({ alertId: id, by, reason, from }),
    users: () => access.userViews(),
    audit: (limit: number) => access.auditView(limit),
    // No secret in it (server/config-view.ts); built per request, a biomed's page, for the uplink's certificate read at its start.
    siteConfig: () => siteConfigView(config, { uplinkClientCertificate: uplink?.clientCertificate ?? null }),
  };
  // "Accept as normal for this ward" (alert/accept-into-baseline.ts): into the live model,
  // saved by the keeper (the one writer of baseline.json), the alert acknowledged as the route does.
  const baselineAcceptor = new BaselineAcceptor({
    model: baseline,
    inventory: inventoryProfiles,
    findAlert: (id) => alerts.get(id) ?? store.get(id),
    acknowledge: api.acknowledge,
    save: () => baselineKeeper.save(),
    auditLog,
    logger,
  });
  const dashboard = new DashboardServer(api, assets, hub, access.auth, logger);
  // Counts only (docs/protocol.md, "Metrics and health"); read when scraped, nothing on the hot path.
  const processMetrics = new ProcessMetrics();
  const metrics = agentMetrics({
    health,
    engine,
    alerts,
    outbound,
    devices: () => state.all(),
    mqttClients: () => broker?.connectedClients ?? 0,
    dashboardSessions: () => sessions.size,
    webSocketClients: () => hub?.clientCount ?? 0,
    process: processMetrics,
    replay,
  });
  const metricsServer = new MetricsServer({ metrics: () => metrics.render(), health: () => health.view() }, logger);

  broker = new MqttBrokerIngest({
    host: options.mqttHost ?? '0.0.0.0',
    port: options.mqttPort,
    tls: tlsOptions === null || mqttsPortOption === null ? null : { port: mqttsPortOption, options: tlsOptions },
    allowAnonymous: config.mqtt.allowAnonymous,
    verifier,
    sink: (observation) => pipeline.ingest(observation),
    logger,
  });

  const gateway = config.modbus.gateways.length === 0 ? null : new ModbusGatewayIngest({
    host: options.modbusHost ?? '0.0.0.0',
    routes: config.modbus.gateways.map((route, index) => {
      const [host, port] = splitHostPort(route.target);
      const listenPort = options.modbusPort === undefined ? route.listenPort : options.modbusPort === 0 ? 0 : options.modbusPort + index;
      return { deviceId: route.device, listenPort, targetHost: host, targetPort: port };
    }),
    ingest: (observation) => pipeline.ingest(observation),
    enforce: new Set(config.modbus.enforce as AlertType[]),
    onInspectionFailure: (deviceId, master, error) => {
      logger.error({ err: error, deviceId, master }, 'inspection failed; request forwarded unchecked (fail open)');
      alerts.raise({
        type: 'inspection-failed',
        ts: Date.now(),
        device: null,
        dedupKey: deviceId,
        title: `The agent failed to inspect a Modbus request to ${deviceId} from ${master.address} and forwarded it unchecked (fail open)`,
        evidence: { deviceId, master, error: error instanceof Error ? error.message : String(error) },
      });
    },
    logger,
  });

  if (options.tapUrl !== undefined) {
    const tapUrl = options.tapUrl;
    tap = new MqttTapIngest({
      url: tapUrl,
      ...(config.tap === undefined ? {} : { username: config.tap.username, password: config.tap.password, protocolVersion: config.tap.protocolVersion }),
      ...(config.tap?.clientId === undefined ? {} : { clientId: config.tap.clientId }),
      sink: (observation) => pipeline.ingest(observation),
      onGap: (gap) => {
        alerts.raise({
          type: 'monitoring-gap',
          ts: gap.endedAt,
          device: null,
          dedupKey: `tap|${gap.startedAt}`,
          title: `MQTT tap: nothing on the site's broker was seen for ${Math.round(gap.durationMs / 1000)} s (${new Date(gap.startedAt).toISOString().slice(11, 19)}–${new Date(gap.endedAt).toISOString().slice(11, 19)} UTC): ${gap.reason}`,
          // The alert goes to alerts.jsonl, the SIEM and the hub: never a user:password given in --tap.
          evidence: { ...gap, broker: redactUrl(tapUrl) },
        });
      },
      logger,
    });
  }

  const { mqtt: mqttPort, mqtts: mqttsPort } = await broker.start();
  let modbusPorts = new Map<string, number>();
  try {
    modbusPorts = new Map((await gateway?.start())?.map((bound) => [bound.deviceId, bound.port]) ?? []);
  } catch (error) {
    await broker.stop();
    await gateway?.stop();
    throw error;
  }
  const httpHost = options.httpHost ?? '127.0.0.1';
  let httpPort: number;
  try {
    httpPort = await dashboard.start(httpHost, options.httpPort, tlsOptions);
  } catch (error) {
    await broker.stop();
    await gateway?.stop();
    throw error;
  }
  if (tap !== null) {
    // An unreachable broker keeps the tap retrying (start never settles); a refused login
    // is a configuration error the user must see now, not a quiet retry loop.
    const started = tap.start();
    const refused = await Promise.race([started.then(() => null, (error: unknown) => error), new Promise((resolve) => setTimeout(() => resolve(null), TAP_START_WAIT_MS))]);
    if (refused !== null) {
      await tap.stop();
      await broker.stop();
      await gateway?.stop();
      await dashboard.stop();
      throw refused;
    }
    started.catch(() => undefined);
  }
  let metricsPort: number | null = null;
  if (options.metricsPort !== undefined && options.metricsPort !== null) {
    const metricsHost = options.metricsHost ?? '127.0.0.1';
    try {
      metricsPort = await metricsServer.start(metricsHost, options.metricsPort);
      processMetrics.start();
    } catch (error) {
      // An output like the others: a port in use must not leave the ward unwatched (principle 7).
      logger.error({ err: error, host: metricsHost, port: options.metricsPort }, 'the metrics and health listener could not start; the agent runs without /metrics and /healthz');
    }
  }
  baselineKeeper.start(baseline);
  // Outbound channels keep their own queues and retry on their own: a peer that is away
  // never stops monitoring (principle 7), so a failed start is logged, not thrown.
  for (const channel of outbound) {
    channel.start().catch((error: unknown) => logger.error({ err: error, output: channel.name }, 'outbound output failed to start; it keeps retrying'));
  }
  const deviceTicker = setInterval(pushDevices, DEVICE_PUSH_MS);
  deviceTicker.unref();
  const healthTicker = setInterval(() => hub?.broadcast({ type: 'health', health: health.view() }), HEALTH_INTERVAL_MS);
  healthTicker.unref();
  access.startSweeper();

  const urlHost = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(httpHost) ? 'localhost' : httpHost;
  logger.info({ mqttPort, mqttsPort, httpPort, metricsPort, tls: tls === null ? 'off' : tls.source, fingerprint256: tls?.fingerprint256 }, 'wardwatch agent started');
  let stopped = false;
  return {
    mqttPort,
    mqttsPort,
    httpPort,
    metricsPort,
    url: `${tls === null ? 'http' : 'https'}://${urlHost}:${httpPort}/`,
    tls,
    alertLogFile,
    modbusPorts,
    outbound,
    pipeline,
    alerts,
    baseline,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(deviceTicker);
      clearInterval(healthTicker);
      await tap?.stop();
      await Promise.all(outbound.map((channel) => channel.stop().catch((error: unknown) => logger.error({ err: error, output: channel.name }, 'outbound output failed to stop'))));
      await broker?.stop();
      await gateway?.stop();
      await dashboard.stop();
      await metricsServer.stop();
      processMetrics.stop();
      alerts.stop();
      await baselineKeeper.stop();
      await alertLog.close();
      store.close();
      access.close();
      await unlockDataDir();
    },
  };
}
