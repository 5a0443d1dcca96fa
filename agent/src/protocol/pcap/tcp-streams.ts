/**
 * A simple per-flow, per-direction TCP stream assembler (RFC 9293 sequence space): it
 * delivers each direction's payload in sequence order, holds a bounded number of
 * out-of-order segments, drops data it has already delivered (retransmissions), and
 * when a hole cannot be filled reports `tcp-gap` and carries on after it. The copy of a
 * byte decoded first wins; a copy with different content is reported as
 * `tcp-overlap-conflict`: the insertion attack on monitors (Ptacek and Newsham, 1998), where
 * the monitor reads one segment (say, one with a bad checksum, which the host drops, or
 * a TTL that expires before it) and the device takes another for the same bytes. The last
 * RECENT_BYTES delivered of each direction are kept to compare retransmissions with, in a
 * ring indexed by sequence number, also across a skipped hole and after the flow ends (a
 * forged RST, FIN or ACK must not end the comparison); bytes a copy repeats that the ring
 * no longer holds, or that fell in a hole, are counted as `tcp-overlap-unverified`.
 *
 * Which end is the client: the sender of a SYN, the receiver of a SYN-ACK, or else the
 * end that is not on a well-known server port (502 Modbus/TCP, 1883/8883 MQTT), or else
 * the end with the higher port.
 *
 * Bounds (DESIGN.md, principle 3): at most `maxFlows` flows (least recently active
 * evicted first), `maxOutOfOrderSegments` held per direction and
 * `maxBufferedBytesPerFlow` held per flow; worst case memory is about
 * maxFlows × maxBufferedBytesPerFlow, plus 2 × RECENT_BYTES per flow that carried data.
 * Each overflow is a counted anomaly.
 */
import { TCP_FLAGS, type TcpSegment } from './ip-tcp.ts';

export type TcpStreamAnomalyName =
  | 'tcp-gap'               // bytes that never arrived: the stream continues after them
  | 'tcp-flow-overflow'     // a live flow evicted because `maxFlows` were tracked
  | 'tcp-segment-overflow'  // more out-of-order segments than `maxOutOfOrderSegments`
  | 'tcp-buffer-overflow'   // more out-of-order bytes than `maxBufferedBytesPerFlow`
  | 'tcp-data-after-close'  // new data after FIN or RST ended the flow: delivered as a new flow
  | 'tcp-overlap-conflict'    // a segment carrying other bytes for sequence numbers already seen: an insertion attempt
  | 'tcp-overlap-unverified'; // a segment repeating sequence numbers the ring no longer holds (or a skipped hole): not compared

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export type StreamDirection = 'client-to-server' | 'server-to-client';

/** One direction of a connection, as handed to the sink; the same object every time. */
export interface TcpFlow {
  /** `client->server`, e.g. `10.0.0.5:50312->10.0.0.9:502` or `[fe80::1]:50312->[fe80::2]:1883`. */
  readonly key: string;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly direction: StreamDirection;
}

/** Why a flow's streams ended: no more data will come for this flow object. */
export type FlowEndReason =
  | 'closed'    // FIN in both directions, all data delivered
  | 'reset'     // RST
  | 'reused'    // a new SYN on the same four-tuple starts another connection
  | 'evicted'   // pushed out by the flow cap
  | 'flushed';  // end of input

export interface TcpStreamSink {
  /** In-order payload of one direction; `tsMicros` is the time of the segment that completed it. */
  onData(flow: TcpFlow, payload: Buffer, tsMicros: number): void;
  onAnomaly?(name: TcpStreamAnomalyName, detail: string, flow: TcpFlow | null): void;
  /** Called once per flow, with its client-to-server view. */
  onEnd?(flow: TcpFlow, reason: FlowEndReason): void;
}

export interface TcpStreamOptions {
  /** Well-known server ports that decide direction when no SYN was seen. */
  readonly serverPorts?: Iterable<number>;
  readonly maxFlows?: number;
  readonly maxOutOfOrderSegments?: number;
  readonly maxBufferedBytesPerFlow?: number;
}

