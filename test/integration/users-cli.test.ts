import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, readAuditLines } from '../../agent/src/audit/audit-log.ts';
import { beginEnrolment, completeEnrolment } from '../../agent/src/auth/enrolment.ts';
import { LoginGuard } from '../../agent/src/auth/login-guard.ts';
import { SecretBox } from '../../agent/src/auth/secret-box.ts';
import { totp } from '../../agent/src/auth/totp.ts';
import { UserStore, type UserView } from '../../agent/src/auth/user-store.ts';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';
import { wardwatch, wardwatchWithInput } from '../helpers/cli.ts';

const PASSWORD = 'staple lantern orbit tundra\n';

function noStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
}

/**
 * `wardwatch users …` and `wardwatch audit …` as an administrator runs them: accounts
 * added, listed, disabled, their MFA reset, every change in the audit log, and the log's
 * tampering found by `audit verify`.
 */
describe('wardwatch users and audit', () => {
  const data = temporaryDataDir();
  const d = ['-d', data.dir];
  const actor = `cli:${userInfo().username}`;

  afterAll(() => data.remove());

  async function list(): Promise<UserView[]> {
    const result = await wardwatch('users', 'list', '--json', ...d);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as UserView[];
  }

  it('adds users with a password from standard input, hashed with OWASP scrypt', async () => {
    const alice = await wardwatchWithInput(PASSWORD, 'users', 'add', 'alice', '--role', 'nurse', ...d);
    expect(alice).toMatchObject({ code: 0, stdout: expect.stringMatching(/^added alice \(nurse\)\. At the first login/) as string });
    expect((await wardwatchWithInput('correct horse battery staple', 'users', 'add', 'bob', '--role', 'admin', ...d)).code).toBe(0);
    const store = UserStore.forDataDir(data.dir);
    expect(store.get('alice')?.passwordHash).toMatch(/^scrypt\$131072\$8\$1\$/);
    store.close();
    expect(readFileSync(join(data.dir, 'users.db')).includes(Buffer.from('staple lantern'))).toBe(false);
  });

  it.each([
    ['a short password', ['users', 'add', 'carol', '--role', 'biomed'], 'too short!', /the password is too short: 10 characters, at least 12/],
    ['a common password', ['users', 'add', 'carol', '--role', 'biomed'], 'password1234', /common passwords/],
    ['a password with the username in it', ['users', 'add', 'carol', '--role', 'biomed'], 'carol-is-the-best', /contains the username/],
    ['an empty standard input', ['users', 'add', 'carol', '--role', 'biomed'], '', /no password on standard input/],
    ['an unknown role', ['users', 'add', 'carol', '--role', 'surgeon'], PASSWORD, /argument 'surgeon' is invalid\. Allowed choices are display, nurse, biomed, admin/],
    ['a missing role', ['users', 'add', 'carol'], PASSWORD, /required option '--role <role>' not specified/],
    ['an upper-case username', ['users', 'add', 'Carol', '--role', 'nurse'], PASSWORD, /"Carol" cannot be a username/],
    ['a taken username', ['users', 'add', 'alice', '--role', 'nurse'], PASSWORD, /user alice already exists/],
    ['disabling an unknown user', ['users', 'disable', 'nobody'], '', /no user nobody in/],
    ['resetting the MFA of an unknown user', ['users', 'reset-mfa', 'nobody'], '', /no user nobody in/],
  ] as const)('refuses %s with a clear message and exit 2, no stack trace', async (_label, args, input, message) => {
    const result = await wardwatchWithInput(input, ...args, ...d);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    noStackTrace(result.stderr);
  });

  it('lists users: role, MFA, disabled, locked', async () => {
    const table = await wardwatch('users', 'list', ...d);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^USER\s+ROLE\s+MFA\s+RECOVERY-CODES\s+DISABLED\s+LOCKED$/);
    expect(table.stdout).toMatch(/^alice\s+nurse\s+no\s+-\s+no\s+no$/m);
    expect(table.stdout).toMatch(/^bob\s+admin\s+no\s+-\s+no\s+no$/m);
    expect((await list()).map((user) => [user.username, user.role, user.mfaEnrolled])).toEqual([['alice', 'nurse', false], ['bob', 'admin', false]]);
  });

  it('shows MFA once enrolled, issues recovery codes, disables, ends a lockout and resets MFA', async () => {
    // Alice enrols at her first login (the library the HTTP layer will call), in this process, while the CLI runs in others.
    const users = UserStore.forDataDir(data.dir);
    const context = { users, guard: new LoginGuard(), secrets: SecretBox.forDataDir(data.dir), audit: AuditLog.forDataDir(data.dir) };
    const pending = beginEnrolment('alice');
    const now = Date.now();
    expect(completeEnrolment(context, { username: 'alice', secret: pending.secret, code: totp(pending.secret, now), address: '10.4.0.21', now }).kind).toBe('enrolled');
    expect(await list()).toContainEqual(expect.objectContaining({ username: 'alice', mfaEnrolled: true, recoveryCodesLeft: 10 }));

    const codes = await wardwatch('users', 'recovery-codes', 'alice', ...d);
    expect(codes.code).toBe(0);
    expect(codes.stdout.match(/^ {2}[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/gm)).toHaveLength(10);
    expect((await wardwatch('users', 'recovery-codes', 'bob', ...d))).toMatchObject({ code: 2, stderr: expect.stringMatching(/bob has not enrolled a second factor yet/) as string });

    expect(await wardwatch('users', 'disable', 'alice', ...d)).toMatchObject({ code: 0, stdout: 'disabled alice: every login is refused from now on\n' });
    expect((await wardwatch('users', 'list', ...d)).stdout).toMatch(/^alice\s+nurse\s+yes\s+10\s+yes\s+no$/m);
    expect(await wardwatch('users', 'disable', 'alice', ...d)).toMatchObject({ code: 0, stdout: 'alice is already disabled\n' });

    for (let failure = 0; failure < 5; failure++) users.recordFailure('bob', (failures) => context.guard.lockFor(failures, Date.now()));
    expect((await wardwatch('users', 'list', ...d)).stdout).toMatch(/^bob\s+admin\s+no\s+-\s+no\s+until \d\d:\d\d:\d\dZ$/m);
    expect(await wardwatch('users', 'enable', 'bob', ...d)).toMatchObject({ code: 0, stdout: 'enabled bob (lockout ended)\n' });
    expect((await wardwatch('users', 'enable', 'alice', ...d)).code).toBe(0);

    expect(await wardwatch('users', 'reset-mfa', 'alice', ...d)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^reset the second factor of alice/) as string });
    expect(await list()).toContainEqual(expect.objectContaining({ username: 'alice', mfaEnrolled: false, recoveryCodesLeft: 0, disabled: false }));
    expect(users.get('alice')?.totpSecret).toBeNull();
    users.close();
  });

  it('records every change in the audit log, chained across the processes that wrote it', async () => {
    const entries = readAuditLines(join(data.dir, 'audit.jsonl')).map(({ entry }) => [entry?.seq, entry?.actor, entry?.from, entry?.action, entry?.details.username]);
    expect(entries).toEqual([
      [1, actor, 'local', 'user-added', 'alice'],
      [2, actor, 'local', 'user-added', 'bob'],
      [3, 'alice', '10.4.0.21', 'mfa-enrolled', undefined],
      [4, 'alice', '10.4.0.21', 'login', undefined],
      [5, actor, 'local', 'recovery-codes-issued', 'alice'],
      [6, actor, 'local', 'user-disabled', 'alice'],
      [7, actor, 'local', 'user-enabled', 'bob'],
      [8, actor, 'local', 'user-enabled', 'alice'],
      [9, actor, 'local', 'mfa-reset', 'alice'],
    ]);
    expect(readFileSync(join(data.dir, 'audit.jsonl'), 'utf8')).not.toMatch(/[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}/);

    const verify = await wardwatch('audit', 'verify', ...d);
    expect(verify).toMatchObject({ code: 0, stdout: `${join(data.dir, 'audit.jsonl')}: 9 entries, chain intact\n` });
    const show = await wardwatch('audit', 'show', '--last', '2', ...d);
    expect(show.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^#8  \\S+Z  ${actor}  local  user-enabled  \\{"username":"alice","wasDisabled":true,"wasLocked":false\\}$`)),
      expect.stringMatching(/^#9 .* mfa-reset  \{"username":"alice"\}$/),
    ]);
  });

  it('records the offline baseline commands too', async () => {
    const freeze = await wardwatch('baseline', 'freeze', 'pump-01', 'pump-02', '-c', 'config/demo.yaml', ...d);
    expect(freeze.code).toBe(0);
    const [last] = readAuditLines(join(data.dir, 'audit.jsonl'), 1);
    expect(last?.entry).toMatchObject({ seq: 10, actor, from: 'local', action: 'baseline-frozen', details: { devices: ['pump-01', 'pump-02'] } });
    expect((await wardwatch('baseline', 'unfreeze', 'pump-02', '-c', 'config/demo.yaml', ...d)).code).toBe(0);
    expect(readAuditLines(join(data.dir, 'audit.jsonl'), 1)[0]?.entry).toMatchObject({ seq: 11, action: 'baseline-unfrozen', details: { devices: ['pump-02'] } });
  });

  it('finds an edited entry: audit verify exits 1 naming the line and why', async () => {
    const file = join(data.dir, 'audit.jsonl');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('"action":"user-disabled","details":{"username":"alice"}', '"action":"user-disabled","details":{"username":"carol"}'));
    const verify = await wardwatch('audit', 'verify', ...d);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toBe(`${file}: line 6 (seq 6): its content does not match its hash: the entry was changed after it was written\n5 entries before it verified; the log cannot be trusted from there on\n`);
    noStackTrace(verify.stderr);

    writeFileSync(file, text.split('\n').slice(0, 8).join('\n') + '\n');
    const truncated = await wardwatch('audit', 'verify', ...d);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(/line 9 \(seq 9\): the log ends at seq 8, but audit\.head records seq 11: 3 entries were removed from the end/);
    writeFileSync(file, text);
    expect((await wardwatch('audit', 'verify', ...d)).code).toBe(0);
  });

  it('says "no users yet" on a fresh data directory, and refuses a data directory that does not exist', async () => {
    const fresh = temporaryDataDir();
    try {
      expect(await wardwatch('users', 'list', '-d', fresh.dir)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^no users in .* yet; add the first admin/) as string });
      expect(await wardwatch('audit', 'verify', '-d', fresh.dir)).toMatchObject({ code: 0, stdout: expect.stringMatching(/0 entries, chain intact/) as string });
      expect(await wardwatch('audit', 'show', '-d', fresh.dir)).toMatchObject({ code: 0, stdout: 'the audit log is empty\n' });
      expect((await wardwatch('audit', 'verify', '-d', join(fresh.dir, 'nope'))).code).toBe(2);
      expect((await wardwatch('users', 'disable', 'x', '-d', fresh.dir)).code).toBe(2);
    } finally {
      fresh.remove();
    }
  });
});
