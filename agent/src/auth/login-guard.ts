/**
 * The policy against password guessing on the dashboard login (OWASP Authentication Cheat
 * Sheet, "Protect against automated attacks"), as decisions over times the caller passes
 * in: no timers, no wall clock (DESIGN.md: detectors read event time), so a test or a
 * replay walks through a lockout in microseconds.
 *
 * - Per account: `maxAccountFailures` (5) consecutive failures lock the account for
 *   `lockoutMs` (15 min). The count and the lock live in the user store, so that they
 *   survive a restart and `users list` shows them; this class only decides.
 * - Per username that does not exist: the same count and lock, kept here in memory, so that
 *   "locked" is answered for made-up names too and a lockout does not reveal which
 *   usernames are real.
 * - Per address (login-source.ts: an IPv4 address, an IPv4 client behind IPv4-mapped or
 *   RFC 6052 translated IPv6 as its IPv4, any other IPv6 address as itself):
 *   `maxAddressFailures` (10) failed or refused attempts within `addressWindowMs` (5 min)
 *   refuse that address, whatever the username, until its attempts age out of the window
 *   (refused attempts count too, so an address that keeps hammering stays refused). This is
 *   what catches one host spraying many usernames.
 * - Per IPv6 /64 (global and unique-local addresses only): `maxPrefixFailures` (100)
 *   attempts within the same window refuse the whole /64. One host picks addresses at will
 *   within its /64 (RFC 8981), so without this it would take ten guesses from each of 2^64
 *   addresses; but a ward's stations usually share one /64, so the /64 limit is ten times
 *   the address's, and an attempt from an address already refused on its own is not counted
 *   for its /64: one misbehaving station adds at most about ten attempts a window and gets
 *   only itself refused, however fast it retries, while a host rotating addresses is refused
 *   after ten of them (100 guesses a window, ten times what one IPv4 address gets). An
 *   attempt refused because its /64 is refused counts for the /64 only (it keeps the /64
 *   refused while the guessing goes on, and does not leave a nurse's station refused on its
 *   own after the /64 is let go).
 *
 * The attempt that makes an address or a /64 reach its limit is reported once as a burst
 * (the /64's names the prefix, `2001:db8:4:7::/64`), which the HTTP layer raises as the
 * alert `dashboard-login-burst`; when one attempt does both, the /64's burst is the one
 * reported (it covers the address).
 *
 * The in-memory tables are bounded (DESIGN.md, principle 3): past `maxTracked` entries each
 * the least recently failing is forgotten, and `evictions` counts it; each entry keeps at
 * most its limit of times and `maxAddressFailures` usernames.
 */
import { loginSource } from './login-source.ts';

export interface LoginGuardOptions {
  readonly maxAccountFailures: number;
  readonly lockoutMs: number;
  readonly maxAddressFailures: number;
  readonly addressWindowMs: number;
  /** Attempts from one IPv6 /64 within `addressWindowMs` that refuse the /64 (see the class comment for why ten times the address's). */
  readonly maxPrefixFailures: number;
  readonly maxTracked: number;
}

export const DEFAULT_LOGIN_GUARD: LoginGuardOptions = {
  maxAccountFailures: 5,
  lockoutMs: 15 * 60_000,
  maxAddressFailures: 10,
  addressWindowMs: 5 * 60_000,
  maxPrefixFailures: 100,
  maxTracked: 10_000,
};

/** A source that has just crossed its failure threshold: one report per burst. */
export interface LoginBurst {
  /** An address (IPv4, or IPv6 in RFC 5952 text), or an IPv6 prefix (`2001:db8:4:7::/64`) when the whole /64 crossed its own limit. */
  readonly address: string;
  /** Failed or refused attempts from the address or prefix within the window. */
  readonly failures: number;
  readonly windowMs: number;
  /** Event time (epoch ms) of the attempt that crossed the threshold. */
  readonly ts: number;
  /** The usernames tried from it within the window, in order of first try (at most `maxAddressFailures`, the most recently tried). */
  readonly usernames: readonly string[];
}

interface UnknownAccountState {
  failures: number;
  lockedUntil: number | null;
}

/** A Map that forgets its least recently touched key beyond `cap`. */
class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  evictions = 0;

  constructor(private readonly cap: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Stores and marks `key` as the most recently touched. */
  touch(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.cap) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.evictions++;
    }
  }

  get size(): number {
    return this.map.size;
  }
}

/** The failures of one address or /64 within the window. */
class FailureWindow {
  /** Times of the latest failures, oldest first, at most the table's limit. */
  readonly times: number[] = [];
  /** Each username tried, with the time it was last tried; in order of first try. */
  readonly usernames = new Map<string, number>();
  reported = false;

  /** Forgets what is not after `windowStart`. */
  age(windowStart: number): void {
    while (this.times.length > 0 && (this.times[0] as number) <= windowStart) this.times.shift();
    for (const [username, last] of this.usernames) if (last <= windowStart) this.usernames.delete(username);
  }

