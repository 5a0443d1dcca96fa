/**
 * From a captured frame to the IP packet it carries, for the link types a mirror port or
 * `tcpdump` produces (LINKTYPE_* values from https://www.tcpdump.org/linktypes.html).
 * Frames that carry something other than IP (ARP, LLDP, STP) are an ordinary result,
 * not an anomaly; a link type this module cannot read is a counted anomaly.
 */

export const LINKTYPE = {
  NULL: 0,          // BSD loopback: 4-byte address family in the writer's byte order
  ETHERNET: 1,
  RAW_DLT12: 12,    // DLT_RAW as written by most platforms' libpcap before LINKTYPE_RAW
  RAW_DLT14: 14,    // DLT_RAW on OpenBSD
  RAW: 101,
  LOOP: 108,        // OpenBSD loopback: address family in network byte order
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export type LinkAnomalyName =
  | 'unsupported-link-type'
  | 'link-truncated';        // the frame ends inside its link-layer header

export type LinkLayerResult =
  | { readonly kind: 'ip'; readonly packet: Buffer }
  | { readonly kind: 'not-ip'; readonly etherType: number }
  | { readonly kind: 'anomaly'; readonly name: LinkAnomalyName; readonly detail: string };

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;   // IEEE 802.1Q C-tag
const ETHERTYPE_QINQ = 0x88a8;   // IEEE 802.1ad S-tag
const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard double tagging, still seen on switches
const ETHERNET_HEADER_BYTES = 14;
const VLAN_TAG_BYTES = 4;
const SLL_HEADER_BYTES = 16;
const SLL2_HEADER_BYTES = 20;

// BSD address families for IP in DLT_NULL/DLT_LOOP headers; AF_INET6 differs by system
// (NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30, Linux 10).
const AF_INET = 2;
const AF_INET6 = new Set([10, 24, 28, 30]);

/** Reads the IP packet out of one captured frame. */
export function decodeLinkLayer(linkType: number, frame: Buffer): LinkLayerResult {
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      return ethernet(frame);
    case LINKTYPE.LINUX_SLL:
      // packet type(2) ARPHRD type(2) address length(2) address(8) protocol(2)
      if (frame.length < SLL_HEADER_BYTES) return truncated('Linux cooked (SLL)', frame.length);
      return byEtherType(frame, frame.readUInt16BE(14), SLL_HEADER_BYTES);
    case LINKTYPE.LINUX_SLL2:
      // protocol(2) reserved(2) interface index(4) ARPHRD type(2) packet type(1)
      // address length(1) address(8): what `tcpdump -i any` writes since libpcap 1.10.
      if (frame.length < SLL2_HEADER_BYTES) return truncated('Linux cooked v2 (SLL2)', frame.length);
      return byEtherType(frame, frame.readUInt16BE(0), SLL2_HEADER_BYTES);
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_DLT12:
    case LINKTYPE.RAW_DLT14:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      return rawIp(frame);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP:
      return loopback(frame);
    default:
      return { kind: 'anomaly', name: 'unsupported-link-type', detail: `link type ${linkType}` };
  }
}

function truncated(what: string, length: number): LinkLayerResult {
  return { kind: 'anomaly', name: 'link-truncated', detail: `${what} frame of ${length} bytes` };
}

function ethernet(frame: Buffer): LinkLayerResult {
  if (frame.length < ETHERNET_HEADER_BYTES) return truncated('Ethernet', frame.length);
  return byEtherType(frame, frame.readUInt16BE(12), ETHERNET_HEADER_BYTES);
}

/**
 * Follows an EtherType past any VLAN tags (802.1Q, 802.1ad, or both stacked) to IP.
 * Each tag is 4 bytes (TCI + inner EtherType), so the loop ends with the frame.
 */
function byEtherType(frame: Buffer, first: number, headerBytes: number): LinkLayerResult {
  let etherType = first;
  let at = headerBytes;
  while (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_OLD) {
    if (frame.length < at + VLAN_TAG_BYTES) return truncated('VLAN-tagged', frame.length);
    etherType = frame.readUInt16BE(at + 2);
    at += VLAN_TAG_BYTES;
  }
  if (etherType === ETHERTYPE_IPV4 || etherType === ETHERTYPE_IPV6) return { kind: 'ip', packet: frame.subarray(at) };
  // Values up to 1500 are an IEEE 802.3 length (LLC frames: STP, CDP); neither is IP.
  return { kind: 'not-ip', etherType };
}

function rawIp(frame: Buffer): LinkLayerResult {
  if (frame.length < 1) return truncated('raw IP', frame.length);
  const version = (frame[0] ?? 0) >> 4;
  if (version === 4 || version === 6) return { kind: 'ip', packet: frame };
  return { kind: 'not-ip', etherType: 0 };
}

function loopback(frame: Buffer): LinkLayerResult {
  if (frame.length < 4) return truncated('loopback', frame.length);
  // The family is in the byte order of the machine that wrote it (DLT_NULL) or network
  // order (DLT_LOOP); either way it is small, so whichever reading is small is right.
  const littleEndian = frame.readUInt32LE(0);
  const family = littleEndian <= 0xffff ? littleEndian : frame.readUInt32BE(0);
  if (family === AF_INET || AF_INET6.has(family)) return { kind: 'ip', packet: frame.subarray(4) };
  return { kind: 'not-ip', etherType: 0 };
}
