import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/src/app.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { HealthView } from '../../agent/src/server/dashboard-protocol.ts';
import { loggedInClient, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { missingMosquitto, startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noMosquitto = missingMosquitto();

function withTap(username: string, password: string): SiteConfig {
  return { ...loadDemoConfig(), tap: { username, password, protocolVersion: 4 } };
}

/** `wardwatch agent --tap`: the agent watches the site's own broker (Debian's mosquitto). */
describe.skipIf(noMosquitto !== null)('agent with an MQTT tap on Debian\'s mosquitto', () => {
  let mosquitto: RunningMosquitto | null = null;
  let agent: RunningAgent | null = null;
  const data = temporaryDataDir();

  afterEach(async () => {
    await agent?.stop();
    await mosquitto?.stop();
    agent = null;
    mosquitto = null;
  });

  /** `credentialsInUrl`: the tap URL also carries user:password, as a user may type it in --tap. */
  async function start(credentialsInUrl = false): Promise<{ agent: RunningAgent; mosquitto: RunningMosquitto }> {
    mosquitto = await startMosquitto();
    const tapUrl = credentialsInUrl ? mosquitto.url.replace('//', `//${mosquitto.username}:${mosquitto.password}@`) : mosquitto.url;
    agent = await startAgent({ config: withTap(mosquitto.username, mosquitto.password), dataDir: data.dir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, tapUrl, logger: pino({ level: 'silent' }) });
    return { agent, mosquitto };
  }

  it('judges commands published on the site broker; the alert says the sender was not visible', async () => {
    const ctx = await start();
    const station = await connectAsync(ctx.mosquitto.url, { username: ctx.mosquitto.username, password: ctx.mosquitto.password, protocolVersion: 4 });
    await station.publishAsync('ward/pump-01/command', JSON.stringify({ id: 'tap-1', ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn', command: 'program_infusion', params: { drug: 'heparin', rate_ml_h: 320, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' } }), { qos: 1 });
    await station.endAsync();
    const alert = await waitFor(() => ctx.agent.alerts.list().find((a) => a.type === 'dose-above-hard-limit'), 3_000, 'alert through the tap');
    expect(alert.title).toBe('Bed 1 · pump-01: heparin 320 mL/h = 400 units/kg/h, above the hard limit of 40 units/kg/h (sender not visible: seen through the MQTT tap)');
  });

  it('the broker stopped and restarted: health degraded during the gap, then a monitoring-gap alert with its length, naming the broker without the password given in the URL', async () => {
    const ctx = await start(true);
    const viewer = await loggedInClient(ctx.agent, data.dir);
    const health = (): Promise<HealthView> => viewer.json<HealthView>('/api/health');
    expect((await health()).reasons.filter((reason) => reason.includes('MQTT tap'))).toEqual([]);
    await ctx.mosquitto.stop();
    const degraded = await waitFor(async () => {
      const view = await health();
      return view.reasons.some((reason) => reason.startsWith('MQTT tap not connected')) ? view : null;
    }, 5_000, 'degraded health');
    expect(degraded.status).toBe('degraded');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await ctx.mosquitto.restart();
    const gap = await waitFor(() => ctx.agent.alerts.list().find((a) => a.type === 'monitoring-gap'), 15_000, 'monitoring-gap alert');
    expect(gap.severity).toBe('high');
    expect(gap.title).toMatch(/^MQTT tap: nothing on the site's broker was seen for \d+ s \(/);
    expect((gap.evidence as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(1_500);
    // The alert leaves the machine (alerts.jsonl, SIEM, the hub): the broker is named, its password is not.
    expect((gap.evidence as { broker: string }).broker).toBe(ctx.mosquitto.url);
    expect(JSON.stringify(gap)).not.toContain(ctx.mosquitto.password);
    expect((await health()).reasons.filter((reason) => reason.includes('MQTT tap'))).toEqual([]);
  });

  it('a refused tap login stops start-up with a clear error', async () => {
    mosquitto = await startMosquitto();
    const attempt = startAgent({ config: withTap(mosquitto.username, 'wrong'), dataDir: data.dir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, tapUrl: mosquitto.url, logger: pino({ level: 'silent' }) });
    await expect(attempt).rejects.toThrow(/refused the login of user/);
  });
});
