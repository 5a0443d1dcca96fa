import type { IConnackPacket, Packet } from 'mqtt-packet';
import type { ClientIdentity, MqttConnection, Observation, ObservationSink, PublisherPacket } from '../../ingest/observation.ts';
import type { StreamDirection, TcpFlow } from '../pcap/index.ts';
import { CONNACK_ACCEPTED, connackRefusalReason } from './connack-codes.ts';
import type { MqttProtocolVersion } from './fixed-header.ts';
import { DEFAULT_MAX_PACKET_BYTES, MqttStreamDecoder, type MqttDecoderAnomalyName, type MqttStreamSink } from './mqtt-stream-decoder.ts';

/**
 * MQTT flows of a capture → the agent's Observations, as the in-path broker (way 1,
 * ingest/mqtt-broker.ts) would have reported the same traffic: a login when the broker
 * accepted it, a failed login when it refused it, each PUBLISH and SUBSCRIBE a client
 * sent while logged in, and the end of each session. Event time is the capture's
 * (`ts` in epoch ms, the time of the segment that completed the bytes).
 *
 * Per flow (a TCP connection to an MQTT port): one MqttStreamDecoder per direction; the
 * CONNECT's client id, user name and protocol version, and the client's address. The
 * password is never kept, copied or logged: only those fields are read from the CONNECT.
 *
 * Sessions:
 * - CONNECT, then CONNACK 0 → `mqtt-connect`; a refusing CONNACK → `mqtt-auth-failure`
 *   (connack-codes.ts). A v5 CONNACK's Assigned Client Identifier replaces an empty id.
 * - PUBLISH / SUBSCRIBE from the client → `mqtt-publish` / `mqtt-subscribe`. Those sent
 *   before the CONNACK (3.1.1 §3.1.4 lets a client send on without waiting) are held, up
 *   to `maxHeldPackets`, and reported at the CONNACK's time when it accepts: the broker
 *   acts on them only then, and never if it refuses [MQTT-3.1.4-5]. A QoS 1 or 2
 *   PUBLISH carries its DUP flag, packet id and connection (`publisherPacket`), as the
 *   broker ingest's: the connection is the flow's number in opening order, so a 4-tuple
 *   reused after its flow ended (FIN, RST, reuse) is a later connection.
 * - Any other server packet while the CONNACK is awaited shows an accepted session whose
 *   CONNACK the capture lost (a server sends nothing else first [MQTT-3.2.0-1]): taken as
 *   accepted, `missing-connack`.
 * - DISCONNECT (from either side in 5.0), or the end of the stream → `mqtt-disconnect`,
 *   once, for sessions that were reported connected.
 * - A flow the capture joined after its CONNECT (or whose CONNECT did not decode) has no
 *   known client: its packets are reported with client id `(unknown)`
 *   (UNKNOWN_CLIENT_ID), no user name, and the client's address; a CONNACK seen for it
 *   still gives `mqtt-connect` / `mqtt-auth-failure`.
 *
 * Server-to-client PUBLISHes are the broker delivering messages to a subscriber. The
 * message came in as a client's PUBLISH, which this tracker reports on that client's
 * flow, so deliveries are only counted (`stats.deliveries`). The exception is a flow
 * whose client side the capture does not show at all (a one-sided mirror or a capture
 * joined mid-stream on a silent subscriber: no byte from the client yet when the delivery
 * is seen): there the delivery is the only sign of the message, and it is reported as an
 * `mqtt-publish` with `client: null` (publisher not visible), with a `client-side-missing`
 * anomaly once per flow. If the publisher's flow is in the capture too, such a message is
 * reported twice, once with its sender and once without.
 *
 * Bounds (principle 3): `maxFlows` flows (least recently active evicted first, with a
 * `flow-evicted` anomaly and no observation); per flow two decoders of at most
 * `maxPacketBytes` each and up to `maxHeldPackets` held packets of at most
 * `maxPacketBytes` in all; bytes held by all flows together at most `maxBufferedBytes`
 * (least recently active flows evicted to stay under it).
 *
 * Observations go to `sink` synchronously, as packets are decoded; exceptions from the
 * sink propagate.
 */

