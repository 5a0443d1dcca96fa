import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IN_CI } from './peers.ts';

/** ../shared/fixtures from the project root: captures and vectors written by others (SOURCES.md). */
export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const FIXTURES_AVAILABLE = existsSync(join(FIXTURES, 'expected-tshark.json'));

/**
 * True when tests that read the shared fixtures must skip. Outside CI a missing folder
 * skips with a printed reason; in CI it registers a failing test, so that it cannot go
 * unseen (the fixtures' own README asks for exactly this).
 */
export function skipWithoutFixtures(what: string): boolean {
  if (FIXTURES_AVAILABLE) return false;
  const reason = `the shared fixtures are not at ${FIXTURES} (see the project README)`;
  if (IN_CI) {
    describe('shared fixtures', () => {
      it(`are present in CI (${what})`, () => {
        expect(FIXTURES_AVAILABLE, reason).toBe(true);
      });
    });
  } else {
    console.warn(`skipping ${what}: ${reason}`);
  }
  return true;
}
