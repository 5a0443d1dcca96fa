/**
 * TLS (issue 6, item 4) with real clients: mosquitto_pub and mosquitto_sub over mqtts with
 * `--cafile`, Node's https and wss trusting only the agent's certificate, a client that
 * trusts someone else refused, the pre-login byte cap on both listeners, the site's own
 * certificate (a hospital CA's) used instead of a generated one, and the command line that
 * prints the fingerprint.
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { MAX_PRE_LOGIN_BYTES } from '../../agent/src/ingest/mqtt-broker.ts';
import { DashboardFeed, loggedInClient, readAlertLog, startTestAgent, temporaryDataDir, type DashboardClient } from '../helpers/agent-fixture.ts';
import { CLI, wardwatch } from '../helpers/cli.ts';
import { demoConfigWith, loadDemoConfig } from '../helpers/demo-config.ts';
import { missingPeer } from '../helpers/peers.ts';
import { httpsGet, makeHospitalPki } from '../helpers/tls.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const noOpenssl = missingPeer('openssl', 'openssl');
const noMosquittoClients = missingPeer('mosquitto_pub', 'mosquitto-clients');
const noPeers = noOpenssl !== null || noMosquittoClients !== null;

function command(issuer: string, name: string, params: Record<string, unknown>): string {
  return JSON.stringify({ id: `tls-${Math.random().toString(36).slice(2)}`, ts: new Date().toISOString(), issuer, user: 'rn-tls', command: name, params });
}

/** mosquitto_pub as a station would run it; resolves with the exit code and stderr, never throws. */
async function mosquittoPub(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return run('mosquitto_pub', [...args], { timeout: 10_000 }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code?: number; stderr?: string }) => ({ code: typeof error.code === 'number' ? error.code : -1, stderr: error.stderr ?? '' }),
  );
}

async function anomalies(client: DashboardClient): Promise<Record<string, number>> {
  return (await client.json<{ anomalies: Record<string, number> }>('/api/health')).anomalies;
}

