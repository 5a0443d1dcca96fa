import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { OutboundStats } from '../../agent/src/export/outbound.ts';
import { influxdbSchema } from '../../agent/src/model/influxdb-schema.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { createMonitor, type Monitor } from '../../agent/src/monitor.ts';
import { pointContext } from '../../agent/src/store/influx-points.ts';
import { InfluxSink } from '../../agent/src/store/influx-sink.ts';
import { readAlertLog, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { demoConfigWith, loadDemoConfig } from '../helpers/demo-config.ts';
import { dashboardQueries, expandGrafanaVariables } from '../helpers/grafana-dashboard.ts';
import { missingInfluxd, startInfluxd, type InfluxSeries, type RunningInfluxd } from '../helpers/influxd.ts';
import { makeHospitalPki } from '../helpers/tls.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noInfluxd = missingInfluxd();
const DB = 'wardwatch';

/** The demo ward with an `influxdb:` section, through the real config parser. */
function configWithInflux(url: string): SiteConfig {
  const result = parseSiteConfig(demoConfigWith((doc) => {
    doc.influxdb = { url, database: DB, flushIntervalMs: 100 };
  }));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.config;
}

function influxStats(agent: RunningAgent): OutboundStats {
  const channel = agent.outbound.find((output) => output.name === 'influxdb');
  if (channel === undefined) throw new Error('no influxdb output on the agent');
  return channel.stats();
}

/** Rows of a series as objects: column name → value. */
function rows(series: readonly InfluxSeries[]): Record<string, unknown>[] {
  return series.flatMap((one) => one.values.map((values) => ({ ...one.tags, ...Object.fromEntries(one.columns.map((column, i) => [column, values[i]])) })));
}

async function device(agent: RunningAgent, id: string): Promise<MqttClient> {
  return connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: id, password: `demo-${id}`, clientId: id, protocolVersion: 4, reconnectPeriod: 0 });
}

function commandText(issuer: string, name: string, params: Record<string, unknown>): string {
  return JSON.stringify({ id: `it-${Math.random().toString(36).slice(2)}`, ts: new Date().toISOString(), issuer, user: 'rn-it', command: name, params });
}

function telemetryText(fields: Record<string, unknown>): string {
  return JSON.stringify({ ts: new Date().toISOString(), ...fields });
}

const HEPARIN = { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 3.2, vtbi_ml: 250, alarm: '', battery_pct: 87, library_version: '4W-2026.11-demo' };

