import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { AuditLog, cliActor, type AuditAction } from '../audit/audit-log.ts';
import { hashPassword } from '../auth/password-hash.ts';
import { passwordProblem } from '../auth/password-policy.ts';
import { issueRecoveryCodes } from '../auth/recovery-codes.ts';
import { USER_ROLES, type UserRole } from '../auth/roles.ts';
import { USERS_DB_FILE, UserExistsError, UserStore, userView, type UserRecord } from '../auth/user-store.ts';
import { EXIT_USAGE } from './options.ts';
import { readNewPassword } from './read-password.ts';

/**
 * `wardwatch users add|list|disable|enable|reset-mfa|recovery-codes` (issue 6): the
 * dashboard's accounts in `<data-dir>/users.db`. These work while the agent runs (SQLite
 * WAL): a disabled user is refused at the next login. Every change is appended to the
 * audit log as "cli:<os user>" from "local". There is no default account: a site's first
 * admin is made here.
 */

interface UsersOptions {
  readonly dataDir: string;
}

// Lower case only: "Alice" and "alice" must not be two people in an audit log.
const USERNAME = /^[a-z][a-z0-9._-]{1,63}$/;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(EXIT_USAGE);
}

function checkUsername(name: string): void {
  if (!USERNAME.test(name)) fail(`"${name}" cannot be a username: 2–64 characters, lower-case letters, digits, '.', '_' or '-', starting with a letter`);
}

/** The store of an existing data directory; exits 2 with advice when there is none. */
function openStore(dataDir: string): UserStore {
  if (!existsSync(join(dataDir, USERS_DB_FILE))) fail(`no users in ${dataDir} (no ${USERS_DB_FILE}): add one with \`wardwatch users add <name> --role admin -d ${dataDir}\`, or give the agent's --data-dir`);
  return UserStore.forDataDir(dataDir);
}

function withStore<T>(dataDir: string, action: (store: UserStore) => T): T {
  const store = openStore(dataDir);
  try {
    return action(store);
  } finally {
    store.close();
  }
}

function existing(store: UserStore, name: string, dataDir: string): UserRecord {
  const record = store.get(name);
  if (record === null) fail(`no user ${name} in ${dataDir} (\`wardwatch users list -d ${dataDir}\` shows them)`);
  return record;
}

function audit(dataDir: string, action: AuditAction, details: Record<string, unknown>): void {
  AuditLog.forDataDir(dataDir).append({ actor: cliActor(), from: 'local', action, details });
}

function lockedText(record: UserRecord, now: number): string {
  return record.lockedUntil !== null && record.lockedUntil > now ? `until ${new Date(record.lockedUntil).toISOString().slice(11, 19)}Z` : 'no';
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')).join('\n') + '\n';
}

function dataDirOption(command: Command): Command {
  return command.option('-d, --data-dir <dir>', 'the agent\'s data directory', './wardwatch-data').exitOverride();
}

