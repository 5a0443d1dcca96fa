/**
 * Capture bytes built by hand for the capture decoder's tests: every byte is laid out as
 * the format documents describe (pcap, Ethernet, IPv4 RFC 791, IPv6 RFC 8200, TCP RFC 9293).
 */
import { LINKTYPE, TCP_FLAGS } from '../../agent/src/protocol/pcap/index.ts';

/** Classic pcap (draft-ietf-opsawg-pcap §4): 24-byte file header, 16-byte record headers. */
export function pcapFile(
  records: readonly { seconds: number; fraction: number; data: Buffer; originalLength?: number }[],
  options: { littleEndian?: boolean; nanoseconds?: boolean; linkType?: number } = {},
): Buffer {
  const le = options.littleEndian ?? true;
  const header = Buffer.alloc(24);
  const u32 = (buf: Buffer, value: number, at: number) => (le ? buf.writeUInt32LE(value, at) : buf.writeUInt32BE(value, at));
  const u16 = (buf: Buffer, value: number, at: number) => (le ? buf.writeUInt16LE(value, at) : buf.writeUInt16BE(value, at));
  u32(header, options.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, 0); // magic, written in the file's order
  u16(header, 2, 4); // version 2.4
  u16(header, 4, 6);
  u32(header, 0, 8); // thiszone
  u32(header, 0, 12); // sigfigs
  u32(header, 262144, 16); // snaplen
  u32(header, options.linkType ?? LINKTYPE.ETHERNET, 20);
  const parts: Buffer[] = [header];
  for (const record of records) {
    const recordHeader = Buffer.alloc(16);
    u32(recordHeader, record.seconds, 0);
    u32(recordHeader, record.fraction, 4);
    u32(recordHeader, record.data.length, 8); // captured length
    u32(recordHeader, record.originalLength ?? record.data.length, 12);
    parts.push(recordHeader, record.data);
  }
  return Buffer.concat(parts);
}

export interface TcpSpec {
  src?: string; dst?: string; srcPort?: number; dstPort?: number;
  seq?: number; ack?: number; flags?: number; payload?: Buffer; options?: Buffer;
}

export function tcpHeader(spec: TcpSpec): Buffer {
  const options = spec.options ?? Buffer.alloc(0);
  const header = Buffer.alloc(20 + options.length);
  header.writeUInt16BE(spec.srcPort ?? 50000, 0);
  header.writeUInt16BE(spec.dstPort ?? 502, 2);
  header.writeUInt32BE(spec.seq ?? 1000, 4);
  header.writeUInt32BE(spec.ack ?? 0, 8);
  header[12] = ((20 + options.length) / 4) << 4; // data offset in 32-bit words
  header[13] = spec.flags ?? TCP_FLAGS.ACK | TCP_FLAGS.PSH;
  header.writeUInt16BE(65535, 14); // window
  options.copy(header, 20);
  return Buffer.concat([header, spec.payload ?? Buffer.alloc(0)]);
}

/** IPv4 (RFC 791 §3.1): version/IHL, TOS, total length, id, flags/fragment offset, TTL, protocol, checksum, addresses. */
export function ipv4(segment: Buffer, spec: { src?: string; dst?: string; protocol?: number; fragment?: number; totalLength?: number } = {}): Buffer {
  const header = Buffer.alloc(20);
  header[0] = 0x45;
  header.writeUInt16BE(spec.totalLength ?? 20 + segment.length, 2);
  header.writeUInt16BE(0x1234, 4);
  header.writeUInt16BE(spec.fragment ?? 0x4000, 6); // DF
  header[8] = 64;
  header[9] = spec.protocol ?? 6;
  Buffer.from((spec.src ?? '10.0.0.5').split('.').map(Number)).copy(header, 12);
  Buffer.from((spec.dst ?? '10.0.0.9').split('.').map(Number)).copy(header, 16);
  return Buffer.concat([header, segment]);
}

export function ipv4Tcp(spec: TcpSpec = {}): Buffer {
  return ipv4(tcpHeader(spec), { src: spec.src ?? '10.0.0.5', dst: spec.dst ?? '10.0.0.9' });
}

