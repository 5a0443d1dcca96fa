import type { Logger } from 'pino';
import { MAX_SUPPRESSION_ENTRIES, type AcknowledgeInput } from '../alert/alert-manager.ts';
import { openAlertFrom } from '../alert/alert-from-finding.ts';
import type { Finding } from '../alert/finding.ts';
import { restorableWindows, type StoredSuppression, type SuppressionWindow } from '../alert/suppression-window.ts';
import type { FailureRecord } from '../health/failure-tally.ts';
import { eventTimeIso } from '../model/wire.ts';
import { HUB_ORIGIN, type AlertView } from '../server/dashboard-protocol.ts';
import type { DashboardAcknowledgeOutcome } from '../server/http-server.ts';
import type { HubAlertBook } from './hub-alerts.ts';
import { MANY_ADDRESSES_KEY, overflowEvidence, overflowTitle } from '../auth/login-burst-finding.ts';

/**
 * The hub's suppression window: the agent's default `detection.suppressionSeconds`
 * (model/site-schema.ts, 300 s). A hub config has no `detection` section: the hub detects
 * nothing on the wards' traffic, only password guessing at its own login.
 */
export const HUB_SUPPRESSION_MS = 300_000;

/**
 * The hub's own alerts open at a time, one per address (DESIGN.md, principle 3); further
 * bursts fold into one alert (auth/login-burst-finding.ts). At most a tenth of the alert book
 * (`maxAlerts`, at least 100), so that the wards' open warnings and info and their
 * acknowledged alerts are never pushed out of the hub's memory by one attacker's addresses.
 */
export const MAX_OWN_OPEN_ALERTS = 100;

/** The cap for a book of `capacity` alerts: MAX_OWN_OPEN_ALERTS, or a tenth of a smaller book. */
export function ownOpenAlertCap(capacity: number): number {
  return Math.max(1, Math.min(MAX_OWN_OPEN_ALERTS, Math.floor(capacity / 10)));
}

interface FoldWindow {
  readonly alertId: string;
  /** Time (epoch ms) of the alert's first occurrence: a burst stamped before it is not a repeat of it. */
  readonly from: number;
  /** Time (epoch ms) until which repeats fold into the alert: its first occurrence plus the window, as at an agent. */
  readonly until: number;
}

/** The windows `hub-alerts.db` kept (AlertStore.loadSuppressions), and the wall-clock time of the start they are judged against. */
export interface RestoredOwnWindows {
  readonly suppressions: readonly StoredSuppression[];
  readonly at: number;
}

const NOTHING_RESTORED: RestoredOwnWindows = { suppressions: [], at: 0 };

/** What became of one finding at the hub. */
export interface OwnAlertChange {
  readonly alert: AlertView;
  readonly change: 'raised' | 'repeated';
}

/**
 * The alerts `wardwatch hub` raises itself (`dashboard-login-burst` at its own dashboard),
 * kept with the wards' alerts in the HubAlertBook (memory and `hub-alerts.db`) under the
 * origin HUB_ORIGIN. Catalogue severity, and the agent's suppression rule (Zeek notice
 * framework `identifier` + `suppress_for`, as alert/alert-manager.ts): a finding with the
 * same type and dedup key as an open alert, within the window from that alert's first
 * occurrence, adds one to its count instead of raising another.
 *
 * Each window is stored beside its alert in `hub-alerts.db` and rebuilt at start by the
 * agent's rule (alert/suppression-window.ts `restorableWindows`), so a password-guessing
 * run that outlasts a restart of the hub (whose login guard starts empty) still folds into
 * the alert its watchers already see.
 *
 * A small fold of its own rather than an AlertManager, because the hub's alerts live in
 * the HubAlertBook (one list, one memory bound and one store for the wards' alerts and
 * the hub's, marked by origin), not in a manager's list of its own beside it; each change
 * is written and pushed at once rather than batched (bursts are rare: the guard reports
 * one per crossing of its threshold, and an address that keeps hammering stays above
 * it); and acknowledging must refuse the wards' alerts held in the same book. Bounded like
 * the agent's table (MAX_SUPPRESSION_ENTRIES, oldest forgotten first, counted in
 * `windowsForgotten`).
 *
 * One alert per address would let an attacker with many addresses (an IPv6 host has a /64
 * of them, and the login guard, auth/login-guard.ts, counts each address on its own) fill
 * the HubAlertBook with high alerts, which it keeps before the wards' open warnings and
 * info and their acknowledged alerts. So at most `openCap` (ownOpenAlertCap) of them are
 * open at a time; a burst from a further address folds into one "many addresses" alert
 * (key MANY_ADDRESSES_KEY), whatever its time, while that alert is open, and is counted in
 * `foldedOverCap`. Why not one alert per IPv6 /64 instead: a site's /48 holds 65,536 of
 * them, so that alone bounds nothing; each alert's title says which address is refused,
 * which is the guard's unit; and the cap bounds IPv4 and IPv6 alike.
 */