describe.skipIf(noInfluxd !== null)('InfluxDB output against a real influxd 1.x', () => {
  let influxd: RunningInfluxd | null = null;
  let agent: RunningAgent | null = null;
  let data: ReturnType<typeof temporaryDataDir> | null = null;
  const clients: MqttClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
    await agent?.stop();
    agent = null;
    data?.remove();
    data = null;
    await influxd?.stop();
    influxd = null;
  });

  it('a running agent writes telemetry, commands and alerts; InfluxQL reads back the values and tags, and every dashboard query finds data', async () => {
    influxd = await startInfluxd();
    data = temporaryDataDir();
    agent = await startTestAgent(data.dir, configWithInflux(influxd.url));
    const pump = await device(agent, 'pump-01');
    const programmer = await device(agent, 'prog-01');
    const station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', clientId: 'station-4w-ui', protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(pump, programmer, station);

    const before = Date.now();
    await pump.publishAsync('ward/pump-01/telemetry', telemetryText(HEPARIN), { qos: 1 });
    await programmer.publishAsync('ward/prog-01/telemetry', telemetryText({ session: 'open', implant_serial: 'PM-1', mode: 'DDD', lower_rate_ppm: 60, battery_pct: 91, firmware: '3.1' }), { qos: 1 });
    await station.publishAsync('ward/pump-01/command', commandText('station-4w', 'program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    await station.publishAsync('ward/pump-01/command', commandText('station-4w', 'set_rate', { rate_ml_h: 320 }), { qos: 1 });
    const after = Date.now();
    const running = agent;
    const alert = await waitFor(() => running.alerts.list().find((one) => one.type === 'dose-above-hard-limit'), 3_000, 'the hard-limit alert');
    running.alerts.acknowledge(alert.id, { by: 'nurse-it', reason: 'rate corrected', from: '127.0.0.1', at: new Date(after + 1_000) });

    const server = influxd;
    const telemetry = rows(await waitFor(async () => {
      const found = await server.series(`SELECT * FROM "telemetry" WHERE "device" = 'pump-01'`, DB).catch(() => []);
      return found.length > 0 ? found : null;
    }, 10_000, 'telemetry in InfluxDB'));
    expect(telemetry).toHaveLength(1);
    expect(telemetry[0]).toMatchObject({ ward: '4W', bed: '1', device: 'pump-01', profile: 'infusion-pump', drug: 'heparin', dose_unit: 'units/kg/h', rate_ml_h: 14.4, infused_ml: 3.2, vtbi_ml: 250, weight_kg: 80, battery_pct: 87 });
    expect(telemetry[0]?.dose).toBeCloseTo(18, 9);
    // The event time: when the agent's broker received the publish.
    expect(telemetry[0]?.time).toBeGreaterThanOrEqual(before);
    expect(telemetry[0]?.time).toBeLessThanOrEqual(after);
    const paced = rows(await server.series(`SELECT "lower_rate_ppm", "battery_pct" FROM "telemetry" WHERE "profile" = 'pacemaker-programmer' GROUP BY *`, DB));
    expect(paced).toEqual([expect.objectContaining({ device: 'prog-01', ward: '4W', lower_rate_ppm: 60, battery_pct: 91 })]);

    const commands = await waitFor(async () => {
      const found = rows(await server.series(`SELECT * FROM "command" WHERE "device" = 'pump-01'`, DB));
      return found.length === 2 ? found : null;
    }, 10_000, 'both commands in InfluxDB');
    expect(commands[0]).toMatchObject({ command: 'program_infusion', verdict: 'accepted', account: 'station-4w', role: 'station', transport: 'mqtt', client: 'station-4w-ui', drug: 'heparin', rate_ml_h: 14.4, weight_kg: 80, count: 1, alerts: '' });
    expect(commands[1]).toMatchObject({ command: 'set_rate', verdict: 'flagged', account: 'station-4w', rate_ml_h: 320, bed: '1' });
    expect(String(commands[1]?.alerts).split(',')).toContain('dose-above-hard-limit');
    // Point time = event time, to the millisecond: the alert's ts is the command's event time.
    expect(commands[1]?.time).toBe(Date.parse(alert.ts));

    const alerts = await waitFor(async () => {
      const found = rows(await server.series(`SELECT * FROM "alert" WHERE "type" = 'dose-above-hard-limit'`, DB));
      return found.length === 2 ? found : null;
    }, 10_000, 'the alert and its acknowledgement in InfluxDB');
    expect(alerts[0]).toMatchObject({ change: 'raised', severity: 'critical', device: 'pump-01', bed: '1', ward: '4W', profile: 'infusion-pump', id: alert.id, title: alert.title, count: 1, occurrences: 1, state: 'open', time: Date.parse(alert.ts) });
    expect(alerts[1]).toMatchObject({ change: 'acknowledged', id: alert.id, occurrences: 0, state: 'acknowledged', time: after + 1_000 });
    const bySeverity = rows(await server.series(`SELECT sum("occurrences") FROM "alert" WHERE "severity" = 'critical'`, DB));
    expect(bySeverity[0]?.sum).toBeGreaterThanOrEqual(1);

    // The Grafana dashboard's own queries, with its variables filled in as Grafana would.
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(6);
    for (const query of queries) {
      const q = expandGrafanaVariables(query.query, { ward: '4W', device: '.*', from: before - 60_000, to: after + 60_000 });
      const series = await server.series(q, DB);
      expect({ panel: query.panel, rows: rows(series).length > 0 }).toEqual({ panel: query.panel, rows: true });
    }
    expect(influxStats(running)).toMatchObject({ connected: true, dropped: 0, failures: 0 });
  });

  it('influxd stopped: the agent keeps monitoring and queues points; restarted on the same data and port: every queued point arrives', async () => {
    influxd = await startInfluxd();
    data = temporaryDataDir();
    agent = await startTestAgent(data.dir, configWithInflux(influxd.url));
    const running = agent;
    const server = influxd;
    const pump = await device(agent, 'pump-02');
    const guest = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'guest', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(pump, guest);
    await pump.publishAsync('ward/pump-02/telemetry', telemetryText({ ...HEPARIN, infused_ml: 0 }), { qos: 1 });
    await waitFor(() => influxStats(running).sent >= 1 && influxStats(running).connected, 10_000, 'the first point written');

    await server.stopProcess();
    const OUTAGE_MESSAGES = 25;
    for (let i = 1; i <= OUTAGE_MESSAGES; i += 1) {
      await pump.publishAsync('ward/pump-02/telemetry', telemetryText({ ...HEPARIN, infused_ml: i }), { qos: 1 });
    }
    await guest.publishAsync('ward/pump-02/command', commandText('guest', 'stop', {}), { qos: 1 });
    const during = await waitFor(() => {
      const stats = influxStats(running);
      return !stats.connected && stats.failures >= 1 && stats.queued >= OUTAGE_MESSAGES + 2 ? stats : null;
    }, 10_000, 'the outage seen in the stats');
    expect(during.dropped).toBe(0);
    expect(during.oldestQueuedAt).not.toBeNull();
    // Monitoring goes on, and the agent's own store has the alert meanwhile.
    const logged = await waitFor(() => readAlertLog(running.alertLogFile).find((line) => line.type === 'unauthorized-command'), 3_000, 'alerts.jsonl line');
    expect(running.alerts.get(logged.id)?.deviceId).toBe('pump-02');
    await pump.publishAsync('ward/pump-02/telemetry', telemetryText({ ...HEPARIN, infused_ml: OUTAGE_MESSAGES + 1 }), { qos: 1 });

    await server.start();
    await waitFor(() => influxStats(running).queued === 0 && influxStats(running).connected, 40_000, 'the queue drained after the restart');
    const counted = rows(await server.series(`SELECT count("infused_ml") FROM "telemetry" WHERE "device" = 'pump-02'`, DB));
    expect(counted[0]?.count).toBe(OUTAGE_MESSAGES + 2);
    const infused = rows(await server.series(`SELECT "infused_ml" FROM "telemetry" WHERE "device" = 'pump-02'`, DB)).map((row) => row.infused_ml);
    expect(infused).toEqual(Array.from({ length: OUTAGE_MESSAGES + 2 }, (_, i) => i));
    const alertRows = rows(await server.series(`SELECT "id" FROM "alert" WHERE "type" = 'unauthorized-command'`, DB));
    expect(alertRows.map((row) => row.id)).toEqual([logged.id]);
    expect(influxStats(running)).toMatchObject({ dropped: 0, queued: 0, oldestQueuedAt: null });
    expect(influxStats(running).sent).toBeGreaterThanOrEqual(OUTAGE_MESSAGES + 4);
  });
});

