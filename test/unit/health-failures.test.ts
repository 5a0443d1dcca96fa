import { describe, expect, it } from 'vitest';
import { AgentHealth, FAILURE_MEMORY_MS } from '../../agent/src/health/agent-health.ts';
import { FailureTally } from '../../agent/src/health/failure-tally.ts';

describe('health after a failing output or detector', () => {
  it('is degraded while the last failure is recent, names the store, and recovers once it has worked for a while', () => {
    const sinks = new FailureTally();
    const detectors = new FailureTally();
    const health = new AgentHealth({ mqttClients: () => 0, alertsRaised: () => 0, sinkFailures: () => sinks, detectorErrors: () => detectors, expectsTraffic: false });
    const start = Date.parse('2026-11-30T08:00:00Z');
    expect(health.view(start).status).toBe('ok');
    detectors.record('pacing', start);
    sinks.record('store', start + 1_000);
    sinks.record('store', start + 2_000);
    const failing = health.view(start + 3_000);
    expect(failing.status).toBe('degraded');
    expect(failing.reasons).toEqual([
      'the alert store (wardwatch.db) is failing (2 failed writes, the last at 08:00:02 UTC)',
      'detector "pacing" has failed 1 times, the last at 08:00:00 UTC',
    ]);
    // Past the memory of the detector's failure, still within the store's.
    expect(health.view(start + FAILURE_MEMORY_MS + 500).reasons).toEqual([expect.stringMatching(/^the alert store/)]);
    expect(health.view(start + 2_000 + FAILURE_MEMORY_MS).status).toBe('ok');
    // The counts since start remain, for /metrics.
    expect(sinks.count('store')).toBe(2);
  });
});
