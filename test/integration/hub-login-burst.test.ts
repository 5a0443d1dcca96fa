/**
 * Password guessing against `wardwatch hub`'s own dashboard (hub/hub-own-alerts.ts): a real
 * hub (HTTP, its own users and audit log, `hub-alerts.db`) on Debian's mosquitto, driven
 * over HTTP as a browser would. Failed logins from one address until the login guard
 * reports a burst; the hub's `dashboard-login-burst` alert read back from its API as an
 * admin, in its audit log and in the CSV export; the hub restarted and the alert still
 * there; more failures folded into it; and who may acknowledge it (a ward's alert: 405).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_CATALOGUE } from '../../agent/src/alert/catalogue.ts';
import { loginBurstTitle } from '../../agent/src/auth/login-burst-finding.ts';
import type { LoginBurst } from '../../agent/src/auth/login-guard.ts';
import type { UplinkAlertMessage } from '../../agent/src/export/uplink-protocol.ts';
import { parseHubConfig, type HubConfig } from '../../agent/src/hub/hub-config.ts';
import { startHub, type RunningHub } from '../../agent/src/hub/hub.ts';
import { HUB_ORIGIN, type AlertView, type AuditView } from '../../agent/src/server/dashboard-protocol.ts';
import { addTestUser, agentRequest, DashboardClient, type TestUser } from '../helpers/dashboard-client.ts';
import { missingMosquitto, startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.ts';
import { sampleAlert } from '../helpers/sample-alert.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noMosquitto = missingMosquitto();

/** The guard's default per-address limit (auth/login-guard.ts DEFAULT_LOGIN_GUARD.maxAddressFailures). */
const BURST_AT = 10;
/** Source addresses of the sprayers: any 127.x.y.z works on Linux, and keeps them apart from the test's own logins (127.0.0.1). */
const SPRAYER = '127.0.0.61';
const OTHER_SPRAYER = '127.0.0.62';

