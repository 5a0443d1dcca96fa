/**
 * Headless Chromium for the end-to-end tests, driven by playwright-core against the
 * browser Debian installs (`apt-get install chromium`). Playwright never downloads a
 * browser here: the suite must run offline on a Pi or a CI runner as it is.
 *
 * Outside CI a machine without Chromium skips the browser tests with a printed reason;
 * in CI (CI=true) the same absence is a failure, so the dashboard is never silently
 * left untested.
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface LaunchedBrowser {
  readonly context: BrowserContext;
  /** The window the persistent context opens with. */
  readonly page: Page;
  /** Closes the browser and deletes its profile directory. */
  close(): Promise<void>;
}

/** Why the browser tests cannot run on this machine, or null when they can. */
export function browserUnavailableReason(): string | null {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return null;
  } catch {
    return `${CHROMIUM_PATH} not found or not executable (Debian: apt-get install chromium)`;
  }
}

/**
 * True when browser tests should be skipped: Chromium is missing and this is not CI.
 * Prints the reason once, so a skipped suite is visible in the output.
 */
export function skipBrowserTests(): boolean {
  const reason = browserUnavailableReason();
  if (reason === null) return false;
  if (process.env['CI'] === 'true') return false; // launchBrowser() will fail with the reason.
  console.warn(`[browser tests skipped] ${reason}`);
  return true;
}

export interface LaunchOptions {
  /**
   * Base64 SHA-256 hashes of certificate public keys (SPKI) this browser accepts though no
   * CA vouches for them (`--ignore-certificate-errors-spki-list`): a self-signed agent is
   * trusted by its key, and any other certificate is still refused.
   */
  readonly trustedSpki?: readonly string[];
}

/** Starts Chromium with a fresh profile in a temporary directory. */
export async function launchBrowser(options: LaunchOptions = {}): Promise<LaunchedBrowser> {
  const reason = browserUnavailableReason();
  if (reason !== null) throw new Error(`cannot run browser tests: ${reason}`);
  const userDataDir = await mkdtemp(join(tmpdir(), 'wardwatch-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      // The SPKI list only takes effect with --user-data-dir, which a persistent context passes.
      args: options.trustedSpki === undefined ? CHROMIUM_ARGS : [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${options.trustedSpki.join(',')}`],
      viewport: { width: 1600, height: 1000 },
      timeout: 30_000,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  let closed = false;
  return {
    context,
    page,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await context.close();
      } finally {
        await rm(userDataDir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
      }
    },
  };
}
