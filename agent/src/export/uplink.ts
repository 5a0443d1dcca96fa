import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { AlertSink } from '../alert/alert-sink.ts';
import { defaultUplinkClientId, type UplinkConfig } from '../model/uplink-schema.ts';
import { readCertificatePair, type CertificatePair } from '../tls/certificate-pair.ts';
import type { AlertView, ConfigClientCertificateView, DeviceView, HealthView } from '../server/dashboard-protocol.ts';
import { BoundedQueue } from './bounded-queue.ts';
import { BrokerLink } from './broker-link.ts';
import type { OutboundChannel, OutboundStats } from './outbound.ts';
import { UplinkOutbox, type OutboxRow } from './uplink-outbox.ts';
import { UPLINK_PROTOCOL_VERSION, uplinkTopic, type UplinkAlertChange, type UplinkHealthMessage, type UplinkStateMessage } from './uplink-protocol.ts';

export interface UplinkOptions {
  readonly config: UplinkConfig;
  readonly site: { readonly name: string; readonly ward: string };
  /** Where the outbox (uplink-outbox.db) lives: the agent's data directory. */
  readonly dataDir: string;
  readonly health: () => HealthView;
  readonly devices: () => readonly DeviceView[];
  /** The open alerts, sent once when this ward's outbox is new (the uplink was just configured). */
  readonly openAlerts: () => readonly AlertView[];
  readonly logger: Logger;
  /** How often the health report is checked for a change of status or reasons. */
  readonly healthCheckMs?: number;
}

/**
 * What may be shown of the uplink's client certificate: whether start() has read it, and
 * then its subject (`O=St Example Hospital, CN=ward-4w`) and expiry (ISO 8601); never its
 * key, nor where the files lie, nor the error (which names them: it goes to the log).
 */
export type UplinkClientCertificate = ConfigClientCertificateView;

const CERTIFICATE_PENDING: UplinkClientCertificate = { state: 'pending', subject: null, validTo: null };

/** Alert changes published and not yet acknowledged (PUBACK) at once: mosquitto's default max_inflight_messages. */
export const MAX_INFLIGHT = 20;
const HEALTH_CHECK_MS = 1_000;
/** Reasons sent in one health report; the rest are summed up in one more line. */
const MAX_HEALTH_REASONS = 50;
/** Outbox failures (disk full, a damaged file) are logged at most this often. */
const OUTBOX_FAILURE_LOG_INTERVAL_MS = 60_000;

type EntryState = 'waiting' | 'sent' | 'acked' | 'dropped';

interface Entry {
  seq: number;
  readonly alertId: string;
  change: string;
  alertJson: string;
  eventTs: number;
  state: EntryState;
}

function eventTimeOf(alert: AlertView): number {
  const ms = Date.parse(alert.lastTs);
  return Number.isNaN(ms) ? Date.now() : ms;
}

/**
 * The ward's uplink to the hospital's central broker (issue 8, many wards): an alert sink
 * and an outbound channel. Alert changes (raised, repeated, acknowledged) go out with
 * QoS 1 in the order they were queued; the health report and the device summary go out
 * retained (the latest is what matters, so they are never queued); the ward's uplink state
 * is retained too, `online` on connect and `offline` as its Last Will.
 *
 * Store and forward: every alert change enters a BoundedQueue (drop-oldest, counted) and
 * its mirror on disk (UplinkOutbox) and leaves both only when the broker has answered
 * PUBACK. Nothing is handed to mqtt.js while the link is down, so mqtt.js's unbounded
 * offline queue never fills; a change published on a connection that then drops is sent
 * again on the next one (QoS 1 is at least once: the hub drops what it already has).
 * A newer version of an alert whose change is still waiting replaces it in place, so a
 * flood of repeats while the broker is away takes one place per alert, not one per repeat.
 * The queue survives a restart of the agent: what was not acknowledged is sent after it.
 */
