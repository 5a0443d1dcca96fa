import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CappedBackoff } from '../../agent/src/export/capped-backoff.ts';
import { influxdbSchema, type InfluxdbConfig } from '../../agent/src/model/influxdb-schema.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { createMonitor, type Monitor } from '../../agent/src/monitor.ts';
import { COMMAND_OWN_FIELDS, INFLUX_SCHEMA, PointClock, pointContext, type QueuedPoint } from '../../agent/src/store/influx-points.ts';
import { lineProtocol } from '../../agent/src/store/influx-line-protocol.ts';
import { InfluxSink } from '../../agent/src/store/influx-sink.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

const T0 = Date.parse('2026-11-28T08:00:00Z');

function influxConfig(overrides: Partial<InfluxdbConfig> = {}): InfluxdbConfig {
  return influxdbSchema.parse({ url: 'http://127.0.0.1:9', database: 'wardwatch', ...overrides });
}

/** The real pipeline feeding an InfluxSink as app.ts wires it: an event observer and an alert sink. */
function wiredSink(overrides: Partial<InfluxdbConfig> = {}, config: SiteConfig = loadDemoConfig()): { sink: InfluxSink; monitor: Monitor } {
  const sink = new InfluxSink({ config: influxConfig(overrides), context: pointContext(config.drugLibrary, config.site.ward, config.devices), logger: pino({ level: 'silent' }) });
  const monitor = createMonitor(config, { sinks: [sink], logger: pino({ level: 'silent' }), onEvent: sink.observe });
  return { sink, monitor };
}

function publish(monitor: Monitor, ts: number, username: string, topic: string, payload: unknown, clientId = `${username}-client`): void {
  monitor.pipeline.ingest({ kind: 'mqtt-publish', ts, client: { clientId, username, address: '10.4.0.20' }, topic, payload: Buffer.from(JSON.stringify(payload)), retain: false, qos: 1 });
}

function telemetry(monitor: Monitor, ts: number, deviceId: string, fields: Record<string, unknown>): void {
  publish(monitor, ts, deviceId, `ward/${deviceId}/telemetry`, { ts: new Date(ts).toISOString(), ...fields }, deviceId);
}

function command(monitor: Monitor, ts: number, account: string, deviceId: string, name: string, params: Record<string, unknown>, clientId?: string): void {
  publish(monitor, ts, account, `ward/${deviceId}/command`, { id: `c-${ts}-${name}`, ts: new Date(ts).toISOString(), issuer: account, user: 'rn-test', command: name, params }, clientId);
}

/** The points queued so far (the sink is not started, so nothing leaves). */
function queued(sink: InfluxSink): readonly QueuedPoint[] {
  return sink.waiting(1_000_000);
}

const HEPARIN_RUNNING = { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 3.2, vtbi_ml: 250, alarm: '', battery_pct: 87, library_version: '4W-2026.11-demo' };

describe('InfluxDB output: the queue', () => {
  it('overflowing maxQueuedPoints drops the oldest points and counts each drop', () => {
    const { sink, monitor } = wiredSink({ maxQueuedPoints: 5, batchSize: 5 });
    for (let i = 0; i < 8; i += 1) telemetry(monitor, T0 + i * 5_000, 'pump-01', { ...HEPARIN_RUNNING, infused_ml: i });
    const stats = sink.stats();
    expect(stats).toMatchObject({ name: 'influxdb', queued: 5, capacity: 5, dropped: 3, sent: 0, failures: 0, connected: false });
    // The three oldest went: what is left starts with the fourth message.
    expect(stats.oldestQueuedAt).toBe(T0 + 3 * 5_000);
    expect(queued(sink).map((point) => point.fields?.infused_ml)).toEqual([3, 4, 5, 6, 7]);
  });

  it('alerts are queued too, and their repeats as new occurrences', () => {
    const { sink, monitor } = wiredSink();
    command(monitor, T0, 'guest', 'pump-02', 'stop', {});
    command(monitor, T0 + 1_000, 'guest', 'pump-02', 'stop', {});
    command(monitor, T0 + 2_000, 'guest', 'pump-02', 'stop', {});
    monitor.alerts.flush();
    const alerts = queued(sink).filter((point) => point.measurement === 'alert' && point.tags?.type === 'unauthorized-command');
    expect(alerts.map((point) => [point.tags?.change, point.fields?.count, point.fields?.occurrences])).toEqual([['raised', 1, 1], ['repeated', 3, 2]]);
    expect(alerts[0]?.tags).toMatchObject({ ward: '4W', bed: '2', device: 'pump-02', profile: 'infusion-pump', severity: 'critical' });
    expect(alerts[0]?.timestamp).toBe(T0 * 1000);
    expect(alerts[1]?.timestamp).toBe((T0 + 2_000) * 1000);
    const acknowledged = monitor.alerts.acknowledge(String(alerts[0]?.fields?.id), { by: 'nurse1', reason: 'checked', from: '10.4.0.5', at: new Date(T0 + 60_000) });
    expect(acknowledged.ok).toBe(true);
    const ack = queued(sink).filter((point) => point.measurement === 'alert').at(-1);
    expect(ack).toMatchObject({ tags: { change: 'acknowledged' }, fields: { occurrences: 0, state: 'acknowledged' }, timestamp: (T0 + 60_000) * 1000 });
  });
});