export class HubOwnAlerts {
  /** Oldest first (re-inserted when a new alert opens a window). */
  private readonly windows = new Map<string, FoldWindow>();
  windowsForgotten = 0;
  /** Bursts from an address with no open alert of its own, folded into the "many addresses" alert because `openCap` were open. */
  foldedOverCap = 0;
  /** The hub's own per-address alerts open at a time; beyond, the "many addresses" alert. */
  readonly openCap: number;
  /** Ids of the per-address alerts open, checked against the book when the cap is reached. */
  private readonly openPerAddress = new Set<string>();
  /** The open "many addresses" alert, if any. */
  private overflowAlertId: string | null = null;
  /** Changes the store could not write (the alert is still shown from memory): said in the hub's health while recent. */
  storeFailure: FailureRecord | null = null;

  constructor(
    private readonly book: HubAlertBook,
    private readonly logger: Logger,
    restored: RestoredOwnWindows = NOTHING_RESTORED,
    private readonly suppressionMs: number = HUB_SUPPRESSION_MS,
  ) {
    // Only the hub's own alerts that the book reloaded open: a ward's alert has no window here, an acknowledged one absorbs nothing.
    const isOpenOwn = (alertId: string): boolean => {
      const alert = book.get(alertId);
      return alert?.origin === HUB_ORIGIN && alert.state === 'open';
    };
    this.openCap = ownOpenAlertCap(book.capacity);
    const overflowKey = `dashboard-login-burst|${MANY_ADDRESSES_KEY}`;
    // The "many addresses" alert is known by the key stored beside it, whether or not its window has ended (it folds while open).
    const overflow = restored.suppressions.filter((window) => window.key === overflowKey && isOpenOwn(window.alertId)).sort((a, b) => b.until - a.until)[0];
    this.overflowAlertId = overflow?.alertId ?? null;
    for (const alert of book.openOwn()) if (alert.id !== this.overflowAlertId) this.openPerAddress.add(alert.id);
    const perAddress = restored.suppressions.filter((window) => window.key !== overflowKey);
    const { windows, overCap } = restorableWindows(perAddress, isOpenOwn, restored.at, suppressionMs, MAX_SUPPRESSION_ENTRIES);
    for (const window of windows) {
      // From the alert's own first occurrence: the window may have been cut at restore (suppression-window.ts).
      const first = Date.parse(book.get(window.alertId)?.ts ?? '');
      this.openWindow(window.key, window.alertId, Number.isNaN(first) ? window.until - suppressionMs : first, window.until);
    }
    this.windowsForgotten += overCap;
    if (windows.length > 0) logger.info({ restored: windows.length, overCap, open: this.openPerAddress.size, openCap: this.openCap }, 'hub: suppression windows of its own open alerts restored');
  }

  raise(finding: Finding): OwnAlertChange {
    const key = `${finding.type}|${finding.dedupKey}`;
    const open = this.windows.get(key);
    const held = open === undefined ? undefined : this.book.get(open.alertId);
    // Within the window from the alert's first occurrence, as the agent's AlertManager: a burst stamped before it is not a repeat of it.
    if (open !== undefined && held !== undefined && held.state === 'open' && finding.ts >= open.from && finding.ts <= open.until) {
      const repeated: AlertView = { ...held, count: held.count + 1, lastTs: eventTimeIso(finding.ts) };
      this.keep(repeated, null);
      return { alert: repeated, change: 'repeated' };
    }
    if (this.openPerAddressCount() >= this.openCap) return this.foldOverCap(finding);
    const alert = this.newAlert(finding, finding.title, finding.evidence);
    const window: SuppressionWindow = { key, until: finding.ts + this.suppressionMs };
    this.openWindow(key, alert.id, finding.ts, window.until);
    this.openPerAddress.add(alert.id);
    this.keep(alert, window);
    return { alert, change: 'raised' };
  }

