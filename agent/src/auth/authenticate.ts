import type { AuditLog } from '../audit/audit-log.ts';
import type { LoginBurst, LoginGuard } from './login-guard.ts';
import { dummyPasswordHash, OWASP_SCRYPT_COST, verifyPassword, type ScryptCost } from './password-hash.ts';
import { findRecoveryCode, looksLikeRecoveryCode } from './recovery-codes.ts';
import type { SecretBox } from './secret-box.ts';
import { verifyTotp } from './totp.ts';
import { userView, type UserRecord, type UserStore, type UserView } from './user-store.ts';

/**
 * The dashboard login, as one procedure over the user store, the guard and the audit log,
 * with the time passed in. The HTTP layer turns the outcome into a page and a session; it
 * adds nothing to the decision.
 *
 * One step, not two: the form sends username, password and the code together, and the
 * answer never says which part was wrong (OWASP Authentication Cheat Sheet, "Authentication
 * and Error Messages"). A flow that confirmed the password before asking for the code
 * would let the password be guessed on its own. The exception is a user with no second
 * factor yet: a right password answers `needs-enrolment` (auth/enrolment.ts), since at
 * first login there is no code to ask for.
 *
 * Against guessing and enumeration:
 * - a missing user is checked against a dummy hash of the same scrypt cost, so a login
 *   for a made-up name takes as long as one with a wrong password;
 * - wrong password and wrong (or replayed) code are the same outcome and the same count
 *   toward the lockout; disabled is only said to someone who gave the right password;
 * - made-up names are locked out like real ones (auth/login-guard.ts);
 * - an address past its failure limit is refused before any scrypt, which also keeps a
 *   flood of logins from tying the CPU up (each scrypt is ~128 MiB and 0.4 s).
 * The audit log, which only admins read, does record which factor failed: a right
 * password with a wrong code means the password is known to someone.
 */

export interface AuthContext {
  readonly users: UserStore;
  readonly guard: LoginGuard;
  readonly secrets: SecretBox;
  /** Where logins and failures are recorded; null only in tests that do not look at it. */
  readonly audit: AuditLog | null;
  /** The scrypt cost passwords are hashed with, for the dummy hash of missing users. */
  readonly passwordCost?: ScryptCost;
}

export interface LoginAttempt {
  readonly username: string;
  readonly password: string;
  /** A 6-digit TOTP code or a recovery code (xxxx-xxxx-xxxx); absent counts as wrong. */
  readonly code?: string;
  /** The client's address, for the rate limit and the audit log. */
  readonly address: string;
  /** Event time, epoch ms. */
  readonly now: number;
}

export type LoginMethod = 'totp' | 'recovery-code';

/** Refusals carry `burst` when this attempt made its address cross the failure limit: raise `dashboard-login-burst`. */
export type LoginRefusal = (
  | { readonly kind: 'bad-credentials' }
  | { readonly kind: 'locked'; readonly until: number }
  | { readonly kind: 'rate-limited'; readonly until: number }
  | { readonly kind: 'disabled' }
) & { readonly burst: LoginBurst | null };

export type LoginOutcome =
  | { readonly kind: 'ok'; readonly user: UserView; readonly method: LoginMethod }
  | { readonly kind: 'needs-enrolment'; readonly user: UserView }
  | LoginRefusal;

/** The GCM additional data a user's TOTP secret is sealed with (auth/secret-box.ts). */
export function totpSecretContext(username: string): string {
  return `wardwatch-totp\0${username}`;
}

type FailedFactor = 'password' | 'second-factor';

/** A name typed by anyone goes into the audit log; a megabyte of it must not. */
function boundedName(username: string): string {
  return username.length > 128 ? `${username.slice(0, 128)}…` : username;
}

