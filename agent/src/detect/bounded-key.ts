/**
 * Longest string a behaviour detector keeps as a key (an address, an account, a client id,
 * a command id). Names off the wire can be up to 64 KiB in MQTT [MQTT-1.5.3]; a table of
 * 10,000 such keys must not cost gigabytes (DESIGN.md, principle 3). Accounts the broker
 * authenticates are ≤ 64 characters and client ids ≤ 128, so real keys are never cut.
 */
export const MAX_KEY_LENGTH = 256;

export function boundedKey(value: string): string {
  return value.length > MAX_KEY_LENGTH ? value.slice(0, MAX_KEY_LENGTH) : value;
}

/** A name off the wire in a one-line title: at most `max` characters, then an ellipsis. */
export function shortName(value: string, max = 64): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
