import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ALERT_CATALOGUE } from '../../agent/src/alert/catalogue.ts';
import { AgentHealth, MAX_ANOMALY_NAMES, OTHER_ANOMALY } from '../../agent/src/health/agent-health.ts';
import { agentMetrics } from '../../agent/src/health/agent-metrics.ts';
import { DETECTOR_TIMING_SAMPLE_MEAN, DetectorTiming } from '../../agent/src/health/detector-timing.ts';
import { Histogram } from '../../agent/src/health/histogram.ts';
import { MetricsRegistry } from '../../agent/src/health/metrics.ts';
import { ObservationCounters } from '../../agent/src/health/observation-counters.ts';
import { ProcessMetrics } from '../../agent/src/health/process-metrics.ts';
import { renderExposition, type MetricFamily } from '../../agent/src/health/prometheus-text.ts';
import type { OutboundChannel } from '../../agent/src/export/outbound.ts';
import { createMonitor } from '../../agent/src/monitor.ts';
import { AlertStore } from '../../agent/src/store/alert-store.ts';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';
import { missingPeer } from '../helpers/peers.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-parser.ts';
import { promtoolCheckMetrics } from '../helpers/promtool.ts';
import { FailureTally } from '../../agent/src/health/failure-tally.ts';

const noPromtool = missingPeer('promtool', 'prometheus');

/** A family whose help and label values hold every character the format escapes. */
const AWKWARD: MetricFamily = {
  name: 'wardwatch_test_things_total',
  help: 'Counts C:\\ward\\things,\nover two lines "quoted"',
  type: 'counter',
  samples: [
    { labels: { name: 'back\\slash' }, value: 1 },
    { labels: { name: 'say "hi"' }, value: 2 },
    { labels: { name: 'line\nfeed' }, value: 3 },
    { labels: { name: 'plain' }, value: 0 },
  ],
};

