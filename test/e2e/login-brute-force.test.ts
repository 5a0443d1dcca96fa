/**
 * A brute-force run against the dashboard login, through the real login form in headless
 * Chromium against a real agent (issue 6, "Done when": locked out and alerted; the audit
 * log verifies). Every guess is typed into the page and its answer read off the page.
 *
 * What the guard does (agent/src/auth/login-guard.ts, authenticate.ts): 5 consecutive
 * failures lock the account for 15 minutes (the 5th is still answered "wrong", the lock
 * shows from the next attempt, even with the right password and code); every failed or
 * refused attempt also counts for the source address, and the 10th within 5 minutes
 * raises `dashboard-login-burst` and refuses that address (429), whatever the username,
 * right credentials included. The browser and the agent are both on 127.0.0.1, so after
 * the attack no one can log in from this browser's address: the administrator who reads
 * the alert and the audit log uses a session made before the attack (as one already
 * logged in at the station would), put into the browser as its cookie.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/src/app.ts';
import { readAuditLines, type AuditEntry } from '../../agent/src/audit/audit-log.ts';
import { totp } from '../../agent/src/auth/totp.ts';
import { UserStore } from '../../agent/src/auth/user-store.ts';
import { BAD_CREDENTIALS } from '../../agent/src/server/dashboard-auth.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { launchBrowser, skipBrowserTests, type LaunchedBrowser } from '../helpers/browser.ts';
import { fillLogin } from '../helpers/browser-login.ts';
import { wardwatch } from '../helpers/cli.ts';
import { addTestUser, agentRequest, logIn, type TestUser } from '../helpers/dashboard-client.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

type RunningAgent = Awaited<ReturnType<typeof startAgent>>;

/** Words that would tell a guesser which part was wrong. */
const NAMES_A_FACTOR = /password (is|was) (wrong|right|correct)|code (is|was) (wrong|right|correct)|wrong password|wrong code|unknown user|no such user/i;

interface Answer {
  readonly status: number;
  /** What the login page shows in its error box. */
  readonly message: string;
}

/** Types one attempt into the login form and waits for the agent's answer and the page's message. */
async function attempt(page: Page, username: string, password: string, code: string): Promise<Answer> {
  const [response] = await Promise.all([page.waitForResponse((candidate) => candidate.url().endsWith('/api/login'), { timeout: 15_000 }), fillLogin(page, username, password, code)]);
  // The form is ready again once the page has shown the answer.
  await expect.poll(() => page.locator('#login-submit').isEnabled()).toBe(true);
  const error = page.locator('#login-error');
  await error.waitFor({ state: 'visible', timeout: 5_000 });
  return { status: response.status(), message: ((await error.textContent()) ?? '').trim() };
}

function auditEntries(dataDir: string): AuditEntry[] {
  return readAuditLines(join(dataDir, 'audit.jsonl')).flatMap(({ entry }) => (entry === null ? [] : [entry]));
}

