/**
 * Canonical JSON for hashing: object keys sorted (by UTF-16 code units, as Array.sort),
 * no whitespace, values as JSON.stringify writes them. The same object always gives the
 * same bytes whatever order its keys were built in, so that a hash computed when an audit
 * entry was written can be recomputed from the parsed line. (The rules of RFC 8785 JCS
 * for keys; numbers here are integers and plain decimals, for which JSON.stringify
 * already agrees with it.)
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined && typeof item !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}
