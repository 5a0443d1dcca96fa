/**
 * Client certificates (mutual TLS) on the hospital's central broker (issue 8, many wards):
 * a real mosquitto with `require_certificate true`, certificates made with openssl, the real
 * agent's uplink and the real hub. A ward's password alone no longer admits it; a refused
 * uplink costs the ward nothing but the uplink (DESIGN.md, principle 7); the key is never
 * in a log line or on the configuration page.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/src/app.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { parseHubConfig } from '../../agent/src/hub/hub-config.ts';
import { startHub, type RunningHub } from '../../agent/src/hub/hub.ts';
import type { OutboundStats } from '../../agent/src/export/outbound.ts';
import type { AlertView, SiteConfigView } from '../../agent/src/server/dashboard-protocol.ts';
import { wardwatch } from '../helpers/cli.ts';
import { makeClientCertificate, type ClientCertificate } from '../helpers/client-certificate.ts';
import { DashboardClient } from '../helpers/dashboard-client.ts';
import { demoConfigWith } from '../helpers/demo-config.ts';
import { missingMosquitto, startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.ts';
import { makeHospitalPki, type HospitalPki } from '../helpers/tls.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noMosquitto = missingMosquitto();

const SECONDS = 1_000;
const PASSWORDS: Readonly<Record<string, string>> = {
  'ward-4w': `pw-4w-${process.pid}`,
  'ward-5e': `pw-5e-${process.pid}`,
  'ward-6n': `pw-6n-${process.pid}`,
  'wardwatch-hub': `pw-hub-${process.pid}`,
  'alert-reader': `pw-reader-${process.pid}`,
};
/** Each ward writes only its own topics; the hub and the test's reader only read (docs/operations.md, "Many wards"). */
const ACL = [
  'user ward-4w',
  'topic write wardwatch/4W/#',
  'user ward-5e',
  'topic write wardwatch/5E/#',
  'user ward-6n',
  'topic write wardwatch/6N/#',
  'user wardwatch-hub',
  'topic read wardwatch/#',
  'user alert-reader',
  'topic read wardwatch/#',
];

/** The body of a PEM key (its base64 lines joined): what must appear in no log line and no page. */
function keyBody(keyFile: string): string {
  return readFileSync(keyFile, 'utf8').split('\n').filter((line) => line !== '' && !line.startsWith('-----')).join('');
}

/** A logger whose lines the test reads (debug level: everything the agent could say). */
function recordingLogger(lines: string[]): Logger {
  return pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
}

interface Uplink {
  readonly username?: string;
  readonly password?: string;
  readonly cert?: string;
  readonly key?: string;
}

async function startWard(dataDir: string, ward: string, brokerPort: number, pki: HospitalPki, uplink: Uplink, logger: Logger): Promise<RunningAgent> {
  const parsed = parseSiteConfig(demoConfigWith((doc) => {
    doc.site.ward = ward;
    doc.uplink = { url: `mqtts://localhost:${brokerPort}`, ca: pki.caFile, ...uplink, healthIntervalSeconds: 1, reconnectMaxSeconds: 1 };
  }));
  if (!parsed.ok) throw new Error(`ward config refused: ${JSON.stringify(parsed.issues)}`);
  return startAgent({ config: parsed.config, dataDir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, modbusHost: '127.0.0.1', modbusPort: 0, mqttsPort: 0, logger });
}

function uplinkStats(agent: RunningAgent): OutboundStats {
  const uplink = agent.outbound.find((channel) => channel.name === 'uplink');
  if (uplink === undefined) throw new Error('the agent has no uplink');
  return uplink.stats();
}

let commandCounter = 0;

/** A station programs heparin at 320 mL/h (ten times the hard limit) through the ward's own broker: a critical alert there. */
async function overdose(agent: RunningAgent): Promise<AlertView> {
  commandCounter += 1;
  const station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
  const command = { id: `mtls-${process.pid}-${commandCounter}`, ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn', command: 'program_infusion', params: { drug: 'heparin', rate_ml_h: 320, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' } };
  await station.publishAsync('ward/pump-01/command', JSON.stringify(command), { qos: 1 });
  await station.endAsync();
  return waitFor(() => agent.alerts.list().find((alert) => alert.type === 'dose-above-hard-limit' && alert.deviceId === 'pump-01'), 5 * SECONDS, 'the ward\'s own alert');
}

