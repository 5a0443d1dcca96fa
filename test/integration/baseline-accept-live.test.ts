/**
 * "Accept as normal for this ward" on a running agent (POST /api/alerts/<id>/accept-baseline):
 * a real agent restores a learned baseline in which station-4w never commanded pump-01, so
 * station-4w's set_rate raises baseline-new-commander. With realertHours and the suppression
 * window cut to almost nothing, a repeat of that deviation raises a second alert, which shows
 * a repeat would be alerted; once a biomed accepts the first alert over HTTP, the next repeat
 * is judged normal at once (learned, no alert). Nurse and display are refused (403), the
 * acknowledge route's origin and body checks hold, the audit log says who, from where, what;
 * baseline.json is written by the agent's keeper, and a second acceptance is refused (409),
 * also after a restart. The command line, refused while the agent runs, points to the dashboard.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { AlertView, AuditView, BaselineAcceptedResponse } from '../../agent/src/server/dashboard-protocol.ts';
import { BASELINE_FILE } from '../../agent/src/store/baseline-file.ts';
import { agentRequest, DashboardClient, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { wardwatch } from '../helpers/cli.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { saveLearnedBaseline } from '../helpers/learned-baseline.ts';
import { waitFor } from '../helpers/wait-for.ts';

const COMMANDER = 'account:station-4w';
const REASON = 'station 4W is the ward\'s new central station';

/** The demo site; a deviation may be alerted again after 0.36 s, and repeats do not fold into an open alert. */
function quickRealertConfig(): SiteConfig {
  const demo = loadDemoConfig();
  return { ...demo, baseline: { ...demo.baseline, realertHours: 0.0001, saveIntervalSeconds: 3600 }, detection: { ...demo.detection, suppressionSeconds: 0 } };
}

function setRate(rate: number): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn-accept', command: 'set_rate', params: { rate_ml_h: rate } });
}

interface SavedCommanders {
  devices: Record<string, { commanders: Record<string, { count: number }> }>;
}

function savedCommanders(dataDir: string): Record<string, { count: number }> {
  const saved = JSON.parse(readFileSync(join(dataDir, BASELINE_FILE), 'utf8')) as SavedCommanders;
  return saved.devices['pump-01']?.commanders ?? {};
}

