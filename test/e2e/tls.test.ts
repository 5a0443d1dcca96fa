/**
 * The dashboard over HTTPS in a real browser (issue 6, item 4): `wardwatch demo --tls`
 * makes a self-signed certificate and prints its fingerprint and a mosquitto_pub command
 * over mqtts with `--cafile`. Chromium is told to trust that one key (its SPKI hash, not
 * "ignore certificate errors"): the page loads over https, the live feed runs over wss,
 * the printed command raises a critical alert on the page, and the acknowledgement (a
 * same-origin POST) goes through. The demo login works over https, with a Secure cookie.
 * A browser that was not told refuses the certificate.
 */
import { exec, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, demoCode } from '../../agent/src/cli/demo-logins.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { fillLogin } from '../helpers/browser-login.ts';
import { missingPeer } from '../helpers/peers.ts';
import { spkiSha256 } from '../helpers/tls.ts';
import { waitFor } from '../helpers/wait-for.ts';

const shell = promisify(exec);
const noPeers = missingPeer('mosquitto_pub', 'mosquitto-clients') !== null || missingPeer('openssl', 'openssl') !== null;

describe.skipIf(skipBrowserTests() || noPeers)('wardwatch demo --tls in the browser', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wardwatch-tls-e2e-'));
  const demo = spawn(process.execPath, ['bin/wardwatch.js', 'demo', '--tls', '--mqtt-port', '0', '--mqtts-port', '0', '--http-port', '0', '--data-dir', dataDir, '--speed', '60', '--seed', '12']);
  let stdout = '';
  demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const browsers: LaunchedBrowser[] = [];

  afterAll(async () => {
    await Promise.all(browsers.map((browser) => browser.close()));
    demo.kill('SIGINT');
    await new Promise((resolve) => demo.once('close', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads over https with the printed certificate trusted by its key, live over wss; the printed mqtts command raises an alert that is acknowledged; an untold browser refuses', async () => {
    const url = await waitFor(() => /Dashboard:\s+(https:\/\/localhost:\d+\/)/.exec(stdout)?.[1], 20_000, 'the demo to print its https URL');
    await waitFor(() => /Ctrl-C stops/.test(stdout), 5_000, 'the whole banner');
    const certFile = /TLS certificate: (\S+) \(self-signed, generated now: none in the data directory yet\)/.exec(stdout)?.[1] ?? '';
    expect(certFile).toBe(join(dataDir, 'tls', 'cert.pem'));
    const cert = readFileSync(certFile);
    // The fingerprint printed is the certificate's, as a browser's certificate viewer shows it.
    expect(stdout).toContain(`SHA-256 fingerprint: ${new X509Certificate(cert).fingerprint256}`);
    const attack = /^\s+(mosquitto_pub .+)$/m.exec(stdout)?.[1] ?? '';
    expect(attack).toMatch(/^mosquitto_pub -h localhost -p \d+ --cafile \S+cert\.pem -u station-4w /);
    expect(stdout).toMatch(/MQTT broker:\s+mqtt:\/\/localhost:\d+, mqtts:\/\/localhost:\d+/);

    // A browser told nothing: the self-signed certificate is refused.
    const untold = await launchBrowser();
    browsers.push(untold);
    await expect(untold.page.goto(url)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);

    const browser = await launchBrowser({ trustedSpki: [spkiSha256(cert)] });
    browsers.push(browser);
    const page = browser.page;
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    expect(await page.evaluate('[location.protocol, window.isSecureContext]')).toEqual(['https:', true]);
    // The certificate Chromium was shown is the agent's (its validity, from the TLS handshake).
    const security = await response?.securityDetails();
    expect(security?.subjectName).toBe(new X509Certificate(cert).subject.match(/CN=(.+)/)?.[1]);
    expect(security?.protocol).toMatch(/^TLS 1\.[23]$/);
    // The demo login over https: the session cookie is Secure, HttpOnly and SameSite=Strict.
    await fillLogin(page, 'demo-nurse', DEMO_PASSWORD, demoCode(Date.now()).code);
    await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 10_000 });
    const cookie = (await browser.context.cookies()).find((candidate) => candidate.name === 'wardwatch_session');
    expect(cookie).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });
    await page.locator('#device-tiles [data-device-id]').nth(7).waitFor({ timeout: 10_000 });
    await page.locator('#device-tiles [data-device-id="pump-01"][data-status="running"]').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('#link-indicator').getAttribute('data-link'), { timeout: 5_000 }).toBe('ok');

    await shell(attack);
    const row = page.locator('#open-alerts [data-alert-id][data-severity="critical"]').filter({ hasText: 'above the hard limit' }).first();
    await row.waitFor({ timeout: 5_000 });
    expect(await row.textContent()).toContain('Bed 1');

    // Acknowledging is a same-origin POST over https: the origin check holds under TLS.
    const alertId = await row.getAttribute('data-alert-id');
    const rowSelector = `[data-alert-id=${JSON.stringify(alertId)}]`;
    await page.locator(`#open-alerts ${rowSelector} [data-action="ack"]`).click();
    await page.locator('#ack-dialog').waitFor({ state: 'visible', timeout: 2_000 });
    await page.locator('#ack-form input[name="ack-reason"][value="Investigating"]').check();
    await page.locator('#ack-submit').click();
    await page.locator(`#acknowledged-alerts ${rowSelector}[data-state="acknowledged"]`).waitFor({ state: 'attached', timeout: 5_000 });
    expect(await page.locator(`#acknowledged-alerts ${rowSelector}`).textContent()).toContain('Acknowledged by demo-nurse: Investigating');
  });
});