/** A subscriber to every ward's topics, as a SIEM bridge or an engineer with mosquitto_sub would be; it too must present a certificate. */
async function startReader(port: number, pki: HospitalPki, certificate: ClientCertificate, credentials: { username?: string; password?: string }): Promise<{ client: MqttClient; messages: { topic: string; payload: string }[] }> {
  const messages: { topic: string; payload: string }[] = [];
  const client = await connectAsync(`mqtts://localhost:${port}`, { ...credentials, ca: readFileSync(pki.caFile), cert: readFileSync(certificate.certFile), key: readFileSync(certificate.keyFile), clientId: `alert-reader-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0 });
  client.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString('utf8') }));
  await client.subscribeAsync('wardwatch/#', { qos: 1 });
  return { client, messages };
}

describe.skipIf(noMosquitto !== null)('the central mosquitto requires a client certificate and a password', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-mtls-'));
  const rogueDir = mkdtempSync(join(tmpdir(), 'wardwatch-mtls-rogue-'));
  let pki: HospitalPki;
  let certificates: Record<'ward4w' | 'ward6n' | 'hub' | 'reader', ClientCertificate>;
  /** Signed by another CA, for ward 6N's CN: what a copied-together certificate would be. */
  let rogue: ClientCertificate;
  let mosquitto: RunningMosquitto;
  let reader: Awaited<ReturnType<typeof startReader>>;
  const agents: RunningAgent[] = [];
  let hub: RunningHub | null = null;
  const logs = { '4W': [] as string[], '5E': [] as string[], '6N': [] as string[], hub: [] as string[] };

  beforeAll(async () => {
    pki = await makeHospitalPki(dir);
    // One at a time: openssl's -CAcreateserial shares the CA's serial file.
    certificates = {
      ward4w: await makeClientCertificate(dir, pki, 'ward-4w'),
      ward6n: await makeClientCertificate(dir, pki, 'ward-6n'),
      hub: await makeClientCertificate(dir, pki, 'wardwatch-hub'),
      reader: await makeClientCertificate(dir, pki, 'alert-reader'),
    };
    rogue = await makeClientCertificate(rogueDir, await makeHospitalPki(rogueDir), 'ward-6n');
    mosquitto = await startMosquitto({
      accounts: Object.entries(PASSWORDS).map(([username, password]) => ({ username, password })),
      acl: ACL,
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      requireCertificate: { caFile: pki.caFile },
      useUsernameAsClientId: true,
    });
    reader = await startReader(mosquitto.port, pki, certificates.reader, { username: 'alert-reader', password: PASSWORDS['alert-reader'] });
  });

  afterAll(async () => {
    await reader?.client.endAsync(true);
    await hub?.stop();
    for (const agent of agents) await agent.stop();
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(rogueDir, { recursive: true, force: true });
  });

  it('(a) a ward with a certificate signed by the broker\'s client CA delivers its alerts; the configuration page shows the certificate\'s subject and expiry, never the key', async () => {
    const dataDir = join(dir, 'agent-4w');
    const agent = await startWard(dataDir, '4W', mosquitto.port, pki, { username: 'ward-4w', password: PASSWORDS['ward-4w'], cert: certificates.ward4w.certFile, key: certificates.ward4w.keyFile }, recordingLogger(logs['4W']));
    agents.push(agent);
    await waitFor(() => uplinkStats(agent).connected, 10 * SECONDS, 'ward 4W connected to the central broker');
    const alert = await overdose(agent);
    const delivered = await waitFor(() => reader.messages.find((message) => message.topic === 'wardwatch/4W/alerts' && message.payload.includes(alert.id)), 10 * SECONDS, 'the alert at the central broker');
    expect(JSON.parse(delivered.payload)).toMatchObject({ ward: '4W', change: 'raised', alert: { id: alert.id, type: 'dose-above-hard-limit', severity: 'critical' } });
    await waitFor(() => uplinkStats(agent).sent >= 1 && uplinkStats(agent).queued === 0, 5 * SECONDS, 'the PUBACK');
    expect(uplinkStats(agent).failures).toBe(0);

    const biomed = await DashboardClient.logIn(agent, dataDir, 'biomed');
    const page = await biomed.get('/api/config');
    expect(page.status).toBe(200);
    const { uplink } = page.json<SiteConfigView>().outputs;
    expect(uplink?.clientCertificate?.subject).toBe('O=St Example Hospital, CN=ward-4w');
    expect(Date.parse(uplink?.clientCertificate?.validTo ?? '') - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(page.body).not.toContain(keyBody(certificates.ward4w.keyFile));
    expect(page.body).not.toContain(certificates.ward4w.keyFile);
    expect(page.body).not.toContain(dir);
    const log = logs['4W'].join('');
    expect(log).toContain('uplink: connected to the central broker');
    expect(log).not.toContain(keyBody(certificates.ward4w.keyFile));
  });

  it('(b) the right password without a certificate is refused; the ward keeps monitoring and its uplink stats show the failure', async () => {
    const agent = await startWard(join(dir, 'agent-5e'), '5E', mosquitto.port, pki, { username: 'ward-5e', password: PASSWORDS['ward-5e'] }, recordingLogger(logs['5E']));
    agents.push(agent);
    await waitFor(() => uplinkStats(agent).failures >= 2, 10 * SECONDS, 'two refused attempts');
    const alert = await overdose(agent);
    expect(agent.alerts.list().map((held) => held.id)).toContain(alert.id);
    await waitFor(() => uplinkStats(agent).queued >= 1, 5 * SECONDS, 'the alert queued for the uplink');
    expect(uplinkStats(agent)).toMatchObject({ connected: false, sent: 0 });
    // A ward the broker admitted would have announced itself (retained `online`, health) at once.
    expect(reader.messages.filter((message) => message.topic.startsWith('wardwatch/5E/'))).toEqual([]);
    expect(logs['5E'].join('')).toContain('uplink: cannot reach the central broker; retrying');
  });

  it('(b) a certificate from another CA is refused the same way, and its key is in no log line', async () => {
    const agent = await startWard(join(dir, 'agent-6n'), '6N', mosquitto.port, pki, { username: 'ward-6n', password: PASSWORDS['ward-6n'], cert: rogue.certFile, key: rogue.keyFile }, recordingLogger(logs['6N']));
    agents.push(agent);
    await waitFor(() => uplinkStats(agent).failures >= 2, 10 * SECONDS, 'two refused attempts');
    const alert = await overdose(agent);
    expect(agent.alerts.list().map((held) => held.id)).toContain(alert.id);
    await waitFor(() => uplinkStats(agent).queued >= 1, 5 * SECONDS, 'the alert queued for the uplink');
    expect(uplinkStats(agent)).toMatchObject({ connected: false, sent: 0 });
    expect(reader.messages.filter((message) => message.topic.startsWith('wardwatch/6N/'))).toEqual([]);
    const log = logs['6N'].join('');
    expect(log).toContain('uplink: cannot reach the central broker; retrying');
    expect(log).not.toContain(keyBody(rogue.keyFile));
    // The broker said why: the certificate does not chain to its client CA.
    expect(mosquitto.log()).toMatch(/certificate verify failed|unknown ca|OpenSSL Error/i);
  });

  it('(c) the hub connects with its own client certificate and receives ward 4W\'s alerts', async () => {
    const parsed = parseHubConfig([
      'site: { name: St Example Hospital }',
      'broker:',
      `  url: mqtts://localhost:${mosquitto.port}`,
      '  username: wardwatch-hub',
      `  password: ${PASSWORDS['wardwatch-hub']}`,
      `  ca: ${pki.caFile}`,
      `  cert: ${certificates.hub.certFile}`,
      `  key: ${certificates.hub.keyFile}`,
      '  reconnectMaxSeconds: 1',
      'wards: [4W]',
      'tls: { mode: off }',
    ].join('\n'));
    if (!parsed.ok) throw new Error(`hub config refused: ${JSON.stringify(parsed.issues)}`);
    const started = await startHub({ config: parsed.config, dataDir: join(dir, 'hub'), httpPort: 0, logger: recordingLogger(logs.hub) });
    hub = started;
    // The ward's retained uplink state reaches a new subscriber at once; alerts raised before the hub's first session do not (QoS 1 is queued only for an existing session).
    await waitFor(() => started.brokerConnected && started.wards().find((ward) => ward.ward === '4W')?.uplink === 'online', 10 * SECONDS, 'the hub connected, ward 4W online');
    const ward4w = agents[0];
    if (ward4w === undefined) throw new Error('ward 4W did not start');
    const alert = await overdose(ward4w);
    await waitFor(() => started.alerts.get(alert.id), 10 * SECONDS, 'ward 4W\'s alert at the hub');
    expect(logs.hub.join('')).not.toContain(keyBody(certificates.hub.keyFile));
  });
});