/** Waits until the socket is closed by the other side (or fails the test after `ms`). */
function closed(socket: Socket, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error('the agent did not close the connection')), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe.skipIf(noPeers)('the agent with a self-signed certificate made on first start', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  let agent: RunningAgent;
  let certFile: string;
  let cert: Buffer;
  let nurse: DashboardClient;

  beforeAll(async () => {
    data = temporaryDataDir();
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { tls: { mode: 'self-signed', names: [] } });
    if (agent.tls === null) throw new Error('expected TLS');
    certFile = agent.tls.certFile;
    cert = readFileSync(certFile);
    nurse = await loggedInClient(agent, data.dir);
  });

  afterAll(async () => {
    await agent.stop();
    data.remove();
  });

  it('serves mqtts on its own port, with the certificate written to <data-dir>/tls/cert.pem and its fingerprint', () => {
    expect(agent.mqttsPort).toBeGreaterThan(0);
    expect(agent.mqttsPort).not.toBe(agent.mqttPort);
    expect(certFile).toBe(join(data.dir, 'tls', 'cert.pem'));
    expect(agent.tls?.fingerprint256).toBe(new X509Certificate(cert).fingerprint256);
    expect(agent.tls?.source).toBe('self-signed');
    expect(agent.url).toBe(`https://localhost:${agent.httpPort}/`);
  });

  it('mosquitto_pub --cafile over mqtts: a command at ten times the hard limit reaches the pipeline and raises a critical alert; mosquitto_sub --cafile sees it relayed', async () => {
    const tls = ['-h', 'localhost', '-p', String(agent.mqttsPort), '--cafile', certFile];
    // -d: mosquitto_sub says when its subscription is acknowledged (line-buffered through
    // coreutils' stdbuf, or its debug lines wait in a pipe buffer).
    const watcher = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...tls, '-d', '-u', 'wardwatch-admin', '-P', 'demo-admin', '-t', 'ward/pump-01/command', '-C', '2', '-W', '15']);
    let relayed = '';
    watcher.stdout.on('data', (chunk: Buffer) => (relayed += chunk.toString()));
    try {
      await waitFor(() => relayed.includes('received SUBACK'), 5_000, 'mosquitto_sub to subscribe over mqtts');
      const program = await mosquittoPub([...tls, '-u', 'station-4w', '-P', 'demo', '-q', '1', '-t', 'ward/pump-01/command', '-m', command('station-4w', 'program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' })]);
      expect(program).toEqual({ code: 0, stderr: '' });
      const tenfold = await mosquittoPub([...tls, '-u', 'station-4w', '-P', 'demo', '-q', '1', '-t', 'ward/pump-01/command', '-m', command('station-4w', 'set_rate', { rate_ml_h: 320 })]);
      expect(tenfold.code).toBe(0);
      const alert = await waitFor(() => readAlertLog(agent.alertLogFile).find((line) => line.type === 'dose-above-hard-limit'), 3_000, 'alert from the mqtts command');
      expect(alert.severity).toBe('critical');
      expect(alert.title).toContain('Bed 1 · pump-01');
      expect(alert.evidence).toMatchObject({ account: 'station-4w', address: '127.0.0.1' });
      await waitFor(() => (relayed.match(/"command":/g)?.length ?? 0) >= 2, 5_000, 'mosquitto_sub to print both commands');
      expect(relayed).toContain('"rate_ml_h":320');
    } finally {
      watcher.kill();
    }
  });

  it('a client that trusts another certificate is refused during the handshake, and its command never reaches the pipeline', async () => {
    const other = join(data.dir, 'other.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(data.dir, 'other.key'), '-out', other, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']);
    const before = agent.alerts.list().length;
    const refused = await mosquittoPub(['-h', 'localhost', '-p', String(agent.mqttsPort), '--cafile', other, '-u', 'guest', '-P', 'demo', '-t', 'ward/pump-02/command', '-m', command('guest', 'stop', {})]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/TLS|certificate|verify/i);
    // Node's TLS with only the public CAs: a self-signed certificate, refused.
    const nodeError = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: agent.mqttsPort ?? 0, servername: 'localhost' });
      socket.once('secureConnect', () => resolve(Object.assign(new Error('accepted'), { code: 'ACCEPTED' })));
      socket.once('error', resolve);
    });
    expect(nodeError.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    // A plain MQTT client on the TLS port is not understood either.
    const plain = await mosquittoPub(['-h', '127.0.0.1', '-p', String(agent.mqttsPort), '-u', 'guest', '-P', 'demo', '-t', 'ward/pump-02/command', '-m', command('guest', 'stop', {})]);
    expect(plain.code).not.toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(agent.alerts.list().length).toBe(before);
    expect(agent.alerts.list().find((alert) => alert.type === 'unauthorized-command')).toBeUndefined();
  });

  it('Node https and wss trusting only the generated certificate: /api/health, HSTS, the live feed; plain HTTP on the port gets nothing', async () => {
    const health = await httpsGet(`https://localhost:${agent.httpPort}/api/health`, cert, { cookie: nurse.cookie });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toHaveProperty('status');
    // HSTS for a real name; not for localhost, where it would upgrade every local http:// service.
    expect(health.headers['strict-transport-security']).toBeUndefined();
    const byAddress = await httpsGet(`https://127.0.0.1:${agent.httpPort}/api/health`, cert, { cookie: nurse.cookie });
    expect(byAddress.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(byAddress.headers['content-security-policy']).toContain("default-src 'none'");

    await expect(fetch(`http://127.0.0.1:${agent.httpPort}/api/health`)).rejects.toThrow();
    await expect(httpsGet(`https://localhost:${agent.httpPort}/api/health`, readFileSync(join(data.dir, 'other.pem')))).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });

    const feed = await DashboardFeed.connect(agent, nurse);
    const snapshot = await waitFor(() => feed.messages.find((message) => message.type === 'snapshot'), 3_000, 'snapshot over wss');
    expect(snapshot.type).toBe('snapshot');
    feed.close();

    // The same-origin check holds over TLS: a page elsewhere cannot open the feed.
    const foreign = new WebSocket(`wss://localhost:${agent.httpPort}/ws`, { origin: 'https://evil.example', ca: cert });
    const refusal = await new Promise<string>((resolve) => {
      foreign.once('open', () => resolve('open'));
      foreign.once('unexpected-response', (_request, response) => resolve(String(response.statusCode)));
      foreign.once('error', (error) => resolve(error.message));
    });
    foreign.terminate();
    expect(refusal).toBe('403');
    // Over wss too, no session cookie, no feed.
    const anonymous = new WebSocket(`wss://localhost:${agent.httpPort}/ws`, { origin: `https://localhost:${agent.httpPort}`, ca: cert });
    const anonymousRefusal = await new Promise<string>((resolve) => {
      anonymous.once('open', () => resolve('open'));
      anonymous.once('unexpected-response', (_request, response) => resolve(String(response.statusCode)));
      anonymous.once('error', (error) => resolve(error.message));
    });
    anonymous.terminate();
    expect(anonymousRefusal).toBe('401');
  });

  it.each(['mqtt', 'mqtts'] as const)('%s: more than 64 KiB before the login is accepted closes the connection and is counted', async (listener) => {
    const before = (await anomalies(nurse))['mqtt-connect-oversize'] ?? 0;
    const socket: Socket = listener === 'mqtt'
      ? tcpConnect(agent.mqttPort ?? 0, '127.0.0.1')
      : tlsConnect({ host: '127.0.0.1', port: agent.mqttsPort ?? 0, servername: 'localhost', ca: cert });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once(listener === 'mqtt' ? 'connect' : 'secureConnect', () => resolve()));
    // A CONNECT that claims 200 MB (remaining length 0xC0 0x84 0x3D = 1,000,000 × 200), then never ends.
    socket.write(Buffer.from([0x10, 0x80, 0xda, 0xc4, 0x5f]));
    socket.write(Buffer.alloc(MAX_PRE_LOGIN_BYTES + 1024, 0x41));
    await closed(socket);
    await waitFor(async () => ((await anomalies(nurse))['mqtt-connect-oversize'] ?? 0) === before + 1, 3_000, 'the anomaly counted');
  });
});

