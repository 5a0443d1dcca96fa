import { isIPv4, isIPv6 } from 'node:net';

/** What the login guard counts a failed login against: the address, and the IPv6 /64 it belongs to when that is one host's or one LAN's. */
export interface LoginSource {
  /** An IPv4 address, or an IPv6 address in RFC 5952 text; anything else as given (bounded). */
  readonly address: string;
  /** `2001:db8:4:7::/64` for a global or unique-local IPv6 address, else null (IPv4, translated, link-local, junk). */
  readonly prefix64: string | null;
}

/** Longest text kept for input that is no address: a socket reports no such thing, but a key must stay small whatever it is handed. */
const MAX_JUNK_KEY = 64;

/**
 * The source of a login attempt, from the socket's remote address. Never throws: the text
 * comes from the network side (DESIGN.md, principle 7).
 *
 * - IPv4, and IPv4-mapped IPv6 (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2: what a dual-stack
 *   listener reports for an IPv4 client): the IPv4 address, no prefix.
 * - The RFC 6052 well-known prefix `64:ff9b::/96` (§2.1; the IPv4 in the last 32 bits,
 *   §2.2): a SIIT/NAT46 translator (RFC 7915) shows every IPv4 client under one /64, so
 *   each is counted as its embedded IPv4 address, no prefix.
 * - Link-local `fe80::/10` (RFC 4291 §2.5.6): the address alone, zone id dropped; every
 *   link has the same fe80::/64, so it groups unrelated hosts of different links. Likewise
 *   `::/64`, which holds no subnet, only the loopback `::1` (RFC 4291 §2.5.3) and the
 *   deprecated IPv4-compatible addresses (§2.5.5.1).
 * - Other IPv6: the address, and its /64 (RFC 7421: the /64 boundary; SLAAC privacy
 *   addresses, RFC 8981, are made up at will within it, so one host has 2^64 addresses,
 *   while a ward's stations usually share one /64).
 */
export function loginSource(address: string): LoginSource {
  // The type says string; a socket that closed early reports undefined, which the caller may pass on.
  const text = typeof address === 'string' ? address : String(address);
  if (isIPv4(text)) return { address: text, prefix64: null };
  const bare = text.replace(/%.*$/s, ''); // zone id (fe80::1%eth0, RFC 4007 §11)
  if (!isIPv6(bare)) return { address: text.slice(0, MAX_JUNK_KEY), prefix64: null };
  const groups = ipv6Groups(bare);
  if (groups.length !== 8 || groups.some((group) => !(group >= 0 && group <= 0xffff))) return { address: text.slice(0, MAX_JUNK_KEY), prefix64: null };
  if (isIPv4Mapped(groups) || isWellKnownNat64(groups)) return { address: embeddedIPv4(groups), prefix64: null };
  if (isLinkLocal(groups) || isInZeroSlash64(groups)) return { address: ipv6Text(groups), prefix64: null };
  return { address: ipv6Text(groups), prefix64: `${ipv6Text([...groups.slice(0, 4), 0, 0, 0, 0])}/64` };
}

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
function isIPv4Mapped(groups: readonly number[]): boolean {
  return groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
}

/** 64:ff9b::/96 (RFC 6052 §2.1). */
function isWellKnownNat64(groups: readonly number[]): boolean {
  return groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
}

/** fe80::/10 (RFC 4291 §2.5.6). */
function isLinkLocal(groups: readonly number[]): boolean {
  return ((groups[0] as number) & 0xffc0) === 0xfe80;
}

/** ::/64: no subnet of hosts (RFC 4291 §2.5.2, §2.5.3, §2.5.5). */
function isInZeroSlash64(groups: readonly number[]): boolean {
  return groups.slice(0, 4).every((group) => group === 0);
}

/** The IPv4 address in the last 32 bits (RFC 6052 §2.2 for a /96 prefix; RFC 4291 §2.5.5.2). */
function embeddedIPv4(groups: readonly number[]): string {
  const high = groups[6] as number;
  const low = groups[7] as number;
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** The eight 16-bit groups of a valid IPv6 text (RFC 4291 §2.2), `::` expanded and a dotted IPv4 tail converted. */
function ipv6Groups(text: string): number[] {
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  let body = text;
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    body = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = body.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(Math.max(0, 8 - front.length - back.length)).fill(0), ...back];
}

/**
 * RFC 5952 text (§4): lower-case hex without leading zeros, the longest run of two or more
 * zero groups (the first of equals) as `::`; so that one address spelt two ways is one key.
 */
function ipv6Text(groups: readonly number[]): string {
  let runStart = -1;
  let runLength = 0;
  for (let index = 0; index < groups.length; ) {
    if (groups[index] !== 0) {
      index++;
      continue;
    }
    let end = index;
    while (end < groups.length && groups[end] === 0) end++;
    if (end - index > runLength) {
      runStart = index;
      runLength = end - index;
    }
    index = end;
  }
  const hex = (part: readonly number[]): string => part.map((group) => group.toString(16)).join(':');
  if (runLength < 2) return hex(groups);
  return `${hex(groups.slice(0, runStart))}::${hex(groups.slice(runStart + runLength))}`;
}