describe.skipIf(skipBrowserTests())('brute force against the login form (browser, real agent)', () => {
  let dataDir: string;
  let agent: RunningAgent | null = null;
  let browser: LaunchedBrowser | null = null;
  let victim: TestUser;
  let admin: TestUser;
  /** The administrator's session, made before the attack. */
  let adminCookie: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wardwatch-e2e-brute-'));
    victim = await addTestUser(dataDir, 'nurse', { username: 'rn-target' });
    admin = await addTestUser(dataDir, 'admin', { username: 'admin-on-duty' });
    agent = await startAgent({ config: loadDemoConfig(), dataDir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, logger: pino({ level: 'silent' }) });
    adminCookie = await logIn(agent, admin);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('locks the account with a plain "locked, try again in 15 minutes" that names no factor, raises dashboard-login-burst for the address, shows it to the admin with the audit trail, and the audit log verifies', async () => {
    if (agent === null || browser === null) throw new Error('setup failed');
    const running = agent;
    const page = browser.page;
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const burstAlerts = async (): Promise<AlertView[]> => {
      const answer = await agentRequest(running, 'GET', '/api/alerts', { cookie: adminCookie });
      expect(answer.status).toBe(200);
      return answer.json<AlertView[]>().filter((alert) => alert.type === 'dashboard-login-burst');
    };
    try {
      await page.goto(running.url);
      await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });

      // 1–5: one account, every way of being wrong; the page says the same each time.
      // No attempt here reaches a code check that would spend the step, so the code of the moment can be typed again.
      const rightCode = (user: TestUser): string => totp(user.secret as Buffer, Date.now());
      const wrongCode = (): string => String((Number(rightCode(victim)) + 500_000) % 1_000_000).padStart(6, '0');
      const guesses: Answer[] = [];
      guesses.push(await attempt(page, victim.username, 'summer2026!!', '000000')); // both wrong
      guesses.push(await attempt(page, victim.username, victim.password, wrongCode())); // right password, wrong code
      guesses.push(await attempt(page, victim.username, 'winter2026!!', rightCode(victim))); // wrong password, right code
      guesses.push(await attempt(page, victim.username, victim.password, '')); // right password, no code
      guesses.push(await attempt(page, victim.username, 'spring2026!!', '123456'));
      expect(guesses.map((guess) => guess.status)).toEqual([401, 401, 401, 401, 401]);
      expect(new Set(guesses.map((guess) => guess.message))).toEqual(new Set([BAD_CREDENTIALS]));
      const users = UserStore.forDataDir(dataDir);
      expect(users.get(victim.username)?.lockedUntil).toBeGreaterThan(Date.now() + 14 * 60_000);
      users.close();

      // 6: locked, even for the right password and code, in plain words: locked, and when to try again.
      const locked = await attempt(page, victim.username, victim.password, rightCode(victim));
      expect(locked.status).toBe(423);
      expect(locked.message).toBe('Too many failed logins: this account is locked. Try again in 15 minutes, or ask an administrator to unlock it.');
      for (const message of [...guesses.map((guess) => guess.message), locked.message]) expect(message).not.toMatch(NAMES_A_FACTOR);
      expect(locked.message).not.toMatch(/password|code/i);
      expect(await burstAlerts()).toEqual([]);

      // 7–10: the same address sprays other usernames; the 10th failure within 5 minutes is the burst.
      const sprayed = ['admin', 'root', 'biomed', 'rn-patel'];
      for (const [index, username] of sprayed.entries()) {
        const answer = await attempt(page, username, `guess number ${index}`, '000000');
        expect(answer).toEqual({ status: 401, message: BAD_CREDENTIALS });
        if (index < sprayed.length - 1) expect(await burstAlerts()).toEqual([]);
      }
      const [burst] = await burstAlerts();
      expect(burst).toMatchObject({ severity: 'high', state: 'open', deviceId: null, evidence: { address: '127.0.0.1', failures: 10 } });
      expect(new Set(burst?.evidence['usernames'] as string[])).toEqual(new Set([victim.username, ...sprayed]));

      // 11: from this address even the administrator's right password and code are refused now.
      const refused = await attempt(page, admin.username, admin.password, rightCode(admin));
      expect(refused.status).toBe(429);
      expect(refused.message).toMatch(/^Too many failed logins from this address: try again in [1-5] minutes?\.$/);
      expect(refused.message).not.toMatch(NAMES_A_FACTOR);

      // The administrator, logged in before the attack: the alert on the ward's list…
      const [name, value] = adminCookie.split('=') as [string, string];
      await browser.context.addCookies([{ name, value, url: running.url }]);
      await page.goto(running.url);
      await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('#user-name').textContent()).toBe(admin.username);
      const row = page.locator(`#open-alerts [data-alert-id=${JSON.stringify(burst?.id)}]`);
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await row.textContent()).toContain('Dashboard login: 10 failed or refused logins from 127.0.0.1 within 5 min');
      expect(await row.getAttribute('data-severity')).toBe('high');

      // …and the attack in the audit log page: every attempt that reached the checks, the burst marked, the chain intact.
      await page.locator('#admin-nav a[href="#audit"]').click();
      await page.locator('#admin-view .admin-table').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await page.locator('#admin-view .chain-state').textContent()).toBe('✔ Hash chain intact');
      const burstRow = page.locator('#admin-view .admin-table tbody tr').filter({ hasText: '"burst":true' });
      expect(await burstRow.count()).toBe(1);
      expect(await burstRow.textContent()).toContain('login-failed');
      expect(await burstRow.textContent()).toContain('127.0.0.1');

      const failed = auditEntries(dataDir).filter((entry) => entry.action === 'login-failed' && entry.from === '127.0.0.1');
      // Ten entries: the five failures (the log, which only admins read, does say which factor), the locked refusal, the four sprayed names.
      expect(failed.map((entry) => entry.actor)).toEqual([...Array(6).fill(victim.username), ...sprayed]);
      expect(failed.slice(0, 5).map((entry) => entry.details['factor'])).toEqual(['password', 'second-factor', 'password', 'second-factor', 'password']);
      expect(failed[5]?.details).toEqual({ reason: 'locked' });
      expect(failed.map((entry) => entry.details['burst'] === true)).toEqual([...Array(9).fill(false), true]);
      expect(auditEntries(dataDir).filter((entry) => entry.action === 'login').map((entry) => entry.actor)).toEqual([admin.username]);

      // The whole log verifies, as an administrator checks it on the agent's machine.
      const verify = await wardwatch('audit', 'verify', '-d', dataDir);
      expect(verify.stderr).toBe('');
      expect(verify.code).toBe(0);
      expect(verify.stdout).toMatch(/: \d+ entries, chain intact\n$/);
      expect(pageErrors).toEqual([]);
    } catch (error) {
      const screenshot = join(tmpdir(), `wardwatch-e2e-brute-force-failure-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true }).then(
        () => console.error(`brute-force e2e failed; screenshot: ${screenshot}`),
        () => undefined,
      );
      throw error;
    }
  });
});
