import type { ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';

/**
 * What every helper that runs a real peer (mosquitto, influxd, rsyslogd) needs: a port
 * free right now, a child that cannot outlive a crashed test file, and a typed "lost the
 * race for the port" error to retry on.
 */

/** Port 0 → a port the kernel considers free right now (the peer may still lose a race for it: see AddressInUse). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills `child` when this test process exits, unless it ended first. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed test file must not leave servers behind (kill is synchronous; fine in 'exit').
  process.once('exit', () => {
    for (const running of live) running.kill('SIGKILL');
  });
}

/** The peer said its port was taken between freePort() and its bind: pick another and retry. */
export class AddressInUse extends Error {}