export function registerUsersCommands(program: Command): void {
  const users = program.command('users').description('dashboard accounts: add, list, disable, enable, reset MFA, issue recovery codes');

  dataDirOption(users.command('add').description('add a dashboard user; the password is read from standard input (asked twice on a terminal); MFA is enrolled by the user at first login').argument('<name>', 'username'))
    .addOption(new Option('--role <role>', 'display: a wall screen, sees alerts only (no idle timeout, cannot acknowledge); nurse: see and acknowledge; biomed: also configure devices, policy, baselines; admin: also users').choices(USER_ROLES).makeOptionMandatory())
    .action(async (name: string, options: UsersOptions & { readonly role: UserRole }) => {
      checkUsername(name);
      if (!existsSync(options.dataDir)) {
        mkdirSync(options.dataDir, { recursive: true, mode: 0o750 });
        process.stderr.write(`created ${options.dataDir}; start the agent with --data-dir ${options.dataDir}\n`);
      }
      const store = UserStore.forDataDir(options.dataDir);
      try {
        if (store.get(name) !== null) fail(`user ${name} already exists in ${options.dataDir}`);
        const password = await readNewPassword(name);
        if (password === null) fail('the two passwords differ; nothing was added');
        if (password.length === 0) fail(`no password on standard input: e.g. \`printf '%s' 'a long passphrase' | wardwatch users add ${name} --role ${options.role}\``);
        const problem = passwordProblem(password, name);
        if (problem !== null) fail(`${problem}; nothing was added`);
        store.add({ username: name, role: options.role, passwordHash: await hashPassword(password) }, Date.now());
      } catch (error) {
        if (error instanceof UserExistsError) fail(`user ${name} already exists in ${options.dataDir}`);
        throw error;
      } finally {
        store.close();
      }
      audit(options.dataDir, 'user-added', { username: name, role: options.role });
      process.stdout.write(`added ${name} (${options.role}). At the first login to the dashboard, ${name} enrols an authenticator app (TOTP) and receives recovery codes.\n`);
      if (options.role === 'display') process.stdout.write(`Log ${name} in on the wall screen: the page opens the wall display by itself, cannot acknowledge, and stays logged in without an idle timeout until dashboard.displaySessionHours (default 168) after the login.\n`);
    });

  dataDirOption(users.command('list').description('every user: role, MFA enrolled, disabled, locked out'))
    .option('--json', 'machine-readable output')
    .action((options: UsersOptions & { readonly json?: boolean }) => {
      if (!existsSync(join(options.dataDir, USERS_DB_FILE))) {
        if (options.json === true) process.stdout.write('[]\n');
        else process.stdout.write(`no users in ${options.dataDir} yet; add the first admin with \`wardwatch users add <name> --role admin -d ${options.dataDir}\`\n`);
        return;
      }
      const records = withStore(options.dataDir, (store) => store.list());
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(records.map(userView), null, 2)}\n`);
        return;
      }
      if (records.length === 0) {
        process.stdout.write(`no users in ${options.dataDir} yet\n`);
        return;
      }
      const now = Date.now();
      const rows = records.map((record) => [
        record.username,
        record.role,
        record.totpSecret === null ? 'no' : 'yes',
        record.totpSecret === null ? '-' : String(record.recoveryCodeHashes.length),
        record.disabled ? 'yes' : 'no',
        lockedText(record, now),
      ]);
      process.stdout.write(table([['USER', 'ROLE', 'MFA', 'RECOVERY-CODES', 'DISABLED', 'LOCKED'], ...rows]));
    });

  dataDirOption(users.command('disable').description('refuse every login of a user (kept for the audit trail; enable undoes it)').argument('<name>', 'username'))
    .action((name: string, options: UsersOptions) => {
      const changed = withStore(options.dataDir, (store) => {
        const record = existing(store, name, options.dataDir);
        return record.disabled ? false : store.setDisabled(record.username, true, Date.now());
      });
      if (!changed) {
        process.stdout.write(`${name} is already disabled\n`);
        return;
      }
      audit(options.dataDir, 'user-disabled', { username: name });
      process.stdout.write(`disabled ${name}: every login is refused from now on\n`);
    });

  dataDirOption(users.command('enable').description('let a disabled user log in again; also ends a lockout early').argument('<name>', 'username'))
    .action((name: string, options: UsersOptions) => {
      const now = Date.now();
      const before = withStore(options.dataDir, (store) => {
        const record = existing(store, name, options.dataDir);
        store.setDisabled(record.username, false, now);
        store.clearLockout(record.username, now);
        return record;
      });
      const wasLocked = before.lockedUntil !== null && before.lockedUntil > now;
      if (!before.disabled && !wasLocked) {
        process.stdout.write(`${name} is already enabled and not locked out\n`);
        return;
      }
      audit(options.dataDir, 'user-enabled', { username: name, wasDisabled: before.disabled, wasLocked });
      process.stdout.write(`enabled ${name}${wasLocked ? ' (lockout ended)' : ''}\n`);
    });

  dataDirOption(users.command('reset-mfa').description('clear a user\'s authenticator and recovery codes (a lost phone): they enrol again at the next login').argument('<name>', 'username'))
    .action((name: string, options: UsersOptions) => {
      const before = withStore(options.dataDir, (store) => {
        const record = existing(store, name, options.dataDir);
        store.resetMfa(record.username, Date.now());
        return record;
      });
      if (before.totpSecret === null && before.recoveryCodeHashes.length === 0) {
        process.stdout.write(`${name} has no second factor enrolled; nothing to reset\n`);
        return;
      }
      audit(options.dataDir, 'mfa-reset', { username: name });
      process.stdout.write(`reset the second factor of ${name}: the authenticator and the recovery codes no longer work; ${name} enrols again at the next login\n`);
    });

  dataDirOption(users.command('recovery-codes').description('issue a fresh set of recovery codes (the old ones stop working) and print them once').argument('<name>', 'username'))
    .action((name: string, options: UsersOptions) => {
      const codes = withStore(options.dataDir, (store) => {
        const record = existing(store, name, options.dataDir);
        if (record.totpSecret === null) fail(`${name} has not enrolled a second factor yet; recovery codes are issued at enrolment (first login)`);
        const issued = issueRecoveryCodes(record.username);
        store.setRecoveryCodes(record.username, issued.hashes, Date.now());
        return issued.codes;
      });
      audit(options.dataDir, 'recovery-codes-issued', { username: name, count: codes.length });
      process.stdout.write(`Recovery codes for ${name}. Each works once, in place of the authenticator code; the previous ones no longer work. Hand them over privately: they are not shown again.\n\n${codes.map((code) => `  ${code}`).join('\n')}\n`);
    });
}
