import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

/**
 * Whatever arrives from the network, the pipeline returns normally (DESIGN.md,
 * principle 2): arbitrary topics and payloads, and JSON that is almost a valid command.
 */
describe('the pipeline never throws on network input', () => {
  const topics = fc.oneof(
    fc.constantFrom('ward/pump-01/command', 'ward/pump-01/telemetry', 'ward/prog-01/command', 'ward/pump-01/status', 'ward/pump-01/ack', 'ward/__proto__/command', 'ward/constructor/telemetry'),
    fc.string(),
  );
  const nearlyCommands = fc.record({
    id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    ts: fc.string(),
    issuer: fc.oneof(fc.constant('station-4w'), fc.string()),
    user: fc.string(),
    command: fc.oneof(fc.constantFrom('program_infusion', 'set_rate', 'bolus', 'program', 'start_session', '__proto__', 'toString'), fc.string()),
    params: fc.oneof(
      fc.dictionary(fc.constantFrom('drug', 'rate_ml_h', 'vtbi_ml', 'weight_kg', 'care_area', 'volume_ml', 'mode', 'amplitude_v', 'tachy_therapy', '__proto__', 'constructor'), fc.oneof(fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer()))),
      fc.anything(),
    ),
  }, { requiredKeys: [] });

  it('random bytes on any topic', () => {
    const ward = new MonitorHarness();
    fc.assert(
      fc.property(topics, fc.uint8Array({ maxLength: 512 }), fc.constantFrom('station-4w', 'guest', 'pump-01', null), (topic, bytes, account) => {
        ward.advance(1).publish(ward.client(account), topic, Buffer.from(bytes));
      }),
      { numRuns: 2_000 },
    );
    expect(ward.monitor.health.publishes).toBe(2_000);
  });

  it('JSON that is nearly a command, to pumps and programmers', () => {
    const ward = new MonitorHarness();
    ward.programHeparin();
    fc.assert(
      fc.property(fc.constantFrom('ward/pump-01/command', 'ward/prog-01/command', 'ward/pump-01/telemetry'), nearlyCommands, (topic, message) => {
        ward.advance(1).publish(ward.client('station-4w'), topic, JSON.stringify(message));
      }),
      { numRuns: 3_000 },
    );
    // Detector failures are caught and counted; there must be none.
    expect(ward.monitor.health.view().reasons).toEqual([]);
  });
});
