import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../agent/src/ingest/observation.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

/**
 * The behaviour detectors see connections, logins, subscriptions and commands straight
 * from the network. Whatever the names, filters, ids and timestamps, and in whatever
 * order event time arrives, no detector throws (the engine would count it in health).
 */
describe('behaviour detectors never throw on odd input', () => {
  const names = fc.oneof(
    fc.constantFrom('station-4w', 'guest', 'pump-01', 'prog-02', 'wardwatch-admin', '', '__proto__', 'constructor', 'x'.repeat(5_000)),
    fc.string({ maxLength: 300 }),
  );
  const addresses = fc.oneof(fc.constantFrom('10.4.0.20', '10.66.0.5', '::1', ''), fc.string({ maxLength: 60 }));
  const filters = fc.oneof(
    fc.constantFrom('#', '+/#', '$SYS/#', 'ward/+/command', 'ward/pump-01/command', 'ward/#/x', '', '+', '/', '//#', '$', 'ward/+/+/+'),
    fc.string({ maxLength: 200 }),
  );
  const client = fc.record({ clientId: names, username: fc.option(names, { nil: null }), address: addresses });
  // Event time wanders, backwards too, within what a Date can hold.
  const step = fc.integer({ min: -3_600_000, max: 3_600_000 });

  const observation = fc.oneof(
    fc.record({ kind: fc.constant('mqtt-connect' as const), client }),
    fc.record({ kind: fc.constant('mqtt-disconnect' as const), client }),
    fc.record({ kind: fc.constant('mqtt-auth-failure' as const), client, reason: fc.constantFrom('bad-password', 'unknown-user') }),
    fc.record({ kind: fc.constant('mqtt-subscribe' as const), client, topicFilters: fc.array(filters, { maxLength: 20 }) }),
    fc.record({
      kind: fc.constant('mqtt-publish' as const),
      client: fc.option(client, { nil: null }),
      topic: fc.constantFrom('ward/pump-01/command', 'ward/prog-01/command', 'ward/pump-02/telemetry', 'ward/pump-03/status', 'ward/pump-04/ack'),
      payload: fc.oneof(
        fc.record({
          id: fc.oneof(names, fc.constant('same-id')),
          ts: fc.oneof(fc.string({ maxLength: 40 }), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constant('2026-11-28T07:00:00Z')),
          issuer: names,
          user: fc.constant('u'),
          command: fc.constantFrom('pause', 'stop', 'program', 'end_session'),
          params: fc.constant({}),
        }).map((message) => Buffer.from(JSON.stringify(message))),
        fc.constantFrom('online', 'offline', '{"state":"idle"}', '{"id":"a","ts":"t","ok":true}').map((text) => Buffer.from(text)),
      ),
      retain: fc.boolean(),
      qos: fc.constantFrom(0 as const, 1 as const),
    }),
  );

  it('random connections, logins, subscriptions and commands, in wandering event time', () => {
    const ward = new MonitorHarness();
    fc.assert(
      fc.property(step, observation, (delta, partial) => {
        ward.now += delta;
        ward.monitor.pipeline.ingest({ ...partial, ts: ward.now } as Observation);
      }),
      { numRuns: 5_000 },
    );
    expect(ward.monitor.health.view().reasons).toEqual([]);
  });
});
