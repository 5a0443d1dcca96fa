import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BrokerLink } from '../export/broker-link.ts';
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

/** Why a message from the broker was not used; counted per reason. */
export type RejectReason = 'topic' | 'too-large' | 'not-json' | 'version' | 'invalid' | 'ward-mismatch';

export interface HubMessageHandlers {
  alert(ward: string, message: UplinkAlertMessage): void;
  health(ward: string, message: UplinkHealthMessage): void;
  devices(ward: string, message: UplinkDevicesMessage): void;
  uplink(ward: string, message: UplinkStateMessage): void;
  /** The hub's own link to the broker came or went. */
  link(connected: boolean): void;
}

export interface HubSubscriberOptions {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: Buffer;
  readonly clientId: string;
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
 * forgets it.
 */
export class HubSubscriber {
  private readonly link: BrokerLink;
  readonly rejected = new Map<RejectReason, number>();
  received = 0;
  private lastRejectLogAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: HubSubscriberOptions) {
    this.link = new BrokerLink({
      name: 'hub',
      url: options.url,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
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

  private onConnected(client: MqttClient): void {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
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

  private onMessage(topic: string, payload: Buffer): void {
    this.received += 1;
    const route = parseUplinkTopic(this.options.topicPrefix, topic);
    if (route === null) return this.reject('topic', topic);
    if (payload.length > MAX_UPLINK_PAYLOAD_BYTES) return this.reject('too-large', topic);
    // An empty retained message clears a topic [MQTT-3.3.1-10]: a ward removed on purpose.
    if (payload.length === 0) return;
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
          return handlers.alert(route.ward, parsed.data as UplinkAlertMessage);
        case 'health':
          return handlers.health(route.ward, parsed.data as UplinkHealthMessage);
        case 'devices':
          return handlers.devices(route.ward, parsed.data as UplinkDevicesMessage);
        case 'uplink':
          return handlers.uplink(route.ward, parsed.data as UplinkStateMessage);
      }
    } catch (error) {
      this.options.logger.error({ err: error, topic }, 'hub: handling a ward\'s message failed');
    }
  }

  private reject(reason: RejectReason, topic: string, detail?: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    const now = Date.now();
    if (now - this.lastRejectLogAt < REJECT_LOG_INTERVAL_MS) return;
    this.lastRejectLogAt = now;
    this.options.logger.warn({ topic: topic.slice(0, 200), reason, detail, rejected: Object.fromEntries(this.rejected) }, 'hub: a message from the central broker was not used');
  }
}
