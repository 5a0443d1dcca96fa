import { describe, expect, it } from 'vitest';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const command = (issuer: string, name: string, params: Record<string, unknown>, id: string) => JSON.stringify({ id, ts: '2026-11-28T08:00:00Z', issuer, user: 'rn', command: name, params });

describe('traffic seen through the MQTT tap (sender not visible)', () => {
  it('a dose above the hard limit is still critical, and the alert says the sender was not visible', () => {
    const ward = new MonitorHarness();
    ward.tapPublish('ward/pump-01/command', command('station-4w', 'program_infusion', { drug: 'heparin', rate_ml_h: 320, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }, 't1'));
    expect(ward.raised()).toEqual([['dose-above-hard-limit', 'critical']]);
    expect(ward.sink.raised[0]?.title).toBe('Bed 1 · pump-01: heparin 320 mL/h = 400 units/kg/h, above the hard limit of 40 units/kg/h (sender not visible: seen through the MQTT tap)');
  });

  it('a command whose claimed issuer may not send it is unauthorized; an allowed claim cannot be confirmed and raises nothing', () => {
    const ward = new MonitorHarness();
    ward.tapPublish('ward/pump-02/command', command('guest', 'pause', {}, 't2'));
    expect(ward.raised()).toEqual([['unauthorized-command', 'critical']]);
    expect(ward.sink.raised[0]?.title).toBe('Bed 2 · pump-02: pause claiming issuer guest, which may not command this device (sender not visible: seen through the MQTT tap)');
    ward.tapPublish('ward/pump-02/command', command('station-4w', 'pause', {}, 't3'));
    expect(ward.sink.raised).toHaveLength(1);
  });

  it('telemetry through the tap is not impersonation, and a busy ward through the tap is not a flood', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 500; i += 1) {
      ward.advance(10).tapPublish(`ward/pump-0${(i % 6) + 1}/telemetry`, JSON.stringify({ ts: '2026-11-28T08:00:00Z', state: 'running' }));
    }
    expect(ward.sink.raised).toEqual([]);
    expect(ward.monitor.health.publishes).toBe(500);
  });

  it('a publish with no sender that did not come through the tap (the broker\'s own) is not judged as a command', () => {
    const ward = new MonitorHarness();
    ward.publish(null, 'ward/pump-01/command', command('guest', 'pause', {}, 't4'));
    expect(ward.sink.raised).toEqual([]);
  });
});

describe('a captured MQTT session whose login the capture missed (a mirror port started mid-session)', () => {
  const unknown = { clientId: '(unknown)', username: null, address: '10.4.0.11' };

  it('is judged like the tap: by the claimed issuer, no impersonation, no flood, and the alert says why', () => {
    const ward = new MonitorHarness();
    const program = { mode: 'DDD', lower_rate_ppm: 60, upper_rate_ppm: 120, amplitude_v: 3.5, pulse_width_ms: 0.4, tachy_therapy: true };
    ward.publish(unknown, 'ward/prog-01/command', command('ep-clinic', 'program', program, 'm1'));
    for (let i = 0; i < 300; i += 1) ward.advance(10).publish(unknown, 'ward/pump-02/telemetry', JSON.stringify({ ts: '2026-11-28T08:00:00Z', state: 'running' }));
    expect(ward.sink.raised).toEqual([]);
    ward.publish(unknown, 'ward/pump-02/command', command('guest', 'stop', {}, 'm2'));
    expect(ward.raised()).toEqual([['unauthorized-command', 'critical']]);
    expect(ward.sink.raised[0]?.title).toBe('Bed 2 · pump-02: stop claiming issuer guest, which may not command this device (sender not visible: the capture did not contain its login; from 10.4.0.11)');
  });

  it('missing CONNECTs of a mid-session capture are counted, not a malformed-payload burst', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 10; i += 1) {
      ward.monitor.pipeline.ingest({ kind: 'mqtt-anomaly', ts: ward.advance(100).now, client: { clientId: '(capture)', username: null, address: '127.0.0.1' }, name: 'missing-connect', detail: 'first packet is not CONNECT' });
    }
    expect(ward.monitor.health.anomalies.get('mqtt-missing-connect')).toBe(10);
    expect(ward.sink.raised).toEqual([]);
  });
});
