import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, readAuditLines, verifyAuditLog } from '../../agent/src/audit/audit-log.ts';
import { authenticate, type AuthContext, type LoginAttempt, type LoginOutcome } from '../../agent/src/auth/authenticate.ts';
import { beginEnrolment, completeEnrolment } from '../../agent/src/auth/enrolment.ts';
import { LoginGuard } from '../../agent/src/auth/login-guard.ts';
import { hashPassword } from '../../agent/src/auth/password-hash.ts';
import { SecretBox } from '../../agent/src/auth/secret-box.ts';
import { base32Encode, totp } from '../../agent/src/auth/totp.ts';
import { USERS_DB_FILE, UserStore } from '../../agent/src/auth/user-store.ts';

// A cheap scrypt cost for speed; the timing test below uses a dearer one.
const CHEAP = { N: 2 ** 10, r: 8, p: 1 };
const MINUTE = 60_000;
const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
const PASSWORD = 'staple lantern orbit tundra';

interface Fixture {
  readonly dir: string;
  readonly context: AuthContext;
  /** Adds alice (nurse) and enrols her; returns her TOTP secret and recovery codes. */
  enrolAlice(now?: number): Promise<{ secret: Buffer; recoveryCodes: readonly string[] }>;
  login(overrides: Partial<LoginAttempt>): Promise<LoginOutcome>;
}

let fixture: Fixture;

function makeFixture(guard = new LoginGuard()): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-login-'));
  const context: AuthContext = { users: UserStore.forDataDir(dir), guard, secrets: SecretBox.forDataDir(dir), audit: AuditLog.forDataDir(dir), passwordCost: CHEAP };
  return {
    dir,
    context,
    async enrolAlice(now = T0) {
      context.users.add({ username: 'alice', role: 'nurse', passwordHash: await hashPassword(PASSWORD, CHEAP) }, now);
      const first = await authenticate(context, { username: 'alice', password: PASSWORD, address: '10.4.0.21', now });
      expect(first.kind).toBe('needs-enrolment');
      const pending = beginEnrolment('alice');
      const done = completeEnrolment(context, { username: 'alice', secret: pending.secret, code: totp(pending.secret, now), address: '10.4.0.21', now });
      if (done.kind !== 'enrolled') throw new Error(`enrolment failed: ${done.kind}`);
      return { secret: pending.secret, recoveryCodes: done.recoveryCodes };
    },
    login(overrides) {
      return authenticate(context, { username: 'alice', password: PASSWORD, address: '10.4.0.21', now: T0 + MINUTE, ...overrides });
    },
  };
}

beforeEach(() => {
  fixture = makeFixture();
});

afterEach(() => {
  fixture.context.users.close();
  rmSync(fixture.dir, { recursive: true, force: true });
});

