/**
 * The device page (issue 6, engineer view) in headless Chromium against a real agent: a
 * nurse opens pump-01 from its tile on the ward, the dose chart is drawn on its canvas (the
 * red of the hard limit and the green of the learned envelope among its pixels), the
 * legend says the limits and the envelope in words, the open alert links to its evidence
 * page and that page links back to the device, the page asks again after 30 s, and the
 * strict Content-Security-Policy reports nothing (uPlot styles through the CSSOM only).
 */
import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser } from '../helpers/browser-login.ts';
import { addTestUser, type TestUser } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { saveLearnedBaseline } from '../helpers/learned-baseline.ts';

const HEPARIN_TELEMETRY = { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, infused_ml: 3.2, vtbi_ml: 250, battery_pct: 81, alarm: '', library_version: '4W-2026.11-demo' };

function command(name: string, params: Record<string, string | number | boolean>): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: 'station-4w', user: 'nurse.e2e', command: name, params });
}

/** Pixels of a canvas by kind: drawn at all, close to the hard limit's red, close to the envelope's green. */
async function canvasPixels(page: Page, selector: string): Promise<{ drawn: number; red: number; green: number; total: number }> {
  return page.evaluate(`(() => {
    const canvas = document.querySelector(${JSON.stringify(selector)});
    if (!(canvas instanceof HTMLCanvasElement)) return { drawn: 0, red: 0, green: 0, total: 0 };
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let drawn = 0, red = 0, green = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a === 0) continue;
      drawn += 1;
      if (a > 200 && r > 200 && g < 110 && b < 110) red += 1;
      if (g > r + 20 && g > b + 10) green += 1;
    }
    return { drawn, red, green, total: data.length / 4 };
  })()`);
}

