/**
 * TOTP enrolment by QR code, in headless Chromium against a real agent (issue 6, item 3),
 * read the way a phone reads it: the QR element on the page is screenshotted and decoded
 * by a QR reader that shares no code with the encoder (jsQR), and only what the picture
 * holds is used from then on. Its otpauth URI must be the one the agent offered, and a
 * code computed from the secret in the picture must be what completes the enrolment; a
 * code from any other secret is refused. So a QR that drew the wrong text, the wrong
 * secret or an unreadable symbol fails this test. The page's Content-Security-Policy is
 * checked to be the strict one, with no violation reported while the QR is drawn.
 *
 * The account is a wall screen's (`display` role): after the recovery codes its first
 * login opens the wall display by itself, without the toggle and without Acknowledge.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsQRModule from 'jsqr';
import { connectAsync, type MqttClient } from 'mqtt';
import { PNG } from 'pngjs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/src/app.ts';
import { readAuditLines } from '../../agent/src/audit/audit-log.ts';
import { base32Decode, totp } from '../../agent/src/auth/totp.ts';
import { SECURITY_HEADERS } from '../../agent/src/server/http-io.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { addTestUser } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

type RunningAgent = Awaited<ReturnType<typeof startAgent>>;

// jsqr is CommonJS whose module.exports is the function and also carries it as `.default`; under NodeNext the
// default import is module.exports, so `.default` is the function for both the type checker and Node.
const jsQR = jsQRModule.default;

const STATION = { username: 'station-4w', password: 'demo' } as const;

/** Heparin programmed, then far above its hard limit: a critical alert on that pump. */
async function overdose(station: MqttClient, pump: string): Promise<void> {
  const command = (name: string, params: Record<string, string | number>): string => JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: STATION.username, user: 'nurse.qr-e2e', command: name, params });
  await station.publishAsync(`ward/${pump}/command`, command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
  await station.publishAsync(`ward/${pump}/command`, command('set_rate', { rate_ml_h: 320 }), { qos: 1 });
}

/** What a phone's camera would read from the PNG of the QR element, or null when it reads nothing. */
function decodeQr(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  const result = jsQR(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height);
  return result === null ? null : result.data;
}

