/**
 * `wardwatch hub` in headless Chromium (issue 8, many wards): two agents on two simulated
 * wards send their alerts through Debian's mosquitto, and the hub's page, served over
 * HTTPS with its own self-signed certificate and its own users, shows both: a card per
 * ward, every alert marked with its ward, a ward filter, the evidence page, no
 * Acknowledge button on a ward's alerts, the hub's own login-burst alert acknowledged
 * there, and a ward that stops shown offline.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { parseHubConfig } from '../../agent/src/hub/hub-config.ts';
import { startHub, type RunningHub } from '../../agent/src/hub/hub.ts';
import { HUB_ORIGIN } from '../../agent/src/server/dashboard-protocol.ts';
import { startTestAgent } from '../helpers/agent-fixture.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser } from '../helpers/browser-login.ts';
import { addTestUser, agentRequest } from '../helpers/dashboard-client.ts';
import { demoConfigWith } from '../helpers/demo-config.ts';
import { missingMosquitto, startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.ts';
import { spkiSha256 } from '../helpers/tls.ts';

const skip = skipBrowserTests() || missingMosquitto() !== null;

async function overdose(agent: RunningAgent, pump: string, id: string): Promise<void> {
  const station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
  await station.publishAsync(`ward/${pump}/command`, JSON.stringify({ id, ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn', command: 'program_infusion', params: { drug: 'heparin', rate_ml_h: 320, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' } }), { qos: 1 });
  await station.endAsync();
}

/** Rows of the open-alert list that are shown (not filtered out), with the ward each names. */
async function shownOrigins(page: Page): Promise<string[]> {
  return page.locator('#open-alerts > li:not([hidden]) .alert-origin').allTextContents();
}

