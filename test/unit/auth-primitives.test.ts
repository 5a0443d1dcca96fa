import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dummyPasswordHash, hashPassword, parseScryptHash, verifyPassword, verifyPasswordSync } from '../../agent/src/auth/password-hash.ts';
import { passwordProblem } from '../../agent/src/auth/password-policy.ts';
import { findRecoveryCode, hashRecoveryCode, issueRecoveryCodes, looksLikeRecoveryCode, RECOVERY_CODE_COUNT } from '../../agent/src/auth/recovery-codes.ts';
import { may, PERMISSIONS, ROLE_PERMISSIONS, USER_ROLES } from '../../agent/src/auth/roles.ts';
import { loadOrCreateSecretKey, SECRET_KEY_FILE, SecretBox, SecretBoxError } from '../../agent/src/auth/secret-box.ts';

const CHEAP = { N: 2 ** 10, r: 8, p: 1 };
const dirs: string[] = [];

function temporaryDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-auth-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('password hashing (shared with the MQTT accounts)', () => {
  it('makes OWASP scrypt hashes (N=2^17, r=8, p=1) with a fresh salt each time', async () => {
    const [a, b] = await Promise.all([hashPassword('correct horse battery'), hashPassword('correct horse battery')]);
    expect(a).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(verifyPasswordSync('correct horse batterY', a)).toBe(false);
  });

  it('keeps the cost in the hash, so a hash of another cost still verifies', async () => {
    const hash = await hashPassword('correct horse battery', CHEAP);
    expect(parseScryptHash(hash)).toMatchObject({ N: 1024, r: 8, p: 1 });
    expect(await verifyPassword(Buffer.from('correct horse battery'), hash)).toBe(true);
  });

  it('never matches a malformed hash, and never throws on one', async () => {
    for (const bad of ['', 'plain', 'scrypt$x$8$1$AAAA$AAAA', 'argon2id$v=19$…', 'scrypt$1024$8$1$$']) expect(await verifyPassword('anything', bad)).toBe(false);
  });

  it('has a dummy hash of the same cost, for missing users, that no password matches', async () => {
    const dummy = dummyPasswordHash(CHEAP);
    expect(parseScryptHash(dummy)).toMatchObject(CHEAP);
    expect(dummyPasswordHash(CHEAP)).toBe(dummy);
    expect(await verifyPassword('', dummy)).toBe(false);
  });
});

describe('password policy (NIST SP 800-63B §5.1.1.2)', () => {
  it.each([
    ['short', /too short: 5 characters, at least 12/],
    ['password1234', /common passwords/],
    ['Qwerty123456', /common passwords/],
    ['aaaaaaaaaaaaaaa', /repeated or consecutive/],
    ['abcdefghijklmnop', /repeated or consecutive/],
    ['9876543210987', /repeated or consecutive/],
    ['alice.kowalski-2024', /contains the username/],
    ['my-Wardwatch-login!', /product's name/],
  ])('refuses %j', (password, reason) => {
    expect(passwordProblem(password, 'alice.kowalski')).toMatch(reason);
  });

  it('accepts a passphrase, whatever its characters', () => {
    expect(passwordProblem('staple lantern orbit tundra', 'alice')).toBeNull();
    expect(passwordProblem('Zürich-Nebel-über-Gleis 7', 'alice')).toBeNull();
  });
});

describe('recovery codes', () => {
  it('issues ten distinct xxxx-xxxx-xxxx codes and only their hashes to store', () => {
    const { codes, hashes } = issueRecoveryCodes('alice');
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    expect(hashes).toHaveLength(RECOVERY_CODE_COUNT);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashes.join()).not.toContain(codes[0]?.replace(/-/g, ''));
  });

  it('finds a code as typed (any case, with or without dashes), and not another user\'s', () => {
    const { codes, hashes } = issueRecoveryCodes('alice');
    const code = codes[3] as string;
    expect(findRecoveryCode('alice', hashes, code)).toBe(3);
    expect(findRecoveryCode('alice', hashes, code.toUpperCase().replace(/-/g, ' '))).toBe(3);
    expect(findRecoveryCode('bob', hashes, code)).toBe(-1);
    expect(hashRecoveryCode('bob', code)).not.toBe(hashes[3]);
    expect(findRecoveryCode('alice', hashes, 'aaaa-aaaa-aaaa')).toBe(-1);
    expect(findRecoveryCode('alice', hashes, '123456')).toBe(-1);
  });

  it('is told apart from a 6-digit TOTP code by its shape', () => {
    expect(looksLikeRecoveryCode('abcd-efgh-jkmn')).toBe(true);
    expect(looksLikeRecoveryCode('123456')).toBe(false);
    expect(looksLikeRecoveryCode('abcd-efgh-jkm0')).toBe(false);
  });
});

