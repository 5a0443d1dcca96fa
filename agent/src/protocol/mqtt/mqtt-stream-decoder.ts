import mqttPacket from 'mqtt-packet';
import type { Packet, Parser } from 'mqtt-packet';
import {
  HEADER_INVALID_LENGTH,
  HEADER_NEED_MORE,
  PACKET_TYPE,
  allowedFromClient,
  allowedFromServer,
  connectProtocolLevel,
  emptyFixedHeader,
  headerProblem,
  looksLikeTls,
  packetTypeName,
  propertyLengthProblem,
  readFixedHeader,
  versionText,
  type FixedHeader,
  type HeaderProblemName,
  type MqttProtocolVersion,
} from './fixed-header.ts';
import { connackCodeProblem } from './connack-codes.ts';
import { topicFilterProblem, topicNameProblem } from './topic-checks.ts';

/**
 * Incremental MQTT decoding of ONE direction of one TCP stream, for passive capture
 * (DESIGN.md, "Ways to see traffic" item 4). Bytes go in as the stream assembler delivers
 * them, in chunks of any size; each packet comes out through `sink.packet`, bad input
 * through `sink.anomaly` with a stable name. It never throws on input and never stops
 * decoding a stream because of bad bytes (principles 1–3).
 *
 * Framing is ours, decoding is mqtt-packet's (the parser behind aedes and mqtt.js): the
 * fixed header gives the packet's length (3.1.1 §2.2.3), and only a complete packet, on
 * its own, is handed to mqtt-packet. So mqtt-packet cannot read one packet's fields out
 * of the next one's bytes (it does, given a stream: a v5 property block or DISCONNECT
 * reason code is read from whatever is buffered), a packet it rejects has known bounds,
 * and its errors ('error' events, or a throw) are caught, named, and followed by a fresh
 * parser instance.
 *
 * Checks beyond mqtt-packet's: the flags and Remaining Length each type allows
 * (fixed-header.ts), v5 Property Lengths that stay inside their packet, topic names and
 * filters (topic-checks.ts), CONNACK codes (connack-codes.ts), the order of the first
 * packets, and v5 Topic Aliases, which are resolved so that a PUBLISH sent by alias
 * carries its topic name.
 *
 * Resynchronisation. A packet whose fixed header decodes is passed over by its length
 * when it is bad, as the receiving broker frames it. That framing is believed once the
 * direction is in step: after a packet that decoded, or for a packet that starts like a
 * client's CONNECT (first byte 0x10). At the start of a stream and after a gap in the
 * capture, a header that cannot start a valid packet is refused before its bytes are
 * awaited, and the first packet must decode; otherwise the decoder resynchronises: it
 * reports one anomaly, then moves on one byte at a time to the next position where a
 * plausible fixed header starts a complete packet that mqtt-packet decodes and that is
 * followed by another plausible first byte (or by the end of the bytes so far: a packet
 * found there is taken at once, not held back for the next chunk). A Remaining Length
 * with a fifth byte also starts a resynchronisation.
 *
 * Versions. A v5 packet carries properties, so the version matters for everything after
 * the CONNECT. The client-to-server decoder takes it from the CONNECT it reads (even one
 * it cannot otherwise decode); the server-to-client decoder must be told
 * (`setProtocolVersion`), and without that infers 5.0 from a CONNACK longer than the two
 * bytes 3.1 and 3.1.1 allow (3.1.1 §3.2.1). Until then it assumes `protocolVersion`
 * (default 4).
 *
 * Bounds (principle 3): at most one packet of up to `maxPacketBytes` (default 256 KiB,
 * fixed header included) is held, and at most MAX_TOPIC_ALIASES aliases. A larger packet is reported (`oversize`) and its bytes
 * are passed over as they arrive, without being held; framing resumes after it (as
 * Suricata's `max-msg-length` does). A packet split across chunks is copied as it
 * arrives, so nothing the caller passed in is kept.
 *
 * The password of a CONNECT is in the packet given to `sink.packet` (mqtt-packet decodes
 * it); the decoder keeps no reference to that packet after the call, and replaces its
 * mqtt-packet parser, which would otherwise keep the CONNECT as its settings.
 *
 * Exceptions thrown by the sink propagate; the rest of that chunk is then not decoded.
 */

export type MqttStreamDirection = 'client-to-server' | 'server-to-client';

