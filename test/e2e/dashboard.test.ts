/**
 * The nurse screen end to end: a real agent (embedded broker and dashboard server on
 * port 0), headless Chromium, and a station publishing with mqtt.js. Proves the path a
 * nurse depends on: tiles for the ward, a dangerous command turning into a critical
 * alert row within seconds, acknowledging it through the dialog, the acknowledgement
 * surviving a reload, and the loud offline banner when the agent goes away.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/src/app.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';

type RunningAgent = Awaited<ReturnType<typeof startAgent>>;

const STATION = { username: 'station-4w', password: 'demo' } as const;
/** The banner must show within 8 s of the agent going away (watchdog: 3 × 2 s health). */
const OFFLINE_BANNER_WITHIN_MS = 8_000;

function command(name: string, params: Record<string, string | number | boolean>): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: STATION.username, user: 'nurse.e2e', command: name, params });
}

describe.skipIf(skipBrowserTests())('dashboard (browser, real agent)', () => {
  let dataDir: string;
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;
  let station: MqttClient | null = null;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-e2e-'));
    agent = await startAgent({
      config: loadDemoConfig(),
      dataDir,
      mqttHost: '127.0.0.1',
      mqttPort: 0,
      httpHost: '127.0.0.1',
      httpPort: 0,
      logger: pino({ level: 'silent' }),
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await station?.endAsync(true).catch(() => undefined);
    await browser?.close();
    await agent?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows the ward, raises a critical alert, acknowledges it, and goes loudly offline', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const running = agent;
    const page = browser.page;
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });

    try {
      // The ward: 6 pumps and 2 programmers, one tile each.
      await page.goto(running.url);
      await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
      expect(await page.locator('#device-tiles [data-device-id]').count()).toBe(8);
      expect(await page.locator('#device-tiles [data-profile="infusion-pump"]').count()).toBe(6);
      expect(await page.locator('#device-tiles [data-profile="pacemaker-programmer"]').count()).toBe(2);
      // Sorted by bed: Bed 1 first, the EP clinic programmers (location only) last.
      expect(await page.locator('#device-tiles [data-device-id]').first().getAttribute('data-device-id')).toBe('pump-01');
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).not.toBe('connecting');
      expect(await page.locator('#monitoring-banner').textContent()).not.toContain('OFFLINE');
      // The learned baseline's progress, for the engineer: a fresh agent is learning (issue 5).
      expect(await page.locator('#baseline-status').textContent()).toMatch(/^Learned baseline: learning, 0 h of 24 h; learned alerts start after$/);

      // A station programs heparin, then sets ten times the hard limit (40 units/kg/h):
      // 320 mL/h × 100 units/mL ÷ 80 kg = 400 units/kg/h.
      station = await connectAsync(`mqtt://127.0.0.1:${running.mqttPort}`, {
        ...STATION,
        clientId: `station-4w-e2e-${process.pid}`,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      });
      await station.publishAsync(
        'ward/pump-01/command',
        command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }),
        { qos: 1 },
      );
      await station.publishAsync('ward/pump-01/command', command('set_rate', { rate_ml_h: 320 }), { qos: 1 });

      const criticalRow = page.locator('#open-alerts [data-alert-id][data-severity="critical"]').filter({ hasText: 'pump-01' }).first();
      await criticalRow.waitFor({ timeout: 10_000 });
      const rowText = (await criticalRow.textContent()) ?? '';
      expect(rowText).toContain('Bed 1');
      expect(rowText).toContain('CRITICAL');
      const alertId = await criticalRow.getAttribute('data-alert-id');
      expect(alertId).toBeTruthy();
      const rowSelector = `[data-alert-id=${JSON.stringify(alertId)}]`;
      // The tile of pump-01 says it is under a critical alert.
      await page.locator('#device-tiles [data-device-id="pump-01"][data-alert-severity="critical"]').waitFor({ timeout: 5_000 });

      // The engineer's evidence opens on click.
      await page.locator(`#open-alerts ${rowSelector} [data-action="toggle-evidence"]`).click();
      await page.locator(`#open-alerts ${rowSelector} .evidence-list`).waitFor({ state: 'visible', timeout: 2_000 });

      // Acknowledge through the dialog.
      await page.locator(`#open-alerts ${rowSelector} [data-action="ack"]`).click();
      const dialog = page.locator('#ack-dialog');
      await dialog.waitFor({ state: 'visible', timeout: 2_000 });
      await page.locator('#ack-by').fill('RN Test');
      await page.locator('#ack-form input[name="ack-reason"][value="Investigating"]').check();
      await page.locator('#ack-submit').click();
      await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
      const acknowledgedRow = page.locator(`#acknowledged-alerts ${rowSelector}`);
      await acknowledgedRow.waitFor({ state: 'attached', timeout: 5_000 });
      expect(await acknowledgedRow.getAttribute('data-state')).toBe('acknowledged');
      expect(await acknowledgedRow.textContent()).toContain('Acknowledged by RN Test: Investigating');
      expect(await page.locator(`#open-alerts ${rowSelector}`).count()).toBe(0);

      // After a reload the acknowledgement comes back from the agent, and the name is remembered.
      await page.reload();
      await page.locator(`#acknowledged-alerts ${rowSelector}[data-state="acknowledged"]`).waitFor({ state: 'attached', timeout: 10_000 });
      expect(await page.locator(`#open-alerts ${rowSelector}`).count()).toBe(0);
      expect(await page.locator(`#acknowledged-alerts ${rowSelector}`).textContent()).toContain('Acknowledged by RN Test: Investigating');
      // (An expression string: the test compiles without the DOM lib.)
      expect(await page.evaluate("window.localStorage.getItem('wardwatch.station.acknowledgedBy')")).toBe('RN Test');

      // The agent goes away: the screen must say so, loudly, and mark its data stale.
      const stoppedAt = Date.now();
      agent = null;
      await running.stop();
      await page.locator('#monitoring-banner').waitFor({ state: 'visible', timeout: OFFLINE_BANNER_WITHIN_MS });
      expect(Date.now() - stoppedAt).toBeLessThan(OFFLINE_BANNER_WITHIN_MS);
      expect(await page.locator('#monitoring-banner').textContent()).toContain('MONITORING OFFLINE');
      expect(await page.locator('#monitoring-banner').getAttribute('data-level')).toBe('offline');
      expect(await page.locator('body').getAttribute('class')).toContain('is-stale');
      // Stale, not gone: the last known tiles stay on screen.
      expect(await page.locator('#device-tiles [data-device-id]').count()).toBe(8);

      expect(pageErrors.filter((message) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/i.test(message))).toEqual([]);
    } catch (error) {
      const screenshot = join(tmpdir(), `wardwatch-e2e-failure-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`dashboard e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });
});
