import { describe, expect, it } from 'vitest';
import { LoginGuard, type LoginBurst } from '../../agent/src/auth/login-guard.ts';
import { loginSource } from '../../agent/src/auth/login-source.ts';

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);

describe('LoginGuard, per account', () => {
  const guard = new LoginGuard();

  it('locks for 15 minutes at the fifth consecutive failure, not before', () => {
    for (let failures = 1; failures < 5; failures++) expect(guard.lockFor(failures, T0)).toBeNull();
    expect(guard.lockFor(5, T0)).toBe(T0 + 15 * MINUTE);
  });

  it('says an account is locked until the lock ends, and not after', () => {
    const until = T0 + 15 * MINUTE;
    expect(guard.lockedUntil(until, T0 + 14 * MINUTE)).toBe(until);
    expect(guard.lockedUntil(until, until)).toBeNull();
    expect(guard.lockedUntil(null, T0)).toBeNull();
  });

  it('takes another threshold and duration', () => {
    const strict = new LoginGuard({ maxAccountFailures: 3, lockoutMs: 60 * MINUTE });
    expect(strict.lockFor(3, T0)).toBe(T0 + 60 * MINUTE);
  });

  it('locks usernames that do not exist in the same way, so a lockout does not reveal which exist', () => {
    const phantom = new LoginGuard();
    for (let attempt = 0; attempt < 4; attempt++) phantom.recordUnknownAccountFailure('mallory', T0 + attempt);
    expect(phantom.unknownAccountLockedUntil('mallory', T0 + 4)).toBeNull();
    phantom.recordUnknownAccountFailure('mallory', T0 + 5);
    expect(phantom.unknownAccountLockedUntil('mallory', T0 + 6)).toBe(T0 + 5 + 15 * MINUTE);
    expect(phantom.unknownAccountLockedUntil('mallory', T0 + 5 + 15 * MINUTE)).toBeNull();
  });
});

describe('LoginGuard, per address', () => {
  it('reports one burst at the tenth failure within 5 minutes and refuses the address until they age out', () => {
    const guard = new LoginGuard();
    const bursts = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      expect(guard.addressBlockedUntil('10.4.0.66', T0 + attempt * 1000)).toBeNull();
      const burst = guard.recordAddressFailure('10.4.0.66', `user${attempt % 3}`, T0 + attempt * 1000);
      if (burst !== null) bursts.push(burst);
    }
    expect(bursts).toEqual([{ address: '10.4.0.66', failures: 10, windowMs: 5 * MINUTE, ts: T0 + 9000, usernames: ['user0', 'user1', 'user2'] }]);
    expect(guard.addressBlockedUntil('10.4.0.66', T0 + 10_000)).toBe(T0 + 5 * MINUTE);
    expect(guard.addressBlockedUntil('10.4.0.67', T0 + 10_000)).toBeNull();
    expect(guard.addressBlockedUntil('10.4.0.66', T0 + 5 * MINUTE)).toBeNull();
  });

  it('keeps an address that goes on hammering refused, reporting the burst once; a new burst after a quiet window is reported again', () => {
    const guard = new LoginGuard();
    let reports = 0;
    let t = T0;
    for (let attempt = 0; attempt < 200; attempt++, t += 2000) {
      if (guard.recordAddressFailure('10.4.0.66', 'admin', t) !== null) reports++;
    }
    expect(reports).toBe(1);
    expect(guard.addressBlockedUntil('10.4.0.66', t)).not.toBeNull();
    t += 5 * MINUTE;
    expect(guard.addressBlockedUntil('10.4.0.66', t)).toBeNull();
    for (let attempt = 0; attempt < 10; attempt++, t += 1000) {
      if (guard.recordAddressFailure('10.4.0.66', 'admin', t) !== null) reports++;
    }
    expect(reports).toBe(2);
  });

  it('does not count failures spread wider than the window (ten take more than 5 minutes)', () => {
    const guard = new LoginGuard();
    for (let attempt = 0; attempt < 50; attempt++) expect(guard.recordAddressFailure('10.4.0.9', 'nurse', T0 + attempt * 35_000)).toBeNull();
    expect(guard.addressBlockedUntil('10.4.0.9', T0 + 50 * 35_000)).toBeNull();
  });

  it('is bounded: past maxTracked the least recently failing entry is forgotten, and counted', () => {
    const guard = new LoginGuard({ maxTracked: 100 });
    for (let index = 0; index < 250; index++) guard.recordAddressFailure(`10.9.${index >> 8}.${index & 255}`, 'x', T0);
    expect(guard.tracked.addresses).toBe(100);
    expect(guard.evictions).toBe(150);
  });
});