describe.skipIf(skip)('the hub\'s page over two wards (browser, real agents, mosquitto)', () => {
  let dir: string;
  let mosquitto: RunningMosquitto;
  const agents: RunningAgent[] = [];
  let hub: RunningHub;
  let browser: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wardwatch-e2e-hub-'));
    mosquitto = await startMosquitto();
    for (const ward of ['4W', '5E']) {
      const parsed = parseSiteConfig(demoConfigWith((doc) => {
        doc.site.ward = ward;
        doc.uplink = { url: mosquitto.url, username: mosquitto.username, password: mosquitto.password, clientId: `e2e-${ward}-${process.pid}`, healthIntervalSeconds: 1, reconnectMaxSeconds: 1 };
      }));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
      agents.push(await startTestAgent(join(dir, ward), parsed.config));
    }
    const hubConfig = parseHubConfig(`site: { name: Demo General Hospital }\nbroker: { url: "${mosquitto.url}", username: ${mosquitto.username}, password: "${mosquitto.password}", clientId: e2e-hub-${process.pid}, reconnectMaxSeconds: 1 }\nwards: [4W, 5E]\n`);
    if (!hubConfig.ok) throw new Error(JSON.stringify(hubConfig.issues));
    const hubDir = join(dir, 'hub');
    await mkdir(hubDir);
    const nurse = await addTestUser(hubDir, 'nurse', { username: 'rn-hub' });
    // The hub's dashboard over HTTPS with a certificate it makes itself, as `wardwatch hub` does by default.
    hub = await startHub({ config: hubConfig.config, dataDir: hubDir, httpPort: 0, tls: { mode: 'self-signed', names: [] }, logger: pino({ level: 'silent' }) });
    if (hub.tls === null) throw new Error('the hub has no certificate');
    browser = await launchBrowser({ trustedSpki: [spkiSha256(hub.tls.cert)] });
    page = browser.page;
    await page.goto(`https://localhost:${hub.httpPort}/`);
    await logInInBrowser(page, nurse);
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    for (const agent of agents) await agent.stop();
    await mosquitto?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows a card per ward in place of device tiles, then the alerts of both wards, each with its ward, and no Acknowledge button', async () => {
    await page.locator('#hub-wards').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#ward').isHidden()).toBe(true);
    await page.locator('.hub-ward[data-ward="4W"][data-status="ok"], .hub-ward[data-ward="4W"][data-status="degraded"]').waitFor({ timeout: 15_000 });
    await page.locator('.hub-ward[data-ward="5E"][data-status="ok"], .hub-ward[data-ward="5E"][data-status="degraded"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#ward-name').textContent()).toBe('Hub · 2 wards');

    await overdose(agents[0] as RunningAgent, 'pump-01', `e2e-hub-4w-${process.pid}`);
    await overdose(agents[1] as RunningAgent, 'pump-02', `e2e-hub-5e-${process.pid}`);
    await page.locator('#open-alerts .alert-origin', { hasText: 'Ward 4W' }).first().waitFor({ timeout: 10_000 });
    await page.locator('#open-alerts .alert-origin', { hasText: 'Ward 5E' }).first().waitFor({ timeout: 10_000 });
    expect(await page.locator('#open-alerts .ack-button:visible').count()).toBe(0);
    await page.locator('.hub-ward[data-ward="5E"] .hub-ward-alerts', { hasText: 'critical' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('.hub-ward[data-ward="5E"] .hub-ward-devices').textContent()).toMatch(/of 8 devices online/);
  });

  it('filters the alert list by ward, from the select and from a ward card', async () => {
    await page.locator('#alert-ward-filter').selectOption('5E');
    const only5e = await shownOrigins(page);
    expect(only5e.length).toBeGreaterThan(0);
    expect(new Set(only5e)).toEqual(new Set(['Ward 5E']));
    await page.locator('.hub-ward[data-ward="4W"] button').click();
    expect(await page.locator('#alert-ward-filter').inputValue()).toBe('4W');
    expect(new Set(await shownOrigins(page))).toEqual(new Set(['Ward 4W']));
    expect(await page.locator('.hub-ward[data-ward="4W"]').getAttribute('data-selected')).toBe('true');
    await page.locator('.hub-ward[data-ward="4W"] button').click();
    expect(new Set(await shownOrigins(page))).toEqual(new Set(['Ward 4W', 'Ward 5E']));
  });

  it('opens an alert\'s evidence page, which names the ward it came from', async () => {
    const row = page.locator('#open-alerts > li', { hasText: 'Ward 5E' }).first();
    await row.locator('.alert-details').click();
    await page.locator('#alert-view').waitFor({ state: 'visible' });
    expect(await page.locator('#alert-view [data-field="origin"]').textContent()).toBe('5E');
    expect(await page.locator('#alert-view [data-field="title"]').textContent()).toMatch(/above the hard limit/);
    await page.locator('#alert-view .back-link').click();
    await page.locator('#ward-view').waitFor({ state: 'visible' });
  });

  it('a burst of failed logins at the hub shows as the hub\'s own alert, filterable, and the nurse acknowledges it there (a ward\'s alert has no button)', async () => {
    // Ten failures from one address (any 127.x.y.z on Linux), over the hub's own HTTPS.
    for (let attempt = 0; attempt < 10; attempt += 1) {
      await agentRequest(hub, 'POST', '/api/login', { body: { username: `sprayed-${attempt % 2}`, password: `guess ${attempt}`, code: '000000' }, localAddress: '127.0.0.71' });
    }
    const row = page.locator('#open-alerts > li[data-hub-own="true"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('.alert-origin').textContent()).toBe('Hub');
    expect(await row.locator('.alert-title').textContent()).toMatch(/from 127\.0\.0\.71/);
    expect(await page.locator('#open-alerts > li:not([data-hub-own="true"]) .ack-button:visible').count()).toBe(0);
    await page.locator('#alert-ward-filter').selectOption(HUB_ORIGIN);
    expect(await shownOrigins(page)).toEqual(['Hub']);
    await row.locator('[data-action="ack"]').click();
    const dialog = page.locator('#ack-dialog');
    await dialog.waitFor({ state: 'visible', timeout: 2_000 });
    await page.locator('#ack-form input[name="ack-reason"][value="Investigating"]').check();
    await page.locator('#ack-submit').click();
    await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
    await page.locator('#acknowledged-alerts > li[data-hub-own="true"][data-state="acknowledged"]').waitFor({ state: 'attached', timeout: 5_000 });
    expect(await page.locator('#acknowledged-alerts > li[data-hub-own="true"]').textContent()).toContain('Acknowledged by rn-hub: Investigating');
    await page.locator('#alert-ward-filter').selectOption('');
  });

  it('a ward whose agent stops is shown offline, loudly, while the other stays', async () => {
    await (agents[1] as RunningAgent).stop();
    await page.locator('.hub-ward[data-ward="5E"][data-status="offline"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('.hub-ward[data-ward="5E"] .hub-ward-reasons').textContent()).toMatch(/agent stopped/);
    expect(await page.locator('.hub-ward[data-ward="4W"]').getAttribute('data-status')).not.toBe('offline');
    await page.locator('#monitoring-banner:not([hidden])').waitFor({ timeout: 10_000 });
    expect(await page.locator('#monitoring-banner-detail').textContent()).toMatch(/ward 5E offline/);
  });
});
