import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { beginEnrolment } from '../../agent/src/auth/enrolment.ts';
import { ROLE_PERMISSIONS, UNATTENDED_ROLES, USER_ROLES, may } from '../../agent/src/auth/roles.ts';
import { USERS_DB_FILE, UserStore } from '../../agent/src/auth/user-store.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { accessFor, API_ROUTES, roleMay } from '../../agent/src/server/access.ts';
import { clearCookie, setCookie } from '../../agent/src/server/cookies.ts';
import { SessionStore, type SessionEndReason } from '../../agent/src/server/sessions.ts';
import { configIssuesOf, demoConfigWith, loadDemoConfig } from '../helpers/demo-config.ts';

/** Sessions with the clock in the test's hand: idle and absolute limits walked through in microseconds. */
function storeAt(options: ConstructorParameters<typeof SessionStore>[0] = {}): { store: SessionStore; clock: { now: number }; ended: [string, SessionEndReason][] } {
  const clock = { now: 1_000_000 };
  const store = new SessionStore(options, () => clock.now);
  const ended: [string, SessionEndReason][] = [];
  store.onEnd((session, reason) => ended.push([session.username, reason]));
  return { store, clock, ended };
}

const nurse = { username: 'rn-a', role: 'nurse' } as const;
const display = { username: 'wall-4w', role: 'display' } as const;
const HOUR = 3_600_000;

