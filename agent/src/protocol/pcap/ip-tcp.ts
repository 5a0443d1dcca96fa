/**
 * IPv4 (RFC 791), IPv6 (RFC 8200) and the TCP header (RFC 9293 §3.1): from an IP packet
 * to the TCP segment it carries. Checksums are not verified: captures taken on the
 * sending host show checksum offload as wrong checksums, and the receiver, not the
 * monitor, decides what it accepts. A fragment is returned as such, ready for
 * ip-defrag.ts, whose whole packet comes back here. Never throws: a short or inconsistent
 * packet is a named anomaly.
 */
import type { IpFragment } from './ip-defrag.ts';

export type IpTcpAnomalyName =
  | 'ip-truncated'       // the packet ends before its IP header or its stated length
  | 'ip-bad-header'      // wrong version, header length or total length
  | 'tcp-truncated'      // the segment ends before its TCP header or options
  | 'tcp-bad-header';    // data offset below 5 words

export const TCP_FLAGS = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
} as const;

export interface TcpSegment {
  readonly ipVersion: 4 | 6;
  /** Dotted IPv4 or RFC 5952 IPv6 text. */
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** Sequence and acknowledgement numbers, unsigned 32-bit. */
  readonly seq: number;
  readonly ack: number;
  /** TCP_FLAGS bits. */
  readonly flags: number;
  /** Bytes after the TCP header, within the IP packet's stated length. */
  readonly payload: Buffer;
}

export type IpTcpResult =
  | { readonly kind: 'tcp'; readonly segment: TcpSegment }
  | { readonly kind: 'not-tcp'; readonly protocol: number }
  | { readonly kind: 'fragment'; readonly fragment: IpFragment }
  | { readonly kind: 'anomaly'; readonly name: IpTcpAnomalyName; readonly detail: string };

const PROTOCOL_TCP = 6;
const IPV6_HEADER_BYTES = 40;
const TCP_HEADER_BYTES = 20;

// IPv6 extension headers in the generic format (RFC 8200 §4, RFC 7045 list): next
// header(1), length in 8-octet units not counting the first 8 (1), content.
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AUTHENTICATION = 51; // RFC 4302 §2.2: length in 4-octet units, minus 2
const IPV6_NO_NEXT_HEADER = 59;
const IPV6_DESTINATION = 60;
const IPV6_GENERIC_EXTENSIONS = new Set([IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_DESTINATION, 135 /* Mobility */, 139 /* HIP */, 140 /* Shim6 */, 253, 254 /* RFC 3692 experiments */]);

function anomaly(name: IpTcpAnomalyName, detail: string): IpTcpResult {
  return { kind: 'anomaly', name, detail };
}

/** Decodes an IPv4 or IPv6 packet down to its TCP segment. */
export function decodeIpTcp(packet: Buffer): IpTcpResult {
  if (packet.length < 1) return anomaly('ip-truncated', 'empty IP packet');
  const version = (packet[0] ?? 0) >> 4;
  if (version === 4) return ipv4(packet);
  if (version === 6) return ipv6(packet);
  return anomaly('ip-bad-header', `IP version ${version}`);
}

function ipv4(packet: Buffer): IpTcpResult {
  if (packet.length < 20) return anomaly('ip-truncated', `IPv4 packet of ${packet.length} bytes`);
  const headerBytes = ((packet[0] ?? 0) & 0x0f) * 4;
  if (headerBytes < 20) return anomaly('ip-bad-header', `IPv4 header length ${headerBytes}`);
  if (packet.length < headerBytes) return anomaly('ip-truncated', `IPv4 header of ${headerBytes} bytes in ${packet.length}`);
  let totalLength = packet.readUInt16BE(2);
  // A total length of 0 is what a host with TCP segmentation offload captures on its own
  // outgoing super-segments; the captured length is then the only length there is.
  if (totalLength === 0) totalLength = packet.length;
  if (totalLength < headerBytes) return anomaly('ip-bad-header', `IPv4 total length ${totalLength} below its header length ${headerBytes}`);
  if (totalLength > packet.length) return anomaly('ip-truncated', `IPv4 total length ${totalLength}, ${packet.length} bytes captured`);
  const fragment = packet.readUInt16BE(6);
  const protocol = packet[9] ?? 0;
  // RFC 791 §3.1: MF flag (0x2000) or a non-zero fragment offset (low 13 bits, in 8-byte
  // units). §3.2: source, destination, protocol and identification make one datagram.
  if ((fragment & 0x3fff) !== 0) {
    const header = Buffer.from(packet.subarray(0, headerBytes));
    header.writeUInt16BE(fragment & 0x4000, 6); // keep DF, clear MF and the offset
    return {
      kind: 'fragment',
      fragment: { ipVersion: 4, source: ipv4Text(packet, 12), destination: ipv4Text(packet, 16), key: `4|${ipv4Text(packet, 12)}|${ipv4Text(packet, 16)}|${protocol}|${packet.readUInt16BE(4)}`, offset: (fragment & 0x1fff) * 8, more: (fragment & 0x2000) !== 0, header, data: packet.subarray(headerBytes, totalLength) },
    };
  }
  if (protocol !== PROTOCOL_TCP) return { kind: 'not-tcp', protocol };
  // Trailing bytes past the total length are link-layer padding (Ethernet minimum frame).
  return tcp(4, ipv4Text(packet, 12), ipv4Text(packet, 16), packet.subarray(headerBytes, totalLength));
}

