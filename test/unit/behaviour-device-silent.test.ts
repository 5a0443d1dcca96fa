import { describe, expect, it } from 'vitest';
import { DeviceSilentDetector } from '../../agent/src/detect/device-silent-detector.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const silent = (ward: MonitorHarness) => ward.sink.raised.filter((alert) => alert.type === 'device-silent');

/** One second of event time in which pump-01 reports: the ward's clock moving on. */
function tick(ward: MonitorHarness, seconds = 1): void {
  for (let i = 0; i < seconds; i += 1) ward.advance(1_000).telemetry('pump-01', { state: 'idle' });
}

describe('device silent (detection.silence.intervals, default 3 × the profile period)', () => {
  it('no telemetry for more than 3 × 5 s: a warning on the device that says how long and what was expected', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-03', { state: 'running' });
    tick(ward, 15);
    expect(silent(ward)).toEqual([]);
    tick(ward);
    expect(ward.raised()).toEqual([['device-silent', 'warning']]);
    const alert = ward.sink.raised[0];
    expect(alert?.deviceId).toBe('pump-03');
    expect(alert?.bed).toBe('3');
    expect(alert?.title).toBe('Bed 3 · pump-03: no telemetry for 16 s (expected every 5 s)');
    expect(alert?.evidence).toMatchObject({ silentForMs: 16_000, telemetryIntervalMs: 5_000, intervals: 3, thresholdMs: 15_000, lastTelemetryTs: ward.now - 16_000 });
  });

  it('one alert per silence episode; a new episode after the device spoke again', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-03', { state: 'running' });
    tick(ward, 600);
    expect(silent(ward)).toHaveLength(1);
    ward.monitor.alerts.flush();
    expect(ward.sink.updated).toEqual([]);
    ward.telemetry('pump-03', { state: 'running' });
    tick(ward, 10);
    expect(silent(ward)).toHaveLength(1);
    tick(ward, 10);
    // Ten minutes after the first: past the 300 s suppression window, so a new alert.
    expect(silent(ward)).toHaveLength(2);
  });

  it('a device reporting on time, or a little late, is not silent', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 100; i += 1) {
      ward.telemetry('pump-03', { state: 'running' });
      tick(ward, i % 10 === 0 ? 14 : 5);
    }
    expect(ward.sink.raised).toEqual([]);
  });

  it('a device never seen is not silent (it may be in a drawer)', () => {
    const ward = new MonitorHarness();
    tick(ward, 120);
    expect(ward.sink.raised).toEqual([]);
  });

  it('went offline and did not come back: says so', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-04', { state: 'idle' });
    tick(ward, 2);
    ward.status('pump-04', 'offline');
    tick(ward, 15);
    expect(silent(ward)).toEqual([]);
    tick(ward, 25);
    const alert = silent(ward)[0];
    expect(alert?.title).toBe('Bed 4 · pump-04: went offline and has not come back for 16 s (expected back within 15 s)');
    expect(alert?.evidence).toMatchObject({ offlineBy: 'status', silentForMs: 16_000 });
  });

  it('offline and back within the time: nothing', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-04', { state: 'idle' });
    ward.status('pump-04', 'offline');
    tick(ward, 10);
    ward.status('pump-04', 'online');
    ward.telemetry('pump-04', { state: 'idle' });
    for (let i = 0; i < 20; i += 1) {
      tick(ward, 5);
      ward.telemetry('pump-04', { state: 'idle' });
    }
    expect(ward.sink.raised).toEqual([]);
  });

  it('a device that disconnected without a last will', () => {
    const ward = new MonitorHarness();
    ward.connect('pump-05', '10.4.1.10', 'pump-05');
    ward.telemetry('pump-05', { state: 'idle' });
    ward.disconnect('pump-05', '10.4.1.10', 'pump-05');
    tick(ward, 20);
    expect(silent(ward)[0]?.title).toBe('Bed 5 · pump-05: disconnected and has not come back for 16 s (expected back within 15 s)');
  });

  it('a device that connected but never reported is silent from when it connected', () => {
    const ward = new MonitorHarness();
    ward.connect('prog-01', '10.4.1.10', 'prog-01');
    ward.status('prog-01', 'online');
    tick(ward, 16);
    expect(silent(ward)[0]?.title).toBe('EP clinic room 1 · prog-01: no telemetry for 16 s (expected every 5 s)');
  });

  it("telemetry published for the device by another account does not hide the silence", () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-03', { state: 'running' });
    for (let i = 0; i < 20; i += 1) {
      tick(ward);
      ward.telemetry('pump-03', { state: 'running' }, 'guest');
    }
    expect(ward.sink.types().sort()).toEqual(['device-impersonation', 'device-silent']);
  });

  it('reads only event time: nothing is judged until an event moves time on; a late-stamped event changes nothing', () => {
    const ward = new MonitorHarness();
    ward.telemetry('pump-03', { state: 'running' });
    const start = ward.now;
    ward.advance(60_000);
    expect(ward.sink.raised).toEqual([]);
    // Stamped before the last event seen: "now" does not move back, nothing is checked.
    ward.now = start - 5_000;
    ward.telemetry('pump-01', { state: 'idle' });
    expect(ward.sink.raised).toEqual([]);
    ward.now = start + 60_000;
    ward.telemetry('pump-01', { state: 'idle' });
    expect(silent(ward)[0]?.title).toBe('Bed 3 · pump-03: no telemetry for 60 s (expected every 5 s)');
  });

  it('follows the configured number of intervals', () => {
    const config = new MonitorHarness().config;
    const ward = new MonitorHarness({ ...config, detection: { ...config.detection, silence: { intervals: 9 } } });
    ward.telemetry('pump-03', { state: 'running' });
    tick(ward, 45);
    expect(silent(ward)).toEqual([]);
    tick(ward);
    expect(silent(ward)[0]?.title).toBe('Bed 3 · pump-03: no telemetry for 46 s (expected every 5 s)');
  });

  it('state stays bounded by the inventory, whatever arrives', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 50_000; i += 1) {
      const device = ward.config.devices[i % ward.config.devices.length];
      if (device !== undefined) ward.advance(1).telemetry(device.id, { battery_pct: 50 });
      ward.publish(ward.client(`acct-${i}`), `ward/ghost-${i}/telemetry`, '{}');
    }
    expect(ward.detector(DeviceSilentDetector).devicesTracked).toBe(ward.config.devices.length);
  });
});