describe.skipIf(noMosquitto !== null)('the central mosquitto takes the certificate\'s CN as the username (use_identity_as_username)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-mtls-identity-'));
  let mosquitto: RunningMosquitto;
  let agent: RunningAgent | null = null;
  let reader: Awaited<ReturnType<typeof startReader>> | null = null;

  afterAll(async () => {
    await reader?.client.endAsync(true);
    await agent?.stop();
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a ward with a certificate and no password delivers its alerts, within the ACL of its CN', async () => {
    const pki = await makeHospitalPki(dir);
    const ward = await makeClientCertificate(dir, pki, 'ward-4w');
    const readerCertificate = await makeClientCertificate(dir, pki, 'alert-reader');
    mosquitto = await startMosquitto({ acl: ACL, tls: { certFile: pki.certFile, keyFile: pki.keyFile }, requireCertificate: { caFile: pki.caFile, useIdentityAsUsername: true } });
    reader = await startReader(mosquitto.port, pki, readerCertificate, {});
    const logs: string[] = [];
    const running = await startWard(join(dir, 'agent-4w'), '4W', mosquitto.port, pki, { cert: ward.certFile, key: ward.keyFile }, recordingLogger(logs));
    agent = running;
    const alert = await overdose(running);
    const messages = reader.messages;
    await waitFor(() => messages.find((message) => message.topic === 'wardwatch/4W/alerts' && message.payload.includes(alert.id)), 10 * SECONDS, 'the alert at the central broker');
    expect(uplinkStats(running)).toMatchObject({ connected: true, failures: 0 });
  });
});

