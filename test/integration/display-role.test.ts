/**
 * The `display` role (a wall screen's own account) end to end: added with the real
 * `wardwatch users add NAME --role display`, enrolled and logged in over real HTTP, it
 * sees the ward and its live feed but is refused an acknowledgement (403) that a nurse
 * then makes on the same alert; and its session outlives the idle timeout that signs the
 * nurse out, feed and all. The agent runs with a 1-second idle timeout so that the
 * exemption is shown in seconds, not minutes.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { readAuditLines, verifyAuditLog } from '../../agent/src/audit/audit-log.ts';
import { base32Decode, totp } from '../../agent/src/auth/totp.ts';
import type { AlertView, EnrolmentOffer, EnrolResponse, SessionView } from '../../agent/src/server/dashboard-protocol.ts';
import { SESSION_ENDED_CLOSE_CODE } from '../../agent/src/server/dashboard-protocol.ts';
import { agentRequest, DashboardClient, DashboardFeed, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { wardwatchWithInput } from '../helpers/cli.ts';
import { sessionCookieOf } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { waitFor } from '../helpers/wait-for.ts';

const IDLE_MS = 1_000;
const DISPLAY = { username: 'wall-4w', password: 'a wall screen passphrase' } as const;
const STATION = { username: 'station-4w', password: 'demo' } as const;

function command(name: string, params: Record<string, string | number>): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: STATION.username, user: 'nurse.display-test', command: name, params });
}

describe('the display role: view only, no idle timeout', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent;
  let station: MqttClient | null = null;

  beforeAll(async () => {
    const added = await wardwatchWithInput(DISPLAY.password, 'users', 'add', DISPLAY.username, '--role', 'display', '-d', data.dir);
    expect(added.stderr).not.toMatch(/\n\s+at /);
    expect(added).toMatchObject({ code: 0, stdout: expect.stringMatching(/^added wall-4w \(display\)\.[\s\S]*opens the wall display by itself, cannot acknowledge/) as string });
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { sessions: { idleMs: IDLE_MS } });
    station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { ...STATION, clientId: `station-4w-display-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
  });

  afterAll(async () => {
    await station?.endAsync(true).catch(() => undefined);
    await agent?.stop();
    data.remove();
  });

  it('enrols and logs in as display (alerts.view only, no idle timeout), sees alerts but gets 403 on acknowledge and on the admin pages; a nurse acknowledges the same alert', async () => {
    if (station === null) throw new Error('setup failed');
    // First login: the password, then the enrolment with a code from the offered secret.
    const first = await agentRequest(agent, 'POST', '/api/login', { body: DISPLAY });
    expect(first.status).toBe(409);
    const offer = first.json<EnrolmentOffer>().enrol;
    const preLogin = first.setCookies.find((line) => line.startsWith('wardwatch_prelogin=')) ?? '';
    const enrolled = await agentRequest(agent, 'POST', '/api/enrol', { cookie: preLogin, body: { code: totp(base32Decode(offer.secretBase32), Date.now()) } });
    expect(enrolled.status).toBe(200);
    const body = enrolled.json<EnrolResponse>();
    expect(body).toMatchObject({ user: { name: DISPLAY.username, role: 'display' }, permissions: ['alerts.view'], idleTimeoutSeconds: null });
    const display = sessionCookieOf(enrolled);

    // An alert to acknowledge: heparin programmed, then far above its hard limit.
    await station.publishAsync('ward/pump-01/command', command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    await station.publishAsync('ward/pump-01/command', command('set_rate', { rate_ml_h: 320 }), { qos: 1 });
    let alert: AlertView | undefined;
    await waitFor(async () => {
      const answer = await agentRequest(agent, 'GET', '/api/alerts', { cookie: display });
      expect(answer.status).toBe(200);
      alert = answer.json<AlertView[]>().find((candidate) => candidate.deviceId === 'pump-01' && candidate.severity === 'critical' && candidate.state === 'open');
      return alert !== undefined;
    }, 10_000, 'the critical alert on pump-01');
    if (alert === undefined) throw new Error('no alert');

    const refused = await agentRequest(agent, 'POST', `/api/alerts/${alert.id}/ack`, { cookie: display, body: { reason: 'Investigating' } });
    expect(refused.status).toBe(403);
    expect(refused.json<{ error: string }>().error).toMatch(/the display role may not/);
    for (const path of ['/api/users', '/api/audit', '/api/baseline']) expect((await agentRequest(agent, 'GET', path, { cookie: display })).status).toBe(403);
    expect((await agentRequest(agent, 'GET', '/api/devices', { cookie: display })).status).toBe(200);

    // The 403 was the role's: a nurse acknowledges the very same alert.
    const nurse = await DashboardClient.logIn(agent, data.dir, 'nurse');
    const acknowledged = await nurse.post(`/api/alerts/${alert.id}/ack`, { reason: 'Investigating' });
    expect(acknowledged.status).toBe(200);
    expect(acknowledged.json<AlertView>()).toMatchObject({ state: 'acknowledged', ack: { by: nurse.user.username } });
    const acks = readAuditLines(join(data.dir, 'audit.jsonl')).flatMap(({ entry }) => (entry?.action === 'alert-acknowledged' ? [entry.actor] : []));
    expect(acks).toEqual([nurse.user.username]);
  });

  it('outlives the idle timeout that signs a nurse out: the display\'s feed stays open and its session answers, the nurse\'s feed is closed', async () => {
    const enrolledDisplay = await DashboardClient.logIn(agent, data.dir, 'display');
    const nurse = await DashboardClient.logIn(agent, data.dir, 'nurse');
    const displayFeed = await DashboardFeed.connect(agent, enrolledDisplay);
    const nurseFeed = await DashboardFeed.connect(agent, nurse);
    const nurseClosed = new Promise<number>((resolve) => nurseFeed.socket.once('close', (code) => resolve(code)));
    try {
      // Nobody touches either screen for three idle timeouts.
      await new Promise((resolve) => setTimeout(resolve, 3 * IDLE_MS + 500));
      expect(await nurseClosed).toBe(SESSION_ENDED_CLOSE_CODE);
      expect((await nurse.get('/api/session')).json<SessionView>()).toEqual({ user: null });
      expect(displayFeed.socket.readyState).toBe(displayFeed.socket.OPEN);
      expect((await enrolledDisplay.get('/api/session')).json<SessionView>()).toMatchObject({ user: { role: 'display' }, idleTimeoutSeconds: null });
      // Still live: the health ticks keep arriving on the display's feed.
      const seen = displayFeed.messages.length;
      await waitFor(() => displayFeed.messages.length > seen, 5_000, 'a message on the display\'s feed');
    } finally {
      displayFeed.close();
      nurseFeed.close();
    }
    const ends = readAuditLines(join(data.dir, 'audit.jsonl')).flatMap(({ entry }) => (entry?.action === 'logout' ? [[entry.actor, entry.details['reason']]] : []));
    expect(ends).toContainEqual([nurse.user.username, 'idle']);
    expect(ends.some(([actor]) => actor === enrolledDisplay.user.username)).toBe(false);
    expect((await verifyAuditLog(join(data.dir, 'audit.jsonl'))).ok).toBe(true);
  });
});