/** A small xorshift generator: sampling tests that are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

describe('Prometheus text exposition 0.0.4', () => {
  it('writes HELP and TYPE before the samples and escapes help (\\\\, \\n) and label values (\\\\, \\", \\n)', () => {
    const text = renderExposition([AWKWARD]);
    expect(text).toBe(
      [
        '# HELP wardwatch_test_things_total Counts C:\\\\ward\\\\things,\\nover two lines "quoted"',
        '# TYPE wardwatch_test_things_total counter',
        'wardwatch_test_things_total{name="back\\\\slash"} 1',
        'wardwatch_test_things_total{name="say \\"hi\\""} 2',
        'wardwatch_test_things_total{name="line\\nfeed"} 3',
        'wardwatch_test_things_total{name="plain"} 0',
        '',
      ].join('\n'),
    );
    // Read back by a parser written from the format description, the values are the originals.
    const parsed = parsePrometheusText(text).get(AWKWARD.name);
    expect(parsed?.help).toBe(AWKWARD.help);
    expect(parsed?.type).toBe('counter');
    expect(parsed?.samples.map((sample) => sample.labels.name)).toEqual(AWKWARD.samples.map((sample) => sample.labels?.name));
  });

  it('spells NaN and the infinities as Go does, and ends the last line with a line feed', () => {
    const text = renderExposition([{ name: 'wardwatch_test_value', help: 'x', type: 'gauge', samples: [{ labels: { k: 'nan' }, value: NaN }, { labels: { k: 'inf' }, value: Infinity }, { labels: { k: 'neg' }, value: -Infinity }, { labels: { k: 'tiny' }, value: 1e-7 }] }]);
    expect(text.split('\n').slice(2)).toEqual(['wardwatch_test_value{k="nan"} NaN', 'wardwatch_test_value{k="inf"} +Inf', 'wardwatch_test_value{k="neg"} -Inf', 'wardwatch_test_value{k="tiny"} 1e-7', '']);
    expect(sampleValue(parsePrometheusText(text), 'wardwatch_test_value', { k: 'tiny' })).toBe(1e-7);
    expect(renderExposition([])).toBe('');
  });

  it('refuses names the format does not allow, and a family rendered twice', () => {
    expect(() => renderExposition([{ name: 'ward-watch', help: 'x', type: 'gauge', samples: [] }])).toThrow(/invalid metric name/);
    expect(() => renderExposition([{ name: 'wardwatch_x', help: 'x', type: 'gauge', samples: [{ labels: { 'bad-label': 'v' }, value: 1 }] }])).toThrow(/invalid label name/);
    expect(() => renderExposition([{ name: 'wardwatch_x', help: 'x', type: 'gauge', samples: [{ labels: { __name__: 'v' }, value: 1 }] }])).toThrow(/invalid label name/);
    const family: MetricFamily = { name: 'wardwatch_x', help: 'x', type: 'gauge', samples: [] };
    expect(() => renderExposition([family, family])).toThrow(/rendered twice/);
  });

  it('a histogram: cumulative buckets (le is inclusive) ending with +Inf, then _sum and _count', () => {
    const histogram = new Histogram([0.1, 1]);
    for (const value of [0.05, 0.1, 0.5, 5]) histogram.observe(value);
    const text = renderExposition([{ name: 'wardwatch_test_seconds', help: 'Test.', type: 'histogram', samples: histogram.samples({ detector: 'a' }) }]);
    expect(text.split('\n').slice(2)).toEqual([
      'wardwatch_test_seconds_bucket{detector="a",le="0.1"} 2',
      'wardwatch_test_seconds_bucket{detector="a",le="1"} 3',
      'wardwatch_test_seconds_bucket{detector="a",le="+Inf"} 4',
      'wardwatch_test_seconds_sum{detector="a"} 5.65',
      'wardwatch_test_seconds_count{detector="a"} 4',
      '',
    ]);
    expect(parsePrometheusText(text).get('wardwatch_test_seconds')?.samples).toHaveLength(5);
    expect(() => new Histogram([1, 1])).toThrow(/increasing/);
    expect(() => new Histogram([])).toThrow(/at least one/);
  });

  it('the strict parser refuses a histogram without +Inf, a bad escape and ungrouped samples', () => {
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n')).toThrow(/\+Inf/);
    expect(() => parsePrometheusText('g{a="\\q"} 1\n')).toThrow(/invalid escape/);
    expect(() => parsePrometheusText('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="y"} 2\n')).toThrow(/grouped|reappears/);
    expect(() => parsePrometheusText('a 1')).toThrow(/line feed/);
  });

  it.skipIf(noPromtool !== null)('promtool check metrics accepts the escaped family and a histogram', async () => {
    const histogram = new Histogram([0.001, 0.01]);
    histogram.observe(0.002);
    const text = renderExposition([AWKWARD, { name: 'wardwatch_test_duration_seconds', help: 'Test.', type: 'histogram', samples: histogram.samples({ detector: 'x' }) }]);
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, output: '' });
    // And it can fail: a counter without _total is a lint problem.
    expect((await promtoolCheckMetrics('# HELP wardwatch_bad x\n# TYPE wardwatch_bad counter\nwardwatch_bad 1\n')).code).not.toBe(0);
  });
});

describe('metrics registry', () => {
  it('a collector that throws is left out and counted; the others are served', () => {
    const registry = new MetricsRegistry();
    registry.register('fine', () => [{ name: 'wardwatch_fine', help: 'Fine.', type: 'gauge', samples: [{ value: 7 }] }]);
    registry.register('broken', () => {
      throw new Error('stats failed');
    });
    registry.render();
    const families = parsePrometheusText(registry.render());
    expect(sampleValue(families, 'wardwatch_fine')).toBe(7);
    expect(sampleValue(families, 'wardwatch_metrics_collector_failures_total', { collector: 'broken' })).toBe(2);
    expect(sampleValue(families, 'wardwatch_metrics_collector_failures_total', { collector: 'fine' })).toBe(0);
  });
});

describe('counters on the pipeline', () => {
  it('observations by protocol, kind and way of seeing; tap and capture appear once seen', () => {
    const counters = new ObservationCounters();
    const client = { clientId: 'c', username: 'u', address: '10.0.0.1' };
    counters.count({ kind: 'mqtt-publish', ts: 0, client, topic: 't', payload: Buffer.alloc(0), retain: false, qos: 0 }, 'in-path');
    counters.count({ kind: 'mqtt-publish', ts: 0, client: null, topic: 't', payload: Buffer.alloc(0), retain: false, qos: 0, via: 'tap' }, 'tap');
    counters.count({ kind: 'modbus-request', ts: 0, master: { address: '10.0.0.2', port: 1 }, deviceId: 'd', unitId: 1, transactionId: 1, pdu: Buffer.from([3]) }, 'capture');
    counters.count({ kind: 'modbus-request', ts: 0, master: { address: '10.0.0.2', port: 1 }, deviceId: 'd', unitId: 1, transactionId: 2, pdu: Buffer.from([3]) }, 'capture');
    counters.count({ kind: 'capture-anomaly', ts: 0, source: '10.0.0.3', destination: '10.0.0.4', name: 'ip-fragment-overlap', detail: '' }, 'capture');
    const entries = counters.entries();
    expect(entries.filter((entry) => entry.via === 'in-path')).toHaveLength(9);
    expect(entries.find((entry) => entry.via === 'in-path' && entry.kind === 'publish')?.count).toBe(1);
    expect(entries.filter((entry) => entry.via !== 'in-path')).toEqual([
      { protocol: 'mqtt', kind: 'publish', via: 'tap', count: 1 },
      { protocol: 'modbus', kind: 'request', via: 'capture', count: 2 },
      { protocol: 'ip', kind: 'anomaly', via: 'capture', count: 1 },
    ]);
  });

  it('the pipeline counts what it ingests, the tap by its mark', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-01', { state: 'running', rate_ml_h: 5 });
    ward.tapPublish('ward/pump-01/telemetry', '{}');
    ward.modbusRequest('pump-01', '10.4.0.99', [3, 0, 0, 0, 1]);
    const counts = ward.monitor.health.observations.entries().filter((entry) => entry.count > 0);
    expect(counts).toEqual([
      { protocol: 'mqtt', kind: 'publish', via: 'in-path', count: 1 },
      { protocol: 'modbus', kind: 'request', via: 'in-path', count: 1 },
      { protocol: 'mqtt', kind: 'publish', via: 'tap', count: 1 },
    ]);
  });

  it('anomaly names are capped; further names count as other', () => {
    const health = new AgentHealth({ mqttClients: () => 0, alertsRaised: () => 0, sinkFailures: () => new FailureTally(), detectorErrors: () => new FailureTally(), expectsTraffic: false });
    for (let i = 0; i < MAX_ANOMALY_NAMES + 10; i += 1) health.countAnomaly(`made-up-${i}`);
    health.countAnomaly('made-up-0');
    expect(health.anomalies.size).toBe(MAX_ANOMALY_NAMES + 1);
    expect(health.anomalies.get(OTHER_ANOMALY)).toBe(10);
    expect(health.anomalies.get('made-up-0')).toBe(2);
  });

  it('the ingest-stall and start-up grace times can be shortened', () => {
    const health = new AgentHealth({ mqttClients: () => 0, alertsRaised: () => 0, sinkFailures: () => new FailureTally(), detectorErrors: () => new FailureTally(), expectsTraffic: true, stall: { ingestStallMs: 100, startGraceMs: 0 } });
    expect(health.view(health.startedAt + 50).status).toBe('ok');
    expect(health.view(health.startedAt + 150).reasons).toEqual(['no device traffic for 0 s']);
    health.countPublish(health.startedAt + 150);
    expect(health.view(health.startedAt + 200).status).toBe('ok');
  });
});

describe('detector timing', () => {
  it('samples one event in DETECTOR_TIMING_SAMPLE_MEAN on average, at random gaps', () => {
    const timing = new DetectorTiming(['a'], DETECTOR_TIMING_SAMPLE_MEAN, seeded(42));
    const gaps = new Set<number>();
    let sampled = 0;
    let last = 0;
    for (let event = 1; event <= 160_000; event += 1) {
      if (!timing.sampleThis()) continue;
      sampled += 1;
      gaps.add(event - last);
      last = event;
    }
    expect(sampled / 160_000).toBeGreaterThan(1 / DETECTOR_TIMING_SAMPLE_MEAN - 0.003);
    expect(sampled / 160_000).toBeLessThan(1 / DETECTOR_TIMING_SAMPLE_MEAN + 0.003);
    expect(Math.min(...gaps)).toBe(1);
    expect(Math.max(...gaps)).toBe(2 * DETECTOR_TIMING_SAMPLE_MEAN - 1);
  });

  it('the engine times every detector on the sampled events and counts every event', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 640; i += 1) {
      ward.advance(1_000).telemetry('pump-01', { state: 'running', rate_ml_h: 5 });
    }
    const { engine, detectors } = ward.monitor;
    expect(engine.events).toBe(640);
    const counts = engine.timing.histograms.map((histogram) => histogram.count);
    expect(counts).toHaveLength(detectors.length);
    // One timed event runs through every detector: the same count for each.
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeGreaterThan(10);
    expect(counts[0]).toBeLessThan(100);
    expect(engine.timing.histograms.every((histogram) => histogram.sum > 0)).toBe(true);
  });
});

describe('agent metrics', () => {
  it('the store failing is an alert sink failure: counted by sink, and health says the store is failing', () => {
    const data = temporaryDataDir();
    try {
      const store = new AlertStore(join(data.dir, 'wardwatch.db'));
      const monitor = createMonitor(loadDemoConfig(), { sinks: [store], logger: pino({ level: 'silent' }) });
      store.close(); // the real store, its database gone from under it
      monitor.alerts.raise({ type: 'unauthorized-command', ts: Date.now(), device: null, dedupKey: 'x', title: 'test', evidence: {} });
      const view = monitor.health.view();
      expect(view.status).toBe('degraded');
      expect(view.reasons).toEqual([expect.stringMatching(/^the alert store \(wardwatch\.db\) is failing \(1 failed writes, the last at \d\d:\d\d:\d\d UTC\)$/)]);
      const outbound: OutboundChannel[] = [];
      const registry = agentMetrics({ health: monitor.health, engine: monitor.engine, alerts: monitor.alerts, outbound, devices: () => monitor.state.all(), mqttClients: () => 0, dashboardSessions: () => 0, webSocketClients: () => 0, process: new ProcessMetrics() });
      const families = parsePrometheusText(registry.render());
      expect(sampleValue(families, 'wardwatch_alert_sink_failures_total', { sink: 'store' })).toBe(1);
      expect(sampleValue(families, 'wardwatch_healthy')).toBe(0);
      expect(sampleValue(families, 'wardwatch_alerts_raised_total', { type: 'unauthorized-command', severity: 'critical' })).toBe(1);
      // Bounded: one series per catalogue type, whatever was raised.
      expect(families.get('wardwatch_alerts_raised_total')?.samples).toHaveLength(Object.keys(ALERT_CATALOGUE).length);
      // Outbound channels pushed after the registry was built are listed (the agent's own array).
      // Fixed before the scrape, so the lag the scrape measures is at least 2 s (a time taken inside stats() could be later than the scrape's own clock).
      const oldestQueuedAt = Date.now() - 2_000;
      outbound.push({ name: 'test-out', start: async () => undefined, stop: async () => undefined, stats: () => ({ name: 'test-out', connected: false, queued: 3, capacity: 10, sent: 5, dropped: 2, failures: 4, oldestQueuedAt }) });
      outbound.push({ name: 'test-cutter', start: async () => undefined, stop: async () => undefined, stats: () => ({ name: 'test-cutter', connected: true, queued: 0, capacity: 10, sent: 7, dropped: 0, failures: 0, oldestQueuedAt: null, truncated: 6, formatFailures: 1 }) });
      const later = parsePrometheusText(registry.render());
      expect(sampleValue(later, 'wardwatch_outbound_queue_length', { output: 'test-out' })).toBe(3);
      expect(sampleValue(later, 'wardwatch_outbound_dropped_total', { output: 'test-out' })).toBe(2);
      expect(sampleValue(later, 'wardwatch_outbound_lag_seconds', { output: 'test-out' })).toBeGreaterThanOrEqual(2);
      expect(sampleValue(later, 'wardwatch_outbound_connected', { output: 'test-out' })).toBe(0);
      // Cut and unformattable items: a series only for the output that reports them.
      expect(sampleValue(later, 'wardwatch_outbound_truncated_total', { output: 'test-cutter' })).toBe(6);
      expect(sampleValue(later, 'wardwatch_outbound_format_failures_total', { output: 'test-cutter' })).toBe(1);
      expect(later.get('wardwatch_outbound_truncated_total')?.samples.map((sample) => sample.labels.output)).toEqual(['test-cutter']);
    } finally {
      data.remove();
    }
  });
});
