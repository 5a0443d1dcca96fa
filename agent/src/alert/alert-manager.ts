import { FailureTally } from '../health/failure-tally.ts';
import type { Logger } from 'pino';
import type { AlertAcknowledgement, AlertView } from '../server/dashboard-protocol.ts';
import { SEVERITY_RANK, type AlertType } from './catalogue.ts';
import { eventTimeIso } from '../model/wire.ts';
import type { AlertSink } from './alert-sink.ts';
import type { Finding } from './finding.ts';
import { Histogram } from '../health/histogram.ts';
import { openAlertFrom } from './alert-from-finding.ts';
import { restorableWindows, type StoredSuppression, type SuppressionWindow } from './suppression-window.ts';

/** Bucket bounds (s) for an alert output's write: SQLite on an SD card takes milliseconds, a stalled disk much longer. */
const SINK_WRITE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

interface SuppressionEntry {
  alert: AlertView;
  /** Event time of the alert's first occurrence: a finding stamped before it is not a repeat of it. */
  readonly from: number;
  /** Event time until which repeats fold into `alert`. */
  readonly until: number;
}

export interface AcknowledgeInput {
  readonly by: string;
  readonly reason: string;
  readonly from: string;
  readonly at: Date;
}

/** What the store kept from before a restart (store/alert-store.ts). */
export interface RestoredAlerts {
  /** Every open alert and the most recent others, oldest first. */
  readonly alerts: readonly AlertView[];
  /** The suppression windows stored beside them; alerts stored before windows were kept have none. */
  readonly suppressions: readonly StoredSuppression[];
  /** Wall-clock time of the start, epoch ms, against which those windows are judged (suppression-window.ts). */
  readonly at: number;
}

const NOTHING_RESTORED: RestoredAlerts = { alerts: [], suppressions: [], at: 0 };

export type AcknowledgeOutcome =
  | { readonly ok: true; readonly alert: AlertView }
  | { readonly ok: false; readonly error: 'not-found' | 'already-acknowledged' };

/** Caps on what the alert layer keeps in memory (DESIGN.md, principle 3). */
export const MAX_SUPPRESSION_ENTRIES = 10_000;
/**
 * Windows kept per dedup key: live traffic and a capture replayed beside it with past
 * event times (`--capture`) each fold into their own alert, rather than each occurrence of
 * one raising a new alert that takes the other's place in the table.
 */
export const MAX_WINDOWS_PER_KEY = 2;
export const MAX_RECENT_ALERTS = 1_000;
/** Repeats are folded in memory at once, but written and pushed at most this often. */
export const REPEAT_FLUSH_MS = 1_000;

/**
 * Findings → alerts: catalogue severity, a dedup identifier and suppression window
 * (Zeek notice framework: `identifier`, `suppress_for`), lifecycle open → acknowledged,
 * and fan-out to sinks. A sink that fails is logged and counted; the others still get
 * the alert (DESIGN.md, principle 7).
 */
export class AlertManager {
  /** Per `type|dedupKey`, its windows, least recently used first; keys in the order their last alert was raised. */
  private readonly suppression = new Map<string, SuppressionEntry[]>();
  private readonly recent = new Map<string, AlertView>();
  private readonly pendingRepeats = new Map<string, AlertView>();
  private flushTimer: NodeJS.Timeout | null = null;
  readonly sinkFailures = new FailureTally();
  raisedCount = 0;
  /** New alerts (not folded repeats) by type since start (/metrics); bounded by the catalogue. */
  readonly raisedByType = new Map<AlertType, number>();

  constructor(
    private readonly sinks: readonly AlertSink[],
    private readonly suppressionMs: number,
    private readonly logger: Logger,
    restored: RestoredAlerts = NOTHING_RESTORED,
  ) {
    this.sinkWriteSeconds = sinks.map(() => new Histogram(SINK_WRITE_BUCKETS));
    for (const alert of restored.alerts) this.remember(alert);
    this.rebuildSuppression(restored);
  }

  /** Keys in the suppression table (at most MAX_SUPPRESSION_ENTRIES, each with at most MAX_WINDOWS_PER_KEY windows). */
  get suppressionEntries(): number {
    return this.suppression.size;
  }

