/**
 * The MQTT fixed header and the structural rules that can be judged from it, before any
 * decoding: packet type, flags, Remaining Length, and the length of a v5 property block.
 * mqtt-packet decodes the packet itself; these rules decide where a packet ends, whether
 * its header is believable, and what mqtt-packet does not check (it accepts a PINGREQ
 * with a body, reads a v5 property block past the end of its packet, and takes a 4-byte
 * CONNACK as a 3.1.1 one).
 *
 * References: MQTT 3.1.1 (OASIS, 2014) §2.2 and §3; MQTT 5.0 (OASIS, 2019) §1.5.5, §2.1,
 * §2.2.2 and §3; MQTT 3.1 (IBM, 2010) for the "MQIsdp" protocol name and level 3.
 */

export type MqttProtocolVersion = 3 | 4 | 5;

/** Control packet types, 3.1.1 §2.2.1 / 5.0 §2.1.2. 0 is reserved; 15 is AUTH in 5.0 only. */
export const PACKET_TYPE = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

const TYPE_NAMES = [
  'type-0', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
] as const;

/** `CONNECT`, `PUBLISH`, …; `type-0` for the reserved type (names kept, Zeek consts.zeek style). */
export function packetTypeName(type: number): string {
  return TYPE_NAMES[type & 0x0f] ?? `type-${type}`;
}

/**
 * Flags that 3.1.1 §2.2.2 Table 2.2 / 5.0 §2.1.3 fix for each type: PUBREL, SUBSCRIBE and
 * UNSUBSCRIBE carry 0b0010, PUBLISH has DUP/QoS/RETAIN, every other type 0 [MQTT-2.2.2-1].
 * (In 3.1 those three carried QoS 1, the same bits.)
 */
function requiredFlags(type: number): number {
  return type === PACKET_TYPE.PUBREL || type === PACKET_TYPE.SUBSCRIBE || type === PACKET_TYPE.UNSUBSCRIBE ? 0b0010 : 0;
}

/** The largest Remaining Length four bytes can encode, 268,435,455 (3.1.1 §2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;

export interface FixedHeader {
  type: number;
  flags: number;
  /** 1 + the bytes of the Remaining Length (2..5). */
  headerLength: number;
  remainingLength: number;
  /** False when the Remaining Length used more bytes than needed ([MQTT-1.5.5-1] in 5.0). */
  minimal: boolean;
}

export function emptyFixedHeader(): FixedHeader {
  return { type: 0, flags: 0, headerLength: 0, remainingLength: 0, minimal: true };
}

export const HEADER_OK = 0;
export const HEADER_NEED_MORE = -1;
/** A fourth Remaining Length byte with the continuation bit set (3.1.1 §2.2.3). */
export const HEADER_INVALID_LENGTH = -2;

/** Reads the fixed header at `at` into `out` (no allocation on the hot path). */
export function readFixedHeader(buf: Buffer, at: number, out: FixedHeader): number {
  const available = buf.length - at;
  if (available < 2) return HEADER_NEED_MORE;
  const first = buf[at] as number;
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i += 1) {
    if (i >= available) return HEADER_NEED_MORE;
    const byte = buf[at + i] as number;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      out.type = first >> 4;
      out.flags = first & 0x0f;
      out.headerLength = 1 + i;
      out.remainingLength = value;
      out.minimal = i === 1 || byte !== 0;
      return HEADER_OK;
    }
    multiplier *= 128;
  }
  return HEADER_INVALID_LENGTH;
}

export type HeaderProblemName = 'unassigned-message-type' | 'invalid-qos' | 'malformed-packet';

export interface HeaderProblem {
  readonly name: HeaderProblemName;
  readonly detail: string;
}

/**
 * What the fixed header alone shows to be wrong, or null. The type and flags first
 * (Suricata's `UnassignedMsgType` and `InvalidQosLevel`), then the Remaining Length each
 * type allows.
 */
export function headerProblem(header: FixedHeader, version: MqttProtocolVersion): HeaderProblem | null {
  const { type, flags, remainingLength: length } = header;
  const name = packetTypeName(type);
  if (type === 0) return { name: 'unassigned-message-type', detail: `message type 0 is reserved (${length}-byte body)` };
  if (type === PACKET_TYPE.AUTH && version < 5) {
    return { name: 'unassigned-message-type', detail: `message type 15 is reserved before MQTT 5 (protocol level ${version})` };
  }
  if (type === PACKET_TYPE.PUBLISH) {
    // [MQTT-3.3.1-4]: a PUBLISH must not have both QoS bits set.
    if ((flags & 0b0110) === 0b0110) return { name: 'invalid-qos', detail: `PUBLISH with QoS 3 (flags 0x${flags.toString(16)})` };
  } else if (flags !== requiredFlags(type)) {
    return { name: 'malformed-packet', detail: `${name} with flags 0x${flags.toString(16)}, must be 0x${requiredFlags(type).toString(16)} [MQTT-2.2.2-1]` };
  }
  const shortest = shortestBody(type, flags, version);
  if (length < shortest) return { name: 'malformed-packet', detail: `${name} with a ${length}-byte body, shorter than the ${shortest} bytes it needs` };
  const exact = exactBody(type, version);
  if (exact >= 0 && length !== exact) return { name: 'malformed-packet', detail: `${name} with a ${length}-byte body, must be ${exact} bytes (MQTT ${versionText(version)})` };
  return null;
}

