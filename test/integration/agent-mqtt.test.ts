import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { agentRequest, DashboardFeed, loggedInClient, readAlertLog, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { missingPeer } from '../helpers/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const noMosquittoClients = missingPeer('mosquitto_pub', 'mosquitto-clients');

function command(issuer: string, name: string, params: Record<string, unknown>): string {
  return JSON.stringify({ id: `it-${Math.random().toString(36).slice(2)}`, ts: new Date().toISOString(), issuer, user: 'rn-it', command: name, params });
}

async function connect(agent: RunningAgent, username: string, password: string, clientId?: string): Promise<MqttClient> {
  return connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username, password, protocolVersion: 4, reconnectPeriod: 0, ...(clientId ? { clientId } : {}) });
}

describe('agent with its embedded aedes broker, real MQTT clients', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  let agent: RunningAgent;
  const clients: MqttClient[] = [];

  beforeEach(async () => {
    data = temporaryDataDir();
    agent = await startTestAgent(data.dir);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
    await agent.stop();
    data.remove();
  });

  it.skipIf(noMosquittoClients !== null)('mosquitto_pub set_rate at ten times the hard limit: critical alert in alerts.jsonl and on the WebSocket within 1 s; the same from guest is unauthorized', async () => {
    const feed = await DashboardFeed.connect(agent, { dataDir: data.dir });
    await waitFor(() => feed.messages.find((m) => m.type === 'snapshot'), 2_000, 'snapshot');
    const station = await connect(agent, 'station-4w', 'demo');
    clients.push(station);
    await station.publishAsync('ward/pump-01/command', command('station-4w', 'program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });

    const sentAt = Date.now();
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(agent.mqttPort), '-u', 'station-4w', '-P', 'demo', '-q', '1', '-t', 'ward/pump-01/command', '-m', command('station-4w', 'set_rate', { rate_ml_h: 320 })]);
    const logged = await waitFor(() => readAlertLog(agent.alertLogFile).find((line) => line.type === 'dose-above-hard-limit'), 3_000, 'alerts.jsonl line');
    const loggedAt = Date.now();
    const pushed = await waitFor(() => feed.alerts().find((alert) => alert.type === 'dose-above-hard-limit'), 1_000, 'WebSocket alert');
    const pushedAt = Date.now();
    // Within 1 s of the broker receiving the publish (the alert's ts is that event time);
    // the end-to-end bound adds mosquitto_pub's own start-up on a shared machine.
    expect(loggedAt - Date.parse(logged.ts)).toBeLessThan(1_000);
    expect(pushedAt - Date.parse(pushed.ts)).toBeLessThan(1_000);
    expect(pushedAt - sentAt).toBeLessThan(3_000);
    expect(logged.severity).toBe('critical');
    expect(logged.deviceId).toBe('pump-01');
    expect(logged.title).toContain('Bed 1 · pump-01');
    expect(logged.event).toBe('alert');
    expect(pushed.id).toBe(logged.id);
    expect(pushed.bed).toBe('1');

    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(agent.mqttPort), '-u', 'guest', '-P', 'demo', '-q', '1', '-t', 'ward/pump-01/command', '-m', command('guest', 'set_rate', { rate_ml_h: 320 })]);
    const unauthorized = await waitFor(() => readAlertLog(agent.alertLogFile).find((line) => line.type === 'unauthorized-command'), 1_000, 'unauthorized alert');
    expect(unauthorized.severity).toBe('critical');
    expect(unauthorized.title).toContain('guest');
    expect(unauthorized.evidence).toMatchObject({ account: 'guest', address: '127.0.0.1' });
    feed.close();
  });

  it.skipIf(noMosquittoClients !== null)('wrong passwords are refused (CONNACK 4) and a burst of them is a high alert, across rotating client ids', async () => {
    for (let i = 0; i < 6; i += 1) {
      const result = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(agent.mqttPort), '-u', 'station-4w', '-P', `guess-${i}`, '-i', `rot-${i}`, '-t', 'x', '-m', 'x']).then(
        () => 'accepted',
        (error: { stderr?: string }) => error.stderr ?? 'refused',
      );
      expect(result).toMatch(/not authori[sz]ed|bad user name or password|Connection Refused/i);
    }
    const burst = await waitFor(() => agent.alerts.list().filter((alert) => alert.type === 'auth-failure-burst'), 1_000, 'auth burst');
    expect(burst.length).toBeGreaterThanOrEqual(1);
    expect(burst.every((alert) => alert.severity === 'high')).toBe(true);
  });

  it('alerts and their acknowledgements survive a restart of the agent', async () => {
    const guest = await connect(agent, 'guest', 'demo');
    clients.push(guest);
    await guest.publishAsync('ward/pump-02/command', command('guest', 'stop', {}), { qos: 1 });
    const alert = await waitFor(() => agent.alerts.list().find((a) => a.type === 'unauthorized-command'), 1_000, 'alert');
    const nurse = await loggedInClient(agent, data.dir);
    const response = await nurse.post(`/api/alerts/${alert.id}/ack`, { reason: 'Investigating' });
    expect(response.status).toBe(200);
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
    await agent.stop();

    // Sessions live in memory: after the restart the nurse logs in again.
    agent = await startTestAgent(data.dir);
    const restored = agent.alerts.get(alert.id);
    expect(restored?.state).toBe('acknowledged');
    expect(restored?.ack?.by).toBe(nurse.user.username);
    expect((await agentRequest(agent, 'GET', '/api/alerts', { cookie: nurse.cookie })).status).toBe(401);
    const again = await loggedInClient(agent, data.dir);
    const listed = await again.json<{ id: string; state: string }[]>('/api/alerts');
    expect(listed.find((a) => a.id === alert.id)?.state).toBe('acknowledged');
    expect((await again.post(`/api/alerts/${alert.id}/ack`, { reason: 'again' })).status).toBe(409);
  });

  it('10,000 malformed publishes: counted anomalies, a handful of alerts, and the ward is still served', async () => {
    const flooder = await connect(agent, 'station-4w', 'demo', 'flooder');
    const pump = await connect(agent, 'pump-03', 'demo-pump-03', 'pump-03');
    const nurse = await connect(agent, 'guest', 'demo', 'nurse-display');
    clients.push(flooder, pump, nurse);
    const relayed: string[] = [];
    await nurse.subscribeAsync('ward/pump-03/telemetry');
    nurse.on('message', (_topic, payload) => relayed.push(String(payload)));

    for (let i = 0; i < 10_000; i += 1) {
      flooder.publish('ward/pump-01/command', i % 3 === 0 ? `{"broken": ${i}` : JSON.stringify({ id: `m${i}`, ts: 'now', issuer: 'station-4w', user: 'x', command: 'explode' }));
      if (i % 2_000 === 0) pump.publish('ward/pump-03/telemetry', JSON.stringify({ ts: new Date().toISOString(), state: 'running', rate_ml_h: 5 + i / 2_000 }));
    }
    await flooder.publishAsync('ward/pump-01/command', 'last', { qos: 1 });
    const viewer = await loggedInClient(agent, data.dir);
    const health = await waitFor(async () => {
      const view = await viewer.json<{ anomalies: Record<string, number> }>('/api/health');
      const total = (view.anomalies['payload-not-json'] ?? 0) + (view.anomalies['unknown-command'] ?? 0);
      return total >= 10_001 ? view : null;
    }, 20_000, 'all anomalies counted');
    expect(health.anomalies['payload-not-json']).toBe(3_335);
    expect(health.anomalies['unknown-command']).toBe(6_666);
    const alerts = agent.alerts.list();
    expect(alerts.length).toBeGreaterThanOrEqual(1);
    expect(alerts.length).toBeLessThanOrEqual(5);
    // The other clients were served throughout: telemetry relayed, and a normal command still judged.
    await waitFor(() => relayed.length >= 5, 5_000, 'telemetry relayed');
    await flooder.publishAsync('ward/pump-02/command', command('station-4w', 'program_infusion', { drug: 'heparin', rate_ml_h: 100, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    await waitFor(() => agent.alerts.list().find((a) => a.type === 'dose-above-hard-limit' && a.deviceId === 'pump-02'), 2_000, 'alert after the flood');
  });
});

describe('garbage on the MQTT port', () => {
  it('raw non-MQTT bytes close that connection only; the agent keeps serving', async () => {
    const { connect: tcpConnect } = await import('node:net');
    const data = temporaryDataDir();
    const agent = await startTestAgent(data.dir);
    try {
      for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]), Buffer.from([0x30, 0x02, 0x00]), Buffer.alloc(4096, 0xee)]) {
        const socket = tcpConnect(agent.mqttPort!, '127.0.0.1');
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(junk);
        await new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          setTimeout(() => {
            socket.destroy();
          }, 500);
        });
      }
      const station = await connect(agent, 'station-4w', 'demo');
      await station.publishAsync('ward/pump-01/command', command('station-4w', 'set_rate', { rate_ml_h: 1200 }), { qos: 1 });
      await waitFor(() => agent.alerts.list().find((a) => a.type === 'device-limit-exceeded'), 2_000, 'alert after garbage');
      await station.endAsync(true);
    } finally {
      await agent.stop();
      data.remove();
    }
  });
});

describe('the dashboard socket under hostile clients', () => {
  it('a WebSocket upgrade from a foreign origin, reset mid-refusal, does not take the agent down', async () => {
    const { connect: tcpConnect } = await import('node:net');
    const data = temporaryDataDir();
    const agent = await startTestAgent(data.dir);
    try {
      for (let i = 0; i < 20; i += 1) {
        const socket = tcpConnect(agent.httpPort, '127.0.0.1');
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${agent.httpPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: http://evil.example\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
        socket.resetAndDestroy();
      }
      const odd = await fetch(`http://127.0.0.1:${agent.httpPort}//`);
      expect(odd.status).toBe(400);
      const health = await (await loggedInClient(agent, data.dir)).get('/api/health');
      expect(health.status).toBe(200);
    } finally {
      await agent.stop();
      data.remove();
    }
  });
});
