/**
 * Least privilege and the live feed's Origin check, in a real browser against a real agent
 * (issue 6, "Done when"): a nurse acknowledges an alert but cannot open the configuration;
 * a biomed can, and the page shows the inventory and drug limits of config/demo.yaml and
 * no secret; and a page from a foreign origin cannot open the agent's WebSocket although
 * the browser holds a valid session, while the agent's own page in the same browser can.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { addTestUser, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser, logOutInBrowser } from '../helpers/browser-login.ts';
import { demoConfigWith } from '../helpers/demo-config.ts';

const STATION = { username: 'station-4w', password: 'demo' } as const;
/** Secrets the agent's config holds besides the demo accounts' passwords; none may reach a page. */
const TAP_PASSWORD = 'tap-secret-e2e-5Rw8';
const INFLUX_PASSWORD = 'influx-secret-e2e-3Kd1';

/** The demo ward, plus a tap account and an InfluxDB output with passwords (InfluxDB at a closed local port: it only retries). */
function configWithSecrets(): SiteConfig {
  const result = parseSiteConfig(demoConfigWith((doc) => {
    doc['tap'] = { username: 'wardwatch-tap', password: TAP_PASSWORD };
    doc['influxdb'] = { url: 'http://127.0.0.1:1', database: 'wardwatch_e2e', username: 'writer', password: INFLUX_PASSWORD, createDatabase: false };
  }));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.config;
}

/** Everything the feed test page saw of its WebSocket, in order, once it closed. */
const RECORD_FEED = (url: string): string => `new Promise((resolve) => {
  const seen = [];
  const socket = new WebSocket(${JSON.stringify(url)});
  socket.onopen = () => seen.push('open');
  socket.onmessage = (event) => { seen.push('message ' + JSON.parse(event.data).type); socket.close(); };
  socket.onerror = () => seen.push('error');
  socket.onclose = (event) => { seen.push('close ' + event.code); resolve(seen); };
})`;

async function failureScreenshot(page: Page, name: string): Promise<void> {
  const file = join(tmpdir(), `${name}-${Date.now()}.png`);
  await page.screenshot({ path: file, fullPage: true }).then(() => console.error(`screenshot: ${file}`), () => undefined);
}