export type MqttDecoderAnomalyName =
  | HeaderProblemName          // unassigned-message-type, invalid-qos, malformed-packet
  | 'missing-connect'          // the client's first packet is not a CONNECT [MQTT-3.1.0-1]
  | 'duplicate-connect'        // a second CONNECT on one connection [MQTT-3.1.0-2]
  | 'missing-connack'          // the server's first packet is not a CONNACK [MQTT-3.2.0-1]
  | 'wrong-direction'          // a type that this side never sends (a CONNECT from the server)
  | 'truncated-frame'          // a packet cut by the end of the stream or by a gap in the capture
  | 'invalid-property-length'  // v5: a Property Length that is malformed or runs past its packet
  | 'unknown-topic-alias'      // v5: a PUBLISH names its topic by an alias this direction never set
  | 'oversize'                 // a packet above `maxPacketBytes`: reported and passed over
  | 'tls-stream';              // TLS records, not MQTT: the rest of the direction is not decoded

export interface MqttStreamSink {
  packet(packet: Packet): void;
  anomaly(name: MqttDecoderAnomalyName, detail: string): void;
}

export type MqttVersionSource =
  | 'assumed'   // nothing has said: the constructor's default
  | 'connect'   // the CONNECT on this direction announced it
  | 'set'       // setProtocolVersion (the tracker passes the CONNECT's version to the server side)
  | 'inferred'; // a CONNACK of more than 2 bytes: only 5.0 has those

export interface MqttStreamDecoderOptions {
  readonly direction: MqttStreamDirection;
  /** Version assumed until a CONNECT or `setProtocolVersion` says otherwise (default 4). */
  readonly protocolVersion?: MqttProtocolVersion;
  /** Largest packet held, fixed header included (default 256 KiB, at least 16 bytes). */
  readonly maxPacketBytes?: number;
}

export const DEFAULT_MAX_PACKET_BYTES = 256 * 1024;
const MIN_MAX_PACKET_BYTES = 16;
/**
 * Candidate packets decoded (and rejected) in one resynchronisation before the bytes held
 * are dropped: bounds the work a hostile stream can cause to about this many decodes of
 * at most `maxPacketBytes` each.
 */
const RESYNC_MAX_ATTEMPTS = 64;
/**
 * Topic aliases remembered per direction (5.0 §3.3.2.3.4). A broker grants at most its
 * Topic Alias Maximum (mosquitto: 10 by default); beyond this many the oldest is
 * forgotten, and a later use of it is reported as `unknown-topic-alias`.
 */
export const MAX_TOPIC_ALIASES = 1024;

type Mode =
  | 'start'   // the next packet is the first after the start of the stream or a gap
  | 'synced'  // in step: packet lengths are believed
  | 'resync'  // searching for the next packet
  | 'opaque'; // not MQTT (TLS): bytes are counted and dropped

interface Problem {
  readonly name: MqttDecoderAnomalyName;
  readonly detail: string;
}

export class MqttStreamDecoder {
  readonly direction: MqttStreamDirection;
  readonly maxPacketBytes: number;
  /** Packets handed to `sink.packet`. */
  packets = 0;
  /** Anomalies reported. */
  anomalies = 0;
  /** Bytes pushed. */
  bytes = 0;
  /** Bytes dropped while resynchronising. */
  skippedBytes = 0;

  private version: MqttProtocolVersion;
  private source: MqttVersionSource = 'assumed';
  private parser: Parser;
  private decoded: Packet | null = null;
  private parseError: string | null = null;
  private mode: Mode = 'start';
  private atStreamStart = true;
  /** Copies of the bytes of an unfinished packet (or header), and how many are needed. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private need = 0;
  /** Set by a step that must wait: where the kept tail starts and how long it must grow. */
  private keepFrom = 0;
  /** Bytes of an oversize packet still to pass over, and what it was. */
  private skip = 0;
  private skipWhat = '';
  /** Packets framed on this direction (the first decides missing-connect / missing-connack). */
  private framed = 0;
  private connects = 0;
  private resyncAttempts = 0;
  private readonly header: FixedHeader = emptyFixedHeader();
  /** 5.0 topic aliases of this direction: alias → topic name. */
  private readonly topicAliases = new Map<number, string>();

  constructor(options: MqttStreamDecoderOptions) {
    this.direction = options.direction;
    this.version = options.protocolVersion ?? 4;
    this.maxPacketBytes = Math.max(MIN_MAX_PACKET_BYTES, options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES);
    this.parser = this.newParser();
  }

  get protocolVersion(): MqttProtocolVersion {
    return this.version;
  }