describe.skipIf(noPeers)('plain MQTT off, mqtts only', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  beforeEach(() => {
    data = temporaryDataDir();
  });
  afterEach(() => data.remove());

  it('--mqtt-port off: no plain listener; devices use mqtts; with TLS off too there would be no broker at all, so the agent refuses to start', async () => {
    const agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { tls: { mode: 'self-signed', names: [] }, mqttPort: null });
    try {
      expect(agent.mqttPort).toBeNull();
      expect(agent.mqttsPort).toBeGreaterThan(0);
      const published = await mosquittoPub(['-h', 'localhost', '-p', String(agent.mqttsPort), '--cafile', agent.tls?.certFile ?? '', '-u', 'guest', '-P', 'demo', '-q', '1', '-t', 'ward/pump-02/command', '-m', command('guest', 'stop', {})]);
      expect(published.code).toBe(0);
      await waitFor(() => agent.alerts.list().find((alert) => alert.type === 'unauthorized-command'), 3_000, 'alert over mqtts');
    } finally {
      await agent.stop();
    }
    await expect(startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { tls: { mode: 'off' }, mqttPort: null })).rejects.toThrow(/no MQTT listener/);
  });
});

describe.skipIf(noPeers)('the site\'s own certificate, signed by a hospital CA', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  beforeEach(() => {
    data = temporaryDataDir();
  });
  afterEach(() => data.remove());

  it('is served instead of a generated one; clients that trust the hospital CA connect over mqtts and https', async () => {
    const pki = await makeHospitalPki(data.dir);
    const agentData = join(data.dir, 'agent');
    const agent = await startTestAgent(agentData, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { tls: { mode: 'files', cert: pki.certFile, key: pki.keyFile } });
    try {
      expect(agent.tls?.source).toBe('files');
      expect(agent.tls?.fingerprint256).toBe(new X509Certificate(readFileSync(pki.certFile)).fingerprint256);
      expect(existsSync(join(agentData, 'tls'))).toBe(false);
      const published = await mosquittoPub(['-h', 'localhost', '-p', String(agent.mqttsPort), '--cafile', pki.caFile, '-u', 'guest', '-P', 'demo', '-q', '1', '-t', 'ward/pump-02/command', '-m', command('guest', 'stop', {})]);
      expect(published).toEqual({ code: 0, stderr: '' });
      await waitFor(() => agent.alerts.list().find((alert) => alert.type === 'unauthorized-command'), 3_000, 'alert over mqtts');
      const admin = await loggedInClient(agent, agentData, 'admin');
      const health = await httpsGet(`https://localhost:${agent.httpPort}/api/health`, readFileSync(pki.caFile), { cookie: admin.cookie });
      expect(health.status).toBe(200);
    } finally {
      await agent.stop();
    }
  });
});