describe.skipIf(skipBrowserTests())('configuration access and the feed\'s Origin (browser, real agent)', () => {
  const dataDir = temporaryDataDir();
  const config = configWithSecrets();
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;
  let station: MqttClient | null = null;
  let elsewhere: Server | null = null;

  beforeAll(async () => {
    agent = await startTestAgent(dataDir.dir, config);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await station?.endAsync(true).catch(() => undefined);
    await browser?.close();
    elsewhere?.closeAllConnections();
    await new Promise((resolve) => (elsewhere === null ? resolve(undefined) : elsewhere.close(resolve)));
    await agent?.stop();
    dataDir.remove();
  });

  it('a nurse has no Configuration link, is refused #config, and still acknowledges an alert', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const page = browser.page;
    const nurse = await addTestUser(dataDir.dir, 'nurse', { username: 'rn-config' });
    try {
      await page.goto(agent.url);
      await logInInBrowser(page, nurse);
      expect(await page.locator('#user-role').textContent()).toBe('Nurse');
      expect(await page.locator('#admin-nav a[href="#config"]').isVisible()).toBe(false);
      expect(await page.locator('#admin-nav a:visible').count()).toBe(0);

      // Typed by hand: the agent's refusal (403), and nothing of the configuration.
      await page.goto(`${agent.url}#config`);
      await page.locator('#admin-error').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#admin-heading').textContent()).toBe('Site configuration');
      expect(await page.locator('#admin-error').textContent()).toBe('Not for your role: the nurse role may not see or change the site configuration.');
      expect(await page.locator('#admin-view .admin-table').count()).toBe(0);
      expect(await page.locator('#admin-body').textContent()).not.toContain('Drug library');

      // Back at the ward, the nurse's own work: heparin at ten times the ICU hard limit raises a critical alert.
      await page.goto(`${agent.url}#`);
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 5_000 });
      station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { ...STATION, clientId: `station-4w-config-e2e-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
      const command = (name: string, params: Record<string, string | number>): string => JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: STATION.username, user: 'nurse.e2e', command: name, params });
      await station.publishAsync('ward/pump-02/command', command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
      await station.publishAsync('ward/pump-02/command', command('set_rate', { rate_ml_h: 320 }), { qos: 1 });
      const row = page.locator('#open-alerts [data-alert-id][data-severity="critical"]').filter({ hasText: 'pump-02' }).first();
      await row.waitFor({ timeout: 10_000 });
      const alertId = await row.getAttribute('data-alert-id');
      const rowSelector = `[data-alert-id=${JSON.stringify(alertId)}]`;
      await page.locator(`#open-alerts ${rowSelector} [data-action="ack"]`).click();
      await page.locator('#ack-dialog').waitFor({ state: 'visible', timeout: 2_000 });
      await page.locator('#ack-form input[name="ack-reason"][value="Investigating"]').check();
      await page.locator('#ack-submit').click();
      await page.locator('#ack-dialog').waitFor({ state: 'hidden', timeout: 5_000 });
      await page.locator(`#acknowledged-alerts ${rowSelector}[data-state="acknowledged"]`).waitFor({ state: 'attached', timeout: 5_000 });
      expect(await page.locator(`#acknowledged-alerts ${rowSelector}`).textContent()).toContain('Acknowledged by rn-config: Investigating');
      expect(agent.alerts.list().find((alert) => alert.id === alertId)?.ack?.by).toBe('rn-config');
      await logOutInBrowser(page);
    } catch (error) {
      await failureScreenshot(page, 'wardwatch-e2e-config-nurse');
      throw error;
    }
  });

  it('a biomed opens the configuration from its link: the inventory and drug-library limits of the site config, and no secret', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const page = browser.page;
    const biomed = await addTestUser(dataDir.dir, 'biomed', { username: 'be-config' });
    try {
      await page.goto(agent.url);
      await logInInBrowser(page, biomed);
      expect(await page.locator('#admin-nav a:visible').allTextContents()).toEqual(['Baseline', 'Configuration']);
      await page.locator('#admin-nav a[href="#config"]').click();
      await page.locator('#admin-view table[data-section="drug-library"]').waitFor({ state: 'visible', timeout: 5_000 });
      expect(page.url()).toMatch(/#config$/);
      expect(await page.locator('#admin-heading').textContent()).toBe('Site configuration');
      expect(await page.locator('#admin-error').isVisible()).toBe(false);
      expect(await page.locator('#admin-body .config-notice').textContent()).toContain('wardwatch config check');

      const rowsOf = async (section: string): Promise<string[][]> => {
        const rows = await page.locator(`#admin-view table[data-section="${section}"] tbody tr`).all();
        return Promise.all(rows.map((row) => row.locator('td').allTextContents()));
      };
      // The inventory: one row per device of the config, with its bed, care area and network identity.
      const devices = await rowsOf('devices');
      expect(devices.map((cells) => cells[0])).toEqual(config.devices.map((device) => device.id));
      expect(devices[0]).toEqual(['pump-01', 'infusion-pump', 'Bed 1', 'ICU', 'MQTT account pump-01', 'no']);
      expect(devices[6]).toEqual(['prog-01', 'pacemaker-programmer', 'EP clinic room 1', '—', 'MQTT account prog-01', 'no']);

      // The drug library: every drug of every care area, its limits as the config has them.
      const drugs = await rowsOf('drug-library');
      const expected = Object.entries(config.drugLibrary.careAreas).flatMap(([area, { drugs: entries }]) => Object.entries(entries).map(([drug, entry]) => [
        area, drug, entry.doseUnit, String(entry.soft.min ?? '—'), String(entry.soft.max ?? '—'), String(entry.hard.min ?? '—'), String(entry.hard.max ?? '—'), entry.highAlert ? 'high-alert' : 'no',
      ]));
      expect(drugs.map((cells) => [cells[0], cells[1], cells[3], cells[4], cells[5], cells[6], cells[7], cells[9]])).toEqual(expected);
      // config/demo.yaml: heparin's hard maximum is 40 units/kg/h in ICU and 35 in Med-Surg.
      expect(drugs.find((cells) => cells[0] === 'ICU' && cells[1] === 'heparin')?.slice(2, 8)).toEqual(['25000 units / 250 mL', 'units/kg/h', '5', '25', '—', '40']);
      expect(drugs.find((cells) => cells[0] === 'Med-Surg' && cells[1] === 'heparin')?.[7]).toBe('35');

      expect((await rowsOf('policy')).map((cells) => cells[0])).toEqual(config.policy.rules.map((rule) => rule.id));
      expect((await rowsOf('accounts')).map((cells) => cells.slice(0, 2))).toEqual(config.mqtt.accounts.map((account) => [account.username, account.role]));
      expect((await rowsOf('outputs'))[0]).toEqual(['InfluxDB', 'on', 'http://127.0.0.1:1, database wardwatch_e2e']);

      // No secret anywhere on the page: not in its text, not in its markup.
      const text = await page.locator('body').innerText();
      const markup = await page.content();
      const secrets = [TAP_PASSWORD, INFLUX_PASSWORD, ...config.mqtt.accounts.flatMap((account) => (account.password === undefined ? [] : [account.password]))];
      for (const secret of secrets.filter((value) => value.length >= 6)) {
        expect(text).not.toContain(secret);
        expect(markup).not.toContain(secret);
      }
      // The short demo password ("demo") is a word of the descriptions too: no cell may be a password.
      const cells: string[] = (await Promise.all(['site', 'devices', 'drug-library', 'policy', 'accounts', 'outputs'].map(rowsOf))).flat().flat();
      expect(cells.filter((cell) => secrets.includes(cell))).toEqual([]);
      await logOutInBrowser(page);
    } catch (error) {
      await failureScreenshot(page, 'wardwatch-e2e-config-biomed');
      throw error;
    }
  });

  it('a page from a foreign origin cannot open the feed while the browser holds a valid session; the agent\'s own page can', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const { context, page } = browser;
    const nurse = await addTestUser(dataDir.dir, 'nurse', { username: 'rn-origin' });
    const agentPort = agent.httpPort;
    // Another port of the same host: another origin, but the same site (RFC 6454 §4 vs. the
    // "site" of SameSite), so the browser sends the SameSite=Strict session cookie with it.
    // Only the agent's Origin check stands between this page and the ward's alerts.
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><title>elsewhere</title><script>window.feed = ${RECORD_FEED(`ws://localhost:${agentPort}/ws`)};</script>`);
    });
    elsewhere = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const foreignUrl = `http://localhost:${(server.address() as AddressInfo).port}/`;

    const foreign = await context.newPage();
    try {
      await page.goto(agent.url);
      await logInInBrowser(page, nurse);
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');
      const session = (await context.cookies(agent.url)).find((cookie) => cookie.name === 'wardwatch_session');
      expect(session).toMatchObject({ domain: 'localhost', sameSite: 'Strict', httpOnly: true });

      // What the browser sends with the foreign page's handshake, and what the agent answers.
      const cdp = await context.newCDPSession(foreign);
      const sentCookies: string[] = [];
      const refusals: string[] = [];
      cdp.on('Network.requestWillBeSentExtraInfo', (event) => {
        for (const { cookie, blockedReasons } of event.associatedCookies) if (blockedReasons.length === 0) sentCookies.push(cookie.name);
      });
      foreign.on('console', (message) => {
        if (/WebSocket/.test(message.text())) refusals.push(message.text());
      });
      await cdp.send('Network.enable');
      await foreign.goto(foreignUrl);
      const seen = await foreign.evaluate('window.feed');
      expect(seen).toEqual(['error', 'close 1006']);
      expect(sentCookies).toContain('wardwatch_session');
      // 403 is the Origin refusal (a missing session is 401): server/http-server.ts.
      await expect.poll(() => refusals.join('\n')).toMatch(/Unexpected response code: 403/);

      // The same browser, the agent's own page: the feed opens and the snapshot comes.
      const own = await page.evaluate(RECORD_FEED(`ws://localhost:${agentPort}/ws`));
      expect(own).toEqual(['open', 'message snapshot', 'close 1005']);
    } catch (error) {
      await failureScreenshot(page, 'wardwatch-e2e-config-origin');
      throw error;
    } finally {
      await foreign.close();
    }
  });
});
