/**
 * The device page's screenshot (docs/screenshots/device-page.png): a day of history needs a
 * day of event time, so a fresh agent is fed 26 hours of the simulated demo ward in virtual
 * time, ending now, through its own pipeline (the in-process broker of the evaluations:
 * agent/src/evaluation/in-process-broker.ts), as a capture replayed into it would be. The
 * baseline learns the first 24 h and judges after, so the learned envelope is drawn. Forty
 * minutes before the end the station raises pump-01's heparin above the ICU soft limit
 * (30 units/kg/h; soft max 25, hard max 40): a warning alert, and a step on the chart.
 * Then a nurse logs in through the form and opens pump-01 from its tile on the ward.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startAgent } from '../../agent/src/app.ts';
import { wardAddress } from '../../agent/src/evaluation/evaluate-scenario.ts';
import { InProcessBroker } from '../../agent/src/evaluation/in-process-broker.ts';
import { advanceWithPromises } from '../../agent/src/evaluation/virtual-time.ts';
import { MqttAccountVerifier } from '../../agent/src/ingest/mqtt-account-verifier.ts';
import { VirtualClock } from '../../simulators/src/clock.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { startWard, type Ward } from '../../simulators/src/ward.ts';
import type { LaunchedBrowser } from '../helpers/browser.ts';
import { logInInBrowser } from '../helpers/browser-login.ts';
import { addTestUser } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const SEED = 11;
const PUMP = 'pump-01';

/** `shown`: the device whose page is taken (pump-01 for the docs; another to look at its page). */
export async function takeDevicePageScreenshot(browser: LaunchedBrowser, file: string, shown = PUMP): Promise<void> {
  const config = loadDemoConfig();
  const dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-screenshots-device-'));
  let agent: Awaited<ReturnType<typeof startAgent>> | null = null;
  let ward: Ward | null = null;
  try {
    const nurse = await addTestUser(dataDir, 'nurse', { username: 'rn-demo' });
    agent = await startAgent({ config, dataDir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, logger: pino({ level: process.env['WARDWATCH_TEST_LOG'] ?? 'silent' }) });
    const running = agent;
    const end = Date.now();
    const clock = new VirtualClock(end - 26 * HOUR);
    const broker = new InProcessBroker(new MemoryBus(), new MqttAccountVerifier(config.mqtt.accounts), (observation) => running.pipeline.ingest(observation), clock);
    const deviceIndex = new Map(config.devices.map((device, index) => [device.id, index]));
    ward = await startWard({ config, clock, linkFactory: broker.linkFactory((identity) => wardAddress(identity, deviceIndex)), seed: SEED, longStay: true });
    await advanceWithPromises(clock, end - 40 * MINUTE);
    const station = await broker.linkFactory(() => '10.4.0.10')({ clientId: `station-4w-screenshots-${process.pid}`, username: 'station-4w', password: 'demo' });
    // The running heparin titrated to 24 mL/h: for 80 kg of 100 units/mL, 30 units/kg/h, above the soft limit of 25.
    station.publish(`ward/${PUMP}/command`, JSON.stringify({ id: randomUUID(), ts: new Date(clock.now()).toISOString(), issuer: 'station-4w', user: 'nurse.demo', command: 'set_rate', params: { rate_ml_h: 24 } }), { qos: 1 });
    await advanceWithPromises(clock, Date.now());

    const page = browser.page;
    await page.setViewportSize({ width: 1600, height: 1500 });
    await page.goto(running.url);
    await logInInBrowser(page, nurse);
    await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
    await page.locator(`#device-tiles [data-device-id="${shown}"] .tile-link`).click();
    await page.locator('#device-view .chart-card canvas').first().waitFor({ timeout: 10_000 });
    await page.mouse.move(5, 5);
    await page.waitForTimeout(800);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`wrote ${file} (#device/${shown})`);
  } finally {
    // The ward is not stopped in virtual time: its devices would go offline before the picture.
    await ward?.stop().catch(() => undefined);
    await agent?.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}
