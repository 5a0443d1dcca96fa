import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const IN_CI = process.env.CI === 'true';

export function findExecutable(name: string): string | null {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/**
 * Real peers are preferred over mocks. On a laptop without the peer the suite skips with
 * a printed reason; in CI (CI=true) a missing peer is a failure, so it cannot go unseen.
 */
export function missingPeer(name: string, debianPackage: string): string | null {
  if (findExecutable(name) !== null) return null;
  const reason = `${name} not found (apt-get install ${debianPackage})`;
  if (IN_CI) throw new Error(`CI=true and a required peer is missing: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return reason;
}