describe('authenticate: password, then TOTP or a recovery code', () => {
  it('asks a new user with the right password to enrol, and logs them in once enrolled with a code from their app', async () => {
    const { secret, recoveryCodes } = await fixture.enrolAlice();
    expect(recoveryCodes).toHaveLength(10);
    const t = T0 + 2 * MINUTE;
    const outcome = await fixture.login({ code: totp(secret, t), now: t });
    expect(outcome).toMatchObject({ kind: 'ok', method: 'totp', user: { username: 'alice', role: 'nurse', mfaEnrolled: true, recoveryCodesLeft: 10, failedLogins: 0 } });
    expect(JSON.stringify(outcome)).not.toMatch(/scrypt|passwordHash|totpSecret/);
  });

  it('does not ask for enrolment when the password is wrong', async () => {
    fixture.context.users.add({ username: 'bob', role: 'biomed', passwordHash: await hashPassword(PASSWORD, CHEAP) }, T0);
    expect(await fixture.login({ username: 'bob', password: 'not the password at all' })).toEqual({ kind: 'bad-credentials', burst: null });
  });

  it('refuses a replayed TOTP code, even within its 30 s', async () => {
    const { secret } = await fixture.enrolAlice();
    const t = T0 + 2 * MINUTE;
    const code = totp(secret, t);
    expect((await fixture.login({ code, now: t })).kind).toBe('ok');
    expect(await fixture.login({ code, now: t + 5_000 })).toEqual({ kind: 'bad-credentials', burst: null });
    // The code that confirmed the enrolment was used too.
    expect(await fixture.login({ code: totp(secret, T0), now: T0 + 10_000 })).toEqual({ kind: 'bad-credentials', burst: null });
  });

  it('lets only one of two concurrent logins with the same code through', async () => {
    const { secret } = await fixture.enrolAlice();
    const t = T0 + 2 * MINUTE;
    const code = totp(secret, t);
    const outcomes = await Promise.all([fixture.login({ code, now: t }), fixture.login({ code, now: t })]);
    expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(['bad-credentials', 'ok']);
  });

  it('accepts a recovery code once, then never again', async () => {
    const { recoveryCodes } = await fixture.enrolAlice();
    const code = recoveryCodes[4] as string;
    const first = await fixture.login({ code: code.toUpperCase() });
    expect(first).toMatchObject({ kind: 'ok', method: 'recovery-code', user: { recoveryCodesLeft: 9 } });
    expect(await fixture.login({ code, now: T0 + 2 * MINUTE })).toEqual({ kind: 'bad-credentials', burst: null });
    expect((await fixture.login({ code: recoveryCodes[5] as string, now: T0 + 3 * MINUTE })).kind).toBe('ok');
    expect(fixture.context.users.get('alice')?.recoveryCodeHashes).toHaveLength(8);
  });

  it('gives the same outcome for a wrong TOTP code with the right password as for a wrong password with the right code', async () => {
    const { secret } = await fixture.enrolAlice();
    const t = T0 + 2 * MINUTE;
    const wrongCode = String((Number(totp(secret, t)) + 1) % 1_000_000).padStart(6, '0');
    const wrongTotp = await fixture.login({ code: wrongCode, now: t });
    const wrongPassword = await fixture.login({ password: 'staple lantern orbit tundrA', code: totp(secret, t), now: t + 1 });
    const noCode = await fixture.login({ now: t + 2 });
    const noSuchUser = await fixture.login({ username: 'alicia', code: totp(secret, t), now: t + 3 });
    expect(wrongTotp).toEqual({ kind: 'bad-credentials', burst: null });
    expect(wrongPassword).toEqual(wrongTotp);
    expect(noCode).toEqual(wrongTotp);
    expect(noSuchUser).toEqual(wrongTotp);
    // Both count toward the lockout alike.
    expect(fixture.context.users.get('alice')?.failedLogins).toBe(3);
    // Only the audit log, which admins read, says which factor failed.
    const failures = readAuditLines(fixture.context.audit?.file as string).flatMap(({ entry }) => (entry?.action === 'login-failed' ? [entry.details] : []));
    expect(failures).toEqual([
      { reason: 'bad-credentials', factor: 'second-factor', knownUser: true, check: 'totp-wrong' },
      { reason: 'bad-credentials', factor: 'password', knownUser: true },
      { reason: 'bad-credentials', factor: 'second-factor', knownUser: true, check: 'totp-malformed' },
      { reason: 'bad-credentials', factor: 'password', knownUser: false },
    ]);
  });

  it('locks an account after 5 consecutive failures for 15 minutes, even for the right password and code, and lets it in after', async () => {
    const { secret } = await fixture.enrolAlice();
    let t = T0 + MINUTE;
    for (let attempt = 0; attempt < 5; attempt++, t += 1000) {
      expect((await fixture.login({ password: `wrong password ${attempt}`, code: totp(secret, t), now: t })).kind).toBe('bad-credentials');
    }
    const lockedAt = t - 1000;
    expect(fixture.context.users.get('alice')?.lockedUntil).toBe(lockedAt + 15 * MINUTE);
    const right = await fixture.login({ code: totp(secret, t), now: t });
    expect(right).toEqual({ kind: 'locked', until: lockedAt + 15 * MINUTE, burst: null });
    const later = lockedAt + 15 * MINUTE;
    const after = await fixture.login({ code: totp(secret, later), now: later });
    expect(after).toMatchObject({ kind: 'ok', user: { failedLogins: 0, lockedUntil: null } });
  });

  it('forgets failures at a successful login: five failures must be consecutive', async () => {
    const { secret } = await fixture.enrolAlice();
    let t = T0 + MINUTE;
    for (let round = 0; round < 3; round++) {
      // From another address each round, so that the per-address limit stays out of it.
      const address = `10.4.1.${round}`;
      for (let attempt = 0; attempt < 4; attempt++, t += 1000) await fixture.login({ password: 'wrong wrong wrong', address, now: t });
      t += 30_000;
      expect((await fixture.login({ code: totp(secret, t), address, now: t })).kind).toBe('ok');
    }
  });

  it('locks a made-up username just as a real one, so the answer does not tell which exist', async () => {
    await fixture.enrolAlice();
    const real: LoginOutcome[] = [];
    const madeUp: LoginOutcome[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      real.push(await fixture.login({ password: 'wrong wrong wrong', code: '123456', address: '10.4.0.31', now: T0 + MINUTE + attempt }));
      madeUp.push(await fixture.login({ username: 'zoe', password: 'wrong wrong wrong', code: '123456', address: '10.4.0.32', now: T0 + MINUTE + attempt }));
    }
    expect(madeUp).toEqual(real);
    expect(real.at(-1)).toEqual({ kind: 'locked', until: T0 + MINUTE + 4 + 15 * MINUTE, burst: null });
  });

  it('says "disabled" only to someone who gave the right password', async () => {
    const { secret } = await fixture.enrolAlice();
    fixture.context.users.setDisabled('alice', true, T0);
    const t = T0 + 2 * MINUTE;
    expect(await fixture.login({ password: 'wrong wrong wrong', code: totp(secret, t), now: t })).toEqual({ kind: 'bad-credentials', burst: null });
    expect(await fixture.login({ code: totp(secret, t), now: t + 1 })).toEqual({ kind: 'disabled', burst: null });
  });

  it('refuses an address after 10 failures in 5 minutes, whatever the username, before any scrypt, and reports the burst once', async () => {
    await fixture.enrolAlice();
    const outcomes: LoginOutcome[] = [];
    for (let attempt = 0; attempt < 14; attempt++) {
      outcomes.push(await fixture.login({ username: `user${attempt}`, password: 'guess guess guess', address: '10.4.0.66', now: T0 + MINUTE + attempt * 1000 }));
    }
    expect(outcomes.slice(0, 9).every((outcome) => outcome.kind === 'bad-credentials' && outcome.burst === null)).toBe(true);
    const tenth = outcomes[9];
    expect(tenth).toMatchObject({ kind: 'bad-credentials', burst: { address: '10.4.0.66', failures: 10, windowMs: 5 * MINUTE } });
    expect(outcomes.slice(10).map((outcome) => outcome.kind)).toEqual(['rate-limited', 'rate-limited', 'rate-limited', 'rate-limited']);
    expect(outcomes.slice(10).every((outcome) => outcome.kind === 'rate-limited' && outcome.burst === null)).toBe(true);
    // Another address is not affected; the burst entry is marked in the audit log.
    expect((await fixture.login({ password: 'wrong', address: '10.4.0.21', now: T0 + 2 * MINUTE })).kind).toBe('bad-credentials');
    const burstEntries = readAuditLines(fixture.context.audit?.file as string).filter(({ entry }) => entry?.details.burst === true);
    expect(burstEntries).toHaveLength(1);
  });

  it('audits the enrolment, each login and each failure, chained', async () => {
    const { secret } = await fixture.enrolAlice();
    await fixture.login({ code: totp(secret, T0 + 2 * MINUTE), now: T0 + 2 * MINUTE });
    await fixture.login({ password: 'wrong wrong wrong', now: T0 + 3 * MINUTE });
    const entries = readAuditLines(fixture.context.audit?.file as string).map(({ entry }) => [entry?.action, entry?.actor, entry?.from, entry?.ts]);
    expect(entries).toEqual([
      ['mfa-enrolled', 'alice', '10.4.0.21', new Date(T0).toISOString()],
      ['login', 'alice', '10.4.0.21', new Date(T0).toISOString()],
      ['login', 'alice', '10.4.0.21', new Date(T0 + 2 * MINUTE).toISOString()],
      ['login-failed', 'alice', '10.4.0.21', new Date(T0 + 3 * MINUTE).toISOString()],
    ]);
    expect(await verifyAuditLog(fixture.context.audit?.file as string)).toEqual({ ok: true, entries: 4 });
  });
});

