import { isIPv6 } from 'node:net';

/**
 * What the login guard counts failures by: an IPv4 address, or the /64 of an IPv6 one. A
 * single host on an IPv6 network has a whole /64 to pick addresses from (RFC 7421: the /64
 * boundary; SLAAC privacy addresses, RFC 8981, are made up at will), so counting by address
 * would give one attacker 2^64 times ten guesses. An IPv4-mapped address (::ffff:a.b.c.d,
 * what a dual-stack listener reports for IPv4 clients) is its IPv4 address.
 */
export function loginSource(address: string): string {
  const bare = address.replace(/%.*$/, ''); // zone id (fe80::1%eth0)
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped !== null) return mapped[1] as string;
  if (!isIPv6(bare)) return address;
  const groups = ipv6Groups(bare);
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
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
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
