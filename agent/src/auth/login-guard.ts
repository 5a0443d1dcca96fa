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
 * - Per source (an IPv4 address or an IPv6 /64, login-source.ts: one host picks IPv6
 *   addresses at will within its /64): `maxAddressFailures` (10) failed or refused attempts
 *   within `addressWindowMs` (5 min) refuse that source, whatever the username, until its
 *   attempts age out of the window (refused attempts count too, so an address that keeps
 *   hammering stays refused); the attempt that reaches the threshold is reported once as
 *   a burst, which the HTTP layer raises as the alert
 *   `dashboard-login-burst`. This is what catches one host spraying many usernames.
 *
 * Both in-memory tables are bounded (DESIGN.md, principle 3): past `maxTracked` entries the
 * least recently failing is forgotten, and `evictions` counts it.
 */
import { loginSource } from './login-source.ts';

export interface LoginGuardOptions {
  readonly maxAccountFailures: number;
  readonly lockoutMs: number;
  readonly maxAddressFailures: number;
  readonly addressWindowMs: number;
  readonly maxTracked: number;
}

export const DEFAULT_LOGIN_GUARD: LoginGuardOptions = {
  maxAccountFailures: 5,
  lockoutMs: 15 * 60_000,
  maxAddressFailures: 10,
  addressWindowMs: 5 * 60_000,
  maxTracked: 10_000,
};

/** A source that has just crossed the failure threshold: one report per burst. */
export interface LoginBurst {
  /** An IPv4 address, or an IPv6 /64 (`2001:db8:4:7::/64`). */
  readonly address: string;
  /** Failed or refused attempts from the address within the window. */
  readonly failures: number;
  readonly windowMs: number;
  /** Event time (epoch ms) of the attempt that crossed the threshold. */
  readonly ts: number;
  /** The usernames tried from the address within the window (at most `maxAddressFailures`). */
  readonly usernames: readonly string[];
}

interface AddressState {
  /** Times of the latest failures, oldest first, at most maxAddressFailures. */
  readonly times: number[];
  readonly usernames: string[];
  reported: boolean;
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

export class LoginGuard {
  readonly options: LoginGuardOptions;
  private readonly addresses: BoundedMap<AddressState>;
  private readonly unknownAccounts: BoundedMap<UnknownAccountState>;

  constructor(options: Partial<LoginGuardOptions> = {}) {
    this.options = { ...DEFAULT_LOGIN_GUARD, ...options };
    this.addresses = new BoundedMap(this.options.maxTracked);
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

  /** The time until which an address (its source: login-source.ts) is refused, or null when it may try. */
  addressBlockedUntil(address: string, now: number): number | null {
    const state = this.addresses.get(loginSource(address));
    if (state === undefined || state.times.length < this.options.maxAddressFailures) return null;
    const until = (state.times[0] as number) + this.options.addressWindowMs;
    return until > now ? until : null;
  }

  /** Counts a failed or refused attempt from `address`; returns the burst when this attempt crosses the threshold. */
  recordAddressFailure(address: string, username: string, now: number): LoginBurst | null {
    const source = loginSource(address);
    const state = this.addresses.get(source) ?? { times: [], usernames: [], reported: false };
    const windowStart = now - this.options.addressWindowMs;
    while (state.times.length > 0 && (state.times[0] as number) <= windowStart) {
      state.times.shift();
      state.usernames.shift();
    }
    // Below the threshold again since the last report: the next crossing is a new burst.
    if (state.times.length < this.options.maxAddressFailures - 1) state.reported = false;
    state.times.push(now);
    state.usernames.push(username);
    if (state.times.length > this.options.maxAddressFailures) {
      state.times.shift();
      state.usernames.shift();
    }
    this.addresses.touch(source, state);
    if (state.times.length < this.options.maxAddressFailures || state.reported) return null;
    state.reported = true;
    return { address: source, failures: state.times.length, windowMs: this.options.addressWindowMs, ts: now, usernames: [...new Set(state.usernames)] };
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
    return this.addresses.evictions + this.unknownAccounts.evictions;
  }

  get tracked(): { readonly addresses: number; readonly unknownAccounts: number } {
    return { addresses: this.addresses.size, unknownAccounts: this.unknownAccounts.size };
  }
}