/** `count` failed logins from `address`, `stepMs` apart from `start`, usernames user0, user1, …; the bursts the guard reports. */
function fail(guard: LoginGuard, address: string, count: number, start: number, stepMs: number): LoginBurst[] {
  const bursts: LoginBurst[] = [];
  for (let attempt = 0; attempt < count; attempt++) {
    const burst = guard.recordAddressFailure(address, `user${attempt}`, start + attempt * stepMs);
    if (burst !== null) bursts.push(burst);
  }
  return bursts;
}

describe('LoginGuard, IPv6: per address, and per /64 at ten times the limit', () => {
  it('one station of a ward\'s shared /64 failing twice a minute, then hammering, gets only itself refused; the other stations log in', () => {
    const guard = new LoginGuard();
    const slow = fail(guard, '2001:db8:4:7::66', 60, T0, 30_000);
    const fast = fail(guard, '2001:db8:4:7::66', 1_000, T0 + 30 * MINUTE, 50);
    const end = T0 + 31 * MINUTE;
    expect(slow).toEqual([{ address: '2001:db8:4:7::66', failures: 10, windowMs: 5 * MINUTE, ts: T0 + 9 * 30_000, usernames: Array.from({ length: 10 }, (_, index) => `user${index}`) }]);
    expect(fast).toEqual([]);
    expect(guard.addressBlockedUntil('2001:db8:4:7::66', end)).not.toBeNull();
    for (const station of ['2001:db8:4:7::a1', '2001:db8:4:7:1c2d:3e4f:5a6b:7c8d', '2001:db8:4:7::67']) expect(guard.addressBlockedUntil(station, end)).toBeNull();
    expect(guard.tracked).toMatchObject({ addresses: 1, prefixes: 1 });
  });

  it('a host rotating addresses in its /64 is refused at the /64 limit: the 100th attempt reports the /64 as a prefix, and every address of it is refused', () => {
    const guard = new LoginGuard();
    const bursts: LoginBurst[] = [];
    for (let host = 1; host <= 10; host++) bursts.push(...fail(guard, `2001:db8:4:7:a:b:c:${host.toString(16)}`, 10, T0 + (host - 1) * 10_000, 1000));
    // Nine addresses crossed their own limit; the tenth crossed it with the /64's 100th attempt, reported as the /64 (it covers the address).
    expect(bursts.map((burst) => burst.address)).toEqual([...Array.from({ length: 9 }, (_, index) => `2001:db8:4:7:a:b:c:${index + 1}`), '2001:db8:4:7::/64']);
    expect(bursts[9]).toEqual({ address: '2001:db8:4:7::/64', failures: 100, windowMs: 5 * MINUTE, ts: T0 + 99_000, usernames: Array.from({ length: 10 }, (_, index) => `user${index}`) });
    expect(guard.addressBlockedUntil('2001:db8:4:7:ffff:ffff:ffff:ffff', T0 + 100_000)).toBe(T0 + 5 * MINUTE);
    expect(guard.addressBlockedUntil('2001:db8:4:7:ffff:ffff:ffff:ffff', T0 + 5 * MINUTE)).toBeNull();
    expect(guard.addressBlockedUntil('2001:db8:4:8::1', T0 + 100_000)).toBeNull();
  });

  it('99 attempts from the /64 within the window refuse only the addresses that reached ten', () => {
    const guard = new LoginGuard();
    for (let host = 1; host <= 9; host++) fail(guard, `2001:db8:4:7::${host}`, 10, T0 + host * 10_000, 100);
    expect(fail(guard, '2001:db8:4:7::a', 9, T0 + 100_000, 100)).toEqual([]);
    expect(guard.addressBlockedUntil('2001:db8:4:7::a', T0 + 101_000)).toBeNull();
    expect(guard.addressBlockedUntil('2001:db8:4:7::b', T0 + 101_000)).toBeNull();
    expect(guard.addressBlockedUntil('2001:db8:4:7::1', T0 + 101_000)).not.toBeNull();
  });

  it('keeps a /64 refused while the guessing goes on, reported once; a station retrying meanwhile is let in with the /64, not refused on its own', () => {
    const guard = new LoginGuard();
    let t = T0;
    let bursts = 0;
    // A fresh address every 10 attempts, one attempt every 2 s, for 15 minutes.
    for (let attempt = 0; attempt < 450; attempt++, t += 2000) {
      if (guard.recordAddressFailure(`2001:db8:4:7:dead:beef:0:${Math.floor(attempt / 10).toString(16)}`, 'admin', t) !== null) bursts++;
    }
    const stopped = t - 2000;
    // The station's ten tries during the last minute are refused by the /64.
    for (let attempt = 0; attempt < 10; attempt++) guard.recordAddressFailure('2001:db8:4:7::a1', 'rn-patel', stopped - 60_000 + attempt * 6000);
    // 9 addresses' own bursts and the /64's, then nothing more: the /64 was refused throughout.
    expect(bursts).toBe(10);
    const prefixUntil = guard.addressBlockedUntil('2001:db8:4:7::a2', stopped);
    expect(prefixUntil).not.toBeNull();
    expect(prefixUntil).toBeGreaterThan(stopped);
    expect(guard.addressBlockedUntil('2001:db8:4:7::a1', (prefixUntil as number) - 1)).toBe(prefixUntil);
    expect(guard.addressBlockedUntil('2001:db8:4:7::a1', prefixUntil as number)).toBeNull();
    // A new round of guessing after a quiet window is a new burst of the /64.
    expect(fail(guard, '2001:db8:4:7:1::1', 10, stopped + 6 * MINUTE, 100).map((burst) => burst.address)).toEqual(['2001:db8:4:7:1::1']);
  });

  it('an IPv6 address is named in RFC 5952 text, and one address spelt two ways is one source', () => {
    const guard = new LoginGuard();
    fail(guard, '2001:DB8:4:7:0:0:0:66', 5, T0, 1000);
    expect(fail(guard, '2001:0db8:0004:0007::0066', 5, T0 + 5000, 1000)).toMatchObject([{ address: '2001:db8:4:7::66', failures: 10 }]);
    expect(guard.tracked).toMatchObject({ addresses: 1, prefixes: 1 });
  });

  it('is bounded: both tables keep at most maxTracked entries, the rest forgotten and counted', () => {
    const guard = new LoginGuard({ maxTracked: 100 });
    for (let index = 0; index < 250; index++) guard.recordAddressFailure(`2001:db8:4:${index.toString(16)}::1`, 'x', T0);
    expect(guard.tracked).toMatchObject({ addresses: 100, prefixes: 100 });
    expect(guard.evictions).toBe(300);
  });
});