export function versionText(version: MqttProtocolVersion): string {
  return version === 3 ? '3.1' : version === 4 ? '3.1.1' : '5.0';
}

/** Remaining Length a type must have exactly, or -1. */
function exactBody(type: number, version: MqttProtocolVersion): number {
  switch (type) {
    case PACKET_TYPE.PINGREQ:
    case PACKET_TYPE.PINGRESP:
      return 0; // §3.12, §3.13: no variable header, no payload
    case PACKET_TYPE.DISCONNECT:
      return version < 5 ? 0 : -1; // 3.1.1 §3.14
    case PACKET_TYPE.CONNACK:
    case PACKET_TYPE.PUBACK:
    case PACKET_TYPE.PUBREC:
    case PACKET_TYPE.PUBREL:
    case PACKET_TYPE.PUBCOMP:
    case PACKET_TYPE.UNSUBACK:
      return version < 5 ? 2 : -1; // 3.1.1 §3.2.1, §3.4.1–§3.7.1, §3.11.1
    default:
      return -1;
  }
}

/** The least Remaining Length a type can have. */
function shortestBody(type: number, flags: number, version: MqttProtocolVersion): number {
  const v5 = version === 5 ? 1 : 0; // the property length, one byte at least
  switch (type) {
    case PACKET_TYPE.CONNECT:
      return 12; // name "MQTT" (6) + level + flags + keep alive (2) + client id length (2)
    case PACKET_TYPE.CONNACK:
      return 2;
    case PACKET_TYPE.PUBLISH:
      return 2 + ((flags & 0b0110) !== 0 ? 2 : 0) + v5; // topic length (+ packet id) (+ properties)
    case PACKET_TYPE.PUBACK:
    case PACKET_TYPE.PUBREC:
    case PACKET_TYPE.PUBREL:
    case PACKET_TYPE.PUBCOMP:
      return 2;
    case PACKET_TYPE.SUBSCRIBE:
      return 2 + v5 + 3; // packet id, properties, one filter length + options [MQTT-3.8.3-3]
    case PACKET_TYPE.SUBACK:
      return 2 + v5 + 1;
    case PACKET_TYPE.UNSUBSCRIBE:
      return 2 + v5 + 2; // [MQTT-3.10.3-2]
    case PACKET_TYPE.UNSUBACK:
      return 2 + v5;
    default:
      return 0;
  }
}

/**
 * Direction rules, 3.1.1 §2.2.1 / 5.0 §2.1.2: which types each side may send. DISCONNECT
 * from the server and AUTH exist only in 5.0.
 */
export function allowedFromClient(type: number): boolean {
  return type === PACKET_TYPE.CONNECT || type === PACKET_TYPE.PUBLISH || (type >= PACKET_TYPE.PUBACK && type <= PACKET_TYPE.PUBCOMP)
    || type === PACKET_TYPE.SUBSCRIBE || type === PACKET_TYPE.UNSUBSCRIBE || type === PACKET_TYPE.PINGREQ
    || type === PACKET_TYPE.DISCONNECT || type === PACKET_TYPE.AUTH;
}

export function allowedFromServer(type: number, version: MqttProtocolVersion): boolean {
  return type === PACKET_TYPE.CONNACK || type === PACKET_TYPE.PUBLISH || (type >= PACKET_TYPE.PUBACK && type <= PACKET_TYPE.PUBCOMP)
    || type === PACKET_TYPE.SUBACK || type === PACKET_TYPE.UNSUBACK || type === PACKET_TYPE.PINGRESP
    || ((type === PACKET_TYPE.DISCONNECT || type === PACKET_TYPE.AUTH) && version === 5);
}

/**
 * The protocol level a CONNECT announces, read from its bytes so that it is known even
 * when the rest of the packet cannot be decoded: protocol name "MQTT" (3.1.1, 5.0) or
 * "MQIsdp" (3.1), then the level; the high bit is the bridge flag some brokers use
 * (mosquitto `try_private`). -1 when the packet does not start like a CONNECT of 3.1–5.0,
 * -2 when more bytes are needed to tell.
 */
