import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * Password hashing shared by the MQTT accounts of the site config and the dashboard's
 * accounts: scrypt, as the OWASP Password Storage Cheat Sheet recommends when argon2id is
 * not at hand (node:crypto has scrypt, no new dependency). The encoded form carries its
 * own parameters, `scrypt$N$r$p$salt$key` (salt and key in base64), so that raising the
 * cost later leaves existing hashes verifiable.
 */

export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1 (about 128 MiB, 0.4 s on a small VM). */
export const OWASP_SCRYPT_COST: ScryptCost = { N: 2 ** 17, r: 8, p: 1 };

const SALT_LENGTH = 16;
const KEY_LENGTH = 32;

export interface ScryptHash extends ScryptCost {
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** The parts of an encoded hash, or null when it is not one (a damaged store must not throw at login). */
export function parseScryptHash(encoded: string): ScryptHash | null {
  const [scheme, n, r, p, salt, key] = encoded.split('$');
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  if (scheme !== 'scrypt' || !Number.isInteger(cost.N) || !Number.isInteger(cost.r) || !Number.isInteger(cost.p) || cost.N < 2 || cost.r < 1 || cost.p < 1) return null;
  const parsed = { ...cost, salt: Buffer.from(salt ?? '', 'base64'), key: Buffer.from(key ?? '', 'base64') };
  return parsed.salt.length === 0 || parsed.key.length === 0 ? null : parsed;
}

function options(cost: ScryptCost): { N: number; r: number; p: number; maxmem: number } {
  // scrypt needs 128·N·r bytes; twice that leaves room, and the default 32 MiB cap would refuse N=2^17.
  return { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r };
}

function deriveAsync(password: Buffer, hash: ScryptHash): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, hash.salt, hash.key.length, options(hash), (error, derived) => {
      if (error) reject(error);
      else resolve(derived);
    });
  });
}

function encode(cost: ScryptCost, salt: Buffer, key: Buffer): string {
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** `scrypt$N$r$p$salt$key`, the form `passwordHash` takes in the site config and the user store. */
export async function hashPassword(password: string, cost: ScryptCost = OWASP_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await deriveAsync(Buffer.from(password, 'utf8'), { ...cost, salt, key: Buffer.alloc(KEY_LENGTH) });
  return encode(cost, salt, key);
}

function keyMatches(derived: Buffer, hash: ScryptHash): boolean {
  return derived.length === hash.key.length && timingSafeEqual(derived, hash.key);
}

/** True when `password` gives `hash`; compares in constant time. A malformed hash never matches. */
export async function verifyPassword(password: Buffer | string, encoded: string): Promise<boolean> {
  const hash = parseScryptHash(encoded);
  if (hash === null) return false;
  return keyMatches(await deriveAsync(typeof password === 'string' ? Buffer.from(password, 'utf8') : password, hash), hash);
}

/**
 * The same check without yielding, for the in-process broker of an evaluation, whose
 * virtual clock must not run on while a login is pending.
 */
export function verifyPasswordSync(password: Buffer | string, encoded: string): boolean {
  const hash = parseScryptHash(encoded);
  if (hash === null) return false;
  const derived = scryptSync(typeof password === 'string' ? Buffer.from(password, 'utf8') : password, hash.salt, hash.key.length, options(hash));
  return keyMatches(derived, hash);
}

const dummies = new Map<string, string>();

/**
 * A well-formed hash of the given cost that no password matches (its key is random, not
 * derived). Verifying against it costs the same scrypt time as a real account's hash, so
 * that a login for a missing user takes as long as one with a wrong password and timing
 * does not tell which usernames exist (OWASP Authentication Cheat Sheet).
 */
export function dummyPasswordHash(cost: ScryptCost = OWASP_SCRYPT_COST): string {
  const id = `${cost.N}$${cost.r}$${cost.p}`;
  let hash = dummies.get(id);
  if (hash === undefined) {
    hash = encode(cost, randomBytes(SALT_LENGTH), randomBytes(KEY_LENGTH));
    dummies.set(id, hash);
  }
  return hash;
}