export class MqttUplink implements OutboundChannel, AlertSink {
  readonly name = 'uplink';
  private readonly queue: BoundedQueue<Entry>;
  /** The waiting entry of each alert, for replacing it in place with a newer version. */
  private readonly waitingByAlert = new Map<string, Entry>();
  private readonly topics: { readonly alerts: string; readonly health: string; readonly devices: string; readonly uplink: string };
  private link: BrokerLink | null = null;
  private outbox: UplinkOutbox | null = null;
  private outboxFailures = 0;
  private lastOutboxLogAt = Number.NEGATIVE_INFINITY;
  private inflight = 0;
  /** Which connection the in-flight entries were published on: a callback from an older one is ignored. */
  private generation = 0;
  private sent = 0;
  private publishFailures = 0;
  private droppedAtLoad = 0;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private healthTimer: NodeJS.Timeout | null = null;
  private lastHealthKey: string | null = null;
  private lastHealthSentAt = 0;
  private lastDevicesJson: string | null = null;
  /** Null without `cert`/`key` in the config. */
  private certificate: UplinkClientCertificate | null;

  constructor(private readonly options: UplinkOptions) {
    this.queue = new BoundedQueue<Entry>(options.config.maxQueuedAlerts);
    this.certificate = options.config.cert === undefined || options.config.key === undefined ? null : CERTIFICATE_PENDING;
    const { topicPrefix } = options.config;
    const { ward } = options.site;
    this.topics = {
      alerts: uplinkTopic(topicPrefix, ward, 'alerts'),
      health: uplinkTopic(topicPrefix, ward, 'health'),
      devices: uplinkTopic(topicPrefix, ward, 'devices'),
      uplink: uplinkTopic(topicPrefix, ward, 'uplink'),
    };
  }

  /**
   * The client certificate presented to the broker, for the configuration page: `pending`
   * until start() has read it, then `read` with its subject and expiry, or `unreadable` /
   * `not-attempted` when start() gave up (said for as long as the agent runs: it is read
   * once, so "not read yet" would otherwise stay on the page for ever); null without one.
   */
  get clientCertificate(): UplinkClientCertificate | null {
    return this.certificate;
  }

  get clientId(): string {
    return this.options.config.clientId ?? defaultUplinkClientId(this.options.site.ward);
  }

  stats(): OutboundStats {
    return {
      name: this.name,
      connected: this.link?.connected ?? false,
      queued: this.queue.size,
      capacity: this.queue.capacity,
      sent: this.sent,
      dropped: this.queue.dropped + this.droppedAtLoad,
      failures: (this.link?.failures ?? 0) + this.publishFailures + this.outboxFailures,
      oldestQueuedAt: this.queue.peek()?.eventTs ?? null,
    };
  }

