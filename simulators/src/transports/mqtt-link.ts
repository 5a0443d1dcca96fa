import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { DeviceLink, LinkFactory, LinkIdentity, MessageHandler, PublishOptions } from './device-link.ts';
import { topicMatchesFilter } from '../../../agent/src/model/topic-filter.ts';

/**
 * DeviceLink over a real MQTT broker with mqtt.js 5. The link reconnects on its own and
 * never throws because the network failed: a simulated fleet must keep running through
 * a broker restart, as real devices do. Problems are reported through `log`, once per
 * change, not once per retry.
 */

export interface MqttLinkOptions {
  readonly log?: (line: string) => void;
  /** How long the factory waits for the first connection before handing back a link that keeps trying. */
  readonly firstConnectWaitMs?: number;
  readonly reconnectPeriodMs?: number;
  /**
   * Retry period after the broker refused the login (CONNACK 4 or 5). Slower than a
   * network retry: a device hammering a broker with a wrong password looks like a
   * brute-force attempt to the agent, and nothing changes until someone fixes the config.
   */
  readonly refusedLoginRetryMs?: number;
  readonly connectTimeoutMs?: number;
  /** QoS 1 messages queued while disconnected; more are dropped so that an outage cannot exhaust memory. */
  readonly maxOfflineMessages?: number;
  /** How long close() waits for in-flight messages (the `offline` status) before giving up. */
  readonly closeTimeoutMs?: number;
}

const DEFAULTS = {
  firstConnectWaitMs: 5_000,
  reconnectPeriodMs: 2_000,
  refusedLoginRetryMs: 30_000,
  connectTimeoutMs: 10_000,
  maxOfflineMessages: 1_000,
  closeTimeoutMs: 3_000,
} as const;

/** URL schemes mqtt.js can connect to from Node. */
export const SUPPORTED_BROKER_PROTOCOLS: readonly string[] = ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:'];

/** Why a broker URL cannot be used, or null when it can. */
export function brokerUrlProblem(brokerUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(brokerUrl);
  } catch {
    return `"${brokerUrl}" is not a URL (expected something like mqtt://localhost:1883)`;
  }
  if (!SUPPORTED_BROKER_PROTOCOLS.includes(url.protocol)) {
    return `unsupported scheme "${url.protocol}" in "${brokerUrl}" (use ${SUPPORTED_BROKER_PROTOCOLS.map((p) => p.slice(0, -1)).join(', ')})`;
  }
  if (url.hostname.length === 0) return `no host in "${brokerUrl}"`;
  return null;
}

interface Subscription {
  readonly filter: string;
  readonly handler: MessageHandler;
}

class MqttLink implements DeviceLink {
  private readonly client: MqttClient;
  private readonly subscriptions: Subscription[] = [];
  private readonly log: ((line: string) => void) | undefined;
  private readonly maxOfflineMessages: number;
  private readonly closeTimeoutMs: number;
  private readonly reconnectPeriodMs: number;
  private readonly refusedLoginRetryMs: number;
  private connectedOnce = false;
  private closing = false;
  private offlineMessages = 0;
  private droppedWhileOffline = 0;
  private lastProblem = '';

