import { describe, expect, it } from 'vitest';
import { ConcurrentSessionDetector, SESSION_MAX_ACCOUNTS, SESSION_MAX_PER_ACCOUNT } from '../../agent/src/detect/concurrent-session-detector.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const sessions = (ward: MonitorHarness) => ward.sink.raised.filter((alert) => alert.type === 'account-concurrent-session');

describe('account used from two places at once', () => {
  it('the station account logging in from another host while the station is online is high and names both', () => {
    const ward = new MonitorHarness();
    ward.connect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.advance(60_000).connect('station-4w', '10.66.0.5', 'evil');
    expect(ward.raised()).toEqual([['account-concurrent-session', 'high']]);
    const alert = ward.sink.raised[0];
    expect(alert?.deviceId).toBeNull();
    expect(alert?.title).toBe('Same login used twice: station-4w connected from 10.66.0.5 (client "evil") while already connected from 10.4.0.20 (client "station-4w-sim")');
    expect(alert?.evidence).toMatchObject({ account: 'station-4w', role: 'station', clientId: 'evil', address: '10.66.0.5', takeover: false });
  });

  it('another client id from the same address is also a second session', () => {
    const ward = new MonitorHarness();
    ward.connect('ep-clinic', '10.4.0.30', 'a');
    ward.connect('ep-clinic', '10.4.0.30', 'b');
    expect(sessions(ward)).toHaveLength(1);
  });

  it('the same client id from the same address is a reconnect (session takeover), in either order of events', () => {
    const ward = new MonitorHarness();
    ward.connect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.advance(1_000).connect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.disconnect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.advance(1_000).disconnect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.advance(1_000).connect('station-4w', '10.4.0.20', 'station-4w-sim');
    expect(ward.sink.raised).toEqual([]);
  });

  it('a second login after the first has ended is not concurrent', () => {
    const ward = new MonitorHarness();
    ward.connect('station-4w', '10.4.0.20', 'desk-1');
    ward.advance(5_000).disconnect('station-4w', '10.4.0.20', 'desk-1');
    ward.advance(5_000).connect('station-4w', '10.4.0.21', 'desk-2');
    expect(ward.sink.raised).toEqual([]);
  });

  it("a device's client id taken over from another address is caught, as aedes reports it (old disconnect, then the new connect)", () => {
    const ward = new MonitorHarness();
    ward.connect('pump-01', '10.4.1.10', 'pump-01');
    ward.telemetry('pump-01', { state: 'idle' });
    ward.advance(30_000);
    ward.disconnect('pump-01', '10.4.1.10', 'pump-01');
    ward.connect('pump-01', '10.66.0.5', 'pump-01');
    const alert = sessions(ward)[0];
    expect(alert?.deviceId).toBe('pump-01');
    expect(alert?.title).toBe('Bed 1 · pump-01: this device\'s account connected from 10.66.0.5 (client "pump-01") while already connected from 10.4.1.10 (client "pump-01")');
    expect(alert?.evidence.takeover).toBe(true);
  });

  it('the same takeover with the connect reported first is caught too; after the grace period a move is not', () => {
    const ward = new MonitorHarness();
    ward.connect('pump-02', '10.4.1.10', 'pump-02');
    ward.connect('pump-02', '10.66.0.6', 'pump-02');
    ward.disconnect('pump-02', '10.4.1.10', 'pump-02');
    expect(sessions(ward)).toHaveLength(1);

    const later = new MonitorHarness();
    later.connect('pump-02', '10.4.1.10', 'pump-02');
    later.disconnect('pump-02', '10.4.1.10', 'pump-02');
    later.advance(10_000).connect('pump-02', '10.4.1.99', 'pump-02');
    expect(sessions(later)).toEqual([]);
  });

  it('a same-host takeover that overlapped still leaves the session open', () => {
    const ward = new MonitorHarness();
    ward.connect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.connect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.disconnect('station-4w', '10.4.0.20', 'station-4w-sim');
    ward.advance(60_000).connect('station-4w', '10.66.0.5', 'evil');
    expect(sessions(ward)).toHaveLength(1);
  });

  it('anonymous clients are not an account', () => {
    const ward = new MonitorHarness();
    ward.connect(null, '10.4.0.20', 'a');
    ward.connect(null, '10.66.0.5', 'b');
    expect(ward.sink.raised).toEqual([]);
  });

  it('state stays bounded: 50,000 accounts keep 1,024, 50 sessions of one account keep 16, evictions counted', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 50_000; i += 1) ward.advance(1).connect(`acct-${i}`, '10.4.0.20', `c-${i}`);
    const detector = ward.detector(ConcurrentSessionDetector);
    expect(detector.accountsTracked).toBe(SESSION_MAX_ACCOUNTS);
    expect(detector.evictions).toBe(50_000 - SESSION_MAX_ACCOUNTS);
    for (let i = 0; i < 50; i += 1) ward.advance(1).connect('guest', `10.4.2.${i}`, `g-${i}`);
    expect(detector.sessionsTracked('guest')).toBe(SESSION_MAX_PER_ACCOUNT);
    expect(detector.accountsTracked).toBe(SESSION_MAX_ACCOUNTS);
    expect(detector.evictions).toBe(50_000 - SESSION_MAX_ACCOUNTS + 1 + (50 - SESSION_MAX_PER_ACCOUNT));
    expect(sessions(ward)).toHaveLength(1);
  });
});
