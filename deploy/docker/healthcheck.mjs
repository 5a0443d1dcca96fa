#!/usr/bin/env node
// The container's HEALTHCHECK (Dockerfile, docker-compose.yml): asks the agent's own
// /healthz, served beside /metrics on --metrics-host/--metrics-port (9464 by default), and
// exits 0 when it answers 2xx, 1 otherwise (Docker reads only the exit status; 1 =
// unhealthy). /healthz turns unhealthy when ingest stalls or the store fails, so a
// container that runs but no longer monitors is marked unhealthy, not just a dead one.
// Plain JavaScript with no import, so that it starts in a few tens of milliseconds
// without tsx, every `interval`.
//
// WARDWATCH_HEALTH_URL overrides the address (an agent started with another
// --metrics-port); the default is loopback, which the agent's 0.0.0.0 in the container
// includes, so the check needs no published port.

const url = process.env.WARDWATCH_HEALTH_URL ?? 'http://127.0.0.1:9464/healthz';
// Below Docker's `timeout` (5 s in the Dockerfile), so that a hung agent gives our message, not Docker's.
const TIMEOUT_MS = 4_000;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
  const body = (await response.text()).slice(0, 500);
  if (response.ok) {
    process.stdout.write(`healthy: ${url} answered ${response.status}\n`);
    process.exit(0);
  }
  process.stdout.write(`unhealthy: ${url} answered ${response.status}: ${body}\n`);
  process.exit(1);
} catch (error) {
  process.stdout.write(`unhealthy: ${url} did not answer: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