  constructor(brokerUrl: string, private readonly identity: LinkIdentity, options: MqttLinkOptions) {
    this.log = options.log;
    this.maxOfflineMessages = options.maxOfflineMessages ?? DEFAULTS.maxOfflineMessages;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs;
    this.reconnectPeriodMs = options.reconnectPeriodMs ?? DEFAULTS.reconnectPeriodMs;
    this.refusedLoginRetryMs = options.refusedLoginRetryMs ?? DEFAULTS.refusedLoginRetryMs;
    const will = identity.will;
    const clientOptions: IClientOptions = {
      clientId: identity.clientId,
      username: identity.username,
      password: identity.password,
      // The agent's embedded broker (aedes) speaks MQTT 3.1.1 only.
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: this.reconnectPeriodMs,
      // mqtt.js gives up after a refused CONNACK by default; a device keeps trying.
      reconnectOnConnackError: true,
      connectTimeout: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      // Telemetry is QoS 0 and stale once missed: do not queue it while disconnected.
      queueQoSZero: false,
      resubscribe: true,
      ...(will === undefined ? {} : { will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: will.retain } }),
    };
    this.client = mqtt.connect(brokerUrl, clientOptions);
    this.client.on('connect', this.onConnect);
    this.client.on('close', this.onClose);
    this.client.on('error', this.onError);
    this.client.on('message', this.onMessage);
  }

  /** Resolves at the first connection, the first error or after `waitMs`, whichever comes first. */
  firstAttempt(waitMs: number): Promise<void> {
    if (this.client.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.client.off('connect', finish);
        this.client.off('error', finish);
        resolve();
      };
      const timer = setTimeout(finish, waitMs);
      this.client.on('connect', finish);
      this.client.on('error', finish);
    });
  }

  publish(topic: string, payload: string, options?: PublishOptions): void {
    if (this.closing) return;
    const qos = options?.qos ?? 0;
    if (!this.client.connected) {
      // mqtt.js keeps QoS 1 messages for the next connection; bound that backlog.
      if (qos === 0) return;
      if (this.offlineMessages >= this.maxOfflineMessages) {
        this.droppedWhileOffline++;
        return;
      }
      this.offlineMessages++;
    }
    this.client.publish(topic, payload, { qos, retain: options?.retain ?? false }, this.onPublishDone);
  }

  subscribe(topicFilter: string, onMessage: MessageHandler): void {
    if (this.closing) return;
    this.subscriptions.push({ filter: topicFilter, handler: onMessage });
    this.client.subscribe(topicFilter, { qos: 1 }, this.onSubscribeDone);
  }

  close(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // The broker did not acknowledge in time (connection down): tear the socket down.
        this.client.stream?.destroy();
        resolve();
      }, this.closeTimeoutMs);
      // Connected: send DISCONNECT once in-flight QoS 1 messages (the `offline` status) are acknowledged,
      // so the broker does not publish the will. Disconnected: nothing can be delivered, end at once.
      this.client.end(!this.client.connected, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private readonly onConnect = (): void => {
    const reconnected = this.connectedOnce;
    this.connectedOnce = true;
    this.lastProblem = '';
    if (this.droppedWhileOffline > 0) {
      this.log?.(`${this.identity.clientId}: dropped ${this.droppedWhileOffline} messages while disconnected`);
    }
    this.offlineMessages = 0;
    this.droppedWhileOffline = 0;
    this.client.options.reconnectPeriod = this.reconnectPeriodMs;
    if (reconnected) this.log?.(`${this.identity.clientId}: reconnected`);
    const birth = this.identity.birth;
    if (birth !== undefined) this.client.publish(birth.topic, birth.payload, { qos: 1, retain: birth.retain }, this.onPublishDone);
  };

  private readonly onClose = (): void => {
    // A close that follows an error the log already shows adds nothing; say it once per outage.
    if (this.closing || this.lastProblem !== '') return;
    this.report(this.connectedOnce ? 'connection lost, retrying' : 'cannot connect, retrying');
  };

  private readonly onError = (error: Error): void => {
    const code = (error as { code?: unknown }).code;
    // CONNACK 4 (bad user name or password) and 5 (not authorised) [MQTT-3.2.2-3]: retry slowly.
    if (code === 4 || code === 5) this.client.options.reconnectPeriod = this.refusedLoginRetryMs;
    this.report(error.message);
  };

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    for (const subscription of this.subscriptions) {
      if (topicMatchesFilter(subscription.filter, topic)) subscription.handler(topic, payload);
    }
  };

  private readonly onPublishDone = (error?: Error): void => {
    if (error !== undefined && error !== null && !this.closing) this.report(`publish failed: ${error.message}`);
  };

  private readonly onSubscribeDone = (error: Error | null): void => {
    if (error !== null && !this.closing) this.report(`subscribe failed: ${error.message}`);
  };

  /** Logs a problem once, not on every retry. */
  private report(problem: string): void {
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    this.log?.(`${this.identity.clientId}: ${problem}`);
  }
}

/** A LinkFactory for `brokerUrl`; each link is one MQTT client with its own identity. */
export function mqttLinkFactory(brokerUrl: string, options: MqttLinkOptions = {}): LinkFactory {
  const problem = brokerUrlProblem(brokerUrl);
  if (problem !== null) throw new TypeError(problem);
  return async (identity) => {
    const link = new MqttLink(brokerUrl, identity, options);
    await link.firstAttempt(options.firstConnectWaitMs ?? DEFAULTS.firstConnectWaitMs);
    return link;
  };
}
