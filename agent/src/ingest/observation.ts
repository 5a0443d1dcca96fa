/**
 * What an ingest adapter saw, before any interpretation. Every ingest path (the in-path
 * broker now; the tap, the Modbus gateway and captures later) produces these, so that
 * the same bytes give the same alerts however they were seen (DESIGN.md, "Ways to see
 * traffic"). `ts` is the event time in epoch milliseconds; detectors read only this.
 */

export interface ClientIdentity {
  readonly clientId: string;
  /** Authenticated MQTT username; null for an anonymous client. */
  readonly username: string | null;
  /** Remote address as the agent saw it (IPv4-mapped IPv6 unwrapped). */
  readonly address: string;
}

export interface ConnectObservation {
  readonly kind: 'mqtt-connect';
  readonly ts: number;
  readonly client: ClientIdentity;
}

export interface AuthFailureObservation {
  readonly kind: 'mqtt-auth-failure';
  readonly ts: number;
  readonly client: ClientIdentity;
  /** Why the login was refused: unknown-user, bad-password, anonymous-refused. */
  readonly reason: string;
}

export interface DisconnectObservation {
  readonly kind: 'mqtt-disconnect';
  readonly ts: number;
  readonly client: ClientIdentity;
}

export interface PublishObservation {
  readonly kind: 'mqtt-publish';
  readonly ts: number;
  /** Null for messages the broker publishes itself (last wills keep their client). */
  readonly client: ClientIdentity | null;
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
  readonly qos: 0 | 1 | 2;
  /** `tap`: seen by subscribing to the site's broker (DESIGN.md, way 2); the sender is not visible, `client` is null. */
  readonly via?: 'tap';
}

export interface SubscribeObservation {
  readonly kind: 'mqtt-subscribe';
  readonly ts: number;
  readonly client: ClientIdentity;
  readonly topicFilters: readonly string[];
}

/** A Modbus master as the inspecting gateway saw it (Modbus/TCP has no login). */
export interface ModbusPeer {
  readonly address: string;
  readonly port: number;
}

/**
 * One Modbus/TCP request ADU a master sent through the gateway to a device. `pdu` is the
 * function code and data as framed; decoding is the normalizer's job.
 */
export interface ModbusRequestObservation {
  readonly kind: 'modbus-request';
  readonly ts: number;
  readonly master: ModbusPeer;
  readonly deviceId: string;
  readonly unitId: number;
  readonly transactionId: number;
  readonly pdu: Buffer;
}

/** The device's answer, paired with its request by transaction id (null when unsolicited). */
export interface ModbusResponseObservation {
  readonly kind: 'modbus-response';
  readonly ts: number;
  readonly master: ModbusPeer;
  readonly deviceId: string;
  readonly unitId: number;
  readonly transactionId: number;
  readonly pdu: Buffer;
  readonly requestPdu: Buffer | null;
}

/** Bytes on a Modbus flow that could not be framed, or a pairing problem; named, counted. */
export interface ModbusAnomalyObservation {
  readonly kind: 'modbus-anomaly';
  readonly ts: number;
  readonly master: ModbusPeer;
  readonly deviceId: string;
  readonly direction: 'request' | 'response';
  readonly name: string;
  readonly detail: string;
}

/** Bytes of an MQTT flow in a capture that did not decode as the protocol says; named, counted. */
export interface MqttAnomalyObservation {
  readonly kind: 'mqtt-anomaly';
  readonly ts: number;
  /** The client of the flow, as far as its CONNECT told; null before one was seen. */
  readonly client: ClientIdentity | null;
  readonly name: string;
  readonly detail: string;
}

export type Observation =
  | ConnectObservation
  | MqttAnomalyObservation
  | ModbusRequestObservation
  | ModbusResponseObservation
  | ModbusAnomalyObservation
  | AuthFailureObservation
  | DisconnectObservation
  | PublishObservation
  | SubscribeObservation;

export type ObservationSink = (observation: Observation) => void;