export type MqttTrackerAnomalyName =
  | 'publish-before-connack'  // a client PUBLISH before the CONNACK (held until it comes)
  | 'client-side-missing'     // deliveries on a flow whose client side the capture does not show
  | 'hold-overflow'           // more packets before the CONNACK than `maxHeldPackets`: dropped
  | 'flow-evicted';           // the flow was forgotten to stay within `maxFlows` / `maxBufferedBytes`

/** Every name an MQTT flow can report: the decoder's and the tracker's. */
export type MqttAnomalyName = MqttDecoderAnomalyName | MqttTrackerAnomalyName;

export interface MqttFlowAnomaly {
  readonly ts: number;
  /** The flow, as seen in `direction` (or its client-to-server view when `direction` is null). */
  readonly flow: TcpFlow;
  /** The direction whose bytes showed it; null for what the tracker sees across both. */
  readonly direction: StreamDirection | null;
  readonly name: MqttAnomalyName;
  readonly detail: string;
}

export interface MqttFlowTrackerOptions {
  /** Flows tracked at once (default 10,000, as the TCP stream assembler). */
  readonly maxFlows?: number;
  /** Largest MQTT packet decoded, fixed header included (default 256 KiB). */
  readonly maxPacketBytes?: number;
  /** Bytes held by all flows together (default 64 MiB, at least 4 × maxPacketBytes). */
  readonly maxBufferedBytes?: number;
  /** Packets held per flow while the CONNACK is awaited (default 32). */
  readonly maxHeldPackets?: number;
  readonly onAnomaly?: (anomaly: MqttFlowAnomaly) => void;
  /** Every decoded packet, before it is tracked (counters, tests, tools). */
  readonly onPacket?: (flow: TcpFlow, packet: Packet, protocolVersion: MqttProtocolVersion, ts: number) => void;
}

export interface MqttTrackerStats {
  /** Flows opened since the start. */
  flows: number;
  packets: number;
  /** Server-to-client PUBLISHes (deliveries), reported or not. */
  deliveries: number;
  /** Client packets not reported: sent after a refusal or a DISCONNECT, or held and never confirmed. */
  discarded: number;
  evicted: number;
}

export const DEFAULT_MQTT_MAX_FLOWS = 10_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_HELD_PACKETS = 32;
/** Client id of a session whose CONNECT the capture does not show or could not decode. */
export const UNKNOWN_CLIENT_ID = '(unknown)';

/** Anomalies reported at most once per flow; their bit in `FlowState.reported`. */
const ONCE_PER_FLOW: Partial<Record<MqttAnomalyName, number>> = {
  'missing-connect': 1,
  'missing-connack': 2,
  'publish-before-connack': 4,
  'client-side-missing': 8,
  'hold-overflow': 16,
};

type Session =
  | 'unknown'           // no CONNECT seen: joined mid-stream
  | 'awaiting-connack'
  | 'accepted'
  | 'refused'
  | 'ended';           // DISCONNECT seen

type HeldPacket =
  | { readonly kind: 'mqtt-publish'; readonly topic: string; readonly payload: Buffer; readonly retain: boolean; readonly qos: 0 | 1 | 2; readonly publisherPacket: PublisherPacket | undefined }
  | { readonly kind: 'mqtt-subscribe'; readonly topicFilters: readonly string[] };