describe.skipIf(noOpenssl !== null)('the command line', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  beforeEach(() => {
    data = temporaryDataDir();
  });
  afterEach(() => data.remove());

  /** `wardwatch agent` until it has printed its banner; then SIGTERM. */
  async function agentBanner(configFile: string): Promise<string> {
    const child = spawn(process.execPath, [CLI, 'agent', '--config', configFile, '--data-dir', join(data.dir, 'agent'), '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--mqtts-port', '0', '--http-port', '0', '--log-level', 'warn']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await waitFor(() => {
        if (child.exitCode !== null) throw new Error(`the agent exited: ${stderr}`);
        return /SHA-256 fingerprint: \S+\n(.+\n){2}/.test(stdout);
      }, 20_000, 'the agent banner');
      return stdout;
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('close', resolve)));
    }
  }

  it('wardwatch agent with no tls section makes a self-signed pair on first start, prints its fingerprint and https URL, and reuses it on the next start', async () => {
    const configFile = join(data.dir, 'site.yaml');
    writeFileSync(configFile, demoConfigWith(() => undefined));
    const first = await agentBanner(configFile);
    const certFile = join(data.dir, 'agent', 'tls', 'cert.pem');
    const fingerprint = new X509Certificate(readFileSync(certFile)).fingerprint256;
    expect(first).toMatch(/wardwatch agent: MQTT on 127\.0\.0\.1:\d+, MQTT over TLS on 127\.0\.0\.1:\d+, dashboard https:\/\/localhost:\d+\//);
    expect(first).toContain(`TLS certificate: ${certFile} (self-signed, generated now: none in the data directory yet)`);
    expect(first).toContain(`SHA-256 fingerprint: ${fingerprint}`);
    expect(first).toContain(`--cafile ${certFile}`);
    const second = await agentBanner(configFile);
    expect(second).toContain(`TLS certificate: ${certFile} (self-signed, reused from the data directory)`);
    expect(second).toContain(`SHA-256 fingerprint: ${fingerprint}`);
  });

  it('tls: { mode: off } serves plain HTTP and no mqtts', async () => {
    const configFile = join(data.dir, 'site.yaml');
    writeFileSync(configFile, demoConfigWith((doc) => (doc.tls = { mode: 'off' })));
    const child = spawn(process.execPath, [CLI, 'agent', '--config', configFile, '--data-dir', join(data.dir, 'agent'), '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--log-level', 'error']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const line = await waitFor(() => /^wardwatch agent: .+$/m.exec(stdout)?.[0], 20_000, 'the agent line');
      expect(line).toMatch(/^wardwatch agent: MQTT on 127\.0\.0\.1:\d+, dashboard http:\/\/localhost:\d+\//);
      expect(line).not.toContain('TLS');
      expect(existsSync(join(data.dir, 'agent', 'tls'))).toBe(false);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
  });

  it('config check: a certificate path that does not exist is an error by path (exit 2), and the agent does not start', async () => {
    const configFile = join(data.dir, 'site.yaml');
    writeFileSync(configFile, demoConfigWith((doc) => (doc.tls = { cert: 'tls/wardwatch.crt', key: 'tls/wardwatch.key' })));
    const check = await wardwatch('config', 'check', configFile);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(`${configFile}: error tls.cert: ${join(data.dir, 'tls', 'wardwatch.crt')}: file not found`);
    const agent = await wardwatch('agent', '--config', configFile, '--data-dir', join(data.dir, 'agent'), '--mqtt-port', '0', '--mqtts-port', '0', '--http-port', '0');
    expect(agent.code).toBe(2);
    expect(agent.stderr).toContain('error tls.cert');
  });

  it('--mqtt-port and --mqtts-port take a port or off', async () => {
    const result = await wardwatch('agent', '--config', 'config/demo.yaml', '--mqtts-port', 'seventy');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('or off');
  });
});
