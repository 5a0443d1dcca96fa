import type { BaselineHealthView, HealthView } from '../server/dashboard-protocol.ts';

export interface HealthInputs {
  readonly mqttClients: () => number;
  readonly alertsRaised: () => number;
  readonly sinkFailures: () => ReadonlyMap<string, number>;
  readonly detectorErrors: () => ReadonlyMap<string, number>;
  readonly expectsTraffic: boolean;
  /** When the MQTT tap lost the site's broker, if it has and has not got it back (null otherwise). */
  readonly tapGapSince?: () => number | null;
  readonly baseline?: () => BaselineHealthView;
}

/** No device traffic for this long (after the start-up grace) means ingest has stalled. */
export const INGEST_STALL_MS = 30_000;
export const START_GRACE_MS = 60_000;

/**
 * The agent watching itself: counters of what it ingested and what went wrong, and a
 * plain-language verdict the dashboard shows loudly (DESIGN.md: a silent monitor is
 * dangerous). Uses the wall clock on purpose: it judges the agent, not the traffic.
 */
export class AgentHealth {
  readonly startedAt = Date.now();
  publishes = 0;
  lastPublishAt: number | null = null;
  readonly anomalies = new Map<string, number>();

  constructor(private readonly inputs: HealthInputs) {}

  countPublish(now: number): void {
    this.publishes += 1;
    this.lastPublishAt = now;
  }

  countAnomaly(name: string): void {
    this.anomalies.set(name, (this.anomalies.get(name) ?? 0) + 1);
  }

  view(now = Date.now()): HealthView {
    const reasons: string[] = [];
    for (const [sink, failures] of this.inputs.sinkFailures()) {
      reasons.push(`alert output "${sink}" is failing (${failures} failed writes)`);
    }
    for (const [detector, errors] of this.inputs.detectorErrors()) {
      reasons.push(`detector "${detector}" has failed ${errors} times`);
    }
    const tapGap = this.inputs.tapGapSince?.() ?? null;
    if (tapGap !== null) reasons.push(`MQTT tap not connected to the site's broker since ${new Date(tapGap).toISOString().slice(11, 19)} UTC: traffic there is not seen`);
    if (this.inputs.expectsTraffic && now - this.startedAt > START_GRACE_MS) {
      const silentFor = now - (this.lastPublishAt ?? this.startedAt);
      if (silentFor > INGEST_STALL_MS) reasons.push(`no device traffic for ${Math.round(silentFor / 1000)} s`);
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