  get versionSource(): MqttVersionSource {
    return this.source;
  }

  /** Bytes held between pushes (at most `maxPacketBytes` + 4). */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** Client side: a CONNECT was framed, decoded or not. */
  get connectSeen(): boolean {
    return this.connects > 0;
  }

  /** The version of the packets that follow; the server side learns it from the client's CONNECT. */
  setProtocolVersion(version: MqttProtocolVersion): void {
    this.source = 'set';
    if (version === this.version) return;
    this.version = version;
    this.parser = this.newParser();
  }

  push(chunk: Buffer, sink: MqttStreamSink): void {
    if (chunk.length === 0) return;
    this.bytes += chunk.length;
    if (this.mode === 'opaque') return;
    if (this.skip >= chunk.length) {
      this.skip -= chunk.length;
      return;
    }
    let data = chunk;
    if (this.pendingLength > 0) {
      this.pending.push(Buffer.from(chunk));
      this.pendingLength += chunk.length;
      if (this.pendingLength < this.need) return;
      data = Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
    }
    this.need = 0;
    this.process(data, sink);
  }

  /**
   * The capture lost bytes of this direction (`tcp-gap`): a packet in progress is
   * reported as cut, and the next bytes are not assumed to start a packet.
   */
  gap(sink: MqttStreamSink): void {
    this.reportCut('a gap in the capture', sink);
    if (this.mode !== 'opaque') this.mode = 'start';
  }

  /** The stream ended: a packet in progress is reported as cut. */
  end(sink: MqttStreamSink): void {
    this.reportCut('the end of the stream', sink);
  }

  private newParser(): Parser {
    const parser = mqttPacket.parser({ protocolVersion: this.version });
    parser.on('packet', (packet: Packet) => {
      this.decoded = packet;
    });
    parser.on('error', (error: unknown) => {
      this.parseError ??= error instanceof Error ? error.message : String(error);
    });
    return parser;
  }

  private anomaly(name: MqttDecoderAnomalyName, detail: string, sink: MqttStreamSink): void {
    this.anomalies += 1;
    sink.anomaly(name, detail);
  }

  private reportCut(why: string, sink: MqttStreamSink): void {
    if (this.mode === 'opaque') return;
    if (this.skip > 0) {
      this.anomaly('truncated-frame', `${this.skipWhat} (oversize, being passed over) cut by ${why} ${this.skip} bytes before its end`, sink);
    } else if (this.pendingLength > 0 && this.mode !== 'resync') {
      const held = Buffer.concat(this.pending, this.pendingLength);
      const status = readFixedHeader(held, 0, this.header);
      const what = status === 0
        ? `${packetTypeName(this.header.type)} of ${this.header.headerLength + this.header.remainingLength} bytes cut by ${why} after ${held.length} bytes`
        : `a fixed header cut by ${why} after ${held.length} byte${held.length === 1 ? '' : 's'}`;
      this.anomaly('truncated-frame', what, sink);
    }
    this.skip = 0;
    this.pending = [];
    this.pendingLength = 0;
    this.need = 0;
  }

  private process(data: Buffer, sink: MqttStreamSink): void {
    const end = data.length;
    const header = this.header;
    let at = 0;
    while (at < end) {
      if (this.skip > 0) {
        const passed = Math.min(this.skip, end - at);
        this.skip -= passed;
        at += passed;
        continue;
      }
      if (this.mode === 'opaque') return;
      if (this.atStreamStart) {
        const first = data[at] as number;
        if (first >= 0x14 && first <= 0x17 && end - at < 3) return this.keep(data, at, 3);
        this.atStreamStart = false;
        if (looksLikeTls(data, at)) {
          this.anomaly('tls-stream', 'the stream starts with a TLS record: MQTT over TLS cannot be read from a capture, the direction is not decoded', sink);
          this.mode = 'opaque';
          return;
        }
      }
      if (this.mode === 'resync') {
        const consumed = this.resync(data, at, sink);
        if (consumed < 0) return this.keep(data, this.keepFrom, this.need);
        at += consumed;
        continue;
      }
      const status = readFixedHeader(data, at, header);
      if (status === HEADER_NEED_MORE) return this.keep(data, at, end - at + 1);
      if (status === HEADER_INVALID_LENGTH) {
        this.startResync(`a Remaining Length longer than four bytes (first byte 0x${(data[at] as number).toString(16)})`, 'malformed-packet', sink);
        this.skippedBytes += 1;
        at += 1;
        continue;
      }
      if (header.type === PACKET_TYPE.CONNACK && this.direction === 'server-to-client' && this.source === 'assumed' && header.remainingLength > 2) {
        // 3.1.1 §3.2.1: a 3.1/3.1.1 CONNACK is 2 bytes; 5.0's adds a property block (§3.2.2.3).
        this.adopt(5, 'inferred');
      }
      if (this.mode === 'start' && !this.startsLikeConnect(header)) {
        // Out of step: judge the header before waiting for the bytes it announces.
        const problem = this.implausible(header, data, at);
        if (problem !== null) {
          this.startResync(problem.detail, problem.name, sink);
          this.skippedBytes += 1;
          at += 1;
          continue;
        }
      }
      const frameLength = header.headerLength + header.remainingLength;
      if (frameLength > this.maxPacketBytes) {
        this.mode = 'synced';
        this.sequence(header.type, sink);
        this.skipWhat = `${packetTypeName(header.type)} of ${frameLength} bytes`;
        this.anomaly('oversize', `${this.skipWhat}, above the cap of ${this.maxPacketBytes}: passed over`, sink);
        this.skip = frameLength;
        continue;
      }
      if (end - at < frameLength) return this.keep(data, at, frameLength);
      if (!this.frame(data, at, frameLength, sink)) {
        this.skippedBytes += 1;
        at += 1;
        continue;
      }
      at += frameLength;
    }
  }

