/**
 * Logging in through the dashboard's own form in the browser, as a person does: username,
 * password, the code of the moment from the real TOTP functions. The page reloads into
 * the ward once the agent accepts.
 */
import type { Page } from 'playwright-core';
import { nextCode, type TestUser } from './dashboard-client.ts';

export async function fillLogin(page: Page, username: string, password: string, code: string): Promise<void> {
  await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
  await page.locator('#login-username').fill(username);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-code').fill(code);
  await page.locator('#login-submit').click();
}

/** Logs `user` in at the page already open; resolves when the ward is shown. */
export async function logInInBrowser(page: Page, user: TestUser): Promise<void> {
  await fillLogin(page, user.username, user.password, await nextCode(user));
  await page.locator('#ward-view').waitFor({ state: 'visible', timeout: 10_000 });
}

/**
 * Logs out with the header's button; resolves once the page has reloaded to the login form.
 * The closed feed may show the login form before the reload that main.ts starts after the
 * logout request (postLogout().finally(reload)), so waiting for the form alone lets the
 * next navigation race that reload ("interrupted by another navigation").
 */
export async function logOutInBrowser(page: Page): Promise<void> {
  const reloaded = page.waitForEvent('load', { timeout: 10_000 });
  await page.locator('#logout-button').click();
  await reloaded;
  await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
}
