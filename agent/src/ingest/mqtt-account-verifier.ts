import { createHash, scrypt, scryptSync, timingSafeEqual, randomBytes } from 'node:crypto';
import type { AccountConfig, AccountRole } from '../model/site-schema.ts';

export type VerifyResult =
  | { readonly ok: true; readonly role: AccountRole }
  | { readonly ok: false; readonly reason: 'unknown-user' | 'bad-password' };

interface ScryptParameters {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** OWASP password storage cheat sheet: scrypt with N=2^17, r=8, p=1. */
const SCRYPT_N = 2 ** 17;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SCRYPT_KEY_LENGTH = 32;

function parseScryptHash(encoded: string): ScryptParameters {
  const [, n, r, p, salt, key] = encoded.split('$');
  return { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt ?? '', 'base64'), key: Buffer.from(key ?? '', 'base64') };
}

function scryptAsync(password: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, parameters.salt, parameters.key.length, { N: parameters.N, r: parameters.r, p: parameters.p, maxmem: 256 * parameters.N * parameters.r }, (error, derived) => {
      if (error) reject(error);
      else resolve(derived);
    });
  });
}

/** `scrypt$N$r$p$salt$key`, the form `passwordHash` takes in the site config. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(Buffer.from(password, 'utf8'), { N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P, salt, key: Buffer.alloc(SCRYPT_KEY_LENGTH) });
  return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Compares in constant time over fixed-length digests, so length does not leak either. */
function plainEquals(given: Buffer, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Verifies MQTT logins against the accounts of the site config. */
export class MqttAccountVerifier {
  private readonly accounts: ReadonlyMap<string, AccountConfig>;

  constructor(accounts: readonly AccountConfig[]) {
    this.accounts = new Map(accounts.map((account) => [account.username, account]));
  }

  roleOf(username: string): AccountRole | null {
    return this.accounts.get(username)?.role ?? null;
  }

  async verify(username: string, password: Buffer): Promise<VerifyResult> {
    const account = this.accounts.get(username);
    if (account?.passwordHash === undefined) return this.verifyPlain(username, account, password);
    const parameters = parseScryptHash(account.passwordHash);
    return this.compareKey(account, parameters, await scryptAsync(password, parameters));
  }

  /**
   * The same check without yielding, for the in-process broker of an evaluation, whose
   * virtual clock must not run on while a login is pending.
   */
  verifySync(username: string, password: Buffer): VerifyResult {
    const account = this.accounts.get(username);
    if (account?.passwordHash === undefined) return this.verifyPlain(username, account, password);
    const parameters = parseScryptHash(account.passwordHash);
    const derived = scryptSync(password, parameters.salt, parameters.key.length, { N: parameters.N, r: parameters.r, p: parameters.p, maxmem: 256 * parameters.N * parameters.r });
    return this.compareKey(account, parameters, derived);
  }

  private verifyPlain(username: string, account: AccountConfig | undefined, password: Buffer): VerifyResult {
    if (account === undefined) {
      // Spend about the time of a plain-text check, so that timing says less about which usernames exist.
      plainEquals(password, username);
      return { ok: false, reason: 'unknown-user' };
    }
    return plainEquals(password, account.password ?? '') ? { ok: true, role: account.role } : { ok: false, reason: 'bad-password' };
  }

  private compareKey(account: AccountConfig, parameters: ScryptParameters, derived: Buffer): VerifyResult {
    const matches = derived.length === parameters.key.length && timingSafeEqual(derived, parameters.key);
    return matches ? { ok: true, role: account.role } : { ok: false, reason: 'bad-password' };
  }
}
