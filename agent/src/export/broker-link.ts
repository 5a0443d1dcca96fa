import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CappedBackoff } from './capped-backoff.ts';

export interface BrokerLinkOptions {
  /** For logs: `uplink` or `hub`. */
  readonly name: string;
  /** mqtt:// or mqtts://, without credentials (model/uplink-schema.ts checks it). */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM of the CA(s) that may sign the broker's certificate; absent: Node's bundled CAs. */
  readonly ca?: Buffer;
  /**
   * A client certificate (PEM chain) and its key (PEM), for a broker that requires one
   * (TLS 1.3, RFC 8446 §4.4.2; TLS 1.2, RFC 5246 §7.4.6). Handed to node:tls and nothing
   * else: never logged, never in an error message (only a handshake's outcome is).
   */
  readonly clientCertificate?: { readonly cert: Buffer; readonly key: Buffer };
  readonly clientId: string;
  /** Published by the broker if it loses this client without a DISCONNECT [MQTT-3.1.2-8]. */
  readonly will?: { readonly topic: string; readonly payload: string; readonly retain: boolean };
  /** Waits between attempts: doubling from initialMs to maxMs, with jitter. */
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly logger: Logger;
  /** Connected (CONNACK 0). `sessionPresent`: the broker still had this client's session [MQTT-3.2.2-2]. */
  readonly onConnected: (client: MqttClient, sessionPresent: boolean) => void;
  /** The connection that onConnected announced is gone. */
  readonly onDisconnected: (reason: string) => void;
}

/** Seconds; a broker that vanished without a FIN is noticed within about twice this, and the broker sends the Will after 1.5 times it [MQTT-3.1.2-24]. */
export const BROKER_KEEPALIVE_S = 15;
const CONNECT_TIMEOUT_MS = 10_000;
/** A client that connected but could not finish stopping (the broker gone) is cut after this. */
const STOP_TIMEOUT_MS = 2_000;
/** Repeated connection failures are logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/** The URL as logs show it (credentials never are in it: the schema refuses them). */
function describeError(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? `${error.message} (${code})` : error.message;
}

/**
 * One client's connection to the central broker, kept up for as long as it runs: a fresh
 * mqtt.js client per attempt, with exponential backoff and equal jitter between attempts
 * (capped-backoff.ts), so that a broker restart does not bring every ward back in the
 * same second. mqtt.js's own reconnect and offline queue are off: while there is no
 * connection nothing is published through this link, and what must not be lost is kept by
 * its owner (the uplink's bounded queue), not by mqtt.js's unbounded one.
 *
 * A persistent session (`clean: false` with a fixed client id, MQTT 3.1.1 §3.1.2.4): the
 * broker keeps a subscriber's subscriptions and its undelivered QoS 1 messages while it
 * is away, which is what lets the hub miss nothing across its own restarts.
 */
export class BrokerLink {
  private client: MqttClient | null = null;
  private connectedClient: MqttClient | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private started = false;
  private readonly backoff: CappedBackoff;
  private lastFailureLogAt = Number.NEGATIVE_INFINITY;
  /** Failed connection attempts and lost connections since start. */
  failures = 0;
  /** Why the last attempt or connection ended; null while connected. */
  lastError: string | null = null;

  constructor(private readonly options: BrokerLinkOptions) {
    this.backoff = new CappedBackoff(options.backoff.initialMs, options.backoff.maxMs);
  }

  get connected(): boolean {
    return this.connectedClient !== null && this.connectedClient.connected;
  }

  /** The client while connected, else null: publish only through this, never to a client that is not connected. */
  get liveClient(): MqttClient | null {
    return this.connected ? this.connectedClient : null;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.attempt();
  }

  /**
   * Ends the link. `beforeEnd` runs on a live connection first (the uplink marks itself
   * offline there, since a clean DISCONNECT discards the Will [MQTT-3.1.2-10]); the whole
   * stop takes at most a few seconds even if the broker has stopped answering.
   */
  async stop(beforeEnd?: (client: MqttClient) => Promise<void>): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    const live = this.liveClient;
    this.client = null;
    this.connectedClient = null;
    if (client === null) return;
    if (live !== null && beforeEnd !== undefined) {
      await Promise.race([beforeEnd(live).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS))]);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, STOP_TIMEOUT_MS);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private clientOptions(): IClientOptions {
    const { username, password, ca, clientCertificate, will, clientId } = this.options;
    return {
      protocolVersion: 4,
      clientId,
      clean: false,
      keepalive: BROKER_KEEPALIVE_S,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(ca === undefined ? {} : { ca }),
      ...(clientCertificate === undefined ? {} : { cert: clientCertificate.cert, key: clientCertificate.key }),
      // mqtts: verify the broker's certificate and name (mqtt.js sets servername from the host).
      rejectUnauthorized: true,
      ...(will === undefined ? {} : { will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1 as const, retain: will.retain } }),
    };
  }

  private attempt(): void {
    this.retryTimer = null;
    if (this.stopped) return;
    const client = connect(this.options.url, this.clientOptions());
    this.client = client;
    let reason: string | null = null;
    client.on('connect', (connack) => {
      if (client !== this.client || this.stopped) return;
      this.connectedClient = client;
      this.backoff.reset();
      this.lastError = null;
      this.options.logger.info({ url: this.options.url, clientId: this.options.clientId, sessionPresent: connack.sessionPresent }, `${this.options.name}: connected to the central broker`);
      this.options.onConnected(client, connack.sessionPresent);
    });
    client.on('error', (error) => {
      if (client !== this.client) return;
      reason = describeError(error);
    });
    client.on('close', () => {
      if (client !== this.client || this.stopped) return;
      const wasConnected = this.connectedClient === client;
      this.connectedClient = null;
      this.client = null;
      client.removeAllListeners('message');
      client.end(true);
      this.failures += 1;
      this.lastError = reason ?? (wasConnected ? 'connection closed' : 'could not connect');
      const delayMs = this.backoff.next();
      const now = Date.now();
      if (wasConnected || now - this.lastFailureLogAt >= FAILURE_LOG_INTERVAL_MS) {
        this.lastFailureLogAt = now;
        this.options.logger.warn({ url: this.options.url, reason: this.lastError, attempt: this.backoff.attempts, retryInMs: delayMs }, wasConnected ? `${this.options.name}: lost the central broker; reconnecting` : `${this.options.name}: cannot reach the central broker; retrying`);
      }
      if (wasConnected) this.options.onDisconnected(this.lastError);
      this.retryTimer = setTimeout(() => this.attempt(), delayMs);
    });
  }
}