  /**
   * Newest change first, at most `limit`, except that every open critical or high alert is
   * always included: a flood of lesser alerts must never push one off a nurse's screen.
   */
  list(limit = MAX_RECENT_ALERTS): AlertView[] {
    const newestFirst = [...this.recent.values()].reverse();
    if (newestFirst.length <= limit) return newestFirst;
    const kept = newestFirst.slice(0, limit);
    const keptIds = new Set(kept.map((alert) => alert.id));
    for (const alert of newestFirst) {
      if (!keptIds.has(alert.id) && alert.state === 'open' && SEVERITY_RANK[alert.severity] <= SEVERITY_RANK.high) kept.push(alert);
    }
    return kept;
  }

  /**
   * How long each output took to take an alert, by sink in order (/metrics
   * `wardwatch_alert_sink_write_seconds`). For the embedded store this is its lag: the write
   * is synchronous, so the alert is on disk when the call returns. Outbound outputs only
   * queue here; their lag is their queue's age (OutboundStats).
   */
  readonly sinkWriteSeconds: readonly Histogram[];

  /** The outputs alerts fan out to, in order (/metrics lists their failures from zero). */
  get sinkNames(): string[] {
    return this.sinks.map((sink) => sink.name);
  }

  get(id: string): AlertView | undefined {
    return this.recent.get(id);
  }

  /**
   * A finding folds into an open alert of its key when its event time lies within that
   * alert's window: from the alert's first occurrence (its `ts`) to `until`. Bounded below
   * as well as above: an event stamped before the alert (a capture with past event times
   * replayed after a restart, beside a window rebuilt from the store) is not a repeat of
   * it and raises its own alert.
   */
  raise(finding: Finding): void {
    const key = `${finding.type}|${finding.dedupKey}`;
    const windows = this.suppression.get(key);
    const suppressed = windows === undefined ? undefined : this.foldTarget(windows, finding.ts);
    if (windows !== undefined && suppressed !== undefined) {
      const updated: AlertView = { ...suppressed.alert, count: suppressed.alert.count + 1, lastTs: eventTimeIso(finding.ts), ...(finding.foldEvidence === undefined ? {} : { evidence: finding.foldEvidence(suppressed.alert.evidence) }) };
      suppressed.alert = updated;
      // Most recently used last in the key's list (the table itself drops the key raised longest ago first).
      windows.splice(windows.indexOf(suppressed), 1);
      windows.push(suppressed);
      this.remember(updated);
      this.queueRepeat(updated);
      return;
    }
    const alert = openAlertFrom(finding);
    const window: SuppressionWindow = { key, until: finding.ts + this.suppressionMs };
    this.openWindow(key, { alert, from: finding.ts, until: window.until });
    this.remember(alert);
    this.raisedCount += 1;
    this.raisedByType.set(finding.type, (this.raisedByType.get(finding.type) ?? 0) + 1);
    this.fanOut((sink) => sink.alertRaised(alert, window));
  }

  acknowledge(id: string, input: AcknowledgeInput): AcknowledgeOutcome {
    const alert = this.recent.get(id);
    if (alert === undefined) return { ok: false, error: 'not-found' };
    if (alert.state === 'acknowledged') return { ok: false, error: 'already-acknowledged' };
    const ack: AlertAcknowledgement = { by: input.by, reason: input.reason, from: input.from, at: input.at.toISOString() };
    const updated: AlertView = { ...(this.pendingRepeats.get(id) ?? alert), state: 'acknowledged', ack };
    this.pendingRepeats.delete(id);
    this.remember(updated);
    this.fanOut((sink) => sink.alertUpdated(updated, 'acknowledged'));
    return { ok: true, alert: updated };
  }

  /** Writes and pushes folded repeats now (also done by the timer, and on stop). */
  flush(): void {
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    const pending = [...this.pendingRepeats.values()];
    this.pendingRepeats.clear();
    for (const alert of pending) this.fanOut((sink) => sink.alertUpdated(alert, 'repeated'));
  }

  stop(): void {
    this.flush();
  }