describe('dashboard sessions', () => {
  it('ids are 32 random bytes in base64url, a new one per session', () => {
    const { store } = storeAt();
    const ids = new Set(Array.from({ length: 100 }, () => store.create(nurse, '10.0.0.1').id));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from([...ids][0] ?? '', 'base64url')).toHaveLength(32);
  });

  it('idle timeout: use renews it, a peek does not; past it the session ends as idle', () => {
    const { store, clock, ended } = storeAt({ idleMs: 15 * 60_000 });
    const session = store.create(nurse, '10.0.0.1');
    clock.now += 14 * 60_000;
    expect(store.use(session.id)?.username).toBe('rn-a');
    clock.now += 14 * 60_000;
    expect(store.peek(session.id)).not.toBeNull();
    clock.now += 60_000;
    expect(store.peek(session.id)).toBeNull();
    expect(ended).toEqual([['rn-a', 'idle']]);
  });

  it('absolute lifetime: 12 h after login the session ends however much it is used', () => {
    const { store, clock, ended } = storeAt();
    const session = store.create(nurse, '10.0.0.1');
    for (let minutes = 0; minutes < 12 * 60 - 10; minutes += 10) {
      clock.now += 10 * 60_000;
      expect(store.use(session.id)).not.toBeNull();
    }
    clock.now += 10 * 60_000;
    expect(store.use(session.id)).toBeNull();
    expect(ended).toEqual([['rn-a', 'expired']]);
  });

  it('sweep ends what has expired and tells the listeners (the hub closes those feeds)', () => {
    const { store, clock, ended } = storeAt({ idleMs: 1_000 });
    store.create(nurse, 'a');
    const kept = store.create({ username: 'rn-b', role: 'nurse' }, 'b');
    clock.now += 800;
    store.use(kept.id);
    clock.now += 300;
    expect(store.sweep()).toBe(1);
    expect(ended).toEqual([['rn-a', 'idle']]);
    expect(store.size).toBe(1);
  });

  it('is bounded: past the cap the least recently used session is ended and counted', () => {
    const { store, ended } = storeAt({ maxSessions: 3 });
    const first = store.create({ username: 'u1', role: 'nurse' }, 'x');
    store.create({ username: 'u2', role: 'nurse' }, 'x');
    store.create({ username: 'u3', role: 'nurse' }, 'x');
    store.use(first.id);
    store.create({ username: 'u4', role: 'nurse' }, 'x');
    expect(store.size).toBe(3);
    expect(store.evictions).toBe(1);
    expect(ended).toEqual([['u2', 'evicted']]);
    expect(store.peek(first.id)).not.toBeNull();
  });

  it('one account past its own cap loses its own least recently used session, never another account\'s', () => {
    const { store, ended } = storeAt({ maxSessions: 10, maxSessionsPerUser: 2 });
    const other = store.create({ username: 'rn-b', role: 'nurse' }, 'x');
    const first = store.create(nurse, 'x');
    const second = store.create(nurse, 'x');
    store.use(first.id);
    const third = store.create(nurse, 'x');
    expect(ended).toEqual([['rn-a', 'evicted']]);
    expect(store.peek(second.id)).toBeNull();
    expect([first, third, other].map((session) => store.peek(session.id)?.id)).toEqual([first.id, third.id, other.id]);
    expect(store.evictions).toBe(1);
  });

  it('a full table ends attended sessions before a wall display, which is never "used" and so is always least recently used', () => {
    const { store, ended } = storeAt({ maxSessions: 3 });
    const wall = store.create(display, '10.0.0.9');
    store.create({ username: 'u1', role: 'nurse' }, 'x');
    store.create({ username: 'u2', role: 'biomed' }, 'x');
    store.create({ username: 'u3', role: 'nurse' }, 'x');
    expect(ended).toEqual([['u1', 'evicted']]);
    expect(store.peek(wall.id)).not.toBeNull();
    // Only displays left: then the oldest display goes.
    const { store: walls, ended: wallsEnded } = storeAt({ maxSessions: 2 });
    walls.create({ username: 'wall-a', role: 'display' }, 'x');
    walls.create({ username: 'wall-b', role: 'display' }, 'x');
    walls.create({ username: 'wall-c', role: 'display' }, 'x');
    expect(wallsEnded).toEqual([['wall-a', 'evicted']]);
  });

  it('logout deletes; malformed and unknown ids are nobody', () => {
    const { store, ended } = storeAt();
    const session = store.create(nurse, 'x');
    expect(store.delete(session.id, 'logout')).toBe(true);
    expect(store.delete(session.id, 'logout')).toBe(false);
    expect(store.peek(session.id)).toBeNull();
    expect(store.peek(undefined)).toBeNull();
    expect(store.peek('short')).toBeNull();
    expect(store.peek(`${'A'.repeat(42)}=`)).toBeNull();
    expect(ended).toEqual([['rn-a', 'logout']]);
  });

  it('a wall display\'s session has no idle timeout: 166 hours untouched (only a peek now and then, as its live feed does) and still alive', () => {
    const { store, clock, ended } = storeAt({ idleMs: 15 * 60_000 });
    const wall = store.create(display, '10.0.0.9');
    const station = store.create(nurse, '10.0.0.1');
    clock.now += 16 * 60_000;
    expect(store.peek(station.id)).toBeNull();
    expect(store.peek(wall.id)?.username).toBe('wall-4w');
    for (let hours = 1; hours < 167; hours += 1) {
      clock.now += HOUR;
      expect(store.sweep()).toBe(0);
    }
    expect(store.peek(wall.id)).not.toBeNull();
    expect(store.idleMsOf(wall)).toBeNull();
    expect(store.idleMsOf(station)).toBe(15 * 60_000);
    expect(ended).toEqual([['rn-a', 'idle']]);
  });

  it('a wall display\'s session ends displayAbsoluteMs after its login (default 168 h), however it is used, as "expired"', () => {
    const { store, clock, ended } = storeAt();
    expect(store.options.displayAbsoluteMs).toBe(168 * HOUR);
    const wall = store.create(display, '10.0.0.9');
    clock.now += 168 * HOUR - 1;
    expect(store.use(wall.id)).not.toBeNull();
    expect(store.remainingMs(wall)).toBe(1);
    clock.now += 1;
    expect(store.sweep()).toBe(1);
    expect(store.peek(wall.id)).toBeNull();
    expect(ended).toEqual([['wall-4w', 'expired']]);
  });

  it('the display lifetime is its own: a shorter one ends a display first, and a nurse keeps the 12 h lifetime and the idle timeout', () => {
    const { store, clock, ended } = storeAt({ displayAbsoluteMs: 2 * HOUR, idleMs: 3 * HOUR });
    const wall = store.create(display, 'w');
    const station = store.create(nurse, 's');
    clock.now += 2 * HOUR;
    store.use(station.id);
    expect(store.peek(wall.id)).toBeNull();
    expect(store.remainingMs(station)).toBe(3 * HOUR);
    clock.now += 10 * HOUR;
    expect(store.peek(station.id)).toBeNull();
    expect(ended).toEqual([['wall-4w', 'expired'], ['rn-a', 'expired']]);
  });

  it('pre-login sessions hold a pending enrolment for 10 minutes, then forget it and wipe the secret', () => {
    const { store, clock } = storeAt();
    const enrolment = beginEnrolment('rn-new');
    const pending = store.createPreLogin('rn-new', enrolment);
    clock.now += 9 * 60_000;
    expect(store.getPreLogin(pending.id)?.username).toBe('rn-new');
    clock.now += 60_000;
    expect(store.getPreLogin(pending.id)).toBeNull();
    expect(enrolment.secret.every((byte) => byte === 0)).toBe(true);
  });
});

describe('dashboard cookies', () => {
  it('HttpOnly, SameSite=Strict, Path=/, Secure only over TLS; cleared with Max-Age=0', () => {
    expect(setCookie('wardwatch_session', 'abc', { secure: false })).toBe('wardwatch_session=abc; Path=/; HttpOnly; SameSite=Strict');
    expect(setCookie('wardwatch_session', 'abc', { secure: true })).toBe('wardwatch_session=abc; Path=/; HttpOnly; SameSite=Strict; Secure');
    expect(clearCookie('wardwatch_session', true)).toBe('wardwatch_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure');
  });
});