function failure(context: AuthContext, attempt: LoginAttempt, record: UserRecord | null, factor: FailedFactor, detail: Record<string, unknown> = {}): LoginRefusal {
  if (record === null) context.guard.recordUnknownAccountFailure(attempt.username.toLowerCase(), attempt.now);
  else context.users.recordFailure(record.username, (failures) => context.guard.lockFor(failures, attempt.now));
  const burst = context.guard.recordAddressFailure(attempt.address, attempt.username, attempt.now);
  context.audit?.append({
    actor: record?.username ?? boundedName(attempt.username),
    from: attempt.address,
    action: 'login-failed',
    details: { reason: 'bad-credentials', factor, knownUser: record !== null, ...detail, ...(burst === null ? {} : { burst: true }) },
    at: attempt.now,
  });
  return { kind: 'bad-credentials', burst };
}

/** Checks the second factor and, when right, spends it: the TOTP step or the recovery code cannot serve again. */
function spendSecondFactor(context: AuthContext, record: UserRecord, code: string, now: number): { readonly ok: true; readonly method: LoginMethod } | { readonly ok: false; readonly why: string } {
  if (looksLikeRecoveryCode(code)) {
    const used = context.users.consumeRecoveryCode(record.username, (hashes) => findRecoveryCode(record.username, hashes, code), now);
    return used.consumed ? { ok: true, method: 'recovery-code' } : { ok: false, why: 'recovery-code-unknown' };
  }
  const secret = context.secrets.open(record.totpSecret as Buffer, totpSecretContext(record.username));
  const check = verifyTotp(secret, code, now, record.totpLastStep);
  secret.fill(0);
  if (!check.ok) return { ok: false, why: `totp-${check.reason}` };
  // Another login may have used the same code since `record` was read: the claim is atomic and refuses it.
  return context.users.claimTotpStep(record.username, check.step) ? { ok: true, method: 'totp' } : { ok: false, why: 'totp-replayed' };
}

export async function authenticate(context: AuthContext, attempt: LoginAttempt): Promise<LoginOutcome> {
  const { guard, users } = context;
  const { now } = attempt;
  const refuse = (refusal: LoginRefusal, reason: string, actor: string): LoginRefusal => {
    context.audit?.append({ actor, from: attempt.address, action: 'login-failed', details: { reason, ...(refusal.burst === null ? {} : { burst: true }) }, at: now });
    return refusal;
  };

  if (guard.addressBlockedUntil(attempt.address, now) !== null) {
    const burst = guard.recordAddressFailure(attempt.address, attempt.username, now);
    const until = guard.addressBlockedUntil(attempt.address, now) ?? now;
    // Not audited one by one: a blocked address can send thousands; the burst alert and the entry that started it say enough.
    return { kind: 'rate-limited', until, burst };
  }

  const record = users.get(attempt.username);
  const lockedUntil = record === null ? guard.unknownAccountLockedUntil(attempt.username.toLowerCase(), now) : guard.lockedUntil(record.lockedUntil, now);
  if (lockedUntil !== null) {
    const burst = guard.recordAddressFailure(attempt.address, attempt.username, now);
    return refuse({ kind: 'locked', until: lockedUntil, burst }, 'locked', record?.username ?? boundedName(attempt.username));
  }

  const passwordRight = await verifyPassword(attempt.password, record?.passwordHash ?? dummyPasswordHash(context.passwordCost ?? OWASP_SCRYPT_COST));
  if (record === null || !passwordRight) return failure(context, attempt, record, 'password');

  if (record.disabled) return refuse({ kind: 'disabled', burst: null }, 'disabled', record.username);
  if (record.totpSecret === null) return { kind: 'needs-enrolment', user: userView(record) };

  const second = spendSecondFactor(context, record, attempt.code ?? '', now);
  if (!second.ok) return failure(context, attempt, record, 'second-factor', { check: second.why });

  users.recordSuccess(record.username);
  const user = userView(users.get(record.username) ?? record);
  context.audit?.append({
    actor: record.username,
    from: attempt.address,
    action: 'login',
    details: { role: record.role, method: second.method, ...(second.method === 'recovery-code' ? { recoveryCodesLeft: user.recoveryCodesLeft } : {}) },
    at: now,
  });
  return { kind: 'ok', user, method: second.method };
}
