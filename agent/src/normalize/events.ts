import type { CommandSpec, DeviceProfile } from '../model/device-profile.ts';
import type { AccountRole, DeviceConfig } from '../model/site-schema.ts';
import type { CommandMessage, DeviceStatus, ParamValue } from '../model/wire.ts';
import type { ModbusRequest, ModbusResponse } from '../protocol/modbus/pdu-decoder.ts';
import type { MqttConnection } from '../ingest/observation.ts';

/** Who sent something, as far as the ingest path could see. */
export interface EventSource {
  /**
   * `mqtt-tap`: seen through a subscription to the site's broker; `mqtt-unattributed`: a
   * captured MQTT session whose login the capture did not contain. In both the account and
   * address are not visible. `ip`: seen only at the IP or TCP layer of a capture (IP
   * fragments, TCP overlaps): the sending address and nothing more.
   */
  readonly transport: 'mqtt' | 'modbus' | 'mqtt-tap' | 'mqtt-unattributed' | 'ip';
  readonly clientId: string;
  /** Authenticated account; null when anonymous or not visible. */
  readonly account: string | null;
  readonly role: AccountRole | null;
  readonly address: string;
}

/** Whether the sender of an event cannot be named (through a tap, or a capture that missed its login). */
export function senderHidden(source: EventSource | null): boolean {
  return source !== null && (source.transport === 'mqtt-tap' || source.transport === 'mqtt-unattributed');
}

export interface InventoryDevice {
  readonly config: DeviceConfig;
  readonly profile: DeviceProfile;
}

/**
 * The QoS 1 or 2 PUBLISH that carried a command, as its publisher sent it (DUP, packet id,
 * the connection it came on; ingest/observation.ts, PublisherPacket), with a digest of its
 * payload so that detectors can compare copies without touching bytes.
 */
export interface PublishedCommand {
  readonly qos: 1 | 2;
  readonly dup: boolean;
  readonly packetId: number;
  readonly connection: MqttConnection;
  /** SHA-256 of the payload bytes, base64. */
  readonly payloadDigest: string;
}

/** A command to a device, decoded through its profile (DESIGN.md, "The pipeline"). */
export interface DeviceCommandEvent {
  readonly kind: 'command';
  readonly ts: number;
  readonly device: InventoryDevice;
  readonly message: CommandMessage;
  readonly spec: CommandSpec;
  readonly source: EventSource;
  readonly retained: boolean;
  /**
   * Present where the agent saw the publisher's own QoS 1 or 2 PUBLISH (in-path broker,
   * client side of a capture); absent for QoS 0, through the MQTT tap and over Modbus.
   */
  readonly published?: PublishedCommand;
}

export interface TelemetryEvent {
  readonly kind: 'telemetry';
  readonly ts: number;
  readonly device: InventoryDevice;
  readonly fields: Readonly<Record<string, ParamValue>>;
  readonly source: EventSource | null;
}

export interface DeviceStatusEvent {
  readonly kind: 'status';
  readonly ts: number;
  readonly device: InventoryDevice;
  readonly status: DeviceStatus;
  readonly source: EventSource | null;
}

/** The device answering a command; kept for device-side provenance checks. */
export interface DeviceAckEvent {
  readonly kind: 'ack';
  readonly ts: number;
  readonly device: InventoryDevice;
  readonly source: EventSource | null;
}

/**
 * Something on the wire that could not be read as the contract says: counted by name,
 * never thrown (DESIGN.md, principle 2).
 */
export interface AnomalyEvent {
  readonly kind: 'anomaly';
  readonly ts: number;
  readonly name: string;
  readonly detail: string;
  readonly topic: string;
  readonly device: InventoryDevice | null;
  readonly source: EventSource | null;
}

/** A publish outside the `ward/<id>/<channel>` contract: no device meaning, but it counts toward floods. */
export interface OtherPublishEvent {
  readonly kind: 'other-publish';
  readonly ts: number;
  readonly topic: string;
  readonly source: EventSource;
}

/** A Modbus request a master sent a device through the gateway, decoded. */
export interface ModbusRequestEvent {
  readonly kind: 'modbus-request';
  readonly ts: number;
  readonly device: InventoryDevice;
  readonly source: EventSource;
  readonly unitId: number;
  readonly request: ModbusRequest;
}

/** The device's response, decoded, with the request it answers when known. */
export interface ModbusResponseEvent {
  readonly kind: 'modbus-response';
  readonly ts: number;
  readonly device: InventoryDevice;
  readonly source: EventSource;
  readonly unitId: number;
  readonly response: ModbusResponse;
  readonly request: ModbusRequest | null;
}

export interface ClientConnectEvent {
  readonly kind: 'client-connect';
  readonly ts: number;
  readonly source: EventSource;
}

export interface ClientDisconnectEvent {
  readonly kind: 'client-disconnect';
  readonly ts: number;
  readonly source: EventSource;
}

export interface AuthFailureEvent {
  readonly kind: 'auth-failure';
  readonly ts: number;
  /** The username the client tried (never the password). */
  readonly attemptedUsername: string | null;
  readonly reason: string;
  readonly clientId: string;
  readonly address: string;
}

export interface SubscribeEvent {
  readonly kind: 'subscribe';
  readonly ts: number;
  readonly source: EventSource;
  readonly topicFilters: readonly string[];
}

export type PipelineEvent =
  | DeviceCommandEvent
  | TelemetryEvent
  | DeviceStatusEvent
  | DeviceAckEvent
  | AnomalyEvent
  | OtherPublishEvent
  | ModbusRequestEvent
  | ModbusResponseEvent
  | ClientConnectEvent
  | ClientDisconnectEvent
  | AuthFailureEvent
  | SubscribeEvent;