interface FlowState {
  readonly key: string;
  /** This flow instance among all the tracker opened (observation.ts, MqttConnection). */
  readonly connection: MqttConnection;
  readonly address: string;
  readonly toServer: MqttStreamDecoder;
  readonly toClient: MqttStreamDecoder;
  readonly toServerSink: MqttStreamSink;
  readonly toClientSink: MqttStreamSink;
  toServerView: TcpFlow | null;
  toClientView: TcpFlow | null;
  identity: ClientIdentity;
  session: Session;
  /** A CONNECT was decoded (its identity is known). */
  identified: boolean;
  /** `mqtt-connect` was reported and `mqtt-disconnect` not yet. */
  connected: boolean;
  /** The client sent DISCONNECT while the CONNACK was awaited. */
  disconnectPending: boolean;
  held: HeldPacket[];
  heldBytes: number;
  reported: number;
  clientBytes: number;
  serverPackets: number;
  ts: number;
  /** Bytes this flow counts in the tracker's total. */
  buffered: number;
}

export class MqttFlowTracker {
  readonly stats: MqttTrackerStats = { flows: 0, packets: 0, deliveries: 0, discarded: 0, evicted: 0 };
  private readonly flows = new Map<string, FlowState>();
  private lastTouched: string | null = null;
  private buffered = 0;
  private readonly maxFlows: number;
  private readonly maxPacketBytes: number;
  private readonly maxBufferedBytes: number;
  private readonly maxHeldPackets: number;

