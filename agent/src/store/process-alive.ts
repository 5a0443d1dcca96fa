/** Whether a process with this pid exists: lock files name their owner, and a dead owner's lock is stale. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user (the service account).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