  /** Opens the outbox and resends what it holds, then keeps the link up; never rejects for a broker that is away. */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    const { config, logger } = this.options;
    this.openOutbox();
    let ca: Buffer | undefined;
    try {
      ca = config.ca === undefined ? undefined : readFileSync(config.ca);
    } catch (error) {
      // Checked when the config was loaded; gone since. Without it the broker cannot be verified: no connection, the outbox keeps the alerts.
      logger.error({ err: error, ca: config.ca }, 'uplink: the CA file cannot be read; not connecting to the central broker (alerts are kept in the outbox until a restart with the file back)');
      this.outboxFailures += 1;
      if (this.certificate !== null) this.certificate = { state: 'not-attempted', subject: null, validTo: null };
      return;
    }
    let pair: CertificatePair | null = null;
    try {
      pair = config.cert === undefined || config.key === undefined ? null : await readCertificatePair(config.cert, config.key);
    } catch (error) {
      // Checked when the config was loaded; changed since. A broker that requires the certificate would refuse every attempt.
      // The error names the file and what is wrong with it, never the key's content (tls/certificate-pair.ts).
      logger.error({ reason: error instanceof Error ? error.message : String(error) }, 'uplink: the client certificate or its key cannot be used; not connecting to the central broker (alerts are kept in the outbox until a restart with the files fixed)');
      this.outboxFailures += 1;
      this.certificate = { state: 'unreadable', subject: null, validTo: null };
      return;
    }
    if (this.state !== 'running') return;
    this.certificate = pair === null ? null : { state: 'read', subject: pair.certificate.subject.split('\n').join(', '), validTo: pair.validTo.toISOString() };
    this.link = new BrokerLink({
      name: 'uplink',
      url: config.url,
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(ca === undefined ? {} : { ca }),
      ...(pair === null ? {} : { clientCertificate: { cert: pair.cert, key: pair.key } }),
      clientId: this.clientId,
      will: { topic: this.topics.uplink, payload: this.stateMessage('offline', 'connection-lost'), retain: true },
      backoff: { initialMs: 500, maxMs: config.reconnectMaxSeconds * 1000 },
      logger,
      onConnected: (client) => this.onConnected(client),
      onDisconnected: () => this.onDisconnected(),
    });
    this.link.start();
    this.healthTimer = setInterval(() => this.tick(), this.options.healthCheckMs ?? HEALTH_CHECK_MS);
    this.healthTimer.unref();
  }

  /** Marks the ward offline (retained) if connected, then ends the link; what is still queued stays in the outbox for the next start. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    if (this.healthTimer !== null) clearInterval(this.healthTimer);
    this.healthTimer = null;
    if (wasRunning) {
      await this.link?.stop((client) => this.publish(client, this.topics.uplink, this.stateMessage('offline', 'stopped'), true));
    }
    this.generation += 1;
    this.outbox?.close();
    this.outbox = null;
  }

  alertRaised(alert: AlertView): void {
    this.enqueue(alert, 'raised');
  }

  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void {
    this.enqueue(alert, change);
  }

  private enqueue(alert: AlertView, change: UplinkAlertChange): void {
    const alertJson = JSON.stringify(alert);
    const eventTs = eventTimeOf(alert);
    if (this.state === 'stopped') {
      // Changes that arrive while the agent shuts down (repeats flushed by the alert
      // manager's stop) go straight to the outbox for the next start.
      this.writeOutbox((outbox) => outbox.append(alert.id, change, alertJson, eventTs), true);
      return;
    }
    const waiting = this.waitingByAlert.get(alert.id);
    if (waiting !== undefined && waiting.state === 'waiting') {
      waiting.change = change;
      waiting.alertJson = alertJson;
      waiting.eventTs = eventTs;
      this.writeOutbox((outbox) => outbox.replace(waiting.seq, change, alertJson, eventTs));
      return;
    }
    const seq = this.writeOutbox((outbox) => outbox.append(alert.id, change, alertJson, eventTs)) ?? 0;
    this.push({ seq, alertId: alert.id, change, alertJson, eventTs, state: 'waiting' });
    this.pump();
  }

  private push(entry: Entry): void {
    this.waitingByAlert.set(entry.alertId, entry);
    const evicted = this.queue.push(entry);
    if (evicted === undefined) return;
    // The queue was full: the oldest change is dropped (counted in stats().dropped).
    if (evicted.state === 'sent') this.inflight -= 1;
    evicted.state = 'dropped';
    this.forget(evicted);
    if (this.queue.dropped === 1 || this.queue.dropped % 1000 === 0) {
      this.options.logger.warn({ dropped: this.queue.dropped, capacity: this.queue.capacity }, 'uplink queue full: the oldest alert changes are dropped (they stay in the agent\'s own store)');
    }
  }

  private forget(entry: Entry): void {
    if (this.waitingByAlert.get(entry.alertId) === entry) this.waitingByAlert.delete(entry.alertId);
    if (entry.seq > 0) this.writeOutbox((outbox) => outbox.remove(entry.seq));
  }

  /** Publishes waiting changes, oldest first, while the link is up and fewer than MAX_INFLIGHT await their PUBACK. */
  private pump(): void {
    const client = this.link?.liveClient ?? null;
    if (client === null || this.inflight >= MAX_INFLIGHT) return;
    const generation = this.generation;
    // Entries ahead of the first waiting one are sent or acknowledged; at most MAX_INFLIGHT of them.
    for (const entry of this.queue.front(this.inflight + MAX_INFLIGHT)) {
      if (this.inflight >= MAX_INFLIGHT) break;
      if (entry.state !== 'waiting') continue;
      entry.state = 'sent';
      this.inflight += 1;
      if (this.waitingByAlert.get(entry.alertId) === entry) this.waitingByAlert.delete(entry.alertId);
      client.publish(this.topics.alerts, this.alertMessage(entry), { qos: 1, retain: false }, (error) => this.onPublished(entry, generation, error));
    }
  }

  private onPublished(entry: Entry, generation: number, error: Error | null | undefined): void {
    if (generation !== this.generation || entry.state !== 'sent') return;
    this.inflight -= 1;
    // mqtt.js calls back with null (not undefined) on success.
    if (error !== undefined && error !== null) {
      this.publishFailures += 1;
      entry.state = 'waiting';
      return;
    }
    entry.state = 'acked';
    // PUBACKs may come out of order; entries leave the queue from the front only.
    while (this.queue.peek()?.state === 'acked') {
      const done = this.queue.shift() as Entry;
      this.sent += 1;
      this.forget(done);
    }
    this.pump();
  }

  private onConnected(client: MqttClient): void {
    this.generation += 1;
    const generation = this.generation;
    // Online first, so that the hub never sees alerts from a ward it shows as offline.
    this.publish(client, this.topics.uplink, this.stateMessage('online'), true).catch(() => undefined);
    this.sendHealth(client);
    this.sendDevices(client, true);
    if (generation === this.generation) this.pump();
  }

  /** Changes published on the lost connection are sent again on the next one: their PUBACK may never have come. */
  private onDisconnected(): void {
    this.generation += 1;
    this.inflight = 0;
    for (const entry of this.queue.front(this.queue.size)) if (entry.state === 'sent') entry.state = 'waiting';
  }

  /** Once a second: the health report when its verdict changed or its interval passed; the device summary with it when it changed. */
  private tick(): void {
    const client = this.link?.liveClient ?? null;
    if (client === null) return;
    const now = Date.now();
    const intervalMs = this.options.config.healthIntervalSeconds * 1000;
    const health = this.options.health();
    const due = now - this.lastHealthSentAt >= intervalMs;
    if (due || `${health.status}\n${health.reasons.join('\n')}` !== this.lastHealthKey) this.sendHealth(client, health);
    if (due) this.sendDevices(client, false);
  }

  private sendHealth(client: MqttClient, health = this.options.health()): void {
    // Within what the hub reads (uplink-protocol.ts): a report it refused would make the ward look silent.
    const reasons = health.reasons.slice(0, MAX_HEALTH_REASONS);
    const message: Omit<UplinkHealthMessage, 'health'> & { readonly health: HealthView } = {
      v: UPLINK_PROTOCOL_VERSION,
      ward: this.options.site.ward,
      site: this.options.site.name,
      ts: new Date().toISOString(),
      intervalSeconds: this.options.config.healthIntervalSeconds,
      health: reasons.length === health.reasons.length ? health : { ...health, reasons: [...reasons, `and ${health.reasons.length - reasons.length} more`] },
      uplink: this.queueFigures(),
    };
    this.lastHealthKey = `${health.status}\n${health.reasons.join('\n')}`;
    this.lastHealthSentAt = Date.now();
    this.publish(client, this.topics.health, JSON.stringify(message), true).catch(() => undefined);
  }

  /** The summary is retained: sent on connect, then only when a device changed (the time it was last seen aside). */
  private sendDevices(client: MqttClient, always: boolean): void {
    const devices = this.options.devices();
    const comparable = JSON.stringify(devices.map((device) => ({ ...device, lastSeen: null })));
    if (!always && comparable === this.lastDevicesJson) return;
    this.lastDevicesJson = comparable;
    const message = { v: UPLINK_PROTOCOL_VERSION, ward: this.options.site.ward, site: this.options.site.name, ts: new Date().toISOString(), devices };
    this.publish(client, this.topics.devices, JSON.stringify(message), true).catch(() => undefined);
  }

  private queueFigures(): UplinkHealthMessage['uplink'] {
    const { queued, capacity, sent, dropped, failures, oldestQueuedAt } = this.stats();
    return { queued, capacity, sent, dropped, failures, oldestQueuedAt };
  }

  private publish(client: MqttClient, topic: string, payload: string, retain: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: 1, retain }, (error) => (error === undefined || error === null ? resolve() : reject(error)));
    });
  }

  private stateMessage(state: UplinkStateMessage['state'], reason?: UplinkStateMessage['reason']): string {
    const message: UplinkStateMessage = {
      v: UPLINK_PROTOCOL_VERSION,
      ward: this.options.site.ward,
      site: this.options.site.name,
      state,
      ts: new Date().toISOString(),
      ...(reason === undefined ? {} : { reason }),
    };
    return JSON.stringify(message);
  }

  /** The alert is already JSON: spliced in rather than parsed and serialised again. */
  private alertMessage(entry: Entry): string {
    const { site } = this.options;
    return `{"v":${UPLINK_PROTOCOL_VERSION},"ward":${JSON.stringify(site.ward)},"site":${JSON.stringify(site.name)},"seq":${entry.seq},"change":${JSON.stringify(entry.change)},"alert":${entry.alertJson}}`;
  }

  /** Reloads what the outbox kept from before; a new outbox (the uplink just configured) gets the open alerts instead. */
  private openOutbox(): void {
    let rows: OutboxRow[] = [];
    let created = false;
    const pending = this.queue.front(this.queue.size);
    try {
      this.outbox = UplinkOutbox.forDataDir(this.options.dataDir);
      created = this.outbox.created;
      const loaded = this.outbox.load(this.options.config.maxQueuedAlerts);
      rows = loaded.rows;
      this.droppedAtLoad = loaded.dropped;
      if (loaded.dropped > 0) this.options.logger.warn({ dropped: loaded.dropped }, 'uplink outbox held more than maxQueuedAlerts: the oldest were dropped');
    } catch (error) {
      this.outboxFailed(error);
    }
    // Changes queued before start (none in the agent, which starts outputs first) go after the saved ones.
    this.queue.discard(pending.length);
    this.waitingByAlert.clear();
    for (const row of rows) this.push({ ...row, state: 'waiting' });
    for (const entry of pending) {
      entry.seq = this.writeOutbox((outbox) => outbox.append(entry.alertId, entry.change, entry.alertJson, entry.eventTs)) ?? 0;
      this.push(entry);
    }
    if (rows.length > 0) this.options.logger.info({ queued: rows.length }, 'uplink: alert changes not acknowledged by the central broker before the last stop are sent again');
    if (created) {
      const open = this.options.openAlerts().filter((alert) => alert.state === 'open');
      open.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
      for (const alert of open) this.enqueue(alert, 'raised');
    }
  }

  /** Runs an outbox write; a failure is counted and logged (throttled), never thrown: the queue in memory still holds the change. */
  private writeOutbox<T>(write: (outbox: UplinkOutbox) => T, transient = false): T | undefined {
    let outbox = this.outbox;
    try {
      if (transient) outbox = UplinkOutbox.forDataDir(this.options.dataDir);
      if (outbox === null) return undefined;
      return write(outbox);
    } catch (error) {
      this.outboxFailed(error);
      return undefined;
    } finally {
      if (transient) outbox?.close();
    }
  }

  private outboxFailed(error: unknown): void {
    this.outboxFailures += 1;
    const now = Date.now();
    if (now - this.lastOutboxLogAt < OUTBOX_FAILURE_LOG_INTERVAL_MS) return;
    this.lastOutboxLogAt = now;
    this.options.logger.error({ err: error, failures: this.outboxFailures }, 'uplink outbox (uplink-outbox.db) cannot be written: queued alert changes would not survive a restart');
  }
}