export function connectProtocolLevel(buf: Buffer, bodyAt: number, bodyEnd: number): number {
  const end = Math.min(buf.length, bodyEnd);
  if (end - bodyAt < 2) return end < bodyEnd ? -2 : -1;
  const nameLength = buf.readUInt16BE(bodyAt);
  if (nameLength !== 4 && nameLength !== 6) return -1;
  const levelAt = bodyAt + 2 + nameLength;
  if (levelAt >= end) return end < bodyEnd ? -2 : -1;
  const name = buf.toString('latin1', bodyAt + 2, levelAt);
  if (name !== (nameLength === 4 ? 'MQTT' : 'MQIsdp')) return -1;
  const level = (buf[levelAt] as number) & 0x7f;
  return level === 3 || level === 4 || level === 5 ? level : -1;
}

/** Reads a Variable Byte Integer (5.0 §1.5.5) at `at` before `end`: [value, bytes] or null. */
function readVarint(buf: Buffer, at: number, end: number): readonly [number, number] | null {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i += 1) {
    if (at + i >= end) return null;
    const byte = buf[at + i] as number;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return [value, i + 1];
    multiplier *= 128;
  }
  return null;
}

/**
 * MQTT 5 only: checks that each property block of a complete packet (`frame`, fixed
 * header included) has a well-formed Property Length that ends inside the packet (5.0
 * §2.2.2.1). mqtt-packet does not: it reads such a block on into whatever follows.
 * Returns a description of the first bad block, or null. Where the block sits depends on
 * the type; a block the packet leaves out (allowed for CONNACK-less short forms such as a
 * 2-byte PUBACK) is not checked.
 */
export function propertyLengthProblem(frame: Buffer, header: FixedHeader): string | null {
  const end = frame.length;
  let at = header.headerLength;
  const check = (where: string): string | null => {
    if (at >= end) return `${where}: no Property Length before the end of the packet`;
    const read = readVarint(frame, at, end);
    if (read === null) return `${where}: the Property Length is not a valid Variable Byte Integer within the packet`;
    const [length, bytes] = read;
    if (at + bytes + length > end) return `${where}: Property Length ${length} runs ${at + bytes + length - end} bytes past the end of the packet`;
    at += bytes + length;
    return null;
  };
  switch (header.type) {
    case PACKET_TYPE.CONNECT: {
      if (end - at < 2) return null;
      const nameLength = frame.readUInt16BE(at);
      const flagsAt = at + 2 + nameLength + 1;
      if (flagsAt + 3 > end) return null; // too short: mqtt-packet reports it
      if (((frame[flagsAt - 1] as number) & 0x7f) !== 5) return null;
      const connectFlags = frame[flagsAt] as number;
      at = flagsAt + 3;
      const problem = check('CONNECT properties');
      if (problem !== null) return problem;
      if ((connectFlags & 0x04) === 0) return null;
      // Will properties follow the client identifier (5.0 §3.1.3.2).
      if (end - at < 2) return null;
      at += 2 + frame.readUInt16BE(at);
      return at > end ? null : check('CONNECT will properties');
    }
    case PACKET_TYPE.CONNACK:
      at += 2;
      return at >= end ? null : check('CONNACK properties');
    case PACKET_TYPE.PUBLISH: {
      if (end - at < 2) return null;
      at += 2 + frame.readUInt16BE(at) + ((header.flags & 0b0110) !== 0 ? 2 : 0);
      return at > end ? null : check('PUBLISH properties');
    }
    case PACKET_TYPE.PUBACK:
    case PACKET_TYPE.PUBREC:
    case PACKET_TYPE.PUBREL:
    case PACKET_TYPE.PUBCOMP:
      // 5.0 §3.4.2.1: reason code and properties may be left out (Remaining Length 2 or 3).
      at += 3;
      return at >= end ? null : check(`${packetTypeName(header.type)} properties`);
    case PACKET_TYPE.SUBSCRIBE:
    case PACKET_TYPE.SUBACK:
    case PACKET_TYPE.UNSUBSCRIBE:
    case PACKET_TYPE.UNSUBACK:
      at += 2;
      return check(`${packetTypeName(header.type)} properties`);
    case PACKET_TYPE.DISCONNECT:
    case PACKET_TYPE.AUTH:
      // 5.0 §3.14.2.1, §3.15.2.1: omitted when the reason is 0 and there are no properties.
      at += 1;
      return at >= end ? null : check(`${packetTypeName(header.type)} properties`);
    default:
      return null;
  }
}

/**
 * A TLS record header (RFC 8446 §5.1): content type 20–23 (change_cipher_spec, alert,
 * handshake, application_data), legacy version 3.x. MQTT over TLS, which a passive
 * monitor cannot read; a capture that joins a TLS session late starts at an
 * application_data record. 0x14–0x17 are CONNECTs with reserved flags set, never a valid
 * first MQTT byte, so nothing MQTT is mistaken for TLS.
 */
export function looksLikeTls(buf: Buffer, at: number): boolean {
  const contentType = buf[at] as number;
  return contentType >= 0x14 && contentType <= 0x17 && buf[at + 1] === 0x03 && (buf[at + 2] as number) <= 0x04;
}