  /**
   * A burst from a further address while `openCap` per-address alerts are open: one more
   * occurrence of the open "many addresses" alert (its latest burst and the first addresses
   * in its evidence), or that alert raised if none is open. Folded whatever its time: it
   * stands for the cap being reached, and one alert stays one alert until acknowledged.
   */
  private foldOverCap(finding: Finding): OwnAlertChange {
    this.foldedOverCap += 1;
    // Ten thousand addresses guessing at once is itself worth a look; logged at the first and every thousandth.
    if (this.foldedOverCap === 1 || this.foldedOverCap % 1000 === 0) this.logger.warn({ folded: this.foldedOverCap, openCap: this.openCap }, 'hub: login bursts from more addresses than it alerts on one by one; further addresses are counted in one "many addresses" alert');
    const held = this.overflowAlertId === null ? undefined : this.book.get(this.overflowAlertId);
    if (held !== undefined && held.state === 'open') {
      const lastTs = eventTimeIso(finding.ts);
      const repeated: AlertView = { ...held, count: held.count + 1, lastTs: lastTs > held.lastTs ? lastTs : held.lastTs, evidence: overflowEvidence(this.openCap, held.evidence, finding) };
      this.keep(repeated, null);
      return { alert: repeated, change: 'repeated' };
    }
    const alert = this.newAlert(finding, overflowTitle(this.openCap), overflowEvidence(this.openCap, null, finding));
    this.overflowAlertId = alert.id;
    // Stored beside it only so that a restart knows it again (the constructor); no burst folds into it by this key.
    this.keep(alert, { key: `${finding.type}|${MANY_ADDRESSES_KEY}`, until: finding.ts + this.suppressionMs });
    return { alert, change: 'raised' };
  }

  /** Per-address alerts still held open; those acknowledged (or let go from memory) are forgotten when the cap is reached. */
  private openPerAddressCount(): number {
    if (this.openPerAddress.size < this.openCap) return this.openPerAddress.size;
    for (const id of this.openPerAddress) {
      if (this.book.get(id)?.state !== 'open') this.openPerAddress.delete(id);
    }
    return this.openPerAddress.size;
  }

  private newAlert(finding: Finding, title: string, evidence: Readonly<Record<string, unknown>>): AlertView {
    // The hub has no devices of its own (the finding has none): no device, ward, bed or place; the origin says whose it is.
    return { ...openAlertFrom({ ...finding, title, evidence }), origin: HUB_ORIGIN };
  }

  /**
   * Acknowledges one of the hub's own alerts; a ward's alert is refused (`acknowledged-at-ward`):
   * acknowledging it would need write access to that ward, and the nurse answerable for it is there.
   */
  acknowledge(id: string, input: AcknowledgeInput): DashboardAcknowledgeOutcome {
    const alert = this.book.get(id);
    if (alert === undefined) return { ok: false, error: 'not-found' };
    if (alert.origin !== HUB_ORIGIN) return { ok: false, error: 'acknowledged-at-ward' };
    if (alert.state === 'acknowledged') return { ok: false, error: 'already-acknowledged' };
    const acknowledged: AlertView = { ...alert, state: 'acknowledged', ack: { by: input.by, reason: input.reason, from: input.from, at: input.at.toISOString() } };
    this.keep(acknowledged, null);
    this.openPerAddress.delete(id);
    return { ok: true, alert: acknowledged };
  }

  private openWindow(key: string, alertId: string, from: number, until: number): void {
    this.windows.delete(key);
    if (this.windows.size >= MAX_SUPPRESSION_ENTRIES) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) {
        this.windows.delete(oldest);
        this.windowsForgotten += 1;
        // Ten thousand addresses guessing at once is itself worth a look; logged at the first and every thousandth.
        if (this.windowsForgotten === 1 || this.windowsForgotten % 1000 === 0) this.logger.warn({ forgotten: this.windowsForgotten, cap: MAX_SUPPRESSION_ENTRIES }, 'hub: more addresses with a login-burst alert than its suppression table holds; the oldest was forgotten (a repeat of it raises a new alert)');
      }
    }
    this.windows.set(key, { alertId, from, until });
  }

  /** A store that fails must not stop the hub or hide the alert (DESIGN.md, principle 7): logged and counted. */
  private keep(alert: AlertView, raisedWith: SuppressionWindow | null): void {
    try {
      this.book.keepOwn(alert, raisedWith);
    } catch (error) {
      const count = (this.storeFailure?.count ?? 0) + 1;
      this.storeFailure = { count, lastAt: Date.now() };
      this.logger.error({ err: error, alertId: alert.id, failures: count }, 'hub: its own alert could not be written to hub-alerts.db; it is shown until the hub stops');
    }
  }
}