  constructor(
    private readonly sink: ObservationSink,
    private readonly options: MqttFlowTrackerOptions = {},
  ) {
    this.maxFlows = Math.max(1, options.maxFlows ?? DEFAULT_MQTT_MAX_FLOWS);
    this.maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
    this.maxBufferedBytes = Math.max(4 * this.maxPacketBytes, options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
    this.maxHeldPackets = Math.max(0, options.maxHeldPackets ?? DEFAULT_MAX_HELD_PACKETS);
  }

  /** Flows tracked now. */
  get size(): number {
    return this.flows.size;
  }

  /** Bytes held by all flows (decoders and held packets), at most `maxBufferedBytes`. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** In-order payload of one direction of an MQTT flow; `ts` in epoch ms (tsMicros / 1000). */
  onData(flow: TcpFlow, payload: Buffer, ts: number): void {
    const state = this.flows.get(flow.key) ?? this.open(flow);
    this.touch(state);
    state.ts = ts;
    if (flow.direction === 'client-to-server') {
      state.toServerView = flow;
      state.clientBytes += payload.length;
      state.toServer.push(payload, state.toServerSink);
      // The server side decodes with the version the client's CONNECT announced.
      if (state.toServer.versionSource === 'connect' && state.toClient.versionSource !== 'set') state.toClient.setProtocolVersion(state.toServer.protocolVersion);
    } else {
      state.toClientView = flow;
      state.toClient.push(payload, state.toClientSink);
      // Joined mid-stream: a 5.0 CONNACK tells the client side its version too.
      if (state.toClient.versionSource === 'inferred' && state.toServer.versionSource === 'assumed') state.toServer.setProtocolVersion(state.toClient.protocolVersion);
    }
    this.account(state);
  }

  /** The capture lost bytes of this direction (`tcp-gap` from the stream assembler). */
  onGap(flow: TcpFlow, ts?: number): void {
    const state = this.flows.get(flow.key);
    if (state === undefined) return;
    if (ts !== undefined) state.ts = ts;
    if (flow.direction === 'client-to-server') state.toServer.gap(state.toServerSink);
    else state.toClient.gap(state.toClientSink);
    this.account(state);
  }

  /** The flow ended (FIN, RST, reuse, eviction or end of input): no more data will come. */
  onEnd(flow: TcpFlow, ts?: number): void {
    const state = this.flows.get(flow.key);
    if (state === undefined) return;
    if (ts !== undefined) state.ts = ts;
    this.finish(state);
  }

  /** End of input: ends every flow still open. */
  flush(): void {
    for (const state of [...this.flows.values()]) this.finish(state);
  }

  private open(flow: TcpFlow): FlowState {
    if (this.flows.size >= this.maxFlows) {
      const oldest = this.flows.values().next().value;
      if (oldest !== undefined) this.evict(oldest, `${this.maxFlows} MQTT flows tracked`);
    }
    const options = { maxPacketBytes: this.maxPacketBytes };
    const state: FlowState = {
      key: flow.key,
      // Its number among the flows opened since the start (stats.flows, counted below).
      connection: { ingest: 'capture', sequence: this.stats.flows + 1 },
      address: flow.client.ip,
      toServer: new MqttStreamDecoder({ ...options, direction: 'client-to-server' }),
      toClient: new MqttStreamDecoder({ ...options, direction: 'server-to-client' }),
      toServerSink: {
        packet: (packet) => this.clientPacket(state, packet),
        anomaly: (name, detail) => this.anomaly(state, 'client-to-server', name, detail),
      },
      toClientSink: {
        packet: (packet) => this.serverPacket(state, packet),
        anomaly: (name, detail) => this.anomaly(state, 'server-to-client', name, detail),
      },
      toServerView: null,
      toClientView: null,
      identity: { clientId: UNKNOWN_CLIENT_ID, username: null, address: flow.client.ip },
      session: 'unknown',
      identified: false,
      connected: false,
      disconnectPending: false,
      held: [],
      heldBytes: 0,
      reported: 0,
      clientBytes: 0,
      serverPackets: 0,
      ts: 0,
      buffered: 0,
    };
    this.flows.set(flow.key, state);
    this.lastTouched = flow.key;
    this.stats.flows += 1;
    return state;
  }

  /** Keeps the Map in least-recently-active order. */
  private touch(state: FlowState): void {
    if (this.lastTouched === state.key) return;
    this.flows.delete(state.key);
    this.flows.set(state.key, state);
    this.lastTouched = state.key;
  }

  private forget(state: FlowState): void {
    this.flows.delete(state.key);
    if (this.lastTouched === state.key) this.lastTouched = null;
    this.buffered -= state.buffered;
    state.buffered = 0;
  }

  private evict(state: FlowState, why: string): void {
    this.anomaly(state, null, 'flow-evicted', `${why}: ${state.key} forgotten${state.connected ? ' while its session was open' : ''}`);
    this.stats.evicted += 1;
    this.stats.discarded += state.held.length;
    this.forget(state);
  }

  /** Counts the flow's held bytes in the total and evicts idle flows to stay under the cap. */
  private account(state: FlowState): void {
    if (!this.flows.has(state.key)) return;
    const now = state.toServer.bufferedBytes + state.toClient.bufferedBytes + state.heldBytes;
    this.buffered += now - state.buffered;
    state.buffered = now;
    while (this.buffered > this.maxBufferedBytes) {
      const oldest = this.flows.values().next().value;
      if (oldest === undefined || oldest === state) break;
      this.evict(oldest, `${this.buffered} bytes held by MQTT flows, above the cap of ${this.maxBufferedBytes}`);
    }
  }

  private finish(state: FlowState): void {
    state.toServer.end(state.toServerSink);
    state.toClient.end(state.toClientSink);
    if (state.session === 'awaiting-connack' || (state.session === 'unknown' && state.toServer.connectSeen)) {
      const held = state.held.length;
      this.anomaly(state, null, 'missing-connack', `the connection ended without a CONNACK${held > 0 ? `: ${held} packet${held === 1 ? '' : 's'} sent before it not reported` : ''}`);
      this.stats.discarded += held;
    }
    if (state.connected) this.disconnected(state);
    this.forget(state);
  }

  private anomaly(state: FlowState, direction: StreamDirection | null, name: MqttAnomalyName, detail: string): void {
    const bit = ONCE_PER_FLOW[name];
    if (bit !== undefined) {
      if ((state.reported & bit) !== 0) return;
      state.reported |= bit;
    }
    const onAnomaly = this.options.onAnomaly;
    if (onAnomaly === undefined) return;
    const view = direction === 'server-to-client' ? state.toClientView ?? state.toServerView : state.toServerView ?? state.toClientView;
    if (view === null) return;
    onAnomaly({ ts: state.ts, flow: view, direction, name, detail });
  }

  private emit(observation: Observation): void {
    this.sink(observation);
  }

  private clientPacket(state: FlowState, packet: Packet): void {
    this.stats.packets += 1;
    if (state.toServerView !== null) this.options.onPacket?.(state.toServerView, packet, state.toServer.protocolVersion, state.ts);
    if (state.session === 'unknown' && state.toServer.connectSeen && packet.cmd !== 'connect') state.session = 'awaiting-connack';
    switch (packet.cmd) {
      case 'connect':
        // Only the first CONNECT counts; a second one is a protocol violation the broker
        // answers by closing the connection [MQTT-3.1.0-2] (the decoder reports it).
        if (state.identified || state.session !== 'unknown') return;
        state.identified = true;
        state.identity = { clientId: packet.clientId, username: packet.username ?? null, address: state.address };
        state.session = 'awaiting-connack';
        return;
      case 'publish': {
        const payload = copyOf(packet.payload);
        // The client's own header: DUP and packet id say whether this is its re-send (observation.ts, PublisherPacket).
        const publisherPacket = packet.qos === 0 || packet.messageId === undefined ? undefined : { dup: packet.dup, packetId: packet.messageId, connection: state.connection };
        return this.clientAction(state, { kind: 'mqtt-publish', topic: packet.topic, payload, retain: packet.retain, qos: packet.qos, publisherPacket }, payload.length);
      }
      case 'subscribe':
        return this.clientAction(state, { kind: 'mqtt-subscribe', topicFilters: packet.subscriptions.map((subscription) => subscription.topic) }, 0);
      case 'disconnect':
        if (state.session === 'accepted' || state.session === 'unknown') {
          if (state.connected) this.disconnected(state);
          state.session = 'ended';
        } else if (state.session === 'awaiting-connack') {
          state.disconnectPending = true;
        }
        return;
      default:
        return;
    }
  }

  /** A client PUBLISH or SUBSCRIBE, reported as the session state allows. */
  private clientAction(state: FlowState, action: HeldPacket, bytes: number): void {
    switch (state.session) {
      case 'accepted':
      case 'unknown':
        return this.report(state, action);
      case 'awaiting-connack':
        if (state.disconnectPending) break;
        if (action.kind === 'mqtt-publish') this.anomaly(state, 'client-to-server', 'publish-before-connack', `PUBLISH to "${action.topic.slice(0, 128)}" before the CONNACK: held until the broker accepts the login`);
        if (state.held.length >= this.maxHeldPackets || state.heldBytes + bytes > this.maxPacketBytes) {
          this.anomaly(state, 'client-to-server', 'hold-overflow', `more than ${this.maxHeldPackets} packets or ${this.maxPacketBytes} bytes sent before the CONNACK: the rest are not reported`);
          break;
        }
        state.held.push(action);
        state.heldBytes += bytes;
        return;
      default:
        break;
    }
    this.stats.discarded += 1;
  }

  private report(state: FlowState, action: HeldPacket): void {
    if (action.kind === 'mqtt-publish') {
      this.emit({ kind: 'mqtt-publish', ts: state.ts, client: state.identity, topic: action.topic, payload: action.payload, retain: action.retain, qos: action.qos, publisherPacket: action.publisherPacket });
    } else {
      this.emit({ kind: 'mqtt-subscribe', ts: state.ts, client: state.identity, topicFilters: action.topicFilters });
    }
  }

  private serverPacket(state: FlowState, packet: Packet): void {
    this.stats.packets += 1;
    state.serverPackets += 1;
    if (state.toClientView !== null) this.options.onPacket?.(state.toClientView, packet, state.toClient.protocolVersion, state.ts);
    if (state.session === 'unknown' && state.toServer.connectSeen) state.session = 'awaiting-connack';
    switch (packet.cmd) {
      case 'connack':
        return this.connack(state, packet);
      case 'publish':
        this.stats.deliveries += 1;
        if (state.clientBytes === 0) {
          // One-sided capture: the delivery is the only sign of the message (class comment).
          this.anomaly(state, 'server-to-client', 'client-side-missing', 'the broker delivers a message before the capture shows any byte from the client: deliveries reported without a sender until it does');
          // No publisherPacket: a delivery's DUP and packet id are the broker's [MQTT-3.3.1-3].
          this.emit({ kind: 'mqtt-publish', ts: state.ts, client: null, topic: packet.topic, payload: copyOf(packet.payload), retain: packet.retain, qos: packet.qos });
        }
        if (state.session === 'awaiting-connack') this.accept(state, 'a PUBLISH to the client');
        return;
      case 'disconnect':
        // 5.0 §3.14: the server closes the session (before a CONNACK: a refusal without one).
        if (state.connected) this.disconnected(state);
        if (state.session === 'awaiting-connack') {
          this.stats.discarded += state.held.length;
          this.releaseHeld(state);
        }
        state.session = 'ended';
        return;
      default:
        if (state.session === 'awaiting-connack') this.accept(state, `a ${packet.cmd.toUpperCase()}`);
        return;
    }
  }

  /** Session traffic from the server while the CONNACK was awaited: its CONNACK was not captured. */
  private accept(state: FlowState, evidence: string): void {
    this.anomaly(state, 'server-to-client', 'missing-connack', `${evidence} from the server before any CONNACK: the session is taken as accepted`);
    this.accepted(state);
  }

  private connack(state: FlowState, packet: IConnackPacket): void {
    if (state.session !== 'awaiting-connack' && state.session !== 'unknown') return;
    if (!state.toServer.connectSeen) {
      this.anomaly(state, 'server-to-client', 'missing-connect', 'CONNACK for a CONNECT the capture does not show');
      // Only a capture that starts between CONNECT and CONNACK shows such a CONNACK as the
      // server's first packet; later in a stream it is more likely bytes that are not MQTT.
      if (state.serverPackets > 1) return;
    }
    const version = state.toClient.protocolVersion;
    const code = (version === 5 ? packet.reasonCode : packet.returnCode) ?? CONNACK_ACCEPTED;
    const assigned = packet.properties?.assignedClientIdentifier;
    if (assigned !== undefined && (state.identity.clientId === '' || !state.identified)) {
      state.identity = { ...state.identity, clientId: assigned };
    }
    if (code === CONNACK_ACCEPTED) {
      this.accepted(state);
      return;
    }
    state.session = 'refused';
    this.stats.discarded += state.held.length;
    this.releaseHeld(state);
    this.emit({ kind: 'mqtt-auth-failure', ts: state.ts, client: state.identity, reason: connackRefusalReason(code, version, state.identity.username) });
  }

  private accepted(state: FlowState): void {
    state.session = 'accepted';
    state.connected = true;
    this.emit({ kind: 'mqtt-connect', ts: state.ts, client: state.identity });
    const held = state.held;
    this.releaseHeld(state);
    for (const action of held) this.report(state, action);
    if (state.disconnectPending) {
      this.disconnected(state);
      state.session = 'ended';
    }
  }

  private releaseHeld(state: FlowState): void {
    state.held = [];
    state.heldBytes = 0;
    this.account(state);
  }

  private disconnected(state: FlowState): void {
    state.connected = false;
    this.emit({ kind: 'mqtt-disconnect', ts: state.ts, client: state.identity });
  }
}

/**
 * A payload of its own: mqtt-packet hands out a view of the bytes it was given, which are
 * the capture's; an observation may be kept long after them (and must not pin them).
 */
function copyOf(payload: Buffer | string): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
}