describe('a client certificate the config names but cannot be used: listed by path, exit 2, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-mtls-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('wardwatch config check and wardwatch hub', async () => {
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n');
    const site = join(dir, 'site.yaml');
    writeFileSync(site, demoConfigWith((doc) => (doc.uplink = { url: 'mqtts://central-mqtt.hospital.example:8883', cert: 'not-a-cert.pem', key: 'ward.key' })));
    const hubFile = join(dir, 'hub.yaml');
    writeFileSync(hubFile, 'site: { name: St Example Hospital }\nbroker: { url: "mqtts://central-mqtt.hospital.example:8883", cert: not-a-cert.pem, key: not-a-cert.pem }\n');
    const [checked, hub] = await Promise.all([wardwatch('config', 'check', site), wardwatch('hub', '-c', hubFile, '-d', join(dir, 'never'))]);
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain(`${site}: error uplink.key: ${join(dir, 'ward.key')}: file not found`);
    expect(checked.stderr).not.toMatch(/^\s+at /m);
    expect(hub.code).toBe(2);
    expect(hub.stderr).toContain(`${hubFile}: error broker.cert: ${join(dir, 'not-a-cert.pem')}: not an X.509 certificate (PEM or DER)`);
    expect(hub.stderr).not.toMatch(/^\s+at /m);
  });
});
