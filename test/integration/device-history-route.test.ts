/**
 * GET /api/devices/<id>/history (issue 6, engineer view) on the real agent: MQTT traffic
 * from a station and a pump through the embedded broker, a baseline saved in the data
 * directory as a previous run would have left it, and the answer's shape: the series, the
 * command markers, the drug library's limits and the learned envelope. No session: 401
 * (before any 404); any role that sees the ward: 200; an unknown device: 404.
 */
import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import type { DeviceHistoryView, HistorySeriesView } from '../../agent/src/server/dashboard-protocol.ts';
import { agentRequest, DashboardClient, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { saveLearnedBaseline } from '../helpers/learned-baseline.ts';
import { waitFor } from '../helpers/wait-for.ts';

const HOUR = 3_600_000;

function command(name: string, issuer: string, params: Record<string, string | number | boolean>): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer, user: 'nurse.route-test', command: name, params });
}

function seriesOf(view: DeviceHistoryView, key: string): HistorySeriesView {
  const series = view.series.find((candidate) => candidate.key === key);
  if (series === undefined) throw new Error(`no series ${key} in ${view.series.map((candidate) => candidate.key).join(', ')}`);
  return series;
}

describe('GET /api/devices/<id>/history', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent;
  let nurse: DashboardClient;
  const clients: MqttClient[] = [];

  async function connect(username: string, password: string): Promise<MqttClient> {
    const client = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username, password, clientId: `${username}-route-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    await saveLearnedBaseline(data.dir, loadDemoConfig());
    agent = await startTestAgent(data.dir);
    nurse = await DashboardClient.logIn(agent, data.dir, 'nurse');
    const station = await connect('station-4w', 'demo');
    const pump = await connect('pump-01', 'demo-pump-01');
    const clinic = await connect('ep-clinic', 'demo');
    await station.publishAsync('ward/pump-01/command', command('program_infusion', 'station-4w', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    for (const rate of [14.4, 14.4, 16]) {
      await pump.publishAsync('ward/pump-01/telemetry', JSON.stringify({ ts: new Date().toISOString(), state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: rate, infused_ml: 1.5, vtbi_ml: 250, battery_pct: 88, alarm: '', library_version: '4W-2026.11-demo' }), { qos: 1 });
    }
    await clinic.publishAsync('ward/prog-01/command', command('start_session', 'ep-clinic', { implant_serial: 'PM-4711' }), { qos: 1 });
    await clinic.publishAsync('ward/prog-01/command', command('program', 'ep-clinic', { mode: 'DDD', lower_rate_ppm: 60, upper_rate_ppm: 130, amplitude_v: 3.5, pulse_width_ms: 0.4, tachy_therapy: true }), { qos: 1 });
    await waitFor(async () => {
      const view = await nurse.json<DeviceHistoryView>('/api/devices/pump-01/history');
      return view.series.some((series) => series.key === 'rate_ml_h' && series.last.includes(16));
    }, 5_000, 'the pump\'s telemetry in its history');
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    await agent.stop();
    data.remove();
  });

  it('asks for a session first: 401 for a known and an unknown device alike, with the security headers', async () => {
    for (const path of ['/api/devices/pump-01/history', '/api/devices/no-such-pump/history']) {
      const answer = await agentRequest(agent, 'GET', path);
      expect(answer.status, path).toBe(401);
      expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
    }
  });

  it('answers 404 for a device not in the inventory, and for an id the route does not take', async () => {
    expect((await nurse.get('/api/devices/no-such-pump/history')).status).toBe(404);
    expect((await nurse.get('/api/devices/pump-01%2F..%2Fx/history')).status).toBe(404);
    expect((await nurse.get('/api/devices/pump-01/history/extra')).status).toBe(404);
  });

  it('never refuses a role that sees the ward (403): nurse, biomed and admin all get the history', async () => {
    for (const role of ['nurse', 'biomed', 'admin'] as const) {
      const client = role === 'nurse' ? nurse : await DashboardClient.logIn(agent, data.dir, role);
      const answer = await client.get('/api/devices/pump-01/history');
      expect(answer.status, role).toBe(200);
    }
  });

  it('gives a pump\'s dose and rate with the ICU heparin limits, the learned envelopes, and the station\'s command as a marker', async () => {
    const view = await nurse.json<DeviceHistoryView>('/api/devices/pump-01/history');
    expect(view.device).toMatchObject({ id: 'pump-01', bed: '1', profile: 'infusion-pump', online: true });
    expect(view.infusion).toEqual({ drug: 'heparin', careArea: 'ICU', weightKg: 80, rateMlPerHour: 16, dose: 20, doseUnit: 'units/kg/h' });
    expect([view.resolutionSeconds, view.windowHours]).toEqual([60, 24]);
    expect(Date.parse(view.until ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(view.until ?? '') - Date.parse(view.from ?? '')).toBeLessThan(24 * HOUR);
    // The current drug's dose comes first.
    expect(view.series[0]?.key).toBe('dose:ICU/heparin');

    const dose = seriesOf(view, 'dose:ICU/heparin');
    expect(dose).toMatchObject({ family: 'dose', unit: 'units/kg/h', source: 'telemetry' });
    // 14.4 then 16 mL/h: 18 then 20 units/kg/h (in one minute's bucket, or two if a minute turned between them).
    expect(dose.last.at(-1)).toBe(20);
    expect(Math.max(...dose.max)).toBe(20);
    expect(Math.min(...dose.min)).toBe(18);
    expect(dose.t.length).toBe(dose.last.length);
    expect(dose.limits).toEqual({ kind: 'drug-library', source: 'ICU drug library: heparin', unit: 'units/kg/h', hardMin: null, hardMax: 40, softMin: 5, softMax: 25 });
    // The pump's own envelope: mature (learned two days), 30 samples of 15–22.
    expect(dose.envelope).toMatchObject({ level: 'device', key: 'heparin/dose', low: 15, high: 22, unit: 'units/kg/h', samples: 30, judged: true, pinned: false });

    // The rate: the same limits in mL/h at 80 kg of 100 units/mL (40 units/kg/h = 32 mL/h), and the ICU pumps' envelope.
    const rate = seriesOf(view, 'rate_ml_h');
    expect(rate.limits).toMatchObject({ kind: 'drug-library', unit: 'mL/h', hardMax: 32, softMax: 20, softMin: 4, hardMin: null });
    expect(rate.envelope).toMatchObject({ level: 'group', key: 'ICU/heparin/rate', samples: 30, unit: 'mL/h' });
    expect(rate.envelope?.low).toBeCloseTo(12, 5);
    expect(rate.envelope?.high).toBeCloseTo(17.6, 5);
    // Battery and volume: no limits, no envelope.
    expect(seriesOf(view, 'battery_pct')).toMatchObject({ family: 'battery', unit: '%', limits: null, envelope: null });

    const programmed = view.markers.find((marker) => marker.command === 'program_infusion');
    expect(programmed).toMatchObject({ sender: 'station-4w', transport: 'mqtt', params: { drug: 'heparin', rate_ml_h: 14.4, weight_kg: 80 }, values: { rate_ml_h: 14.4, 'dose:ICU/heparin': 18 } });
    expect(view.dropped).toEqual({ late: 0, seriesEvicted: 0, markersEvicted: 0, unrepresentable: 0 });
    expect(view.baseline).toEqual({ mode: 'monitor', judging: true });
  });

  it('gives a programmer\'s programmed values with its programmable range, and null envelopes while nothing is learned', async () => {
    const view = await nurse.json<DeviceHistoryView>('/api/devices/prog-01/history');
    expect(view.infusion).toBeNull();
    expect(view.series.map((series) => series.key)).toEqual(['lower_rate_ppm', 'upper_rate_ppm', 'amplitude_v', 'pulse_width_ms']);
    expect(seriesOf(view, 'lower_rate_ppm')).toMatchObject({ family: 'pacing-rate', unit: 'ppm', source: 'command', last: [60], envelope: null, limits: { kind: 'device', hardMin: 30, hardMax: 175, softMin: null, softMax: null } });
    expect(seriesOf(view, 'amplitude_v').limits?.source).toContain('0 V = off');
    expect(view.markers.map((marker) => [marker.command, marker.sender])).toEqual([['start_session', 'ep-clinic'], ['program', 'ep-clinic']]);
  });

  it('answers a device that has sent nothing yet with an empty history, not an error', async () => {
    const view = await nurse.json<DeviceHistoryView>('/api/devices/pump-06/history');
    expect(view.device.id).toBe('pump-06');
    expect(view.series).toEqual([]);
    expect(view.markers).toEqual([]);
    expect([view.from, view.until]).toEqual([null, null]);
  });
});
