import { describe, expect, it } from 'vitest';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

/** Regressions found by a second review (network input that hid or pushed out alerts). */
describe('review regressions', () => {
  it('telemetry forged by another account never becomes the device state: the overdose after it is still critical', () => {
    const ward = new MonitorHarness();
    ward.programHeparin('pump-01', 14.4);
    ward.telemetry('pump-01', { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 1000, rate_ml_h: 14.4 }, 'guest');
    ward.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 200 });
    expect(ward.sink.types()).toEqual(expect.arrayContaining(['device-impersonation', 'dose-above-hard-limit']));
  });

  it('one sender varying the claimed issuer folds into one issuer-mismatch alert, not one per message', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 50; i += 1) ward.advance(1_000).command('station-4w', 'pump-03', 'pause', {}, `nurse-${i}`);
    expect(ward.sink.raised.filter((alert) => alert.type === 'issuer-mismatch')).toHaveLength(1);
  });

  it('an open critical alert stays listed however many lesser alerts follow', () => {
    const ward = new MonitorHarness();
    ward.programHeparin('pump-01', 14.4);
    ward.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 320 });
    const critical = ward.sink.raised.find((alert) => alert.type === 'dose-above-hard-limit');
    for (let i = 0; i < 2_500; i += 1) ward.advance(400_000).command('station-4w', `pump-0${(i % 5) + 2}`, 'bolus', { volume_ml: 1 });
    expect(ward.sink.raised.length).toBeGreaterThan(2_000);
    expect(ward.monitor.alerts.list().some((alert) => alert.id === critical?.id)).toBe(true);
    expect(ward.monitor.alerts.get(critical?.id ?? '')).toBeDefined();
  });
});

describe('a command the agent cannot read is still judged by who sent it', () => {
  it('guest sending a partial pacing command gets unauthorized-command, not only an anomaly count', () => {
    const ward = new MonitorHarness();
    ward.publish(ward.client('guest'), 'ward/prog-02/command', JSON.stringify({ id: 'g1', ts: '2026-11-28T08:00:00Z', issuer: 'guest', user: 'x', command: 'program', params: { tachy_therapy: false } }));
    expect(ward.raised()).toEqual([['unauthorized-command', 'critical']]);
    expect(ward.sink.raised[0]?.title).toBe('EP clinic room 2 · prog-02: a command (unreadable: payload-schema) from guest, which may not command this device');
    expect(ward.monitor.health.anomalies.get('payload-schema')).toBe(1);
  });

  it('the EP clinic sending the same partial command is a malformed payload, not unauthorized', () => {
    const ward = new MonitorHarness();
    ward.publish(ward.client('ep-clinic'), 'ward/prog-02/command', JSON.stringify({ id: 'e1', ts: '2026-11-28T08:00:00Z', issuer: 'ep-clinic', user: 'x', command: 'program', params: { tachy_therapy: false } }));
    expect(ward.sink.raised).toEqual([]);
  });
});

describe('scoring a live run against an agent that already had the alert open', () => {
  it('an occurrence folded into an alert an earlier run opened still counts, by its latest time', async () => {
    const { scoreScenario } = await import('../../agent/src/evaluation/scoring.ts');
    const { parseScenario } = await import('../../agent/src/evaluation/scenario-loader.ts');
    const { loadDemoConfig } = await import('../helpers/demo-config.ts');
    const parsed = parseScenario(`name: s
title: t
models: [{ kind: standard, id: x, reference: "https://example.org/", note: n }]
attack: { technique: T0836, name: Modify Parameter }
steps: [{ at: 0s, ward: { silence: pump-01 } }]
expect: { alerts: [{ type: dose-above-hard-limit, device: pump-01, within: 1s }] }
`, loadDemoConfig(), null);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const trigger = Date.parse('2026-11-28T10:00:00Z');
    const folded = { id: 'a', type: 'dose-above-hard-limit', severity: 'critical' as const, ts: '2026-11-28T09:58:00.000Z', lastTs: '2026-11-28T10:00:00.040Z', count: 2, deviceId: 'pump-01', ward: '4W', bed: '1', location: null, title: 'x', evidence: {}, state: 'open' as const, ack: null };
    const score = scoreScenario(parsed.scenario, [folded], trigger);
    expect(score.passed).toBe(true);
    expect(score.expectations[0]?.latencyMs).toBe(40);
    expect(scoreScenario(parsed.scenario, [{ ...folded, count: 1 }], trigger).passed).toBe(false);
  });
});
