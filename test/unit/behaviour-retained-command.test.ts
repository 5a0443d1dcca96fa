import { describe, expect, it } from 'vitest';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

describe('retained command', () => {
  it('a command published with the retain flag is high: the broker would re-send it at every reconnect', () => {
    const ward = new MonitorHarness();
    ward.rawCommand('station-4w', 'pump-02', { id: 'r-1', ts: new Date(ward.now).toISOString(), command: 'pause' }, { retain: true });
    expect(ward.raised()).toEqual([['retained-command', 'high']]);
    const alert = ward.sink.raised[0];
    expect(alert?.deviceId).toBe('pump-02');
    expect(alert?.title).toBe('Bed 2 · pump-02: pause command was published as retained, so the broker will send it again every time the device reconnects (sent by station-4w)');
    expect(alert?.evidence).toMatchObject({ retained: true, account: 'station-4w' });
  });

  it('ordinary commands and retained status raise nothing; an undecodable retained payload is an anomaly, not a command', () => {
    const ward = new MonitorHarness();
    ward.command('station-4w', 'pump-02', 'pause');
    ward.status('pump-02', 'online');
    ward.publish(ward.client('station-4w'), 'ward/pump-02/command', '', true);
    expect(ward.sink.types()).toEqual([]);
    expect(ward.monitor.health.anomalies.get('payload-not-json')).toBe(1);
  });
});
