import { describe, expect, it } from 'vitest';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

describe('drug library detector', () => {
  it('heparin at ten times the hard limit is critical and names the device, bed, drug, dose and limit', () => {
    const ward = new MonitorHarness();
    ward.programHeparin('pump-01', 14.4); // 18 units/kg/h for 80 kg: within limits
    expect(ward.sink.raised).toEqual([]);
    ward.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 320 }); // 400 units/kg/h
    const critical = ward.sink.raised.find((a) => a.type === 'dose-above-hard-limit');
    expect(critical?.severity).toBe('critical');
    expect(critical?.deviceId).toBe('pump-01');
    expect(critical?.bed).toBe('1');
    expect(critical?.title).toContain('Bed 1 · pump-01');
    expect(critical?.title).toContain('heparin 320 mL/h = 400 units/kg/h');
    expect(critical?.title).toContain('hard limit of 40 units/kg/h');
    expect(critical?.title).toContain('station-4w');
    expect(critical?.evidence.dose).toBeCloseTo(400, 6);
    // 14.4 → 320 mL/h is a 22× step as well.
    expect(ward.sink.types()).toContain('rate-step-tenfold');
  });

  it('above the soft but below the hard limit is a warning, not critical', () => {
    const ward = new MonitorHarness();
    ward.programHeparin('pump-01', 24); // 30 units/kg/h: soft max 25, hard max 40
    expect(ward.sink.raised.map((a) => [a.type, a.severity])).toEqual([['dose-above-soft-limit', 'warning']]);
  });

  it('below the soft minimum warns', () => {
    const ward = new MonitorHarness();
    ward.programHeparin('pump-01', 2); // 2.5 units/kg/h, soft min 5
    expect(ward.sink.types()).toEqual(['dose-below-soft-limit']);
  });

  it('a tenfold step down (41.7 → 4.17) is high even inside the limits', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-03', 'program_infusion', { drug: 'morphine', rate_ml_h: 8.0, vtbi_ml: 100, weight_kg: 70, care_area: 'ICU' });
    ward.command('station-4w', 'pump-03', 'set_rate', { rate_ml_h: 0.8 });
    expect(ward.sink.raised.map((a) => [a.type, a.severity])).toEqual([['rate-step-tenfold', 'high']]);
  });

  it('a 9× step is not a tenfold step', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-03', 'program_infusion', { drug: 'morphine', rate_ml_h: 1, vtbi_ml: 100, weight_kg: 70, care_area: 'ICU' });
    ward.command('station-4w', 'pump-03', 'set_rate', { rate_ml_h: 9 });
    expect(ward.sink.types()).toEqual([]);
  });

  it('uses the rate the pump reports in telemetry as the current rate after an agent restart', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-02', { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 3, vtbi_ml: 250 });
    ward.command('station-4w', 'pump-02', 'set_rate', { rate_ml_h: 144 });
    expect(ward.sink.types().sort()).toEqual(['dose-above-hard-limit', 'rate-step-tenfold']);
  });

  it('a drug the care area does not list is high (propofol is ICU-only)', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-04', 'program_infusion', { drug: 'propofol', rate_ml_h: 10, vtbi_ml: 100, weight_kg: 70, care_area: 'Med-Surg' });
    expect(ward.sink.raised.map((a) => [a.type, a.severity])).toEqual([['drug-not-in-library', 'high']]);
  });

  it('programming a Med-Surg pump under ICU limits is a care-area mismatch', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-04', 'program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' });
    expect(ward.sink.types()).toEqual(['care-area-mismatch']);
  });

  it('a bolus above the hard bolus limit is critical (morphine ICU hard max 10 mg)', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-03', 'program_infusion', { drug: 'morphine', rate_ml_h: 2, vtbi_ml: 100, weight_kg: 70, care_area: 'ICU' });
    ward.command('station-4w', 'pump-03', 'bolus', { volume_ml: 2 });
    expect(ward.sink.types()).toEqual([]);
    ward.command('station-4w', 'pump-03', 'bolus', { volume_ml: 12 });
    expect(ward.sink.raised.map((a) => [a.type, a.severity])).toEqual([['bolus-above-hard-limit', 'critical']]);
  });

  it('a drug name off the wire cannot reach Object members ("constructor")', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-01', 'program_infusion', { drug: 'constructor', rate_ml_h: 10, vtbi_ml: 100, weight_kg: 70, care_area: 'ICU' });
    expect(ward.sink.types()).toEqual(['drug-not-in-library']);
  });
});

