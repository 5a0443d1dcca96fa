import { spawn } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { connect as connectSocket, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { IDLE_SOCKET_MS, MAX_METRICS_CONNECTIONS } from '../../agent/src/server/metrics-server.ts';
import { DashboardFeed, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { CLI, wardwatch } from '../helpers/cli.ts';
import { demoConfigWith, loadDemoConfig } from '../helpers/demo-config.ts';
import { missingPeer } from '../helpers/peers.ts';
import { parsePrometheusText, sampleValue, type ParsedFamily } from '../helpers/prometheus-parser.ts';
import { promtoolCheckMetrics } from '../helpers/promtool.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noPromtool = missingPeer('promtool', 'prometheus');

interface Scrape {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: string;
}

async function get(agent: RunningAgent, path: string, method = 'GET'): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${agent.metricsPort}${path}`, { method });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
}

async function scrape(agent: RunningAgent): Promise<{ text: string; families: Map<string, ParsedFamily> }> {
  const answer = await get(agent, '/metrics');
  expect(answer.status).toBe(200);
  expect(answer.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  return { text: answer.body, families: parsePrometheusText(answer.body) };
}

function command(issuer: string, name: string, params: Record<string, unknown>): string {
  return JSON.stringify({ id: `metrics-${Math.random().toString(36).slice(2)}`, ts: new Date().toISOString(), issuer, user: 'rn-metrics', command: name, params });
}

function telemetry(): string {
  return JSON.stringify({ ts: new Date().toISOString(), state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 12.5, vtbi_ml: 250, alarm: '', battery_pct: 88 });
}

describe('/metrics and /healthz on their own plain-HTTP listener', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  let agent: RunningAgent | null = null;
  const clients: MqttClient[] = [];

  async function connect(username: string, password: string): Promise<MqttClient> {
    const client = await connectAsync(`mqtt://127.0.0.1:${agent?.mqttPort}`, { username, password, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(client);
    return client;
  }

  beforeEach(() => {
    data = temporaryDataDir();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
    await agent?.stop();
    agent = null;
    data.remove();
  });

  it('counts real MQTT traffic, anomalies, alerts, clients and sessions; the whole text passes a strict parser and promtool; no payload leaks into it', async () => {
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { metricsPort: 0 });
    expect(agent.metricsPort).toBeGreaterThan(0);
    const before = (await scrape(agent)).families;
    expect(sampleValue(before, 'wardwatch_observations_total', { protocol: 'mqtt', kind: 'publish', via: 'in-path' })).toBe(0);

    const feed = await DashboardFeed.connect(agent, { dataDir: data.dir });
    const pump = await connect('pump-01', 'demo-pump-01');
    const guest = await connect('guest', 'demo');
    const telemetryCount = 120;
    for (let i = 0; i < telemetryCount; i += 1) await pump.publishAsync('ward/pump-01/telemetry', telemetry(), { qos: 1 });
    await guest.publishAsync('ward/pump-01/command', command('guest', 'set_rate', { rate_ml_h: 320 }), { qos: 1 });
    await pump.publishAsync('ward/pump-01/telemetry', 'not json at all', { qos: 1 });
    await waitFor(() => agent?.alerts.list().find((alert) => alert.type === 'unauthorized-command'), 3_000, 'the unauthorized-command alert');

    const { text, families } = await scrape(agent);
    const value = (family: string, labels: Record<string, string> = {}, name?: string): number | undefined => sampleValue(families, family, labels, name);
    expect(value('wardwatch_observations_total', { protocol: 'mqtt', kind: 'publish', via: 'in-path' })).toBe(telemetryCount + 2);
    expect(value('wardwatch_observations_total', { protocol: 'mqtt', kind: 'connect', via: 'in-path' })).toBe(2);
    expect(value('wardwatch_observations_total', { protocol: 'modbus', kind: 'request', via: 'in-path' })).toBe(0);
    expect(value('wardwatch_anomalies_total', { name: 'payload-not-json' })).toBe(1);
    expect(value('wardwatch_alerts_raised_total', { type: 'unauthorized-command', severity: 'critical' })).toBe(1);
    expect(value('wardwatch_alerts_raised_total', { type: 'modbus-write-burst', severity: 'high' })).toBe(0);
    // The store's lag: each alert change (raised, repeated) written to SQLite, each in a measurable time below 5 s.
    const storeWrites = value('wardwatch_alert_sink_write_seconds', { sink: 'store' }, 'wardwatch_alert_sink_write_seconds_count') ?? 0;
    expect(storeWrites).toBeGreaterThanOrEqual(1);
    expect(value('wardwatch_alert_sink_write_seconds', { sink: 'store' }, 'wardwatch_alert_sink_write_seconds_sum')).toBeGreaterThan(0);
    expect(value('wardwatch_alert_sink_write_seconds', { sink: 'store', le: '5' }, 'wardwatch_alert_sink_write_seconds_bucket')).toBe(storeWrites);
    expect(value('wardwatch_mqtt_clients')).toBe(2);
    expect(value('wardwatch_devices', { state: 'online' })).toBe(1);
    expect(value('wardwatch_devices', { state: 'offline' })).toBe(7);
    expect(value('wardwatch_dashboard_sessions')).toBe(1);
    expect(value('wardwatch_dashboard_websocket_clients')).toBe(1);
    expect(value('wardwatch_detector_events_total')).toBeGreaterThanOrEqual(telemetryCount + 2);
    // Sampled timing: gaps are at most 31 events, so 120 telemetry publishes time a few.
    const timed = value('wardwatch_detector_duration_seconds', { detector: 'drug-library' }, 'wardwatch_detector_duration_seconds_count') ?? 0;
    expect(timed).toBeGreaterThanOrEqual(3);
    expect(value('wardwatch_detector_duration_seconds', { detector: 'drug-library', le: '+Inf' }, 'wardwatch_detector_duration_seconds_bucket')).toBe(timed);
    expect(value('wardwatch_healthy')).toBe(1);
    expect(Math.abs((value('wardwatch_last_traffic_timestamp_seconds') ?? 0) - Date.now() / 1000)).toBeLessThan(30);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(Math.abs((value('process_start_time_seconds') ?? 0) - (Date.now() / 1000 - process.uptime()))).toBeLessThan(5);
    expect(value('wardwatch_nodejs_heap_used_bytes')).toBeGreaterThan(0);
    expect(families.get('wardwatch_event_loop_lag_seconds')?.type).toBe('gauge');
    expect(families.get('wardwatch_detector_duration_seconds')?.type).toBe('histogram');
    expect(families.get('wardwatch_outbound_queue_length')?.type).toBe('gauge');
    // Every family is described.
    for (const family of families.values()) {
      expect(family.help.length, family.name).toBeGreaterThan(0);
      expect(family.name.startsWith('wardwatch_') || family.name.startsWith('process_'), family.name).toBe(true);
    }
    // Counts only: nothing of what was sent (drug, topic, user, account) is in the text.
    for (const secret of ['heparin', 'ward/pump-01', 'rn-metrics', 'guest', 'pump-01', 'not json']) expect(text).not.toContain(secret);

    if (noPromtool === null) expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, output: '' });
    feed.close();
  });

  it('/healthz: 200 ok with traffic, 503 with the reason once ingest stalls, 200 again when traffic returns; HEAD, 404 and 405', async () => {
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { metricsPort: 0, ingestStall: { startGraceMs: 0, ingestStallMs: 3_000 } });
    const pump = await connect('pump-01', 'demo-pump-01');
    await pump.publishAsync('ward/pump-01/telemetry', telemetry(), { qos: 1 });
    expect(await get(agent, '/healthz')).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok\n' });
    expect((await get(agent, '/healthz', 'HEAD')).status).toBe(200);

    const stalled = await waitFor(async () => {
      const answer = await get(agent as RunningAgent, '/healthz');
      return answer.status === 503 ? answer : null;
    }, 8_000, '/healthz 503');
    expect(stalled.body).toMatch(/^degraded\nno device traffic for \d+ s\n$/);
    expect(sampleValue((await scrape(agent)).families, 'wardwatch_healthy')).toBe(0);

    await pump.publishAsync('ward/pump-01/telemetry', telemetry(), { qos: 1 });
    expect((await get(agent, '/healthz')).status).toBe(200);

    expect((await get(agent, '/metrics?x=1')).status).toBe(200);
    expect((await get(agent, '/api/health')).status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${agent.metricsPort}/healthz`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('/healthz 503 when an alert output fails for real (alerts.jsonl on a full disk, /dev/full)', async () => {
    symlinkSync('/dev/full', join(data.dir, 'alerts.jsonl'));
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { metricsPort: 0 });
    expect(await get(agent, '/healthz')).toMatchObject({ status: 200 });
    const guest = await connect('guest', 'demo');
    // The first write fails asynchronously (ENOSPC); the log refuses every write after it.
    // `stop` from guest raises exactly one alert (unauthorized-command).
    await guest.publishAsync('ward/pump-01/command', command('guest', 'stop', {}), { qos: 1 });
    await waitFor(() => agent?.alerts.list().length === 1, 3_000, 'the first alert');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await guest.publishAsync('ward/pump-02/command', command('guest', 'stop', {}), { qos: 1 });
    const failing = await waitFor(async () => {
      const answer = await get(agent as RunningAgent, '/healthz');
      return answer.status === 503 ? answer : null;
    }, 3_000, '/healthz 503');
    expect(failing.body).toMatch(/^degraded\nalert output "alert-log" is failing \(1 failed writes, the last at \d\d:\d\d:\d\d UTC\)\n$/);
    const { families } = await scrape(agent);
    expect(sampleValue(families, 'wardwatch_alert_sink_failures_total', { sink: 'alert-log' })).toBe(1);
    expect(sampleValue(families, 'wardwatch_alert_sink_failures_total', { sink: 'store' })).toBe(0);
    // The other outputs still got both alerts (principle 7).
    expect(sampleValue(families, 'wardwatch_alerts_raised_total', { type: 'unauthorized-command', severity: 'critical' })).toBe(2);
  });

  it('a metrics port in use is logged and the agent monitors on without it', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const taken = (blocker.address() as AddressInfo).port;
      agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { metricsPort: taken });
      expect(agent.metricsPort).toBeNull();
      const guest = await connect('guest', 'demo');
      await guest.publishAsync('ward/pump-01/command', command('guest', 'set_rate', { rate_ml_h: 320 }), { qos: 1 });
      await waitFor(() => agent?.alerts.list().find((alert) => alert.type === 'unauthorized-command'), 3_000, 'an alert without metrics');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it(`idle connections taking every slot are closed after ${IDLE_SOCKET_MS / 1000} s, so they cannot keep /healthz down`, async () => {
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { metricsPort: 0 });
    const running = agent;
    const port = running.metricsPort ?? 0;
    const idle = await Promise.all(Array.from({ length: MAX_METRICS_CONNECTIONS }, () => new Promise<Socket>((resolve) => {
      const socket = connectSocket(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', () => undefined);
    })));
    try {
      const startedAt = Date.now();
      // Every slot is taken by a socket that sends nothing: a health check must get through
      // again once the server has closed them (the idle limit plus its 1 s sweep), not after
      // Node's default 30 s sweep.
      await waitFor(async () => {
        try {
          return (await get(running, '/healthz')).status === 200;
        } catch {
          return false;
        }
      }, IDLE_SOCKET_MS + 5_000, '/healthz answering again');
      expect(Date.now() - startedAt).toBeLessThan(IDLE_SOCKET_MS + 5_000);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });

  it('absent from AgentOptions, there is no listener (tests and embedders opt in)', async () => {
    agent = await startTestAgent(data.dir);
    expect(agent.metricsPort).toBeNull();
  });
});

describe('wardwatch agent --metrics-host / --metrics-port', () => {
  let data: ReturnType<typeof temporaryDataDir>;

  beforeEach(() => {
    data = temporaryDataDir();
  });

  afterEach(() => data.remove());

  it('prints where /metrics and /healthz are, and they answer there', async () => {
    const configFile = join(data.dir, 'site.yaml');
    writeFileSync(configFile, demoConfigWith((doc) => (doc.tls = { mode: 'off' })));
    const child = spawn(process.execPath, [CLI, 'agent', '--config', configFile, '--data-dir', join(data.dir, 'agent'), '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--metrics-port', '0', '--log-level', 'error']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const line = await waitFor(() => /^wardwatch agent: .+$/m.exec(stdout)?.[0], 20_000, 'the agent line');
      const port = /metrics and health on http:\/\/127\.0\.0\.1:(\d+) \(\/metrics, \/healthz\)/.exec(line)?.[1];
      expect(port, line).toBeDefined();
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(parsePrometheusText(await metrics.text()).has('wardwatch_observations_total')).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
  });

  it('--metrics-port takes a port or off', async () => {
    const result = await wardwatch('agent', '--config', 'config/demo.yaml', '--metrics-port', 'ninety');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("option '--metrics-port <port>' argument 'ninety' is invalid");
    expect(result.stderr).toContain('or off');
  });
});
