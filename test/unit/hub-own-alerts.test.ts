import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MAX_SUPPRESSION_ENTRIES } from '../../agent/src/alert/alert-manager.ts';
import { ALERT_CATALOGUE } from '../../agent/src/alert/catalogue.ts';
import { loginBurstFinding, loginBurstTitle } from '../../agent/src/auth/login-burst-finding.ts';
import { DEFAULT_LOGIN_GUARD, LoginGuard, type LoginBurst } from '../../agent/src/auth/login-guard.ts';
import { HubAlertBook } from '../../agent/src/hub/hub-alerts.ts';
import { HUB_SUPPRESSION_MS, HubOwnAlerts, MAX_OWN_OPEN_ALERTS, ownOpenAlertCap } from '../../agent/src/hub/hub-own-alerts.ts';
import { OVERFLOW_LISTED_ADDRESSES } from '../../agent/src/auth/login-burst-finding.ts';
import { HUB_ORIGIN, type AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { AlertStore } from '../../agent/src/store/alert-store.ts';
import { alertPlace, originLabel } from '../../dashboard/src/format.ts';
import { sampleAlert } from '../helpers/sample-alert.ts';

const silent = pino({ level: 'silent' });
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const MINUTE = 60_000;

function burst(address: string, ts: number, usernames: readonly string[] = ['rn-central', 'admin']): LoginBurst {
  return { address, failures: 10, windowMs: 5 * MINUTE, ts, usernames };
}

const ackInput = (by = 'rn-central') => ({ by, reason: 'Security desk informed', from: '10.9.0.5', at: new Date(T0 + 10 * MINUTE) });

describe('the dashboard-login-burst finding, shared by the agent and the hub', () => {
  it('names the address, the count, the window and at most five usernames; keyed by the address; evidence is the burst', () => {
    const many = burst('10.20.0.7', T0, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(loginBurstTitle(many)).toBe('Dashboard login: 10 failed or refused logins from 10.20.0.7 within 5 min (usernames tried: a, b, c, d, e, … (7)); that address is refused until they age out');
    const finding = loginBurstFinding(burst('10.20.0.7', T0));
    expect(finding).toEqual({
      type: 'dashboard-login-burst',
      ts: T0,
      device: null,
      dedupKey: '10.20.0.7',
      title: 'Dashboard login: 10 failed or refused logins from 10.20.0.7 within 5 min (usernames tried: rn-central, admin); that address is refused until they age out',
      evidence: { address: '10.20.0.7', failures: 10, windowMs: 5 * MINUTE, ts: T0, usernames: ['rn-central', 'admin'] },
    });
  });

  it('says so when the guard refused a whole IPv6 /64 rather than one address', () => {
    const prefix = { ...burst('2001:db8:4:7::/64', T0), failures: 100 };
    expect(loginBurstTitle(prefix)).toBe('Dashboard login: 100 failed or refused logins from the IPv6 prefix 2001:db8:4:7::/64 (many addresses) within 5 min (usernames tried: rn-central, admin); every address in that prefix is refused until they age out');
    expect(loginBurstFinding(prefix).dedupKey).toBe('2001:db8:4:7::/64');
  });
});

describe('the hub\'s own alerts', () => {
  it('a burst raises the catalogue\'s alert, marked as the hub\'s own, with no device or ward', () => {
    const book = new HubAlertBook(100, null);
    const own = new HubOwnAlerts(book, silent);
    const { alert, change } = own.raise(loginBurstFinding(burst('10.20.0.7', T0)));
    expect(change).toBe('raised');
    expect(alert).toMatchObject({ type: 'dashboard-login-burst', severity: ALERT_CATALOGUE['dashboard-login-burst'].severity, count: 1, ts: '2026-03-01T10:00:00.000Z', deviceId: null, ward: null, state: 'open', origin: HUB_ORIGIN });
    expect(alert.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(book.list(10)).toEqual([alert]);
    expect(Object.fromEntries(book.openByWard())).toEqual({ [HUB_ORIGIN]: { critical: 0, high: 1, warning: 0, info: 0 } });
  });

  it('repeats from one address within the window fold into one alert with a count; another address, a later burst or an acknowledged alert raise anew', () => {
    const book = new HubAlertBook(100, null);
    const own = new HubOwnAlerts(book, silent);
    const first = own.raise(loginBurstFinding(burst('10.20.0.7', T0))).alert;
    // A burst a minute from one address (the guard reports one each time the address crosses its threshold again): one alert, its count going up.
    for (let minute = 1; minute <= 4; minute += 1) {
      const again = own.raise(loginBurstFinding(burst('10.20.0.7', T0 + minute * MINUTE)));
      expect(again.change).toBe('repeated');
      expect(again.alert.id).toBe(first.id);
    }
    expect(book.get(first.id)).toMatchObject({ count: 5, ts: '2026-03-01T10:00:00.000Z', lastTs: '2026-03-01T10:04:00.000Z' });
    const other = own.raise(loginBurstFinding(burst('10.20.0.8', T0 + 4 * MINUTE))).alert;
    expect(other.id).not.toBe(first.id);
    const late = own.raise(loginBurstFinding(burst('10.20.0.7', T0 + HUB_SUPPRESSION_MS + 1))).alert;
    expect(late.id).not.toBe(first.id);
    expect(own.acknowledge(late.id, ackInput()).ok).toBe(true);
    const afterAck = own.raise(loginBurstFinding(burst('10.20.0.7', T0 + HUB_SUPPRESSION_MS + 2))).alert;
    expect(afterAck.id).not.toBe(late.id);
    expect(book.list(10).filter((alert) => alert.type === 'dashboard-login-burst')).toHaveLength(4);
  });

  it('acknowledges its own alerts once; a ward\'s alert is refused (acknowledged at the ward), an unknown id is not found', () => {
    const book = new HubAlertBook(100, null);
    const own = new HubOwnAlerts(book, silent);
    const mine = own.raise(loginBurstFinding(burst('10.20.0.7', T0))).alert;
    const wards = sampleAlert();
    book.accept('4W', wards);
    const outcome = own.acknowledge(mine.id, ackInput());
    expect(outcome).toEqual({ ok: true, alert: { ...mine, state: 'acknowledged', ack: { by: 'rn-central', reason: 'Security desk informed', from: '10.9.0.5', at: '2026-03-01T10:10:00.000Z' } } });
    expect(book.get(mine.id)?.state).toBe('acknowledged');
    expect(own.acknowledge(mine.id, ackInput('other'))).toEqual({ ok: false, error: 'already-acknowledged' });
    expect(own.acknowledge(wards.id, ackInput())).toEqual({ ok: false, error: 'acknowledged-at-ward' });
    expect(book.get(wards.id)?.state).toBe('open');
    expect(own.acknowledge('00000000-0000-4000-8000-ffffffffffff', ackInput())).toEqual({ ok: false, error: 'not-found' });
  });

  it('no ward can pass for the hub or touch its alerts: a ward named as HUB_ORIGIN, or sending the id of one of the hub\'s alerts, is refused', () => {
    const book = new HubAlertBook(100, null);
    const own = new HubOwnAlerts(book, silent);
    const mine = own.raise(loginBurstFinding(burst('10.20.0.7', T0))).alert;
    expect(book.accept(HUB_ORIGIN, sampleAlert({ type: 'dashboard-login-burst' }))).toBe('conflict');
    const { origin: _origin, ...asAWardWouldSendIt } = mine;
    expect(book.accept('4W', { ...asAWardWouldSendIt, state: 'acknowledged', ack: { by: 'x', at: '2026-03-01T10:01:00.000Z', reason: 'x', from: 'x' } })).toBe('conflict');
    expect(book.get(mine.id)).toEqual(mine);
    expect(book.list(10)).toHaveLength(1);
    expect(() => book.keepOwn(sampleAlert({ origin: '4W' }), null)).toThrow(/hub's own alerts/);
  });

  it('with the store: survives a restart, and a burst after it still folds into the open alert (its window is stored and rebuilt); an acknowledged one is not reopened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-hub-own-'));
    try {
      const file = join(dir, 'hub-alerts.db');
      let store = new AlertStore(file);
      let book = new HubAlertBook(100, store, store.loadRecent(100));
      let own = new HubOwnAlerts(book, silent);
      const open = own.raise(loginBurstFinding(burst('10.20.0.7', T0))).alert;
      const acked = own.raise(loginBurstFinding(burst('10.20.0.8', T0))).alert;
      own.acknowledge(acked.id, ackInput());
      store.close();

      store = new AlertStore(file);
      book = new HubAlertBook(100, store, store.loadRecent(100));
      // Restarted a minute after the bursts (the wall clock at start judges the stored windows).
      own = new HubOwnAlerts(book, silent, { suppressions: store.loadSuppressions(MAX_SUPPRESSION_ENTRIES), at: T0 + MINUTE });
      expect(book.get(open.id)).toEqual(open);
      expect(book.get(acked.id)?.state).toBe('acknowledged');
      const folded = own.raise(loginBurstFinding(burst('10.20.0.7', T0 + 2 * MINUTE)));
      expect(folded).toMatchObject({ change: 'repeated', alert: { id: open.id, count: 2 } });
      expect(own.raise(loginBurstFinding(burst('10.20.0.8', T0 + 2 * MINUTE))).alert.id).not.toBe(acked.id);
      // The window runs from the first occurrence, as at an agent, also after a restart.
      expect(own.raise(loginBurstFinding(burst('10.20.0.7', T0 + HUB_SUPPRESSION_MS + 1))).alert.id).not.toBe(open.id);
      expect(store.get(open.id)).toMatchObject({ count: 2, origin: HUB_ORIGIN });
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a store that fails does not hide the alert or stop the hub: shown from memory, failure counted', () => {
    const failing = { alertRaised: (): void => { throw new Error('SQLITE_FULL: database or disk is full'); }, alertUpdated: (): void => { throw new Error('SQLITE_FULL'); }, get: (): AlertView | null => null };
    const book = new HubAlertBook(100, failing);
    const own = new HubOwnAlerts(book, silent);
    const { alert } = own.raise(loginBurstFinding(burst('10.20.0.7', T0)));
    own.raise(loginBurstFinding(burst('10.20.0.7', T0 + MINUTE)));
    expect(book.get(alert.id)?.count).toBe(2);
    expect(own.storeFailure?.count).toBe(2);
  });

  it('the fold table is bounded: past MAX_SUPPRESSION_ENTRIES addresses the oldest is forgotten (counted), and its next burst raises anew', () => {
    const book = new HubAlertBook(100, null);
    const own = new HubOwnAlerts(book, silent);
    const first = own.raise(loginBurstFinding(burst('10.0.0.0', T0))).alert;
    // Each acknowledged at once, so that the cap on open alerts (below) lets every address have its own alert and window.
    for (let index = 1; index <= MAX_SUPPRESSION_ENTRIES; index += 1) {
      const { alert, change } = own.raise(loginBurstFinding(burst(`10.1.${index >> 8}.${index & 255}`, T0)));
      expect(change).toBe('raised');
      own.acknowledge(alert.id, ackInput());
    }
    expect(own.windowsForgotten).toBe(1);
    expect(own.foldedOverCap).toBe(0);
    expect(own.raise(loginBurstFinding(burst('10.0.0.0', T0 + MINUTE))).alert.id).not.toBe(first.id);
  });

  it('a burst stamped before an open alert\'s first occurrence is not a repeat of it: its own alert (the window is bounded below, as at an agent)', () => {
    const book = new HubAlertBook(100, null);
    const own = new HubOwnAlerts(book, silent);
    const first = own.raise(loginBurstFinding(burst('10.20.0.7', T0))).alert;
    const earlier = own.raise(loginBurstFinding(burst('10.20.0.7', T0 - MINUTE)));
    expect(earlier.change).toBe('raised');
    expect(book.get(first.id)?.count).toBe(1);
  });
});

/**
 * An address in the `index`th /64 of a site's /48 (RFC 5952 text for index > 0): ten failures
 * from each cross its address's limit and never its /64's (auth/login-guard.ts).
 */
function ipv6(index: number): string {
  return `2001:db8:4:${index & 0xffff}::1:1`;
}

/** Ten failed logins from each address through the real login guard (auth/login-guard.ts); every burst it reports goes to the hub. */
function guessFrom(own: HubOwnAlerts, addresses: readonly string[], start: number): number {
  const guard = new LoginGuard();
  let bursts = 0;
  let now = start;
  for (const address of addresses) {
    for (let attempt = 0; attempt < DEFAULT_LOGIN_GUARD.maxAddressFailures; attempt += 1) {
      now += 1;
      const reported = guard.recordAddressFailure(address, `user-${attempt}`, now);
      if (reported !== null) {
        bursts += 1;
        own.raise(loginBurstFinding(reported));
      }
    }
  }
  return bursts;
}

describe('the hub\'s own alerts are capped, so that one attacker\'s addresses cannot push the wards\' alerts out of its memory', () => {
  it(`at most ${MAX_OWN_OPEN_ALERTS} open at a time, a tenth of a smaller book`, () => {
    expect(ownOpenAlertCap(10_000)).toBe(MAX_OWN_OPEN_ALERTS);
    expect(ownOpenAlertCap(1_000)).toBe(100);
    expect(ownOpenAlertCap(100)).toBe(10);
    expect(new HubOwnAlerts(new HubAlertBook(100, null), silent).openCap).toBe(10);
  });

  it('2,000 IPv6 addresses × 10 failed logins: 100 alerts of their own, the rest folded into one "many addresses" alert (counted); every ward alert stays held', () => {
    const book = new HubAlertBook(1_000, null);
    // The wards' alerts the attack must not push out: open warnings and info, and acknowledged ones; with the hub's 101 at most, the book is full.
    const wards: AlertView[] = [];
    for (let index = 0; index < 599; index += 1) wards.push(sampleAlert({ type: 'dose-above-soft-limit', severity: index % 2 === 0 ? 'warning' : 'info' }));
    for (let index = 0; index < 300; index += 1) wards.push(sampleAlert({ state: 'acknowledged', ack: { by: 'rn-4w', at: '2026-03-01T10:01:00.000Z', reason: 'Checked at the bedside', from: '10.4.0.10' } }));
    for (const alert of wards) expect(book.accept('4W', alert)).toBe('new');
    const own = new HubOwnAlerts(book, silent);
    const addresses = Array.from({ length: 2_000 }, (_, index) => ipv6(index));
    expect(guessFrom(own, addresses, T0)).toBe(2_000);

    expect(book.stats().evicted).toBe(0);
    for (const alert of wards) expect(book.get(alert.id)).toBeDefined();
    const mine = book.openOwn();
    expect(mine).toHaveLength(MAX_OWN_OPEN_ALERTS + 1);
    const overflow = mine.filter((alert) => alert.title.includes('more than 100 addresses'));
    expect(overflow).toHaveLength(1);
    expect(overflow[0]).toMatchObject({ type: 'dashboard-login-burst', severity: 'high', count: 1_900, origin: HUB_ORIGIN });
    expect(own.foldedOverCap).toBe(1_900);
    // The first addresses past the cap are listed (bounded), the latest burst kept as the guard reported it.
    const evidence = overflow[0]?.evidence ?? {};
    expect(evidence['addresses']).toEqual(addresses.slice(100, 100 + OVERFLOW_LISTED_ADDRESSES));
    expect(evidence['latest']).toMatchObject({ address: ipv6(1_999), failures: 10 });
    expect(book.size).toBe(book.capacity);
  });

  it('acknowledging frees a place: the next address has its own alert again; an acknowledged "many addresses" alert is followed by a new one', () => {
    const book = new HubAlertBook(100, null);
    const own = new HubOwnAlerts(book, silent);
    const perAddress = Array.from({ length: own.openCap }, (_, index) => own.raise(loginBurstFinding(burst(ipv6(index), T0))).alert);
    const firstOver = own.raise(loginBurstFinding(burst(ipv6(100), T0 + MINUTE)));
    expect(firstOver.change).toBe('raised');
    expect(own.raise(loginBurstFinding(burst(ipv6(101), T0 + MINUTE))).change).toBe('repeated');
    // A repeat from an address with its own open alert still folds into that one.
    expect(own.raise(loginBurstFinding(burst(ipv6(0), T0 + MINUTE)))).toMatchObject({ change: 'repeated', alert: { id: perAddress[0]?.id, count: 2 } });
    own.acknowledge(perAddress[1]?.id ?? '', ackInput());
    const ownAgain = own.raise(loginBurstFinding(burst(ipv6(102), T0 + 2 * MINUTE))).alert;
    expect(ownAgain.title).toContain(ipv6(102));
    expect(own.raise(loginBurstFinding(burst(ipv6(103), T0 + 2 * MINUTE))).alert.id).toBe(firstOver.alert.id);
    own.acknowledge(firstOver.alert.id, ackInput());
    const secondOver = own.raise(loginBurstFinding(burst(ipv6(104), T0 + 3 * MINUTE)));
    expect(secondOver.change).toBe('raised');
    expect(secondOver.alert.id).not.toBe(firstOver.alert.id);
    expect(own.foldedOverCap).toBe(4);
  });

  it('with the store: after a restart the cap counts the open alerts reloaded, and further addresses fold into the same "many addresses" alert', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-hub-own-cap-'));
    try {
      const file = join(dir, 'hub-alerts.db');
      let store = new AlertStore(file);
      let book = new HubAlertBook(100, store, store.loadRecent(100));
      let own = new HubOwnAlerts(book, silent);
      for (let index = 0; index < own.openCap + 2; index += 1) own.raise(loginBurstFinding(burst(ipv6(index), T0)));
      const overflow = book.openOwn().find((alert) => alert.count === 2);
      expect(overflow?.title).toContain('more than 10 addresses');
      store.close();

      store = new AlertStore(file);
      book = new HubAlertBook(100, store, store.loadRecent(100));
      // Long after every window ended: the "many addresses" alert folds while open, whatever its window.
      own = new HubOwnAlerts(book, silent, { suppressions: store.loadSuppressions(MAX_SUPPRESSION_ENTRIES), at: T0 + 60 * MINUTE });
      const after = own.raise(loginBurstFinding(burst(ipv6(500), T0 + 61 * MINUTE)));
      expect(after).toMatchObject({ change: 'repeated', alert: { id: overflow?.id, count: 3 } });
      expect((after.alert.evidence['addresses'] as string[]).slice(-1)).toEqual([ipv6(500)]);
      expect(store.get(overflow?.id ?? '')).toMatchObject({ count: 3 });
      expect(book.openOwn()).toHaveLength(own.openCap + 1);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the hub\'s page: its own alerts marked as the hub\'s', () => {
  it('the row says Hub (a ward\'s says its ward), and its place is the hub\'s dashboard', () => {
    const book = new HubAlertBook(100, null);
    const mine = new HubOwnAlerts(book, silent).raise(loginBurstFinding(burst('10.20.0.7', T0))).alert;
    const wards = { ...sampleAlert(), origin: '4W' };
    expect(originLabel(mine.origin)).toBe('Hub');
    expect(originLabel(wards.origin)).toBe('Ward 4W');
    expect(originLabel(undefined)).toBe('');
    expect(alertPlace(mine)).toBe('Hub dashboard');
    expect(alertPlace({ ...mine, origin: undefined })).toBe('Device network');
  });
});
