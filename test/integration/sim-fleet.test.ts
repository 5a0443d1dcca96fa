import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { AuthenticateError, Client } from 'aedes';
import { Command } from 'commander';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { AckMessage, CommandMessage } from '../../agent/src/model/wire.ts';
import { registerSimCommands } from '../../simulators/src/cli.ts';
import { deviceLinkIdentity } from '../../simulators/src/devices/simulated-device.ts';
import { startFleet } from '../../simulators/src/fleet.ts';
import { mqttLinkFactory } from '../../simulators/src/transports/mqtt-link.ts';

function loadDemoConfig(): SiteConfig {
  const result = parseSiteConfig(readFileSync(new URL('../../config/demo.yaml', import.meta.url), 'utf8'));
  if (!result.ok) throw new Error('config/demo.yaml is invalid');
  return result.config;
}

const config = loadDemoConfig();

interface TestBroker {
  readonly url: string;
  readonly port: number;
  readonly clients: Map<string, Client>;
  readonly rejectedLogins: string[];
  close(): Promise<void>;
}

/** A real aedes broker on a free port, checking logins against the config's plain-text passwords. */
async function startBroker(port = 0): Promise<TestBroker> {
  const passwords = new Map(config.mqtt.accounts.map((account) => [account.username, account.password]));
  const rejectedLogins: string[] = [];
  const broker = await Aedes.createBroker({
    authenticate: (_client, username, password, done) => {
      if (username !== undefined && password !== undefined && passwords.get(username) === password.toString()) {
        done(null, true);
        return;
      }
      rejectedLogins.push(username ?? '(anonymous)');
      const error = new Error('bad username or password') as AuthenticateError;
      error.returnCode = 4; // CONNACK 0x04, bad user name or password [MQTT-3.2.2-3]
      done(error, null);
    },
  });
  const clients = new Map<string, Client>();
  broker.on('clientReady', (client) => clients.set(client.id, client));
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actualPort}`,
    port: actualPort,
    clients,
    rejectedLogins,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Observed {
  readonly topic: string;
  readonly text: string;
  readonly retain: boolean;
}

/** A guest client that records everything under ward/#. */
async function observe(url: string, clientId: string, filter = 'ward/#'): Promise<{ client: MqttClient; seen: Observed[] }> {
  const client = await mqtt.connectAsync(url, { clientId, username: 'guest', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
  const seen: Observed[] = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, text: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, seen };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('sim fleet on a real aedes broker', () => {
  it('brings devices online, flows telemetry, commands and acks at 600×, and leaves them offline after stop', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const observer = await observe(broker.url, 'observer');
    cleanups.push(() => observer.client.endAsync());

    const ward = await startFleet({ brokerUrl: broker.url, config, speed: 600, seed: 7, pumps: 2, programmers: 1 });
    cleanups.push(() => ward.stop());
    const parsed = <T>(channel: string) => observer.seen
      .filter((m) => m.topic.endsWith(`/${channel}`))
      .map((m) => ({ deviceId: m.topic.split('/')[1] ?? '', message: JSON.parse(m.text) as T }));
    const ackedOk = (deviceId: string, command: string): boolean => {
      const ids = new Set(parsed<CommandMessage>('command').filter((c) => c.deviceId === deviceId && c.message.command === command).map((c) => c.message.id));
      return parsed<AckMessage>('ack').some((a) => a.deviceId === deviceId && ids.has(a.message.id) && a.message.ok);
    };
    // 600×: the morning round (first minute) takes a tenth of a second, the first EP session starts within 2 real seconds.
    await waitFor(() => ['pump-01', 'pump-02'].every((id) => ackedOk(id, 'program_infusion') && ackedOk(id, 'start'))
      && ackedOk('prog-01', 'start_session'), 'program, start and a programmer session');

    const telemetryFrom = new Set(parsed<Record<string, unknown>>('telemetry').map((t) => t.deviceId));
    expect([...telemetryFrom].sort()).toEqual(['prog-01', 'pump-01', 'pump-02']);
    const pumpReports = parsed<{ ts: string; state: string }>('telemetry').filter((t) => t.deviceId === 'pump-02').map((t) => Date.parse(t.message.ts));
    // Telemetry is stamped with sim time: reports are typically 5 simulated seconds apart. Not every
    // gap: at 600× a 20 ms pause of the event loop is 12 simulated seconds.
    const gaps = pumpReports.slice(1).map((ts, i) => ts - (pumpReports[i] ?? ts)).sort((a, b) => a - b);
    expect(gaps.length).toBeGreaterThan(20);
    const median = gaps[Math.floor(gaps.length / 2)] ?? 0;
    expect(median).toBeGreaterThan(4_000);
    expect(median).toBeLessThan(6_500);
    for (const { message } of parsed<CommandMessage>('command')) {
      expect(message.issuer).toBe(message.command.includes('session') || message.command === 'program' ? 'ep-clinic' : 'station-4w');
    }
    const firstPumpProgram = parsed<CommandMessage>('command').find((c) => c.deviceId === 'pump-01');
    expect(firstPumpProgram?.message.params).toMatchObject({ drug: 'heparin', weight_kg: 80, rate_ml_h: 14.4 });

    expect([...broker.clients.keys()].filter((id) => id !== 'observer').sort()).toEqual(['ep-clinic-sim', 'prog-01', 'pump-01', 'pump-02', 'station-4w-sim']);
    expect(broker.rejectedLogins).toEqual([]);

    const late = await observe(broker.url, 'late-observer', 'ward/+/status');
    await waitFor(() => late.seen.length >= 3, 'retained status');
    expect(late.seen.map((m) => `${m.topic}=${m.text}:${m.retain}`).sort()).toEqual([
      'ward/prog-01/status=online:true', 'ward/pump-01/status=online:true', 'ward/pump-02/status=online:true',
    ]);
    await late.client.endAsync();

    await ward.stop();
    await waitFor(() => observer.seen.filter((m) => m.topic.endsWith('/status') && m.text === 'offline').length === 3, 'offline status');
    const after = await observe(broker.url, 'after-observer', 'ward/+/status');
    await waitFor(() => after.seen.length >= 3, 'retained offline');
    expect(after.seen.every((m) => m.text === 'offline' && m.retain)).toBe(true);
    await after.client.endAsync();
  });

  it('runs from the CLI until stopped, then publishes offline', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const observer = await observe(broker.url, 'cli-observer');
    cleanups.push(() => observer.client.endAsync());
    const lines: string[] = [];
    const stop = new AbortController();
    const program = new Command('wardwatch').exitOverride();
    registerSimCommands(program, () => Promise.resolve(config), { log: (line) => lines.push(line), stopSignal: stop.signal });
    const running = program.parseAsync(['sim', 'fleet', '--broker', broker.url, '--pumps', '1', '--programmers', '0', '--speed', '600', '--seed', '3'], { from: 'user' });
    await waitFor(() => observer.seen.some((m) => m.topic === 'ward/pump-01/ack'), 'an ack from pump-01');
    stop.abort();
    await running;
    expect(lines.some((line) => line.includes('seed 3; repeat with --seed 3'))).toBe(true);
    expect(lines.some((line) => line.includes('station-4w/rn-4w-0') && line.includes('pump-01 program_infusion heparin 14.4 mL/h'))).toBe(true);
    await waitFor(() => observer.seen.some((m) => m.topic === 'ward/pump-01/status' && m.text === 'offline'), 'offline status');
  });
});

describe('MQTT device link', () => {
  it('publishes the will when the connection breaks, reconnects on its own, and is online again by its birth message', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const observer = await observe(broker.url, 'link-observer', 'ward/pump-01/#');
    cleanups.push(() => observer.client.endAsync());
    const log: string[] = [];
    const factory = mqttLinkFactory(broker.url, { reconnectPeriodMs: 100, log: (line) => log.push(line) });
    const link = await factory(deviceLinkIdentity('pump-01', 'pump-01', 'demo-pump-01'));
    cleanups.push(() => link.close());
    await waitFor(() => observer.seen.some((m) => m.text === 'online'), 'online');

    // Break the TCP connection from the broker side: no DISCONNECT, so the broker publishes the will [MQTT-3.1.2-8].
    broker.clients.get('pump-01')?.conn.destroy();
    await waitFor(() => observer.seen.some((m) => m.text === 'offline'), 'the will');
    await waitFor(() => observer.seen.filter((m) => m.text === 'online').length === 2, 'online again after reconnecting');
    expect(log.some((line) => line.includes('pump-01: reconnected'))).toBe(true);

    link.publish('ward/pump-01/telemetry', '{"state":"idle"}');
    await waitFor(() => observer.seen.some((m) => m.topic === 'ward/pump-01/telemetry'), 'telemetry after reconnecting');

    // A clean close sends DISCONNECT: no will.
    const before = observer.seen.length;
    await link.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(observer.seen.slice(before).filter((m) => m.text === 'offline')).toEqual([]);
  });

  it('never throws when the broker is unreachable or refuses the login, and says why once', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const freePort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const log: string[] = [];
    const unreachable = await mqttLinkFactory(`mqtt://127.0.0.1:${freePort}`, { firstConnectWaitMs: 2_000, reconnectPeriodMs: 100, log: (line) => log.push(line) })(
      deviceLinkIdentity('pump-01', 'pump-01', 'demo-pump-01'));
    expect(() => unreachable.publish('ward/pump-01/telemetry', '{}')).not.toThrow();
    expect(() => unreachable.publish('ward/pump-01/ack', '{}', { qos: 1 })).not.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await unreachable.close();
    expect(log).toEqual([expect.stringMatching(/^pump-01: connect ECONNREFUSED/)]);

    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const refusedLog: string[] = [];
    const refused = await mqttLinkFactory(broker.url, { firstConnectWaitMs: 2_000, refusedLoginRetryMs: 100, log: (line) => refusedLog.push(line) })(
      deviceLinkIdentity('pump-01', 'pump-01', 'wrong-password'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await refused.close();
    expect(broker.rejectedLogins.length).toBeGreaterThan(1);
    expect(refusedLog.filter((line) => /bad username or password/i.test(line)).length).toBe(1);
  });
});
