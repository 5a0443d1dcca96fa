/**
 * README's first command as a new user runs it: `wardwatch demo` as a process, its page
 * in headless Chromium, logged in with the demo login it prints (password, and the code
 * `wardwatch demo-code` prints), showing the simulated ward live, and the copy-paste
 * attack the demo prints, run through a shell exactly as printed, turning into a critical
 * alert row; then a library scenario replayed from a second terminal, seen on the same page.
 */
import { exec, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, demoCode } from '../../agent/src/cli/demo-logins.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { fillLogin } from '../helpers/browser-login.ts';
import { missingPeer } from '../helpers/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';

const shell = promisify(exec);
const noMosquittoClients = missingPeer('mosquitto_pub', 'mosquitto-clients');

describe.skipIf(skipBrowserTests() || noMosquittoClients !== null)('wardwatch demo in the browser', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wardwatch-demo-e2e-'));
  const demo = spawn(process.execPath, ['bin/wardwatch.js', 'demo', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dataDir, '--speed', '60', '--seed', '11']);
  let stdout = '';
  demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  let browser: LaunchedBrowser | null = null;

  afterAll(async () => {
    await browser?.close();
    demo.kill('SIGINT');
    await new Promise((resolve) => demo.once('close', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the live ward; the printed mosquitto_pub command and a library scenario run from a second terminal raise critical alerts on the page', async () => {
    const url = await waitFor(() => /Dashboard:\s+(http:\/\/localhost:\d+\/)/.exec(stdout)?.[1], 20_000, 'the demo to print its URL');
    const attack = /^\s+(mosquitto_pub .+)$/m.exec(stdout)?.[1];
    expect(attack).toBeDefined();

    // The demo prints its logins, marked demo-only, and how to get a code.
    expect(stdout).toContain('Dashboard logins — DEMO ONLY');
    expect(stdout).toMatch(/^ {2}demo-nurse\s+nurse\s/m);
    expect(stdout).toContain(`password:  ${DEMO_PASSWORD}`);
    expect(stdout).toContain('npx wardwatch demo-code');
    const { stdout: codeOutput } = await shell(`"${process.execPath}" bin/wardwatch.js demo-code`);
    const printedCode = /^(\d{6}) /.exec(codeOutput)?.[1] ?? '';
    expect([demoCode(Date.now()).code, demoCode(Date.now() - 30_000).code]).toContain(printedCode);

    browser = await launchBrowser();
    const page = browser.page;
    await page.goto(url);
    await fillLogin(page, 'demo-nurse', DEMO_PASSWORD, printedCode);
    await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
    expect(await page.locator('#user-name').textContent()).toBe('demo-nurse');
    // The simulated ward is live: pumps infusing, shown with drug, rate and dose.
    await page.locator('#device-tiles [data-device-id="pump-01"][data-status="running"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#device-tiles [data-device-id="pump-01"]').textContent()).toMatch(/heparin [\d.]+ mL\/h = [\d.]+ units\/kg\/h/);
    expect(await page.locator('#open-alerts [data-alert-id]').count()).toBe(0);

    await shell(attack ?? 'false');
    const row = page.locator('#open-alerts [data-alert-id][data-severity="critical"]').filter({ hasText: 'above the hard limit' }).first();
    await row.waitFor({ timeout: 3_000 });
    expect(await row.textContent()).toContain('Bed 1');
    expect(await row.textContent()).toContain('400 units/kg/h');

    // A tester in a second terminal replays a named attack from the library against the demo.
    const broker = /MQTT broker:\s+(mqtt:\/\/localhost:\d+)/.exec(stdout)?.[1] ?? '';
    const { stdout: scenarioOutput } = await shell(`"${process.execPath}" bin/wardwatch.js sim scenario run pacing-tachy-therapy-off --broker ${broker} --agent ${url} --demo-login`);
    expect(scenarioOutput.trimEnd().split('\n').at(-1)).toBe('PASS');
    const pacingRow = page.locator('#open-alerts [data-alert-id][data-severity="critical"]').filter({ hasText: 'tachy therapy switched OFF' }).first();
    await pacingRow.waitFor({ timeout: 3_000 });
    expect(await pacingRow.textContent()).toContain('prog-01');
  });
});