describe('enrolment', () => {
  it('stores nothing for a wrong confirmation code, and cannot replace an enrolled factor', async () => {
    fixture.context.users.add({ username: 'alice', role: 'nurse', passwordHash: await hashPassword(PASSWORD, CHEAP) }, T0);
    const pending = beginEnrolment('alice');
    expect(pending.uri).toBe(`otpauth://totp/Wardwatch:alice?secret=${pending.secretBase32}&issuer=Wardwatch&algorithm=SHA1&digits=6&period=30`);
    expect(pending.secretBase32).toBe(base32Encode(pending.secret));
    expect(completeEnrolment(fixture.context, { username: 'alice', secret: pending.secret, code: '000000', address: 'x', now: T0 })).toEqual({ kind: 'bad-code' });
    expect(fixture.context.users.get('alice')?.totpSecret).toBeNull();
    expect(completeEnrolment(fixture.context, { username: 'alice', secret: pending.secret, code: totp(pending.secret, T0), address: 'x', now: T0 }).kind).toBe('enrolled');
    const other = beginEnrolment('alice');
    expect(completeEnrolment(fixture.context, { username: 'alice', secret: other.secret, code: totp(other.secret, T0), address: 'x', now: T0 })).toEqual({ kind: 'already-enrolled' });
  });
});

