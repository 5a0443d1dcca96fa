/**
 * Screenshots of the dashboard for the docs (`npm run screenshots`): the real agent with the
 * demo config, the simulated ward on its embedded broker (as test/integration/demo-ward-mqtt
 * runs it), a station's heparin overdose on pump-01 (critical) and a heparin dose above the
 * soft limit on pump-02 (warning), sent over MQTT as station-4w exactly as the e2e tests do,
 * and a nurse logged in through the login form in Debian's Chromium (playwright-core, no
 * browser download). Writes docs/screenshots/{nurse-view,alert-evidence,wall-display}.png,
 * then docs/screenshots/device-page.png from an agent fed a day of the ward in virtual time
 * (device-page-screenshot.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { startAgent } from '../../agent/src/app.ts';
import { configForAcceleratedWard } from '../../agent/src/config/accelerated-ward.ts';
import { startFleet } from '../../simulators/src/fleet.ts';
import type { Ward } from '../../simulators/src/ward.ts';
import { launchBrowser, type LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser } from '../helpers/browser-login.ts';
import { addTestUser } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { takeDevicePageScreenshot } from './device-page-screenshot.ts';

type RunningAgent = Awaited<ReturnType<typeof startAgent>>;

const OUT_DIR = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const STATION = { username: 'station-4w', password: 'demo' } as const;
/** Sim seconds per real second: the ward's pumps start infusing within a few seconds. */
const SPEED = 60;
const SEED = 11;
const WARD_RUNS_MS = 5_000;

function command(name: string, params: Record<string, string | number | boolean>): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), issuer: STATION.username, user: 'nurse.demo', command: name, params });
}

async function alertRow(page: Page, pump: string, severity: 'critical' | 'warning'): Promise<string> {
  const row = page.locator(`#open-alerts [data-alert-id][data-severity="${severity}"]`).filter({ hasText: pump }).first();
  await row.waitFor({ timeout: 10_000 });
  const id = await row.getAttribute('data-alert-id');
  if (id === null) throw new Error('alert row without an id');
  return id;
}

async function waitForLiveWard(page: Page): Promise<void> {
  await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
  await page.locator('#link-indicator[data-link="ok"]').waitFor({ timeout: 10_000 });
}

async function main(): Promise<void> {
  await mkdir(OUT_DIR, { recursive: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-screenshots-'));
  let agent: RunningAgent | null = null;
  let ward: Ward | null = null;
  let station: MqttClient | null = null;
  let browser: LaunchedBrowser | null = null;
  try {
    const nurse = await addTestUser(dataDir, 'nurse', { username: 'rn-demo' });
    agent = await startAgent({
      config: configForAcceleratedWard(loadDemoConfig(), SPEED),
      dataDir,
      mqttHost: '127.0.0.1',
      mqttPort: 0,
      httpHost: '127.0.0.1',
      httpPort: 0,
      logger: pino({ level: process.env['WARDWATCH_TEST_LOG'] ?? 'silent' }),
    });
    const brokerUrl = `mqtt://127.0.0.1:${agent.mqttPort}`;
    ward = await startFleet({ brokerUrl, config: loadDemoConfig(), speed: SPEED, seed: SEED });
    await new Promise((resolve) => setTimeout(resolve, WARD_RUNS_MS));

    browser = await launchBrowser();
    const page = browser.page;
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.setViewportSize({ width: 1600, height: 900 });
    await page.goto(agent.url);
    await logInInBrowser(page, nurse);
    await waitForLiveWard(page);
    await page.locator('#device-tiles [data-device-id="pump-01"][data-status="running"]').waitFor({ timeout: 15_000 });

    station = await connectAsync(brokerUrl, { ...STATION, clientId: `station-4w-screenshots-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
    // Critical: heparin programmed, then ten times the hard limit (400 units/kg/h on 80 kg).
    await station.publishAsync('ward/pump-01/command', command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    await station.publishAsync('ward/pump-01/command', command('set_rate', { rate_ml_h: 320 }), { qos: 1 });
    // Warning: heparin at 30 units/kg/h in ICU (soft max 25, hard max 40).
    await station.publishAsync('ward/pump-02/command', command('program_infusion', { drug: 'heparin', rate_ml_h: 24, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    const critical = await alertRow(page, 'pump-01', 'critical');
    await alertRow(page, 'pump-02', 'warning');
    await page.waitForTimeout(1_000);

    const nurseView = join(OUT_DIR, 'nurse-view.png');
    await page.screenshot({ path: nurseView });
    console.log(`wrote ${nurseView}`);

    await page.locator(`#open-alerts [data-alert-id=${JSON.stringify(critical)}] .alert-details`).click();
    await page.locator('#alert-view').waitFor({ state: 'visible', timeout: 5_000 });
    await page.waitForTimeout(500);
    const evidence = join(OUT_DIR, 'alert-evidence.png');
    await page.screenshot({ path: evidence });
    console.log(`wrote ${evidence} (#alert/${critical})`);

    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto(`${agent.url}?wall`);
    await waitForLiveWard(page);
    await page.locator('body[data-wall="true"]').waitFor({ timeout: 5_000 });
    await page.waitForTimeout(1_000);
    const wall = join(OUT_DIR, 'wall-display.png');
    await page.screenshot({ path: wall });
    console.log(`wrote ${wall}`);

    await takeDevicePageScreenshot(browser, join(OUT_DIR, 'device-page.png'));

    if (pageErrors.length > 0) console.warn(`page errors while taking screenshots:\n  ${pageErrors.join('\n  ')}`);
  } finally {
    await station?.endAsync(true).catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await ward?.stop().catch(() => undefined);
    await agent?.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