describe('LoginGuard, IPv4 behind IPv6, and link-local', () => {
  it('an IPv4-mapped address, dotted or in hex, is its IPv4 address', () => {
    const guard = new LoginGuard({ maxAddressFailures: 3 });
    guard.recordAddressFailure('::ffff:10.4.0.66', 'a', T0);
    guard.recordAddressFailure('::FFFF:a04:42', 'b', T0 + 1);
    expect(guard.recordAddressFailure('10.4.0.66', 'c', T0 + 2)).toMatchObject({ address: '10.4.0.66', failures: 3 });
    expect(guard.tracked).toMatchObject({ addresses: 1, prefixes: 0 });
  });

  it('RFC 6052 translated clients (64:ff9b::/96) are each their embedded IPv4 address, with no /64: 200 of them failing nine times refuse none', () => {
    const guard = new LoginGuard();
    for (let client = 0; client < 200; client++) expect(fail(guard, `64:ff9b::192.0.2.${client}`, 9, T0 + client * 10, 1)).toEqual([]);
    expect(guard.addressBlockedUntil('64:ff9b::192.0.2.250', T0 + 3000)).toBeNull();
    expect(guard.tracked).toMatchObject({ addresses: 200, prefixes: 0 });
    // The same client through the translator, in hex, and directly is one source.
    expect(guard.recordAddressFailure('64:ff9b::c000:207', 'x', T0 + 3000)).toMatchObject({ address: '192.0.2.7', failures: 10 });
    expect(guard.addressBlockedUntil('192.0.2.7', T0 + 3001)).not.toBeNull();
    expect(guard.addressBlockedUntil('64:ff9b::192.0.2.8', T0 + 3001)).toBeNull();
  });

  it('link-local addresses (fe80::/10) are counted each on its own, zone id dropped, with no /64: 200 hosts failing nine times refuse none', () => {
    const guard = new LoginGuard();
    for (let host = 1; host <= 200; host++) expect(fail(guard, `fe80::${host.toString(16)}%eth0`, 9, T0 + host * 10, 1)).toEqual([]);
    expect(guard.tracked).toMatchObject({ addresses: 200, prefixes: 0 });
    expect(guard.addressBlockedUntil('fe80::ffff', T0 + 3000)).toBeNull();
    expect(guard.recordAddressFailure('fe80::1%eth1', 'x', T0 + 3000)).toMatchObject({ address: 'fe80::1', failures: 10 });
    expect(guard.addressBlockedUntil('fe80::1', T0 + 3001)).not.toBeNull();
    expect(loginSource('febf::1')).toEqual({ address: 'febf::1', prefix64: null });
    expect(loginSource('fe80::1%')).toEqual({ address: 'fe80::1', prefix64: null });
    // ::/64 holds no subnet of hosts, only the loopback and deprecated forms: no /64 either.
    expect(loginSource('::1')).toEqual({ address: '::1', prefix64: null });
  });
});