describe('accepting a learned alert into the baseline of a running agent', () => {
  const data = temporaryDataDir();
  const config = quickRealertConfig();
  let agent: RunningAgent;
  let station: MqttClient;
  let biomed: DashboardClient;
  let first: AlertView;
  let second: AlertView;
  let notLearned: AlertView;

  const commanderAlerts = (): AlertView[] => agent.alerts.list().filter((alert) => alert.type === 'baseline-new-commander' && alert.deviceId === 'pump-01');
  const acceptPath = (id: string): string => `/api/alerts/${id}/accept-baseline`;

  beforeAll(async () => {
    await saveLearnedBaseline(data.dir, config);
    agent = await startTestAgent(data.dir, config);
    station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
    await station.publishAsync('ward/pump-01/command', setRate(14.4), { qos: 1 });
    first = await waitFor(() => commanderAlerts()[0], 5_000, 'the first baseline-new-commander alert');
    // The control: the same deviation, past realertHours and with no window to fold into, is alerted again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await station.publishAsync('ward/pump-01/command', setRate(14.6), { qos: 1 });
    second = await waitFor(() => commanderAlerts().find((alert) => alert.id !== first.id), 5_000, 'a second alert for the repeated deviation');
    notLearned = await waitFor(() => agent.alerts.list().find((alert) => !alert.type.startsWith('baseline-')), 5_000, 'an alert from a rule');
    biomed = await DashboardClient.logIn(agent, data.dir, 'biomed');
  });

  afterAll(async () => {
    await station.endAsync(true).catch(() => undefined);
    await agent.stop();
    data.remove();
  });

  it('refuses a nurse and a display (403) and changes nothing', async () => {
    for (const role of ['nurse', 'display'] as const) {
      const client = await DashboardClient.logIn(agent, data.dir, role);
      const answer = await client.post(acceptPath(first.id), { reason: REASON });
      expect(answer.status, role).toBe(403);
      expect(answer.json<{ error: string }>().error).toBe(`the ${role} role may not see or change the learned baseline (accepting an alert into it)`);
    }
    expect(agent.baseline.devices.get('pump-01')?.commanders.has(COMMANDER)).toBe(false);
    expect(agent.alerts.get(first.id)?.state).toBe('open');
  });

  it('checks like the acknowledge route: no session 401, another origin 403, no reason 400, not JSON 415', async () => {
    expect((await agentRequest(agent, 'POST', acceptPath(first.id), { body: { reason: REASON } })).status).toBe(401);
    const crossSite = await agentRequest(agent, 'POST', acceptPath(first.id), { cookie: biomed.cookie, origin: 'http://evil.example', body: { reason: REASON } });
    expect(crossSite.status).toBe(403);
    expect(crossSite.json<{ error: string }>().error).toBe('cross-origin request refused');
    const noReason = await biomed.post(acceptPath(first.id), { reason: '  ' });
    expect(noReason.status).toBe(400);
    expect(noReason.json<{ error: string }>().error).toBe('reason: give a reason');
    const form = await agentRequest(agent, 'POST', acceptPath(first.id), { cookie: biomed.cookie, body: `reason=${encodeURIComponent(REASON)}`, contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(agent.baseline.devices.get('pump-01')?.commanders.has(COMMANDER)).toBe(false);
  });

  it('answers 404 for an alert it does not know and 409 for an alert from a rule', async () => {
    const unknown = await biomed.post(acceptPath(randomUUID()), { reason: REASON });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: 'no such alert', code: 'not-found' });
    const rule = await biomed.post(acceptPath(notLearned.id), { reason: REASON });
    expect(rule.status).toBe(409);
    expect(rule.json<{ code: string; error: string }>()).toMatchObject({ code: 'not-learned', error: expect.stringMatching(new RegExp(`^a ${notLearned.type} alert comes from a rule .* nothing to accept into the baseline`)) as unknown });
    expect(agent.alerts.get(notLearned.id)?.state).toBe('open');
  });

  it('while the agent runs, the command line refuses and points to the dashboard', async () => {
    const refused = await wardwatch('baseline', 'accept', first.id, '-c', 'config/demo.yaml', '-d', data.dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/an agent \(pid \d+\) is running on .* would overwrite the baseline at its next save\./);
    expect(refused.stderr).toContain(`Accept it without stopping the agent: open the alert on the dashboard (#alert/${first.id}) as a biomed or admin and choose "Accept as normal for this ward".`);
  });

  it('a biomed accepts over HTTP: live model, baseline.json through the keeper, the alert acknowledged, the audit log', async () => {
    expect(savedCommanders(data.dir)[COMMANDER]).toBeUndefined();
    const answer = await biomed.post(acceptPath(first.id), { reason: REASON });
    expect(answer.status, answer.body).toBe(200);
    const body = answer.json<BaselineAcceptedResponse>();
    expect(body.accepted).toEqual({ device: 'pump-01', table: 'commander', key: COMMANDER, level: 'device' });
    expect(body.acknowledged).toBe(true);
    expect(body.saved).toBe(true);
    expect(body.alert).toMatchObject({ id: first.id, state: 'acknowledged', ack: { by: biomed.user.username, reason: `accepted into the baseline: ${REASON}`, from: '127.0.0.1' } });
    expect(agent.alerts.get(first.id)?.state).toBe('acknowledged');
    // The live model judges by it now, and the keeper (saving only hourly here) has written it.
    expect(agent.baseline.devices.get('pump-01')?.commanders.get(COMMANDER)?.count).toBe(config.baseline.minSamples);
    expect(savedCommanders(data.dir)[COMMANDER]?.count).toBe(config.baseline.minSamples);
    // The other alert for the same deviation stays as it was.
    expect(agent.alerts.get(second.id)?.state).toBe('open');

    const admin = await DashboardClient.logIn(agent, data.dir, 'admin');
    const audit = await admin.json<AuditView>('/api/audit?limit=50');
    expect(audit.chainIntact).toBe(true);
    const accepted = audit.entries.filter((entry) => entry.action === 'baseline-accepted');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({
      actor: biomed.user.username,
      from: '127.0.0.1',
      details: { alertId: first.id, alertType: 'baseline-new-commander', device: 'pump-01', level: 'device', table: 'commander', key: COMMANDER, reason: REASON },
    });
    const acknowledged = audit.entries.find((entry) => entry.action === 'alert-acknowledged' && entry.details['alertId'] === first.id);
    expect(acknowledged).toMatchObject({ actor: biomed.user.username, details: { reason: `accepted into the baseline: ${REASON}` } });
  });

  it('accepting the same alert again changes nothing: 409, one audit entry', async () => {
    const again = await biomed.post(acceptPath(first.id), { reason: 'double click' });
    expect(again.status).toBe(409);
    expect(again.json<{ code: string; error: string }>()).toMatchObject({ code: 'already-accepted', error: expect.stringMatching(new RegExp(`^already accepted into the baseline by ${biomed.user.username} at \\d{4}-`)) as unknown });
    expect(agent.baseline.devices.get('pump-01')?.commanders.get(COMMANDER)?.count).toBe(config.baseline.minSamples);
  });

  it('the next repeat of the deviation is judged normal at once: learned, and no new alert', async () => {
    const alertsBefore = commanderAlerts().length;
    expect(alertsBefore).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await station.publishAsync('ward/pump-01/command', setRate(14.8), { qos: 1 });
    // Learned (not flagged as a deviation): the commander's count goes up by one.
    await waitFor(() => (agent.baseline.devices.get('pump-01')?.commanders.get(COMMANDER)?.count ?? 0) > config.baseline.minSamples, 5_000, 'the repeat learned');
    expect(commanderAlerts().map((alert) => alert.id).sort()).toEqual([first.id, second.id].sort());
    expect(agent.alerts.get(first.id)?.count).toBe(1);
    expect(agent.alerts.get(second.id)?.count).toBe(1);
  });

  it('after a restart the acceptance is in the restored baseline and is still refused a second time', async () => {
    await station.endAsync(true);
    await agent.stop();
    expect(savedCommanders(data.dir)[COMMANDER]?.count).toBeGreaterThan(config.baseline.minSamples);
    agent = await startTestAgent(data.dir, config);
    station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
    expect(agent.baseline.devices.get('pump-01')?.commanders.has(COMMANDER)).toBe(true);
    const client = await DashboardClient.logIn(agent, data.dir, 'biomed');
    const again = await client.post(acceptPath(first.id), { reason: REASON });
    expect(again.status).toBe(409);
    expect(again.json<{ error: string }>().error).toMatch(new RegExp(`^already accepted into the baseline by ${biomed.user.username} at `));
  });
});
