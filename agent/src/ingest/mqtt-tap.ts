import { randomBytes } from 'node:crypto';
import { connect, type IClientOptions, type IClientSubscribeOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import type { ObservationSink } from './observation.ts';

/** A span of time in which the tap saw nothing: it must be shown, never hidden (DESIGN.md). */
export interface MonitoringGap {
  /** Event time (the tap's `now()`) from which traffic may have been missed. */
  readonly startedAt: number;
  /** Event time at which the tap was subscribed again. */
  readonly endedAt: number;
  readonly durationMs: number;
  /** Why the connection was lost, in words (the first cause; retries do not change it). */
  readonly reason: string;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface MqttTapOptions {
  /** The site's broker, e.g. mqtt://broker.ward.local:1883 or mqtts://… */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly sink: ObservationSink;
  /** Called once per outage, when the tap is subscribed again; never on stop(). */
  readonly onGap: (gap: MonitoringGap) => void;
  readonly logger: Logger;
  /** Clock for event time; replaced in tests. */
  readonly now?: () => number;
  /** Defaults to `wardwatch-tap-<8 hex>` (22 characters, within [MQTT-3.1.3-5]'s 23). */
  readonly clientId?: string;
  /** Reconnect delays: initialMs doubling per failed attempt up to maxMs, with jitter. */
  readonly backoff?: BackoffOptions;
  /** MQTT 3.1.1 (4, default) or 5; see `subscriptionOptions` for what 5 adds. */
  readonly protocolVersion?: 4 | 5;
}

export type MqttTapErrorCode =
  | 'TAP_LOGIN_REFUSED'
  | 'TAP_CONNECT_REFUSED'
  | 'TAP_SUBSCRIBE_REFUSED'
  | 'TAP_STOPPED'
  | 'TAP_ALREADY_STARTED';

/** Errors start() rejects with; `code` is stable, the message is for the engineer. */
export class MqttTapError extends Error {
  constructor(
    readonly code: MqttTapErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MqttTapError';
  }
}

export const DEFAULT_TAP_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/** Seconds; a dead broker (cable pulled, no FIN) is noticed within about twice this. */
const KEEPALIVE_S = 15;
const CONNECT_TIMEOUT_MS = 10_000;
/** Sink failures are logged at most this often, so a broken sink cannot flood the log. */
const SINK_FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * CONNACK codes that mean "the broker is there but busy", worth retrying even at start():
 * MQTT 3.1.1 §3.2.2.3 (3 server unavailable), MQTT 5 §3.2.2.2 (136 server unavailable,
 * 137 server busy, 159 connection rate exceeded). Every other refusal is a configuration
 * problem (credentials, client id, protocol version) that start() reports.
 */
const TRANSIENT_CONNACK_CODES: ReadonlySet<number> = new Set([3, 136, 137, 159]);
/** 4/5 (3.1.1) and 134/135/140 (5): bad username or password, not authorised, bad auth method. */
const LOGIN_CONNACK_CODES: ReadonlySet<number> = new Set([4, 5, 134, 135, 140]);

/**
 * Delay before reconnect attempt `attempt` (0-based): initialMs·2^attempt capped at maxMs,
 * then spread over [75 %, 125 %) so that many agents restarted together by one broker
 * outage do not reconnect in lock-step; never above maxMs.
 */
export function backoffDelay(attempt: number, backoff: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.min(backoff.maxMs, Math.floor(base * (0.75 + random() * 0.5)));
}

/** The URL without user:password, for logs, error messages and alert evidence. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

function describeError(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

type TapState = 'idle' | 'connecting' | 'subscribed' | 'reconnecting' | 'failed' | 'stopped';

/**
 * The MQTT tap (DESIGN.md, "Ways to see traffic", way 2): the agent is one more client of
 * the site's own broker, subscribed to `#`. It sees every topic and payload but not who
 * published them, so each publish becomes an `mqtt-publish` Observation with
 * `client: null` and `via: 'tap'` ("identity not visible"). Nothing can be refused from here.
 *
 * Reconnects with its own exponential backoff (mqtt.js only knows a fixed
 * `reconnectPeriod`); each outage, from the loss of the connection until the tap is
 * subscribed again, is reported once through `onGap`. A fresh mqtt.js client is made per
 * attempt, so no state of a dead connection leaks into the next.
 *
 * Bounded: messages are handed to the sink synchronously from mqtt.js's parser; the tap
 * keeps no queue. Subscribing with QoS 0 means the broker downgrades every delivery to
 * QoS 0 [MQTT-3.8.4-6], so mqtt.js holds no incoming QoS 2 state either, and the
 * observation's `qos` is the delivered one (0), not the publisher's.
 */
export class MqttTapIngest {
  private state: TapState = 'idle';
  private client: MqttClient | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Consecutive failed attempts since the last subscription, for the backoff. */
  private failedAttempts = 0;
  /** Event time from which traffic may have been missed; null while monitoring is live. */
  private gapStartedAt: number | null = null;
  private gapReason = '';
  /** Why the current connection ended, set by 'error'/'disconnect' before 'close'. */
  private lastError: string | null = null;
  /** Last packet of any kind from the broker: the start of a gap ended by a keepalive timeout. */
  private lastHeardAt = 0;
  private retainedSkipped = 0;
  private sinkFailures = 0;
  private lastSinkFailureLogAt = Number.NEGATIVE_INFINITY;
  private pendingStart: { resolve: () => void; reject: (error: MqttTapError) => void } | null = null;

  private readonly now: () => number;
  private readonly backoff: BackoffOptions;
  private readonly clientId: string;
  private readonly protocolVersion: 4 | 5;
  private readonly safeUrl: string;

  constructor(private readonly options: MqttTapOptions) {
    this.now = options.now ?? Date.now;
    this.backoff = options.backoff ?? DEFAULT_TAP_BACKOFF;
    this.clientId = options.clientId ?? `wardwatch-tap-${randomBytes(4).toString('hex')}`;
    this.protocolVersion = options.protocolVersion ?? 4;
    this.safeUrl = redactUrl(options.url);
  }

  /** True while the tap is connected and subscribed: monitoring through it is live. */
  get connected(): boolean {
    return this.state === 'subscribed';
  }

  /**
   * Event time since which an outage has been open, or null. onGap only fires when the gap
   * ends, so health reads this to say "not monitoring since …" while it lasts.
   */
  get gapOpenSince(): number | null {
    return this.gapStartedAt;
  }

  /** Stored retained messages delivered on (re)subscription and not passed on. */
  get retainedMessagesSkipped(): number {
    return this.retainedSkipped;
  }

  /**
   * Connects and subscribes to `#`. Resolves once the broker granted the subscription.
   * Rejects (MqttTapError) when the broker refuses the login or the subscription, or when
   * stop() is called first; network errors are retried with backoff, logged, meanwhile.
   * After it resolved nothing here throws: losses are reconnected and reported as gaps.
   */
  start(): Promise<void> {
    if (this.state !== 'idle') {
      return Promise.reject(new MqttTapError('TAP_ALREADY_STARTED', 'MQTT tap: start() was already called'));
    }
    this.state = 'connecting';
    return new Promise<void>((resolve, reject) => {
      this.pendingStart = { resolve, reject };
      this.attempt();
    });
  }

  /** Ends the connection and the retry loop; no gap is reported for a stop. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasInGap = this.gapStartedAt !== null;
    this.state = 'stopped';
    this.clearRetryTimer();
    this.gapStartedAt = null;
    this.failStart(new MqttTapError('TAP_STOPPED', `MQTT tap: stopped before it was subscribed on ${this.safeUrl}`));
    const client = this.client;
    this.client = null;
    if (wasInGap) this.options.logger.info({ url: this.safeUrl }, 'MQTT tap stopped during an outage; the open gap is not reported');
    if (client !== null) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }

  private clientOptions(): IClientOptions {
    const { username, password } = this.options;
    return {
      protocolVersion: this.protocolVersion,
      clientId: this.clientId,
      // A clean session: nothing is stored for the tap while it is away, and nothing old
      // is delivered when it comes back [MQTT-3.1.2-6].
      clean: true,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      keepalive: KEEPALIVE_S,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // The tap's own backoff replaces mqtt.js's fixed-period reconnect and resubscribe.
      reconnectPeriod: 0,
      resubscribe: false,
      // The tap never publishes; nothing may queue in its name while offline.
      queueQoSZero: false,
    };
  }

  /**
   * `#` matches every topic but none starting with `$` [MQTT-4.7.2-1], so `$SYS` is not
   * subscribed. With MQTT 5, Retain Handling 2 asks the broker not to send stored
   * retained messages at all, and Retain As Published keeps a live publish's own retain
   * flag (MQTT 5 §3.8.3.1), so `retain: true` then means "published as retained".
   */
  private subscriptionOptions(): IClientSubscribeOptions {
    return this.protocolVersion === 5 ? { qos: 0, rh: 2, rap: true } : { qos: 0 };
  }

  private attempt(): void {
    this.retryTimer = null;
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.lastError = null;
    const client = connect(this.options.url, this.clientOptions());
    this.client = client;
    // Listeners are made once per connection, not per message (DESIGN.md, principle 8).
    client.on('connect', () => this.onConnect(client));
    client.on('message', this.onMessage);
    client.on('packetreceive', this.onPacket);
    client.on('error', (error) => this.onError(client, error));
    client.on('disconnect', (packet) => {
      // MQTT 5 only: the broker says why it drops us (e.g. 142 session taken over).
      if (client === this.client) this.lastError = `broker sent DISCONNECT (reason code ${packet.reasonCode ?? 0})`;
    });
    client.on('close', () => this.onClose(client));
  }

  private onConnect(client: MqttClient): void {
    if (client !== this.client) return;
    client.subscribe('#', this.subscriptionOptions(), (error, granted) => {
      if (client !== this.client || this.state === 'stopped') return;
      // mqtt.js reports a SUBACK failure (0x80, [MQTT-3.9.3-2]) as an error with `code`;
      // without a code the connection closed first and onClose retries.
      const refusal = error !== null && error !== undefined ? (error as { code?: unknown }).code : undefined;
      if (typeof refusal === 'number') {
        this.onSubscribeRefused(client, refusal);
      } else if (error === null || error === undefined) {
        this.onSubscribed(granted?.[0]?.qos ?? 0);
      }
    });
  }

  private onSubscribed(grantedQos: number): void {
    const wasStarting = this.pendingStart !== null;
    this.state = 'subscribed';
    this.failedAttempts = 0;
    const gapStartedAt = this.gapStartedAt;
    this.gapStartedAt = null;
    if (gapStartedAt !== null) {
      const endedAt = this.now();
      const gap: MonitoringGap = { startedAt: gapStartedAt, endedAt, durationMs: endedAt - gapStartedAt, reason: this.gapReason };
      this.options.logger.warn(
        { url: this.safeUrl, gapStartedAt: new Date(gap.startedAt).toISOString(), durationMs: gap.durationMs, reason: gap.reason },
        'MQTT tap re-subscribed: monitoring gap ended; traffic in the gap was not seen',
      );
      try {
        this.options.onGap(gap);
      } catch (error) {
        this.options.logger.error({ err: error }, 'MQTT tap: the onGap handler threw');
      }
    } else {
      this.options.logger.info({ url: this.safeUrl, clientId: this.clientId, grantedQos }, 'MQTT tap subscribed to # on the site broker');
    }
    if (wasStarting) {
      const pending = this.pendingStart;
      this.pendingStart = null;
      pending?.resolve();
    }
  }

  private onSubscribeRefused(client: MqttClient, code: number): void {
    const message = `MQTT tap: the broker at ${this.safeUrl} refused the subscription to "#" for ${this.options.username === undefined ? 'an anonymous client' : `user "${this.options.username}"`} (SUBACK ${code}); its ACL must allow this account to read all topics`;
    if (this.pendingStart !== null) {
      this.fail(new MqttTapError('TAP_SUBSCRIBE_REFUSED', message));
      return;
    }
    this.options.logger.error({ url: this.safeUrl, code }, message);
    this.lastError = `subscription to # refused (SUBACK ${code})`;
    client.end(true); // 'close' follows and retries with backoff
  }

  private onError(client: MqttClient, error: Error): void {
    if (client !== this.client || this.state === 'stopped') return;
    const code = (error as { code?: unknown }).code;
    // mqtt.js raises a CONNACK refusal as ErrorWithReasonCode with a numeric code.
    if (typeof code === 'number' && error.message.startsWith('Connection refused')) {
      const who = this.options.username === undefined ? 'an anonymous login' : `the login of user "${this.options.username}"`;
      const login = LOGIN_CONNACK_CODES.has(code);
      const message = login
        ? `MQTT tap: the broker at ${this.safeUrl} refused ${who} (CONNACK ${code}: ${error.message.replace('Connection refused: ', '')}); check the tap's username and password`
        : `MQTT tap: the broker at ${this.safeUrl} refused the connection (CONNACK ${code}: ${error.message.replace('Connection refused: ', '')})`;
      if (this.pendingStart !== null && !TRANSIENT_CONNACK_CODES.has(code)) {
        this.fail(new MqttTapError(login ? 'TAP_LOGIN_REFUSED' : 'TAP_CONNECT_REFUSED', message, { cause: error }));
        return;
      }
      // After start() a refusal (credentials revoked, broker overloaded) is retried with
      // backoff: the gap stays open and loud until the tap is back.
      this.options.logger.error({ url: this.safeUrl, code }, message);
    }
    this.lastError = describeError(error);
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    if (this.state === 'stopped' || this.state === 'failed') return;
    const reason = this.lastError ?? 'connection closed by the broker';
    if (this.state === 'subscribed') {
      // A keepalive timeout means nothing arrived since the last packet: the gap is
      // counted from then, not from when the silence was noticed.
      this.gapStartedAt = reason === 'Keepalive timeout' ? Math.min(this.lastHeardAt, this.now()) : this.now();
      this.gapReason = reason;
      this.options.logger.warn(
        { url: this.safeUrl, reason },
        'MQTT tap lost the site broker: monitoring gap started; traffic is not being seen',
      );
    }
    this.client = null;
    this.state = this.gapStartedAt === null && this.pendingStart !== null ? 'connecting' : 'reconnecting';
    const delayMs = backoffDelay(this.failedAttempts, this.backoff);
    if (this.failedAttempts > 0 || this.pendingStart !== null) {
      this.options.logger.warn({ url: this.safeUrl, reason, attempt: this.failedAttempts + 1, retryInMs: delayMs }, 'MQTT tap could not reach the site broker; retrying');
    }
    this.failedAttempts += 1;
    client.removeAllListeners('message');
    client.removeAllListeners('packetreceive');
    this.retryTimer = setTimeout(() => this.attempt(), delayMs);
  }

  /**
   * One publish from the broker, handed on synchronously. A stored retained message sent
   * because the tap has just (re)subscribed carries RETAIN=1, and a publish forwarded to
   * an established subscription always carries RETAIN=0, whatever its publisher set
   * (MQTT 3.1.1 §3.3.1.3, [MQTT-3.3.1-8], [MQTT-3.3.1-9]). So with 3.1.1 a RETAIN=1
   * delivery is old state, not something that just happened: it is skipped rather than
   * stamped with a fresh time. The price: a live publish's own retain flag is not visible
   * through a 3.1.1 tap. With MQTT 5 the broker sends no stored messages (Retain Handling
   * 2) and keeps the publisher's flag (Retain As Published), so RETAIN=1 is passed on.
   */
  private readonly onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    if (packet.retain && this.protocolVersion === 4) {
      this.retainedSkipped += 1;
      return;
    }
    // Defensive: no broker should deliver `$…` topics to `#` [MQTT-4.7.2-1].
    if (topic.charCodeAt(0) === 0x24 /* $ */) return;
    const ts = this.now();
    try {
      // `via: 'tap'` tells the normalizer the sender is not visible (not a broker-internal publish).
      // No publisherPacket: this is the broker's delivery to the tap, with the broker's packet
      // id and a DUP that says nothing of the publisher's [MQTT-3.3.1-3], so an honest QoS 1
      // re-send cannot be told from a replay here and stays `command-replay`.
      this.options.sink({ kind: 'mqtt-publish', ts, client: null, via: 'tap', topic, payload, retain: packet.retain, qos: packet.qos });
    } catch (error) {
      this.sinkFailures += 1;
      if (ts - this.lastSinkFailureLogAt >= SINK_FAILURE_LOG_INTERVAL_MS) {
        this.lastSinkFailureLogAt = ts;
        this.options.logger.error({ err: error, failures: this.sinkFailures }, 'MQTT tap: the observation sink threw; the message was dropped');
      }
    }
  };

  private readonly onPacket = (_packet: Packet): void => {
    this.lastHeardAt = this.now();
  };

  private clearRetryTimer(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private failStart(error: MqttTapError): void {
    const pending = this.pendingStart;
    this.pendingStart = null;
    pending?.reject(error);
  }

  /** start() cannot succeed with this configuration: no retries, the client is closed. */
  private fail(error: MqttTapError): void {
    this.state = 'failed';
    this.clearRetryTimer();
    this.options.logger.error({ url: this.safeUrl, code: error.code }, error.message);
    const client = this.client;
    this.client = null;
    client?.end(true);
    this.failStart(error);
  }
}
