import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { parseHubConfig, type HubConfig } from '../../agent/src/hub/hub-config.ts';
import { startHub, type RunningHub } from '../../agent/src/hub/hub.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { AlertView, HealthView, WardSummaryView } from '../../agent/src/server/dashboard-protocol.ts';
import type { OutboundStats } from '../../agent/src/export/outbound.ts';
import { startTestAgent } from '../helpers/agent-fixture.ts';
import { DashboardClient } from '../helpers/dashboard-client.ts';
import { demoConfigWith } from '../helpers/demo-config.ts';
import { missingMosquitto, startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { makeHospitalPki, type HospitalPki } from '../helpers/tls.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noMosquitto = missingMosquitto();

const WARDS = ['4W', '5E'] as const;
type Ward = (typeof WARDS)[number];
/**
 * `ward-6n`: a ward with no agent here, for playing a hostile ward; `ward-5e-bench`: a second
 * account for ward 5E's topics. With `use_username_as_clientid` a session belongs to its
 * account, so a test client on an agent's own account would take over (end) that agent's.
 */
const PASSWORDS: Readonly<Record<string, string>> = { 'ward-4w': `pw-4w-${process.pid}`, 'ward-5e': `pw-5e-${process.pid}`, 'ward-6n': `pw-6n-${process.pid}`, 'ward-5e-bench': `pw-5e-bench-${process.pid}`, 'wardwatch-hub': `pw-hub-${process.pid}` };
const ACCOUNT: Readonly<Record<Ward, string>> = { '4W': 'ward-4w', '5E': 'ward-5e' };

/**
 * Least privilege on the central broker (docs/operations.md, "Many wards"): each ward may
 * only write its own topics, the hub may only read. An account without lines here (the
 * helper's default one) may do nothing.
 */
const ACL = [
  'user ward-4w',
  'topic write wardwatch/4W/#',
  'user ward-5e',
  'topic write wardwatch/5E/#',
  'user ward-5e-bench',
  'topic write wardwatch/5E/#',
  'user ward-6n',
  'topic write wardwatch/6N/#',
  'user wardwatch-hub',
  'topic read wardwatch/#',
];

const SECONDS = 1_000;

function wardConfig(ward: Ward, brokerPort: number, pki: HospitalPki): SiteConfig {
  const parsed = parseSiteConfig(demoConfigWith((doc) => {
    doc.site.ward = ward;
    doc.uplink = { url: `mqtts://localhost:${brokerPort}`, username: ACCOUNT[ward], password: PASSWORDS[ACCOUNT[ward]], ca: pki.caFile, healthIntervalSeconds: 1, reconnectMaxSeconds: 1, maxQueuedAlerts: 500 };
  }));
  if (!parsed.ok) throw new Error(`ward config refused: ${JSON.stringify(parsed.issues)}`);
  return parsed.config;
}

function hubConfig(brokerPort: number, pki: HospitalPki): HubConfig {
  const parsed = parseHubConfig([
    'site: { name: Demo General Hospital }',
    'broker:',
    `  url: mqtts://localhost:${brokerPort}`,
    '  username: wardwatch-hub',
    `  password: ${PASSWORDS['wardwatch-hub']}`,
    `  ca: ${pki.caFile}`,
    '  reconnectMaxSeconds: 1',
    'wards: [4W, 5E]',
    'tls: { mode: off }',
  ].join('\n'));
  if (!parsed.ok) throw new Error(`hub config refused: ${JSON.stringify(parsed.issues)}`);
  return parsed.config;
}

let commandCounter = 0;

/** A station programs heparin at 320 mL/h (400 units/kg/h, ten times the hard limit) on one pump of the ward: a critical alert there. */
async function overdose(agent: RunningAgent, pump: string): Promise<AlertView> {
  commandCounter += 1;
  const station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
  const command = { id: `fed-${process.pid}-${commandCounter}`, ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn', command: 'program_infusion', params: { drug: 'heparin', rate_ml_h: 320, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' } };
  await station.publishAsync(`ward/${pump}/command`, JSON.stringify(command), { qos: 1 });
  await station.endAsync();
  return waitFor(() => agent.alerts.list().find((alert) => alert.type === 'dose-above-hard-limit' && alert.deviceId === pump), 5 * SECONDS, `an alert for ${pump}`);
}

function acknowledgeAtWard(agent: RunningAgent, alert: AlertView): void {
  const outcome = agent.alerts.acknowledge(alert.id, { by: 'rn-ward', reason: 'Investigating', from: '127.0.0.1', at: new Date() });
  if (!outcome.ok) throw new Error(`acknowledge failed: ${outcome.error}`);
}