  /**
   * After a restart, repeats of a still-open alert fold into it as they did before (count,
   * lastTs), rather than raising it a second time: one entry per stored window that is
   * still ahead and whose alert was reloaded open, oldest first so that the table's
   * eviction order is kept (suppression-window.ts says which, and why by the wall clock).
   */
  private rebuildSuppression(restored: RestoredAlerts): void {
    if (restored.suppressions.length === 0) return;
    const isOpen = (alertId: string): boolean => this.recent.get(alertId)?.state === 'open';
    const { windows, notOpen, expired, overCap } = restorableWindows(restored.suppressions, isOpen, restored.at, this.suppressionMs, MAX_SUPPRESSION_ENTRIES);
    for (const window of windows) {
      const alert = this.recent.get(window.alertId) as AlertView;
      // The alert's own first occurrence, not `until - suppressionMs`: the window may have been cut at restore, or suppressionSeconds changed since.
      const first = Date.parse(alert.ts);
      this.openWindow(window.key, { alert, from: Number.isNaN(first) ? window.until - this.suppressionMs : first, until: window.until });
    }
    this.logger.info({ restored: windows.length, notOpen, expired }, 'suppression windows of open alerts restored');
    if (overCap > 0) this.logger.warn({ overCap, cap: MAX_SUPPRESSION_ENTRIES }, 'more open alerts with a running suppression window than the table holds; the oldest were left out (a repeat of one raises a new alert)');
  }

  /** The open alert, still held, whose window holds event time `ts`; the most recently used if several do. */
  private foldTarget(windows: readonly SuppressionEntry[], ts: number): SuppressionEntry | undefined {
    for (let index = windows.length - 1; index >= 0; index -= 1) {
      const entry = windows[index] as SuppressionEntry;
      if (ts >= entry.from && ts <= entry.until && entry.alert.state === 'open' && this.recent.get(entry.alert.id) === entry.alert) return entry;
    }
    return undefined;
  }

  /**
   * Adds a new alert's window to its key: windows whose alert is no longer held open are
   * let go, and beyond MAX_WINDOWS_PER_KEY the least recently used; beyond
   * MAX_SUPPRESSION_ENTRIES keys, the key whose last alert was raised longest ago (a repeat
   * of it then raises a new alert).
   */
  private openWindow(key: string, entry: SuppressionEntry): void {
    const windows = (this.suppression.get(key) ?? []).filter((held) => held.alert.state === 'open' && this.recent.get(held.alert.id) === held.alert);
    windows.push(entry);
    if (windows.length > MAX_WINDOWS_PER_KEY) windows.splice(0, windows.length - MAX_WINDOWS_PER_KEY);
    this.suppression.delete(key);
    if (this.suppression.size >= MAX_SUPPRESSION_ENTRIES) {
      const oldest = this.suppression.keys().next().value;
      if (oldest !== undefined) this.suppression.delete(oldest);
    }
    this.suppression.set(key, windows);
  }

  private queueRepeat(alert: AlertView): void {
    this.pendingRepeats.set(alert.id, alert);
    if (this.flushTimer === null) {
      this.flushTimer = setTimeout(() => this.flush(), REPEAT_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  private remember(alert: AlertView): void {
    // Re-insert so that Map order stays oldest → newest by last change.
    this.recent.delete(alert.id);
    this.recent.set(alert.id, alert);
    if (this.recent.size > MAX_RECENT_ALERTS) this.evictOne();
  }

  /**
   * Keeps memory bounded (the store keeps everything): the oldest acknowledged alert goes
   * first, then the oldest open info or warning; open critical and high alerts only beyond
   * twice the cap, oldest first.
   */
  private evictOne(): void {
    let lesser: string | null = null;
    for (const [id, candidate] of this.recent) {
      if (candidate.state === 'acknowledged') {
        this.recent.delete(id);
        return;
      }
      if (lesser === null && SEVERITY_RANK[candidate.severity] > SEVERITY_RANK.high) lesser = id;
    }
    if (lesser !== null) {
      this.recent.delete(lesser);
      return;
    }
    if (this.recent.size > 2 * MAX_RECENT_ALERTS) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  private fanOut(deliver: (sink: AlertSink) => void): void {
    for (let index = 0; index < this.sinks.length; index += 1) {
      const sink = this.sinks[index] as AlertSink;
      const started = performance.now();
      try {
        deliver(sink);
        // Alerts are rare (principle 8 allows a clock read here): how long each output took to take one is its lag.
        this.sinkWriteSeconds[index]?.observe((performance.now() - started) / 1000);
      } catch (error) {
        const failures = this.sinkFailures.record(sink.name);
        if (failures === 1 || failures % 1000 === 0) this.logger.error({ err: error, sink: sink.name, failures }, 'alert sink failed');
      }
    }
  }
}