  /** Keeps a copy of `data[from..]`; processing resumes once `need` bytes are held. */
  private keep(data: Buffer, from: number, need: number): void {
    if (from >= data.length) return;
    const tail = Buffer.from(data.subarray(from));
    this.pending = [tail];
    this.pendingLength = tail.length;
    this.need = need;
  }

  private startResync(detail: string, name: MqttDecoderAnomalyName, sink: MqttStreamSink): void {
    const where = this.framed === 0 ? 'the stream does not start with an MQTT packet' : this.mode === 'start' ? 'the stream does not resume at an MQTT packet after a gap' : 'framing lost';
    this.anomaly(name, `${detail}; ${where}: resynchronising`, sink);
    this.mode = 'resync';
    this.resyncAttempts = 0;
  }

  /**
   * One complete packet at `data[at..at+length)`. Returns false when the packet does not
   * decode and its framing is not believed (the caller resynchronises from `at + 1`).
   */
  private frame(data: Buffer, at: number, length: number, sink: MqttStreamSink): boolean {
    const header = this.header;
    const frame = data.subarray(at, at + length);
    const type = header.type;
    if (type === PACKET_TYPE.CONNECT && this.direction === 'client-to-server') {
      const connectLevel = connectProtocolLevel(frame, header.headerLength, length);
      if (connectLevel > 0 && this.connects === 0) this.adopt(connectLevel as MqttProtocolVersion, 'connect');
    }
    const problem = this.judge(frame, header);
    if (problem !== null && this.mode === 'start' && !this.startsLikeConnect(header)) {
      this.startResync(problem.detail, problem.name, sink);
      return false;
    }
    this.mode = 'synced';
    this.sequence(type, sink);
    if (problem !== null) {
      this.anomaly(problem.name, problem.detail, sink);
      return true;
    }
    this.deliver(type, sink);
    return true;
  }

  /**
   * Out of step, a bad packet's length is believed only if it starts like a client's
   * CONNECT (type 1, flags 0): the first packet of a connection, malformed or not.
   */
  private startsLikeConnect(header: FixedHeader): boolean {
    return header.type === PACKET_TYPE.CONNECT && header.flags === 0 && this.direction === 'client-to-server';
  }

  /** What makes a fixed header unbelievable out of step, or null (also used to resynchronise). */
  private implausible(header: FixedHeader, data: Buffer, at: number): Problem | null {
    const problem = headerProblem(header, this.version);
    if (problem !== null) return problem;
    if (!header.minimal) return { name: 'malformed-packet', detail: `a ${packetTypeName(header.type)} header whose Remaining Length uses more bytes than needed [MQTT-1.5.5-1]` };
    if (header.type === PACKET_TYPE.PUBLISH && !publishTopicFits(data, at, header)) {
      return { name: 'malformed-packet', detail: `a PUBLISH header whose topic name would not fit in its ${header.remainingLength}-byte body` };
    }
    return null;
  }