describe('device limits and pacing', () => {
  it('a rate beyond what the pump can run is critical', () => {
    const ward = new MonitorHarness();
    ward.programHeparin();
    ward.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 1200 });
    const alert = ward.sink.raised.find((a) => a.type === 'device-limit-exceeded');
    expect(alert?.severity).toBe('critical');
    expect(alert?.title).toContain('rate_ml_h 1200 mL/h outside 0.1–999');
  });

  const program = { mode: 'DDD', lower_rate_ppm: 60, upper_rate_ppm: 120, amplitude_v: 3.5, pulse_width_ms: 0.4, tachy_therapy: true };

  it('in-range programming from the EP clinic raises nothing', () => {
    const ward = new MonitorHarness();
    ward.command('ep-clinic', 'prog-01', 'start_session', { implant_serial: 'PM-123456' });
    ward.command('ep-clinic', 'prog-01', 'program', program);
    ward.command('ep-clinic', 'prog-01', 'end_session');
    expect(ward.sink.raised).toEqual([]);
  });

  it.each([
    [{ tachy_therapy: false }, 'pacing-tachy-therapy-off'],
    [{ mode: 'VOO' }, 'pacing-asynchronous-mode'],
    [{ amplitude_v: 0 }, 'pacing-amplitude-off'],
    [{ lower_rate_ppm: 20 }, 'device-limit-exceeded'],
    [{ upper_rate_ppm: 190 }, 'device-limit-exceeded'],
  ])('%o is critical (%s)', (change, type) => {
    const ward = new MonitorHarness();
    ward.command('ep-clinic', 'prog-02', 'program', { ...program, ...change });
    expect(ward.sink.raised.map((a) => [a.type, a.severity])).toEqual([[type, 'critical']]);
  });

  it('amplitude 0 V is "off", not a device-limit breach; 0.3 V is a breach', () => {
    const ward = new MonitorHarness();
    ward.command('ep-clinic', 'prog-02', 'program', { ...program, amplitude_v: 0.3 });
    expect(ward.sink.types()).toEqual(['device-limit-exceeded']);
  });
});

describe('authorization', () => {
  it('guest may not command a pump: unauthorized-command, critical', () => {
    const ward = new MonitorHarness();
    ward.command('guest', 'pump-01', 'pause');
    const alert = ward.sink.raised[0];
    expect(alert?.type).toBe('unauthorized-command');
    expect(alert?.severity).toBe('critical');
    expect(alert?.title).toContain('guest');
    expect(alert?.evidence.account).toBe('guest');
  });

  it('the nurse station may not program a pacemaker (policy is per device group)', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'prog-01', 'start_session', { implant_serial: 'PM-1' });
    expect(ward.sink.types()).toEqual(['unauthorized-command']);
  });

  it('a drug library pushed by anyone but the pharmacy server is unauthorized (CVE-2014-5406)', () => {
    const ward = new MonitorHarness();
    ward.command('pharmacy', 'pump-02', 'load_drug_library', { version: '2026.12', sha256: 'ab'.repeat(32) });
    expect(ward.sink.raised).toEqual([]);
    ward.command('station-4w', 'pump-02', 'load_drug_library', { version: 'evil-1', sha256: 'cd'.repeat(32) });
    expect(ward.sink.types()).toEqual(['unauthorized-command']);
  });

  it('programmer software from anyone but the vendor server is unauthorized (CVE-2018-10596)', () => {
    const ward = new MonitorHarness();
    ward.command('vendor-updates', 'prog-01', 'install_update', { version: '8.2.1', sha256: 'ab'.repeat(32) });
    expect(ward.sink.raised).toEqual([]);
    ward.command('ep-clinic', 'prog-01', 'install_update', { version: '8.2.1-x', sha256: 'cd'.repeat(32) });
    expect(ward.sink.types()).toEqual(['unauthorized-command']);
  });

  it('a device account sending commands is unauthorized', () => {
    const ward = new MonitorHarness();
    ward.command('pump-02', 'pump-01', 'stop');
    expect(ward.sink.types()).toEqual(['unauthorized-command']);
  });

  it('an issuer in the payload that differs from the authenticated account is high', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-01', 'pause', {}, 'pharmacy-admin');
    expect(ward.sink.raised.map((a) => [a.type, a.severity])).toEqual([['issuer-mismatch', 'high']]);
  });

  it('telemetry for a pump published by another account is device impersonation', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-01', { state: 'running' }, 'pump-01');
    expect(ward.sink.raised).toEqual([]);
    ward.telemetry('pump-01', { state: 'running' }, 'guest');
    expect(ward.sink.raised.map((a) => [a.type, a.severity])).toEqual([['device-impersonation', 'high']]);
  });
});

