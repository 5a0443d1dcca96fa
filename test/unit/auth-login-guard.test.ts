import { describe, expect, it } from 'vitest';
import { LoginGuard } from '../../agent/src/auth/login-guard.ts';

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

describe('LoginGuard, IPv6 sources', () => {
  it('counts an IPv6 /64 as one source: ten addresses of one /64 are one burst, and the whole /64 is refused', () => {
    const guard = new LoginGuard();
    const bursts = [];
    for (let host = 1; host <= 10; host++) {
      const burst = guard.recordAddressFailure(`2001:db8:4:7:${host.toString(16)}::${host}`, `user${host}`, T0 + host);
      if (burst !== null) bursts.push(burst);
    }
    expect(bursts).toHaveLength(1);
    expect(bursts[0]).toMatchObject({ address: '2001:db8:4:7::/64', failures: 10 });
    expect(guard.addressBlockedUntil('2001:db8:4:7:ffff:ffff:ffff:ffff', T0 + 11)).toBe(T0 + 1 + 5 * MINUTE);
    // Another /64 of the same site is another source.
    expect(guard.addressBlockedUntil('2001:db8:4:8::1', T0 + 11)).toBeNull();
    expect(guard.tracked.addresses).toBe(1);
  });

  it('an IPv4-mapped address is its IPv4 address; zone ids and a dotted tail are read', () => {
    const guard = new LoginGuard({ maxAddressFailures: 2 });
    guard.recordAddressFailure('::ffff:10.4.0.66', 'a', T0);
    expect(guard.recordAddressFailure('10.4.0.66', 'b', T0 + 1)).toMatchObject({ address: '10.4.0.66' });
    const zoned = new LoginGuard({ maxAddressFailures: 2 });
    zoned.recordAddressFailure('fe80::1%eth0', 'a', T0);
    expect(zoned.recordAddressFailure('fe80::0:0:0:2', 'b', T0 + 1)).toMatchObject({ address: 'fe80:0:0:0::/64' });
    const dotted = new LoginGuard({ maxAddressFailures: 2 });
    dotted.recordAddressFailure('64:ff9b::10.4.0.66', 'a', T0);
    expect(dotted.recordAddressFailure('64:ff9b::192.0.2.1', 'b', T0 + 1)).toMatchObject({ address: '64:ff9b:0:0::/64' });
  });
});