  /** Decodes a complete packet: null when it decoded (in `this.decoded`), else what is wrong. */
  private judge(frame: Buffer, header: FixedHeader): Problem | null {
    const structural = headerProblem(header, this.version);
    if (structural !== null) return structural;
    if (this.version === 5) {
      const properties = propertyLengthProblem(frame, header);
      if (properties !== null) return { name: 'invalid-property-length', detail: properties };
    }
    this.decoded = null;
    this.parseError = null;
    try {
      this.parser.parse(frame);
    } catch (error) {
      // mqtt-packet reads with bl, which throws RangeError on some truncated fields.
      this.parseError ??= error instanceof Error ? error.message : String(error);
    }
    if (this.parseError === null && this.decoded !== null) {
      const content = contentProblem(this.decoded, frame, header, this.version);
      const problem = content === null ? this.resolveTopicAlias(this.decoded) : { name: 'malformed-packet' as const, detail: content };
      if (problem === null) return null;
      this.decoded = null;
      return problem;
    }
    const why = this.parseError ?? 'not decoded';
    this.decoded = null;
    this.parser = this.newParser();
    // A CONNECT states its own version; for the others, say which one they were read as.
    const as = header.type === PACKET_TYPE.CONNECT ? '' : ` (read as MQTT ${versionText(this.version)})`;
    return { name: 'malformed-packet', detail: `${packetTypeName(header.type)}${as}: ${why}` };
  }

  /**
   * 5.0 §3.3.2.3.4: a PUBLISH with a topic and a Topic Alias sets the alias for this
   * direction of the connection; one with an empty topic uses it. The decoded packet gets
   * the topic the alias stands for. Using an alias never set is a Protocol Error (the
   * broker disconnects with 0x82), and alias 0 is not allowed [MQTT-3.3.2-8].
   */
  private resolveTopicAlias(packet: Packet): Problem | null {
    if (packet.cmd !== 'publish') return null;
    const alias = packet.properties?.topicAlias;
    if (alias === undefined) return null;
    if (alias === 0) return { name: 'malformed-packet', detail: 'PUBLISH with Topic Alias 0 [MQTT-3.3.2-8]' };
    if (packet.topic === '') {
      const topic = this.topicAliases.get(alias);
      if (topic === undefined) return { name: 'unknown-topic-alias', detail: `PUBLISH by Topic Alias ${alias}, which this connection has not set (a Protocol Error, 5.0 §3.3.2.3.4)` };
      packet.topic = topic;
      return null;
    }
    if (!this.topicAliases.has(alias) && this.topicAliases.size >= MAX_TOPIC_ALIASES) {
      const oldest = this.topicAliases.keys().next().value;
      if (oldest !== undefined) this.topicAliases.delete(oldest);
    }
    this.topicAliases.set(alias, packet.topic);
    return null;
  }

  /** Hands the decoded packet to the sink, after the direction check. */
  private deliver(type: number, sink: MqttStreamSink): void {
    const packet = this.decoded as Packet;
    this.decoded = null;
    const fromClient = this.direction === 'client-to-server';
    if (fromClient ? !allowedFromClient(type) : !allowedFromServer(type, this.version)) {
      this.anomaly('wrong-direction', `${packetTypeName(type)} sent by the ${fromClient ? 'client' : 'server'} (MQTT ${versionText(this.version)})`, sink);
    }
    if (type === PACKET_TYPE.CONNECT && fromClient) {
      // mqtt-packet keeps the CONNECT (password included) as its settings: start afresh.
      const announced = (packet as { protocolVersion?: number }).protocolVersion;
      if (this.connects === 1 && (announced === 3 || announced === 4 || announced === 5)) this.version = announced;
      this.parser = this.newParser();
    }
    this.packets += 1;
    sink.packet(packet);
  }

  private adopt(version: MqttProtocolVersion, source: MqttVersionSource): void {
    this.source = source;
    if (version === this.version) return;
    this.version = version;
    this.parser = this.newParser();
  }

  /** Order rules that depend only on this direction's packet types. */
  private sequence(type: number, sink: MqttStreamSink): void {
    if (this.direction === 'client-to-server') {
      if (type === PACKET_TYPE.CONNECT) {
        this.connects += 1;
        if (this.connects > 1) this.anomaly('duplicate-connect', `CONNECT number ${this.connects} on one connection [MQTT-3.1.0-2]`, sink);
      } else if (this.framed === 0) {
        this.anomaly('missing-connect', `the client's first packet is ${packetTypeName(type)}, not CONNECT [MQTT-3.1.0-1]`, sink);
      }
    } else if (this.framed === 0 && type !== PACKET_TYPE.CONNACK) {
      this.anomaly('missing-connack', `the server's first packet is ${packetTypeName(type)}, not CONNACK [MQTT-3.2.0-1]`, sink);
    }
    this.framed += 1;
  }