describe('failed logins', () => {
  it('five failures from one address within 60 s give one high alert, even with rotating client ids', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 4; i += 1) ward.advance(1_000).authFailure('station-4w', '10.9.9.9', `c${i}`);
    expect(ward.sink.raised).toEqual([]);
    ward.advance(1_000).authFailure('station-4w', '10.9.9.9', 'c4');
    const burst = ward.sink.raised.filter((a) => a.type === 'auth-failure-burst');
    // One per key reached: the address and the username both hit 5.
    expect(burst.length).toBe(2);
    expect(burst.every((a) => a.severity === 'high')).toBe(true);
    for (let i = 0; i < 50; i += 1) ward.advance(100).authFailure('station-4w', '10.9.9.9', `d${i}`);
    expect(ward.sink.raised.filter((a) => a.type === 'auth-failure-burst').length).toBe(2);
  });

  it('five failures spread over more than the window are not a burst', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 10; i += 1) ward.advance(20_000).authFailure('guest', '10.1.1.1');
    expect(ward.sink.raised).toEqual([]);
  });
});

describe('malformed payloads', () => {
  it('each kind of malformed payload is a named anomaly, counted', () => {
    const ward = new MonitorHarness();
    const station = ward.client('station-4w');
    ward.publish(station, 'ward/pump-01/command', 'not json');
    ward.publish(station, 'ward/pump-01/command', JSON.stringify({ id: 'x', ts: 't', issuer: 'station-4w', user: 'u', command: 'set_rate', params: { rate_ml_h: 'fast' } }));
    ward.publish(station, 'ward/pump-01/command', JSON.stringify({ id: 'x', ts: 't', issuer: 'station-4w', user: 'u', command: 'self_destruct' }));
    ward.publish(station, 'ward/pump-01/command', Buffer.alloc(20_000, 0x7b));
    ward.publish(station, 'ward/pump-99/command', '{}');
    expect(Object.fromEntries(ward.monitor.health.anomalies)).toEqual({
      'payload-not-json': 1,
      'payload-schema': 1,
      'unknown-command': 1,
      'payload-oversize': 1,
      'unknown-device': 1,
    });
    // Five within the window from one sender: one burst alert.
    expect(ward.sink.types()).toEqual(['malformed-payload-burst']);
  });

  it('ten thousand malformed publishes give one alert whose count grows, not ten thousand', () => {
    const ward = new MonitorHarness();
    const station = ward.client('station-4w');
    for (let i = 0; i < 10_000; i += 1) ward.advance(10).publish(station, 'ward/pump-01/command', `{garbage ${i}`);
    expect(ward.monitor.health.anomalies.get('payload-not-json')).toBe(10_000);
    // 100 messages a second from one sender is also a publish flood: one alert for each, never more.
    expect(ward.sink.types()).toEqual(['malformed-payload-burst', 'publish-flood']);
    ward.monitor.alerts.flush();
    // 100 s of traffic inside a 300 s suppression window: all folded into the first alert.
    expect(ward.monitor.alerts.list().find((a) => a.type === 'malformed-payload-burst')?.count).toBe(10_000 - 4);
  });
});

describe('suppression', () => {
  it('the same finding within the window updates the alert; after the window it raises a new one', () => {
    const ward = new MonitorHarness();
    ward.command('guest', 'pump-01', 'pause');
    ward.advance(60_000).command('guest', 'pump-01', 'pause');
    expect(ward.sink.raised.length).toBe(1);
    ward.monitor.alerts.flush();
    expect(ward.sink.updated.at(-1)?.count).toBe(2);
    ward.advance(301_000).command('guest', 'pump-01', 'pause');
    expect(ward.sink.raised.length).toBe(2);
  });

  it('a repeat after acknowledgement is a new alert: an acknowledged alert never hides a new attack', () => {
    const ward = new MonitorHarness();
    ward.command('guest', 'pump-01', 'pause');
    const first = ward.sink.raised[0];
    expect(first).toBeDefined();
    const ack = ward.monitor.alerts.acknowledge(first?.id ?? '', { by: 'RN Smith', reason: 'Investigating', from: '127.0.0.1', at: new Date() });
    expect(ack.ok).toBe(true);
    ward.advance(1_000).command('guest', 'pump-01', 'pause');
    expect(ward.sink.raised.length).toBe(2);
  });
});
