import { createHash, timingSafeEqual } from 'node:crypto';
import { verifyPassword, verifyPasswordSync } from '../auth/password-hash.ts';
import type { AccountConfig, AccountRole } from '../model/site-schema.ts';

export type VerifyResult =
  | { readonly ok: true; readonly role: AccountRole }
  | { readonly ok: false; readonly reason: 'unknown-user' | 'bad-password' };

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
    return this.result(account, await verifyPassword(password, account.passwordHash));
  }

  /**
   * The same check without yielding, for the in-process broker of an evaluation, whose
   * virtual clock must not run on while a login is pending.
   */
  verifySync(username: string, password: Buffer): VerifyResult {
    const account = this.accounts.get(username);
    if (account?.passwordHash === undefined) return this.verifyPlain(username, account, password);
    return this.result(account, verifyPasswordSync(password, account.passwordHash));
  }

  private verifyPlain(username: string, account: AccountConfig | undefined, password: Buffer): VerifyResult {
    if (account === undefined) {
      // Spend about the time of a plain-text check, so that timing says less about which usernames exist.
      plainEquals(password, username);
      return { ok: false, reason: 'unknown-user' };
    }
    return plainEquals(password, account.password ?? '') ? { ok: true, role: account.role } : { ok: false, reason: 'bad-password' };
  }

  private result(account: AccountConfig, matches: boolean): VerifyResult {
    return matches ? { ok: true, role: account.role } : { ok: false, reason: 'bad-password' };
  }
}
