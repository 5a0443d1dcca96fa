import type { BaselineHealthView, HealthView } from '../server/dashboard-protocol.ts';
import { ObservationCounters } from './observation-counters.ts';
import type { FailureRecord, FailureTally } from './failure-tally.ts';

export interface HealthInputs {
  readonly mqttClients: () => number;
  readonly alertsRaised: () => number;
  readonly sinkFailures: () => FailureTally;
  readonly detectorErrors: () => FailureTally;
  readonly expectsTraffic: boolean;
  /** When the MQTT tap lost the site's broker, if it has and has not got it back (null otherwise). */
  readonly tapGapSince?: () => number | null;
  readonly baseline?: () => BaselineHealthView;
  /** Shorter stall and grace times (tests); the defaults below otherwise. */
  readonly stall?: Partial<IngestStallTimes>;
}

export interface IngestStallTimes {
  /** No device traffic for this long (after the start-up grace) means ingest has stalled. */
  readonly ingestStallMs: number;
  readonly startGraceMs: number;
}

/** No device traffic for this long (after the start-up grace) means ingest has stalled. */
export const INGEST_STALL_MS = 30_000;
export const START_GRACE_MS = 60_000;

/**
 * Distinct anomaly names counted (DESIGN.md, principle 3). The parsers' names are a fixed
 * set well below this; past it, further names are counted under `other`.
 */
export const MAX_ANOMALY_NAMES = 128;
export const OTHER_ANOMALY = 'other';

/**
 * The agent watching itself: counters of what it ingested and what went wrong, and a
 * plain-language verdict the dashboard shows loudly (DESIGN.md: a silent monitor is
 * dangerous). Uses the wall clock on purpose: it judges the agent, not the traffic.
 */
/**
 * A failing alert output or detector keeps the agent degraded until it has worked for
 * this long after its last failure: long enough for the nurse screen and a scraper to see
 * it, short enough that one full disk does not leave /healthz at 503 for good. The
 * counts since start stay in /metrics.
 */
export const FAILURE_MEMORY_MS = 15 * 60_000;

/** Whether a failure is still said in health (also the hub's, hub/hub-subscriber.ts). */
export function isRecentFailure(failure: FailureRecord, now: number): boolean {
  return now - failure.lastAt < FAILURE_MEMORY_MS;
}

function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

export class AgentHealth {
  readonly startedAt = Date.now();
  publishes = 0;
  lastPublishAt: number | null = null;
  readonly anomalies = new Map<string, number>();
  /** Messages and frames by protocol, kind and way of seeing (/metrics). */
  readonly observations = new ObservationCounters();
  private readonly ingestStallMs: number;
  private readonly startGraceMs: number;

  constructor(private readonly inputs: HealthInputs) {
    this.ingestStallMs = inputs.stall?.ingestStallMs ?? INGEST_STALL_MS;
    this.startGraceMs = inputs.stall?.startGraceMs ?? START_GRACE_MS;
  }

  countPublish(now: number): void {
    this.publishes += 1;
    this.lastPublishAt = now;
  }

  countAnomaly(name: string): void {
    const counted = this.anomalies.has(name) || this.anomalies.size < MAX_ANOMALY_NAMES ? name : OTHER_ANOMALY;
    this.anomalies.set(counted, (this.anomalies.get(counted) ?? 0) + 1);
  }

  view(now = Date.now()): HealthView {
    const reasons: string[] = [];
    for (const [sink, failure] of this.inputs.sinkFailures().entries()) {
      if (!isRecentFailure(failure, now)) continue;
      // The embedded store is an alert sink (store/alert-store.ts, name `store`): named as such.
      const what = sink === 'store' ? 'the alert store (wardwatch.db)' : `alert output "${sink}"`;
      reasons.push(`${what} is failing (${failure.count} failed writes, the last at ${clockTime(failure.lastAt)} UTC)`);
    }
    for (const [detector, failure] of this.inputs.detectorErrors().entries()) {
      if (isRecentFailure(failure, now)) reasons.push(`detector "${detector}" has failed ${failure.count} times, the last at ${clockTime(failure.lastAt)} UTC`);
    }
    const tapGap = this.inputs.tapGapSince?.() ?? null;
    if (tapGap !== null) reasons.push(`MQTT tap not connected to the site's broker since ${new Date(tapGap).toISOString().slice(11, 19)} UTC: traffic there is not seen`);
    if (this.inputs.expectsTraffic && now - this.startedAt > this.startGraceMs) {
      const silentFor = now - (this.lastPublishAt ?? this.startedAt);
      if (silentFor > this.ingestStallMs) reasons.push(`no device traffic for ${Math.round(silentFor / 1000)} s`);
    }
    return {
      status: reasons.length === 0 ? 'ok' : 'degraded',
      reasons,
      startedAt: new Date(this.startedAt).toISOString(),
      now: new Date(now).toISOString(),
      mqttClients: this.inputs.mqttClients(),
      publishes: this.publishes,
      anomalies: Object.fromEntries(this.anomalies),
      alerts: this.inputs.alertsRaised(),
      ...(this.inputs.baseline === undefined ? {} : { baseline: this.inputs.baseline() }),
    };
  }
}