export const DEFAULT_SERVER_PORTS: readonly number[] = [502, 1883, 8883];
export const DEFAULT_MAX_FLOWS = 10_000;
export const DEFAULT_MAX_OUT_OF_ORDER_SEGMENTS = 64;
export const DEFAULT_MAX_BUFFERED_BYTES_PER_FLOW = 64 * 1024;

interface HeldSegment {
  readonly seq: number;
  readonly data: Buffer;
}

/** One direction's sequence state. */
interface HalfStream {
  readonly view: TcpFlow;
  /** False until the first SYN, data or FIN gives the sequence number to expect. */
  synced: boolean;
  nextSeq: number;
  /** Sequence number after the last byte before FIN, or -1. */
  finSeq: number;
  /** Highest acknowledgement the peer sent for this direction, once `peerAcked`. */
  peerAck: number;
  peerAcked: boolean;
  /** Out-of-order segments, ordered by sequence number from `nextSeq`. */
  held: HeldSegment[];
  /** The last delivered bytes, byte at sequence s at `s % RECENT_BYTES`; allocated at the first delivery. */
  recent: Buffer | null;
  /** How many bytes before `nextSeq` the ring window spans (at most RECENT_BYTES), a hole included. */
  recentBytes: number;
  /** A skipped hole inside that window, [holeFrom, holeTo): its ring positions hold nothing it carried. */
  hasHole: boolean;
  holeFrom: number;
  holeTo: number;
}

/**
 * Delivered bytes kept per direction to compare retransmissions with: more than one full
 * Ethernet segment (MSS 1460), so that an ordinary retransmission is compared whole. A copy
 * reaching further back is counted as unverified. 10,000 flows cost at most about 40 MB.
 */
export const RECENT_BYTES = 2048;

interface FlowState {
  readonly clientIp: string;
  readonly clientPort: number;
  readonly toServer: HalfStream;
  readonly toClient: HalfStream;
  heldBytes: number;
  carriedData: boolean;
  /** Ended flows stay as tombstones until evicted, so late retransmissions stay quiet. */
  ended: boolean;
}

/** Signed distance a − b in 32-bit sequence space (RFC 9293 §3.4). */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

