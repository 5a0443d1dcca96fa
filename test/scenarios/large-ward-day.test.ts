import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { VirtualClock } from '../../simulators/src/clock.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { startWard } from '../../simulators/src/ward.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const HOUR = 3_600_000;

function loadLargeWard(): SiteConfig {
  const result = parseSiteConfig(readFileSync(new URL('../../config/large-ward.yaml', import.meta.url), 'utf8'));
  if (!result.ok) throw new Error(`config/large-ward.yaml is invalid: ${JSON.stringify(result.issues)}`);
  return result.config;
}

/**
 * A simulated day of the large ward (4 wards of 12 pumps, 2 spares, 4 programmers, one
 * nurse station per ward, long-stay variation on), fed to the agent's real pipeline as
 * the broker would. Each station commands only its own ward's pumps, although the policy
 * would let an ICU station program any ICU pump; benign traffic raises no high or critical
 * alert.
 */
describe('a benign simulated day of the large ward', () => {
  it('24 h from a Monday 07:00: four stations, each on its own ward, no high or critical alert', async () => {
    const config = loadLargeWard();
    const harness = new MonitorHarness(config);
    const clock = new VirtualClock(Date.parse('2026-11-30T07:00:00Z'));
    const bus = new MemoryBus();
    /** Station account → wards of the pumps it commanded. */
    const wardsByStation = new Map<string, Set<string>>();
    const commands = new Map<string, number>();
    const wardOf = new Map(config.devices.map((device) => [device.id, device.ward]));
    const pumps = new Set(config.devices.filter((device) => device.profile === 'infusion-pump').map((device) => device.id));
    bus.onPublish((identity, topic, payload, retain) => {
      const [, deviceId = '', channel = ''] = topic.split('/');
      if (channel === 'command') {
        const name = (JSON.parse(payload.toString('utf8')) as { command: string }).command;
        commands.set(name, (commands.get(name) ?? 0) + 1);
        if (pumps.has(deviceId)) {
          const wards = wardsByStation.get(identity.username) ?? new Set<string>();
          wards.add(wardOf.get(deviceId) ?? '?');
          wardsByStation.set(identity.username, wards);
        }
      }
      harness.busPublish(identity, topic, payload, retain, clock.now());
    });
    const ward = await startWard({ config, clock, linkFactory: bus.linkFactory(), seed: 1, longStay: true });
    for (let hour = 0; hour < 24; hour += 1) clock.advanceBy(HOUR);
    await ward.stop();
    harness.monitor.alerts.flush();

    expect([...wardsByStation.keys()].sort()).toEqual(['station-icu-n', 'station-icu-s', 'station-ms-n', 'station-ms-s']);
    for (const [station, wards] of wardsByStation) expect([...wards], station).toEqual([station.replace(/^station-/, '').toUpperCase()]);
    const serious = harness.monitor.alerts.list().filter((alert) => alert.severity === 'critical' || alert.severity === 'high');
    expect(serious.map((alert) => alert.title)).toEqual([]);
    expect(Object.fromEntries(harness.monitor.health.anomalies)).toEqual({});
    // A busy day: 48 beds set up and titrated, boluses, EP sessions in clinic hours.
    expect(commands.get('program_infusion') ?? 0).toBeGreaterThanOrEqual(48);
    expect(commands.get('set_rate') ?? 0).toBeGreaterThanOrEqual(200);
    expect(commands.get('bolus') ?? 0).toBeGreaterThanOrEqual(10);
    expect(commands.get('program') ?? 0).toBeGreaterThanOrEqual(4);
    // 54 devices × one telemetry message per 5 s × 24 h.
    expect(harness.monitor.health.publishes).toBeGreaterThan(54 * 17_280);
  }, 300_000);
});