describe('loginSource', () => {
  it('writes IPv6 as RFC 5952 says: lower case, no leading zeros, the longest run of zero groups (the first of equals) as ::, never a single one', () => {
    expect(loginSource('2001:0DB8:0000:0000:0000:0000:0002:0001')).toEqual({ address: '2001:db8::2:1', prefix64: '2001:db8::/64' });
    expect(loginSource('2001:db8:0:0:1:0:0:1')).toEqual({ address: '2001:db8::1:0:0:1', prefix64: '2001:db8::/64' });
    expect(loginSource('2001:db8:0:1:1:1:1:1')).toEqual({ address: '2001:db8:0:1:1:1:1:1', prefix64: '2001:db8:0:1::/64' });
    expect(loginSource('fd00:4:7:9:0:0:0:0')).toEqual({ address: 'fd00:4:7:9::', prefix64: 'fd00:4:7:9::/64' });
    expect(loginSource('10.4.0.66')).toEqual({ address: '10.4.0.66', prefix64: null });
  });

  it('never throws on junk, keeps what it cannot read as a bounded key of its own, with no /64', () => {
    const junk = ['', 'unknown', 'not an address', '1.2.3', '10.4.0.256', ':::', '2001:db8::1::2', '%eth0', '::ffff:999.1.1.1', '64:ff9b::1.2.3.4.5', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', 'x'.repeat(100_000), '\u0000\n::1'];
    for (const text of junk) {
      const source = loginSource(text);
      expect(source.prefix64).toBeNull();
      expect(source.address).toBe(text.slice(0, 64));
    }
    expect(() => loginSource(undefined as unknown as string)).not.toThrow();
    const guard = new LoginGuard();
    for (const text of junk) expect(fail(guard, text, 10, T0, 1)).toHaveLength(1);
    expect(guard.addressBlockedUntil('x'.repeat(64), T0 + 100)).not.toBeNull();
  });
});
