import { createHash } from 'node:crypto';

/**
 * Longest string a behaviour detector keeps as a key (an address, an account, a client id,
 * a command id). Names off the wire can be up to 64 KiB in MQTT [MQTT-1.5.3]; a table of
 * 10,000 such keys must not cost gigabytes (DESIGN.md, principle 3). Accounts the broker
 * authenticates are ≤ 64 characters and client ids ≤ 128, so real keys are never cut.
 */
export const MAX_KEY_LENGTH = 256;

/** Hex digits of SHA-256 a cut key ends with: 64 bits, so making a name that shares a given long name's key takes ~2^64 tries. */
export const KEY_HASH_HEX = 16;

/**
 * `value` itself when it fits, else its first characters, "~" and a hash of the whole of
 * it, MAX_KEY_LENGTH in all. Only a prefix would give every name sharing those characters
 * one key: the learned baseline keys commanders by it, so accepting one long client id
 * would accept them all. Keys that fit are unchanged, so saved baselines and open alerts'
 * dedup keys from before stay the same.
 */
export function boundedKey(value: string): string {
  if (value.length <= MAX_KEY_LENGTH) return value;
  const hash = createHash('sha256').update(value, 'utf8').digest('hex').slice(0, KEY_HASH_HEX);
  return `${value.slice(0, MAX_KEY_LENGTH - KEY_HASH_HEX - 1)}~${hash}`;
}

/** A name off the wire in a one-line title: at most `max` characters, then an ellipsis. */
export function shortName(value: string, max = 64): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
