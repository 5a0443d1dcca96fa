import { FailureTally } from '../health/failure-tally.ts';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AlertAcknowledgement, AlertView } from '../server/dashboard-protocol.ts';
import { ALERT_CATALOGUE, SEVERITY_RANK, type AlertType } from './catalogue.ts';
import { eventTimeIso } from '../model/wire.ts';
import type { AlertSink } from './alert-sink.ts';
import type { Finding } from './finding.ts';
import { Histogram } from '../health/histogram.ts';

/** Bucket bounds (s) for an alert output's write: SQLite on an SD card takes milliseconds, a stalled disk much longer. */
const SINK_WRITE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

interface SuppressionEntry {
  alert: AlertView;
  /** Event time until which repeats fold into `alert`. */
  until: number;
}

export interface AcknowledgeInput {
  readonly by: string;
  readonly reason: string;
  readonly from: string;
  readonly at: Date;
}

export type AcknowledgeOutcome =
  | { readonly ok: true; readonly alert: AlertView }
  | { readonly ok: false; readonly error: 'not-found' | 'already-acknowledged' };

/** Caps on what the alert layer keeps in memory (DESIGN.md, principle 3). */
export const MAX_SUPPRESSION_ENTRIES = 10_000;
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
  private readonly suppression = new Map<string, SuppressionEntry>();
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
    initial: readonly AlertView[] = [],
  ) {
    this.sinkWriteSeconds = sinks.map(() => new Histogram(SINK_WRITE_BUCKETS));
    for (const alert of initial) this.remember(alert);
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

  raise(finding: Finding): void {
    const key = `${finding.type}|${finding.dedupKey}`;
    const suppressed = this.suppression.get(key);
    if (suppressed !== undefined && finding.ts <= suppressed.until && suppressed.alert.state === 'open' && this.recent.get(suppressed.alert.id) === suppressed.alert) {
      const updated: AlertView = { ...suppressed.alert, count: suppressed.alert.count + 1, lastTs: eventTimeIso(finding.ts) };
      suppressed.alert = updated;
      this.remember(updated);
      this.queueRepeat(updated);
      return;
    }
    const device = finding.device;
    const alert: AlertView = {
      id: randomUUID(),
      type: finding.type,
      severity: ALERT_CATALOGUE[finding.type].severity,
      ts: eventTimeIso(finding.ts),
      lastTs: eventTimeIso(finding.ts),
      count: 1,
      deviceId: device?.config.id ?? null,
      ward: device?.config.ward ?? null,
      bed: device?.config.bed ?? null,
      location: device?.config.location ?? null,
      title: finding.title,
      evidence: finding.evidence,
      state: 'open',
      ack: null,
    };
    if (this.suppression.size >= MAX_SUPPRESSION_ENTRIES) {
      const oldest = this.suppression.keys().next().value;
      if (oldest !== undefined) this.suppression.delete(oldest);
    }
    this.suppression.delete(key);
    this.suppression.set(key, { alert, until: finding.ts + this.suppressionMs });
    this.remember(alert);
    this.raisedCount += 1;
    this.raisedByType.set(finding.type, (this.raisedByType.get(finding.type) ?? 0) + 1);
    this.fanOut((sink) => sink.alertRaised(alert));
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
