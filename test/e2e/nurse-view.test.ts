/**
 * The nurse screen's chime, escalation and wall-display mode, in headless Chromium
 * against a real agent (issue 6, item 1). A headless browser cannot be listened to, so
 * the chime is read from the mute button's `data-last-chime` (the id of the alert that
 * last chimed). The agent's site config shortens the escalation time to a few seconds.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/src/app.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser } from '../helpers/browser-login.ts';
import { addTestUser, type TestUser } from '../helpers/dashboard-client.ts';

type RunningAgent = Awaited<ReturnType<typeof startAgent>>;

const STATION = { username: 'station-4w', password: 'demo' } as const;
const ESCALATE_AFTER_SECONDS = 3;

function command(name: string, params: Record<string, string | number | boolean>): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: STATION.username, user: 'nurse.e2e', command: name, params });
}

/** Heparin programmed, then ten times the hard limit: a critical alert on that pump. */
async function overdose(station: MqttClient, pump: string): Promise<void> {
  await station.publishAsync(`ward/${pump}/command`, command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
  await station.publishAsync(`ward/${pump}/command`, command('set_rate', { rate_ml_h: 320 }), { qos: 1 });
}

/** The id of the open critical alert on `pump`, once its row is on screen. */
async function criticalAlertOn(page: Page, pump: string): Promise<string> {
  const row = page.locator('#open-alerts [data-alert-id][data-severity="critical"]').filter({ hasText: pump }).first();
  await row.waitFor({ timeout: 10_000 });
  const id = await row.getAttribute('data-alert-id');
  if (id === null) throw new Error('alert row without an id');
  return id;
}

describe.skipIf(skipBrowserTests())('nurse view: chime, escalation, wall display (browser, real agent)', () => {
  let dataDir: string;
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;
  let station: MqttClient | null = null;
  let nurse: TestUser;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-e2e-nurse-'));
    nurse = await addTestUser(dataDir, 'nurse', { username: 'rn-wall' });
    const config = loadDemoConfig();
    agent = await startAgent({
      config: { ...config, dashboard: { ...config.dashboard, escalateCriticalAfterSeconds: ESCALATE_AFTER_SECONDS } },
      dataDir,
      mqttHost: '127.0.0.1',
      mqttPort: 0,
      httpHost: '127.0.0.1',
      httpPort: 0,
      logger: pino({ level: 'silent' }),
    });
    browser = await launchBrowser();
    station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, {
      ...STATION,
      clientId: `station-4w-nurse-e2e-${process.pid}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
  });

  afterAll(async () => {
    await station?.endAsync(true).catch(() => undefined);
    await browser?.close();
    await agent?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('chimes for a new critical alert, escalates it while unacknowledged, stays muted across a reload, and shows a live wall display without Acknowledge buttons', async () => {
    if (agent === null || browser === null || station === null) throw new Error('setup failed');
    const running = agent;
    const page = browser.page;
    const sound = page.locator('#sound-toggle');
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await page.goto(running.url);
      await logInInBrowser(page, nurse);
      await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');

      // Before any click the browser allows no sound, and the button says so.
      expect(await sound.getAttribute('data-sound')).toBe('on');
      expect(await sound.getAttribute('data-blocked')).toBe('true');
      expect(await sound.textContent()).toContain('Enable sound');
      expect(await page.locator('#sound-hint').isVisible()).toBe(true);
      // A click anywhere on the page enables it.
      await page.locator('#ward-heading').click();
      expect(await sound.getAttribute('data-blocked')).toBe('false');
      expect(await page.locator('#sound-hint').isVisible()).toBe(false);
      expect(await sound.getAttribute('data-last-chime')).toBeNull();

      // A new critical alert chimes, once.
      await overdose(station, 'pump-01');
      const first = await criticalAlertOn(page, 'pump-01');
      await expect.poll(() => sound.getAttribute('data-last-chime'), { timeout: 5_000 }).toBe(first);

      // Unacknowledged past the configured time: escalated, with the words, not only a colour.
      const firstRow = page.locator(`#open-alerts [data-alert-id=${JSON.stringify(first)}]`);
      await expect.poll(() => firstRow.getAttribute('data-escalated'), { timeout: (ESCALATE_AFTER_SECONDS + 5) * 1_000 }).toBe('true');
      expect(await firstRow.locator('.alert-escalation').textContent()).toContain('UNACKNOWLEDGED for');
      expect(await firstRow.locator('.alert-escalation').isVisible()).toBe(true);

      // Muted: the button says so in words, and the choice survives a reload.
      await sound.click();
      expect(await sound.getAttribute('data-sound')).toBe('off');
      expect(await sound.textContent()).toContain('Sound off');
      await page.reload();
      await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');
      expect(await sound.getAttribute('data-sound')).toBe('off');
      expect(await sound.textContent()).toContain('Sound off');
      await page.locator('#ward-heading').click();
      // The escalated alert from the snapshot and a new critical alert: neither chimes while muted.
      await overdose(station, 'pump-02');
      const second = await criticalAlertOn(page, 'pump-02');
      await page.locator(`#open-alerts [data-alert-id=${JSON.stringify(second)}][data-escalated="true"]`).waitFor({ state: 'attached', timeout: (ESCALATE_AFTER_SECONDS + 5) * 1_000 });
      await page.waitForTimeout(1_500);
      expect(await sound.getAttribute('data-last-chime')).toBeNull();
      // Sound back on: the escalated alerts, still unacknowledged, chime again at once.
      await sound.click();
      expect(await sound.getAttribute('data-sound')).toBe('on');
      await expect.poll(() => sound.getAttribute('data-last-chime'), { timeout: 5_000 }).not.toBeNull();
      expect([first, second]).toContain(await sound.getAttribute('data-last-chime'));

      // Wall display: no Acknowledge buttons, larger type, and still live.
      await page.goto(`${running.url}?wall`);
      await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');
      expect(await page.locator('body').getAttribute('data-wall')).toBe('true');
      expect(await page.locator('#wall-toggle').textContent()).toContain('Wall display: on');
      expect(await page.locator('#open-alerts [data-alert-id]').count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator('#open-alerts .ack-button').first().isVisible()).toBe(false);
      expect(await page.locator('.ack-button:visible').count()).toBe(0);
      expect(await page.evaluate('getComputedStyle(document.documentElement).fontSize')).toBe('24px');
      await overdose(station, 'pump-03');
      await criticalAlertOn(page, 'pump-03');
      // The header toggle turns it off again, and the address follows.
      await page.locator('#wall-toggle').click();
      expect(await page.locator('body').getAttribute('data-wall')).toBe('false');
      expect(await page.locator('#open-alerts .ack-button').first().isVisible()).toBe(true);
      expect(page.url()).not.toContain('wall');

      expect(pageErrors).toEqual([]);
    } catch (error) {
      const screenshot = join(tmpdir(), `wardwatch-e2e-nurse-failure-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`nurse-view e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });

  it('opens an alert\'s evidence page (command, sender, rule, all as text), filters the list by words and severity, and keeps the header on one line for the site name at 1280 and 1600 px, with the sound hint showing too', async () => {
    if (agent === null || browser === null || station === null) throw new Error('setup failed');
    const running = agent;
    const page = browser.page;
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(running.url);
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 10_000 });
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');
      // The wall test may have left the page in wall mode; this one is at a station.
      if ((await page.locator('body').getAttribute('data-wall')) === 'true') await page.locator('#wall-toggle').click();

      // A command whose payload carries markup: it must show as text, never as elements.
      const hostile = '<img src=x id=injected-image>';
      await station.publishAsync('ward/pump-04/command', command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
      await station.publishAsync('ward/pump-04/command', JSON.stringify({ ...(JSON.parse(command('set_rate', { rate_ml_h: 320 })) as object), user: hostile }), { qos: 1 });
      const alertId = await criticalAlertOn(page, 'pump-04');

      // Filters: a search for pump-04 hides every other pump's alerts, and the count says so.
      const rows = page.locator('#open-alerts [data-alert-id]');
      const total = await rows.count();
      expect(total).toBeGreaterThan(1);
      await page.locator('#alert-search').fill('pump-04');
      await expect.poll(() => page.locator('#open-alerts [data-alert-id]:visible').count()).toBeGreaterThanOrEqual(1);
      for (const text of await page.locator('#open-alerts [data-alert-id]:visible').allTextContents()) expect(text).toContain('pump-04');
      expect(await page.locator('#open-alerts [data-alert-id]:visible').count()).toBeLessThan(total);
      expect(await page.locator('#open-alerts [data-alert-id]').filter({ hasText: 'pump-01' }).first().isVisible()).toBe(false);
      expect(await page.locator('#alert-filter-count').textContent()).toMatch(/^Showing \d+ of \d+ alerts/);
      // Severity on top of the words: only the critical ones of pump-04.
      await page.locator('#alert-severity-filter').selectOption('critical');
      for (const severity of await page.locator('#open-alerts [data-alert-id]:visible').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-severity')))) expect(severity).toBe('critical');
      // Words that match nothing: no rows, and the empty note says why.
      await page.locator('#alert-search').fill('no-such-device');
      expect(await page.locator('#open-alerts [data-alert-id]:visible').count()).toBe(0);
      expect(await page.locator('#open-alerts-empty').textContent()).toBe('No open alert matches the filter');
      await page.locator('#alert-search').fill('');
      await page.locator('#alert-severity-filter').selectOption('');
      expect(await page.locator('#open-alerts [data-alert-id]:visible').count()).toBe(total);
      expect(await page.locator('#alert-filter-count').isVisible()).toBe(false);

      // The evidence page, from the row's Details link.
      await page.locator(`#open-alerts [data-alert-id=${JSON.stringify(alertId)}] .alert-details`).click();
      await page.locator('#alert-view').waitFor({ state: 'visible', timeout: 5_000 });
      expect(page.url()).toContain(`#alert/${alertId}`);
      expect(await page.locator('#ward-view').isVisible()).toBe(false);
      expect(await page.locator('#alert-view-heading').textContent()).toBe('Alert: Bed 4 · pump-04');
      expect(await page.locator('#alert-view .alert-page-head .severity-label').textContent()).toBe('CRITICAL');
      expect(await page.locator('#alert-view .alert-page-head svg.icon-critical').count()).toBe(1);
      expect(await page.locator('#alert-view [data-field="title"]').textContent()).toContain('above the hard limit');
      expect(await page.locator('#alert-view [data-field="state"]').textContent()).toBe('Open, not acknowledged');
      expect(await page.locator('#alert-view [data-field="count"]').textContent()).toBe('1');
      // The raw command as JSON, and its sender.
      const commandText = (await page.locator('#alert-view pre[data-field="command"]').textContent()) ?? '';
      expect(JSON.parse(commandText)).toMatchObject({ command: 'set_rate', issuer: 'station-4w', params: { rate_ml_h: 320 } });
      expect(await page.locator('#alert-view [data-field="account"]').textContent()).toBe('station-4w');
      expect(await page.locator('#alert-view [data-field="role"]').textContent()).toBe('station');
      expect(await page.locator('#alert-view [data-field="clientId"]').textContent()).toBe(`station-4w-nurse-e2e-${process.pid}`);
      expect(await page.locator('#alert-view [data-field="address"]').textContent()).toBe('127.0.0.1');
      expect(await page.locator('#alert-view [data-field="transport"]').textContent()).toMatch(/mqtt/i);
      expect(await page.locator('#alert-view [data-field="rule"]').textContent()).toBeTruthy();
      // Wire text stays text: the markup in the command's `user` field is shown, and made no element.
      expect(JSON.parse(commandText)).toMatchObject({ user: hostile });
      expect(await page.locator('#injected-image').count()).toBe(0);

      // An acknowledgement shows on the open page, live.
      await page.evaluate(`fetch('/api/alerts/${alertId}/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'Investigating' }), credentials: 'same-origin' }).then((r) => r.status)`);
      await expect.poll(() => page.locator('#alert-view [data-field="state"]').textContent(), { timeout: 5_000 }).toBe('Acknowledged');
      expect(await page.locator('#alert-view [data-field="ack-by"]').textContent()).toBe('rn-wall');
      expect(await page.locator('#alert-view [data-field="ack-reason"]').textContent()).toBe('Investigating');

      // Back to the ward.
      await page.locator('#alert-view .back-link').click();
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#alert-view').isVisible()).toBe(false);

      // Header: at station widths the site name is one line, whole (no ellipsis), and nothing spills out of the window;
      // at 1600 px a nurse's header is one row (the clock beside the site name). Once after the clicks above, and once
      // after a reload, with the "Enable sound" hint showing (no click yet), which used to cut the name and push the clock down.
      for (const hint of [false, true]) {
        if (hint) {
          await page.reload();
          await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 10_000 });
          expect(await page.locator('#sound-hint').isVisible()).toBe(true);
          expect(await page.locator('#sound-toggle').textContent()).toContain('Enable sound');
        }
        for (const width of [1280, 1600]) {
          await page.setViewportSize({ width, height: 900 });
          const site = await page.locator('#site-name').boundingBox();
          const clock = await page.locator('#clock').boundingBox();
          const lineHeight = Number.parseFloat(String(await page.evaluate(`getComputedStyle(document.getElementById('site-name')).lineHeight`)));
          expect(site?.height ?? Infinity).toBeLessThan(lineHeight * 1.5);
          expect(site?.width ?? 0).toBeGreaterThan(0);
          expect(await page.evaluate(`(() => { const name = document.getElementById('site-name'); return name.scrollWidth - name.clientWidth; })()`), `site name cut at ${width} px (hint: ${hint})`).toBeLessThanOrEqual(0);
          expect((clock?.x ?? Infinity) + (clock?.width ?? 0)).toBeLessThanOrEqual(width);
          if (width === 1600) expect(Math.abs((clock?.y ?? 0) + (clock?.height ?? 0) / 2 - ((site?.y ?? Infinity) + (site?.height ?? 0) / 2)), `clock on another row at 1600 px (hint: ${hint})`).toBeLessThan(lineHeight / 2);
          expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
        }
        expect(await page.locator('#sound-hint').isVisible()).toBe(hint);
      }
      expect(pageErrors).toEqual([]);
    } catch (error) {
      const screenshot = join(tmpdir(), `wardwatch-e2e-alert-page-failure-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`alert page e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });
});
