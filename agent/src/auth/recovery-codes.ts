import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Single-use recovery codes: the way back in when the phone with the authenticator is
 * lost. Ten per user, each 12 symbols from a 32-symbol alphabet (5 bits each: 60 bits of
 * entropy), shown as xxxx-xxxx-xxxx, printed once and stored only as hashes.
 *
 * Why SHA-256 and not scrypt: a slow hash exists to stretch a human-chosen password,
 * whose real search space is small. These codes come from the CSPRNG; the search space
 * itself is the cost. With a copy of the user store, finding any one of a user's ten codes
 * takes about 2^60 / 10 ≈ 10^17 SHA-256 evaluations: about a week for ten current GPUs,
 * per user (the username is hashed in with the code, so no work is shared between users
 * or precomputed). And what it would buy is small: a code replaces only the second
 * factor, the password is still needed; whoever has a copy of the whole data directory
 * has secret.key too, and with it the TOTP secrets themselves. A fast hash also keeps a
 * login with a code from costing ten scrypt runs.
 */

export const RECOVERY_CODE_COUNT = 10;

// 32 symbols, lower case, without the look-alikes l, o, 0 and 1: people copy these from paper.
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const GROUPS = 3;
const GROUP_LENGTH = 4;
const CODE_PATTERN = new RegExp(`^[${ALPHABET}]{${GROUPS * GROUP_LENGTH}}$`);

function generateCode(): string {
  // 256 is a multiple of 32, so byte & 31 is uniform: no modulo bias.
  const bytes = randomBytes(GROUPS * GROUP_LENGTH);
  let code = '';
  for (let index = 0; index < bytes.length; index++) {
    if (index > 0 && index % GROUP_LENGTH === 0) code += '-';
    code += ALPHABET[(bytes[index] as number) & 31];
  }
  return code;
}

/** What a user typed, as stored: lower case, without dashes and spaces; null when it cannot be a recovery code. */
export function normalizeRecoveryCode(typed: string): string | null {
  const clean = typed.replace(/[\s-]/g, '').toLowerCase();
  return CODE_PATTERN.test(clean) ? clean : null;
}

/** True when the input has the shape of a recovery code (not of a 6-digit TOTP code). */
export function looksLikeRecoveryCode(typed: string): boolean {
  return normalizeRecoveryCode(typed) !== null;
}

export function hashRecoveryCode(username: string, code: string): string {
  const normalized = normalizeRecoveryCode(code) ?? code;
  return createHash('sha256').update(`wardwatch-recovery\0${username}\0${normalized}`, 'utf8').digest('hex');
}

export interface IssuedRecoveryCodes {
  /** To show the user once; never stored. */
  readonly codes: readonly string[];
  /** To store. */
  readonly hashes: readonly string[];
}

export function issueRecoveryCodes(username: string, count = RECOVERY_CODE_COUNT): IssuedRecoveryCodes {
  const codes = Array.from({ length: count }, generateCode);
  return { codes, hashes: codes.map((code) => hashRecoveryCode(username, code)) };
}

/**
 * The index of the stored hash that `typed` matches, or -1. Every stored hash is compared
 * in constant time, with no early exit, so timing does not say which (or whether) one
 * matched. The caller removes the match (UserStore.consumeRecoveryCode) so it works once.
 */
export function findRecoveryCode(username: string, hashes: readonly string[], typed: string): number {
  const normalized = normalizeRecoveryCode(typed);
  if (normalized === null) return -1;
  const given = Buffer.from(hashRecoveryCode(username, normalized), 'hex');
  let found = -1;
  hashes.forEach((hash, index) => {
    const stored = Buffer.from(hash, 'hex');
    if (stored.length === given.length && timingSafeEqual(stored, given) && found < 0) found = index;
  });
  return found;
}
