import { describe, expect, it } from 'vitest';
import { beginEnrolment } from '../../agent/src/auth/enrolment.ts';
import { USER_ROLES, may } from '../../agent/src/auth/roles.ts';
import { accessFor, API_ROUTES, roleMay } from '../../agent/src/server/access.ts';
import { clearCookie, setCookie } from '../../agent/src/server/cookies.ts';
import { SessionStore, type SessionEndReason } from '../../agent/src/server/sessions.ts';

/** Sessions with the clock in the test's hand: idle and absolute limits walked through in microseconds. */
function storeAt(options: ConstructorParameters<typeof SessionStore>[0] = {}): { store: SessionStore; clock: { now: number }; ended: [string, SessionEndReason][] } {
  const clock = { now: 1_000_000 };
  const store = new SessionStore(options, () => clock.now);
  const ended: [string, SessionEndReason][] = [];
  store.onEnd((session, reason) => ended.push([session.username, reason]));
  return { store, clock, ended };
}

const nurse = { username: 'rn-a', role: 'nurse' } as const;

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
    ['GET', '/api/alerts', ['nurse', 'biomed', 'admin']],
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