describe('secret box (AES-256-GCM)', () => {
  it('creates secret.key once, 32 bytes, owner-only, and reads the same key after', () => {
    const dir = temporaryDir();
    const key = loadOrCreateSecretKey(dir);
    expect(key).toHaveLength(32);
    expect(statSync(join(dir, SECRET_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecretKey(dir).equals(key)).toBe(true);
  });

  it('refuses a key file of the wrong size, saying what to do', () => {
    const dir = temporaryDir();
    writeFileSync(join(dir, SECRET_KEY_FILE), 'short');
    expect(() => loadOrCreateSecretKey(dir)).toThrow(/not a 32-byte key.*reset-mfa/);
  });

  it('opens what it sealed, only for the same context, and not once altered', () => {
    const box = SecretBox.forDataDir(temporaryDir());
    const secret = Buffer.from('12345678901234567890');
    const sealed = box.seal(secret, 'totp:alice');
    expect(sealed.includes(secret)).toBe(false);
    expect(box.open(sealed, 'totp:alice').equals(secret)).toBe(true);
    expect(() => box.open(sealed, 'totp:bob')).toThrow(SecretBoxError);
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 1;
    expect(() => box.open(altered, 'totp:alice')).toThrow(SecretBoxError);
    expect(() => SecretBox.forDataDir(temporaryDir()).open(sealed, 'totp:alice')).toThrow(/does not open/);
  });

  it('seals the same secret differently each time (random IV)', () => {
    const box = new SecretBox(Buffer.alloc(32, 7));
    expect(box.seal(Buffer.from('x'), 'c').equals(box.seal(Buffer.from('x'), 'c'))).toBe(false);
  });

  it('leaves the key file readable only by its owner', () => {
    const dir = temporaryDir();
    SecretBox.forDataDir(dir);
    expect(readFileSync(join(dir, SECRET_KEY_FILE))).toHaveLength(32);
  });
});

describe('roles: least privilege as data', () => {
  it('lets a nurse see and acknowledge, and nothing else', () => {
    expect([...ROLE_PERMISSIONS.nurse].sort()).toEqual(['alerts.acknowledge', 'alerts.view']);
    expect(may('nurse', 'alerts.acknowledge')).toBe(true);
    expect(may('nurse', 'devices.configure')).toBe(false);
    expect(may('nurse', 'users.manage')).toBe(false);
  });

  it('lets a biomed also configure devices, policy and baselines, but not manage users', () => {
    for (const permission of ['alerts.view', 'alerts.acknowledge', 'devices.configure', 'policy.configure', 'baseline.configure']) expect(may('biomed', permission)).toBe(true);
    expect(may('biomed', 'users.manage')).toBe(false);
    expect(may('biomed', 'audit.view')).toBe(false);
  });

  it('lets an admin do everything, and each role do all its lower role does', () => {
    for (const permission of Object.keys(PERMISSIONS)) expect(may('admin', permission)).toBe(true);
    for (const [lower, higher] of [['display', 'nurse'], ['nurse', 'biomed'], ['biomed', 'admin']] as const) {
      for (const permission of ROLE_PERMISSIONS[lower]) expect(ROLE_PERMISSIONS[higher].has(permission)).toBe(true);
    }
    expect(USER_ROLES).toEqual(['display', 'nurse', 'biomed', 'admin']);
  });

  it('refuses unknown roles and unknown permissions (default deny)', () => {
    expect(may('root', 'alerts.view')).toBe(false);
    expect(may('admin', 'everything')).toBe(false);
    expect(may('', '')).toBe(false);
  });
});
