import type { AuthContext } from './authenticate.ts';
import { totpSecretContext } from './authenticate.ts';
import { issueRecoveryCodes } from './recovery-codes.ts';
import { base32Encode, generateTotpSecret, otpauthUri, verifyTotp } from './totp.ts';
import { userView, type UserView } from './user-store.ts';

/**
 * TOTP enrolment at first login. A user added by `wardwatch users add` has a password and
 * no second factor; after `authenticate` answers `needs-enrolment`, the dashboard shows
 * a fresh secret as a QR code (the otpauth URI) and as base32 text, and keeps the secret in
 * the pre-login session only. The user scans it and types the current code; only a code
 * that verifies stores the secret (sealed) and issues the recovery codes, which are shown
 * once. So a secret nobody managed to scan is never stored.
 *
 * Whoever first logs in with the password enrols the factor: an administrator should hand
 * the initial password over directly and have the user log in promptly. A user already
 * enrolled cannot enrol again without `users reset-mfa`.
 */

export interface PendingEnrolment {
  readonly secret: Buffer;
  /** The secret in RFC 4648 base32, for typing into an app by hand. */
  readonly secretBase32: string;
  /** otpauth://totp/Wardwatch:<user>?…, to show as a QR code. */
  readonly uri: string;
}

export function beginEnrolment(username: string, issuer = 'Wardwatch'): PendingEnrolment {
  const secret = generateTotpSecret();
  return { secret, secretBase32: base32Encode(secret), uri: otpauthUri(secret, username, issuer) };
}

export interface EnrolmentAttempt {
  readonly username: string;
  readonly secret: Buffer;
  readonly code: string;
  readonly address: string;
  readonly now: number;
}

export type EnrolmentOutcome =
  | { readonly kind: 'enrolled'; readonly user: UserView; readonly recoveryCodes: readonly string[] }
  | { readonly kind: 'bad-code' }
  | { readonly kind: 'already-enrolled' }
  | { readonly kind: 'no-such-user' };

/**
 * Confirms an enrolment with a code from the user's app. On success the user is logged in
 * (audited as `mfa-enrolled`, then `login` with method `enrolment`).
 */
export function completeEnrolment(context: AuthContext, attempt: EnrolmentAttempt): EnrolmentOutcome {
  const record = context.users.get(attempt.username);
  if (record === null) return { kind: 'no-such-user' };
  if (record.totpSecret !== null) return { kind: 'already-enrolled' };
  const check = verifyTotp(attempt.secret, attempt.code, attempt.now, null);
  if (!check.ok) return { kind: 'bad-code' };
  const sealed = context.secrets.seal(attempt.secret, totpSecretContext(record.username));
  const recovery = issueRecoveryCodes(record.username);
  // The confirming code's step is recorded as used (RFC 6238 §5.2): it cannot log in again.
  if (!context.users.enrolMfa(record.username, sealed, check.step, recovery.hashes, attempt.now)) return { kind: 'already-enrolled' };
  context.users.recordSuccess(record.username);
  context.audit?.append({ actor: record.username, from: attempt.address, action: 'mfa-enrolled', details: { recoveryCodes: recovery.codes.length }, at: attempt.now });
  context.audit?.append({ actor: record.username, from: attempt.address, action: 'login', details: { role: record.role, method: 'enrolment' }, at: attempt.now });
  const user = context.users.get(record.username);
  return { kind: 'enrolled', user: userView(user ?? record), recoveryCodes: recovery.codes };
}
