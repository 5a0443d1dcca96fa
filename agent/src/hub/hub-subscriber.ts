import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BrokerLink, type BrokerLinkOptions } from '../export/broker-link.ts';
import {
  alertMessageSchema,
  devicesMessageSchema,
  healthMessageSchema,
  MAX_UPLINK_PAYLOAD_BYTES,
  parseUplinkTopic,
  UPLINK_PROTOCOL_VERSION,
  uplinkStateMessageSchema,
  uplinkSubscription,
  type UplinkAlertMessage,
  type UplinkDevicesMessage,
  type UplinkHealthMessage,
  type UplinkStateMessage,
  type UplinkTopicKind,
} from '../export/uplink-protocol.ts';
import { isRecentFailure } from '../health/agent-health.ts';
import { FailureTally } from '../health/failure-tally.ts';
import { TOPIC_LEVEL } from '../model/uplink-schema.ts';

/**
 * Why a message from the broker was not used; counted per reason. `not-stored`: it was
 * valid but its handler failed (the hub's store could not write it).
 */
export type RejectReason = 'topic' | 'too-large' | 'not-json' | 'version' | 'invalid' | 'ward-mismatch' | 'not-stored';

/**
 * Largest alert message the hub reads. The hub holds up to `maxAlerts` (10,000 by default,
 * 100,000 at most) in memory and reloads them at start, so an alert's size is its memory
 * bill many times over; the agent's alerts quote evidence from payloads it caps at 16 KiB
 * (model/wire.ts MAX_PAYLOAD_BYTES), so a genuine alert change stays well below this.
 */
export const MAX_HUB_ALERT_MESSAGE_BYTES = 64 * 1024;

/**
 * The health reason for the messages the hub could not use, or null. Said while the last
 * one of a reason is recent (FAILURE_MEMORY_MS, as an agent's failing outputs): one
 * malformed message must not keep the hub degraded until it restarts. Wrong topics under
 * the prefix are not counted here (nothing of a ward was lost).
 */
export function unusedMessagesReason(rejected: FailureTally, now: number): string | null {
  const recent = [...rejected.entries()].filter(([reason, failure]) => reason !== 'topic' && isRecentFailure(failure, now));
  if (recent.length === 0) return null;
  const total = recent.reduce((sum, [, failure]) => sum + failure.count, 0);
  const last = Math.max(...recent.map(([, failure]) => failure.lastAt));
  return `${total} messages from the wards could not be used (${recent.map(([reason, failure]) => `${reason}: ${failure.count}`).join(', ')}; the last at ${new Date(last).toISOString().slice(11, 19)} UTC); see the hub's log`;
}

export interface HubMessageHandlers {
  alert(ward: string, message: UplinkAlertMessage): void;
  health(ward: string, message: UplinkHealthMessage): void;
  devices(ward: string, message: UplinkDevicesMessage): void;
  uplink(ward: string, message: UplinkStateMessage): void;
  /** The hub's own link to the broker came or went. */
  link(connected: boolean): void;
}

/** The broker connection is the uplink's (export/broker-link.ts), with the hub's own client id and credentials. */
export interface HubSubscriberOptions extends Pick<BrokerLinkOptions, 'url' | 'username' | 'password' | 'ca' | 'clientCertificate' | 'clientId'> {
  readonly topicPrefix: string;
  readonly reconnectMaxSeconds: number;
  readonly handlers: HubMessageHandlers;
  readonly logger: Logger;
}

const SCHEMAS: { readonly [K in UplinkTopicKind]: z.ZodType } = {
  alerts: alertMessageSchema,
  health: healthMessageSchema,
  devices: devicesMessageSchema,
  uplink: uplinkStateMessageSchema,
};

/** Rejections are logged at most this often (a misbehaving ward must not flood the hub's log). */
const REJECT_LOG_INTERVAL_MS = 60_000;

/**
 * The hub's one client of the central broker: a persistent session (clean: false, a fixed
 * client id) subscribed with QoS 1 to `<prefix>/+/+`, so that alerts published while the
 * hub is away wait for it at the broker (up to the broker's own queue limit:
 * mosquitto's max_queued_messages, docs/operations.md). Every payload is checked (size,
 * JSON, version, schema, and that its ward is the topic's) before it reaches a handler;
 * nothing from the network can throw past this class.
 *
 * Handlers run synchronously inside mqtt.js's message event, which acknowledges a QoS 1
 * message (PUBACK) only after it returns: an alert is in the hub's store before the broker
 * forgets it. A handler that throws (the store cannot write) is counted (`not-stored`), its
 * message is not acknowledged (mqtt.js sends the PUBACK from `handleMessage`'s callback,
 * which is given an error instead) and the connection is ended, so that the broker sends
 * it again on the next one (MQTT 3.1.1 §4.4: unacknowledged QoS 1 messages are resent
 * when a persistent session resumes).
 */
export class HubSubscriber {
  private readonly link: BrokerLink;
  /** Messages not used, by reason: a count since start and when the last was (health says it while recent). */
  readonly rejected = new FailureTally();
  received = 0;
  private lastRejectLogAt = Number.NEGATIVE_INFINITY;
  /** The message whose handler failed: mqtt.js must not acknowledge it. */
  private unstored: IPublishPacket | null = null;