function ipv6(packet: Buffer): IpTcpResult {
  if (packet.length < IPV6_HEADER_BYTES) return anomaly('ip-truncated', `IPv6 packet of ${packet.length} bytes`);
  let end = IPV6_HEADER_BYTES + packet.readUInt16BE(4);
  // Payload length 0: a jumbogram (RFC 2675) or an offloaded super-segment; use what was captured.
  if (end === IPV6_HEADER_BYTES) end = packet.length;
  if (end > packet.length) return anomaly('ip-truncated', `IPv6 payload length ${end - IPV6_HEADER_BYTES}, ${packet.length - IPV6_HEADER_BYTES} bytes captured`);
  let next = packet[6] ?? 0;
  let at = IPV6_HEADER_BYTES;
  // Where the byte naming `next` sits: the fixed header's Next Header, then each extension's first byte.
  let nextHeaderAt = 6;
  // Each extension header is at least 8 bytes, so the walk ends with the packet.
  for (;;) {
    if (next === PROTOCOL_TCP) break;
    if (next === IPV6_FRAGMENT) {
      if (at + 8 > end) return anomaly('ip-truncated', 'IPv6 Fragment header');
      const offsetAndFlags = packet.readUInt16BE(at + 2);
      // RFC 8200 §4.5 / RFC 6946: an atomic fragment (offset 0, M clear) is a whole packet.
      if ((offsetAndFlags & 0xfff9) !== 0) {
        // §4.5: the unfragmentable part (the headers before this one) heads the reassembled
        // packet, with the Fragment header's Next Header in the place that named it.
        const header = Buffer.from(packet.subarray(0, at));
        header[nextHeaderAt] = packet[at] ?? IPV6_NO_NEXT_HEADER;
        return {
          kind: 'fragment',
          fragment: { ipVersion: 6, source: ipv6Text(packet, 8), destination: ipv6Text(packet, 24), key: `6|${ipv6Text(packet, 8)}|${ipv6Text(packet, 24)}|${packet.readUInt32BE(at + 4)}`, offset: offsetAndFlags & 0xfff8, more: (offsetAndFlags & 1) !== 0, header, data: packet.subarray(at + 8, end) },
        };
      }
      nextHeaderAt = at;
      next = packet[at] ?? 0;
      at += 8;
      continue;
    }
    let length: number;
    if (IPV6_GENERIC_EXTENSIONS.has(next)) length = ((packet[at + 1] ?? 0) + 1) * 8;
    else if (next === IPV6_AUTHENTICATION) length = ((packet[at + 1] ?? 0) + 2) * 4;
    else return { kind: 'not-tcp', protocol: next }; // upper layer (UDP, ICMPv6), ESP, No Next Header, or unknown
    if (at + 2 > end || at + length > end) return anomaly('ip-truncated', `IPv6 extension header ${next} runs past the packet`);
    nextHeaderAt = at;
    next = packet[at] ?? IPV6_NO_NEXT_HEADER;
    at += length;
  }
  return tcp(6, ipv6Text(packet, 8), ipv6Text(packet, 24), packet.subarray(at, end));
}

function tcp(ipVersion: 4 | 6, src: string, dst: string, segment: Buffer): IpTcpResult {
  if (segment.length < TCP_HEADER_BYTES) return anomaly('tcp-truncated', `TCP segment of ${segment.length} bytes from ${src}`);
  // RFC 9293 §3.1: ports(2+2) seq(4) ack(4) data offset(4 bits) reserved(4 bits) flags(8).
  const headerBytes = ((segment[12] ?? 0) >> 4) * 4;
  if (headerBytes < TCP_HEADER_BYTES) return anomaly('tcp-bad-header', `TCP data offset ${headerBytes / 4} words from ${src}`);
  if (headerBytes > segment.length) return anomaly('tcp-truncated', `TCP header of ${headerBytes} bytes in a ${segment.length}-byte segment from ${src}`);
  return {
    kind: 'tcp',
    segment: {
      ipVersion,
      src,
      dst,
      srcPort: segment.readUInt16BE(0),
      dstPort: segment.readUInt16BE(2),
      seq: segment.readUInt32BE(4),
      ack: segment.readUInt32BE(8),
      flags: segment[13] ?? 0,
      payload: segment.subarray(headerBytes),
    },
  };
}

function ipv4Text(packet: Buffer, at: number): string {
  return `${packet[at] ?? 0}.${packet[at + 1] ?? 0}.${packet[at + 2] ?? 0}.${packet[at + 3] ?? 0}`;
}

/** RFC 5952 §4: lower-case hex, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
export function ipv6Text(packet: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i += 1) groups.push(packet.readUInt16BE(at + i * 2));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i += 1; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
