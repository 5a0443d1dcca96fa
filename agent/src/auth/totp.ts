import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Time-based one-time passwords for the dashboard's second factor: RFC 6238 (TOTP) over
 * RFC 4226 (HOTP), HMAC-SHA1, 30-second steps, 6 digits — the profile every authenticator
 * app (Google Authenticator, Microsoft Authenticator, FreeOTP, Aegis) supports — and the
 * RFC 4648 base32 its secrets are written in. Built on node:crypto; no dependency.
 */

/** RFC 6238 §4.1: X, the time step, 30 s by default (§5.2 recommends it). */
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** RFC 6238 §5.2: accept at most one step of clock drift or transmission delay on either side. */
export const TOTP_WINDOW_STEPS = 1;
/** RFC 4226 §4 R6: a shared secret of 160 bits is recommended (the HMAC-SHA1 block's output size). */
export const TOTP_SECRET_BYTES = 20;

export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

// RFC 4648 §6: the base32 alphabet A–Z, 2–7.
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, without the `=` padding (otpauth URIs omit it). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * RFC 4648 §6 base32 to bytes. Case, spaces and trailing `=` padding are ignored, since
 * people type secrets from a screen in groups; any other character is an error (§3.3:
 * implementations must reject data with characters outside the alphabet).
 */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value < 0) throw new RangeError(`not base32: ${JSON.stringify(char)}`);
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

/** RFC 4226 §5.3: HOTP(K, C) = Truncate(HMAC(K, C)) mod 10^digits, zero-padded. */
export function hotp(secret: Uint8Array, counter: number, digits = TOTP_DIGITS, algorithm: TotpAlgorithm = 'sha1'): string {
  // RFC 4226 §5.1: C is an 8-byte big-endian counter.
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, secret).update(message).digest();
  // RFC 4226 §5.4 dynamic truncation: offset = low 4 bits of the last byte; 31 bits from there.
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** RFC 6238 §4.2: T = floor((unix time − T0) / X), with T0 = 0. */
export function totpStep(timeMs: number, stepSeconds = TOTP_STEP_SECONDS): number {
  return Math.floor(timeMs / 1000 / stepSeconds);
}

/** RFC 6238 §4.2: TOTP = HOTP(K, T). */
export function totp(secret: Uint8Array, timeMs: number, digits = TOTP_DIGITS, algorithm: TotpAlgorithm = 'sha1'): string {
  return hotp(secret, totpStep(timeMs), digits, algorithm);
}

export type TotpCheck = { readonly ok: true; readonly step: number } | { readonly ok: false; readonly reason: 'malformed' | 'wrong' | 'replayed' };

/**
 * Checks a code typed by a user against the steps around `timeMs` (±TOTP_WINDOW_STEPS,
 * RFC 6238 §5.2). `lastUsedStep` is the step of the last code accepted for this user:
 * §5.2 says the verifier MUST NOT accept a second attempt of an OTP once one was
 * validated, so a code of that step or an earlier one is refused (`replayed`). The caller
 * must then record the returned step atomically (UserStore.claimTotpStep), so that two
 * concurrent logins with the same code cannot both pass.
 *
 * Every candidate is compared, in constant time, whatever matched first.
 */
export function verifyTotp(secret: Uint8Array, code: string, timeMs: number, lastUsedStep: number | null): TotpCheck {
  const given = code.replace(/\s/g, '');
  if (!new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(given)) return { ok: false, reason: 'malformed' };
  const givenBytes = Buffer.from(given, 'ascii');
  const now = totpStep(timeMs);
  let matched: number | null = null;
  for (let step = now - TOTP_WINDOW_STEPS; step <= now + TOTP_WINDOW_STEPS; step++) {
    if (step < 0) continue;
    if (timingSafeEqual(Buffer.from(hotp(secret, step), 'ascii'), givenBytes)) matched = step;
  }
  if (matched === null) return { ok: false, reason: 'wrong' };
  if (lastUsedStep !== null && matched <= lastUsedStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step: matched };
}

/** A fresh secret from the CSPRNG, 160 bits (RFC 4226 §4 R6). */
export function generateTotpSecret(): Buffer {
  return randomBytes(TOTP_SECRET_BYTES);
}

/**
 * The enrolment URI an authenticator app reads from a QR code (Google Authenticator "Key
 * Uri Format": otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…). The issuer is given both
 * in the label and as a parameter, as that format recommends, so apps old and new group
 * the entry under "Wardwatch".
 */
export function otpauthUri(secret: Uint8Array, account: string, issuer = 'Wardwatch'): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({ secret: base32Encode(secret), issuer, algorithm: 'SHA1', digits: String(TOTP_DIGITS), period: String(TOTP_STEP_SECONDS) });
  return `otpauth://totp/${label}?${query.toString()}`;
}