  constructor(private readonly options: HubSubscriberOptions) {
    this.link = new BrokerLink({
      name: 'hub',
      url: options.url,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.clientCertificate === undefined ? {} : { clientCertificate: options.clientCertificate }),
      clientId: options.clientId,
      backoff: { initialMs: 500, maxMs: options.reconnectMaxSeconds * 1000 },
      logger: options.logger,
      onConnected: (client) => this.onConnected(client),
      onDisconnected: () => this.options.handlers.link(false),
    });
  }

  get connected(): boolean {
    return this.link.connected;
  }

  get lastError(): string | null {
    return this.link.lastError;
  }

  start(): void {
    this.link.start();
  }

  stop(): Promise<void> {
    return this.link.stop();
  }

  /** Counts by reason, for /api and the health view's `anomalies`. */
  rejectedCounts(): Partial<Record<RejectReason, number>> {
    return Object.fromEntries([...this.rejected.entries()].map(([reason, failure]) => [reason, failure.count]));
  }

  private onConnected(client: MqttClient): void {
    client.on('message', (topic, payload, packet) => {
      if (!this.onMessage(topic, payload)) this.unstored = packet;
    });
    // mqtt.js calls this after the message event and sends the PUBACK from its callback; an error there sends none.
    client.handleMessage = (packet, callback) => {
      if (packet !== this.unstored) return callback();
      this.unstored = null;
      callback(new Error('not stored'));
      this.options.logger.warn('hub: a ward\'s message could not be stored; reconnecting so that the central broker sends it again');
      client.end(true);
    };
    // Subscribing again on a session the broker kept is harmless [MQTT-3.8.4-3], and needed when it did not keep it.
    client.subscribe(uplinkSubscription(this.options.topicPrefix), { qos: 1 }, (error, granted) => {
      const refused = granted?.some((grant) => grant.qos === 128) === true;
      if (error !== null && error !== undefined) {
        this.options.logger.error({ err: error }, 'hub: the subscription to the wards\' topics failed; retrying on the next connection');
      } else if (refused) {
        this.options.logger.error({ topic: uplinkSubscription(this.options.topicPrefix) }, 'hub: the central broker refused the subscription (SUBACK 0x80): its ACL must let the hub\'s account read every ward\'s topics');
      }
    });
    this.options.handlers.link(true);
  }

  /** Checks and hands on one message; false only when its handler failed (the message must come again). */
  private onMessage(topic: string, payload: Buffer): boolean {
    this.received += 1;
    const route = parseUplinkTopic(this.options.topicPrefix, topic);
    // Only a name an agent's uplink may have (model/uplink-schema.ts uplinkIssues): nothing can pass for the hub's own alerts (HUB_ORIGIN).
    if (route === null || !TOPIC_LEVEL.test(route.ward)) return this.reject('topic', topic);
    const limit = route.kind === 'alerts' ? MAX_HUB_ALERT_MESSAGE_BYTES : MAX_UPLINK_PAYLOAD_BYTES;
    if (payload.length > limit) return this.reject('too-large', topic, `${payload.length} bytes, limit ${limit}`);
    // An empty retained message clears a topic [MQTT-3.3.1-10]: a ward removed on purpose.
    if (payload.length === 0) return true;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.reject('not-json', topic);
    }
    const version = typeof json === 'object' && json !== null ? (json as { v?: unknown }).v : undefined;
    if (version !== UPLINK_PROTOCOL_VERSION) return this.reject('version', topic);
    const parsed = SCHEMAS[route.kind].safeParse(json);
    if (!parsed.success) return this.reject('invalid', topic, parsed.error.issues[0]?.message);
    const message = parsed.data as { readonly ward: string };
    if (message.ward !== route.ward) return this.reject('ward-mismatch', topic);
    const { handlers } = this.options;
    try {
      switch (route.kind) {
        case 'alerts':
          handlers.alert(route.ward, parsed.data as UplinkAlertMessage);
          break;
        case 'health':
          handlers.health(route.ward, parsed.data as UplinkHealthMessage);
          break;
        case 'devices':
          handlers.devices(route.ward, parsed.data as UplinkDevicesMessage);
          break;
        case 'uplink':
          handlers.uplink(route.ward, parsed.data as UplinkStateMessage);
          break;
      }
      return true;
    } catch (error) {
      this.options.logger.error({ err: error, topic }, 'hub: handling a ward\'s message failed');
      this.reject('not-stored', topic, error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  /** Counts a message not used; true: there is nothing to send again (a malformed message stays malformed). */
  private reject(reason: RejectReason, topic: string, detail?: string): true {
    const now = Date.now();
    this.rejected.record(reason, now);
    if (now - this.lastRejectLogAt >= REJECT_LOG_INTERVAL_MS) {
      this.lastRejectLogAt = now;
      this.options.logger.warn({ topic: topic.slice(0, 200), reason, detail, rejected: this.rejectedCounts() }, 'hub: a message from the central broker was not used');
    }
    return true;
  }
}