describe('API access table', () => {
  it('only login, enrol, logout and session are public; every other route names a permission', () => {
    expect(API_ROUTES.filter((route) => route.permission === null).map((route) => `${route.method} ${route.path.source}`)).toEqual([
      'POST ^\\/api\\/login$', 'POST ^\\/api\\/enrol$', 'POST ^\\/api\\/logout$', 'GET ^\\/api\\/session$',
    ]);
    expect(accessFor('GET', '/api/nothing').kind).toBe('unknown');
    expect(accessFor('DELETE', '/api/alerts').kind).toBe('unknown');
  });

  it.each([
    ['GET', '/api/alerts', ['display', 'nurse', 'biomed', 'admin']],
    ['GET', '/api/devices', ['display', 'nurse', 'biomed', 'admin']],
    ['POST', '/api/alerts/0b9f4d2e-1c1a-4c55-9d0e-2f7b1f7c9a10/ack', ['nurse', 'biomed', 'admin']],
    ['GET', '/api/baseline', ['biomed', 'admin']],
    ['GET', '/api/users', ['admin']],
    ['GET', '/api/audit', ['admin']],
  ] as const)('%s %s: %j', (method, path, allowed) => {
    const access = accessFor(method, path);
    if (access.kind !== 'protected') throw new Error('expected a protected route');
    expect(USER_ROLES.filter((role) => roleMay(role, access.route))).toEqual(allowed);
    expect(roleMay('surgeon', access.route)).toBe(false);
    expect(may('admin', access.route.permission ?? '')).toBe(true);
  });
});

describe('the display role', () => {
  it('may only look: alerts.view and nothing else, so it may not acknowledge', () => {
    expect([...ROLE_PERMISSIONS.display]).toEqual(['alerts.view']);
    expect(may('display', 'alerts.acknowledge')).toBe(false);
  });

  it('dashboard.displaySessionHours: 168 by default, 1 to 720, whole hours; anything else refused by path', () => {
    expect(loadDemoConfig().dashboard.displaySessionHours).toBe(168);
    const accepted = parseSiteConfig(demoConfigWith((doc) => (doc.dashboard = { displaySessionHours: 720 })));
    expect(accepted.ok && accepted.config.dashboard.displaySessionHours).toBe(720);
    for (const bad of [0, 721, 1.5, '24']) {
      expect(configIssuesOf(demoConfigWith((doc) => (doc.dashboard = { displaySessionHours: bad }))).join('\n')).toMatch(/^dashboard\.displaySessionHours: /);
    }
  });

  it('every role spared the idle timeout changes nothing (only alerts.view)', () => {
    expect([...UNATTENDED_ROLES]).toEqual(['display']);
    for (const role of UNATTENDED_ROLES) expect([...ROLE_PERMISSIONS[role]]).toEqual(['alerts.view']);
  });

  it('a users.db made before the display role accepts one once opened: the role CHECK is rebuilt, every row kept as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-users-migrate-'));
    try {
      const file = join(dir, USERS_DB_FILE);
      const old = new Database(file);
      // The table as the previous release made it.
      old.exec(`CREATE TABLE users (
        username TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('nurse', 'biomed', 'admin')),
        password_hash TEXT NOT NULL, totp_secret BLOB, totp_last_step INTEGER,
        recovery_codes TEXT NOT NULL DEFAULT '[]', disabled INTEGER NOT NULL DEFAULT 0,
        failed_logins INTEGER NOT NULL DEFAULT 0, locked_until INTEGER,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`);
      old.prepare("INSERT INTO users VALUES ('rn-a', 'nurse', 'scrypt$x', x'00ff', 7, '[\"h1\"]', 1, 3, 99, '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z')").run();
      expect(() => old.prepare("INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES ('wall', 'display', 'h', 't', 't')").run()).toThrow(/CHECK constraint/);
      const before = old.prepare("SELECT * FROM users WHERE username = 'rn-a'").get();
      old.close();

      const store = new UserStore(file);
      try {
        expect(store.add({ username: 'wall-4w', role: 'display', passwordHash: 'scrypt$y' }, 0).role).toBe('display');
        expect(store.get('rn-a')).toMatchObject({ role: 'nurse', totpLastStep: 7, recoveryCodeHashes: ['h1'], disabled: true, failedLogins: 3, lockedUntil: 99 });
        // Still refuses a role that does not exist.
        expect(() => store.add({ username: 'x-ray', role: 'surgeon' as 'nurse', passwordHash: 'h' }, 0)).toThrow(/CHECK constraint/);
      } finally {
        store.close();
      }
      const after = new Database(file, { readonly: true });
      expect(after.prepare("SELECT * FROM users WHERE username = 'rn-a'").get()).toEqual(before);
      expect(after.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all()).toEqual(['users']);
      after.close();
      // Opening again finds the current CHECK and leaves the table alone.
      new UserStore(file).close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