export function ipv6Address(text: string): Buffer {
  const [head = '', tail = ''] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = text.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** IPv6 (RFC 8200 §3): version/class/flow, payload length, next header, hop limit, addresses. */
export function ipv6(firstNextHeader: number, payload: Buffer, src = 'fe80::1', dst = 'fe80::2'): Buffer {
  const header = Buffer.alloc(40);
  header.writeUInt32BE(0x6000_0000, 0);
  header.writeUInt16BE(payload.length, 4);
  header[6] = firstNextHeader;
  header[7] = 64;
  ipv6Address(src).copy(header, 8);
  ipv6Address(dst).copy(header, 24);
  return Buffer.concat([header, payload]);
}

/** Generic extension header (RFC 8200 §4): next header, length in 8-octet units beyond the first 8. */
export function extension(nextHeader: number, units = 0): Buffer {
  const out = Buffer.alloc(8 + units * 8);
  out[0] = nextHeader;
  out[1] = units;
  return out;
}

export const MAC_DST = Buffer.from('00c0a8f2bffb', 'hex');
export const MAC_SRC = Buffer.from('000c296b2d28', 'hex');

/** Ethernet II with optional VLAN tags (TPID, TCI) before the EtherType. */
export function ethernet(packet: Buffer, etherType = 0x0800, tags: readonly [tpid: number, vlanId: number][] = []): Buffer {
  const tagBytes = tags.map(([tpid, vlanId]) => {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(tpid, 0);
    tag.writeUInt16BE(vlanId & 0x0fff, 2);
    return tag;
  });
  const type = Buffer.alloc(2);
  type.writeUInt16BE(etherType, 0);
  return Buffer.concat([MAC_DST, MAC_SRC, ...tagBytes, type, packet]);
}


/**
 * Splits a whole IPv4 packet (20-byte header, no options) into fragments at the given
 * byte offsets of its payload (each a multiple of 8, RFC 791 §3.2), in order; the caller
 * reorders, repeats or alters them.
 */
export function fragmentIpv4(packet: Buffer, cuts: readonly number[]): Buffer[] {
  const header = packet.subarray(0, 20);
  const payload = packet.subarray(20, packet.readUInt16BE(2));
  const bounds = [0, ...cuts, payload.length];
  return bounds.slice(0, -1).map((start, index) => {
    const end = bounds[index + 1] ?? payload.length;
    if (start % 8 !== 0) throw new Error(`fragment offset ${start} is not a multiple of 8`);
    const piece = Buffer.concat([header, payload.subarray(start, end)]);
    piece.writeUInt16BE(20 + end - start, 2);
    piece.writeUInt16BE((end < payload.length ? 0x2000 : 0) | (start / 8), 6);
    return piece;
  });
}

/**
 * Splits a whole IPv6 packet whose fixed header is followed directly by its upper layer
 * into fragments (RFC 8200 §4.5): each is the fixed header, a Fragment header (next
 * header, offset, M flag, `id`) and its piece.
 */
export function fragmentIpv6(packet: Buffer, cuts: readonly number[], id = 0x0bad_cafe): Buffer[] {
  const upperLayer = packet[6] ?? 0;
  const payload = packet.subarray(40, 40 + packet.readUInt16BE(4));
  const bounds = [0, ...cuts, payload.length];
  return bounds.slice(0, -1).map((start, index) => {
    const end = bounds[index + 1] ?? payload.length;
    if (start % 8 !== 0) throw new Error(`fragment offset ${start} is not a multiple of 8`);
    const header = Buffer.from(packet.subarray(0, 40));
    header[6] = 44;
    header.writeUInt16BE(8 + end - start, 4);
    const fragmentHeader = Buffer.alloc(8);
    fragmentHeader[0] = upperLayer;
    fragmentHeader.writeUInt16BE(start | (end < payload.length ? 1 : 0), 2);
    fragmentHeader.writeUInt32BE(id, 4);
    return Buffer.concat([header, fragmentHeader, payload.subarray(start, end)]);
  });
}

/** One direction of a TCP connection: its next sequence number advances with what is sent. */
export interface Direction {
  seq: number;
  readonly src: number[];
  readonly dst: number[];
  readonly srcPort: number;
  readonly dstPort: number;
}

function ipv4Checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One Ethernet/IPv4/TCP frame carrying `payload` (PSH|ACK), or the handshake's SYN or SYN|ACK. */
export function frame(direction: Direction, payload: Buffer, handshake: 'syn' | 'syn-ack' | null = null): Buffer {
  const syn = handshake !== null;
  const out = Buffer.alloc(14 + 20 + 20 + payload.length);
  out.writeUInt16BE(0x0800, 12);
  const ip = out.subarray(14, 34);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(6, 9);
  Buffer.from(direction.src).copy(ip, 12);
  Buffer.from(direction.dst).copy(ip, 16);
  ip.writeUInt16BE(ipv4Checksum(ip), 10);
  const tcp = out.subarray(34, 54);
  tcp.writeUInt16BE(direction.srcPort, 0);
  tcp.writeUInt16BE(direction.dstPort, 2);
  tcp.writeUInt32BE(direction.seq >>> 0, 4);
  tcp.writeUInt8(0x50, 12);
  tcp.writeUInt8(handshake === 'syn' ? 0x02 : handshake === 'syn-ack' ? 0x12 : 0x18, 13);
  tcp.writeUInt16BE(65_535, 14);
  payload.copy(out, 54);
  direction.seq = (direction.seq + (syn ? 1 : payload.length)) >>> 0;
  return out;
}

export function mqttConnect(clientId: string, username: string, password: string): Buffer {
  const field = (text: string): Buffer => {
    const bytes = Buffer.from(text);
    const out = Buffer.alloc(2 + bytes.length);
    out.writeUInt16BE(bytes.length, 0);
    bytes.copy(out, 2);
    return out;
  };
  const body = Buffer.concat([field('MQTT'), Buffer.from([4, 0xc2, 0, 30]), field(clientId), field(username), field(password)]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

export function mqttPublish(topic: string, payload: string): Buffer {
  const topicBytes = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([topicBytes.length >> 8, topicBytes.length & 0xff]), topicBytes, Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30]), remainingLength(body.length), body]);
}