  /** Adds a failure; keeps at most `limit` times and `maxUsernames` usernames (the most recently tried). */
  add(username: string, now: number, limit: number, maxUsernames: number): void {
    this.times.push(now);
    if (this.times.length > limit) this.times.shift();
    this.usernames.set(username, now);
    if (this.usernames.size > maxUsernames) {
      let stalest: string | null = null;
      let stalestAt = Infinity;
      for (const [name, last] of this.usernames) {
        if (last < stalestAt) {
          stalest = name;
          stalestAt = last;
        }
      }
      if (stalest !== null) this.usernames.delete(stalest);
    }
  }
}

/** Failure windows by key (an address or a /64) with one limit: reaching it within the window refuses the key. */
class FailureTable {
  private readonly entries: BoundedMap<FailureWindow>;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxUsernames: number,
    maxTracked: number,
  ) {
    this.entries = new BoundedMap(maxTracked);
  }

  /** The time until which `key` is refused, or null when it may try. */
  refusedUntil(key: string, now: number): number | null {
    const window = this.entries.get(key);
    if (window === undefined || window.times.length < this.limit) return null;
    const until = (window.times[0] as number) + this.windowMs;
    return until > now ? until : null;
  }

  /** Counts a failure of `key`; returns the burst when this one reaches the limit and the burst was not reported yet. */
  record(key: string, username: string, now: number): LoginBurst | null {
    const window = this.entries.get(key) ?? new FailureWindow();
    window.age(now - this.windowMs);
    // Below the threshold again since the last report: the next crossing is a new burst.
    if (window.times.length < this.limit - 1) window.reported = false;
    window.add(username, now, this.limit, this.maxUsernames);
    this.entries.touch(key, window);
    if (window.times.length < this.limit || window.reported) return null;
    window.reported = true;
    return { address: key, failures: window.times.length, windowMs: this.windowMs, ts: now, usernames: [...window.usernames.keys()] };
  }

  get evictions(): number {
    return this.entries.evictions;
  }

  get size(): number {
    return this.entries.size;
  }
}

export class LoginGuard {
  readonly options: LoginGuardOptions;
  private readonly addresses: FailureTable;
  private readonly prefixes: FailureTable;
  private readonly unknownAccounts: BoundedMap<UnknownAccountState>;

  constructor(options: Partial<LoginGuardOptions> = {}) {
    this.options = { ...DEFAULT_LOGIN_GUARD, ...options };
    const { maxAddressFailures, maxPrefixFailures, addressWindowMs, maxTracked } = this.options;
    this.addresses = new FailureTable(maxAddressFailures, addressWindowMs, maxAddressFailures, maxTracked);
    this.prefixes = new FailureTable(maxPrefixFailures, addressWindowMs, maxAddressFailures, maxTracked);
    this.unknownAccounts = new BoundedMap(this.options.maxTracked);
  }

  /** The end of an account's lock if it is locked at `now`, else null. */
  lockedUntil(lockedUntil: number | null, now: number): number | null {
    return lockedUntil !== null && lockedUntil > now ? lockedUntil : null;
  }

  /** The lock that `failures` consecutive failures earn at `now`, or null (for UserStore.recordFailure). */
  lockFor(failures: number, now: number): number | null {
    return failures >= this.options.maxAccountFailures ? now + this.options.lockoutMs : null;
  }

  /** The time until which an address is refused, on its own or with its /64 (the later of the two), or null when it may try. */
  addressBlockedUntil(address: string, now: number): number | null {
    const source = loginSource(address);
    const own = this.addresses.refusedUntil(source.address, now);
    const prefix = source.prefix64 === null ? null : this.prefixes.refusedUntil(source.prefix64, now);
    if (own === null) return prefix;
    return prefix === null ? own : Math.max(own, prefix);
  }

  /**
   * Counts a failed or refused attempt from `address` (see the class comment for what counts
   * where); returns the burst when this attempt makes the address or its /64 cross its limit.
   */
  recordAddressFailure(address: string, username: string, now: number): LoginBurst | null {
    const source = loginSource(address);
    const ownRefused = this.addresses.refusedUntil(source.address, now) !== null;
    const prefixRefused = source.prefix64 !== null && this.prefixes.refusedUntil(source.prefix64, now) !== null;
    const own = ownRefused || !prefixRefused ? this.addresses.record(source.address, username, now) : null;
    const prefix = source.prefix64 !== null && !ownRefused ? this.prefixes.record(source.prefix64, username, now) : null;
    return prefix ?? own;
  }

  /** The lock of a username that does not exist, as if it did (see the class comment). */
  unknownAccountLockedUntil(username: string, now: number): number | null {
    return this.lockedUntil(this.unknownAccounts.get(username)?.lockedUntil ?? null, now);
  }

  recordUnknownAccountFailure(username: string, now: number): void {
    const state = this.unknownAccounts.get(username) ?? { failures: 0, lockedUntil: null };
    state.failures++;
    const until = this.lockFor(state.failures, now);
    if (until !== null) {
      state.lockedUntil = until;
      state.failures = 0;
    }
    this.unknownAccounts.touch(username, state);
  }

  /** Entries forgotten because a table was full: many addresses or names at once is itself worth a look. */
  get evictions(): number {
    return this.addresses.evictions + this.prefixes.evictions + this.unknownAccounts.evictions;
  }

  get tracked(): { readonly addresses: number; readonly prefixes: number; readonly unknownAccounts: number } {
    return { addresses: this.addresses.size, prefixes: this.prefixes.size, unknownAccounts: this.unknownAccounts.size };
  }
}
