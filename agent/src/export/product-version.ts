import { readFileSync } from 'node:fs';

let cached: string | null = null;

/**
 * Wardwatch's version from package.json, as a CEF header (Device Version) and the syslog
 * `origin` element report it. Read on first use, not on import; "unknown" if unreadable.
 */
export function productVersion(): string {
  if (cached === null) {
    try {
      const parsed = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      cached = typeof parsed.version === 'string' && parsed.version.length > 0 ? parsed.version : 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
