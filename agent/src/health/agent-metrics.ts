import type { AlertManager } from '../alert/alert-manager.ts';
import { ALERT_CATALOGUE, type AlertType } from '../alert/catalogue.ts';
import type { DetectionEngine } from '../detect/detection-engine.ts';
import type { OutboundChannel, OutboundStats } from '../export/outbound.ts';
import type { AgentHealth } from './agent-health.ts';
import { MetricsRegistry } from './metrics.ts';
import type { ProcessMetrics } from './process-metrics.ts';
import type { MetricFamily, MetricType, Sample } from './prometheus-text.ts';

/** What /metrics reads from the running agent; counts only, never payloads, names of patients or values. */
export interface AgentMetricSources {
  readonly health: AgentHealth;
  readonly engine: DetectionEngine;
  readonly alerts: AlertManager;
  /** The agent's own array: channels pushed onto it later are listed too. */
  readonly outbound: readonly OutboundChannel[];
  readonly devices: () => Iterable<{ readonly online: boolean }>;
  readonly mqttClients: () => number;
  readonly dashboardSessions: () => number;
  readonly webSocketClients: () => number;
  readonly process: ProcessMetrics;
  /** The replay detector's counts (detect/command-replay-detector.ts); without it, no series. */
  readonly replay?: { readonly resends: number; readonly evictions: number };
}

function family(name: string, type: MetricType, help: string, samples: readonly Sample[]): MetricFamily {
  return { name, type, help, samples };
}

function one(value: number): Sample[] {
  return [{ value }];
}

/** Age of the oldest queued item against the wall clock: event time, so a replayed capture shows its own age. */
function lagSeconds(stats: OutboundStats, now: number): number {
  return stats.oldestQueuedAt === null ? 0 : Math.max(0, now - stats.oldestQueuedAt) / 1000;
}

/**
 * The agent's metrics, read when scraped (the list and its meaning: docs/protocol.md,
 * "Metrics and health"). Label values come from fixed sets: observation kinds, anomaly
 * names (capped in agent-health.ts), the alert catalogue, the detectors, the alert sinks
 * and outbound channels the agent was built with.
 */
