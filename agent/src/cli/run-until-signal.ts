import { EXIT_RUNTIME } from './options.ts';

/** Explains start-up failures a user can act on, without a stack trace. */
export function describeStartError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const port = (error as { port?: number } | undefined)?.port;
  if (code === 'EADDRINUSE') return `port ${port ?? ''} is already in use; choose another with --mqtt-port / --mqtts-port / --http-port (0 = any free port)`;
  if (code === 'EACCES') return `not allowed to bind port ${port ?? ''}; ports below 1024 need privileges, choose another`;
  if (code === 'EADDRNOTAVAIL') return 'the address to listen on does not exist on this machine';
  return error instanceof Error ? error.message : String(error);
}

export async function startOrExit<T>(what: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    process.stderr.write(`wardwatch: cannot start ${what}: ${describeStartError(error)}\n`);
    process.exit(EXIT_RUNTIME);
  }
}

/** Runs until SIGINT or SIGTERM, then stops cleanly (devices see their status go offline). */
export function stopOnSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) process.exit(EXIT_RUNTIME);
    stopping = true;
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`wardwatch: error while stopping: ${describeStartError(error)}\n`);
        process.exit(EXIT_RUNTIME);
      },
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