  /**
   * Searches `data` from `at` for the next packet (see the class comment). Returns the
   * bytes consumed (dropped, plus the packet found), or -1 after setting `keepFrom` and
   * `need` when a candidate needs more bytes.
   */
  private resync(data: Buffer, at: number, sink: MqttStreamSink): number {
    const header = this.header;
    const end = data.length;
    for (let i = at; i < end; i += 1) {
      const status = readFixedHeader(data, i, header);
      if (status === HEADER_NEED_MORE) {
        if (!plausibleFirstByte(data[i] as number, this.version)) continue;
        this.keepFrom = i;
        this.need = end - i + 1;
        this.skippedBytes += i - at;
        return -1;
      }
      if (status === HEADER_INVALID_LENGTH) continue;
      const length = header.headerLength + header.remainingLength;
      if (length > this.maxPacketBytes || this.implausible(header, data, i) !== null) continue;
      if (end - i < length) {
        this.keepFrom = i;
        this.need = length;
        this.skippedBytes += i - at;
        return -1;
      }
      if (i + length < end && !plausibleFirstByte(data[i + length] as number, this.version)) continue;
      this.resyncAttempts += 1;
      if (this.resyncAttempts > RESYNC_MAX_ATTEMPTS) {
        // Too many near misses: drop what is held and search the bytes still to come.
        this.resyncAttempts = 0;
        this.skippedBytes += end - at;
        return end - at;
      }
      if (header.type === PACKET_TYPE.CONNECT && this.direction === 'client-to-server' && this.connects === 0) {
        const level = connectProtocolLevel(data, i + header.headerLength, i + length);
        if (level > 0) this.adopt(level as MqttProtocolVersion, 'connect');
      }
      if (this.judge(data.subarray(i, i + length), header) !== null) continue;
      this.skippedBytes += i - at;
      this.mode = 'synced';
      this.sequence(header.type, sink);
      this.deliver(header.type, sink);
      return i - at + length;
    }
    this.skippedBytes += end - at;
    return end - at;
  }
}

/** The first byte of a packet this version could send: an assigned type with valid flags. */
function plausibleFirstByte(byte: number, version: MqttProtocolVersion): boolean {
  const type = byte >> 4;
  const flags = byte & 0x0f;
  if (type === 0 || (type === PACKET_TYPE.AUTH && version < 5)) return false;
  if (type === PACKET_TYPE.PUBLISH) return (flags & 0b0110) !== 0b0110;
  return flags === (type === PACKET_TYPE.PUBREL || type === PACKET_TYPE.SUBSCRIBE || type === PACKET_TYPE.UNSUBSCRIBE ? 0b0010 : 0);
}

/** A PUBLISH candidate whose topic length fits in its body; unknown (true) until the bytes are there. */
function publishTopicFits(data: Buffer, at: number, header: FixedHeader): boolean {
  const topicAt = at + header.headerLength;
  if (topicAt + 2 > data.length) return true;
  const idBytes = (header.flags & 0b0110) !== 0 ? 2 : 0;
  return 2 + data.readUInt16BE(topicAt) + idBytes <= header.remainingLength;
}

/** What mqtt-packet accepts but MQTT does not: topic rules (topic-checks.ts), CONNACK codes. */
function contentProblem(packet: Packet, frame: Buffer, header: FixedHeader, version: MqttProtocolVersion): string | null {
  let problem: string | null = null;
  switch (packet.cmd) {
    case 'publish': {
      const at = header.headerLength;
      const raw = frame.subarray(at + 2, at + 2 + frame.readUInt16BE(at));
      problem = topicNameProblem(raw, version, packet.properties?.topicAlias !== undefined);
      break;
    }
    case 'subscribe':
      for (const subscription of packet.subscriptions) {
        problem ??= topicFilterProblem(subscription.topic);
      }
      break;
    case 'unsubscribe':
      for (const filter of packet.unsubscriptions) {
        problem ??= topicFilterProblem(filter);
      }
      break;
    case 'connack':
      return connackCodeProblem((version === 5 ? packet.reasonCode : packet.returnCode) ?? 0, version);
    default:
      return null;
  }
  return problem === null ? null : `${packetTypeName(header.type)} with ${problem}`;
}