describe.skipIf(skipBrowserTests())('device page: history chart with limits and envelope (browser, real agent)', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;
  let station: MqttClient | null = null;
  let pump: MqttClient | null = null;
  let nurse: TestUser;

  beforeAll(async () => {
    const config = loadDemoConfig();
    await saveLearnedBaseline(data.dir, config);
    nurse = await addTestUser(data.dir, 'nurse', { username: 'rn-device-page' });
    agent = await startTestAgent(data.dir, config);
    const options = { protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 5_000 };
    station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { ...options, username: 'station-4w', password: 'demo', clientId: `station-4w-device-e2e-${process.pid}` });
    pump = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { ...options, username: 'pump-01', password: 'demo-pump-01', clientId: `pump-01-device-e2e-${process.pid}` });
    // Heparin for 80 kg at 18 units/kg/h, then titrated to 30 (above the soft limit of 25: a warning alert).
    await station.publishAsync('ward/pump-01/command', command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    for (const rate of [14.4, 14.4, 14.4]) await pump.publishAsync('ward/pump-01/telemetry', JSON.stringify({ ts: new Date().toISOString(), ...HEPARIN_TELEMETRY, rate_ml_h: rate }), { qos: 1 });
    await station.publishAsync('ward/pump-01/command', command('set_rate', { rate_ml_h: 24 }), { qos: 1 });
    await pump.publishAsync('ward/pump-01/telemetry', JSON.stringify({ ts: new Date().toISOString(), ...HEPARIN_TELEMETRY, rate_ml_h: 24 }), { qos: 1 });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await station?.endAsync(true).catch(() => undefined);
    await pump?.endAsync(true).catch(() => undefined);
    await browser?.close();
    await agent?.stop();
    data.remove();
  });

  it('opens pump-01 from its ward tile, draws the dose chart with the hard limit and the learned envelope, says them in words, and links to and from the alert\'s evidence', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const page = browser.page;
    const pageErrors: string[] = [];
    const cspReports: string[] = [];
    const historyRequests: number[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspReports.push(message.text());
    });
    page.on('request', (request) => {
      if (request.url().endsWith('/api/devices/pump-01/history')) historyRequests.push(Date.now());
    });
    try {
      await page.setViewportSize({ width: 1600, height: 1200 });
      // Fake timers in the page, flowing with real time, so the 30-second refresh can be reached at once.
      await page.clock.install();
      await page.goto(agent.url);
      await logInInBrowser(page, nurse);
      await page.locator('#device-tiles [data-device-id="pump-01"][data-alert-severity="warning"]').waitFor({ timeout: 10_000 });

      // From the ward: a click on the tile's summary line, not on the link's text (the link covers the whole tile).
      const summary = await page.locator('#device-tiles [data-device-id="pump-01"] .tile-summary').boundingBox();
      if (summary === null) throw new Error('pump-01 has no summary line on its tile');
      await page.mouse.click(summary.x + summary.width / 2, summary.y + summary.height / 2);
      await page.locator('#device-view').waitFor({ state: 'visible', timeout: 5_000 });
      expect(page.url()).toMatch(/#device\/pump-01$/);
      expect(await page.locator('#ward-view').isVisible()).toBe(false);
      // The heading names the device at once and its bed when the history has arrived: read it after the chart is there.
      await page.locator('#device-view .chart-card[data-chart="dose:ICU/heparin"] canvas').waitFor({ timeout: 10_000 });
      expect(await page.locator('#device-view-heading').textContent()).toBe('Device history: Bed 1 · pump-01');

      // The header: bed, device, drug, state in words.
      expect(await page.locator('#device-view .device-place').textContent()).toBe('Bed 1');
      expect(await page.locator('#device-view [data-field="state"]').textContent()).toBe('Running');
      expect(await page.locator('#device-view [data-field="device"]').textContent()).toBe('pump-01 · Infusion pump');
      expect(await page.locator('#device-view [data-field="drug"]').textContent()).toBe('heparin at 24 mL/h = 30 units/kg/h');

      // The charts, in the agent's order: the running drug's dose first.
      const charts = await page.locator('#device-view .chart-card').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-chart')));
      expect(charts).toEqual(['dose:ICU/heparin', 'rate', 'volume', 'battery']);

      // Drawn: lines on the canvas, the hard limit's red among them, the envelope's shaded green.
      const dosePixels = await canvasPixels(page, '#device-view .chart-card[data-chart="dose:ICU/heparin"] canvas');
      expect(dosePixels.total).toBeGreaterThan(100_000);
      expect(dosePixels.drawn).toBeGreaterThan(5_000);
      expect(dosePixels.red).toBeGreaterThan(500);
      expect(dosePixels.green).toBeGreaterThan(5_000);
      // The battery chart has no limit: no red at all (the check above can fail).
      expect((await canvasPixels(page, '#device-view .chart-card[data-chart="battery"] canvas')).red).toBe(0);

      // The legend in words: colour is never the only signal.
      const legend = (await page.locator('#device-view .chart-card[data-chart="dose:ICU/heparin"] .chart-legend').textContent()) ?? '';
      expect(legend).toContain('Hard limit: max 40 units/kg/h, solid red line — ICU drug library: heparin');
      expect(legend).toContain('Soft limits: 5–25 units/kg/h, dashed amber lines');
      expect(legend).toContain('Learned envelope: 15–22 units/kg/h, shaded band — this device, 30 samples');
      expect(legend).toContain('values outside are alerted');
      const rateLegend = (await page.locator('#device-view .chart-card[data-chart="rate"] .chart-legend').textContent()) ?? '';
      expect(rateLegend).toContain('Hard limit: max 32 mL/h');
      expect(rateLegend).toContain('Learned envelope: 12–17.6 mL/h');
      expect(await page.locator('#device-view .chart-card[data-chart="dose:ICU/heparin"] .chart-readout').textContent()).toContain('heparin dose (ICU) 30 units/kg/h');

      // The commands, newest first, with their sender.
      const firstCommand = page.locator('#device-view .command-table tbody tr').first();
      expect(await firstCommand.getAttribute('data-command')).toBe('set_rate');
      expect(await firstCommand.textContent()).toContain('station-4w');
      expect(await firstCommand.textContent()).toContain('rate 24 mL/h (= 30 units/kg/h)');

      // Asked again every 30 s while shown.
      const before = historyRequests.length;
      await page.clock.fastForward(31_000);
      await expect.poll(() => historyRequests.length, { timeout: 5_000 }).toBeGreaterThan(before);

      // The open alert, and its evidence page; from there, back to the device.
      const alert = page.locator('#device-view .device-alert[data-severity="warning"]').first();
      expect(await alert.textContent()).toContain('above the soft limit');
      const alertId = await alert.getAttribute('data-alert-id');
      await alert.locator('.device-alert-link').click();
      await page.locator('#alert-view').waitFor({ state: 'visible', timeout: 5_000 });
      expect(page.url()).toContain(`#alert/${alertId ?? ''}`);
      expect(await page.locator('#device-view').isVisible()).toBe(false);
      await page.locator('#alert-view .alert-device-link').click();
      await page.locator('#device-view .chart-card canvas').first().waitFor({ timeout: 10_000 });
      expect(page.url()).toMatch(/#device\/pump-01$/);

      // Back to the ward.
      await page.locator('#device-view .back-link').click();
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#device-view').isVisible()).toBe(false);

      // An address for a device the agent does not have says so.
      await page.goto(`${agent.url}#device/no-such-pump`);
      await expect.poll(() => page.locator('#device-view-error').textContent(), { timeout: 10_000 }).toBe('No device "no-such-pump" in the agent\'s inventory.');

      expect(cspReports).toEqual([]);
      expect(pageErrors).toEqual([]);
    } catch (error) {
      const screenshot = `${data.dir}-device-page-failure.png`;
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`device page e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });
});