/** id, state and count of each alert: what the hub must hold for the ward, each exactly once. */
function versions(alerts: readonly AlertView[]): string[] {
  return alerts.map((alert) => `${alert.id} ${alert.state} ×${alert.count}`).sort();
}

describe.skipIf(noMosquitto !== null)('many wards: two agents, the central mosquitto (TLS, ACL, persistence) and the hub', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-federation-'));
  const hubDataDir = join(dir, 'hub');
  let pki: HospitalPki;
  let mosquitto: RunningMosquitto;
  let proxy4w: TcpProxy;
  const agents = new Map<Ward, RunningAgent>();
  let hub: RunningHub | null = null;
  let viewer: DashboardClient;
  const extraClients: MqttClient[] = [];

  async function startTheHub(): Promise<void> {
    hub = await startHub({ config: hubConfig(mosquitto.port, pki), dataDir: hubDataDir, httpPort: 0, logger: pino({ level: process.env.WARDWATCH_TEST_LOG ?? 'silent' }) });
    viewer = await DashboardClient.logIn(hub, hubDataDir, 'nurse');
  }

  const agent = (ward: Ward): RunningAgent => {
    const running = agents.get(ward);
    if (running === undefined) throw new Error(`no agent for ${ward}`);
    return running;
  };
  const uplinkStats = (ward: Ward): OutboundStats => {
    const uplink = agent(ward).outbound.find((channel) => channel.name === 'uplink');
    if (uplink === undefined) throw new Error(`ward ${ward} has no uplink`);
    return uplink.stats();
  };
  const hubWards = async (): Promise<Map<string, WardSummaryView>> => new Map((await viewer.json<WardSummaryView[]>('/api/wards')).map((ward) => [ward.ward, ward]));
  const hubAlerts = (): Promise<AlertView[]> => viewer.json<AlertView[]>('/api/alerts?limit=1000');

  /** Waits until the hub holds every alert of both wards in its latest version, then checks that none is there twice. */
  async function expectEveryAlertExactlyOnce(what: string): Promise<void> {
    const expected = (ward: Ward): string[] => versions(agent(ward).alerts.list());
    const held = await waitFor(async () => {
      const alerts = await hubAlerts();
      return WARDS.every((ward) => JSON.stringify(versions(alerts.filter((alert) => alert.origin === ward))) === JSON.stringify(expected(ward))) ? alerts : null;
    }, 20 * SECONDS, what).catch(async (error: unknown) => {
      const alerts = await hubAlerts();
      for (const ward of WARDS) expect(versions(alerts.filter((alert) => alert.origin === ward)), `${what}: ward ${ward}`).toEqual(expected(ward));
      throw error;
    });
    const ids = held.map((alert) => alert.id);
    expect(new Set(ids).size, 'no alert held twice').toBe(ids.length);
    expect(held.filter((alert) => alert.origin === undefined), 'every alert names its ward').toEqual([]);
  }

  beforeAll(async () => {
    pki = await makeHospitalPki(dir);
    mosquitto = await startMosquitto({
      accounts: Object.entries(PASSWORDS).map(([username, password]) => ({ username, password })),
      acl: ACL,
      persistence: true,
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      useUsernameAsClientId: true,
    });
    // Ward 4W reaches the central broker through a link the test can cut; 5E directly.
    proxy4w = await TcpProxy.start(mosquitto.port);
    agents.set('4W', await startTestAgent(join(dir, 'agent-4w'), wardConfig('4W', proxy4w.port, pki)));
    agents.set('5E', await startTestAgent(join(dir, 'agent-5e'), wardConfig('5E', mosquitto.port, pki)));
    await startTheHub();
  });

  afterAll(async () => {
    await Promise.all(extraClients.map((client) => client.endAsync(true)));
    await hub?.stop();
    for (const running of agents.values()) await running.stop();
    await proxy4w?.close();
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the hub shows both wards online, then the alerts of both, each marked with its ward', async () => {
    await waitFor(async () => {
      const wards = await hubWards();
      return WARDS.every((ward) => wards.get(ward)?.uplink === 'online' && wards.get(ward)?.status !== 'offline');
    }, 15 * SECONDS, 'both wards online at the hub');
    const raised = { '4W': await overdose(agent('4W'), 'pump-01'), '5E': await overdose(agent('5E'), 'pump-01') };
    await expectEveryAlertExactlyOnce('the first alert of each ward at the hub');
    const alerts = await hubAlerts();
    for (const ward of WARDS) {
      const atHub = alerts.find((alert) => alert.id === raised[ward].id);
      expect(atHub?.origin).toBe(ward);
      expect(atHub?.severity).toBe('critical');
      expect(atHub?.title).toBe(raised[ward].title);
    }
    const wards = await hubWards();
    for (const ward of WARDS) {
      expect(wards.get(ward)?.site).toBe('Demo General Hospital');
      expect(wards.get(ward)?.openAlerts.critical).toBeGreaterThanOrEqual(1);
      expect(wards.get(ward)?.devices?.total).toBe(8);
    }
    // The hub's CSV export says which ward raised each alert (the `origin` column).
    const csv = await viewer.get('/api/alerts/export?format=csv');
    expect(csv.status).toBe(200);
    const [header, ...lines] = csv.body.trimEnd().split('\r\n');
    const originColumn = header?.split(',').indexOf('"origin"') ?? -1;
    expect(originColumn).toBeGreaterThanOrEqual(0);
    for (const ward of WARDS) {
      const line = lines.find((candidate) => candidate.startsWith(`"${raised[ward].id}"`));
      expect(line?.split('","').at(originColumn)?.replaceAll('"', '')).toBe(ward);
    }
    // Alerts are acknowledged at the ward; the hub only shows them.
    const refused = await viewer.post(`/api/alerts/${raised['4W'].id}/ack`, { reason: 'Investigating' });
    expect(refused.status).toBe(405);
  });

  it('least privilege: a ward cannot write another ward\'s topics nor read any; the hub account cannot write', async () => {
    const brokerUrl = `mqtts://localhost:${mosquitto.port}`;
    const options = (username: string, clientId: string) => ({ username, password: PASSWORDS[username] ?? '', clientId, ca: readFileSync(pki.caFile), protocolVersion: 4 as const, reconnectPeriod: 0 });
    // One client of ward 6N both forges and snoops: a second one on the same account would take its session over.
    const forger = await connectAsync(brokerUrl, options('ward-6n', `forger-${process.pid}`));
    extraClients.push(forger);
    const snooped: string[] = [];
    forger.on('message', (topic) => snooped.push(topic));
    await forger.subscribeAsync('wardwatch/#', { qos: 1 });
    const forged = { v: 1, ward: '5E', site: 'Demo General Hospital', seq: 1, change: 'raised', alert: { ...(await hubAlerts())[0], id: '00000000-0000-4000-8000-00000000f0f0', title: 'forged by 6N', origin: undefined } };
    // mosquitto acknowledges a refused QoS 1 publish and drops it (MQTT 3.1.1 has no way to refuse one).
    await forger.publishAsync('wardwatch/5E/alerts', JSON.stringify(forged), { qos: 1 });
    // The hub's account is the hub's session (use_username_as_clientid): this takes it over for a moment, keeping it (clean: false), and leaves at once.
    const hubAccount = await connectAsync(brokerUrl, { ...options('wardwatch-hub', `hub-writer-${process.pid}`), clean: false });
    await hubAccount.publishAsync('wardwatch/5E/alerts', JSON.stringify({ ...forged, alert: { ...forged.alert, id: '00000000-0000-4000-8000-00000000f0f1' } }), { qos: 1 });
    await hubAccount.endAsync();
    await waitFor(() => hub?.brokerConnected === true, 10 * SECONDS, 'the hub back on its session');
    // A genuine 5E alert after the forgeries: once it is at the hub, they would have been too.
    const genuine = await overdose(agent('5E'), 'pump-04');
    await waitFor(async () => (await hubAlerts()).some((alert) => alert.id === genuine.id), 10 * SECONDS, 'the genuine 5E alert at the hub');
    const ids = (await hubAlerts()).map((alert) => alert.id);
    expect(ids).not.toContain('00000000-0000-4000-8000-00000000f0f0');
    expect(ids).not.toContain('00000000-0000-4000-8000-00000000f0f1');
    expect(snooped, 'a ward account reads nothing of the broker').toEqual([]);
  });

  it('what a ward sends is network input: malformed messages are counted by reason and never used, and the hub goes on', async () => {
    const ward5e = await connectAsync(`mqtts://localhost:${mosquitto.port}`, { username: 'ward-5e-bench', password: PASSWORDS['ward-5e-bench'] ?? '', clientId: `garbage-${process.pid}`, ca: readFileSync(pki.caFile), protocolVersion: 4, reconnectPeriod: 0 });
    extraClients.push(ward5e);
    const valid = { v: 1, ward: '5E', site: 'Demo General Hospital', seq: 1, change: 'raised', alert: { ...(await hubAlerts())[0], origin: undefined, id: '00000000-0000-4000-8000-0000000bad00' } };
    const before = hub?.messages().rejected ?? {};
    expect(before).toEqual({});
    await ward5e.publishAsync('wardwatch/5E/alerts', '{"v":1,', { qos: 1 });
    await ward5e.publishAsync('wardwatch/5E/alerts', JSON.stringify({ ...valid, v: 2 }), { qos: 1 });
    await ward5e.publishAsync('wardwatch/5E/alerts', JSON.stringify({ ...valid, alert: { ...valid.alert, severity: 'apocalyptic' } }), { qos: 1 });
    await ward5e.publishAsync('wardwatch/5E/alerts', JSON.stringify({ ...valid, ward: '4W' }), { qos: 1 });
    await ward5e.publishAsync('wardwatch/5E/alerts', JSON.stringify({ ...valid, alert: { ...valid.alert, evidence: { padding: 'x'.repeat(1024 * 1024) } } }), { qos: 1 });
    await ward5e.publishAsync('wardwatch/5E/elsewhere', '{}', { qos: 1 });
    await waitFor(() => Object.values(hub?.messages().rejected ?? {}).reduce((sum, n) => sum + (n ?? 0), 0) === 6, 5 * SECONDS, 'six messages rejected');
    expect(hub?.messages().rejected).toEqual({ 'not-json': 1, version: 1, invalid: 1, 'ward-mismatch': 1, 'too-large': 1, topic: 1 });
    expect((await hubAlerts()).some((alert) => alert.id === valid.alert.id)).toBe(false);
    await expectEveryAlertExactlyOnce('the hub after the malformed messages');
  });

  it('a ward\'s link is cut: the central broker sends its Last Will, the hub shows it offline; on restore its queued alerts arrive', async () => {
    const first4w = agent('4W').alerts.list().find((alert) => alert.deviceId === 'pump-01');
    if (first4w === undefined) throw new Error('the first 4W alert is missing');
    proxy4w.cut();
    const shownOffline = await waitFor(async () => {
      const wards = await hubWards();
      return wards.get('4W')?.uplink === 'offline' ? wards : null;
    }, 10 * SECONDS, 'ward 4W offline at the hub');
    expect(shownOffline.get('4W')?.status).toBe('offline');
    expect(shownOffline.get('4W')?.reasons.join(' ')).toMatch(/Last Will/);
    expect(shownOffline.get('5E')?.uplink).toBe('online');
    const health = await viewer.json<HealthView>('/api/health');
    expect(health.status).toBe('degraded');
    expect(health.reasons.join(' ')).toMatch(/ward 4W offline/);

    const during = await overdose(agent('4W'), 'pump-02');
    acknowledgeAtWard(agent('4W'), first4w);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const meanwhile = await hubAlerts();
    expect(meanwhile.some((alert) => alert.id === during.id), 'nothing crosses a cut link').toBe(false);
    expect(meanwhile.find((alert) => alert.id === first4w.id)?.state).toBe('open');
    // Held at the ward: at least every alert the hub lacks and the acknowledgement of one it has (and any repeats meanwhile).
    const notAtHub = agent('4W').alerts.list().filter((alert) => !meanwhile.some((held) => held.id === alert.id)).length;
    expect(notAtHub).toBeGreaterThanOrEqual(1);
    expect(uplinkStats('4W')).toMatchObject({ connected: false, dropped: 0 });
    expect(uplinkStats('4W').queued).toBeGreaterThanOrEqual(notAtHub + 1);

    proxy4w.restore();
    await expectEveryAlertExactlyOnce('ward 4W\'s queued alerts after its link is restored');
    expect((await hubAlerts()).find((alert) => alert.id === first4w.id)?.state, 'the acknowledgement replaced the open version').toBe('acknowledged');
    await waitFor(async () => (await hubWards()).get('4W')?.uplink === 'online', 10 * SECONDS, 'ward 4W online again');
  });

  it('a ward\'s agent restarts while its link is cut: what was queued is kept in its outbox (uplink-outbox.db) and arrives after the restart', async () => {
    proxy4w.cut();
    await waitFor(async () => (await hubWards()).get('4W')?.uplink === 'offline', 10 * SECONDS, 'ward 4W offline at the hub');
    const queuedBefore = await overdose(agent('4W'), 'pump-06');
    expect(uplinkStats('4W').queued).toBeGreaterThanOrEqual(1);
    await agent('4W').stop();
    agents.set('4W', await startTestAgent(join(dir, 'agent-4w'), wardConfig('4W', proxy4w.port, pki)));
    // Still cut: the restarted agent holds the change it read back from its outbox.
    expect(uplinkStats('4W').connected).toBe(false);
    expect(uplinkStats('4W').queued).toBeGreaterThanOrEqual(1);
    expect((await hubAlerts()).some((alert) => alert.id === queuedBefore.id)).toBe(false);
    proxy4w.restore();
    await expectEveryAlertExactlyOnce('the alert queued before the agent\'s restart');
  });

  it('the central broker stops: the hub shows every ward offline; alerts raised meanwhile arrive once it is back, none lost, none twice', async () => {
    await mosquitto.halt();
    const shown = await waitFor(async () => {
      const wards = await hubWards();
      return WARDS.every((ward) => wards.get(ward)?.status === 'offline') ? wards : null;
    }, 10 * SECONDS, 'every ward offline at the hub');
    for (const ward of WARDS) expect(shown.get(ward)?.reasons.join(' ')).toMatch(/not been connected to the central broker/);
    const open5e = agent('5E').alerts.list().find((alert) => alert.state === 'open');
    if (open5e === undefined) throw new Error('no open 5E alert');
    await overdose(agent('4W'), 'pump-03');
    await overdose(agent('5E'), 'pump-02');
    await overdose(agent('5E'), 'pump-03');
    acknowledgeAtWard(agent('5E'), open5e);
    await mosquitto.restart();
    await expectEveryAlertExactlyOnce('alerts raised while the central broker was down');
    await waitFor(async () => {
      const wards = await hubWards();
      return WARDS.every((ward) => wards.get(ward)?.uplink === 'online' && wards.get(ward)?.status !== 'offline');
    }, 15 * SECONDS, 'both wards online again');
  });

  it('the hub is away and the broker restarts in between: its persistent session keeps what came meanwhile, and it has all of it once, after its own restart', async () => {
    await hub?.stop();
    hub = null;
    await overdose(agent('4W'), 'pump-04');
    await overdose(agent('5E'), 'pump-05');
    // Both wards' queues empty: the broker has acknowledged every change (PUBACK) and holds
    // them for the hub's session; from here only the broker's persistence can keep them.
    await waitFor(() => WARDS.every((ward) => uplinkStats(ward).queued === 0), 10 * SECONDS, 'the wards\' queues emptied into the broker');
    await mosquitto.halt();
    await overdose(agent('4W'), 'pump-05');
    await mosquitto.restart();
    await startTheHub();
    await expectEveryAlertExactlyOnce('every alert after the hub\'s and the broker\'s restarts');
    expect((hub as RunningHub | null)?.messages().rejected, 'every message from the wards was well formed').toEqual({});
  });

  it('a ward account connects with the hub\'s client id while the hub is away: the session is the hub account\'s, the hub still gets every queued alert', async () => {
    await hub?.stop();
    hub = null;
    await overdose(agent('4W'), 'pump-06');
    await overdose(agent('5E'), 'pump-06');
    await overdose(agent('4W'), 'pump-02');
    await waitFor(() => WARDS.every((ward) => uplinkStats(ward).queued === 0), 10 * SECONDS, 'the wards\' queues emptied into the broker');
    // Without use_username_as_clientid mosquitto would hand this client the hub's session and empty its queue.
    const thief = await connectAsync(`mqtts://localhost:${mosquitto.port}`, { username: 'ward-6n', password: PASSWORDS['ward-6n'] ?? '', clientId: 'wardwatch-hub', clean: false, ca: readFileSync(pki.caFile), protocolVersion: 4, reconnectPeriod: 0 });
    const stolen: string[] = [];
    thief.on('message', (topic) => stolen.push(topic));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await thief.endAsync();
    expect(stolen, 'nothing of the hub\'s session reached the ward account').toEqual([]);
    await startTheHub();
    await expectEveryAlertExactlyOnce('every alert queued for the hub after a ward account used its client id');
    const wards = await hubWards();
    for (const ward of WARDS) expect(wards.get(ward)?.reasons.filter((reason) => reason.includes('never arrived')), `no seq gap at ward ${ward}`).toEqual([]);
  });
});
