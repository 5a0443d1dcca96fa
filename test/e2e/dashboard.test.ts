/**
 * The nurse screen end to end: a real agent (embedded broker and dashboard server on
 * port 0), headless Chromium, and a station publishing with mqtt.js. Proves the path a
 * nurse depends on: the login with password and TOTP code, tiles for the ward, a
 * dangerous command turning into a critical alert row within seconds, acknowledging it
 * through the dialog as the logged-in nurse, the acknowledgement surviving a reload, no
 * way into the configuration for a nurse, and the loud offline banner when the agent goes
 * away. Then, in a second agent, a biomed's first login: enrolment of the authenticator,
 * the recovery codes, the baseline page a nurse cannot open; and logout ending the feed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/src/app.ts';
import { readAuditLines } from '../../agent/src/audit/audit-log.ts';
import { base32Decode, totp } from '../../agent/src/auth/totp.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser, logOutInBrowser } from '../helpers/browser-login.ts';
import { addTestUser, type TestUser } from '../helpers/dashboard-client.ts';

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
  let nurse: TestUser;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-e2e-'));
    nurse = await addTestUser(dataDir, 'nurse', { username: 'rn-test' });
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

  it('logs in with password and TOTP, shows the ward, raises a critical alert, acknowledges it as the nurse, keeps the nurse out of the configuration, and goes loudly offline', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const running = agent;
    const page = browser.page;
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });

    try {
      // Nobody is logged in: the login form, and nothing of the ward.
      await page.goto(running.url);
      await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('#ward-view').isVisible()).toBe(false);
      // A wrong code is refused with the one generic message.
      await page.locator('#login-username').fill(nurse.username);
      await page.locator('#login-password').fill(nurse.password);
      await page.locator('#login-code').fill('000000');
      await page.locator('#login-submit').click();
      await page.locator('#login-error').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#login-error').textContent()).toBe('Wrong username, password or code.');
      await logInInBrowser(page, nurse);
      expect(await page.locator('#user-name').textContent()).toBe('rn-test');
      expect(await page.locator('#user-role').textContent()).toBe('Nurse');
      // A nurse sees no engineering or admin link.
      expect(await page.locator('#admin-nav').isVisible()).toBe(false);
      expect(await page.locator('#admin-nav a:visible').count()).toBe(0);

      // The ward: 6 pumps and 2 programmers, one tile each.
      await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
      expect(await page.locator('#device-tiles [data-device-id]').count()).toBe(8);
      expect(await page.locator('#device-tiles [data-profile="infusion-pump"]').count()).toBe(6);
      expect(await page.locator('#device-tiles [data-profile="pacemaker-programmer"]').count()).toBe(2);
      // Sorted by bed: Bed 1 first, the EP clinic programmers (location only) last.
      expect(await page.locator('#device-tiles [data-device-id]').first().getAttribute('data-device-id')).toBe('pump-01');
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).not.toBe('connecting');
      expect(await page.locator('#monitoring-banner').textContent()).not.toContain('OFFLINE');
      // The learned baseline's progress, for the engineer: a fresh agent is learning (issue 5).
      expect(await page.locator('#baseline-status').textContent()).toMatch(/^Learned baseline: learning, 0 h of 24 h done; no learned alerts yet$/);

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
      expect(await page.locator('#ack-as').textContent()).toBe('Acknowledging as rn-test');
      await page.locator('#ack-form input[name="ack-reason"][value="Investigating"]').check();
      await page.locator('#ack-submit').click();
      await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
      const acknowledgedRow = page.locator(`#acknowledged-alerts ${rowSelector}`);
      await acknowledgedRow.waitFor({ state: 'attached', timeout: 5_000 });
      expect(await acknowledgedRow.getAttribute('data-state')).toBe('acknowledged');
      expect(await acknowledgedRow.textContent()).toContain('Acknowledged by rn-test: Investigating');
      expect(await page.locator(`#open-alerts ${rowSelector}`).count()).toBe(0);

      // After a reload the session holds (the cookie) and the acknowledgement comes back from the agent.
      await page.reload();
      await page.locator(`#acknowledged-alerts ${rowSelector}[data-state="acknowledged"]`).waitFor({ state: 'attached', timeout: 10_000 });
      expect(await page.locator(`#open-alerts ${rowSelector}`).count()).toBe(0);
      expect(await page.locator(`#acknowledged-alerts ${rowSelector}`).textContent()).toContain('Acknowledged by rn-test: Investigating');
      // The audit log has it: who, when, from where.
      const audit = readAuditLines(join(dataDir, 'audit.jsonl')).flatMap((line) => (line.entry === null ? [] : [line.entry]));
      expect(audit.find((entry) => entry.action === 'alert-acknowledged')).toMatchObject({ actor: 'rn-test', from: '127.0.0.1', details: { alertId, reason: 'Investigating' } });

      // The configuration is not the nurse's: the address typed by hand shows the agent's refusal.
      await page.goto(`${running.url}#users`);
      await page.locator('#admin-error').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#admin-error').textContent()).toMatch(/^Not for your role: the nurse role may not/);
      expect(await page.locator('.admin-table').count()).toBe(0);
      await page.goto(`${running.url}#`);
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 5_000 });
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');

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

describe.skipIf(skipBrowserTests())('dashboard accounts (browser, real agent)', () => {
  let dataDir: string;
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-e2e-accounts-'));
    agent = await startAgent({ config: loadDemoConfig(), dataDir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, logger: pino({ level: 'silent' }) });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a biomed\'s first login enrols the authenticator, shows the recovery codes once, opens the baseline page but not the users; logout returns to the login form, and a feed without a session is refused', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const running = agent;
    const page = browser.page;
    const biomed = await addTestUser(dataDir, 'biomed', { username: 'be-first', enrolled: false });
    try {
      await page.goto(running.url);
      await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
      await page.locator('#login-username').fill(biomed.username);
      await page.locator('#login-password').fill(biomed.password);
      await page.locator('#login-submit').click();
      // The enrolment step: the key as text (and the otpauth URI), typed into an app; here, into the real TOTP functions.
      await page.locator('#enrol-form').waitFor({ state: 'visible', timeout: 5_000 });
      const key = ((await page.locator('#enrol-secret').textContent()) ?? '').replace(/\s/g, '');
      expect(key).toMatch(/^[A-Z2-7]{32}$/);
      expect(await page.locator('#enrol-uri').textContent()).toContain(`otpauth://totp/Wardwatch:be-first?secret=${key}`);
      await page.locator('#enrol-code').fill(totp(base32Decode(key), Date.now()));
      await page.locator('#enrol-submit').click();
      await page.locator('#recovery-view').waitFor({ state: 'visible', timeout: 5_000 });
      const codes = await page.locator('#recovery-codes li').allTextContents();
      expect(codes).toHaveLength(10);
      for (const code of codes) expect(code).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
      await page.locator('#recovery-done').click();
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 10_000 });
      await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
      expect(await page.locator('#user-role').textContent()).toBe('Biomedical engineer');
      // The codes are not on the page any more.
      expect(await page.locator('#recovery-codes li').count()).toBe(0);

      // The biomed's links: the baseline and the configuration, not the users or the audit log.
      expect(await page.locator('#admin-nav a:visible').allTextContents()).toEqual(['Baseline', 'Configuration']);
      await page.locator('#admin-nav a[href="#baseline"]').click();
      await page.locator('#admin-view .admin-table').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#admin-heading').textContent()).toBe('Learned baseline');
      expect(await page.locator('#admin-view .admin-table tbody tr').count()).toBe(8);
      await page.goto(`${running.url}#users`);
      await page.locator('#admin-error').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#admin-error').textContent()).toMatch(/the biomed role may not/);
      await page.goto(`${running.url}#`);
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 5_000 });
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');

      // Logout: the login form is back, nothing of the ward, and the session's feed is closed.
      await logOutInBrowser(page);
      expect(await page.locator('#ward-view').isVisible()).toBe(false);
      // (Expression strings: the test compiles without the DOM lib.) A feed opened from this page now, without a session, never opens.
      const outcome = await page.evaluate(`new Promise((resolve) => {
        const socket = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
        socket.onopen = () => resolve('open');
        socket.onclose = (event) => resolve('closed ' + event.code);
      })`);
      expect(outcome).toBe('closed 1006');
      const audit = readAuditLines(join(dataDir, 'audit.jsonl')).flatMap((line) => (line.entry === null ? [] : [line.entry.action]));
      expect(audit).toEqual(['mfa-enrolled', 'login', 'logout']);
    } catch (error) {
      const screenshot = join(tmpdir(), `wardwatch-e2e-accounts-failure-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`accounts e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });
});
