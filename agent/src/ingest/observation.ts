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

/**
 * Header fields of a QoS 1 or 2 PUBLISH as its publisher sent it. A client re-sending a
 * PUBLISH it got no acknowledgement for (after a reconnect, MQTT 3.1.1 §4.4 [MQTT-4.4.0-1])
 * uses the original packet identifier and sets DUP [MQTT-3.3.1-1]; these let the replay
 * detector tell that honest re-send from a replay. Only where the agent reads the
 * publisher's own packet: the in-path broker and the client side of a captured flow. A
 * broker's delivery to a subscriber (the tap, a capture's server side) carries the
 * broker's packet id and a DUP of its own [MQTT-3.3.1-3], so there it is absent. A QoS 0
 * PUBLISH has neither: no packet id [MQTT-2.3.1-5], DUP always 0 [MQTT-3.3.1-2].
 */
export interface PublisherPacket {
  readonly dup: boolean;
  /** The packet identifier (1–65535) the publisher chose. */
  readonly packetId: number;
  /** The connection the packet came on: a re-send comes on a later one than its first copy. */
  readonly connection: MqttConnection;
}

/**
 * One MQTT connection of a client, as the ingest that saw it numbered it. A client
 * re-sends an unacknowledged PUBLISH when it reconnects (3.1.1 §4.4 [MQTT-4.4.0-1]), and
 * 5.0 forbids it at any other time (5.0 §4.4 [MQTT-4.4.0-1]), so the replay detector
 * needs to tell the connection a copy came on, and which of two came later.
 */
export interface MqttConnection {
  /** The ingest that numbered it (health/observation-counters.ts, ObservedVia): numbers of two ingests are not comparable. */
  readonly ingest: 'in-path' | 'capture';
  /**
   * Increases with every connection: in-path, each login the embedded broker accepted
   * (one aedes client each); in a capture, each MQTT flow the tracker opened, so that a
   * 4-tuple reused after its flow ended is a new connection.
   */
  readonly sequence: number;
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
  /** QoS 1 and 2 publishes of a client, where the agent saw its own packet (PublisherPacket); absent otherwise. */
  readonly publisherPacket?: PublisherPacket;
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

/**
 * An IP- or TCP-layer anomaly of a capture: IP fragments crafted to hide what they carry
 * from monitors, or more unfinished fragments than the budget holds (protocol/pcap/
 * ip-defrag.ts), or TCP segments repeating sequence numbers with other bytes
 * (protocol/pcap/tcp-streams.ts). Only the sender's and receiver's addresses are named.
 * Named, counted.
 */
export interface CaptureAnomalyObservation {
  readonly kind: 'capture-anomaly';
  readonly ts: number;
  readonly source: string;
  readonly destination: string;
  readonly name: string;
  readonly detail: string;
}

export type Observation =
  | ConnectObservation
  | MqttAnomalyObservation
  | CaptureAnomalyObservation
  | ModbusRequestObservation
  | ModbusResponseObservation
  | ModbusAnomalyObservation
  | AuthFailureObservation
  | DisconnectObservation
  | PublishObservation
  | SubscribeObservation;

export type ObservationSink = (observation: Observation) => void;
