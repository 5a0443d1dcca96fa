import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';

/** commander argParser for a TCP port; 0 asks the system for a free one. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number 0–65535 (0 = any free port)');
  return port;
}

/** commander argParser for a listener that can be turned off: a port, or `off` (null). */
export function parsePortOrOff(value: string): number | null {
  if (value === 'off') return null;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number 0–65535 (0 = any free port), or off');
  return port;
}

/**
 * commander keeps no null from an argParser: it stores '' instead (commander's
 * handleOptionValue, "parseArg might have failed"), so `--mqtt-port off` reached the agent
 * as '' and failed at listen(). The options that parsePortOrOff reads go through this once
 * parsed: '' (off) becomes null again.
 */
export function offPortsAsNull<T extends object>(options: T, names: readonly (keyof T)[]): T {
  const fixed = { ...options } as Record<keyof T, unknown>;
  for (const name of names) if (fixed[name] === '') fixed[name] = null;
  return fixed as T;
}

export function parsePositiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError('must be a positive number');
  return number;
}

export function parseCount(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return number;
}

/** Exit codes: 2 for anything the user can fix in the command line or config (as `config check`). */
export const EXIT_USAGE = 2;
export const EXIT_RUNTIME = 1;

/**
 * The demo ward's config, found from the package rather than the current directory, so
 * that `wardwatch demo` works wherever it is started.
 */
export const DEMO_CONFIG = relativeIfInside(fileURLToPath(new URL('../../../config/demo.yaml', import.meta.url)));

/** Shown in --help as `config/demo.yaml` when run from the checkout, absolute otherwise. */
function relativeIfInside(path: string): string {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith('..') ? path : relativePath;
}
