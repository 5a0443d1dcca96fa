/**
 * "Accept as normal for this ward" in headless Chromium against a real agent: station-4w
 * commands pump-01, which the restored baseline never saw it command (baseline-new-commander).
 * A biomed opens the alert's page, sees what the baseline will learn, gives a reason,
 * confirms; the page says it is accepted and shows the alert acknowledged, and the running
 * agent's baseline holds the commander. A nurse opening the same page sees no such action.
 * The strict Content-Security-Policy reports nothing.
 */
import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser, logOutInBrowser } from '../helpers/browser-login.ts';
import { addTestUser, type TestUser } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { saveLearnedBaseline } from '../helpers/learned-baseline.ts';
import { waitFor } from '../helpers/wait-for.ts';

const REASON = 'new central station on 4W';
const WHAT = 'account station-4w becomes a known commander of pump-01.';

describe.skipIf(skipBrowserTests())('accepting a learned alert from its page (browser, real agent)', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;
  let station: MqttClient | null = null;
  let biomed: TestUser;
  let nurse: TestUser;
  let alert: AlertView;

  beforeAll(async () => {
    const config = loadDemoConfig();
    await saveLearnedBaseline(data.dir, config);
    biomed = await addTestUser(data.dir, 'biomed', { username: 'be-accept' });
    nurse = await addTestUser(data.dir, 'nurse', { username: 'rn-accept' });
    agent = await startTestAgent(data.dir, config);
    const running = agent;
    station = await connectAsync(`mqtt://127.0.0.1:${running.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
    await station.publishAsync('ward/pump-01/command', JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn-e2e', command: 'set_rate', params: { rate_ml_h: 14.4 } }), { qos: 1 });
    alert = await waitFor(() => running.alerts.list().find((candidate) => candidate.type === 'baseline-new-commander'), 5_000, 'the learned alert');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await station?.endAsync(true).catch(() => undefined);
    await browser?.close();
    await agent?.stop();
    data.remove();
  });

  it('a biomed sees what will be learned, gives a reason, confirms, and the agent learns it; a nurse is not offered it', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const page = browser.page;
    const cspReports: string[] = [];
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspReports.push(message.text());
    });
    const action = page.locator('#alert-view [data-section="accept-baseline"]');
    try {
      await page.goto(agent.url);
      await logInInBrowser(page, biomed);
      await page.goto(`${agent.url}#alert/${alert.id}`);
      await action.waitFor({ timeout: 10_000 });
      expect(await action.locator('[data-field="accept-what"]').textContent()).toBe(`What the baseline will learn: ${WHAT}`);

      // No reason: asked for one, nothing sent.
      await action.locator('.accept-start').click();
      expect(await action.locator('.accept-error').textContent()).toBe('Give a reason: it is kept in the audit log with the acceptance.');
      await action.locator('.accept-reason').fill(REASON);
      await action.locator('.accept-start').click();
      const confirmation = action.locator('[data-field="accept-confirm"]');
      await confirmation.waitFor({ state: 'visible', timeout: 5_000 });
      expect(await confirmation.textContent()).toBe(`Learn this as normal for this ward? ${WHAT} Reason: “${REASON}”. Recorded in the audit log as be-accept.`);
      expect(agent.baseline.devices.get('pump-01')?.commanders.has('account:station-4w')).toBe(false);

      await action.locator('.accept-confirm-button').click();
      const done = action.locator('[data-field="accept-done"]');
      await done.waitFor({ state: 'visible', timeout: 5_000 });
      expect(await done.textContent()).toBe(`Accepted into the baseline by be-accept: ${WHAT} The alert is acknowledged.`);
      await expect.poll(() => page.locator('#alert-view [data-field="state"]').textContent(), { timeout: 5_000 }).toBe('Acknowledged');
      expect(await page.locator('#alert-view [data-field="ack-reason"]').textContent()).toBe(`accepted into the baseline: ${REASON}`);
      expect(agent.baseline.devices.get('pump-01')?.commanders.has('account:station-4w')).toBe(true);

      await page.goto(`${agent.url}#`);
      await logOutInBrowser(page);
      await logInInBrowser(page, nurse);
      await page.goto(`${agent.url}#alert/${alert.id}`);
      await page.locator('#alert-view [data-section="fired"]').waitFor({ timeout: 10_000 });
      expect(await action.count()).toBe(0);
      expect(await page.locator('#alert-view').getByRole('button', { name: /accept/i }).count()).toBe(0);
      expect(await page.locator('#alert-view input').count()).toBe(0);

      expect(cspReports).toEqual([]);
      expect(pageErrors).toEqual([]);
    } catch (error) {
      const screenshot = `${data.dir}-baseline-accept-failure.png`;
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`baseline accept e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });
});