describe.skipIf(noInfluxd !== null)('InfluxSink against a real influxd 1.x', () => {
  let influxd: RunningInfluxd | null = null;
  let sink: InfluxSink | null = null;
  let dir: string | null = null;

  afterEach(async () => {
    await sink?.stop();
    sink = null;
    await influxd?.stop();
    influxd = null;
    logLines.length = 0;
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  /** What the sinks logged, one JSON line each. */
  const logLines: string[] = [];

  function wired(config: Record<string, unknown>): { sink: InfluxSink; monitor: Monitor } {
    const site = loadDemoConfig();
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    const made = new InfluxSink({ config: influxdbSchema.parse(config), context: pointContext(site.drugLibrary, site.site.ward, site.devices), logger, retry: { initialMs: 100, maxMs: 400 } });
    return { sink: made, monitor: createMonitor(site, { sinks: [made], logger: pino({ level: 'silent' }), onEvent: made.observe }) };
  }

  function telemetry(monitor: Monitor, ts: number, infused: number): void {
    monitor.pipeline.ingest({ kind: 'mqtt-publish', ts, client: { clientId: 'pump-03', username: 'pump-03', address: '10.4.1.13' }, topic: 'ward/pump-03/telemetry', payload: Buffer.from(telemetryText({ ...HEPARIN, infused_ml: infused })), retain: false, qos: 1 });
  }

  it('a full queue while a write is in flight: the points it carries arrive and are not counted as dropped', async () => {
    influxd = await startInfluxd();
    expect((await influxd.query(`CREATE DATABASE "${DB}"`)).status).toBe(200);
    // createDatabase off: /ping at start tells whether InfluxDB answers, before any point.
    const made = wired({ url: influxd.url, database: DB, batchSize: 10, maxQueuedPoints: 10, flushIntervalMs: 100, createDatabase: false });
    sink = made.sink;
    await sink.start();
    const running = sink;
    await waitFor(() => running.stats().connected, 5_000, 'connected before the first point');
    const t0 = Date.parse('2026-11-28T08:00:00Z');
    telemetry(made.monitor, t0, 0);
    await waitFor(() => running.stats().sent === 1, 10_000, 'the first point');

    // influxd frozen (SIGSTOP): the kernel still accepts the connection, nothing answers.
    influxd.pause();
    for (let i = 1; i <= 10; i += 1) telemetry(made.monitor, t0 + i * 1_000, i);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // Five more while those ten are in flight push five of them out of the full queue.
    for (let i = 11; i <= 15; i += 1) telemetry(made.monitor, t0 + i * 1_000, i);
    expect(sink.stats().queued).toBe(10);
    influxd.resume();

    await waitFor(() => running.stats().queued === 0, 15_000, 'the queue drained');
    const infused = rows(await influxd.series(`SELECT "infused_ml" FROM "telemetry"`, DB)).map((row) => row.infused_ml);
    expect(infused).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(sink.stats()).toMatchObject({ sent: 16, dropped: 0, failures: 0 });
  });

  it('InfluxDB away from the start: connected false and failures counted before any point, then points queue', async () => {
    influxd = await startInfluxd();
    const url = influxd.url;
    await influxd.stopProcess();
    const made = wired({ url, database: DB, flushIntervalMs: 100 });
    sink = made.sink;
    await sink.start();
    const running = sink;
    await waitFor(() => running.stats().failures >= 2, 5_000, 'failed attempts with nothing queued');
    expect(running.stats()).toMatchObject({ connected: false, queued: 0, sent: 0 });
    telemetry(made.monitor, Date.parse('2026-11-28T08:00:00Z'), 1);
    expect(running.stats().queued).toBe(1);
    await influxd.start();
    await waitFor(() => running.stats().sent === 1, 10_000, 'the point written once InfluxDB is up');
    expect(rows(await influxd.series(`SELECT "infused_ml" FROM "telemetry"`, DB))).toEqual([expect.objectContaining({ infused_ml: 1 })]);
    const messages = logLines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages.filter((message) => message.startsWith('InfluxDB write failed'))).toHaveLength(1);
    expect(messages).toContain('InfluxDB reachable again; writing the queued points');
  });

  it('https with the hospital CA and a write-only user (least privilege): CREATE DATABASE is refused, writes go on; without the CA nothing is sent', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wardwatch-influx-tls-'));
    const pki = await makeHospitalPki(dir);
    influxd = await startInfluxd({ https: { certFile: pki.certFile, keyFile: pki.keyFile }, auth: true });
    const admin = 'admin:admin-pw-it';
    // With auth on, the first user must be an admin; then a database and a user that may only write to it.
    for (const q of [`CREATE USER "admin" WITH PASSWORD 'admin-pw-it' WITH ALL PRIVILEGES`, `CREATE DATABASE "${DB}"`, `CREATE USER "ward4w" WITH PASSWORD 'w-pw-it'`, `GRANT WRITE ON "${DB}" TO "ward4w"`]) {
      const answer = await influxd.query(q, { auth: admin });
      expect(answer.status, `${q}: ${answer.body}`).toBe(200);
      expect(answer.body).not.toContain('error');
    }
    const url = influxd.url.replace('127.0.0.1', 'localhost');
    const made = wired({ url, database: DB, username: 'ward4w', password: 'w-pw-it', ca: pki.caFile, flushIntervalMs: 100 });
    sink = made.sink;
    await sink.start();
    telemetry(made.monitor, Date.parse('2026-11-28T08:00:00Z'), 7);
    const running = sink;
    await waitFor(() => running.stats().sent === 1, 10_000, 'the point written over https');
    const read = rows(await influxd.series(`SELECT "infused_ml", "device" FROM "telemetry"`, DB, admin));
    expect(read).toEqual([expect.objectContaining({ device: 'pump-03', infused_ml: 7 })]);
    // The writer may not read what it wrote.
    expect((await influxd.query(`SELECT * FROM "telemetry"`, { db: DB, auth: 'ward4w:w-pw-it' })).body).toMatch(/not authorized|error/);
    const refusedCreate = logLines.map((line) => JSON.parse(line) as { level: number; status?: number; msg: string }).find((line) => line.msg.includes('CREATE DATABASE'));
    expect(refusedCreate).toMatchObject({ level: 40, status: 403 });
    await sink.stop();

    // Without the CA the server's certificate is not trusted: failures, nothing written, nothing lost from the queue.
    const untrusting = wired({ url, database: DB, username: 'ward4w', password: 'w-pw-it', flushIntervalMs: 100 });
    sink = untrusting.sink;
    await sink.start();
    telemetry(untrusting.monitor, Date.parse('2026-11-28T08:01:00Z'), 8);
    const refusing = sink;
    await waitFor(() => refusing.stats().failures >= 2, 10_000, 'TLS failures');
    expect(refusing.stats()).toMatchObject({ connected: false, sent: 0, queued: 1, dropped: 0 });
    expect(rows(await influxd.series(`SELECT count("infused_ml") FROM "telemetry"`, DB, admin))[0]?.count).toBe(1);
    const failed = logLines.map((line) => JSON.parse(line) as { msg: string; code?: string; message?: string }).find((line) => line.msg.startsWith('InfluxDB write failed'));
    expect(failed?.message ?? '').toMatch(/certificate/i);
    // The monitor must not become the leak: no password in any log line.
    expect(logLines.join('\n')).not.toContain('w-pw-it');
  });
});
