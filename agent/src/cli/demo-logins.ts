import { AuditLog } from '../audit/audit-log.ts';
import { totpSecretContext } from '../auth/authenticate.ts';
import { hashPassword } from '../auth/password-hash.ts';
import type { UserRole } from '../auth/roles.ts';
import { SecretBox } from '../auth/secret-box.ts';
import { base32Decode, hotp, otpauthUri, totpStep, TOTP_STEP_SECONDS } from '../auth/totp.ts';
import { UserStore } from '../auth/user-store.ts';

/**
 * The dashboard logins of `wardwatch demo`, and only of the demo: DEMO ONLY, their
 * password and their authenticator secret are published here and printed at start. A real
 * site has no default account (`wardwatch agent` creates none; docs/operations.md, "Dashboard
 * accounts"). The demo keeps its one command: the four logins are made in the demo's own
 * data directory when absent, with TOTP already enrolled from the published secret, so a
 * tester logs in within a minute with `wardwatch demo-code` for the code, or with any
 * authenticator app given the secret. They have no recovery codes.
 */

export const DEMO_PASSWORD = 'demo-only-password';

/** 32 base32 characters = 160 bits, the RFC 4226 size; readable, so that nobody mistakes it for a secret. */
export const DEMO_TOTP_SECRET_BASE32 = 'WARDWATCHDEMOONLYPUBLISHEDSECRET';

export const DEMO_LOGINS: readonly { readonly username: string; readonly role: UserRole; readonly what: string }[] = [
  { username: 'demo-nurse', role: 'nurse', what: 'sees the ward, acknowledges alerts' },
  { username: 'demo-biomed', role: 'biomed', what: 'also the learned baseline, devices and policy' },
  { username: 'demo-admin', role: 'admin', what: 'also the users and the audit log' },
  { username: 'demo-display', role: 'display', what: 'a wall screen: the ward and its alerts only, no idle timeout' },
];

export function demoTotpSecret(): Buffer {
  return base32Decode(DEMO_TOTP_SECRET_BASE32);
}

/** The demo logins' code at `now`, and how many seconds it stays current. */
export function demoCode(now: number): { readonly code: string; readonly secondsLeft: number } {
  const step = totpStep(now);
  return { code: hotp(demoTotpSecret(), step), secondsLeft: Math.ceil(((step + 1) * TOTP_STEP_SECONDS * 1000 - now) / 1000) };
}

/** Adds the demo logins that `dataDir` lacks; returns the names added. Existing users are left as they are. */
export async function ensureDemoLogins(dataDir: string, now = Date.now()): Promise<string[]> {
  const store = UserStore.forDataDir(dataDir);
  const added: string[] = [];
  try {
    const missing = DEMO_LOGINS.filter((login) => store.get(login.username) === null);
    if (missing.length === 0) return added;
    const secrets = SecretBox.forDataDir(dataDir);
    const secret = demoTotpSecret();
    const audit = AuditLog.forDataDir(dataDir);
    for (const login of missing) {
      store.add({ username: login.username, role: login.role, passwordHash: await hashPassword(DEMO_PASSWORD) }, now);
      // Enrolled as of two steps ago, so that the code of this moment already works.
      store.enrolMfa(login.username, secrets.seal(secret, totpSecretContext(login.username)), totpStep(now) - 2, [], now);
      audit.append({ actor: 'system', from: 'local', action: 'user-added', details: { username: login.username, role: login.role, demo: true, totp: 'the published demo secret' }, at: now });
      added.push(login.username);
    }
    secret.fill(0);
    return added;
  } finally {
    store.close();
  }
}

/** The lines the demo prints about its logins. */
export function demoLoginLines(dataDir: string): string[] {
  const width = Math.max(...DEMO_LOGINS.map((login) => login.username.length));
  const roleWidth = Math.max(...DEMO_LOGINS.map((login) => login.role.length));
  const uri = otpauthUri(demoTotpSecret(), 'demo', 'Wardwatch demo');
  return [
    'Dashboard logins — DEMO ONLY, the password and the authenticator secret are published:',
    ...DEMO_LOGINS.map((login) => `  ${login.username.padEnd(width)}  ${login.role.padEnd(roleWidth)}  ${login.what}`),
    `  password:  ${DEMO_PASSWORD}`,
    '  code:      npx wardwatch demo-code   (prints the current 6-digit code; each code logs a user in once)',
    `             or add the secret ${DEMO_TOTP_SECRET_BASE32} to an authenticator app`,
    `             (${uri})`,
    `  To see the enrolment step: npx wardwatch users reset-mfa demo-nurse -d ${dataDir}, then log in as demo-nurse.`,
  ];
}
