import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from './process-alive.ts';

/**
 * `agent.pid` in the data directory while an agent runs there. It keeps two agents off
 * one store, and lets the offline commands (`baseline import`, `accept`, `freeze`) refuse
 * to edit a baseline that a running agent would overwrite at its next save.
 */

export const LOCK_FILE = 'agent.pid';


/** The pid of a live agent using `dataDir`, or null (no lock, or a stale one from a crash). */
export async function runningAgentPid(dataDir: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, LOCK_FILE), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid) ? pid : null;
}

export class DataDirLockedError extends Error {
  readonly code = 'DATA_DIR_LOCKED';

  constructor(dataDir: string, pid: number) {
    super(`another Wardwatch agent (pid ${pid}) is using the data directory ${dataDir}; stop it first, or give another --data-dir`);
  }
}

/** Takes the lock (a stale one is taken over); returns its release. */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const holder = await runningAgentPid(dataDir);
  if (holder !== null) throw new DataDirLockedError(dataDir, holder);
  const path = join(dataDir, LOCK_FILE);
  await writeFile(path, `${process.pid}\n`, { mode: 0o644 });
  return async () => {
    await unlink(path).catch(() => undefined);
  };
}
