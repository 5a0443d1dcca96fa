/** `::ffff:10.0.0.5` → `10.0.0.5`: one spelling per IPv4 peer, so counters key on one value. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined || address.length === 0) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