/** One CSV line whose every field is double-quoted, quotes doubled inside. */
function csvFields(line: string): string[] {
  return [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((match) => (match[1] ?? '').replaceAll('""', '"'));
}

describe.skipIf(noMosquitto !== null)('wardwatch hub: a burst of failed logins at its own dashboard raises its own alert', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-hub-burst-'));
  const dataDir = join(dir, 'hub');
  let mosquitto: RunningMosquitto;
  let ward: MqttClient;
  let hub: RunningHub | null = null;
  let victim: TestUser;
  let seq = 0;

  function hubConfig(): HubConfig {
    const parsed = parseHubConfig(`site: { name: Demo General Hospital }\nbroker: { url: "${mosquitto.url}", username: ${mosquitto.username}, password: "${mosquitto.password}", clientId: hub-burst-${process.pid}, reconnectMaxSeconds: 1 }\nwards: [4W]\ntls: { mode: off }\n`);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    return parsed.config;
  }

  async function startTheHub(): Promise<RunningHub> {
    hub = await startHub({ config: hubConfig(), dataDir, httpPort: 0, logger: pino({ level: process.env.WARDWATCH_TEST_LOG ?? 'silent' }) });
    return hub;
  }

  const running = (): RunningHub => {
    if (hub === null) throw new Error('the hub is not running');
    return hub;
  };

  /**
   * Failed logins from `address` until the guard's limit is crossed, and `extra` more (refused, 429).
   * Mostly a real account with wrong passwords (locked after five, still counted), and one made-up name.
   */
  async function spray(address: string, extra = 0): Promise<number[]> {
    const statuses: number[] = [];
    for (let attempt = 0; attempt < BURST_AT + extra; attempt += 1) {
      const username = attempt === 3 ? 'guessed-admin' : victim.username;
      const answer = await agentRequest(running(), 'POST', '/api/login', { body: { username, password: `guess number ${attempt}`, code: '000000' }, localAddress: address });
      statuses.push(answer.status);
    }
    return statuses;
  }

  async function burstAlerts(admin: DashboardClient): Promise<AlertView[]> {
    return (await admin.json<AlertView[]>('/api/alerts?limit=1000')).filter((alert) => alert.type === 'dashboard-login-burst');
  }

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    ward = await connectAsync(mosquitto.url, { username: mosquitto.username, password: mosquitto.password, clientId: `ward-4w-burst-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0 });
    await startTheHub();
    victim = await addTestUser(dataDir, 'nurse');
  });

  afterAll(async () => {
    await hub?.stop();
    await ward?.endAsync(true);
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ten failures from one address raise a high dashboard-login-burst, the hub\'s own, listed, audited with "burst": true and exported with its origin', async () => {
    const admin = await DashboardClient.logIn(running(), dataDir, 'admin');
    expect(await burstAlerts(admin)).toEqual([]);
    const statuses = await spray(SPRAYER, 2);
    // Wrong password (401) or account locked (423) up to the limit; then the address is refused (429).
    expect(statuses.slice(0, BURST_AT).every((status) => status === 401 || status === 423)).toBe(true);
    expect(statuses.slice(BURST_AT)).toEqual([429, 429]);

    const [alert, ...others] = await burstAlerts(admin);
    expect(others).toEqual([]);
    expect(alert).toMatchObject({ severity: ALERT_CATALOGUE['dashboard-login-burst'].severity, origin: HUB_ORIGIN, count: 1, state: 'open', deviceId: null, ward: null });
    expect(alert?.severity).toBe('high');
    expect(alert?.evidence).toMatchObject({ address: SPRAYER, failures: BURST_AT, windowMs: 5 * 60_000 });
    expect(alert?.evidence['usernames']).toEqual([victim.username, 'guessed-admin']);
    // The agent's own sentence (auth/login-burst-finding.ts), not a copy.
    expect(alert?.title).toBe(loginBurstTitle(alert?.evidence as unknown as LoginBurst));

    // The audit log marks the attempt that crossed the limit, as at an agent.
    const audit = await admin.json<AuditView>('/api/audit?limit=1000');
    expect(audit.chainIntact).toBe(true);
    const failed = audit.entries.filter((entry) => entry.action === 'login-failed' && entry.from === SPRAYER);
    expect(failed).toHaveLength(BURST_AT);
    expect(failed.map((entry) => entry.details['burst'] === true)).toEqual([...Array<boolean>(BURST_AT - 1).fill(false), true]);

    const csv = await admin.get('/api/alerts/export?format=csv');
    expect(csv.status).toBe(200);
    // Every field is quoted (RFC 4180, server/alert-export.ts); titles hold commas.
    const [header, ...rows] = csv.body.trimEnd().split('\r\n').map(csvFields);
    const originColumn = header?.indexOf('origin') ?? -1;
    expect(originColumn).toBeGreaterThan(0);
    expect(rows.find((fields) => fields[0] === alert?.id)?.[originColumn]).toBe(HUB_ORIGIN);
  });

  it('survives a restart of the hub; the same address guessing again after it folds into the same alert; another address gets its own', async () => {
    const before = await burstAlerts(await DashboardClient.logIn(running(), dataDir, 'admin'));
    expect(before).toHaveLength(1);
    await running().stop();
    await startTheHub();
    // Sessions live in memory: a restart logs everyone out.
    const admin = await DashboardClient.logIn(running(), dataDir, 'admin');
    expect(await burstAlerts(admin)).toEqual(before);

    // The restarted hub's guard starts empty, so the same address crosses the limit again: one alert, its count 2.
    const statuses = await spray(SPRAYER, 1);
    expect(statuses.at(-1)).toBe(429);
    const [folded, ...others] = await burstAlerts(admin);
    expect(others).toEqual([]);
    expect(folded?.id).toBe(before[0]?.id);
    expect(folded?.count).toBe(2);
    expect(Date.parse(folded?.lastTs ?? '')).toBeGreaterThan(Date.parse(before[0]?.lastTs ?? ''));

    await spray(OTHER_SPRAYER);
    const both = await burstAlerts(admin);
    expect(both.map((alert) => [alert.evidence['address'], alert.count]).sort()).toEqual([[SPRAYER, 2], [OTHER_SPRAYER, 1]].sort());
  });

  it('a nurse acknowledges the hub\'s own alert (audited); a display may not (403); a ward\'s alert is acknowledged at the ward (405); no ward can pass for the hub', async () => {
    const hubNow = running();
    // A ward's alert through the central broker, sent until the hub has it (its subscription follows its connection).
    const wardAlert = sampleAlert({ ts: new Date().toISOString(), lastTs: new Date().toISOString() });
    const message = (wardName: string, alert: AlertView): UplinkAlertMessage => ({ v: 1, ward: wardName, site: 'Demo General Hospital', seq: (seq += 1), change: 'raised', alert });
    await waitFor(async () => {
      await ward.publishAsync('wardwatch/4W/alerts', JSON.stringify(message('4W', wardAlert)), { qos: 1 });
      return hubNow.alerts.get(wardAlert.id);
    }, 10_000, 'the ward\'s alert at the hub');
    // A client on a topic named as the hub's origin is refused by the subscriber before anything is stored.
    const impostor = sampleAlert({ type: 'dashboard-login-burst', severity: 'high' });
    await ward.publishAsync(`wardwatch/${HUB_ORIGIN}/alerts`, JSON.stringify(message(HUB_ORIGIN, impostor)), { qos: 1 });
    await waitFor(() => (hubNow.messages().rejected.topic ?? 0) >= 1, 5_000, 'the impostor refused');
    expect(hubNow.alerts.get(impostor.id)).toBeUndefined();

    const nurse = await DashboardClient.logIn(hubNow, dataDir, 'nurse');
    const display = await DashboardClient.logIn(hubNow, dataDir, 'display');
    const admin = await DashboardClient.logIn(hubNow, dataDir, 'admin');
    const mine = (await burstAlerts(admin)).find((alert) => alert.evidence['address'] === SPRAYER);
    if (mine === undefined) throw new Error('the hub\'s own alert is gone');

    expect((await nurse.post(`/api/alerts/${wardAlert.id}/ack`, { reason: 'Seen at the hub' })).status).toBe(405);
    expect((await display.post(`/api/alerts/${mine.id}/ack`, { reason: 'From the wall' })).status).toBe(403);
    const acknowledged = await nurse.post(`/api/alerts/${mine.id}/ack`, { reason: 'Security desk called' });
    expect(acknowledged.status).toBe(200);
    expect(acknowledged.json<AlertView>()).toMatchObject({ id: mine.id, state: 'acknowledged', origin: HUB_ORIGIN, ack: { by: nurse.user.username, reason: 'Security desk called', from: '127.0.0.1' } });
    expect((await nurse.post(`/api/alerts/${mine.id}/ack`, { reason: 'Again' })).status).toBe(409);

    const listed = await admin.json<AlertView[]>('/api/alerts?limit=1000');
    expect(listed.find((alert) => alert.id === mine.id)?.state).toBe('acknowledged');
    expect(listed.find((alert) => alert.id === wardAlert.id)).toMatchObject({ state: 'open', origin: '4W' });
    const audit = await admin.json<AuditView>('/api/audit?limit=1000');
    const acks = audit.entries.filter((entry) => entry.action === 'alert-acknowledged');
    expect(acks.map((entry) => [entry.actor, entry.details['alertId'], entry.details['origin'], entry.details['reason']])).toEqual([[nurse.user.username, mine.id, HUB_ORIGIN, 'Security desk called']]);
  });
});