describe('at rest', () => {
  it('does not store the TOTP secret in clear: neither its bytes nor its base32 are in users.db', async () => {
    const { secret } = await fixture.enrolAlice();
    fixture.context.users.close();
    const files = [USERS_DB_FILE, `${USERS_DB_FILE}-wal`].map((name) => join(fixture.dir, name)).filter(existsSync);
    const bytes = Buffer.concat(files.map((file) => readFileSync(file)));
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(secret)).toBe(false);
    expect(bytes.includes(Buffer.from(base32Encode(secret)))).toBe(false);
    expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
    // Reopened, the store still works: it was sealed, not lost.
    const context = { ...fixture.context, users: UserStore.forDataDir(fixture.dir) };
    fixture = { ...fixture, context };
    const t = T0 + 2 * MINUTE;
    expect((await authenticate(context, { username: 'alice', password: PASSWORD, code: totp(secret, t), address: '10.4.0.21', now: t })).kind).toBe('ok');
  });

  it('keeps users.db and secret.key owner-only', async () => {
    await fixture.enrolAlice();
    expect(statSync(join(fixture.dir, USERS_DB_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(fixture.dir, 'secret.key')).mode & 0o777).toBe(0o600);
  });
});

describe('timing', () => {
  it('spends the same scrypt time on a missing user as on a wrong password', async () => {
    const cost = { N: 2 ** 14, r: 8, p: 1 };
    const local = makeFixture(new LoginGuard({ maxAccountFailures: 1000, maxAddressFailures: 1000 }));
    try {
      const context = { ...local.context, passwordCost: cost, audit: null };
      context.users.add({ username: 'carol', role: 'admin', passwordHash: await hashPassword(PASSWORD, cost) }, T0);
      const once = async (username: string): Promise<number> => {
        const start = performance.now();
        await authenticate(context, { username, password: 'wrong wrong wrong', address: '10.4.0.5', now: T0 });
        return performance.now() - start;
      };
      await once('carol');
      // Interleaved, so that both see the same load on a shared machine; medians of seven.
      const wrong: number[] = [];
      const missing: number[] = [];
      for (let run = 0; run < 7; run++) {
        wrong.push(await once('carol'));
        missing.push(await once('nobody-here'));
      }
      const median = (samples: number[]): number => samples.sort((a, b) => a - b)[3] as number;
      const ratio = median(missing) / median(wrong);
      // A real scrypt of the same cost in both: a skipped scrypt would be ~100× faster, so a
      // ratio above a quarter proves the work is done; the upper bound only catches a double one.
      expect(ratio).toBeGreaterThan(0.25);
      expect(ratio).toBeLessThan(4);
    } finally {
      local.context.users.close();
      rmSync(local.dir, { recursive: true, force: true });
    }
  });
});