describe('InfluxDB output: points', () => {
  it('telemetry: numeric fields, the dose in the library unit, tagged ward, bed, device, profile and drug', () => {
    const { sink, monitor } = wiredSink();
    telemetry(monitor, T0, 'pump-01', HEPARIN_RUNNING);
    const [point] = queued(sink);
    expect(point?.measurement).toBe('telemetry');
    expect(point?.tags).toEqual({ ward: '4W', bed: '1', device: 'pump-01', profile: 'infusion-pump', drug: 'heparin', dose_unit: 'units/kg/h' });
    // 14.4 mL/h × 100 units/mL ÷ 80 kg = 18 units/kg/h.
    expect(point?.fields).toMatchObject({ rate_ml_h: 14.4, infused_ml: 3.2, vtbi_ml: 250, weight_kg: 80, battery_pct: 87 });
    expect(point?.fields?.dose).toBeCloseTo(18, 10);
    expect(Object.keys(point?.fields ?? {})).not.toContain('state');
    expect(point?.timestamp).toBe(T0 * 1000);
  });

  it('a drug the care area does not list is tagged unlisted, and no dose is guessed', () => {
    const { sink, monitor } = wiredSink();
    telemetry(monitor, T0, 'pump-01', { ...HEPARIN_RUNNING, drug: 'x\ny,z' });
    const [point] = queued(sink);
    expect(point?.tags?.drug).toBe('unlisted');
    expect(point?.tags?.dose_unit).toBeUndefined();
    expect(point?.fields?.dose).toBeUndefined();
  });

  it('telemetry without a numeric field is not written (InfluxDB refuses a point without fields)', () => {
    const { sink, monitor } = wiredSink();
    telemetry(monitor, T0, 'pump-01', { state: 'idle' });
    expect(queued(sink)).toEqual([]);
  });

  it('commands: accepted when the detectors made no finding on them, flagged with the alert types when they did', () => {
    const { sink, monitor } = wiredSink();
    command(monitor, T0, 'station-4w', 'pump-01', 'program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }, 'station-4w-ui');
    command(monitor, T0 + 60_000, 'station-4w', 'pump-01', 'set_rate', { rate_ml_h: 320 }, 'station-4w-ui');
    const commands = queued(sink).filter((point) => point.measurement === 'command');
    expect(commands).toHaveLength(2);
    const [programmed, raised] = commands;
    expect(programmed?.tags).toEqual({ ward: '4W', bed: '1', device: 'pump-01', profile: 'infusion-pump', command: 'program_infusion', account: 'station-4w', role: 'station', transport: 'mqtt', verdict: 'accepted', drug: 'heparin' });
    expect(programmed?.fields).toEqual({ rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, count: 1, client: 'station-4w-ui', address: '10.4.0.20', command_id: `c-${T0}-program_infusion`, alerts: '' });
    expect(raised?.tags?.verdict).toBe('flagged');
    expect(String(raised?.fields?.alerts).split(',')).toContain('dose-above-hard-limit');
    expect(raised?.timestamp).toBe((T0 + 60_000) * 1000);
  });

  it('hostile strings cannot break the line protocol: control characters and backslashes never reach a tag', () => {
    const config = loadDemoConfig();
    const hostile = { ...config, site: { ...config.site, ward: 'W\\4\nx' }, devices: config.devices.map((device) => (device.id === 'pump-02' ? { ...device, ward: '4W, east=1', bed: 'B\\2\r' } : device)) };
    const { sink, monitor } = wiredSink({}, hostile);
    command(monitor, T0, 'guest', 'pump-02', 'stop', {}, 'evil\nclient"\\');
    for (let i = 0; i < 6; i += 1) monitor.pipeline.ingest({ kind: 'mqtt-auth-failure', ts: T0 + i, client: { clientId: 'c', username: 'x', address: '10.9.9.9' }, reason: 'bad-password' });
    const tagSets = queued(sink).map((point) => point.tags);
    // influx-line-protocol.ts escapes "," "=" and " " in tags; what it cannot escape is replaced.
    expect(tagSets).toContainEqual(expect.objectContaining({ device: 'pump-02', ward: '4W, east=1', bed: 'B_2_' }));
    expect(tagSets).toContainEqual(expect.objectContaining({ type: 'auth-failure-burst', ward: 'W_4_x' }));
    for (const point of queued(sink)) {
      for (const value of Object.values(point.tags ?? {})) expect(value).not.toMatch(/[\u0000-\u001f\\]/);
      for (const value of Object.values(point.fields ?? {})) if (typeof value === 'string') expect(value).not.toMatch(/[\u0000-\u001f]/);
    }
    const cmd = queued(sink).find((point) => point.measurement === 'command');
    expect(cmd?.fields?.client).toBe('evil client"\\');
    // Each point is one line of the write body, whatever the strings held.
    const { body, unwritable } = lineProtocol(queued(sink));
    expect(unwritable).toBe(0);
    expect(body.split('\n')).toHaveLength(queued(sink).length);
    expect(body).toContain('ward=4W\\,\\ east\\=1');
  });

  it('every point written uses only the measurements, tags and fields of INFLUX_SCHEMA (what the dashboard test checks against)', () => {
    const { sink, monitor } = wiredSink();
    let ts = T0;
    const step = (): number => (ts += 1_000);
    telemetry(monitor, step(), 'pump-01', HEPARIN_RUNNING);
    telemetry(monitor, step(), 'prog-01', { session: 'open', implant_serial: 'PM123', mode: 'DDD', lower_rate_ppm: 60, battery_pct: 90, firmware: '1.0' });
    command(monitor, step(), 'station-4w', 'pump-01', 'bolus', { volume_ml: 2 });
    command(monitor, step(), 'ep-clinic', 'prog-01', 'start_session', { implant_serial: 'PM123' });
    command(monitor, step(), 'ep-clinic', 'prog-01', 'program', { mode: 'VOO', lower_rate_ppm: 70, upper_rate_ppm: 120, amplitude_v: 0, pulse_width_ms: 0.4, tachy_therapy: false });
    command(monitor, step(), 'guest', 'pump-03', 'load_drug_library', { version: 'x', sha256: 'y' });
    const points = queued(sink);
    expect(new Set(points.map((point) => point.measurement))).toEqual(new Set(['telemetry', 'command', 'alert']));
    for (const point of points) {
      const schema = INFLUX_SCHEMA[point.measurement];
      for (const tag of Object.keys(point.tags ?? {})) expect(schema.tags).toContain(tag);
      for (const [field, value] of Object.entries(point.fields ?? {})) {
        expect(Object.keys(schema.fields)).toContain(field);
        expect({ field, kind: typeof value === 'number' ? 'float' : typeof value }).toEqual({ field, kind: schema.fields[field] });
      }
    }
    const program = points.find((point) => point.tags?.command === 'program');
    expect(program?.fields).toMatchObject({ amplitude_v: 0, tachy_therapy: false, lower_rate_ppm: 70 });
  });

  it('no command parameter is named like a field of the command point itself', () => {
    const params = Object.keys(INFLUX_SCHEMA.command.fields).filter((name) => !Object.hasOwn(COMMAND_OWN_FIELDS, name));
    expect(params.length).toBeGreaterThan(5);
    for (const own of Object.keys(COMMAND_OWN_FIELDS)) expect(params).not.toContain(own);
  });

  it('points of one measurement in the same millisecond get distinct microseconds, so InfluxDB does not merge them', () => {
    const clock = new PointClock();
    expect([clock.timeOf('command', 5), clock.timeOf('command', 5), clock.timeOf('telemetry', 5), clock.timeOf('command', 5), clock.timeOf('command', 6)]).toEqual([5_000, 5_001, 5_000, 5_002, 6_000]);
    for (let i = 0; i < 2_000; i += 1) clock.timeOf('alert', 9);
    // Bounded: past 1,000 in one ms the microseconds stop at 999 and stay in that ms.
    expect(clock.timeOf('alert', 9)).toBe(9_999);
  });
});

describe('CappedBackoff', () => {
  it('doubles from the initial wait up to the cap, each wait jittered within its upper half, and resets', () => {
    const low = new CappedBackoff(1_000, 30_000, () => 0);
    expect(Array.from({ length: 7 }, () => low.next())).toEqual([500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
    const high = new CappedBackoff(1_000, 30_000, () => 1);
    expect(Array.from({ length: 7 }, () => high.next())).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(high.attempts).toBe(7);
    high.reset();
    expect(high.next()).toBe(1_000);
    expect(() => new CappedBackoff(0, 10)).toThrow(RangeError);
  });
});
