import type { MqttProtocolVersion } from './fixed-header.ts';

/**
 * CONNACK codes: 3.1/3.1.1 return codes (3.1.1 §3.2.2.3, Table 3.1) and 5.0 reason codes
 * (5.0 §3.2.2.2). 0 accepts the connection in every version; anything else refuses it
 * (a code its version does not define is reported by the decoder as malformed).
 */
export const CONNACK_ACCEPTED = 0;

/** 5.0 §3.2.2.2: the reason codes a CONNACK may carry besides 0x00. */
const V5_CONNACK_REFUSALS: ReadonlySet<number> = new Set([
  0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
]);

/** Why a CONNACK code is not one its version defines (3.1.1 Table 3.1: 6–255 reserved), or null. */
export function connackCodeProblem(code: number, version: MqttProtocolVersion): string | null {
  if (code === CONNACK_ACCEPTED) return null;
  if (version < 5) return code <= 5 ? null : `CONNACK return code ${code} is reserved (3.1.1 §3.2.2.3)`;
  return V5_CONNACK_REFUSALS.has(code) ? null : `CONNACK reason code 0x${code.toString(16)} is not defined (5.0 §3.2.2.2)`;
}

/**
 * The `reason` of an `mqtt-auth-failure` observation for a refusing CONNACK, in the words
 * the in-path broker uses (ingest/mqtt-broker.ts): `bad-password` for "bad user name or
 * password" (the wire does not say which of the two was unknown), `anonymous-refused`
 * for "not authorized" without a user name, `not-authorized` with one,
 * `bad-authentication-method` for 5.0's 0x8C; every other refusal `connack-<code>`
 * (decimal), so that its code is kept.
 */
export function connackRefusalReason(code: number, version: MqttProtocolVersion, username: string | null): string {
  if (version < 5) {
    switch (code) {
      case 4: return 'bad-password';
      case 5: return username === null ? 'anonymous-refused' : 'not-authorized';
      default: return `connack-${code}`;
    }
  }
  switch (code) {
    case 0x86: return 'bad-password';
    case 0x87: return username === null ? 'anonymous-refused' : 'not-authorized';
    case 0x8c: return 'bad-authentication-method';
    default: return `connack-${code}`;
  }
}