describe.skipIf(skipBrowserTests())('TOTP enrolment by QR code, and a wall display\'s first login (browser, real agent)', () => {
  let dataDir: string;
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;
  let station: MqttClient | null = null;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-e2e-qr-'));
    agent = await startAgent({ config: loadDemoConfig(), dataDir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, logger: pino({ level: 'silent' }) });
    browser = await launchBrowser();
    station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { ...STATION, clientId: `station-4w-qr-e2e-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
  });

  afterAll(async () => {
    await station?.endAsync(true).catch(() => undefined);
    await browser?.close();
    await agent?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows a QR code of the offered otpauth URI (key beside it), whose decoded secret yields the code that completes the enrolment; then the display opens in wall mode', async () => {
    if (agent === null || browser === null || station === null) throw new Error('setup failed');
    const running = agent;
    const page = browser.page;
    const wall = await addTestUser(dataDir, 'display', { username: 'wall-qr', enrolled: false });
    const cspProblems: string[] = [];
    page.on('console', (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) cspProblems.push(message.text());
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      const response = await page.goto(running.url);
      // The policy is the strict one, not loosened for the QR code.
      expect(response?.headers()['content-security-policy']).toBe(SECURITY_HEADERS['Content-Security-Policy']);
      expect(SECURITY_HEADERS['Content-Security-Policy']).toContain("img-src 'self' data:");
      expect(SECURITY_HEADERS['Content-Security-Policy']).not.toMatch(/unsafe-inline|unsafe-eval|blob:/);

      await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
      await page.locator('#login-username').fill(wall.username);
      await page.locator('#login-password').fill(wall.password);
      await page.locator('#login-submit').click();
      await page.locator('#enrol-form').waitFor({ state: 'visible', timeout: 5_000 });

      // The QR code, as the camera of a phone sees it.
      const qr = page.locator('#enrol-qr svg');
      await qr.waitFor({ state: 'visible', timeout: 5_000 });
      expect(await qr.getAttribute('aria-label')).toMatch(/QR code/);
      const box = await qr.boundingBox();
      expect(box?.width ?? 0).toBeGreaterThanOrEqual(150);
      const scanned = decodeQr(await page.locator('#enrol-qr').screenshot());
      if (scanned === null) throw new Error('the QR code on the enrolment page could not be read');

      // It holds exactly the URI the agent offered (shown as text too), for this user.
      const offeredUri = await page.locator('#enrol-uri').textContent();
      expect(scanned).toBe(offeredUri);
      expect(scanned.startsWith('otpauth://totp/Wardwatch:wall-qr?')).toBe(true);
      const uri = new URL(scanned);
      expect(Object.fromEntries(uri.searchParams)).toMatchObject({ issuer: 'Wardwatch', algorithm: 'SHA1', digits: '6', period: '30' });
      const scannedSecret = uri.searchParams.get('secret') ?? '';
      expect(scannedSecret).toMatch(/^[A-Z2-7]{32}$/);
      // The key beside it, for typing by hand, is the same secret.
      expect(((await page.locator('#enrol-secret').textContent()) ?? '').replace(/\s/g, '')).toBe(scannedSecret);
      expect(await page.locator('#enrol-secret').isVisible()).toBe(true);

      // A code from another secret is refused: the agent checks the code against the secret it offered.
      const otherSecret = base32Decode(scannedSecret);
      otherSecret[0] = (otherSecret[0] ?? 0) ^ 0x01;
      await page.locator('#enrol-code').fill(totp(otherSecret, Date.now()));
      await page.locator('#enrol-submit').click();
      await page.locator('#enrol-error').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#enrol-error').textContent()).toMatch(/That code is not right/);

      // The code from the secret in the picture completes the enrolment.
      await page.locator('#enrol-code').fill(totp(base32Decode(scannedSecret), Date.now()));
      await page.locator('#enrol-submit').click();
      await page.locator('#recovery-view').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#recovery-codes li').count()).toBe(10);
      // The secret is off the page once enrolled.
      expect(await page.locator('#enrol-qr svg').count()).toBe(0);
      expect(await page.locator('#enrol-secret').textContent()).toBe('');
      const audit = readAuditLines(join(dataDir, 'audit.jsonl')).flatMap(({ entry }) => (entry === null ? [] : [[entry.action, entry.details['reason'] ?? entry.details['method'] ?? null]]));
      expect(audit).toEqual([['login-failed', 'enrolment-code-wrong'], ['mfa-enrolled', null], ['login', 'enrolment']]);

      // A display's first login opens the wall display by itself: no toggle, no Acknowledge.
      await page.locator('#recovery-done').click();
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 10_000 });
      await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
      await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link')).toBe('ok');
      expect(await page.locator('body').getAttribute('data-wall')).toBe('true');
      expect(await page.evaluate('getComputedStyle(document.documentElement).fontSize')).toBe('24px');
      expect(new URL(page.url()).searchParams.has('wall')).toBe(true);
      expect(await page.locator('#wall-toggle').isVisible()).toBe(false);
      expect(await page.locator('#user-role').textContent()).toBe('Wall display');
      // A critical alert arrives live; the wall shows it, with no Acknowledge button.
      await overdose(station, 'pump-02');
      await page.locator('#open-alerts [data-alert-id][data-severity="critical"]').filter({ hasText: 'pump-02' }).first().waitFor({ timeout: 10_000 });
      expect(await page.locator('#open-alerts .ack-button').count()).toBeGreaterThan(0);
      expect(await page.locator('.ack-button:visible').count()).toBe(0);
      expect(cspProblems).toEqual([]);
      expect(pageErrors).toEqual([]);
    } catch (error) {
      const screenshot = join(tmpdir(), `wardwatch-e2e-qr-failure-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`enrolment QR e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });
});
