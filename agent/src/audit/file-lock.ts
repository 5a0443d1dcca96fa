import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { processAlive } from '../store/process-alive.ts';

/**
 * A cross-process lock file for the few writes that must not interleave: the audit log
 * is appended by the agent (logins, acknowledgements) and by `wardwatch users …` at the
 * same time, and each append reads the last entry to chain to it. Created with O_EXCL
 * ('wx'); holds the owner's pid, so that a lock left by a crashed process is recognised and
 * broken. Synchronous, as the appends it guards: they are rare (people's actions), and an
 * entry must be on disk before the action it records returns.
 */

export class FileLockTimeoutError extends Error {
  readonly code = 'FILE_LOCK_TIMEOUT';

  constructor(file: string, timeoutMs: number) {
    super(`${file} stayed locked for ${timeoutMs} ms; if no Wardwatch process is writing, delete it`);
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}


/** A lock whose owner is gone. Our own pid is stale too: the lock is not re-entrant, so we cannot be holding it. */
function stale(file: string): boolean {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) return pid === process.pid || !processAlive(pid);
    // Empty: the owner died between creating and writing it, or is writing it right now.
    return Date.now() - statSync(file).mtimeMs > 10_000;
  } catch {
    return false;
  }
}

export function withFileLock<T>(file: string, action: () => T, timeoutMs = 5_000): T {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (stale(file)) {
        try {
          unlinkSync(file);
        } catch {
          // Another process broke it first; try again.
        }
        continue;
      }
      if (Date.now() > deadline) throw new FileLockTimeoutError(file, timeoutMs);
      sleepSync(5);
    }
  }
  try {
    return action();
  } finally {
    try {
      unlinkSync(file);
    } catch {
      // Already gone (broken as stale by someone else); nothing to release.
    }
  }
}