function endpointText(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export class TcpStreamAssembler {
  private readonly flows = new Map<string, FlowState>();
  private lastTouched: string | null = null;
  private readonly serverPorts: ReadonlySet<number>;
  private readonly maxFlows: number;
  private readonly maxOutOfOrderSegments: number;
  private readonly maxBufferedBytesPerFlow: number;

  /** Payload bytes delivered to `onData`. */
  deliveredBytes = 0;
  /** Out-of-order bytes held, all flows together. */
  private heldTotal = 0;

  constructor(
    private readonly sink: TcpStreamSink,
    options: TcpStreamOptions = {},
  ) {
    this.serverPorts = new Set(options.serverPorts ?? DEFAULT_SERVER_PORTS);
    this.maxFlows = options.maxFlows ?? DEFAULT_MAX_FLOWS;
    this.maxOutOfOrderSegments = options.maxOutOfOrderSegments ?? DEFAULT_MAX_OUT_OF_ORDER_SEGMENTS;
    this.maxBufferedBytesPerFlow = options.maxBufferedBytesPerFlow ?? DEFAULT_MAX_BUFFERED_BYTES_PER_FLOW;
  }

  /** Flows tracked, ended ones included until they are evicted. */
  get size(): number {
    return this.flows.size;
  }

  /** Out-of-order bytes held, all flows together (at most maxFlows × maxBufferedBytesPerFlow). */
  get bufferedBytes(): number {
    return this.heldTotal;
  }

  push(segment: TcpSegment, tsMicros = 0): void {
    const { flags, payload } = segment;
    const syn = (flags & TCP_FLAGS.SYN) !== 0;
    const ack = (flags & TCP_FLAGS.ACK) !== 0;
    const fin = (flags & TCP_FLAGS.FIN) !== 0;
    const rst = (flags & TCP_FLAGS.RST) !== 0;
    const source = endpointText(segment.src, segment.srcPort);
    const destination = endpointText(segment.dst, segment.dstPort);
    const key = source < destination ? `${source} ${destination}` : `${destination} ${source}`;

    let flow = this.flows.get(key);
    if (flow !== undefined && syn && !ack) {
      // A SYN from the server's side, or after the connection carried data or ended, opens
      // a new connection on the same four-tuple; a repeated SYN only resets its direction.
      if (!this.fromClient(flow, segment) || flow.carriedData || flow.ended) {
        this.end(key, flow, 'reused');
        flow = undefined;
      }
    }
    if (flow !== undefined && flow.ended) {
      // A closed or reset connection: late retransmissions and control segments stay
      // quiet. New data is shown, as a new flow with the same roles, because the monitor
      // cannot know whether the receiver accepted the FIN or RST (an injected RST with
      // a bad sequence number is a classic way to blind a monitor).
      const sender = this.fromClient(flow, segment) ? flow.toServer : flow.toClient;
      const dataSeq = syn ? (segment.seq + 1) >>> 0 : segment.seq;
      // A copy of bytes already decoded is still compared: a forged RST or FIN must not end the comparison.
      if (payload.length > 0 && sender.synced) this.compareDelivered(sender, dataSeq, payload);
      if (payload.length === 0 || (sender.synced && seqDiff(dataSeq + payload.length, sender.nextSeq) <= 0)) return;
      const senderIsClient = this.fromClient(flow, segment);
      this.flows.delete(key);
      if (this.lastTouched === key) this.lastTouched = null;
      flow = this.open(key, segment, source, destination, senderIsClient);
      this.sink.onAnomaly?.('tcp-data-after-close', `${payload.length} bytes from ${source} after the connection ended`, senderIsClient ? flow.toServer.view : flow.toClient.view);
    } else if (flow === undefined) {
      // Pure ACKs and RSTs of connections never seen open no flow.
      if (rst || (!syn && payload.length === 0)) return;
      flow = this.open(key, segment, source, destination, syn ? !ack : this.senderIsClientByPort(segment));
    } else {
      this.touch(key, flow);
    }

    const fromClient = this.fromClient(flow, segment);
    const half = fromClient ? flow.toServer : flow.toClient;
    const other = fromClient ? flow.toClient : flow.toServer;
    let dataSeq = segment.seq;
    if (syn) {
      // RFC 9293 §3.4: the SYN takes one sequence number; data (TCP Fast Open) follows it.
      dataSeq = (segment.seq + 1) >>> 0;
      this.resetHalf(flow, half, dataSeq);
    } else if (!half.synced && (payload.length > 0 || fin)) {
      // Joined mid-stream: the first data seen sets the sequence to expect.
      half.synced = true;
      half.nextSeq = dataSeq;
    }
    if (payload.length > 0) this.data(flow, half, dataSeq, payload, tsMicros);
    if (fin) half.finSeq = (dataSeq + payload.length) >>> 0;
    if (ack && (!other.peerAcked || seqDiff(segment.ack, other.peerAck) > 0)) {
      other.peerAck = segment.ack;
      other.peerAcked = true;
      this.skipAcknowledged(flow, other, tsMicros);
    }
    if (rst) {
      this.drainAll(flow, tsMicros, 'reset');
      this.end(key, flow, 'reset');
      return;
    }
    if (this.finished(flow.toServer) && this.finished(flow.toClient)) this.end(key, flow, 'closed');
  }

  /** End of input: deliver what is held (reporting the holes before it) and end every flow. */
  flush(tsMicros = 0): void {
    for (const [key, flow] of this.flows) {
      if (flow.ended) continue;
      this.drainAll(flow, tsMicros, 'end of input');
      this.end(key, flow, 'flushed');
    }
    this.flows.clear();
    this.lastTouched = null;
  }

  private fromClient(flow: FlowState, segment: TcpSegment): boolean {
    return segment.srcPort === flow.clientPort && segment.src === flow.clientIp;
  }

  /** Without a SYN: the end on a well-known server port is the server, else the lower port. */
  private senderIsClientByPort(segment: TcpSegment): boolean {
    const toServerPort = this.serverPorts.has(segment.dstPort);
    const fromServerPort = this.serverPorts.has(segment.srcPort);
    if (toServerPort !== fromServerPort) return toServerPort;
    return segment.dstPort <= segment.srcPort;
  }

  private open(key: string, segment: TcpSegment, source: string, destination: string, senderIsClient: boolean): FlowState {
    if (this.flows.size >= this.maxFlows) this.evictOldest();
    const client: Endpoint = senderIsClient ? { ip: segment.src, port: segment.srcPort } : { ip: segment.dst, port: segment.dstPort };
    const server: Endpoint = senderIsClient ? { ip: segment.dst, port: segment.dstPort } : { ip: segment.src, port: segment.srcPort };
    const flowKey = senderIsClient ? `${source}->${destination}` : `${destination}->${source}`;
    const half = (direction: StreamDirection): HalfStream => ({
      view: { key: flowKey, client, server, direction },
      synced: false,
      nextSeq: 0,
      finSeq: -1,
      peerAck: 0,
      peerAcked: false,
      held: [],
      recent: null,
      recentBytes: 0,
      hasHole: false,
      holeFrom: 0,
      holeTo: 0,
    });
    const flow: FlowState = {
      clientIp: client.ip,
      clientPort: client.port,
      toServer: half('client-to-server'),
      toClient: half('server-to-client'),
      heldBytes: 0,
      carriedData: false,
      ended: false,
    };
    this.flows.set(key, flow);
    this.lastTouched = key;
    return flow;
  }

  /** Keeps the Map in least-recently-active order. */
  private touch(key: string, flow: FlowState): void {
    if (this.lastTouched === key) return;
    this.flows.delete(key);
    this.flows.set(key, flow);
    this.lastTouched = key;
  }

  private evictOldest(): void {
    const oldest = this.flows.entries().next().value;
    if (oldest === undefined) return;
    const [key, flow] = oldest;
    if (!flow.ended) {
      this.sink.onAnomaly?.('tcp-flow-overflow', `${this.maxFlows} flows tracked: ${flow.toServer.view.key} evicted`, flow.toServer.view);
      this.end(key, flow, 'evicted');
    }
    this.flows.delete(key);
    if (this.lastTouched === key) this.lastTouched = null;
  }

  private end(key: string, flow: FlowState, reason: FlowEndReason): void {
    if (!flow.ended) {
      flow.ended = true;
      this.sink.onEnd?.(flow.toServer.view, reason);
    }
    flow.toServer.held = [];
    flow.toClient.held = [];
    this.heldTotal -= flow.heldBytes;
    flow.heldBytes = 0;
    // A replaced flow leaves the table; a closed or reset one stays as a tombstone.
    if (reason === 'reused' || reason === 'flushed') {
      this.flows.delete(key);
      if (this.lastTouched === key) this.lastTouched = null;
    }
  }

  private resetHalf(flow: FlowState, half: HalfStream, nextSeq: number): void {
    for (const held of half.held) {
      flow.heldBytes -= held.data.length;
      this.heldTotal -= held.data.length;
    }
    half.held = [];
    half.synced = true;
    half.nextSeq = nextSeq;
    half.recentBytes = 0;
    half.hasHole = false;
    half.finSeq = -1;
    half.peerAcked = false;
  }

  private finished(half: HalfStream): boolean {
    return half.finSeq >= 0 && half.held.length === 0 && half.nextSeq === half.finSeq;
  }

  /** Delivers `payload`, the bytes from `half.nextSeq` on, and keeps the last of them to compare retransmissions with. */
  private deliver(flow: FlowState, half: HalfStream, payload: Buffer, tsMicros: number): void {
    const recent = (half.recent ??= Buffer.alloc(RECENT_BYTES));
    const kept = Math.min(payload.length, RECENT_BYTES);
    const from = payload.length - kept;
    // 2^32 is a multiple of RECENT_BYTES, so the ring position follows the sequence number across its wrap.
    const at = ((half.nextSeq + from) >>> 0) % RECENT_BYTES;
    const untilWrap = Math.min(kept, RECENT_BYTES - at);
    payload.copy(recent, at, from, from + untilWrap);
    payload.copy(recent, 0, from + untilWrap, payload.length);
    half.recentBytes = Math.min(RECENT_BYTES, half.recentBytes + payload.length);
    // The hole has left the window once RECENT_BYTES have come after its end.
    if (half.hasHole && seqDiff((half.nextSeq + payload.length) >>> 0, half.holeTo) >= RECENT_BYTES) half.hasHole = false;
    flow.carriedData = true;
    this.deliveredBytes += payload.length;
    this.sink.onData(half.view, payload, tsMicros);
  }

  private data(flow: FlowState, half: HalfStream, seq: number, payload: Buffer, tsMicros: number): void {
    const ahead = seqDiff(seq, half.nextSeq);
    if (ahead <= 0) {
      // In order, or a retransmission: only bytes past `nextSeq` are new; the old ones must match what was delivered.
      if (ahead < 0) this.compareDelivered(half, seq, payload);
      if (ahead + payload.length <= 0) return;
      this.deliver(flow, half, ahead === 0 ? payload : payload.subarray(-ahead), tsMicros);
      half.nextSeq = (seq + payload.length) >>> 0;
      this.drain(flow, half, tsMicros);
      return;
    }
    this.hold(flow, half, seq, payload);
    this.skipAcknowledged(flow, half, tsMicros);
    if (half.held.length > this.maxOutOfOrderSegments) {
      this.sink.onAnomaly?.('tcp-segment-overflow', `more than ${this.maxOutOfOrderSegments} out-of-order segments held`, half.view);
      this.skipHole(flow, half, tsMicros, 'segment cap reached');
    }
    if (flow.heldBytes > this.maxBufferedBytesPerFlow) {
      this.sink.onAnomaly?.('tcp-buffer-overflow', `${flow.heldBytes} out-of-order bytes held, above the cap of ${this.maxBufferedBytesPerFlow}`, half.view);
      while (flow.heldBytes > this.maxBufferedBytesPerFlow) {
        const fuller = flow.toServer.held.length >= flow.toClient.held.length ? flow.toServer : flow.toClient;
        if (fuller.held.length === 0) break;
        this.skipHole(flow, fuller, tsMicros, 'byte cap reached');
      }
    }
  }

  /** Holds an out-of-order segment (copied, so that memory is bounded by what is held). */
  private hold(flow: FlowState, half: HalfStream, seq: number, payload: Buffer): void {
    const ahead = seqDiff(seq, half.nextSeq);
    let index = half.held.length;
    while (index > 0) {
      const previous = half.held[index - 1];
      if (previous === undefined) break;
      const previousAhead = seqDiff(previous.seq, half.nextSeq);
      if (previousAhead === ahead) {
        // The same segment again: its bytes must be the same; keep the longer copy.
        const common = Math.min(previous.data.length, payload.length);
        if (!previous.data.subarray(0, common).equals(payload.subarray(0, common))) this.overlapConflict(half, seq, 'a held out-of-order segment');
        if (previous.data.length >= payload.length) return;
        flow.heldBytes -= previous.data.length;
        this.heldTotal -= previous.data.length;
        half.held.splice(index - 1, 1);
        index -= 1;
        break;
      }
      if (previousAhead < ahead) break;
      index -= 1;
    }
    half.held.splice(index, 0, { seq, data: Buffer.from(payload) });
    flow.heldBytes += payload.length;
    this.heldTotal += payload.length;
  }

  /** Delivers held segments that have become in order. */
  private drain(flow: FlowState, half: HalfStream, tsMicros: number): void {
    for (;;) {
      const first = half.held[0];
      if (first === undefined) return;
      const ahead = seqDiff(first.seq, half.nextSeq);
      if (ahead > 0) return;
      half.held.shift();
      flow.heldBytes -= first.data.length;
      this.heldTotal -= first.data.length;
      if (ahead < 0) this.compareDelivered(half, first.seq, first.data);
      if (ahead + first.data.length <= 0) continue;
      this.deliver(flow, half, ahead === 0 ? first.data : first.data.subarray(-ahead), tsMicros);
      half.nextSeq = (first.seq + first.data.length) >>> 0;
    }
  }

  /**
   * The peer acknowledged bytes of a hole that the capture never showed: it received
   * them, so no retransmission will bring them. Only the acknowledged part is given up
   * (RFC 9293 §3.4: the ACK is the receiver's next expected sequence number); held data
   * past the ACK still waits for the rest. Only done while data is held, so an ACK that
   * the capture shows before the segment it acknowledges cannot skip that segment.
   */
  private skipAcknowledged(flow: FlowState, half: HalfStream, tsMicros: number): void {
    while (half.peerAcked && half.held.length > 0 && seqDiff(half.peerAck, half.nextSeq) > 0) {
      const first = half.held[0] as HeldSegment;
      if (seqDiff(first.seq, half.peerAck) <= 0) {
        this.skipHole(flow, half, tsMicros, 'acknowledged by the receiver');
        continue;
      }
      const missing = seqDiff(half.peerAck, half.nextSeq);
      this.sink.onAnomaly?.('tcp-gap', `${missing} bytes missing before sequence ${half.peerAck} (acknowledged by the receiver)`, half.view);
      this.skipTo(half, half.peerAck);
      return;
    }
  }

  /** Gives up on the hole before the first held segment and goes on from there. */
  private skipHole(flow: FlowState, half: HalfStream, tsMicros: number, why: string): void {
    const first = half.held[0];
    if (first === undefined) return;
    const missing = seqDiff(first.seq, half.nextSeq);
    this.sink.onAnomaly?.('tcp-gap', `${missing} bytes missing before sequence ${first.seq} (${why})`, half.view);
    this.skipTo(half, first.seq);
    this.drain(flow, half, tsMicros);
  }

  /**
   * Moves `nextSeq` over a hole no copy will fill: the bytes before it stay comparable, the
   * hole's do not (one hole is tracked; a second one while the first is still in the
   * window drops the bytes before the second).
   */
  private skipTo(half: HalfStream, next: number): void {
    const from = half.nextSeq;
    if (half.hasHole) half.recentBytes = Math.max(0, seqDiff(from, half.holeTo));
    half.hasHole = true;
    half.holeFrom = from;
    half.holeTo = next;
    half.recentBytes = Math.min(RECENT_BYTES, half.recentBytes + seqDiff(next, from));
    half.nextSeq = next;
  }

  /**
   * A retransmission or late segment starting at `seq`, before `nextSeq`: the bytes it
   * repeats that the ring still holds must equal what was delivered; those it cannot
   * check are counted as unverified.
   */
  private compareDelivered(half: HalfStream, seq: number, payload: Buffer): void {
    const behind = -seqDiff(seq, half.nextSeq);
    if (behind <= 0) return;
    // A keep-alive: one octet at the sequence number before the next, which RFC 9293 §3.8.4
    // lets an implementation fill with garbage, sent only once everything is acknowledged;
    // before that, one octet there is an ordinary copy and is compared.
    if (behind === 1 && payload.length === 1 && half.peerAcked && half.peerAck === half.nextSeq) return;
    const repeated = Math.min(payload.length, behind);
    // Bytes further back than the window can hold are not compared.
    let unverified = Math.max(0, behind - Math.min(half.recentBytes, RECENT_BYTES));
    const ring = half.recent;
    for (let i = Math.min(unverified, repeated); i < repeated; i += 1) {
      const at = (seq + i) >>> 0;
      if (ring === null || (half.hasHole && seqDiff(at, half.holeFrom) >= 0 && seqDiff(at, half.holeTo) < 0)) {
        unverified += 1;
        continue;
      }
      if (ring[at % RECENT_BYTES] !== payload[i]) {
        this.overlapConflict(half, seq, 'bytes already delivered');
        return;
      }
    }
    if (Math.min(unverified, repeated) > 0) this.sink.onAnomaly?.('tcp-overlap-unverified', `a segment at sequence ${seq} repeats ${Math.min(unverified, repeated)} bytes the monitor no longer holds (more than ${RECENT_BYTES} back, or in a skipped hole); not compared`, half.view);
  }

  private overlapConflict(half: HalfStream, seq: number, what: string): void {
    this.sink.onAnomaly?.('tcp-overlap-conflict', `a segment at sequence ${seq} carries other bytes than ${what} for the same sequence numbers; the copy decoded first was kept`, half.view);
  }

  private drainAll(flow: FlowState, tsMicros: number, why: string): void {
    while (flow.toServer.held.length > 0) this.skipHole(flow, flow.toServer, tsMicros, why);
    while (flow.toClient.held.length > 0) this.skipHole(flow, flow.toClient, tsMicros, why);
  }
}