export function agentMetrics(sources: AgentMetricSources, now: () => number = Date.now): MetricsRegistry {
  const { health, engine, alerts } = sources;
  const registry = new MetricsRegistry();

  registry.register('health', () => {
    const view = health.view(now());
    return [
      family('wardwatch_healthy', 'gauge', '1 when the agent judges itself healthy (/healthz 200), 0 when degraded (/healthz 503 with the reasons).', one(view.status === 'ok' ? 1 : 0)),
      family('wardwatch_health_reasons', 'gauge', 'Reasons the agent is degraded now (0 when healthy).', one(view.reasons.length)),
      family('wardwatch_last_traffic_timestamp_seconds', 'gauge', 'When the last MQTT publish or Modbus frame was ingested (wall clock, unix seconds); 0 before the first.', one((health.lastPublishAt ?? 0) / 1000)),
    ];
  });

  registry.register('ingest', () => [
    family(
      'wardwatch_observations_total',
      'counter',
      'Messages and frames ingested, by protocol, kind and how they were seen (in-path: the embedded broker or a Modbus gateway; tap; capture).',
      health.observations.entries().map(({ protocol, kind, via, count }) => ({ labels: { protocol, kind, via }, value: count })),
    ),
    family('wardwatch_anomalies_total', 'counter', 'Input that did not follow the protocol or the wire contract, by anomaly name.', [...health.anomalies].map(([name, value]) => ({ labels: { name }, value }))),
  ]);

  registry.register('detection', () => [
    family('wardwatch_detector_events_total', 'counter', 'Events inspected by the detectors.', one(engine.events)),
    family('wardwatch_detector_errors_total', 'counter', 'Times a detector threw on an event (it was skipped for that event; the others ran).', engine.timing.detectorIds.map((detector) => ({ labels: { detector }, value: engine.errorsByDetector.count(detector) }))),
    engine.timing.family(),
    ...(sources.replay === undefined ? [] : [
      family('wardwatch_command_resends_total', 'counter', 'Command copies taken as their publisher\'s QoS 1/2 re-send after a lost acknowledgement (DUP set, same client, account, packet id and payload, within 5 min, after a reconnect, at most 2 per command): not alerted as command-replay.', one(sources.replay.resends)),
      family('wardwatch_command_replay_evictions_total', 'counter', 'Command ids the replay detector forgot because a device\'s table was full (4,096 ids): a replay of one goes unnoticed.', one(sources.replay.evictions)),
    ]),
  ]);

  registry.register('alerts', () => [
    family(
      'wardwatch_alerts_raised_total',
      'counter',
      'New alerts raised, by catalogue type and its severity (repeats folded into an open alert are not counted).',
      (Object.keys(ALERT_CATALOGUE) as AlertType[]).map((type) => ({ labels: { type, severity: ALERT_CATALOGUE[type].severity }, value: alerts.raisedByType.get(type) ?? 0 })),
    ),
    family(
      'wardwatch_alert_sink_failures_total',
      'counter',
      'Failed writes to an alert output (store: the embedded SQLite store; alert-log: alerts.jsonl; dashboard: the live feed).',
      alerts.sinkNames.map((sink) => ({ labels: { sink }, value: alerts.sinkFailures.count(sink) })),
    ),
    {
      name: 'wardwatch_alert_sink_write_seconds',
      help: 'Time an alert output took to take one alert change (store: the SQLite write, synchronous, so this is the store\'s lag; outbound outputs only queue here).',
      type: 'histogram',
      samples: alerts.sinkNames.flatMap((sink, index) => alerts.sinkWriteSeconds[index]?.samples({ sink }) ?? []),
    },
  ]);

  registry.register('outbound', () => {
    const at = now();
    const stats = sources.outbound.map((channel) => channel.stats());
    const per = (value: (entry: OutboundStats) => number): Sample[] => stats.map((entry) => ({ labels: { output: entry.name }, value: value(entry) }));
    // Only the outputs that report the count get a series: a 0 for an output that never cuts would read as "checked, none cut".
    const reported = (value: (entry: OutboundStats) => number | undefined): Sample[] => stats.flatMap((entry) => {
      const count = value(entry);
      return count === undefined ? [] : [{ labels: { output: entry.name }, value: count }];
    });
    return [
      family('wardwatch_outbound_connected', 'gauge', '1 when the output\'s last write or connection attempt succeeded.', per((entry) => (entry.connected ? 1 : 0))),
      family('wardwatch_outbound_queue_length', 'gauge', 'Items waiting in the output\'s bounded queue.', per((entry) => entry.queued)),
      family('wardwatch_outbound_queue_capacity', 'gauge', 'The bounded queue\'s capacity; when full the oldest item is dropped.', per((entry) => entry.capacity)),
      family('wardwatch_outbound_sent_total', 'counter', 'Items delivered to the output\'s peer.', per((entry) => entry.sent)),
      family('wardwatch_outbound_dropped_total', 'counter', 'Items dropped because the queue was full (oldest first).', per((entry) => entry.dropped)),
      family('wardwatch_outbound_failures_total', 'counter', 'Failed delivery attempts.', per((entry) => entry.failures)),
      family('wardwatch_outbound_lag_seconds', 'gauge', 'Age of the oldest item not yet delivered (0 when the queue is empty).', per((entry) => lagSeconds(entry, at))),
      family('wardwatch_outbound_truncated_total', 'counter', 'Items cut to fit the peer\'s size limit (syslog: maxMessageBytes); the cut item ends in "[truncated]".', reported((entry) => entry.truncated)),
      family('wardwatch_outbound_format_failures_total', 'counter', 'Items that could not be formatted for the peer (a bug; the alert is still in the store and alerts.jsonl).', reported((entry) => entry.formatFailures)),
    ];
  });

  registry.register('devices', () => {
    let online = 0;
    let offline = 0;
    for (const device of sources.devices()) {
      if (device.online) online += 1;
      else offline += 1;
    }
    return [
      family('wardwatch_devices', 'gauge', 'Inventory devices by state: online (seen, last status online) or offline (offline, or not seen since start).', [
        { labels: { state: 'online' }, value: online },
        { labels: { state: 'offline' }, value: offline },
      ]),
      family('wardwatch_mqtt_clients', 'gauge', 'MQTT clients connected to the embedded broker.', one(sources.mqttClients())),
    ];
  });

  registry.register('dashboard', () => [
    family('wardwatch_dashboard_sessions', 'gauge', 'Dashboard sessions logged in.', one(sources.dashboardSessions())),
    family('wardwatch_dashboard_websocket_clients', 'gauge', 'Live dashboard feeds (WebSocket clients).', one(sources.webSocketClients())),
  ]);

  registry.register('process', () => sources.process.families(now()));
  return registry;
}
